-- stockml upgrade 0.1.0 -> 0.2.0, assembled by the Makefile from
-- sql/upgrade/0.1.0--0.2.0/*.sql in name order.  Every change to an SQL object
-- made in sql/install/ for 0.2.0 is made here too; test/upgrade/ checks that an
-- upgraded database and a fresh 0.2.0 install have the same catalog.
\echo Use "ALTER EXTENSION stockml UPDATE TO '0.2.0'" to load this file. \quit
-- issue 16 items 1 and 4: every table of user data and every identity sequence is
-- dumped by pg_dump (sql/install/10_prices.sql, 31_ingest_http.sql, 35_jobs.sql,
-- 51_registry.sql, 62_monitor.sql).  One call per statement: two calls in one
-- statement update pg_extension's row twice in the same command.
SELECT pg_catalog.pg_extension_config_dump('stockml.symbols', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.prices', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.ingest_log', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.corporate_actions', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.retrain_policies', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.drift_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.performance_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.retrain_events', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.ingest_log', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.jobs', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.experiments', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.runs', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.models', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.alias_history', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.predictions', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.drift_metrics', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.performance_metrics', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.retrain_events', 'id')::regclass, '');

-- issue 16 item 4: roles that fit the README (sql/install/45_features.sql, 70_roles_readme.sql)
-- The built-in set belongs to the extension: features() and train() use it when no set is
-- named, so it is neither changed nor deleted (copy it under another name instead).
CREATE FUNCTION stockml.feature_sets_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' OR OLD.name = 'default' THEN
        RAISE EXCEPTION 'the built-in feature set "default" cannot be %',
                        CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE 'deleted' END
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'features() and train() use it when no feature_set is named; it comes with the extension.',
                  HINT = 'Change a copy: INSERT INTO stockml.feature_sets (name, spec) SELECT ''mine'', spec FROM stockml.feature_sets WHERE name = ''default''; '
                      || CASE TG_OP WHEN 'TRUNCATE' THEN 'delete the other sets with DELETE FROM stockml.feature_sets WHERE name <> ''default''.'
                                    ELSE 'then pass feature_set => ''mine''.' END;
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
COMMENT ON FUNCTION stockml.feature_sets_guard() IS
'trigger: refuses UPDATE and DELETE of the built-in feature set "default", and TRUNCATE of stockml.feature_sets';
CREATE TRIGGER feature_sets_default_guard BEFORE UPDATE OR DELETE ON stockml.feature_sets
    FOR EACH ROW EXECUTE FUNCTION stockml.feature_sets_guard();
CREATE TRIGGER feature_sets_no_truncate BEFORE TRUNCATE ON stockml.feature_sets
    FOR EACH STATEMENT EXECUTE FUNCTION stockml.feature_sets_guard();

-- What the README's examples need of each role (test/pgtap/70_roles.sql runs them as each).
-- stockml_admin reads every view the README shows and manages feature sets (the built-in
-- "default" is guarded by a trigger, sql/install/45_features.sql).
GRANT SELECT ON stockml.model_versions TO stockml_admin;
GRANT INSERT, UPDATE, DELETE ON stockml.feature_sets TO stockml_admin;
-- stockml_reader runs the batch prediction SELECT stockml.predict(model, x) FROM
-- stockml.features(...) without reading a table: features() reads for it as the owner
-- (src/features.c, FeaturesReadAsOwner).
-- Worker and job-queue security (issue 16): a running job names its worker by pid and
-- backend start time (no advisory lock anyone could take); pipeline_step(NULL) is an ERROR
-- and a step waits only for the previous step's run of its own tick (pipeline_step() is
-- defined once, in its final form, by 90_jobs.sql).

ALTER TABLE stockml.jobs ADD COLUMN worker_started_at timestamptz;
COMMENT ON COLUMN stockml.jobs.worker_pid IS 'pid of the worker running the job (NULL when not running)';
COMMENT ON COLUMN stockml.jobs.worker_started_at IS 'backend start of worker_pid: a running job whose pid and start time match no backend lost its worker (pids are reused)';

CREATE OR REPLACE FUNCTION stockml.wait_for_cron_job(job text, since timestamptz, timeout interval)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id     bigint;
    state  text;
    -- pg_cron starts the jobs of one tick within a second or two of each other
    grace  interval := '20 seconds';
    limit_ timestamptz := since + least(coalesce(timeout, '30 minutes'), '1 day');
BEGIN
    SELECT j.jobid INTO id FROM cron.job j WHERE j.jobname = job AND j.username = current_user;
    IF id IS NULL THEN
        RETURN true;                -- not scheduled: nothing to wait for
    END IF;
    LOOP
        SELECT d.status INTO state
          FROM cron.job_run_details d
         WHERE d.jobid = id AND d.start_time BETWEEN since - grace AND since + grace
         ORDER BY abs(extract(epoch FROM d.start_time - since)) LIMIT 1;
        IF state IN ('succeeded', 'failed') THEN
            RETURN true;
        END IF;
        IF state IS NULL AND clock_timestamp() > since + grace THEN
            RETURN false;           -- the earlier step did not run this tick
        END IF;
        IF clock_timestamp() > limit_ THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
COMMENT ON FUNCTION stockml.wait_for_cron_job(text, timestamptz, interval) IS
'internal: wait for the run of a pg_cron job that started within 20 s of since to end, at most timeout (NULL: 30 minutes, capped at a day); false: it did not run or timed out';

-- the one PL/pgSQL function that ran under its caller's search_path
CREATE OR REPLACE FUNCTION stockml.alias_history_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR EXISTS (SELECT FROM stockml.models m WHERE m.name = OLD.name) THEN
        RAISE EXCEPTION 'stockml.alias_history is append-only'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Move an alias with stockml.deploy() or stockml.rollback(); stockml.drop_model() removes a model with its history.';
    END IF;
    RETURN OLD;
END $$;
-- issue 16 item 3 (hardening): bounded horizons
-- A horizon outside 1..10000 bars gives a target day PostgreSQL cannot read back;
-- train() refuses one, and now so does the table (an upgrade stops here, naming
-- the constraint, if a stored version has one).
ALTER TABLE stockml.models
    ADD CONSTRAINT models_horizon_range CHECK (horizon BETWEEN 1 AND 10000);
-- issue 15 item 1: drift tests calibrated for autocorrelation.  train() keeps an empirical
-- null per feature and statistic (stockml.drift_null, src/drift_null.c); monitor() flags a
-- feature above its (1 - drift_alpha) quantile and calibrates the drift-share rule on the
-- share's own null.  See sql/install/61_drift_null.sql and 62_monitor.sql.
ALTER TABLE stockml.retrain_policies
    ADD COLUMN drift_alpha float8 NOT NULL DEFAULT 0.05
        CONSTRAINT retrain_policies_drift_alpha CHECK (drift_alpha > 0 AND drift_alpha < 1);
COMMENT ON COLUMN stockml.retrain_policies.drift_alpha IS 'calibrated drift (versions trained with a drift null): a feature drifts when its statistic exceeds the (1 - drift_alpha) quantile of its null, and the drift-share rule retrains when the share exceeds the (1 - drift_alpha) quantile of the share''s own null';
COMMENT ON COLUMN stockml.retrain_policies.drift_threshold IS 'versions without a drift null (trained by 0.1.0, or monitored over another window length) only: a feature drifts when p < threshold (ks) or statistic >= threshold (others); NULL: the method''s default (0.05 for ks, 0.1 for the others)';
COMMENT ON COLUMN stockml.retrain_policies.max_drift_share IS 'NULL: never retrain for drift; else retrain when the share of drifted features exceeds the (1 - drift_alpha) quantile of its null (calibrated versions) or this value (versions without a drift null)';
ALTER TABLE stockml.drift_metrics
    ADD COLUMN calibrated boolean NOT NULL DEFAULT false,
    ADD COLUMN null_threshold float8,
    ADD COLUMN empirical_p float8;
COMMENT ON COLUMN stockml.drift_metrics.statistic IS 'the raw statistic (ks: D)';
COMMENT ON COLUMN stockml.drift_metrics.threshold IS 'the fixed threshold of the uncalibrated test (retrain_policies.drift_threshold or the method''s default)';
COMMENT ON COLUMN stockml.drift_metrics.drifted IS 'calibrated: statistic > null_threshold; else ks: p_value < threshold, others: statistic >= threshold';
COMMENT ON COLUMN stockml.drift_metrics.calibrated IS 'true when the version has a drift null for this feature, method and window length (stockml.drift_null); false: the fixed threshold decided (a version trained by 0.1.0)';
COMMENT ON COLUMN stockml.drift_metrics.null_threshold IS 'the (1 - drift_alpha) quantile of the feature''s drift null; NULL when not calibrated';
COMMENT ON COLUMN stockml.drift_metrics.empirical_p IS 'the share of the null at or above the statistic, (1 + #{null >= statistic}) / (1 + n); NULL when not calibrated';

CREATE TABLE stockml.drift_null (
    model_id    bigint NOT NULL REFERENCES stockml.models (id) ON DELETE CASCADE,
    feature     text NOT NULL,
    method      text NOT NULL
                CONSTRAINT drift_null_method
                CHECK (method IN ('ks', 'wasserstein', 'psi', 'kl_div', 'jensen_shannon')),
    window_days integer NOT NULL,
    statistics  float8[] NOT NULL,
    PRIMARY KEY (model_id, feature, method)
);
COMMENT ON TABLE stockml.drift_null IS 'per model version, feature and drift statistic: the statistic between the reference sample and 100 windows of the training period (consecutive days, as long as the monitoring window, drawn at seeded random offsets, their rows left out of the reference); monitor() flags a feature above the (1 - drift_alpha) quantile';
COMMENT ON COLUMN stockml.drift_null.method IS 'ks (the KS statistic D), wasserstein, psi, kl_div or jensen_shannon, as drift_test() computes them';
COMMENT ON COLUMN stockml.drift_null.window_days IS 'the calendar days of each window: the retrain policy''s window_days when the version was trained (60 without a policy); monitor() over another window length falls back to the fixed thresholds';
COMMENT ON COLUMN stockml.drift_null.statistics IS 'one statistic per window, in window order: element b of every feature is the same window, which gives the null of the drifted share; NaN when a window had no finite value';
COMMENT ON INDEX stockml.drift_null_pkey IS 'one null per version, feature and statistic';
SELECT pg_catalog.pg_extension_config_dump('stockml.drift_null', '');
GRANT SELECT, INSERT ON stockml.drift_null TO stockml_admin;

CREATE FUNCTION stockml.drift_null_check(null_statistics float8[], statistic float8, alpha float8,
                                         OUT threshold float8, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_drift_null_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_null_check(float8[], float8, float8) IS
'a statistic against its empirical null: threshold = the k-th smallest finite null value, k = ceil((1 - alpha) (n + 1)) (Infinity when k > n), so a statistic from the null exceeds it with probability at most alpha; p_value = (1 + #{null >= statistic}) / (1 + n)';

-- drift_share_limit(), the share's calibrated limit, and monitor() itself are defined once,
-- in their final forms, by 98_drift_calibration.sql and 99b_citus_pipeline.sql
-- issue 15: the deploy gate (validation_predictions, dm_test, compare, _deploy_gate and the
-- policy's deploy_alpha); see sql/install/53_gate.sql and 62_monitor.sql.
ALTER TABLE stockml.retrain_policies
    ADD COLUMN deploy_alpha float8 NOT NULL DEFAULT 0.05
        CONSTRAINT retrain_policies_deploy_alpha CHECK (deploy_alpha > 0 AND deploy_alpha < 1);
COMMENT ON COLUMN stockml.retrain_policies.deploy_alpha IS 'train() moves production to a new version only when a one-sided Diebold-Mariano test on the shared validation rows gives p < deploy_alpha against the random walk and against the production version';
CREATE TABLE stockml.validation_predictions (
    model_id      bigint NOT NULL REFERENCES stockml.models (id) ON DELETE CASCADE,
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    fold          integer NOT NULL,
    symbol        text NOT NULL,
    day           date NOT NULL,
    target_day    date NOT NULL,
    close         float8 NOT NULL,
    y             float8 NOT NULL,
    yhat          float8 NOT NULL,
    naive         float8 NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, symbol, day)
);
COMMENT ON TABLE stockml.validation_predictions IS 'every out-of-sample walk-forward prediction train() made, one row per version, symbol and day: the rows the deploy gate and compare() score';
COMMENT ON COLUMN stockml.validation_predictions.fold IS 'the walk-forward test block (1 = the earliest)';
COMMENT ON COLUMN stockml.validation_predictions.day IS 'the day of the features (the forecast''s as_of)';
COMMENT ON COLUMN stockml.validation_predictions.target_day IS 'the day of the bar the target ends at (horizon bars of the symbol later)';
COMMENT ON COLUMN stockml.validation_predictions.close IS 'the close on day: the predicted close is close * exp(yhat), the realized one close * exp(y)';
COMMENT ON COLUMN stockml.validation_predictions.y IS 'the realized log return ln(close at target_day / close at day)';
COMMENT ON COLUMN stockml.validation_predictions.yhat IS 'the version''s predicted log return, from a fit on the rows before the fold';
COMMENT ON COLUMN stockml.validation_predictions.naive IS 'the random walk''s predicted log return (0)';
COMMENT ON INDEX stockml.validation_predictions_pkey IS 'one prediction per version, symbol and day; serves joining two versions on the same rows';
SELECT pg_catalog.pg_extension_config_dump('stockml.validation_predictions', '');
GRANT SELECT, INSERT ON stockml.validation_predictions TO stockml_admin;

CREATE FUNCTION stockml.dm_test(d float8[], horizon integer DEFAULT 1,
                                OUT n integer, OUT mean float8, OUT statistic float8,
                                OUT hac_lag integer, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_dm_test'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.dm_test(float8[], integer) IS
'Diebold-Mariano test of a loss differential series d (loss of A - loss of B, one value per day in time order) with a Newey-West variance (Bartlett kernel, lag max(horizon - 1, floor(4 (n/100)^(2/9)))); p_value is one-sided, small when B''s loss is lower';

COMMENT ON FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date) IS
'train a new version: walk-forward folds (expanding window, gap = horizon), keep every out-of-sample prediction in validation_predictions, refit on all rows, register it with its run and metrics; production moves to it only through the deploy gate (metrics -> ''gate''): skill above 0 and a one-sided Diebold-Mariano p below the policy''s deploy_alpha against the random walk and the production version on the same rows';
COMMENT ON COLUMN stockml.models.metrics IS 'walk-forward out-of-sample metrics: mae, rmse, mape, directional_accuracy, the same prefixed naive_, skill = 1 - mae/naive_mae, n_test, folds; gate: the deploy decision with its reason and p-values';
COMMENT ON COLUMN stockml.alias_history.action IS 'deploy (by hand), auto (train() through the deploy gate) or rollback';

-- issue 15: a retrain loop that cannot storm (sql/install/62_monitor.sql, 52_train_predict.sql)
ALTER TABLE stockml.retrain_policies
    ADD COLUMN cooldown integer NOT NULL DEFAULT 5
        CONSTRAINT retrain_policies_cooldown CHECK (cooldown BETWEEN 0 AND 10000),
    ADD COLUMN skill_alpha float8 NOT NULL DEFAULT 0.05
        CONSTRAINT retrain_policies_skill_alpha CHECK (skill_alpha > 0 AND skill_alpha < 1),
    ADD COLUMN fallback_to_naive boolean NOT NULL DEFAULT false;
ALTER TABLE stockml.retrain_events ADD COLUMN outcome text;
COMMENT ON COLUMN stockml.retrain_policies.min_skill IS 'retrain when the realized skill (1 - MAE/MAE_naive) of the monitored version''s own forecasts over the window is significantly below this (skill_alpha); NULL: never for skill';
COMMENT ON COLUMN stockml.retrain_policies.min_forecasts IS 'realized forecasts of the monitored version itself the window must hold before min_skill is applied';
COMMENT ON COLUMN stockml.retrain_policies.cooldown IS 'trading days (bars of the model''s symbols) between two retrains of the model; doubled for each retrain since the last deployed one that did not deploy';
COMMENT ON COLUMN stockml.retrain_policies.skill_alpha IS 'the skill rule fires only when a one-sided Diebold-Mariano test of the version''s own forecasts against min_skill gives p < skill_alpha';
COMMENT ON COLUMN stockml.retrain_policies.fallback_to_naive IS 'true: when a retrain the skill rule asked for does not deploy, a naive (random walk) version is trained and serves';
COMMENT ON COLUMN stockml.retrain_events.outcome IS 'why it ended so: the deploy gate''s reason, or the job''s error';
DROP FUNCTION stockml.forecast_accuracy(text, date, date);
-- the new forecast_accuracy(text, date, date, integer) is created by 60_adjusted.sql
-- (its final body reads realized closes through total_return)

CREATE OR REPLACE FUNCTION stockml.resolve_retrain_events(model_name text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    resolved integer;
BEGIN
    WITH ended AS (
        SELECT e.id, j.status AS job_status, j.error AS job_error,
               (SELECT min(m.version) FROM stockml.models m
                 WHERE m.name = e.model_name
                   AND m.version > coalesce((e.details ->> 'latest_version')::integer, e.model_version)) AS new_version
          FROM stockml.retrain_events e
          JOIN stockml.jobs j ON j.id = e.job_id
         WHERE e.status = 'queued'
           AND (resolve_retrain_events.model_name IS NULL OR e.model_name = resolve_retrain_events.model_name)
           AND j.status IN ('done', 'failed', 'cancelled'))
    UPDATE stockml.retrain_events e
       SET status = CASE
                      WHEN x.job_status <> 'done' OR x.new_version IS NULL THEN 'failed'
                      WHEN EXISTS (SELECT FROM stockml.model_aliases a
                                    WHERE a.name = e.model_name AND a.alias = 'production'
                                      AND a.version = x.new_version) THEN 'deployed'
                      ELSE 'not_deployed' END,
           new_version = x.new_version,
           resolved_at = now(),
           outcome = CASE
                       WHEN x.job_status <> 'done' THEN coalesce(x.job_error, 'the train job was ' || x.job_status)
                       WHEN x.new_version IS NULL THEN 'the train job ended without a new version'
                       ELSE (SELECT coalesce(mo.metrics -> 'gate' ->> 'reason', 'trained')
                                    || CASE WHEN a.version > x.new_version
                                            THEN format('; fallback_to_naive: version %s serves', a.version)
                                            ELSE '' END
                               FROM stockml.models mo
                               LEFT JOIN stockml.model_aliases a ON a.name = mo.name AND a.alias = 'production'
                              WHERE mo.name = e.model_name AND mo.version = x.new_version) END
      FROM ended x
     WHERE e.id = x.id;
    GET DIAGNOSTICS resolved = ROW_COUNT;
    RETURN resolved;
END
$$;
COMMENT ON FUNCTION stockml.resolve_retrain_events(text) IS
'mark retrain_events whose train job ended as deployed, not_deployed (trained, did not pass the deploy gate) or failed, with the outcome''s reason; a trigger on stockml.jobs calls it when a train job ends';

CREATE FUNCTION stockml.jobs_resolve_retrains() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stockml.resolve_retrain_events(NEW.args ->> 'model_name');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml.jobs_resolve_retrains() IS
'trigger: when a train job ends (done, failed, cancelled), resolve the retrain events of its model';
CREATE TRIGGER jobs_resolve_retrains AFTER UPDATE OF status ON stockml.jobs
    FOR EACH ROW WHEN (NEW.kind = 'train' AND NEW.status IN ('done', 'failed', 'cancelled')
                       AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION stockml.jobs_resolve_retrains();

-- compare() and _deploy_gate() are defined once, in their final forms, by 99_logistic.sql;
-- monitor() itself (calibrated drift, the version's own forecasts, the cooldown) by
-- 99b_citus_pipeline.sql

-- run_job_train() is defined once, in its final form, by 90_jobs.sql

-- issue 15: metrics that mean one thing
CREATE FUNCTION stockml.direction_hit(predicted_move float8, realized_move float8)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_direction_hit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.direction_hit(float8, float8) IS
'whether a predicted move has the sign of the realized move; NULL when either is 0 (no direction: left out of directional accuracy, so the naive forecast has none); train() counts with the same C function';

COMMENT ON COLUMN stockml.performance_metrics.directional_accuracy IS 'share of forecasts whose move from the as_of close has the sign of the realized move, among those where both moved (stockml.direction_hit; NULL for the naive forecast, which never moves)';
-- issue 9: honest ingest status, ingest_csv's date_format, refresh() respects symbols.source;
-- see sql/install/10_prices.sql, 20_ingest_csv.sql and 31_ingest_http.sql.
COMMENT ON COLUMN stockml.symbols.source IS 'where refresh() fetches the symbol from: yahoo or stooq (NULL: yahoo); the source that first added it unless set by the user; csv or any other local source is never fetched by a bare refresh()';
COMMENT ON COLUMN stockml.ingest_log.status IS 'ok: every row stored; partial: some rows rejected; failed: nothing stored, every row rejected or the fetch failed (see error)';

-- the argument list grows: a new declaration (the C symbol reads the fifth argument when given)
DROP FUNCTION stockml.ingest_csv(text, text, text, boolean);
CREATE FUNCTION stockml.ingest_csv(symbol text, csv text, source text DEFAULT 'csv',
                                   strict boolean DEFAULT false,
                                   date_format text DEFAULT 'YYYY-MM-DD')
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_csv'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_csv(text, text, text, boolean, text) IS
'upsert Yahoo/Stooq-style daily CSV (Date,Open,High,Low,Close[,Adj Close],Volume) for one symbol, dates in date_format (YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, DD/MM/YYYY, ...); returns its ingest_log row, failed when every row is rejected';

COMMENT ON FUNCTION stockml.refresh(text[]) IS
'fetch, in parallel, the days missing since each symbol''s last stored day (the active watchlist whose source is yahoo or stooq, or the given symbols: one whose source is local, e.g. csv, gets a failed row); one ingest_log row per symbol, failed ones included';

-- total-return adjustment: see sql/install/15_adjust.sql, 52_train_predict.sql (predict's
-- price_scale), 62_monitor.sql (forecast_accuracy), 65_forecast_views.sql, 66_reader.sql.
CREATE FUNCTION stockml.total_return(symbol text, from_day date, to_day date)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_total_return'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.total_return(text, date, date) IS
'adjusted close on to_day / adjusted close on from_day (splits and cash dividends in between accounted for; both must be stored bars, else NULL): a forecast made on from_day is realized at close(from_day) * total_return';

REVOKE EXECUTE ON FUNCTION stockml.total_return(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.total_return(text, date, date) TO stockml_reader, stockml_admin;

COMMENT ON VIEW stockml.forecast_history IS 'Grafana: the latest forecast of each model for each symbol and target day (time), with its interval, the realized close once known (total-return adjusted to the scale of as_of, like predicted_close) and the naive forecast (the close on as_of)';
-- Trading calendars (issue 9): stockml.symbols.calendar, the trading_calendars view and
-- the calendar functions; predict()'s target_day follows the symbol's calendar.

ALTER TABLE stockml.symbols ADD COLUMN calendar text
    CONSTRAINT symbols_calendar CHECK (calendar IN ('XNYS', 'weekdays', '24x7'));
COMMENT ON COLUMN stockml.symbols.calendar IS 'trading calendar of the symbol (stockml.trading_calendars); NULL: the exchange''s (stockml.exchange_calendar), XNYS when no exchange is known';

CREATE VIEW stockml.trading_calendars (calendar, description) AS
VALUES ('XNYS', 'NYSE and Nasdaq: weekends, the NYSE holidays with their weekend observance, Good Friday, and NYSE''s one-off closures'),
       ('weekdays', 'Monday to Friday: currencies, and exchanges whose holidays stockml does not know'),
       ('24x7', 'every day: crypto');
COMMENT ON VIEW stockml.trading_calendars IS 'the trading calendars is_trading_day(), next_trading_day() and stockml.symbols.calendar accept';
GRANT SELECT ON stockml.trading_calendars TO stockml_admin;

CREATE FUNCTION stockml.is_trading_day(calendar text, day date)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_is_trading_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.is_trading_day(text, date) IS
'whether the market of the calendar (XNYS, weekdays, 24x7) trades on day';

CREATE FUNCTION stockml.next_trading_day(calendar text, day date, n integer DEFAULT 1)
RETURNS date
AS 'MODULE_PATHNAME', 'stockml_next_trading_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.next_trading_day(text, date, integer) IS
'the n-th trading day of the calendar after day (n < 0: before it; n = 0: day itself if it trades, else the next trading day)';

CREATE FUNCTION stockml.exchange_calendar(exchange text)
RETURNS text
AS 'MODULE_PATHNAME', 'stockml_exchange_calendar'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.exchange_calendar(text) IS
'the trading calendar of a Yahoo exchangeName: XNYS for US venues and indexes (NYQ, NMS, NGM, NCM, ASE, PCX, BTS, SNP, ...) and for NULL (no exchange known: CSV symbols), weekdays for CCY and unknown exchanges, 24x7 for CCC';

CREATE FUNCTION stockml.symbol_calendar(symbol text)
RETURNS text
AS 'MODULE_PATHNAME', 'stockml_symbol_calendar'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.symbol_calendar(text) IS
'the trading calendar of a stored symbol: stockml.symbols.calendar, else its exchange''s (exchange_calendar)';

-- target days follow the symbol's calendar (src/predict.c)
COMMENT ON COLUMN stockml.predictions.target_day IS 'the trading day forecast: horizon trading days after as_of in the symbol''s calendar (stockml.symbol_calendar)';

-- The ledger's forecasts were made for `horizon` weekdays after as_of: re-target them to
-- `horizon` trading days of their symbol's calendar, the bar their model's target is
-- (one made the day before a holiday targeted the holiday and was never scored).
UPDATE stockml.predictions p
   SET target_day = stockml.next_trading_day(coalesce(s.calendar, stockml.exchange_calendar(s.exchange)),
                                             p.as_of, m.horizon)
  FROM stockml.models m, stockml.symbols s
 WHERE m.id = p.model_id AND s.symbol = p.symbol AND p.as_of >= date '1900-01-01'
   AND p.target_day IS DISTINCT FROM
       stockml.next_trading_day(coalesce(s.calendar, stockml.exchange_calendar(s.exchange)), p.as_of, m.horizon);
-- Grafana (issue 12): small views for dashboard variables, currency units and the
-- model-lifecycle dashboard; the same as sql/install/67_grafana_lists.sql.

CREATE VIEW stockml.symbol_info AS
SELECT s.symbol, s.name, s.exchange, s.currency, s.timezone, s.active,
       CASE WHEN s.currency IS NULL THEN 'none'
            -- the currency units Grafana 10/11 have built in; other codes as a suffix
            WHEN upper(s.currency) = ANY (ARRAY['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'RUB', 'UAH', 'BRL', 'DKK',
                                                'ISK', 'NOK', 'SEK', 'CZK', 'PLN', 'ZAR', 'INR', 'KRW', 'IDR',
                                                'PHP', 'VND'])
            THEN 'currency' || upper(s.currency)
            ELSE 'suffix: ' || s.currency
       END AS grafana_unit
  FROM stockml.symbols s;
COMMENT ON VIEW stockml.symbol_info IS 'Grafana: the watchlist (one row per symbol) with the Grafana unit of its currency (grafana_unit: currencyUSD, ..., "suffix: <code>" for other codes, none when the currency is unknown)';

CREATE VIEW stockml.model_names AS
SELECT m.name, count(*)::integer AS versions, max(m.version) AS latest_version,
       min(m.created_at) AS first_trained, max(m.created_at) AS last_trained,
       (SELECT a.version FROM stockml.model_aliases a WHERE a.name = m.name AND a.alias = 'production') AS production_version,
       (SELECT l.symbols FROM stockml.models l WHERE l.name = m.name ORDER BY l.version DESC LIMIT 1) AS symbols
  FROM stockml.models m
 GROUP BY m.name;
COMMENT ON VIEW stockml.model_names IS 'Grafana: one row per model name with its number of versions, latest and production version and the symbols of its latest version';

CREATE VIEW stockml.alias_events AS
SELECT h.set_at AS time, h.name AS model_name, h.alias, h.version, h.previous_version, h.action,
       h.set_by, h.reason,
       format('%s: %s -> v%s (%s%s)', h.alias,
              coalesce('v' || h.previous_version, 'none'), h.version, h.action,
              CASE WHEN h.reason IS NOT NULL THEN ', ' || h.reason ELSE '' END) AS text,
       'alias,' || h.alias || ',' || h.action AS tags
  FROM stockml.alias_history h
 ORDER BY time, h.id;
COMMENT ON VIEW stockml.alias_events IS 'Grafana annotations: every alias move (deploy, auto, rollback) with who and why (time, text, tags)';

GRANT SELECT ON stockml.symbol_info, stockml.model_names, stockml.alias_events
   TO stockml_reader, stockml_admin;
-- version_forecasts is created by 99_logistic.sql (its final form, with predictions.p_up)
-- Newcomer fixes (issue 12, item 5): an alias in the wrong format is refused by
-- _set_alias() with a clear ERROR before the CHECK constraint sees it (its final body is in
-- 82_registry_writes.sql); the comment on
-- reference_columns() names the key train() writes ("rows").  The same as sql/install/.

COMMENT ON FUNCTION stockml.reference_columns(jsonb, text[]) IS
'the reference sample kept with a model as one float8[] per named feature; reads {"names": [..], "rows": [[..]]} (what train() stores) or {"feature": [..]}';
-- Registry (issue 12, item 4): a version's description and tags, delete_version(), and
-- drop_model() that errors on an unknown name and takes the model out of the pipeline.
-- The same as sql/install/51_registry.sql, 56_version_info.sql and 65_forecast_views.sql.

ALTER TABLE stockml.models ADD COLUMN description text,
                           ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN stockml.models.description IS 'what the version is for, in words: train(params => {"description": ..}) or set_version_info()';
COMMENT ON COLUMN stockml.models.tags IS 'labels of the version, sorted and distinct: train(params => {"tags": [..]}) or set_version_info()';

CREATE OR REPLACE VIEW stockml.model_versions AS
SELECT m.name, m.version, m.algorithm,
       coalesce((SELECT array_agg(a.alias ORDER BY a.alias) FROM stockml.model_aliases a
                  WHERE a.name = m.name AND a.version = m.version), '{}') AS aliases,
       m.symbols, m.horizon, m.feature_set, m.train_start, m.train_end, m.n_rows,
       (m.metrics ->> 'skill')::float8 AS skill,
       (m.metrics ->> 'mae')::float8 AS mae,
       (m.metrics ->> 'naive_mae')::float8 AS naive_mae,
       (m.metrics ->> 'rmse')::float8 AS rmse,
       (m.metrics ->> 'naive_rmse')::float8 AS naive_rmse,
       (m.metrics ->> 'mape')::float8 AS mape,
       (m.metrics ->> 'naive_mape')::float8 AS naive_mape,
       (m.metrics ->> 'directional_accuracy')::float8 AS directional_accuracy,
       (m.metrics ->> 'naive_directional_accuracy')::float8 AS naive_directional_accuracy,
       (m.metrics ->> 'n_test')::bigint AS n_test,
       m.params, m.created_at, m.run_id, m.description, m.tags
  FROM stockml.models m;
COMMENT ON VIEW stockml.model_versions IS
'every model version with its aliases and walk-forward metrics beside the naive baseline''s';

CREATE OR REPLACE VIEW stockml.model_history AS
SELECT v.created_at AS time, v.name, v.version, v.aliases, v.algorithm, v.symbols, v.horizon,
       v.feature_set, v.train_start, v.train_end, v.n_rows, v.skill, v.mae, v.naive_mae, v.rmse,
       v.directional_accuracy, v.naive_directional_accuracy, v.n_test, v.description, v.tags
  FROM stockml.model_versions v
 ORDER BY time, v.name, v.version;
COMMENT ON VIEW stockml.model_history IS 'Grafana: every model version (time = when trained) with its aliases and walk-forward metrics beside the naive baseline''s';

-- drop_model() is defined once, in its final form, by 90_jobs.sql; delete_version() by
-- 82_registry_writes.sql

-- the tags as stored: sorted, distinct, each 1-64 characters without NULLs or blanks
CREATE FUNCTION stockml._check_tags(tags text[])
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    IF tags IS NULL THEN
        RETURN '{}';
    END IF;
    SELECT t INTO bad FROM unnest(tags) t
     WHERE t IS NULL OR btrim(t) = '' OR length(t) > 64 OR t <> btrim(t) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'invalid tag %', coalesce(quote_literal(bad), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A tag is 1 to 64 characters, not NULL, without leading or trailing blanks.',
                  HINT = 'For example ARRAY[''baseline'', ''ridge'', ''2024-q1''].';
    END IF;
    RETURN coalesce((SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(tags) t), '{}');
END $$;
COMMENT ON FUNCTION stockml._check_tags(text[]) IS
'internal: tags as stored (sorted, distinct); ERROR on a NULL, blank, padded or over-long tag';

CREATE FUNCTION stockml.set_version_info(model_name text, version integer,
                                         description text DEFAULT NULL, tags text[] DEFAULT NULL)
RETURNS SETOF stockml.model_versions
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    IF model_name IS NULL OR set_version_info.version IS NULL THEN
        RAISE EXCEPTION 'model_name and version must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stockml._require_version(model_name, set_version_info.version);
    UPDATE stockml.models m
       SET description = CASE WHEN set_version_info.description IS NULL THEN m.description
                              ELSE nullif(set_version_info.description, '') END,
           tags = CASE WHEN set_version_info.tags IS NULL THEN m.tags
                       ELSE stockml._check_tags(set_version_info.tags) END
     WHERE m.name = model_name AND m.version = set_version_info.version;
    RETURN QUERY SELECT * FROM stockml.model_versions v
                  WHERE v.name = model_name AND v.version = set_version_info.version;
END $$;
COMMENT ON FUNCTION stockml.set_version_info(text, integer, text, text[]) IS
'set a version''s description and/or tags (NULL leaves one as it is; '''' clears the description, ''{}'' the tags); returns its model_versions row';

-- ERROR unless the model has that version
CREATE FUNCTION stockml._require_version(model_name text, version integer)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name) THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name AND m.version = _require_version.version) THEN
        RAISE EXCEPTION 'model "%" has no version %', model_name, version
            USING ERRCODE = 'undefined_object',
                  HINT = format('Its versions: %s.', (SELECT string_agg(m.version::text, ', ' ORDER BY m.version)
                                                        FROM stockml.models m WHERE m.name = model_name));
    END IF;
END $$;
COMMENT ON FUNCTION stockml._require_version(text, integer) IS
'internal: ERROR naming the model''s versions unless it has this one';

-- stockml_admin trains and so describes its versions; deleting stays with the owner, as
-- drop_model does (both need DELETE on stockml.models)
GRANT UPDATE (description, tags) ON stockml.models TO stockml_admin;
-- The registry is written only through deploy / rollback / train (issue 16 item 3): the
-- roles keep SELECT on the registry tables, deploy(), rollback() and a train job's
-- fallback_to_naive check the caller and move aliases as the owner through _set_alias /
-- _rollback (the owner's only), and deploy, rollback, train, delete_version, drop_model
-- and monitor serialise on the model name's experiments row instead of advisory locks
-- anyone could take (src/registry.c; monitor's lock line is in 99b_citus_pipeline.sql, which
-- defines its final body; _deploy_gate's final body is in 99_logistic.sql).  The same as
-- sql/install/.

REVOKE INSERT ON stockml.experiments, stockml.run_metrics, stockml.models, stockml.alias_history,
                 stockml.validation_predictions, stockml.drift_null FROM stockml_admin;
REVOKE INSERT, UPDATE ON stockml.runs, stockml.model_aliases FROM stockml_admin;
REVOKE USAGE ON SEQUENCE stockml.runs_id_seq FROM stockml_admin;

DROP FUNCTION stockml._set_alias(text, integer, text, text, text);

CREATE OR REPLACE FUNCTION stockml.deploy(model_name text, version integer, alias text DEFAULT 'production',
                               reason text DEFAULT NULL)
RETURNS stockml.alias_history
AS 'MODULE_PATHNAME', 'stockml_deploy'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.deploy(text, integer, text, text) IS
'point an alias (default production) at a version; logged in alias_history with who, when and why';

CREATE FUNCTION stockml._lock_model_name(model_name text)
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_lock_model_name'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml._lock_model_name(text) IS
'internal: lock the model name (its experiments row, as the owner) until the end of the transaction: alias moves, train()''s version numbering, version removal and monitor() of one name run one at a time';
-- for the functions of the roles that change models (it checks the caller too)
REVOKE EXECUTE ON FUNCTION stockml._lock_model_name(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._lock_model_name(text) TO stockml_admin;

CREATE FUNCTION stockml._set_alias(model_name text, version integer, alias text, action text, reason text,
                                   set_by text)
RETURNS stockml.alias_history
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    previous integer;
    result stockml.alias_history;
BEGIN
    IF model_name IS NULL OR version IS NULL OR alias IS NULL THEN
        RAISE EXCEPTION 'model_name, version and alias must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the format model_aliases_alias_format checks, refused before anything changes
    IF alias !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid alias "%"', alias
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An alias is 1 to 63 characters among a-z 0-9 _, starting with a lower-case letter.',
                  HINT = CASE WHEN lower(alias) ~ '^[a-z][a-z0-9_]{0,62}$'
                              THEN format('Aliases are lower case: use %L.', lower(alias))
                              ELSE 'For example ''production'' or ''staging''.' END;
    END IF;
    -- one alias move at a time per model name, so the history is a clean sequence
    PERFORM stockml._lock_model_name(model_name);
    PERFORM stockml._require_version(model_name, version);
    SELECT a.version INTO previous FROM stockml.model_aliases a
     WHERE a.name = model_name AND a.alias = _set_alias.alias;
    INSERT INTO stockml.model_aliases AS a (name, alias, version)
    VALUES (model_name, alias, version)
    ON CONFLICT ON CONSTRAINT model_aliases_pkey DO UPDATE SET version = excluded.version;
    INSERT INTO stockml.alias_history AS h (name, alias, version, previous_version, action, set_by, reason)
    VALUES (model_name, alias, version, previous, action, set_by, reason)
    RETURNING h.* INTO result;
    RETURN result;
END $$;
COMMENT ON FUNCTION stockml._set_alias(text, integer, text, text, text, text) IS
'internal, the owner''s only: move an alias and append its history row naming set_by (deploy, rollback, the deploy gate and a train job''s fallback_to_naive, src/registry.c, pass their checked caller)';
REVOKE EXECUTE ON FUNCTION stockml._set_alias(text, integer, text, text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION stockml.rollback(model_name text, alias text DEFAULT 'production', reason text DEFAULT NULL)
RETURNS stockml.alias_history
AS 'MODULE_PATHNAME', 'stockml_rollback'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.rollback(text, text, text) IS
'move an alias back to the version it pointed to before its last deploy (repeatable: each call goes one further back)';

CREATE FUNCTION stockml._rollback(model_name text, alias text, reason text, set_by text)
RETURNS stockml.alias_history
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stack integer[] := '{}';
    h record;
    target integer;
    current integer;
BEGIN
    -- the history read below is the one the move appends to
    PERFORM stockml._lock_model_name(model_name);
    -- replay the history: deploy and auto push a version, rollback pops one
    FOR h IN SELECT * FROM stockml.alias_history ah
              WHERE ah.name = model_name AND ah.alias = _rollback.alias ORDER BY ah.id LOOP
        IF h.action = 'rollback' THEN
            stack := stack[1:cardinality(stack) - 1];
        ELSE
            stack := stack || h.version;
        END IF;
    END LOOP;
    SELECT a.version INTO current FROM stockml.model_aliases a
     WHERE a.name = model_name AND a.alias = _rollback.alias;
    IF current IS NULL THEN
        RAISE EXCEPTION 'model "%" has no alias "%"', model_name, alias
            USING ERRCODE = 'undefined_object',
                  HINT = 'stockml.deploy(name, version, alias) sets one.';
    END IF;
    IF cardinality(stack) < 2 THEN
        RAISE EXCEPTION 'alias "%" of model "%" has no earlier version to roll back to', alias, model_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It points to version %s, the first it was given.', current),
                  HINT = 'stockml.deploy(name, version, alias) sets any version.';
    END IF;
    target := stack[cardinality(stack) - 1];
    RETURN stockml._set_alias(model_name, target, alias, 'rollback',
                              coalesce(reason, format('rolled back from version %s', current)), set_by);
END $$;
COMMENT ON FUNCTION stockml._rollback(text, text, text, text) IS
'internal, the owner''s only: the work of rollback() for its checked caller set_by';
REVOKE EXECUTE ON FUNCTION stockml._rollback(text, text, text, text) FROM PUBLIC;

-- drop_model() is defined once, in its final form, by 90_jobs.sql

CREATE OR REPLACE FUNCTION stockml.delete_version(model_name text, version integer)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    aliases text;
BEGIN
    IF model_name IS NULL OR version IS NULL THEN
        RAISE EXCEPTION 'model_name and version must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the lock _set_alias takes: no alias moves onto the version while it goes
    PERFORM stockml._lock_model_name(model_name);
    PERFORM stockml._require_version(model_name, version);
    SELECT string_agg(a.alias, ', ' ORDER BY a.alias) INTO aliases
      FROM stockml.model_aliases a WHERE a.name = model_name AND a.version = delete_version.version;
    IF aliases IS NOT NULL THEN
        RAISE EXCEPTION 'version % of model "%" is in use by alias %', version, model_name, aliases
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'An alias serves the version it points to; deleting it would leave the alias pointing at nothing.',
                  HINT = 'Point the alias at another version first with stockml.deploy(), or remove the whole model with stockml.drop_model().';
    END IF;
    DELETE FROM stockml.models m WHERE m.name = model_name AND m.version = delete_version.version;
    RETURN 1;
END $$;
COMMENT ON FUNCTION stockml.delete_version(text, integer) IS
'remove one version of a model with its forecasts and validation predictions (refused while an alias points to it); its run and the alias history stay; returns 1';

-- run_job_train() is defined once, in its final form, by 90_jobs.sql

CREATE FUNCTION stockml._fallback_to_naive(model_name text, rejected integer, naive integer)
RETURNS stockml.alias_history
AS 'MODULE_PATHNAME', 'stockml_fallback_to_naive'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml._fallback_to_naive(text, integer, integer) IS
'internal, for run_job_train: move production to the naive version trained in this transaction after a version (rejected) trained in it too that does not beat the random walk (action auto, reason: fallback_to_naive and the rejected version''s gate reason, set_by: the caller); an ERROR otherwise';
REVOKE EXECUTE ON FUNCTION stockml._fallback_to_naive(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._fallback_to_naive(text, integer, integer) TO stockml_admin;
-- issue 15 item 5: intervals that follow volatility (src/interval.c; the scaled residuals are
-- new keys of models.reference, so versions of 0.1.0 keep their fixed-width interval) and the
-- coverage rule of the retrain policy: min_coverage, stockml.coverage_test(), monitor()
-- (whose final body is in 99b_citus_pipeline.sql).
ALTER TABLE stockml.retrain_policies
    ADD COLUMN min_coverage float8 DEFAULT 0.8
        CONSTRAINT retrain_policies_min_coverage CHECK (min_coverage > 0 AND min_coverage < 1);
COMMENT ON COLUMN stockml.retrain_policies.min_coverage IS 'retrain when the realized coverage of the monitored version''s own intervals over the window is significantly below this (a one-sided binomial test, stockml.coverage_test, p < skill_alpha, once min_forecasts of them are realized); keep it below stockml.interval_level; NULL: never for coverage';
COMMENT ON COLUMN stockml.retrain_policies.skill_alpha IS 'the skill rule fires only when a one-sided Diebold-Mariano test of the version''s own forecasts against min_skill gives p < skill_alpha; the coverage rule only when a one-sided binomial test against min_coverage does';
COMMENT ON COLUMN stockml.models.reference IS '{"names": [...], "rows": [[...], ...], "abs_residuals": [...], "scaled_residuals": [...], "interval": {...}}: up to reference_rows training rows for drift, and quantiles of out-of-sample |log error| (fixed-width intervals) and of |log error| / (sigma sqrt(horizon)) (intervals that follow volatility)';

-- The coverage rule's evidence (src/interval.c): P(X <= covered), X ~ Binomial(n, bound).
CREATE FUNCTION stockml.coverage_test(covered bigint, n bigint, bound float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_coverage_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.coverage_test(bigint, bigint, float8) IS
'one-sided binomial test of a coverage: P(X <= covered) for X ~ Binomial(n, bound), small when covered of n is significantly below bound';

COMMENT ON FUNCTION stockml.monitor(text, integer) IS
'compare the recent window of each feature with the model''s reference sample, score the monitored version''s own realized forecasts against the naive baseline, write drift_metrics and performance_metrics, and enqueue one train job when the retrain policy says so (not while one is queued, within the cooldown, or without a new bar)';
-- Re-adjusted history (issue 9 item 2): refresh() re-fetches a symbol's full history
-- when the provider re-adjusted it, and says so in ingest_log.error (status stays ok).
COMMENT ON COLUMN stockml.ingest_log.error IS 'why the fetch failed, or the first rejected rows and why; for a refresh that found the provider''s history re-adjusted (a new split or dividend, an overlap day that disagrees), what it did: ''re-adjusted: split 2:1 on 2020-08-31; full history re-fetched, ...''';
-- issue 12 item 2, the prediction API: predict(..., version => N | alias => 'name') for a
-- symbol and for batch x, predict_path() over the heads of train(..., horizons => ...), and
-- forecast() that records what it can and returns the symbols it could not with the reason.
-- See sql/install/52_train_predict.sql, 62_monitor.sql (run_job_forecast), 66_reader.sql.
-- The signatures grow: new declarations with new C symbols (0.1.0's symbols keep their
-- meaning: stockml_train, stockml_predict_symbol and stockml_predict_vector take 0.1.0's
-- arguments).  An old declaration beside a new one with defaults would make every call
-- of the old form ambiguous, so each old one is dropped.  predict(model, symbol, ...) and
-- predict_path() are declared by 99_logistic.sql (with p_up), forecast() by 99y_ledger.sql,
-- run_job_forecast() by 90_jobs.sql: each once, in its final form.
DROP FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date);
DROP FUNCTION stockml.predict(text, text);
DROP FUNCTION stockml.predict(text, float8[]);
DROP FUNCTION stockml.forecast(text, text[]);

CREATE FUNCTION stockml.train(model_name text, symbols text[], algorithm text DEFAULT 'ridge',
                              horizon integer DEFAULT 1, params jsonb DEFAULT '{}',
                              feature_set text DEFAULT 'default', train_end date DEFAULT NULL,
                              horizons integer[] DEFAULT NULL,
                              OUT model_name text, OUT version integer, OUT metrics jsonb,
                              OUT deployed boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_train_0_2'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.train(text, text[], text, integer, jsonb, text, date, integer[]) IS
'train a new version: walk-forward folds (expanding window, gap = horizon), keep every out-of-sample prediction in validation_predictions, refit on all rows, register it with its run and metrics; production moves to it only through the deploy gate (metrics -> ''gate''): skill above 0 and a one-sided Diebold-Mariano p below the policy''s deploy_alpha against the random walk and the production version on the same rows. horizons (which must include horizon) trains one head per horizon into the version, each validated by its own folds with gap = its horizon (metrics -> ''heads''); horizon''s head is the one predict() serves, predict_path() serves them all';

CREATE FUNCTION stockml.predict(model_name text, x float8[], version integer DEFAULT NULL,
                                alias text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_vector_0_2'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, float8[], integer, text) IS
'a version''s predicted log return over its horizon for one raw feature vector (x of stockml.features), for batch use; version => N, alias => name or by default production; NULL model_name or x gives NULL';

CREATE FUNCTION stockml._resolve_version(model_name text, version integer DEFAULT NULL,
                                         alias text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'stockml_resolve_version'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml._resolve_version(text, integer, text) IS
'internal: the version predict() serves for these arguments (version, alias or production), with predict()''s errors; forecast() pins its batch to it';

CREATE TYPE stockml.forecast_result AS (
    id              bigint,
    model_id        bigint,
    model_name      text,
    model_version   integer,
    symbol          text,
    as_of           date,
    target_day      date,
    predicted_close float8,
    lower           float8,
    upper           float8,
    made_at         timestamptz,
    status          text,
    error           text
);
COMMENT ON TYPE stockml.forecast_result IS
'a row of forecast(): the predictions row it recorded (status ok), or the symbol it could not forecast (status failed, error = why; the prediction columns NULL)';

REVOKE EXECUTE ON FUNCTION stockml.predict(text, float8[], integer, text),
                          stockml._resolve_version(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict(text, float8[], integer, text),
                          stockml._resolve_version(text, integer, text)
   TO stockml_reader, stockml_admin;

-- Jobs (issue 12, item 3): submit() runs the job kind's checker (stockml.check_job_K, which
-- the job runs too), every attempt is kept in stockml.job_attempts, a WARNING when no worker
-- serves the database (src/jobs.c); named pipelines whose failed steps end with an ERROR
-- after committing what worked (stockml.run_pipeline_step, src/pipeline.c).
-- The same as sql/install/31_ingest_http.sql, 35_jobs.sql, 51_registry.sql,
-- 52_train_predict.sql, 62_monitor.sql and 68_pipeline.sql.

COMMENT ON COLUMN stockml.jobs.error IS 'error of the last failed attempt (kept when a retry succeeds); every attempt''s in stockml.job_attempts';

-- Every attempt of every job, written by the workers: the error of each failed one, not only
-- the last.  No foreign key to stockml.jobs: pg_restore loads extension tables in name order,
-- job_attempts before jobs; a trigger deletes a job's attempts with it.
CREATE TABLE stockml.job_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint NOT NULL,
    attempt     integer NOT NULL CONSTRAINT job_attempts_attempt CHECK (attempt >= 1),
    status      text NOT NULL DEFAULT 'running'
                CONSTRAINT job_attempts_status CHECK (status IN ('running', 'done', 'failed', 'cancelled', 'interrupted')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    worker_pid  integer,
    error       text,
    CONSTRAINT job_attempts_job_attempt UNIQUE (job_id, attempt)
);
COMMENT ON TABLE stockml.job_attempts IS 'every run of a job (stockml.jobs.attempts of them): when it started and ended, its worker and its error';
COMMENT ON COLUMN stockml.job_attempts.attempt IS '1 for the first run, 2 for the first retry, ...';
COMMENT ON COLUMN stockml.job_attempts.status IS 'running, done, failed (retried if attempts remain), cancelled, interrupted (its worker stopped: crash, restart, pg_terminate_backend)';
COMMENT ON COLUMN stockml.job_attempts.error IS 'the attempt''s error, NULL when it succeeded';
COMMENT ON INDEX stockml.job_attempts_job_attempt IS 'one row per attempt of a job; serves the worker''s update of its attempt and the delete of a job''s attempts';
SELECT pg_catalog.pg_extension_config_dump('stockml.job_attempts', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.job_attempts', 'id')::regclass, '');
-- a job's attempts go with it (what a foreign key would do; job_attempts_job_attempt serves it)
CREATE FUNCTION stockml.jobs_delete_attempts() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM stockml.job_attempts a WHERE a.job_id = OLD.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml.jobs_delete_attempts() IS
'trigger: delete the attempts of a deleted job';
CREATE TRIGGER jobs_delete_attempts AFTER DELETE ON stockml.jobs
    FOR EACH ROW EXECUTE FUNCTION stockml.jobs_delete_attempts();

-- ERROR unless args is a JSON object whose keys are all in allowed: the first check of every
-- job kind's checker (stockml.check_job_K).
CREATE FUNCTION stockml.job_check_keys(kind text, args jsonb, allowed text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    IF jsonb_typeof(args) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the args of a % job must be a JSON object, not %', kind, coalesce(jsonb_typeof(args), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO unknown FROM jsonb_object_keys(args) k WHERE k <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown key in % job args: %', kind, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: ' || array_to_string(allowed, ', ') || '.';
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.job_check_keys(text, jsonb, text[]) IS
'internal: ERROR unless a job''s args are a JSON object with only the allowed keys';

-- The symbols a job's args name ("symbols": [...]), NULL when they name none; ERROR unless an
-- array of strings.
CREATE FUNCTION stockml.job_symbols(kind text, args jsonb)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jsonb_typeof(args -> 'symbols') IS NULL OR jsonb_typeof(args -> 'symbols') = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(args -> 'symbols') <> 'array'
       OR EXISTS (SELECT FROM jsonb_array_elements(args -> 'symbols') e WHERE jsonb_typeof(e) <> 'string') THEN
        RAISE EXCEPTION '"symbols" of a % job must be an array of symbols, not %', kind, args -> 'symbols'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example: stockml.submit(%L, ''{"symbols": ["MSFT"]}'').', kind);
    END IF;
    RETURN ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols'));
END
$$;
COMMENT ON FUNCTION stockml.job_symbols(text, jsonb) IS
'internal: the symbols of a job''s args ("symbols", an array of strings), NULL when absent; ERROR on anything else';


COMMENT ON FUNCTION stockml.submit(text, jsonb) IS
'queue a job of a kind K for which stockml.run_job_K(bigint, jsonb) exists, after its checker stockml.check_job_K(jsonb) (when there is one) accepted the args; wakes the worker at commit (WARNING when no worker serves this database); returns the job id';

GRANT SELECT ON stockml.job_attempts TO stockml_admin;

CREATE OR REPLACE FUNCTION stockml.check_symbols(symbols text[])
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_check_symbols'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.check_symbols(text[]) IS
'internal: ERROR naming the first symbol that is NULL or not 1 to 32 characters among A-Z a-z 0-9 . ^ = _ -';

-- The checker of job kind refresh: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_refresh(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stockml.job_check_keys('refresh', args, ARRAY['symbols']);
    PERFORM stockml.check_symbols(stockml.job_symbols('refresh', args));
END
$$;
COMMENT ON FUNCTION stockml.check_job_refresh(jsonb) IS
'checker of job kind refresh (run by submit() and by the job): args {"symbols": [...]} or {}; ERROR naming a bad key or symbol';

CREATE OR REPLACE FUNCTION stockml.run_job_refresh(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    symbols text[];
    summary text;
    total bigint;
    failed bigint;
    first_error text;
BEGIN
    PERFORM stockml.check_job_refresh(args);
    symbols := stockml.job_symbols('refresh', args);
    SELECT format('%s symbols: %s ok, %s partial, %s failed; %s rows inserted, %s updated',
                  count(*), count(*) FILTER (WHERE status = 'ok'),
                  count(*) FILTER (WHERE status = 'partial'), count(*) FILTER (WHERE status = 'failed'),
                  coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0)),
           count(*), count(*) FILTER (WHERE status = 'failed'),
           min(symbol || ': ' || error) FILTER (WHERE status = 'failed')
      INTO summary, total, failed, first_error
      FROM stockml.refresh(symbols);
    -- nothing worked (the network is down?): fail, so that the job is retried
    IF total > 0 AND failed = total THEN
        RAISE EXCEPTION 'refresh failed for all % symbols', total USING DETAIL = first_error;
    END IF;
    RETURN summary;
END
$$;
COMMENT ON FUNCTION stockml.run_job_refresh(bigint, jsonb) IS
'job kind refresh: args {"symbols": [...]} (optional; default the active watchlist), checked by stockml.check_job_refresh; returns a summary; fails (and is retried) only when every symbol failed';

CREATE OR REPLACE FUNCTION stockml.train_check(model_name text, symbols text[], algorithm text DEFAULT 'ridge',
                                    horizon integer DEFAULT 1, params jsonb DEFAULT '{}',
                                    feature_set text DEFAULT 'default', train_end date DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_train_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.train_check(text, text[], text, integer, jsonb, text, date) IS
'the checks train() makes of its arguments (model name, symbols known, algorithm, horizon, each parameter, feature set, train_end), without training: ERROR naming what is wrong';

-- The checker of job kind train: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_train(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text;
    want text;
BEGIN
    PERFORM stockml.job_check_keys('train', args, ARRAY['model_name', 'symbols', 'algorithm', 'horizon', 'params',
                                                        'feature_set', 'train_end', 'fallback_to_naive']);
    IF jsonb_typeof(args -> 'model_name') IS DISTINCT FROM 'string'
       OR jsonb_typeof(args -> 'symbols') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'train job args need "model_name", a string, and "symbols", an array of symbols'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"model_name": "msft_ridge", "symbols": ["MSFT"]}.';
    END IF;
    FOR key, want IN VALUES ('algorithm', 'string'), ('horizon', 'number'), ('params', 'object'),
                            ('feature_set', 'string'), ('train_end', 'string'), ('fallback_to_naive', 'boolean') LOOP
        IF args ? key AND jsonb_typeof(args -> key) NOT IN (want, 'null') THEN
            RAISE EXCEPTION '"%" of a train job must be a JSON %, not %', key, want, args -> key
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example {"model_name": "m", "symbols": ["MSFT"], "algorithm": "ridge", "horizon": 1, '
                             '"params": {"alpha": 1}, "feature_set": "default", "train_end": "2024-06-28"}.';
        END IF;
    END LOOP;
    BEGIN
        PERFORM (args ->> 'horizon')::integer, (args ->> 'train_end')::date;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'train job args: "horizon" must be a whole number and "train_end" a date, not % and %',
                        coalesce(args ->> 'horizon', 'NULL'), coalesce(args ->> 'train_end', 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example "horizon": 5, "train_end": "2024-06-28".';
    END;
    PERFORM stockml.train_check(
        args ->> 'model_name',
        ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols')),
        coalesce(args ->> 'algorithm', 'ridge'),
        coalesce((args ->> 'horizon')::integer, 1),
        coalesce(args -> 'params', '{}'),
        coalesce(args ->> 'feature_set', 'default'),
        (args ->> 'train_end')::date);
END
$$;
COMMENT ON FUNCTION stockml.check_job_train(jsonb) IS
'checker of job kind train (run by submit() and by the job): the keys and their JSON types, then stockml.train_check (unknown symbol, algorithm, parameter, feature set, ...)';

CREATE OR REPLACE FUNCTION stockml.run_job_train(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    n record;
BEGIN
    PERFORM stockml.check_job_train(args);
    SELECT * INTO r FROM stockml.train(
        args ->> 'model_name',
        ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols')),
        coalesce(args ->> 'algorithm', 'ridge'),
        coalesce((args ->> 'horizon')::integer, 1),
        coalesce(args -> 'params', '{}'),
        coalesce(args ->> 'feature_set', 'default'),
        (args ->> 'train_end')::date);
    -- no version beats the random walk: let the random walk serve
    IF NOT r.deployed AND (args ->> 'fallback_to_naive')::boolean
       AND (coalesce((r.metrics ->> 'skill')::float8, 0) <= 0
            OR coalesce((r.metrics -> 'gate' ->> 'p_vs_naive')::float8, 1)
               >= coalesce((r.metrics -> 'gate' ->> 'alpha')::float8, 0.05)) THEN
        SELECT * INTO n FROM stockml.train(
            args ->> 'model_name',
            ARRAY(SELECT jsonb_array_elements_text(args -> 'symbols')),
            'naive', coalesce((args ->> 'horizon')::integer, 1), '{"auto_deploy": false}',
            coalesce(args ->> 'feature_set', 'default'), (args ->> 'train_end')::date);
        PERFORM stockml._fallback_to_naive(n.model_name, r.version, n.version);
        RETURN format('%s version %s, skill %s, %s; the naive version %s serves (fallback_to_naive)', r.model_name,
                      r.version, round((r.metrics ->> 'skill')::numeric, 4), r.metrics -> 'gate' ->> 'reason', n.version);
    END IF;
    RETURN format('%s version %s%s, skill %s%s', r.model_name, r.version,
                  CASE WHEN r.deployed THEN ' (deployed to production)' ELSE '' END,
                  round((r.metrics ->> 'skill')::numeric, 4),
                  CASE WHEN r.deployed THEN '' ELSE ', ' || (r.metrics -> 'gate' ->> 'reason') END);
END $$;
COMMENT ON FUNCTION stockml.run_job_train(bigint, jsonb) IS
'job kind train: args {"model_name", "symbols": [...], optional "algorithm", "horizon", "params", "feature_set", "train_end", "fallback_to_naive"}, checked by stockml.check_job_train; returns the version trained and, when not deployed, why; with fallback_to_naive a version that does not beat the random walk makes a naive version serve';

-- The models a monitor or forecast job names: {"model_name": ..} or {"models": [..]}, else
-- every model with a production version.
CREATE OR REPLACE FUNCTION stockml.job_models(kind text, args jsonb, allowed text[])
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stockml.job_check_keys(kind, args, allowed);
    IF args ? 'models' AND (jsonb_typeof(args -> 'models') <> 'array'
       OR EXISTS (SELECT FROM jsonb_array_elements(args -> 'models') e WHERE jsonb_typeof(e) <> 'string')) THEN
        RAISE EXCEPTION '"models" of a % job must be an array of model names', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example: stockml.submit(%L, ''{"models": ["msft_ridge"]}'').', kind);
    END IF;
    IF args ? 'model_name' AND jsonb_typeof(args -> 'model_name') <> 'string' THEN
        RAISE EXCEPTION '"model_name" of a % job must be a string', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example: stockml.submit(%L, ''{"model_name": "msft_ridge"}'').', kind);
    END IF;
    IF args ? 'model_name' THEN
        RETURN ARRAY[args ->> 'model_name'];
    ELSIF args ? 'models' THEN
        RETURN ARRAY(SELECT jsonb_array_elements_text(args -> 'models'));
    END IF;
    RETURN ARRAY(SELECT DISTINCT a.name FROM stockml.model_aliases a WHERE a.alias = 'production' ORDER BY 1);
END
$$;
COMMENT ON FUNCTION stockml.job_models(text, jsonb, text[]) IS
'internal: the models a monitor or forecast job names ("model_name" or "models"; default every model with a production version), refusing unknown keys';

-- ERROR naming the models that do not exist (or, with production, have no production version)
CREATE OR REPLACE FUNCTION stockml.job_check_models(kind text, names text[], production boolean)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(quote_literal(n), ', ' ORDER BY n) INTO missing FROM unnest(names) n
     WHERE NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = n);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the % job names no model: % does not exist', kind, missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    IF production THEN
        SELECT string_agg(quote_literal(n), ', ' ORDER BY n) INTO missing FROM unnest(names) n
         WHERE NOT EXISTS (SELECT FROM stockml.model_aliases a WHERE a.name = n AND a.alias = 'production');
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'the % job names a model without a production version: %', kind, missing
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'stockml.deploy(name, version) sets one.';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.job_check_models(text, text[], boolean) IS
'internal: ERROR naming the models of a job that do not exist (or, with production, have no production version)';

-- The checker of job kind monitor: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_monitor(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    days integer;
BEGIN
    PERFORM stockml.job_check_models('monitor', stockml.job_models('monitor', args, ARRAY['model_name', 'models', 'window_days']),
                                     false);
    IF args ? 'window_days' AND jsonb_typeof(args -> 'window_days') <> 'null' THEN
        BEGIN
            days := (args ->> 'window_days')::integer;
        EXCEPTION WHEN data_exception THEN
            days := NULL;
        END;
        IF jsonb_typeof(args -> 'window_days') <> 'number' OR days IS NULL OR days NOT BETWEEN 2 AND 3660 THEN
            RAISE EXCEPTION '"window_days" of a monitor job must be a whole number from 2 to 3660, not %', args -> 'window_days'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Leave it out for the retrain policy''s window (stockml.retrain_policies.window_days).';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.check_job_monitor(jsonb) IS
'checker of job kind monitor (run by submit() and by the job): keys, models that exist, window_days';

CREATE OR REPLACE FUNCTION stockml.run_job_monitor(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names text[];
    r     record;
    parts text[] := '{}';
BEGIN
    PERFORM stockml.check_job_monitor(args);
    names := stockml.job_models('monitor', args, ARRAY['model_name', 'models', 'window_days']);
    FOR i IN 1 .. coalesce(cardinality(names), 0) LOOP
        SELECT * INTO r FROM stockml.monitor(names[i], (args ->> 'window_days')::integer);
        parts := parts || format('%s v%s: %s of %s features drifted, skill %s%s', r.model, r.version,
                                 r.drifted_features, r.features, coalesce(round(r.skill::numeric, 3)::text, 'n/a'),
                                 CASE WHEN r.retrain_job IS NOT NULL THEN format(', retrain job %s', r.retrain_job) ELSE '' END);
        PERFORM stockml.report_job_progress(i::float8 / cardinality(names));
    END LOOP;
    RETURN CASE WHEN cardinality(parts) = 0 THEN 'no model to monitor' ELSE array_to_string(parts, '; ') END;
END
$$;
COMMENT ON FUNCTION stockml.run_job_monitor(bigint, jsonb) IS
'job kind monitor: args {"model_name": ..} or {"models": [..]} (default every model with a production version), optional "window_days", checked by stockml.check_job_monitor; returns a summary per model';

-- The checker of job kind forecast: submit() runs it before queuing, the job before its work.
CREATE OR REPLACE FUNCTION stockml.check_job_forecast(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    PERFORM stockml.job_check_models('forecast', stockml.job_models('forecast', args, ARRAY['model_name', 'models', 'symbols']),
                                     true);
    SELECT string_agg(s, ', ' ORDER BY s) INTO missing
      FROM (SELECT DISTINCT s FROM unnest(stockml.job_symbols('forecast', args)) s
             WHERE NOT EXISTS (SELECT FROM stockml.symbols y WHERE y.symbol = s) ORDER BY s LIMIT 10) u;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'unknown symbol in forecast job args: %', missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'Load its prices first (stockml.ingest_yahoo, ingest_stooq or ingest_csv), or leave "symbols" out for the model''s own.';
    END IF;
END
$$;
COMMENT ON FUNCTION stockml.check_job_forecast(jsonb) IS
'checker of job kind forecast (run by submit() and by the job): keys, models with a production version, symbols that exist';

CREATE OR REPLACE FUNCTION stockml.run_job_forecast(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names   text[];
    symbols text[];
    n       bigint;
    nfailed bigint;
    parts   text[] := '{}';
BEGIN
    PERFORM stockml.check_job_forecast(args);
    names := stockml.job_models('forecast', args, ARRAY['model_name', 'models', 'symbols']);
    symbols := stockml.job_symbols('forecast', args);
    FOR i IN 1 .. coalesce(cardinality(names), 0) LOOP
        SELECT count(*) FILTER (WHERE f.status = 'ok'), count(*) FILTER (WHERE f.status <> 'ok')
          INTO n, nfailed FROM stockml.forecast(names[i], symbols) f;
        parts := parts || format('%s: %s forecast%s%s', names[i], n, CASE WHEN n = 1 THEN '' ELSE 's' END,
                                 CASE WHEN nfailed > 0 THEN format(', %s symbol%s failed (see the WARNING)', nfailed,
                                                                  CASE WHEN nfailed = 1 THEN '' ELSE 's' END)
                                 ELSE '' END);
        PERFORM stockml.report_job_progress(i::float8 / cardinality(names));
    END LOOP;
    RETURN CASE WHEN cardinality(parts) = 0 THEN 'no model to forecast with' ELSE array_to_string(parts, '; ') END;
END
$$;
COMMENT ON FUNCTION stockml.run_job_forecast(bigint, jsonb) IS
'job kind forecast: args {"model_name": ..} or {"models": [..]} (default every model with a production version), optional "symbols", checked by stockml.check_job_forecast; returns the forecasts made per model';

-- The pg_cron job name of a pipeline's step; ERROR on a malformed pipeline name.
CREATE OR REPLACE FUNCTION stockml.pipeline_job_name(pipeline text, step text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pipeline IS NULL OR pipeline !~ '^[a-z0-9][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'invalid pipeline name %', coalesce(quote_literal(pipeline), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A pipeline name is 1 to 40 characters among a-z 0-9 _, starting with a letter or digit.',
                  HINT = 'For example ''nightly'' or ''us_close''.';
    END IF;
    IF step IS NULL OR step NOT IN ('refresh', 'forecast', 'monitor') THEN
        RAISE EXCEPTION 'unknown pipeline step %', coalesce('"' || step || '"', 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The steps are refresh, forecast and monitor.';
    END IF;
    RETURN CASE WHEN pipeline = 'default' THEN 'stockml-' || step ELSE 'stockml-' || pipeline || '-' || step END;
END
$$;
COMMENT ON FUNCTION stockml.pipeline_job_name(text, text) IS
'the pg_cron job name of a pipeline''s step: stockml-<pipeline>-<step>, stockml-<step> for the pipeline "default"';

-- One step's work; failed lists what did not work ('SYMBOL: error', 'model SYMBOL (error)' for a
-- symbol forecast() could not forecast, 'model (error)').
CREATE OR REPLACE FUNCTION stockml._pipeline_step(pipeline text, step text, models text[], wait_for_previous boolean,
                                       timeout interval, OUT summary text, OUT failed text[])
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started   timestamptz := clock_timestamp();
    previous  text;
    names     text[];
    n         integer;
    m         text;
    msg       text;
BEGIN
    PERFORM stockml.pipeline_job_name(pipeline, step);
    IF wait_for_previous IS NULL OR timeout IS NULL OR timeout <= '0' OR timeout > '1 day' THEN
        RAISE EXCEPTION 'pipeline_step needs wait_for_previous true or false and a timeout between 0 and 1 day'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('wait_for_previous = %s, timeout = %s',
                                  coalesce(wait_for_previous::text, 'NULL'), coalesce(timeout::text, 'NULL')),
                  HINT = 'Leave them out for the defaults (false, 30 minutes).';
    END IF;
    failed := '{}';
    previous := CASE step WHEN 'forecast' THEN stockml.pipeline_job_name(pipeline, 'refresh')
                          WHEN 'monitor' THEN stockml.pipeline_job_name(pipeline, 'forecast') END;
    IF wait_for_previous AND previous IS NOT NULL AND EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron')
       AND NOT stockml.wait_for_cron_job(previous, started, timeout) THEN
        RAISE NOTICE 'stockml pipeline: % did not finish this run; % goes on with the data stored', previous, step;
    END IF;

    IF step = 'refresh' THEN
        SELECT count(*), coalesce(array_agg(r.symbol || ': ' || coalesce(r.error, 'failed') ORDER BY r.symbol)
                                  FILTER (WHERE r.status = 'failed'), '{}')
          INTO n, failed
          FROM stockml.refresh() r;
        summary := format('refresh: %s symbols, %s failed', n, cardinality(failed));
        RETURN;
    END IF;
    names := coalesce(models, ARRAY(SELECT DISTINCT a.name FROM stockml.model_aliases a
                                     WHERE a.alias = 'production' ORDER BY 1));
    -- one model's failure (a WARNING in the server log) does not stop the others; forecast()
    -- records the symbols it can and returns the others with their error
    n := 0;
    FOREACH m IN ARRAY names LOOP
        BEGIN
            IF step = 'forecast' THEN
                failed := failed || ARRAY(SELECT format('%s %s (%s)', m, f.symbol, f.error)
                                            FROM stockml.forecast(m) f WHERE f.status <> 'ok' ORDER BY f.symbol);
            ELSE
                PERFORM stockml.monitor(m);
            END IF;
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            failed := failed || format('%s (%s)', m, msg);
            RAISE WARNING 'stockml pipeline: % of model "%" failed: %', step, m, msg;
        END;
    END LOOP;
    summary := format('%s: %s of %s models', step, n, cardinality(names));
END
$$;
COMMENT ON FUNCTION stockml._pipeline_step(text, text, text[], boolean, interval) IS
'internal: the work of one pipeline step (refresh every active symbol, or forecast/monitor each model); failed names what did not work';

CREATE PROCEDURE stockml.run_pipeline_step(pipeline text, step text, models text[] DEFAULT NULL,
                                           wait_for_previous boolean DEFAULT false,
                                           timeout interval DEFAULT '30 minutes')
AS 'MODULE_PATHNAME', 'stockml_run_pipeline_step'
LANGUAGE C;
COMMENT ON PROCEDURE stockml.run_pipeline_step(text, text, text[], boolean, interval) IS
'one step of a pipeline, as its pg_cron job calls it: does the work, commits what worked, then ends with an ERROR naming the symbols or models that failed (so cron.job_run_details says failed); with wait_for_previous forecast and monitor first wait for the previous step''s pg_cron run of the same tick';

CREATE OR REPLACE FUNCTION stockml.pipeline_step(step text, models text[] DEFAULT NULL,
                                      wait_for_previous boolean DEFAULT false,
                                      timeout interval DEFAULT '30 minutes')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM stockml._pipeline_step('default', step, models, wait_for_previous, timeout);
    IF cardinality(r.failed) > 0 THEN
        RAISE WARNING 'stockml pipeline: % failed for %: %', step, cardinality(r.failed), array_to_string(r.failed, '; ')
            USING HINT = 'CALL stockml.run_pipeline_step(pipeline, step, ...) ends with an ERROR instead, after committing what worked.';
    END IF;
    RETURN r.summary || CASE WHEN cardinality(r.failed) > 0 THEN '; failed: ' || array_to_string(r.failed, '; ') ELSE '' END;
END
$$;
COMMENT ON FUNCTION stockml.pipeline_step(text, text[], boolean, interval) IS
'one step of the default pipeline (refresh, forecast or monitor; models NULL = every model with a production version), returning a summary (what failed too, with a WARNING); the pg_cron jobs call stockml.run_pipeline_step instead, which ends with an ERROR when something failed';

-- The caller's pipelines, read from their pg_cron jobs: the forecast job's command names
-- the models.
CREATE OR REPLACE FUNCTION stockml.pipelines()
RETURNS TABLE (name text, schedule text, models text[], jobs text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM stockml.require_pg_cron();
    RETURN QUERY
    SELECT p.name, min(j.schedule),
           min(substring(j.command FROM '''(\{[^'']*\})''::text\[\]'))
               FILTER (WHERE j.jobname::text LIKE '%forecast')::text[],
           array_agg(j.jobname::text ORDER BY array_position(ARRAY['refresh', 'forecast', 'monitor'], p.step))
      FROM cron.job j,
           LATERAL (SELECT coalesce(substring(j.jobname FROM '^stockml-(.+)-(refresh|forecast|monitor)$'), 'default') AS name,
                           substring(j.jobname FROM '(refresh|forecast|monitor)$') AS step) p
     WHERE j.username = current_user AND j.jobname ~ '^stockml-([a-z0-9][a-z0-9_]{0,39}-)?(refresh|forecast|monitor)$'
     GROUP BY p.name
     ORDER BY p.name;
END
$$;
COMMENT ON FUNCTION stockml.pipelines() IS
'the caller''s pipelines: name, schedule, models (NULL = every model with a production version) and their pg_cron job names';

CREATE OR REPLACE FUNCTION stockml.schedule_pipeline(name text, cron text, models text[] DEFAULT NULL)
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    missing text;
    step text;
    names text[];
    models_sql text := CASE WHEN models IS NULL THEN 'NULL' ELSE quote_literal(models::text) || '::text[]' END;
BEGIN
    PERFORM stockml.require_pg_cron();
    names := ARRAY[stockml.pipeline_job_name(name, 'refresh'), stockml.pipeline_job_name(name, 'forecast'),
                   stockml.pipeline_job_name(name, 'monitor')];
    IF cron IS NULL THEN
        RAISE EXCEPTION 'cron schedule must not be NULL'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a cron expression such as ''30 22 * * 1-5'' (22:30 GMT on weekdays: pg_cron 1.4 reads schedules in GMT).';
    END IF;
    IF models IS NOT NULL THEN
        SELECT string_agg(m, ', ') INTO missing
          FROM unnest(models) m WHERE NOT EXISTS (SELECT FROM stockml.models x WHERE x.name = m);
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'no model named %', missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'Train the models first, or pass NULL to forecast and monitor every model with a production version.';
    END IF;
    -- cron.schedule replaces a job of the same name and user, so a second call updates
    FOREACH step IN ARRAY ARRAY['refresh', 'forecast', 'monitor'] LOOP
        BEGIN
            PERFORM cron.schedule(stockml.pipeline_job_name(name, step), cron,
                                  format('CALL stockml.run_pipeline_step(%L, %L%s)', name, step,
                                         CASE WHEN step = 'refresh' THEN ''
                                              ELSE format(', %s, wait_for_previous => true', models_sql) END));
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS missing = MESSAGE_TEXT;
            IF missing NOT LIKE 'invalid schedule%' THEN
                RAISE;
            END IF;
            RAISE EXCEPTION 'pg_cron refused the schedule %: %', quote_literal(cron), missing
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Five fields: minute hour day-of-month month day-of-week, e.g. ''30 22 * * 1-5'' '
                             '(22:30 GMT on weekdays: pg_cron 1.4 reads schedules in GMT).';
        END;
    END LOOP;
    RETURN QUERY
    SELECT j.jobid, j.jobname::text, j.schedule, j.command
      FROM cron.job j
     WHERE j.jobname = ANY (names) AND j.username = current_user
     ORDER BY array_position(names, j.jobname::text);
END
$$;
COMMENT ON FUNCTION stockml.schedule_pipeline(text, text, text[]) IS
'schedule the pipeline name (refresh -> forecast -> monitor) as pg_cron jobs stockml-<name>-refresh, -forecast, -monitor (idempotent: a second call updates them; other pipelines stay); models NULL = every model with a production version';

CREATE OR REPLACE FUNCTION stockml.schedule_pipeline(cron text DEFAULT '30 22 * * 1-5', models text[] DEFAULT NULL)
RETURNS TABLE (jobid bigint, jobname text, schedule text, command text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM stockml.schedule_pipeline('default', cron, models)
$$;
COMMENT ON FUNCTION stockml.schedule_pipeline(text, text[]) IS
'schedule the pipeline "default" as pg_cron jobs stockml-refresh, stockml-forecast, stockml-monitor (idempotent: a second call updates them); models NULL = every model with a production version';

CREATE OR REPLACE FUNCTION stockml.unschedule_pipeline(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := 0;
    j text;
    names text[];
BEGIN
    PERFORM stockml.require_pg_cron();
    names := ARRAY[stockml.pipeline_job_name(name, 'refresh'), stockml.pipeline_job_name(name, 'forecast'),
                   stockml.pipeline_job_name(name, 'monitor')];
    FOR j IN SELECT c.jobname FROM cron.job c WHERE c.jobname = ANY (names) AND c.username = current_user LOOP
        PERFORM cron.unschedule(j);
        n := n + 1;
    END LOOP;
    IF n = 0 AND name <> 'default' THEN
        RAISE EXCEPTION 'no pipeline named "%"', name
            USING ERRCODE = 'undefined_object',
                  HINT = coalesce('Your pipelines: ' || (SELECT string_agg(p.name, ', ') FROM stockml.pipelines() p) || '.',
                                  'You have no pipeline: stockml.schedule_pipeline(name, cron, models) makes one.');
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION stockml.unschedule_pipeline(text) IS
'remove the pg_cron jobs of the caller''s pipeline name (an ERROR if it has none); returns how many were removed';

CREATE OR REPLACE FUNCTION stockml.unschedule_pipeline()
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT stockml.unschedule_pipeline('default')
$$;
COMMENT ON FUNCTION stockml.unschedule_pipeline() IS
'remove the pg_cron jobs of the pipeline "default"; returns how many were removed (0 when it was not scheduled)';

CREATE OR REPLACE FUNCTION stockml.drop_model(model_name text)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
    job record;
    named text[];
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM stockml._lock_model_name(model_name);
    -- a name is known by its versions, or by its runs when none trained
    IF NOT EXISTS (SELECT FROM stockml.models m WHERE m.name = model_name)
       AND NOT EXISTS (SELECT FROM stockml.experiments e WHERE e.name = model_name) THEN
        RAISE EXCEPTION 'model "%" does not exist', model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    DELETE FROM stockml.model_aliases a WHERE a.name = model_name;
    DELETE FROM stockml.models m WHERE m.name = model_name;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM stockml.alias_history h WHERE h.name = model_name;
    DELETE FROM stockml.experiments e WHERE e.name = model_name;
    -- the caller's pipelines (stockml.schedule_pipeline) naming the model: each scheduled
    -- again without it, or removed when it named no other model
    IF pg_catalog.to_regclass('cron.job') IS NOT NULL THEN
        FOR job IN SELECT p.name, p.schedule, p.models FROM stockml.pipelines() p
                    WHERE model_name = ANY (p.models) ORDER BY p.name LOOP
            named := array_remove(job.models, model_name);
            IF cardinality(named) = 0 THEN
                PERFORM stockml.unschedule_pipeline(job.name);
                RAISE NOTICE 'unscheduled pipeline "%": it named only model "%"', job.name, model_name;
            ELSE
                PERFORM stockml.schedule_pipeline(job.name, job.schedule, named);
                RAISE NOTICE 'pipeline "%" no longer names model "%"; it keeps %', job.name, model_name,
                             array_to_string(named, ', ');
            END IF;
        END LOOP;
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION stockml.drop_model(text) IS
'remove every version of a model with its aliases, alias history, runs and forecasts, and take it out of each of the caller''s pipelines naming it; returns the number of versions removed (0 for a name with only failed runs); an unknown name is an ERROR';
-- issue 10 item 4 (feature importance): as sql/install/57_importance.sql
-- Feature importance (src/model_matrix.c, each algorithm's importance): per feature of a
-- model bytea; per named feature of a registered version, feature_importance(), is defined
-- by 99a_search.sql with its importance_method argument.

CREATE FUNCTION stockml.model_importance(model bytea)
RETURNS TABLE (feature integer, importance float8, method text)
AS 'MODULE_PATHNAME', 'stockml_model_importance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_importance(bytea) IS
'per feature (1-based position) of a model bytea: its importance and the method (standardized_coefficient for linear models, split_gain for gbt)';

-- Citus (issue 11): the symbol foreign keys without ON UPDATE CASCADE (Citus
-- refuses cascading updates of a distribution column; nothing renames a
-- symbol).  stockml.distribute() is defined once, in its final form, by
-- 99d_predict_state.sql.
ALTER TABLE stockml.prices DROP CONSTRAINT prices_symbol_fkey,
    ADD CONSTRAINT prices_symbol_fkey FOREIGN KEY (symbol) REFERENCES stockml.symbols (symbol) ON DELETE CASCADE;
ALTER TABLE stockml.corporate_actions DROP CONSTRAINT corporate_actions_symbol_fkey,
    ADD CONSTRAINT corporate_actions_symbol_fkey FOREIGN KEY (symbol) REFERENCES stockml.symbols (symbol) ON DELETE CASCADE;

-- issue 15 item 6 (speed of the drift null): as sql/install/60_drift.sql

-- For the tests (test/pgtap/61_drift_walk.sql): the drift null's statistics of many windows
-- against one reference or one pool of values (src/drift.c, DriftStatisticsExcluding and
-- DriftStatisticsOfPool) beside the same statistics of each sample gathered and sorted, which
-- they must equal to the bit.
CREATE FUNCTION stockml._drift_walk_check(ref float8[], cur float8[], cur_from integer[], cur_to integer[],
                                          exclude_from integer[], exclude_to integer[])
RETURNS TABLE (window_no integer, method text, walked float8, pooled float8, gathered float8)
AS 'MODULE_PATHNAME', 'stockml_drift_walk_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml._drift_walk_check(float8[], float8[], integer[], integer[], integer[], integer[]) IS
'internal, for the tests: per window w, the five drift statistics between ref without its elements exclude_from[w] .. exclude_to[w] and cur[cur_from[w] .. cur_to[w]], as the drift null computes them against a reference sorted once (walked) and from a pool of all values sorted once (pooled), and from the gathered samples (gathered); NULL where a sample has no finite value';
-- issue 15 item 1, the sampling design and the share rule (src/drift_null.c, src/drift_rule.c):
-- the null's windows are evenly spaced over the training period and compared with a reference
-- that leaves a guard of one window length around them; drift_null.neighbours says which
-- windows overlap, and the drifted share's limit judges each window only against the windows
-- away from it.  Nulls kept before this (neighbours 1) keep the in-sample share limit.  See
-- sql/install/61_drift_null.sql.
ALTER TABLE stockml.drift_null
    ADD COLUMN neighbours integer NOT NULL DEFAULT 1
        CONSTRAINT drift_null_neighbours CHECK (neighbours >= 1);
COMMENT ON TABLE stockml.drift_null IS 'per model version, feature and drift statistic: the statistic between the reference sample and 100 windows of the training period (consecutive days, as long as the monitoring window, their first days evenly spaced; the window and one window length on each side left out of the reference); monitor() flags a feature above the (1 - drift_alpha) quantile (drift_null_check)';
COMMENT ON COLUMN stockml.drift_null.neighbours IS 'windows fewer places apart than this overlap each other or each other''s guard: drift_share_check leaves them out of each other''s comparison (1: none do)';

-- The limit of the drifted share (src/drift_rule.c): each window of the null judged only
-- against the windows that overlap neither it nor its guard (neighbours places or more
-- away), per feature at drift_null_check's rank and then for the share itself.
CREATE FUNCTION stockml.drift_share_check(null_statistics float8[], alpha float8, neighbours integer)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_drift_share_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_share_check(float8[], float8, integer) IS
'the limit of the drifted share from a features x windows array of null statistics: u_jb = the share of the windows at least neighbours places from b whose statistic j is below b''s; window b''s share = the share of features with u_jb >= k_j / n_j (k_j = ceil((1 - alpha) (n_j + 1)), drift_null_check''s rank); the limit = the (floor(L n) + 1)-th smallest of the n shares, L = the ceil((1 - alpha) (n + 1))-th smallest of the shares'' own u_b (at most the largest share)';

CREATE OR REPLACE FUNCTION stockml.drift_share_limit(model_id bigint, method text, window_days integer, alpha float8)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT stockml.drift_share_check(array_agg(n.statistics ORDER BY n.feature), $4, max(n.neighbours))
      FROM stockml.drift_null n
     WHERE n.model_id = $1 AND n.method = $2 AND n.window_days = $3
    HAVING count(*) > 0
$$;
COMMENT ON FUNCTION stockml.drift_share_limit(bigint, text, integer, float8) IS
'the calibrated limit of the drifted share for a model version, method and window length (drift_share_check over its stockml.drift_null rows); NULL without a null';
-- issue 10 item 2 (logistic, p_up): as sql/install/50_models.sql, ...

CREATE FUNCTION stockml.model_p_up(model bytea, x float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_model_p_up'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_p_up(bytea, float8[]) IS
'a classifier''s (logistic) probability that the target is above 0 (an up move) for one raw feature vector; a regressor''s bytea is an ERROR (its p_up needs the residuals train() keeps: predict(model_name, symbol))';

CREATE FUNCTION stockml.log_loss(p_up float8, realized_move float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_log_loss'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.log_loss(float8, float8) IS
'-ln of the probability a forecast gave to what happened: -ln p_up when realized_move > 0 (up), -ln(1 - p_up) otherwise, p_up clipped to [eps, 1 - eps] as sklearn''s log_loss; the deploy gate''s loss for classifiers, train() scores with the same C function';

CREATE FUNCTION stockml.probability_scores(p_up float8[], realized_move float8[],
                                           OUT n bigint, OUT up_share float8, OUT log_loss float8,
                                           OUT brier float8, OUT auc float8, OUT accuracy float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_probability_scores'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.probability_scores(float8[], float8[]) IS
'scores of probability forecasts of an up move (realized_move > 0), as sklearn.metrics: mean log loss, Brier score, AUC (ranks, ties half; NULL without both classes) and accuracy of (p_up > 0.5); up_share is the share of up moves; train() reports the same (C) for classifiers';

-- a classifier's validation rows keep its probability and its baseline's (train.c)
ALTER TABLE stockml.validation_predictions
    ADD COLUMN p_up float8 CHECK (p_up BETWEEN 0 AND 1),
    ADD COLUMN base_p_up float8 CHECK (base_p_up BETWEEN 0 AND 1);
COMMENT ON COLUMN stockml.validation_predictions.p_up IS 'a classifier''s (logistic) probability that y > 0, from the same fit as yhat; NULL for a regressor';
COMMENT ON COLUMN stockml.validation_predictions.base_p_up IS 'a classifier''s baseline: the share of up moves (y > 0) among the fold''s training rows; NULL for a regressor';

-- predict() and predict_path() with p_up, their final declarations (88_api.sql dropped 0.1.0's
-- predict(text, text); the C symbols fill 7, 8 or 9 columns), with the comments and privileges
-- of sql/install/52_train_predict.sql, 66_reader.sql
CREATE FUNCTION stockml.predict(model_name text, symbol text, version integer DEFAULT NULL,
                                alias text DEFAULT NULL,
                                OUT symbol text, OUT as_of date, OUT target_day date,
                                OUT predicted_close float8, OUT lower float8, OUT upper float8,
                                OUT model_version integer, OUT price_scale text,
                                OUT p_up float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_predict_symbol_0_2'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, text, integer, text) IS
'a version''s forecast of the close horizon trading days (the symbol''s calendar) after the symbol''s last stored bar, from features computed with the spec stored in the model on total-return-adjusted prices; the version is version => N, the one alias => name points to, or by default production (not both); predicted_close, lower and upper are on the price scale of as_of''s bar as quoted (price_scale = ''as_of''); p_up is the probability of an up move (target above 0): a classifier''s own, a regressor''s from the conformal distribution of its out-of-sample residuals taken as symmetric (NULL without them); NULL model_name or symbol gives NULL';

CREATE FUNCTION stockml.predict_path(model_name text, symbol text, version integer DEFAULT NULL,
                                     alias text DEFAULT NULL)
RETURNS TABLE (symbol text, as_of date, horizon integer, target_day date, predicted_close float8,
               lower float8, upper float8, model_version integer, price_scale text,
               p_up float8)
AS 'MODULE_PATHNAME', 'stockml_predict_path'
LANGUAGE C STABLE PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION stockml.predict_path(text, text, integer, text) IS
'one row per head of a version trained with horizons (ascending horizon): the close horizon trading days after the symbol''s last stored bar, with its interval, on the price scale of as_of (as predict()); a version of one head gives one row, predict()''s; p_up as predict()''s';

REVOKE EXECUTE ON FUNCTION stockml.predict(text, text, integer, text),
                          stockml.predict_path(text, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict(text, text, integer, text),
                          stockml.predict_path(text, text, integer, text)
   TO stockml_reader, stockml_admin;

CREATE FUNCTION stockml.conformal_p_up(yhat float8, scale float8, abs_residuals float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_conformal_p_up'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.conformal_p_up(float8, float8, float8[]) IS
'a regressor''s probability of an up move as predict() gives it: with y - yhat symmetric and |y - yhat| / scale distributed as abs_residuals, 1/2 + sign(yhat)/2 * F(|yhat| / scale), F their conformal CDF (rank / (n + 1), interpolated)';

-- the deploy gate compares classifiers by log loss: the final forms of sql/install/53_gate.sql
-- Two versions of a model on the validation rows they share (version 0: the random walk on
-- the other version's rows).  Loss: the absolute error of the log return, |y - yhat|
-- (scale-free, about the relative error of the price), averaged over the symbols of a day;
-- when both sides are classifiers (their rows keep p_up; version 0 beside a classifier is its
-- base rate, base_p_up) the log loss of p_up, stockml.log_loss.  mae_a and mae_b are the mean
-- loss of each, whichever it is.
-- train() calls it on rows it inserted in the same transaction, which have no statistics yet:
-- the planner takes each version for one row and would join them in a nested loop over
-- model_id alone, n x n rows (0.2 s for 600); a hash or merge join is linear.
CREATE OR REPLACE FUNCTION stockml.compare(model text, version_a integer, version_b integer)
RETURNS TABLE (model_name text, a integer, b integer, loss text,
               n_rows bigint, n_days integer, mae_a float8, mae_b float8,
               dm_statistic float8, hac_lag integer, p_b_better float8, p_a_better float8)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
AS $$
#variable_conflict use_variable
DECLARE
    id_a    bigint;
    id_b    bigint;
    h_a     integer;
    h_b     integer;
    agg     record;
    dm      record;
    cls_a   boolean;
    cls_b   boolean;
    use_ll  boolean;
BEGIN
    IF model IS NULL OR version_a IS NULL OR version_b IS NULL THEN
        RAISE EXCEPTION 'model, version_a and version_b must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Version 0 stands for the random walk (the naive forecast).';
    END IF;
    IF version_a = 0 AND version_b = 0 THEN
        RAISE EXCEPTION 'at most one of the versions may be 0 (the random walk)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example stockml.compare(''msft_ridge'', 0, 3) compares version 3 with the random walk.';
    END IF;
    IF version_a <> 0 THEN
        SELECT m.id, m.horizon INTO id_a, h_a FROM stockml.models m
         WHERE m.name = model AND m.version = version_a;
    END IF;
    IF version_b <> 0 THEN
        SELECT m.id, m.horizon INTO id_b, h_b FROM stockml.models m
         WHERE m.name = model AND m.version = version_b;
    END IF;
    IF (version_a <> 0 AND id_a IS NULL) OR (version_b <> 0 AND id_b IS NULL) THEN
        RAISE EXCEPTION 'model "%" has no version %', model,
                        CASE WHEN version_a <> 0 AND id_a IS NULL THEN version_a ELSE version_b END
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, version FROM stockml.model_versions lists the models.';
    END IF;
    IF h_a <> h_b THEN
        RAISE EXCEPTION 'versions % and % of "%" forecast different horizons (% and % bars)',
                        version_a, version_b, model, h_a, h_b
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Their validation rows have different targets.',
                  HINT = 'Compare versions trained with the same horizon.';
    END IF;

    -- a classifier's validation rows keep p_up; the random walk stands beside either kind
    cls_a := version_a = 0 OR EXISTS (SELECT FROM stockml.validation_predictions p
                                       WHERE p.model_id = id_a AND p.p_up IS NOT NULL);
    cls_b := version_b = 0 OR EXISTS (SELECT FROM stockml.validation_predictions p
                                       WHERE p.model_id = id_b AND p.p_up IS NOT NULL);
    use_ll := cls_a AND cls_b;
    WITH rows AS (
        SELECT pa.day,
               CASE WHEN use_ll THEN stockml.log_loss(CASE WHEN version_a = 0 THEN pb.base_p_up ELSE pa.p_up END, pa.y)
                    ELSE abs(pa.y - CASE WHEN version_a = 0 THEN pb.naive ELSE pa.yhat END) END AS la,
               CASE WHEN use_ll THEN stockml.log_loss(CASE WHEN version_b = 0 THEN pa.base_p_up ELSE pb.p_up END, pa.y)
                    ELSE abs(pa.y - CASE WHEN version_b = 0 THEN pa.naive ELSE pb.yhat END) END AS lb
          FROM stockml.validation_predictions pa
          JOIN stockml.validation_predictions pb ON pb.symbol = pa.symbol AND pb.day = pa.day
         WHERE pa.model_id = coalesce(id_a, id_b) AND pb.model_id = coalesce(id_b, id_a)),
    daily AS (
        SELECT r.day, count(*) AS n, sum(r.la) AS la, sum(r.lb) AS lb, avg(r.la - r.lb) AS d
          FROM rows r GROUP BY r.day)
    SELECT coalesce(sum(x.n), 0)::bigint AS n_rows, count(*)::integer AS n_days,
           sum(x.la) / sum(x.n) AS mae_a, sum(x.lb) / sum(x.n) AS mae_b,
           coalesce(array_agg(x.d ORDER BY x.day), '{}') AS d
      INTO agg
      FROM daily x;
    SELECT * INTO dm FROM stockml.dm_test(agg.d, coalesce(h_a, h_b));

    model_name := model;
    a := version_a;
    b := version_b;
    loss := CASE WHEN use_ll THEN 'log loss of p_up' ELSE 'absolute error of the log return' END;
    n_rows := agg.n_rows;
    n_days := agg.n_days;
    mae_a := agg.mae_a;
    mae_b := agg.mae_b;
    dm_statistic := dm.statistic;
    hac_lag := dm.hac_lag;
    p_b_better := dm.p_value;
    p_a_better := 1 - dm.p_value;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stockml.compare(text, integer, integer) IS
'compare two versions of a model on the walk-forward validation rows they share (version 0: the random walk, or beside a classifier its base rate): the mean loss of each — |log error|, or the log loss of p_up when both are classifiers (loss says which) — and a one-sided Diebold-Mariano test (Newey-West variance) each way';

-- train()'s deploy decision for a new version: production moves to it only when, on the
-- same validation rows, it beats the random walk and the current production version by a
-- one-sided Diebold-Mariano test at the policy's deploy_alpha, and its skill is above 0.
CREATE OR REPLACE FUNCTION stockml._deploy_gate(model_name text, version integer, auto_deploy boolean, set_by text)
RETURNS TABLE (deployed boolean, gate jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    alpha    float8;
    skill    float8;
    horizon  integer;
    prod     integer;
    prod_h   integer;
    p_naive  float8;
    d_naive  integer;
    p_prod   float8;
    n_prod   bigint;
    reason   text;
    classifier boolean;
    skill_is text;
    loss     text;
BEGIN
    SELECT coalesce(max(p.deploy_alpha), 0.05) INTO alpha
      FROM stockml.retrain_policies p WHERE p.model_name = _deploy_gate.model_name;
    -- a classifier is judged by its log loss against its base rate: skill is its log-loss skill
    SELECT coalesce(m.metrics ->> 'log_loss_skill', m.metrics ->> 'skill')::float8, m.horizon,
           m.metrics ? 'log_loss_skill'
      INTO skill, horizon, classifier
      FROM stockml.models m WHERE m.name = _deploy_gate.model_name AND m.version = _deploy_gate.version;
    skill_is := CASE WHEN classifier THEN 'log-loss skill' ELSE 'skill' END;
    SELECT a.version, m.horizon INTO prod, prod_h
      FROM stockml.model_aliases a JOIN stockml.models m ON m.name = a.name AND m.version = a.version
     WHERE a.name = _deploy_gate.model_name AND a.alias = 'production';
    SELECT c.p_b_better, c.n_days, c.loss INTO p_naive, d_naive, loss FROM stockml.compare(model_name, 0, version) c;
    IF prod IS NOT NULL AND prod_h = horizon THEN
        SELECT c.p_b_better, c.n_rows INTO p_prod, n_prod FROM stockml.compare(model_name, prod, version) c;
    END IF;

    reason := CASE
        WHEN NOT auto_deploy THEN
            'auto_deploy is false: production stays where it is'
        WHEN skill IS NULL OR skill <= 0 THEN
            format('not deployed: %s %s <= 0 (no better than the %s)', skill_is,
                   coalesce(round(skill::numeric, 4)::text, 'undefined'),
                   CASE WHEN classifier THEN 'base rate' ELSE 'random walk' END)
        WHEN p_naive IS NULL OR p_naive >= alpha THEN
            format('not deployed: does not beat the %s significantly (Diebold-Mariano p = %s >= %s over %s days)',
                   CASE WHEN classifier THEN 'base rate' ELSE 'random walk' END,
                   coalesce(round(p_naive::numeric, 4)::text, 'undefined'), alpha, d_naive)
        WHEN prod IS NULL THEN NULL
        WHEN prod_h <> horizon THEN
            format('not deployed: production version %s forecasts %s bars ahead, this version %s: compare by hand and deploy()',
                   prod, prod_h, horizon)
        WHEN n_prod = 0 THEN
            format('not deployed: no validation rows in common with production version %s (trained before 0.2.0 or on other symbols): compare by hand and deploy()',
                   prod)
        WHEN p_prod IS NULL OR p_prod >= alpha THEN
            format('not deployed: does not beat production version %s significantly (Diebold-Mariano p = %s >= %s over %s rows in common)',
                   prod, coalesce(round(p_prod::numeric, 4)::text, 'undefined'), alpha, n_prod)
        END;
    deployed := auto_deploy AND reason IS NULL;
    IF deployed THEN
        reason := format('deployed: beats the %s (Diebold-Mariano p = %s)',
                         CASE WHEN classifier THEN 'base rate' ELSE 'random walk' END, round(p_naive::numeric, 4))
               || CASE WHEN prod IS NULL THEN '; no production version before'
                       ELSE format(' and production version %s (p = %s over %s rows in common)',
                                   prod, round(p_prod::numeric, 4), n_prod) END
               || format(' at alpha %s', alpha);
        PERFORM stockml._set_alias(model_name, version, 'production', 'auto', reason, set_by);
    END IF;
    gate := jsonb_build_object(
        'deployed', deployed, 'reason', reason, 'alpha', alpha,
        'loss', loss, 'skill', skill,
        'p_vs_naive', p_naive, 'days_vs_naive', d_naive,
        'production_version', prod, 'p_vs_production', p_prod,
        'rows_vs_production', n_prod);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stockml._deploy_gate(text, integer, boolean, text) IS
'internal, the owner''s only (train() runs it as the owner for its checked caller set_by): move production to a new version only when its skill is above 0 and, on the same validation rows, it beats the random walk and the production version by a one-sided Diebold-Mariano test at the policy''s deploy_alpha (a classifier: its log-loss skill, and log loss against its base rate and a classifier in production); returns the decision and its reason';
REVOKE EXECUTE ON FUNCTION stockml._deploy_gate(text, integer, boolean, text) FROM PUBLIC;

CREATE FUNCTION stockml.predict_p_up(model_name text, x float8[], version integer DEFAULT NULL,
                                     alias text DEFAULT NULL)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_predict_p_up'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict_p_up(text, float8[], integer, text) IS
'a version''s probability of an up move (target above 0) for one raw feature vector, for batch use beside predict(model_name, x): a classifier''s own; a regressor''s from the conformal distribution of its plain out-of-sample |log errors| (a bare x has no bars to scale by volatility; predict(model_name, symbol) does), NULL without them; version => N, alias => name or by default production';
REVOKE EXECUTE ON FUNCTION stockml.predict_p_up(text, float8[], integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict_p_up(text, float8[], integer, text) TO stockml_reader, stockml_admin;

-- the forecast ledger keeps p_up, monitor() scores it (log loss, Brier): sql/install/51_registry.sql,
-- 52_train_predict.sql (forecast_result, forecast()), 62_monitor.sql, 64_views.sql
ALTER TABLE stockml.predictions ADD COLUMN p_up float8 CHECK (p_up BETWEEN 0 AND 1);
COMMENT ON COLUMN stockml.predictions.p_up IS 'predict()''s probability that the close rises (target above 0): a classifier''s own, a regressor''s from its residuals; NULL when it had none';

ALTER TYPE stockml.forecast_result ADD ATTRIBUTE p_up float8;

ALTER TABLE stockml.performance_metrics ADD COLUMN log_loss float8, ADD COLUMN brier float8;
COMMENT ON COLUMN stockml.performance_metrics.log_loss IS 'mean log loss of the forecasts'' p_up against the realized move (stockml.log_loss), over those that have one; NULL when none has';
COMMENT ON COLUMN stockml.performance_metrics.brier IS 'mean (p_up - up)^2 over the forecasts that have a p_up (up: the realized close above the as_of close)';

CREATE OR REPLACE VIEW stockml.model_performance AS
SELECT p.measured_at AS time, p.model_name, p.model_version, coalesce(p.symbol, 'all') AS symbol,
       p.n_forecasts, p.mae, p.mae_naive, p.skill, p.directional_accuracy, p.rmse, p.coverage,
       p.window_start, p.window_end, p.log_loss, p.brier
  FROM stockml.performance_metrics p
 ORDER BY time, p.model_name, symbol;
COMMENT ON VIEW stockml.model_performance IS 'Grafana: realized MAE, skill against the naive forecast, directional accuracy, interval coverage, and log loss and Brier score of p_up per monitor() run (symbol ''all'' for every symbol together)';

-- views that read predictions.* take in p_up as a fresh install's do (their columns do not change)
CREATE OR REPLACE VIEW stockml.forecast_history AS
SELECT (f.target_day::timestamp AT TIME ZONE 'UTC') AS time, f.symbol, f.model_name, f.model_version,
       f.as_of, f.target_day, f.predicted_close, f.lower, f.upper,
       r.actual_close, b.close AS naive_close,
       f.predicted_close - r.actual_close AS error, f.made_at
  FROM (SELECT DISTINCT ON (p.model_name, p.symbol, p.target_day) p.*
          FROM stockml.predictions p
         ORDER BY p.model_name, p.symbol, p.target_day, p.made_at DESC, p.id DESC) f
  LEFT JOIN stockml.prices b ON b.symbol = f.symbol AND b.day = f.as_of
  CROSS JOIN LATERAL (SELECT b.close * stockml.total_return(f.symbol, f.as_of, f.target_day)
                             AS actual_close) r
 ORDER BY time, f.symbol, f.model_name;
CREATE OR REPLACE VIEW stockml.version_forecasts AS
SELECT (f.target_day::timestamp AT TIME ZONE 'UTC') AS time, f.model_name, f.model_version, f.symbol,
       f.as_of, f.target_day, f.predicted_close, f.lower, f.upper,
       a.close AS actual_close, b.close AS naive_close,
       abs(f.predicted_close - a.close) AS abs_error, abs(b.close - a.close) AS naive_abs_error, f.made_at
  FROM (SELECT DISTINCT ON (p.model_name, p.model_version, p.symbol, p.target_day) p.*
          FROM stockml.predictions p
         ORDER BY p.model_name, p.model_version, p.symbol, p.target_day, p.made_at DESC, p.id DESC) f
  LEFT JOIN stockml.prices a ON a.symbol = f.symbol AND a.day = f.target_day
  LEFT JOIN stockml.prices b ON b.symbol = f.symbol AND b.day = f.as_of
 ORDER BY time, f.symbol, f.model_name, f.model_version;
COMMENT ON VIEW stockml.version_forecasts IS 'Grafana: the latest forecast of each model version for each symbol and target day (time), with its realized and the naive absolute error once the close is known; two versions forecasting the same days compare here';
GRANT SELECT ON stockml.version_forecasts TO stockml_reader, stockml_admin;
-- issue 10 items 3 and 4 (hyperparameter search, permutation importance): as
-- sql/install/51_registry.sql (runs.parent_run_id, the trials of a search) and
-- sql/install/57_importance.sql (model_permutation_importance; feature_importance gains
-- importance_method and horizon (the heads of a multi-horizon version, with
-- model_importance(bytea, integer)) and becomes callable by stockml_reader); and issue 10 item 5's backtest of
-- horizons above 1 (sql/install/69_backtest.sql: non-overlapping periods), its final form.

ALTER TABLE stockml.runs ADD COLUMN parent_run_id bigint;
CREATE INDEX runs_parent_idx ON stockml.runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
COMMENT ON INDEX stockml.runs_parent_idx IS 'serves the trials of a search';
COMMENT ON COLUMN stockml.runs.parent_run_id IS 'a search trial: the train() run that searched (its params hold the lists or ranges); NULL for a train() run; no foreign key (a self-reference makes pg_dump warn that the data may not restore): trials share their search''s experiment, so dropping the model drops them too';

CREATE FUNCTION stockml.model_permutation_importance(model bytea, x float8[], y float8[],
                                                     n_repeats integer DEFAULT 5, seed bigint DEFAULT 0)
RETURNS TABLE (feature integer, importance float8, std float8)
AS 'MODULE_PATHNAME', 'stockml_model_permutation_importance'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_permutation_importance(bytea, float8[], float8[], integer, bigint) IS
'permutation importance of a model bytea on rows x (one per row) and targets y: per feature (1-based), the mean growth of the loss (absolute error of the log return for regressors) over n_repeats seeded shuffles of its column, and its population standard deviation, as sklearn.inspection.permutation_importance';

CREATE FUNCTION stockml.model_importance(model bytea, horizon integer)
RETURNS TABLE (feature integer, importance float8, method text)
AS 'MODULE_PATHNAME', 'stockml_model_importance_head'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.model_importance(bytea, integer) IS
'model_importance() of the head of a model bytea trained for horizon (train(..., horizons => ...)); an ERROR lists the heads'' horizons when it has none for it; a model of one head does not store its horizon: its head';

-- SECURITY DEFINER (search_path pinned, read-only): the reader role (Grafana) may see the
-- importances without reading stockml.models or a model blob (EXECUTE: 66_reader.sql).
CREATE FUNCTION stockml.feature_importance(model_name text, version integer DEFAULT NULL,
                                           importance_method text DEFAULT NULL,
                                           horizon integer DEFAULT NULL)
RETURNS TABLE (feature text, importance float8, method text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v integer := feature_importance.version;
    h integer := feature_importance.horizon;
    own_h integer;
    held integer[];
    perm jsonb;
    own text;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF importance_method IS NOT NULL
       AND importance_method NOT IN ('standardized_coefficient', 'split_gain', 'permutation') THEN
        RAISE EXCEPTION 'unknown importance method "%"', importance_method
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''permutation'', or NULL for the model''s own: standardized_coefficient (linear models), split_gain (gbt).';
    END IF;
    IF v IS NULL THEN
        SELECT a.version INTO v FROM stockml.model_aliases a
         WHERE a.name = model_name AND a.alias = 'production';
        IF NOT FOUND THEN
            PERFORM stockml._require_version(model_name,
                                             (SELECT min(m.version) FROM stockml.models m WHERE m.name = model_name));
            RAISE EXCEPTION 'model "%" has no production version', model_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Pass the version: stockml.feature_importance(model_name, version).';
        END IF;
    ELSE
        PERFORM stockml._require_version(model_name, v);
    END IF;
    -- the head: NULL is the version's own horizon, predict()'s; a version of one head has only it
    SELECT m.horizon,
           CASE WHEN pg_catalog.jsonb_typeof(m.metrics -> 'heads') = 'object'
                THEN (SELECT pg_catalog.array_agg(k::integer ORDER BY k::integer)
                        FROM pg_catalog.jsonb_object_keys(m.metrics -> 'heads') k)
                ELSE ARRAY[m.horizon] END
      INTO own_h, held
      FROM stockml.models m WHERE m.name = model_name AND m.version = v;
    h := coalesce(h, own_h);
    IF NOT h = ANY (held) THEN
        RAISE EXCEPTION 'version % of "%" has no head for horizon %', v, model_name, h
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('It holds heads for horizons %s.', pg_catalog.array_to_string(held, ', ')),
                  HINT = pg_catalog.format('Pass horizon => one of %s, or NULL for its own (%s).', pg_catalog.array_to_string(held, ', '), own_h);
    END IF;
    IF importance_method = 'permutation' THEN
        SELECT CASE WHEN h = m.horizon THEN m.metrics -> 'permutation_importance'
                    ELSE m.metrics -> 'heads' -> h::text -> 'permutation_importance' END INTO perm
          FROM stockml.models m WHERE m.name = model_name AND m.version = v;
        IF perm IS NULL AND h <> own_h THEN
            RAISE EXCEPTION 'version % of "%" has no permutation importance for its horizon % head', v, model_name, h
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'train() measures it on each head''s last walk-forward fold unless params say "permutation_repeats": 0; versions trained before this stockml measured only the head of their own horizon.',
                      HINT = pg_catalog.format('Train a new version (params => ''{"permutation_repeats": 5}''), or pass horizon => %s (its own).', own_h);
        END IF;
        IF perm IS NULL THEN
            RAISE EXCEPTION 'version % of "%" has no permutation importance', v, model_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'train() measures it on the last walk-forward fold unless params say "permutation_repeats": 0; versions trained before stockml 0.2.0 have none.',
                      HINT = 'Train a new version (params => ''{"permutation_repeats": 5}''), or ask for the model''s own importance (importance_method NULL).';
        END IF;
        RETURN QUERY
        SELECT m.feature_spec -> 'features' -> (i.k - 1)::int ->> 'name', i.value::float8, 'permutation'::text
          FROM stockml.models m,
               jsonb_array_elements_text(perm -> 'importance') WITH ORDINALITY AS i(value, k)
         WHERE m.name = model_name AND m.version = v
         ORDER BY i.k;
        RETURN;
    END IF;
    SELECT i.method INTO own
      FROM stockml.models m, stockml.model_importance(m.model, h) i
     WHERE m.name = model_name AND m.version = v LIMIT 1;
    IF importance_method IS NOT NULL AND importance_method IS DISTINCT FROM own THEN
        RAISE EXCEPTION 'version % of "%" measures its own importance by %, not %', v, model_name, own, importance_method
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass importance_method => NULL for it, or ''permutation''.';
    END IF;
    RETURN QUERY
    SELECT m.feature_spec -> 'features' -> (i.feature - 1) ->> 'name', i.importance, i.method
      FROM stockml.models m, stockml.model_importance(m.model, h) i
     WHERE m.name = model_name AND m.version = v
     ORDER BY i.feature;
END $$;
COMMENT ON FUNCTION stockml.feature_importance(text, integer, text, integer) IS
'importance of each feature of a version (default: production), named by its feature spec: by default the model''s own (standardized coefficients of linear models, total split gain of gbt); importance_method ''permutation'': the growth of the out-of-sample loss when the feature is shuffled, on the last walk-forward fold (train() measured it); horizon: the head of a version trained with horizons (NULL: its own horizon''s, the one predict() serves)';
REVOKE EXECUTE ON FUNCTION stockml.feature_importance(text, integer, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.feature_importance(text, integer, text, integer) TO stockml_reader, stockml_admin;

-- backtest: horizons above 1 in non-overlapping periods (as sql/install/69_backtest.sql)
CREATE OR REPLACE FUNCTION stockml._backtest_curves(model_id bigint, symbols text[], cost_bps float8, strategy text)
RETURNS TABLE (symbol text, day date, held float8, strategy_return float8,
               buy_and_hold_return float8, in_market integer, hits integer, ups integer,
               trade float8, n integer, equity float8, buy_and_hold_equity float8,
               drawdown float8, buy_and_hold_drawdown float8)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
WITH g AS (
    -- the rebalancing grid: every horizon-th of the version's validation days (all of them at
    -- horizon 1), the same for every symbol so that 'all' is one book; each with the next
    SELECT d.day, lead(d.day) OVER (ORDER BY d.day) AS next_day
      FROM (SELECT d.day, row_number() OVER (ORDER BY d.day) AS k
              FROM (SELECT DISTINCT p.day FROM stockml.validation_predictions p
                     WHERE p.model_id = _backtest_curves.model_id) d) d,
           stockml.models m
     WHERE m.id = _backtest_curves.model_id AND (d.k - 1) % m.horizon = 0
), v AS (
    -- a position on a grid day, held to its target day; a row whose target lies past the next
    -- grid day (a symbol without some of the days: its horizon bars reach further) would
    -- overlap the next position, so the symbol sits that period out
    SELECT v.symbol, v.day, v.y,
           CASE WHEN v.yhat > 0 THEN 1::float8
                WHEN v.yhat < 0 AND _backtest_curves.strategy = 'long_short' THEN -1::float8
                ELSE 0::float8 END AS pos
      FROM stockml.validation_predictions v
      JOIN g ON g.day = v.day
     WHERE v.model_id = _backtest_curves.model_id
       AND (_backtest_curves.symbols IS NULL OR v.symbol = ANY (_backtest_curves.symbols))
       AND (g.next_day IS NULL OR v.target_day <= g.next_day)
), d AS (
    SELECT v.symbol, v.day, v.y, v.pos,
           abs(v.pos - coalesce(lag(v.pos) OVER w, 0)) AS trade,
           v.pos * (exp(v.y) - 1) - _backtest_curves.cost_bps / 10000 * abs(v.pos - coalesce(lag(v.pos) OVER w, 0)) AS r,
           exp(v.y) - 1 - CASE WHEN row_number() OVER w = 1 THEN _backtest_curves.cost_bps / 10000 ELSE 0 END AS bh_r
      FROM v WINDOW w AS (PARTITION BY v.symbol ORDER BY v.day)
), a AS (
    SELECT d.symbol, d.day, d.pos, d.r, d.bh_r, (d.pos <> 0)::int AS in_market,
           (d.pos * d.y > 0)::int AS hits, (d.y > 0)::int AS ups, d.trade, 1 AS n
      FROM d
    UNION ALL
    -- the equal-weight book of the symbols that have a row that day
    SELECT 'all', d.day, NULL, avg(d.r), avg(d.bh_r), sum((d.pos <> 0)::int)::int,
           sum((d.pos * d.y > 0)::int)::int, sum((d.y > 0)::int)::int, sum(d.trade), count(*)::int
      FROM d GROUP BY d.day
), e AS (
    -- a day that loses everything ruins the book: its equity stays 0
    SELECT a.*,
           CASE WHEN bool_or(1 + a.r <= 0) OVER c THEN 0::float8
                ELSE exp(coalesce(sum(ln(1 + a.r)) FILTER (WHERE 1 + a.r > 0) OVER c, 0)) END AS eq,
           CASE WHEN bool_or(1 + a.bh_r <= 0) OVER c THEN 0::float8
                ELSE exp(coalesce(sum(ln(1 + a.bh_r)) FILTER (WHERE 1 + a.bh_r > 0) OVER c, 0)) END AS bh_eq
      FROM a WINDOW c AS (PARTITION BY a.symbol ORDER BY a.day ROWS UNBOUNDED PRECEDING)
)
SELECT e.symbol, e.day, e.pos, e.r, e.bh_r, e.in_market, e.hits, e.ups, e.trade, e.n, e.eq, e.bh_eq,
       1 - e.eq / greatest(1, max(e.eq) OVER c),
       1 - e.bh_eq / greatest(1, max(e.bh_eq) OVER c)
  FROM e WINDOW c AS (PARTITION BY e.symbol ORDER BY e.day ROWS UNBOUNDED PRECEDING)
$$;
COMMENT ON FUNCTION stockml._backtest_curves(bigint, text[], float8, text) IS
'internal (backtest, backtest_equity): per symbol and rebalancing day of a version''s validation rows (every day at horizon 1, every horizon-th day above, positions never overlapping), and for ''all'' (the equal-weight book of the symbols that have a row that day), the strategy''s and buy-and-hold''s simple return over the period after costs, equity (starting at 1) and drawdown';
REVOKE EXECUTE ON FUNCTION stockml._backtest_curves(bigint, text[], float8, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._backtest_curves(bigint, text[], float8, text) TO stockml_reader, stockml_admin;

CREATE OR REPLACE FUNCTION stockml.backtest(model_name text, symbols text[] DEFAULT NULL, cost_bps float8 DEFAULT 5,
                                 strategy text DEFAULT 'long_short', version integer DEFAULT NULL)
RETURNS TABLE (symbol text, first_day date, last_day date, days integer,
               total_return float8, annual_return float8, annual_volatility float8, sharpe float8,
               max_drawdown float8, hit_rate float8, turnover float8,
               buy_and_hold_total_return float8, buy_and_hold_annual_return float8,
               buy_and_hold_annual_volatility float8, buy_and_hold_sharpe float8,
               buy_and_hold_max_drawdown float8, buy_and_hold_hit_rate float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v integer := backtest.version;
    mid bigint;
    h integer;
    periods float8;     -- holding periods a year: 252 / horizon
    missing text;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF strategy IS NULL OR strategy NOT IN ('long_short', 'long_flat') THEN
        RAISE EXCEPTION 'unknown strategy "%"', strategy
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The strategies: long_short (long when yhat > 0, short when yhat < 0), long_flat (long when yhat > 0, else flat).';
    END IF;
    IF cost_bps IS NULL OR NOT (cost_bps >= 0 AND cost_bps < 'Infinity'::float8) THEN
        RAISE EXCEPTION 'cost_bps must be a finite number >= 0, not %', coalesce(cost_bps::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'cost_bps is the cost of a trade in basis points of the position traded (5 = 0.05 %).';
    END IF;
    IF symbols IS NOT NULL AND (cardinality(symbols) = 0 OR array_position(symbols, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'symbols must be NULL (all of the version''s) or a non-empty list without NULLs'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v IS NULL THEN
        v := stockml._resolve_version(model_name);     -- production, with predict()'s ERRORs
    ELSE
        PERFORM stockml._require_version(model_name, v);
    END IF;
    SELECT m.id, m.horizon INTO mid, h FROM stockml.models m WHERE m.name = model_name AND m.version = v;
    periods := 252.0::float8 / h;
    IF NOT EXISTS (SELECT FROM stockml.validation_predictions p WHERE p.model_id = mid) THEN
        RAISE EXCEPTION 'version % of model "%" has no validation predictions', v, model_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'train() keeps its out-of-sample walk-forward predictions since stockml 0.2.0.',
                  HINT = 'Retrain the model with stockml 0.2.0 and backtest the new version.';
    END IF;
    SELECT string_agg(s, ', ' ORDER BY s) INTO missing
      FROM unnest(symbols) AS s
     WHERE NOT EXISTS (SELECT FROM stockml.validation_predictions p WHERE p.model_id = mid AND p.symbol = s);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'version % of model "%" has no validation predictions of %', v, model_name, missing
            USING ERRCODE = 'undefined_object',
                  HINT = format('Its symbols: %s.', (SELECT string_agg(DISTINCT p.symbol, ', ' ORDER BY p.symbol)
                                                       FROM stockml.validation_predictions p WHERE p.model_id = mid));
    END IF;
    RETURN QUERY
    SELECT c.symbol, min(c.day), max(c.day), count(*)::int,
           (array_agg(c.equity ORDER BY c.day DESC))[1] - 1,
           power((array_agg(c.equity ORDER BY c.day DESC))[1], periods / count(*)) - 1,
           stddev_samp(c.strategy_return) * sqrt(periods),
           avg(c.strategy_return) / nullif(stddev_samp(c.strategy_return), 0) * sqrt(periods),
           max(c.drawdown),
           sum(c.hits)::float8 / nullif(sum(c.in_market), 0),
           sum(c.trade) / sum(c.n),
           (array_agg(c.buy_and_hold_equity ORDER BY c.day DESC))[1] - 1,
           power((array_agg(c.buy_and_hold_equity ORDER BY c.day DESC))[1], periods / count(*)) - 1,
           stddev_samp(c.buy_and_hold_return) * sqrt(periods),
           avg(c.buy_and_hold_return) / nullif(stddev_samp(c.buy_and_hold_return), 0) * sqrt(periods),
           max(c.buy_and_hold_drawdown),
           sum(c.ups)::float8 / sum(c.n)
      FROM stockml._backtest_curves(mid, symbols, cost_bps, strategy) c
     GROUP BY c.symbol
     ORDER BY c.symbol = 'all', c.symbol;
END $$;
COMMENT ON FUNCTION stockml.backtest(text, text[], float8, text, integer) IS
'trade a version''s (default: production) out-of-sample walk-forward forecasts: one position a day (horizon h > 1: every h-th day, held h bars, never overlapping; annualised with 252 / h periods) from the sign of yhat (long_short: +1/-1, long_flat: +1/0), the day''s simple return, cost_bps on every change of position; per symbol and ''all'' (equal weight): total and annualised (252 days) return, annualised volatility, Sharpe (no risk-free rate), max drawdown, hit rate (days in the market whose move the position got right), turnover (mean |change of position| a day), and the same for buy-and-hold; optimistic after a search or a choice among versions (doc/backtest.md)';
REVOKE EXECUTE ON FUNCTION stockml.backtest(text, text[], float8, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.backtest(text, text[], float8, text, integer) TO stockml_reader, stockml_admin;

CREATE OR REPLACE VIEW stockml.backtest_equity AS
SELECT (c.day::timestamp AT TIME ZONE 'UTC') AS time, m.name AS model, m.version, c.symbol,
       c.equity, c.buy_and_hold_equity, c.drawdown
  FROM stockml.model_aliases a
  JOIN stockml.models m ON m.name = a.name AND m.version = a.version
 CROSS JOIN LATERAL stockml._backtest_curves(m.id, NULL, 5, 'long_short') c
 WHERE a.alias = 'production'
 ORDER BY time, model, c.symbol;
COMMENT ON VIEW stockml.backtest_equity IS
'Grafana: the equity curve (starting at 1) and drawdown of each model''s production version traded as backtest() does by default (long_short, 5 bps), per symbol and ''all'', beside buy-and-hold''s equity; time = the trading day at 00:00 UTC';
GRANT SELECT ON stockml.backtest_equity TO stockml_reader, stockml_admin;
-- Citus, the rest of the pipeline (issue 11 items 1-3): forecast_accuracy() and monitor()
-- join the forecast ledger with prices first (a materialized CTE) and apply total_return()
-- to the joined rows on the node running the query; on Citus the join runs on the workers
-- and total_return() never runs inside a query on a shard, which Citus refuses.
-- forecast_accuracy()'s final form; monitor()'s, with the same CTE, is in 99zm_error_rule.sql,
-- distribute()'s in 99zr_citus_reference.sql.

CREATE OR REPLACE FUNCTION stockml.forecast_accuracy(model_name text, from_day date, to_day date,
                                          model_version integer DEFAULT NULL)
RETURNS TABLE (symbol text, n_forecasts integer, mae float8, mae_naive float8, skill float8,
               directional_accuracy float8, rmse float8, coverage float8, log_loss float8,
               brier float8)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH latest AS (
        SELECT DISTINCT ON (p.symbol, p.target_day) p.symbol, p.as_of, p.target_day,
               p.predicted_close, p.lower, p.upper, p.p_up
          FROM stockml.predictions p
          JOIN stockml.models m ON m.id = p.model_id
         WHERE m.name = forecast_accuracy.model_name
           AND (forecast_accuracy.model_version IS NULL OR m.version = forecast_accuracy.model_version)
           AND p.target_day BETWEEN from_day AND to_day
         ORDER BY p.symbol, p.target_day, p.made_at DESC, p.as_of DESC),
    -- the close of as_of, materialized: on Citus the join runs on the workers, and
    -- total_return() (which reads prices itself) is then applied on this node, never
    -- inside a query on a shard (Citus refuses that nesting)
    naive AS MATERIALIZED (
        SELECT l.*, b.close AS naive
          FROM latest l
          JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of),
    -- the realized close on the price scale of as_of (what predict() reported on): the
    -- close of as_of times the total return to the target day, so a split or a dividend
    -- in between is no forecast error
    realized AS (
        SELECT n.*, n.naive * stockml.total_return(n.symbol, n.as_of, n.target_day) AS actual
          FROM naive n),
    scored AS (
        SELECT r.symbol, r.predicted_close - r.actual AS err, r.naive - r.actual AS naive_err,
               stockml.direction_hit(r.predicted_close - r.naive, r.actual - r.naive) AS right_way,
               r.actual BETWEEN r.lower AND r.upper AS covered,
               stockml.log_loss(r.p_up, r.actual - r.naive) AS ll,
               (r.p_up - (r.actual > r.naive)::int) ^ 2 AS brier
          FROM realized r
         WHERE r.actual IS NOT NULL)
    SELECT s.symbol, count(*)::integer, avg(abs(s.err)), avg(abs(s.naive_err)),
           1 - avg(abs(s.err)) / nullif(avg(abs(s.naive_err)), 0),
           avg(s.right_way::int)::float8, sqrt(avg(s.err * s.err)), avg(s.covered::int)::float8,
           avg(s.ll), avg(s.brier)
      FROM scored s
     GROUP BY GROUPING SETS ((), (s.symbol))
     ORDER BY s.symbol NULLS FIRST;
END
$$;
COMMENT ON FUNCTION stockml.forecast_accuracy(text, date, date, integer) IS
'realized accuracy of a model''s forecasts with target day in [from_day, to_day] (only those of model_version when given), realized closes total-return adjusted to the scale of as_of: one row for all symbols (symbol NULL), then one per symbol; log_loss and brier score the forecasts'' p_up (NULL when none has one)';
-- Citus (issue 11): train()'s per-symbol pieces (src/train_piece.c); distribute() registers
-- them to run where each symbol lives (its final form is in 99d_predict_state.sql).

CREATE FUNCTION stockml._train_piece_rows(symbol text, feature_spec jsonb, horizon integer, train_end date)
RETURNS bytea
AS 'MODULE_PATHNAME', 'stockml_train_piece_rows'
LANGUAGE C STABLE;
COMMENT ON FUNCTION stockml._train_piece_rows(text, jsonb, integer, date) IS
'train()''s piece, run where the symbol lives: the symbol''s training rows (day, target day, close, volatility, y, features) for a feature spec over its own bars, packed; train_end NULL: every bar';
REVOKE EXECUTE ON FUNCTION stockml._train_piece_rows(text, jsonb, integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._train_piece_rows(text, jsonb, integer, date) TO stockml_admin;

CREATE FUNCTION stockml._train_piece_qr(symbol text, feature_spec jsonb, horizon integer, train_end date,
                                        rows_hash bigint, cuts integer[])
RETURNS bytea
AS 'MODULE_PATHNAME', 'stockml_train_piece_qr'
LANGUAGE C STABLE;
COMMENT ON FUNCTION stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[]) IS
'train()''s piece, run where the symbol lives: the QR factor R of [1 | x | y] of each run [cuts[k-1], cuts[k]) of the rows _train_piece_rows gives (rows_hash: their hash, an ERROR when they changed), packed';
REVOKE EXECUTE ON FUNCTION stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[]) TO stockml_admin;

-- predict() in O(1) of the history (issue 13 item 1): stockml.bar_changes and the
-- statement triggers that move it (the objects of sql/install/32_bar_changes.sql),
-- filled for the bars stored before the upgrade (distribute() drops those triggers before
-- Citus distributes the tables: its final form is in 99zb_bar_changes.sql).

CREATE SEQUENCE stockml.bar_changes_seq;
CREATE TABLE stockml.bar_changes (
    symbol    text PRIMARY KEY,
    write_id  bigint NOT NULL,
    edit_id   bigint NOT NULL,
    first_day date,
    last_day  date
);
COMMENT ON TABLE stockml.bar_changes IS 'derived (not dumped: the triggers on prices rebuild it when a dump is restored): one row per symbol whose bars or corporate actions were written, for predict()''s kept feature state';
COMMENT ON COLUMN stockml.bar_changes.write_id IS 'bar_changes_seq value of the last statement that wrote the symbol''s bars or corporate actions (never reused, so a rolled-back write leaves no value behind)';
COMMENT ON COLUMN stockml.bar_changes.edit_id IS 'the same, of the last such statement that was not a pure append (an UPDATE, DELETE or TRUNCATE, an INSERT on or before last_day, any write of corporate_actions)';
COMMENT ON COLUMN stockml.bar_changes.first_day IS 'first day the last write touched';
COMMENT ON COLUMN stockml.bar_changes.last_day IS 'on or after the day of the symbol''s latest bar (deletions do not lower it; NULL after TRUNCATE): an insert of later days only is an append';
REVOKE ALL ON stockml.bar_changes FROM PUBLIC;
REVOKE ALL ON SEQUENCE stockml.bar_changes_seq FROM PUBLIC;

-- One statement trigger per event (transition tables allow one event each); the
-- writer serialises on the symbol's row, so its append test sees every earlier write.
CREATE FUNCTION stockml._bars_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint := nextval('stockml.bar_changes_seq');
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM FROM stockml.bar_changes c ORDER BY c.symbol FOR UPDATE;
        UPDATE stockml.bar_changes SET write_id = id, edit_id = id, first_day = NULL, last_day = NULL;
    ELSIF TG_TABLE_NAME = 'corporate_actions' THEN
        -- an action changes the adjustment of every earlier bar: an edit
        IF TG_OP = 'INSERT' THEN
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day) FROM actions_inserted a GROUP BY a.symbol ORDER BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day)
              FROM (SELECT o.symbol, o.day FROM actions_old o UNION ALL SELECT n.symbol, n.day FROM actions_new n) a
             GROUP BY a.symbol ORDER BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        ELSE
            INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day)
            SELECT a.symbol, id, id, min(a.day) FROM actions_deleted a
             WHERE EXISTS (SELECT FROM stockml.symbols s WHERE s.symbol = a.symbol)
             GROUP BY a.symbol ORDER BY a.symbol
            ON CONFLICT (symbol) DO UPDATE SET write_id = id, edit_id = id, first_day = excluded.first_day;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        -- an append keeps edit_id: every new day is after every stored one
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day) FROM bars_inserted b GROUP BY b.symbol ORDER BY b.symbol
        ON CONFLICT (symbol) DO UPDATE
           SET write_id = id,
               edit_id = CASE WHEN c.last_day IS NOT NULL AND excluded.first_day > c.last_day
                              THEN c.edit_id ELSE id END,
               first_day = excluded.first_day,
               last_day = greatest(c.last_day, excluded.last_day);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day)
          FROM (SELECT o.symbol, o.day FROM bars_old o UNION ALL SELECT n.symbol, n.day FROM bars_new n) b
         GROUP BY b.symbol ORDER BY b.symbol
        ON CONFLICT (symbol) DO UPDATE
           SET write_id = id, edit_id = id, first_day = excluded.first_day,
               last_day = greatest(c.last_day, excluded.last_day);
    ELSE
        -- a symbol's deletion cascades here after its own trigger took its row: not back
        INSERT INTO stockml.bar_changes AS c (symbol, write_id, edit_id, first_day, last_day)
        SELECT b.symbol, id, id, min(b.day), max(b.day) FROM bars_deleted b
         WHERE EXISTS (SELECT FROM stockml.symbols s WHERE s.symbol = b.symbol)
         GROUP BY b.symbol ORDER BY b.symbol
        ON CONFLICT (symbol) DO UPDATE
           SET write_id = id, edit_id = id, first_day = excluded.first_day,
               last_day = greatest(c.last_day, excluded.last_day);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml._bars_changed() IS 'statement trigger of prices and corporate_actions: moves the written symbols'' rows of stockml.bar_changes';
REVOKE EXECUTE ON FUNCTION stockml._bars_changed() FROM PUBLIC;

CREATE TRIGGER bars_inserted AFTER INSERT ON stockml.prices
    REFERENCING NEW TABLE AS bars_inserted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER bars_updated AFTER UPDATE ON stockml.prices
    REFERENCING OLD TABLE AS bars_old NEW TABLE AS bars_new FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER bars_deleted AFTER DELETE ON stockml.prices
    REFERENCING OLD TABLE AS bars_deleted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER bars_truncated AFTER TRUNCATE ON stockml.prices
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_inserted AFTER INSERT ON stockml.corporate_actions
    REFERENCING NEW TABLE AS actions_inserted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_updated AFTER UPDATE ON stockml.corporate_actions
    REFERENCING OLD TABLE AS actions_old NEW TABLE AS actions_new FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_deleted AFTER DELETE ON stockml.corporate_actions
    REFERENCING OLD TABLE AS actions_deleted FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
CREATE TRIGGER actions_truncated AFTER TRUNCATE ON stockml.corporate_actions
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._bars_changed();
-- also under session_replication_role = replica (a logical replica applying bars)
ALTER TABLE stockml.prices ENABLE ALWAYS TRIGGER bars_inserted, ENABLE ALWAYS TRIGGER bars_updated,
    ENABLE ALWAYS TRIGGER bars_deleted, ENABLE ALWAYS TRIGGER bars_truncated;
ALTER TABLE stockml.corporate_actions ENABLE ALWAYS TRIGGER actions_inserted, ENABLE ALWAYS TRIGGER actions_updated,
    ENABLE ALWAYS TRIGGER actions_deleted, ENABLE ALWAYS TRIGGER actions_truncated;

CREATE FUNCTION stockml.feature_state_stats(OUT hits bigint, OUT appends bigint, OUT rebuilds bigint,
                                            OUT bypassed bigint, OUT states bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_feature_state_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION stockml.feature_state_stats() IS
'this backend''s predict(model, symbol) calls since it started, by how their feature row was found: hits (no bar written since the kept state), appends (only the appended bars read), rebuilds (every bar read, the state kept), bypassed (every bar read without a state: a Citus table, bars the current transaction wrote, a spec reading another symbol, too few bars, stockml.feature_state_cache_size = 0); states: the (version, symbol) states it keeps';

-- the bars stored before the upgrade: one row per symbol (an edit: no state exists yet)
INSERT INTO stockml.bar_changes (symbol, write_id, edit_id, first_day, last_day)
SELECT p.symbol, nextval('stockml.bar_changes_seq'), currval('stockml.bar_changes_seq'), min(p.day), max(p.day)
  FROM stockml.prices p GROUP BY p.symbol;

-- The forecast ledger is written by forecast() only, as the owner: stockml_admin loses INSERT and
-- UPDATE on stockml.predictions (0.1.0 granted them), forecast() records each symbol through
-- stockml._record_forecast (SECURITY DEFINER, executable by stockml_admin), which stores what
-- predict() answered.  After 99_logistic.sql (p_up).  See sql/install/52_train_predict.sql;
-- pgTAP 73_ledger_writes.
REVOKE INSERT, UPDATE ON stockml.predictions FROM stockml_admin;

-- The ledger is written here only, as the owner: a row of stockml.predictions is always what
-- predict() answered for that version (stockml_admin reads the ledger but cannot insert or
-- edit a forecast by hand; forecast() calls this for each symbol).
CREATE FUNCTION stockml._record_forecast(model_name text, symbol text, version integer)
RETURNS stockml.forecast_result
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    mid bigint;
    p record;
    r stockml.forecast_result;
BEGIN
    SELECT m.id INTO mid FROM stockml.models m
     WHERE m.name = _record_forecast.model_name AND m.version = _record_forecast.version;
    IF mid IS NULL THEN
        RAISE EXCEPTION 'model "%" has no version %', _record_forecast.model_name, _record_forecast.version
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO p FROM stockml.predict(_record_forecast.model_name, _record_forecast.symbol,
                                         version => _record_forecast.version);
    INSERT INTO stockml.predictions AS t (model_id, model_name, model_version, symbol, as_of,
                                         target_day, predicted_close, lower, upper, p_up)
    VALUES (mid, _record_forecast.model_name, _record_forecast.version, p.symbol, p.as_of,
            p.target_day, p.predicted_close, p.lower, p.upper, p.p_up)
    ON CONFLICT ON CONSTRAINT predictions_model_id_symbol_as_of_key DO UPDATE
       SET target_day = excluded.target_day, predicted_close = excluded.predicted_close,
           lower = excluded.lower, upper = excluded.upper, p_up = excluded.p_up, made_at = now()
    RETURNING t.id, t.model_id, t.model_name, t.model_version, t.symbol, t.as_of, t.target_day,
              t.predicted_close, t.lower, t.upper, t.made_at, 'ok', NULL, t.p_up
         INTO r;
    RETURN r;
END $$;
COMMENT ON FUNCTION stockml._record_forecast(text, text, integer) IS
'internal: predict one symbol with one version and record it in stockml.predictions, as the owner (the ledger holds only what predict() answered); forecast() calls it; members of stockml_admin may execute it';
REVOKE ALL ON FUNCTION stockml._record_forecast(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml._record_forecast(text, text, integer) TO stockml_admin;

CREATE OR REPLACE FUNCTION stockml.forecast(model_name text, symbols text[] DEFAULT NULL,
                                 version integer DEFAULT NULL, alias text DEFAULT NULL)
RETURNS SETOF stockml.forecast_result
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- the whole batch uses one version, even if the alias moves meanwhile
    v integer := stockml._resolve_version(forecast.model_name, forecast.version, forecast.alias);
    mid bigint;
    s text;
    r stockml.forecast_result;
    msg text;
    failed text[] := '{}';
    n integer := 0;
BEGIN
    IF NOT pg_catalog.has_function_privilege('stockml._record_forecast(text, text, integer)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied to record forecasts of model "%"', forecast.model_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'forecast() writes the ledger stockml.predictions: members of stockml_admin may call it; predict() answers without recording.';
    END IF;
    SELECT m.id, coalesce(forecast.symbols, m.symbols) INTO mid, symbols
      FROM stockml.models m WHERE m.name = forecast.model_name AND m.version = v;
    FOR s IN SELECT DISTINCT u FROM unnest(symbols) u ORDER BY 1 LOOP
        n := n + 1;
        BEGIN
            r := stockml._record_forecast(forecast.model_name, coalesce(s, ''), v);
        EXCEPTION WHEN OTHERS THEN
            -- one symbol's failure (no history, a bad last bar) does not stop the others
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            r := ROW(NULL, mid, forecast.model_name, v, s, NULL, NULL, NULL, NULL, NULL, now(), 'failed', msg, NULL);
            failed := failed || format('%s (%s)', coalesce(s, 'NULL'), msg);
        END;
        RETURN NEXT r;
    END LOOP;
    IF cardinality(failed) > 0 THEN
        RAISE WARNING 'forecast of model "%" version %: % of % symbols failed: %', forecast.model_name, v,
                      cardinality(failed), n,
                      array_to_string(failed[1:10], '; ') || CASE WHEN cardinality(failed) > 10
                          THEN format('; and %s more', cardinality(failed) - 10) ELSE '' END
            USING HINT = 'The rows with status ''failed'' say why; the other symbols were recorded.';
    END IF;
END $$;
COMMENT ON FUNCTION stockml.forecast(text, text[], integer, text) IS
'predict each symbol (default: the version''s own) with one version (version => N, alias => name, default production) and record it in stockml.predictions (a repeat on the same as_of day replaces the row); returns a row per symbol: status ok with the recorded row, or status failed with the error (a WARNING lists them), so one symbol without history does not stop the batch';
-- stockml.validation_predictions loses its foreign key to stockml.models (a check per row was
-- about 45 % of train()'s insert of its validation rows); statement triggers on models keep the
-- cascade (sql/install/53_gate.sql).  pgTAP 57_validation_cascade.
ALTER TABLE stockml.validation_predictions DROP CONSTRAINT validation_predictions_model_id_fkey;

-- No foreign key to stockml.models: train() writes a version's rows (millions, for many
-- symbols) right after its models row, as the owner, and a per-row key check was about 45 %
-- of that insert.  The cascade the key gave is kept by these triggers: deleting or truncating
-- models removes the versions' validation rows (delete_version, drop_model).
CREATE FUNCTION stockml._validation_rows_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE stockml.validation_predictions;
    ELSE
        DELETE FROM stockml.validation_predictions v USING gone g WHERE v.model_id OPERATOR(pg_catalog.=) g.id;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION stockml._validation_rows_delete() IS
'internal: the cascade of stockml.models to stockml.validation_predictions (a trigger; the table has no foreign key, which cost train() a check per row)';
REVOKE ALL ON FUNCTION stockml._validation_rows_delete() FROM PUBLIC;
CREATE TRIGGER models_validation_rows_delete AFTER DELETE ON stockml.models
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION stockml._validation_rows_delete();
CREATE TRIGGER models_validation_rows_truncate AFTER TRUNCATE ON stockml.models
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._validation_rows_delete();
-- stockml.bar_changes (sql/install/32_bar_changes.sql): the triggers lock the rows they move
-- in the order of the symbols (two writers of the same symbols in one statement each never
-- deadlock here), a symbol's row goes with the symbol (deleted, renamed, TRUNCATE), and a
-- change of a symbol's calendar or exchange moves its write_id, so predict()'s kept state
-- can keep the symbol's calendar with it (src/feature_state.c).  distribute() drops the
-- triggers of stockml.symbols too: its final form is in 99zr_citus_reference.sql.
-- stockml._bars_changed() (the row locks in symbol order, a deleted symbol's rows not put
-- back) is created in its final form by 99d_predict_state.sql, which first creates it.

COMMENT ON TABLE stockml.bar_changes IS 'derived (not dumped: the triggers on prices rebuild it when a dump is restored; doc/upgrades.md): one row per stored symbol whose bars or corporate actions were written, for predict()''s kept feature state; deleted with its symbol';
COMMENT ON COLUMN stockml.bar_changes.write_id IS 'bar_changes_seq value of the last statement that wrote the symbol''s bars or corporate actions, or changed its calendar or exchange in stockml.symbols (never reused, so a rolled-back write leaves no value behind)';

-- The symbol's own row in stockml.symbols: a change of its calendar or exchange moves
-- write_id (predict()'s kept state keeps the symbol's calendar with it, src/feature_state.c,
-- and serves it while write_id stays), and a symbol deleted or renamed takes its row along.
CREATE FUNCTION stockml._symbols_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM stockml.bar_changes;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM FROM stockml.bar_changes c
          WHERE c.symbol IN (SELECT d.symbol FROM symbols_deleted d) ORDER BY c.symbol FOR UPDATE;
        DELETE FROM stockml.bar_changes c WHERE c.symbol IN (SELECT d.symbol FROM symbols_deleted d);
    ELSIF OLD.symbol IS DISTINCT FROM NEW.symbol THEN
        DELETE FROM stockml.bar_changes c WHERE c.symbol = OLD.symbol;
    ELSE
        UPDATE stockml.bar_changes c SET write_id = nextval('stockml.bar_changes_seq')
         WHERE c.symbol = NEW.symbol;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION stockml._symbols_changed() IS 'trigger of stockml.symbols: a new calendar or exchange moves the symbol''s write_id in stockml.bar_changes, a deleted or renamed symbol''s row goes';
REVOKE EXECUTE ON FUNCTION stockml._symbols_changed() FROM PUBLIC;

CREATE TRIGGER symbols_calendar_changed AFTER UPDATE OF symbol, calendar, exchange ON stockml.symbols
    FOR EACH ROW WHEN (OLD.symbol IS DISTINCT FROM NEW.symbol OR OLD.calendar IS DISTINCT FROM NEW.calendar
                       OR OLD.exchange IS DISTINCT FROM NEW.exchange)
    EXECUTE FUNCTION stockml._symbols_changed();
CREATE TRIGGER symbols_deleted AFTER DELETE ON stockml.symbols
    REFERENCING OLD TABLE AS symbols_deleted FOR EACH STATEMENT EXECUTE FUNCTION stockml._symbols_changed();
CREATE TRIGGER symbols_truncated AFTER TRUNCATE ON stockml.symbols
    FOR EACH STATEMENT EXECUTE FUNCTION stockml._symbols_changed();
ALTER TABLE stockml.symbols ENABLE ALWAYS TRIGGER symbols_calendar_changed, ENABLE ALWAYS TRIGGER symbols_deleted,
    ENABLE ALWAYS TRIGGER symbols_truncated;

-- the rows of symbols deleted before this upgrade
DELETE FROM stockml.bar_changes c
 WHERE NOT EXISTS (SELECT FROM stockml.symbols s WHERE s.symbol = c.symbol);
-- Issue 15 item 1: a feature's calibrated threshold leaves out the null windows that share
-- rows with each window (drift_null_check's fourth argument, stockml.drift_null.neighbours),
-- so a long-memory feature (vol_20) flags stationary windows at alpha, not at 7 %
-- (src/drift_rule.c, doc/drift.md); monitor() passes it.
DROP FUNCTION stockml.drift_null_check(float8[], float8, float8);
CREATE FUNCTION stockml.drift_null_check(null_statistics float8[], statistic float8, alpha float8,
                                         neighbours integer DEFAULT 1,
                                         OUT threshold float8, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_drift_null_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_null_check(float8[], float8, float8, integer) IS
'a statistic against its empirical null (window order; neighbours = stockml.drift_null.neighbours): with (neighbours + 1) / 2 = 1, threshold = the k-th smallest finite null value, k = ceil((1 - alpha) (n + 1)) (Infinity when k > n); else each window is ranked only against the windows at least h = (neighbours + 1) / 2 places away (those that share no row with it), u_b = the share of them below it, L = the k-th smallest u_b, and threshold = the (floor(L n) + 1)-th smallest null value (at most the largest), so that a future window, which shares no row with the null, exceeds it in about alpha of stationary windows; p_value = (1 + #{null >= statistic}) / (1 + n)';
COMMENT ON COLUMN stockml.drift_null.neighbours IS 'windows fewer places apart than this overlap each other or each other''s guard: drift_share_check leaves them out of each other''s comparison, and drift_null_check the windows fewer than (neighbours + 1) / 2 places apart (those sharing rows) out of a feature''s threshold (1: none overlap)';

-- monitor() passes n.neighbours: its whole body is in 99zm_error_rule.sql, which redefines it again
-- Issue 15 item 1: the error rule.  monitor() also compares the version's own errors on its
-- last min_forecasts days after train_end with the windows of its validation rows
-- (stockml.error_drift, policy error_alpha): a volatility break or an AR coefficient whose
-- sign flipped moves the errors within days while the features' distributions barely move
-- (doc/drift.md).
ALTER TABLE stockml.retrain_policies
    ADD COLUMN error_alpha float8 DEFAULT 0.0125
        CONSTRAINT retrain_policies_error_alpha CHECK (error_alpha > 0 AND error_alpha < 1);
COMMENT ON COLUMN stockml.retrain_policies.error_alpha IS 'the error rule (stockml.error_drift): retrain when, over the monitored version''s last min_forecasts days after train_end (predicted from their features, targets realized), its mean squared error exceeds the (1 - error_alpha / 5) quantile of the same statistic over the windows of its validation rows, or the correlation of its forecasts with the outcomes falls below the 4 error_alpha / 5 quantile; NULL: never for errors';

-- The error rule (issue 15 item 1; doc/drift.md): the version's own errors on the last n days
-- after its train_end whose target is realized by window_end (predicted from their features
-- with the version, as forecast() would have), against the same statistics over every window
-- of n consecutive days of its walk-forward validation rows (stockml.validation_predictions):
-- the mean squared error above the (1 - alpha / 5) quantile of its validation windows (a change
-- of scale: a volatility break is far above it), or the (uncentered) correlation of forecasts
-- and outcomes below the 4 alpha / 5 quantile (the forecasts lost or reversed their relation
-- to the outcome: an AR coefficient whose sign flipped); drift_null_check's rank each.
CREATE FUNCTION stockml.error_drift(model_id bigint, window_end date, n integer, alpha float8,
                                    OUT n_days integer, OUT first_day date, OUT last_day date,
                                    OUT mse float8, OUT mse_threshold float8, OUT mse_p float8,
                                    OUT rho float8, OUT rho_threshold float8, OUT rho_p float8,
                                    OUT null_windows integer, OUT drifted boolean)
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m        record;
    from_day date;
    q        record;
BEGIN
    IF n IS NULL OR n < 2 THEN
        RAISE EXCEPTION 'n must be at least 2, not %', coalesce(n::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'n is the number of days of errors compared (the policy''s min_forecasts).';
    END IF;
    IF alpha IS NULL OR NOT (alpha > 0 AND alpha < 1) THEN
        RAISE EXCEPTION 'alpha must be between 0 and 1 (exclusive)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'alpha is the false-alarm rate of the error rule, e.g. 0.0125.';
    END IF;
    SELECT mo.id, mo.name, mo.version, mo.symbols, mo.feature_spec, mo.horizon, mo.train_end INTO m
      FROM stockml.models mo WHERE mo.id = error_drift.model_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model id % does not exist', error_drift.model_id
            USING ERRCODE = 'undefined_object';
    END IF;
    -- the features of the last n + horizon bars up to window_end, none before train_end
    SELECT min(d.day) INTO from_day
      FROM (SELECT DISTINCT pr.day FROM stockml.prices pr
             WHERE pr.symbol = ANY (m.symbols) AND pr.day > m.train_end AND pr.day <= error_drift.window_end
             ORDER BY pr.day DESC LIMIT n + m.horizon) d;
    WITH feat AS (
        SELECT f.day, f.x, f.y,
               lead(f.day, m.horizon) OVER (PARTITION BY f.symbol ORDER BY f.day) AS target_day
          FROM unnest(m.symbols) s(symbol)
         CROSS JOIN LATERAL stockml.features_spec(s.symbol, m.feature_spec, from_day, error_drift.window_end,
                                                 m.horizon) f
         WHERE from_day IS NOT NULL),
    scored AS (
        SELECT r.day, r.y, stockml.predict(m.name, r.x, m.version) AS yhat
          FROM feat r
         WHERE r.target_day IS NOT NULL AND r.target_day <= error_drift.window_end AND r.y IS NOT NULL),
    days AS (
        SELECT c.day, sum((c.y - c.yhat) ^ 2) AS a, sum(c.y ^ 2) AS b, sum(c.y * c.yhat) AS yx,
               sum(c.yhat ^ 2) AS hh, count(*) AS k
          FROM scored c WHERE c.yhat IS NOT NULL AND c.yhat <> 'NaN'
         GROUP BY c.day ORDER BY c.day DESC LIMIT n)
    SELECT count(*)::integer, min(d.day), max(d.day), sum(d.a) / sum(d.k),
           sum(d.yx) / nullif(sqrt(sum(d.b) * sum(d.hh)), 0)
      INTO n_days, first_day, last_day, mse, rho
      FROM days d;
    -- every window of n consecutive validation days
    WITH days AS (
        SELECT v.day, sum((v.y - v.yhat) ^ 2) AS a, sum(v.y ^ 2) AS b, sum(v.y * v.yhat) AS yx,
               sum(v.yhat ^ 2) AS hh, count(*) AS k
          FROM stockml.validation_predictions v
         WHERE v.model_id = m.id
         GROUP BY v.day),
    windows AS (
        SELECT sum(d.a) OVER w / sum(d.k) OVER w AS mse,
               sum(d.yx) OVER w / nullif(sqrt(sum(d.b) OVER w * sum(d.hh) OVER w), 0) AS rho,
               row_number() OVER (ORDER BY d.day) AS i
          FROM days d
        WINDOW w AS (ORDER BY d.day ROWS BETWEEN n - 1 PRECEDING AND CURRENT ROW))
    SELECT count(*)::integer AS nw, array_agg(w.mse) AS mses, array_agg(-w.rho) AS rhos INTO q
      FROM windows w WHERE w.i >= n;
    null_windows := q.nw;
    SELECT c.threshold, c.p_value INTO mse_threshold, mse_p
      FROM stockml.drift_null_check(q.mses, mse, alpha / 5) c;
    -- the lower tail: the rank of -rho
    SELECT -c.threshold, c.p_value INTO rho_threshold, rho_p
      FROM stockml.drift_null_check(q.rhos, -rho, 4 * alpha / 5) c;
    drifted := CASE WHEN n_days >= n AND q.nw > 0
                    THEN coalesce(mse > mse_threshold, false) OR coalesce(rho < rho_threshold, false) END;
END
$$;
COMMENT ON FUNCTION stockml.error_drift(bigint, date, integer, float8) IS
'the error rule of monitor(): on the version''s last n days after train_end whose target is realized by window_end, its mean squared error (log returns) and the uncentered correlation of its forecasts with the outcomes, each against every window of n consecutive days of its validation rows; drifted when the error is above the (1 - alpha / 5) quantile of its windows or the correlation below the 4 alpha / 5 quantile (drift_null_check''s rank); NULL when fewer than n such days or no validation rows';

-- monitor(): the whole body (the last one was 99zm_drift_neighbours.sql's), with the error rule
CREATE OR REPLACE FUNCTION stockml.monitor(model_name text, window_days integer DEFAULT NULL)
RETURNS TABLE (model text, version integer, window_start date, window_end date,
               features integer, drifted_features integer, drift_share float8,
               n_forecasts integer, mae float8, skill float8, directional_accuracy float8,
               retrain_reason text, retrain_job bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    m          record;
    pol        stockml.retrain_policies;
    names      text[];
    last_day   date;
    run_at     timestamptz := clock_timestamp();
    perf       record;
    reasons    text[] := '{}';
    details    jsonb := '{}';
    pending    bigint;
    calibrated boolean;
    share_limit float8;
    skill_p    float8;
    cov        record;
    coverage_p float8;
    last_ev    record;
    since      integer;
    misses     integer;
    cool       integer;
    new_bars   integer;
    blocked    text;
    err        record;
    errors     jsonb;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model name must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF window_days IS NOT NULL AND window_days NOT BETWEEN 2 AND 3660 THEN
        RAISE EXCEPTION 'window_days must be between 2 and 3660, not %', window_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one monitor() per model at a time, so two runs never enqueue two retrains: the
    -- model name's row lock (src/registry.c), which no role but the owner can take
    PERFORM stockml._lock_model_name(monitor.model_name);

    -- the production version, else the latest
    SELECT mo.* INTO m
      FROM stockml.models mo
      LEFT JOIN stockml.model_aliases a
             ON a.name = mo.name AND a.version = mo.version AND a.alias = 'production'
     WHERE mo.name = monitor.model_name
     ORDER BY (a.alias IS NOT NULL) DESC, mo.version DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', monitor.model_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Train it first, e.g. SELECT * FROM stockml.train(''' || monitor.model_name || ''', ARRAY[''MSFT'']).';
    END IF;

    INSERT INTO stockml.retrain_policies AS p (model_name) VALUES (m.name)
    ON CONFLICT ON CONSTRAINT retrain_policies_pkey DO NOTHING;
    SELECT p.* INTO pol FROM stockml.retrain_policies p WHERE p.model_name = m.name;
    window_days := coalesce(window_days, pol.window_days);

    SELECT max(pr.day) INTO last_day FROM stockml.prices pr WHERE pr.symbol = ANY (m.symbols);
    IF last_day IS NULL THEN
        RAISE EXCEPTION 'no prices stored for the symbols of model "%"', m.name
            USING ERRCODE = 'no_data_found',
                  DETAIL = 'Symbols: ' || array_to_string(m.symbols, ', ') || '.',
                  HINT = 'Load prices first: SELECT * FROM stockml.refresh().';
    END IF;
    model := m.name;
    version := m.version;
    window_end := last_day;
    window_start := last_day - window_days + 1;

    -- drift: each feature of the recent window against the model's reference sample, flagged
    -- above the (1 - drift_alpha) quantile of its null when train() kept one (drift_null.c)
    names := stockml.feature_names(m.feature_spec);
    INSERT INTO stockml.drift_metrics
           (measured_at, model_name, model_version, feature, method, statistic, p_value,
            threshold, drifted, n_reference, n_current, window_start, window_end,
            calibrated, null_threshold, empirical_p)
    SELECT run_at, m.name, m.version, r.feature, t.method, t.statistic, t.p_value,
           t.threshold, CASE WHEN q.threshold IS NULL THEN t.drifted ELSE t.statistic > q.threshold END,
           (SELECT count(*) FROM unnest(r.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity'),
           (SELECT count(*) FROM unnest(c.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity'),
           monitor.window_start, monitor.window_end,
           q.threshold IS NOT NULL, q.threshold, q.p_value
      FROM stockml.reference_columns(m.reference, names) r
      JOIN (SELECT i.ord, array_agg(f.x[i.ord]) AS vals
              FROM unnest(m.symbols) s(symbol)
             CROSS JOIN LATERAL stockml.features_spec(s.symbol, m.feature_spec,
                                                     monitor.window_start, monitor.window_end) f
             CROSS JOIN generate_series(1, cardinality(names)) i(ord)
             GROUP BY i.ord) c ON c.ord = r.ord
     CROSS JOIN LATERAL stockml.drift_test(r.vals, c.vals, pol.drift_method, pol.drift_threshold) t
      LEFT JOIN stockml.drift_null n
             ON n.model_id = m.id AND n.feature = r.feature AND n.method = t.method
            AND n.window_days = monitor.window_days
      LEFT JOIN LATERAL stockml.drift_null_check(n.statistics, t.statistic, pol.drift_alpha, n.neighbours) q ON true
     WHERE EXISTS (SELECT FROM unnest(r.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity')
       AND EXISTS (SELECT FROM unnest(c.vals) v WHERE v IS NOT NULL AND v <> 'NaN' AND abs(v) < 'Infinity');
    SELECT count(*), count(*) FILTER (WHERE d.drifted), bool_and(d.calibrated)
      INTO features, drifted_features, calibrated
      FROM stockml.drift_metrics d
     WHERE d.model_name = m.name AND d.measured_at = run_at;
    drift_share := CASE WHEN features > 0 THEN drifted_features::float8 / features END;
    IF calibrated THEN
        -- the drifted share's own null, from the same windows
        share_limit := stockml.drift_share_limit(m.id, (SELECT d.method FROM stockml.drift_metrics d
                                                         WHERE d.model_name = m.name AND d.measured_at = run_at
                                                         LIMIT 1),
                                                 window_days, pol.drift_alpha);
    ELSIF features > 0 THEN
        RAISE NOTICE 'version % of "%" has no drift null for a %-day window: drift uses the fixed thresholds',
                     m.version, m.name, window_days
            USING HINT = 'Versions trained by stockml 0.2.0 keep one for the policy''s window_days; retrain to calibrate the drift tests.';
    END IF;

    -- errors: the version's own on its last min_forecasts days after train_end, against the
    -- windows of its validation rows (stockml.error_drift)
    IF pol.error_alpha IS NOT NULL THEN
        SELECT e.* INTO err FROM stockml.error_drift(m.id, last_day, pol.min_forecasts, pol.error_alpha) e;
        errors := to_jsonb(err);
    END IF;

    -- realized accuracy of past forecasts over the same window
    INSERT INTO stockml.performance_metrics
           (measured_at, model_name, model_version, symbol, window_start, window_end, n_forecasts,
            mae, mae_naive, skill, directional_accuracy, rmse, coverage, log_loss, brier)
    SELECT run_at, m.name, m.version, a.symbol, monitor.window_start, monitor.window_end,
           a.n_forecasts, a.mae, a.mae_naive, a.skill, a.directional_accuracy, a.rmse, a.coverage,
           a.log_loss, a.brier
      FROM stockml.forecast_accuracy(m.name, monitor.window_start, monitor.window_end, m.version) a;
    SELECT a.n_forecasts, a.mae, a.skill, a.directional_accuracy INTO perf
      FROM stockml.performance_metrics a
     WHERE a.model_name = m.name AND a.measured_at = run_at AND a.symbol IS NULL;
    n_forecasts := coalesce(perf.n_forecasts, 0);
    mae := perf.mae;
    skill := perf.skill;
    directional_accuracy := perf.directional_accuracy;

    -- the retrain policy: rules on evidence, and what holds a retrain back
    PERFORM stockml.resolve_retrain_events(m.name);
    IF pol.max_drift_share IS NOT NULL AND calibrated AND drift_share > share_limit THEN
        reasons := reasons || format('drift share %s > %s (the %s quantile of its null)', round(drift_share::numeric, 3),
                                     round(share_limit::numeric, 3), 1 - pol.drift_alpha);
    ELSIF pol.max_drift_share IS NOT NULL AND NOT calibrated AND drift_share > pol.max_drift_share THEN
        reasons := reasons || format('drift share %s > %s', round(drift_share::numeric, 3), pol.max_drift_share);
    END IF;
    IF (errors ->> 'drifted')::boolean THEN
        IF err.mse > err.mse_threshold THEN
            reasons := reasons || format('forecast errors: mean squared %s > %s (the %s quantile of its validation windows) over %s days',
                                         round(err.mse::numeric, 8), round(err.mse_threshold::numeric, 8),
                                         1 - pol.error_alpha / 5, err.n_days);
        END IF;
        IF err.rho < err.rho_threshold THEN
            reasons := reasons || format('forecasts and outcomes: correlation %s < %s (the %s quantile of its validation windows) over %s days',
                                         round(err.rho::numeric, 3), round(err.rho_threshold::numeric, 3),
                                         4 * pol.error_alpha / 5, err.n_days);
        END IF;
    END IF;
    -- skill: the version's own forecasts significantly worse than min_skill, by a one-sided
    -- Diebold-Mariano test of |log error| - (1 - min_skill) |naive log error| per target day
    IF pol.min_skill IS NOT NULL AND n_forecasts >= pol.min_forecasts AND skill < pol.min_skill THEN
        SELECT t.p_value INTO skill_p
          FROM stockml.dm_test(ARRAY(
                   -- the join materialized first, total_return() applied to its rows here
                   -- (on Citus not inside a query on a shard: see forecast_accuracy)
                   WITH joined AS MATERIALIZED (
                       SELECT l.symbol, l.as_of, l.target_day, l.predicted_close, b.close
                         FROM (SELECT DISTINCT ON (p.symbol, p.target_day) p.symbol, p.as_of, p.target_day, p.predicted_close
                                 FROM stockml.predictions p
                                WHERE p.model_id = m.id AND p.target_day BETWEEN monitor.window_start AND monitor.window_end
                                ORDER BY p.symbol, p.target_day, p.made_at DESC, p.as_of DESC) l
                         JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of)
                   SELECT avg(abs(ln(a.predicted_close / a.actual)) - (1 - pol.min_skill) * abs(ln(a.close / a.actual)))
                     FROM (SELECT l.*, l.close * stockml.total_return(l.symbol, l.as_of, l.target_day) AS actual FROM joined l) a
                    WHERE a.predicted_close > 0 AND a.actual > 0 AND a.close > 0
                    GROUP BY a.target_day ORDER BY a.target_day), m.horizon) t;
        IF skill_p < pol.skill_alpha THEN
            reasons := reasons || format('skill %s < %s over %s forecasts (Diebold-Mariano p = %s)',
                                         round(skill::numeric, 3), pol.min_skill, n_forecasts, round(skill_p::numeric, 4));
        END IF;
    END IF;
    -- coverage: the version's own realized intervals significantly below min_coverage, by a
    -- one-sided binomial test; an h-step forecast overlaps h - 1 others, so h of them count as one
    WITH joined AS MATERIALIZED (
        SELECT l.symbol, l.as_of, l.target_day, l.lower, l.upper, b.close
          FROM (SELECT DISTINCT ON (p.symbol, p.target_day) p.symbol, p.as_of, p.target_day, p.lower, p.upper
                  FROM stockml.predictions p
                 WHERE p.model_id = m.id AND p.target_day BETWEEN monitor.window_start AND monitor.window_end
                 ORDER BY p.symbol, p.target_day, p.made_at DESC, p.as_of DESC) l
          JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of
         WHERE l.lower IS NOT NULL AND l.upper IS NOT NULL)
    SELECT count(*)::integer AS n, count(*) FILTER (WHERE a.actual BETWEEN a.lower AND a.upper)::integer AS covered
      INTO cov
      FROM (SELECT l.*, l.close * stockml.total_return(l.symbol, l.as_of, l.target_day) AS actual FROM joined l) a
     WHERE a.actual IS NOT NULL;
    IF pol.min_coverage IS NOT NULL AND cov.n >= pol.min_forecasts AND cov.covered < pol.min_coverage * cov.n THEN
        coverage_p := stockml.coverage_test(round(cov.covered::float8 / m.horizon)::bigint,
                                            greatest(round(cov.n::float8 / m.horizon), 1)::bigint,
                                            pol.min_coverage);
        IF coverage_p < pol.skill_alpha THEN
            reasons := reasons || format('coverage %s < %s over %s intervals (binomial p = %s)',
                                         round(cov.covered::numeric / cov.n, 3), pol.min_coverage, cov.n,
                                         round(coverage_p::numeric, 4));
        END IF;
    END IF;
    IF pol.max_model_age IS NOT NULL AND run_at - m.created_at > pol.max_model_age THEN
        reasons := reasons || format('model age %s > %s', date_trunc('second', run_at - m.created_at), pol.max_model_age);
    END IF;
    IF cardinality(reasons) > 0 THEN
        retrain_reason := array_to_string(reasons, '; ');
        SELECT e.job_id INTO pending FROM stockml.retrain_events e
         WHERE e.model_name = m.name AND e.status = 'queued' ORDER BY e.id DESC LIMIT 1;
        -- bars since the newest version's training: a retrain on the same bars makes the same model
        SELECT count(DISTINCT pr.day)::integer - m.horizon INTO new_bars
          FROM stockml.prices pr
         WHERE pr.symbol = ANY (m.symbols)
           AND pr.day > (SELECT max(mo.train_end) FROM stockml.models mo WHERE mo.name = m.name);
        -- cooldown: trading days since the last retrain, doubled per retrain that did not deploy
        SELECT e.* INTO last_ev FROM stockml.retrain_events e
         WHERE e.model_name = m.name ORDER BY e.id DESC LIMIT 1;
        IF FOUND THEN
            SELECT count(DISTINCT pr.day)::integer INTO since
              FROM stockml.prices pr
             WHERE pr.symbol = ANY (m.symbols)
               AND pr.day > coalesce((last_ev.details ->> 'window_end')::date, last_ev.created_at::date);
            SELECT count(*)::integer INTO misses FROM stockml.retrain_events e
             WHERE e.model_name = m.name AND e.status = 'not_deployed'
               AND e.id > coalesce((SELECT max(x.id) FROM stockml.retrain_events x
                                     WHERE x.model_name = m.name AND x.status = 'deployed'), 0);
            cool := pol.cooldown * (2 ^ least(misses, 10))::integer;
        END IF;
        blocked := CASE
            WHEN pending IS NOT NULL THEN format('retrain job %s already queued', pending)
            WHEN NOT pol.enabled THEN 'policy disabled: no retrain'
            WHEN new_bars <= 0 THEN 'no new bar since the latest version was trained: no retrain'
            WHEN since < cool THEN format('cooldown: %s of %s trading days since the last retrain%s', since, cool,
                                          CASE WHEN misses > 0 THEN format(', doubled for %s retrain%s that did not deploy',
                                                                          misses, CASE WHEN misses = 1 THEN '' ELSE 's' END)
                                               ELSE '' END)
            WHEN n_forecasts = 0 AND EXISTS (SELECT FROM stockml.retrain_events e
                                              WHERE e.model_name = m.name AND e.new_version = m.version)
                THEN 'the version a retrain deployed has no realized forecast of its own yet'
            END;
        IF blocked IS NOT NULL THEN
            retrain_reason := retrain_reason || ' (' || blocked || ')';
        ELSE
            details := jsonb_build_object(
                'drift_share', drift_share, 'max_drift_share', pol.max_drift_share,
                'drift_calibrated', calibrated, 'drift_share_limit', share_limit,
                'skill', skill, 'min_skill', pol.min_skill, 'n_forecasts', n_forecasts,
                'skill_p_value', skill_p, 'skill_alpha', pol.skill_alpha,
                'coverage', cov.covered::float8 / nullif(cov.n, 0), 'n_intervals', cov.n,
                'min_coverage', pol.min_coverage, 'coverage_p_value', coverage_p,
                'model_age', (run_at - m.created_at)::text, 'max_model_age', pol.max_model_age::text,
                'window_start', monitor.window_start, 'window_end', monitor.window_end,
                'cooldown', cool, 'new_bars', new_bars, 'errors', errors, 'error_alpha', pol.error_alpha,
                'latest_version', (SELECT max(mo.version) FROM stockml.models mo WHERE mo.name = m.name));
            retrain_job := stockml.submit('train', jsonb_build_object(
                'model_name', m.name, 'symbols', to_jsonb(m.symbols), 'algorithm', m.algorithm,
                'horizon', m.horizon, 'params', m.params, 'feature_set', m.feature_set)
                || CASE WHEN pol.fallback_to_naive AND skill_p < pol.skill_alpha
                        THEN '{"fallback_to_naive": true}'::jsonb ELSE '{}'::jsonb END);
            INSERT INTO stockml.retrain_events (created_at, model_name, model_version, reason, details, job_id)
            VALUES (run_at, m.name, m.version, retrain_reason, details, retrain_job);
        END IF;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stockml.monitor(text, integer) IS
'compare the recent window of each feature with the model''s reference sample, the monitored version''s errors on its latest days with its validation windows (stockml.error_drift), score its own realized forecasts against the naive baseline, write drift_metrics and performance_metrics, and enqueue one train job when the retrain policy says so (not while one is queued, within the cooldown, or without a new bar)';
-- Citus (issue 11): features(symbol), predict(model, symbol) and predict_path() run on
-- the node holding the symbol.  distribute() now also makes the small shared tables they
-- read (feature_sets, and models, model_aliases with the runs and experiments they
-- reference) reference tables, replaces predictions' and drift_null's foreign keys to
-- models by triggers, and registers the three functions (doc/citus.md).

-- On Citus, models is a reference table (distribute()), which the coordinator's ledger and
-- drift null may not reference by a foreign key: distribute() replaces their keys' ON DELETE
-- CASCADE by statement triggers on models calling this (unused on one node).
CREATE FUNCTION stockml._models_ledger_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE stockml.predictions, stockml.drift_null;
    ELSE
        DELETE FROM stockml.predictions p USING gone g WHERE p.model_id OPERATOR(pg_catalog.=) g.id;
        DELETE FROM stockml.drift_null n USING gone g WHERE n.model_id OPERATOR(pg_catalog.=) g.id;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION stockml._models_ledger_delete() IS
'internal, on Citus: the cascade of stockml.models (a reference table) to stockml.predictions and stockml.drift_null, which keep no foreign key to it there (a trigger distribute() creates)';
REVOKE ALL ON FUNCTION stockml._models_ledger_delete() FROM PUBLIC;

CREATE OR REPLACE FUNCTION stockml.distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, placement text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    f record;
    is_coordinator boolean;
    unsafe_triggers text;
    ddl_propagation text;
    messages text := pg_catalog.current_setting('client_min_messages');
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'stockml.distribute() needs the citus extension in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Install Citus 13.2 for PostgreSQL 15 (Citus''s packages), put citus first in shared_preload_libraries, CREATE EXTENSION citus here and on each worker, add the workers with citus_add_node(), then call stockml.distribute() on the coordinator.';
    END IF;
    IF shard_count IS NOT NULL AND (shard_count OPERATOR(pg_catalog.<) 1 OR shard_count OPERATOR(pg_catalog.>) 64000) THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 64000, not %', shard_count
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave it NULL for citus.shard_count (32 by default).';
    END IF;
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO is_coordinator;
    IF NOT is_coordinator THEN
        RAISE EXCEPTION 'stockml.distribute() runs on the Citus coordinator, and this node is not it'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Connect to the coordinator (citus_set_coordinator_host() names it) and call it there.';
    END IF;
    -- the small shared tables the per-symbol functions read where they run: feature sets
    -- (features()), models and aliases (predict()), and the runs and experiments models
    -- reference, as reference tables, a copy on every node (doc/citus.md); first, before the
    -- distributed tables' parallel copies (Citus allows no reference table DDL after them).
    -- Their triggers go to every node's copy (Citus wants citus.enable_unsafe_triggers): the
    -- guards of feature_sets only refuse, models_changed() only invalidates caches, and the
    -- cascades to the coordinator's tables find no rows on a worker.  A reference table may
    -- reference only reference tables: the keys among them are dropped and made again
    -- (also on the workers' copies of the tables, which the extension's script gave them),
    -- and the ones from predictions and drift_null to models become triggers on models.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'stockml.models'::pg_catalog.regclass) THEN
        FOR t IN SELECT r.nodename, r.nodeport, r.success, r.result
                   FROM pg_catalog.run_command_on_workers($cmd$
ALTER TABLE stockml.predictions DROP CONSTRAINT IF EXISTS predictions_model_id_fkey;
ALTER TABLE stockml.drift_null DROP CONSTRAINT IF EXISTS drift_null_model_id_fkey;
ALTER TABLE stockml.model_aliases DROP CONSTRAINT IF EXISTS model_aliases_name_version_fkey;
ALTER TABLE stockml.models DROP CONSTRAINT IF EXISTS models_run_id_fkey;
ALTER TABLE stockml.run_metrics DROP CONSTRAINT IF EXISTS run_metrics_run_id_fkey;
ALTER TABLE stockml.runs DROP CONSTRAINT IF EXISTS runs_experiment_id_fkey
$cmd$) r LOOP
            IF NOT t.success THEN
                RAISE EXCEPTION 'stockml.distribute() could not drop the registry''s foreign keys on worker %:%', t.nodename, t.nodeport
                    USING DETAIL = t.result,
                          HINT = 'Check that the worker has stockml and citus, then call stockml.distribute() again.';
            END IF;
        END LOOP;
        ALTER TABLE stockml.predictions DROP CONSTRAINT IF EXISTS predictions_model_id_fkey;
        ALTER TABLE stockml.drift_null DROP CONSTRAINT IF EXISTS drift_null_model_id_fkey;
        ALTER TABLE stockml.model_aliases DROP CONSTRAINT IF EXISTS model_aliases_name_version_fkey;
        ALTER TABLE stockml.models DROP CONSTRAINT IF EXISTS models_run_id_fkey;
        ALTER TABLE stockml.run_metrics DROP CONSTRAINT IF EXISTS run_metrics_run_id_fkey;
        ALTER TABLE stockml.runs DROP CONSTRAINT IF EXISTS runs_experiment_id_fkey;
        -- ON DELETE CASCADE of the ledger and the drift null, as for the validation rows
        CREATE TRIGGER models_ledger_delete AFTER DELETE ON stockml.models
            REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION stockml._models_ledger_delete();
        CREATE TRIGGER models_ledger_truncate AFTER TRUNCATE ON stockml.models
            FOR EACH STATEMENT EXECUTE FUNCTION stockml._models_ledger_delete();
    END IF;
    unsafe_triggers := pg_catalog.current_setting('citus.enable_unsafe_triggers');
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    FOR t IN SELECT v.rel FROM (VALUES ('stockml.feature_sets'::pg_catalog.regclass, 1),
                                       ('stockml.experiments'::pg_catalog.regclass, 2),
                                       ('stockml.runs'::pg_catalog.regclass, 3),
                                       ('stockml.run_metrics'::pg_catalog.regclass, 4),
                                       ('stockml.models'::pg_catalog.regclass, 5),
                                       ('stockml.model_aliases'::pg_catalog.regclass, 6)) v(rel, ord)
             ORDER BY v.ord LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) t.rel) THEN
            -- (without Citus's NOTICE that the copied rows stay in the shell: they leave it below)
            PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);
            PERFORM pg_catalog.create_reference_table(t.rel);
            PERFORM pg_catalog.set_config('client_min_messages', messages, true);
            -- the copied rows leave the shell, with its triggers off for that, on the shell
            -- alone (not propagated to the copies): feature_sets' guard refuses TRUNCATE, and
            -- models' would empty the coordinator's validation rows and ledger
            ddl_propagation := pg_catalog.current_setting('citus.enable_ddl_propagation');
            PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
            EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER USER', t.rel);
            PERFORM pg_catalog.truncate_local_data_after_distributing_table(t.rel);
            EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER USER', t.rel);
            PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', ddl_propagation, true);
        END IF;
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', unsafe_triggers, true);
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c
                    WHERE c.conrelid OPERATOR(pg_catalog.=) 'stockml.model_aliases'::pg_catalog.regclass
                      AND c.conname OPERATOR(pg_catalog.=) 'model_aliases_name_version_fkey') THEN
        ALTER TABLE stockml.runs ADD CONSTRAINT runs_experiment_id_fkey
            FOREIGN KEY (experiment_id) REFERENCES stockml.experiments (id) ON DELETE CASCADE;
        ALTER TABLE stockml.run_metrics ADD CONSTRAINT run_metrics_run_id_fkey
            FOREIGN KEY (run_id) REFERENCES stockml.runs (id) ON DELETE CASCADE;
        ALTER TABLE stockml.models ADD CONSTRAINT models_run_id_fkey
            FOREIGN KEY (run_id) REFERENCES stockml.runs (id) ON DELETE SET NULL;
        ALTER TABLE stockml.model_aliases ADD CONSTRAINT model_aliases_name_version_fkey
            FOREIGN KEY (name, version) REFERENCES stockml.models (name, version);
    END IF;
    -- the Grafana reader (below): of the reference tables, what model_versions, model_names,
    -- model_history, backtest_equity and the other views show of them (not the model, its
    -- spec or its reference sample); here, as Citus allows no DDL on a referenced reference
    -- table after the distributed tables' parallel operations in the same transaction
    IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'stockml_reader') THEN
        GRANT SELECT (id, name, version, algorithm, symbols, horizon, feature_set, params, metrics,
                      train_start, train_end, n_rows, created_at, run_id, description, tags)
            ON stockml.models TO stockml_reader;
        GRANT SELECT (name, alias, version) ON stockml.model_aliases TO stockml_reader;
    END IF;
    -- symbols first (the others colocate with it and reference it), by symbol; then the
    -- tables of one symbol's rows, colocated with it: its bars, corporate actions and ingests
    FOR t IN SELECT v.rel, v.ord FROM (VALUES ('stockml.symbols'::pg_catalog.regclass, 1),
                                              ('stockml.prices'::pg_catalog.regclass, 2),
                                              ('stockml.corporate_actions'::pg_catalog.regclass, 3),
                                              ('stockml.ingest_log'::pg_catalog.regclass, 4)) v(rel, ord)
             ORDER BY v.ord LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) t.rel) THEN
            IF t.rel OPERATOR(pg_catalog.=) 'stockml.ingest_log'::pg_catalog.regclass THEN
                -- Citus wants the distribution column in every unique key: (symbol, id), id
                -- staying unique by its identity
                ALTER TABLE stockml.ingest_log DROP CONSTRAINT ingest_log_pkey,
                    ADD CONSTRAINT ingest_log_pkey PRIMARY KEY (symbol, id);
            ELSIF t.ord OPERATOR(pg_catalog.=) 1 THEN
                -- predict()'s change triggers (32_bar_changes.sql): Citus refuses a table with
                -- triggers, and a distributed table's rows are written on the workers, so
                -- predict() reads every bar through SQL there and needs none
                DROP TRIGGER IF EXISTS symbols_calendar_changed ON stockml.symbols;
                DROP TRIGGER IF EXISTS symbols_deleted ON stockml.symbols;
                DROP TRIGGER IF EXISTS symbols_truncated ON stockml.symbols;
            ELSIF t.ord OPERATOR(pg_catalog.=) 2 THEN
                DROP TRIGGER IF EXISTS bars_inserted ON stockml.prices;
                DROP TRIGGER IF EXISTS bars_updated ON stockml.prices;
                DROP TRIGGER IF EXISTS bars_deleted ON stockml.prices;
                DROP TRIGGER IF EXISTS bars_truncated ON stockml.prices;
            ELSIF t.ord OPERATOR(pg_catalog.=) 3 THEN
                DROP TRIGGER IF EXISTS actions_inserted ON stockml.corporate_actions;
                DROP TRIGGER IF EXISTS actions_updated ON stockml.corporate_actions;
                DROP TRIGGER IF EXISTS actions_deleted ON stockml.corporate_actions;
                DROP TRIGGER IF EXISTS actions_truncated ON stockml.corporate_actions;
            END IF;
            IF t.ord OPERATOR(pg_catalog.=) 1 THEN
                EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_table(%L, %L, shard_count => %s)',
                                          t.rel, 'symbol', coalesce(shard_count::text, 'NULL'));
            ELSE
                EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)',
                                          t.rel, 'symbol', 'stockml.symbols');
            END IF;
        END IF;
    END LOOP;
    -- the rows copied to the shards stay in the coordinator's shell tables unless removed
    FOR t IN SELECT v.rel FROM (VALUES ('stockml.ingest_log'::pg_catalog.regclass, 0),
                                       ('stockml.corporate_actions'::pg_catalog.regclass, 1),
                                       ('stockml.prices'::pg_catalog.regclass, 2),
                                       ('stockml.symbols'::pg_catalog.regclass, 3)) v(rel, ord)
             ORDER BY v.ord LOOP
        EXECUTE pg_catalog.format('SELECT pg_catalog.truncate_local_data_after_distributing_table(%L)', t.rel);
    END LOOP;
    -- the per-symbol functions run on the node that holds the symbol's shard
    -- (force_delegation: also when called inside a transaction or another function)
    FOR f IN SELECT v.fn FROM (VALUES ('stockml._train_piece_rows(text, jsonb, integer, date)'::pg_catalog.regprocedure, 1),
                                      ('stockml._train_piece_qr(text, jsonb, integer, date, bigint, integer[])'::pg_catalog.regprocedure, 2)) v(fn, ord)
             ORDER BY v.ord LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object o
                        WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND o.objid OPERATOR(pg_catalog.=) f.fn
                          AND o.distribution_argument_index IS NOT NULL) THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_function(%L, %L, colocate_with => %L, force_delegation => true)',
                                      f.fn, 'symbol', 'stockml.prices');
        END IF;
    END LOOP;
    -- ingest_log's ids are written where the ingest runs: each worker's copy of the identity
    -- sequence continues from a range of its own, as Citus gives its own sequences (group id
    -- << 48: 2^48 ids each), so that ids never repeat across nodes (the coordinator, group 0,
    -- keeps 1 ..).  setval(), not ALTER TABLE: this transaction holds the workers' ingest_log
    -- locked while distributing it, and run_command_on_workers() uses other connections.
    FOR t IN SELECT r.nodename, r.nodeport, r.success, r.result
               FROM pg_catalog.run_command_on_workers($cmd$
SELECT pg_catalog.setval(q.seq, (g.groupid::bigint OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.+) 1, false)
  FROM pg_catalog.pg_dist_local_group g,
       LATERAL (SELECT pg_catalog.pg_get_serial_sequence('stockml.ingest_log', 'id')::pg_catalog.regclass AS seq) q
 WHERE coalesce(pg_catalog.pg_sequence_last_value(q.seq), 0) OPERATOR(pg_catalog.<) (g.groupid::bigint OPERATOR(pg_catalog.<<) 48)
$cmd$) r LOOP
        IF NOT t.success THEN
            RAISE EXCEPTION 'stockml.distribute() could not give ingest_log''s ids a range of their own on worker %:%', t.nodename, t.nodeport
                USING DETAIL = t.result,
                      HINT = 'Check that the worker has stockml and citus, then call stockml.distribute() again.';
        END IF;
    END LOOP;
    -- the functions of one symbol that read and write only that symbol's rows of the
    -- colocated tables: a call SELECT f('SYM', ...) runs on the worker holding the symbol.
    -- The HTTP ingests stay on the coordinator: they read the coordinator's settings, and
    -- refresh() rescales the ledger (doc/citus.md).
    FOR t IN SELECT v.fn FROM (VALUES ('stockml.total_return(text, date, date)'::pg_catalog.regprocedure),
                                      ('stockml.ingest_csv(text, text, text, boolean, text)'::pg_catalog.regprocedure)) v(fn) LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object o
                        WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND o.objid OPERATOR(pg_catalog.=) t.fn AND o.distribution_argument_index IS NOT NULL) THEN
            PERFORM pg_catalog.create_distributed_function(t.fn, distribution_arg_name => 'symbol',
                                                           colocate_with => 'stockml.prices');
        END IF;
    END LOOP;
    -- and the functions of one symbol that read the bars and those copies: features()
    -- (its feature set), predict() and predict_path() (the model) run on the symbol's node
    FOR t IN SELECT v.fn FROM (VALUES ('stockml.features(text, date, date, text, integer)'::pg_catalog.regprocedure),
                                      ('stockml.predict(text, text, integer, text)'::pg_catalog.regprocedure),
                                      ('stockml.predict_path(text, text, integer, text)'::pg_catalog.regprocedure)) v(fn) LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object o
                        WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                          AND o.objid OPERATOR(pg_catalog.=) t.fn AND o.distribution_argument_index IS NOT NULL) THEN
            PERFORM pg_catalog.create_distributed_function(t.fn, distribution_arg_name => 'symbol',
                                                           colocate_with => 'stockml.prices');
        END IF;
    END LOOP;
    -- the Grafana reader: Citus runs a view's queries on the shards as the querying role,
    -- not as the view's owner, so stockml_reader needs SELECT on the columns its views show
    -- of the distributed tables (price_history, symbol_info, ingest_status, the forecast
    -- views): no more than those views show (doc/citus.md)
    IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'stockml_reader') THEN
        GRANT SELECT (symbol, name, exchange, currency, timezone, active) ON stockml.symbols TO stockml_reader;
        GRANT SELECT (symbol, day, open, high, low, close, adj_close, volume) ON stockml.prices TO stockml_reader;
        GRANT SELECT (id, symbol, source, started_at, finished_at, status, http_status, rows_inserted,
                      rows_updated, rows_rejected, error) ON stockml.ingest_log TO stockml_reader;
    END IF;
    RETURN QUERY
        SELECT c.oid::pg_catalog.regclass,
               CASE WHEN p.logicalrelid IS NULL THEN 'coordinator'
                    WHEN p.partmethod OPERATOR(pg_catalog.=) 'h' THEN 'distributed by ' OPERATOR(pg_catalog.||)
                         pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
                    WHEN p.repmodel OPERATOR(pg_catalog.=) 't' THEN 'reference'
                    ELSE 'citus local' END
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
                AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'stockml')
          LEFT JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid OPERATOR(pg_catalog.=) c.oid
         WHERE c.relkind OPERATOR(pg_catalog.=) 'r'
         ORDER BY c.relname;
END
$$;
COMMENT ON FUNCTION stockml.distribute(integer) IS
'on a Citus coordinator: distribute symbols, prices, corporate_actions and ingest_log by symbol (colocated, shard_count shards, NULL: citus.shard_count), make feature_sets, experiments, runs, run_metrics, models and model_aliases reference tables (predictions and drift_null follow models by triggers instead of foreign keys), remove the copied rows from the coordinator''s shell tables, register the per-symbol functions (train()''s pieces, total_return(), ingest_csv(), features(), predict(), predict_path()) to run on the node holding the symbol, give each worker''s ingest_log ids a range of their own, let stockml_reader read the columns of them its views show (Citus checks a view''s shard queries as the querying role), and list where every stockml table lives; the other tables stay on the coordinator. Idempotent. ERROR without Citus or off the coordinator';
REVOKE EXECUTE ON FUNCTION stockml.distribute(integer) FROM PUBLIC;

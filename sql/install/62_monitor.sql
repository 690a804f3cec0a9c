-- Monitoring: retrain policies, what monitor() measures (drift_metrics, performance_metrics)
-- and the retrains it asks for (retrain_events).  monitor() and the monitor / forecast job
-- kinds are PL/pgSQL over the C statistics of src/drift.c.

CREATE TABLE stockml.retrain_policies (
    model_name      text PRIMARY KEY,
    window_days     integer NOT NULL DEFAULT 60
                    CONSTRAINT retrain_policies_window_days CHECK (window_days BETWEEN 2 AND 3660),
    drift_method    text NOT NULL DEFAULT 'auto'
                    CONSTRAINT retrain_policies_drift_method
                    CHECK (drift_method IN ('auto', 'ks', 'wasserstein', 'psi', 'kl_div', 'jensen_shannon')),
    drift_threshold float8
                    CONSTRAINT retrain_policies_drift_threshold
                    CHECK (drift_threshold >= 0 AND drift_threshold < 'Infinity'::float8),
    max_drift_share float8 DEFAULT 0.5
                    CONSTRAINT retrain_policies_max_drift_share CHECK (max_drift_share BETWEEN 0 AND 1),
    min_skill       float8 DEFAULT 0
                    CONSTRAINT retrain_policies_min_skill CHECK (min_skill <= 1),
    min_forecasts   integer NOT NULL DEFAULT 20
                    CONSTRAINT retrain_policies_min_forecasts CHECK (min_forecasts >= 1),
    max_model_age   interval DEFAULT '90 days'
                    CONSTRAINT retrain_policies_max_model_age CHECK (max_model_age > '0'::interval),
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    drift_alpha     float8 NOT NULL DEFAULT 0.05
                    CONSTRAINT retrain_policies_drift_alpha CHECK (drift_alpha > 0 AND drift_alpha < 1),
    deploy_alpha    float8 NOT NULL DEFAULT 0.05
                    CONSTRAINT retrain_policies_deploy_alpha CHECK (deploy_alpha > 0 AND deploy_alpha < 1),
    cooldown        integer NOT NULL DEFAULT 5
                    CONSTRAINT retrain_policies_cooldown CHECK (cooldown BETWEEN 0 AND 10000),
    skill_alpha     float8 NOT NULL DEFAULT 0.05
                    CONSTRAINT retrain_policies_skill_alpha CHECK (skill_alpha > 0 AND skill_alpha < 1),
    fallback_to_naive boolean NOT NULL DEFAULT false,
    min_coverage    float8 DEFAULT 0.8
                    CONSTRAINT retrain_policies_min_coverage CHECK (min_coverage > 0 AND min_coverage < 1),
    error_alpha     float8 DEFAULT 0.0125
                    CONSTRAINT retrain_policies_error_alpha CHECK (error_alpha > 0 AND error_alpha < 1)
);
COMMENT ON TABLE stockml.retrain_policies IS 'per model: how monitor() measures drift and when it enqueues a retrain; monitor() adds a row with the defaults for a model that has none';
COMMENT ON COLUMN stockml.retrain_policies.window_days IS 'the recent window compared with the reference: the last window_days calendar days up to the latest stored bar';
COMMENT ON COLUMN stockml.retrain_policies.drift_method IS 'auto (Evidently''s default: ks up to 1000 reference values, wasserstein above), ks, wasserstein, psi, kl_div or jensen_shannon';
COMMENT ON COLUMN stockml.retrain_policies.drift_threshold IS 'versions without a drift null (trained by 0.1.0, or monitored over another window length) only: a feature drifts when p < threshold (ks) or statistic >= threshold (others); NULL: the method''s default (0.05 for ks, 0.1 for the others)';
COMMENT ON COLUMN stockml.retrain_policies.max_drift_share IS 'NULL: never retrain for drift; else retrain when the share of drifted features exceeds the (1 - drift_alpha) quantile of its null (calibrated versions) or this value (versions without a drift null)';
COMMENT ON COLUMN stockml.retrain_policies.min_skill IS 'retrain when the realized skill (1 - MAE/MAE_naive) of the monitored version''s own forecasts over the window is significantly below this (skill_alpha); NULL: never for skill';
COMMENT ON COLUMN stockml.retrain_policies.min_forecasts IS 'realized forecasts of the monitored version itself the window must hold before min_skill is applied';
COMMENT ON COLUMN stockml.retrain_policies.max_model_age IS 'retrain when the monitored version is older than this; NULL: never for age';
COMMENT ON COLUMN stockml.retrain_policies.enabled IS 'false: monitor() still measures but never enqueues a retrain';
COMMENT ON COLUMN stockml.retrain_policies.drift_alpha IS 'calibrated drift (versions trained with a drift null): a feature drifts when its statistic exceeds the (1 - drift_alpha) quantile of its null, and the drift-share rule retrains when the share exceeds the (1 - drift_alpha) quantile of the share''s own null';
COMMENT ON COLUMN stockml.retrain_policies.cooldown IS 'trading days (bars of the model''s symbols) between two retrains of the model; doubled for each retrain since the last deployed one that did not deploy';
COMMENT ON COLUMN stockml.retrain_policies.skill_alpha IS 'the skill rule fires only when a one-sided Diebold-Mariano test of the version''s own forecasts against min_skill gives p < skill_alpha; the coverage rule only when a one-sided binomial test against min_coverage does';
COMMENT ON COLUMN stockml.retrain_policies.fallback_to_naive IS 'true: when a retrain the skill rule asked for does not deploy, a naive (random walk) version is trained and serves';
COMMENT ON COLUMN stockml.retrain_policies.min_coverage IS 'retrain when the realized coverage of the monitored version''s own intervals over the window is significantly below this (a one-sided binomial test, stockml.coverage_test, p < skill_alpha, once min_forecasts of them are realized); keep it below stockml.interval_level; NULL: never for coverage';
COMMENT ON COLUMN stockml.retrain_policies.error_alpha IS 'the error rule (stockml.error_drift): retrain when, over the monitored version''s last min_forecasts days after train_end (predicted from their features, targets realized), its mean squared error exceeds the (1 - error_alpha / 5) quantile of the same statistic over the windows of its validation rows, or the correlation of its forecasts with the outcomes falls below the 4 error_alpha / 5 quantile; NULL: never for errors';
COMMENT ON COLUMN stockml.retrain_policies.deploy_alpha IS 'train() moves production to a new version only when a one-sided Diebold-Mariano test on the shared validation rows gives p < deploy_alpha against the random walk and against the production version';

CREATE TABLE stockml.drift_metrics (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measured_at   timestamptz NOT NULL DEFAULT now(),
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    feature       text NOT NULL,
    method        text NOT NULL,
    statistic     float8 NOT NULL,
    p_value       float8,
    threshold     float8 NOT NULL,
    drifted       boolean NOT NULL,
    n_reference   integer NOT NULL,
    n_current     integer NOT NULL,
    window_start  date NOT NULL,
    window_end    date NOT NULL,
    calibrated    boolean NOT NULL DEFAULT false,
    null_threshold float8,
    empirical_p   float8
);
CREATE INDEX drift_metrics_model_measured_idx ON stockml.drift_metrics (model_name, measured_at);
COMMENT ON TABLE stockml.drift_metrics IS 'one row per feature per monitor() run: the reference sample of the model against the recent window';
COMMENT ON COLUMN stockml.drift_metrics.p_value IS 'ks only; NULL for the distance-based tests';
COMMENT ON COLUMN stockml.drift_metrics.statistic IS 'the raw statistic (ks: D)';
COMMENT ON COLUMN stockml.drift_metrics.threshold IS 'the fixed threshold of the uncalibrated test (retrain_policies.drift_threshold or the method''s default)';
COMMENT ON COLUMN stockml.drift_metrics.drifted IS 'calibrated: statistic > null_threshold; else ks: p_value < threshold, others: statistic >= threshold';
COMMENT ON COLUMN stockml.drift_metrics.calibrated IS 'true when the version has a drift null for this feature, method and window length (stockml.drift_null); false: the fixed threshold decided (a version trained by 0.1.0)';
COMMENT ON COLUMN stockml.drift_metrics.null_threshold IS 'the (1 - drift_alpha) quantile of the feature''s drift null; NULL when not calibrated';
COMMENT ON COLUMN stockml.drift_metrics.empirical_p IS 'the share of the null at or above the statistic, (1 + #{null >= statistic}) / (1 + n); NULL when not calibrated';
COMMENT ON INDEX stockml.drift_metrics_model_measured_idx IS 'serves a model''s drift over time';

CREATE TABLE stockml.performance_metrics (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measured_at          timestamptz NOT NULL DEFAULT now(),
    model_name           text NOT NULL,
    model_version        integer NOT NULL,
    symbol               text,
    window_start         date NOT NULL,
    window_end           date NOT NULL,
    n_forecasts          integer NOT NULL,
    mae                  float8,
    mae_naive            float8,
    skill                float8,
    directional_accuracy float8,
    rmse                 float8,
    coverage             float8,
    log_loss             float8,
    brier                float8
);
CREATE INDEX performance_metrics_model_measured_idx ON stockml.performance_metrics (model_name, measured_at);
COMMENT ON TABLE stockml.performance_metrics IS 'realized accuracy of past forecasts (stockml.predictions joined with realized closes) per monitor() run: one row for all symbols (symbol NULL) and one per symbol';
COMMENT ON COLUMN stockml.performance_metrics.model_version IS 'the version monitored; the forecasts scored are those of every version of the model whose target day lies in the window';
COMMENT ON COLUMN stockml.performance_metrics.mae IS 'mean |predicted close - realized close|';
COMMENT ON COLUMN stockml.performance_metrics.mae_naive IS 'the same for the naive forecast: the close at the forecast''s as_of day';
COMMENT ON COLUMN stockml.performance_metrics.skill IS '1 - mae / mae_naive (NULL when mae_naive is 0)';
COMMENT ON COLUMN stockml.performance_metrics.directional_accuracy IS 'share of forecasts whose move from the as_of close has the sign of the realized move, among those where both moved (stockml.direction_hit; NULL for the naive forecast, which never moves)';
COMMENT ON COLUMN stockml.performance_metrics.coverage IS 'share of realized closes inside the forecast''s [lower, upper] interval';
COMMENT ON COLUMN stockml.performance_metrics.log_loss IS 'mean log loss of the forecasts'' p_up against the realized move (stockml.log_loss), over those that have one; NULL when none has';
COMMENT ON COLUMN stockml.performance_metrics.brier IS 'mean (p_up - up)^2 over the forecasts that have a p_up (up: the realized close above the as_of close)';
COMMENT ON INDEX stockml.performance_metrics_model_measured_idx IS 'serves a model''s accuracy over time';

CREATE TABLE stockml.retrain_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    model_name    text NOT NULL,
    model_version integer NOT NULL,
    reason        text NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}',
    job_id        bigint,
    status        text NOT NULL DEFAULT 'queued'
                  CONSTRAINT retrain_events_status
                  CHECK (status IN ('queued', 'deployed', 'not_deployed', 'failed')),
    new_version   integer,
    resolved_at   timestamptz,
    outcome       text
);
CREATE INDEX retrain_events_model_created_idx ON stockml.retrain_events (model_name, created_at);
COMMENT ON TABLE stockml.retrain_events IS 'each retrain monitor() enqueued, why, and how it ended';
COMMENT ON COLUMN stockml.retrain_events.model_version IS 'the version whose monitoring broke a limit';
COMMENT ON COLUMN stockml.retrain_events.reason IS 'the broken limits, e.g. "drift share 0.75 > 0.5; skill -0.12 < 0"';
COMMENT ON COLUMN stockml.retrain_events.details IS 'the measured values and the limits they broke';
COMMENT ON COLUMN stockml.retrain_events.job_id IS 'the train job in stockml.jobs';
COMMENT ON COLUMN stockml.retrain_events.status IS 'queued: job not finished; deployed: the new version became production; not_deployed: trained and recorded but it did not beat production; failed: the job failed';
COMMENT ON COLUMN stockml.retrain_events.new_version IS 'the version the retrain trained';
COMMENT ON COLUMN stockml.retrain_events.outcome IS 'why it ended so: the deploy gate''s reason, or the job''s error';
COMMENT ON INDEX stockml.retrain_events_model_created_idx IS 'serves a model''s retrain history';

-- policies and the monitoring history are the user's data: pg_dump keeps them, with
-- the identity sequences (ids continue after a restore)
SELECT pg_catalog.pg_extension_config_dump('stockml.retrain_policies', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.drift_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.performance_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('stockml.retrain_events', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.drift_metrics', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.performance_metrics', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('stockml.retrain_events', 'id')::regclass, '');

-- The reference sample kept with a model, one float8[] per feature in the order of names
-- (src/monitor.c, one pass over the jsonb).  Reads what train() stores, {"names": [..],
-- "rows": [[v, ..], ..], ..}, and also {"<feature>": [v, ..], ..}; "features"/"columns"
-- and "sample"/"x" are read as synonyms of "rows", a bare array as rows.
CREATE FUNCTION stockml.reference_columns(reference jsonb, names text[])
RETURNS TABLE (ord integer, feature text, vals float8[])
AS 'MODULE_PATHNAME', 'stockml_reference_columns'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.reference_columns(jsonb, text[]) IS
'the reference sample kept with a model as one float8[] per named feature; reads {"names": [..], "rows": [[..]]} (what train() stores) or {"feature": [..]}';

-- Realized accuracy of a model's forecasts whose target day lies in [from_day, to_day]:
-- the latest forecast per (symbol, target day) of any version, joined with the closes.
CREATE FUNCTION stockml.forecast_accuracy(model_name text, from_day date, to_day date,
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

-- Finish the bookkeeping of retrains whose train job has ended.
CREATE FUNCTION stockml.resolve_retrain_events(model_name text DEFAULT NULL)
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

-- The coverage rule's evidence (src/interval.c): P(X <= covered), X ~ Binomial(n, bound).
CREATE FUNCTION stockml.coverage_test(covered bigint, n bigint, bound float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_coverage_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.coverage_test(bigint, bigint, float8) IS
'one-sided binomial test of a coverage: P(X <= covered) for X ~ Binomial(n, bound), small when covered of n is significantly below bound';

CREATE FUNCTION stockml.conformal_p_up(yhat float8, scale float8, abs_residuals float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_conformal_p_up'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.conformal_p_up(float8, float8, float8[]) IS
'a regressor''s probability of an up move as predict() gives it: with y - yhat symmetric and |y - yhat| / scale distributed as abs_residuals, 1/2 + sign(yhat)/2 * F(|yhat| / scale), F their conformal CDF (rank / (n + 1), interpolated)';

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

CREATE FUNCTION stockml.monitor(model_name text, window_days integer DEFAULT NULL)
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

-- The models a monitor or forecast job names: {"model_name": ..} or {"models": [..]}, else
-- every model with a production version.
CREATE FUNCTION stockml.job_models(kind text, args jsonb, allowed text[])
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
CREATE FUNCTION stockml.job_check_models(kind text, names text[], production boolean)
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
CREATE FUNCTION stockml.check_job_monitor(args jsonb)
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

CREATE FUNCTION stockml.run_job_monitor(job_id bigint, args jsonb)
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
CREATE FUNCTION stockml.check_job_forecast(args jsonb)
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

CREATE FUNCTION stockml.run_job_forecast(job_id bigint, args jsonb)
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

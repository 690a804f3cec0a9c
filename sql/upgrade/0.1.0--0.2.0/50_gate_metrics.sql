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

-- Two versions of a model on the validation rows they share (version 0: the random walk on
-- the other version's rows).  Loss: the absolute error of the log return, |y - yhat|
-- (scale-free, about the relative error of the price), averaged over the symbols of a day.
CREATE FUNCTION stockml.compare(model text, version_a integer, version_b integer)
RETURNS TABLE (model_name text, a integer, b integer, loss text,
               n_rows bigint, n_days integer, mae_a float8, mae_b float8,
               dm_statistic float8, hac_lag integer, p_b_better float8, p_a_better float8)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    id_a    bigint;
    id_b    bigint;
    h_a     integer;
    h_b     integer;
    agg     record;
    dm      record;
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

    WITH rows AS (
        SELECT pa.day, pa.y,
               CASE WHEN version_a = 0 THEN pb.naive ELSE pa.yhat END AS fa,
               CASE WHEN version_b = 0 THEN pa.naive ELSE pb.yhat END AS fb
          FROM stockml.validation_predictions pa
          JOIN stockml.validation_predictions pb ON pb.symbol = pa.symbol AND pb.day = pa.day
         WHERE pa.model_id = coalesce(id_a, id_b) AND pb.model_id = coalesce(id_b, id_a)),
    daily AS (
        SELECT r.day, count(*) AS n, sum(abs(r.y - r.fa)) AS la, sum(abs(r.y - r.fb)) AS lb,
               avg(abs(r.y - r.fa) - abs(r.y - r.fb)) AS d
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
    loss := 'absolute error of the log return';
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
'compare two versions of a model on the walk-forward validation rows they share (version 0: the random walk): mean |log error| of each and a one-sided Diebold-Mariano test (Newey-West variance) each way';

-- train()'s deploy decision for a new version: production moves to it only when, on the
-- same validation rows, it beats the random walk and the current production version by a
-- one-sided Diebold-Mariano test at the policy's deploy_alpha, and its skill is above 0.
CREATE FUNCTION stockml._deploy_gate(model_name text, version integer, auto_deploy boolean)
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
BEGIN
    SELECT coalesce(max(p.deploy_alpha), 0.05) INTO alpha
      FROM stockml.retrain_policies p WHERE p.model_name = _deploy_gate.model_name;
    SELECT (m.metrics ->> 'skill')::float8, m.horizon INTO skill, horizon
      FROM stockml.models m WHERE m.name = _deploy_gate.model_name AND m.version = _deploy_gate.version;
    SELECT a.version, m.horizon INTO prod, prod_h
      FROM stockml.model_aliases a JOIN stockml.models m ON m.name = a.name AND m.version = a.version
     WHERE a.name = _deploy_gate.model_name AND a.alias = 'production';
    SELECT c.p_b_better, c.n_days INTO p_naive, d_naive FROM stockml.compare(model_name, 0, version) c;
    IF prod IS NOT NULL AND prod_h = horizon THEN
        SELECT c.p_b_better, c.n_rows INTO p_prod, n_prod FROM stockml.compare(model_name, prod, version) c;
    END IF;

    reason := CASE
        WHEN NOT auto_deploy THEN
            'auto_deploy is false: production stays where it is'
        WHEN skill IS NULL OR skill <= 0 THEN
            format('not deployed: skill %s <= 0 (no better than the random walk)',
                   coalesce(round(skill::numeric, 4)::text, 'undefined'))
        WHEN p_naive IS NULL OR p_naive >= alpha THEN
            format('not deployed: does not beat the random walk significantly (Diebold-Mariano p = %s >= %s over %s days)',
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
        reason := format('deployed: beats the random walk (Diebold-Mariano p = %s)', round(p_naive::numeric, 4))
               || CASE WHEN prod IS NULL THEN '; no production version before'
                       ELSE format(' and production version %s (p = %s over %s rows in common)',
                                   prod, round(p_prod::numeric, 4), n_prod) END
               || format(' at alpha %s', alpha);
        PERFORM stockml._set_alias(model_name, version, 'production', 'auto', reason);
    END IF;
    gate := jsonb_build_object(
        'deployed', deployed, 'reason', reason, 'alpha', alpha,
        'loss', 'absolute error of the log return', 'skill', skill,
        'p_vs_naive', p_naive, 'days_vs_naive', d_naive,
        'production_version', prod, 'p_vs_production', p_prod,
        'rows_vs_production', n_prod);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stockml._deploy_gate(text, integer, boolean) IS
'internal, called by train(): move production to a new version only when its skill is above 0 and, on the same validation rows, it beats the random walk and the production version by a one-sided Diebold-Mariano test at the policy''s deploy_alpha; returns the decision and its reason';

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
    last_ev    record;
    since      integer;
    misses     integer;
    cool       integer;
    new_bars   integer;
    blocked    text;
BEGIN
    IF model_name IS NULL THEN
        RAISE EXCEPTION 'model name must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF window_days IS NOT NULL AND window_days NOT BETWEEN 2 AND 3660 THEN
        RAISE EXCEPTION 'window_days must be between 2 and 3660, not %', window_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one monitor() per model at a time, so two runs never enqueue two retrains
    PERFORM pg_advisory_xact_lock(hashtext('stockml.monitor'), hashtext(monitor.model_name));

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
      LEFT JOIN LATERAL stockml.drift_null_check(n.statistics, t.statistic, pol.drift_alpha) q ON true
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

    -- realized accuracy of past forecasts over the same window
    INSERT INTO stockml.performance_metrics
           (measured_at, model_name, model_version, symbol, window_start, window_end, n_forecasts,
            mae, mae_naive, skill, directional_accuracy, rmse, coverage)
    SELECT run_at, m.name, m.version, a.symbol, monitor.window_start, monitor.window_end,
           a.n_forecasts, a.mae, a.mae_naive, a.skill, a.directional_accuracy, a.rmse, a.coverage
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
    -- skill: the version's own forecasts significantly worse than min_skill, by a one-sided
    -- Diebold-Mariano test of |log error| - (1 - min_skill) |naive log error| per target day
    IF pol.min_skill IS NOT NULL AND n_forecasts >= pol.min_forecasts AND skill < pol.min_skill THEN
        SELECT t.p_value INTO skill_p
          FROM stockml.dm_test(ARRAY(
                   SELECT avg(abs(ln(l.predicted_close / a.actual)) - (1 - pol.min_skill) * abs(ln(b.close / a.actual)))
                     FROM (SELECT DISTINCT ON (p.symbol, p.target_day) p.symbol, p.as_of, p.target_day, p.predicted_close
                             FROM stockml.predictions p
                            WHERE p.model_id = m.id AND p.target_day BETWEEN monitor.window_start AND monitor.window_end
                            ORDER BY p.symbol, p.target_day, p.made_at DESC, p.as_of DESC) l
                     JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of
                    CROSS JOIN LATERAL (SELECT b.close * stockml.total_return(l.symbol, l.as_of, l.target_day) AS actual) a
                    WHERE l.predicted_close > 0 AND a.actual > 0 AND b.close > 0
                    GROUP BY l.target_day ORDER BY l.target_day), m.horizon) t;
        IF skill_p < pol.skill_alpha THEN
            reasons := reasons || format('skill %s < %s over %s forecasts (Diebold-Mariano p = %s)',
                                         round(skill::numeric, 3), pol.min_skill, n_forecasts, round(skill_p::numeric, 4));
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
                'model_age', (run_at - m.created_at)::text, 'max_model_age', pol.max_model_age::text,
                'window_start', monitor.window_start, 'window_end', monitor.window_end,
                'cooldown', cool, 'new_bars', new_bars,
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
'compare the recent window of each feature with the model''s reference sample, score the monitored version''s own realized forecasts against the naive baseline, write drift_metrics and performance_metrics, and enqueue one train job when the retrain policy says so (not while one is queued, within the cooldown, or without a new bar)';

CREATE OR REPLACE FUNCTION stockml.run_job_train(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    n record;
    unknown text;
BEGIN
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(args) k
     WHERE k NOT IN ('model_name', 'symbols', 'algorithm', 'horizon', 'params', 'feature_set', 'train_end',
                     'fallback_to_naive');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown key in train job args: %', unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keys: model_name, symbols, algorithm, horizon, params, feature_set, train_end, fallback_to_naive.';
    END IF;
    IF jsonb_typeof(args -> 'symbols') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'train job args need "symbols", an array of symbols'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"model_name": "msft_ridge", "symbols": ["MSFT"]}.';
    END IF;
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
        PERFORM stockml._set_alias(n.model_name, n.version, 'production', 'auto',
                                   format('fallback_to_naive: version %s %s', r.version, r.metrics -> 'gate' ->> 'reason'));
        RETURN format('%s version %s, skill %s, %s; the naive version %s serves (fallback_to_naive)', r.model_name,
                      r.version, round((r.metrics ->> 'skill')::numeric, 4), r.metrics -> 'gate' ->> 'reason', n.version);
    END IF;
    RETURN format('%s version %s%s, skill %s%s', r.model_name, r.version,
                  CASE WHEN r.deployed THEN ' (deployed to production)' ELSE '' END,
                  round((r.metrics ->> 'skill')::numeric, 4),
                  CASE WHEN r.deployed THEN '' ELSE ', ' || (r.metrics -> 'gate' ->> 'reason') END);
END $$;
COMMENT ON FUNCTION stockml.run_job_train(bigint, jsonb) IS
'job kind train: args {"model_name", "symbols": [...], optional "algorithm", "horizon", "params", "feature_set", "train_end", "fallback_to_naive"}; returns the version trained and, when not deployed, why; with fallback_to_naive a version that does not beat the random walk makes a naive version serve';


-- issue 15: metrics that mean one thing
CREATE FUNCTION stockml.direction_hit(predicted_move float8, realized_move float8)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_direction_hit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.direction_hit(float8, float8) IS
'whether a predicted move has the sign of the realized move; NULL when either is 0 (no direction: left out of directional accuracy, so the naive forecast has none); train() counts with the same C function';

COMMENT ON COLUMN stockml.performance_metrics.directional_accuracy IS 'share of forecasts whose move from the as_of close has the sign of the realized move, among those where both moved (stockml.direction_hit; NULL for the naive forecast, which never moves)';

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

-- The null of the drifted share: for each window b of a version's null, the share of its
-- features whose statistic b exceeds their own (1 - alpha) quantile; the limit is that
-- share's own (1 - alpha) quantile.
CREATE FUNCTION stockml.drift_share_limit(model_id bigint, method text, window_days integer, alpha float8)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (stockml.drift_null_check(array_agg(w.share), NULL, $4)).threshold
      FROM (SELECT b.b, avg((n.statistics[b.b] > q.threshold)::integer) AS share
              FROM stockml.drift_null n
             CROSS JOIN LATERAL stockml.drift_null_check(n.statistics, NULL, $4) q
             CROSS JOIN LATERAL generate_subscripts(n.statistics, 1) b(b)
             WHERE n.model_id = $1 AND n.method = $2 AND n.window_days = $3
               AND n.statistics[b.b] <> 'NaN'::float8
             GROUP BY b.b) w
     HAVING count(*) > 0
$$;
COMMENT ON FUNCTION stockml.drift_share_limit(bigint, text, integer, float8) IS
'the (1 - alpha) quantile of the drifted share''s null for a model version, method and window length: per window of stockml.drift_null, the share of features above their own (1 - alpha) quantile; NULL without a null';

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
      FROM stockml.forecast_accuracy(m.name, monitor.window_start, monitor.window_end) a;
    SELECT a.n_forecasts, a.mae, a.skill, a.directional_accuracy INTO perf
      FROM stockml.performance_metrics a
     WHERE a.model_name = m.name AND a.measured_at = run_at AND a.symbol IS NULL;
    n_forecasts := coalesce(perf.n_forecasts, 0);
    mae := perf.mae;
    skill := perf.skill;
    directional_accuracy := perf.directional_accuracy;

    -- the retrain policy
    PERFORM stockml.resolve_retrain_events(m.name);
    IF pol.max_drift_share IS NOT NULL AND calibrated AND drift_share > share_limit THEN
        reasons := reasons || format('drift share %s > %s (the %s quantile of its null)', round(drift_share::numeric, 3),
                                     round(share_limit::numeric, 3), 1 - pol.drift_alpha);
    ELSIF pol.max_drift_share IS NOT NULL AND NOT calibrated AND drift_share > pol.max_drift_share THEN
        reasons := reasons || format('drift share %s > %s', round(drift_share::numeric, 3), pol.max_drift_share);
    END IF;
    IF pol.min_skill IS NOT NULL AND n_forecasts >= pol.min_forecasts AND skill < pol.min_skill THEN
        reasons := reasons || format('skill %s < %s over %s forecasts', round(skill::numeric, 3), pol.min_skill, n_forecasts);
    END IF;
    IF pol.max_model_age IS NOT NULL AND run_at - m.created_at > pol.max_model_age THEN
        reasons := reasons || format('model age %s > %s', date_trunc('second', run_at - m.created_at), pol.max_model_age);
    END IF;
    IF cardinality(reasons) > 0 THEN
        retrain_reason := array_to_string(reasons, '; ');
        SELECT e.job_id INTO pending FROM stockml.retrain_events e
         WHERE e.model_name = m.name AND e.status = 'queued' ORDER BY e.id DESC LIMIT 1;
        IF pending IS NOT NULL THEN
            retrain_reason := retrain_reason || format(' (retrain job %s already queued)', pending);
        ELSIF pol.enabled THEN
            details := jsonb_build_object(
                'drift_share', drift_share, 'max_drift_share', pol.max_drift_share,
                'drift_calibrated', calibrated, 'drift_share_limit', share_limit,
                'skill', skill, 'min_skill', pol.min_skill, 'n_forecasts', n_forecasts,
                'model_age', (run_at - m.created_at)::text, 'max_model_age', pol.max_model_age::text,
                'window_start', monitor.window_start, 'window_end', monitor.window_end,
                'latest_version', (SELECT max(mo.version) FROM stockml.models mo WHERE mo.name = m.name));
            retrain_job := stockml.submit('train', jsonb_build_object(
                'model_name', m.name, 'symbols', to_jsonb(m.symbols), 'algorithm', m.algorithm,
                'horizon', m.horizon, 'params', m.params, 'feature_set', m.feature_set));
            INSERT INTO stockml.retrain_events (created_at, model_name, model_version, reason, details, job_id)
            VALUES (run_at, m.name, m.version, retrain_reason, details, retrain_job);
        ELSE
            retrain_reason := retrain_reason || ' (policy disabled: no retrain)';
        END IF;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stockml.monitor(text, integer) IS
'compare the recent window of each feature with the model''s reference sample, score realized forecasts against the naive baseline, write drift_metrics and performance_metrics, and enqueue one train job when the retrain policy says so';

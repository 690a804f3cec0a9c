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

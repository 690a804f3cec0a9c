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

-- predict() and predict_path() gain p_up: new declarations (the C symbols fill 7, 8 or 9
-- columns), with the comments and privileges of sql/install/52_train_predict.sql, 66_reader.sql
DROP FUNCTION stockml.predict(text, text, integer, text);
DROP FUNCTION stockml.predict_path(text, text, integer, text);
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
CREATE OR REPLACE FUNCTION stockml.forecast(model_name text, symbols text[] DEFAULT NULL,
                                 version integer DEFAULT NULL, alias text DEFAULT NULL)
RETURNS SETOF stockml.forecast_result
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- the whole batch uses one version, even if the alias moves meanwhile
    v integer := stockml._resolve_version(forecast.model_name, forecast.version, forecast.alias);
    mid bigint;
    s text;
    p record;
    r stockml.forecast_result;
    msg text;
    failed text[] := '{}';
    n integer := 0;
BEGIN
    SELECT m.id, coalesce(forecast.symbols, m.symbols) INTO mid, symbols
      FROM stockml.models m WHERE m.name = forecast.model_name AND m.version = v;
    FOR s IN SELECT DISTINCT u FROM unnest(symbols) u ORDER BY 1 LOOP
        n := n + 1;
        BEGIN
            SELECT * INTO p FROM stockml.predict(forecast.model_name, coalesce(s, ''), version => v);
            INSERT INTO stockml.predictions AS t (model_id, model_name, model_version, symbol, as_of,
                                                 target_day, predicted_close, lower, upper, p_up)
            VALUES (mid, forecast.model_name, v, p.symbol, p.as_of, p.target_day, p.predicted_close,
                    p.lower, p.upper, p.p_up)
            ON CONFLICT ON CONSTRAINT predictions_model_id_symbol_as_of_key DO UPDATE
               SET target_day = excluded.target_day, predicted_close = excluded.predicted_close,
                   lower = excluded.lower, upper = excluded.upper, p_up = excluded.p_up, made_at = now()
            RETURNING t.id, t.model_id, t.model_name, t.model_version, t.symbol, t.as_of, t.target_day,
                      t.predicted_close, t.lower, t.upper, t.made_at, 'ok', NULL, t.p_up
                 INTO r;
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


ALTER TABLE stockml.performance_metrics ADD COLUMN log_loss float8, ADD COLUMN brier float8;
COMMENT ON COLUMN stockml.performance_metrics.log_loss IS 'mean log loss of the forecasts'' p_up against the realized move (stockml.log_loss), over those that have one; NULL when none has';
COMMENT ON COLUMN stockml.performance_metrics.brier IS 'mean (p_up - up)^2 over the forecasts that have a p_up (up: the realized close above the as_of close)';
-- its result grows: a new declaration (monitor() calls it by name)
DROP FUNCTION stockml.forecast_accuracy(text, date, date, integer);
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
    -- the realized close on the price scale of as_of (what predict() reported on): the
    -- close of as_of times the total return to the target day, so a split or a dividend
    -- in between is no forecast error
    realized AS (
        SELECT l.*, b.close AS naive,
               b.close * stockml.total_return(l.symbol, l.as_of, l.target_day) AS actual
          FROM latest l
          JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of),
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
    -- coverage: the version's own realized intervals significantly below min_coverage, by a
    -- one-sided binomial test; an h-step forecast overlaps h - 1 others, so h of them count as one
    SELECT count(*)::integer AS n, count(*) FILTER (WHERE a.actual BETWEEN l.lower AND l.upper)::integer AS covered
      INTO cov
      FROM (SELECT DISTINCT ON (p.symbol, p.target_day) p.symbol, p.as_of, p.target_day, p.lower, p.upper
              FROM stockml.predictions p
             WHERE p.model_id = m.id AND p.target_day BETWEEN monitor.window_start AND monitor.window_end
             ORDER BY p.symbol, p.target_day, p.made_at DESC, p.as_of DESC) l
      JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of
     CROSS JOIN LATERAL (SELECT b.close * stockml.total_return(l.symbol, l.as_of, l.target_day) AS actual) a
     WHERE l.lower IS NOT NULL AND l.upper IS NOT NULL AND a.actual IS NOT NULL;
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

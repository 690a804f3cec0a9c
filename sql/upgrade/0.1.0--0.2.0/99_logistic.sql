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

-- The deploy gate (champion / challenger): every out-of-sample walk-forward prediction
-- train() made, row by row, so two versions are compared on the same rows by a
-- Diebold-Mariano test (src/compare.c); compare() for users, _deploy_gate() for train().

CREATE TABLE stockml.validation_predictions (
    model_id      bigint NOT NULL,
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
    PRIMARY KEY (model_id, symbol, day),
    p_up          float8 CHECK (p_up BETWEEN 0 AND 1),
    base_p_up     float8 CHECK (base_p_up BETWEEN 0 AND 1)
);
COMMENT ON TABLE stockml.validation_predictions IS 'every out-of-sample walk-forward prediction train() made, one row per version, symbol and day: the rows the deploy gate and compare() score';
COMMENT ON COLUMN stockml.validation_predictions.fold IS 'the walk-forward test block (1 = the earliest)';
COMMENT ON COLUMN stockml.validation_predictions.day IS 'the day of the features (the forecast''s as_of)';
COMMENT ON COLUMN stockml.validation_predictions.target_day IS 'the day of the bar the target ends at (horizon bars of the symbol later)';
COMMENT ON COLUMN stockml.validation_predictions.close IS 'the close on day: the predicted close is close * exp(yhat), the realized one close * exp(y)';
COMMENT ON COLUMN stockml.validation_predictions.y IS 'the realized log return ln(close at target_day / close at day)';
COMMENT ON COLUMN stockml.validation_predictions.yhat IS 'the version''s predicted log return, from a fit on the rows before the fold';
COMMENT ON COLUMN stockml.validation_predictions.naive IS 'the random walk''s predicted log return (0)';
COMMENT ON COLUMN stockml.validation_predictions.p_up IS 'a classifier''s (logistic) probability that y > 0, from the same fit as yhat; NULL for a regressor';
COMMENT ON COLUMN stockml.validation_predictions.base_p_up IS 'a classifier''s baseline: the share of up moves (y > 0) among the fold''s training rows; NULL for a regressor';
COMMENT ON INDEX stockml.validation_predictions_pkey IS 'one prediction per version, symbol and day; serves joining two versions on the same rows';
SELECT pg_catalog.pg_extension_config_dump('stockml.validation_predictions', '');
-- written by train() as the owner
GRANT SELECT ON stockml.validation_predictions TO stockml_admin;

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

CREATE FUNCTION stockml.dm_test(d float8[], horizon integer DEFAULT 1,
                                OUT n integer, OUT mean float8, OUT statistic float8,
                                OUT hac_lag integer, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_dm_test'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.dm_test(float8[], integer) IS
'Diebold-Mariano test of a loss differential series d (loss of A - loss of B, one value per day in time order) with a Newey-West variance (Bartlett kernel, lag max(horizon - 1, floor(4 (n/100)^(2/9)))); p_value is one-sided, small when B''s loss is lower';

CREATE FUNCTION stockml.direction_hit(predicted_move float8, realized_move float8)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stockml_direction_hit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.direction_hit(float8, float8) IS
'whether a predicted move has the sign of the realized move; NULL when either is 0 (no direction: left out of directional accuracy, so the naive forecast has none); train() counts with the same C function';

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

-- Two versions of a model on the validation rows they share (version 0: the random walk on
-- the other version's rows).  Loss: the absolute error of the log return, |y - yhat|
-- (scale-free, about the relative error of the price), averaged over the symbols of a day;
-- when both sides are classifiers (their rows keep p_up; version 0 beside a classifier is its
-- base rate, base_p_up) the log loss of p_up, stockml.log_loss.  mae_a and mae_b are the mean
-- loss of each, whichever it is.
-- train() calls it on rows it inserted in the same transaction, which have no statistics yet:
-- the planner takes each version for one row and would join them in a nested loop over
-- model_id alone, n x n rows (0.2 s for 600); a hash or merge join is linear.
CREATE FUNCTION stockml.compare(model text, version_a integer, version_b integer)
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
CREATE FUNCTION stockml._deploy_gate(model_name text, version integer, auto_deploy boolean, set_by text)
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

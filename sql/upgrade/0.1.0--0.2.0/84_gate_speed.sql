-- issue 15 (the gate test took 40 s): compare() joins the two versions' validation rows
-- without a nested loop (train() scores rows it has just inserted, without statistics).
-- Two versions of a model on the validation rows they share (version 0: the random walk on
-- the other version's rows).  Loss: the absolute error of the log return, |y - yhat|
-- (scale-free, about the relative error of the price), averaged over the symbols of a day.
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

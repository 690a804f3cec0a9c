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

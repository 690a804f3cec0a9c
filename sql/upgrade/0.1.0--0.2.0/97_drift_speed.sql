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

-- Drift statistics (src/drift.c): each takes the reference sample and the current
-- sample as float8[]; NULL, NaN and infinite elements are dropped.

CREATE FUNCTION stockml.ks_test(ref float8[], cur float8[],
                                OUT statistic float8, OUT p_value float8)
AS 'MODULE_PATHNAME', 'stockml_ks_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.ks_test(float8[], float8[]) IS
'two-sample Kolmogorov-Smirnov test: (statistic, p_value) as scipy.stats.ks_2samp (exact p-value up to 10000 values per sample, else asymptotic)';

CREATE FUNCTION stockml.wasserstein(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_wasserstein'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.wasserstein(float8[], float8[]) IS
'1-D earth mover''s distance divided by max(population standard deviation of ref, 0.001), as Evidently''s wasserstein test';

CREATE FUNCTION stockml.psi(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_psi'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.psi(float8[], float8[]) IS
'population stability index over Evidently''s bins (Sturges bins over both samples when ref has more than 20 distinct values, else one bin per value)';

CREATE FUNCTION stockml.kl_div(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_kl_div'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.kl_div(float8[], float8[]) IS
'Kullback-Leibler divergence KL(ref || cur), natural log, over Evidently''s bins';

CREATE FUNCTION stockml.jensen_shannon(ref float8[], cur float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_jensen_shannon'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.jensen_shannon(float8[], float8[]) IS
'Jensen-Shannon distance (square root of the divergence, natural log) over Evidently''s bins, as scipy.spatial.distance.jensenshannon';

CREATE FUNCTION stockml.drift_test(ref float8[], cur float8[],
                                   method text DEFAULT 'auto', threshold float8 DEFAULT NULL,
                                   OUT method text, OUT statistic float8, OUT p_value float8,
                                   OUT threshold float8, OUT drifted boolean)
AS 'MODULE_PATHNAME', 'stockml_drift_test'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_test(float8[], float8[], text, float8) IS
'one drift test with Evidently''s defaults: auto = ks when ref has at most 1000 values (drift when p < 0.05), else wasserstein (drift when >= 0.1); psi, kl_div, jensen_shannon drift at >= 0.1';

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

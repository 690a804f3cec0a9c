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

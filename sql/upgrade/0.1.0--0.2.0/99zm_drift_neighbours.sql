-- Issue 15 item 1: a feature's calibrated threshold leaves out the null windows that share
-- rows with each window (drift_null_check's fourth argument, stockml.drift_null.neighbours),
-- so a long-memory feature (vol_20) flags stationary windows at alpha, not at 7 %
-- (src/drift_rule.c, doc/drift.md); monitor() passes it.
DROP FUNCTION stockml.drift_null_check(float8[], float8, float8);
CREATE FUNCTION stockml.drift_null_check(null_statistics float8[], statistic float8, alpha float8,
                                         neighbours integer DEFAULT 1,
                                         OUT threshold float8, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_drift_null_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_null_check(float8[], float8, float8, integer) IS
'a statistic against its empirical null (window order; neighbours = stockml.drift_null.neighbours): with (neighbours + 1) / 2 = 1, threshold = the k-th smallest finite null value, k = ceil((1 - alpha) (n + 1)) (Infinity when k > n); else each window is ranked only against the windows at least h = (neighbours + 1) / 2 places away (those that share no row with it), u_b = the share of them below it, L = the k-th smallest u_b, and threshold = the (floor(L n) + 1)-th smallest null value (at most the largest), so that a future window, which shares no row with the null, exceeds it in about alpha of stationary windows; p_value = (1 + #{null >= statistic}) / (1 + n)';
COMMENT ON COLUMN stockml.drift_null.neighbours IS 'windows fewer places apart than this overlap each other or each other''s guard: drift_share_check leaves them out of each other''s comparison, and drift_null_check the windows fewer than (neighbours + 1) / 2 places apart (those sharing rows) out of a feature''s threshold (1: none overlap)';

-- monitor() passes n.neighbours: its whole body is in 99zm_error_rule.sql, which redefines it again

-- Drift tests calibrated for autocorrelation (src/drift_null.c): the empirical null train()
-- keeps per feature and statistic, and the check monitor() makes against it.

CREATE TABLE stockml.drift_null (
    model_id    bigint NOT NULL REFERENCES stockml.models (id) ON DELETE CASCADE,
    feature     text NOT NULL,
    method      text NOT NULL
                CONSTRAINT drift_null_method
                CHECK (method IN ('ks', 'wasserstein', 'psi', 'kl_div', 'jensen_shannon')),
    window_days integer NOT NULL,
    statistics  float8[] NOT NULL,
    neighbours  integer NOT NULL DEFAULT 1
                CONSTRAINT drift_null_neighbours CHECK (neighbours >= 1),
    PRIMARY KEY (model_id, feature, method)
);
COMMENT ON TABLE stockml.drift_null IS 'per model version, feature and drift statistic: the statistic between the reference sample and 100 windows of the training period (consecutive days, as long as the monitoring window, their first days evenly spaced; the window and one window length on each side left out of the reference); monitor() flags a feature above the (1 - drift_alpha) quantile (drift_null_check)';
COMMENT ON COLUMN stockml.drift_null.method IS 'ks (the KS statistic D), wasserstein, psi, kl_div or jensen_shannon, as drift_test() computes them';
COMMENT ON COLUMN stockml.drift_null.window_days IS 'the calendar days of each window: the retrain policy''s window_days when the version was trained (60 without a policy); monitor() over another window length falls back to the fixed thresholds';
COMMENT ON COLUMN stockml.drift_null.statistics IS 'one statistic per window, in window order: element b of every feature is the same window, which gives the null of the drifted share; NaN when a window had no finite value';
COMMENT ON COLUMN stockml.drift_null.neighbours IS 'windows fewer places apart than this overlap each other or each other''s guard: drift_share_check leaves them out of each other''s comparison, and drift_null_check the windows fewer than (neighbours + 1) / 2 places apart (those sharing rows) out of a feature''s threshold (1: none overlap)';
COMMENT ON INDEX stockml.drift_null_pkey IS 'one null per version, feature and statistic';
SELECT pg_catalog.pg_extension_config_dump('stockml.drift_null', '');
GRANT SELECT ON stockml.drift_null TO stockml_admin;   -- written by train() as the owner

CREATE FUNCTION stockml.drift_null_check(null_statistics float8[], statistic float8, alpha float8,
                                         neighbours integer DEFAULT 1,
                                         OUT threshold float8, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_drift_null_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_null_check(float8[], float8, float8, integer) IS
'a statistic against its empirical null (window order; neighbours = stockml.drift_null.neighbours): with (neighbours + 1) / 2 = 1, threshold = the k-th smallest finite null value, k = ceil((1 - alpha) (n + 1)) (Infinity when k > n); else each window is ranked only against the windows at least h = (neighbours + 1) / 2 places away (those that share no row with it), u_b = the share of them below it, L = the k-th smallest u_b, and threshold = the (floor(L n) + 1)-th smallest null value (at most the largest), so that a future window, which shares no row with the null, exceeds it in about alpha of stationary windows; p_value = (1 + #{null >= statistic}) / (1 + n)';

-- The limit of the drifted share (src/drift_rule.c): each window of the null judged only
-- against the windows that overlap neither it nor its guard (neighbours places or more
-- away), per feature at drift_null_check's rank and then for the share itself.
CREATE FUNCTION stockml.drift_share_check(null_statistics float8[], alpha float8, neighbours integer)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_drift_share_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_share_check(float8[], float8, integer) IS
'the limit of the drifted share from a features x windows array of null statistics: u_jb = the share of the windows at least neighbours places from b whose statistic j is below b''s; window b''s share = the share of features with u_jb >= k_j / n_j (k_j = ceil((1 - alpha) (n_j + 1)), drift_null_check''s rank); the limit = the (floor(L n) + 1)-th smallest of the n shares, L = the ceil((1 - alpha) (n + 1))-th smallest of the shares'' own u_b (at most the largest share)';

CREATE FUNCTION stockml.drift_share_limit(model_id bigint, method text, window_days integer, alpha float8)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT stockml.drift_share_check(array_agg(n.statistics ORDER BY n.feature), $4, max(n.neighbours))
      FROM stockml.drift_null n
     WHERE n.model_id = $1 AND n.method = $2 AND n.window_days = $3
    HAVING count(*) > 0
$$;
COMMENT ON FUNCTION stockml.drift_share_limit(bigint, text, integer, float8) IS
'the calibrated limit of the drifted share for a model version, method and window length (drift_share_check over its stockml.drift_null rows); NULL without a null';

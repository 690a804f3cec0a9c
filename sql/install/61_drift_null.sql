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
    PRIMARY KEY (model_id, feature, method)
);
COMMENT ON TABLE stockml.drift_null IS 'per model version, feature and drift statistic: the statistic between the reference sample and 100 windows of the training period (consecutive days, as long as the monitoring window, drawn at seeded random offsets, their rows left out of the reference); monitor() flags a feature above the (1 - drift_alpha) quantile';
COMMENT ON COLUMN stockml.drift_null.method IS 'ks (the KS statistic D), wasserstein, psi, kl_div or jensen_shannon, as drift_test() computes them';
COMMENT ON COLUMN stockml.drift_null.window_days IS 'the calendar days of each window: the retrain policy''s window_days when the version was trained (60 without a policy); monitor() over another window length falls back to the fixed thresholds';
COMMENT ON COLUMN stockml.drift_null.statistics IS 'one statistic per window, in window order: element b of every feature is the same window, which gives the null of the drifted share; NaN when a window had no finite value';
COMMENT ON INDEX stockml.drift_null_pkey IS 'one null per version, feature and statistic';
SELECT pg_catalog.pg_extension_config_dump('stockml.drift_null', '');
GRANT SELECT ON stockml.drift_null TO stockml_admin;   -- written by train() as the owner

CREATE FUNCTION stockml.drift_null_check(null_statistics float8[], statistic float8, alpha float8,
                                         OUT threshold float8, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_drift_null_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_null_check(float8[], float8, float8) IS
'a statistic against its empirical null: threshold = the k-th smallest finite null value, k = ceil((1 - alpha) (n + 1)) (Infinity when k > n), so a statistic from the null exceeds it with probability at most alpha; p_value = (1 + #{null >= statistic}) / (1 + n)';

-- The null of the drifted share: for each window b of a version's null, the share of its
-- features whose statistic b exceeds their own (1 - alpha) quantile; the limit is that
-- share's own (1 - alpha) quantile.
CREATE FUNCTION stockml.drift_share_limit(model_id bigint, method text, window_days integer, alpha float8)
RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (stockml.drift_null_check(array_agg(w.share), NULL, $4)).threshold
      FROM (SELECT b.b, avg((n.statistics[b.b] > q.threshold)::integer) AS share
              FROM stockml.drift_null n
             CROSS JOIN LATERAL stockml.drift_null_check(n.statistics, NULL, $4) q
             CROSS JOIN LATERAL generate_subscripts(n.statistics, 1) b(b)
             WHERE n.model_id = $1 AND n.method = $2 AND n.window_days = $3
               AND n.statistics[b.b] <> 'NaN'::float8
             GROUP BY b.b) w
     HAVING count(*) > 0
$$;
COMMENT ON FUNCTION stockml.drift_share_limit(bigint, text, integer, float8) IS
'the (1 - alpha) quantile of the drifted share''s null for a model version, method and window length: per window of stockml.drift_null, the share of features above their own (1 - alpha) quantile; NULL without a null';

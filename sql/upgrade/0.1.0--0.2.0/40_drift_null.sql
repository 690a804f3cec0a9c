-- issue 15 item 1: drift tests calibrated for autocorrelation.  train() keeps an empirical
-- null per feature and statistic (stockml.drift_null, src/drift_null.c); monitor() flags a
-- feature above its (1 - drift_alpha) quantile and calibrates the drift-share rule on the
-- share's own null.  See sql/install/61_drift_null.sql and 62_monitor.sql.
ALTER TABLE stockml.retrain_policies
    ADD COLUMN drift_alpha float8 NOT NULL DEFAULT 0.05
        CONSTRAINT retrain_policies_drift_alpha CHECK (drift_alpha > 0 AND drift_alpha < 1);
COMMENT ON COLUMN stockml.retrain_policies.drift_alpha IS 'calibrated drift (versions trained with a drift null): a feature drifts when its statistic exceeds the (1 - drift_alpha) quantile of its null, and the drift-share rule retrains when the share exceeds the (1 - drift_alpha) quantile of the share''s own null';
COMMENT ON COLUMN stockml.retrain_policies.drift_threshold IS 'versions without a drift null (trained by 0.1.0, or monitored over another window length) only: a feature drifts when p < threshold (ks) or statistic >= threshold (others); NULL: the method''s default (0.05 for ks, 0.1 for the others)';
COMMENT ON COLUMN stockml.retrain_policies.max_drift_share IS 'NULL: never retrain for drift; else retrain when the share of drifted features exceeds the (1 - drift_alpha) quantile of its null (calibrated versions) or this value (versions without a drift null)';
ALTER TABLE stockml.drift_metrics
    ADD COLUMN calibrated boolean NOT NULL DEFAULT false,
    ADD COLUMN null_threshold float8,
    ADD COLUMN empirical_p float8;
COMMENT ON COLUMN stockml.drift_metrics.statistic IS 'the raw statistic (ks: D)';
COMMENT ON COLUMN stockml.drift_metrics.threshold IS 'the fixed threshold of the uncalibrated test (retrain_policies.drift_threshold or the method''s default)';
COMMENT ON COLUMN stockml.drift_metrics.drifted IS 'calibrated: statistic > null_threshold; else ks: p_value < threshold, others: statistic >= threshold';
COMMENT ON COLUMN stockml.drift_metrics.calibrated IS 'true when the version has a drift null for this feature, method and window length (stockml.drift_null); false: the fixed threshold decided (a version trained by 0.1.0)';
COMMENT ON COLUMN stockml.drift_metrics.null_threshold IS 'the (1 - drift_alpha) quantile of the feature''s drift null; NULL when not calibrated';
COMMENT ON COLUMN stockml.drift_metrics.empirical_p IS 'the share of the null at or above the statistic, (1 + #{null >= statistic}) / (1 + n); NULL when not calibrated';

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
GRANT SELECT, INSERT ON stockml.drift_null TO stockml_admin;

CREATE FUNCTION stockml.drift_null_check(null_statistics float8[], statistic float8, alpha float8,
                                         OUT threshold float8, OUT p_value float8)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_drift_null_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.drift_null_check(float8[], float8, float8) IS
'a statistic against its empirical null: threshold = the k-th smallest finite null value, k = ceil((1 - alpha) (n + 1)) (Infinity when k > n), so a statistic from the null exceeds it with probability at most alpha; p_value = (1 + #{null >= statistic}) / (1 + n)';

-- drift_share_limit(), the share's calibrated limit, and monitor() itself are defined once,
-- in their final forms, by 98_drift_calibration.sql and 99b_citus_pipeline.sql

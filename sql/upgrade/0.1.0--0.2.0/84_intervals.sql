-- issue 15 item 5: intervals that follow volatility (src/interval.c; the scaled residuals are
-- new keys of models.reference, so versions of 0.1.0 keep their fixed-width interval) and the
-- coverage rule of the retrain policy: min_coverage, stockml.coverage_test(), monitor()
-- (whose final body is in 99b_citus_pipeline.sql).
ALTER TABLE stockml.retrain_policies
    ADD COLUMN min_coverage float8 DEFAULT 0.8
        CONSTRAINT retrain_policies_min_coverage CHECK (min_coverage > 0 AND min_coverage < 1);
COMMENT ON COLUMN stockml.retrain_policies.min_coverage IS 'retrain when the realized coverage of the monitored version''s own intervals over the window is significantly below this (a one-sided binomial test, stockml.coverage_test, p < skill_alpha, once min_forecasts of them are realized); keep it below stockml.interval_level; NULL: never for coverage';
COMMENT ON COLUMN stockml.retrain_policies.skill_alpha IS 'the skill rule fires only when a one-sided Diebold-Mariano test of the version''s own forecasts against min_skill gives p < skill_alpha; the coverage rule only when a one-sided binomial test against min_coverage does';
COMMENT ON COLUMN stockml.models.reference IS '{"names": [...], "rows": [[...], ...], "abs_residuals": [...], "scaled_residuals": [...], "interval": {...}}: up to reference_rows training rows for drift, and quantiles of out-of-sample |log error| (fixed-width intervals) and of |log error| / (sigma sqrt(horizon)) (intervals that follow volatility)';

-- The coverage rule's evidence (src/interval.c): P(X <= covered), X ~ Binomial(n, bound).
CREATE FUNCTION stockml.coverage_test(covered bigint, n bigint, bound float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_coverage_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.coverage_test(bigint, bigint, float8) IS
'one-sided binomial test of a coverage: P(X <= covered) for X ~ Binomial(n, bound), small when covered of n is significantly below bound';

COMMENT ON FUNCTION stockml.monitor(text, integer) IS
'compare the recent window of each feature with the model''s reference sample, score the monitored version''s own realized forecasts against the naive baseline, write drift_metrics and performance_metrics, and enqueue one train job when the retrain policy says so (not while one is queued, within the cooldown, or without a new bar)';

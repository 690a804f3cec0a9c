-- Calibrated drift (issue 15 item 1): train() keeps an empirical null per feature and
-- statistic, monitor() flags against its quantile, and a version without one (trained by
-- 0.1.0) keeps the fixed thresholds.  The false-alarm rates are measured in
-- 62_drift_calibration.sql.
BEGIN;
SELECT plan(13);

-- the quantile and the empirical p-value of drift_null_check on a hand-worked null
SELECT is((stockml.drift_null_check(ARRAY[19, 3, 1, 'NaN', 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]::float8[],
                                    10, 0.05)).threshold, 19::float8,
          'threshold: the ceil(0.95 * 20) = 19th smallest of 19 finite values');
SELECT is((stockml.drift_null_check(ARRAY[1, 2, 3, 4]::float8[], 2.5, 0.05)).threshold, 'Infinity'::float8,
          'a null too small for alpha is never exceeded');
SELECT is((stockml.drift_null_check(ARRAY[1, 2, 3, 4]::float8[], 2.5, 0.05)).p_value, 0.6::float8,
          'p-value: (1 + #{null >= 2.5}) / (1 + 4)');
SELECT throws_ok($$SELECT stockml.drift_null_check(ARRAY[1]::float8[], 1, 1)$$, '22023',
                 'alpha must be between 0 and 1 (exclusive)', 'alpha outside (0, 1) is an ERROR');

SELECT setseed(0.4);
INSERT INTO stockml.symbols (symbol) VALUES ('TDN');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'TDN', d, c, c * 1.01, c * 0.99, c, 100000 + (i * 7919) % 5000
  FROM (SELECT i, d, 50 * exp(sum(0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                              OVER (ORDER BY i)) AS c
          FROM (SELECT row_number() OVER (ORDER BY d) AS i, d::date AS d
                  FROM generate_series('2020-01-01'::date, '2022-12-31', '1 day') d
                 WHERE extract(isodow FROM d) < 6 LIMIT 500) days) q;
SELECT is(version, 1, 'trained') FROM stockml.train('tdn', ARRAY['TDN'], 'ridge');

SELECT is((SELECT count(*) FROM stockml.drift_null n JOIN stockml.models m ON m.id = n.model_id
            WHERE m.name = 'tdn'),
          5 * cardinality(stockml.feature_names((SELECT spec FROM stockml.feature_sets WHERE name = 'default')))::bigint,
          'one null per feature and statistic');
SELECT ok((SELECT bool_and(cardinality(statistics) = 100 AND window_days = 60)
             FROM stockml.drift_null n JOIN stockml.models m ON m.id = n.model_id WHERE m.name = 'tdn'),
          '... of 100 windows of the policy''s 60 days');

CREATE TEMP TABLE run1 AS SELECT * FROM stockml.monitor('tdn');
SELECT ok((SELECT bool_and(calibrated AND null_threshold IS NOT NULL AND empirical_p BETWEEN 0 AND 1
                           AND drifted = (statistic > null_threshold) AND p_value IS NOT NULL)
             FROM stockml.drift_metrics WHERE model_name = 'tdn'),
          'monitor() flags each feature against its null and keeps the raw p-value');
SELECT is((SELECT drifted_features FROM run1),
          (SELECT count(*) FILTER (WHERE drifted)::integer FROM stockml.drift_metrics WHERE model_name = 'tdn'),
          'drifted_features counts the calibrated flags');

-- a version without a null (as trained by 0.1.0) keeps the fixed thresholds, and says so
DELETE FROM stockml.drift_null WHERE model_id = (SELECT id FROM stockml.models WHERE name = 'tdn');
DELETE FROM stockml.drift_metrics WHERE model_name = 'tdn';
SELECT lives_ok($$SELECT * FROM stockml.monitor('tdn')$$, 'monitor() of a version without a null works');
SELECT ok((SELECT bool_and(NOT calibrated AND null_threshold IS NULL AND empirical_p IS NULL
                           AND drifted = (p_value < threshold))
             FROM stockml.drift_metrics WHERE model_name = 'tdn'),
          '... with the fixed threshold, marked not calibrated');

-- another window length than the null's: the fixed thresholds too
UPDATE stockml.retrain_policies SET window_days = 90 WHERE model_name = 'tdn';
SELECT is(version, 2, 'retrained under a 90-day policy') FROM stockml.train('tdn', ARRAY['TDN'], 'ridge');
SELECT is((SELECT DISTINCT window_days FROM stockml.drift_null n JOIN stockml.models m ON m.id = n.model_id
            WHERE m.name = 'tdn' AND m.version = 2), 90, '... whose null has 90-day windows');
SELECT * FROM finish();
ROLLBACK;

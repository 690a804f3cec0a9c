-- Calibrated drift (issue 15 item 1): train() keeps an empirical null per feature and
-- statistic, monitor() flags against its quantile, and a version without one (trained by
-- 0.1.0) keeps the fixed thresholds.  The false-alarm rates are measured in
-- 62_drift_calibration.sql.
BEGIN;
SELECT plan(25);

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

-- the share's limit (drift_rule.c) on hand-worked nulls: 2 features x 20 windows, feature 1
-- = 1..20, feature 2 = 20..1.  A feature's rank k = ceil(0.95 * 21) = 20 of n = 20, so a
-- window is drifted where it is above all the windows away from it (u_b >= 20/20).
-- neighbours 1: window 20 for feature 1, window 1 for feature 2; the shares are 0.5, 0 x 18,
-- 0.5, their u_b 18/19 (twice) and 0, whose level is the 20th smallest, 18/19: the limit is
-- the 19th smallest share (floor(18/19 * 20) = 18 below it), 0.5
SELECT is(stockml.drift_share_check(ARRAY[ARRAY(SELECT g::float8 FROM generate_series(1, 20) g),
                                          ARRAY(SELECT 21 - g::float8 FROM generate_series(1, 20) g)],
                                    0.05, 1), 0.5::float8, 'share limit, hand-worked');
-- neighbours 3: window b is compared with the windows 3 or more places away only; windows
-- 18-20 of feature 1 are above all of those, and windows 1-3 of feature 2: the share null is
-- 0.5 at 1-3 and 18-20, 0 elsewhere; its level is 14/17 (window 20's share is above 14 of
-- the 17 shares away from it), floor(14/17 * 20) = 16: the limit is the 17th smallest, 0.5
SELECT is(stockml.drift_share_check(ARRAY[ARRAY(SELECT g::float8 FROM generate_series(1, 20) g),
                                          ARRAY(SELECT 21 - g::float8 FROM generate_series(1, 20) g)],
                                    0.05, 3), 0.5::float8, '... and with neighbours left out');
-- against numpy (test/reference/drift_share.py wrote drift_share_cases.csv): 12 seeded nulls
-- of 3 to 16 features, overlapping-like windows, ties, a common factor, h 1 to 19
CREATE TEMP TABLE share_cases (id integer, alpha float8, neighbours integer, statistics float8[], expected float8,
                               feature_thresholds float8[]);
\copy share_cases FROM 'test/reference/drift_share_cases.csv' WITH (FORMAT csv, HEADER true)
SELECT is((SELECT string_agg(id || ': ' || got || ' <> ' || expected, ', ')
             FROM (SELECT id, expected, stockml.drift_share_check(statistics, alpha, neighbours) AS got
                     FROM share_cases) x
            WHERE NOT (got = expected OR abs(got - expected) < 1e-12)), NULL,
          'drift_share_check equals numpy on 12 cases');
-- a feature's threshold with neighbours (the windows fewer than (neighbours + 1) / 2 places
-- apart left out of each window's rank), every row of the same cases against numpy
SELECT is((SELECT string_agg(id || '/' || j || ': ' || got || ' <> ' || feature_thresholds[j], ', ')
             FROM (SELECT c.id, j, c.feature_thresholds,
                          (stockml.drift_null_check(ARRAY(SELECT c.statistics[j][b]
                                                            FROM generate_subscripts(c.statistics, 2) b ORDER BY b),
                                                    NULL, c.alpha, c.neighbours)).threshold AS got
                     FROM share_cases c, generate_subscripts(c.statistics, 1) j) x
            WHERE NOT (got = feature_thresholds[j] OR abs(got - feature_thresholds[j]) < 1e-12)), NULL,
          'drift_null_check with neighbours equals numpy on every feature of the 12 cases');
-- hand-worked: 1..20 rising, neighbours 3 (h = 2): window b is ranked against the windows
-- at least 2 places away, u_b = (b - 2) / 17 for 1 < b < 20, u_1 = 0 / 18, u_20 = 18 / 18;
-- the level is the ceil(0.95 * 21) = 20th smallest u, 1: the threshold is the largest value
-- (the plain rank, neighbours 1, is the 20th smallest too: the same null, the same answer)
SELECT is((stockml.drift_null_check(ARRAY(SELECT g::float8 FROM generate_series(1, 20) g), NULL, 0.05, 3)).threshold,
          20::float8, 'with neighbours: the threshold over the windows that share no rows');
SELECT is((stockml.drift_null_check(ARRAY(SELECT g::float8 FROM generate_series(1, 20) g), 19.5, 0.05, 1)),
          (stockml.drift_null_check(ARRAY(SELECT g::float8 FROM generate_series(1, 20) g), 19.5, 0.05)),
          'neighbours 1 (no overlap) is the plain rank');
SELECT throws_ok($$SELECT stockml.drift_null_check(ARRAY[1, 2]::float8[], 1, 0.05, 0)$$, '22023',
                 'neighbours must be at least 1', 'drift_null_check: neighbours below 1 is an ERROR');
SELECT throws_ok($$SELECT stockml.drift_share_check(ARRAY[1, 2]::float8[], 0.05, 1)$$, '2202E',
                             'the nulls must be a two-dimensional array (features x windows), not 1-dimensional',
                             'a one-dimensional array is an ERROR');
SELECT throws_ok($$SELECT stockml.drift_share_check(ARRAY[[1, 2]]::float8[], 0.05, 0)$$, '22023',
                 'neighbours must be at least 1', 'neighbours below 1 is an ERROR');

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
-- 500 weekdays = 698 calendar days, 100 windows evenly spaced over its first 639: about 6.4
-- days apart, so windows within 2 x 60 days of each other (window and guard) are 19 places
SELECT ok((SELECT bool_and(neighbours BETWEEN 15 AND 25)
             FROM stockml.drift_null n JOIN stockml.models m ON m.id = n.model_id WHERE m.name = 'tdn'),
          '... and says which of them overlap (window and guard)');

-- a training period shorter than a window and its two guards (121 training days, about 168
-- calendar days): the guard would leave no reference for the middle windows, so those leave
-- out only their own rows, and every window has a statistic
SELECT is(version, 1, 'trained on a short period')
  FROM stockml.train('tdn_short', ARRAY['TDN'], 'ridge', params => '{"folds": 2}',
                     train_end => (SELECT day FROM stockml.prices WHERE symbol = 'TDN'
                                    ORDER BY day OFFSET 169 LIMIT 1));
SELECT is((SELECT count(*) FILTER (WHERE v = 'NaN') || ' NaN of ' || count(*)
             FROM stockml.drift_null n JOIN stockml.models m ON m.id = n.model_id, unnest(n.statistics) v
            WHERE m.name = 'tdn_short'),
          '0 NaN of ' || 5 * 16 * (SELECT cardinality(statistics) FROM stockml.drift_null n
                                     JOIN stockml.models m ON m.id = n.model_id
                                    WHERE m.name = 'tdn_short' LIMIT 1),
          'a short training period keeps a statistic for every window');
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

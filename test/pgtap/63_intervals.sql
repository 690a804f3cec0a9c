-- Intervals that follow volatility (issue 15 item 5): on series simulated and checked by
-- test/reference/intervals.py (numpy; it wrote intervals_series.csv and intervals_expected.csv),
-- naive models trained on the first half, then one bar a day: forecast() -> the bar arrives.
-- Out-of-sample coverage of the 90 % interval overall, for a calm and a volatile symbol of one
-- pooled model, and in the calm and the volatile half of a GARCH(1,1) series (and 5 bars ahead
-- on it: sigma_t sqrt(5)); the same quantile, bounds and coverage counts as numpy; versions
-- without scaled residuals keep the fixed width; the coverage rule of the retrain policy
-- (binomial test against scipy).
-- Run from the repository's root (test/run.sh does).
BEGIN;
SELECT plan(40);

CREATE TEMP TABLE series (symbol text, i int, close float8, sigma float8);
\copy series FROM 'test/reference/intervals_series.csv' WITH (FORMAT csv, HEADER true)
CREATE TEMP TABLE expected (what text, key text, value float8);
\copy expected FROM 'test/reference/intervals_expected.csv' WITH (FORMAT csv, HEADER true)
CREATE FUNCTION pg_temp.ex(w text, k text) RETURNS float8 LANGUAGE sql AS
$$ SELECT value FROM expected WHERE what = w AND key = k $$;
-- bar i of the CSV is the i-th weekday from Monday 2010-01-04
CREATE FUNCTION pg_temp.day_of(i int) RETURNS date LANGUAGE sql AS
$$ SELECT DATE '2010-01-04' + (i / 5) * 7 + i % 5 $$;

INSERT INTO stockml.symbols (symbol, calendar) VALUES ('IVCALM', 'weekdays'), ('IVWILD', 'weekdays'), ('IVGARCH', 'weekdays');
INSERT INTO stockml.feature_sets (name, spec)
VALUES ('iv_ret1', '{"features": [{"name": "ret_1", "indicator": "log_return", "k": 1}]}');
CREATE TEMP TABLE bars AS
SELECT 'IV' || s.symbol AS symbol, s.i, pg_temp.day_of(s.i) AS day, s.close, s.sigma FROM series s;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT symbol, day, close, close, close, close, 1000 FROM bars
 WHERE (symbol IN ('IVCALM', 'IVWILD') AND i < 1200) OR (symbol = 'IVGARCH' AND i < 1300);

SELECT is(version, 1, 'a naive model pooled over a calm and a volatile symbol')
  FROM stockml.train('iv_pooled', ARRAY['IVCALM', 'IVWILD'], 'naive', feature_set => 'iv_ret1');
SELECT is(version, 1, 'a naive model of a GARCH(1,1) series')
  FROM stockml.train('iv_garch', ARRAY['IVGARCH'], 'naive', feature_set => 'iv_ret1');
SELECT is(version, 1, 'the same, 5 bars ahead')
  FROM stockml.train('iv_garch5', ARRAY['IVGARCH'], 'naive', 5, feature_set => 'iv_ret1');
SELECT stockml.deploy('iv_garch5', 1, reason => 'the interval test');
SELECT stockml.deploy('iv_pooled', 1, reason => 'the interval test');
SELECT stockml.deploy('iv_garch', 1, reason => 'the interval test');

-- what train() keeps: the scaled residuals of every validation row, with their scale
SELECT is((reference ->> 'n_scaled')::float8, pg_temp.ex('pooled', 'n_scaled'),
          'pooled: one scaled residual per validation row, as numpy counts them')
  FROM stockml.models WHERE name = 'iv_pooled';
SELECT is((reference ->> 'n_scaled')::bigint,
          (SELECT count(*) FROM stockml.validation_predictions WHERE model_name = 'iv_pooled'),
          '... the rows of validation_predictions')
  FROM stockml.models WHERE name = 'iv_pooled';
SELECT is((reference ->> 'n_scaled')::float8, pg_temp.ex('garch', 'n_scaled'), 'garch: likewise')
  FROM stockml.models WHERE name = 'iv_garch';
SELECT is((reference ->> 'n_scaled')::float8, pg_temp.ex('garch5', 'n_scaled'), 'garch, 5 bars ahead: likewise')
  FROM stockml.models WHERE name = 'iv_garch5';
SELECT is(reference -> 'interval', '{"scale": "ewma", "lambda": 0.94, "seed_returns": 20}'::jsonb,
          'the volatility scale is stored with the version')
  FROM stockml.models WHERE name = 'iv_garch';

-- one bar a day: forecast on the last bar, then the next bar arrives; the pooled model's last
-- 40 forecasts are made at a 50 % level (for the coverage rule below)
DO $$
BEGIN
    FOR t IN 1200 .. 2599 LOOP
        IF t < 2400 THEN
            PERFORM set_config('stockml.interval_level', CASE WHEN t - 1 >= 2359 THEN '0.5' ELSE '0.9' END, true);
            PERFORM stockml.forecast('iv_pooled');
            PERFORM set_config('stockml.interval_level', '0.9', true);
            INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
            SELECT symbol, day, close, close, close, close, 1000 FROM bars
             WHERE symbol IN ('IVCALM', 'IVWILD') AND i = t;
        END IF;
        IF t >= 1300 THEN
            PERFORM stockml.forecast('iv_garch');
            PERFORM stockml.forecast('iv_garch5');
            INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
            SELECT symbol, day, close, close, close, close, 1000 FROM bars WHERE symbol = 'IVGARCH' AND i = t;
        END IF;
    END LOOP;
END
$$;

-- every realized forecast: covered or not, the half of the GARCH series it falls in
CREATE TEMP TABLE realized AS
SELECT p.model_name, p.symbol, b.i AS as_of_i, p.lower, p.upper, p.predicted_close,
       a.close BETWEEN p.lower AND p.upper AS covered, n.sigma AS target_sigma
  FROM stockml.predictions p
  JOIN bars b ON b.symbol = p.symbol AND b.day = p.as_of
  JOIN bars a ON a.symbol = p.symbol AND a.i = b.i + 1 AND a.day = p.target_day
  JOIN bars n ON n.symbol = p.symbol AND n.i = b.i + 1
 WHERE p.model_name IN ('iv_pooled', 'iv_garch');
CREATE TEMP TABLE goal AS SELECT * FROM realized WHERE model_name = 'iv_garch' OR as_of_i < 2359;
CREATE TEMP TABLE garch AS
SELECT g.*, g.target_sigma <= (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY target_sigma)
                                 FROM goal WHERE model_name = 'iv_garch') AS calm_half,
       g.as_of_i < 1300 + 650 AS first_half
  FROM goal g WHERE model_name = 'iv_garch';

SELECT is((SELECT count(*) FROM goal WHERE symbol = 'IVCALM')::float8, pg_temp.ex('CALM', 'n'),
          'out of sample: every forecast realized');
-- the same interval as numpy on the first forecast, the same coverage counts over all of them
SELECT ok(abs(lower / pg_temp.ex(substr(symbol, 3), 'first_lower') - 1) < 1e-9
          AND abs(upper / pg_temp.ex(substr(symbol, 3), 'first_upper') - 1) < 1e-9,
          symbol || ': the first interval is numpy''s, close exp(+-q sigma_t)')
  FROM realized WHERE as_of_i = CASE WHEN symbol = 'IVGARCH' THEN 1299 ELSE 1199 END ORDER BY symbol;
SELECT is(count(*) FILTER (WHERE covered)::float8, pg_temp.ex(substr(symbol, 3), 'covered'),
          symbol || ': the same forecasts covered as numpy''s')
  FROM goal GROUP BY symbol ORDER BY symbol;
SELECT is((SELECT count(*) FILTER (WHERE covered) FROM garch WHERE calm_half)::float8,
          pg_temp.ex('GARCH', 'calm_covered'), 'GARCH: the same split into a calm and a volatile half');

-- 5 bars ahead: the width is q sigma_t sqrt(5)
CREATE TEMP TABLE realized5 AS
SELECT b.i AS as_of_i, p.lower, p.upper, a.close BETWEEN p.lower AND p.upper AS covered
  FROM stockml.predictions p
  JOIN bars b ON b.symbol = p.symbol AND b.day = p.as_of
  JOIN bars a ON a.symbol = p.symbol AND a.i = b.i + 5 AND a.day = p.target_day
 WHERE p.model_name = 'iv_garch5';
SELECT ok(abs(lower / pg_temp.ex('GARCH5', 'first_lower') - 1) < 1e-9 AND abs(upper / pg_temp.ex('GARCH5', 'first_upper') - 1) < 1e-9,
          '5 bars ahead: the first interval is numpy''s, close exp(+-q sigma_t sqrt(5))')
  FROM realized5 WHERE as_of_i = 1299;
SELECT is(count(*) FILTER (WHERE covered)::float8, pg_temp.ex('GARCH5', 'covered'),
          format('5 bars ahead: the same forecasts covered as numpy''s (%s of %s, %s %%)',
                 count(*) FILTER (WHERE covered), count(*), round(100 * avg(covered::int), 1)))
  FROM realized5;

SELECT diag(format('%s: coverage %s %% of %s (the fixed width of 0.1.0: %s %%)', symbol,
                   round(100 * avg(covered::int), 1), count(*),
                   round((100 * pg_temp.ex(substr(symbol, 3), 'covered_fixed') / count(*))::numeric, 1)))
  FROM goal GROUP BY symbol ORDER BY symbol;
SELECT diag(format('GARCH calm half %s %%, volatile half %s %% (fixed width: %s %%, %s %%); first half %s %%, second half %s %%',
                   round(100 * avg(covered::int) FILTER (WHERE calm_half), 1),
                   round(100 * avg(covered::int) FILTER (WHERE NOT calm_half), 1),
                   round((100 * pg_temp.ex('GARCH', 'calm_covered_fixed') / pg_temp.ex('GARCH', 'calm_n'))::numeric, 1),
                   round((100 * pg_temp.ex('GARCH', 'volatile_covered_fixed') / pg_temp.ex('GARCH', 'volatile_n'))::numeric, 1),
                   round(100 * avg(covered::int) FILTER (WHERE first_half), 1),
                   round(100 * avg(covered::int) FILTER (WHERE NOT first_half), 1)))
  FROM garch;

-- the goals (issue 15 item 5)
SELECT ok(coverage BETWEEN 0.88 AND 0.92, format('pooled model: out-of-sample coverage %s in 88-92 %%', round(coverage::numeric, 4)))
  FROM stockml.forecast_accuracy('iv_pooled', pg_temp.day_of(1200), pg_temp.day_of(2359))
 WHERE symbol IS NULL;
SELECT ok(avg(covered::int) BETWEEN 0.88 AND 0.92,
          format('%s (one pooled model): coverage %s in 88-92 %%', symbol, round(avg(covered::int), 4)))
  FROM goal WHERE model_name = 'iv_pooled' GROUP BY symbol ORDER BY symbol;
SELECT ok(avg(covered::int) BETWEEN 0.88 AND 0.92, format('GARCH: coverage %s in 88-92 %%', round(avg(covered::int), 4)))
  FROM garch;
SELECT ok(avg(covered::int) BETWEEN 0.86 AND 0.94,
          format('GARCH %s half: coverage %s within 4 points of 90 %%', CASE WHEN calm_half THEN 'calm' ELSE 'volatile' END,
                 round(avg(covered::int), 4)))
  FROM garch GROUP BY calm_half ORDER BY calm_half DESC;
SELECT ok(avg(covered::int) BETWEEN 0.86 AND 0.94,
          format('GARCH %s half in time: coverage %s within 4 points of 90 %%', CASE WHEN first_half THEN 'first' ELSE 'second' END,
                 round(avg(covered::int), 4)))
  FROM garch GROUP BY first_half ORDER BY first_half DESC;
SELECT cmp_ok((SELECT avg(ln(upper / lower)) FROM goal WHERE symbol = 'IVWILD')
              / (SELECT avg(ln(upper / lower)) FROM goal WHERE symbol = 'IVCALM'), '>', 3::float8,
              'the volatile symbol''s interval is wider (sigma 4x the calm one''s)');

-- a version without scaled residuals (as 0.1.0 trained them) keeps the fixed width
UPDATE stockml.models SET reference = reference - 'scaled_residuals' - 'n_scaled' - 'interval'
 WHERE name = 'iv_garch';
SELECT ok(abs(ln(upper / predicted_close) / pg_temp.ex('garch', 'q0') - 1) < 1e-9
          AND abs(ln(predicted_close / lower) / pg_temp.ex('garch', 'q0') - 1) < 1e-9,
          'without scaled residuals: the fixed width, numpy''s quantile of |log error|')
  FROM stockml.predict('iv_garch', 'IVGARCH');

-- the coverage rule's test against scipy.stats.binom.cdf
SELECT ok(abs(stockml.coverage_test(split_part(key, '/', 1)::bigint, split_part(key, '/', 2)::bigint,
                                    split_part(key, '/', 3)::float8) - value) <= 1e-10 * greatest(value, 1e-300) + 1e-300,
          'coverage_test(' || key || ') = scipy''s binom.cdf')
  FROM expected WHERE what = 'binom' ORDER BY key LIMIT 3;
SELECT is(count(*) FILTER (WHERE abs(stockml.coverage_test(split_part(key, '/', 1)::bigint, split_part(key, '/', 2)::bigint,
                                                          split_part(key, '/', 3)::float8) / value - 1) > 1e-9), 0::bigint,
          'coverage_test = scipy''s binom.cdf on every reference case')
  FROM expected WHERE what = 'binom';
SELECT throws_ok('SELECT stockml.coverage_test(5, 4, 0.8)', '22023', NULL, 'covered > n: invalid_parameter_value');
SELECT throws_ok('SELECT stockml.coverage_test(3, 4, 1.5)', '22023', NULL, 'a bound outside [0, 1]: invalid_parameter_value');

-- the coverage rule: the pooled model's last 40 forecasts (50 % intervals) fall below 80 %
INSERT INTO stockml.retrain_policies (model_name, max_drift_share) VALUES ('iv_pooled', NULL), ('iv_garch', NULL);
SELECT throws_ok($$UPDATE stockml.retrain_policies SET min_coverage = 1 WHERE model_name = 'iv_pooled'$$, '23514', NULL,
                 'min_coverage must be inside (0, 1)');
CREATE TEMP TABLE mon AS SELECT * FROM stockml.monitor('iv_pooled');
SELECT diag('iv_pooled: ' || retrain_reason) FROM mon;
SELECT matches(retrain_reason, '^coverage 0\.[0-9]+ < 0\.8 over [0-9]+ intervals \(binomial p = 0\.0000\)$',
               'realized coverage significantly below min_coverage: the coverage rule fires')
  FROM mon;
SELECT ok(abs((e.details ->> 'coverage_p_value')::float8
              - stockml.coverage_test(round((e.details ->> 'coverage')::float8 * (e.details ->> 'n_intervals')::float8)::bigint,
                                      (e.details ->> 'n_intervals')::bigint, 0.8::float8)) < 1e-12
          AND (e.details ->> 'n_intervals')::int = (SELECT count(*) FROM realized r
                                                      WHERE r.model_name = 'iv_pooled'
                                                        AND pg_temp.day_of(r.as_of_i + 1) >= m.window_start),
          '... with the evidence in the retrain event: every realized interval of the window, the binomial p')
  FROM stockml.retrain_events e, mon m WHERE e.job_id = m.retrain_job;
SELECT ok(coalesce(retrain_reason, '') NOT LIKE '%coverage%', 'the GARCH model''s 90 % intervals: no coverage retrain')
  FROM stockml.monitor('iv_garch');
UPDATE stockml.retrain_policies SET min_forecasts = 1000 WHERE model_name = 'iv_pooled';
SELECT ok(coalesce(retrain_reason, '') NOT LIKE '%coverage%', 'the rule waits for min_forecasts realized intervals')
  FROM stockml.monitor('iv_pooled');
UPDATE stockml.retrain_policies SET min_forecasts = 20, min_coverage = NULL WHERE model_name = 'iv_pooled';
SELECT ok(coalesce(retrain_reason, '') NOT LIKE '%coverage%', 'min_coverage NULL: never for coverage')
  FROM stockml.monitor('iv_pooled');

SELECT * FROM finish();
ROLLBACK;

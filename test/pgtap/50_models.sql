-- Models: signatures, train_end leaks nothing from later bars, training is
-- deterministic, several symbols train as one day-ordered matrix, horizons reach
-- the right target day, and the alias decides what predict() serves.
BEGIN;
SELECT plan(30);

SELECT has_function('stockml', 'train', ARRAY['text', 'text[]', 'text', 'integer', 'jsonb', 'text', 'date', 'integer[]']);
SELECT volatility_is('stockml', 'train', ARRAY['text', 'text[]', 'text', 'integer', 'jsonb', 'text', 'date', 'integer[]'], 'volatile');
SELECT has_function('stockml', 'predict', ARRAY['text', 'text', 'integer', 'text']);
SELECT has_function('stockml', 'predict', ARRAY['text', 'double precision[]', 'integer', 'text']);
SELECT volatility_is('stockml', 'predict', ARRAY['text', 'double precision[]', 'integer', 'text'], 'stable');
SELECT function_returns('stockml', 'forecast', ARRAY['text', 'text[]', 'integer', 'text'], 'setof stockml.forecast_result');
SELECT function_returns('stockml', 'deploy', ARRAY['text', 'integer', 'text', 'text'], 'stockml.alias_history');
SELECT function_returns('stockml', 'rollback', ARRAY['text', 'text', 'text'], 'stockml.alias_history');
SELECT volatility_is('stockml', 'fit', ARRAY['text', 'double precision[]', 'double precision[]', 'jsonb'], 'immutable');
SELECT has_view('stockml', 'model_versions', 'view model_versions');

-- two symbols: TAPA a seeded walk of 400 weekdays, TAPB the same bars, TAPC the walk shifted by 100 days
SELECT setseed(0.1);
INSERT INTO stockml.symbols (symbol) VALUES ('TAPA'), ('TAPB'), ('TAPC');
CREATE TEMP TABLE walk AS
SELECT i, DATE '2015-01-05' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS day,
       50 * exp(sum(0.01 * (random() - 0.5)) OVER (ORDER BY i)) AS c
  FROM generate_series(1, 400) i;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT s, day, c, c * 1.01, c * 0.99, c, 1000 + i FROM walk, unnest(ARRAY['TAPA', 'TAPB']) s;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'TAPC', day + 140, c, c * 1.01, c * 0.99, c, 1000 + i FROM walk;

-- train_end: bars after it change nothing, not even as targets
SELECT lives_ok($$SELECT stockml.train('tap_end', ARRAY['TAPA'], 'ridge', params => '{"auto_deploy": false}', train_end => '2016-01-29')$$,
                'train up to train_end');
UPDATE stockml.prices SET close = close * 1.5, high = high * 1.5, low = low * 1.5, open = open * 1.5
 WHERE symbol = 'TAPA' AND day > '2016-01-29';
SELECT lives_ok($$SELECT stockml.train('tap_end', ARRAY['TAPA'], 'ridge', params => '{"auto_deploy": false}', train_end => '2016-01-29')$$,
                'train again after the later bars changed');
SELECT is((SELECT model FROM stockml.models WHERE name = 'tap_end' AND version = 2),
          (SELECT model FROM stockml.models WHERE name = 'tap_end' AND version = 1),
          'the same model bytes: nothing after train_end was read');
SELECT is((SELECT metrics FROM stockml.models WHERE name = 'tap_end' AND version = 2),
          (SELECT metrics FROM stockml.models WHERE name = 'tap_end' AND version = 1),
          'the same metrics');
SELECT cmp_ok((SELECT train_end FROM stockml.models WHERE name = 'tap_end' AND version = 1), '<=', '2016-01-29'::date,
              'the last training row is on or before train_end');
UPDATE stockml.prices SET close = close / 1.5, high = high / 1.5, low = low / 1.5, open = open / 1.5
 WHERE symbol = 'TAPA' AND day > '2016-01-29';

-- several symbols: one matrix ordered by day; a duplicated symbol doubles every row, which
-- leaves least squares (alpha 0) and every fold boundary unchanged
SELECT lives_ok($$SELECT stockml.train('tap_one', ARRAY['TAPA'], 'ridge', params => '{"alpha": 0, "auto_deploy": false}')$$,
                'train on one symbol');
SELECT lives_ok($$SELECT stockml.train('tap_two', ARRAY['TAPA', 'TAPB'], 'ridge', params => '{"alpha": 0, "auto_deploy": false}')$$,
                'train on the symbol and its copy');
SELECT is((SELECT n_rows FROM stockml.models WHERE name = 'tap_two'),
          2 * (SELECT n_rows FROM stockml.models WHERE name = 'tap_one'), 'twice the rows');
SELECT ok((SELECT bool_and(abs(a.c::float8 - b.c::float8) <= 1e-6 * greatest(abs(b.c::float8), 1e-2))
             FROM jsonb_array_elements_text(stockml.model_describe((SELECT model FROM stockml.models WHERE name = 'tap_two')) -> 'coef') WITH ORDINALITY a(c, i)
             JOIN jsonb_array_elements_text(stockml.model_describe((SELECT model FROM stockml.models WHERE name = 'tap_one')) -> 'coef') WITH ORDINALITY b(c, i) USING (i)),
          'the same least-squares coefficients');
SELECT is((SELECT round((metrics ->> 'skill')::numeric, 9) FROM stockml.models WHERE name = 'tap_two'),
          (SELECT round((metrics ->> 'skill')::numeric, 9) FROM stockml.models WHERE name = 'tap_one'),
          'the same out-of-sample skill (same folds, every test row twice)');
-- a symbol whose days start later joins the matrix by day
SELECT lives_ok($$SELECT stockml.train('tap_mixed', ARRAY['TAPA', 'TAPC'], 'ridge', params => '{"auto_deploy": false}')$$,
                'train on symbols with different days');
SELECT is((SELECT n_rows FROM stockml.models WHERE name = 'tap_mixed'),
          (SELECT count(*) FROM stockml.symbols s, stockml.features(s.symbol) f
            WHERE s.symbol IN ('TAPA', 'TAPC') AND f.y IS NOT NULL), 'every usable row of both symbols');
SELECT is((SELECT train_start FROM stockml.models WHERE name = 'tap_mixed'),
          (SELECT min(f.day) FROM stockml.features('TAPA') f), 'training starts at the earliest symbol''s first row');

-- the horizon: targets 5 weekdays ahead
SELECT lives_ok($$SELECT stockml.train('tap_h5', ARRAY['TAPA'], 'ridge', 5, '{"auto_deploy": false}')$$, 'train horizon 5');
SELECT lives_ok($$SELECT stockml.deploy('tap_h5', 1)$$, 'deploy it');
SELECT is((SELECT target_day - as_of FROM stockml.predict('tap_h5', 'TAPA')), 7,
          'the last bar is a Friday: 5 weekdays ahead is the next Friday');

-- the alias decides the version served, in the same transaction too
SELECT lives_ok($$SELECT stockml.deploy('tap_end', 2)$$, 'deploy version 2');
SELECT is((SELECT model_version FROM stockml.predict('tap_end', 'TAPA')), 2, 'predict serves version 2');
SELECT lives_ok($$SELECT stockml.deploy('tap_end', 1)$$, 'deploy version 1');
SELECT is((SELECT model_version FROM stockml.predict('tap_end', 'TAPA')), 1, 'predict serves version 1 at once');

SELECT * FROM finish();
ROLLBACK;

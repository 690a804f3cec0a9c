-- predict(model, symbol) never returns a non-finite or non-positive close (issue 16 item 3).
-- The last close itself cannot be one: the CHECK constraints of stockml.prices refuse a
-- close of 0, a negative one, NaN and Infinity (so predict()'s check on the forecast price
-- is reached only through the model's predicted log return).  A one-feature ridge model
-- fitted by stockml.fit() to targets of +1000 and -1000 predicts a log return whose
-- exp() overflows to Infinity or underflows to 0: predict() refuses both with an ERROR
-- naming the last close and the log return, forecast() records nothing (a failed row);
-- the batch form returns the log return itself.
BEGIN;
SELECT plan(11);

SELECT setseed(0.61);
INSERT INTO stockml.symbols (symbol) VALUES ('PCS');
INSERT INTO stockml.prices (symbol, day, open, high, low, close)
SELECT 'PCS', d, c, c * 1.01, c * 0.99, c
  FROM (SELECT DATE '2021-01-04' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
               20 * exp(sum(0.01 * (random() - 0.5)) OVER (ORDER BY i)) AS c
          FROM generate_series(1, 120) i) s;

-- the last close: a CHECK refuses every value that is not a finite positive price
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close) VALUES ('PCS', '2030-01-02', 1, 1, 0, 0)$$,
                 '23514', NULL, 'a close of 0 is refused by a CHECK');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close) VALUES ('PCS', '2030-01-02', 1, 1, -2, -1)$$,
                 '23514', NULL, 'a negative close is refused');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close) VALUES ('PCS', '2030-01-02', 1, 'Infinity', 1, 'Infinity')$$,
                 '23514', NULL, 'an infinite close is refused');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close) VALUES ('PCS', '2030-01-02', 1, 2, 1, 'NaN')$$,
                 '23514', NULL, 'a NaN close is refused');
SELECT throws_ok($$UPDATE stockml.prices SET close = 0, low = 0 WHERE symbol = 'PCS' AND day = (SELECT max(day) FROM stockml.prices WHERE symbol = 'PCS')$$,
                 '23514', NULL, 'the last bar cannot be changed to a close of 0 either');

-- a model on one feature, then its blob replaced by one that predicts a log return of +-1000
INSERT INTO stockml.feature_sets (name, spec) VALUES ('pc_one', '{"features": [{"name": "r1", "indicator": "log_return"}]}');
SELECT is((SELECT version FROM stockml.train('pc', ARRAY['PCS'], 'ridge', feature_set => 'pc_one',
                                             params => '{"auto_deploy": false}')), 1, 'a one-feature model');
SELECT stockml.deploy('pc', 1);
UPDATE stockml.models SET model = stockml.fit('ridge', '{{0},{1},{2}}', '{1000,1000,1000}', '{"alpha": 0}')
 WHERE name = 'pc' AND version = 1;
SELECT throws_ok($$SELECT * FROM stockml.predict('pc', 'PCS')$$, '22003',
                 format('model "pc" forecasts a close of Infinity for "PCS"'),
                 'a forecast close that overflows is an ERROR, not Infinity');
SELECT is(round(stockml.predict('pc', ARRAY[0.01]::float8[])::numeric, 6), 1000::numeric,
          '... the batch form returns the log return itself');
UPDATE stockml.models SET model = stockml.fit('ridge', '{{0},{1},{2}}', '{-1000,-1000,-1000}', '{"alpha": 0}')
 WHERE name = 'pc' AND version = 1;
SELECT throws_ok($$SELECT * FROM stockml.predict('pc', 'PCS')$$, '22003',
                 'model "pc" forecasts a close of 0 for "PCS"',
                 'a forecast close that underflows to 0 is an ERROR, not 0');
SELECT results_eq($$SELECT status, error, predicted_close IS NULL FROM stockml.forecast('pc')$$,
                  $$VALUES ('failed', 'model "pc" forecasts a close of 0 for "PCS"', true)$$,
                  '... forecast() returns the symbol as failed, with the reason');
SELECT is((SELECT count(*) FROM stockml.predictions WHERE model_name = 'pc'), 0::bigint,
          '... and records nothing');

SELECT * FROM finish();
ROLLBACK;

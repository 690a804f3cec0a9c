-- Total-return adjustment (doc/adjustment.md), checked against a hand-worked example:
-- a 2:1 split with ex-date 2024-01-04 and a cash dividend of 1.04 with ex-date 2024-01-08
-- (the close the day before is 52, so earlier prices are multiplied by 1 - 1.04/52 = 0.98).
--
--   day         close  factor             adjusted close   one-bar log return
--   2024-01-02  100    0.5 * 0.98 = 0.49  49.00
--   2024-01-03  102    0.49               49.98            ln(49.98/49)    = 0.0198026
--   2024-01-04   51    0.98               49.98            0 (the split is no crash)
--   2024-01-05   52    0.98               50.96            ln(50.96/49.98) = 0.0194181
--   2024-01-08   50.96 1                  50.96            0 (the dividend is paid out)
--   2024-01-09   51.5  1                  51.50            ln(51.5/50.96)  = 0.0105408
SET extra_float_digits = 0;
CREATE TEMP TABLE spec AS SELECT '{"features": [{"name": "ret_1", "indicator": "log_return", "k": 1}]}'::jsonb AS spec;
SELECT status, rows_inserted FROM stockml.ingest_csv('ADJ', E'Date,Open,High,Low,Close,Volume\n'
    '2024-01-02,100,101,99,100,1000\n2024-01-03,101,103,100,102,1000\n2024-01-04,51,52,50,51,2000\n'
    '2024-01-05,51,53,50,52,2000\n2024-01-08,51,52,50,50.96,2000\n2024-01-09,51,52,50,51.5,2000\n');
-- the raw series: a -69 % "return" on the split day, -2 % on the dividend day
SELECT day, round(close::numeric, 4) AS close, round(x[1]::numeric, 7) AS ret_1, round(y::numeric, 7) AS y
  FROM stockml.features_spec('ADJ', (SELECT spec FROM spec)) ORDER BY day;
INSERT INTO stockml.corporate_actions (symbol, day, kind, amount, numerator, denominator, source)
VALUES ('ADJ', '2024-01-04', 'split', NULL, 2, 1, 'csv'),
       ('ADJ', '2024-01-08', 'dividend', 1.04, NULL, NULL, 'csv');
-- adjusted: the table above
SELECT day, round(close::numeric, 4) AS close, round(x[1]::numeric, 7) AS ret_1, round(y::numeric, 7) AS y
  FROM stockml.features_spec('ADJ', (SELECT spec FROM spec)) ORDER BY day;
-- the stored bars are kept as delivered
SELECT day, close FROM stockml.prices WHERE symbol = 'ADJ' ORDER BY day;
-- total_return: adjusted close ratio between two stored days (NULL when one is not stored)
SELECT round(stockml.total_return('ADJ', '2024-01-02', '2024-01-09')::numeric, 7) AS all_period,  -- 51.5/49
       round(stockml.total_return('ADJ', '2024-01-03', '2024-01-04')::numeric, 7) AS over_split,  -- 1
       round(stockml.total_return('ADJ', '2024-01-05', '2024-01-08')::numeric, 7) AS over_dividend, -- 1
       round(stockml.total_return('ADJ', '2024-01-09', '2024-01-02')::numeric, 7) AS backwards,   -- 49/51.5
       stockml.total_return('ADJ', '2024-01-06', '2024-01-09') AS not_a_bar,
       stockml.total_return('ADJ', '2024-01-05', '2024-01-05') AS same_day;
-- the provider's adjusted close wins where two neighbouring bars have one: the same series
-- as an Adj Close column (Yahoo's download) gives the same adjusted closes, and the
-- corporate actions are then not applied a second time
SELECT status FROM stockml.ingest_csv('ADJ2', E'Date,Open,High,Low,Close,Adj Close\n'
    '2024-01-02,100,101,99,100,49\n2024-01-03,101,103,100,102,49.98\n2024-01-04,51,52,50,51,49.98\n'
    '2024-01-05,51,53,50,52,50.96\n2024-01-08,51,52,50,50.96,50.96\n2024-01-09,51,52,50,51.5,51.5\n');
INSERT INTO stockml.corporate_actions (symbol, day, kind, amount, numerator, denominator, source)
VALUES ('ADJ2', '2024-01-04', 'split', NULL, 2, 1, 'csv');
SELECT a.day, round(a.close::numeric, 4) AS from_corporate_actions, round(b.close::numeric, 4) AS from_adj_close
  FROM stockml.features_spec('ADJ', (SELECT spec FROM spec)) a
  JOIN stockml.features_spec('ADJ2', (SELECT spec FROM spec)) b USING (day) ORDER BY day;
-- a dividend not below the close before it cannot be applied
UPDATE stockml.corporate_actions SET amount = 52 WHERE symbol = 'ADJ' AND kind = 'dividend';
SELECT count(*) FROM stockml.features_spec('ADJ', (SELECT spec FROM spec));
-- predict() and the forecast ledger across a split: a random walk model (naive) on 300
-- weekdays of a geometric walk with a 2:1 split on its 200th bar
INSERT INTO stockml.symbols (symbol, source) VALUES ('ADJW', 'csv');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'ADJW', d, c, c * 1.01, c * 0.99, c, 1000
  FROM (SELECT d, 100 * exp(0.01 * sin(n)) * CASE WHEN n >= 200 THEN 0.5 ELSE 1 END AS c
          FROM (SELECT d::date, row_number() OVER (ORDER BY d) AS n
                  FROM generate_series('2023-01-02'::date, '2024-12-31', '1 day') d
                 WHERE extract(isodow FROM d) < 6) w
         WHERE n <= 300) b;
SELECT day AS split_day FROM stockml.prices WHERE symbol = 'ADJW' ORDER BY day OFFSET 199 LIMIT 1 \gset
INSERT INTO stockml.corporate_actions (symbol, day, kind, numerator, denominator, source)
VALUES ('ADJW', :'split_day', 'split', 2, 1, 'csv');
-- no -69 % day in the targets
SELECT count(*) AS rows, round(max(abs(y))::numeric, 3) AS max_abs_y
  FROM stockml.features('ADJW');
SET client_min_messages = warning;
SELECT version FROM stockml.train('adjw_naive', ARRAY['ADJW'], 'naive');
RESET client_min_messages;
SELECT version AS deployed FROM stockml.deploy('adjw_naive', 1);
-- on the latest bar's scale, as quoted: the random walk predicts the last stored close
SELECT p.as_of, round(p.predicted_close::numeric, 6) = round(l.close::numeric, 6) AS last_close, p.price_scale
  FROM stockml.predict('adjw_naive', 'ADJW') p
  JOIN stockml.prices l ON l.symbol = 'ADJW' AND l.day = p.as_of;
-- a forecast made the day before the split is realized on its own scale: the raw close on
-- the split day is half, the realized close is not
INSERT INTO stockml.predictions (model_id, model_name, model_version, symbol, as_of, target_day,
                                 predicted_close, lower, upper)
SELECT m.id, m.name, m.version, 'ADJW', b.day, :'split_day', b.close, b.close * 0.9, b.close * 1.1
  FROM stockml.models m,
       (SELECT day, close FROM stockml.prices WHERE symbol = 'ADJW' AND day < :'split_day'
         ORDER BY day DESC LIMIT 1) b
 WHERE m.name = 'adjw_naive';
SELECT round(predicted_close::numeric, 4) AS predicted, round(actual_close::numeric, 4) AS actual,
       round((SELECT close FROM stockml.prices WHERE symbol = 'ADJW' AND day = :'split_day')::numeric, 4) AS raw_close,
       round(error::numeric, 4) AS error
  FROM stockml.forecast_history WHERE symbol = 'ADJW';
SELECT symbol, n_forecasts, round(mae::numeric, 4) AS mae, coverage
  FROM stockml.forecast_accuracy('adjw_naive', :'split_day', :'split_day') WHERE symbol IS NOT NULL;
SELECT stockml.drop_model('adjw_naive') IS NOT NULL AS dropped;
DELETE FROM stockml.symbols WHERE symbol = 'ADJW';
DELETE FROM stockml.symbols WHERE symbol IN ('ADJ', 'ADJ2');
DELETE FROM stockml.corporate_actions WHERE symbol IN ('ADJ', 'ADJ2');
DELETE FROM stockml.ingest_log WHERE symbol IN ('ADJ', 'ADJ2');

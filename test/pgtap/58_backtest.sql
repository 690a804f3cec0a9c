-- Backtest (issue 10 item 5): backtest()'s metrics equal numpy's (test/reference/backtest.py
-- wrote backtest_rows.csv, the validation rows of a made-up version, and backtest_expected.csv)
-- to 1e-9; ridge trained on four seeded random walks has a Sharpe indistinguishable from 0, on
-- AR(1) returns (phi 0.4) a clearly positive one, which costs lower; the ERRORs; the Grafana view
-- backtest_equity; the reader role may call both.
-- Run from the repository's root (test/run.sh does).
BEGIN;
SELECT plan(42);

CREATE TEMP TABLE series (symbol text, i int, close float8);
\copy series FROM 'test/reference/backtest_series.csv' WITH (FORMAT csv, HEADER true)
CREATE TEMP TABLE vrows (symbol text, i int, y float8, yhat float8);
\copy vrows FROM 'test/reference/backtest_rows.csv' WITH (FORMAT csv, HEADER true)
-- model: the made-up version the expected figures are of (bt_ref; bt_ref5, horizon 5, below)
CREATE TEMP TABLE expected (strategy text, cost_bps float8, symbol text, metric text, value float8,
                            model text DEFAULT 'bt_ref');
\copy expected (strategy, cost_bps, symbol, metric, value) FROM 'test/reference/backtest_expected.csv' WITH (FORMAT csv, HEADER true)
-- bar i of the CSVs is the i-th weekday from Monday 2010-01-04
CREATE FUNCTION pg_temp.day_of(i int) RETURNS date LANGUAGE sql AS
$$ SELECT DATE '2010-01-04' + (i / 5) * 7 + i % 5 $$;

INSERT INTO stockml.symbols (symbol, calendar)
SELECT DISTINCT symbol, 'weekdays' FROM series;
INSERT INTO stockml.feature_sets (name, spec)
VALUES ('bt_ret', '{"features": [{"name": "ret_1", "indicator": "log_return", "k": 1},
                                 {"name": "ret_5", "indicator": "log_return", "k": 5}]}');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT symbol, pg_temp.day_of(i), close, close, close, close, 1000 FROM series;

SELECT is(version, 1, 'ridge pooled over four random walks')
  FROM stockml.train('bt_rw', ARRAY['RW1', 'RW2', 'RW3', 'RW4'], 'ridge', feature_set => 'bt_ret');
SELECT is(version, 1, 'ridge on AR(1) returns')
  FROM stockml.train('bt_ar', ARRAY['AR1'], 'ridge', feature_set => 'bt_ret');

-- 1. the metrics equal numpy's on the made-up version's validation rows
INSERT INTO stockml.models (name, version, algorithm, symbols, horizon, feature_set, feature_spec, params,
                            metrics, train_start, train_end, n_rows, reference, model)
SELECT 'bt_ref', 1, algorithm, ARRAY['BTA', 'BTB', 'BTC'], 1, feature_set, feature_spec, params,
       metrics, train_start, train_end, n_rows, reference, model
  FROM stockml.models WHERE name = 'bt_ar' AND version = 1;
INSERT INTO stockml.validation_predictions (model_id, model_name, model_version, fold, symbol, day,
                                            target_day, close, y, yhat)
SELECT m.id, 'bt_ref', 1, 1, r.symbol, pg_temp.day_of(r.i), pg_temp.day_of(r.i + 1), 100, r.y, r.yhat
  FROM vrows r, stockml.models m WHERE m.name = 'bt_ref';
CREATE FUNCTION pg_temp.mismatches(s text, c float8, m text DEFAULT 'bt_ref') RETURNS text LANGUAGE sql AS $$
SELECT coalesce(string_agg(format('%s %s: %s, numpy %s', e.symbol, e.metric, got.value, e.value), '; '), 'none')
  FROM expected e
  LEFT JOIN (SELECT b.symbol, kv.key AS metric, kv.value::float8 AS value
               FROM stockml.backtest(m, cost_bps => c, strategy => s, version => 1) b,
                    jsonb_each_text(to_jsonb(b) - 'symbol' - 'first_day' - 'last_day') kv) got
    ON got.symbol = e.symbol AND got.metric = e.metric
 WHERE e.model = m AND e.strategy = s AND e.cost_bps = c AND e.metric <> 'buy_and_hold_days'
   AND (got.value IS NULL OR abs(got.value - e.value) > 1e-9 * greatest(1, abs(e.value)))
$$;
SELECT is(pg_temp.mismatches('long_short', 5), 'none', 'long_short at 5 bps: every metric of every symbol and ''all'' equals numpy''s to 1e-9');
SELECT is(pg_temp.mismatches('long_flat', 0), 'none', 'long_flat at 0 bps: likewise');
SELECT is(pg_temp.mismatches('long_short', 25), 'none', 'long_short at 25 bps: likewise');
SELECT is((SELECT count(*)::int FROM expected WHERE model = 'bt_ref' AND metric <> 'buy_and_hold_days'),
          3 * 4 * 14, '... 14 metrics of 3 symbols and ''all'' in 3 cases compared');
SELECT is(array_agg(symbol ORDER BY ordinality), ARRAY['BTA', 'BTB', 'BTC', 'all'], 'one row per symbol, then ''all''')
  FROM stockml.backtest('bt_ref', version => 1) WITH ORDINALITY AS t(symbol);
SELECT is((SELECT array_agg(symbol ORDER BY symbol) FROM stockml.backtest('bt_ref', ARRAY['BTB'], version => 1)),
          ARRAY['BTB', 'all'], 'symbols: only those, and ''all'' of them');
SELECT ok((SELECT b.sharpe = a.sharpe AND b.days = a.days
             FROM stockml.backtest('bt_ref', ARRAY['BTB'], version => 1) b,
                  stockml.backtest('bt_ref', ARRAY['BTB'], version => 1) a
            WHERE b.symbol = 'all' AND a.symbol = 'BTB'),
          '... ''all'' of one symbol is that symbol');

-- 2. random walks: the Sharpe is indistinguishable from 0 (|Sharpe| < 2 / sqrt(years))
SELECT cmp_ok((SELECT min(days) FROM stockml.backtest('bt_rw', version => 1)), '>', 500,
              'random walks: more than 500 out-of-sample days a symbol');
SELECT is((SELECT coalesce(string_agg(format('%s %s', symbol, round(sharpe::numeric, 2)), ', '), 'none')
             FROM stockml.backtest('bt_rw', version => 1)
            WHERE NOT abs(sharpe) < 2 / sqrt(days / 252.0)),
          'none', 'random walks: every symbol''s and ''all''''s Sharpe within 2 / sqrt(years) of 0');
SELECT is((SELECT coalesce(string_agg(format('%s %s', symbol, round(sharpe::numeric, 2)), ', '), 'none')
             FROM stockml.backtest('bt_rw', cost_bps => 0, strategy => 'long_flat', version => 1)
            WHERE NOT abs(sharpe - buy_and_hold_sharpe) < 2 * 2 / sqrt(days / 252.0)),
          'none', 'random walks, long_flat without costs: no better than buy-and-hold beyond noise');
-- a t-test across the four walks: the mean Sharpe over its standard error
SELECT cmp_ok((SELECT abs(avg(sharpe) / (stddev_samp(sharpe) / 2))
                 FROM stockml.backtest('bt_rw', cost_bps => 0, version => 1) WHERE symbol <> 'all'),
              '<', 3.182::float8, 'random walks: the mean Sharpe of the four is not different from 0 (t, 3 df, 5 %)');

SELECT diag(format('%s: %s days, Sharpe %s, buy-and-hold %s, hit rate %s', symbol, days, round(sharpe::numeric, 3),
                   round(buy_and_hold_sharpe::numeric, 3), round(hit_rate::numeric, 3)))
  FROM stockml.backtest('bt_rw', version => 1);

-- 3. AR(1) returns: the edge is found, costs lower it
SELECT cmp_ok(sharpe, '>', (4 / sqrt(days / 252.0))::float8, 'AR(1): the Sharpe is clearly positive (> 4 / sqrt(years))')
  FROM stockml.backtest('bt_ar', version => 1) WHERE symbol = 'AR1';
SELECT cmp_ok(hit_rate, '>', 0.55::float8, 'AR(1): more than 55 % of the days in the market are right')
  FROM stockml.backtest('bt_ar', version => 1) WHERE symbol = 'AR1';
SELECT ok(sharpe > buy_and_hold_sharpe AND total_return > buy_and_hold_total_return,
          'AR(1): beats buy-and-hold')
  FROM stockml.backtest('bt_ar', version => 1) WHERE symbol = 'AR1';
SELECT is((SELECT array_agg(b.sharpe ORDER BY c.c DESC) = array_agg(b.sharpe ORDER BY b.sharpe)
                  AND count(DISTINCT b.sharpe) = 5
             FROM unnest(ARRAY[0, 5, 20, 50, 100]::float8[]) AS c(c),
                  stockml.backtest('bt_ar', cost_bps => c.c, version => 1) b WHERE b.symbol = 'AR1'),
          true, 'AR(1): the Sharpe falls strictly as cost_bps rises (0, 5, 20, 50, 100)');
SELECT ok(a.total_return - b.total_return > 0 AND a.turnover = b.turnover,
          'costs lower the total return, not the trades')
  FROM stockml.backtest('bt_ar', cost_bps => 0, version => 1) a,
       stockml.backtest('bt_ar', cost_bps => 20, version => 1) b
 WHERE a.symbol = 'AR1' AND b.symbol = 'AR1';
SELECT ok(f.turnover < s.turnover AND f.hit_rate IS NOT NULL,
          'long_flat trades less than long_short (no reversals)')
  FROM stockml.backtest('bt_ar', strategy => 'long_flat', version => 1) f,
       stockml.backtest('bt_ar', version => 1) s
 WHERE f.symbol = 'AR1' AND s.symbol = 'AR1';

SELECT diag(format('AR1 at %s bps %s: Sharpe %s, total return %s, buy-and-hold Sharpe %s, hit rate %s, turnover %s, max drawdown %s',
                   c.c, s.s, round(b.sharpe::numeric, 3), round(b.total_return::numeric, 3),
                   round(b.buy_and_hold_sharpe::numeric, 3), round(b.hit_rate::numeric, 3),
                   round(b.turnover::numeric, 3), round(b.max_drawdown::numeric, 3)))
  FROM unnest(ARRAY[0, 5, 20, 50, 100]::float8[]) AS c(c), unnest(ARRAY['long_short', 'long_flat']) AS s(s),
       stockml.backtest('bt_ar', cost_bps => c.c, strategy => s.s, version => 1) b WHERE b.symbol = 'AR1';

-- 4. ERRORs
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_none')$$, '42704', 'model "bt_none" does not exist',
                 'unknown model');
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_ar', version => 7)$$, '42704', 'model "bt_ar" has no version 7',
                 'unknown version');
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_ref', ARRAY['BTA', 'NOPE'], version => 1)$$, '42704',
                 'version 1 of model "bt_ref" has no validation predictions of NOPE', 'unknown symbol');
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_ar', strategy => 'short_only', version => 1)$$, '22023',
                 'unknown strategy "short_only"', 'unknown strategy');
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_ar', cost_bps => -1, version => 1)$$, '22023',
                 'cost_bps must be a finite number >= 0, not -1', 'negative cost');
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_ar', cost_bps => 'NaN', version => 1)$$, '22023',
                 'cost_bps must be a finite number >= 0, not NaN', 'NaN cost');
INSERT INTO stockml.models (name, version, algorithm, symbols, horizon, feature_set, feature_spec, params,
                            metrics, train_start, train_end, n_rows, reference, model)
SELECT name, v, algorithm, symbols, h, feature_set, feature_spec, params,
       metrics, train_start, train_end, n_rows, reference, model
  FROM stockml.models, (VALUES (2, 1)) AS t(v, h) WHERE name = 'bt_ar' AND version = 1;
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_ar', version => 2)$$, '55000',
                 'version 2 of model "bt_ar" has no validation predictions', 'a version without validation rows');
SELECT throws_ok($$SELECT * FROM stockml.backtest('bt_ref')$$, '55000',
                 'model "bt_ref" has no production version', 'no production version');

-- 5. the view, for the production version; the reader role
SELECT stockml.deploy('bt_ar', 1, reason => 'the backtest test')
 WHERE NOT EXISTS (SELECT FROM stockml.model_aliases WHERE name = 'bt_ar' AND alias = 'production' AND version = 1);
SELECT is((SELECT array_agg(DISTINCT symbol ORDER BY symbol) FROM stockml.backtest_equity WHERE model = 'bt_ar'),
          ARRAY['AR1', 'all'], 'backtest_equity: the production version''s curve, per symbol and ''all''');
SELECT ok(abs(e.equity - 1 - b.total_return) < 1e-12
          AND abs(e.buy_and_hold_equity - 1 - b.buy_and_hold_total_return) < 1e-12
          AND e.time = (b.last_day::timestamp AT TIME ZONE 'UTC'),
          '... its last point is backtest()''s total return (long_short, 5 bps), time = the day at 00:00 UTC')
  FROM stockml.backtest('bt_ar') b,
       (SELECT * FROM stockml.backtest_equity WHERE model = 'bt_ar' AND symbol = 'AR1' ORDER BY time DESC LIMIT 1) e
 WHERE b.symbol = 'AR1';
SET LOCAL ROLE stockml_reader;
SELECT cmp_ok((SELECT count(*)::int FROM stockml.backtest_equity WHERE model = 'bt_ar'), '>', 500,
              'stockml_reader reads backtest_equity');
SELECT is((SELECT days FROM stockml.backtest('bt_ar') WHERE symbol = 'AR1') > 500, true,
          'stockml_reader calls backtest()');
RESET ROLE;

-- 6. horizons above 1: one position every h-th validation day, held h bars, never overlapping
SELECT is(version, 1, 'ridge on AR(1) returns, horizon 5')
  FROM stockml.train('bt_ar5', ARRAY['AR1'], 'ridge', 5, '{"auto_deploy": false}', 'bt_ret');
SELECT is(version, 1, 'ridge pooled over four random walks, horizon 5')
  FROM stockml.train('bt_rw5', ARRAY['RW1', 'RW2', 'RW3', 'RW4'], 'ridge', 5, '{"auto_deploy": false}', 'bt_ret');
CREATE FUNCTION pg_temp.mid(m text) RETURNS bigint LANGUAGE sql STABLE AS
$$ SELECT id FROM stockml.models WHERE name = m AND version = 1 $$;
SELECT is((SELECT days FROM stockml.backtest('bt_ar5', version => 1) WHERE symbol = 'AR1'),
          (SELECT ((count(DISTINCT day) + 4) / 5)::int FROM stockml.validation_predictions WHERE model_id = pg_temp.mid('bt_ar5')),
          'horizon 5: one period every 5th validation day');
SELECT is((WITH c AS MATERIALIZED (   -- each model's curve once, not once per joined row
             SELECT t.m, t.id, c.symbol, c.day
               FROM (SELECT m, pg_temp.mid(m) AS id FROM (VALUES ('bt_ar5'), ('bt_rw5')) AS n(m)) AS t
              CROSS JOIN LATERAL stockml._backtest_curves(t.id, NULL, 5, 'long_short') c)
           SELECT count(*)::int FROM (
             SELECT v.target_day, lead(c.day) OVER (PARTITION BY c.m, c.symbol ORDER BY c.day) AS next_day
               FROM c JOIN stockml.validation_predictions v ON v.model_id = c.id AND v.symbol = c.symbol AND v.day = c.day) o
            WHERE o.next_day < o.target_day), 0,
          '... no position is taken before the previous one''s target day (no overlap)');
SELECT ok(abs((SELECT total_return FROM stockml.backtest('bt_ar5', cost_bps => 0, version => 1) WHERE symbol = 'AR1')
              - (SELECT exp(sum(ln(1 + sign(yhat) * (exp(y) - 1)))) - 1
                   FROM (SELECT y, yhat, row_number() OVER (ORDER BY day) AS k
                           FROM stockml.validation_predictions WHERE model_id = pg_temp.mid('bt_ar5')) r
                  WHERE (k - 1) % 5 = 0)) < 1e-9,
          '... the total return compounds the 5-bar returns of rows 1, 6, 11, ... (no cost)');
SELECT ok(abs(b.sharpe - c.s * sqrt(252.0 / 5)) < 1e-9 AND abs(b.annual_volatility - c.sd * sqrt(252.0 / 5)) < 1e-12
          AND abs(b.annual_return - power(1 + b.total_return, 252.0 / 5 / b.days) + 1) < 1e-12,
          '... annualised with 252 / 5 periods a year')
  FROM stockml.backtest('bt_ar5', version => 1) b,
       (SELECT avg(strategy_return) / stddev_samp(strategy_return) AS s, stddev_samp(strategy_return) AS sd
          FROM stockml._backtest_curves(pg_temp.mid('bt_ar5'), NULL, 5, 'long_short') WHERE symbol = 'AR1') c
 WHERE b.symbol = 'AR1';
SELECT is((SELECT coalesce(string_agg(format('%s %s', symbol, round(sharpe::numeric, 2)), ', '), 'none')
             FROM stockml.backtest('bt_rw5', version => 1)
            WHERE NOT abs(sharpe) < 2 / sqrt(days * 5 / 252.0)),
          'none', 'random walks, horizon 5: every Sharpe within 2 / sqrt(years) of 0');
SELECT ok(sharpe > 2 / sqrt(days * 5 / 252.0),
          format('AR(1), horizon 5: the edge is found (Sharpe %s, %s periods)', round(sharpe::numeric, 2), days))
  FROM stockml.backtest('bt_ar5', version => 1) WHERE symbol = 'AR1';
SELECT ok((SELECT bool_and(s0 > s20 AND s20 > s100) FROM (
             SELECT (SELECT sharpe FROM stockml.backtest('bt_ar5', cost_bps => 0, version => 1) WHERE symbol = 'AR1') AS s0,
                    (SELECT sharpe FROM stockml.backtest('bt_ar5', cost_bps => 20, version => 1) WHERE symbol = 'AR1') AS s20,
                    (SELECT sharpe FROM stockml.backtest('bt_ar5', cost_bps => 100, version => 1) WHERE symbol = 'AR1') AS s100) t),
          '... and costs lower it');
-- numpy's horizon-5 backtest of the made-up rows (test/reference/backtest.py): its grid, the
-- skipped periods of the gappy symbols, 252 / 5 periods a year
CREATE TEMP TABLE vrows5 (symbol text, i int, t int, y float8, yhat float8);
\copy vrows5 FROM 'test/reference/backtest_rows_h5.csv' WITH (FORMAT csv, HEADER true)
ALTER TABLE expected ALTER model SET DEFAULT 'bt_ref5';
\copy expected (strategy, cost_bps, symbol, metric, value) FROM 'test/reference/backtest_expected_h5.csv' WITH (FORMAT csv, HEADER true)
INSERT INTO stockml.models (name, version, algorithm, symbols, horizon, feature_set, feature_spec, params,
                            metrics, train_start, train_end, n_rows, reference, model)
SELECT 'bt_ref5', 1, algorithm, ARRAY['BTA', 'BTB', 'BTC'], 5, feature_set, feature_spec, params,
       metrics, train_start, train_end, n_rows, reference, model
  FROM stockml.models WHERE name = 'bt_ar' AND version = 1;
INSERT INTO stockml.validation_predictions (model_id, model_name, model_version, fold, symbol, day,
                                            target_day, close, y, yhat)
SELECT pg_temp.mid('bt_ref5'), 'bt_ref5', 1, 1, r.symbol, pg_temp.day_of(r.i), pg_temp.day_of(r.t), 100, r.y, r.yhat
  FROM vrows5 r;
SELECT is(pg_temp.mismatches('long_short', 5, 'bt_ref5') || ' / ' || pg_temp.mismatches('long_flat', 0, 'bt_ref5')
          || ' / ' || pg_temp.mismatches('long_short', 25, 'bt_ref5'),
          'none / none / none', 'horizon 5: every metric of three gappy symbols and ''all'' equals numpy''s to 1e-9, in the three cases');
SELECT is((SELECT count(*)::int FROM expected WHERE model = 'bt_ref5' AND metric <> 'buy_and_hold_days'), 3 * 4 * 14, '... 14 metrics of 3 symbols and ''all'' in 3 cases compared');

SELECT diag(format('horizon 5, %s: Sharpe %s at 5 bps (buy-and-hold %s), hit rate %s, turnover %s, %s periods', symbol,
                   round(sharpe::numeric, 2), round(buy_and_hold_sharpe::numeric, 2), round(hit_rate::numeric, 3),
                   round(turnover::numeric, 2), days))
  FROM (SELECT * FROM stockml.backtest('bt_ar5', version => 1) UNION ALL SELECT * FROM stockml.backtest('bt_rw5', version => 1)) b;

SELECT * FROM finish();
ROLLBACK;

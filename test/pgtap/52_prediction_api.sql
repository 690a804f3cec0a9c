-- The prediction API (issue 12 item 2): predict() / predict(x) / forecast() of a version
-- by number or alias, with clear errors; train(..., horizons => ...) with one head per
-- horizon, each checked against scikit-learn (test/reference/horizons.py wrote
-- test/reference/horizons_expected.csv: walk-forward with gap = horizon, refit, last bar);
-- predict_path() on the symbol's trading calendar; the format-2 blob; forecast() that
-- records what it can and returns the symbols it could not, with the reason.
BEGIN;
SELECT plan(65);

\set csv `cat data/MSFT.csv`
\set ref `cat test/reference/horizons_expected.csv`
SELECT is((SELECT status FROM stockml.ingest_csv('MSFT', :'csv')), 'ok', 'MSFT loaded');
CREATE TEMP TABLE ref AS
SELECT f[1]::int AS horizon, f[2]::int AS fold, f[3]::int AS n_train, f[4]::int AS n_test,
       f[5]::float8 AS mae, f[6]::float8 AS naive_mae, f[7]::float8 AS skill,
       nullif(f[8], '')::float8 AS yhat_last, nullif(f[9], '')::float8 AS close_last
  FROM regexp_split_to_table(:'ref', E'\n') WITH ORDINALITY l(line, i),
       LATERAL string_to_array(l.line, ',') f
 WHERE l.i > 1 AND l.line <> '';
SELECT is((SELECT count(*)::int FROM ref), 30, 'the reference: 5 heads x (5 folds + pooled)');

SELECT has_function('stockml', 'predict_path', ARRAY['text', 'text', 'integer', 'text']);
SELECT function_returns('stockml', 'forecast', ARRAY['text', 'text[]', 'integer', 'text'], 'setof stockml.forecast_result');

-- one version, five heads; version 2 a single-horizon model with the same parameters
SELECT is((SELECT version FROM stockml.train('tap_path', ARRAY['MSFT'], 'ridge', 1,
                 '{"alpha": 10, "auto_deploy": false}', horizons => ARRAY[3, 1, 5, 2, 4])), 1,
          'train five heads (horizons in any order)');
SELECT is((SELECT version FROM stockml.train('tap_path', ARRAY['MSFT'], 'ridge', 1,
                 '{"alpha": 10, "auto_deploy": false}')), 2, 'train one head, the same parameters');
SELECT lives_ok($$SELECT stockml.deploy('tap_path', 1)$$, 'deploy the five heads');
SELECT lives_ok($$SELECT stockml.deploy('tap_path', 2, alias => 'staging')$$, 'version 2 is staging');

-- every head against scikit-learn: pooled walk-forward metrics (gap = horizon), per fold in run_metrics
SELECT is((SELECT array_agg(k::int ORDER BY k::int) FROM stockml.models m, jsonb_object_keys(m.metrics -> 'heads') k
            WHERE m.name = 'tap_path' AND m.version = 1), ARRAY[1, 2, 3, 4, 5], 'metrics -> heads: one per horizon');
SELECT is((SELECT count(*)::int FROM stockml.models m JOIN ref r ON r.fold = 0
            CROSS JOIN LATERAL (SELECT m.metrics -> 'heads' -> r.horizon::text AS h) x
            WHERE m.name = 'tap_path' AND m.version = 1
              AND (x.h ->> 'n_test')::int = r.n_test AND (x.h ->> 'n_train')::int = r.n_train
              AND abs((x.h ->> 'mae')::float8 - r.mae) <= 1e-8 * r.mae
              AND abs((x.h ->> 'naive_mae')::float8 - r.naive_mae) <= 1e-12 * r.naive_mae
              AND abs((x.h ->> 'skill')::float8 - r.skill) <= 1e-8), 5,
          'each head''s pooled MAE, naive MAE, skill and row counts match scikit-learn (1e-8)');
SELECT is((SELECT count(*)::int FROM stockml.models m JOIN stockml.run_metrics rm ON rm.run_id = m.run_id
             JOIN ref r ON rm.key = 'h' || r.horizon || '_mae' AND rm.step = r.fold
            WHERE m.name = 'tap_path' AND m.version = 1 AND abs(rm.value - r.mae) <= 1e-8 * r.mae), 30,
          'run_metrics h<horizon>_mae of every fold and pooled match scikit-learn');
SELECT is((SELECT count(*)::int FROM stockml.models m JOIN stockml.run_metrics rm ON rm.run_id = m.run_id
             JOIN ref r ON rm.key = 'h' || r.horizon || '_n_train' AND rm.step = r.fold
            WHERE m.name = 'tap_path' AND m.version = 1 AND rm.value = r.n_train), 30,
          'each fold trains on the rows up to horizon before its test block (TimeSeriesSplit gap = horizon)');
SELECT ok((SELECT (m.metrics -> 'heads' -> '1' ->> 'primary')::boolean AND
                  NOT (m.metrics -> 'heads' -> '2' ->> 'primary')::boolean
             FROM stockml.models m WHERE m.name = 'tap_path' AND m.version = 1), 'the head of horizon 1 is primary');
-- the primary head is the single-horizon model: same metrics, same validation rows
SELECT is((SELECT m.metrics - 'heads' - 'gate' FROM stockml.models m WHERE m.name = 'tap_path' AND m.version = 1),
          (SELECT m.metrics - 'gate' FROM stockml.models m WHERE m.name = 'tap_path' AND m.version = 2),
          'the version''s metrics are those of a model of its horizon alone');
SELECT is((SELECT array_agg(yhat ORDER BY day) FROM stockml.validation_predictions WHERE model_name = 'tap_path' AND model_version = 1),
          (SELECT array_agg(yhat ORDER BY day) FROM stockml.validation_predictions WHERE model_name = 'tap_path' AND model_version = 2),
          'the deploy gate sees the primary head''s validation rows');
SELECT is((SELECT m.params -> 'horizons' FROM stockml.models m WHERE m.name = 'tap_path' AND m.version = 1),
          '[1, 2, 3, 4, 5]'::jsonb, 'models.params keeps the horizons (a retrain job passes them on)');
SELECT is((SELECT m.params ? 'horizons' FROM stockml.models m WHERE m.name = 'tap_path' AND m.version = 2),
          false, 'a single-head version has no horizons in params');

-- the blob: format 2 with the five horizons; a single head stays format 1
SELECT is((SELECT get_byte(model, 4) + 256 * get_byte(model, 5) FROM stockml.models WHERE name = 'tap_path' AND version = 1),
          2, 'five heads: blob format 2');
SELECT is((SELECT get_byte(model, 4) + 256 * get_byte(model, 5) FROM stockml.models WHERE name = 'tap_path' AND version = 2),
          1, 'one head: blob format 1, as 0.1.0 wrote');
SELECT is((SELECT stockml.model_describe(model) -> 'horizons' FROM stockml.models WHERE name = 'tap_path' AND version = 1),
          '[1, 2, 3, 4, 5]'::jsonb, 'model_describe lists the heads');
SELECT is((SELECT stockml.model_describe(model) -> 'heads' -> 0 FROM stockml.models WHERE name = 'tap_path' AND version = 1),
          (SELECT stockml.model_describe(model) FROM stockml.models WHERE name = 'tap_path' AND version = 2),
          'head 1 of the format-2 blob is byte for byte the single-horizon model');
SELECT throws_ok($$SELECT stockml.model_predict(model, '{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}') FROM stockml.models
                    WHERE name = 'tap_path' AND version = 1$$, '0A000', 'the model holds 5 heads, one per horizon',
                 'model_predict of a blob of several heads says so');
CREATE TEMP TABLE blob2 AS SELECT model FROM stockml.models WHERE name = 'tap_path' AND version = 1;
CREATE FUNCTION pg_temp.decode(b bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stockml.model_describe(b);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SELECT is((SELECT count(*)::int FROM blob2, generate_series(0, length(model) - 1, 7) len
            WHERE pg_temp.decode(substr(model, 1, len)) <> 'XX001'), 0, 'every 7th truncation of a format-2 blob is refused (XX001)');
SELECT is((SELECT count(*)::int FROM blob2, generate_series(0, length(model) - 1, 5) i
            WHERE pg_temp.decode(set_byte(model, i, get_byte(model, i) # 16)) NOT IN ('XX001', '0A000')), 0,
          'every 5th flipped byte of a format-2 blob is refused');

-- predict_path: five rows on the XNYS calendar, each close matching scikit-learn's refit
CREATE TEMP TABLE path AS SELECT * FROM stockml.predict_path('tap_path', 'MSFT');
SELECT is((SELECT array_agg(horizon ORDER BY horizon) FROM path), ARRAY[1, 2, 3, 4, 5], 'one row per head');
SELECT is((SELECT array_agg(target_day ORDER BY horizon) FROM path),
          (SELECT array_agg(stockml.next_trading_day('XNYS', '2001-09-27', h) ORDER BY h) FROM generate_series(1, 5) h),
          'target days: horizon trading days after as_of on XNYS');
SELECT is((SELECT array_agg(target_day ORDER BY horizon) FROM path),
          ARRAY['2001-09-28', '2001-10-01', '2001-10-02', '2001-10-03', '2001-10-04']::date[],
          'Thursday 2001-09-27: Friday, then Monday to Thursday');
SELECT is((SELECT count(*)::int FROM path p JOIN ref r ON r.horizon = p.horizon AND r.fold = 0
            WHERE abs(p.predicted_close - r.close_last * exp(r.yhat_last)) <= 1e-8 * p.predicted_close), 5,
          'each head''s predicted close matches scikit-learn''s refit on its own target (1e-8)');
SELECT ok((SELECT bool_and(lower < predicted_close AND predicted_close < upper AND model_version = 1
                           AND price_scale = 'as_of' AND as_of = '2001-09-27') FROM path),
          'every head has an interval around its forecast');
SELECT ok((SELECT (SELECT upper - lower FROM path WHERE horizon = 5) > (SELECT upper - lower FROM path WHERE horizon = 1)),
          'the interval of 5 days ahead is wider than that of 1 day');
SELECT is((SELECT row(symbol, as_of, target_day, predicted_close, lower, upper, model_version, price_scale)::text FROM path WHERE horizon = 1),
          (SELECT row(symbol, as_of, target_day, predicted_close, lower, upper, model_version, price_scale)::text FROM stockml.predict('tap_path', 'MSFT')),
          'predict() on the five heads serves the head of the version''s horizon, as predict_path''s row');
SELECT is((SELECT row(predicted_close, lower, upper)::text FROM stockml.predict('tap_path', 'MSFT')),
          (SELECT row(predicted_close, lower, upper)::text FROM stockml.predict('tap_path', 'MSFT', alias => 'staging')),
          'and equals the single-horizon version''s forecast');
SELECT is((SELECT count(*)::int FROM stockml.predict_path('tap_path', 'MSFT', version => 2)), 1,
          'a single-head version''s path is one row');

-- version and alias: for a symbol, for batch x, with errors that say what exists
SELECT is((SELECT model_version FROM stockml.predict('tap_path', 'MSFT')), 1, 'default: production');
SELECT is((SELECT model_version FROM stockml.predict('tap_path', 'MSFT', version => 2)), 2, 'version => 2');
SELECT is((SELECT model_version FROM stockml.predict('tap_path', 'MSFT', alias => 'staging')), 2, 'alias => staging');
SELECT is((SELECT model_version FROM stockml.predict('tap_path', 'MSFT', alias => 'production')), 1, 'alias => production');
SELECT is((SELECT count(*)::int FROM stockml.features('MSFT') f
            WHERE stockml.predict('tap_path', f.x, version => 1) = stockml.predict('tap_path', f.x)
              AND stockml.predict('tap_path', f.x, alias => 'staging') = stockml.predict('tap_path', f.x, version => 2)),
          200, 'batch predict(model, x): version => and alias => pick the same heads');
SELECT ok((SELECT abs(f.close * exp(stockml.predict('tap_path', f.x, alias => 'staging'))
                      - (SELECT predicted_close FROM stockml.predict('tap_path', 'MSFT', alias => 'staging'))) < 1e-9
             FROM stockml.features('MSFT') f ORDER BY f.day DESC LIMIT 1),
          'batch predict(x, alias) of the last row is predict(symbol, alias)''s log return');
SELECT is((SELECT count(*)::int FROM (VALUES (1), (2)) v(ver), stockml.features('MSFT') f
            WHERE stockml.predict('tap_path', f.x, version => v.ver) IS NOT NULL), 400,
          'a version that changes from row to row is served row by row');
SELECT throws_ok($$SELECT * FROM stockml.predict('tap_path', 'MSFT', version => 7)$$, '42704',
                 'model "tap_path" has no version 7', 'unknown version');
SELECT throws_ok($$SELECT stockml.predict('tap_path', '{1}'::float8[], version => 7)$$, '42704',
                 'model "tap_path" has no version 7', 'unknown version, batch');
SELECT throws_ok($$SELECT * FROM stockml.predict('tap_path', 'MSFT', version => 0)$$, '22023',
                 'version must be 1 or more, not 0', 'version 0');
SELECT throws_ok($$SELECT * FROM stockml.predict('tap_path', 'MSFT', alias => 'canary')$$, '42704',
                 'model "tap_path" has no alias "canary"', 'unknown alias');
SELECT throws_ok($$SELECT * FROM stockml.predict('tap_path', 'MSFT', version => 1, alias => 'staging')$$, '22023',
                 'give version or alias, not both', 'version and alias together');
SELECT throws_ok($$SELECT * FROM stockml.predict_path('nope', 'MSFT')$$, '42704',
                 'model "nope" does not exist', 'unknown model');
SELECT is((SELECT stockml.predict('tap_path', NULL::float8[], version => 1)), NULL, 'NULL x gives NULL, as before');

-- horizons that cannot be trained are refused before any run
SELECT throws_ok($$SELECT stockml.train('tap_bad', ARRAY['MSFT'], horizon => 2, horizons => ARRAY[1, 3])$$, '22023',
                 'horizon 2 is not among horizons', 'the version''s horizon must be a head');
SELECT throws_ok($$SELECT stockml.train('tap_bad', ARRAY['MSFT'], horizons => ARRAY[1, 1])$$, '22023',
                 'horizon 1 is in horizons twice', 'a horizon twice');
SELECT throws_ok($$SELECT stockml.train('tap_bad', ARRAY['MSFT'], horizons => ARRAY[1, 0])$$, '22023',
                 'horizon must be between 1 and 10000 bars, not 0', 'horizon 0');
SELECT throws_ok($$SELECT stockml.train('tap_bad', ARRAY['MSFT'], params => '{"horizons": [1, 2]}', horizons => ARRAY[1, 3])$$,
                 '22023', 'horizons and params'' "horizons" differ', 'argument and params disagree');
SELECT throws_ok($$SELECT stockml.train('tap_bad', ARRAY['MSFT'], params => '{"horizons": "1,2"}')$$,
                 '22023', 'parameter "horizons" must be an array of whole numbers', 'params horizons not an array');
SELECT is((SELECT count(*)::int FROM stockml.runs WHERE model_name = 'tap_bad'), 0, 'no run was recorded');
-- params' horizons (what a retrain job passes) train the same heads
SELECT is((SELECT (metrics -> 'heads' -> '3' ->> 'mae')::float8 FROM stockml.train('tap_params', ARRAY['MSFT'], 'ridge', 1,
                  '{"alpha": 10, "auto_deploy": false, "horizons": [1, 3]}')),
          (SELECT (metrics -> 'heads' -> '3' ->> 'mae')::float8 FROM stockml.models WHERE name = 'tap_path' AND version = 1),
          'params => {"horizons": [...]} trains the same head');

-- heads of a non-linear algorithm: gradient-boosted trees, the primary head as trees of its horizon alone
SELECT is((SELECT version FROM stockml.train('tap_gbt', ARRAY['MSFT'], 'gbt', 3, '{"auto_deploy": false}',
                                             horizons => ARRAY[1, 3])), 1, 'train two gbt heads');
SELECT is((SELECT version FROM stockml.train('tap_gbt3', ARRAY['MSFT'], 'gbt', 3, '{"auto_deploy": false}')), 1,
          'train one gbt head of horizon 3');
SELECT is((SELECT array_agg(horizon || ':' || (target_day - as_of)) FROM stockml.predict_path('tap_gbt', 'MSFT', version => 1)),
          ARRAY['1:1', '3:5'], 'predict_path of the gbt heads: Friday, then Tuesday');
SELECT is((SELECT predicted_close FROM stockml.predict_path('tap_gbt', 'MSFT', version => 1) WHERE horizon = 3),
          (SELECT predicted_close FROM stockml.predict('tap_gbt3', 'MSFT', version => 1)),
          'the gbt head of horizon 3 forecasts as the gbt model of horizon 3');

-- forecast(): one symbol without history and one unknown do not stop the batch
INSERT INTO stockml.symbols (symbol) VALUES ('SHORT');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'SHORT', day, open, high, low, close, volume FROM stockml.prices WHERE symbol = 'MSFT' ORDER BY day LIMIT 10;
SET LOCAL client_min_messages = error;
CREATE TEMP TABLE fc AS SELECT * FROM stockml.forecast('tap_path', ARRAY['MSFT', 'SHORT', 'NO.SUCH']);
RESET client_min_messages;
SELECT is((SELECT array_agg(symbol || ':' || status ORDER BY symbol) FROM fc),
          ARRAY['MSFT:ok', 'NO.SUCH:failed', 'SHORT:failed'], 'a row per symbol with its status');
SELECT is((SELECT error FROM fc WHERE symbol = 'SHORT'),
          'symbol "SHORT" has 10 stored bars; model "tap_path" needs at least 50', 'the reason it failed');
SELECT ok((SELECT predicted_close IS NULL AND id IS NULL AND model_version = 1 FROM fc WHERE symbol = 'NO.SUCH'),
          'a failed row has no prediction, and names the version tried');
SELECT is((SELECT array_agg(symbol || ':' || model_version) FROM stockml.predictions WHERE model_name = 'tap_path'),
          ARRAY['MSFT:1'], 'what could be forecast is recorded, nothing else');
SELECT is((SELECT predicted_close FROM fc WHERE symbol = 'MSFT'),
          (SELECT predicted_close FROM stockml.predict('tap_path', 'MSFT')), 'the recorded forecast is predict()''s');
SELECT is((SELECT array_agg(model_version || ':' || status) FROM stockml.forecast('tap_path', alias => 'staging')),
          ARRAY['2:ok'], 'forecast(alias => staging) records the staging version on the model''s own symbols');
SELECT throws_ok($$SELECT * FROM stockml.forecast('tap_path', version => 9)$$, '42704',
                 'model "tap_path" has no version 9', 'forecast of an unknown version is an ERROR before anything');

SELECT * FROM finish();
ROLLBACK;

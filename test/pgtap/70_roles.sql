-- Roles that fit the README: its Getting-started, feature-set, prediction, monitoring and
-- Grafana examples run as a member of stockml_admin, as a member of stockml_reader and as a
-- role with neither; what each must be able to do works, the rest is refused with 42501.
-- The built-in feature set "default" can be neither changed nor deleted, by anyone.
-- Run from the repository's root (test/run.sh does): the examples read data/MSFT.csv.
BEGIN;
SELECT plan(45);

\set csv `cat data/MSFT.csv`
CREATE ROLE roles_admin IN ROLE stockml_admin;
CREATE ROLE roles_reader IN ROLE stockml_reader;
CREATE ROLE roles_nobody;
GRANT USAGE ON SCHEMA stockml TO roles_nobody;

-- stockml_admin: the Getting started, as the README gives it
SET ROLE roles_admin;
SELECT is((SELECT rows_inserted FROM stockml.ingest_csv('MSFT', :'csv')), 249::bigint,
          'admin: ingest_csv loads MSFT');
SELECT is((SELECT count(*) FROM (SELECT day, open, high, low, close, volume
                                   FROM stockml.prices WHERE symbol = 'MSFT' ORDER BY day DESC LIMIT 3) b),
          3::bigint, 'admin: reads the bars');
SELECT lives_ok($$SELECT id, symbol, source, status, rows_inserted, rows_rejected, error FROM stockml.ingest_log$$,
                'admin: reads the ingest log');
SELECT is((SELECT count(*) FROM (SELECT day, close, round(stockml.rsi(close, 14) OVER w::numeric, 1) AS rsi_14
                                   FROM stockml.prices WHERE symbol = 'MSFT'
                                 WINDOW w AS (PARTITION BY symbol ORDER BY day) ORDER BY day DESC LIMIT 3) i),
          3::bigint, 'admin: indicators over the bars');
SELECT is((SELECT count(*) FROM stockml.features('MSFT')), 200::bigint, 'admin: features()');
SELECT is((SELECT version FROM stockml.train('msft_ridge', ARRAY['MSFT'], 'ridge', params => '{"alpha": 50}')),
          1, 'admin: train()');
SELECT is((SELECT count(*) FROM (SELECT version, algorithm, aliases, mae, naive_mae, directional_accuracy, skill
                                   FROM stockml.model_versions WHERE name = 'msft_ridge') v),
          1::bigint, 'admin: reads stockml.model_versions');
SELECT is((SELECT version FROM stockml.deploy('msft_ridge', 1, reason => 'try it')), 1, 'admin: deploy()');
SELECT is((SELECT model_version FROM stockml.predict('msft_ridge', 'MSFT')), 1, 'admin: predict(model, symbol)');
SELECT is((SELECT count(stockml.predict('msft_ridge', x)) FROM stockml.features('MSFT')), 200::bigint,
          'admin: batch predict(model, x) over features()');
SELECT is((SELECT count(*) FROM stockml.forecast('msft_ridge')), 1::bigint, 'admin: forecast()');
SELECT lives_ok($$SELECT * FROM stockml.monitor('msft_ridge')$$, 'admin: monitor()');
-- feature sets: the README's own set, then changed and removed
SELECT lives_ok($$INSERT INTO stockml.feature_sets (name, spec) VALUES ('short', '{"features": [
  {"name": "ret_1", "indicator": "log_return"}, {"name": "rsi_5", "indicator": "rsi", "n": 5}]}')$$,
                'admin: creates a feature set');
SELECT is((SELECT count(*) FROM stockml.features('MSFT', feature_set => 'short', horizon => 5)), 244::bigint,
          'admin: features() of that set');
SELECT lives_ok($$UPDATE stockml.feature_sets SET description = 'two features' WHERE name = 'short'$$,
                'admin: changes a feature set');
SELECT lives_ok($$DELETE FROM stockml.feature_sets WHERE name = 'short'$$, 'admin: deletes a feature set');
SELECT lives_ok($$SELECT stockml.feature_names(spec) FROM stockml.feature_sets WHERE name = 'default'$$,
                'admin: reads the names of default');
-- the built-in set
SELECT throws_ok($$UPDATE stockml.feature_sets SET description = 'mine' WHERE name = 'default'$$, '42501',
                 'the built-in feature set "default" cannot be changed', 'admin: default cannot be changed');
SELECT throws_ok($$DELETE FROM stockml.feature_sets WHERE name = 'default'$$, '42501',
                 'the built-in feature set "default" cannot be deleted', 'admin: default cannot be deleted');
SELECT throws_ok($$DELETE FROM stockml.feature_sets$$, '42501',
                 'the built-in feature set "default" cannot be deleted', 'admin: nor deleted with the rest');
-- every view of schema stockml (the README's and Grafana's)
SELECT is(array_agg(c.relname ORDER BY c.relname), NULL, 'admin: may read every view of schema stockml')
  FROM pg_class c
 WHERE c.relnamespace = 'stockml'::regnamespace AND c.relkind = 'v'
   AND NOT has_table_privilege(c.oid, 'SELECT');
SELECT lives_ok($$SELECT * FROM stockml.job_status$$, 'admin: reads job_status');
SELECT lives_ok($$SELECT * FROM stockml.version_forecasts$$, 'admin: reads version_forecasts');
RESET ROLE;

-- the superuser cannot change default either (a trigger, not a privilege)
SELECT throws_ok($$UPDATE stockml.feature_sets SET spec = '{"features": [{"name": "r", "indicator": "range"}]}' WHERE name = 'default'$$,
                 '42501', 'the built-in feature set "default" cannot be changed', 'superuser: default cannot be changed');
SELECT throws_ok($$TRUNCATE stockml.feature_sets$$, '42501',
                 'the built-in feature set "default" cannot be deleted', 'superuser: feature_sets cannot be truncated');
SELECT is((SELECT count(*) FROM stockml.feature_sets WHERE name = 'default'), 1::bigint, 'default is still there');

-- stockml_reader: predict, batch predict, the Grafana views; nothing else
SET ROLE roles_reader;
SELECT is((SELECT model_version FROM stockml.predict('msft_ridge', 'MSFT')), 1, 'reader: predict(model, symbol)');
SELECT is((SELECT count(p) FROM (SELECT day, stockml.predict('msft_ridge', x) AS p FROM stockml.features('MSFT')) b),
          200::bigint, 'reader: the README''s batch predict(model, x) FROM features(...)');
SELECT is((SELECT count(*) FROM stockml.features('MSFT', horizon => 5)), 200::bigint, 'reader: features() of default');
SELECT throws_ok($$SELECT * FROM stockml.features('NOPE')$$, '42704', NULL, 'reader: an unknown symbol is the usual error');
SELECT lives_ok($$SELECT time, close FROM stockml.price_history WHERE symbol = 'MSFT'$$, 'reader: price_history');
SELECT lives_ok($$SELECT * FROM stockml.forecast_history$$, 'reader: forecast_history');
SELECT throws_ok($$SELECT model FROM stockml.models$$, '42501', NULL, 'reader: no model blobs');
SELECT throws_ok($$SELECT count(*) FROM stockml.prices$$, '42501', NULL, 'reader: reads the bars only through views and features()');
SELECT throws_ok($$SELECT spec FROM stockml.feature_sets$$, '42501', NULL, 'reader: reads no table, feature_sets included');
SELECT throws_ok($$SELECT * FROM stockml.runs$$, '42501', NULL, 'reader: no runs');
SELECT throws_ok($$SELECT * FROM stockml.ingest_csv('MSFT', 'Date,Open,High,Low,Close,Volume')$$, '42501', NULL,
                 'reader: no ingest');
SELECT throws_ok($$UPDATE stockml.prices SET close = close WHERE symbol = 'MSFT'$$, '42501', NULL, 'reader: no writes to the bars');
SELECT throws_ok($$INSERT INTO stockml.feature_sets (name, spec) VALUES ('r', '{"features": [{"name": "r", "indicator": "range"}]}')$$,
                 '42501', NULL, 'reader: creates no feature set');
SELECT throws_ok($$SELECT * FROM stockml.train('reader_model', ARRAY['MSFT'])$$, '42501', NULL, 'reader: no train()');
SELECT throws_ok($$SELECT * FROM stockml.deploy('msft_ridge', 1)$$, '42501', NULL, 'reader: no deploy()');
SELECT throws_ok($$SELECT * FROM stockml.forecast('msft_ridge')$$, '42501', NULL, 'reader: no forecast()');
SELECT throws_ok($$SELECT * FROM stockml.monitor('msft_ridge')$$, '42501', NULL, 'reader: no monitor()');
RESET ROLE;

-- a role in neither: refused, with the privilege error
SET ROLE roles_nobody;
SELECT throws_ok($$SELECT * FROM stockml.predict('msft_ridge', 'MSFT')$$, '42501', NULL, 'nobody: no predict()');
SELECT throws_ok($$SELECT * FROM stockml.features('MSFT')$$, '42501', NULL, 'nobody: no features() (no bars)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

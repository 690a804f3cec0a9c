-- Monitoring tables, the Grafana views and the stockml_reader role.
\set VERBOSITY terse
-- policies refuse nonsense
INSERT INTO stockml.retrain_policies (model_name, window_days) VALUES ('p', 1);
INSERT INTO stockml.retrain_policies (model_name, drift_method) VALUES ('p', 'chi2');
INSERT INTO stockml.retrain_policies (model_name, max_drift_share) VALUES ('p', 1.5);
INSERT INTO stockml.retrain_policies (model_name, drift_threshold) VALUES ('p', 'Infinity');
INSERT INTO stockml.retrain_policies (model_name, max_model_age) VALUES ('p', '-1 day');
INSERT INTO stockml.retrain_events (model_name, model_version, reason, status) VALUES ('p', 1, 'x', 'maybe');
\set VERBOSITY default
INSERT INTO stockml.retrain_policies (model_name) VALUES ('p')
RETURNING model_name, window_days, drift_method, drift_threshold, max_drift_share, min_skill,
          min_forecasts, max_model_age, enabled;
DELETE FROM stockml.retrain_policies WHERE model_name = 'p';

-- the reference sample, in either shape, one array per feature in the order asked
SELECT * FROM stockml.reference_columns('{"names": ["a", "b"], "sample": [[1, 10], [2, null], [3, 30]], "abs_residuals": [0.1]}', ARRAY['b', 'a']);
SELECT * FROM stockml.reference_columns('{"a": [1, 2], "b": [5]}', ARRAY['a', 'b', 'c']);
SELECT * FROM stockml.reference_columns('[[1, 2], [3, 4]]', ARRAY['x', 'y']);
SELECT * FROM stockml.reference_columns(NULL, ARRAY['x']);
-- non-numbers are NULL elements, short rows too; a feature the sample does not name is NULL
SELECT * FROM stockml.reference_columns('{"names": ["a"], "sample": [[1], ["x"], [2, 3], 5, null]}', ARRAY['a', 'zz', NULL]);
SELECT * FROM stockml.reference_columns('[[1, 2], [3]]', ARRAY['p', 'q', 'r']);
SELECT * FROM stockml.reference_columns('"scalar"', ARRAY['a']);

-- what stockml_reader may read: the Grafana views, each with a timestamptz "time" first,
-- and the lists the dashboard variables read (symbol_info, model_names)
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1
 WHERE n.nspname = 'stockml' AND has_table_privilege('stockml_reader', c.oid, 'SELECT')
 ORDER BY 1;

-- views show what the tables hold, in time order
INSERT INTO stockml.symbols (symbol) VALUES ('VIEWT');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('VIEWT', '2024-01-03', 10, 11, 9, 10.5, 100), ('VIEWT', '2024-01-02', 10, 11, 9, 10, 100);
SELECT time, symbol, day, close FROM stockml.price_history WHERE symbol = 'VIEWT';
INSERT INTO stockml.drift_metrics (measured_at, model_name, model_version, feature, method, statistic,
            p_value, threshold, drifted, n_reference, n_current, window_start, window_end)
VALUES ('2024-02-01 12:00+00', 'viewt', 1, 'ret_1', 'ks', 0.4, 0.001, 0.05, true, 100, 20, '2024-01-01', '2024-01-31'),
       ('2024-02-01 12:00+00', 'viewt', 1, 'ret_5', 'ks', 0.1, 0.6, 0.05, false, 100, 20, '2024-01-01', '2024-01-31'),
       ('2024-01-01 12:00+00', 'viewt', 1, 'ret_1', 'ks', 0.1, 0.7, 0.05, false, 100, 20, '2023-12-01', '2023-12-31');
SELECT time, model_name, feature, drifted FROM stockml.feature_drift WHERE model_name = 'viewt';
SELECT time, model_name, features, drifted_features, drift_share FROM stockml.drift_share WHERE model_name = 'viewt';
INSERT INTO stockml.retrain_events (created_at, model_name, model_version, reason, status, new_version)
VALUES ('2024-02-01 12:00+00', 'viewt', 1, 'drift share 0.5 > 0.4', 'not_deployed', 2);
SELECT time, text, tags FROM stockml.retrain_history WHERE model_name = 'viewt';

-- the reader reads the views and nothing else
SET ROLE stockml_reader;
SELECT count(*) > 0 AS reads_prices_view FROM stockml.price_history WHERE symbol = 'VIEWT';
SELECT count(*) FROM stockml.feature_drift WHERE model_name = 'viewt';
SELECT count(*) FROM stockml.prices;
SELECT count(*) FROM stockml.drift_metrics;
INSERT INTO stockml.drift_metrics (model_name, model_version, feature, method, statistic, threshold,
            drifted, n_reference, n_current, window_start, window_end)
VALUES ('viewt', 1, 'x', 'ks', 0, 0.05, false, 1, 1, '2024-01-01', '2024-01-01');
RESET ROLE;
-- ... and may call predict(), which runs as the extension's owner
\set msft `cat data/MSFT.csv`
SELECT status FROM stockml.ingest_csv('VIEWP', :'msft');
SELECT version FROM stockml.train('reader_model', ARRAY['VIEWP']);
SELECT version FROM stockml.deploy('reader_model', 1);
SET ROLE stockml_reader;
SELECT symbol, as_of, target_day, predicted_close > 0 AS positive, lower < upper AS band, model_version
  FROM stockml.predict('reader_model', 'VIEWP');
SELECT stockml.predict('reader_model', ARRAY[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]::float8[]) IS NOT NULL AS raw;
\set VERBOSITY terse
SELECT count(*) FROM stockml.forecast('reader_model');
SELECT count(*) FROM stockml.models;
\set VERBOSITY default
RESET ROLE;
SELECT stockml.drop_model('reader_model');
DELETE FROM stockml.symbols WHERE symbol = 'VIEWP';
SELECT has_schema_privilege('stockml_reader', 'stockml', 'CREATE') AS can_create,
       has_table_privilege('stockml_reader', 'stockml.retrain_policies', 'UPDATE') AS can_update_policies;

DELETE FROM stockml.drift_metrics WHERE model_name = 'viewt';
DELETE FROM stockml.retrain_events WHERE model_name = 'viewt';
DELETE FROM stockml.symbols WHERE symbol = 'VIEWT';

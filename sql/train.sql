-- train(), the registry (runs, aliases, history), predict() and forecast() on seeded
-- synthetic series: RW_TEST a random walk of 5000 weekdays (nothing to learn), AR_TEST
-- 1500 weekdays whose log returns are AR(1) with coefficient 0.4 (something to learn).
SELECT setseed(0.25);
INSERT INTO stockml.symbols (symbol) VALUES ('RW_TEST'), ('AR_TEST'), ('SHORT_TEST'), ('TINY_TEST');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'RW_TEST', d, o, greatest(o, c) * 1.002, least(o, c) * 0.998, c, 1000000
  FROM (SELECT d, coalesce(lag(c) OVER (ORDER BY i), c) AS o, c
          FROM (SELECT i, DATE '2000-01-03' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
                       100 * exp(sum(r) OVER (ORDER BY i)) AS c
                  FROM (SELECT i, 0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS r
                          FROM generate_series(1, 5000) i) s) t) u;
SELECT setseed(0.75);
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'AR_TEST', d, o, greatest(o, c) * 1.002, least(o, c) * 0.998, c, 500000
  FROM (SELECT d, coalesce(lag(c) OVER (ORDER BY i), c) AS o, c
          FROM (SELECT i, DATE '2010-01-04' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
                       50 * exp(sum(r) OVER (ORDER BY i)) AS c
                  FROM (WITH RECURSIVE ar(i, r) AS (
                            SELECT 1, 0::float8
                            UNION ALL
                            SELECT i + 1, 0.4 * r + 0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                              FROM ar WHERE i < 1500)
                        SELECT * FROM ar) s) t) u;
INSERT INTO stockml.prices (symbol, day, open, high, low, close)
SELECT 'SHORT_TEST', DATE '2020-01-01' + i, 10, 11, 9, 10 + (i % 3) * 0.1 FROM generate_series(1, 80) i;
INSERT INTO stockml.prices (symbol, day, open, high, low, close)
SELECT 'TINY_TEST', DATE '2020-01-01' + i, 10, 11, 9, 10 FROM generate_series(1, 10) i;
SELECT symbol, count(*), min(day), max(day), to_char(max(day), 'Dy') AS last_weekday
  FROM stockml.prices WHERE symbol LIKE '%\_TEST' GROUP BY symbol ORDER BY symbol;

-- a wrong call is an ERROR before any run exists
SELECT * FROM stockml.train('bad name!', ARRAY['RW_TEST']);
SELECT * FROM stockml.train('m_test', ARRAY['NOPE_TEST', 'RW_TEST']);
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], 'svm');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], params => '{"alpha": -1}');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], params => '{"lambda": 1}');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], 'elastic_net', params => '{"l1_ratio": 2}');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], params => '{"folds": 1}');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], params => '{"auto_deploy": "yes"}');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], feature_set => 'nope');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], horizon => 0);
SELECT * FROM stockml.train('m_test', ARRAY[NULL]);
SELECT * FROM stockml.train('m_test', '{}');
SELECT * FROM stockml.train('m_test', ARRAY['RW_TEST'], train_end => 'infinity');
SELECT count(*) AS runs FROM stockml.runs WHERE model_name = 'm_test';

-- no leakage: on a random walk every algorithm's out-of-sample directional accuracy is
-- 50 +- 3 % and its skill at most +0.02 (horizon 5 overlaps targets: the gap must hold)
SELECT a.algorithm, a.horizon, t.version, t.deployed,
       (t.metrics ->> 'directional_accuracy')::float8 BETWEEN 0.47 AND 0.53 AS direction_50_3,
       (t.metrics ->> 'skill')::float8 <= 0.02 AS skill_le_002,
       round((t.metrics ->> 'directional_accuracy')::numeric, 2) AS direction,
       round((t.metrics ->> 'skill')::numeric, 2) AS skill,
       t.metrics ->> 'n_test' AS n_test
  FROM (VALUES (1, 'naive', 1, '{}'::jsonb), (2, 'ridge', 1, '{"alpha": 0}'), (3, 'ridge', 1, '{}'),
               (4, 'elastic_net', 1, '{}'), (5, 'elastic_net', 1, '{"alpha": 0.0001, "l1_ratio": 0.9}'),
               (6, 'ridge', 5, '{}')) a(i, algorithm, horizon, params),
       LATERAL stockml.train('rw_test', ARRAY['RW_TEST'], a.algorithm, a.horizon, a.params) t
 ORDER BY a.i;

-- walk-forward folds of the horizon-5 run: expanding training window ending 5 days before
-- each test block (4944 usable days, 824 per block); step 0 pools the folds
SELECT m.step, max(m.value) FILTER (WHERE m.key = 'n_train') AS n_train,
       max(m.value) FILTER (WHERE m.key = 'n_test') AS n_test
  FROM stockml.run_metrics m JOIN stockml.runs r ON r.id = m.run_id
 WHERE r.model_name = 'rw_test' AND r.model_version = 6
 GROUP BY m.step ORDER BY m.step;
SELECT version, n_rows, train_start, train_end, feature_set, horizon,
       stockml.model_describe(model) ->> 'n_features' AS n_features,
       jsonb_array_length(reference -> 'rows') AS reference_rows,
       reference -> 'names' ->> 0 AS first_feature,
       reference ->> 'n_residuals' AS n_residuals
  FROM stockml.models WHERE name = 'rw_test' AND version IN (3, 6) ORDER BY version;
-- train_end cuts both features and targets: no target after it
SELECT version FROM stockml.train('rw_test', ARRAY['RW_TEST'], params => '{"auto_deploy": false}',
                                  train_end => '2010-01-01');
SELECT m.train_end, m.n_rows, m.n_rows = (SELECT count(*) - 50 FROM stockml.prices p
                                           WHERE p.symbol = 'RW_TEST' AND p.day <= '2010-01-01') AS warmup_and_last_target_dropped
  FROM stockml.models m WHERE m.name = 'rw_test' AND m.version = 7;

-- several symbols: the gap counts days of all symbols, but a target is horizon bars of its
-- own symbol ahead.  GAPB_TEST has no bars on 01-21 and 01-22 (the days before the first
-- test block of 2 folds, which starts 01-23), so its row of 01-20 has its target on 01-23.
-- Each fold's training rows are the longest prefix, in (day, symbol) order, ending a gap
-- before the test block whose targets (read here from the stored bars) all end before it.
INSERT INTO stockml.symbols (symbol) VALUES ('GAPA_TEST'), ('GAPB_TEST');
INSERT INTO stockml.prices (symbol, day, open, high, low, close)
SELECT s, DATE '2021-01-01' + i, 10, 12, 9, 10 + (i % 7) * 0.1 + i * 0.01
  FROM unnest(ARRAY['GAPA_TEST', 'GAPB_TEST']) s, generate_series(1, 60) i
 WHERE s = 'GAPA_TEST' OR i NOT IN (20, 21);
INSERT INTO stockml.feature_sets (name, spec) VALUES ('gap_test',
  '{"features": [{"name": "r1", "indicator": "log_return", "k": 1}]}');
SELECT version FROM stockml.train('gap_test', ARRAY['GAPA_TEST', 'GAPB_TEST'], feature_set => 'gap_test',
                                  params => '{"folds": 2}');
WITH r AS (SELECT f.symbol, f.day, b.target
             FROM unnest(ARRAY['GAPA_TEST', 'GAPB_TEST']) s,
                  LATERAL stockml.features(s, feature_set => 'gap_test') f
             JOIN (SELECT symbol, day, lead(day) OVER (PARTITION BY symbol ORDER BY day) AS target
                     FROM stockml.prices) b USING (symbol, day)
            WHERE f.y IS NOT NULL),
     d AS (SELECT day, row_number() OVER (ORDER BY day) - 1 AS k, count(*) OVER () AS ndays
             FROM (SELECT DISTINCT day FROM r) x),
     o AS (SELECT r.*, row_number() OVER w AS pos, max(target) OVER w AS target_max
             FROM r WINDOW w AS (ORDER BY day, symbol)),
     fold AS (SELECT s.step, (SELECT day FROM d WHERE k = ts) AS test_start,
                     (SELECT day FROM d WHERE k = ts - 1) AS gap_day
                FROM generate_series(1, 2) s(step),
                     LATERAL (SELECT ndays - (2 - s.step + 1) * (ndays / 3) AS ts FROM d LIMIT 1) t),
     m AS (SELECT m.step, m.value::bigint AS n_train FROM stockml.run_metrics m JOIN stockml.runs r ON r.id = m.run_id
            WHERE r.model_name = 'gap_test' AND m.key = 'n_train' AND m.step > 0)
SELECT fold.step, fold.test_start, m.n_train,
       (SELECT count(*) FROM o WHERE o.day < fold.gap_day) AS rows_before_gap,
       (SELECT count(*) FROM o WHERE o.day < fold.gap_day AND o.target_max < fold.test_start) AS targets_before_test,
       (SELECT max(target) FROM o WHERE o.pos <= m.n_train) < fold.test_start AS no_target_in_test
  FROM fold JOIN m USING (step) ORDER BY fold.step;
-- a symbol with no bars from 01-04 to 01-30 leaves a single training row (GAPA_TEST's of
-- 01-03) before the first test block: too few to fit, an ERROR rather than a leaky fold
INSERT INTO stockml.symbols (symbol) VALUES ('GAPC_TEST');
INSERT INTO stockml.prices (symbol, day, open, high, low, close)
SELECT 'GAPC_TEST', DATE '2021-01-01' + i, 10, 12, 9, 10 + (i % 5) * 0.1
  FROM generate_series(1, 60) i WHERE i NOT BETWEEN 3 AND 29;
SELECT version FROM stockml.train('gap_test', ARRAY['GAPA_TEST', 'GAPC_TEST'], feature_set => 'gap_test',
                                  params => '{"folds": 2}');

-- failed training: an ERROR, a failed run that survives it, no model row
SELECT * FROM stockml.train('short_test', ARRAY['SHORT_TEST']);
BEGIN;
SELECT * FROM stockml.train('short_test', ARRAY['SHORT_TEST'], params => '{"folds": 3}');
ROLLBACK;
SELECT r.status, r.error, r.params, r.symbols, r.finished_at >= r.started_at AS timed,
       r.model_version, (SELECT count(*) FROM stockml.run_metrics m WHERE m.run_id = r.id) AS metrics
  FROM stockml.runs r WHERE r.model_name = 'short_test' ORDER BY r.id;
SELECT count(*) AS short_models FROM stockml.models WHERE name = 'short_test';
-- a long fit can be cancelled: statement_timeout stops it, and the run is recorded as failed
SET statement_timeout = '300ms';
SELECT * FROM stockml.train('slow_test', ARRAY['RW_TEST'], 'elastic_net',
                            params => '{"alpha": 0.0001, "tol": 0, "max_iter": 10000000}');
RESET statement_timeout;
SELECT status, error FROM stockml.runs WHERE model_name = 'slow_test';

-- the registry: production moves only to a better skill (the naive baseline's 0 at first)
SELECT a.i, a.algorithm, a.params, t.version, t.deployed, (t.metrics ->> 'skill')::float8 > 0 AS skill_positive
  FROM (VALUES (1, 'ridge', '{"alpha": 100000, "auto_deploy": false}'::jsonb),
               (2, 'ridge', '{"alpha": 100000}'), (3, 'naive', '{}'),
               (4, 'ridge', '{"alpha": 1}'), (5, 'ridge', '{"alpha": 30000}')) a(i, algorithm, params),
       LATERAL stockml.train('ar_test', ARRAY['AR_TEST'], a.algorithm, params => a.params) t
 ORDER BY a.i;
SELECT version, algorithm, aliases, skill > 0 AS beats_naive, mae < naive_mae AS mae_below_naive,
       directional_accuracy > 0.55 AS direction_learned, naive_directional_accuracy, n_test
  FROM stockml.model_versions WHERE name = 'ar_test' ORDER BY version;

-- predict: the last bar is a Friday, so the target is the Monday after
SELECT symbol, as_of, target_day, to_char(target_day, 'Dy') AS target_weekday, model_version,
       lower < predicted_close AND predicted_close < upper AS inside_interval
  FROM stockml.predict('ar_test', 'AR_TEST');
-- it is close * exp(predict(model, x)) of the last feature row, and predict(model, x) is the
-- stored blob's prediction on every row
SELECT abs(p.predicted_close - f.close * exp(stockml.predict('ar_test', f.x))) < 1e-9 * p.predicted_close AS same
  FROM stockml.predict('ar_test', 'AR_TEST') p
  JOIN stockml.features('AR_TEST') f ON f.day = p.as_of;
SELECT count(*) AS rows, count(*) FILTER (WHERE stockml.predict('ar_test', f.x) <> stockml.model_predict(m.model, f.x)) AS mismatches
  FROM stockml.features('AR_TEST') f, stockml.models m WHERE m.name = 'ar_test' AND m.version = 4;
-- the interval widens with stockml.interval_level; 0 gives none
SET stockml.interval_level = 0.5;
SELECT round((upper - lower)::numeric, 6) > 0 AS has_width, model_version FROM stockml.predict('ar_test', 'AR_TEST');
SELECT (SELECT upper - lower FROM stockml.predict('ar_test', 'AR_TEST')) AS w50 \gset
SET stockml.interval_level = 0.95;
SELECT upper - lower > :w50 AS wider_at_95 FROM stockml.predict('ar_test', 'AR_TEST');
SET stockml.interval_level = 0;
SELECT lower, upper FROM stockml.predict('ar_test', 'AR_TEST');
RESET stockml.interval_level;
-- any symbol can be predicted with the model's features; errors say what is missing
SELECT symbol, as_of, model_version FROM stockml.predict('ar_test', 'SHORT_TEST');
SELECT * FROM stockml.predict('ar_test', 'TINY_TEST');
SELECT * FROM stockml.predict('ar_test', 'bad symbol');
SELECT * FROM stockml.predict('nope_test', 'AR_TEST');
SELECT * FROM stockml.predict('rw_test', 'RW_TEST');
SELECT stockml.predict('ar_test', '{1,2,3}'::float8[]);

-- a role that may only EXECUTE predict() (stockml_reader) gets predictions, not the models;
-- with no cache every call reads the model, as the extension's owner
CREATE ROLE regress_stockml_reader IN ROLE stockml_reader;
SET stockml.model_cache_size = 0;
SET ROLE regress_stockml_reader;
SELECT symbol, as_of, model_version FROM stockml.predict('ar_test', 'AR_TEST');
SELECT stockml.predict('ar_test', array_fill(0.01::float8, ARRAY[16])) IS NOT NULL AS batch_form;
SELECT count(*) FROM stockml.models;
SELECT * FROM stockml.predict('nope_test', 'AR_TEST');
SHOW search_path;
RESET ROLE;
RESET stockml.model_cache_size;
DROP ROLE regress_stockml_reader;

-- stockml_admin may train, deploy and forecast; a failed run of theirs is recorded too
CREATE ROLE regress_stockml_admin IN ROLE stockml_admin;
SET ROLE regress_stockml_admin;
SELECT version, deployed FROM stockml.train('admin_test', ARRAY['AR_TEST'], params => '{"folds": 3}');
SELECT name, alias, version FROM stockml.deploy('admin_test', 1);
SELECT model_name, model_version, symbol FROM stockml.forecast('admin_test');
SELECT * FROM stockml.train('admin_test', ARRAY['SHORT_TEST']);
SELECT status, model_version FROM stockml.runs WHERE model_name = 'admin_test' ORDER BY id;
SELECT stockml.drop_model('admin_test');
RESET ROLE;
DROP ROLE regress_stockml_admin;

-- deploy and rollback by hand; predict follows at once (the cache is invalidated)
SELECT name, alias, version, previous_version, action FROM stockml.deploy('ar_test', 3, reason => 'try naive');
SELECT model_version FROM stockml.predict('ar_test', 'AR_TEST');
SELECT version, previous_version, action, reason FROM stockml.rollback('ar_test');
SELECT model_version FROM stockml.predict('ar_test', 'AR_TEST');
SELECT version, previous_version, action, reason FROM stockml.rollback('ar_test');
SELECT model_version FROM stockml.predict('ar_test', 'AR_TEST');
SELECT * FROM stockml.rollback('ar_test');
SELECT * FROM stockml.deploy('ar_test', 99);
SELECT * FROM stockml.deploy('nope_test', 1);
SELECT * FROM stockml.rollback('rw_test');
SELECT name, alias, version FROM stockml.deploy('ar_test', 1, 'staging');
-- the history: who, when, why; append-only
SELECT alias, version, previous_version, action, set_by = current_user AS by_me, reason
  FROM stockml.alias_history WHERE name = 'ar_test' ORDER BY id;
UPDATE stockml.alias_history SET reason = 'rewritten' WHERE name = 'ar_test';
DELETE FROM stockml.alias_history WHERE name = 'ar_test';

-- a model cache of size 0 decodes on every call and gives the same answers
SET stockml.model_cache_size = 0;
SELECT model_version, abs(predicted_close - (SELECT predicted_close FROM stockml.predict('ar_test', 'AR_TEST'))) = 0 AS same
  FROM stockml.predict('ar_test', 'AR_TEST');
RESET stockml.model_cache_size;

-- predict uses the feature spec stored in the model, not the feature set's current one
INSERT INTO stockml.feature_sets (name, spec) VALUES ('mini_test',
  '{"features": [{"name": "r1", "indicator": "log_return", "k": 1}, {"name": "r2", "indicator": "log_return", "k": 2}]}');
SELECT version, deployed FROM stockml.train('mini_test', ARRAY['AR_TEST'], feature_set => 'mini_test');
SELECT predicted_close AS before FROM stockml.predict('mini_test', 'AR_TEST') \gset
UPDATE stockml.feature_sets SET spec = '{"features": [{"name": "r5", "indicator": "log_return", "k": 5}]}'
 WHERE name = 'mini_test';
SELECT predicted_close = :before AS unchanged FROM stockml.predict('mini_test', 'AR_TEST');

-- forecast records into the ledger; again on the same day replaces the row
SELECT model_name, model_version, symbol, as_of, target_day, lower < predicted_close AS ordered
  FROM stockml.forecast('ar_test');
SELECT count(*) AS rows FROM stockml.forecast('ar_test', ARRAY['AR_TEST', 'SHORT_TEST']);
SELECT model_version, symbol, count(*) FROM stockml.predictions WHERE model_name = 'ar_test'
 GROUP BY 1, 2 ORDER BY 2;

-- a train job runs in the background worker
CREATE FUNCTION pg_temp.wait_job(job bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
    FOR i IN 1 .. 1200 LOOP
        SELECT status INTO s FROM stockml.jobs WHERE id = job;
        IF s IN ('done', 'failed', 'cancelled') THEN RETURN s; END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN 'timed out, status ' || s;
END $$;
SELECT stockml.submit('train', '{"model_name": "ar_test", "symbols": ["AR_TEST"], "params": {"alpha": 1, "auto_deploy": false}}') AS job \gset
SELECT pg_temp.wait_job(:job) AS status;
SELECT result, progress, attempts FROM stockml.jobs WHERE id = :job;
SELECT stockml.submit('train', '{"model_name": "short_test", "symbols": ["SHORT_TEST"]}') AS job \gset
SELECT pg_temp.wait_job(:job) AS status;
SELECT attempts, error FROM stockml.jobs WHERE id = :job;
-- one failed run per attempt
SELECT count(*) AS failed_runs FROM stockml.runs WHERE model_name = 'short_test' AND status = 'failed';
SELECT stockml.run_job_train(0, '{"model_name": "ar_test"}');
SELECT stockml.run_job_train(0, '{"model_name": "ar_test", "symbols": ["AR_TEST"], "alpha": 1}');

-- cleanup: drop_model removes versions, aliases, history, runs and forecasts
SELECT stockml.drop_model(n) FROM unnest(ARRAY['rw_test', 'ar_test', 'mini_test', 'short_test', 'slow_test', 'admin_test', 'gap_test']) n;
SELECT (SELECT count(*) FROM stockml.models WHERE name LIKE '%\_test') AS models,
       (SELECT count(*) FROM stockml.runs WHERE model_name LIKE '%\_test') AS runs,
       (SELECT count(*) FROM stockml.alias_history WHERE name LIKE '%\_test') AS history,
       (SELECT count(*) FROM stockml.predictions WHERE model_name LIKE '%\_test') AS predictions;
DELETE FROM stockml.feature_sets WHERE name IN ('mini_test', 'gap_test');
DELETE FROM stockml.symbols WHERE symbol LIKE '%\_TEST';
DELETE FROM stockml.jobs WHERE kind = 'train';

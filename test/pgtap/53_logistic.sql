-- logistic, the direction of the move (issue 10 item 2): probabilities against
-- scikit-learn's LogisticRegression (test/reference/logistic_reference.py) to 1e-4,
-- the log return it forecasts, parameters by scikit-learn's names, refusals,
-- damaged blobs with a valid checksum refused, and no lookahead in train() on a
-- random walk.
BEGIN;
SELECT plan(66);

CREATE TEMP TABLE lr_train (set text, row int, x float8[], y float8);
CREATE TEMP TABLE lr_test (set text, row int, x float8[], y float8);
CREATE TEMP TABLE lr_expected (name text, set text, params jsonb, row int, p_up float8);
\copy lr_train FROM 'test/reference/logistic_train.csv' WITH (FORMAT csv)
\copy lr_test FROM 'test/reference/logistic_test.csv' WITH (FORMAT csv)
\copy lr_expected FROM 'test/reference/logistic_expected.csv' WITH (FORMAT csv)

-- one model per case, fitted on its set's training rows with the case's parameters
CREATE TEMP TABLE lr_models AS
SELECT c.name, c.set, stockml.fit('logistic', (SELECT array_agg(x ORDER BY row) FROM lr_train t WHERE t.set = c.set),
                                  (SELECT array_agg(y ORDER BY row) FROM lr_train t WHERE t.set = c.set), c.params) AS model
  FROM (SELECT DISTINCT name, set, params FROM lr_expected) c;
CREATE TEMP TABLE lr_cmp AS
SELECT e.name, e.row, e.p_up AS sk, stockml.model_p_up(m.model, t.x) AS ours,
       stockml.model_predict(m.model, t.x) AS yhat
  FROM lr_expected e JOIN lr_models m USING (name) JOIN lr_test t ON t.set = e.set AND t.row = e.row;

SELECT is((SELECT count(*) FROM lr_cmp), 700::bigint, 'every reference probability is compared');
SELECT ok(max(abs(ours - sk)) <= 1e-4, format('%s: p_up equals scikit-learn''s to 1e-4 (largest difference %s)', name, max(abs(ours - sk))))
  FROM lr_cmp GROUP BY name ORDER BY name;
SELECT ok((SELECT bool_and(ours > 0 AND ours < 1) FROM lr_cmp), 'probabilities lie strictly between 0 and 1');
-- the log return forecast: (2 p - 1) times the mean |y| of the training rows
SELECT ok((SELECT bool_and(abs(c.yhat - (2 * c.ours - 1) * a.m) <= 1e-15)
             FROM lr_cmp c JOIN lr_expected e ON e.name = c.name AND e.row = c.row,
                  LATERAL (SELECT avg(abs(y)) m FROM lr_train t WHERE t.set = e.set) a),
          'model_predict is (2 p_up - 1) * mean |y| of the training rows');
SELECT is((SELECT (stockml.model_describe(model) ->> 'mean_abs_y')::float8 FROM lr_models WHERE name = 'small_c001'),
          (SELECT avg(abs(y)) FROM lr_train WHERE set = 'small'), 'model_describe shows the mean |y| of the training rows');
SELECT is((SELECT stockml.model_describe(model) -> 'params' FROM lr_models WHERE name = 'small_c001'),
          '{"C": 0.01, "tol": 1e-8, "max_iter": 100}'::jsonb, 'the parameters, defaults included');
-- the class is y > 0: labels 0/1 give the same probabilities as the returns they stand for
SELECT ok((SELECT abs(stockml.model_p_up(stockml.fit('logistic', x, l), '{0.5, 480, 3}')
                      - stockml.model_p_up(stockml.fit('logistic', x, y), '{0.5, 480, 3}')) < 1e-12
             FROM (SELECT array_agg(x ORDER BY row) x, array_agg(y ORDER BY row) y,
                          array_agg(CASE WHEN y > 0 THEN 1 ELSE 0 END::float8 ORDER BY row) l
                     FROM lr_train WHERE set = 'small') s),
          '0/1 labels and the returns they classify give the same model');

-- refusals
SELECT throws_ok($$SELECT stockml.fit('logistic', ARRAY[[1], [2], [3]]::float8[], ARRAY[0.1, 0.2, 0.3])$$,
                 '22023', 'logistic regression needs targets of both classes: all 3 are above 0 (up)', 'one class only');
SELECT throws_ok($$SELECT stockml.fit('logistic', ARRAY[[1], [2], [3]]::float8[], ARRAY[0, -0.2, 0])$$,
                 '22023', 'logistic regression needs targets of both classes: all 3 are 0 or less (not up)', 'no up move');
SELECT throws_ok($$SELECT stockml.fit('logistic', ARRAY[[1], [2], [3]]::float8[], ARRAY[1, -1, 1], '{"C": 0}')$$,
                 '22023', 'parameter "C" of logistic cannot be 0', 'C must be positive');
SELECT throws_ok($$SELECT stockml.fit('logistic', ARRAY[[1], [2], [3]]::float8[], ARRAY[1, -1, 1], '{"penalty": "l1"}')$$,
                 '22023', 'unknown parameter "penalty" for algorithm "logistic"', 'an unknown parameter');
SELECT throws_ok($$SELECT stockml.model_p_up(stockml.fit('ridge', ARRAY[[1], [2], [3]]::float8[], ARRAY[1, -1, 1]), '{1}')$$,
                 '42809', NULL, 'a regressor''s bytea gives no probability');

-- damaged blobs with a valid checksum: a logistic model of one feature is 92 bytes: header
-- 20, mean 20, scale 28, 3 parameters 36..59, payload version 60, intercept 64, coefficient
-- 72, mean |y| 80, checksum 88
CREATE TEMP TABLE lr_one AS
SELECT stockml.fit('logistic', ARRAY[[1], [2], [3], [4], [5]]::float8[], ARRAY[-0.01, 0.02, -0.01, 0.03, 0.01]) AS model;
\ir include/blob.sql
CREATE FUNCTION pg_temp.damaged(off int, piece bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT v || pg_temp.le(int4send(pg_temp.crc32c(v)::bit(32)::int4))
      FROM (SELECT overlay(substr(model, 1, length(model) - 4) PLACING piece FROM off + 1) AS v FROM lr_one) s
$$;
SELECT is(length((SELECT model FROM lr_one)), 92, 'the one-feature blob has the documented size');
SELECT is(pg_temp.damaged(0, ''), (SELECT model FROM lr_one), 'the test rebuilds the blob byte for byte (checksum included)');
SELECT is(stockml.model_predict(pg_temp.damaged(80, pg_temp.le(float8send(0.5))), '{3}'),
          (2 * stockml.model_p_up((SELECT model FROM lr_one), '{3}') - 1) * 0.5, 'a changed mean |y| (still valid) decodes and is used');
SELECT throws_ok(format($$SELECT stockml.model_predict(%L::bytea, '{1}')$$, pg_temp.damaged(o, p)), 'XX001',
                 'invalid stockml model', what)
  FROM (VALUES (60, pg_temp.le(int4send(2)), 'an unknown payload version'),
               (80, pg_temp.le(float8send(-1)), 'a negative mean |y|'),
               (72, pg_temp.le(float8send('NaN')), 'a NaN coefficient'),
               (36, pg_temp.le(float8send(0)), 'C = 0')) v(o, p, what);

-- no lookahead: on a seeded random walk of 5000 weekdays (as 52_gbt.sql) logistic's
-- out-of-sample directional accuracy is 50 +- 3 % and its skill at most 0.02, at horizons 1 and 5
SELECT setseed(0.25);
INSERT INTO stockml.symbols (symbol) VALUES ('LR_RW');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'LR_RW', d, o, greatest(o, c) * 1.002, least(o, c) * 0.998, c, 1000000
  FROM (SELECT d, coalesce(lag(c) OVER (ORDER BY i), c) AS o, c
          FROM (SELECT i, DATE '2000-01-03' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
                       100 * exp(sum(r) OVER (ORDER BY i)) AS c
                  FROM (SELECT i, 0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS r
                          FROM generate_series(1, 5000) i) s) t) u;
CREATE TEMP TABLE lr_rw AS
SELECT h, t.* FROM unnest(ARRAY[1, 5]) h, LATERAL stockml.train('lr_rw', ARRAY['LR_RW'], 'logistic', h, '{"auto_deploy": false}') t;
SELECT ok((metrics ->> 'directional_accuracy')::float8 BETWEEN 0.47 AND 0.53,
          format('random walk, horizon %s: directional accuracy %s is 50 +- 3 %%', h, round((metrics ->> 'directional_accuracy')::numeric, 3)))
  FROM lr_rw ORDER BY h;
SELECT ok((metrics ->> 'skill')::float8 <= 0.02,
          format('random walk, horizon %s: skill %s <= 0.02', h, round((metrics ->> 'skill')::numeric, 3)))
  FROM lr_rw ORDER BY h;
SELECT is((SELECT algorithm FROM stockml.models WHERE name = 'lr_rw' AND version = 1), 'logistic', 'train() registers a logistic version');


-- train()'s classification metrics (a classifier only): the scores of the validation rows'
-- p_up and of each fold's base rate, by the function checked against sklearn.metrics below
CREATE TEMP TABLE lr_vs AS
SELECT (stockml.probability_scores(array_agg(p_up), array_agg(y))).*,
       (stockml.probability_scores(array_agg(base_p_up), array_agg(y))).log_loss AS base_log_loss,
       (stockml.probability_scores(array_agg(base_p_up), array_agg(y))).accuracy AS base_accuracy,
       avg(base_p_up) AS base_rate, count(p_up) AS n_p
  FROM stockml.validation_predictions WHERE model_name = 'lr_rw' AND model_version = 1;
SELECT is((SELECT n_p FROM lr_vs), (SELECT (metrics ->> 'n_test')::bigint FROM lr_rw WHERE h = 1),
          'every validation row of a classifier keeps its p_up');
SELECT ok((SELECT bool_and(abs((r.metrics ->> k)::float8 - v) <= 1e-12)
             FROM lr_rw r, lr_vs s,
                  LATERAL (VALUES ('log_loss', s.log_loss), ('brier', s.brier), ('auc', s.auc), ('accuracy', s.accuracy),
                                  ('up_share', s.up_share), ('base_rate', s.base_rate),
                                  ('base_log_loss', s.base_log_loss), ('base_accuracy', s.base_accuracy),
                                  ('log_loss_skill', 1 - s.log_loss / s.base_log_loss)) m(k, v)
            WHERE r.h = 1),
          'train''s log loss, Brier score, AUC, accuracy and the base rate''s are those of its validation rows');
SELECT is((SELECT count(*) FROM stockml.run_metrics m JOIN stockml.runs r ON r.id = m.run_id
            WHERE r.model_name = 'lr_rw' AND r.model_version = 1 AND m.key IN ('log_loss', 'brier', 'auc', 'accuracy', 'base_log_loss', 'log_loss_skill')),
          6::bigint * 6, 'run_metrics has the classification metrics, pooled and per fold');
SELECT ok((SELECT (metrics ->> 'accuracy')::float8 BETWEEN 0.47 AND 0.53 AND (metrics ->> 'auc')::float8 BETWEEN 0.47 AND 0.53
                  AND (metrics ->> 'log_loss_skill')::float8 <= 0.01 FROM lr_rw WHERE h = 1),
          'random walk: accuracy and AUC 50 +- 3 %, no log-loss skill');
SELECT lives_ok($$SELECT stockml.train('lr_rw_ridge', ARRAY['LR_RW'], 'ridge', 1, '{"auto_deploy": false}')$$, 'a ridge version');
SELECT ok((SELECT count(p_up) = 0 AND count(*) > 0 AND NOT (SELECT metrics ? 'log_loss' FROM stockml.models WHERE name = 'lr_rw_ridge')
             FROM stockml.validation_predictions WHERE model_name = 'lr_rw_ridge'),
          'a regressor''s validation rows have no p_up, its metrics no log loss');

-- the scores against sklearn.metrics (log_loss, brier_score_loss, roc_auc_score, accuracy_score)
CREATE TEMP TABLE lr_metrics (name text, row int, p float8, y float8, log_loss float8, brier float8, auc float8, accuracy float8);
\copy lr_metrics FROM 'test/reference/logistic_metrics.csv' WITH (FORMAT csv)
SELECT ok(abs(s.log_loss - m.log_loss) <= 1e-12 AND abs(s.brier - m.brier) <= 1e-12
          AND abs(s.auc - m.auc) <= 1e-12 AND abs(s.accuracy - m.accuracy) <= 1e-12,
          format('%s: log loss, Brier, AUC and accuracy equal sklearn.metrics''s (%s, %s, %s, %s)', m.name,
                 round(s.log_loss::numeric, 6), round(s.brier::numeric, 6), round(s.auc::numeric, 6), round(s.accuracy::numeric, 6)))
  FROM (SELECT name, min(log_loss) log_loss, min(brier) brier, min(auc) auc, min(accuracy) accuracy,
               stockml.probability_scores(array_agg(p ORDER BY row), array_agg(y ORDER BY row)) s
          FROM lr_metrics GROUP BY name) m, LATERAL (SELECT (m.s).*) s
 ORDER BY m.name;
SELECT is((SELECT auc FROM stockml.probability_scores('{0.2, 0.7}', '{0.1, 0.3}')), NULL, 'no AUC without both classes');
SELECT throws_ok($$SELECT stockml.probability_scores('{0.2, 1.5}', '{0.1, -0.3}')$$, '22000', 'row 2 has a p_up outside [0, 1]', 'a p_up outside [0, 1]');
SELECT is(stockml.log_loss(0.8, 0.01), -ln(0.8::float8), 'log loss of an up move');
SELECT is(stockml.log_loss(0.8, 0), -ln(1 - 0.8::float8), 'a move of 0 is not up');

-- p_up in predict() and predict_path() (every model): a classifier's own probability; a
-- regressor's from the conformal distribution of its residuals (stockml.conformal_p_up, the
-- function predict() uses, against numpy's in test/reference/logistic_reference.py)
SELECT is((SELECT p_up FROM stockml.predict('lr_rw', 'LR_RW', version => 1)),
          stockml.model_p_up((SELECT model FROM stockml.models WHERE name = 'lr_rw' AND version = 1),
                             (SELECT x FROM stockml.features('LR_RW') WHERE y IS NULL ORDER BY day DESC LIMIT 1)),
          'predict()''s p_up of a classifier is its probability on the last bar');
SELECT ok((SELECT (p_up > 0.5) = (predicted_close > f.close) AND p_up > 0 AND p_up < 1
             FROM stockml.predict('lr_rw_ridge', 'LR_RW', version => 1),
                  (SELECT close FROM stockml.features('LR_RW') ORDER BY day DESC LIMIT 1) f),
          'a regressor''s p_up lies in (0, 1) on the side of its predicted move');
SELECT lives_ok($$SELECT stockml.train('lr_rw_path', ARRAY['LR_RW'], 'ridge', 1, '{"auto_deploy": false}', horizons => ARRAY[1, 3])$$,
                'a version of two heads');
SELECT is((SELECT count(p_up) FROM stockml.predict_path('lr_rw_path', 'LR_RW', version => 1) WHERE p_up > 0 AND p_up < 1),
          2::bigint, 'predict_path() gives every head a p_up');
SELECT is((SELECT p_up FROM stockml.predict_path('lr_rw_path', 'LR_RW', version => 1) WHERE horizon = 1),
          (SELECT p_up FROM stockml.predict('lr_rw_path', 'LR_RW', version => 1)), 'the primary head''s p_up is predict()''s');
-- predict_p_up(model_name, x): the batch form; a regressor's from its plain |log errors| (the
-- version keeps up to 1000 order statistics of them: within 0.002 of all of them)
SELECT is(stockml.predict_p_up('lr_rw', x, version => 1),
          stockml.model_p_up((SELECT model FROM stockml.models WHERE name = 'lr_rw' AND version = 1), x),
          'predict_p_up of a classifier is its probability')
  FROM stockml.features('LR_RW') ORDER BY day DESC LIMIT 1;
SELECT ok(abs(stockml.predict_p_up('lr_rw_ridge', x, version => 1)
              - stockml.conformal_p_up(stockml.predict('lr_rw_ridge', x, version => 1), 1,
                                       (SELECT array_agg(abs(y - yhat)) FROM stockml.validation_predictions WHERE model_name = 'lr_rw_ridge'))) < 0.002,
          'predict_p_up of a regressor: the conformal p_up of its validation errors')
  FROM stockml.features('LR_RW') ORDER BY day DESC LIMIT 1;
SELECT is(stockml.predict_p_up(NULL, '{1}'), NULL, 'NULL model name: NULL');
CREATE TEMP TABLE lr_cp (name text, res float8[], yhat float8, scale float8, p_up float8);
\copy lr_cp FROM 'test/reference/conformal_p_up.csv' WITH (FORMAT csv)
SELECT ok((SELECT bool_and(abs(stockml.conformal_p_up(yhat, scale, res) - p_up) <= 1e-12) AND count(*) = 25 FROM lr_cp),
          'conformal_p_up equals numpy''s on 25 cases');
SELECT throws_ok($$SELECT stockml.conformal_p_up(0.1, 0, '{1}')$$, '22023', NULL, 'a scale of 0 is refused');

-- calibration of a regressor's p_up, measured on a seeded AR(1) of 3000 days (r_t = 0.3 r_t-1 +
-- N(0, 0.01)): ridge's residuals of folds 1-3 give the p_up of the rows of folds 4-5
SELECT setseed(0.5);
INSERT INTO stockml.symbols (symbol) VALUES ('LR_AR');
CREATE TEMP TABLE lr_e AS SELECT i, 0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z FROM generate_series(1, 3000) i;
ALTER TABLE lr_e ADD PRIMARY KEY (i);
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'LR_AR', d, o, greatest(o, c) * 1.002, least(o, c) * 0.998, c, 1000000
  FROM (SELECT d, coalesce(lag(c) OVER (ORDER BY i), c) AS o, c
          FROM (SELECT i, DATE '2000-01-03' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
                       100 * exp(sum(r) OVER (ORDER BY i)) AS c
                  FROM (WITH RECURSIVE ar(i, r) AS (SELECT 1, z FROM lr_e WHERE i = 1
                                                   UNION ALL SELECT e.i, 0.3 * ar.r + e.z FROM ar JOIN lr_e e ON e.i = ar.i + 1)
                        SELECT i, r FROM ar) s) t) u;
SELECT lives_ok($$SELECT stockml.train('lr_ar', ARRAY['LR_AR'], 'ridge', 1, '{"auto_deploy": false}')$$, 'ridge on the AR(1)');
CREATE TEMP TABLE lr_cal AS
SELECT stockml.conformal_p_up(v.yhat, 1, r.res) AS p, (v.y > 0)::int AS up
  FROM stockml.validation_predictions v,
       (SELECT array_agg(abs(y - yhat)) res FROM stockml.validation_predictions WHERE model_name = 'lr_ar' AND fold <= 3) r
 WHERE v.model_name = 'lr_ar' AND v.fold >= 4;
-- measured: 982 rows, mean p_up 0.508 against an up share of 0.540 (its standard error 0.016),
-- slope of up on p_up 0.89, Brier 0.2399 (a coin's 0.25), quintiles within 0.072 of their share
SELECT ok((SELECT abs(avg(p) - avg(up)) <= 0.05 FROM lr_cal), 'AR(1): mean p_up within 0.05 of the up share');
SELECT ok((SELECT regr_slope(up, p) BETWEEN 0.6 AND 1.4 FROM lr_cal), 'AR(1): up moves rise with p_up, slope 1 +- 0.4');
SELECT ok((SELECT avg((p - up) ^ 2) < 0.245 FROM lr_cal), 'AR(1): Brier score below a coin''s');
SELECT ok((SELECT max(abs(ap - au)) <= 0.1 FROM (SELECT avg(p) ap, avg(up) au FROM (SELECT p, up, ntile(5) OVER (ORDER BY p) q FROM lr_cal) x GROUP BY q) y),
          'AR(1): each quintile of p_up within 0.1 of its up share');
-- the classifier finds the edge too
SELECT ok((SELECT (metrics ->> 'log_loss_skill')::float8 > 0 AND (metrics ->> 'accuracy')::float8 > 0.53
                  AND (metrics ->> 'auc')::float8 > 0.55
             FROM stockml.train('lr_ar_dir0', ARRAY['LR_AR'], 'logistic', 1, '{"auto_deploy": false}')),
          'AR(1): logistic beats its base rate (log-loss skill above 0, accuracy above 53 %, AUC above 0.55)');

-- the deploy gate compares classifiers by log loss (against the base rate, and a classifier in
-- production); a regressor beside a classifier by the absolute error of the log return
SELECT is((SELECT loss FROM stockml.compare('lr_rw', 0, 1)), 'log loss of p_up', 'a classifier against its base rate: log loss');
SELECT ok((SELECT abs(mae_a - (metrics ->> 'base_log_loss')::float8) < 1e-12 AND abs(mae_b - (metrics ->> 'log_loss')::float8) < 1e-12
             FROM stockml.compare('lr_rw', 0, 1), lr_rw WHERE h = 1),
          'compare''s mean losses are train''s log losses of the base rate and of the version');
SELECT is((SELECT loss FROM stockml.compare('lr_rw_ridge', 0, 1)), 'absolute error of the log return', 'a regressor: absolute error');
CREATE TEMP TABLE lr_gate AS SELECT * FROM stockml.train('lr_rw_gate', ARRAY['LR_RW'], 'logistic', 1, '{}');
SELECT ok((SELECT NOT deployed AND metrics -> 'gate' ->> 'loss' = 'log loss of p_up'
                  AND metrics -> 'gate' ->> 'reason' LIKE 'not deployed: %base rate%' FROM lr_gate),
          'random walk: the gate does not deploy a classifier, judged by log loss against the base rate');
SELECT lives_ok($$SELECT stockml.train('lr_rw_gate', ARRAY['LR_RW'], 'logistic', 1, '{"C": 0.01}')$$, 'a second classifier version');
SELECT is((SELECT loss FROM stockml.compare('lr_rw_gate', 1, 2)), 'log loss of p_up', 'two classifiers: log loss');
CREATE TEMP TABLE lr_gate_ar AS SELECT * FROM stockml.train('lr_ar_dir', ARRAY['LR_AR'], 'logistic', 1, '{}');
SELECT ok((SELECT deployed AND metrics -> 'gate' ->> 'reason' LIKE 'deployed: beats the base rate%' FROM lr_gate_ar),
          'AR(1): the gate deploys the classifier that beats its base rate');

-- the gate's error rate with log loss, measured: 2000 seeded simulations of 250 days of two
-- classifiers of equal expected log loss (p = sigmoid(x + 0.5 u), independent u; up ~
-- Bernoulli(sigmoid(x))); a one-sided Diebold-Mariano test at 5 % should find one better in 5 %
-- of them.  Measured 4.75 % (1 %: 0.65 %, 10 %: 9.85 %); test/reference/logloss_gate.py, the
-- same design in numpy over 20 000: 5.31 % (1.03 %, 10.04 %), power 97.4 % for the truth
-- against the base rate 0.5.
SELECT setseed(0.75);
CREATE TEMP TABLE lr_null AS
SELECT s, t, x, (random() < 1 / (1 + exp(-x)))::int - 0.5 AS move, ua, ub
  FROM (SELECT s, t,
               sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS x,
               sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS ua,
               sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS ub
          FROM generate_series(1, 2000) s, generate_series(1, 250) t) g;
CREATE TEMP TABLE lr_null_p AS
SELECT s, (stockml.dm_test(array_agg(stockml.log_loss(1 / (1 + exp(-(x + 0.5 * ua))), move)
                                   - stockml.log_loss(1 / (1 + exp(-(x + 0.5 * ub))), move) ORDER BY t), 1)).p_value AS p,
          (stockml.dm_test(array_agg(stockml.log_loss(0.5, move) - stockml.log_loss(1 / (1 + exp(-x)), move) ORDER BY t), 1)).p_value AS power_p
  FROM lr_null GROUP BY s;
SELECT ok((SELECT avg((p < 0.05)::int) BETWEEN 0.035 AND 0.065 FROM lr_null_p),
          format('log-loss gate under the null: %s %% of 2000 simulations rejected at 5 %% (5 +- 1.5 required)',
                 (SELECT round(100 * avg((p < 0.05)::int), 2) FROM lr_null_p)));
SELECT ok((SELECT avg((power_p < 0.05)::int) > 0.9 FROM lr_null_p),
          format('power: the true probabilities beat the base rate in %s %% of the simulations',
                 (SELECT round(100 * avg((power_p < 0.05)::int), 1) FROM lr_null_p)));

SELECT * FROM finish();
ROLLBACK;

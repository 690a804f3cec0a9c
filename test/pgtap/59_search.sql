-- Hyperparameter search and permutation importance (issue 10 items 3 and 4, doc/models.md):
-- a list in train()'s params is a grid, {"search": "random", "n_iter": N} draws from ranges;
-- every trial is a run (parent_run_id = the search's run) with its params and metrics, scored
-- on the same walk-forward folds; one version is kept, the lowest loss, and it equals a
-- train() of the winning params alone to the bit (ridge, elastic_net, gbt); a seeded random
-- search is reproducible; bad params are ERRORs that record nothing.  Permutation importance
-- on the last fold: stockml.model_permutation_importance equals scikit-learn's
-- permutation_importance within Monte Carlo error (test/reference/permutation.py wrote the
-- rows and sklearn's figures); feature_importance(..., 'permutation') serves train()'s, also
-- to stockml_reader.
-- Run from the repository's root (test/run.sh does).
BEGIN;
SELECT plan(86);

-- AR(1) log returns (phi 0.4), seeded: ret_1 carries the edge, ret_5 a little, ret_20 little
SELECT setseed(0.59);
INSERT INTO stockml.symbols (symbol, calendar) VALUES ('SRCH_AR', 'weekdays');
INSERT INTO stockml.feature_sets (name, spec)
VALUES ('srch', '{"features": [{"name": "ret_1", "indicator": "log_return", "k": 1},
                               {"name": "ret_5", "indicator": "log_return", "k": 5},
                               {"name": "ret_20", "indicator": "log_return", "k": 20}]}');
CREATE TEMP TABLE ar AS
WITH RECURSIVE e AS (
    SELECT i, 0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS e
      FROM generate_series(1, 1200) i
), r (i, r) AS (
    SELECT 1, (SELECT e FROM e WHERE i = 1)
    UNION ALL
    SELECT r.i + 1, 0.4 * r.r + e.e FROM r JOIN e ON e.i = r.i + 1
)
SELECT i, DATE '2010-01-04' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS day, 100 * exp(sum(r) OVER (ORDER BY i)) AS close
  FROM r;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'SRCH_AR', day, close, close, close, close, 1000 FROM ar;

CREATE FUNCTION pg_temp.search_run(m text) RETURNS bigint LANGUAGE sql AS
$$ SELECT r.id FROM stockml.runs r WHERE r.model_name = m AND r.parent_run_id IS NULL ORDER BY r.id DESC LIMIT 1 $$;
CREATE FUNCTION pg_temp.blob(m text, v int) RETURNS text LANGUAGE sql AS
$$ SELECT md5(model) FROM stockml.models WHERE name = m AND version = v $$;

-- 1. a grid of one key (ridge)
SELECT is(version, 1, 'a grid search of ridge keeps one version')
  FROM stockml.train('srch_ridge', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch',
                     params => '{"alpha": [0.1, 10, 1000, 100000], "folds": 3, "auto_deploy": false}');
SELECT is((SELECT count(*)::int FROM stockml.models WHERE name = 'srch_ridge'), 1, '... and only one');
SELECT is((SELECT array_agg((params ->> 'alpha')::float8 ORDER BY id) FROM stockml.runs
            WHERE parent_run_id = pg_temp.search_run('srch_ridge')),
          ARRAY[0.1, 10, 1000, 100000]::float8[], 'every trial is a run, child of the search''s run, with its params');
SELECT is((SELECT count(*)::int FROM stockml.runs r WHERE r.parent_run_id = pg_temp.search_run('srch_ridge')
              AND r.status = 'finished' AND r.params ->> 'folds' = '3'
              AND (SELECT count(*) FROM stockml.run_metrics m WHERE m.run_id = r.id AND m.key = 'mae') = 4
              AND EXISTS (SELECT FROM stockml.run_metrics m WHERE m.run_id = r.id AND m.key = 'loss' AND m.step = 0)),
          4, 'each trial run has its metrics per fold and pooled (step 0), and its loss');
SELECT is((SELECT r.params ->> 'alpha' FROM stockml.runs r JOIN stockml.run_metrics m ON m.run_id = r.id AND m.key = 'loss'
            WHERE r.parent_run_id = pg_temp.search_run('srch_ridge') ORDER BY m.value, r.id LIMIT 1),
          (SELECT r.params ->> 'alpha' FROM stockml.runs r WHERE r.parent_run_id = pg_temp.search_run('srch_ridge')
              AND r.model_version = 1),
          'the winning trial (lowest loss) is the one whose run names the version');
SELECT is((SELECT (params ->> 'alpha')::float8 FROM stockml.models WHERE name = 'srch_ridge'),
          (SELECT (r.params ->> 'alpha')::float8 FROM stockml.runs r WHERE r.parent_run_id = pg_temp.search_run('srch_ridge')
              AND r.model_version = 1),
          'the version''s params are the winner''s');
SELECT ok((SELECT count(DISTINCT m.value) FROM stockml.run_metrics m JOIN stockml.runs r ON r.id = m.run_id
            WHERE r.parent_run_id = pg_temp.search_run('srch_ridge') AND m.key = 'loss') > 1,
          'the trials'' losses differ (the search had something to choose)');
SELECT ok(abs((SELECT m.value FROM stockml.run_metrics m JOIN stockml.runs r ON r.id = m.run_id
                WHERE r.parent_run_id = pg_temp.search_run('srch_ridge') AND r.model_version = 1 AND m.key = 'loss')
              - (SELECT avg(abs(v.y - v.yhat)) FROM stockml.validation_predictions v
                  WHERE v.model_name = 'srch_ridge' AND v.model_version = 1)) < 1e-12,
          'the loss is the mean absolute error of the log return over the version''s validation rows');
SELECT is((SELECT metrics -> 'search' ->> 'trials' FROM stockml.models WHERE name = 'srch_ridge'), '4',
          'metrics -> search says how many trials');
SELECT is((SELECT r.params -> 'alpha' FROM stockml.runs r WHERE r.id = pg_temp.search_run('srch_ridge')),
          '[0.1, 10, 1000, 100000]'::jsonb, 'the search''s own run keeps the params as given, lists included');
SELECT is((SELECT m.value FROM stockml.run_metrics m WHERE m.run_id = pg_temp.search_run('srch_ridge') AND m.key = 'search_trials'),
          4::float8, 'the search''s run counts its trials');

-- 2. the version equals training the winner alone, to the bit
SELECT lives_ok(format($$SELECT stockml.train('srch_ridge_alone', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch', params => %L)$$,
                       (SELECT r.params FROM stockml.runs r WHERE r.parent_run_id = pg_temp.search_run('srch_ridge') AND r.model_version = 1)),
                'train() with the winning trial''s params alone');
SELECT is(pg_temp.blob('srch_ridge', 1), pg_temp.blob('srch_ridge_alone', 1), 'ridge: the same model bytea');
SELECT is((SELECT metrics - 'search' - 'gate' FROM stockml.models WHERE name = 'srch_ridge'),
          (SELECT metrics - 'gate' FROM stockml.models WHERE name = 'srch_ridge_alone'),
          'ridge: the same metrics, permutation importance included');

-- 3. several keys: a grid of every combination (elastic_net)
SELECT is(version, 1, 'elastic_net: a grid of two keys')
  FROM stockml.train('srch_enet', ARRAY['SRCH_AR'], 'elastic_net', feature_set => 'srch',
                     params => '{"alpha": [0.00001, 0.001], "l1_ratio": [0.2, 0.5, 0.9], "folds": 3, "auto_deploy": false}');
SELECT is((SELECT count(DISTINCT (params ->> 'alpha', params ->> 'l1_ratio'))::int FROM stockml.runs
            WHERE parent_run_id = pg_temp.search_run('srch_enet')), 6, '... 2 x 3 distinct combinations, one run each');
SELECT lives_ok(format($$SELECT stockml.train('srch_enet_alone', ARRAY['SRCH_AR'], 'elastic_net', feature_set => 'srch', params => %L)$$,
                       (SELECT r.params FROM stockml.runs r WHERE r.parent_run_id = pg_temp.search_run('srch_enet') AND r.model_version = 1)),
                'elastic_net: the winner alone');
SELECT is(pg_temp.blob('srch_enet', 1), pg_temp.blob('srch_enet_alone', 1), 'elastic_net: the same model bytea');

-- 4. gbt
SELECT is(version, 1, 'gbt: a grid')
  FROM stockml.train('srch_gbt', ARRAY['SRCH_AR'], 'gbt', feature_set => 'srch',
                     params => '{"max_iter": [5, 20], "max_leaf_nodes": [3, 8], "min_samples_leaf": 10, "folds": 3, "auto_deploy": false}');
SELECT is((SELECT count(*)::int FROM stockml.runs WHERE parent_run_id = pg_temp.search_run('srch_gbt')
              AND params ->> 'min_samples_leaf' = '10'), 4, '... 4 trials, each with the fixed keys too');
SELECT lives_ok(format($$SELECT stockml.train('srch_gbt_alone', ARRAY['SRCH_AR'], 'gbt', feature_set => 'srch', params => %L)$$,
                       (SELECT r.params FROM stockml.runs r WHERE r.parent_run_id = pg_temp.search_run('srch_gbt') AND r.model_version = 1)),
                'gbt: the winner alone');
SELECT is(pg_temp.blob('srch_gbt', 1), pg_temp.blob('srch_gbt_alone', 1), 'gbt: the same model bytea');

-- logistic (the direction of the move): nothing special, the same search
SELECT is(version, 1, 'logistic: a grid of C')
  FROM stockml.train('srch_logit', ARRAY['SRCH_AR'], 'logistic', feature_set => 'srch',
                     params => '{"C": [0.01, 1, 100], "folds": 3, "auto_deploy": false}');
SELECT lives_ok(format($$SELECT stockml.train('srch_logit_alone', ARRAY['SRCH_AR'], 'logistic', feature_set => 'srch', params => %L)$$,
                       (SELECT r.params FROM stockml.runs r WHERE r.parent_run_id = pg_temp.search_run('srch_logit') AND r.model_version = 1)),
                'logistic: the winner alone');
SELECT is(pg_temp.blob('srch_logit', 1), pg_temp.blob('srch_logit_alone', 1), 'logistic: the same model bytea');
SELECT ok(abs((SELECT m.value FROM stockml.run_metrics m JOIN stockml.runs r ON r.id = m.run_id
                WHERE r.parent_run_id = pg_temp.search_run('srch_logit') AND r.model_version = 1 AND m.key = 'loss')
              - (SELECT avg(stockml.log_loss(v.p_up, v.y)) FROM stockml.validation_predictions v
                  WHERE v.model_name = 'srch_logit' AND v.model_version = 1)) < 1e-12,
          'logistic: the loss is the log loss of p_up over the version''s validation rows (the gate''s loss of a classifier)');

-- 5. random search: seeded, reproducible, inside its ranges
CREATE TEMP TABLE rnd AS
SELECT s.name, t.version
  FROM (VALUES ('srch_rnd_a', 7), ('srch_rnd_b', 7), ('srch_rnd_c', 8)) s(name, seed),
       LATERAL stockml.train(s.name, ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch',
                             params => jsonb_build_object('search', 'random', 'n_iter', 5, 'seed', s.seed, 'folds', 3,
                                                          'auto_deploy', false,
                                                          'alpha', jsonb_build_object('min', 0.01, 'max', 1e5, 'log', true))) t;
CREATE FUNCTION pg_temp.alphas(m text) RETURNS float8[] LANGUAGE sql AS
$$ SELECT array_agg((params ->> 'alpha')::float8 ORDER BY id) FROM stockml.runs WHERE parent_run_id = pg_temp.search_run(m) $$;
SELECT is(cardinality(pg_temp.alphas('srch_rnd_a')), 5, 'random: n_iter trials');
SELECT is(pg_temp.alphas('srch_rnd_a'), pg_temp.alphas('srch_rnd_b'), 'random: the same seed draws the same trials');
SELECT is(pg_temp.blob('srch_rnd_a', 1), pg_temp.blob('srch_rnd_b', 1), '... and keeps the same version');
SELECT isnt(pg_temp.alphas('srch_rnd_a'), pg_temp.alphas('srch_rnd_c'), 'another seed draws others');
SELECT ok((SELECT bool_and(a BETWEEN 0.01 AND 1e5) AND count(DISTINCT a) = 10 FROM unnest(pg_temp.alphas('srch_rnd_a') || pg_temp.alphas('srch_rnd_c')) a),
          'random: every draw inside the range, none twice');
SELECT is(version, 1, 'random: an integer range and a list (gbt)')
  FROM stockml.train('srch_rnd_gbt', ARRAY['SRCH_AR'], 'gbt', feature_set => 'srch',
                     params => '{"search": "random", "n_iter": 4, "max_leaf_nodes": {"min": 2, "max": 9}, "learning_rate": [0.05, 0.3],
                                 "max_iter": 5, "folds": 3, "auto_deploy": false}');
SELECT ok((SELECT bool_and((params ->> 'max_leaf_nodes')::int BETWEEN 2 AND 9 AND params ->> 'learning_rate' IN ('0.05', '0.3')
                           AND params ->> 'max_leaf_nodes' NOT LIKE '%.%')
             FROM stockml.runs WHERE parent_run_id = pg_temp.search_run('srch_rnd_gbt')),
          '... whole numbers inside the range, values from the list');

-- 6. bad params: an ERROR, nothing recorded
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"alpha": []}')$$,
                 '22023', 'the list of parameter "alpha" is empty', 'an empty list');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"alpha": [1, "a"]}')$$,
                 '22023', 'parameter "alpha" must be a number', 'a value of the wrong type');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"alpha": [1, -1]}')$$,
                 '22023', 'parameter "alpha" of ridge cannot be -1', 'a value out of range');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"alpah": [1, 2]}')$$,
                 '22023', 'unknown parameter "alpah" for algorithm "ridge"', 'an unknown key');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"search": "random", "n_iter": 5, "alpha": 1}')$$,
                 '22023', 'a random search needs a range or a list of values for at least one parameter of ridge', 'n_iter without ranges');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"search": "random", "alpha": {"min": 0, "max": 1}}')$$,
                 '22023', 'a random search needs "n_iter", the number of trials', 'a range without n_iter');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"alpha": {"min": 0, "max": 1}}')$$,
                 '22023', 'a random search needs "n_iter", the number of trials', 'a range without a random search');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"search": "grid", "alpha": [1, 2], "n_iter": 3}')$$,
                 '22023', '"n_iter" is for a random search, not a grid', 'n_iter in a grid');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'gbt', params => '{"max_iter": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15], "max_leaf_nodes": [2,3,4,5,6,7,8,9,10,11,12,13,14,15]}')$$,
                 '54000', 'the grid has more than 200 combinations', 'too many combinations');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"alpha": [1, 2], "folds": [3, 5]}')$$,
                 '22023', 'parameter "folds" cannot be searched', 'train()''s own keys are not searched');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"search": "bayes", "alpha": [1, 2]}')$$,
                 '22023', 'parameter "search" must be "grid" or "random"', 'an unknown kind of search');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"search": "random", "n_iter": 3, "alpha": {"min": 0, "max": 1, "log": true}}')$$,
                 '22023', 'a log range of parameter "alpha" needs min > 0, not 0', 'a log range from 0');
SELECT throws_ok($$SELECT stockml.submit('train', '{"model_name": "srch_bad", "symbols": ["SRCH_AR"], "params": {"alpha": []}}')$$,
                 '22023', 'the list of parameter "alpha" is empty', 'submit() refuses the search the train job would');
SELECT is((SELECT count(*)::int FROM stockml.runs WHERE model_name = 'srch_bad'), 0, 'no bad search left a run');

-- a search that fails (too little history) is one failed run, with no trial left behind
INSERT INTO stockml.symbols (symbol, calendar) VALUES ('SRCH_SHORT', 'weekdays');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'SRCH_SHORT', day, close, close, close, close, 1000 FROM ar WHERE i <= 40;
SELECT throws_like($$SELECT stockml.train('srch_short', ARRAY['SRCH_SHORT'], 'ridge', feature_set => 'srch',
                                          params => '{"alpha": [1, 10]}')$$,
                   'too little history to train "srch_short"%', 'a search on too little history: the ERROR of train()');
SELECT is((SELECT string_agg(status || ':' || (parent_run_id IS NULL)::text, ',') FROM stockml.runs WHERE model_name = 'srch_short'),
          'failed:true', '... recorded as one failed run (its own transaction), no trial runs');

-- several heads: the search is decided on the primary head, the others take the winner's values
SELECT is(version, 1, 'a search with horizons')
  FROM stockml.train('srch_heads', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch', horizons => ARRAY[1, 3],
                     params => '{"alpha": [0.1, 100000], "folds": 3, "auto_deploy": false}');
SELECT is((SELECT array_agg(k::int ORDER BY k::int) FROM stockml.models m, jsonb_object_keys(m.metrics -> 'heads') k
            WHERE m.name = 'srch_heads'), ARRAY[1, 3], '... keeps both heads');
SELECT lives_ok(format($$SELECT stockml.train('srch_heads_alone', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch', params => %L)$$,
                       (SELECT m.params FROM stockml.models m WHERE m.name = 'srch_heads')),
                '... retrained from the version''s params (the winner''s, the heads among them), as monitor()''s retrain does');
SELECT is(pg_temp.blob('srch_heads', 1), pg_temp.blob('srch_heads_alone', 1), '... the same two-head bytea');

-- 7. permutation importance on the last fold
SELECT is((SELECT array_agg(feature || ':' || method ORDER BY ord) FROM stockml.feature_importance('srch_ridge', 1, 'permutation')
             WITH ORDINALITY f(feature, importance, method, ord)),
          ARRAY['ret_1:permutation', 'ret_5:permutation', 'ret_20:permutation'], 'permutation importance, named by the feature spec');
SELECT is((SELECT feature FROM stockml.feature_importance('srch_gbt', 1, 'permutation') ORDER BY importance DESC LIMIT 1),
          'ret_1', 'gbt on AR(1) returns: yesterday''s return matters most');
SELECT throws_ok($$SELECT * FROM stockml.feature_importance('srch_ridge', 1, 'split_gain')$$, '22023',
                 'version 1 of "srch_ridge" measures its own importance by standardized_coefficient, not split_gain',
                 'a method the version does not have');
SELECT throws_ok($$SELECT * FROM stockml.feature_importance('srch_ridge', 1, 'shap')$$, '22023',
                 'unknown importance method "shap"', 'an unknown method');

-- a version of two heads (horizons 1 and 3): each head's importances, all three methods, equal
-- those of a version trained for that horizon alone (training is deterministic: the same rows,
-- folds, gap and seed); NULL is the version's own horizon's head, predict()'s
CREATE FUNCTION pg_temp.imp(m text, meth text, h int) RETURNS text[] LANGUAGE sql AS
$$ SELECT array_agg(feature || ':' || importance || ':' || method ORDER BY ord)
     FROM stockml.feature_importance(m, 1, meth, h) WITH ORDINALITY f(feature, importance, method, ord) $$;
CREATE FUNCTION pg_temp.hint(q text) RETURNS text LANGUAGE plpgsql AS
$$ DECLARE h text; BEGIN EXECUTE q; RETURN NULL;
   EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT; RETURN h; END $$;
SELECT lives_ok($$SELECT stockml.train('imp_r2', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch', horizons => ARRAY[1, 3],
                                       params => '{"folds": 3, "auto_deploy": false}')$$, 'importance per head: a ridge of two heads');
SELECT lives_ok($$SELECT stockml.train('imp_r3', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch', horizon => 3,
                                       params => '{"folds": 3, "auto_deploy": false}')$$, '... and a ridge of horizon 3 alone');
SELECT lives_ok($$SELECT stockml.train('imp_g2', ARRAY['SRCH_AR'], 'gbt', feature_set => 'srch', horizons => ARRAY[1, 3],
                                       params => '{"folds": 3, "auto_deploy": false, "max_iter": 20, "max_leaf_nodes": 8, "min_samples_leaf": 10}')$$, '... a gbt of two heads');
SELECT lives_ok($$SELECT stockml.train('imp_g3', ARRAY['SRCH_AR'], 'gbt', feature_set => 'srch', horizon => 3,
                                       params => '{"folds": 3, "auto_deploy": false, "max_iter": 20, "max_leaf_nodes": 8, "min_samples_leaf": 10}')$$, '... and a gbt of horizon 3 alone');
SELECT is(pg_temp.imp('imp_r2', NULL, 3), pg_temp.imp('imp_r3', NULL, NULL), 'standardized_coefficient of the horizon 3 head = the horizon 3 model''s');
SELECT is(pg_temp.imp('imp_r2', 'permutation', 3), pg_temp.imp('imp_r3', 'permutation', NULL),
          'permutation of the horizon 3 head (its last fold, its targets) = the horizon 3 model''s');
SELECT is(pg_temp.imp('imp_g2', 'split_gain', 3), pg_temp.imp('imp_g3', NULL, NULL), 'split_gain of the horizon 3 head = the horizon 3 model''s');
SELECT is(pg_temp.imp('imp_g2', 'permutation', 3), pg_temp.imp('imp_g3', 'permutation', 3), '... and its permutation importance');
SELECT is(pg_temp.imp('imp_r2', NULL, NULL), pg_temp.imp('imp_r2', NULL, 1), 'horizon NULL: the own horizon''s head (1)');
SELECT is(pg_temp.imp('imp_g2', 'permutation', NULL), pg_temp.imp('imp_g2', 'permutation', 1), '... the same for permutation');
SELECT isnt(pg_temp.imp('imp_r2', NULL, 1), pg_temp.imp('imp_r2', NULL, 3), '... which is not the horizon 3 head');
SELECT isnt(pg_temp.imp('imp_g2', 'permutation', 1), pg_temp.imp('imp_g2', 'permutation', 3), '... nor is its permutation importance');
SELECT is((SELECT array_agg(i.importance ORDER BY i.feature) FROM stockml.models m, stockml.model_importance(m.model, 3) i WHERE m.name = 'imp_r2'),
          (SELECT array_agg(i.importance ORDER BY i.feature) FROM stockml.models m, stockml.model_importance(m.model) i WHERE m.name = 'imp_r3'),
          'model_importance(bytea, 3) of the two-head bytea = model_importance() of the horizon 3 model''s');
SELECT throws_ok($$SELECT * FROM stockml.feature_importance('imp_r2', 1, NULL, 5)$$, '22023',
                 'version 1 of "imp_r2" has no head for horizon 5', 'a horizon without a head: an ERROR');
SELECT is(pg_temp.hint($$SELECT * FROM stockml.feature_importance('imp_r2', 1, 'permutation', 5)$$),
          'Pass horizon => one of 1, 3, or NULL for its own (1).', '... whose HINT lists the heads'' horizons');
SELECT is(pg_temp.hint($$SELECT * FROM stockml.feature_importance('imp_g3', 1, NULL, 1)$$),
          'Pass horizon => one of 3, or NULL for its own (3).', '... a version of one head has only its own');
SELECT throws_ok($$SELECT * FROM stockml.models m, stockml.model_importance(m.model, 2) WHERE m.name = 'imp_g2'$$, '22023',
                 'the model has no head for horizon 2', 'model_importance(bytea, horizon): the same ERROR');
SELECT throws_ok($$SELECT * FROM stockml.models m, stockml.model_importance(m.model) WHERE m.name = 'imp_g2'$$, '0A000',
                 'the model holds 2 heads, one per horizon', 'model_importance(bytea) of two heads: still an ERROR naming them');

-- model_permutation_importance against scikit-learn, same rows, same model (StandardScaler + Ridge)
CREATE TEMP TABLE prow (set text, x float8[], y float8);
\copy prow FROM 'test/reference/permutation_rows.csv' WITH (FORMAT csv)
CREATE TEMP TABLE pexp (feature int, importance float8, std float8, n_repeats int);
\copy pexp FROM 'test/reference/permutation_expected.csv' WITH (FORMAT csv)
CREATE TEMP TABLE pgot AS
SELECT p.* FROM stockml.model_permutation_importance(
         stockml.fit('ridge', (SELECT array_agg(x ORDER BY ctid) FROM prow WHERE set = 'train'),
                     (SELECT array_agg(y ORDER BY ctid) FROM prow WHERE set = 'train'), '{"alpha": 1}'),
         (SELECT array_agg(x ORDER BY ctid) FROM prow WHERE set = 'test'),
         (SELECT array_agg(y ORDER BY ctid) FROM prow WHERE set = 'test'), 200, 0) p;
SELECT is((SELECT string_agg(format('x%s: %s vs sklearn %s', e.feature, g.importance, e.importance), '; ')
             FROM pexp e JOIN pgot g USING (feature)
            WHERE abs(g.importance - e.importance) > 4 * sqrt((g.std ^ 2 + e.std ^ 2) / e.n_repeats) + 1e-12), NULL,
          'each mean importance equals scikit-learn''s within 4 Monte Carlo standard errors');
SELECT is((SELECT string_agg(format('x%s: %s vs sklearn %s', e.feature, g.std, e.std), '; ')
             FROM pexp e JOIN pgot g USING (feature)
            WHERE e.feature <> 3 AND NOT g.std / e.std BETWEEN 0.75 AND 1.33), NULL,
          '... and the spread over shuffles agrees (ratio of standard deviations within 0.75..1.33)');
SELECT diag(format('x%s: %s (std %s), sklearn %s (std %s)', e.feature, round(g.importance::numeric, 6), round(g.std::numeric, 6),
                   round(e.importance::numeric, 6), round(e.std::numeric, 6)))
  FROM pexp e JOIN pgot g USING (feature) ORDER BY e.feature;
SELECT is((SELECT array_agg(feature ORDER BY importance DESC) FROM pgot), ARRAY[1, 4, 2, 3],
          'the strong feature first, the one without effect last');
SELECT is((SELECT array_agg(importance ORDER BY feature) FROM stockml.model_permutation_importance(
              (SELECT model FROM stockml.models WHERE name = 'srch_ridge'), ARRAY[[0.01, 0.02, 0.03], [-0.01, 0, 0.01], [0.02, -0.02, 0]],
              ARRAY[0.001, -0.002, 0.003], 50, 3)),
          (SELECT array_agg(importance ORDER BY feature) FROM stockml.model_permutation_importance(
              (SELECT model FROM stockml.models WHERE name = 'srch_ridge'), ARRAY[[0.01, 0.02, 0.03], [-0.01, 0, 0.01], [0.02, -0.02, 0]],
              ARRAY[0.001, -0.002, 0.003], 50, 3)),
          'seeded: the same seed gives the same importances');

-- 8. without permutation_repeats there is none; the reader may call feature_importance
SELECT lives_ok($$SELECT stockml.train('srch_noperm', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch',
                                       params => '{"permutation_repeats": 0, "folds": 3, "auto_deploy": false}')$$,
                'permutation_repeats 0 trains without it');
SELECT throws_ok($$SELECT * FROM stockml.feature_importance('srch_noperm', 1, 'permutation')$$, '55000',
                 'version 1 of "srch_noperm" has no permutation importance', '... and asking for it is an ERROR');
SELECT is((SELECT (metrics -> 'permutation_importance' ->> 'n_rows') = (metrics -> 'permutation_importance' ->> 'fold_rows')
             FROM stockml.models WHERE name = 'srch_ridge'), true, 'permutation: every row of a last fold below 10 000 rows');
SELECT is((SELECT format('%s of %s', metrics -> 'permutation_importance' ->> 'n_rows', (metrics -> 'permutation_importance' ->> 'fold_rows')::int > 50)
             FROM stockml.train('srch_prows', ARRAY['SRCH_AR'], 'ridge', feature_set => 'srch',
                                params => '{"permutation_rows": 50, "folds": 3, "auto_deploy": false}')),
          '50 of t', 'permutation_rows: that many of the last fold''s rows');
SELECT throws_ok($$SELECT stockml.train('srch_bad', ARRAY['SRCH_AR'], 'ridge', params => '{"permutation_rows": 1.5}')$$,
                 '22023', 'parameter "permutation_rows" must be a whole number from 0 to 2147483647', 'permutation_rows: a whole number');
SET LOCAL ROLE stockml_reader;
SELECT is((SELECT count(*)::int FROM stockml.feature_importance('srch_gbt', 1, 'permutation')), 3,
          'stockml_reader may call feature_importance');
SELECT throws_ok($$SELECT model FROM stockml.models$$, '42501', NULL, '... and still may not read the models');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

-- The audit trail cannot be forged (issue 16 item 3): the alias, history and run tables
-- are written only through deploy / rollback / train, as the owner.  As a member of
-- stockml_admin: direct UPDATE of model_aliases, INSERT into alias_history, UPDATE and
-- DELETE of runs (and the rest of the registry train() writes) are refused with
-- permission denied; the internal movers cannot be called; deploy, rollback, train's gate
-- and a train job's fallback_to_naive still work and name the caller, not the owner, in
-- the history; a reader may not deploy or roll back.  The per-model lock is a row that
-- no role but the owner can lock (test/isolation/specs/registry_locks.spec: two sessions).
BEGIN;
SELECT plan(35);

-- a seeded random walk
SELECT setseed(0.42);
INSERT INTO stockml.symbols (symbol) VALUES ('RWT');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'RWT', d, c, c * 1.01, c * 0.99, c, 1000
  FROM (SELECT DATE '2020-01-06' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
               50 * exp(sum(0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) OVER (ORDER BY i)) AS c
          FROM generate_series(1, 400) i) s;

CREATE ROLE rw_alice IN ROLE stockml_admin;
CREATE ROLE rw_reader IN ROLE stockml_reader;
CREATE ROLE rw_nobody;
GRANT USAGE ON SCHEMA stockml TO rw_nobody;

SET ROLE rw_alice;
SELECT is((SELECT version FROM stockml.train('rwm', ARRAY['RWT'], 'naive', params => '{"auto_deploy": false}')),
          1, 'admin: train() a naive version');
SELECT is((SELECT version FROM stockml.train('rwm', ARRAY['RWT'], 'ridge', params => '{"auto_deploy": false}')),
          2, 'admin: train() a ridge version');
SELECT results_eq($$SELECT version, action, set_by FROM stockml.deploy('rwm', 1, reason => 'first')$$,
                  $$VALUES (1, 'deploy', 'rw_alice')$$, 'admin: deploy() names the caller');
SELECT results_eq($$SELECT version, previous_version, action, set_by FROM stockml.deploy('rwm', 2)$$,
                  $$VALUES (2, 1, 'deploy', 'rw_alice')$$, 'admin: a second deploy()');
SELECT results_eq($$SELECT version, previous_version, action, set_by FROM stockml.rollback('rwm')$$,
                  $$VALUES (1, 2, 'rollback', 'rw_alice')$$, 'admin: rollback() names the caller');

-- the tables: read, never written
SELECT throws_ok($$UPDATE stockml.model_aliases SET version = 2 WHERE name = 'rwm'$$, '42501',
                 'permission denied for table model_aliases', 'admin: no UPDATE of model_aliases');
SELECT throws_ok($$INSERT INTO stockml.model_aliases (name, alias, version) VALUES ('rwm', 'staging', 2)$$, '42501',
                 'permission denied for table model_aliases', 'admin: no INSERT into model_aliases');
SELECT throws_ok($$DELETE FROM stockml.model_aliases$$, '42501',
                 'permission denied for table model_aliases', 'admin: no DELETE from model_aliases');
SELECT throws_ok($$INSERT INTO stockml.alias_history (name, alias, version, action, set_by, reason)
                   VALUES ('rwm', 'production', 2, 'auto', 'postgres', 'forged')$$, '42501',
                 'permission denied for table alias_history', 'admin: no INSERT into alias_history');
SELECT throws_ok($$UPDATE stockml.runs SET status = 'failed', error = 'forged'$$, '42501',
                 'permission denied for table runs', 'admin: no UPDATE of runs');
SELECT throws_ok($$DELETE FROM stockml.runs$$, '42501',
                 'permission denied for table runs', 'admin: no DELETE from runs');
SELECT throws_ok($$INSERT INTO stockml.runs (experiment_id, model_name, algorithm, symbols, horizon, feature_set,
                                             params, status, started_at)
                   SELECT id, name, 'ridge', '{RWT}', 1, 'default', '{}', 'finished', now() FROM stockml.experiments$$,
                 '42501', 'permission denied for table runs', 'admin: no INSERT into runs');
SELECT throws_ok($$SELECT nextval('stockml.runs_id_seq')$$, '42501', NULL, 'admin: no run ids drawn by hand');
SELECT throws_ok($$INSERT INTO stockml.run_metrics (run_id, key, step, value) SELECT id, 'mae', 9, 0 FROM stockml.runs$$,
                 '42501', 'permission denied for table run_metrics', 'admin: no INSERT into run_metrics');
SELECT throws_ok($$INSERT INTO stockml.experiments (name) VALUES ('forged')$$, '42501',
                 'permission denied for table experiments', 'admin: no INSERT into experiments');
SELECT throws_ok($$UPDATE stockml.models SET metrics = '{"skill": 1}'$$, '42501',
                 'permission denied for table models', 'admin: no UPDATE of a version''s metrics');
SELECT throws_ok($$INSERT INTO stockml.models (name, version, algorithm, symbols, horizon, feature_set, feature_spec,
                                               params, metrics, train_start, train_end, n_rows, reference, model)
                   SELECT name, 99, algorithm, symbols, horizon, feature_set, feature_spec, params, '{"skill": 1}',
                          train_start, train_end, n_rows, reference, model FROM stockml.models$$, '42501',
                 'permission denied for table models', 'admin: no INSERT into models');
SELECT throws_ok($$INSERT INTO stockml.validation_predictions SELECT * FROM stockml.validation_predictions$$, '42501',
                 'permission denied for table validation_predictions', 'admin: no INSERT into validation_predictions');
SELECT throws_ok($$INSERT INTO stockml.drift_null SELECT * FROM stockml.drift_null$$, '42501',
                 'permission denied for table drift_null', 'admin: no INSERT into drift_null');
SELECT throws_ok($$SELECT FROM stockml.experiments FOR NO KEY UPDATE$$, '42501',
                 'permission denied for table experiments', 'admin: cannot lock the rows the registry serialises on');
-- nor through the internal movers
SELECT throws_ok($$SELECT stockml._set_alias('rwm', 2, 'production', 'auto', 'forged', 'postgres')$$, '42501',
                 'permission denied for function _set_alias', 'admin: _set_alias is the owner''s');
SELECT throws_ok($$SELECT stockml._rollback('rwm', 'production', 'forged', 'postgres')$$, '42501',
                 'permission denied for function _rollback', 'admin: _rollback is the owner''s');
SELECT throws_ok($$SELECT stockml._deploy_gate('rwm', 2, true, 'postgres')$$, '42501',
                 'permission denied for function _deploy_gate', 'admin: _deploy_gate is the owner''s');
SELECT throws_ok($$SELECT stockml._fallback_to_naive('rwm', 1, 2)$$, '42501',
                 'stockml._fallback_to_naive is for a train job''s fallback_to_naive',
                 'admin: no automatic move onto a version that is not naive');
SELECT throws_ok($$SELECT stockml._fallback_to_naive('rwm', 2, 99)$$, '42501',
                 'stockml._fallback_to_naive is for a train job''s fallback_to_naive',
                 'admin: ... nor onto a version that does not exist');

-- a train job's fallback_to_naive: the automatic move, named after the caller
SELECT matches(stockml.run_job_train(0, '{"model_name": "rwm", "symbols": ["RWT"], "params": {"alpha": 1e6},
                                          "fallback_to_naive": true}'),
               '^rwm version 3, skill .*; the naive version 4 serves \(fallback_to_naive\)$',
               'admin: a train job falls back to the naive version');
SELECT results_eq($$SELECT version, previous_version, action, set_by, reason ~ '^fallback_to_naive: version 3 not deployed'
                      FROM stockml.alias_history WHERE name = 'rwm' ORDER BY id DESC LIMIT 1$$,
                  $$VALUES (4, 1, 'auto', 'rw_alice', true)$$, '... recorded as auto, by the caller');
SELECT is((SELECT count(*) FROM stockml.runs WHERE model_name = 'rwm' AND status = 'finished'), 4::bigint,
          'admin: train() recorded its runs (as the owner)');
RESET ROLE;

SELECT isnt((SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'stockml'), 'rw_alice',
            'the history names the caller, who is not the owner');

-- a reader moves nothing
SET ROLE rw_reader;
SELECT throws_ok($$SELECT * FROM stockml.deploy('rwm', 2)$$, '42501', 'permission denied to deploy models',
                 'reader: no deploy()');
SELECT throws_ok($$SELECT * FROM stockml.rollback('rwm')$$, '42501', 'permission denied to roll back models',
                 'reader: no rollback()');
SELECT throws_ok($$SELECT stockml._lock_model_name('rwm')$$, '42501', 'permission denied for function _lock_model_name',
                 'reader: cannot take the model''s lock');
SELECT throws_ok($$SELECT stockml._fallback_to_naive('rwm', 3, 4)$$, '42501',
                 'permission denied for function _fallback_to_naive', 'reader: no automatic move either');
RESET ROLE;
SET ROLE rw_nobody;
SELECT throws_ok($$SELECT * FROM stockml.deploy('rwm', 2)$$, '42501', 'permission denied to deploy models',
                 'nobody: no deploy()');
RESET ROLE;

SELECT results_eq($$SELECT version FROM stockml.model_aliases WHERE name = 'rwm' AND alias = 'production'$$,
                  $$VALUES (4)$$, 'production is where the last recorded move put it');

SELECT * FROM finish();
ROLLBACK;

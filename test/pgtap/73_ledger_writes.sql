-- The forecast ledger (stockml.predictions) holds only what predict() answered: a member of
-- stockml_admin reads it and records forecasts through forecast() (which writes as the owner,
-- through stockml._record_forecast), but cannot INSERT, UPDATE or DELETE a row by hand; a
-- reader's forecast() is refused up front with a hint, not a batch of failed rows.  monitor()
-- judges versions on these rows, so a forged row would forge a version's realized skill.
BEGIN;
SELECT plan(14);

SELECT setseed(0.73);
INSERT INTO stockml.symbols (symbol) VALUES ('LDG');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'LDG', d, c, c * 1.01, c * 0.99, c, 1000
  FROM (SELECT DATE '2020-01-06' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
               40 * exp(sum(0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) OVER (ORDER BY i)) AS c
          FROM generate_series(1, 300) i) s;

CREATE ROLE ldg_admin IN ROLE stockml_admin;
CREATE ROLE ldg_reader IN ROLE stockml_reader;

SET ROLE ldg_admin;
SELECT is((SELECT version FROM stockml.train('ldgm', ARRAY['LDG'], 'ridge', params => '{"auto_deploy": false}')),
          1, 'admin: train() a version');
SELECT is((SELECT count(*) FROM stockml.deploy('ldgm', 1)), 1::bigint, 'admin: deploy() it');
SELECT results_eq($$SELECT status, symbol FROM stockml.forecast('ldgm')$$, $$VALUES ('ok', 'LDG')$$,
                  'admin: forecast() records the symbol');
SELECT results_eq($$SELECT l.predicted_close, l.lower, l.upper FROM stockml.predictions l WHERE l.model_name = 'ldgm'$$,
                  $$SELECT predicted_close, lower, upper FROM stockml.predict('ldgm', 'LDG')$$,
                  'the ledger row is what predict() answers');
SELECT results_eq($$SELECT status FROM stockml.forecast('ldgm')$$, $$VALUES ('ok')$$,
                  'admin: a repeat on the same day replaces the row');
SELECT is((SELECT count(*) FROM stockml.predictions WHERE model_name = 'ldgm'), 1::bigint, 'still one row');

SELECT throws_ok($$UPDATE stockml.predictions SET predicted_close = predicted_close * 2$$, '42501',
                 'permission denied for table predictions', 'admin: no UPDATE of the ledger');
SELECT throws_ok($$INSERT INTO stockml.predictions (model_id, model_name, model_version, symbol, as_of, target_day,
                                                    predicted_close)
                   SELECT model_id, model_name, model_version, symbol, as_of - 1, target_day - 1, 1
                     FROM stockml.predictions$$, '42501',
                 'permission denied for table predictions', 'admin: no INSERT into the ledger');
SELECT throws_ok($$DELETE FROM stockml.predictions$$, '42501',
                 'permission denied for table predictions', 'admin: no DELETE from the ledger');
SELECT results_eq($$SELECT status, predicted_close = (SELECT predicted_close FROM stockml.predict('ldgm', 'LDG'))
                      FROM stockml._record_forecast('ldgm', 'LDG', 1)$$,
                  $$VALUES ('ok', true)$$, 'admin: the internal recorder stores only predict()''s answer');
RESET ROLE;

SET ROLE ldg_reader;
SELECT throws_ok($$SELECT * FROM stockml.forecast('ldgm')$$, '42501',
                 'permission denied to record forecasts of model "ldgm"', 'reader: forecast() is refused up front');
SELECT throws_ok($$SELECT * FROM stockml._record_forecast('ldgm', 'LDG', 1)$$, '42501', NULL,
                 'reader: the internal recorder cannot be called');
RESET ROLE;

SELECT is((SELECT count(*) FROM stockml.predictions WHERE model_name = 'ldgm'), 1::bigint,
          'nothing the reader tried wrote a row');
SELECT ok(NOT has_table_privilege('stockml_admin', 'stockml.predictions', 'INSERT, UPDATE, DELETE'),
          'stockml_admin holds no write privilege on stockml.predictions');

SELECT * FROM finish();
ROLLBACK;

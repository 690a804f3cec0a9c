-- stockml.validation_predictions has no foreign key to stockml.models (a per-row check was
-- about 45 % of train()'s insert of its validation rows); statement triggers on models keep
-- the cascade: delete_version() removes that version's rows only, drop_model() all of the
-- model's, a plain DELETE or TRUNCATE of models (as the owner) leaves no orphan row.
BEGIN;
SELECT plan(10);

SELECT setseed(0.57);
INSERT INTO stockml.symbols (symbol) VALUES ('VCA');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'VCA', d, c, c * 1.01, c * 0.99, c, 1000
  FROM (SELECT DATE '2020-01-06' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
               30 * exp(sum(0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) OVER (ORDER BY i)) AS c
          FROM generate_series(1, 300) i) s;

SELECT is(count(*), 0::bigint, 'validation_predictions has no foreign key')
  FROM pg_constraint WHERE conrelid = 'stockml.validation_predictions'::regclass AND contype = 'f';

SELECT is((SELECT version FROM stockml.train('vca', ARRAY['VCA'], 'ridge', params => '{"auto_deploy": false}')), 1, 'version 1');
SELECT is((SELECT version FROM stockml.train('vca', ARRAY['VCA'], 'ridge', params => '{"auto_deploy": false, "alpha": 5}')), 2, 'version 2');
SELECT is((SELECT version FROM stockml.train('vcb', ARRAY['VCA'], 'naive', params => '{"auto_deploy": false}')), 1, 'another model');
CREATE TEMP TABLE vp_counts AS
SELECT model_name, model_version, count(*) AS n FROM stockml.validation_predictions GROUP BY 1, 2;
SELECT ok((SELECT bool_and(n > 100) AND count(*) = 3 FROM vp_counts), 'each version kept its validation rows');

SELECT stockml.delete_version('vca', 1);
SELECT results_eq($$SELECT model_name, model_version, count(*) FROM stockml.validation_predictions GROUP BY 1, 2 ORDER BY 1, 2$$,
                  $$SELECT model_name, model_version, n FROM vp_counts WHERE (model_name, model_version) <> ('vca', 1) ORDER BY 1, 2$$,
                  'delete_version removes that version''s rows, no other');

SELECT stockml.drop_model('vca');
SELECT results_eq($$SELECT model_name, model_version, count(*) FROM stockml.validation_predictions GROUP BY 1, 2$$,
                  $$SELECT model_name, model_version, n FROM vp_counts WHERE model_name = 'vcb'$$,
                  'drop_model removes all of the model''s rows');

DELETE FROM stockml.models WHERE name = 'vcb';
SELECT is((SELECT count(*) FROM stockml.validation_predictions v
            WHERE NOT EXISTS (SELECT FROM stockml.models m WHERE m.id = v.model_id)), 0::bigint,
          'a plain DELETE of models leaves no orphan validation row');

SELECT is((SELECT version FROM stockml.train('vcc', ARRAY['VCA'], 'naive', params => '{"auto_deploy": false}')), 1, 'train again');
TRUNCATE stockml.models CASCADE;
SELECT is((SELECT count(*) FROM stockml.validation_predictions), 0::bigint,
          'TRUNCATE of models (CASCADE, for the tables that keep their keys) empties validation_predictions');
SELECT * FROM finish();
ROLLBACK;

-- Registry (issue 12, item 4): a version's description and tags, set at train time and
-- later; delete_version() refused while an alias points at the version; drop_model() of an
-- unknown name is an ERROR.
BEGIN;
SELECT plan(21);

INSERT INTO stockml.symbols (symbol) VALUES ('VIA');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'VIA', DATE '2015-01-05' + ((i - 1) / 5) * 7 + (i - 1) % 5, c, c * 1.01, c * 0.99, c, 1000 + i
  FROM (SELECT i, 50 * exp(sum(0.01 * sin(i * 1.7)) OVER (ORDER BY i)) AS c FROM generate_series(1, 300) i) w;

-- at train time, through params
SELECT lives_ok($$SELECT stockml.train('vi_m', ARRAY['VIA'], 'ridge',
                   params => '{"auto_deploy": false, "description": "first try", "tags": ["ridge", "baseline", "ridge"]}')$$,
                'train with a description and tags');
SELECT results_eq($$SELECT description, tags FROM stockml.model_versions WHERE name = 'vi_m' AND version = 1$$,
                  $$VALUES ('first try'::text, ARRAY['baseline', 'ridge'])$$,
                  'stored: the description, the tags sorted and distinct');
SELECT ok(NOT (SELECT params ? 'description' OR params ? 'tags' FROM stockml.models WHERE name = 'vi_m' AND version = 1),
          'and not in params');
SELECT throws_ok($$SELECT stockml.train('vi_m', ARRAY['VIA'], 'ridge', params => '{"tags": "ridge"}')$$,
                 '22023', 'parameter "tags" must be an array of strings', 'tags must be an array');
SELECT throws_ok($$SELECT stockml.train('vi_m', ARRAY['VIA'], 'ridge', params => '{"description": 5}')$$,
                 '22023', 'parameter "description" must be a string', 'a description is a string');
SELECT throws_ok($$SELECT stockml.train('vi_m', ARRAY['VIA'], 'ridge', params => '{"tags": [" padded"]}')$$,
                 '22023', 'invalid tag '' padded''', 'a tag is checked at train time too');
SELECT is((SELECT count(*) FROM stockml.models WHERE name = 'vi_m'), 1::bigint, 'the refused trainings stored nothing');

-- later
SELECT results_eq($$SELECT description, tags FROM stockml.set_version_info('vi_m', 1, tags => ARRAY['champion'])$$,
                  $$VALUES ('first try'::text, ARRAY['champion'])$$, 'set the tags, the description stays');
SELECT results_eq($$SELECT description, tags FROM stockml.set_version_info('vi_m', 1, description => 'ridge, alpha 1')$$,
                  $$VALUES ('ridge, alpha 1'::text, ARRAY['champion'])$$, 'set the description, the tags stay');
SELECT results_eq($$SELECT description, tags FROM stockml.set_version_info('vi_m', 1, '', '{}')$$,
                  $$VALUES (NULL::text, '{}'::text[])$$, '''''  and ''{}'' clear them');
SELECT throws_ok($$SELECT stockml.set_version_info('vi_m', 1, tags => ARRAY['ok', NULL])$$,
                 '22023', 'invalid tag NULL', 'a NULL tag is refused');
SELECT throws_ok($$SELECT stockml.set_version_info('vi_m', 9, 'x')$$,
                 '42704', 'model "vi_m" has no version 9', 'an unknown version is an ERROR');
SELECT throws_ok($$SELECT stockml.set_version_info('nope_m', 1, 'x')$$,
                 '42704', 'model "nope_m" does not exist', 'an unknown model is an ERROR');

-- delete_version
SELECT lives_ok($$SELECT stockml.train('vi_m', ARRAY['VIA'], 'ridge', params => '{"auto_deploy": false}')$$, 'a second version');
SELECT lives_ok($$SELECT stockml.deploy('vi_m', 2)$$, 'deploy it');
SELECT lives_ok($$SELECT stockml.forecast('vi_m')$$, 'forecast with it');
SELECT throws_ok($$SELECT stockml.delete_version('vi_m', 2)$$,
                 '55006', 'version 2 of model "vi_m" is in use by alias production', 'a version an alias points to stays');
SELECT is(stockml.delete_version('vi_m', 1), 1, 'a version no alias points to goes');
SELECT results_eq($$SELECT version FROM stockml.models WHERE name = 'vi_m'$$, $$VALUES (2)$$,
                  'only version 2 is left, its forecasts with it');

-- drop_model
SELECT throws_ok($$SELECT stockml.drop_model('nope_m')$$, '42704', 'model "nope_m" does not exist',
                 'drop_model of an unknown name is an ERROR, not 0');
SELECT is(stockml.drop_model('vi_m'), 1, 'drop_model removes the versions left');

SELECT * FROM finish();
ROLLBACK;

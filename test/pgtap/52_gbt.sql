-- gbt, histogram gradient-boosted trees (issue 10 item 1): predictions against
-- scikit-learn's HistGradientBoostingRegressor (test/reference/gbt_reference.py):
-- exact on small cases, held-out MSE within 3 % and correlation on a 3000 x 6
-- matrix; parameters by scikit-learn's names; NaN refused; damaged blobs with a
-- valid checksum refused; statement_timeout stops a long fit; no lookahead in
-- train() on a random walk; constant columns added change no tree.
BEGIN;
SELECT plan(66);

CREATE TEMP TABLE gbt_train (set text, row int, x float8[], y float8);
CREATE TEMP TABLE gbt_test (set text, row int, x float8[], y float8);
CREATE TEMP TABLE gbt_expected (name text, set text, params jsonb, row int, prediction float8);
\copy gbt_train FROM 'test/reference/gbt_train.csv' WITH (FORMAT csv)
\copy gbt_test FROM 'test/reference/gbt_test.csv' WITH (FORMAT csv)
\copy gbt_expected FROM 'test/reference/gbt_expected.csv' WITH (FORMAT csv)

-- one model per case, fitted on its set's training rows with the case's parameters
CREATE TEMP TABLE gbt_models AS
SELECT c.name, c.set, stockml.fit('gbt', (SELECT array_agg(x ORDER BY row) FROM gbt_train t WHERE t.set = c.set),
                                  (SELECT array_agg(y ORDER BY row) FROM gbt_train t WHERE t.set = c.set), c.params) AS model
  FROM (SELECT DISTINCT name, set, params FROM gbt_expected) c;
CREATE TEMP TABLE gbt_cmp AS
SELECT e.name, e.row, e.prediction AS sk, stockml.model_predict(m.model, t.x) AS ours, t.y
  FROM gbt_expected e JOIN gbt_models m USING (name) JOIN gbt_test t ON t.set = e.set AND t.row = e.row;

SELECT is((SELECT count(*) FROM gbt_cmp), 8070::bigint, 'every reference prediction is compared');
SELECT ok((SELECT bool_and(abs(ours - sk) <= 1e-12 * greatest(1, abs(sk))) FROM gbt_cmp WHERE name = 'one'),
          'one feature, one stump: the split and both leaf values equal scikit-learn''s');
SELECT is((SELECT count(DISTINCT ours) FROM gbt_cmp WHERE name = 'one'), 2::bigint, 'the stump has two leaves');
SELECT ok((SELECT ours FROM gbt_cmp WHERE name = 'one' AND row = 3) < (SELECT ours FROM gbt_cmp WHERE name = 'one' AND row = 4),
          'x = 2.5 goes left and 2.5000000001 right: the threshold is the midpoint 2.5, x <= threshold left');
SELECT ok((SELECT bool_and(abs(ours - sk) <= 1e-9 * greatest(1, abs(sk))) FROM gbt_cmp WHERE name = 'small'),
          'two features, 5 trees of up to 4 leaves, l2 and learning rate: every prediction equals scikit-learn''s');
SELECT ok((SELECT avg((ours - y) ^ 2) / avg((sk - y) ^ 2) BETWEEN 0.97 AND 1.03 FROM gbt_cmp WHERE name = c),
          c || ': held-out MSE within 3 % of scikit-learn''s')
  FROM unnest(ARRAY['default', 'shallow', 'stumps', 'wide']) c;
SELECT ok((SELECT corr(ours, sk) > 0.99 FROM gbt_cmp WHERE name = c), c || ': predictions correlate above 0.99 with scikit-learn''s')
  FROM unnest(ARRAY['default', 'shallow', 'stumps', 'wide']) c;
SELECT ok((SELECT avg((ours - y) ^ 2) < 0.2 * var_pop(y) FROM gbt_cmp WHERE name = 'default'),
          'default: the trees explain more than 80 % of the held-out variance');

-- parameters: scikit-learn's names and defaults, stored in full
SELECT is(stockml.model_describe((SELECT model FROM gbt_models WHERE name = 'default')) -> 'params',
          '{"tol": 1e-07, "max_bins": 255, "max_iter": 100, "max_depth": null, "learning_rate": 0.1,
            "early_stopping": false, "max_leaf_nodes": 31, "min_samples_leaf": 20, "n_iter_no_change": 10,
            "l2_regularization": 0, "validation_fraction": 0.1}'::jsonb, 'the defaults, as scikit-learn''s');
SELECT throws_ok($$SELECT stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"n_estimators": 10}')$$, '22023',
                 'unknown parameter "n_estimators" for algorithm "gbt"', 'an unknown parameter is refused by name');
DO $$
BEGIN
    PERFORM stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"n_estimators": 10}');
EXCEPTION WHEN invalid_parameter_value THEN
    DECLARE d text;
    BEGIN
        GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
        CREATE TEMP TABLE gbt_detail AS SELECT d;
    END;
END
$$;
SELECT is((SELECT d FROM gbt_detail),
          'Parameters of gbt: max_iter, learning_rate, max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization, max_bins, early_stopping, validation_fraction, n_iter_no_change, tol.',
          'the detail names every parameter of gbt');
SELECT throws_ok($$SELECT stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"max_bins": 256}')$$, '22023',
                 'parameter "max_bins" of gbt cannot be 256', 'max_bins above 255 is refused');
SELECT throws_ok($$SELECT stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"learning_rate": 0}')$$, '22023',
                 'parameter "learning_rate" of gbt must be more than 0', 'learning_rate 0 is refused');
SELECT throws_ok($$SELECT stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"early_stopping": "yes"}')$$, '22023',
                 'parameter "early_stopping" must be true or false or "auto"', 'early_stopping takes true, false or "auto"');
SELECT throws_ok($$SELECT stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"max_depth": "none"}')$$, '22023',
                 'parameter "max_depth" must be a number', 'max_depth takes a number or null');
SELECT is(stockml.model_describe(stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"max_depth": 2, "early_stopping": "auto"}')) -> 'params' -> 'max_depth',
          '2'::jsonb, 'max_depth 2 is kept');
SELECT is(stockml.model_describe(stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}', '{"max_depth": null}')) -> 'params' ->> 'early_stopping',
          'auto', 'early_stopping "auto" is kept as "auto"');

-- max_depth and early stopping act: depth 1 makes stumps, early stopping stops before max_iter
SELECT is((SELECT count(DISTINCT stockml.model_predict(stockml.fit('gbt', '{{1},{2},{3},{4},{5},{6},{7},{8}}', '{1,4,2,8,5,7,3,6}',
                                                                   '{"max_iter": 1, "max_depth": 1, "min_samples_leaf": 1}'), ARRAY[v::float8]))
             FROM generate_series(1, 8) v), 2::bigint, 'max_depth 1: one split');
SELECT ok((SELECT avg((stockml.model_predict(es.m, t.x) - t.y) ^ 2) < 1.05 * avg((stockml.model_predict(fl.m, t.x) - t.y) ^ 2)
             FROM gbt_test t,
                  (SELECT stockml.fit('gbt', array_agg(x ORDER BY row), array_agg(y ORDER BY row),
                                      '{"max_iter": 1000, "learning_rate": 0.5, "early_stopping": true}') AS m
                     FROM gbt_train WHERE set = 'big') es,
                  (SELECT stockml.fit('gbt', array_agg(x ORDER BY row), array_agg(y ORDER BY row),
                                      '{"max_iter": 1000, "learning_rate": 0.5, "early_stopping": false}') AS m
                     FROM gbt_train WHERE set = 'big') fl
            WHERE t.set = 'big'),
          'early stopping on the held-out tail does no worse than 1000 trees at learning rate 0.5');

-- NaN features are refused at fit and give no prediction
SELECT throws_ok($$SELECT stockml.fit('gbt', '{{1},{NaN},{3}}', '{1,2,3}')$$, '22000',
                 'feature 1 of row 2 is NaN', 'fit refuses a NaN feature');
SELECT throws_ok($$SELECT stockml.model_predict(stockml.fit('gbt', '{{1},{2},{3}}', '{1,2,3}'), '{NaN}')$$, '22003',
                 'the model predicts NaN for this x', 'predict refuses a NaN feature');

-- damaged blobs with a valid checksum: the one-stump model of case "one" is 196 bytes:
-- header 20, mean 20, scale 28, 11 parameters 36..123, payload version 124, baseline 128,
-- tree count 136, importance 140, node count 148, root (feature 152, threshold 156,
-- left 164), leaves (168 feature, 172 value; 180, 184), checksum 192
\ir include/blob.sql
-- the stump with bytes at offset replaced by piece, the checksum recomputed
CREATE FUNCTION pg_temp.seal(v bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT v || pg_temp.le(int4send(pg_temp.crc32c(v)::bit(32)::int4))
$$;
CREATE FUNCTION pg_temp.damaged(off int, piece bytea, off2 int DEFAULT 0, piece2 bytea DEFAULT '') RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_temp.seal(overlay(overlay(substr(model, 1, length(model) - 4) PLACING piece FROM off + 1) PLACING piece2 FROM off2 + 1))
      FROM gbt_models WHERE name = 'one'
$$;
SELECT is(length((SELECT model FROM gbt_models WHERE name = 'one')), 196, 'the stump blob has the documented size');
SELECT is(pg_temp.damaged(0, ''), (SELECT model FROM gbt_models WHERE name = 'one'),
          'the test rebuilds the blob byte for byte (checksum included)');
SELECT is(stockml.model_predict(pg_temp.damaged(156, pg_temp.le(float8send(3.5))), '{3}'),
          (SELECT ours FROM gbt_cmp WHERE name = 'one' AND row = 1), 'a moved threshold (still valid) decodes and is used');
SELECT throws_ok(format($$SELECT stockml.model_predict(%L::bytea, '{1}')$$, pg_temp.damaged(o, p)), 'XX001',
                 'invalid stockml model', what)
  FROM (VALUES (164, pg_temp.le(int4send(0)), 'a child index pointing back at its parent (a loop)'),
               (164, pg_temp.le(int4send(2)), 'a child index past the tree''s end'),
               (164, pg_temp.le(int4send(-1)), 'a child index of 2^32-1'),
               (152, pg_temp.le(int4send(1)), 'a split on a feature the model does not have'),
               (152, pg_temp.le(int4send(-1)), 'a root turned into a leaf (nodes left unreached)'),
               (172, pg_temp.le(float8send('NaN')), 'a NaN leaf value'),
               (156, pg_temp.le(float8send('Infinity')), 'an infinite threshold'),
               (136, pg_temp.le(int4send(2)), 'more trees than the payload holds'),
               (136, pg_temp.le(int4send(1000)), 'more trees than max_iter'),
               (148, pg_temp.le(int4send(2)), 'an even node count'),
               (148, pg_temp.le(int4send(-1)), 'a node count of 2^32-1'),
               (148, pg_temp.le(int4send(5)), 'a node count past the payload'),
               (140, pg_temp.le(float8send(-1)), 'a negative importance'),
               (124, pg_temp.le(int4send(2)), 'an unknown payload version'),
               (148, pg_temp.le(int4send(1)), 'a node count too small for the splits')) v(o, p, what);
SELECT throws_ok(format($$SELECT stockml.model_predict(%L::bytea, '{1}')$$,
                        pg_temp.damaged(128, pg_temp.le(float8send(1e308)), 172, pg_temp.le(float8send(1e308)))),
                 'XX001', 'invalid stockml model', 'a baseline and a leaf value whose sum overflows float8');
SELECT is(stockml.model_predict(pg_temp.damaged(128, pg_temp.le(float8send(1e307)), 172, pg_temp.le(float8send(1e307))), '{1}'),
          2e307::float8, 'large but finite values decode and predict');

-- interrupts: a 1 s statement_timeout stops a fit of many trees on 100 000 rows
CREATE TEMP TABLE gbt_long AS
SELECT array_agg(ARRAY[random(), random(), random(), random()]) AS x, array_agg(random()) AS y FROM generate_series(1, 100000);
CREATE TEMP TABLE timed (state text, secs float8);
CREATE FUNCTION pg_temp.timed(sql text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    st text;
BEGIN
    BEGIN
        EXECUTE sql;
    EXCEPTION WHEN query_canceled OR others THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
    END;
    INSERT INTO timed VALUES (st, extract(epoch FROM clock_timestamp() - t0));
END
$$;
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed($$SELECT stockml.fit('gbt', x, y, '{"max_iter": 10000, "early_stopping": false, "min_samples_leaf": 1, "max_leaf_nodes": 255}') FROM gbt_long$$);
RESET statement_timeout;
SELECT is((SELECT state FROM timed), '57014', 'statement_timeout cancels a long fit');
SELECT cmp_ok((SELECT secs FROM timed), '<', 3::float8, 'within 3 s of its start');

-- no lookahead: on a seeded random walk of 5000 weekdays (as sql/train.sql) gbt's out-of-sample
-- directional accuracy is 50 +- 3 % and its skill at most 0.02, at horizons 1 and 5
SELECT setseed(0.25);
INSERT INTO stockml.symbols (symbol) VALUES ('GBT_RW');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'GBT_RW', d, o, greatest(o, c) * 1.002, least(o, c) * 0.998, c, 1000000
  FROM (SELECT d, coalesce(lag(c) OVER (ORDER BY i), c) AS o, c
          FROM (SELECT i, DATE '2000-01-03' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
                       100 * exp(sum(r) OVER (ORDER BY i)) AS c
                  FROM (SELECT i, 0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS r
                          FROM generate_series(1, 5000) i) s) t) u;
CREATE TEMP TABLE gbt_rw AS
SELECT h, t.* FROM unnest(ARRAY[1, 5]) h, LATERAL stockml.train('gbt_rw', ARRAY['GBT_RW'], 'gbt', h, '{"auto_deploy": false}') t;
SELECT ok((metrics ->> 'directional_accuracy')::float8 BETWEEN 0.47 AND 0.53,
          format('random walk, horizon %s: directional accuracy %s is 50 +- 3 %%', h, round((metrics ->> 'directional_accuracy')::numeric, 3)))
  FROM gbt_rw ORDER BY h;
SELECT ok((metrics ->> 'skill')::float8 <= 0.02,
          format('random walk, horizon %s: skill %s <= 0.02', h, round((metrics ->> 'skill')::numeric, 3)))
  FROM gbt_rw ORDER BY h;
SELECT is((SELECT algorithm FROM stockml.models WHERE name = 'gbt_rw' AND version = 1), 'gbt', 'train() registers a gbt version');


-- feature importance (issue 10 item 4): split gain of a stump is the training squared error it
-- removes, computed here from the rows; a linear model's are its standardized coefficients
SELECT ok(abs((SELECT importance FROM stockml.model_importance((SELECT model FROM gbt_models WHERE name = 'one')))
              - (SELECT sum((y - a.m) ^ 2) FROM gbt_train, (SELECT avg(y) m FROM gbt_train WHERE set = 'one') a WHERE set = 'one')
              + (SELECT sum((y - s.m) ^ 2) FROM gbt_train t JOIN (SELECT x[1] <= 2.5 AS l, avg(y) m FROM gbt_train WHERE set = 'one' GROUP BY 1) s
                                            ON (t.x[1] <= 2.5) = s.l WHERE t.set = 'one')) < 1e-6,
          'the stump''s split gain is the squared error its split removes (parent minus children)');
SELECT is((SELECT string_agg(method, ',') FROM stockml.model_importance((SELECT model FROM gbt_models WHERE name = 'small'))),
          'split_gain,split_gain', 'gbt: one split_gain per feature');
SELECT ok((SELECT bool_and(importance >= 0) AND sum(importance) > 0
             FROM stockml.model_importance((SELECT model FROM gbt_models WHERE name = 'default'))),
          'split gains are not negative, and not all 0');
SELECT lives_ok($$SELECT stockml.train('gbt_rw_ridge', ARRAY['GBT_RW'], 'ridge', 1, '{"auto_deploy": false}')$$, 'a ridge version to compare');
SELECT is((SELECT array_agg(importance ORDER BY ord) FROM stockml.feature_importance('gbt_rw_ridge', 1) WITH ORDINALITY f(feature, importance, method, ord)),
          (SELECT array_agg(c::float8 ORDER BY i) FROM jsonb_array_elements_text(stockml.model_describe(
              (SELECT model FROM stockml.models WHERE name = 'gbt_rw_ridge' AND version = 1)) -> 'coef') WITH ORDINALITY c(c, i)),
          'ridge: the importances are the coefficients on standardized features');
SELECT is((SELECT array_agg(feature ORDER BY ord) FROM stockml.feature_importance('gbt_rw', 1) WITH ORDINALITY f(feature, importance, method, ord)),
          (SELECT array_agg(f ->> 'name' ORDER BY i) FROM stockml.models m, jsonb_array_elements(m.feature_spec -> 'features') WITH ORDINALITY e(f, i)
            WHERE m.name = 'gbt_rw' AND m.version = 1),
          'gbt: named by the version''s feature spec, in its order');
SELECT is((SELECT count(DISTINCT method) || ':' || min(method) FROM stockml.feature_importance('gbt_rw', 2)), '1:split_gain', 'version 2 too');
SELECT throws_ok($$SELECT * FROM stockml.feature_importance('gbt_rw')$$, '55000', 'model "gbt_rw" has no production version',
                 'no version and no production version: an ERROR');
SELECT throws_ok($$SELECT * FROM stockml.feature_importance('gbt_rw', 9)$$, '42704', 'model "gbt_rw" has no version 9',
                 'an unknown version: an ERROR');
SELECT throws_ok($$SELECT * FROM stockml.feature_importance('nope')$$, '42704', 'model "nope" does not exist',
                 'an unknown model: an ERROR');

-- the histograms add a row's bins 8 features at a time and the rest one by one: 5 constant
-- columns (one bin each, never split) after or before the 6 of 'big' (11 features: the real ones
-- then fall in the group of 8 and in the rest) leave every tree, so every prediction, as it was
CREATE TEMP TABLE gbt_padded AS
SELECT (SELECT model FROM gbt_models WHERE name = 'default') AS plain,
       stockml.fit('gbt', (SELECT array_agg(x || '{7,7,7,7,7}'::float8[] ORDER BY row) FROM gbt_train WHERE set = 'big'),
                   (SELECT array_agg(y ORDER BY row) FROM gbt_train WHERE set = 'big'), '{"early_stopping": false}') AS after,
       stockml.fit('gbt', (SELECT array_agg('{7,7,7,7,7}'::float8[] || x ORDER BY row) FROM gbt_train WHERE set = 'big'),
                   (SELECT array_agg(y ORDER BY row) FROM gbt_train WHERE set = 'big'), '{"early_stopping": false}') AS before;
SELECT ok((SELECT bool_and(stockml.model_predict(plain, x) = stockml.model_predict(after, x || '{7,7,7,7,7}'::float8[]))
             FROM gbt_test, gbt_padded WHERE set = 'big'),
          '5 constant features after the 6: the same predictions to the bit');
SELECT ok((SELECT bool_and(stockml.model_predict(plain, x) = stockml.model_predict(before, '{7,7,7,7,7}'::float8[] || x))
             FROM gbt_test, gbt_padded WHERE set = 'big'),
          '5 constant features before the 6 (which then straddle the group of 8): the same predictions to the bit');

SELECT * FROM finish();
ROLLBACK;

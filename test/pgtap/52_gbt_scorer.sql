-- gbt's bitvector evaluator (src/model_gbt_scorer.c) against the node-by-node walk it
-- replaced, which stays as the reference (SET stockml.gbt_evaluator = 'walk'): on seeded
-- random models (2 to 65 leaves, depth limits, partial blocks of trees, one-leaf trees,
-- 1 to 40 features) and rows that sit exactly on thresholds, one ulp either side of
-- them, at -0 and 0 around a threshold of 0, at the infinities and near the largest
-- doubles, every prediction of the AVX-512 kernel ('auto' on a CPU that has it) and of
-- the portable kernel equals the walk's bit for bit (float8send).
BEGIN;
SELECT plan(16);
SELECT setseed(0.1002);

-- features: 1 an integer 0..6 (thresholds k + 0.5), 2 a sign (threshold 0), 3 one
-- decimal in [-2, 2] (about 40 distinct values: every midpoint a threshold), 4 normal,
-- 5 tiny, 6 heavy-tailed, 7..40 uniform noise
CREATE TEMP TABLE sc_train AS
SELECT i, x, (x[1] * 0.3 + CASE WHEN x[2] > 0 THEN x[3] ELSE -x[3] END + sin(x[4]) + 100 * x[5]
              + 0.1 * x[6] + 0.05 * x[7] + (random() - 0.5)) AS y
  FROM (SELECT i, ARRAY[floor(random() * 7), CASE WHEN random() < 0.5 THEN -1 ELSE 1 END,
                        round((random() * 4 - 2)::numeric, 1)::float8,
                        sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()),
                        random() * 1e-3, tan((random() - 0.5) * 3.1)]
                  || ARRAY(SELECT random() FROM generate_series(1, 34) WHERE i > 0) AS x
          FROM generate_series(1, 1500) i) s;

CREATE TEMP TABLE sc_cases (name text, p int, params jsonb, constant_y bool DEFAULT false);
INSERT INTO sc_cases VALUES
    ('stumps',    2,  '{"max_iter": 37, "max_leaf_nodes": 2}'),
    ('three',     3,  '{"max_iter": 20, "max_leaf_nodes": 3, "learning_rate": 0.3}'),
    ('default',   6,  '{"max_iter": 50}'),
    ('leaves32',  7,  '{"max_iter": 17, "max_leaf_nodes": 32, "min_samples_leaf": 1}'),
    ('leaves33',  7,  '{"max_iter": 9, "max_leaf_nodes": 33, "min_samples_leaf": 1}'),
    ('leaves64',  6,  '{"max_iter": 12, "max_leaf_nodes": 64, "min_samples_leaf": 1, "l2_regularization": 0.5}'),
    ('leaves65',  6,  '{"max_iter": 5, "max_leaf_nodes": 65, "min_samples_leaf": 1}'),
    ('depth3',    6,  '{"max_iter": 24, "max_leaf_nodes": 64, "max_depth": 3}'),
    ('wide',      40, '{"max_iter": 33, "max_leaf_nodes": 15, "min_samples_leaf": 5}'),
    ('bins2',     40, '{"max_iter": 18, "max_leaf_nodes": 8, "max_bins": 2}'),
    ('one',       1,  '{"max_iter": 3, "max_leaf_nodes": 4}');
INSERT INTO sc_cases VALUES ('one_leaf', 3, '{"max_iter": 4}', true);

CREATE TEMP TABLE sc_models AS
SELECT c.name, c.p, stockml.fit('gbt', (SELECT array_agg(x[1:c.p] ORDER BY i) FROM sc_train),
                                (SELECT array_agg(CASE WHEN c.constant_y THEN 1.5 ELSE y END ORDER BY i) FROM sc_train),
                                c.params || '{"early_stopping": false}') AS model
  FROM sc_cases c;

-- the rows: the training rows, then on the first training row each feature set to every
-- bin edge of the discrete features (midpoints of their distinct values, as the fit
-- computes them), one ulp either side of it, and the special values
CREATE TEMP TABLE sc_edges AS
SELECT j, m AS v
  FROM (SELECT j, (a + lead(a) OVER (PARTITION BY j ORDER BY a)) * 0.5 AS m
          FROM (SELECT DISTINCT j, x[j] AS a FROM sc_train, generate_series(1, 3) j) d) e
 WHERE m IS NOT NULL;
CREATE TEMP TABLE sc_rows AS
SELECT i AS row, x FROM sc_train
UNION ALL
SELECT 100000 + row_number() OVER (ORDER BY j, v), x[1:j - 1] || v || x[j + 1:]
  FROM (SELECT j, e.v + d * greatest(abs(e.v) * 1.2e-16, 5e-324) AS v
          FROM sc_edges e, (VALUES (-1::float8), (0), (1)) s(d)
        UNION ALL
        SELECT j, v FROM generate_series(1, 40) j,
               (VALUES ('-0'::float8), (0), ('Infinity'), ('-Infinity'), (1.7976931348623157e308),
                       (-1.7976931348623157e308), (5e-324), (-5e-324)) s(v)) w,
       (SELECT x FROM sc_train WHERE i = 1) t;

SELECT is((SELECT count(*) FROM sc_edges WHERE j = 1), 6::bigint, 'feature 1 has the 6 edges k + 0.5');
SELECT is((SELECT array_agg(v) FROM sc_edges WHERE j = 2), '{0}'::float8[], 'feature 2 has the edge 0');

CREATE TEMP TABLE sc_pred (mode text, name text, row int, y float8);
CREATE FUNCTION pg_temp.predict_all(mode text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('stockml.gbt_evaluator', mode, true);
    INSERT INTO sc_pred
    SELECT mode, m.name, r.row, r.y
      FROM sc_models m,
           LATERAL (SELECT row, stockml.model_predict(m.model, x[1:m.p]) AS y FROM sc_rows) r;
    PERFORM set_config('stockml.gbt_evaluator', 'auto', true);
END
$$;
SELECT pg_temp.predict_all('walk');
SELECT pg_temp.predict_all('auto');
SELECT pg_temp.predict_all('portable');

SELECT is((SELECT count(*) FROM sc_pred WHERE mode = 'walk'), (SELECT count(*) * 12 FROM sc_rows),
          'every case predicts every row');
SELECT is((SELECT count(*) FROM sc_pred w JOIN sc_pred a USING (name, row)
            WHERE w.mode = 'walk' AND a.mode = 'auto' AND float8send(w.y) = float8send(a.y)),
          (SELECT count(*) FROM sc_pred WHERE mode = 'walk'),
          'the default evaluator gives the walk''s prediction to the bit on every row');
SELECT is((SELECT count(*) FROM sc_pred w JOIN sc_pred a USING (name, row)
            WHERE w.mode = 'walk' AND a.mode = 'portable' AND float8send(w.y) = float8send(a.y)),
          (SELECT count(*) FROM sc_pred WHERE mode = 'walk'),
          'the portable kernel gives the walk''s prediction to the bit on every row');
SELECT is((SELECT array_agg(name ORDER BY name) FROM sc_pred w JOIN sc_pred a USING (name, row)
            WHERE w.mode = 'walk' AND a.mode = 'auto' AND float8send(w.y) <> float8send(a.y)), NULL,
          'no case has a differing row');
-- the comparison is not vacuous: the models are not constant and the edge rows move them
SELECT ok((SELECT bool_and(n > 50) FROM (SELECT name, count(DISTINCT y) n FROM sc_pred
                                          WHERE mode = 'walk' AND name NOT IN ('one_leaf', 'stumps', 'one', 'three')
                                          GROUP BY name) s),
          'each fitted case gives more than 50 distinct predictions');
SELECT is((SELECT count(DISTINCT y) FROM sc_pred WHERE mode = 'walk' AND name = 'one_leaf'), 1::bigint,
          'trees of one leaf predict the constant');
SELECT ok((SELECT count(DISTINCT w.y) > 1 FROM sc_pred w WHERE mode = 'auto' AND name = 'default' AND row > 100000
            AND row IN (SELECT 100000 + k FROM generate_series(1, 18) k)),
          'the rows on and around feature 1''s edges get different predictions');

-- which evaluator a model gets: the bitvectors up to 64 leaves, the walk above
SELECT is((SELECT array_agg(DISTINCT stockml.model_describe(model) ->> 'evaluator') FROM sc_models WHERE name <> 'leaves65'),
          '{bitvector}', 'models of up to 64 leaves a tree are evaluated as bitvectors');
SELECT is((SELECT stockml.model_describe(model) ->> 'evaluator' FROM sc_models WHERE name = 'leaves65'),
          'walk', 'a model with a tree of more than 64 leaves keeps the walk');
SELECT cmp_ok((SELECT max(((stockml.model_describe(model) ->> 'trees')::int)) FROM sc_models WHERE name = 'leaves65'),
              '=', 5, 'model_describe gives the tree count');

-- NaN is refused by every evaluator
SELECT throws_ok($$SELECT stockml.model_predict((SELECT model FROM sc_models WHERE name = 'default'), '{1,1,0,NaN,0,0}')$$,
                 '22003', 'the model predicts NaN for this x', 'a NaN feature gives no prediction (auto)');
SET LOCAL stockml.gbt_evaluator = 'portable';
SELECT throws_ok($$SELECT stockml.model_predict((SELECT model FROM sc_models WHERE name = 'default'), '{1,1,0,NaN,0,0}')$$,
                 '22003', 'the model predicts NaN for this x', 'a NaN feature gives no prediction (portable)');
RESET stockml.gbt_evaluator;
-- the AVX-512 kernel checks 8 features at a time: a NaN in a later 8, and the last of a part 8
SELECT throws_ok($$SELECT stockml.model_predict((SELECT model FROM sc_models WHERE name = 'wide'),
                                                (SELECT array_agg(CASE WHEN k = 38 THEN 'NaN'::float8 ELSE 0.5 END)
                                                   FROM generate_series(1, 40) k))$$,
                 '22003', 'the model predicts NaN for this x', 'a NaN as feature 38 of 40 gives no prediction');
SELECT throws_ok($$SELECT stockml.model_predict((SELECT model FROM sc_models WHERE name = 'leaves32'), '{1,1,0,0,0,0,NaN}')$$,
                 '22003', 'the model predicts NaN for this x', 'a NaN as feature 7 of 7 gives no prediction');

SELECT * FROM finish();
ROLLBACK;

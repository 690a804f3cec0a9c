-- Models on matrices: the algorithms against scikit-learn (test/reference/models.py), the
-- bytea format against damage, and parameter validation.

-- scikit-learn's predictions on the same standardized matrix (nearly collinear: x6 ~ 3 x1)
CREATE TEMP TABLE ref_train (row int, x float8[], y float8);
\copy ref_train FROM 'test/reference/models_train.csv' WITH (FORMAT csv)
CREATE TEMP TABLE ref_test (row int, x float8[]);
\copy ref_test FROM 'test/reference/models_test.csv' WITH (FORMAT csv)
CREATE TEMP TABLE ref_expected (name text, algorithm text, params jsonb, row int, prediction float8);
\copy ref_expected FROM 'test/reference/models_expected.csv' WITH (FORMAT csv)

CREATE TEMP TABLE fitted AS
SELECT name, algorithm, params,
       stockml.fit(algorithm, (SELECT array_agg(x ORDER BY row) FROM ref_train),
                   (SELECT array_agg(y ORDER BY row) FROM ref_train), params) AS model
  FROM (SELECT DISTINCT name, algorithm, params FROM ref_expected) cases;

-- OLS and ridge to 1e-6 relative, elastic net to 1e-4
SELECT f.name, count(*) AS rows,
       count(*) FILTER (WHERE abs(stockml.model_predict(f.model, t.x) - e.prediction)
                              > CASE f.algorithm WHEN 'ridge' THEN 1e-6 ELSE 1e-4 END
                                * abs(e.prediction)) AS mismatches,
       round(max(abs(stockml.model_predict(f.model, t.x) - e.prediction)
                 / abs(e.prediction))::numeric, 6) AS max_rel_err
  FROM fitted f JOIN ref_expected e USING (name) JOIN ref_test t USING (row)
 GROUP BY f.name ORDER BY f.name;

-- the parameters are kept in the blob, defaults filled in
SELECT name, stockml.model_describe(model) -> 'params' AS params,
       stockml.model_describe(model) ->> 'n_features' AS n_features
  FROM fitted ORDER BY name;

-- a hand-worked line: y = 2x + 1 (OLS), coefficients on the standardized x
-- (z = (x - 2) / sqrt(2/3), so the coefficient on z is 2 sqrt(2/3) = 1.632993161855...)
SELECT d ->> 'algorithm' AS algorithm, d ->> 'n_features' AS n_features, d -> 'mean' AS mean,
       round((d -> 'scale' ->> 0)::numeric, 12) AS scale, round((d -> 'coef' ->> 0)::numeric, 12) AS coef,
       round((d ->> 'intercept')::numeric, 12) AS intercept, round(at_10::numeric, 12) AS at_10
  FROM stockml.fit('ridge', '{{1},{2},{3}}', '{3,5,7}', '{"alpha": 0}') m,
       LATERAL stockml.model_describe(m) d, LATERAL stockml.model_predict(m, '{10}') at_10;
-- ridge shrinks it: w = s^2/(s^2 + alpha) * w_ols on z, s^2 = sum z^2 = 3, so alpha 2 keeps 3/5: 5 + 0.6 * 2
SELECT round(stockml.model_predict(m, '{3}')::numeric, 12) AS at_3
  FROM stockml.fit('ridge', '{{1},{2},{3}}', '{3,5,7}', '{"alpha": 2}') m;
-- naive predicts a log return of 0 whatever the features
SELECT stockml.model_predict(stockml.fit('naive', '{{1},{2},{3}}', '{3,5,7}'), '{100}') AS naive;
-- a constant feature gets scale 1 and no weight
SELECT d -> 'scale' -> 0 AS constant_scale, abs((d -> 'coef' ->> 0)::float8) < 1e-9 AS constant_unweighted,
       round((d -> 'scale' ->> 1)::numeric, 12) AS scale, round((d -> 'coef' ->> 1)::numeric, 12) AS coef
  FROM stockml.model_describe(stockml.fit('ridge', '{{4,1},{4,2},{4,3}}', '{3,5,7}', '{"alpha": 0}')) d;

-- bad parameters and shapes: clear ERRORs
SELECT stockml.fit('ridge', '{{1},{2}}', '{1,2}', '{"alpha": -1}');
SELECT stockml.fit('ridge', '{{1},{2}}', '{1,2}', '{"lambda": 1}');
SELECT stockml.fit('ridge', '{{1},{2}}', '{1,2}', '{"alpha": "big"}');
SELECT stockml.fit('ridge', '{{1},{2}}', '{1,2}', '[1]');
SELECT stockml.fit('elastic_net', '{{1},{2}}', '{1,2}', '{"l1_ratio": 1.5}');
SELECT stockml.fit('elastic_net', '{{1},{2}}', '{1,2}', '{"max_iter": 2.5}');
SELECT stockml.fit('svm', '{{1},{2}}', '{1,2}');
SELECT stockml.fit('ridge', '{1,2}', '{1,2}');
SELECT stockml.fit('ridge', '{{1},{2}}', '{1,2,3}');
SELECT stockml.fit('ridge', '{{1},{NULL}}', '{1,2}');
SELECT stockml.fit('ridge', '{{1},{NaN}}', '{1,2}');
SELECT stockml.fit('ridge', '{{1}}', '{1}');
SELECT stockml.model_predict(stockml.fit('ridge', '{{1},{2}}', '{1,2}'), '{1,2}');

-- damaged blobs are ERRORs, never a crash or a wrong answer
CREATE FUNCTION pg_temp.decode(b bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stockml.model_predict(b, '{1,2,3,4,5,6}');
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SELECT length(model) AS bytes, pg_temp.decode(model) AS intact FROM fitted WHERE name = 'ols';
SELECT stockml.model_predict(''::bytea, '{1}');
SELECT stockml.model_predict('hello, world'::bytea, '{1}');
SELECT stockml.model_predict(overlay(model placing 'XXXX'::bytea from 1), '{1,2,3,4,5,6}')
  FROM fitted WHERE name = 'ols';
SELECT stockml.model_predict(substr(model, 1, length(model) - 1), '{1,2,3,4,5,6}')
  FROM fitted WHERE name = 'ols';
SELECT stockml.model_predict(set_byte(model, 40, get_byte(model, 40) # 1), '{1,2,3,4,5,6}')
  FROM fitted WHERE name = 'ols';
-- every truncation and every single flipped byte, over the whole blob
SELECT count(*) AS truncations, count(*) FILTER (WHERE pg_temp.decode(substr(model, 1, len)) <> 'ok') AS refused
  FROM fitted, generate_series(0, length(model) - 1) len WHERE name = 'ols';
SELECT count(*) AS flips, count(*) FILTER (WHERE pg_temp.decode(set_byte(model, i, get_byte(model, i) # 16)) <> 'ok') AS refused,
       string_agg(DISTINCT pg_temp.decode(set_byte(model, i, get_byte(model, i) # 16)), ',') AS sqlstates
  FROM fitted, generate_series(0, length(model) - 1) i WHERE name = 'ols';

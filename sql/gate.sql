-- The deploy gate: the Diebold-Mariano test against numpy/scipy (test/reference/dm.py wrote
-- test/reference/dm_cases.csv), the validation rows train() keeps, compare(), and the gate's
-- measured error rates on seeded series: a version on a random walk (nothing to learn) is
-- deployed at most about alpha of the time; on AR(1) returns (something to learn) it is.
CREATE TEMP TABLE dm_cases (name text, horizon int, d float8[], n int, mean float8,
                            statistic float8, hac_lag int, p_value float8);
\copy dm_cases FROM 'test/reference/dm_cases.csv' CSV HEADER
SELECT c.name, t.n = c.n AS n, t.hac_lag = c.hac_lag AS lag,
       abs(t.mean - c.mean) <= 1e-12 * greatest(1, abs(c.mean)) AS mean,
       abs(t.statistic - c.statistic) <= 1e-9 * greatest(1, abs(c.statistic)) AS statistic,
       abs(t.p_value - c.p_value) <= 1e-9 * greatest(1e-6, c.p_value) AS p_value
  FROM dm_cases c, stockml.dm_test(c.d, c.horizon) t ORDER BY c.name;
-- edge cases: too few values, a constant differential, bad input
SELECT * FROM stockml.dm_test('{}');
SELECT * FROM stockml.dm_test('{1.5}');
SELECT * FROM stockml.dm_test('{0, 0, 0, 0}');
SELECT * FROM stockml.dm_test('{0.1, 0.1, 0.1}');
SELECT * FROM stockml.dm_test('{0.1, NULL}');
SELECT * FROM stockml.dm_test('{0.1, NaN}');
SELECT * FROM stockml.dm_test('{0.1, 0.2}', 0);
SELECT * FROM stockml.dm_test(NULL);

-- seeded series: GATE_AR has AR(1) log returns (coefficient 0.4), GATE_RW01..40 are random walks
CREATE FUNCTION pg_temp.load_series(symbol text, n int, phi float8, seed float8) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM setseed(seed);
    INSERT INTO stockml.symbols (symbol) VALUES (symbol);
    INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
    SELECT load_series.symbol, d, c, c * 1.002, c * 0.998, c, 1000
      FROM (SELECT DATE '2015-01-05' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS d,
                   100 * exp(sum(r) OVER (ORDER BY i)) AS c
              FROM (WITH RECURSIVE ar(i, r) AS (
                        SELECT 1, 0::float8
                        UNION ALL
                        SELECT i + 1, phi * r + 0.01 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                          FROM ar WHERE i < n)
                    SELECT * FROM ar) s) t;
END $$;
SELECT pg_temp.load_series('GATE_AR', 1200, 0.4, 0.5);
-- the default features learn little of an AR(1); yesterday's return learns it
INSERT INTO stockml.feature_sets (name, spec) VALUES ('gate_r1',
  '{"features": [{"name": "r1", "indicator": "log_return", "k": 1}]}');

-- a first version that learns: deployed, with the p-value in its reason
SELECT version, deployed, metrics -> 'gate' ->> 'reason' AS reason, round((metrics ->> 'skill')::numeric, 3) AS skill
  FROM stockml.train('gate_ar', ARRAY['GATE_AR'], params => '{"alpha": 1}', feature_set => 'gate_r1');
-- every out-of-sample prediction is kept, and scores the metrics train() reported
SELECT count(*) = (m.metrics ->> 'n_test')::bigint AS all_rows, count(DISTINCT v.fold) AS folds,
       abs(avg(abs(v.close * exp(v.yhat) - v.close * exp(v.y))) - (m.metrics ->> 'mae')::float8) < 1e-9 AS same_mae,
       abs(avg(abs(v.close - v.close * exp(v.y))) - (m.metrics ->> 'naive_mae')::float8) < 1e-9 AS same_naive_mae,
       bool_and(v.naive = 0) AS naive_zero, bool_and(v.day < v.target_day) AS target_after_day
  FROM stockml.validation_predictions v JOIN stockml.models m ON m.id = v.model_id
 WHERE m.name = 'gate_ar' AND m.version = 1 GROUP BY m.metrics;
-- a near-constant challenger does not beat production: kept, not deployed, p in the reason
SELECT version, deployed, metrics -> 'gate' ->> 'reason' AS reason
  FROM stockml.train('gate_ar', ARRAY['GATE_AR'], params => '{"alpha": 100000}', feature_set => 'gate_r1');
-- the same challenger when production is the near-constant one: deployed
SELECT action FROM stockml.deploy('gate_ar', 2, reason => 'test');
SELECT version, deployed, metrics -> 'gate' ->> 'reason' AS reason
  FROM stockml.train('gate_ar', ARRAY['GATE_AR'], params => '{"alpha": 1}', feature_set => 'gate_r1');
-- naive never deploys (skill 0); auto_deploy off says so
SELECT version, deployed, metrics -> 'gate' ->> 'reason' AS reason
  FROM stockml.train('gate_ar', ARRAY['GATE_AR'], 'naive');
SELECT version, deployed, metrics -> 'gate' ->> 'reason' AS reason
  FROM stockml.train('gate_ar', ARRAY['GATE_AR'], params => '{"alpha": 1, "auto_deploy": false}', feature_set => 'gate_r1');
SELECT version FROM stockml.model_aliases WHERE name = 'gate_ar' AND alias = 'production';
-- compare() for a user: the same test, both ways; version 0 is the random walk
SELECT model_name, a, b, loss, n_rows > 0 AS has_rows, mae_b < mae_a AS b_lower,
       p_b_better < 0.001 AS b_better, round((p_a_better + p_b_better)::numeric, 12) AS total
  FROM stockml.compare('gate_ar', 2, 3);
SELECT a, b, mae_a = mae_b AS same, dm_statistic, p_b_better FROM stockml.compare('gate_ar', 0, 4);
SELECT a, b, p_a_better < 0.001 AS a_better FROM stockml.compare('gate_ar', 1, 0);
SELECT * FROM stockml.compare('gate_ar', 0, 0);
SELECT * FROM stockml.compare('gate_ar', 1, 99);
SELECT * FROM stockml.compare('nope', 1, 2);
SELECT * FROM stockml.compare('gate_ar', NULL, 2);
SELECT version, deployed, metrics -> 'gate' ->> 'reason' AS reason
  FROM stockml.train('gate_ar', ARRAY['GATE_AR'], horizon => 5, params => '{"alpha": 1}');
SELECT * FROM stockml.compare('gate_ar', 1, 6);
-- the policy's deploy_alpha decides; out of range is refused
INSERT INTO stockml.retrain_policies (model_name, deploy_alpha) VALUES ('gate_ar', 1e-300);
SELECT version, deployed, metrics -> 'gate' ->> 'reason' AS reason
  FROM stockml.train('gate_ar', ARRAY['GATE_AR'], params => '{"alpha": 0.5}', feature_set => 'gate_r1');
\set VERBOSITY terse
UPDATE stockml.retrain_policies SET deploy_alpha = 0 WHERE model_name = 'gate_ar';
\set VERBOSITY default
-- dropping a model drops its validation rows
SELECT stockml.drop_model('gate_ar');
SELECT count(*) FROM stockml.validation_predictions WHERE model_name = 'gate_ar';

-- error rates: 40 random walks, each given a near-constant model (ridge alpha 1e5), a plain
-- ridge (alpha 1) on the default features, and OLS on yesterday's return; a false deploy is any
-- deploy.  Then 10 AR(1) series (coefficient 0.3), OLS on yesterday's return: the power.
-- reference_rows 0: no drift sample and no drift null, which the gate does not read.
SELECT count(*) FROM (
SELECT pg_temp.load_series(format('GATE_RW%s', lpad(i::text, 2, '0')), 800, 0, 1.0 / (i + 1))
  FROM generate_series(1, 40) i) s;
SELECT count(*) FROM (
SELECT pg_temp.load_series(format('GATE_AR%s', lpad(i::text, 2, '0')), 800, 0.3, 1.0 / (i + 50))
  FROM generate_series(1, 10) i) s;
CREATE TEMP TABLE gate_runs AS
SELECT s.symbol, a.model, t.deployed, (t.metrics ->> 'skill')::float8 AS skill,
       (t.metrics -> 'gate' ->> 'p_vs_naive')::float8 AS p
  FROM stockml.symbols s,
       (VALUES ('near_constant', 1e5, 'default'), ('ridge', 1, 'default'), ('ols_r1', 0, 'gate_r1')) a(model, alpha, features),
       LATERAL stockml.train(lower(s.symbol) || '_' || a.model, ARRAY[s.symbol],
                             params => jsonb_build_object('alpha', a.alpha, 'reference_rows', 0), feature_set => a.features) t
 WHERE s.symbol LIKE 'GATE\_RW%' OR (s.symbol LIKE 'GATE\_AR_%' AND a.model = 'ols_r1');
SELECT left(symbol, 7) AS series, model, count(*) AS runs, count(*) FILTER (WHERE deployed) AS deployed,
       count(*) FILTER (WHERE skill > 0) AS skill_positive, count(*) FILTER (WHERE p < 0.05) AS p_below_005,
       count(*) FILTER (WHERE deployed) <= 0.1 * count(*) AS deploys_le_10pct,
       count(*) FILTER (WHERE deployed) >= 0.9 * count(*) AS deploys_ge_90pct
  FROM gate_runs GROUP BY 1, 2 ORDER BY 1, 2;
-- pooled over the random walks: the false-deploy rate at alpha 0.05
SELECT count(*) AS runs, count(*) FILTER (WHERE deployed) AS false_deploys,
       round(avg(deployed::int), 3) AS false_deploy_rate, avg(deployed::int) <= 0.075 AS le_alpha_ish
  FROM gate_runs WHERE symbol LIKE 'GATE\_RW%';
-- the test's own size: 400 seeded AR(1) differentials (coefficient 0.5, mean 0, 250 days),
-- where an i.i.d. variance would reject far too often; one-sided rejections at 0.05
SELECT setseed(0.125);
SELECT count(*) AS series, count(*) FILTER (WHERE t.p_value < 0.05) AS rejected,
       count(*) FILTER (WHERE t.p_value < 0.05) BETWEEN 0.025 * count(*) AND 0.085 * count(*) AS size_near_005,
       count(*) FILTER (WHERE n.z > 1.6448536269514722) AS rejected_without_hac
  FROM (SELECT k, array_agg(r ORDER BY i) AS d
          FROM (WITH RECURSIVE ar(k, i, r) AS (
                    SELECT k, 1, sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                      FROM generate_series(1, 400) k
                    UNION ALL
                    SELECT k, i + 1, 0.5 * r + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())
                      FROM ar WHERE i < 250)
                SELECT * FROM ar) s GROUP BY k) x,
       stockml.dm_test(x.d) t,
       LATERAL (SELECT avg(v) / (stddev_pop(v) / sqrt(count(*))) AS z FROM unnest(x.d) v) n;
-- metrics that mean one thing: directional accuracy leaves out moves of exactly 0
-- (stockml.direction_hit, the C function train() and monitor() share: the naive forecast has no
-- direction), and skill per symbol and pooled from scale-free errors (MASE-style) beside the
-- price-MAE skill; both recomputed here from the validation rows
SELECT stockml.direction_hit(1, 2) AS up_up, stockml.direction_hit(-1, 2) AS down_up,
       stockml.direction_hit(0, 2) AS none_up, stockml.direction_hit(1, 0) AS up_none,
       stockml.direction_hit(-0.5, -3) AS down_down, stockml.direction_hit(NULL, 1) AS null_up;
UPDATE stockml.prices SET close = close * 50, open = open * 50, high = high * 50, low = low * 50
 WHERE symbol = 'GATE_RW01';
CREATE TEMP TABLE two AS
SELECT * FROM stockml.train('gate_two', ARRAY['GATE_AR01', 'GATE_RW01'], params => '{"alpha": 1}', feature_set => 'gate_r1');
SELECT t.metrics -> 'naive_directional_accuracy' AS naive_direction,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(t.metrics -> 'symbols') k) AS symbols,
       round((t.metrics ->> 'skill')::numeric, 3) AS price_skill, round((t.metrics ->> 'skill_scaled')::numeric, 3) AS skill_scaled
  FROM two t;
WITH v AS (
    SELECT v.symbol, abs(v.close * exp(v.yhat) - v.close * exp(v.y)) AS err, abs(v.close - v.close * exp(v.y)) AS naive_err,
           stockml.direction_hit(v.yhat, v.y) AS hit
      FROM stockml.validation_predictions v WHERE v.model_name = 'gate_two'),
s AS (SELECT symbol, avg(err) AS mae, avg(naive_err) AS naive_mae, avg(hit::int) AS da FROM v GROUP BY symbol)
SELECT bool_and(abs(s.mae - (t.metrics -> 'symbols' -> s.symbol ->> 'mae')::float8) < 1e-9 * s.mae) AS symbol_mae,
       bool_and(abs(1 - s.mae / s.naive_mae - (t.metrics -> 'symbols' -> s.symbol ->> 'skill')::float8) < 1e-9) AS symbol_skill,
       bool_and(abs(s.da - (t.metrics -> 'symbols' -> s.symbol ->> 'directional_accuracy')::float8) < 1e-12) AS symbol_direction,
       abs((SELECT 1 - avg(v.err / s2.naive_mae) FROM v JOIN s s2 USING (symbol)) - (t.metrics ->> 'skill_scaled')::float8) < 1e-9 AS skill_scaled,
       abs((SELECT avg(hit::int) FROM v) - (t.metrics ->> 'directional_accuracy')::float8) < 1e-12 AS pooled_direction
  FROM s, two t GROUP BY t.metrics;

-- leave the database as the tests after this one expect it
SELECT count(stockml.drop_model(n)) AS models_dropped
  FROM (SELECT DISTINCT name FROM stockml.models WHERE name LIKE 'gate\_%') m(n);
DELETE FROM stockml.retrain_policies WHERE model_name LIKE 'gate\_%';
DELETE FROM stockml.prices WHERE symbol LIKE 'GATE\_%';
DELETE FROM stockml.symbols WHERE symbol LIKE 'GATE\_%';
DELETE FROM stockml.feature_sets WHERE name = 'gate_r1';

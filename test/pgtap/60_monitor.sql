-- monitor(): a series whose distribution shifts halfway drifts, a stationary one does
-- not; a broken limit enqueues exactly one retrain, and its outcome is recorded.
BEGIN;
SELECT plan(34);

-- Two synthetic symbols over 500 weekdays from the same seeded normal draws: TMON_FLAT
-- keeps a daily volatility of 1 %; TMON_SHIFT has 4 % and an upward drift after bar 300.
SELECT setseed(0.6);
CREATE TEMP TABLE draws AS
SELECT row_number() OVER (ORDER BY d)::int AS i, d::date AS day,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z
  FROM generate_series('2020-01-01'::date, '2022-12-31', '1 day') d
 WHERE extract(isodow FROM d) < 6
 ORDER BY d LIMIT 500;
-- (their bars are on every weekday, holidays too: their calendar is 'weekdays', not XNYS)
INSERT INTO stockml.symbols (symbol, calendar) VALUES ('TMON_FLAT', 'weekdays'), ('TMON_SHIFT', 'weekdays');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT s, day, c, c * 1.01, c * 0.99, c, 100000 + (i * 7919) % 5000
  FROM (SELECT s, i, day,
               50 * exp(sum(CASE WHEN s = 'TMON_SHIFT' AND i > 300 THEN 0.003 + 0.04 * z ELSE 0.01 * z END)
                        OVER (PARTITION BY s ORDER BY i)) AS c
          FROM draws, unnest(ARRAY['TMON_FLAT', 'TMON_SHIFT']) s) q;

-- each trained on its first 300 bars and deployed (train() deploys a first version only
-- when it beats the naive forecast, which a random walk does not promise)
SELECT is(t.version, 1, 'model trained on the first 300 bars of ' || s)
  FROM unnest(ARRAY['TMON_FLAT', 'TMON_SHIFT']) s,
       LATERAL stockml.train('tmon_' || lower(substr(s, 6)), ARRAY[s], 'ridge',
                             train_end => (SELECT day FROM draws WHERE i = 300)) t;
SELECT stockml.deploy(m, 1) FROM unnest(ARRAY['tmon_flat', 'tmon_shift']) m;

-- no forecasts yet: drift is measured, accuracy is empty
INSERT INTO stockml.retrain_policies (model_name, window_days, max_model_age)
VALUES ('tmon_flat', 90, NULL), ('tmon_shift', 90, NULL);
CREATE TEMP TABLE flat AS SELECT * FROM stockml.monitor('tmon_flat');
CREATE TEMP TABLE shifted AS SELECT * FROM stockml.monitor('tmon_shift');

SELECT is((SELECT features FROM flat), cardinality(stockml.feature_names(
              (SELECT spec FROM stockml.feature_sets WHERE name = 'default'))),
          'every feature of the default set is compared');
SELECT is((SELECT (window_start, window_end) FROM flat),
          (SELECT (max(day) - 89, max(day)) FROM draws),
          'the window is the last 90 calendar days up to the latest bar');
SELECT cmp_ok((SELECT drift_share FROM shifted), '>', 0.5::float8,
              'the shifted series drifts in more than half of its features');
SELECT cmp_ok((SELECT drift_share FROM flat), '<', 0.25::float8,
              'the stationary series drifts in less than a quarter (under the limit of half)');
SELECT ok((SELECT bool_and(drifted) FROM stockml.drift_metrics
            WHERE model_name = 'tmon_shift' AND feature IN ('vol_5', 'vol_20', 'atr_14')),
          'volatility features of the shifted series drift');
SELECT is((SELECT count(DISTINCT method) || ' ' || min(method) FROM stockml.drift_metrics
            WHERE model_name IN ('tmon_flat', 'tmon_shift')), '1 ks',
          'KS is the default test for a reference of at most 1000 rows');
SELECT is((SELECT n_forecasts FROM flat), 0, 'no realized forecasts yet');

-- exactly one retrain for the broken limit, however often monitor() runs
SELECT alike((SELECT retrain_reason FROM shifted), 'drift share % > 0.5', 'the drift limit is broken');
SELECT ok((SELECT retrain_job IS NOT NULL FROM shifted), '... and a train job is queued');
SELECT is((SELECT retrain_reason FROM flat), NULL, 'the stationary model needs no retrain');
SELECT ok((SELECT retrain_reason FROM stockml.monitor('tmon_shift')) LIKE '%already queued%',
          'a second run reports the queued retrain');
SELECT is((SELECT count(*)::int FROM stockml.jobs WHERE kind = 'train' AND args ->> 'model_name' = 'tmon_shift'),
          1, 'exactly one train job');
SELECT is((SELECT count(*)::int FROM stockml.retrain_events WHERE model_name = 'tmon_shift'),
          1, 'exactly one retrain event');
SELECT is((SELECT args FROM stockml.jobs WHERE kind = 'train' AND args ->> 'model_name' = 'tmon_shift'),
          jsonb_build_object('model_name', 'tmon_shift', 'symbols', '["TMON_SHIFT"]'::jsonb, 'algorithm', 'ridge',
                             'horizon', 1, 'params', (SELECT params FROM stockml.models WHERE name = 'tmon_shift'),
                             'feature_set', 'default'),
          'the job retrains with the arguments of the monitored version');

-- the retrain ran and was not deployed (here: auto_deploy off): recorded, not deployed
SELECT is(deployed, false, 'a retrain that is not deployed')
  FROM stockml.train('tmon_shift', ARRAY['TMON_SHIFT'], 'ridge', params => '{"auto_deploy": false}');
UPDATE stockml.jobs SET status = 'done', finished_at = now()
 WHERE kind = 'train' AND args ->> 'model_name' = 'tmon_shift';
SELECT is(stockml.resolve_retrain_events('tmon_shift'), 0, 'the finished retrain was resolved when its job ended');
SELECT is((SELECT status || ' v' || new_version || ': ' || outcome FROM stockml.retrain_events WHERE model_name = 'tmon_shift'),
          'not_deployed v2: auto_deploy is false: production stays where it is', '... as trained but not deployed, with the reason');
SELECT is((SELECT version FROM stockml.model_aliases WHERE name = 'tmon_shift' AND alias = 'production'),
          1, 'production stays on version 1');

-- realized accuracy: the last 20 bars replayed as the daily pipeline would see them
CREATE TEMP TABLE held AS SELECT * FROM stockml.prices WHERE symbol = 'TMON_FLAT' ORDER BY day DESC LIMIT 20;
DELETE FROM stockml.prices p USING held h WHERE p.symbol = h.symbol AND p.day = h.day;
DO $$
DECLARE
    d date;
BEGIN
    FOR d IN SELECT day FROM held ORDER BY day LOOP
        PERFORM stockml.forecast('tmon_flat');
        INSERT INTO stockml.prices SELECT * FROM held WHERE day = d;
    END LOOP;
END
$$;
SELECT is((SELECT count(*)::int FROM stockml.predictions WHERE model_name = 'tmon_flat'), 20,
          'twenty forecasts recorded');
UPDATE stockml.retrain_policies SET min_skill = 1, min_forecasts = 10 WHERE model_name = 'tmon_flat';
CREATE TEMP TABLE scored AS SELECT * FROM stockml.monitor('tmon_flat');
SELECT is((SELECT n_forecasts FROM scored), 20, 'all twenty have a realized close now');
SELECT ok((SELECT abs(s.mae - a.mae) < 1e-9 FROM scored s,
                  (SELECT avg(abs(f.predicted_close - p.close)) AS mae
                     FROM stockml.predictions f JOIN stockml.prices p ON p.symbol = f.symbol AND p.day = f.target_day
                    WHERE f.model_name = 'tmon_flat') a),
          'MAE is the mean absolute error of the realized forecasts');
SELECT is((SELECT count(p_up)::int FROM stockml.predictions WHERE model_name = 'tmon_flat'), 20,
          'every recorded forecast keeps its p_up');
SELECT ok((SELECT abs(m.log_loss - a.ll) < 1e-12 AND abs(m.brier - a.brier) < 1e-12
             FROM stockml.performance_metrics m,
                  (SELECT avg(stockml.log_loss(f.p_up, p.close - b.close)) AS ll,
                          avg((f.p_up - (p.close > b.close)::int) ^ 2) AS brier
                     FROM stockml.predictions f JOIN stockml.prices p ON p.symbol = f.symbol AND p.day = f.target_day
                     JOIN stockml.prices b ON b.symbol = f.symbol AND b.day = f.as_of
                    WHERE f.model_name = 'tmon_flat') a
            WHERE m.model_name = 'tmon_flat' AND m.symbol IS NULL
            ORDER BY m.measured_at DESC LIMIT 1),
          'monitor() scores the realized p_up: log loss and Brier score');
SELECT alike((SELECT retrain_reason FROM scored), 'skill % < 1 over 20 forecasts (Diebold-Mariano p = %)',
            'a skill below the policy''s minimum asks for a retrain');

-- the monitor and forecast job kinds
SELECT is(stockml.run_job_forecast(0, '{"model_name": "tmon_flat"}'), 'tmon_flat: 1 forecast',
          'a forecast job forecasts with the named model');
SELECT matches(stockml.run_job_monitor(0, '{"models": ["tmon_flat"], "window_days": 30}'),
               '^tmon_flat v1: [0-9]+ of 16 features drifted, skill ', 'a monitor job monitors the named models');
SELECT is((SELECT DISTINCT window_end - window_start + 1 FROM stockml.drift_metrics
            WHERE model_name = 'tmon_flat'
              AND measured_at = (SELECT max(measured_at) FROM stockml.drift_metrics WHERE model_name = 'tmon_flat')),
          30, '... over the window it asks for');
SELECT throws_ok($$SELECT stockml.run_job_monitor(0, '{"model": "tmon_flat"}')$$, '22023',
                 'unknown key in monitor job args: model', 'a monitor job refuses unknown keys');
SELECT cmp_ok(stockml.submit('monitor', '{"model_name": "tmon_flat"}'), '>', 0::bigint, 'monitor is a job kind');
SELECT cmp_ok(stockml.submit('forecast', '{}'), '>', 0::bigint, 'forecast is a job kind');

-- a member of stockml_admin (not a superuser) may monitor
CREATE ROLE tmon_admin IN ROLE stockml_admin;
SET ROLE tmon_admin;
CREATE TEMP TABLE admin_run AS SELECT * FROM stockml.monitor('tmon_flat');
RESET ROLE;
SELECT is((SELECT features FROM admin_run), 16, 'a member of stockml_admin runs monitor()');

-- errors
SELECT throws_ok($$SELECT * FROM stockml.monitor('no_such_model')$$, '42704',
                 'model "no_such_model" does not exist', 'an unknown model is an error');

SELECT * FROM finish();
ROLLBACK;

-- The retrain loop cannot storm (issue 15): 120 simulated trading days on a random walk, each
-- forecast -> new bar -> monitor -> (the queued retrain runs), queue at most 6 retrains; a
-- version is judged on its own forecasts; cooldown, doubling, no retrain without a new bar,
-- no retrain for a version a retrain deployed before it has forecasts; outcomes with reasons.
BEGIN;
SELECT plan(19);

-- a seeded random walk of 620 weekdays; the model knows the first 500, 120 arrive one a day
SELECT setseed(0.3);
INSERT INTO stockml.symbols (symbol) VALUES ('STORM');
CREATE TEMP TABLE walk AS
SELECT i, DATE '2018-01-01' + ((i - 1) / 5) * 7 + (i - 1) % 5 AS day,
       40 * exp(sum(0.012 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) OVER (ORDER BY i)) AS c
  FROM generate_series(1, 620) i;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'STORM', day, c, c * 1.01, c * 0.99, c, 100000 FROM walk WHERE i <= 500;
SELECT is(version, 1, 'version 1 on the first 500 bars')
  FROM stockml.train('storm', ARRAY['STORM'], 'ridge', params => '{"alpha": 10}');
SELECT stockml.deploy('storm', 1, reason => 'the storm test');
INSERT INTO stockml.retrain_policies (model_name) VALUES ('storm');
-- beside it a near-constant model (about the random walk): its skill below 0 is noise
SELECT is(version, 1, 'a near-constant version 1 on the same bars')
  FROM stockml.train('calm', ARRAY['STORM'], 'ridge', params => '{"alpha": 1e6}');
SELECT stockml.deploy('calm', 1, reason => 'the storm test');
INSERT INTO stockml.retrain_policies (model_name, max_drift_share) VALUES ('calm', NULL);

-- no new bar since training: the retrain the age rule asks for is held back
UPDATE stockml.retrain_policies SET max_model_age = '1 microsecond', cooldown = 0 WHERE model_name = 'storm';
SELECT matches((SELECT retrain_reason FROM stockml.monitor('storm')),
               'model age .* \(no new bar since the latest version was trained: no retrain\)$',
               'no retrain, and no new version, without a new bar');
UPDATE stockml.retrain_policies SET max_model_age = NULL, cooldown = 5 WHERE model_name = 'storm';

-- 120 trading days; a queued retrain runs at once (as the worker would) and its job ends
CREATE TEMP TABLE days_run (model text, i int, retrain_reason text, retrain_job bigint, version int, n_forecasts int);
DO $$
DECLARE
    d record;
    r record;
    j record;
BEGIN
    FOR d IN SELECT * FROM walk WHERE i > 500 ORDER BY i LOOP
        PERFORM stockml.forecast('storm');
        PERFORM stockml.forecast('calm');
        INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
        VALUES ('STORM', d.day, d.c, d.c * 1.01, d.c * 0.99, d.c, 100000);
        FOR r IN SELECT * FROM stockml.monitor('storm') UNION ALL SELECT * FROM stockml.monitor('calm') LOOP
            INSERT INTO days_run VALUES (r.model, d.i, r.retrain_reason, r.retrain_job, r.version, r.n_forecasts);
        END LOOP;
        FOR j IN SELECT * FROM stockml.jobs WHERE kind = 'train' AND status = 'queued' LOOP
            UPDATE stockml.jobs SET status = 'running', started_at = now() WHERE id = j.id;
            UPDATE stockml.jobs SET status = 'done', finished_at = now(),
                                    result = stockml.run_job_train(j.id, j.args)
             WHERE id = j.id;
        END LOOP;
    END LOOP;
END
$$;
SELECT diag(model || ' ' || i || ': ' || retrain_reason) FROM days_run WHERE retrain_reason IS NOT NULL AND i % 20 = 0;
SELECT diag('storm retrains: ' || count(*) || ', deployed: ' || count(*) FILTER (WHERE status = 'deployed')
            || ', days with a retrain rule broken: ' || (SELECT count(*) FROM days_run WHERE model = 'storm' AND retrain_reason IS NOT NULL))
  FROM stockml.retrain_events WHERE model_name = 'storm';
SELECT cmp_ok((SELECT count(*)::int FROM stockml.retrain_events WHERE model_name = 'storm'), '<=', 6,
              'at most 6 retrains in 120 daily runs on a random walk');
SELECT cmp_ok((SELECT count(*)::int FROM stockml.models WHERE name = 'storm'), '<=', 7,
              '... and at most 6 new versions');
SELECT is((SELECT count(*)::int FROM stockml.retrain_events WHERE model_name = 'storm' AND status = 'queued'), 0,
          'every retrain is resolved when its job ends');
SELECT ok((SELECT bool_and(outcome IS NOT NULL AND resolved_at IS NOT NULL) FROM stockml.retrain_events
            WHERE model_name = 'storm'), '... with the reason of its outcome');
SELECT ok((SELECT bool_and(outcome LIKE 'not deployed: %' OR outcome LIKE 'deployed: %') FROM stockml.retrain_events
            WHERE model_name = 'storm'), '... the deploy gate''s reason');
SELECT ok((SELECT count(*) > 0 FROM days_run WHERE model = 'storm' AND retrain_reason LIKE '%(cooldown: % trading days since the last retrain%'),
          'retrains asked for within the cooldown are held back');
SELECT ok((SELECT count(*) > 0 FROM days_run WHERE retrain_reason LIKE '%doubled for % retrains that did not deploy)'),
          'the cooldown doubles after retrains that did not deploy');
-- judged on its own forecasts only: the monitored version's n_forecasts are its own
SELECT is((SELECT n_forecasts FROM days_run WHERE model = 'storm' ORDER BY i DESC LIMIT 1),
          (SELECT count(DISTINCT p.target_day)::int FROM stockml.predictions p JOIN stockml.prices a ON a.symbol = p.symbol AND a.day = p.target_day
            WHERE p.model_name = 'storm'
              AND p.model_version = (SELECT version FROM days_run WHERE model = 'storm' ORDER BY i DESC LIMIT 1)
              AND p.target_day >= (SELECT max(day) - 59 FROM stockml.prices WHERE symbol = 'STORM')),
          'the monitored version is scored on its own realized forecasts');

-- a version a retrain deployed queues nothing until it has forecasts of its own
SELECT stockml.deploy('storm', (SELECT max(new_version) FROM stockml.retrain_events WHERE model_name = 'storm'),
                      reason => 'as if the retrain had deployed it');
UPDATE stockml.retrain_policies SET max_model_age = '1 microsecond', cooldown = 0 WHERE model_name = 'storm';
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'STORM', max(day) + 3, 40, 40.4, 39.6, 40, 100000 FROM stockml.prices WHERE symbol = 'STORM';
SELECT matches((SELECT retrain_reason FROM stockml.monitor('storm')),
               '\(the version a retrain deployed has no realized forecast of its own yet\)$',
               'a version a retrain deployed waits for its own forecasts');
SELECT stockml.forecast('storm');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'STORM', max(day) + 1, 40, 40.4, 39.6, 40.1, 100000 FROM stockml.prices WHERE symbol = 'STORM';
CREATE TEMP TABLE after_forecast AS SELECT * FROM stockml.monitor('storm');
SELECT ok((SELECT retrain_job IS NOT NULL AND n_forecasts = 1 FROM after_forecast),
          '... and is judged once it has one');

-- a failed job resolves the event as failed, with the job's error
UPDATE stockml.jobs SET status = 'failed', error = 'simulated failure', finished_at = now()
 WHERE id = (SELECT retrain_job FROM after_forecast);
SELECT is((SELECT status || ': ' || outcome FROM stockml.retrain_events WHERE job_id = (SELECT retrain_job FROM after_forecast)),
          'failed: simulated failure', 'a failed retrain is resolved as failed with the error');

-- the skill rule acts on evidence: the bad ridge is significantly worse than the random walk
-- and the rule fires; for the near-constant model a shortfall below 0 fires only when its
-- Diebold-Mariano p is below skill_alpha (its bias is real over a window, but not every day)
SELECT ok((SELECT count(*) > 0 FROM days_run WHERE model = 'storm' AND retrain_reason ~ 'skill -[0-9.]+ < 0 over [0-9]+ forecasts \(Diebold-Mariano p = 0\.0[0-4]'),
          'significantly worse than min_skill: the skill rule fires');
CREATE TEMP TABLE calm_days AS
SELECT d.i, pm.skill, d.retrain_reason LIKE '%skill%' AS fired
  FROM days_run d
  JOIN stockml.performance_metrics pm ON pm.model_name = 'calm' AND pm.symbol IS NULL
   AND pm.window_end = (SELECT w.day FROM walk w WHERE w.i = d.i)
 WHERE d.model = 'calm' AND pm.n_forecasts >= 20;
SELECT diag('calm: ' || count(*) FILTER (WHERE skill < 0) || ' days with skill below 0 over 20+ forecasts, the rule fired on '
            || count(*) FILTER (WHERE fired) || '; retrains: '
            || (SELECT count(*) FROM stockml.retrain_events WHERE model_name = 'calm'))
  FROM calm_days;
SELECT ok((SELECT count(*) FILTER (WHERE fired) < count(*) FILTER (WHERE skill < 0) FROM calm_days),
          'a realized skill below min_skill does not fire by itself');
SELECT cmp_ok((SELECT count(*)::int FROM stockml.retrain_events WHERE model_name = 'calm'), '<=', 6,
              'at most 6 retrains of the near-constant model too');

-- fallback_to_naive: a retrain that does not beat the random walk lets the naive model serve
SELECT matches(stockml.run_job_train(0, jsonb_build_object('model_name', 'storm', 'symbols', '["STORM"]'::jsonb,
                                                           'params', '{"alpha": 10}'::jsonb, 'fallback_to_naive', true)),
               '^storm version [0-9]+, skill .*; the naive version [0-9]+ serves \(fallback_to_naive\)$',
               'fallback_to_naive: the naive version serves');
SELECT is((SELECT m.algorithm FROM stockml.model_aliases a JOIN stockml.models m USING (name, version)
            WHERE a.name = 'storm' AND a.alias = 'production'), 'naive', '... production is the random walk');

SELECT * FROM finish();
ROLLBACK;

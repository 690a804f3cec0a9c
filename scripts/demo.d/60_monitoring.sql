-- Monitoring: drift, realized accuracy and auto-retraining; the pipeline on pg_cron
\set ON_ERROR_STOP 1
\echo 'Hold back the last 30 trading days of MSFT, train on the rest, then replay those days'
\echo 'as the evening pipeline would: forecast from the latest bar, then the next bar arrives.'
CREATE TEMP TABLE held_back AS
SELECT * FROM stockml.prices WHERE symbol = 'MSFT' ORDER BY day DESC LIMIT 30;
DELETE FROM stockml.prices p USING held_back h WHERE p.symbol = h.symbol AND p.day = h.day;
SELECT model_name, version, deployed, round((metrics ->> 'skill')::numeric, 4) AS skill
  FROM stockml.train('msft_monitored', ARRAY['MSFT'], 'ridge', params => '{"alpha": 1}');
\echo 'train() deploys only a version that beats the naive forecast; deploy this one anyway, to watch it:'
SELECT name, alias, version, reason
  FROM stockml.deploy('msft_monitored', 1, reason => 'demo: watch the first version');
DO $$
DECLARE
    d date;
BEGIN
    FOR d IN SELECT day FROM held_back ORDER BY day LOOP
        PERFORM stockml.forecast('msft_monitored');
        INSERT INTO stockml.prices SELECT * FROM held_back WHERE day = d;
    END LOOP;
END
$$;
SELECT count(*) AS forecasts, min(target_day) AS first_target, max(target_day) AS last_target
  FROM stockml.predictions WHERE model_name = 'msft_monitored';

\echo 'A demanding retrain policy: 45-day window, skill of at least 0.05 once 10 forecasts are realized.'
INSERT INTO stockml.retrain_policies (model_name, window_days, min_skill, min_forecasts)
VALUES ('msft_monitored', 45, 0.05, 10)
ON CONFLICT (model_name) DO UPDATE SET window_days = 45, min_skill = 0.05, min_forecasts = 10;

\echo 'SELECT * FROM stockml.monitor(''msft_monitored'');'
\x on
SELECT * FROM stockml.monitor('msft_monitored');
\x off
SELECT format('Drift of each feature (%s against the %s-row reference sample kept with the model):',
              string_agg(DISTINCT upper(method), '/'), max(n_reference)) AS drift_title
  FROM stockml.feature_drift
 WHERE model_name = 'msft_monitored' AND time = (SELECT max(time) FROM stockml.feature_drift WHERE model_name = 'msft_monitored')
\gset
\echo :drift_title
SELECT feature, method, round(statistic::numeric, 3) AS statistic, round(p_value::numeric, 4) AS p_value, drifted
  FROM stockml.feature_drift
 WHERE model_name = 'msft_monitored' AND time = (SELECT max(time) FROM stockml.feature_drift WHERE model_name = 'msft_monitored')
 ORDER BY drifted DESC, p_value;
\echo 'Realized accuracy over the window against the naive forecast:'
SELECT symbol, n_forecasts, round(mae::numeric, 3) AS mae, round(mae_naive::numeric, 3) AS mae_naive,
       round(skill::numeric, 3) AS skill, round(directional_accuracy::numeric, 3) AS directional_accuracy,
       round(coverage::numeric, 3) AS coverage
  FROM stockml.model_performance WHERE model_name = 'msft_monitored' ORDER BY time DESC, symbol LIMIT 2;

\echo 'The retrain it queued runs in the background worker; wait for it (at most a minute):'
DO $$
DECLARE
    job bigint := (SELECT job_id FROM stockml.retrain_events WHERE model_name = 'msft_monitored' ORDER BY id DESC LIMIT 1);
BEGIN
    FOR i IN 1..120 LOOP
        EXIT WHEN job IS NULL OR (SELECT status FROM stockml.jobs WHERE id = job) IN ('done', 'failed', 'cancelled');
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT stockml.resolve_retrain_events('msft_monitored') AS events_resolved;
SELECT created_at::timestamp(0) AS created_at, model_version, reason, status, job_id, new_version
  FROM stockml.retrain_events WHERE model_name = 'msft_monitored' ORDER BY id;

\echo 'The pipeline on pg_cron (refresh -> forecast -> monitor at 22:30 GMT on weekdays; pg_cron 1.4 reads schedules in GMT):'
SELECT * FROM stockml.schedule_pipeline('30 22 * * 1-5', ARRAY['msft_monitored']);
\echo 'Run it once now, step by step, as pg_cron would tonight (offline, refresh logs a failed fetch):'
SELECT stockml.pipeline_step('refresh') AS step;
SELECT stockml.pipeline_step('forecast', ARRAY['msft_monitored']) AS step;
SELECT stockml.pipeline_step('monitor', ARRAY['msft_monitored']) AS step;
SELECT CASE WHEN bool_or(status = 'deployed')
            THEN 'Drift and realized accuracy, run by run (the second run watches the retrained version):'
            ELSE 'Drift and realized accuracy, run by run (the retrained version did not pass the deploy gate, so both runs watch version 1):'
       END AS runs_title
  FROM stockml.retrain_events WHERE model_name = 'msft_monitored'
\gset
\echo :runs_title
SELECT model_name, model_version, time::timestamp(0) AS measured_at, features, drifted_features,
       round(drift_share::numeric, 3) AS drift_share
  FROM stockml.drift_share WHERE model_name = 'msft_monitored' ORDER BY time;
SELECT model_name, model_version, time::timestamp(0) AS measured_at, n_forecasts, round(mae::numeric, 3) AS mae,
       round(skill::numeric, 3) AS skill, round(directional_accuracy::numeric, 3) AS directional_accuracy
  FROM stockml.model_performance WHERE model_name = 'msft_monitored' AND symbol = 'all' ORDER BY time;
SELECT created_at::timestamp(0) AS created_at, model_version, reason, status, job_id
  FROM stockml.retrain_events WHERE model_name = 'msft_monitored' ORDER BY id;
\echo 'Grafana reads these views as stockml_reader: see grafana/ and the README.'

-- Views for Grafana: each has a `time` column (timestamptz; a trading day is its midnight
-- UTC) and is ordered by it, one row per point.  The grafana/ dashboards read only these.

CREATE VIEW stockml.price_history AS
SELECT (p.day::timestamp AT TIME ZONE 'UTC') AS time, p.symbol, p.day,
       p.open, p.high, p.low, p.close, p.adj_close, p.volume
  FROM stockml.prices p
 ORDER BY time, p.symbol;
COMMENT ON VIEW stockml.price_history IS 'Grafana: daily bars, time = the trading day at 00:00 UTC';

CREATE VIEW stockml.feature_drift AS
SELECT d.measured_at AS time, d.model_name, d.model_version, d.feature, d.method,
       d.statistic, d.p_value, d.threshold, d.drifted::integer AS drifted,
       d.n_reference, d.n_current, d.window_start, d.window_end
  FROM stockml.drift_metrics d
 ORDER BY time, d.model_name, d.feature;
COMMENT ON VIEW stockml.feature_drift IS 'Grafana: drift per feature per monitor() run (drifted as 0/1)';

CREATE VIEW stockml.drift_share AS
SELECT d.measured_at AS time, d.model_name, d.model_version,
       count(*)::integer AS features,
       (count(*) FILTER (WHERE d.drifted))::integer AS drifted_features,
       (count(*) FILTER (WHERE d.drifted))::float8 / count(*) AS drift_share
  FROM stockml.drift_metrics d
 GROUP BY d.measured_at, d.model_name, d.model_version
 ORDER BY time, d.model_name;
COMMENT ON VIEW stockml.drift_share IS 'Grafana: share of drifted features per monitor() run';

CREATE VIEW stockml.model_performance AS
SELECT p.measured_at AS time, p.model_name, p.model_version, coalesce(p.symbol, 'all') AS symbol,
       p.n_forecasts, p.mae, p.mae_naive, p.skill, p.directional_accuracy, p.rmse, p.coverage,
       p.window_start, p.window_end, p.log_loss, p.brier
  FROM stockml.performance_metrics p
 ORDER BY time, p.model_name, symbol;
COMMENT ON VIEW stockml.model_performance IS 'Grafana: realized MAE, skill against the naive forecast, directional accuracy, interval coverage, and log loss and Brier score of p_up per monitor() run (symbol ''all'' for every symbol together)';

CREATE VIEW stockml.ingest_status AS
SELECT l.started_at AS time, l.symbol, l.source, l.status,
       (l.status IN ('ok', 'partial'))::integer AS succeeded,
       l.http_status, l.rows_inserted, l.rows_updated, l.rows_rejected,
       extract(epoch FROM l.finished_at - l.started_at) * 1000 AS duration_ms, l.error
  FROM stockml.ingest_log l
 ORDER BY time, l.id;
COMMENT ON VIEW stockml.ingest_status IS 'Grafana: every ingest or fetch with its outcome (succeeded as 0/1) and duration';

CREATE VIEW stockml.retrain_history AS
SELECT e.created_at AS time, e.resolved_at AS time_end, e.model_name, e.model_version,
       e.reason, e.status, e.job_id, e.new_version,
       format('retrain %s v%s: %s (%s%s)', e.model_name, e.model_version, e.reason, e.status,
              CASE WHEN e.new_version IS NOT NULL THEN ', v' || e.new_version ELSE '' END) AS text,
       'retrain,' || e.status AS tags
  FROM stockml.retrain_events e
 ORDER BY time, e.id;
COMMENT ON VIEW stockml.retrain_history IS 'Grafana annotations: each retrain monitor() enqueued (time, time_end, text, tags)';

CREATE VIEW stockml.job_history AS
SELECT j.submitted_at AS time, j.id, j.kind, j.status, j.attempts, j.progress,
       (j.status = 'done')::integer AS succeeded, (j.status IN ('failed', 'cancelled'))::integer AS failed,
       extract(epoch FROM coalesce(j.started_at, now()) - j.submitted_at) AS wait_s,
       extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at) AS run_s,
       j.error
  FROM stockml.jobs j
 ORDER BY time, j.id;
COMMENT ON VIEW stockml.job_history IS 'Grafana: every job with its status, seconds waited in the queue and run (succeeded/failed as 0/1)';

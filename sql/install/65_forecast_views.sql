-- Grafana views over the model registry (sql/install/51_registry.sql): forecasts beside
-- the realized closes, and the model versions with their metrics.

CREATE VIEW stockml.forecast_history AS
SELECT (f.target_day::timestamp AT TIME ZONE 'UTC') AS time, f.symbol, f.model_name, f.model_version,
       f.as_of, f.target_day, f.predicted_close, f.lower, f.upper,
       r.actual_close, b.close AS naive_close,
       f.predicted_close - r.actual_close AS error, f.made_at
  FROM (SELECT DISTINCT ON (p.model_name, p.symbol, p.target_day) p.*
          FROM stockml.predictions p
         ORDER BY p.model_name, p.symbol, p.target_day, p.made_at DESC, p.id DESC) f
  LEFT JOIN stockml.prices b ON b.symbol = f.symbol AND b.day = f.as_of
  CROSS JOIN LATERAL (SELECT b.close * stockml.total_return(f.symbol, f.as_of, f.target_day)
                             AS actual_close) r
 ORDER BY time, f.symbol, f.model_name;
COMMENT ON VIEW stockml.forecast_history IS 'Grafana: the latest forecast of each model for each symbol and target day (time), with its interval, the realized close once known (total-return adjusted to the scale of as_of, like predicted_close) and the naive forecast (the close on as_of)';

CREATE VIEW stockml.model_history AS
SELECT v.created_at AS time, v.name, v.version, v.aliases, v.algorithm, v.symbols, v.horizon,
       v.feature_set, v.train_start, v.train_end, v.n_rows, v.skill, v.mae, v.naive_mae, v.rmse,
       v.directional_accuracy, v.naive_directional_accuracy, v.n_test, v.description, v.tags
  FROM stockml.model_versions v
 ORDER BY time, v.name, v.version;
COMMENT ON VIEW stockml.model_history IS 'Grafana: every model version (time = when trained) with its aliases and walk-forward metrics beside the naive baseline''s';

-- Small views for Grafana's dashboard variables, units and the model-lifecycle dashboard
-- (grafana/dashboards/lifecycle.json): they read the watchlist, the model registry and the
-- alias history (a few rows each, by their primary keys), never the price history.

CREATE VIEW stockml.symbol_info AS
SELECT s.symbol, s.name, s.exchange, s.currency, s.timezone, s.active,
       CASE WHEN s.currency IS NULL THEN 'none'
            -- the currency units Grafana 10/11 have built in; other codes as a suffix
            WHEN upper(s.currency) = ANY (ARRAY['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'RUB', 'UAH', 'BRL', 'DKK',
                                                'ISK', 'NOK', 'SEK', 'CZK', 'PLN', 'ZAR', 'INR', 'KRW', 'IDR',
                                                'PHP', 'VND'])
            THEN 'currency' || upper(s.currency)
            ELSE 'suffix: ' || s.currency
       END AS grafana_unit
  FROM stockml.symbols s;
COMMENT ON VIEW stockml.symbol_info IS 'Grafana: the watchlist (one row per symbol) with the Grafana unit of its currency (grafana_unit: currencyUSD, ..., "suffix: <code>" for other codes, none when the currency is unknown)';

CREATE VIEW stockml.model_names AS
SELECT m.name, count(*)::integer AS versions, max(m.version) AS latest_version,
       min(m.created_at) AS first_trained, max(m.created_at) AS last_trained,
       (SELECT a.version FROM stockml.model_aliases a WHERE a.name = m.name AND a.alias = 'production') AS production_version,
       (SELECT l.symbols FROM stockml.models l WHERE l.name = m.name ORDER BY l.version DESC LIMIT 1) AS symbols
  FROM stockml.models m
 GROUP BY m.name;
COMMENT ON VIEW stockml.model_names IS 'Grafana: one row per model name with its number of versions, latest and production version and the symbols of its latest version';

CREATE VIEW stockml.alias_events AS
SELECT h.set_at AS time, h.name AS model_name, h.alias, h.version, h.previous_version, h.action,
       h.set_by, h.reason,
       format('%s: %s -> v%s (%s%s)', h.alias,
              coalesce('v' || h.previous_version, 'none'), h.version, h.action,
              CASE WHEN h.reason IS NOT NULL THEN ', ' || h.reason ELSE '' END) AS text,
       'alias,' || h.alias || ',' || h.action AS tags
  FROM stockml.alias_history h
 ORDER BY time, h.id;
COMMENT ON VIEW stockml.alias_events IS 'Grafana annotations: every alias move (deploy, auto, rollback) with who and why (time, text, tags)';

CREATE VIEW stockml.version_forecasts AS
SELECT (f.target_day::timestamp AT TIME ZONE 'UTC') AS time, f.model_name, f.model_version, f.symbol,
       f.as_of, f.target_day, f.predicted_close, f.lower, f.upper,
       a.close AS actual_close, b.close AS naive_close,
       abs(f.predicted_close - a.close) AS abs_error, abs(b.close - a.close) AS naive_abs_error, f.made_at
  FROM (SELECT DISTINCT ON (p.model_name, p.model_version, p.symbol, p.target_day) p.*
          FROM stockml.predictions p
         ORDER BY p.model_name, p.model_version, p.symbol, p.target_day, p.made_at DESC, p.id DESC) f
  LEFT JOIN stockml.prices a ON a.symbol = f.symbol AND a.day = f.target_day
  LEFT JOIN stockml.prices b ON b.symbol = f.symbol AND b.day = f.as_of
 ORDER BY time, f.symbol, f.model_name, f.model_version;
COMMENT ON VIEW stockml.version_forecasts IS 'Grafana: the latest forecast of each model version for each symbol and target day (time), with its realized and the naive absolute error once the close is known; two versions forecasting the same days compare here';

GRANT SELECT ON stockml.symbol_info, stockml.model_names, stockml.alias_events, stockml.version_forecasts
   TO stockml_reader, stockml_admin;

-- Grafana (issue 12): small views for dashboard variables, currency units and the
-- model-lifecycle dashboard; the same as sql/install/67_grafana_lists.sql.

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

GRANT SELECT ON stockml.symbol_info, stockml.model_names, stockml.alias_events
   TO stockml_reader, stockml_admin;
-- version_forecasts is created by 99_logistic.sql (its final form, with predictions.p_up)

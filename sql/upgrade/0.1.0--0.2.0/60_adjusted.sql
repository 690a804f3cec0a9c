-- issue 9: honest ingest status, ingest_csv's date_format, refresh() respects symbols.source;
-- see sql/install/10_prices.sql, 20_ingest_csv.sql and 31_ingest_http.sql.
COMMENT ON COLUMN stockml.symbols.source IS 'where refresh() fetches the symbol from: yahoo or stooq (NULL: yahoo); the source that first added it unless set by the user; csv or any other local source is never fetched by a bare refresh()';
COMMENT ON COLUMN stockml.ingest_log.status IS 'ok: every row stored; partial: some rows rejected; failed: nothing stored, every row rejected or the fetch failed (see error)';

-- the argument list grows: a new declaration (the C symbol reads the fifth argument when given)
DROP FUNCTION stockml.ingest_csv(text, text, text, boolean);
CREATE FUNCTION stockml.ingest_csv(symbol text, csv text, source text DEFAULT 'csv',
                                   strict boolean DEFAULT false,
                                   date_format text DEFAULT 'YYYY-MM-DD')
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_csv'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_csv(text, text, text, boolean, text) IS
'upsert Yahoo/Stooq-style daily CSV (Date,Open,High,Low,Close[,Adj Close],Volume) for one symbol, dates in date_format (YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, DD/MM/YYYY, ...); returns its ingest_log row, failed when every row is rejected';

COMMENT ON FUNCTION stockml.refresh(text[]) IS
'fetch, in parallel, the days missing since each symbol''s last stored day (the active watchlist whose source is yahoo or stooq, or the given symbols: one whose source is local, e.g. csv, gets a failed row); one ingest_log row per symbol, failed ones included';

-- total-return adjustment: see sql/install/15_adjust.sql, 52_train_predict.sql (predict's
-- price_scale), 62_monitor.sql (forecast_accuracy), 65_forecast_views.sql, 66_reader.sql.
CREATE FUNCTION stockml.total_return(symbol text, from_day date, to_day date)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_total_return'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.total_return(text, date, date) IS
'adjusted close on to_day / adjusted close on from_day (splits and cash dividends in between accounted for; both must be stored bars, else NULL): a forecast made on from_day is realized at close(from_day) * total_return';

-- predict() grows a column: a new declaration (the C symbol fills 7 or 8 columns)
DROP FUNCTION stockml.predict(text, text);
CREATE FUNCTION stockml.predict(model_name text, symbol text,
                                OUT symbol text, OUT as_of date, OUT target_day date,
                                OUT predicted_close float8, OUT lower float8, OUT upper float8,
                                OUT model_version integer, OUT price_scale text)
RETURNS record
AS 'MODULE_PATHNAME', 'stockml_predict_symbol'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.predict(text, text) IS
'the production version''s forecast of the close horizon trading days (the symbol''s calendar) after the symbol''s last stored bar, from features computed with the spec stored in the model on total-return-adjusted prices; predicted_close, lower and upper are on the price scale of as_of''s bar as quoted (price_scale = ''as_of'')';
REVOKE EXECUTE ON FUNCTION stockml.predict(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.predict(text, text) TO stockml_reader, stockml_admin;
REVOKE EXECUTE ON FUNCTION stockml.total_return(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.total_return(text, date, date) TO stockml_reader, stockml_admin;

CREATE OR REPLACE FUNCTION stockml.forecast_accuracy(model_name text, from_day date, to_day date,
                                          model_version integer DEFAULT NULL)
RETURNS TABLE (symbol text, n_forecasts integer, mae float8, mae_naive float8, skill float8,
               directional_accuracy float8, rmse float8, coverage float8)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH latest AS (
        SELECT DISTINCT ON (p.symbol, p.target_day) p.symbol, p.as_of, p.target_day,
               p.predicted_close, p.lower, p.upper
          FROM stockml.predictions p
          JOIN stockml.models m ON m.id = p.model_id
         WHERE m.name = forecast_accuracy.model_name
           AND (forecast_accuracy.model_version IS NULL OR m.version = forecast_accuracy.model_version)
           AND p.target_day BETWEEN from_day AND to_day
         ORDER BY p.symbol, p.target_day, p.made_at DESC, p.as_of DESC),
    -- the realized close on the price scale of as_of (what predict() reported on): the
    -- close of as_of times the total return to the target day, so a split or a dividend
    -- in between is no forecast error
    realized AS (
        SELECT l.*, b.close AS naive,
               b.close * stockml.total_return(l.symbol, l.as_of, l.target_day) AS actual
          FROM latest l
          JOIN stockml.prices b ON b.symbol = l.symbol AND b.day = l.as_of),
    scored AS (
        SELECT r.symbol, r.predicted_close - r.actual AS err, r.naive - r.actual AS naive_err,
               stockml.direction_hit(r.predicted_close - r.naive, r.actual - r.naive) AS right_way,
               r.actual BETWEEN r.lower AND r.upper AS covered
          FROM realized r
         WHERE r.actual IS NOT NULL)
    SELECT s.symbol, count(*)::integer, avg(abs(s.err)), avg(abs(s.naive_err)),
           1 - avg(abs(s.err)) / nullif(avg(abs(s.naive_err)), 0),
           avg(s.right_way::int)::float8, sqrt(avg(s.err * s.err)), avg(s.covered::int)::float8
      FROM scored s
     GROUP BY GROUPING SETS ((), (s.symbol))
     ORDER BY s.symbol NULLS FIRST;
END
$$;
COMMENT ON FUNCTION stockml.forecast_accuracy(text, date, date, integer) IS
'realized accuracy of a model''s forecasts with target day in [from_day, to_day] (only those of model_version when given), realized closes total-return adjusted to the scale of as_of: one row for all symbols (symbol NULL), then one per symbol';

CREATE OR REPLACE VIEW stockml.forecast_history AS
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

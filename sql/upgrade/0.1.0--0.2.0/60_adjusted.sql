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

REVOKE EXECUTE ON FUNCTION stockml.total_return(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stockml.total_return(text, date, date) TO stockml_reader, stockml_admin;

COMMENT ON VIEW stockml.forecast_history IS 'Grafana: the latest forecast of each model for each symbol and target day (time), with its interval, the realized close once known (total-return adjusted to the scale of as_of, like predicted_close) and the naive forecast (the close on as_of)';

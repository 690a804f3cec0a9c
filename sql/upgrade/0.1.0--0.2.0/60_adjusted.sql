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

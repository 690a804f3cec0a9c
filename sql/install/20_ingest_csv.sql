-- CSV ingest (src/ingest_csv.c).

CREATE FUNCTION stockml.ingest_csv(symbol text, csv text, source text DEFAULT 'csv',
                                   strict boolean DEFAULT false,
                                   date_format text DEFAULT 'YYYY-MM-DD')
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_csv'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_csv(text, text, text, boolean, text) IS
'upsert Yahoo/Stooq-style daily CSV (Date,Open,High,Low,Close[,Adj Close],Volume) for one symbol, dates in date_format (YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, DD/MM/YYYY, ...); returns its ingest_log row, failed when every row is rejected';

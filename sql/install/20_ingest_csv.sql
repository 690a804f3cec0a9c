-- CSV ingest (src/ingest_csv.c).

CREATE FUNCTION stockml.ingest_csv(symbol text, csv text, source text DEFAULT 'csv',
                                   strict boolean DEFAULT false)
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_csv'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_csv(text, text, text, boolean) IS
'upsert Yahoo/Stooq-style daily CSV (Date,Open,High,Low,Close[,Adj Close],Volume) for one symbol; returns its ingest_log row';

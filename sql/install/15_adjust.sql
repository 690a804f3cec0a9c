-- Total-return adjustment (src/adjust.c, doc/adjustment.md): features, targets, training,
-- validation and monitoring read prices through it; the forecast ledger's realized side too.

CREATE FUNCTION stockml.total_return(symbol text, from_day date, to_day date)
RETURNS float8
AS 'MODULE_PATHNAME', 'stockml_total_return'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stockml.total_return(text, date, date) IS
'adjusted close on to_day / adjusted close on from_day (splits and cash dividends in between accounted for; both must be stored bars, else NULL): a forecast made on from_day is realized at close(from_day) * total_return';

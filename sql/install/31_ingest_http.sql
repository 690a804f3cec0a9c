-- Prices over HTTP (src/http_client.c, ingest_http.c, ingest_yahoo.c, ingest_stooq.c, refresh.c).

CREATE TABLE stockml.corporate_actions (
    symbol      text NOT NULL REFERENCES stockml.symbols (symbol) ON DELETE CASCADE,
    day         date NOT NULL,
    kind        text NOT NULL CONSTRAINT corporate_actions_kind CHECK (kind IN ('dividend', 'split')),
    amount      float8 CONSTRAINT corporate_actions_amount CHECK (amount >= 0 AND amount < 'Infinity'::float8),
    numerator   float8 CONSTRAINT corporate_actions_numerator CHECK (numerator > 0 AND numerator < 'Infinity'::float8),
    denominator float8 CONSTRAINT corporate_actions_denominator CHECK (denominator > 0 AND denominator < 'Infinity'::float8),
    source      text NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, day, kind),
    CONSTRAINT corporate_actions_shape CHECK (
        CASE kind WHEN 'dividend' THEN amount IS NOT NULL AND numerator IS NULL AND denominator IS NULL
                  ELSE amount IS NULL AND numerator IS NOT NULL AND denominator IS NOT NULL END)
);
COMMENT ON TABLE stockml.corporate_actions IS 'dividends and splits reported by the source (Yahoo''s chart events), one row per (symbol, day, kind)';
COMMENT ON COLUMN stockml.corporate_actions.day IS 'ex-date, as a trading day in the exchange''s time zone';
COMMENT ON COLUMN stockml.corporate_actions.amount IS 'dividend per share, in the symbol''s currency (dividends only)';
COMMENT ON COLUMN stockml.corporate_actions.numerator IS 'split ratio numerator: a 4:1 split is 4 / 1 (splits only)';
COMMENT ON COLUMN stockml.corporate_actions.denominator IS 'split ratio denominator (splits only)';
COMMENT ON CONSTRAINT corporate_actions_shape ON stockml.corporate_actions IS 'a dividend has an amount, a split a ratio, nothing else';
SELECT pg_catalog.pg_extension_config_dump('stockml.corporate_actions', '');

CREATE FUNCTION stockml.ingest_yahoo(symbol text, start_day date DEFAULT NULL,
                                     end_day date DEFAULT current_date)
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_yahoo'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_yahoo(text, date, date) IS
'fetch daily bars (and dividends, splits) of [start_day, end_day] from Yahoo''s chart API and upsert them; returns the ingest_log row; an HTTP or body error is an ERROR and writes nothing';

CREATE FUNCTION stockml.ingest_stooq(symbol text, start_day date DEFAULT NULL,
                                     end_day date DEFAULT current_date)
RETURNS stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_ingest_stooq'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stockml.ingest_stooq(text, date, date) IS
'fetch daily bars of [start_day, end_day] from Stooq''s CSV download (symbols like msft.us) and upsert them; returns the ingest_log row';

CREATE FUNCTION stockml.refresh(symbols text[] DEFAULT NULL)
RETURNS SETOF stockml.ingest_log
AS 'MODULE_PATHNAME', 'stockml_refresh'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 10;
COMMENT ON FUNCTION stockml.refresh(text[]) IS
'fetch, in parallel, the days missing since each symbol''s last stored day (the active watchlist whose source is yahoo or stooq, or the given symbols: one whose source is local, e.g. csv, gets a failed row); one ingest_log row per symbol, failed ones included';

CREATE FUNCTION stockml.check_symbols(symbols text[])
RETURNS void
AS 'MODULE_PATHNAME', 'stockml_check_symbols'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION stockml.check_symbols(text[]) IS
'internal: ERROR naming the first symbol that is NULL or not 1 to 32 characters among A-Z a-z 0-9 . ^ = _ -';

-- The checker of job kind refresh: submit() runs it before queuing, the job before its work.
CREATE FUNCTION stockml.check_job_refresh(args jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM stockml.job_check_keys('refresh', args, ARRAY['symbols']);
    PERFORM stockml.check_symbols(stockml.job_symbols('refresh', args));
END
$$;
COMMENT ON FUNCTION stockml.check_job_refresh(jsonb) IS
'checker of job kind refresh (run by submit() and by the job): args {"symbols": [...]} or {}; ERROR naming a bad key or symbol';

CREATE FUNCTION stockml.run_job_refresh(job_id bigint, args jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    symbols text[];
    summary text;
    total bigint;
    failed bigint;
    first_error text;
BEGIN
    PERFORM stockml.check_job_refresh(args);
    symbols := stockml.job_symbols('refresh', args);
    SELECT format('%s symbols: %s ok, %s partial, %s failed; %s rows inserted, %s updated',
                  count(*), count(*) FILTER (WHERE status = 'ok'),
                  count(*) FILTER (WHERE status = 'partial'), count(*) FILTER (WHERE status = 'failed'),
                  coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0)),
           count(*), count(*) FILTER (WHERE status = 'failed'),
           min(symbol || ': ' || error) FILTER (WHERE status = 'failed')
      INTO summary, total, failed, first_error
      FROM stockml.refresh(symbols);
    -- nothing worked (the network is down?): fail, so that the job is retried
    IF total > 0 AND failed = total THEN
        RAISE EXCEPTION 'refresh failed for all % symbols', total USING DETAIL = first_error;
    END IF;
    RETURN summary;
END
$$;
COMMENT ON FUNCTION stockml.run_job_refresh(bigint, jsonb) IS
'job kind refresh: args {"symbols": [...]} (optional; default the active watchlist), checked by stockml.check_job_refresh; returns a summary; fails (and is retried) only when every symbol failed';

GRANT SELECT, INSERT, UPDATE ON stockml.corporate_actions TO stockml_admin;

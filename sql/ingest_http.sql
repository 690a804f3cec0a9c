-- Prices over HTTP against the mock server (test/fixtures/mock_http.py): Yahoo's chart
-- JSON and Stooq's CSV, every failure mode, refresh of several symbols, privileges.
-- Each failure is shown twice: ingest_yahoo() raises and writes nothing; refresh()
-- logs a 'failed' ingest_log row and goes on.  stockml.prices is checked unchanged.
SET stockml.http_retries = 0;
CREATE TEMP VIEW price_fingerprint AS
SELECT count(*) AS bars, round(sum(close)::numeric, 4) AS sum_close,
       count(DISTINCT symbol) AS symbols FROM stockml.prices;
CREATE TEMP VIEW last_log AS
SELECT symbol, source, status, http_status, rows_inserted, rows_updated, rows_rejected, error
  FROM stockml.ingest_log ORDER BY id DESC LIMIT 1;

-- the bundled MSFT chart: 249 bars, adjusted close kept, exchange metadata filled in
SELECT symbol, source, status, http_status, rows_inserted, rows_updated, rows_rejected, error,
       finished_at >= started_at AS timed
  FROM stockml.ingest_yahoo('MSFT', '2000-09-27', '2001-09-27');
SELECT count(*), min(day), max(day), count(adj_close) AS with_adj_close,
       count(*) FILTER (WHERE source = 'yahoo') AS from_yahoo
  FROM stockml.prices WHERE symbol = 'MSFT';
SELECT day, open, high, low, close, adj_close, volume FROM stockml.prices
 WHERE symbol = 'MSFT' AND day IN ('2000-09-27', '2001-09-27') ORDER BY day;
SELECT symbol, source, timezone, currency, exchange FROM stockml.symbols WHERE symbol = 'MSFT';
-- the same CSV rows agree with the JSON to the last digit
\set csv `cat data/MSFT.csv`
SELECT count(*) AS csv_json_mismatches
  FROM (SELECT split_part(l, ',', 1)::date AS day, split_part(l, ',', 5)::float8 AS close
          FROM unnest(string_to_array(:'csv', E'\n')) WITH ORDINALITY AS t(l, n)
         WHERE n > 1 AND l <> '') c
  FULL JOIN (SELECT day, close FROM stockml.prices WHERE symbol = 'MSFT') p USING (day)
 WHERE c.close IS DISTINCT FROM p.close;
-- idempotent: again, nothing changes
SELECT status, rows_inserted, rows_updated, rows_rejected FROM stockml.ingest_yahoo('MSFT', '2000-09-27', '2001-09-27');
-- a date range keeps only its days
SELECT status, rows_inserted, rows_updated FROM stockml.ingest_yahoo('REDIROK', '2001-01-01', '2001-01-31');
SELECT count(*), min(day), max(day) FROM stockml.prices WHERE symbol = 'REDIROK';
-- gzip-encoded body
SELECT status, rows_inserted FROM stockml.ingest_yahoo('GZIP', '2000-09-27', '2001-09-27');

-- trading days in the exchange's time zone, across daylight saving changes:
-- 00:30 New York (EST then EDT) and 10:00 Auckland (the previous day in UTC)
SELECT status, rows_inserted FROM stockml.ingest_yahoo('DST.NY', '2024-03-01', '2024-03-31');
SELECT symbol, day, close FROM stockml.prices WHERE symbol = 'DST.NY' ORDER BY day;
SELECT status, rows_inserted FROM stockml.ingest_yahoo('DST.NZ', '2024-04-01', '2024-04-30');
SELECT symbol, day, close, adj_close FROM stockml.prices WHERE symbol = 'DST.NZ' ORDER BY day;
SELECT symbol, timezone FROM stockml.symbols WHERE symbol LIKE 'DST.%' ORDER BY symbol;
-- a range that cuts through them
SELECT rows_inserted, rows_updated FROM stockml.ingest_yahoo('DST.NY', '2024-03-08', '2024-03-11');

-- null elements: such bars are skipped and counted; a null adjclose only stores NULL
SELECT status, http_status, rows_inserted, rows_rejected, error
  FROM stockml.ingest_yahoo('NULLS', '2000-09-01', '2001-09-30');
SELECT count(*), count(adj_close) FROM stockml.prices WHERE symbol = 'NULLS';
-- no events, no adjclose
SELECT status, rows_inserted FROM stockml.ingest_yahoo('NOEVT', '2000-09-01', '2001-09-30');
SELECT count(*), count(adj_close) FROM stockml.prices WHERE symbol = 'NOEVT';
-- an absurd gmtoffset (and no exchange zone) rejects the bars instead of storing
-- days PostgreSQL cannot read back
SELECT status, rows_inserted, rows_rejected FROM stockml.ingest_yahoo('BADOFFSET', '2000-09-01', '2001-09-30');
SELECT count(*) FROM stockml.prices WHERE symbol = 'BADOFFSET';
DELETE FROM stockml.symbols WHERE symbol = 'BADOFFSET';
-- dividends and splits
SELECT status, rows_inserted FROM stockml.ingest_yahoo('EVENTS', '2000-09-01', '2001-09-30');
SELECT symbol, day, kind, amount, numerator, denominator, source FROM stockml.corporate_actions ORDER BY day;
SELECT rows_inserted, rows_updated FROM stockml.ingest_yahoo('EVENTS', '2000-09-01', '2001-09-30');
SELECT count(*) FROM stockml.corporate_actions;
-- two dividends on one day: the later one in the body is kept
SELECT status FROM stockml.ingest_yahoo('EVDUP', '2000-09-01', '2001-09-30');
SELECT symbol, day, kind, amount FROM stockml.corporate_actions WHERE symbol = 'EVDUP';
-- a body claiming more bars than any daily history is refused before it is stored
SELECT * FROM stockml.ingest_yahoo('MANYBARS');

-- 429 then success, after the server's Retry-After (1 s)
SET stockml.http_retries = 2;
SELECT clock_timestamp() AS t0 \gset
SELECT status, http_status, rows_inserted FROM stockml.ingest_yahoo('R429A', '2000-09-01', '2001-09-30');
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '1 s' AS waited_retry_after;
SET stockml.http_retries = 0;

-- failures: an ERROR naming symbol, status and the remote's message; nothing written
SELECT * FROM price_fingerprint \gset before_
SELECT count(*) AS log_rows FROM stockml.ingest_log \gset before_
-- unknown symbol: 404 with Yahoo's error body
SELECT * FROM stockml.ingest_yahoo('NOPE');
-- 500 forever, retried
SET stockml.http_retries = 2;
SELECT * FROM stockml.ingest_yahoo('E500');
SET stockml.http_retries = 0;
-- a body that stalls past the timeout
SET stockml.http_timeout_ms = 400;
SELECT * FROM stockml.ingest_yahoo('STALL');
RESET stockml.http_timeout_ms;
-- a truncated body (the connection closes early)
SELECT * FROM stockml.ingest_yahoo('TRUNC');
-- bodies over the cap, with and without Content-Length
SET stockml.max_response_bytes = '1MB';
SELECT * FROM stockml.ingest_yahoo('BIG');
SELECT * FROM stockml.ingest_yahoo('BIGCL');
RESET stockml.max_response_bytes;
-- a redirect to a host off the list
SELECT * FROM stockml.ingest_yahoo('REDIR');
-- HTML instead of JSON
SELECT * FROM stockml.ingest_yahoo('HTML');
-- Yahoo refuses requests without a browser-like User-Agent
SET stockml.user_agent = 'curl/7.88.1';
SELECT * FROM stockml.ingest_yahoo('MSFT');
RESET stockml.user_agent;
-- hosts off the list and other schemes are refused before any request
SET stockml.allowed_hosts = 'query1.finance.yahoo.com';
SELECT * FROM stockml.ingest_yahoo('MSFT');
RESET stockml.allowed_hosts;
SET stockml.yahoo_url = 'file:///etc';
SELECT * FROM stockml.ingest_yahoo('MSFT');
SET stockml.yahoo_url = 'gopher://127.0.0.1';
SELECT * FROM stockml.ingest_yahoo('MSFT');
RESET stockml.yahoo_url;
-- bad arguments
SELECT * FROM stockml.ingest_yahoo('MS FT');
SELECT * FROM stockml.ingest_yahoo('MSFT', '2001-02-01', '2001-01-01');
SELECT * FROM stockml.ingest_yahoo(NULL);
-- query cancel (statement_timeout) stops a transfer promptly
SET stockml.http_timeout_ms = '20s';
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '300ms';
SELECT * FROM stockml.ingest_yahoo('STALL');
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 s' AS cancelled_promptly;
RESET stockml.http_timeout_ms;
-- the same failures through refresh(): one 'failed' ingest_log row each, with the
-- HTTP status and the reason, while the 429 symbol is retried and stored
-- long enough for a loaded machine to serve the 2 MB bodies; STALL still times out
SET stockml.http_timeout_ms = 1500;
SET stockml.max_response_bytes = '1MB';
SET stockml.http_retries = 1;
SET client_min_messages = error;
SELECT symbol, status, http_status, rows_inserted, error
  FROM stockml.refresh(ARRAY['NOPE', 'E500', 'R429B', 'STALL', 'TRUNC', 'BIG', 'BIGCL', 'REDIR', 'HTML'])
 ORDER BY symbol;
RESET client_min_messages;
RESET stockml.http_timeout_ms;
RESET stockml.max_response_bytes;
SET stockml.http_retries = 0;
SELECT symbol, status, http_status FROM stockml.ingest_log
 WHERE id > (SELECT max(id) - 9 FROM stockml.ingest_log) ORDER BY symbol;
SELECT count(*) AS bars_from_the_429_symbol FROM stockml.prices WHERE symbol = 'R429B';
DELETE FROM stockml.symbols WHERE symbol = 'R429B';
DELETE FROM stockml.ingest_log
 WHERE symbol IN ('NOPE', 'E500', 'R429B', 'STALL', 'TRUNC', 'BIG', 'BIGCL', 'REDIR', 'HTML');

-- nothing was written by any failure
SELECT (SELECT row(f.*)::text FROM price_fingerprint f) = row(:before_bars, :before_sum_close, :before_symbols)::text
       AS prices_unchanged,
       (SELECT count(*) FROM stockml.ingest_log) - :before_log_rows AS new_log_rows;
SELECT count(*) AS failed_symbols_added FROM stockml.symbols
 WHERE symbol IN ('NOPE', 'E500', 'STALL', 'TRUNC', 'BIG', 'BIGCL', 'REDIR', 'HTML');

-- Stooq: CSV through ingest_csv's parser; "No data" for unknown symbols
SELECT symbol, source, status, http_status, rows_inserted FROM stockml.ingest_stooq('msft.us', '2001-09-20', '2001-09-27');
SELECT day, close, adj_close, volume FROM stockml.prices WHERE symbol = 'msft.us' ORDER BY day LIMIT 2;
SELECT * FROM stockml.ingest_stooq('nope.us');
-- a body that is not valid in the database encoding is refused before parsing
SELECT * FROM stockml.ingest_stooq('latin1.us');
SELECT status, left(error, 60) AS error FROM stockml.ingest_log WHERE symbol = 'latin1.us';

-- refresh: several symbols in parallel, each its own ingest_log row; one failure
-- is logged, warned about and stops nothing
DELETE FROM stockml.prices WHERE symbol = 'MSFT' AND day > '2001-09-14';
SET client_min_messages = error;   -- the WARNINGs come in completion order
SELECT symbol, source, status, http_status, rows_inserted, rows_updated, rows_rejected, error
  FROM stockml.refresh(ARRAY['MSFT', 'E500', 'DST.NY', 'NOPE', 'msft.us', 'MSFT']) ORDER BY symbol;
RESET client_min_messages;
SELECT count(*), max(day) FROM stockml.prices WHERE symbol = 'MSFT';
-- the two fetches run in parallel: their log rows come in either order
SELECT * FROM (SELECT symbol, status, http_status, error FROM stockml.ingest_log
                WHERE symbol IN ('E500', 'NOPE') ORDER BY id DESC LIMIT 2) last ORDER BY symbol;
SELECT (SELECT count(*) FROM stockml.prices) - :before_bars AS new_bars_since_failures;  -- msft.us's 6
-- refresh() alone: the active watchlist
UPDATE stockml.symbols SET active = symbol IN ('MSFT', 'DST.NZ');
SELECT symbol, status, rows_inserted, rows_updated FROM stockml.refresh() ORDER BY symbol;
UPDATE stockml.symbols SET active = true;
-- a symbol whose source is local (csv) is left out of refresh(), and named
-- explicitly it gets a failed row instead of Yahoo's bars mixed into its own
SELECT status FROM stockml.ingest_csv('MSFTCSV', E'Date,Open,High,Low,Close\n2001-09-27,50,51,49,50.5\n');
UPDATE stockml.symbols SET active = symbol IN ('MSFT', 'MSFTCSV');
SELECT symbol, status FROM stockml.refresh() ORDER BY symbol;
SELECT symbol, source, status, http_status, error FROM stockml.refresh(ARRAY['MSFTCSV']);
SELECT count(*) AS msftcsv_bars FROM stockml.prices WHERE symbol = 'MSFTCSV';
-- once the user sets a network source it is fetched like any other
UPDATE stockml.symbols SET source = 'yahoo' WHERE symbol = 'MSFTCSV';
SELECT symbol, status FROM stockml.refresh() ORDER BY symbol;
UPDATE stockml.symbols SET active = true;
DELETE FROM stockml.symbols WHERE symbol = 'MSFTCSV';
SELECT * FROM stockml.refresh(ARRAY[NULL]);
SELECT count(*) FROM stockml.refresh('{}');
SELECT symbol, status, error FROM stockml.refresh(ARRAY['HTML']);

-- privileges: only superusers and stockml_admin members fetch; the settings that
-- say where stockml may connect are superuser-only
CREATE ROLE stockml_regress_reader;
CREATE ROLE stockml_regress_admin IN ROLE stockml_admin;
GRANT USAGE ON SCHEMA stockml TO stockml_regress_reader;
SET ROLE stockml_regress_reader;
SELECT * FROM stockml.ingest_yahoo('MSFT');
SELECT * FROM stockml.refresh();
SELECT * FROM stockml.ingest_stooq('msft.us');
RESET ROLE;
SET ROLE stockml_regress_admin;
SELECT status, rows_inserted, rows_updated FROM stockml.ingest_yahoo('NOEVT', '2000-09-01', '2001-09-30');
SELECT symbol, status FROM stockml.refresh(ARRAY['DST.NZ']);
SET stockml.allowed_hosts = 'evil.example.com';
SET stockml.yahoo_url = 'http://evil.example.com';
SET stockml.max_response_bytes = '1GB';
RESET ROLE;

-- clean up
DELETE FROM stockml.symbols WHERE symbol IN ('MSFT', 'REDIROK', 'GZIP', 'DST.NY', 'DST.NZ', 'NULLS',
    'NOEVT', 'EVENTS', 'EVDUP', 'R429A', 'msft.us');
DELETE FROM stockml.ingest_log WHERE source IN ('yahoo', 'stooq');
DROP ROLE stockml_regress_admin;
REVOKE USAGE ON SCHEMA stockml FROM stockml_regress_reader;
DROP ROLE stockml_regress_reader;

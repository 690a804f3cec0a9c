-- prices over HTTP: ingest_yahoo, refresh and the job queue, against a local mock of Yahoo and Stooq
\echo 'Where stockml may fetch from (superuser-only settings); the defaults are Yahoo''s and Stooq''s hosts:'
SELECT name, boot_val AS default FROM pg_settings
 WHERE name IN ('stockml.allowed_hosts', 'stockml.yahoo_url', 'stockml.stooq_url',
                'stockml.http_timeout_ms', 'stockml.max_response_bytes', 'stockml.http_concurrency')
 ORDER BY name;

\echo 'The demo runs offline: it starts the tests'' mock server (test/fixtures/mock_http.py)'
\echo 'on 127.0.0.1 and points the server at it with ALTER SYSTEM.'
\set mockdir `mktemp -d`
\setenv STOCKML_MOCK_DIR :mockdir
\! python3 test/fixtures/mock_http.py "$STOCKML_MOCK_DIR/port" >/dev/null 2>&1 & echo $! > "$STOCKML_MOCK_DIR/pid"
\set mockport `for i in $(seq 100); do [ -s "$STOCKML_MOCK_DIR/port" ] && break; sleep 0.1; done; cat "$STOCKML_MOCK_DIR/port"`
SELECT 'http://127.0.0.1:' || :'mockport' AS mock_url \gset
ALTER SYSTEM SET stockml.yahoo_url = :'mock_url';
ALTER SYSTEM SET stockml.stooq_url = :'mock_url';
ALTER SYSTEM SET stockml.allowed_hosts = '127.0.0.1';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

\echo 'Yahoo''s chart for the MSFT bars loaded from CSV: same prices, but now with the adjusted close.'
SELECT symbol, source, status, http_status, rows_inserted, rows_updated, rows_rejected
  FROM stockml.ingest_yahoo('MSFT', '2000-09-27', '2001-09-27');
\echo 'Trading days are read in the exchange''s time zone: 10:00 in Auckland is the previous day in UTC.'
SELECT status, rows_inserted FROM stockml.ingest_yahoo('DST.NZ', '2024-04-01', '2024-04-30');
SELECT p.day, to_char(p.day, 'Dy') AS weekday, s.timezone, p.close
  FROM stockml.prices p JOIN stockml.symbols s USING (symbol)
 WHERE symbol = 'DST.NZ' ORDER BY day;
\echo 'Dividends and splits land in stockml.corporate_actions:'
SELECT status, rows_inserted FROM stockml.ingest_yahoo('EVENTS', '2000-09-27', '2000-12-31');
SELECT symbol, day, kind, amount, numerator || ':' || denominator AS ratio FROM stockml.corporate_actions;

\echo 'Stooq''s CSV goes through ingest_csv''s parser:'
SELECT symbol, source, status, rows_inserted FROM stockml.ingest_stooq('msft.us', '2001-09-01', '2001-09-27');

\echo 'refresh(): several symbols in parallel, each from its own source (symbols.source);'
\echo 'an unknown one fails alone and is logged.'
SELECT symbol, source, status, http_status, rows_inserted, rows_updated, left(error, 60) AS error
  FROM stockml.refresh(ARRAY['MSFT', 'NOPE', 'msft.us']) ORDER BY symbol;

\echo 'Bad answers are ERRORs that write nothing, e.g. a redirect to a host off the list:'
\set ON_ERROR_STOP off
SELECT * FROM stockml.ingest_yahoo('REDIR');
\set ON_ERROR_STOP on

\echo 'The same work as a background job: submit, then watch stockml.job_status.'
SELECT stockml.submit('refresh', '{"symbols": ["MSFT", "EVENTS", "DST.NZ"]}') AS job_id \gset
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT status IN ('done', 'failed') FROM stockml.jobs
                    WHERE id = currval(pg_get_serial_sequence('stockml.jobs', 'id')));
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT id, kind, status, attempts, progress, result FROM stockml.job_status WHERE id = :job_id;

\echo 'The ingest log:'
SELECT id, symbol, source, status, http_status, rows_inserted, rows_updated, rows_rejected
  FROM stockml.ingest_log ORDER BY id DESC LIMIT 8;

-- the later steps (and the Grafana dashboards) work on MSFT alone: drop the other symbols
DELETE FROM stockml.symbols WHERE symbol <> 'MSFT';

-- back to the real sources, and stop the mock
ALTER SYSTEM RESET stockml.yahoo_url;
ALTER SYSTEM RESET stockml.stooq_url;
ALTER SYSTEM RESET stockml.allowed_hosts;
SELECT pg_reload_conf();
\! kill "$(cat "$STOCKML_MOCK_DIR/pid")"; rm -rf "$STOCKML_MOCK_DIR"

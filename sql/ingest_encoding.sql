-- Yahoo's text (UTF-8) in a database whose encoding is not UTF8: the exchange's
-- name is stored converted, a currency with no LATIN1 equivalent is left unset
-- (NULL, not bytes of another encoding), and Yahoo's error message is shown in
-- the database's encoding with '?' for what it cannot show.  Against the mock
-- server (test/fixtures/mock_http.py: UMLAUT, UMLAUT.ESC, UMLAUTERR).
CREATE DATABASE stockml_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c stockml_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION stockml;
SET stockml.http_retries = 0;
SELECT status, rows_inserted FROM stockml.ingest_yahoo('UMLAUT');
SELECT status, rows_inserted FROM stockml.ingest_yahoo('UMLAUT.ESC');
-- convert_to shows the stored bytes: o-umlaut is 0xf6 in LATIN1 (0xc3b6 in UTF-8)
SELECT symbol, exchange, convert_to(exchange, 'LATIN1') AS latin1_bytes, currency
  FROM stockml.symbols ORDER BY symbol;
\set VERBOSITY default
SELECT status FROM stockml.ingest_yahoo('UMLAUTERR');
INSERT INTO stockml.symbols (symbol, source) VALUES ('UMLAUTERR', 'yahoo');
SELECT symbol, status, error FROM stockml.refresh(ARRAY['UMLAUTERR']);
\set VERBOSITY terse
\c contrib_regression
DROP DATABASE stockml_latin1;
-- in this UTF8 database the same text is stored as sent
SET stockml.http_retries = 0;
SELECT status FROM stockml.ingest_yahoo('UMLAUT');
SELECT exchange, currency FROM stockml.symbols WHERE symbol = 'UMLAUT';
DELETE FROM stockml.symbols WHERE symbol = 'UMLAUT';

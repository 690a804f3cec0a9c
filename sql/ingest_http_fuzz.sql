-- Damaged bodies never crash a backend: the MSFT chart cut anywhere, and 200
-- charts with random bytes overwritten (test/fixtures/mock_http.py CUT<n>, MUT<seed>),
-- all through one refresh(), each symbol in its own subtransaction.
SET stockml.http_retries = 0;
SET client_min_messages = error;
SELECT symbol, status, http_status, rows_inserted, error
  FROM stockml.refresh(ARRAY['CUT0', 'CUT1', 'CUT15', 'CUT100', 'CUT1000', 'CUT7000', 'CUT14968', 'CUT14969'])
 ORDER BY length(symbol), symbol;
-- 200 mutated bodies: every one gets a row, what was stored is what was logged
CREATE TEMP TABLE mutated AS
SELECT * FROM stockml.refresh(ARRAY(SELECT 'MUT' || i FROM generate_series(1, 200) i));
SELECT count(*) AS symbols,
       count(*) FILTER (WHERE status = 'failed') > 0 AS some_failed,
       count(*) FILTER (WHERE status IN ('ok', 'partial')) > 0 AS some_stored,
       sum(rows_inserted) = (SELECT count(*) FROM stockml.prices WHERE symbol LIKE 'MUT%') AS logged_equals_stored,
       count(*) FILTER (WHERE status = 'failed' AND rows_inserted > 0) AS failed_but_stored
  FROM mutated;
SELECT count(*) AS failed_symbols_with_bars FROM mutated m
 WHERE status = 'failed' AND EXISTS (SELECT FROM stockml.prices p WHERE p.symbol = m.symbol);
SELECT count(*) AS bad_bars FROM stockml.prices
 WHERE symbol LIKE 'MUT%' AND NOT (low > 0 AND low <= least(open, close) AND high >= greatest(open, close));
SELECT 'backend alive' AS check;
DELETE FROM stockml.symbols WHERE symbol LIKE 'CUT%' OR symbol LIKE 'MUT%';
DELETE FROM stockml.ingest_log WHERE symbol LIKE 'CUT%' OR symbol LIKE 'MUT%';

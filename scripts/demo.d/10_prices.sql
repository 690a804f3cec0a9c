-- the price store: load the bundled MSFT sample (data/MSFT.csv)
CREATE EXTENSION stockml;
CREATE EXTENSION pg_cron;
\set csv `cat data/MSFT.csv`
\echo 'SELECT * FROM stockml.ingest_csv(''MSFT'', :''csv'');'
SELECT symbol, status, rows_inserted, rows_updated, rows_rejected
  FROM stockml.ingest_csv('MSFT', :'csv');
\echo 'Again: re-ingesting the same file changes nothing.'
SELECT symbol, status, rows_inserted, rows_updated, rows_rejected
  FROM stockml.ingest_csv('MSFT', :'csv');
\echo 'The watchlist:'
SELECT symbol, source, active, added_at::date FROM stockml.symbols;
\echo 'The last bars:'
SELECT * FROM (SELECT day, open, high, low, close, volume FROM stockml.prices
                WHERE symbol = 'MSFT' ORDER BY day DESC LIMIT 5) last ORDER BY day;
\echo 'The ingest log:'
SELECT id, symbol, source, status, rows_inserted, rows_updated, rows_rejected,
       round(extract(epoch FROM finished_at - started_at) * 1000) AS ms
  FROM stockml.ingest_log ORDER BY id;

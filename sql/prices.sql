-- The price store: objects of the schema and the rules that keep bad rows out.
SELECT c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'stockml' AND c.relname IN ('symbols', 'prices', 'ingest_log',
       'prices_pkey', 'symbols_pkey', 'ingest_log_pkey', 'ingest_log_symbol_started_idx')
 ORDER BY 1;

SELECT conname, pg_get_constraintdef(oid)
  FROM pg_constraint
 WHERE conrelid = 'stockml.prices'::regclass
 ORDER BY 1;

-- every table, column-less object and function has a comment
SELECT c.relname AS uncommented
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'stockml' AND c.relkind IN ('r', 'v', 'i')
   AND obj_description(c.oid, 'pg_class') IS NULL AND c.relname NOT LIKE '%_pkey';
SELECT p.oid::regprocedure AS uncommented
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'stockml' AND obj_description(p.oid, 'pg_proc') IS NULL;

-- the symbol pattern (terse: the failing rows hold timestamps)
\set VERBOSITY terse
INSERT INTO stockml.symbols (symbol) VALUES ('BRK.B'), ('^GSPC'), ('EURUSD=X'), ('msft.us');
INSERT INTO stockml.symbols (symbol) VALUES ('bad symbol');
INSERT INTO stockml.symbols (symbol) VALUES ('');
INSERT INTO stockml.symbols (symbol) VALUES (repeat('A', 33));

-- constraints refuse bad bars stored directly
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-02', 10, 11, 9, 10.5, 100);
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-03', 10, 9, 11, 10, 100);          -- high < low
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-03', 0, 11, 0, 10, 100);           -- zero price
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-03', 'NaN', 11, 9, 10, 100);       -- NaN
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-03', 10, 'Infinity', 9, 10, 100);  -- infinity
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-03', 10, 11, 9, 12, 100);          -- close above high
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-03', 10, 11, 9, 10, -1);           -- negative volume
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('NOPE', '2024-01-03', 10, 11, 9, 10, 1);             -- unknown symbol
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
VALUES ('BRK.B', '2024-01-02', 10, 11, 9, 10, 1);            -- same day twice
\set VERBOSITY default
SELECT symbol, day, open, high, low, close, adj_close, volume FROM stockml.prices
 WHERE symbol IN ('BRK.B', '^GSPC', 'EURUSD=X', 'msft.us');
DELETE FROM stockml.symbols WHERE symbol IN ('BRK.B', '^GSPC', 'EURUSD=X', 'msft.us');

-- Foundation: constraints refuse bad rows inserted directly, the functions
-- have their documented signatures, and DROP EXTENSION leaves nothing behind.
BEGIN;
SELECT plan(22);

SELECT has_schema('stockml');
SELECT has_table('stockml', t, 'table stockml.' || t) FROM unnest(ARRAY['symbols', 'prices', 'ingest_log']) t;
SELECT col_is_pk('stockml', 'prices', ARRAY['symbol', 'day'], 'prices keyed by (symbol, day)');
SELECT has_function('stockml', 'ingest_csv', ARRAY['text', 'text', 'text', 'boolean', 'text']);
SELECT function_returns('stockml', 'ingest_csv', ARRAY['text', 'text', 'text', 'boolean', 'text'], 'stockml.ingest_log');
SELECT volatility_is('stockml', 'ingest_csv', ARRAY['text', 'text', 'text', 'boolean', 'text'], 'volatile');

INSERT INTO stockml.symbols (symbol) VALUES ('TAP');
SELECT lives_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
                  VALUES ('TAP', '2024-01-02', 10, 11, 9, 10, 0)$$, 'a good bar is stored');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close)
                   VALUES ('TAP', '2024-01-03', 10, 9, 11, 10)$$, '23514', NULL, 'high < low refused');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close)
                   VALUES ('TAP', '2024-01-03', -1, 11, -2, 10)$$, '23514', NULL, 'negative price refused');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close)
                   VALUES ('TAP', '2024-01-03', 'NaN', 'NaN', 'NaN', 'NaN')$$, '23514', NULL, 'all-NaN bar refused');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close)
                   VALUES ('TAP', '2024-01-03', 10, 11, 9, 10, 0)$$, '23514', NULL, 'zero adjusted close refused');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
                   VALUES ('TAP', '2024-01-03', 10, 11, 9, 10, -1)$$, '23514', NULL, 'negative volume refused');
SELECT throws_ok($$INSERT INTO stockml.prices (symbol, day, open, high, low, close)
                   VALUES ('TAP', 'infinity', 10, 11, 9, 10)$$, '23514', NULL, 'infinite day refused');
SELECT throws_ok($$INSERT INTO stockml.symbols (symbol) VALUES ('a;b')$$, '23514', NULL, 'bad symbol refused');
SELECT throws_ok($$INSERT INTO stockml.ingest_log (symbol, source, status) VALUES ('TAP', 'csv', 'great')$$,
                 '23514', NULL, 'unknown ingest status refused');

-- DROP EXTENSION removes every object it made
SELECT lives_ok('DROP EXTENSION stockml', 'DROP EXTENSION stockml');
SELECT hasnt_schema('stockml', 'schema gone');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE probin LIKE '%stockml%'), 0, 'no C function left');
SELECT is((SELECT count(*)::int FROM pg_type WHERE typname IN ('symbols', 'prices', 'ingest_log')
             AND typnamespace NOT IN ('pg_catalog'::regnamespace)), 0, 'no row type left');
SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
            WHERE e.extname = 'stockml'), 0, 'no dependent object left');

SELECT * FROM finish();
ROLLBACK;

-- stockml.distribute() without Citus (issue 11 item 1): a clear ERROR saying what to
-- install; the symbol foreign keys do not cascade updates (Citus refuses
-- ON UPDATE CASCADE on a distribution column), deletes still cascade; re-ingesting a
-- changed bar stamps ingested_at with the transaction's time (a parameter now, not now()
-- in DO UPDATE SET, which Citus refuses).  test/citus/ runs distribute() on Citus.
BEGIN;
SELECT plan(9);

SELECT throws_ok($$SELECT * FROM stockml.distribute()$$, '0A000',
                 'stockml.distribute() needs the citus extension in this database',
                 'distribute() without Citus: feature_not_supported, saying what is missing');
SELECT is((SELECT string_agg(conrelid::regclass || ': ' || pg_get_constraintdef(oid), '; ' ORDER BY conrelid::regclass::text)
             FROM pg_constraint WHERE contype = 'f' AND confrelid = 'stockml.symbols'::regclass),
          'stockml.corporate_actions: FOREIGN KEY (symbol) REFERENCES stockml.symbols(symbol) ON DELETE CASCADE; '
          'stockml.prices: FOREIGN KEY (symbol) REFERENCES stockml.symbols(symbol) ON DELETE CASCADE',
          'the foreign keys to symbols cascade deletes, not updates');

INSERT INTO stockml.symbols (symbol) VALUES ('DST');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, ingested_at)
VALUES ('DST', '2024-01-02', 10, 11, 9, 10, '2001-01-01');
SELECT throws_ok($$UPDATE stockml.symbols SET symbol = 'DST2' WHERE symbol = 'DST'$$, '23503', NULL,
                 'renaming a symbol that has bars is refused, not cascaded');
SELECT is((SELECT rows_updated FROM stockml.ingest_csv('DST', E'Date,Open,High,Low,Close,Volume\n2024-01-02,10,12,9,11,100')),
          1::bigint, 're-ingesting a changed bar updates it');
SELECT is((SELECT ingested_at FROM stockml.prices WHERE symbol = 'DST'), now(),
          'its ingested_at is the transaction''s time, as now() gave');
SELECT is((SELECT close FROM stockml.prices WHERE symbol = 'DST'), 11::float8, 'with the new values');
DELETE FROM stockml.symbols WHERE symbol = 'DST';
SELECT is((SELECT count(*) FROM stockml.prices WHERE symbol = 'DST'), 0::bigint, 'deleting the symbol still deletes its bars');
-- total_return() over 300 bars without adjusted closes or events: the ratio of the closes,
-- in the first calls of a session too (it read its bars from memory SPI_finish had freed,
-- and gave NaN until the corporate-actions plan went generic; distribute() runs it on the
-- workers, test/citus/ compares it there)
INSERT INTO stockml.symbols (symbol) VALUES ('TRLONG');
INSERT INTO stockml.prices (symbol, day, open, high, low, close)
SELECT 'TRLONG', '2020-01-01'::date + i, c, c, c, c FROM (SELECT i, 10 + i * 0.37 AS c FROM generate_series(0, 299) i) s;
SELECT is(ARRAY(SELECT stockml.total_return('TRLONG', '2020-01-01', '2020-10-26') FROM generate_series(1, 3)),
          array_fill((10 + 299 * 0.37)::float8 / 10, ARRAY[3]),
          'total_return over 300 bars: the ratio of the closes, every call');
SELECT is(has_function_privilege('public', 'stockml.distribute(integer)', 'EXECUTE'), false,
          'PUBLIC may not call distribute()');

SELECT * FROM finish();
ROLLBACK;

-- total_return() keeps a symbol's bars between the calls of one query (src/adjust.c: its
-- first call reads the two days, a second one outside them the whole history, up to 8
-- symbols, while the active snapshot is the same).  Every answer must be the bits of a
-- call alone (each in a query of its own, EXECUTE), on bars with and without an adjusted
-- close, over splits and dividends, reversed, on days that are no bar, with 10 symbols
-- interleaved (more than it keeps); and a kept bar must never outlive a change of prices
-- made between two calls of one PL/pgSQL expression (kept for the whole transaction).
BEGIN;
SELECT plan(7);

-- 10 symbols of 300 weekdays; TR1..TR5 without adjusted closes (the factors come from the
-- corporate actions), TR6..TR10 with them except on a stretch of 20 days
SELECT setseed(0.46);
INSERT INTO stockml.symbols (symbol) SELECT 'TR' || s FROM generate_series(1, 10) s;
INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close, volume, source)
SELECT 'TR' || s, d, c, c * 1.01, c * 0.99, c,
       CASE WHEN s > 5 AND NOT (i BETWEEN 100 AND 119) THEN c * (0.8 + i / 1500.0) END, 1000, 'csv'
  FROM (SELECT s, i, d, 50 * exp(sum(0.02 * (random() - 0.5)) OVER (PARTITION BY s ORDER BY i)) AS c
          FROM generate_series(1, 10) s,
               LATERAL (SELECT row_number() OVER (ORDER BY d) AS i, d::date AS d
                          FROM generate_series('2021-01-01'::date, '2022-06-30', '1 day') d
                         WHERE extract(isodow FROM d) < 6 LIMIT 300) days) q;
-- a 2:1 split and two dividends each (a dividend on a weekend too: it counts at the next bar)
INSERT INTO stockml.corporate_actions (symbol, day, kind, amount, numerator, denominator, source)
SELECT 'TR' || s, a.day, a.kind, a.amount, a.num, a.den, 'csv'
  FROM generate_series(1, 10) s,
       LATERAL (VALUES ('2021-03-01'::date + s, 'split', NULL::float8, 2::float8, 1::float8),
                       ('2021-06-05'::date + 3 * s, 'dividend', 0.3 + s / 10.0, NULL, NULL),
                       ('2022-01-10'::date + s, 'dividend', 0.5, NULL, NULL)) a(day, kind, amount, num, den);

-- 600 pairs of days in random order: stored bars mostly, some weekends, some reversed
CREATE TEMP TABLE pairs AS
SELECT i, 'TR' || (1 + floor(random() * 10))::int AS symbol, f, f + (CASE WHEN random() < 0.1 THEN -1 ELSE 1 END
                                                                 * floor(random() * 120))::int AS t
  FROM (SELECT i, '2021-01-01'::date + floor(random() * 540)::int AS f FROM generate_series(1, 600) i) x;

CREATE FUNCTION pg_temp.alone() RETURNS TABLE (i integer, r float8) LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM pairs ORDER BY pairs.i LOOP
        i := p.i;
        EXECUTE 'SELECT stockml.total_return($1, $2, $3)' INTO r USING p.symbol, p.f, p.t;
        RETURN NEXT;
    END LOOP;
END $$;
CREATE TEMP TABLE alone AS SELECT * FROM pg_temp.alone();
CREATE TEMP TABLE together AS SELECT p.i, stockml.total_return(p.symbol, p.f, p.t) AS r FROM pairs p;
CREATE TEMP TABLE by_symbol AS
SELECT p.i, stockml.total_return(p.symbol, p.f, p.t) AS r FROM (SELECT * FROM pairs ORDER BY symbol, f) p;

SELECT cmp_ok((SELECT count(*) FROM alone WHERE r IS NOT NULL), '>', 150::bigint,
              'at least 150 of the pairs are two stored bars (the others NULL: a weekend, after the last bar)');
SELECT is((SELECT count(*) FROM alone a JOIN together t USING (i) WHERE a.r IS DISTINCT FROM t.r), 0::bigint,
          '600 calls in one query, 10 symbols interleaved: each the bits of the call alone');
SELECT is((SELECT count(*) FROM alone a JOIN by_symbol t USING (i) WHERE a.r IS DISTINCT FROM t.r), 0::bigint,
          '... and symbol by symbol (the whole history kept after the second call)');
SELECT is((SELECT round((stockml.total_return('TR1', '2021-02-26', '2021-03-05') / (2 * b.close / a.close))::numeric, 12)
             FROM stockml.prices a, stockml.prices b
            WHERE a.symbol = 'TR1' AND a.day = '2021-02-26' AND b.symbol = 'TR1' AND b.day = '2021-03-05'),
          1::numeric, 'over the 2:1 split of TR1 (no adjusted closes): twice the ratio of the raw closes');

-- a volatile PL/pgSQL function: its expressions keep fn_extra for the transaction, and each
-- sees the prices as they are now
CREATE FUNCTION pg_temp.after_change() RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    r float8[] := '{}';
    d date;
    k integer := 0;
BEGIN
    -- one expression, evaluated 5 times: its first call keeps two days, its second the
    -- whole history; the prices change before the fourth and the fifth
    FOR d IN SELECT x FROM unnest(ARRAY['2021-05-03', '2021-02-01', '2021-05-03', '2021-05-03', '2021-05-03']::date[]) x LOOP
        k := k + 1;
        IF k = 4 THEN
            UPDATE stockml.prices SET open = open * 2, high = high * 2, low = low * 2, close = close * 2
             WHERE symbol = 'TR3' AND day = '2021-06-01';
        ELSIF k = 5 THEN
            DELETE FROM stockml.prices WHERE symbol = 'TR3' AND day = '2021-05-03';
        END IF;
        r := r || stockml.total_return('TR3', d, '2021-06-01');
    END LOOP;
    RETURN r;
END $$;
CREATE TEMP TABLE changed AS SELECT pg_temp.after_change() AS r;
SELECT is((SELECT r[1] = r[3] AND r[1] IS NOT NULL FROM changed), true, 'the same call again, the same answer');
SELECT is((SELECT round((r[4] / r[1])::numeric, 12) FROM changed), 2::numeric,
          'a close doubled between two calls of one expression: the next call sees it');
SELECT is((SELECT r[5] FROM changed), NULL::float8, 'a bar deleted between two calls: the next call returns NULL');

SELECT * FROM finish();
ROLLBACK;

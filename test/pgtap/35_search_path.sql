-- The manual's rule for extension scripts (issue 16): every function of stockml written
-- in SQL or PL/pgSQL pins its own search_path, so no caller's schema (or the database
-- owner's ALTER DATABASE ... SET search_path) can put a function or an operator of theirs
-- in front of pg_catalog's.  C functions are checked by test/t/035_worker_security.pl.
BEGIN;
SELECT plan(2);

SELECT is(
    (SELECT coalesce(string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text), 'none')
       FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
      WHERE p.pronamespace = 'stockml'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
        AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)),
    'none',
    'every SQL and PL/pgSQL function of stockml sets search_path = pg_catalog, pg_temp');

SELECT cmp_ok(
    (SELECT count(*)::int FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
      WHERE p.pronamespace = 'stockml'::regnamespace AND l.lanname IN ('sql', 'plpgsql')),
    '>', 10, '... and there are such functions to check');

SELECT * FROM finish();
ROLLBACK;

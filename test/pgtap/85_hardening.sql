-- Hardening (issue 16 item 3): long loops check for interrupts, so a 1 s
-- statement_timeout stops fit(), ks_test() and train() on inputs that used to run
-- for tens of seconds past it; wide inputs are refused at once; train() checks
-- who may train before it reads its arguments.
BEGIN;
SELECT plan(34);

-- Run sql (under the statement_timeout the calling statement was started with:
-- a timeout set during a statement does not apply to it); record its SQLSTATE
-- (NULL when it returned) and the seconds it took
CREATE TEMP TABLE timed (label text PRIMARY KEY, state text, message text, secs float8);
CREATE FUNCTION pg_temp.timed(label text, sql text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    st text;
    msg text;
BEGIN
    BEGIN
        EXECUTE sql;
    EXCEPTION WHEN query_canceled OR others THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    END;
    INSERT INTO timed VALUES (label, st, msg, extract(epoch FROM clock_timestamp() - t0));
END
$$;

-- inputs built before any timeout: a 2 x 4096 and a 2 x 512 matrix, a sample of
-- 100 000 random values doubled to 12 800 000, 100 000 symbol names
SELECT setseed(0.16);
CREATE TEMP TABLE wide AS
SELECT (SELECT array_agg(r ORDER BY i) FROM (SELECT i, array_agg(random() ORDER BY j) r
          FROM generate_series(1, 2) i, generate_series(1, 4096) j GROUP BY i) s) AS x4096,
       (SELECT array_agg(r ORDER BY i) FROM (SELECT i, array_agg(random() ORDER BY j) r
          FROM generate_series(1, 2) i, generate_series(1, 512) j GROUP BY i) s) AS x512;
CREATE TEMP TABLE big (a float8[]);
DO $$
DECLARE
    a float8[] := array(SELECT random() FROM generate_series(1, 100000));
BEGIN
    FOR i IN 1..7 LOOP
        a := a || a;
    END LOOP;
    INSERT INTO big VALUES (a);
END
$$;
SELECT is((SELECT cardinality(a) FROM big), 12800000, 'the big sample has 12 800 000 values');

-- wide input: a clear ERROR at once, before any factorization
SELECT throws_ok($$SELECT stockml.fit('ridge', x4096, ARRAY[1, 2]::float8[]) FROM wide$$,
                 '54000', 'cannot fit a model on 4096 features',
                 'fit() on 4096 features is refused with the cap');

-- elastic net that would sweep 10 million times: stopped by the timeout
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('enet', $$SELECT stockml.fit('elastic_net', x512, ARRAY[1, 2]::float8[],
                                                   '{"alpha": 0.0001, "max_iter": 10000000, "tol": 0}') FROM wide$$);
RESET statement_timeout;
SELECT is((SELECT state FROM timed WHERE label = 'enet'), '57014', 'elastic net sweeps: canceled by statement_timeout');
SELECT cmp_ok((SELECT secs FROM timed WHERE label = 'enet'), '<', 3::float8, 'elastic net: canceled within 3 s');

-- ks_test on 2 x 12.8 million values: sorting checks for interrupts
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('ks', $$SELECT stockml.ks_test(a, a) FROM big$$);
RESET statement_timeout;
SELECT is((SELECT state FROM timed WHERE label = 'ks'), '57014', 'ks_test on 2 x 12.8e6 values: canceled by statement_timeout');
SELECT cmp_ok((SELECT secs FROM timed WHERE label = 'ks'), '<', 2::float8, 'ks_test: canceled within 2 s (sorting both took about 3 s unchecked)');

-- train over 100 000 names: the duplicate check is O(n log n); either the timeout or
-- the unknown-symbol ERROR, well within 3 s (it took 39 s)
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('train', $$SELECT stockml.train('tap_wide', (SELECT array_agg('W' || i) FROM generate_series(1, 100000) i))$$);
RESET statement_timeout;
SELECT ok((SELECT state IN ('57014', '42704') FROM timed WHERE label = 'train'),
          'train over 100 000 names: timeout or unknown symbol, got ' || (SELECT state || ' ' || left(message, 60) FROM timed WHERE label = 'train'));
SELECT cmp_ok((SELECT secs FROM timed WHERE label = 'train'), '<', 3::float8, 'train over 100 000 names: done within 3 s');

-- duplicates are dropped, keeping the order given (the unknown-symbol ERROR lists each once)
SELECT throws_ok($$SELECT stockml.train('tap_dup', ARRAY['ZZB', 'ZZA', 'ZZB', 'ZZA'])$$,
                 '42704', 'unknown symbol: ZZA, ZZB', 'duplicates are listed once');

-- privilege first: a role that may not train gets that ERROR at once, whatever it passes
CREATE ROLE tap_nobody;
GRANT USAGE ON SCHEMA stockml TO tap_nobody;
GRANT INSERT ON timed TO tap_nobody;
SET LOCAL ROLE tap_nobody;
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('nobody', $$SELECT stockml.train('tap_wide', (SELECT array_agg('W' || i) FROM generate_series(1, 100000) i))$$);
RESET statement_timeout;
RESET ROLE;
SELECT is((SELECT state || ' ' || message FROM timed WHERE label = 'nobody'),
          '42501 permission denied to train models', 'a role outside stockml_admin may not train');
SELECT cmp_ok((SELECT secs FROM timed WHERE label = 'nobody'), '<', 1::float8, 'and is told before its symbols are read');

-- settings that reach an HTTP request refuse CR, LF and other control characters
SELECT throws_ok($$SET stockml.user_agent = E'Mozilla/5.0\r\nX-Injected: 1'$$, '22023',
                 'setting contains control character 0x0d at byte 12', 'user_agent refuses CR LF');
SELECT throws_ok($$SELECT set_config('stockml.user_agent', E'a\nb', true)$$, '22023', NULL,
                 'user_agent refuses LF through set_config');
SELECT throws_ok($$SET stockml.user_agent = E'a\tb'$$, '22023', NULL, 'user_agent refuses a tab');
SELECT throws_ok($$SET stockml.yahoo_url = E'http://127.0.0.1/\r\nHost: evil'$$, '22023', NULL,
                 'yahoo_url refuses CR LF');
SELECT throws_ok($$SET stockml.stooq_url = E'http://127.0.0.1/\n'$$, '22023', NULL, 'stooq_url refuses LF');
SELECT lives_ok($$SET LOCAL stockml.user_agent = 'stockml-test/1.0 (+https://example.org)'$$,
                'a printable user_agent is accepted');

-- horizons: train() refuses 0, negative and huge ones; the table has the same bound
SELECT throws_ok($$SELECT stockml.train('tap_h', ARRAY['ZZA'], horizon => 0)$$, '22023',
                 'horizon must be between 1 and 10000 bars, not 0', 'horizon 0 is refused');
SELECT throws_ok($$SELECT stockml.train('tap_h', ARRAY['ZZA'], horizon => 2147483647)$$, '22023',
                 'horizon must be between 1 and 10000 bars, not 2147483647', 'horizon 2^31-1 is refused');
SELECT is((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'models_horizon_range'),
          'CHECK (((horizon >= 1) AND (horizon <= 10000)))', 'models.horizon is checked 1..10000');

-- model blobs: fit() never returns one its decoder refuses; the decoder refuses one
-- whose arithmetic overflows although each value is finite (scale 1e-300 under a
-- coefficient of 1e300, with a valid checksum); predictions are finite
\ir include/blob.sql
-- a one-feature ridge blob: mean at byte 20, scale 28, alpha 36, intercept 44, coef 52, crc 60
CREATE FUNCTION pg_temp.blob(mean float8, scale float8, intercept float8, coef float8) RETURNS bytea LANGUAGE sql AS $$
    WITH b AS (SELECT substr(stockml.fit('ridge', '{{1},{2},{3}}', '{3,5,7}', '{"alpha": 0}'), 1, 20)
                      || pg_temp.le(float8send(mean)) || pg_temp.le(float8send(scale))
                      || pg_temp.le(float8send(0)) || pg_temp.le(float8send(intercept))
                      || pg_temp.le(float8send(coef)) AS v)
    SELECT v || pg_temp.le(int4send(pg_temp.crc32c(v)::bit(32)::int4)) FROM b
$$;
-- the float8 stored little-endian at byte offset off of a blob, decoded from its IEEE 754
-- bits (normal numbers; exact: a 53-bit significand times a power of two)
CREATE FUNCTION pg_temp.f8(b bytea, off integer) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    WITH v AS (SELECT ('x' || encode(pg_temp.le(substr(b, off + 1, 8)), 'hex'))::bit(64) AS bits)
    SELECT CASE WHEN substring(bits FROM 1 FOR 1) = B'1' THEN -1 ELSE 1 END
           * (1 + substring(bits FROM 13 FOR 52)::bit(52)::bigint / 4503599627370496.0::float8)
           * power(2::float8, substring(bits FROM 2 FOR 11)::bit(11)::integer - 1023)
      FROM v
$$;
-- the values come from fit()'s own blob (their last bits depend on the BLAS kernel of the
-- CPU), the layout and the CRC-32C from this test
SELECT is(pg_temp.f8(f, 20), 2::float8, 'the test reads the mean where fit() wrote it')
  FROM stockml.fit('ridge', '{{1},{2},{3}}', '{3,5,7}', '{"alpha": 0}') f;
SELECT is(pg_temp.blob(pg_temp.f8(f, 20), pg_temp.f8(f, 28), pg_temp.f8(f, 44), pg_temp.f8(f, 52)), f,
          'the test builds blobs byte for byte as fit() does (checksum included)')
  FROM stockml.fit('ridge', '{{1},{2},{3}}', '{3,5,7}', '{"alpha": 0}') f;
SELECT throws_ok($$SELECT stockml.model_predict(pg_temp.blob(0, 1e-300, 0, 1e300), '{1}')$$, 'XX001',
                 'invalid stockml model', 'a blob with scale 1e-300 under coefficient 1e300 is refused at decode');
SELECT throws_ok($$SELECT stockml.model_describe(pg_temp.blob(1e300, 1, 0, 1e10))$$, 'XX001',
                 'invalid stockml model', 'a blob whose prediction at x = 0 overflows is refused');
SELECT is(stockml.model_predict(pg_temp.blob(0, 1, 0, 1e300), '{1}'), 1e300::float8,
          'a large but finite model decodes and predicts');
SELECT throws_ok($$SELECT stockml.model_predict(pg_temp.blob(0, 1, 0, 1e300), '{1e10}')$$, '22003',
                 'the model predicts Infinity for this x', 'a prediction that overflows is an ERROR, not Infinity');
SELECT throws_ok($$SELECT stockml.fit('ridge', '{{1e-300},{2e-300},{3e-300}}', '{1e300,2e300,3e300}', '{"alpha": 0}')$$,
                 '22003', 'fitting gave coefficients that are not finite numbers',
                 'fit() refuses to return a model whose coefficients overflow');
SELECT lives_ok($$SELECT stockml.model_describe(stockml.fit('ridge', '{{1},{2},{3}}', '{1e308,-1e308,1e308}', '{"alpha": 0}'))$$,
                'what fit() returns on extreme but finite targets decodes');
SELECT lives_ok($$SELECT stockml.model_describe(stockml.fit('elastic_net', '{{1},{2},{3}}', '{1e308,-1e308,1e308}'))$$,
                'elastic net too');

-- messages and stored text stay valid UTF-8 when cut: a rejection reason quotes 20
-- bytes of a cell, a feature-spec error at most 511 bytes; 'a' || é... puts a
-- two-byte character across either cut
CREATE FUNCTION pg_temp.valid(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM convert_to(t, 'UTF8');
    RETURN true;
EXCEPTION WHEN character_not_in_repertoire THEN
    RETURN false;
END
$$;
CREATE FUNCTION pg_temp.spec_error(indicator text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stockml.features_spec('TAPENC', jsonb_build_object('features',
        jsonb_build_array(jsonb_build_object('name', 'x', 'indicator', indicator))));
    RETURN NULL;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN SQLERRM;
END
$$;
CREATE TEMP TABLE enc AS
SELECT r.id, r.error FROM stockml.ingest_csv('TAPENC', E'Date,Open,High,Low,Close,Volume\n2024-01-02,a'
                                              || repeat('é', 10) || E',11,9,10,1\n') r;
SELECT is((SELECT error FROM enc), 'all 1 rejected: line 2: open "aééééééééé" is not a number',
          'a rejection reason cuts a quoted cell on a character boundary');
SELECT ok((SELECT pg_temp.valid(l.error) FROM stockml.ingest_log l JOIN enc USING (id)),
          'and ingest_log stores it as valid UTF-8');
SELECT ok(pg_temp.valid(pg_temp.spec_error(repeat('é', 300))) AND pg_temp.valid(pg_temp.spec_error('a' || repeat('é', 300))),
          'a feature-spec error cut at 511 bytes is valid UTF-8 whichever byte the cut falls on');
SELECT ok(right(pg_temp.spec_error(repeat('é', 300)), 1) = 'é' AND right(pg_temp.spec_error('a' || repeat('é', 300)), 1) = 'é',
          'and ends on a whole character');
SELECT cmp_ok(octet_length(pg_temp.spec_error('a' || repeat('é', 300))), '>', 500, 'the cut keeps the message long');

SELECT * FROM finish();
ROLLBACK;

-- The drift null's statistics (issue 15 item 6): train() computes each window's KS,
-- Wasserstein, PSI, KL and Jensen-Shannon against one reference sorted once, in one merge
-- (src/drift.c: DriftStatisticsExcluding, or DriftStatisticsOfPool over every training value
-- sorted once).  They must be the statistics drift_test() and
-- ks_test() ... compute (checked against scipy in test/reference/drift.py), to the bit:
-- stockml._drift_walk_check computes both ways over seeded samples of every shape the
-- features give (continuous, ties, few distinct values, constant, NaN and NULL elements,
-- wide and tiny spans) and windows of every kind (nothing left out, part, all).
BEGIN;
SELECT plan(9);

-- 48 seeded cases: a reference of 50..1200 values, a current sample of 5..300 values (of
-- 1200..4000 in the last 8, whose windows the drift null sorts by their bits, a radix sort,
-- where the others are sorted by comparisons), 12 windows each, both samples drawn from the
-- same shape
SELECT setseed(0.15);
CREATE TEMP TABLE cases AS
SELECT c, shape, (50 + random() * 1150)::integer AS nref,
       CASE WHEN c > 40 THEN 1200 + random() * 2800 ELSE 5 + random() * 295 END::integer AS ncur
  FROM generate_series(1, 48) c,
       LATERAL (SELECT (ARRAY['normal', 'ties', 'discrete', 'constant', 'holes', 'wide', 'shifted', 'tiny'])[1 + c % 8]) s(shape);
CREATE FUNCTION pg_temp.draw(shape text, n integer, shift float8) RETURNS float8[] LANGUAGE sql AS $$
    SELECT array_agg(CASE shape
        WHEN 'normal'   THEN shift + z
        WHEN 'ties'     THEN round((shift + z) * 8) / 8
        WHEN 'discrete' THEN floor(u * 12)
        WHEN 'constant' THEN 0.02
        WHEN 'holes'    THEN CASE WHEN u < 0.1 THEN NULL WHEN u < 0.15 THEN 'NaN' WHEN u < 0.18 THEN 'Infinity' ELSE z END
        WHEN 'wide'     THEN (shift + z) * 1e150
        WHEN 'shifted'  THEN 3 * shift + z * (1 + shift)
        WHEN 'tiny'     THEN 1 + (shift + z) * 1e-12 END)
      FROM (SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z, random() AS u
              FROM generate_series(1, n)) g
$$;
CREATE TEMP TABLE samples AS
SELECT c, shape, nref, ncur, pg_temp.draw(shape, nref, 0) AS ref, pg_temp.draw(shape, ncur, 0.3) AS cur
  FROM cases;
CREATE TEMP TABLE windows AS
SELECT s.c, w,
       -- current samples of varying size: a slice of cur
       1 + (random() * ncur / 3)::integer AS cur_from, ncur - (random() * ncur / 3)::integer AS cur_to,
       -- left out of the reference: nothing, the first rows, a block, the last rows or all
       CASE w % 6 WHEN 0 THEN 1 WHEN 1 THEN 1 WHEN 5 THEN 1 ELSE 1 + (random() * nref * 0.8)::integer END AS ef,
       CASE w % 6 WHEN 0 THEN 0 WHEN 1 THEN (random() * nref / 4)::integer WHEN 5 THEN nref
                  WHEN 4 THEN nref ELSE 0 END AS et_kind
  FROM samples s, generate_series(1, 12) w;
UPDATE windows SET et_kind = CASE WHEN w % 6 IN (2, 3) THEN ef + (random() * 200)::integer ELSE et_kind END;
CREATE TEMP TABLE checked AS
SELECT s.c, s.shape, t.*
  FROM samples s
 CROSS JOIN LATERAL stockml._drift_walk_check(
           s.ref, s.cur,
           (SELECT array_agg(w.cur_from ORDER BY w.w) FROM windows w WHERE w.c = s.c),
           (SELECT array_agg(w.cur_to ORDER BY w.w) FROM windows w WHERE w.c = s.c),
           (SELECT array_agg(w.ef ORDER BY w.w) FROM windows w WHERE w.c = s.c),
           (SELECT array_agg(w.et_kind ORDER BY w.w) FROM windows w WHERE w.c = s.c)) t
;

SELECT is((SELECT count(*) FROM checked), 48 * 12 * 5::bigint, 'every window and statistic of the 48 cases checked');
SELECT cmp_ok((SELECT count(*) FROM windows WHERE cur_to - cur_from >= 400), '>=', 8 * 12::bigint,
              '... of which 96 windows have more than 400 current values (sorted by their bits)');
SELECT is((SELECT count(*) FROM checked WHERE walked::text IS DISTINCT FROM gathered::text), 0::bigint,
          'the walk over the reference sorted once gives the statistics of the gathered samples to the bit');
SELECT is((SELECT count(*) FROM checked WHERE pooled::text IS DISTINCT FROM gathered::text), 0::bigint,
          '... and so does the walk over all values sorted once (a pool)');
SELECT cmp_ok((SELECT count(*) FROM checked WHERE walked IS NOT NULL AND shape IN ('normal', 'ties', 'shifted', 'holes', 'tiny')),
              '>', 1000::bigint, '... with many windows the walk computes itself (more than 20 distinct values)');
SELECT cmp_ok((SELECT count(*) FROM checked WHERE walked IS NOT NULL AND shape IN ('discrete', 'constant')),
              '>', 100::bigint, '... and many it hands to DriftStatistics (at most 20 distinct values)');
SELECT is((SELECT count(*) FROM checked WHERE walked IS NULL), (SELECT count(*) FROM checked WHERE gathered IS NULL),
          'a window that leaves nothing of the reference has no statistic either way');
SELECT cmp_ok((SELECT count(*) FROM checked WHERE walked IS NULL), '>', 0::bigint, '... and there are such windows');

-- the same errors: samples spanning more than float8 holds
SELECT throws_ok($$SELECT * FROM stockml._drift_walk_check(ARRAY(SELECT g * 1e306 FROM generate_series(-100, 100) g)::float8[],
                                                          ARRAY[1, 2, 3]::float8[], '{1}', '{3}', '{1}', '{0}')$$,
                 '22003', NULL, 'samples too wide for float8 are the same ERROR as drift_test''s');
SELECT * FROM finish();
ROLLBACK;

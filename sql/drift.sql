-- Drift statistics against scipy and a reimplementation of Evidently's binning
-- (test/reference/drift.py wrote test/reference/drift_cases.csv).
CREATE TEMP TABLE drift_cases (
    name text, ref float8[], ref_n int, ref_a bigint, ref_shift float8,
    cur float8[], cur_n int, cur_a bigint, cur_shift float8, path text,
    ks_statistic float8, ks_p_value float8, wasserstein float8,
    psi float8, kl_div float8, jensen_shannon float8);
\copy drift_cases FROM 'test/reference/drift_cases.csv' CSV HEADER
-- the drift.py generator: element i = frac(i a / 2^32) + frac(i b / 2^32) + shift
CREATE FUNCTION pg_temp.weyl(n int, a bigint, shift float8) RETURNS float8[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(((i * a) % 4294967296)::float8 / 4294967296
                   + ((i * ((a * 69069 + 1) % 4294967296)) % 4294967296)::float8 / 4294967296
                   + shift ORDER BY i)
    FROM generate_series(1::bigint, n) i $$;
UPDATE drift_cases SET ref = pg_temp.weyl(ref_n, ref_a, ref_shift) WHERE ref IS NULL;
UPDATE drift_cases SET cur = pg_temp.weyl(cur_n, cur_a, cur_shift) WHERE cur IS NULL;
-- true when got matches want within a relative 1e-9 (absolute 1e-300 near 0)
CREATE FUNCTION pg_temp.near(got float8, want float8) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT abs(got - want) <= 1e-9 * abs(want) + 1e-300 $$;
CREATE TEMP TABLE drift_got AS
SELECT c.*, k.statistic AS got_ks, k.p_value AS got_p,
       stockml.wasserstein(ref, cur) AS got_w, stockml.psi(ref, cur) AS got_psi,
       stockml.kl_div(ref, cur) AS got_kl, stockml.jensen_shannon(ref, cur) AS got_js
  FROM drift_cases c, stockml.ks_test(ref, cur) k;

-- one line per case: which statistics disagree with the reference
SELECT name, cardinality(ref) AS n_ref, cardinality(cur) AS n_cur, path,
       concat_ws(' ',
         CASE WHEN NOT pg_temp.near(got_ks, ks_statistic) THEN 'ks' END,
         CASE WHEN NOT pg_temp.near(got_p, ks_p_value) THEN 'p' END,
         CASE WHEN NOT pg_temp.near(got_w, wasserstein) THEN 'wasserstein' END,
         CASE WHEN NOT pg_temp.near(got_psi, psi) THEN 'psi' END,
         CASE WHEN NOT pg_temp.near(got_kl, kl_div) THEN 'kl' END,
         CASE WHEN NOT pg_temp.near(got_js, jensen_shannon) THEN 'js' END) AS mismatches
  FROM drift_got ORDER BY name;
-- per statistic: cases compared, mismatches, and whether the worst relative error is below 1e-9
SELECT stat, count(*) AS cases, count(*) FILTER (WHERE rel > 1e-9) AS mismatches,
       max(rel) <= 1e-9 AS max_rel_error_below_1e_9
  FROM (SELECT s.stat, CASE WHEN s.got = s.want THEN 0 ELSE abs(s.got - s.want) / greatest(abs(s.want), 1e-300) END AS rel
          FROM drift_got g,
               LATERAL (VALUES ('ks_statistic', got_ks, ks_statistic), ('p_value', got_p, ks_p_value),
                               ('wasserstein', got_w, wasserstein), ('psi', got_psi, psi),
                               ('kl_div', got_kl, kl_div), ('jensen_shannon', got_js, jensen_shannon))
                       s(stat, got, want)) e
 GROUP BY stat ORDER BY stat;
-- a few values, rounded, for a human reader
SELECT name, round(got_ks::numeric, 4) AS statistic, to_char(got_p, '9.999EEEE') AS p_value,
       round(got_w::numeric, 4) AS wasserstein, round(got_psi::numeric, 4) AS psi
  FROM drift_got WHERE name IN ('tiny', 'constant reference', 'ties, 6 levels', 'normal 200/150 shift 0.5')
 ORDER BY name;

-- NULL, NaN and infinities are dropped; order does not matter
SELECT * FROM stockml.ks_test('{5,NULL,4,3,NaN,2,1,Infinity}', '{8,7,-Infinity,6,5,4,3}');
SELECT stockml.wasserstein('{1,2,3}', '{1,2,3}') AS same, stockml.wasserstein('{0,0,0}', '{1}') AS constant_ref;
SELECT stockml.psi('{1,1,2,2}', '{1,2,2,2}') = stockml.psi('{2,1,NULL,2,1}', '{2,2,1,2}') AS psi_same;
-- multi-dimensional arrays are flattened
SELECT * FROM stockml.ks_test('{{1,2},{3,4}}', '{1,2,3,4}');
-- drift_test: Evidently's default choice and thresholds
SELECT method, round(statistic::numeric, 4) AS statistic, round(p_value::numeric, 4) AS p_value, threshold, drifted
  FROM stockml.drift_test((SELECT ref FROM drift_cases WHERE name = 'normal 200/150 shift 0.5'),
                          (SELECT cur FROM drift_cases WHERE name = 'normal 200/150 shift 0.5'));
SELECT method, round(statistic::numeric, 4) AS statistic, p_value, threshold, drifted
  FROM stockml.drift_test((SELECT ref FROM drift_cases WHERE name = 'exact 10000/9999'),
                          (SELECT cur FROM drift_cases WHERE name = 'exact 10000/9999'));
SELECT m, (stockml.drift_test('{1,2,3,4,5,6}', '{4,5,6,7,8,9}', m)).drifted
  FROM unnest(ARRAY['ks', 'wasserstein', 'psi', 'kl_div', 'jensen_shannon']) m;
SELECT (stockml.drift_test('{1,2,3}', '{2,3,4}', 'ks', 0.9)).drifted AS strict_threshold;

-- errors
SELECT * FROM stockml.ks_test('{}', '{1}');
SELECT stockml.wasserstein('{1,2}', '{NULL,NaN,Infinity}');
SELECT stockml.psi('{1}', '{}');
SELECT * FROM stockml.drift_test('{1,2}', '{1,2}', 'chi2');
SELECT * FROM stockml.drift_test('{1,2}', '{1,2}', 'ks', -1);
SELECT stockml.ks_test(NULL, '{1}') IS NULL AS strict;
-- finite values too far apart for float8 arithmetic: an ERROR, never "no drift"
SELECT stockml.wasserstein('{-1.7e308,1.7e308}', '{1,2,3}');
SELECT stockml.wasserstein('{-1e200,1e200,0}', '{1,2,3}');
SELECT stockml.psi(ARRAY[-1.7e308, 1.7e308] || array_agg(i::float8), '{1,2,3}') FROM generate_series(1, 30) i;
-- KS only compares ranks, so it still answers
SELECT statistic FROM stockml.ks_test('{-1.7e308,1.7e308}', '{1,2,3}');

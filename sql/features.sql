-- Feature sets and features(): the default set on MSFT against the independent
-- reference of test/reference/indicators.py, the warm-up boundary, start/end
-- filters that keep the warm-up, horizons, instruments without volume, spec
-- validation when stored, and errors.
\set msft `cat data/MSFT.csv`
SELECT status, rows_inserted FROM stockml.ingest_csv('MSFT', :'msft');

SELECT name, stockml.feature_spec_warmup(spec) AS warmup,
       array_length(stockml.feature_names(spec), 1) AS n, stockml.feature_names(spec)
  FROM stockml.feature_sets ORDER BY name;

CREATE TEMP TABLE ref (day date, ret_1 float8, ret_2 float8, ret_5 float8, ret_20 float8,
    mom_10 float8, vol_5 float8, vol_20 float8, rsi_14 float8, macd float8, macd_signal float8,
    bb_pctb_20 float8, atr_14 float8, sma_ratio_10 float8, sma_ratio_50 float8,
    volume_z_20 float8, range float8, y float8);
\copy ref FROM 'test/reference/msft_features.csv' WITH (FORMAT csv, HEADER true)
CREATE TEMP TABLE f AS SELECT * FROM stockml.features('MSFT');

-- rows: 249 bars - 49 warm-up bars = 200, from the 50th bar; y NULL only at the last
SELECT count(*) AS rows, min(day) AS first_day, max(day) AS last_day,
       count(*) FILTER (WHERE y IS NULL) AS y_null, min(array_length(x, 1)) AS width,
       (SELECT day FROM stockml.prices WHERE symbol = 'MSFT' ORDER BY day OFFSET 49 LIMIT 1) AS bar_50
  FROM f;
SELECT count(*) AS rows_in_both, (SELECT count(*) FROM ref) AS ref_rows FROM f JOIN ref USING (day);

-- feature by feature: mismatches beyond 1e-10 relative, and whether the worst is < 1e-12
SELECT n.name, count(*) AS rows,
       count(*) FILTER (WHERE abs(v.g - v.r) > 1e-10 * greatest(1, abs(v.r)) OR v.g IS NULL OR v.r IS NULL) AS mismatches,
       max(abs(v.g - v.r) / greatest(1, abs(v.r))) < 1e-12 AS max_rel_err_lt_1e12
  FROM f JOIN ref USING (day)
 CROSS JOIN LATERAL unnest((SELECT stockml.feature_names(spec) FROM stockml.feature_sets WHERE name = 'default'))
       WITH ORDINALITY n(name, j)
 CROSS JOIN LATERAL (SELECT f.x[n.j] AS g, (to_jsonb(ref) ->> n.name)::float8 AS r) v
 GROUP BY n.name, n.j ORDER BY n.j;
SELECT count(*) FILTER (WHERE abs(f.y - ref.y) > 1e-12 * abs(ref.y) OR (f.y IS NULL) <> (ref.y IS NULL)) AS y_mismatches
  FROM f JOIN ref USING (day);
SELECT day, close, round(y::numeric, 10) AS y, round(x[1]::numeric, 10) AS ret_1, round(x[16]::numeric, 10) AS range
  FROM f ORDER BY day DESC LIMIT 2;

-- start_day / end_day filter the output only: the warm-up still reads earlier bars
SELECT count(*) AS rows, min(day), max(day),
       count(*) FILTER (WHERE s.x IS DISTINCT FROM f.x OR s.y IS DISTINCT FROM f.y) AS differ_from_full_run
  FROM stockml.features('MSFT', '2001-03-01', '2001-06-29') s JOIN f USING (day);
SELECT count(*) AS rows, min(day) FROM stockml.features('MSFT', start_day => '2000-01-01');
SELECT count(*) AS rows FROM stockml.features('MSFT', '2001-06-01', '2001-05-01');
SELECT count(*) AS rows, count(y) AS with_y FROM stockml.features('MSFT', end_day => '2001-09-26');

-- horizon counts stored bars: y = ln(close 5 bars later / close), NULL for the last 5
SELECT count(*) AS rows, count(y) AS with_y,
       count(*) FILTER (WHERE abs(h.y - ln(n.c5 / h.close)) > 1e-12) AS y_mismatches
  FROM stockml.features('MSFT', horizon => 5) h
  JOIN (SELECT day, lead(close, 5) OVER (ORDER BY day) AS c5 FROM stockml.prices WHERE symbol = 'MSFT') n USING (day);

-- an explicit spec gives the same numbers as the window aggregates
CREATE TEMP TABLE spec AS SELECT '{"features": [
    {"name": "z", "indicator": "zscore", "n": 10},
    {"name": "r", "indicator": "rsi", "n": 5},
    {"name": "m", "indicator": "macd_signal", "fast": 5, "slow": 10, "signal": 4},
    {"name": "a", "indicator": "atr", "n": 7},
    {"name": "e", "indicator": "ema_ratio", "n": 8},
    {"name": "b", "indicator": "bb_pctb", "n": 10, "k": 1.5},
    {"name": "v", "indicator": "volatility", "n": 3}]}'::jsonb AS spec;
SELECT stockml.feature_spec_warmup(spec), stockml.feature_names(spec) FROM spec;
SELECT count(*) AS rows, min(day) AS first_day,
       count(*) FILTER (WHERE abs(s.x[1] - w.z) > 1e-12 OR abs(s.x[2] - w.r / 100) > 1e-12
                           OR abs(s.x[3] - w.m / s.close) > 1e-12 OR abs(s.x[4] - w.a / s.close) > 1e-12
                           OR abs(s.x[5] - (s.close / w.e - 1)) > 1e-12 OR abs(s.x[6] - w.b) > 1e-12
                           OR abs(s.x[7] - w.v) > 1e-12
                           OR num_nulls(w.z, w.r, w.m, w.a, w.e, w.b, w.v) > 0) AS differ_from_aggregates
  FROM stockml.features_spec('MSFT', (SELECT spec FROM spec)) s
  JOIN (SELECT day, stockml.zscore(close, 10) OVER w AS z, stockml.rsi(close, 5) OVER w AS r,
               stockml.macd_signal(close, 5, 10, 4) OVER w AS m, stockml.atr(high, low, close, 7) OVER w AS a,
               stockml.ema(close, 8) OVER w AS e, stockml.bb_pctb(close, 10, 1.5) OVER w AS b,
               stockml.rolling_std(lr, 3) OVER w AS v
          FROM (SELECT *, stockml.log_return(close) OVER (ORDER BY day) AS lr
                  FROM stockml.prices WHERE symbol = 'MSFT') p
        WINDOW w AS (ORDER BY day)) w USING (day);

-- an index without volume (NULL and 0) still gets rows; its volume z-score is 0
INSERT INTO stockml.symbols (symbol) VALUES ('^IDX');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT '^IDX', d::date, c, c * 1.01, c * 0.99, c, CASE WHEN i % 2 = 0 THEN 0 END
  FROM generate_series(1, 60) i, LATERAL (SELECT '2024-01-01'::date + i AS d, 100 + 5 * sin(i / 3.0) AS c) v;
SELECT count(*) AS rows, min(day), count(*) FILTER (WHERE x[15] <> 0) AS nonzero_volume_z,
       count(*) FILTER (WHERE abs(x[16] - 0.02) > 1e-12) AS range_not_2pct
  FROM stockml.features('^IDX');
-- fewer bars than the warm-up: no rows
SELECT count(*) AS rows FROM stockml.features('^IDX', feature_set => 'default', end_day => '2024-02-18');
DELETE FROM stockml.prices WHERE symbol = '^IDX' AND day > '2024-02-15';
SELECT count(*) AS rows FROM stockml.features('^IDX');

-- user feature sets are checked when stored
INSERT INTO stockml.feature_sets (name, spec, description)
SELECT 'short', spec, 'a test set' FROM spec;
SELECT count(*) AS rows, min(day) FROM stockml.features('MSFT', feature_set => 'short');
\set VERBOSITY default
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "rsx"}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "rsi", "window": 3}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "rsi", "n": 0}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "rsi", "n": 2.5}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "rsi", "n": "14"}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "sma_ratio"}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "range", "n": 3}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "macd", "fast": 30}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "range"}, {"name": "a", "indicator": "rsi"}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"indicator": "rsi"}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "A b", "indicator": "rsi"}]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": []}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [1]}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '[{"name": "a", "indicator": "rsi"}]');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"feature": []}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"description": "no features"}');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{"features": [{"name": "a", "indicator": "range"}], "horizon": 5}');
UPDATE stockml.feature_sets SET spec = '{"features": [{"name": "a", "indicator": "bb_pctb", "k": -1}]}' WHERE name = 'short';
INSERT INTO stockml.feature_sets (name, spec)
SELECT 'huge', jsonb_build_object('features', jsonb_agg(jsonb_build_object('name', 'z' || i, 'indicator', 'zscore', 'n', 100000)))
  FROM generate_series(1, 30) i;
SELECT name FROM stockml.feature_sets ORDER BY name;

-- the bars are read by an index scan when the user may read the whole table; otherwise
-- through a query, which applies column privileges and row-level security
CREATE ROLE regress_stockml_features;
GRANT USAGE ON SCHEMA stockml TO regress_stockml_features;
GRANT SELECT ON stockml.feature_sets, stockml.symbols, f TO regress_stockml_features;
GRANT SELECT (symbol, day, high, low, close, volume) ON stockml.prices TO regress_stockml_features;
SET ROLE regress_stockml_features;
SELECT count(*) AS rows, count(*) FILTER (WHERE c.x IS DISTINCT FROM f.x OR c.y IS DISTINCT FROM f.y) AS differ
  FROM stockml.features('MSFT') c JOIN f USING (day);
RESET ROLE;
CREATE POLICY regress_first_half ON stockml.prices TO regress_stockml_features USING (day < '2001-03-01');
ALTER TABLE stockml.prices ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON stockml.prices TO regress_stockml_features;
SET ROLE regress_stockml_features;
SELECT count(*) AS rows, max(day), count(*) FILTER (WHERE c.x IS DISTINCT FROM f.x) AS x_differ,
       count(*) FILTER (WHERE c.y IS NULL) AS y_null
  FROM stockml.features('MSFT') c JOIN f USING (day);
RESET ROLE;
ALTER TABLE stockml.prices DISABLE ROW LEVEL SECURITY;
DROP POLICY regress_first_half ON stockml.prices;
REVOKE SELECT ON stockml.prices FROM regress_stockml_features;
SET ROLE regress_stockml_features;
SELECT count(*) FROM stockml.features('MSFT');
RESET ROLE;
REVOKE ALL ON stockml.feature_sets, stockml.symbols, f FROM regress_stockml_features;
REVOKE USAGE ON SCHEMA stockml FROM regress_stockml_features;
DROP ROLE regress_stockml_features;

-- errors
SELECT * FROM stockml.features('MSFT', feature_set => 'nope');
SELECT * FROM stockml.features('NOPE');
SELECT * FROM stockml.features('bad symbol');
SELECT * FROM stockml.features('MSFT', horizon => 0);
SELECT * FROM stockml.features('MSFT', horizon => NULL);
SELECT * FROM stockml.features(NULL);
SELECT * FROM stockml.features_spec('MSFT', NULL);
SELECT * FROM stockml.features_spec('MSFT', '{"features": [{"name": "a", "indicator": "sma"}]}');
SELECT stockml.feature_names('{"features": [{"name": "a", "indicator": "ema_ratio", "n": 0}]}');

-- declarations
SELECT p.oid::regprocedure, p.provolatile, p.proisstrict, p.proparallel, p.proretset
  FROM pg_proc p WHERE p.pronamespace = 'stockml'::regnamespace
   AND p.proname IN ('features', 'features_spec', 'feature_names', 'feature_spec_check', 'feature_spec_warmup')
 ORDER BY 1::text;

DELETE FROM stockml.feature_sets WHERE name <> 'default';
DELETE FROM stockml.symbols WHERE symbol IN ('MSFT', '^IDX');
DELETE FROM stockml.ingest_log WHERE symbol = 'MSFT';

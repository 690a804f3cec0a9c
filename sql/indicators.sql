-- Indicator window aggregates: MSFT against the independent reference of
-- test/reference/indicators.py, hand-made edge cases, NULLs, gaps, two symbols
-- in one query, numerical drift over 100 000 rows, errors and declarations.
\set msft `cat data/MSFT.csv`
SELECT status, rows_inserted FROM stockml.ingest_csv('MSFT', :'msft');

CREATE TEMP TABLE ref (day date, sma_20 float8, ema_20 float8, rsi_14 float8, macd float8,
    macd_signal float8, bb_pctb float8, atr_14 float8, rolling_std_20 float8, zscore_20 float8,
    log_return_1 float8, log_return_5 float8, momentum_10 float8, ema_5 float8, rsi_5 float8,
    bb_pctb_10_1_5 float8, atr_5 float8, macd_5_10 float8, macd_signal_5_10_4 float8);
\copy ref FROM 'test/reference/msft_indicators.csv' WITH (FORMAT csv, HEADER true)

CREATE TEMP TABLE got AS
SELECT day,
       stockml.sma(close, 20) OVER w AS sma_20,
       stockml.ema(close, 20) OVER w AS ema_20,
       stockml.rsi(close) OVER w AS rsi_14,
       stockml.macd(close) OVER w AS macd,
       stockml.macd_signal(close) OVER w AS macd_signal,
       stockml.bb_pctb(close) OVER w AS bb_pctb,
       stockml.atr(high, low, close) OVER w AS atr_14,
       stockml.rolling_std(close, 20) OVER w AS rolling_std_20,
       stockml.zscore(close, 20) OVER w AS zscore_20,
       stockml.log_return(close) OVER w AS log_return_1,
       stockml.log_return(close, 5) OVER w AS log_return_5,
       stockml.momentum(close, 10) OVER w AS momentum_10,
       stockml.ema(close, 5) OVER w AS ema_5,
       stockml.rsi(close, 5) OVER w AS rsi_5,
       stockml.bb_pctb(close, 10, 1.5) OVER w AS bb_pctb_10_1_5,
       stockml.atr(high, low, close, 5) OVER w AS atr_5,
       stockml.macd(close, 5, 10) OVER w AS macd_5_10,
       stockml.macd_signal(close, 5, 10, 4) OVER w AS macd_signal_5_10_4
  FROM stockml.prices WHERE symbol = 'MSFT'
WINDOW w AS (PARTITION BY symbol ORDER BY day);

-- per indicator: rows, first defined row (1-based) and day, rows where exactly one side
-- is NULL, rows differing by more than 1e-10 relative, and whether the worst error < 1e-12
CREATE TEMP VIEW cmp AS
SELECT v.name, row_number() OVER (PARTITION BY v.name ORDER BY got.day) AS rn, got.day, v.g, v.r
  FROM got JOIN ref USING (day),
LATERAL (VALUES ('sma_20', got.sma_20, ref.sma_20), ('ema_20', got.ema_20, ref.ema_20),
                ('rsi_14', got.rsi_14, ref.rsi_14), ('macd', got.macd, ref.macd),
                ('macd_signal', got.macd_signal, ref.macd_signal), ('bb_pctb', got.bb_pctb, ref.bb_pctb),
                ('atr_14', got.atr_14, ref.atr_14), ('rolling_std_20', got.rolling_std_20, ref.rolling_std_20),
                ('zscore_20', got.zscore_20, ref.zscore_20), ('log_return_1', got.log_return_1, ref.log_return_1),
                ('log_return_5', got.log_return_5, ref.log_return_5), ('momentum_10', got.momentum_10, ref.momentum_10),
                ('ema_5', got.ema_5, ref.ema_5), ('rsi_5', got.rsi_5, ref.rsi_5),
                ('bb_pctb_10_1_5', got.bb_pctb_10_1_5, ref.bb_pctb_10_1_5), ('atr_5', got.atr_5, ref.atr_5),
                ('macd_5_10', got.macd_5_10, ref.macd_5_10),
                ('macd_signal_5_10_4', got.macd_signal_5_10_4, ref.macd_signal_5_10_4)) v(name, g, r);
SELECT name, count(*) AS rows,
       min(rn) FILTER (WHERE g IS NOT NULL) AS first_row,
       min(day) FILTER (WHERE g IS NOT NULL) AS first_day,
       count(*) FILTER (WHERE (g IS NULL) <> (r IS NULL)) AS null_mismatches,
       count(*) FILTER (WHERE abs(g - r) > 1e-10 * greatest(1, abs(r))) AS mismatches,
       coalesce(max(abs(g - r) / greatest(1, abs(r))), 0) < 1e-12 AS max_rel_err_lt_1e12
  FROM cmp GROUP BY name ORDER BY name;

-- as plain ordered aggregates: the value at the last row
SELECT count(*) FILTER (WHERE abs(a.v - g.v) > 1e-12 * abs(g.v)) AS last_row_mismatches, count(*) AS checked
  FROM (SELECT stockml.sma(close, 20 ORDER BY day) AS sma_20, stockml.ema(close, 20 ORDER BY day) AS ema_20,
               stockml.rsi(close, 14 ORDER BY day) AS rsi_14, stockml.macd(close ORDER BY day) AS macd,
               stockml.macd_signal(close, 12, 26, 9 ORDER BY day) AS macd_signal,
               stockml.bb_pctb(close, 20, 2 ORDER BY day) AS bb_pctb,
               stockml.atr(high, low, close, 14 ORDER BY day) AS atr_14,
               stockml.rolling_std(close, 20 ORDER BY day) AS rolling_std_20,
               stockml.zscore(close, 20 ORDER BY day) AS zscore_20,
               stockml.log_return(close, 5 ORDER BY day) AS log_return_5,
               stockml.momentum(close, 10 ORDER BY day) AS momentum_10
          FROM stockml.prices WHERE symbol = 'MSFT') p,
       (SELECT * FROM got ORDER BY day DESC LIMIT 1) l,
LATERAL (VALUES (p.sma_20, l.sma_20), (p.ema_20, l.ema_20), (p.rsi_14, l.rsi_14), (p.macd, l.macd),
                (p.macd_signal, l.macd_signal), (p.bb_pctb, l.bb_pctb), (p.atr_14, l.atr_14),
                (p.rolling_std_20, l.rolling_std_20), (p.zscore_20, l.zscore_20),
                (p.log_return_5, l.log_return_5), (p.momentum_10, l.momentum_10)) a(v, w),
LATERAL (SELECT a.w AS v) g;

-- hand-made series: x = 1, 2, 4, 8 (rsi: only gains; log returns ln 2)
CREATE TEMP TABLE s (sym text, i int, x float8);
INSERT INTO s SELECT 'A', i, 2 ^ (i - 1) FROM generate_series(1, 4) i;
SELECT i, x,
       stockml.sma(x, 2) OVER w AS sma2, stockml.ema(x, 2) OVER w AS ema2,
       stockml.rsi(x, 2) OVER w AS rsi2, stockml.rolling_std(x, 2) OVER w AS sd2,
       stockml.zscore(x, 3) OVER w AS z3, stockml.bb_pctb(x, 2, 1) OVER w AS pctb2,
       round((stockml.log_return(x) OVER w / ln(2))::numeric, 12) AS lr_over_ln2,
       stockml.momentum(x, 2) OVER w AS mom2, stockml.macd(x, 1, 2) OVER w AS macd12,
       stockml.macd_signal(x, 1, 2, 2) OVER w AS sig122
  FROM s WINDOW w AS (ORDER BY i) ORDER BY i;

-- fewer rows than n: NULL everywhere, also as a plain aggregate
SELECT count(sma5) AS sma5, count(ema5) AS ema5, count(rsi4) AS rsi4, count(atr4) AS atr4,
       count(sig233) AS sig233, count(*) AS rows
  FROM (SELECT stockml.sma(x, 5) OVER w AS sma5, stockml.ema(x, 5) OVER w AS ema5,
               stockml.rsi(x, 4) OVER w AS rsi4, stockml.atr(x, x, x, 4) OVER w AS atr4,
               stockml.macd_signal(x, 2, 3, 3) OVER w AS sig233
          FROM s WINDOW w AS (ORDER BY i)) q;
SELECT stockml.sma(x, 5 ORDER BY i), stockml.rolling_std(x, 5 ORDER BY i), stockml.log_return(x, 4 ORDER BY i) FROM s;
SELECT stockml.sma(x, 2) FROM s WHERE false;

-- n = 1: sma and ema are x itself, %B has zero-width bands (0.5), rsi is 100 after a rise
SELECT count(*) FILTER (WHERE stockml_sma IS DISTINCT FROM x) AS sma1_differs,
       count(*) FILTER (WHERE stockml_ema IS DISTINCT FROM x) AS ema1_differs,
       array_agg(pctb ORDER BY i) AS pctb1, array_agg(rsi ORDER BY i) AS rsi1
  FROM (SELECT i, x, stockml.sma(x, 1) OVER w AS stockml_sma, stockml.ema(x, 1) OVER w AS stockml_ema,
               stockml.bb_pctb(x, 1) OVER w AS pctb, stockml.rsi(x, 1) OVER w AS rsi
          FROM s WINDOW w AS (ORDER BY i)) q;

-- a constant series: no division by zero (rsi 50, %B 0.5, z-score 0, sd 0, atr 0)
SELECT rsi, pctb, z, sd, atr, mom, count(*) AS rows
  FROM (SELECT i, stockml.rsi(7.1, 3) OVER w AS rsi, stockml.bb_pctb(7.1, 5) OVER w AS pctb,
               stockml.zscore(7.1, 5) OVER w AS z, stockml.rolling_std(7.1, 5) OVER w AS sd,
               stockml.atr(7.1, 7.1, 7.1, 3) OVER w AS atr, stockml.momentum(7.1, 3) OVER w AS mom
          FROM generate_series(1, 40) i WINDOW w AS (ORDER BY i)) q
 WHERE i > 5 GROUP BY 1, 2, 3, 4, 5, 6;

-- NULL inputs are missing rows: the state is unchanged and the row repeats the value
-- before it; at other rows the result equals that of the series without the NULL rows
CREATE TEMP TABLE holes AS
SELECT i, CASE WHEN i % 7 = 3 OR i BETWEEN 40 AND 44 THEN NULL ELSE 50 + 10 * sin(i / 5.0) END AS x,
       50 + 10 * sin(i / 5.0) + 1 AS h, 50 + 10 * sin(i / 5.0) - 1 AS l
  FROM generate_series(1, 120) i;
SELECT count(*) AS rows, count(*) FILTER (WHERE a.x IS NULL) AS null_rows,
       count(*) FILTER (WHERE a.x IS NOT NULL AND (a.v IS DISTINCT FROM b.v OR a.e IS DISTINCT FROM b.e
                        OR a.r IS DISTINCT FROM b.r OR a.t IS DISTINCT FROM b.t OR a.z IS DISTINCT FROM b.z)) AS differ,
       count(*) FILTER (WHERE a.x IS NULL AND a.v IS DISTINCT FROM a.prev_v) AS null_row_not_carried
  FROM (SELECT i, x, v, e, r, t, z, lag(v) OVER (ORDER BY i) AS prev_v FROM
          (SELECT i, x, stockml.sma(x, 10) OVER w AS v, stockml.ema(x, 10) OVER w AS e,
                  stockml.rsi(x, 10) OVER w AS r, stockml.atr(h, l, x, 10) OVER w AS t,
                  stockml.zscore(x, 10) OVER w AS z
             FROM holes WINDOW w AS (ORDER BY i)) q) a
  LEFT JOIN (SELECT i, stockml.sma(x, 10) OVER w AS v, stockml.ema(x, 10) OVER w AS e,
                    stockml.rsi(x, 10) OVER w AS r, stockml.atr(h, l, x, 10) OVER w AS t,
                    stockml.zscore(x, 10) OVER w AS z
               FROM holes WHERE x IS NOT NULL WINDOW w AS (ORDER BY i)) b USING (i);

-- gaps in the calendar do not matter: the indicators count rows, not days
SELECT count(*) FILTER (WHERE a.v IS DISTINCT FROM b.v) AS differ
  FROM (SELECT row_number() OVER (ORDER BY day) AS rn, stockml.ema(close, 10) OVER (ORDER BY day) AS v
          FROM stockml.prices WHERE symbol = 'MSFT' AND extract(dow FROM day) <> 3) a
  JOIN (SELECT row_number() OVER (ORDER BY n) AS rn, stockml.ema(close, 10) OVER (ORDER BY n) AS v
          FROM (SELECT row_number() OVER (ORDER BY day) AS n, close FROM stockml.prices
                 WHERE symbol = 'MSFT' AND extract(dow FROM day) <> 3) c) b USING (rn);

-- two symbols interleaved in one query: each partition is its own series
INSERT INTO s SELECT 'B', i, 100 - i * i FROM generate_series(1, 6) i;
INSERT INTO s SELECT 'A', i, 2 ^ (i - 1) FROM generate_series(5, 6) i;
SELECT sym, i, stockml.sma(x, 3) OVER w AS sma3, stockml.momentum(x, 1) OVER w AS mom1,
       abs(stockml.sma(x, 3) OVER (PARTITION BY sym ORDER BY i) -
           (SELECT avg(x) FROM s s2 WHERE s2.sym = s.sym AND s2.i BETWEEN s.i - 2 AND s.i)) < 1e-12 AS sma_ok
  FROM s WINDOW w AS (PARTITION BY sym ORDER BY i) ORDER BY i, sym;

-- as plain ordered aggregates per group: the value at each symbol's last row
SELECT sym, stockml.sma(x, 3 ORDER BY i) AS sma3, stockml.momentum(x, 1 ORDER BY i) AS mom1,
       stockml.rsi(x, 2 ORDER BY i DESC) AS rsi2_reversed
  FROM s GROUP BY sym ORDER BY sym;

-- peers (same day twice) share one value: the final function runs once per peer group
SELECT i, stockml.sma(x, 2) OVER (ORDER BY i) FROM (VALUES (1, 1.0), (2, 2.0), (2, 4.0), (3, 8.0)) v(i, x);

-- 100 000 rows around 1e6 (σ about 0.3, binary fractions so float8 and numeric hold the
-- same values): the rolling σ does not drift from an exact two-pass computation in numeric
SELECT count(*) AS rows,
       max(abs(sd - ref) / ref) < 1e-10 AS max_rel_err_lt_1e10,
       max(abs(sd - ref) / ref) FILTER (WHERE i > 99000) < 1e-10 AS last_1000_rel_err_lt_1e10
  FROM (SELECT i, stockml.rolling_std(x, 20) OVER (ORDER BY i) AS sd,
               stddev_samp(x::numeric) OVER (ORDER BY i ROWS 19 PRECEDING)::float8 AS ref
          FROM (SELECT i, 1e6 + (i * 7919 % 1000) / 1024.0 AS x
                  FROM generate_series(1, 100000) i) g) q
 WHERE i >= 20;

-- errors
\set VERBOSITY default
SELECT stockml.sma(x, 0) OVER (ORDER BY i) FROM s;
SELECT stockml.ema(x, -3) OVER (ORDER BY i) FROM s;
SELECT stockml.rsi(x, NULL) OVER (ORDER BY i) FROM s;
SELECT stockml.rolling_std(x, 1) OVER (ORDER BY i) FROM s;
SELECT stockml.zscore(x, 1) OVER (ORDER BY i) FROM s;
SELECT stockml.macd(x, 26, 12) OVER (ORDER BY i) FROM s;
SELECT stockml.bb_pctb(x, 20, 0) OVER (ORDER BY i) FROM s;
SELECT stockml.sma(x, 1000000) OVER (ORDER BY i) FROM s;
SELECT stockml.sma(x, i) OVER (ORDER BY i) FROM s WHERE sym = 'A';
SELECT stockml.sma(x, 2) OVER (ORDER BY i) FROM (VALUES (1, 1.0), (2, 'NaN')) v(i, x);
SELECT stockml.log_return(x) OVER (ORDER BY i) FROM (VALUES (1, 1.0), (2, -1.0)) v(i, x);
SELECT stockml.momentum(x, 1) OVER (ORDER BY i) FROM (VALUES (1, 0.0), (2, 1.0)) v(i, x);
SELECT stockml.sma(x, 3) OVER (ORDER BY i ROWS 2 PRECEDING) FROM s;
SELECT stockml.sma(x, 3) OVER (PARTITION BY sym) FROM s;

-- declarations: aggregates and their support functions
SELECT p.prokind, p.provolatile, p.proisstrict, p.proparallel, count(*)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'stockml'
   AND (p.prokind = 'a' OR p.proname LIKE '%\_transfn' OR p.proname = 'indicator_finalfn')
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
SELECT count(*) AS aggregates, count(*) FILTER (WHERE a.aggfinalmodify = 'r') AS read_only_final,
       count(*) FILTER (WHERE a.aggcombinefn <> 0) AS with_combine
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'stockml'::regnamespace;

DELETE FROM stockml.symbols WHERE symbol = 'MSFT';
DELETE FROM stockml.ingest_log WHERE symbol = 'MSFT';

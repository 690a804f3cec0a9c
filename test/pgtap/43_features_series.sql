-- features() computes its matrix one feature at a time over a block of rows
-- (src/feature_matrix.c, FeatureSeries and IndicatorPushSeries), the window
-- aggregates one row at a time (IndicatorPush): the same kernels, so the same
-- bits.  Over a seeded random walk of 1 500 bars (several blocks of 256 rows,
-- windows longer than a block, a stretch of constant closes where the variance
-- is exactly 0, NULL volumes), every feature of a spec of every kind equals the
-- window aggregate of the same indicator bit for bit (float8 =, exact), except
-- volume_zscore, whose SQL form takes ln(1 + v) where the C code takes
-- log1p(v); rows asked from a later start_day are the same rows; a stored
-- feature set read by features() equals features_spec() of its spec.
BEGIN;
SELECT plan(6);

SELECT setseed(0.4343);
INSERT INTO stockml.symbols (symbol) VALUES ('SERIES');
-- adj_close = close: every adjustment factor is exactly 1, so the features read the stored prices
INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close, volume)
SELECT 'SERIES', '2020-01-01'::date + i, c, c * (1 + 0.01 * u1), c * (1 - 0.01 * u2), c, c,
       CASE WHEN i % 97 = 5 THEN NULL ELSE (1e6 * (0.5 + uv))::bigint END
  FROM (SELECT i, u1, u2, uv,
               CASE WHEN i BETWEEN 600 AND 640 THEN 77.0  -- constant: zero variance
                    ELSE 100 * exp(sum(0.02 * z) OVER (ORDER BY i)) END AS c
          FROM (SELECT i, random() AS u1, random() AS u2, random() AS uv,
                       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z
                  FROM generate_series(1, 1500) i) s) w;

CREATE TEMP TABLE spec AS SELECT '{"features": [
    {"name": "lr1", "indicator": "log_return", "k": 1}, {"name": "lr300", "indicator": "log_return", "k": 300},
    {"name": "mo", "indicator": "momentum", "n": 270}, {"name": "vo", "indicator": "volatility", "n": 5},
    {"name": "vo300", "indicator": "volatility", "n": 300}, {"name": "sr", "indicator": "sma_ratio", "n": 257},
    {"name": "er", "indicator": "ema_ratio", "n": 9}, {"name": "rs", "indicator": "rsi", "n": 14},
    {"name": "ma", "indicator": "macd", "fast": 12, "slow": 26},
    {"name": "ms", "indicator": "macd_signal", "fast": 12, "slow": 26, "signal": 9},
    {"name": "bb", "indicator": "bb_pctb", "n": 20, "k": 2}, {"name": "at", "indicator": "atr", "n": 14},
    {"name": "zs", "indicator": "zscore", "n": 30}, {"name": "vz", "indicator": "volume_zscore", "n": 20},
    {"name": "ra", "indicator": "range"}]}'::jsonb AS spec;

CREATE TEMP TABLE f AS SELECT * FROM stockml.features_spec('SERIES', (SELECT spec FROM spec));
CREATE TEMP TABLE a AS
SELECT day, ARRAY[stockml.log_return(close) OVER w, stockml.log_return(close, 300) OVER w,
                  stockml.momentum(close, 270) OVER w, stockml.rolling_std(lr, 5) OVER w,
                  stockml.rolling_std(lr, 300) OVER w, close / stockml.sma(close, 257) OVER w - 1,
                  close / stockml.ema(close, 9) OVER w - 1, stockml.rsi(close, 14) OVER w / 100,
                  stockml.macd(close, 12, 26) OVER w / close, stockml.macd_signal(close, 12, 26, 9) OVER w / close,
                  stockml.bb_pctb(close, 20, 2) OVER w, stockml.atr(high, low, close, 14) OVER w / close,
                  stockml.zscore(close, 30) OVER w, stockml.zscore(ln(1 + coalesce(volume, 0)), 20) OVER w,
                  (high - low) / close] AS v
  FROM (SELECT *, stockml.log_return(close) OVER (ORDER BY day) AS lr
          FROM stockml.prices WHERE symbol = 'SERIES') p
WINDOW w AS (ORDER BY day);

SELECT is((SELECT count(*) FROM f), 1500 - 300::bigint,
          'a row from the longest warm-up on (301 bars: the 300-bar volatility)');
SELECT is((SELECT count(*) FROM f JOIN a USING (day), generate_series(1, 15) j
            WHERE j <> 14 AND f.x[j] IS DISTINCT FROM a.v[j]), 0::bigint,
          'every feature but volume_zscore = its window aggregate, bit for bit, in every row');
SELECT is((SELECT count(*) FROM f JOIN a USING (day) WHERE abs(f.x[14] - a.v[14]) > 1e-9), 0::bigint,
          'volume_zscore = its window aggregate within 1e-9 (log1p against ln(1 + v))');
SELECT is((SELECT count(*) FROM f WHERE x[13] = 0 AND x[11] = 0.5), 12::bigint,
          'zero variance exactly where 30 constant closes fill the z-score''s window and 20 the bands''');
SELECT is((SELECT count(*) FROM stockml.features_spec('SERIES', (SELECT spec FROM spec), '2023-01-01') g
             LEFT JOIN f USING (day) WHERE g.x IS DISTINCT FROM f.x OR g.y IS DISTINCT FROM f.y), 0::bigint,
          'the rows from a later start_day are the same rows');
INSERT INTO stockml.feature_sets (name, spec) SELECT 'series_test', spec FROM spec;
SELECT is((SELECT count(*) FROM stockml.features('SERIES', feature_set => 'series_test') g
             FULL JOIN f USING (day) WHERE g.x IS DISTINCT FROM f.x OR g.y IS DISTINCT FROM f.y), 0::bigint,
          'features() of the stored set = features_spec() of its spec');

SELECT * FROM finish();
ROLLBACK;

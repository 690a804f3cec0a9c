-- No look-ahead: x at day t depends on bars up to t only.  Changing or deleting
-- the bars after t leaves every feature row up to t unchanged (features() and the
-- window aggregates), while changing the bar at t does change it.
BEGIN;
SELECT plan(14);

INSERT INTO stockml.symbols (symbol) VALUES ('LOOK');
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'LOOK', '2024-01-01'::date + i, c, c * 1.02, c * 0.97, c, 1000 + (i * 37) % 500
  FROM generate_series(1, 150) i, LATERAL (SELECT 100 * exp(0.05 * sin(i / 4.0) + 0.001 * i) AS c) v;

-- every feature kind, with the longest warm-ups of the default set
CREATE TEMP TABLE every_kind AS SELECT '{"features": [
    {"name": "lr", "indicator": "log_return", "k": 3}, {"name": "mo", "indicator": "momentum", "n": 4},
    {"name": "vo", "indicator": "volatility", "n": 6}, {"name": "sr", "indicator": "sma_ratio", "n": 7},
    {"name": "er", "indicator": "ema_ratio", "n": 9}, {"name": "rs", "indicator": "rsi"},
    {"name": "ma", "indicator": "macd"}, {"name": "ms", "indicator": "macd_signal"},
    {"name": "bb", "indicator": "bb_pctb"}, {"name": "at", "indicator": "atr"},
    {"name": "zs", "indicator": "zscore", "n": 11}, {"name": "vz", "indicator": "volume_zscore"},
    {"name": "ra", "indicator": "range"}]}'::jsonb AS spec;

CREATE TEMP TABLE cut AS SELECT day AS t FROM stockml.prices WHERE symbol = 'LOOK' ORDER BY day OFFSET 99 LIMIT 1;
CREATE TEMP TABLE full_default AS SELECT * FROM stockml.features('LOOK');
CREATE TEMP TABLE full_every AS SELECT * FROM stockml.features_spec('LOOK', (SELECT spec FROM every_kind));
CREATE TEMP VIEW aggs AS
SELECT day, ARRAY[stockml.sma(close, 5) OVER w, stockml.ema(close, 5) OVER w, stockml.rsi(close) OVER w,
                  stockml.macd(close) OVER w, stockml.macd_signal(close) OVER w, stockml.bb_pctb(close) OVER w,
                  stockml.atr(high, low, close) OVER w, stockml.rolling_std(close, 5) OVER w,
                  stockml.zscore(close, 5) OVER w, stockml.log_return(close) OVER w,
                  stockml.momentum(close, 3) OVER w] AS v
  FROM stockml.prices WHERE symbol = 'LOOK' WINDOW w AS (PARTITION BY symbol ORDER BY day);
CREATE TEMP TABLE full_aggs AS SELECT * FROM aggs;

SELECT is((SELECT count(*) FROM full_default WHERE day <= (SELECT t FROM cut)), 51::bigint,
          'bars 50..100 give 51 default feature rows up to t');

-- change every bar after t (prices, volumes) and add more bars
UPDATE stockml.prices SET open = open * 1.7, high = high * 1.9, low = low * 1.5, close = close * 1.8,
       volume = volume * 13 WHERE symbol = 'LOOK' AND day > (SELECT t FROM cut);
INSERT INTO stockml.prices (symbol, day, open, high, low, close, volume)
SELECT 'LOOK', '2024-06-01'::date + i, 50, 60, 40, 55, 7 FROM generate_series(1, 20) i;

SELECT is((SELECT count(*) FROM full_default o JOIN stockml.features('LOOK') n USING (day)
            WHERE day <= (SELECT t FROM cut) AND o.x IS DISTINCT FROM n.x), 0::bigint,
          'default set: x up to t unchanged after changing the bars after t');
SELECT is((SELECT count(*) FROM full_every o JOIN stockml.features_spec('LOOK', (SELECT spec FROM every_kind)) n USING (day)
            WHERE day <= (SELECT t FROM cut) AND o.x IS DISTINCT FROM n.x), 0::bigint,
          'every feature kind: x up to t unchanged after changing the bars after t');
SELECT is((SELECT count(*) FROM full_aggs o JOIN aggs n USING (day)
            WHERE day <= (SELECT t FROM cut) AND o.v IS DISTINCT FROM n.v), 0::bigint,
          'window aggregates: values up to t unchanged after changing the bars after t');
SELECT isnt((SELECT y FROM stockml.features('LOOK') WHERE day = (SELECT t FROM cut)),
            (SELECT y FROM full_default WHERE day = (SELECT t FROM cut)),
            'y at t (the future) did change');
SELECT ok((SELECT count(*) FROM full_default o JOIN stockml.features('LOOK') n USING (day)
            WHERE day > (SELECT t FROM cut) AND o.x IS DISTINCT FROM n.x) > 0,
          'x after t did change (the test sees changes)');

-- delete every bar after t
DELETE FROM stockml.prices WHERE symbol = 'LOOK' AND day > (SELECT t FROM cut);
SELECT is((SELECT count(*) FROM full_default o JOIN stockml.features('LOOK') n USING (day)
            WHERE o.x IS DISTINCT FROM n.x), 0::bigint,
          'default set: x up to t unchanged after deleting the bars after t');
SELECT is((SELECT count(*) FROM full_every o JOIN stockml.features_spec('LOOK', (SELECT spec FROM every_kind)) n USING (day)
            WHERE o.x IS DISTINCT FROM n.x), 0::bigint,
          'every feature kind: x up to t unchanged after deleting the bars after t');
SELECT is((SELECT count(*) FROM full_aggs o JOIN aggs n USING (day) WHERE o.v IS DISTINCT FROM n.v), 0::bigint,
          'window aggregates: unchanged after deleting the bars after t');
SELECT is((SELECT max(day) FROM stockml.features('LOOK')), (SELECT t FROM cut),
          'the last row is t');
SELECT is((SELECT y FROM stockml.features('LOOK') WHERE day = (SELECT t FROM cut)), NULL,
          'y at t is NULL once its future is gone');
SELECT is((SELECT count(*) FROM stockml.features('LOOK') WHERE y IS NULL), 1::bigint,
          'only the last row lacks y');

-- the bar at t itself is part of x at t
UPDATE stockml.prices SET close = close * 1.01, high = high * 1.01 WHERE symbol = 'LOOK' AND day = (SELECT t FROM cut);
SELECT isnt((SELECT x FROM stockml.features('LOOK') WHERE day = (SELECT t FROM cut)),
            (SELECT x FROM full_default WHERE day = (SELECT t FROM cut)),
            'changing the bar at t changes x at t');
SELECT is((SELECT count(*) FROM full_default o JOIN stockml.features('LOOK') n USING (day)
            WHERE day < (SELECT t FROM cut) AND o.x IS DISTINCT FROM n.x), 0::bigint,
          'and leaves x before t unchanged');

SELECT * FROM finish();
ROLLBACK;

"""The queries over the bench bars that bench/features.py times and bench/citus.py times
again on a Citus cluster: the bare ordered scan and the default feature set as 16 window
aggregates (W, BARS: the window and the bench bars they read)."""

W = "WINDOW w AS (PARTITION BY symbol ORDER BY day)"
BARS = "(SELECT * FROM stockml.prices WHERE source = 'bench')"

scan_sql = f"""SELECT count(*), sum(close + high - low + volume) FROM
  (SELECT symbol, day, high, low, close, volume FROM {BARS} p ORDER BY symbol, day) s"""

# the 16 default features as window aggregates (volatility: rolling_std of log returns)
aggs_default_sql = f"""SELECT count(*), sum(coalesce(r1 + r2 + r5 + r20 + m10 + v5 + v20 + rsi + macd + sig
                                 + pctb + atr + s10 + s50 + vz + rng, 0)) FROM
 (SELECT stockml.log_return(close) OVER w AS r1, stockml.log_return(close, 2) OVER w AS r2,
         stockml.log_return(close, 5) OVER w AS r5, stockml.log_return(close, 20) OVER w AS r20,
         stockml.momentum(close, 10) OVER w AS m10,
         stockml.rolling_std(lr, 5) OVER w AS v5, stockml.rolling_std(lr, 20) OVER w AS v20,
         stockml.rsi(close, 14) OVER w / 100 AS rsi,
         stockml.macd(close, 12, 26) OVER w / close AS macd,
         stockml.macd_signal(close, 12, 26, 9) OVER w / close AS sig,
         stockml.bb_pctb(close, 20, 2) OVER w AS pctb,
         stockml.atr(high, low, close, 14) OVER w / close AS atr,
         close / stockml.sma(close, 10) OVER w - 1 AS s10, close / stockml.sma(close, 50) OVER w - 1 AS s50,
         stockml.zscore(ln(1 + coalesce(volume, 0)), 20) OVER w AS vz, (high - low) / close AS rng
    FROM (SELECT *, stockml.log_return(close) OVER w AS lr FROM {BARS} p {W}) p {W}) q"""

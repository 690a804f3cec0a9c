#!/usr/bin/python3
"""Reference values for stockml's indicators and default feature set.

Independent of the C code: written with pandas/numpy from the conventions in
DESIGN.md ("Indicators", TA-Lib / TTR style).  Reads data/MSFT.csv and writes
  test/reference/msft_indicators.csv   one row per bar, one column per indicator
  test/reference/msft_features.csv     the default feature set, rows from bar 50
which sql/indicators.sql and sql/features.sql compare with the C results;
bench/features.py imports default_features() as its pandas baseline.

    /usr/bin/python3 test/reference/indicators.py   (Debian's python3, numpy, pandas)
"""
import os

import numpy as np
import pandas as pd


def seeded_ewm(x, n, alpha):
    """EWM with alpha, seeded with the mean of the first n non-missing values."""
    x = x.astype(float)
    first = x.first_valid_index()
    out = pd.Series(np.nan, index=x.index)
    if first is None or len(x) - first < n:
        return out
    seed_at = first + n - 1
    tail = x.loc[seed_at:].copy()
    tail.iloc[0] = x.loc[first:seed_at].mean()
    out.loc[seed_at:] = tail.ewm(alpha=alpha, adjust=False).mean()
    return out


def sma(x, n):
    return x.rolling(n).mean()


def ema(x, n):
    return seeded_ewm(x, n, 2.0 / (n + 1))


def rsi(x, n=14):
    d = x.diff()
    up = seeded_ewm(d.clip(lower=0), n, 1.0 / n)
    down = seeded_ewm((-d).clip(lower=0), n, 1.0 / n)
    return 100 * up / (up + down)


def macd(x, fast=12, slow=26):
    return ema(x, fast) - ema(x, slow)


def macd_signal(x, fast=12, slow=26, signal=9):
    return ema(macd(x, fast, slow), signal)


def bb_pctb(x, n=20, k=2.0):
    mid = x.rolling(n).mean()
    sd = x.rolling(n).std(ddof=0)
    lower, upper = mid - k * sd, mid + k * sd
    return (x - lower) / (upper - lower)


def atr(h, lo, c, n=14):
    prev = c.shift(1)
    tr = np.maximum(h, prev) - np.minimum(lo, prev)   # NaN at the first bar
    return seeded_ewm(tr, n, 1.0 / n)


def rolling_std(x, n):
    return x.rolling(n).std(ddof=1)


def zscore(x, n):
    return (x - x.rolling(n).mean()) / x.rolling(n).std(ddof=1)


def log_return(x, k=1):
    return np.log(x / x.shift(k))


def momentum(x, n):
    return x / x.shift(n) - 1


def default_features(bars):
    """The default feature set (sql/install/45_features.sql) of one symbol's bars
    (columns Date, High, Low, Close, Volume, oldest first), with y = next log return."""
    close, high, low = bars["Close"], bars["High"], bars["Low"]
    volume = bars["Volume"].fillna(0).astype(float)
    ret1 = log_return(close)
    return pd.DataFrame({
        "day": bars["Date"].dt.strftime("%Y-%m-%d"),
        "ret_1": ret1,
        "ret_2": log_return(close, 2),
        "ret_5": log_return(close, 5),
        "ret_20": log_return(close, 20),
        "mom_10": momentum(close, 10),
        "vol_5": rolling_std(ret1, 5),
        "vol_20": rolling_std(ret1, 20),
        "rsi_14": rsi(close, 14) / 100,
        "macd": macd(close) / close,
        "macd_signal": macd_signal(close) / close,
        "bb_pctb_20": bb_pctb(close, 20, 2),
        "atr_14": atr(high, low, close, 14) / close,
        "sma_ratio_10": close / sma(close, 10) - 1,
        "sma_ratio_50": close / sma(close, 50) - 1,
        "volume_z_20": zscore(np.log1p(volume), 20),
        "range": (high - low) / close,
        "y": np.log(close.shift(-1) / close),
    })


DEFAULT_WARMUP = 50      # first bar with every default feature defined: sma_ratio_50


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    bars = pd.read_csv(os.path.join(root, "data", "MSFT.csv"), parse_dates=["Date"])
    bars = bars.sort_values("Date").reset_index(drop=True)
    close, high, low = bars["Close"], bars["High"], bars["Low"]

    ind = pd.DataFrame({
        "day": bars["Date"].dt.strftime("%Y-%m-%d"),
        "sma_20": sma(close, 20),
        "ema_20": ema(close, 20),
        "rsi_14": rsi(close, 14),
        "macd": macd(close),
        "macd_signal": macd_signal(close),
        "bb_pctb": bb_pctb(close),
        "atr_14": atr(high, low, close, 14),
        "rolling_std_20": rolling_std(close, 20),
        "zscore_20": zscore(close, 20),
        "log_return_1": log_return(close),
        "log_return_5": log_return(close, 5),
        "momentum_10": momentum(close, 10),
        "ema_5": ema(close, 5),
        "rsi_5": rsi(close, 5),
        "bb_pctb_10_1_5": bb_pctb(close, 10, 1.5),
        "atr_5": atr(high, low, close, 5),
        "macd_5_10": macd(close, 5, 10),
        "macd_signal_5_10_4": macd_signal(close, 5, 10, 4),
    })
    ind.to_csv(os.path.join(root, "test", "reference", "msft_indicators.csv"), index=False,
               float_format="%.17g", na_rep="")

    feat = default_features(bars)
    w = DEFAULT_WARMUP
    assert feat.iloc[w - 1, 1:-1].notna().all() and feat.iloc[w - 2, 1:-1].isna().any()
    feat.iloc[w - 1:].to_csv(os.path.join(root, "test", "reference", "msft_features.csv"),
                             index=False, float_format="%.17g", na_rep="")
    print(f"{len(ind)} bars, {len(feat) - w + 1} feature rows written")


if __name__ == "__main__":
    main()

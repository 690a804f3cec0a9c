"""The default feature set the way a pandas user writes it for speed: grouped
shift/rolling/ewm over all symbols at once, pandas' own (unseeded) EWMs.  The
fastest reasonable pandas baseline of the benchmarks (bench/features.py times it
beside the per-symbol reference code test/reference/indicators.py, bench/models.py
trains on it).  Its EWM-based features (RSI, MACD, ATR) differ from stockml's
SMA-seeded ones in the first few hundred bars of a symbol; the others are equal."""
import numpy as np
import pandas as pd


def vectorised_features(df):
    """df: columns symbol, Date, High, Low, Close, Volume, sorted by symbol then Date.
    Returns the 16 default features and y (next log return), one row per bar of df,
    NaN where a feature is not yet defined."""
    sym = df["symbol"]
    c, h, lo = df["Close"], df["High"], df["Low"]
    g = c.groupby(sym, sort=False)

    def roll(x, n, f, **kw):
        return getattr(x.groupby(sym, sort=False).rolling(n), f)(**kw).reset_index(level=0, drop=True)

    def ewm(x, **kw):
        return x.groupby(sym, sort=False).ewm(adjust=False, **kw).mean().reset_index(level=0, drop=True)

    prev = g.shift(1)
    r1 = np.log(c / prev)
    d = c - prev
    up, down = ewm(d.clip(lower=0), alpha=1 / 14), ewm((-d).clip(lower=0), alpha=1 / 14)
    macd = ewm(c, span=12) - ewm(c, span=26)
    mid, sd = roll(c, 20, "mean"), roll(c, 20, "std", ddof=0)
    tr = np.maximum(h, prev) - np.minimum(lo, prev)
    lv = np.log1p(df["Volume"].fillna(0).astype(float))
    return pd.DataFrame({
        "ret_1": r1, "ret_2": np.log(c / g.shift(2)), "ret_5": np.log(c / g.shift(5)),
        "ret_20": np.log(c / g.shift(20)), "mom_10": c / g.shift(10) - 1,
        "vol_5": roll(r1, 5, "std"), "vol_20": roll(r1, 20, "std"),
        "rsi_14": up / (up + down), "macd": macd / c, "macd_signal": ewm(macd, span=9) / c,
        "bb_pctb_20": (c - (mid - 2 * sd)) / (4 * sd), "atr_14": ewm(tr, alpha=1 / 14) / c,
        "sma_ratio_10": c / roll(c, 10, "mean") - 1, "sma_ratio_50": c / roll(c, 50, "mean") - 1,
        "volume_z_20": (lv - roll(lv, 20, "mean")) / roll(lv, 20, "std"),
        "range": (h - lo) / c, "y": np.log(g.shift(-1) / c),
    })

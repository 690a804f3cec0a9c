#!/usr/bin/python3
"""Reference for the heads of train(..., horizons => ARRAY[1, 2, 3, 4, 5])
(test/pgtap/52_prediction_api.sql), from pandas and scikit-learn.

On data/MSFT.csv with the default feature set (computed by the independent
pandas code of test/reference/indicators.py, not by stockml), for each horizon
h the target is y_h = ln(close[t + h] / close[t]) over the stored bars.  Each
head is validated as scikit-learn's TimeSeriesSplit(n_splits=5, gap=h) cuts
the rows (5 test blocks of n // 6 rows, each trained on every row up to h rows
before it), with StandardScaler + Ridge(alpha=10) fitted on the training rows,
and scored on the price: close * exp(prediction) against close[t + h]; naive is
close[t].  Then it is refitted on every row and predicts from the last bar.

Writes horizons_expected.csv next to this script:
  horizon, fold (0 = pooled), n_train, n_test, mae, naive_mae, skill,
  yhat_last (the refit's log return from the last bar, fold 0 only),
  close_last (the close it multiplies)

    /usr/bin/python3 test/reference/horizons.py
"""
import csv
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import TimeSeriesSplit
from sklearn.preprocessing import StandardScaler

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from indicators import DEFAULT_WARMUP, default_features  # noqa: E402

ALPHA = 10.0
FOLDS = 5
HORIZONS = [1, 2, 3, 4, 5]


def fit_predict(x_train, y_train, x_test):
    scaler = StandardScaler().fit(x_train)
    model = Ridge(alpha=ALPHA).fit(scaler.transform(x_train), y_train)
    return model.predict(scaler.transform(x_test))


def main():
    bars = pd.read_csv(os.path.join(here, "..", "..", "data", "MSFT.csv"), parse_dates=["Date"])
    bars = bars.sort_values("Date").reset_index(drop=True)
    feats = default_features(bars).drop(columns=["day", "y"]).to_numpy()
    close = bars["Close"].to_numpy(dtype=float)
    n_bars = len(close)
    last = n_bars - 1
    out = []
    for h in HORIZONS:
        rows = [t for t in range(DEFAULT_WARMUP - 1, n_bars - h) if np.all(np.isfinite(feats[t]))]
        x = feats[rows]
        y = np.log(close[[t + h for t in rows]] / close[rows])
        c = close[rows]
        actual = c * np.exp(y)
        n = len(rows)
        splitter = TimeSeriesSplit(n_splits=FOLDS, gap=h, test_size=n // (FOLDS + 1))
        pooled_abs, pooled_naive = [], []
        for k, (train, test) in enumerate(splitter.split(x), start=1):
            yhat = fit_predict(x[train], y[train], x[test])
            err = np.abs(c[test] * np.exp(yhat) - actual[test])
            naive = np.abs(c[test] - actual[test])
            pooled_abs.extend(err)
            pooled_naive.extend(naive)
            out.append([h, k, len(train), len(test), err.mean(), naive.mean(),
                        1 - err.mean() / naive.mean(), "", ""])
        yhat_last = fit_predict(x, y, feats[[last]])[0]
        mae, naive_mae = np.mean(pooled_abs), np.mean(pooled_naive)
        out.append([h, 0, n, len(pooled_abs), mae, naive_mae, 1 - mae / naive_mae,
                    yhat_last, close[last]])
    with open(os.path.join(here, "horizons_expected.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["horizon", "fold", "n_train", "n_test", "mae", "naive_mae", "skill",
                    "yhat_last", "close_last"])
        for r in sorted(out, key=lambda r: (r[0], r[1])):
            w.writerow([r[0], r[1], r[2], r[3]] + [repr(float(v)) if v != "" else "" for v in r[4:]])


if __name__ == "__main__":
    main()

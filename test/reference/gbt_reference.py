#!/usr/bin/python3
"""Reference predictions for test/pgtap/52_gbt.sql, from scikit-learn's
HistGradientBoostingRegressor (early_stopping=False, least squares).

Writes, next to this script:
  gbt_train.csv     set, row, x (float8[] literal), y     -- training matrices
  gbt_test.csv      set, row, x, y                        -- held-out rows
  gbt_expected.csv  case, set, params (jsonb, stockml's names), row, prediction

Sets:
  big    3000 training and 2000 held-out rows of 6 features (an interaction, a
         regime switch, a smooth term and noise; features of different scales
         and one with few distinct values); cases compared by held-out MSE and
         correlation (binning on a subsample and ties may differ); "wide" has
         trees of up to 100 leaves, which stockml predicts by walking the trees
         instead of its tables
  one    1 feature with 5 distinct values; max_iter 1, max_leaf_nodes 2: the
         split and the two leaf values must match exactly
  small  2 features with 8 and 12 distinct values, 5 trees of up to 4 leaves:
         every prediction must match to 1e-9
The held-out rows of "one" sit on and beside the learned threshold, so a
threshold off by anything shows.  Run with Debian's python3:

    /usr/bin/python3 test/reference/gbt_reference.py
"""
import csv
import json
import os

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261202)


def make_big(n):
    x = np.column_stack([
        rng.normal(0, 1, n),
        rng.uniform(-2, 2, n),
        rng.normal(10, 3, n),
        rng.integers(0, 7, n).astype(float),
        rng.exponential(1, n) * 1e-2,
        rng.normal(0, 1, n),
    ])
    y = (np.sin(2 * x[:, 0]) * x[:, 1]
         + np.where(x[:, 2] > 11, 1.0, -0.5) * x[:, 5]
         + 0.2 * x[:, 3] + 30 * x[:, 4]
         + rng.normal(0, 0.3, n))
    return x, y


sets = {}
sets["big"] = (make_big(3000), make_big(2000))
x1 = rng.integers(1, 6, 40).astype(float)
y1 = 0.5 * x1 + rng.normal(0, 0.2, 40)
x1_test = np.array([[1.0], [2.0], [2.5], [2.5000000001], [3.0], [3.5], [3.5000000001], [4.0], [5.0], [6.0]])
sets["one"] = ((x1.reshape(-1, 1), y1), (x1_test, np.zeros(len(x1_test))))
xs = np.column_stack([rng.integers(0, 8, 200), rng.integers(0, 12, 200) * 0.25]).astype(float)
ys = np.where(xs[:, 0] > 3, xs[:, 1], -xs[:, 1]) + rng.normal(0, 0.1, 200)
xs_test = np.column_stack([rng.integers(-1, 9, 60), rng.integers(-1, 13, 60) * 0.25]).astype(float)
sets["small"] = ((xs, ys), (xs_test, np.zeros(60)))

cases = [
    ("default", "big", {}),
    ("shallow", "big", {"max_depth": 3, "max_leaf_nodes": 8, "learning_rate": 0.3,
                        "l2_regularization": 1.0, "max_bins": 32, "min_samples_leaf": 5}),
    ("stumps", "big", {"max_iter": 300, "max_leaf_nodes": 2}),
    ("wide", "big", {"max_iter": 20, "max_leaf_nodes": 100, "min_samples_leaf": 5}),
    ("one", "one", {"max_iter": 1, "max_leaf_nodes": 2, "min_samples_leaf": 1}),
    ("small", "small", {"max_iter": 5, "max_leaf_nodes": 4, "min_samples_leaf": 3,
                        "l2_regularization": 0.5, "learning_rate": 0.3}),
]


def arr(v):
    return "{" + ",".join(repr(float(a)) for a in v) + "}"


with open(os.path.join(here, "gbt_train.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for name, ((x, y), _) in sets.items():
        for i in range(len(y)):
            w.writerow([name, i + 1, arr(x[i]), repr(float(y[i]))])
with open(os.path.join(here, "gbt_test.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for name, (_, (x, y)) in sets.items():
        for i in range(len(y)):
            w.writerow([name, i + 1, arr(x[i]), repr(float(y[i]))])
with open(os.path.join(here, "gbt_expected.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for case, name, params in cases:
        (x, y), (xt, yt) = sets[name]
        m = HistGradientBoostingRegressor(early_stopping=False, **params).fit(x, y)
        pred = m.predict(xt)
        for i, p in enumerate(pred):
            w.writerow([case, name, json.dumps({**params, "early_stopping": False}), i + 1, repr(float(p))])
        if name == "big":
            print(f"{case}: held-out MSE {np.mean((pred - yt) ** 2):.6f}, "
                  f"{m.n_iter_} trees, var(y) {np.var(yt):.4f}")
        else:
            print(f"{case}: predictions {np.round(pred, 6).tolist()[:12]}")

#!/usr/bin/python3
"""Reference permutation importances for test/pgtap/59_search.sql, from scikit-learn.

Writes, next to this script:
  permutation_rows.csv      set (train/test), x (float8[] literal), y
  permutation_expected.csv  feature, importance, std, n_repeats

The model is StandardScaler + Ridge(alpha=1) fitted on the training rows,
which is what stockml.fit('ridge', x, y, '{"alpha": 1}') fits (sql/models.sql
checks that to 1e-9).  sklearn.inspection.permutation_importance measures it on
the test rows with scoring neg_mean_absolute_error (stockml's loss of a
regressor, the absolute error of the log return), n_repeats 200.  The
shuffles are numpy's, not stockml's, so the test compares the two means
within their Monte Carlo error.  Features: x1 strong, x2 weaker, x3 no
effect, x4 = x1 plus noise (shares x1's effect, so each alone matters less).
Run with Debian's python3 (numpy, scikit-learn):

    /usr/bin/python3 test/reference/permutation.py
"""
import csv
import os

import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261202)
N_REPEATS = 200


def make(n):
    x1 = rng.normal(0, 1, n)
    x2 = rng.normal(5, 2, n)
    x3 = rng.uniform(-1, 1, n)
    x4 = x1 + rng.normal(0, 0.5, n)
    x = np.column_stack([x1, x2, x3, x4])
    y = 0.02 * x1 + 0.004 * x2 + 0.01 * x4 + rng.normal(0, 0.01, n)
    return x, y


x_train, y_train = make(400)
x_test, y_test = make(300)
model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x_train, y_train)
r = permutation_importance(model, x_test, y_test, scoring="neg_mean_absolute_error",
                           n_repeats=N_REPEATS, random_state=0)


def literal(row):
    return "{" + ",".join(repr(float(v)) for v in row) + "}"


with open(os.path.join(here, "permutation_rows.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        for row, target in zip(x, y):
            w.writerow([name, literal(row), repr(float(target))])
with open(os.path.join(here, "permutation_expected.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for j in range(x_test.shape[1]):
        w.writerow([j + 1, repr(float(r.importances_mean[j])), repr(float(r.importances_std[j])), N_REPEATS])

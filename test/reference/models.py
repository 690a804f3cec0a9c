#!/usr/bin/python3
"""Reference predictions for sql/models.sql, from scikit-learn.

Writes, next to this script:
  models_train.csv     row, x (float8[] literal), y        -- the training matrix
  models_test.csv      row, x                              -- rows to predict
  models_expected.csv  case, algorithm, params (jsonb), row, prediction

Every case standardizes with StandardScaler fitted on the training rows (as
stockml does inside the model) and fits scikit-learn's LinearRegression,
Ridge or ElasticNet on the standardized matrix.  Features have different
means and scales, and x6 is 3*x1 plus noise of 1e-6, so the matrix is nearly
collinear.  Run with Debian's python3 (numpy, scikit-learn):

    /usr/bin/python3 test/reference/models.py
"""
import csv
import json
import os

import numpy as np
from sklearn.linear_model import ElasticNet, LinearRegression, Ridge
from sklearn.preprocessing import StandardScaler

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240605)


def make(n):
    x = np.column_stack([
        rng.normal(0, 1, n),
        rng.normal(50, 10, n),
        rng.uniform(-3, 3, n) * 1e-3,
        rng.normal(-7, 0.5, n),
        rng.exponential(2, n),
    ])
    x = np.column_stack([x, 3 * x[:, 0] + rng.normal(0, 1e-6, n)])
    y = (5 + 0.8 * x[:, 0] - 0.05 * x[:, 1] + 300 * x[:, 2] + 0.0 * x[:, 3]
         + 0.4 * x[:, 4] + rng.normal(0, 0.5, n))
    return x, y


x_train, y_train = make(300)
x_test, _ = make(40)

cases = [
    ("ols", "ridge", {"alpha": 0}, LinearRegression()),
    ("ridge_small", "ridge", {"alpha": 0.5}, Ridge(alpha=0.5)),
    ("ridge_large", "ridge", {"alpha": 50}, Ridge(alpha=50)),
    ("enet", "elastic_net", {"alpha": 0.05, "l1_ratio": 0.5, "tol": 1e-10, "max_iter": 100000},
     ElasticNet(alpha=0.05, l1_ratio=0.5, tol=1e-10, max_iter=100000)),
    ("enet_l1", "elastic_net", {"alpha": 0.01, "l1_ratio": 0.9, "tol": 1e-10, "max_iter": 100000},
     ElasticNet(alpha=0.01, l1_ratio=0.9, tol=1e-10, max_iter=100000)),
    ("lasso", "elastic_net", {"alpha": 0.1, "l1_ratio": 1, "tol": 1e-10, "max_iter": 100000},
     ElasticNet(alpha=0.1, l1_ratio=1.0, tol=1e-10, max_iter=100000)),
    ("enet_l2", "elastic_net", {"alpha": 0.5, "l1_ratio": 0.05, "tol": 1e-10, "max_iter": 100000},
     ElasticNet(alpha=0.5, l1_ratio=0.05, tol=1e-10, max_iter=100000)),
    ("enet_default", "elastic_net", {},
     ElasticNet(alpha=1.0, l1_ratio=0.5, tol=1e-4, max_iter=1000)),
]

scaler = StandardScaler().fit(x_train)
z_train = scaler.transform(x_train)
z_test = scaler.transform(x_test)


def literal(v):
    return "{" + ",".join(repr(float(a)) for a in v) + "}"


with open(os.path.join(here, "models_train.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for i, (xr, yv) in enumerate(zip(x_train, y_train), 1):
        w.writerow([i, literal(xr), repr(float(yv))])
with open(os.path.join(here, "models_test.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for i, xr in enumerate(x_test, 1):
        w.writerow([i, literal(xr)])
with open(os.path.join(here, "models_expected.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for name, algorithm, params, est in cases:
        pred = est.fit(z_train, y_train).predict(z_test)
        for i, v in enumerate(pred, 1):
            w.writerow([name, algorithm, json.dumps(params), i, repr(float(v))])

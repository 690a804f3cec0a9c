#!/usr/bin/python3
"""Reference probabilities and metrics for test/pgtap/53_logistic.sql, from
scikit-learn's LogisticRegression and sklearn.metrics.

Writes, next to this script:
  logistic_train.csv     set, row, x (float8[] literal), y   -- training rows
  logistic_test.csv      set, row, x, y                      -- held-out rows
  logistic_expected.csv  case, set, params (jsonb, stockml's names), row, p_up
  logistic_metrics.csv   case, row, p (probability), y (target), then the case's
                         log_loss, brier, auc, accuracy (sklearn.metrics)
  conformal_p_up.csv     case, residuals (float8[] literal), yhat, scale, p_up: a
                         regressor's P(y > 0) from its residuals, computed here with
                         numpy (np.interp over the ranks), as predict()'s p_up

The class of a row is y > 0 (an up move); y holds log-return-like values with
exact zeros among them (class 0).  The model is StandardScaler then
LogisticRegression(C, penalty l2, lbfgs run to tol 1e-12), the objective
stockml's logistic solves by Newton's method.

Sets:
  small  300 rows of 3 features of very different scales, one of them constant
  wide   2000 rows of 8 correlated features, classes 30 / 70
Metric cases: random probabilities with ties and a base-rate constant (AUC 0.5).
Run with Debian's python3:

    /usr/bin/python3 test/reference/logistic_reference.py
"""
import csv
import json
import os

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261203)


def arr(v):
    return "{" + ",".join(repr(float(a)) for a in v) + "}"


def make_small(n):
    x = np.column_stack([rng.normal(0, 1, n), rng.normal(500, 80, n), np.full(n, 3.0)])
    logit = 0.8 * x[:, 0] - 0.01 * (x[:, 1] - 500) + 0.2
    up = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    size = rng.exponential(0.01, n)
    y = np.where(up, size, -size)
    y[rng.uniform(size=n) < 0.03] = 0.0   # no move: not up
    return x, y


def make_wide(n):
    cov = 0.5 * np.ones((8, 8)) + 0.5 * np.eye(8)
    x = rng.multivariate_normal(np.zeros(8), cov, n) * np.array([1, 2, 0.1, 5, 1, 1, 3, 0.5])
    logit = -0.9 + x[:, 0] - 0.3 * x[:, 1] + 4 * x[:, 2] + 0.05 * x[:, 3]
    up = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    size = rng.exponential(0.02, n)
    return x, np.where(up, size, -size)


sets = {"small": (make_small(300), make_small(100)),
        "wide": (make_wide(2000), make_wide(200))}
cases = [("small_c1", "small", {"C": 1.0}),
         ("small_c001", "small", {"C": 0.01}),
         ("small_c1e4", "small", {"C": 10000.0}),
         ("wide_c01", "wide", {"C": 0.1}),
         ("wide_c1", "wide", {"C": 1.0})]

with open(os.path.join(here, "logistic_train.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for name, ((x, y), _) in sets.items():
        for i in range(len(y)):
            w.writerow([name, i + 1, arr(x[i]), repr(float(y[i]))])
with open(os.path.join(here, "logistic_test.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for name, (_, (x, y)) in sets.items():
        for i in range(len(y)):
            w.writerow([name, i + 1, arr(x[i]), repr(float(y[i]))])
with open(os.path.join(here, "logistic_expected.csv"), "w", newline="") as f:
    w = csv.writer(f)
    for case, s, params in cases:
        (x, y), (xt, _) = sets[s]
        m = make_pipeline(StandardScaler(),
                          LogisticRegression(C=params["C"], tol=1e-12, max_iter=100000))
        m.fit(x, (y > 0).astype(int))
        p = m.predict_proba(xt)[:, 1]
        for i in range(len(p)):
            w.writerow([case, s, json.dumps(params), i + 1, repr(float(p[i]))])

# metrics: sklearn.metrics on fixed probabilities and targets
with open(os.path.join(here, "logistic_metrics.csv"), "w", newline="") as f:
    w = csv.writer(f)
    n = 500
    y = rng.normal(0.001, 0.01, n)
    y[:7] = 0.0
    p_random = np.round(rng.uniform(0.05, 0.95, n), 2)    # rounded: ties for the AUC
    p_good = 1 / (1 + np.exp(-(y * 150 + rng.normal(0, 1, n))))
    p_const = np.full(n, 0.55)
    for case, p in [("random", p_random), ("good", p_good), ("constant", p_const)]:
        t = (y > 0).astype(int)
        row = [log_loss(t, p), brier_score_loss(t, p), roc_auc_score(t, p),
               accuracy_score(t, (p > 0.5).astype(int))]
        for i in range(n):
            w.writerow([case, i + 1, repr(float(p[i])), repr(float(y[i]))] + [repr(float(v)) for v in row])


# a regressor's p_up: residuals y - yhat taken as symmetric, |y - yhat| / scale distributed as
# the residuals given: 1/2 + sign(yhat)/2 * F(|yhat| / scale), F = rank / (n + 1) with the rank
# interpolated linearly between the sorted residuals (0 below the smallest, n at the largest)
def conformal_p_up(yhat, scale, res):
    r = np.sort(np.asarray(res))
    n = len(r)
    if yhat == 0:
        return 0.5
    t = abs(yhat) / scale
    f = 0.0 if t < r[0] else np.interp(t, r, np.arange(1, n + 1)) / (n + 1)
    return 0.5 + 0.5 * np.sign(yhat) * f


with open(os.path.join(here, "conformal_p_up.csv"), "w", newline="") as f:
    w = csv.writer(f)
    res = rng.exponential(1.0, 200)
    cases = [(y, s) for y in (-3.0, -1.0, -0.2, -0.001, 0.0, 0.001, 0.3, 1.0, 2.5, 50.0) for s in (1.0, 0.5)]
    for k, (y, sc) in enumerate(cases):
        w.writerow(["exp200_%d" % k, arr(res), repr(y), repr(sc), repr(float(conformal_p_up(y, sc, res)))])
    three = [0.005, 0.02, 0.03]
    for k, y in enumerate([0.001, 0.01, 0.025, 0.04, -0.01]):
        w.writerow(["three_%d" % k, arr(three), repr(y), "1.0", repr(float(conformal_p_up(y, 1.0, three)))])

#!/usr/bin/python3
"""Reference values for stockml.drift_share_check (src/drift_rule.c), checked by
test/pgtap/61_drift_null.sql: the share limit written again with numpy.

    /usr/bin/python3 test/reference/drift_share.py > test/reference/drift_share_cases.csv

Each case is a features x windows array of null statistics (moving averages of
seeded normal noise, so that neighbouring windows are alike, as overlapping
windows are, with or without a factor common to the features; rounded to 6
decimals so PostgreSQL and Python parse the same doubles, or to 1 decimal for
ties), alpha and neighbours h.  Per feature j and
window b: u_jb = the share of the windows at least h places from b whose value is
below b's; window b is drifted for j when u_jb >= k / n, k = ceil((1 - alpha)
(n + 1)); the share of window b = the share of drifted features; the share's
level L = the ceil((1 - alpha) (m + 1))-th smallest of the shares' own u_b
(Infinity when that is more than m); the limit = the (floor(L n) + 1)-th smallest
share, at most the largest (Infinity when L is).

The last column, the threshold stockml.drift_null_check(row, NULL, alpha,
neighbours) gives each feature's row: with g = (neighbours + 1) // 2 places (the
windows that share rows), the k-th smallest of the row when g = 1, else the
row's level L over the windows at least g places away (as the share's) and the
(floor(L n) + 1)-th smallest value, at most the largest (Infinity when L is).
"""
import csv
import math
import sys

import numpy as np


def conformal(v, alpha):
    v = np.sort(v)
    k = math.ceil((1 - alpha) * (len(v) + 1) - 1e-9)
    return math.inf if k > len(v) else v[k - 1]


def away_below(v, h):
    idx = np.arange(len(v))
    return np.array([np.mean(v[np.abs(idx - b) >= h] < v[b]) for b in range(len(v))])


def share_limit(nulls, alpha, h):
    n = nulls.shape[1]
    need = math.ceil((1 - alpha) * (n + 1) - 1e-9) / n
    share = np.mean([away_below(v, h) >= need for v in nulls], axis=0)
    level = conformal(away_below(share, h), alpha)
    if level > 1:
        return math.inf
    return np.sort(share)[min(int(math.floor(level * n + 1e-9)), n - 1)]


def feature_threshold(v, alpha, neighbours):
    g = (neighbours + 1) // 2
    if g <= 1:
        return conformal(v, alpha)
    level = conformal(away_below(v, g), alpha)
    if level > 1:
        return math.inf
    n = len(v)
    return np.sort(v)[min(int(math.floor(level * n + 1e-9)), n - 1)]


def literal(x):
    return "Infinity" if math.isinf(x) else repr(float(x))


def main():
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["case", "alpha", "neighbours", "statistics", "expected", "feature_thresholds"])
    # features, windows, alpha, neighbours, decimals, weight of a factor common to the features
    cases = [(3, 40, 0.05, 1, 6, 0), (3, 40, 0.10, 5, 6, 0), (16, 100, 0.05, 1, 6, 0), (16, 100, 0.05, 9, 6, 0),
             (16, 100, 0.05, 19, 6, 0), (16, 100, 0.10, 19, 6, 0), (8, 60, 0.05, 7, 1, 0), (16, 100, 0.01, 3, 6, 0),
             (16, 100, 0.05, 1, 6, 1), (16, 100, 0.05, 9, 6, 1), (16, 100, 0.05, 19, 6, 1), (16, 100, 0.10, 9, 6, 1)]
    for case, (p, n, alpha, h, digits, common) in enumerate(cases, 1):
        rng = np.random.default_rng(case)
        z = rng.standard_normal((p, n + 9)) + common * rng.standard_normal(n + 9)
        nulls = np.round(np.array([np.convolve(r, np.ones(10) / 10, "valid") for r in z]), digits)
        array = "{" + ",".join("{" + ",".join(repr(float(x)) for x in row) + "}" for row in nulls) + "}"
        lim = share_limit(nulls, alpha, h)
        thresholds = "{" + ",".join(literal(feature_threshold(r, alpha, h)) for r in nulls) + "}"
        out.writerow([case, alpha, h, array, literal(lim), thresholds])


if __name__ == "__main__":
    main()

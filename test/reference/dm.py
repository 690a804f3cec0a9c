#!/usr/bin/python3
"""Reference values for sql/gate.sql: the Diebold-Mariano test in numpy/scipy.

    /usr/bin/python3 test/reference/dm.py > test/reference/dm_cases.csv

Each case is a loss-differential series d (seeded, rounded to 6 decimals so
PostgreSQL and Python parse the same doubles) and a forecast horizon h.  The
statistic is mean(d) / sqrt(S / T), S the Newey-West long-run variance with the
Bartlett kernel at lag L = max(h - 1, floor(4 (T/100)^(2/9))) (capped at T - 1),
autocovariances divided by T; the p-value is one-sided, scipy.stats.norm.sf of
the statistic (small when mean(d) > 0).  Written independently of src/compare.c:
the autocovariances come from np.correlate and the kernel weights from a vector.
"""
import csv
import math
import sys

import numpy as np
from scipy import stats


def dm(d, h):
    d = np.asarray(d, dtype=float)
    t = len(d)
    lag = min(max(h - 1, int(math.floor(4 * (t / 100.0) ** (2.0 / 9.0)))), t - 1)
    e = d - d.mean()
    acov = np.correlate(e, e, mode="full")[t - 1:t + lag] / t   # gamma_0 .. gamma_lag
    w = np.concatenate(([1.0], 2.0 * (1.0 - np.arange(1, lag + 1) / (lag + 1.0))))
    s = float(np.dot(w, acov))
    stat = d.mean() / math.sqrt(s / t)
    return t, d.mean(), stat, lag, stats.norm.sf(stat)


def ar1(rng, n, phi, mu, sigma):
    x = np.empty(n)
    prev = 0.0
    for i in range(n):
        prev = phi * prev + rng.normal(0, sigma)
        x[i] = prev
    return x + mu


def ma(rng, n, q, mu, sigma):
    e = rng.normal(0, sigma, n + q)
    return np.convolve(e, np.ones(q + 1), mode="valid")[:n] + mu


def main():
    rng = np.random.default_rng(20261201)
    cases = [
        ("iid 50 mean 0", 1, rng.normal(0, 1, 50)),
        ("iid 250 mean 0.15", 1, rng.normal(0.15, 1, 250)),
        ("iid 1000 mean -0.05", 1, rng.normal(-0.05, 1, 1000)),
        ("ar(0.5) 300 mean 0.1", 1, ar1(rng, 300, 0.5, 0.1, 1)),
        ("ar(0.9) 500 mean 0.2", 1, ar1(rng, 500, 0.9, 0.2, 1)),
        ("ma(4) 400 h 5 mean 0.05", 5, ma(rng, 400, 4, 0.05, 0.5)),
        ("ma(9) 120 h 10 mean 0.3", 10, ma(rng, 120, 9, 0.3, 1)),
        ("two values", 1, np.array([0.5, -0.25])),
        ("three values h 5", 5, np.array([0.1, 0.3, 0.2])),
        ("small scale iid 200", 1, rng.normal(2e-4, 1e-3, 200)),
    ]
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["name", "horizon", "d", "n", "mean", "statistic", "hac_lag", "p_value"])
    for name, h, d in cases:
        d = np.round(d, 6)
        n, mean, stat, lag, p = dm(d, h)
        out.writerow([name, h, "{" + ",".join(repr(float(v)) for v in d) + "}",
                      n, repr(float(mean)), repr(float(stat)), lag, repr(float(p))])


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Independent check of the calibrated drift tests (src/drift_null.c,
test/pgtap/62_drift_calibration.sql): the same null procedure written again with
numpy and scipy, on series simulated here, with more seeds than the SQL test.

    /usr/bin/python3 test/reference/drift_null.py [seeds]

For each seed: a random walk (or AR(1) log returns, phi = 0.4) of 1250 weekdays;
features computed from bars up to each day (ret_1, ret_5, ret_20, vol_20,
sma_ratio_50); the reference = the 950 training rows (bars 51..1000); the null =
the statistic between each of 100 windows of 42 consecutive training rows (60
calendar days of weekdays) and the reference without the window's rows.  Two
designs: "guard" (stockml 0.2.0: the windows' first rows evenly spaced, and 42
rows on each side of the window left out of the reference too) and "plain" (the
first design: seeded random offsets, only the window's rows left out).  The
threshold = the ceil(0.95 * 101)-th smallest.  A feature is flagged in a window
after training (ending 45..250 rows after, every 10th) when its statistic exceeds
the threshold.  Statistics: scipy.stats.ks_2samp's D and
scipy.stats.wasserstein_distance / max(np.std(ref), 0.001).  Prints the
false-alarm rate per design, method and feature, with its Monte Carlo standard
error over series (sd of the per-series rates / sqrt(series)).
"""
import sys

import numpy as np
from scipy import stats

WINDOW = 42
NWIN = 100
ALPHA = 0.05


def features(logc):
    r = np.diff(logc, prepend=logc[0])
    out = {}
    n = len(logc)
    idx = np.arange(n)
    for k in (1, 5, 20):
        f = np.full(n, np.nan)
        f[k:] = logc[k:] - logc[:-k]
        out["ret_%d" % k] = f
    f = np.full(n, np.nan)
    for t in range(20, n):
        f[t] = np.std(r[t - 19:t + 1], ddof=1)
    out["vol_20"] = f
    c = np.exp(logc)
    f = np.full(n, np.nan)
    cs = np.cumsum(c)
    f[49:] = c[49:] / ((cs[49:] - np.concatenate(([0], cs[:-50]))) / 50) - 1
    out["sma_ratio_50"] = f
    del idx
    return out


def statistic(method, ref, cur):
    if method == "ks":
        return stats.ks_2samp(ref, cur).statistic
    return stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)


def null_windows(design, rng):
    """(first row, rows left out of the reference from, to) of the 100 windows"""
    if design == "guard":
        starts = [50 + b * (1000 - WINDOW - 50) // (NWIN - 1) for b in range(NWIN)]
        return [(s, max(s - WINDOW, 50), min(s + 2 * WINDOW, 1000)) for s in starts]
    starts = rng.integers(50, 1000 - WINDOW + 1, NWIN)
    return [(s, s, s + WINDOW) for s in starts]


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    rates = {}
    for kind in ("rw", "ar"):
        for seed in range(seeds):
            rng = np.random.default_rng(seed + (1000 if kind == "ar" else 0))
            z = rng.standard_normal(1250) * 0.01
            r = np.zeros(1250)
            for t in range(1250):
                r[t] = (0.4 * r[t - 1] if kind == "ar" and t > 0 else 0) + z[t]
            feats = features(np.log(50) + np.cumsum(r))
            ends = [1000 + k for k in range(45, 251, 10)]
            for design in ("guard", "plain"):
                windows = null_windows(design, rng)
                for name, f in feats.items():
                    ref_all = f[50:1000]
                    for method in ("ks", "wasserstein"):
                        null = []
                        for s, lo, hi in windows:
                            keep = np.ones(950, bool)
                            keep[lo - 50:hi - 50] = False
                            null.append(statistic(method, ref_all[keep], f[s:s + WINDOW]))
                        null.sort()
                        thr = null[int(np.ceil((1 - ALPHA) * (NWIN + 1) - 1e-9)) - 1]
                        flags = [statistic(method, ref_all, f[e - WINDOW + 1:e + 1]) > thr for e in ends]
                        rates.setdefault((design, method, name), []).append(np.mean(flags))
    print("design,method,feature,false_alarm_rate,standard_error,series")
    for (design, method, name), v in sorted(rates.items()):
        print("%s,%s,%s,%.3f,%.4f,%d" % (design, method, name, np.mean(v),
                                         np.std(v, ddof=1) / np.sqrt(len(v)), len(v)))


if __name__ == "__main__":
    main()

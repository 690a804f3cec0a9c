#!/usr/bin/python3
"""Independent check of the calibrated drift tests (src/drift_null.c,
test/pgtap/62_drift_calibration.sql): the same null procedure written again with
numpy and scipy, on series simulated here, with more seeds than the SQL test.

    /usr/bin/python3 test/reference/drift_null.py [seeds]

For each seed: a random walk (or AR(1) log returns, phi = 0.4) of 1520 weekdays;
features computed from bars up to each day (ret_1, ret_5, ret_20, vol_20,
sma_ratio_50); the reference = the 950 training rows (bars 51..1000); the null =
the statistic between each of 100 windows of 42 consecutive training rows (60
calendar days of weekdays) and the reference without the window's rows.  Three
designs: "guard" (stockml 0.2.0: the windows' first rows evenly spaced, and 42
rows on each side of the window left out of the reference too; the threshold of
drift_null_check with neighbours h, the places a window's window and guard
reach: each null window ranked only against the windows at least (h + 1) // 2
places away, which share no row with it, u_b = the share of them below it, the
level L = the ceil(0.95 * 101)-th smallest u_b, the threshold the
(floor(L n) + 1)-th smallest null value), "guard_rank" (the same windows, the
threshold the plain ceil(0.95 * 101)-th smallest: the design before) and "plain"
(the first design: seeded random offsets, only the window's rows left out, the
plain rank).  A feature is flagged in a window
after training (12 windows that do not overlap, ending 45, 88, ..., 518 rows
after) when its statistic exceeds the threshold.  The share rule over these 5
features retrains when their flagged share exceeds its limit: "guard" and
"guard_rank", the one of
src/drift_rule.c (each null window judged against the windows at least h places
away, h the places that overlap its window or guard: u_jb = the share of those
below it, flagged when u_jb >= k / n; the share's own level L = the
ceil(0.95 (m + 1))-th smallest of its u_b, the limit the (floor(L n) + 1)-th
smallest share); "plain", the first design's in-sample quantile of the share.  Statistics: scipy.stats.ks_2samp's D and
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


def conformal(v):
    v = np.sort(v)
    k = int(np.ceil((1 - ALPHA) * (len(v) + 1) - 1e-9))
    return np.inf if k > len(v) else v[k - 1]


def away_below(v, h):
    """per window b: the share of the windows >= h places away whose value is below b's"""
    v = np.asarray(v)
    idx = np.arange(len(v))
    return np.array([np.mean(v[np.abs(idx - b) >= h] < v[b]) for b in range(len(v))])


def share_limit(nulls, h):
    """drift_rule.c's drift_share_check, written again"""
    n = nulls.shape[1]
    need = np.ceil((1 - ALPHA) * (n + 1) - 1e-9) / n
    share = np.mean([away_below(v, h) >= need for v in nulls], axis=0)
    level = conformal(away_below(share, h))
    if level > 1:
        return np.inf
    return np.sort(share)[min(int(np.floor(level * n + 1e-9)), n - 1)]


def feature_threshold(null, g):
    """drift_rule.c's drift_null_check with neighbours: each window ranked against the
    windows at least g places away (those that share no row with it), the level L = the
    conformal quantile of those ranks, the threshold the (floor(L n) + 1)-th smallest"""
    if g <= 1:
        return conformal(null)
    level = conformal(away_below(null, g))
    if level > 1:
        return np.inf
    n = len(null)
    return np.sort(null)[min(int(np.floor(level * n + 1e-9)), n - 1)]


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
            z = rng.standard_normal(1520) * 0.01
            r = np.zeros(1520)
            for t in range(1520):
                r[t] = (0.4 * r[t - 1] if kind == "ar" and t > 0 else 0) + z[t]
            feats = features(np.log(50) + np.cumsum(r))
            ends = [1000 + 45 + 43 * i for i in range(12)]
            # windows 2 * WINDOW rows apart or more overlap neither window nor guard
            step = (1000 - WINDOW - 50) / (NWIN - 1)
            neighbours = int(np.ceil(2 * WINDOW / step))
            for design in ("guard", "guard_rank", "plain"):
                windows = null_windows("plain" if design == "plain" else "guard", rng)
                for method in ("ks", "wasserstein"):
                    nulls, cur = [], []
                    for name, f in feats.items():
                        ref_all = f[50:1000]
                        null = []
                        for s, lo, hi in windows:
                            keep = np.ones(950, bool)
                            keep[lo - 50:hi - 50] = False
                            null.append(statistic(method, ref_all[keep], f[s:s + WINDOW]))
                        if design == "guard":
                            thr = feature_threshold(null, (neighbours + 1) // 2)
                        else:
                            thr = conformal(null)
                        c = [statistic(method, ref_all, f[e - WINDOW + 1:e + 1]) > thr for e in ends]
                        rates.setdefault((design, method, name), []).append(np.mean(c))
                        nulls.append(null)
                        cur.append(c)
                    nulls = np.array(nulls)
                    if design != "plain":
                        limit = share_limit(nulls, neighbours)
                    else:
                        # the first design's in-sample limit
                        limit = conformal(np.mean([v > conformal(v) for v in nulls], axis=0))
                    retrain = np.mean(cur, axis=0) > limit
                    rates.setdefault((design, method, "(share rule: retrains)"), []).append(np.mean(retrain))
    print("design,method,feature,false_alarm_rate,standard_error,series")
    for (design, method, name), v in sorted(rates.items()):
        print("%s,%s,%s,%.3f,%.4f,%d" % (design, method, name, np.mean(v),
                                         np.std(v, ddof=1) / np.sqrt(len(v)), len(v)))


if __name__ == "__main__":
    main()

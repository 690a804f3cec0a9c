#!/usr/bin/python3
"""Reference for test/pgtap/84_intervals.sql: the intervals that follow volatility
(src/interval.c) written again with numpy, on series simulated here.

    /usr/bin/python3 test/reference/intervals.py            # writes the two CSV files
    /usr/bin/python3 test/reference/intervals.py seeds 20   # coverage over 20 seeds (doc/intervals.md)

Series (weekdays, close only, rounded to 6 decimals; both sides read the rounded closes):
  pooled: CALM and WILD, random walks with daily sigma 0.006 and 0.024, 2400 bars each,
          one naive model trained on both (the first 1200 bars);
  garch:  GARCH(1,1) log returns (omega 2e-6, alpha 0.10, beta 0.87), 2600 bars, a naive
          model trained on the first 1300, and one of horizon 5 (sigma_t sqrt(5)).
The test's feature set is ret_1 alone, so the rows are bars 1 .. T-2 (0-based) and the
walk-forward validation rows are the last 5 * floor((T - 2) / 6) of them per symbol (train()'s
5 folds, TimeSeriesSplit's blocks).  The naive model predicts 0, so the residual is the
realized log return y.  sigma_t: EWMA (lambda 0.94) of one-bar r^2, seeded with the mean of
the first 20.  The conformal quantile q: the ceil((n + 1) 0.9)-th smallest score, read off
at most 1000 evenly spaced order statistics by linear interpolation, as predict() reads
them.  Out of sample: on each bar t from T - 1 on, the interval close_t exp(+-q sigma_t)
for close_{t+1}; the fixed-width interval of 0.1.0, close_t exp(+-q0), q0 the same quantile
of |y|, beside it.  The last 40 forecasts of the pooled model are made at level 0.5 (the
coverage rule's test) and left out of the coverage figures.
"""
import csv
import math
import os
import sys

import numpy as np
from scipy import stats

LEVEL = 0.9
LAMBDA = 0.94
SEED_RETURNS = 20
KEPT = 1000
FOLDS = 5
LOW_LEVEL_TAIL = 40
HERE = os.path.dirname(os.path.abspath(__file__))


def ewma_sigma(close):
    sigma = [math.nan] * len(close)
    v = 0.0
    for i in range(1, len(close)):
        r = math.log(close[i] / close[i - 1])
        if i <= SEED_RETURNS:
            v += r * r
            if i < SEED_RETURNS:
                continue
            v /= SEED_RETURNS
        else:
            v = LAMBDA * v + (1 - LAMBDA) * r * r
        sigma[i] = math.sqrt(v)
    return np.array(sigma)


def conformal(scores, level):
    s = np.sort(np.asarray(scores, dtype=float))
    n = len(s)
    kept = min(n, KEPT)
    stat = s[(np.arange(kept) * (n - 1)) // (kept - 1)]
    k = math.ceil((n + 1) * level)
    pos = (k - 1) * (kept - 1) / (n - 1)
    lo = int(math.floor(pos))
    if lo >= kept - 1:
        return stat[-1]
    return stat[lo] + (pos - lo) * (stat[lo + 1] - stat[lo])


def rounded(x):
    return np.array([float("%.6f" % v) for v in x])


def simulate(seed):
    rng = np.random.default_rng(seed)
    out = {}
    out["CALM"] = (rounded(50 * np.exp(np.cumsum(0.006 * rng.standard_normal(2400)))), None)
    out["WILD"] = (rounded(30 * np.exp(np.cumsum(0.024 * rng.standard_normal(2400)))), None)
    n = 2600
    omega, alpha, beta = 2e-6, 0.10, 0.87
    s2 = omega / (1 - alpha - beta)
    r = np.empty(n)
    sig = np.empty(n)
    for t in range(n):
        sig[t] = math.sqrt(s2)
        r[t] = sig[t] * rng.standard_normal()
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    r[0] = 0.0
    out["GARCH"] = (rounded(40 * np.exp(np.cumsum(r))), sig)
    return out


def calibrate(closes, train_bars, h=1):
    """the scaled and plain scores of the validation rows of one model of horizon h"""
    scaled, plain = [], []
    for c in closes:
        sigma = ewma_sigma(c)
        ndays = train_bars - 1 - h          # rows 1 .. train_bars - 1 - h have a target
        td = ndays // (FOLDS + 1)
        for i in range(1 + ndays - FOLDS * td, 1 + ndays):
            y = math.log(c[i + h] / c[i])
            plain.append(abs(y))
            scaled.append(abs(y) / (sigma[i] * math.sqrt(h)))
    return scaled, plain


def walk(c, train_bars, q, q0, last, h=1):
    """out-of-sample forecasts on bars train_bars - 1 .. last: covered (scaled), covered (fixed)"""
    sigma = ewma_sigma(c)
    cov, cov0 = [], []
    for t in range(train_bars - 1, last + 1):
        w = q * sigma[t] * math.sqrt(h)
        lo, hi = c[t] * math.exp(-w), c[t] * math.exp(w)
        lo0, hi0 = c[t] * math.exp(-q0), c[t] * math.exp(q0)
        cov.append(lo <= c[t + h] <= hi)
        cov0.append(lo0 <= c[t + h] <= hi0)
    return np.array(cov), np.array(cov0), sigma


def scenario(series):
    res = {}
    calm, wild = series["CALM"][0], series["WILD"][0]
    scaled, plain = calibrate([calm, wild], 1200)
    q, q0 = conformal(scaled, LEVEL), conformal(plain, LEVEL)
    res["pooled"] = {"n_scaled": len(scaled), "q": q, "q0": q0}
    for sym, c in (("CALM", calm), ("WILD", wild)):
        cov, cov0, sigma = walk(c, 1200, q, q0, len(c) - 2 - LOW_LEVEL_TAIL)
        t = 1199
        res[sym] = {"n": len(cov), "covered": int(cov.sum()), "covered_fixed": int(cov0.sum()),
                    "first_lower": c[t] * math.exp(-q * sigma[t]), "first_upper": c[t] * math.exp(q * sigma[t])}
    g, gsig = series["GARCH"]
    scaled, plain = calibrate([g], 1300)
    q, q0 = conformal(scaled, LEVEL), conformal(plain, LEVEL)
    cov, cov0, sigma = walk(g, 1300, q, q0, len(g) - 2)
    target_sigma = gsig[1300:len(g)]           # the sigma of the return each forecast targets
    calm_half = target_sigma <= np.median(target_sigma)
    half = len(cov) // 2
    res["garch"] = {"n_scaled": len(scaled), "q": q, "q0": q0}
    res["GARCH"] = {"n": len(cov), "covered": int(cov.sum()), "covered_fixed": int(cov0.sum()),
                    "first_lower": g[1299] * math.exp(-q * sigma[1299]),
                    "first_upper": g[1299] * math.exp(q * sigma[1299]),
                    "calm_n": int(calm_half.sum()), "calm_covered": int(cov[calm_half].sum()),
                    "calm_covered_fixed": int(cov0[calm_half].sum()),
                    "volatile_n": int((~calm_half).sum()), "volatile_covered": int(cov[~calm_half].sum()),
                    "volatile_covered_fixed": int(cov0[~calm_half].sum()),
                    "first_half_n": half, "first_half_covered": int(cov[:half].sum()),
                    "second_half_n": len(cov) - half, "second_half_covered": int(cov[half:].sum())}
    # the same series, 5 bars ahead: sigma_t sqrt(5)
    scaled, plain = calibrate([g], 1300, 5)
    q, q0 = conformal(scaled, LEVEL), conformal(plain, LEVEL)
    cov, cov0, sigma = walk(g, 1300, q, q0, len(g) - 6, 5)
    w = q * sigma[1299] * math.sqrt(5)
    res["garch5"] = {"n_scaled": len(scaled), "q": q, "q0": q0}
    res["GARCH5"] = {"n": len(cov), "covered": int(cov.sum()), "covered_fixed": int(cov0.sum()),
                     "first_lower": g[1299] * math.exp(-w), "first_upper": g[1299] * math.exp(w)}
    return res


def rule_alarms(cov, window=42, step=21, bound=0.8, alpha=0.05):
    """windows of `window` one-bar forecasts (60 calendar days) where the coverage rule fires"""
    fired = total = 0
    for a in range(0, len(cov) - window + 1, step):
        k = int(cov[a:a + window].sum())
        total += 1
        fired += k < bound * window and stats.binom.cdf(k, window, bound) < alpha
    return fired, total


def seeds(n):
    rows = []
    alarms = [0, 0]
    for seed in range(n):
        series = simulate(seed)
        r = scenario(series)
        for sym, train_bars, cal in (("CALM", 1200, ["CALM", "WILD"]), ("WILD", 1200, ["CALM", "WILD"]),
                                     ("GARCH", 1300, ["GARCH"])):
            scaled, plain = calibrate([series[c][0] for c in cal], train_bars)
            c = series[sym][0]
            cov, _, _ = walk(c, train_bars, conformal(scaled, LEVEL), conformal(plain, LEVEL), len(c) - 2)
            f, t = rule_alarms(cov)
            alarms[0] += f
            alarms[1] += t
        c, w, g = r["CALM"], r["WILD"], r["GARCH"]
        rows.append([(c["covered"] + w["covered"]) / (c["n"] + w["n"]), c["covered"] / c["n"],
                     w["covered"] / w["n"], c["covered_fixed"] / c["n"], w["covered_fixed"] / w["n"],
                     g["covered"] / g["n"], g["calm_covered"] / g["calm_n"],
                     g["volatile_covered"] / g["volatile_n"], g["calm_covered_fixed"] / g["calm_n"],
                     g["volatile_covered_fixed"] / g["volatile_n"],
                     g["first_half_covered"] / g["first_half_n"], g["second_half_covered"] / g["second_half_n"],
                     r["GARCH5"]["covered"] / r["GARCH5"]["n"], r["GARCH5"]["covered_fixed"] / r["GARCH5"]["n"]])
    a = 100 * np.array(rows)
    names = ["pooled", "CALM", "WILD", "CALM fixed", "WILD fixed", "GARCH", "GARCH calm half",
             "GARCH volatile half", "calm half fixed", "volatile half fixed", "GARCH 1st half", "GARCH 2nd half",
             "GARCH 5 bars ahead", "... fixed width"]
    print("%-20s %6s %6s %6s %6s" % ("coverage %", "mean", "min", "max", "sd"))
    for j, name in enumerate(names):
        print("%-20s %6.1f %6.1f %6.1f %6.1f" % (name, a[:, j].mean(), a[:, j].min(), a[:, j].max(), a[:, j].std()))
    print("coverage rule (min_coverage 0.8, alpha 0.05, 42-forecast windows every 21): fires in %d of %d"
          " windows (%.1f %%)" % (alarms[0], alarms[1], 100.0 * alarms[0] / alarms[1]))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "seeds":
        seeds(int(sys.argv[2]) if len(sys.argv) > 2 else 20)
        return
    series = simulate(2026)
    with open(os.path.join(HERE, "intervals_series.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "i", "close", "sigma"])
        for sym, (c, sig) in series.items():
            for i, v in enumerate(c):
                w.writerow([sym, i, "%.6f" % v, "" if sig is None else "%.8g" % sig[i]])
    res = scenario(series)
    with open(os.path.join(HERE, "intervals_expected.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["what", "key", "value"])
        for what, d in res.items():
            for k, v in d.items():
                w.writerow([what, k, repr(float(v)) if isinstance(v, float) else v])
        # the coverage rule's binomial tail, P(X <= k), against scipy
        for k, n, b in ((0, 1, 0.8), (15, 20, 0.8), (70, 100, 0.8), (78, 120, 0.8), (171, 200, 0.9),
                        (450, 500, 0.9), (4, 60, 0.5), (55, 60, 0.95), (29, 30, 0.8)):
            w.writerow(["binom", "%d/%d/%s" % (k, n, b), repr(float(stats.binom.cdf(k, n, b)))])


if __name__ == "__main__":
    main()

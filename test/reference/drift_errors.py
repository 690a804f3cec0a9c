#!/usr/bin/python3
"""Independent check of the error rule (stockml.error_drift, monitor(); measured in SQL by
test/pgtap/62_drift_calibration.sql), written again with numpy on series simulated here.

    /usr/bin/python3 test/reference/drift_errors.py [seeds]

Series as in the SQL test: log returns of a random walk or AR(1) (phi 0.4), sigma 0.01;
breaks after bar 1060: volatility x3, or phi 0.4 -> -0.4 (ar_flip), or 0.5 -> -0.5 (ar_flip5).
Model: ridge on 8 lagged-return features (standardized, lambda 1), trained on bars 20..999, validated walk-forward as
train() does (3 equal blocks, the last 2 tested, each fit on the rows before it).  The rule
(alpha 0.0125): over the last 20 realized days, the mean squared error above the
ceil((1 - alpha / 5)(m + 1))-th smallest of the same statistic over every window of 20
consecutive validation days, or the uncentered correlation of forecast and outcome below the
(4 alpha / 5) conformal lower quantile.  Stationary: 12 windows ending 45, 88, ..., 518 days
after training; breaks: each of the 20 days after the break.  Prints the false-alarm rate
(standard error over series) and the share of break seeds detected.

The bound on any rule (oracle): the Neyman-Pearson test of phi against -phi on the 20 returns
after the break, told the break day, sigma and both coefficients, one look on day 20 (its
statistic is sum r_t r_(t-1): both hypotheses have the same |phi|), threshold from the
stationary AR(1) at the same false-alarm rate; 400 000 simulated paths each.  No rule that
sees only those returns can detect more often at that false-alarm rate.
"""
import sys

import numpy as np

N, ALPHA = 20, 0.0125


def series(rng, kind, n):
    r = np.zeros(n)
    for t in range(1, n):
        phi = {"ar": 0.4, "ar_flip": 0.4, "ar_flip5": 0.5}.get(kind, 0.0)
        if kind.startswith("ar_flip") and t > 1060:
            phi = -phi
        s = 0.03 if kind == "vol" and t > 1060 else 0.01
        r[t] = phi * r[t - 1] + s * rng.standard_normal()
    return r


def features(r):
    x = np.zeros((len(r), 8))
    for t in range(20, len(r)):
        x[t] = [r[t], r[t - 1], r[t - 2], r[t - 3], r[t - 4:t + 1].sum(), r[t - 19:t + 1].sum(),
                r[t - 4:t + 1].std(), r[t - 19:t + 1].std()]
    return x


def fit(x, y, lam=1.0):
    mu, sd = x.mean(0), x.std(0) + 1e-12
    z = (x - mu) / sd
    b = np.linalg.solve(z.T @ z + lam * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return lambda x2: ((x2 - mu) / sd) @ b + y.mean()


def stats(y, yh):
    return np.mean((y - yh) ** 2), np.sum(y * yh) / np.sqrt(np.sum(y ** 2) * np.sum(yh ** 2))


def upper(v, a):
    v = np.sort(v)
    k = int(np.ceil((1 - a) * (len(v) + 1) - 1e-9))
    return np.inf if k > len(v) else v[k - 1]


def oracle(phi, alphas, reps=400000, n=N):
    rng = np.random.default_rng(7)

    def lag_products(phi_after):
        prev = rng.standard_normal(reps) / np.sqrt(1 - phi * phi)  # stationary under phi
        s = np.zeros(reps)
        for _ in range(n):
            r = phi_after * prev + rng.standard_normal(reps)
            s += r * prev
            prev = r
        return s
    null, alt = lag_products(phi), lag_products(-phi)
    return [(alt < np.quantile(null, a)).mean() for a in alphas]


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    fa, det = {}, {}
    kinds = ("rw", "ar", "vol", "ar_flip", "ar_flip5")
    for kind in kinds:
        for seed in range(seeds):
            rng = np.random.default_rng(seed + 1000 * kinds.index(kind))
            r = series(rng, kind, 1520 if kind in ("rw", "ar") else 1081)
            x, y = features(r), np.r_[r[1:], np.nan]
            block = (999 - 20) // 3
            vy, vh = [], []
            for f in (1, 2):
                lo, hi = 20 + f * block, 20 + (f + 1) * block if f == 1 else 999
                m = fit(x[20:lo - 1], y[20:lo - 1])
                vy.append(y[lo:hi])
                vh.append(m(x[lo:hi]))
            vy, vh = np.concatenate(vy), np.concatenate(vh)
            null = np.array([stats(vy[b:b + N], vh[b:b + N]) for b in range(len(vy) - N + 1)])
            mse_t, rho_t = upper(null[:, 0], ALPHA / 5), -upper(-null[:, 1], 4 * ALPHA / 5)
            m = fit(x[20:999], y[20:999])
            yh = m(x)

            def fires(day):  # rows whose target (day + 1) is realized by `day`
                s = stats(y[day - N:day], yh[day - N:day])
                return s[0] > mse_t or s[1] < rho_t
            if kind in ("rw", "ar"):
                fa.setdefault("stationary", []).append(np.mean([fires(999 + 45 + 43 * i) for i in range(12)]))
            else:
                det.setdefault(kind, []).append(any(fires(1060 + k) for k in range(1, 21)))
    v = np.array(fa["stationary"])
    print("error rule: false alarms %.4f (standard error %.4f, %d series)"
          % (v.mean(), v.std(ddof=1) / np.sqrt(len(v)), len(v)))
    for kind, d in det.items():
        print("%s: detected within 20 trading days in %d of %d seeds" % (kind, sum(d), len(d)))
    # 0.018: the SQL rule's measured false-alarm rate (62_drift_calibration.sql)
    alphas = sorted({0.0125, 0.018, round(v.mean(), 4), 0.025, 0.05})
    for phi in (0.3, 0.4, 0.5):
        print("oracle, flip %.1f -> %.1f: power %s at false-alarm rates %s"
              % (phi, -phi, " / ".join("%.3f" % p for p in oracle(phi, alphas)),
                 " / ".join(str(a) for a in alphas)))


if __name__ == "__main__":
    main()

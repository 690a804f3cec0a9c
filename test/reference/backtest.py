#!/usr/bin/python3
"""Reference for test/pgtap/58_backtest.sql: stockml.backtest()'s metrics in numpy.

Writes, next to this script:
  backtest_rows.csv      symbol, day (0-based weekday index), y, yhat: validation rows
                         of a made-up version (three symbols over different, gappy
                         periods; some yhat exactly 0, so a flat day), which the test
                         stores in stockml.validation_predictions
  backtest_expected.csv  strategy, cost_bps, symbol, metric, value: the metrics numpy
                         computes from those rows (doc/backtest.md's definitions)
  backtest_rows_h5.csv   symbol, day, target_day, y, yhat: the same rows as those of a
                         made-up horizon-5 version (target_day: the symbol's 5th next
                         row's day, past the last one counted on in weekdays)
  backtest_expected_h5.csv  its metrics: one position every 5th of the version's
                         validation days (one grid for all symbols), skipped where its
                         target lies past the next grid day, 252 / 5 periods a year
  backtest_series.csv    symbol, i, close: the price series the test trains ridge on:
                         RW1..RW4 random walks (seeds 101..104) and AR1 (log returns
                         AR(1), phi 0.4, seed 105), 1500 bars each, daily sigma 1 %

Run with Debian's python3:  /usr/bin/python3 test/reference/backtest.py
"""
import csv
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
YEAR = 252.0


def curve(r):
    """equity (starting at 1, 0 for ever after a day that loses everything) and drawdown"""
    eq = np.cumprod(np.maximum(1.0 + r, 0.0))
    peak = np.maximum.accumulate(np.maximum(eq, 1.0))
    return eq, 1.0 - eq / peak


def metrics(r, hits, in_market, trade, n, year=YEAR):
    eq, dd = curve(r)
    days = len(r)
    sd = np.std(r, ddof=1)
    out = {
        "days": days,
        "total_return": eq[-1] - 1.0,
        "annual_return": eq[-1] ** (year / days) - 1.0,
        "annual_volatility": sd * np.sqrt(year),
        "sharpe": np.mean(r) / sd * np.sqrt(year),
        "max_drawdown": dd.max(),
        "turnover": trade.sum() / n.sum(),
    }
    if in_market.sum() > 0:
        out["hit_rate"] = hits.sum() / in_market.sum()
    return out


def backtest(rows, strategy, cost_bps, year=YEAR):
    """rows: dict symbol -> (days, y, yhat), days increasing"""
    c = cost_bps / 1e4
    per = {}
    for s, (days, y, yhat) in rows.items():
        pos = np.where(yhat > 0, 1.0, np.where((yhat < 0) & (strategy == "long_short"), -1.0, 0.0))
        trade = np.abs(np.diff(np.concatenate([[0.0], pos])))
        simple = np.exp(y) - 1.0
        r = pos * simple - c * trade
        bh = simple.copy()
        bh[0] -= c
        per[s] = dict(days=days, r=r, bh=bh, hits=(pos * y > 0).astype(float),
                      in_market=(pos != 0).astype(float), ups=(y > 0).astype(float), trade=trade)
    result = {}
    for s, d in per.items():
        one = np.ones(len(d["r"]))
        m = metrics(d["r"], d["hits"], d["in_market"], d["trade"], one, year)
        b = metrics(d["bh"], d["ups"], one, np.zeros(len(one)), one, year)
        result[s] = (m, b)
    # 'all': the equal-weight book of the symbols that have a row that day
    alldays = np.unique(np.concatenate([d["days"] for d in per.values()]))
    r, bh = [], []
    sums = {k: [] for k in ("hits", "in_market", "ups", "trade", "n")}
    for day in alldays:
        here = [(d, np.searchsorted(d["days"], day)) for d in per.values() if day in d["days"]]
        r.append(np.mean([d["r"][i] for d, i in here]))
        bh.append(np.mean([d["bh"][i] for d, i in here]))
        for k in ("hits", "in_market", "ups", "trade"):
            sums[k].append(sum(d[k][i] for d, i in here))
        sums["n"].append(len(here))
    r, bh = np.array(r), np.array(bh)
    s = {k: np.array(v) for k, v in sums.items()}
    m = metrics(r, s["hits"], s["in_market"], s["trade"], s["n"], year)
    b = metrics(bh, s["ups"], s["n"], np.zeros(len(bh)), s["n"], year)
    result["all"] = (m, b)
    return result


def targets(days, h):
    """the day of each row's h-th next row; past the last row, counted on in days"""
    n = len(days)
    return np.array([days[k + h] if k + h < n else days[-1] + (k + h - (n - 1)) for k in range(n)])


def periods(rows, h):
    """the rows a horizon-h version trades: on every h-th of all the rows' days, and
    only where the target is not past the next of those days"""
    grid = np.unique(np.concatenate([d for d, _, _, _ in rows.values()]))[::h]
    nxt = dict(zip(grid, list(grid[1:]) + [None]))
    out = {}
    for s, (days, target, y, yhat) in rows.items():
        keep = np.array([d in nxt and (nxt[d] is None or t <= nxt[d]) for d, t in zip(days, target)])
        out[s] = (days[keep], y[keep], yhat[keep])
    return out


def write_expected(path, rows, year):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["strategy", "cost_bps", "symbol", "metric", "value"])
        for strategy, cost in (("long_short", 5.0), ("long_flat", 0.0), ("long_short", 25.0)):
            for s, (m, b) in backtest(rows, strategy, cost, year).items():
                for k, v in m.items():
                    w.writerow([strategy, cost, s, k, repr(float(v))])
                for k, v in b.items():
                    if k != "turnover":
                        w.writerow([strategy, cost, s, "buy_and_hold_" + k, repr(float(v))])


def main():
    rng = np.random.default_rng(58)
    rows = {}
    for s, start, n in (("BTA", 0, 300), ("BTB", 40, 220), ("BTC", 10, 150)):
        days = np.arange(start, start + n + n // 10)
        days = np.sort(rng.choice(days, n, replace=False))    # gaps: the symbols' days differ
        y = rng.normal(0.0003, 0.012, n)
        yhat = 0.3 * y + rng.normal(0, 0.004, n)
        yhat[rng.random(n) < 0.1] = 0.0                        # flat days
        rows[s] = (days, y, yhat)
    with open(os.path.join(HERE, "backtest_rows.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "day", "y", "yhat"])
        for s, (days, y, yhat) in rows.items():
            for d, a, b in zip(days, y, yhat):
                w.writerow([s, int(d), repr(float(a)), repr(float(b))])
    write_expected(os.path.join(HERE, "backtest_expected.csv"), rows, YEAR)
    h5 = {s: (days, targets(days, 5), y, yhat) for s, (days, y, yhat) in rows.items()}
    with open(os.path.join(HERE, "backtest_rows_h5.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "day", "target_day", "y", "yhat"])
        for s, (days, target, y, yhat) in h5.items():
            for d, t, a, b in zip(days, target, y, yhat):
                w.writerow([s, int(d), int(t), repr(float(a)), repr(float(b))])
    write_expected(os.path.join(HERE, "backtest_expected_h5.csv"), periods(h5, 5), YEAR / 5)
    with open(os.path.join(HERE, "backtest_series.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "i", "close"])
        n = 1500
        for k in range(4):
            r = np.random.default_rng(101 + k).normal(0, 0.01, n)
            close = 100 * np.exp(np.cumsum(r))
            for i, c in enumerate(close):
                w.writerow(["RW%d" % (k + 1), i, repr(float(c))])
        e = np.random.default_rng(105).normal(0, 0.01, n)
        r = np.zeros(n)
        for i in range(1, n):
            r[i] = 0.4 * r[i - 1] + e[i]
        close = 100 * np.exp(np.cumsum(r))
        for i, c in enumerate(close):
            w.writerow(["AR1", i, repr(float(c))])


if __name__ == "__main__":
    main()

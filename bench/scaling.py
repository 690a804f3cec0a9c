#!/usr/bin/python3
"""Scaling curves of `make bench` (bench/run.sh; connects with the PG* environment).

Usage: scaling.py DAYS SYMBOLS...  (e.g. 5000 50 200 500).  Generates the largest
number of symbols once (bench/synthetic.py's seeded random walk, DAYS bars each)
and, for the first N symbols at each size N, times the median of BENCH_REPEAT
(default 3) runs of:

  scan        a bare ordered scan of the N symbols' bars (what any reader pays)
  features()  the default feature set of every one of them (LATERAL features())
  train       stockml.train(ridge, 5 walk-forward folds, refit) over them, end to end
  batch       sum(predict(model, x)) over their stored feature rows, and a bare
              scan of those rows (SELECT sum(x[1]))
  pandas      psycopg2 fetch + the vectorised pandas features
              (bench/pandas_features.py), one run

and records each as one point of a curve (bench/results.py scale()): the report
prints the time per row at each size, so a reader sees whether a cost grows
linearly with the rows (a flat line) or not.
"""
import os
import sys
import time

import pandas as pd
import psycopg2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from synthetic import generate_bars  # noqa: E402
from results import median, scale  # noqa: E402
from pandas_features import vectorised_features  # noqa: E402

DAYS = int(sys.argv[1])
SIZES = sorted(int(a) for a in sys.argv[2:])
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()


def q(sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


def timed(sql, args=None, repeat=REPEAT):
    walls = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = q(sql, args)
        walls.append(time.perf_counter() - t)
    return median(walls), result


generate_bars(cur, SIZES[-1], DAYS)
q("SET max_parallel_workers_per_gather = 0")
all_symbols = [r[0] for r in q("SELECT symbol FROM stockml.symbols WHERE source = 'bench' ORDER BY symbol")]

for n in SIZES:
    symbols = all_symbols[:n]
    size = f"{n} symbols"
    nbars = q("SELECT count(*) FROM stockml.prices WHERE symbol = ANY(%s)", (symbols,))[0][0]
    scan_sql = """SELECT count(*), sum(close + high - low + volume) FROM
                  (SELECT symbol, day, high, low, close, volume FROM stockml.prices
                    WHERE symbol = ANY(%s) ORDER BY symbol, day) s"""
    q(scan_sql, (symbols,))
    t_scan, _ = timed(scan_sql, (symbols,))
    t_feat, r = timed("""SELECT count(*), sum(f.y) FROM unnest(%s::text[]) s(symbol),
                         LATERAL stockml.features(s.symbol) f""", (symbols,))
    nfeat = r[0][0]
    name = f"bench_scale_{n}"
    t_train, r = timed("""SELECT version, (metrics ->> 'n_train')::bigint
                            FROM stockml.train(%s, %s, 'ridge', 1, '{"alpha": 1, "auto_deploy": false}')""",
                       (name, symbols))
    ntrain = r[0][1]
    q("SELECT stockml.deploy(%s, %s, reason => 'bench')", (name, r[0][0]))
    q("DROP TABLE IF EXISTS bench_scale_x")
    q("""CREATE TABLE bench_scale_x AS SELECT f.x FROM unnest(%s::text[]) s(symbol),
         LATERAL stockml.features(s.symbol) f""", (symbols,))
    q("VACUUM ANALYZE bench_scale_x")
    q("SELECT sum(x[1]) FROM bench_scale_x")
    t_xscan, _ = timed("SELECT sum(x[1]) FROM bench_scale_x")
    t_batch, _ = timed("SELECT sum(stockml.predict(%s, x)) FROM bench_scale_x", (name,))
    q("DROP TABLE bench_scale_x")
    q("SELECT stockml.drop_model(%s)", (name,))

    t0 = time.perf_counter()
    c = conn.cursor()
    c.execute("""SELECT symbol, day, high, low, close, volume FROM stockml.prices
                  WHERE symbol = ANY(%s) ORDER BY symbol, day""", (symbols,))
    df = pd.DataFrame(c.fetchall(), columns=["symbol", "Date", "High", "Low", "Close", "Volume"])
    df["Date"] = pd.to_datetime(df["Date"])
    for col in ("High", "Low", "Close", "Volume"):
        df[col] = df[col].astype(float)
    vectorised_features(df)
    t_pandas = time.perf_counter() - t0

    print(f"{size} ({nbars} bars): scan {t_scan:.3f} s, features() {t_feat:.3f} s, train {t_train:.2f} s, "
          f"batch predict {t_batch:.3f} s (scan of the feature rows {t_xscan:.3f} s), pandas {t_pandas:.2f} s")
    scale("scaling", "bare ordered scan of the bars", size, nbars, t_scan)
    scale("scaling", "features(), default set", size, nbars, t_feat)
    scale("scaling", "psycopg2 + pandas vectorised features (one run)", size, nbars, t_pandas)
    scale("scaling", "train(ridge), end to end, per training row", size, ntrain, t_train)
    scale("scaling", "bare scan of the stored feature rows", size, nfeat, t_xscan)
    scale("scaling", "batch predict(model, x) over them", size, nfeat, t_batch)

#!/usr/bin/python3
"""Benchmark of the prediction API (issue 12 item 2), as ratios measured in one run:

- training: train(..., horizons => ARRAY[1, 2, 3, 4, 5]) against train() of one head, ridge
  on the default features of SYMBOLS x DAYS synthetic bars (bench/synthetic.py);
- serving: predict_path(model, symbol) of the five heads against predict(model, symbol), for
  every symbol;
- batch: sum(predict(model, x, alias => 'production')) and sum(predict(model, x)) over every
  stored feature row, against the bare scan sum(x[1]) of the same rows.

    bash bench/heads.sh            (a throwaway cluster; BENCH_SYMBOLS, BENCH_DAYS)

Times are the best of REPEAT (BENCH_REPEAT, 3) runs, measured by the client.
"""
import os
import sys
import time

import psycopg2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from synthetic import generate_bars  # noqa: E402

SYMBOLS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
DAYS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
generate_bars(cur, SYMBOLS, DAYS)
symbols = [r[0] for r in (cur.execute("SELECT symbol FROM stockml.symbols WHERE source = 'bench' ORDER BY 1")
                          or cur.fetchall())]


def best(sql, args=None):
    t = float("inf")
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        cur.execute(sql, args)
        cur.fetchall()
        t = min(t, time.perf_counter() - t0)
    return t


train = ("SELECT version FROM stockml.train(%s, %s, 'ridge', 1, '{\"alpha\": 10, \"auto_deploy\": false}'"
         ", horizons => %s)")
t_one = best(train, ("bench_one", symbols, None))
t_five = best(train, ("bench_five", symbols, [1, 2, 3, 4, 5]))
cur.execute("SELECT stockml.deploy('bench_five', 1)")
cur.execute("SELECT n_rows FROM stockml.models WHERE name = 'bench_one' LIMIT 1")
rows = cur.fetchone()[0]

values = ",".join(cur.mogrify("(%s)", (s,)).decode() for s in symbols)
t_predict = best(f"SELECT (stockml.predict('bench_five', s)).predicted_close FROM (VALUES {values}) v(s)")
t_path = best(f"SELECT p.predicted_close FROM (VALUES {values}) v(s), stockml.predict_path('bench_five', s) p")

cur.execute("CREATE TABLE IF NOT EXISTS bench_x AS SELECT f.x FROM stockml.symbols s, stockml.features(s.symbol) f"
            " WHERE s.source = 'bench'")
cur.execute("VACUUM ANALYZE bench_x")
cur.execute("SELECT count(*) FROM bench_x")
nx = cur.fetchone()[0]
t_scan = best("SELECT sum(x[1]) FROM bench_x")
t_batch = best("SELECT sum(stockml.predict('bench_five', x)) FROM bench_x")
t_alias = best("SELECT sum(stockml.predict('bench_five', x, alias => 'production')) FROM bench_x")

print(f"\n{SYMBOLS} symbols x {DAYS} days, {rows} training rows of one head, {nx} feature rows; best of {REPEAT}\n")
print("| measure | time | against | ratio |")
print("| --- | --- | --- | --- |")
print(f"| train, 5 heads | {t_five:.2f} s | 1 head {t_one:.2f} s | {t_five / t_one:.2f}x |")
print(f"| predict_path, 5 heads, {SYMBOLS} symbols | {t_path:.3f} s | predict {t_predict:.3f} s | "
      f"{t_path / t_predict:.2f}x |")
print(f"| batch predict(model, x), {nx} rows | {t_batch:.3f} s | scan sum(x[1]) {t_scan:.3f} s | "
      f"{t_batch / t_scan:.2f}x |")
print(f"| batch predict(model, x, alias => 'production') | {t_alias:.3f} s | predict(model, x) {t_batch:.3f} s | "
      f"{t_alias / t_batch:.2f}x |")

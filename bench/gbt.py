#!/usr/bin/python3
"""Timings behind bench/gbt.sh (connects with the PG* environment).

Usage: gbt.py ROWS.  A seeded ROWS x 16 matrix (a regime interaction, smooth
and discrete terms, noise; features of different scales) and 200 000 held-out rows
of the same law, loaded once into the database.  With the same parameters
(100 trees, learning rate 0.1, 31 leaves, no depth limit, 20 rows a leaf, 255
bins, no L2, no early stopping):

  fit    stockml.fit('gbt', x, y) (the float8[][] read from a one-row table,
         inside the timing) vs scikit-learn's HistGradientBoostingRegressor and
         XGBoost's XGBRegressor(tree_method="hist", grow_policy="lossguide",
         max_leaves=31, max_depth=0, min_child_weight=20, reg_lambda=0,
         max_bin=255) on the numpy arrays already in memory, twice:
         - issue 10's goal, ONE thread each: stockml's fit runs in one backend,
           which is one thread (and OpenBLAS is pinned to one: gbt uses no BLAS
           anyway), so the baselines are pinned to one too: OMP_NUM_THREADS=1
           set below before numpy, scikit-learn or XGBoost are imported (HGBR's
           OpenMP pool) and nthread=1 (XGBoost's).  Same matrices, same
           parameters, early stopping off on all three: the fair comparison of
           the algorithms' implementations, work for work.
         - issue 13's baseline, each at its BEST thread count of 1 and 2 (the
           machine's cores; HGBR's pool raised by threadpoolctl, XGBoost's
           nthread=2), tried in the first repeat, the faster kept after it and
           stated in the row: what a Python engineer gets from the library on
           this machine, stockml still one thread.
         Both are the histogram GBTs a Python engineer would reach for, given
         the arrays in memory (no database read on their side, whereas
         stockml's fit reads its matrix from a table).  bench/run.sh sets
         OMP_WAIT_POLICY=PASSIVE: on a loaded machine spinning OpenMP threads
         made 2 threads 30 times slower than 1
  MSE    held-out mean squared error of each (the one-thread fits); HGBR's with
         random_state 1, 2, ... in its repeats (it bins on a random subsample of 200 000 rows, and on this
         matrix its MSE moves by several per cent with that draw)
  batch  SELECT sum(stockml.predict('bench_gbt', x)) over the held-out rows
         (the fitted model registered as version 1) vs SELECT sum(x[1])

Times are medians of BENCH_REPEAT (default 3) runs, side by side in one run (the
fits interleaved); wall time and CPU time (this process plus the
backend, from /proc: the machine is shared, and CPU time is what a load
changes least).
"""
import io
import os
import sys
import time

# issue 10's comparison is one thread each: pin OpenMP (HGBR) and OpenBLAS before numpy,
# scikit-learn or XGBoost load them (the best-thread-count runs raise HGBR's pool with
# threadpoolctl and pass XGBoost nthread=2)
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import psycopg2  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import median, record, record_paired  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
TEST_ROWS = 200000
P = 16
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
PARAMS = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
          "max_bins": 255, "l2_regularization": 0.0}

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT pg_backend_pid()")
BACKEND = cur.fetchone()[0]


def q(sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


def cpu_now():
    """CPU seconds of this process plus the backend's (utime + stime from /proc)."""
    with open(f"/proc/{BACKEND}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return time.process_time() + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def best_of(fn, repeat=REPEAT):
    """Best wall time and best CPU time (client + backend) of repeat runs, and fn's result."""
    best, best_cpu, result = None, None, None
    for _ in range(repeat):
        c = cpu_now()
        t = time.perf_counter()
        result = fn()
        t = time.perf_counter() - t
        c = cpu_now() - c
        best = t if best is None else min(best, t)
        best_cpu = c if best_cpu is None else min(best_cpu, c)
    return best, best_cpu, result


rng = np.random.default_rng(20261202)


def make(n):
    x = rng.normal(0, 1, (n, P))
    x[:, 1] = rng.uniform(-2, 2, n)
    x[:, 2] = rng.normal(10, 3, n)
    x[:, 3] = rng.integers(0, 7, n)
    x[:, 4] = rng.exponential(1, n) * 1e-2
    # additive terms and one regime interaction, which 100 trees of 31 leaves learn well (a
    # harder law leaves all three far from it and their MSE at the mercy of each greedy path)
    y = (np.sin(x[:, 0]) + 0.5 * np.where(x[:, 2] > 11, 1.0, -1.0) * x[:, 1]
         + 0.2 * x[:, 3] + 30 * x[:, 4] + 0.1 * np.abs(x[:, 8]) + rng.normal(0, 0.5, n))
    return x, y


x, y = make(ROWS)
xt, yt = make(TEST_ROWS)


def load(table, xs, ys):
    q(f"DROP TABLE IF EXISTS {table}")
    q(f"CREATE TABLE {table} (i int, x float8[], y float8)")
    for start in range(0, len(ys), 100000):
        buf = io.StringIO()
        for i in range(start, min(start + 100000, len(ys))):
            buf.write(f"{i}\t{{{','.join(repr(v) for v in xs[i])}}}\t{ys[i]!r}\n")
        buf.seek(0)
        cur.copy_expert(f"COPY {table} FROM STDIN", buf)
    q(f"VACUUM ANALYZE {table}")


load("bench_gbt_train", x, y)
load("bench_gbt_test", xt, yt)
q("DROP TABLE IF EXISTS bench_gbt_matrix")
q("""CREATE TABLE bench_gbt_matrix AS
     SELECT array_agg(x ORDER BY i) AS x, array_agg(y ORDER BY i) AS y FROM bench_gbt_train""")
q("SET max_parallel_workers_per_gather = 0")
print(f"{ROWS} x {P} training rows, {TEST_ROWS} held-out rows")

# --- fit -------------------------------------------------------------------------------
params_json = '{"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20, ' \
              '"max_bins": 255, "l2_regularization": 0, "early_stopping": false}'


def stockml_fit():
    q("DROP TABLE IF EXISTS bench_gbt_model")
    q("CREATE TABLE bench_gbt_model AS SELECT stockml.fit('gbt', x, y, %s) AS model FROM bench_gbt_matrix",
      (params_json,))


hgbr_seed = [0]


def hgbr_fit(threads):
    # a new random_state each repeat: HGBR bins on a random 200 000-row subsample, and the
    # held-out MSE moves with that draw (reported as a range)
    hgbr_seed[0] += 1
    with threadpool_limits(limits=threads, user_api="openmp"):
        return HistGradientBoostingRegressor(early_stopping=False, random_state=hgbr_seed[0], **PARAMS).fit(x, y)


def xgb_fit(threads):
    m = xgb.XGBRegressor(tree_method="hist", grow_policy="lossguide", n_estimators=100, learning_rate=0.1,
                         max_leaves=31, max_depth=0, min_child_weight=20, reg_lambda=0.0, max_bin=255,
                         base_score=float(np.mean(y)), nthread=threads)
    return m.fit(x, y)


# interleaved, so a load on the shared machine hits all of them alike.  Every repeat fits each
# baseline with one thread (issue 10); the first repeat also with 2 threads, and the faster count
# of the two is issue 13's figure: its 1-thread fit is the same repeat's one-thread one, a 2-thread
# fit is run again in each later repeat.
hgbr_mse = []
wall = {"ours": [], "hgbr": [], "xgb": []}  # one thread each
cpu = {"ours": [], "hgbr": [], "xgb": []}
best_wall = {"hgbr": [], "xgb": []}  # the faster thread count
best_cpu = {"hgbr": [], "xgb": []}
threads = {"hgbr": None, "xgb": None}
for r in range(REPEAT):
    t, c, _ = best_of(stockml_fit, 1)
    wall["ours"].append(t)
    cpu["ours"].append(c)
    for name, fn in (("hgbr", hgbr_fit), ("xgb", xgb_fit)):
        t1, c1, m = best_of(lambda: fn(1), 1)
        wall[name].append(t1)
        cpu[name].append(c1)
        if name == "hgbr":
            hgbr_mse.append(float(np.mean((m.predict(xt) - yt) ** 2)))
        else:
            xgbm = m
        if r == 0:
            t2, c2, _ = best_of(lambda: fn(2), 1)
            threads[name] = 1 if t1 <= t2 else 2
            print(f"{name}: 1 thread {t1:.2f} s, 2 threads {t2:.2f} s: {threads[name]} for the best-count figure")
        elif threads[name] == 2:
            t2, c2, _ = best_of(lambda: fn(2), 1)
        best_wall[name].append(t1 if threads[name] == 1 else t2)
        best_cpu[name].append(c1 if threads[name] == 1 else c2)
t_ours, t_hgbr, t_xgb = (median(wall[k]) for k in ("ours", "hgbr", "xgb"))
c_ours, c_hgbr, c_xgb = (median(cpu[k]) for k in ("ours", "hgbr", "xgb"))
tb_hgbr, tb_xgb = (median(best_wall[k]) for k in ("hgbr", "xgb"))
cb_hgbr, cb_xgb = (median(best_cpu[k]) for k in ("hgbr", "xgb"))
print(f"fit wall, one thread each: stockml gbt {t_ours:.2f} s, scikit-learn HGBR {t_hgbr:.2f} s, "
      f"XGBoost hist {t_xgb:.2f} s, medians")
print(f"fit CPU,  one thread each: stockml gbt {c_ours:.2f} s, scikit-learn HGBR {c_hgbr:.2f} s, "
      f"XGBoost hist {c_xgb:.2f} s")
print(f"fit wall, best thread count: HGBR {tb_hgbr:.2f} s ({threads['hgbr']} threads), "
      f"XGBoost {tb_xgb:.2f} s ({threads['xgb']} threads); CPU {cb_hgbr:.2f} s and {cb_xgb:.2f} s")

# --- MSE -------------------------------------------------------------------------------

mse_hgbr = float(np.mean(hgbr_mse))
mse_xgb = float(np.mean((xgbm.predict(xt) - yt) ** 2))

# --- batch predict(model, x) against a bare scan ------------------------------------------
q("SELECT stockml.drop_model('bench_gbt')") if q("SELECT 1 FROM stockml.models WHERE name = 'bench_gbt'") else None
q("""INSERT INTO stockml.models (name, version, algorithm, symbols, horizon, feature_set, feature_spec, params,
                                 metrics, train_start, train_end, n_rows, reference, model)
     SELECT 'bench_gbt', 1, 'gbt', '{BENCH}', 1, 'bench',
            jsonb_build_object('features', (SELECT jsonb_agg(jsonb_build_object('name', 'r' || k,
                                                                                 'indicator', 'log_return', 'k', k))
                                              FROM generate_series(1, %s) k)),
            %s, '{}', '2000-01-01', '2000-01-01', %s, '{}', model FROM bench_gbt_model""",
  (P, params_json, ROWS))
q("SELECT stockml.deploy('bench_gbt', 1, reason => 'bench')")
mse_all = q("SELECT avg((stockml.predict('bench_gbt', x) - y) ^ 2) FROM bench_gbt_test")[0][0]
q("SELECT sum(x[1]) FROM bench_gbt_test")
batch = {"scan": [], "batch": [], "cscan": [], "cbatch": []}
for _ in range(max(REPEAT, 5)):
    t, c, _ = best_of(lambda: q("SELECT sum(x[1]) FROM bench_gbt_test"), 1)
    batch["scan"].append(t)
    batch["cscan"].append(c)
    t, c, _ = best_of(lambda: q("SELECT sum(stockml.predict('bench_gbt', x)) FROM bench_gbt_test"), 1)
    batch["batch"].append(t)
    batch["cbatch"].append(c)
t_scan, c_scan, t_batch, c_batch = (median(batch[k]) for k in ("scan", "cscan", "batch", "cbatch"))
if os.environ.get("BENCH_PERF"):
    # perf profile of the backend: BENCH_PERF=fit or BENCH_PERF=batch, into $BENCH_PERF_OUT (/tmp/gbt_perf.data)
    import subprocess
    pid = q("SELECT pg_backend_pid()")[0][0]
    perf = subprocess.Popen(["perf", "record", "-g", "-p", str(pid), "-o",
                             os.environ.get("BENCH_PERF_OUT", "/tmp/gbt_perf.data")])
    time.sleep(1)
    if os.environ["BENCH_PERF"] == "fit":
        stockml_fit()
    else:
        q("SELECT sum(stockml.predict('bench_gbt', x)) FROM bench_gbt_test")
    perf.send_signal(2)
    perf.wait()
blob = q("SELECT length(model) FROM bench_gbt_model")[0][0]
print(f"held-out MSE: stockml gbt {mse_all:.5f}, HGBR {mse_hgbr:.5f} (mean of random_state 1..{REPEAT}: "
      f"{', '.join(f'{v:.5f}' for v in hgbr_mse)}), XGBoost {mse_xgb:.5f} "
      f"(var(y) {np.var(yt):.5f}); model blob {blob} bytes")
print(f"batch over {TEST_ROWS} rows: predict(model, x) {t_batch:.3f} s, bare scan sum(x[1]) {t_scan:.3f} s "
      f"(CPU {c_batch:.3f} s and {c_scan:.3f} s)")

print()


def pair_ratio(ours, theirs):
    """Median of the per-repeat ratios stockml / baseline (a burst of load hits both of a pair)."""
    return median([o / b for o, b in zip(ours, theirs)])


print("ratios, stockml / baseline (same run, same data, medians of the per-repeat ratios)")
print("  issue 10, one thread each:")
print(f"  fit: stockml gbt / scikit-learn HGBR       {pair_ratio(wall['ours'], wall['hgbr']):6.2f}x wall, "
      f"{pair_ratio(cpu['ours'], cpu['hgbr']):6.2f}x CPU   (target <= 1.5)")
print(f"  fit: stockml gbt / XGBoost hist            {pair_ratio(wall['ours'], wall['xgb']):6.2f}x wall, "
      f"{pair_ratio(cpu['ours'], cpu['xgb']):6.2f}x CPU   (target <= 1.0)")
print("  issue 13 baseline, stockml one thread, the baselines their faster of 1 and 2 threads:")
print(f"  fit: stockml gbt / HGBR, {threads['hgbr']} thread(s)         "
      f"{pair_ratio(wall['ours'], best_wall['hgbr']):6.2f}x wall, "
      f"{pair_ratio(cpu['ours'], best_cpu['hgbr']):6.2f}x CPU")
print(f"  fit: stockml gbt / XGBoost, {threads['xgb']} thread(s)      "
      f"{pair_ratio(wall['ours'], best_wall['xgb']):6.2f}x wall, {pair_ratio(cpu['ours'], best_cpu['xgb']):6.2f}x CPU")
print(f"  held-out MSE: stockml gbt / HGBR (mean)    {mse_all / mse_hgbr:6.3f}    (target within 3 %; "
      f"HGBR's own draws {min(hgbr_mse) / mse_hgbr:.3f} .. {max(hgbr_mse) / mse_hgbr:.3f})")
print(f"  held-out MSE: stockml gbt / XGBoost        {mse_all / mse_xgb:6.3f}")
print(f"  batch predict(model, x) / bare scan        {t_batch / t_scan:6.2f}x wall, {c_batch / c_scan:6.2f}x CPU"
      "   (target <= 3)")

# --- the rows of `make bench` (bench/results.py): same run, same matrix ----------------------
size = f"{ROWS} x {P}"
# issue 10's goal: one thread each
record_paired("gbt", f"gbt fit, 100 trees, {size}, one thread each", wall["ours"], wall["hgbr"], "s",
              "scikit-learn HistGradientBoostingRegressor, same parameters, numpy arrays in memory, "
              "1 thread (OMP_NUM_THREADS=1)", goal="<= 1.5x HGBR (ratio >= 0.67)")
record_paired("gbt", f"gbt fit, 100 trees, {size}, one thread each", wall["ours"], wall["xgb"], "s",
              "XGBoost XGBRegressor(tree_method=hist, lossguide, same leaves/bins/rate), numpy arrays in "
              "memory, 1 thread (nthread=1)", goal="<= 1.0x XGBoost (ratio >= 1)")
record_paired("gbt", f"gbt fit by CPU seconds (client + backend), {size}, one thread each", cpu["ours"],
              cpu["xgb"], "s", "XGBoost's CPU seconds, same one-thread fits")
# issue 13's baseline: each library at its best thread count on this machine
record_paired("gbt", f"gbt fit, 100 trees, {size}, baselines at their best thread count", wall["ours"],
              best_wall["hgbr"], "s",
              f"scikit-learn HGBR, same parameters, {threads['hgbr']} thread(s), its faster count of 1 and 2")
record_paired("gbt", f"gbt fit, 100 trees, {size}, baselines at their best thread count", wall["ours"],
              best_wall["xgb"], "s",
              f"XGBoost hist, same parameters, {threads['xgb']} thread(s), its faster count of 1 and 2")
record("gbt", f"gbt held-out MSE, {TEST_ROWS} rows", mse_all, mse_xgb, "MSE",
       "XGBoost's held-out MSE on the same rows (HGBR's mean: see the benchmark's output)")
record_paired("gbt", f"batch predict(model, x) over {TEST_ROWS} held-out rows", batch["batch"], batch["scan"], "s",
              "bare scan of the same rows (SELECT sum(x[1]))", goal="<= 3x the scan (ratio >= 0.33)")

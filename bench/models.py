#!/usr/bin/python3
"""Timings of the models benchmark of `make bench` (bench/run.sh; connects with the PG* environment).

Usage: models.py SYMBOLS DAYS.  On SYMBOLS x DAYS bars of a seeded geometric
random walk (bench/synthetic.py; reused when already loaded):

  training   stockml.train(ridge, 5 walk-forward folds, refit) over every symbol,
             against psycopg2 -> pandas default features -> the same folds with
             scikit-learn StandardScaler + Ridge -> refit, end to end, two ways: the
             features by the per-symbol reference code (test/reference/indicators.py,
             the same numbers as stockml: both skills are printed, they agree) and
             vectorised over all symbols (bench/pandas_features.py, the fast way a
             pandas user writes them); the faster of the two is the baseline
  memory     peak anonymous memory of the training backend (RssAnon of
             /proc/PID/status, sampled every 2 ms) above its level before,
             against the size of the float8 feature matrix (rows x features x 8)
  predict    stockml.predict(model, symbol) under pgbench (2 clients, random
             symbols) against a FastAPI + scikit-learn endpoint serving the same
             model (bench/models_api.py, uvicorn with 2 workers, 2 client threads;
             the model cached in each worker, only the tail of the bars read)
  batch      SELECT sum(stockml.predict(model, x)) over 1 M stored feature rows
             against a bare scan of the same rows (SELECT sum(x[1])), and count(*)

Times are best of BENCH_REPEAT (default 3) runs; the Python training of one run.
"""
import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import psycopg2
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "test", "reference"))
import indicators  # noqa: E402
sys.path.insert(0, here)
from synthetic import generate_bars  # noqa: E402
from results import record  # noqa: E402
from pandas_features import vectorised_features  # noqa: E402

SYMBOLS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
DAYS = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
BATCH_ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "1000000"))
FOLDS, ALPHA = 5, 1.0

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()


def q(sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


def best_of(fn, repeat=REPEAT):
    best, result = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        t = time.perf_counter() - t
        best = t if best is None else min(best, t)
    return best, result


# --- data: the benchmarks' synthetic bars (bench/synthetic.py) --------------------------
generate_bars(cur, SYMBOLS, DAYS)
nbars = q("SELECT count(*) FROM stockml.prices WHERE source = 'bench'")[0][0]
symbols = [r[0] for r in q("SELECT symbol FROM stockml.symbols WHERE source = 'bench' ORDER BY symbol")]
print(f"{nbars} bars ({len(symbols)} symbols)")
q("SELECT stockml.drop_model(name) FROM stockml.models WHERE name = 'bench_ridge' GROUP BY name")

# --- training ---------------------------------------------------------------------------
train_conn = psycopg2.connect("")
train_conn.autocommit = True
tcur = train_conn.cursor()
tcur.execute("SELECT pg_backend_pid()")
pid = tcur.fetchone()[0]


def cpu_seconds(backend_pid):
    """utime + stime of a process, from /proc (clock ticks)."""
    with open(f"/proc/{backend_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_anon_kb():
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"RssAnon:\s+(\d+)", f.read()).group(1))


peak = [0]
sampling = threading.Event()


def sample():
    while sampling.is_set():
        peak[0] = max(peak[0], rss_anon_kb())
        time.sleep(0.002)


def stockml_train():
    tcur.execute("""SELECT version, metrics FROM stockml.train('bench_ridge', %s, 'ridge', 1, %s)""",
                 (symbols, f'{{"alpha": {ALPHA}, "auto_deploy": false}}'))
    return tcur.fetchone()


t_train = None
cpu_train = None
mem_ratio = None
for _ in range(REPEAT):
    tcur.execute("SELECT 1")
    base = rss_anon_kb()
    peak[0] = base
    sampling.set()
    sampler = threading.Thread(target=sample)
    sampler.start()
    t = time.perf_counter()
    c = cpu_seconds(pid)
    version, metrics = stockml_train()
    t = time.perf_counter() - t
    c = cpu_seconds(pid) - c
    sampling.clear()
    sampler.join()
    t_train = t if t_train is None else min(t_train, t)
    cpu_train = c if cpu_train is None else min(cpu_train, c)
    matrix_bytes = metrics["n_train"] * 16 * 8
    ratio = (peak[0] - base) * 1024 / matrix_bytes
    mem_ratio = ratio if mem_ratio is None else min(mem_ratio, ratio)
    peak_mb = (peak[0] - base) / 1024
stockml_skill = metrics["skill"]
print(f"stockml.train: {t_train:.2f} s ({cpu_train:.2f} s CPU), {metrics['n_train']} rows, skill {stockml_skill:.6g}, "
      f"peak memory +{peak_mb:.0f} MB for a {matrix_bytes / 2**20:.0f} MB matrix")


py_cpu = [0.0]


def python_train(vectorised=False):
    pconn = psycopg2.connect("")
    pcur = pconn.cursor()
    pcur.execute("SELECT pg_backend_pid()")
    backend = pcur.fetchone()[0]
    c0, b0 = time.process_time(), cpu_seconds(backend)
    pcur.execute("""SELECT symbol, day, high, low, close, volume FROM stockml.prices
                     WHERE symbol = ANY(%s) ORDER BY symbol, day""", (symbols,))
    bars = pd.DataFrame(pcur.fetchall(), columns=["Symbol", "Date", "High", "Low", "Close", "Volume"])
    bars["Date"] = pd.to_datetime(bars["Date"])
    if vectorised:
        for col in ("High", "Low", "Close", "Volume"):
            bars[col] = bars[col].astype(float)
        f = vectorised_features(bars.rename(columns={"Symbol": "symbol"}))
        f.insert(0, "day", bars["Date"])
        f["close"] = bars["Close"]
        f["symbol"] = bars["Symbol"]
        feat = f.dropna()
    else:
        frames = []
        for sym, b in bars.groupby("Symbol", sort=True):
            f = indicators.default_features(b.reset_index(drop=True)).iloc[indicators.DEFAULT_WARMUP - 1:]
            f["close"] = b["Close"].to_numpy()[indicators.DEFAULT_WARMUP - 1:]
            f["symbol"] = sym
            frames.append(f)
        feat = pd.concat(frames).dropna()
    feat = feat.sort_values(["day", "symbol"], kind="stable")
    x = feat.iloc[:, 1:17].to_numpy()
    y = feat["y"].to_numpy()
    close = feat["close"].to_numpy()
    days, day_index = np.unique(feat["day"].to_numpy(), return_inverse=True)
    day_start = np.searchsorted(day_index, np.arange(len(days) + 1))
    test_days = len(days) // (FOLDS + 1)
    err, naive = [], []
    for k in range(FOLDS):
        ts = len(days) - (FOLDS - k) * test_days
        tr, a, b = day_start[ts - 1], day_start[ts], day_start[ts + test_days]
        scaler = StandardScaler().fit(x[:tr])
        model = Ridge(alpha=ALPHA).fit(scaler.transform(x[:tr]), y[:tr])
        pred = model.predict(scaler.transform(x[a:b]))
        err.append(np.abs(close[a:b] * np.exp(pred) - close[a:b] * np.exp(y[a:b])))
        naive.append(np.abs(close[a:b] - close[a:b] * np.exp(y[a:b])))
    scaler = StandardScaler().fit(x)
    Ridge(alpha=ALPHA).fit(scaler.transform(x), y)
    py_cpu[0] = time.process_time() - c0 + cpu_seconds(backend) - b0
    pconn.close()
    return 1 - np.concatenate(err).mean() / np.concatenate(naive).mean(), len(y)


t_py_ref, (py_skill, py_rows) = best_of(python_train, repeat=1)
print(f"psycopg2 + pandas (reference code) + scikit-learn: {t_py_ref:.2f} s ({py_cpu[0]:.2f} s CPU), "
      f"{py_rows} rows, skill {py_skill:.6g}")
py_cpu_ref = py_cpu[0]
t_py_vec, (py_skill_vec, py_rows_vec) = best_of(lambda: python_train(vectorised=True), repeat=1)
print(f"psycopg2 + pandas (vectorised) + scikit-learn: {t_py_vec:.2f} s ({py_cpu[0]:.2f} s CPU), "
      f"{py_rows_vec} rows, skill {py_skill_vec:.6g} (unseeded EWMs: not the same features)")
t_py = min(t_py_ref, t_py_vec)
py_cpu[0] = min(py_cpu_ref, py_cpu[0])

# --- predict(model, symbol): pgbench against FastAPI + scikit-learn ----------------------
q("SELECT stockml.deploy('bench_ridge', %s, reason => 'bench')", (version,))
script = os.path.join(os.environ.get("BENCH_TMP", "/tmp"), "predict.pgbench")
with open(script, "w") as f:
    f.write(f"\\set s random(1, {len(symbols)})\n"
            "SELECT * FROM stockml.predict('bench_ridge', 'B' || lpad(:s::text, 4, '0'));\n")
pgbench = os.path.join(os.environ.get("BENCH_BINDIR", ""), "pgbench")
out = subprocess.run([pgbench, "-n", "-c", "2", "-j", "2", "-T", str(SECONDS), "-f", script],
                     capture_output=True, text=True, check=True).stdout
tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
print(f"pgbench predict(model, symbol), 2 clients: {tps:.0f} per second")

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
api = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", here, "--port", str(port),
                        "--workers", "2", "--log-level", "warning", "models_api:app"],
                       env=dict(os.environ, BENCH_MODEL="bench_ridge"))
try:
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", f"/predict/{symbols[0]}")
            first = c.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    count = [0, 0]
    stop = time.perf_counter() + SECONDS

    def client(i):
        rng = np.random.default_rng(i)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < stop:
            c.request("GET", f"/predict/{symbols[rng.integers(len(symbols))]}")
            if c.getresponse().read():
                count[i] += 1

    t = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rps = sum(count) / (time.perf_counter() - t)
finally:
    api.terminate()
    api.wait()
print(f"FastAPI + scikit-learn /predict, 2 clients: {rps:.0f} per second ({first[:80]!r}...)")

# --- batch predict(model, x) against a bare scan ------------------------------------------
q("DROP TABLE IF EXISTS bench_features")
q("""CREATE TABLE bench_features AS
     SELECT f.x FROM stockml.symbols s, LATERAL stockml.features(s.symbol) f
      WHERE s.source = 'bench' LIMIT %s""", (BATCH_ROWS,))
q("VACUUM ANALYZE bench_features")
rows = q("SELECT count(*) FROM bench_features")[0][0]
q("SET max_parallel_workers_per_gather = 0")
q("SELECT sum(x[1]) FROM bench_features")
t_scan, _ = best_of(lambda: q("SELECT sum(x[1]) FROM bench_features"), repeat=max(REPEAT, 5))
t_count, _ = best_of(lambda: q("SELECT count(*) FROM bench_features"), repeat=max(REPEAT, 5))
t_batch, _ = best_of(lambda: q("SELECT sum(stockml.predict('bench_ridge', x)) FROM bench_features"),
                     repeat=max(REPEAT, 5))
print(f"batch over {rows} rows: predict(model, x) {t_batch:.3f} s, bare scan sum(x[1]) {t_scan:.3f} s, "
      f"count(*) {t_count:.3f} s")
q("DROP TABLE bench_features")

print()
print("ratios (same run, same data)")
print(f"  ridge training: pandas + scikit-learn / stockml.train   {t_py / t_train:6.1f}x faster   (target >= 10)")
print(f"    the same by CPU time (client + backends)              {py_cpu[0] / cpu_train:6.1f}x faster")
print(f"  predict(model, symbol): pgbench / FastAPI requests/s   {tps / rps:6.1f}x           (target >= 10)")
print(f"  batch predict(model, x) / bare scan sum(x[1])          {t_batch / t_scan:6.2f}x         (target <= 1.5)")
print(f"  batch predict(model, x) / count(*), which reads no value {t_batch / t_count:6.2f}x")
print(f"  peak training memory / float8 feature matrix           {mem_ratio:6.2f}x           (target <= 1.5)")
print(f"  skills agree: stockml {stockml_skill:.9f}, scikit-learn {py_skill:.9f}")

# --- the rows of `make bench` (bench/results.py) ------------------------------------------
size = f"{SYMBOLS} x {DAYS} bars"
record("models", f"ridge training (5 walk-forward folds + refit), {size}", t_train, t_py, "s",
       "psycopg2 + pandas features (the faster of reference code and vectorised) + scikit-learn "
       "StandardScaler + Ridge, same folds", cpu=(cpu_train, py_cpu[0]))
record("models", "predict(model, symbol), 2 clients", tps, rps, "req/s",
       "FastAPI + scikit-learn (uvicorn, 2 workers, model cached, tail read of the bars)",
       higher_is_better=True)
record("models", f"batch predict(model, x) over {rows} stored feature rows", t_batch, t_scan, "s",
       "bare scan of the same rows (SELECT sum(x[1]))")
record("models", "peak training memory (MB)", peak_mb, matrix_bytes / 2**20, "MB",
       "the float8 feature matrix it trains on (rows x 16 x 8 bytes)")

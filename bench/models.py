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
             model (bench/models_api.py, 2 uvicorn processes of one worker, 2 client threads;
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
from results import median, paired, record, record_paired  # noqa: E402
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


def train_once(drift_null=True):
    """One stockml.train; without the drift null the table is renamed away inside a
    transaction that is rolled back (train() then skips the null, as for a database
    that has none), so the two differ by that cost only.  Returns wall seconds, CPU
    seconds of the backend, the peak memory above the level before (kB), the metrics."""
    if not drift_null:
        tcur.execute("BEGIN")
        tcur.execute("ALTER TABLE stockml.drift_null RENAME TO drift_null_bench_off")
    tcur.execute("SELECT 1")
    base = rss_anon_kb()
    peak[0] = base
    sampling.set()
    sampler = threading.Thread(target=sample)
    sampler.start()
    t = time.perf_counter()
    c = cpu_seconds(pid)
    _, m = stockml_train()
    t = time.perf_counter() - t
    c = cpu_seconds(pid) - c
    sampling.clear()
    sampler.join()
    if not drift_null:
        tcur.execute("ROLLBACK")
    return t, c, peak[0] - base, m


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


# side by side: every repeat runs stockml.train with and without the drift null and the
# vectorised Python pipeline one after the other; the per-symbol reference code (the same
# numbers as stockml) runs once, and the faster of it and each vectorised run is the baseline
t_py_ref, (py_skill, py_rows) = best_of(python_train, repeat=1)
print(f"psycopg2 + pandas (reference code) + scikit-learn: {t_py_ref:.2f} s ({py_cpu[0]:.2f} s CPU), "
      f"{py_rows} rows, skill {py_skill:.6g}")
py_cpu_ref = py_cpu[0]
runs = {"with": [], "without": [], "py": [], "py_cpu": [], "cpu": []}
peaks = []
for r in range(REPEAT):
    t, c, peak_kb, metrics = train_once(True)
    runs["with"].append(t)
    runs["cpu"].append(c)
    version = int(q("SELECT max(version) FROM stockml.models WHERE name = 'bench_ridge'")[0][0])
    t0, _, _, _ = train_once(False)
    runs["without"].append(t0)
    t_vec, (py_skill_vec, py_rows_vec) = best_of(lambda: python_train(vectorised=True), repeat=1)
    runs["py"].append(min(t_vec, t_py_ref))
    runs["py_cpu"].append(min(py_cpu[0], py_cpu_ref))
    print(f"repeat {r + 1}: stockml.train {t:.2f} s ({c:.2f} s CPU), without the drift null {t0:.2f} s; "
          f"pandas vectorised + scikit-learn {t_vec:.2f} s ({py_cpu[0]:.2f} s CPU)")
    matrix_bytes = metrics["n_train"] * 16 * 8
    peaks.append(peak_kb)
stockml_skill = metrics["skill"]
peak_mb = min(peaks) / 1024        # the least of the repeats: the sampler only misses peaks
mem_ratio = min(peaks) * 1024 / matrix_bytes
t_train, t_py = median(runs["with"]), median(runs["py"])
cpu_train, py_cpu[0] = median(runs["cpu"]), median(runs["py_cpu"])
print(f"stockml.train: {t_train:.2f} s median ({cpu_train:.2f} s CPU), {metrics['n_train']} rows, "
      f"skill {stockml_skill:.6g}, peak memory +{peak_mb:.0f} MB for a {matrix_bytes / 2**20:.0f} MB matrix")
print(f"psycopg2 + pandas (vectorised) + scikit-learn: skill {py_skill_vec:.6g}, {py_rows_vec} rows "
      "(unseeded EWMs: not the same features)")

# --- predict(model, symbol): pgbench against the FastAPI services ----------------------
q("SELECT stockml.deploy('bench_ridge', %s, reason => 'bench')", (version,))
script = os.path.join(os.environ.get("BENCH_TMP", "/tmp"), "predict.pgbench")
with open(script, "w") as f:
    f.write(f"\\set s random(1, {len(symbols)})\n"
            "SELECT * FROM stockml.predict('bench_ridge', 'B' || lpad(:s::text, 4, '0'));\n")
pgbench = os.path.join(os.environ.get("BENCH_BINDIR", ""), "pgbench")


def pgbench_tps():
    out = subprocess.run([pgbench, "-n", "-M", "prepared", "-c", "2", "-j", "2", "-T", str(SECONDS),
                          "-f", script], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def start_api(cache):
    """bench/models_api.py under 2 uvicorn processes of one worker each (the machine's cores),
    each on a port of its own; cache: its in-memory variant (BENCH_CACHE=1).  Not uvicorn
    --workers 2: on this machine its worker processes answered 22 requests a second where one
    process alone answers 4 000 (a dict hit), a stall of about 45 ms a request that a Python
    engineer would not ship.  Returns the processes and their ports once they answer."""
    procs, ports = [], []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        procs.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", here, "--port", str(port),
                                       "--log-level", "warning", "models_api:app"],
                                      env=dict(os.environ, BENCH_MODEL="bench_ridge",
                                               BENCH_CACHE="1" if cache else "0")))
        ports.append(port)
    for port in ports:
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", f"/predict/{symbols[0]}")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            for p in procs:
                p.kill()
            sys.exit("the FastAPI service did not start")
    return procs, ports


def api_rps(ports):
    """Requests per second of 2 client threads with keep-alive connections, random symbols,
    client i on the service process of ports[i]."""
    count = [0, 0]
    stop = time.perf_counter() + SECONDS

    def client(i):
        rng = np.random.default_rng(i)
        c = http.client.HTTPConnection("127.0.0.1", ports[i], timeout=30)
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
    return sum(count) / (time.perf_counter() - t)


apis = [start_api(False), start_api(True)]
try:
    # warm the cache of the cached service: its first request of a symbol computes the answer
    # (each process holds a cache of its own)
    for port in apis[1][1]:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for sym in symbols:
            c.request("GET", f"/predict/{sym}")
            c.getresponse().read()
    serve = {"tps": [], "api": [], "cached": []}
    for _ in range(REPEAT):
        serve["tps"].append(pgbench_tps())
        serve["api"].append(api_rps(apis[0][1]))
        serve["cached"].append(api_rps(apis[1][1]))
finally:
    for procs, _ in apis:
        for p in procs:
            p.terminate()
            p.wait()
tps, rps, rps_cached = median(serve["tps"]), median(serve["api"]), median(serve["cached"])
print(f"pgbench predict(model, symbol), 2 clients: {tps:.0f} per second (median of {REPEAT})")
print(f"FastAPI + scikit-learn /predict, tail read, 2 clients: {rps:.0f} per second")
print(f"FastAPI /predict answering from its in-memory cache, 2 clients: {rps_cached:.0f} per second")

# --- batch predict(model, x) against a bare scan ------------------------------------------
q("DROP TABLE IF EXISTS bench_features")
q("""CREATE TABLE bench_features AS
     SELECT f.x FROM stockml.symbols s, LATERAL stockml.features(s.symbol) f
      WHERE s.source = 'bench' LIMIT %s""", (BATCH_ROWS,))
q("VACUUM ANALYZE bench_features")
rows = q("SELECT count(*) FROM bench_features")[0][0]
q("SET max_parallel_workers_per_gather = 0")
q("SELECT sum(x[1]) FROM bench_features")
batch, _ = paired({"scan": lambda: q("SELECT sum(x[1]) FROM bench_features"),
                   "count": lambda: q("SELECT count(*) FROM bench_features"),
                   "batch": lambda: q("SELECT sum(stockml.predict('bench_ridge', x)) FROM bench_features")},
                  max(REPEAT, 5))
t_scan, t_count, t_batch = median(batch["scan"]), median(batch["count"]), median(batch["batch"])
print(f"batch over {rows} rows: predict(model, x) {t_batch:.3f} s, bare scan sum(x[1]) {t_scan:.3f} s, "
      f"count(*) {t_count:.3f} s (medians of {len(batch['scan'])})")
q("DROP TABLE bench_features")

print()
print(f"ratios (same run, same data, medians of {REPEAT} side by side)")
print(f"  ridge training: pandas + scikit-learn / stockml.train   {t_py / t_train:6.1f}x faster   (target >= 20)")
print(f"    the same by CPU time (client + backends)              {py_cpu[0] / cpu_train:6.1f}x faster")
print(f"    without the drift null                                {t_py / median(runs['without']):6.1f}x faster")
print(f"  predict(model, symbol): pgbench / FastAPI tail read    {tps / rps:6.1f}x")
print(f"  predict(model, symbol): pgbench / FastAPI cached       {tps / rps_cached:6.2f}x         (target >= 10)")
print(f"  batch predict(model, x) / bare scan sum(x[1])          {t_batch / t_scan:6.2f}x         (target <= 1.2)")
print(f"  batch predict(model, x) / count(*), which reads no value {t_batch / t_count:6.2f}x")
print(f"  peak training memory / float8 feature matrix           {mem_ratio:6.2f}x           (target <= 1.5)")
print(f"  skills agree: stockml {stockml_skill:.9f}, scikit-learn {py_skill:.9f}")

# --- the rows of `make bench` (bench/results.py) ------------------------------------------
size = f"{SYMBOLS} x {DAYS} bars"
PY_TRAIN = ("psycopg2 fetch + pandas features (the faster of the per-symbol reference code and the "
            "vectorised one) + scikit-learn StandardScaler + Ridge, same folds and refit; no registry "
            "writes. Fair because it is the pipeline the seed ran, each step in its fastest form")
record_paired("models", f"ridge training end to end (5 walk-forward folds + refit), {size}", runs["with"],
              runs["py"], "s", PY_TRAIN, goal=">= 20x")
record_paired("models", f"ridge training without the drift null (table renamed away), {size}",
              runs["without"], runs["py"], "s", PY_TRAIN)
record("models", f"ridge training by CPU seconds (client + backends), {size}", cpu_train, py_cpu[0], "s",
       "the same Python pipeline's CPU seconds (medians)", runs=REPEAT)
record_paired("models", "predict(model, symbol), 2 clients (pgbench, prepared)", serve["tps"], serve["api"],
              "req/s", "FastAPI + scikit-learn (2 uvicorn processes, model loaded at start-up, reads only the "
              "last 400 bars, reference feature code): the seed's service without its cache",
              higher_is_better=True)
record_paired("models", "predict(model, symbol), 2 clients (pgbench, prepared)", serve["tps"],
              serve["cached"], "req/s", "the same FastAPI service answering from an in-process cache "
              "until a new bar arrives (the seed's Redis cache, without the network hop)",
              higher_is_better=True, goal=">= 10x")
record_paired("models", f"batch predict(model, x) over {rows} stored feature rows", batch["batch"], batch["scan"],
              "s", "bare scan of the same rows (SELECT sum(x[1]))", goal="<= 1.2x the scan (ratio >= 0.83)")
record("models", "peak training memory (MB)", peak_mb, matrix_bytes / 2**20, "MB",
       "the float8 feature matrix it trains on (rows x 16 x 8 bytes)")

#!/usr/bin/python3
"""The predict benchmark of `make bench` (bench/run.sh; connects with the PG* environment):
stockml.predict(model, symbol) on long histories, served from its kept feature state
(src/feature_state.c, issue 13 item 1), against the protocol and the Python stack.

Usage: predict.py SYMBOLS DAYS.  On SYMBOLS x DAYS bars (bench/synthetic.py; 5 000-bar
histories by default) a ridge model of the default feature set is trained and deployed;
then, each for 2 and for 16 clients, one after the other in the same run:

  SELECT 1        pgbench -M prepared: what the protocol allows on this cluster
  predict         pgbench -M prepared, SELECT * FROM stockml.predict('bench_predict', :sym),
                  random symbols, the kept state warm (each client's backend reads a
                  symbol's bars once, the first time it serves it)
  all bars        the same with stockml.feature_state_cache_size = 0: every call reads and
                  computes over all the symbol's bars (0.2.0's predict before the state)
  FastAPI cached  bench/predict_api_cached.py: 2 uvicorn processes (the 2 cores), answering
                  from an in-process cache (the seed's architecture), every timed request a
                  hit; as many client threads as pgbench has clients, each on one
                  keep-alive connection (bench/http_load.c, C: a Python client would bound it)

Ratios: predict / FastAPI cached (goal >= 10) and predict / SELECT 1 (goal >= 0.3), with the
absolute rates.  BENCH_SECONDS (default 10) per measurement.
"""
import http.client
import os
import re
import socket
import subprocess
import sys
import time

import psycopg2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from synthetic import generate_bars  # noqa: E402
from results import record  # noqa: E402

SYMBOLS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
DAYS = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = [2, 16]
MODEL = "bench_predict"

conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()


def q(sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


generate_bars(cur, SYMBOLS, DAYS)
symbols = [r[0] for r in q("SELECT symbol FROM stockml.symbols WHERE source = 'bench' ORDER BY symbol")]
nbars = q("SELECT count(*) FROM stockml.prices WHERE symbol = %s", (symbols[0],))[0][0]
if not q("SELECT 1 FROM stockml.models WHERE name = %s", (MODEL,)):
    version = q("SELECT version FROM stockml.train(%s, %s)", (MODEL, symbols))[0][0]
    q("SELECT stockml.deploy(%s, %s, reason => 'bench')", (MODEL, version))
print(q("SELECT * FROM stockml.predict(%s, %s)", (MODEL, symbols[0]))[0])

tmp = os.environ.get("BENCH_TMP", "/tmp")
pgbench = os.path.join(os.environ.get("BENCH_BINDIR", ""), "pgbench")


def run_pgbench(sql, clients, options=""):
    script = os.path.join(tmp, "predict_bench.pgbench")
    with open(script, "w") as f:
        f.write(f"\\set s random(1, {len(symbols)})\n{sql}\n")
    env = dict(os.environ, PGOPTIONS=options)
    out = subprocess.run([pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
                          "-T", str(SECONDS), "-f", script],
                         capture_output=True, text=True, check=True, env=env).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


PREDICT = f"SELECT * FROM stockml.predict('{MODEL}', 'B' || lpad(:s::text, 4, '0'));"


# the HTTP client: C threads on keep-alive connections (bench/http_load.c), as light as
# pgbench, so the baseline is not bounded by a Python client on the shared cores
http_load = os.path.join(tmp, "http_load")
subprocess.run(["gcc", "-O2", "-pthread", "-o", http_load, os.path.join(here, "http_load.c")], check=True)


def run_fastapi(clients):
    out = subprocess.run([http_load, ",".join(map(str, ports)), str(clients), str(SECONDS)] + symbols,
                         capture_output=True, text=True, check=True).stdout
    return float(out)


# Two uvicorn processes of one worker each (the 2 cores), clients alternating between
# them: `uvicorn --workers 2` hands its workers the listening socket by descriptor, and
# asyncio then leaves Nagle's algorithm on for the accepted connections (it sets
# TCP_NODELAY only on sockets it knows are TCP), which stalls every keep-alive response
# behind a 40 ms delayed ACK: 19 requests/s instead of ~400 on one connection here.
ports = []
apis = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ports.append(s.getsockname()[1])
    s.close()
    apis.append(subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", here, "--port", str(ports[-1]),
                                  "--workers", "1", "--log-level", "warning", "predict_api_cached:app"],
                                 env=dict(os.environ, BENCH_MODEL=MODEL)))
figures = {}
try:
    for port in ports:
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", f"/predict/{symbols[0]}")
                first = c.getresponse().read()
                break
            except OSError:
                time.sleep(0.1)
        # fill the process's cache with every symbol before timing
        for sym in symbols:
            c.request("GET", f"/predict/{sym}")
            c.getresponse().read()
    print(f"FastAPI cached answers {first[:100]!r}...")
    for clients in CLIENTS:
        one = run_pgbench("SELECT 1;", clients)
        kept = run_pgbench(PREDICT, clients)
        full = run_pgbench(PREDICT, clients, "-c stockml.feature_state_cache_size=0")
        api_rps = run_fastapi(clients)
        figures[clients] = (one, kept, full, api_rps)
        print(f"{clients:2d} clients: SELECT 1 {one:8.0f}/s, predict {kept:8.0f}/s, all bars {full:6.0f}/s, "
              f"FastAPI cached {api_rps:6.0f}/s")
finally:
    for api in apis:
        api.terminate()
        api.wait()

print()
print(f"ratios (same run, {nbars}-bar histories, {len(symbols)} symbols)")
for clients, (one, kept, full, api_rps) in figures.items():
    print(f"  {clients:2d} clients: predict / FastAPI cached {kept / api_rps:6.1f}x (goal >= 10), "
          f"predict / SELECT 1 {kept / one:5.2f} (goal >= 0.3), kept state / all bars {kept / full:6.1f}x")

size = f"{nbars}-bar histories"
for clients, (one, kept, full, api_rps) in figures.items():
    record("predict", f"predict(model, symbol), {size}, {clients} clients", kept, api_rps, "req/s",
           "FastAPI + scikit-learn answering from an in-process cache (2 uvicorn processes, every "
           "request a hit, keep-alive C clients)", higher_is_better=True, goal=">= 10")
    record("predict", f"predict(model, symbol), {size}, {clients} clients", kept, one, "req/s",
           "SELECT 1 under the same pgbench (-M prepared): the protocol's rate",
           higher_is_better=True, goal=">= 0.3")
    record("predict", f"predict(model, symbol), {size}, {clients} clients", kept, full, "req/s",
           "the same predict() computed from all bars (stockml.feature_state_cache_size = 0)",
           higher_is_better=True)

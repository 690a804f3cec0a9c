#!/usr/bin/python3
"""Benchmark: prices over HTTP against the mock server (test/fixtures/mock_http.py).

    BENCH_ONLY=ingest_http make bench   (a throwaway cluster of its own: bench/run.sh)
    PGHOST=... PGPORT=... PGDATABASE=... /usr/bin/python3 bench/ingest_http.py

Needs a database with stockml installed and a superuser connection.  Starts the
mock server itself, with 50 ms of latency on the LAT* symbols, and points this session at it (stockml.yahoo_url,
stockml.allowed_hosts).  Prints two ratios, each against a baseline measured
in the same run, each the median of BENCH_REPEAT (3) pairs:

  1. ingest_yahoo of 10 000 bars from the mock  /  COPY of the same rows from a file
     into stockml.prices (target <= 3);
  2. refresh() of 200 symbols with 50 ms latency each, stockml.http_concurrency = 8
     /  the same with stockml.http_concurrency = 1, i.e. sequential (target <= 0.25).
Everything it stores is deleted at the end.  Why COPY is the fair baseline:
it is the fastest way PostgreSQL loads rows, what a Python loader that already
parsed the JSON into a CSV would end with; ingest_yahoo also fetches, parses
and validates, so its ratio to COPY is the cost of those.
"""
import csv
import datetime
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import median, record, record_paired  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
NBARS = int(os.environ.get("BENCH_HTTP_BARS", "10000"))
NSYMBOLS = int(os.environ.get("BENCH_HTTP_SYMBOLS", "200"))
LATENCY_MS = 50
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def start_mock(tmp):
    portfile = os.path.join(tmp, "port")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "test", "fixtures", "mock_http.py"),
                             portfile, "--latency-ms", str(LATENCY_MS)])
    for _ in range(100):
        if os.path.exists(portfile):
            return proc, int(open(portfile).read())
        time.sleep(0.1)
    proc.kill()
    sys.exit("mock server did not start")


def timed(cur, sql, args=None):
    t0 = time.perf_counter()
    cur.execute(sql, args)
    rows = cur.fetchall() if cur.description else None
    return time.perf_counter() - t0, rows


def main():
    tmp = tempfile.mkdtemp(prefix="stockml-bench-")
    mock, port = start_mock(tmp)
    try:
        base = "http://127.0.0.1:%d" % port
        # the same 10 000 bars as CSV, from the mock's own JSON
        req = urllib.request.Request(base + "/v8/finance/chart/GEN%d" % NBARS,
                                     headers={"User-Agent": "Mozilla/5.0 bench"})
        doc = json.load(urllib.request.urlopen(req))["chart"]["result"][0]
        q = doc["indicators"]["quote"][0]
        adj = doc["indicators"]["adjclose"][0]["adjclose"]
        buf = io.StringIO()
        w = csv.writer(buf)
        for i, ts in enumerate(doc["timestamp"]):
            day = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).date()
            w.writerow(["BENCH_COPY", day, q["open"][i], q["high"][i], q["low"][i], q["close"][i],
                        adj[i], q["volume"][i], "csv"])
        csv_path = os.path.join(tmp, "bars.csv")
        with open(csv_path, "w") as f:
            f.write(buf.getvalue())

        conn = psycopg2.connect("")
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SET stockml.yahoo_url = %s", (base,))
        cur.execute("SET stockml.allowed_hosts = '127.0.0.1'")
        cur.execute("SET stockml.http_retries = 0")
        cur.execute("SET client_min_messages = warning")
        cur.execute("DELETE FROM stockml.symbols WHERE symbol = 'BENCH_COPY' OR symbol LIKE 'GEN%%'"
                    " OR symbol LIKE 'LAT%%'")

        # 1. 10 000 bars: ingest_yahoo vs COPY
        copies, https = [], []
        for _ in range(REPEAT):
            cur.execute("DELETE FROM stockml.symbols WHERE symbol IN ('BENCH_COPY', %s)", ("GEN%d" % NBARS,))
            cur.execute("INSERT INTO stockml.symbols (symbol, source) VALUES ('BENCH_COPY', 'csv')")
            t0 = time.perf_counter()
            with open(csv_path) as f:
                cur.copy_expert("COPY stockml.prices (symbol, day, open, high, low, close, adj_close,"
                                " volume, source) FROM STDIN (FORMAT csv)", f)
            copies.append(time.perf_counter() - t0)
            t, rows = timed(cur, "SELECT status, rows_inserted FROM stockml.ingest_yahoo(%s)",
                            ("GEN%d" % NBARS,))
            assert rows == [("ok", NBARS)], rows
            https.append(t)
        best_copy, best_http = median(copies), median(https)
        cur.execute("SELECT count(*) FROM stockml.prices WHERE symbol = 'BENCH_COPY'")
        assert cur.fetchone()[0] == NBARS
        print("ingest %d bars: COPY from a file %.3f s, ingest_yahoo from the mock %.3f s, "
              "ratio %.2f (target <= 1.3)" % (NBARS, best_copy, best_http, best_http / best_copy))

        # 2. refresh of 200 symbols, 50 ms latency each: parallel vs sequential
        symbols = ["LAT%03d" % i for i in range(1, NSYMBOLS + 1)]
        best = {}
        for concurrency in (1, 8):
            best[concurrency] = float("inf")
            for _ in range(REPEAT if concurrency > 1 else 1):
                cur.execute("DELETE FROM stockml.symbols WHERE symbol LIKE 'LAT%%'")
                cur.execute("SET stockml.http_concurrency = %s", (concurrency,))
                t, rows = timed(cur, "SELECT count(*) FILTER (WHERE status = 'ok'), sum(rows_inserted)"
                                     " FROM stockml.refresh(%s)", (symbols,))
                assert rows == [(NSYMBOLS, 5 * NSYMBOLS)], rows
                best[concurrency] = min(best[concurrency], t)
        print("refresh %d symbols, %d ms latency: sequential %.2f s, http_concurrency = 8 %.2f s, "
              "ratio %.3f (target <= 0.25)" % (NSYMBOLS, LATENCY_MS, best[1], best[8], best[8] / best[1]))

        record_paired("ingest_http", f"ingest_yahoo of {NBARS} bars from the mock server", https, copies, "s",
                      "COPY of the same rows from a CSV file into stockml.prices (no HTTP, no parsing of JSON)",
                      goal="<= 1.3x COPY (ratio >= 0.77)")
        record("ingest_http", f"refresh() of {NSYMBOLS} symbols, {LATENCY_MS} ms latency each, http_concurrency = 8",
               best[8], best[1], "s", "the same refresh() with http_concurrency = 1 (sequential fetches)")
        cur.execute("DELETE FROM stockml.symbols WHERE symbol = 'BENCH_COPY' OR symbol LIKE 'GEN%%'"
                    " OR symbol LIKE 'LAT%%'")
        cur.execute("DELETE FROM stockml.ingest_log WHERE symbol LIKE 'GEN%%' OR symbol LIKE 'LAT%%'")
        conn.close()
    finally:
        mock.kill()


if __name__ == "__main__":
    main()

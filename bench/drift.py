#!/usr/bin/python3
"""Benchmark: stockml.ks_test + stockml.wasserstein against scipy on the same 2 x 1 M samples.

    BENCH_ONLY=drift make bench     (a throwaway cluster of its own: bench/run.sh)
    PGHOST=... PGPORT=... PGDATABASE=... /usr/bin/python3 bench/drift.py [n]

Needs a database with stockml installed.  Both samples are
built by the same integer Weyl generator on both sides (test/reference/drift.py),
so PostgreSQL and scipy see identical doubles; the results are compared too.
Times are best of 3; stockml's is measured inside the server (clock_timestamp
around the two calls on arrays already in memory), scipy's around the two
calls on numpy arrays already built.  Why scipy is the fair baseline: it is the library a
Python engineer calls for both statistics (compiled code), and it is given the arrays
already built, so only the statistics are timed on both sides.
"""
import os
import sys
import time

import numpy as np
import psycopg2
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "reference"))
from drift import weyl  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import record  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
A, B, SHIFT = 2654435761, 2246822519, 0.001

ref = weyl(n, A, 0.0)
cur = weyl(n, B, SHIFT)
best_py = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    ks = stats.ks_2samp(ref, cur)
    wd = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
    best_py = min(best_py, time.perf_counter() - t0)

conn = psycopg2.connect("")
cur_ = conn.cursor()
cur_.execute("""
CREATE TEMP TABLE bench_drift AS
SELECT (SELECT array_agg(((i * %(a)s) %% 4294967296)::float8 / 4294967296
                 + ((i * ((%(a)s * 69069 + 1) %% 4294967296)) %% 4294967296)::float8 / 4294967296 ORDER BY i)
          FROM generate_series(1::bigint, %(n)s) i) AS ref,
       (SELECT array_agg(((i * %(b)s) %% 4294967296)::float8 / 4294967296
                 + ((i * ((%(b)s * 69069 + 1) %% 4294967296)) %% 4294967296)::float8 / 4294967296 + %(s)s ORDER BY i)
          FROM generate_series(1::bigint, %(n)s) i) AS cur""", {"a": A, "b": B, "n": n, "s": SHIFT})
cur_.execute("""
CREATE FUNCTION pg_temp.bench() RETURNS TABLE (seconds float8, statistic float8, p_value float8, w float8)
LANGUAGE plpgsql AS $$
DECLARE r float8[]; c float8[]; t0 timestamptz;
BEGIN
  SELECT b.ref, b.cur INTO r, c FROM bench_drift b;
  t0 := clock_timestamp();
  SELECT k.statistic, k.p_value, stockml.wasserstein(r, c) INTO statistic, p_value, w
    FROM stockml.ks_test(r, c) k;
  seconds := extract(epoch FROM clock_timestamp() - t0);
  RETURN NEXT;
END $$""")
best_pg = float("inf")
for _ in range(3):
    cur_.execute("SELECT * FROM pg_temp.bench()")
    secs, stat, p, w = cur_.fetchone()
    best_pg = min(best_pg, secs)
conn.close()

print(f"samples: 2 x {n}")
print(f"scipy ks_2samp + wasserstein_distance: {best_py:.3f} s  (D={ks.statistic:.6g}, p={ks.pvalue:.6g}, W={wd:.6g})")
print(f"stockml ks_test + wasserstein:        {best_pg:.3f} s  (D={stat:.6g}, p={p:.6g}, W={w:.6g})")
same = (abs(stat - ks.statistic) <= 1e-12 and abs(p - ks.pvalue) <= 1e-9 * max(ks.pvalue, 1e-300)
        and abs(w - wd) <= 1e-9 * wd)
print(f"same results: {same}")
print(f"ratio stockml / scipy: {best_pg / best_py:.2f} (below 1 means stockml is faster)")

# --- the row of `make bench` (bench/results.py) -------------------------------------------
record("drift", f"ks_test + wasserstein on 2 x {n} samples", best_pg, best_py, "s",
       "scipy.stats.ks_2samp + wasserstein_distance on numpy arrays already built")

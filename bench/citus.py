#!/usr/bin/python3
"""One node beside a Citus coordinator with two workers (bench/citus.sh starts them).

Usage: citus.py SINGLE_DSN COORD_DSN SINGLE_PID CITUS_PIDS SYMBOLS DAYS TRAIN_SYMBOLS HOST PORT.
Generates the same SYMBOLS x DAYS bars on both (bench/synthetic.py; on the coordinator
before stockml.distribute(), which then moves them into the workers' shards), then times
on both, on the same rows: a bare ordered scan of the bars, the default feature set as 16
window aggregates (bench/features.py's query), features() of every symbol, and train() of a
ridge over TRAIN_SYMBOLS symbols; each answer must agree between the two (counts equal,
sums within 1e-9 relative).  CPU is that of every process of the cluster(s), read from
/proc: the postmasters' own and reaped children's time plus their live children's.
Prints a table and the bytes train()'s pieces moved per symbol (its DEBUG1 line).  Last,
adds the worker at HOST:PORT (started empty), rebalances with citus_rebalance_start(), and
runs the window aggregates and train() again: the same answers as one node.
"""
import os
import re
import sys
import time

import psycopg2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from synthetic import generate_bars  # noqa: E402
from feature_queries import aggs_default_sql, scan_sql  # noqa: E402  (features.py's queries)

SINGLE, COORD = sys.argv[1], sys.argv[2]
SINGLE_PIDS = [int(p) for p in sys.argv[3].split(",")]
CITUS_PIDS = [int(p) for p in sys.argv[4].split(",")]
SYMBOLS, DAYS, TRAIN = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
NEW_HOST, NEW_PORT = sys.argv[8], int(sys.argv[9])
REPEAT = int(os.environ.get("BENCH_REPEAT", "2"))
TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), [int(x) for x in fields[11:15]]  # ppid; utime stime cutime cstime


def cluster_cpu(postmasters):
    """CPU seconds so far of the clusters' postmasters, their reaped children and their
    live children (a backend that exits is counted in its postmaster's cutime)."""
    total = 0
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid, t = stat(int(d))
            except OSError:
                continue
            children.setdefault(ppid, []).append(t)
    for pm in postmasters:
        _, t = stat(pm)
        total += sum(t)
        total += sum(c[0] + c[1] + c[2] + c[3] for c in children.get(pm, []))
    return total / TICK


def connect(dsn):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    return conn


single, coord = connect(SINGLE), connect(COORD)


def q(conn, sql, args=None):
    cur = conn.cursor()
    cur.execute(sql, args)
    return cur.fetchall() if cur.description else None


def timed(conn, pids, fn, repeat=REPEAT):
    best_wall = best_cpu = None
    result = None
    for _ in range(repeat):
        c, t = cluster_cpu(pids) + time.process_time(), time.perf_counter()
        result = fn(conn)
        t, c = time.perf_counter() - t, cluster_cpu(pids) + time.process_time() - c
        best_wall = t if best_wall is None else min(best_wall, t)
        best_cpu = c if best_cpu is None else min(best_cpu, c)
    return (best_wall, best_cpu), result


def same(a, b, what):
    """the two answers agree: equal, or numbers within 1e-9 relative"""
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            if isinstance(x, float) or isinstance(y, float):
                if abs(x - y) > 1e-9 * max(1.0, abs(y)):
                    sys.exit(f"{what}: {x!r} on Citus, {y!r} on one node")
            elif x != y:
                sys.exit(f"{what}: {x!r} on Citus, {y!r} on one node")
    if len(a) != len(b):
        sys.exit(f"{what}: {len(a)} rows on Citus, {len(b)} on one node")


# --- the same bars on both; Citus: distribute() moves them into the shards ----------------
for conn in (single, coord):
    generate_bars(conn.cursor(), SYMBOLS, DAYS)
t0 = time.perf_counter()
placement = q(coord, "SELECT table_name::text, placement FROM stockml.distribute()")
t_distribute = time.perf_counter() - t0
shards = q(coord, """SELECT n.nodeport, count(*), sum(r.result::bigint)
  FROM run_command_on_shards('stockml.prices', 'SELECT count(*) FROM %s') r
  JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node n USING (groupid) GROUP BY 1 ORDER BY 1""")
print(f"distribute(): {t_distribute:.1f} s; prices on the workers: "
      + ", ".join(f"port {p}: {n} shards, {b} bars" for p, n, b in shards))
for conn in (single, coord):
    q(conn, "VACUUM ANALYZE")

features_lateral = """SELECT count(*), sum(f.y), sum(f.x[16]) FROM stockml.symbols s,
  LATERAL stockml.features(s.symbol) f WHERE s.source = 'bench'"""
symbols = [r[0] for r in q(single, "SELECT symbol FROM stockml.symbols WHERE source = 'bench' ORDER BY 1")]


def features_each(conn):
    """features() symbol by symbol, as a client would call it (one statement a symbol)"""
    n, sy, sx = 0, 0.0, 0.0
    for s in symbols:
        r = q(conn, "SELECT count(*), sum(y), sum(x[16]) FROM stockml.features(%s)", (s,))[0]
        n, sy, sx = n + r[0], sy + (r[1] or 0), sx + (r[2] or 0)
    return [(n, sy, sx)]


train_symbols = symbols[:TRAIN]
train_sql = ("SELECT version, metrics->>'mae', metrics->>'n_train' FROM stockml.train(%s, %s, 'ridge',"
             " params => '{\"alpha\": 10, \"auto_deploy\": false}')")
counter = [0]


def train(conn):
    counter[0] += 1
    r = q(conn, train_sql, (f"bench_{counter[0]}", train_symbols))
    return [(float(r[0][1]), int(r[0][2]))]


rows = []
answers = {}
for name, fn in (("bare ordered scan of the bars", lambda c: q(c, scan_sql)),
                 ("default set as 16 window aggregates", lambda c: q(c, aggs_default_sql)),
                 ("features() of every symbol, one query (LATERAL)", lambda c: q(c, features_lateral)),
                 ("features() of every symbol, a statement each", features_each),
                 (f"train() ridge over {TRAIN} symbols (5 folds + refit)", train)):
    t_one, r_one = timed(single, SINGLE_PIDS, fn)
    try:
        t_cit, r_cit = timed(coord, CITUS_PIDS, fn)
    except psycopg2.Error as e:
        print(f"{name}: on Citus: {str(e).splitlines()[0]}")
        rows.append((name, t_one, None))
        continue
    same(r_cit, r_one, name)
    answers[name] = r_one
    rows.append((name, t_one, t_cit))

# the bytes train()'s pieces moved (src/train.c's DEBUG1 line)
coord.notices.clear()
q(coord, "SET client_min_messages = debug1")
counter[0] += 1
q(coord, train_sql, (f"bench_{counter[0]}", train_symbols))
q(coord, "RESET client_min_messages")
pieces = [m for m in coord.notices if "read on their nodes" in m]
# what reading the bars through SQL moves instead (src/features.c's two queries, binary
# DataRows: 7 bytes of header, 4 of length a field, then the values; NULL: no value)
bars = q(coord, """SELECT count(*), sum(7 + 5 * 4 + 4 + 3 * 8 + CASE WHEN volume IS NULL THEN 0 ELSE 8 END
                                       + 7 + 2 * 4 + 4 + CASE WHEN adj_close IS NULL THEN 0 ELSE 8 END)
  FROM stockml.prices WHERE symbol = ANY (%s)""", (train_symbols,))[0]

print()
print(f"{SYMBOLS} symbols x {DAYS} days; best of {REPEAT}; CPU = every process of the cluster(s)")
print(f"{'query':56s} {'one node':>17s} {'Citus, 2 workers':>17s} {'Citus / one node':>17s}")
print(f"{'':56s} {'wall s':>8s} {'CPU s':>8s} {'wall s':>8s} {'CPU s':>8s} {'wall':>8s} {'CPU':>8s}")
for name, a, b in rows:
    if b is None:
        print(f"{name:56s} {a[0]:8.2f} {a[1]:8.2f} {'refused':>8s}")
        continue
    print(f"{name:56s} {a[0]:8.2f} {a[1]:8.2f} {b[0]:8.2f} {b[1]:8.2f} {b[0] / a[0]:8.2f} "
          f"{b[1] / a[1] if a[1] > 0 else float('nan'):8.2f}")
print()
for m in pieces:
    print("train() pieces: " + re.sub(r"^DEBUG:\s+stockml train: ", "", m.strip()))
print(f"reading the same symbols' bars through SQL instead: {bars[1]} bytes of DataRows for {bars[0]} bars "
      f"({bars[1] // max(TRAIN, 1)} a symbol)")

# --- a third worker: add it, rebalance, the same answers -----------------------------------
placement_sql = """SELECT n.nodeport, count(*) FROM pg_dist_shard s JOIN pg_dist_placement USING (shardid)
  JOIN pg_dist_node n USING (groupid) WHERE s.logicalrelid = 'stockml.prices'::regclass GROUP BY 1 ORDER BY 1"""
q(coord, "SELECT citus_add_node(%s, %s)", (NEW_HOST, NEW_PORT))
t0 = time.perf_counter()
q(coord, "SELECT citus_rebalance_start()")
q(coord, "SELECT citus_rebalance_wait()")
t_rebalance = time.perf_counter() - t0
moved = q(coord, """SELECT count(*) FILTER (WHERE status = 'done'), count(*) FROM pg_dist_background_task
  WHERE job_id = (SELECT max(job_id) FROM pg_dist_background_job)""")[0]
print()
print(f"added a third worker (port {NEW_PORT}); citus_rebalance_start() + citus_rebalance_wait(): "
      f"{t_rebalance:.1f} s, {moved[0]} of {moved[1]} shard moves done (each moves a shard of symbols, "
      "prices, corporate_actions and ingest_log together)")
print("prices' shards per worker now: " + ", ".join(f"port {p}: {n}" for p, n in q(coord, placement_sql)))
for name, fn in (("default set as 16 window aggregates", lambda c: q(c, aggs_default_sql)),
                 (f"train() ridge over {TRAIN} symbols (5 folds + refit)", train)):
    t, r = timed(coord, CITUS_PIDS, fn, 1)
    same(r, answers[name], name + " after the rebalance")
    print(f"after the rebalance, {name}: {t[0]:.2f} s wall, {t[1]:.2f} s CPU, the same answer as one node")

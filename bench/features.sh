#!/usr/bin/env bash
# bench/features.sh — speed of stockml's indicators and features() on 2.5 M
# synthetic bars (500 symbols x 5 000 days of a seeded geometric random walk,
# bench/synthetic.py), against plain SQL window functions, psycopg2 + pandas,
# and a bare ordered scan, all measured in the same run on a throwaway cluster
# (private installation, as test/run.sh does).  Not part of `make test`; takes
# about ten minutes.
#   bash bench/features.sh                       500 x 5000 bars
#   BENCH_SYMBOLS=50 bash bench/features.sh      a quicker, smaller run
#   (BENCH_DAYS, BENCH_REPEAT: days per symbol, runs per timed query)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"

reexec_as_postgres bench "$root" bench/features.sh BENCH_SYMBOLS BENCH_DAYS BENCH_REPEAT
bench_cluster "$root"
/usr/bin/python3 "$root/bench/features.py" "${BENCH_SYMBOLS:-500}" "${BENCH_DAYS:-5000}"

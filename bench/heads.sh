#!/usr/bin/env bash
# bench/heads.sh — the cost of the prediction API of issue 12 item 2, as ratios measured in
# the same run on a throwaway cluster (private installation, as test/run.sh does): training
# five heads against one, predict_path() against predict(), and batch predict(model, x)
# with alias => against without it and against the bare scan.  Not part of `make test`;
# takes a few minutes.
#   bash bench/heads.sh                        100 symbols x 2000 days
#   BENCH_SYMBOLS=20 bash bench/heads.sh       a quicker, smaller run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"

reexec_as_postgres bench "$root" bench/heads.sh BENCH_SYMBOLS BENCH_DAYS
bench_cluster "$root"
/usr/bin/python3 "$root/bench/heads.py" "${BENCH_SYMBOLS:-100}" "${BENCH_DAYS:-2000}"

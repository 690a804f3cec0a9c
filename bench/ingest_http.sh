#!/usr/bin/env bash
# bench/ingest_http.sh — speed of prices over HTTP against the mock server
# (bench/ingest_http.py): 10 000 bars through ingest_yahoo vs COPY of the same
# rows, and refresh() of 200 symbols with 50 ms latency, parallel vs sequential,
# each ratio measured in the same run on a throwaway cluster (private
# installation, as test/run.sh does).  Not part of `make test`; about a minute.
#   bash bench/ingest_http.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"

reexec_as_postgres bench "$root" bench/ingest_http.sh
bench_cluster "$root"
/usr/bin/python3 "$root/bench/ingest_http.py"

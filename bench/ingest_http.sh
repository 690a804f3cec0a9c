#!/usr/bin/env bash
# bench/ingest_http.sh — speed of prices over HTTP against the mock server
# (bench/ingest_http.py): 10 000 bars through ingest_yahoo vs COPY of the same
# rows, and refresh() of 200 symbols with 50 ms latency, parallel vs sequential,
# each ratio measured in the same run on a throwaway cluster (private
# installation, as test/run.sh does).  Not part of `make test`; about a minute.
#   bash bench/ingest_http.sh
# Now one benchmark of `make bench` (bench/run.sh), which runs it on its own throwaway
# cluster and adds its rows to the table of bench/RESULTS.md.
exec env BENCH_ONLY=ingest_http bash "$(dirname "$0")/run.sh"

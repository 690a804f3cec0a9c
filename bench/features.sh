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
# Now one benchmark of `make bench` (bench/run.sh), which runs it on its own throwaway
# cluster and adds its rows to the table of bench/RESULTS.md.
exec env BENCH_ONLY=features bash "$(dirname "$0")/run.sh"

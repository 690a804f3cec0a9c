#!/usr/bin/env bash
# bench/models.sh — training, serving and memory of stockml's models on 2.5 M
# synthetic bars (500 symbols x 5 000 days, bench/features.py's seeded random
# walk, bench/synthetic.py), against the Python stack doing the same work in the same run:
#   training  stockml.train (ridge, 5 walk-forward folds + refit) vs psycopg2 ->
#             pandas features -> scikit-learn StandardScaler + Ridge, same folds
#   memory    peak backend memory of that training vs the float8 feature matrix
#   predict   stockml.predict(model, symbol) under pgbench (2 clients) vs a
#             FastAPI + scikit-learn endpoint serving the same model
#   batch     predict(model, x) over 1 M feature rows vs a bare scan of them
# on a throwaway cluster (private installation, as test/run.sh does).  Not part
# of `make test`; takes about five minutes.
#   bash bench/models.sh                        500 x 5000 bars
#   BENCH_SYMBOLS=50 bash bench/models.sh       a quicker, smaller run
#   (BENCH_DAYS, BENCH_REPEAT, BENCH_SECONDS: days per symbol, timed runs, pgbench seconds)
# Now one benchmark of `make bench` (bench/run.sh), which runs it on its own throwaway
# cluster and adds its rows to the table of bench/RESULTS.md.
exec env BENCH_ONLY=models bash "$(dirname "$0")/run.sh"

#!/usr/bin/env bash
# bench/gbt.sh — gbt (histogram gradient-boosted trees) against scikit-learn's
# HistGradientBoostingRegressor and XGBoost's hist, one thread each, on the same
# seeded matrix (bench/gbt.py):
#   fit      stockml.fit('gbt', x, y) on 1 M x 16 vs HGBR and XGBoost (tree_method
#            hist, lossguide, the same leaves, depth, bins, learning rate, trees)
#   MSE      held-out MSE of the three on 200 000 more rows
#   batch    predict(model, x) over the held-out rows vs a bare scan of them
# on a throwaway cluster (private installation, as test/run.sh does).  Not part
# of `make test`.
#   bash bench/gbt.sh                     1 000 000 x 16
#   BENCH_QUICK=1 bash bench/gbt.sh       100 000 x 16
#   (BENCH_ROWS, BENCH_REPEAT: rows, timed runs; BENCH_PERF=fit|batch: a perf profile)
# Now one benchmark of `make bench` (bench/run.sh), which runs it on its own throwaway
# cluster with one thread (OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) and adds its rows to
# the table of bench/RESULTS.md.
exec env BENCH_ONLY=gbt bash "$(dirname "$0")/run.sh"

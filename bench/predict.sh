#!/usr/bin/env bash
# bench/predict.sh — predict(model, symbol) on 5 000-bar histories served from its kept
# feature state, against SELECT 1, the same call from all bars and a cached FastAPI
# service, 2 and 16 clients (bench/predict.py), on a throwaway cluster.  Not part of
# `make test`; about two minutes.
#   bash bench/predict.sh
#   BENCH_PREDICT_SYMBOLS=50 BENCH_DAYS=5000 BENCH_SECONDS=20 bash bench/predict.sh
exec env BENCH_ONLY=predict bash "$(dirname "$0")/run.sh"

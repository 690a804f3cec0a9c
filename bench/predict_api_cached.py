#!/usr/bin/python3
"""The cached Python serving stack bench/predict.py compares predict(model, symbol) with:
bench/models_api.py's FastAPI + scikit-learn service (tail read of the bars, pandas
features, the stockml model's parameters in a scikit-learn pipeline), with the seed
architecture's prediction cache in front of it, in the process.

GET /predict/{symbol} answers from an in-process dict when it holds the symbol,
else computes the answer as models_api does and keeps it.  A real service drops an
entry when a new bar of its symbol arrives (Redis keys with pub/sub, LISTEN/NOTIFY);
no bar arrives during the benchmark, so that mechanism costs nothing here and every
timed request is a hit: HTTP parsing, one dict lookup and the JSON answer.  This is
the upper bound of any cached Python service of the same stack, so it is the
strongest baseline of this kind.  The endpoint is `async def`: it runs on the event
loop, without FastAPI's thread-pool hop per request (a miss blocks the loop once per
symbol and worker, during the warm-up).

    BENCH_MODEL=bench_ridge PGHOST=... uvicorn --app-dir bench predict_api_cached:app
"""
from fastapi import FastAPI

import models_api

app = FastAPI()
cache = {}


@app.get("/predict/{symbol}")
async def predict(symbol: str):
    hit = cache.get(symbol)
    if hit is None:
        hit = models_api.predict(symbol)
        cache[symbol] = hit
    return hit

#!/usr/bin/env python3
"""Writes the seed corpus of test/fuzz/corpus/<target>/ (run from anywhere).

Real inputs: the Yahoo chart fixtures (test/fixtures/yahoo/, the same files as
shared/data/yahoo/), data/MSFT.csv, the built-in feature set; model blobs built
byte for byte as src/model_io.c writes them (CRC-32C computed here); and small
hand-written edge cases.  Inputs that libFuzzer found and that crashed a
target are kept next to these, named crash-*, and never rewritten here.
"""
import json
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- yahoo --------------------------------------------------------------------
ydir = os.path.join(ROOT, "test", "fixtures", "yahoo")
msft = json.load(open(os.path.join(ydir, "MSFT_chart_2000-09-27_2001-09-27.json")))
put("yahoo", "msft_year.json", open(os.path.join(ydir, "MSFT_chart_2000-09-27_2001-09-27.json"), "rb").read())
put("yahoo", "error_not_found.json", open(os.path.join(ydir, "error_not_found.json"), "rb").read())


def chart(n, meta=None, events=None, adj=True, mutate=None):
    r = json.loads(json.dumps(msft["chart"]["result"][0]))
    r["timestamp"] = r["timestamp"][:n]
    q = r["indicators"]["quote"][0]
    for k in q:
        q[k] = q[k][:n]
    if adj:
        r["indicators"]["adjclose"][0]["adjclose"] = r["indicators"]["adjclose"][0]["adjclose"][:n]
    else:
        del r["indicators"]["adjclose"]
    r.pop("events", None)
    if events:
        r["events"] = events
    if meta:
        r["meta"].update(meta)
    if mutate:
        mutate(r)
    return json.dumps({"chart": {"result": [r], "error": None}}, separators=(",", ":"))


ts = msft["chart"]["result"][0]["timestamp"]
put("yahoo", "ten_bars.json", chart(10))
put("yahoo", "no_adjclose.json", chart(5, adj=False))
put("yahoo", "events.json", chart(6, events={
    "dividends": {str(ts[2]): {"amount": 0.08, "date": ts[2]}, str(ts[3]): {"amount": 0.08, "date": ts[3]}},
    "splits": {str(ts[4]): {"date": ts[4], "numerator": 2, "denominator": 1, "splitRatio": "2:1"}}}))


def nulls(r):
    q = r["indicators"]["quote"][0]
    q["close"][1] = None
    q["volume"][2] = None
    r["timestamp"][3] = None


put("yahoo", "nulls.json", chart(6, mutate=nulls))
put("yahoo", "unknown_zone.json", chart(4, meta={"exchangeTimezoneName": "Mars/Olympus", "gmtoffset": -14400}))
put("yahoo", "asia_zone.json", chart(4, meta={"exchangeTimezoneName": "Asia/Tokyo", "gmtoffset": 32400}))
put("yahoo", "result_null.json", '{"chart":{"result":null,"error":{"code":"Bad Request","description":"Invalid input - start date cannot be after end date"}}}')
put("yahoo", "empty_result.json", '{"chart":{"result":[{"meta":{"currency":"USD"},"indicators":{"quote":[{}]}}],"error":null}}')
put("yahoo", "escapes.json", '{"chart":{"result":[{"meta":{"currency":"\\u20ac","exchangeName":"X\\ud83d\\ude00"},"timestamp":[978618600],"indicators":{"quote":[{"open":[1],"high":[2],"low":[0.5],"close":[1.5],"volume":[10]}]}}]}}')
put("yahoo", "html.txt", "<html><body>Will be right back</body></html>")

# --- csv ------------------------------------------------------------------------
lines = open(os.path.join(ROOT, "data", "MSFT.csv")).read().splitlines()
put("csv", "msft_year.csv", "\n".join(lines) + "\n")
put("csv", "msft_20.csv", "\n".join(lines[:21]) + "\n")
put("csv", "stooq.csv", "Date,Open,High,Low,Close,Volume\r\n2001-09-24,50.1,52.3,49.8,52.0,42000000\r\n2001-09-25,52.0,52.9,50.7,51.3,39000000\r\n")
put("csv", "bom_quoted.csv", "\ufeff\n\"Date\",\"Open\",\"High\",\"Low\",\"Close\",\"Adj Close\",\"Volume\"\n\"2001-01-02\",\"1,5\",2,1,1.5,null,\"100\"\n2001-01-03,1,2,1,1.5,NA,\n")
put("csv", "us_dates.csv", "MM/DD/YYYY\0date,open,high,low,close,volume\n9/27/2000,1,2,0.5,1.5,10\n12/31/2000,1,2,0.5,1.5,11\n2/29/2001,1,2,0.5,1.5,12\n")
put("csv", "eu_dates.csv", "DD.MM.YYYY\0Date,Open,High,Low,Close\n27.09.2000,1,2,0.5,1.5\n01.10.2000,1,2,0.5,1.5\n")
put("csv", "compact_dates.csv", "YYYYMMDD\0Date,Open,High,Low,Close\n20000927,1,2,0.5,1.5\n20000927,1,2,0.5,1.6\n")
put("csv", "rejects.csv", "Date,Open,High,Low,Close,Volume\n2001-02-30,1,2,1,1,1\n2001-03-01,x,2,1,1,1\n2001-03-02,3,2,1,1,1\n2001-03-03,1,2,1,1,-5\n2001-03-04,1,2,1,1,1.5\n2001-03-05,1,2,1\n2001-03-06,1e400,2,1,1,1\n2001-03-07,1,2,1,1,1\n")
put("csv", "multibyte.csv", "Date,Open,High,Low,Close\n2001-01-02,\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9,2,1,1\n\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac,1,2,1,1\n")
put("csv", "no_data.txt", "No data")
put("csv", "not_csv.txt", "<html>\x01\x02</html>")

# --- model ------------------------------------------------------------------------


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def head(alg, mean, scale, params, intercept, coef, payload=None):
    """a head body; linear payload (intercept, coefficients) unless payload is given"""
    if payload is None:
        payload = struct.pack("<d", intercept) + b"".join(struct.pack("<d", c) for c in coef)
    b = struct.pack("<HIII", alg, len(mean), len(params), len(payload))
    return b + b"".join(struct.pack("<d", v) for v in mean + scale + params) + payload


def blob(*args):
    """format 1: one head"""
    b = b"SMLM" + struct.pack("<H", 1) + head(*args)
    return b + struct.pack("<I", crc32c(b))


def blob2(*heads):
    """format 2: (horizon, head arguments) per head"""
    b = b"SMLM" + struct.pack("<HH", 2, len(heads))
    for h, args in heads:
        b += struct.pack("<I", h) + head(*args)
    return b + struct.pack("<I", crc32c(b))


# ids of src/model_naive.c, model_ridge.c, model_elastic_net.c
put("model", "naive_1.bin", blob(1, [0.001], [0.02], [], 0.0, [0.0]))
put("model", "ridge_1.bin", blob(2, [2.0], [0.8164965809277259], [0.0], 5.0, [1.632993161855452]))
put("model", "ridge_3.bin", blob(2, [0.001, -0.002, 0.3], [0.02, 0.015, 0.1], [50.0], 0.0004, [0.01, -0.02, 0.003]))
put("model", "elastic_net_2.bin", blob(3, [0.0, 1.0], [1.0, 2.0], [1.0, 0.5, 1000.0, 1e-4], 0.001, [0.0, 0.25]))
put("model", "huge_but_finite.bin", blob(2, [0.0], [1.0], [1.0], 0.0, [1e300]))
put("model", "overflowing.bin", blob(2, [0.0], [1e-300], [1.0], 0.0, [1e300]))
put("model", "heads_1_5.bin", blob2((1, (2, [0.0, 1.0], [1.0, 2.0], [1.0], 0.001, [0.1, 0.2])),
                                    (5, (3, [0.0, 1.0], [1.0, 2.0], [1.0, 0.5, 1000.0, 1e-4], 0.004, [0.0, 0.3]))))
put("model", "heads_3.bin", blob2((1, (1, [0.0], [1.0], [], 0.0, [0.0])), (2, (1, [0.0], [1.0], [], 0.0, [0.0])),
                                 (10000, (2, [0.5], [0.25], [3.0], -0.01, [0.02]))))
# gbt (src/model_gbt.c): payload version, intercept, trees, importances, then per tree its
# node count and nodes (split: feature, threshold, left child; leaf: 0xFFFFFFFF, value)
GBT_DEFAULTS = [100, 0.1, 31, 0, 20, 0, 255, -1, 0.1, 10, 1e-7]
LEAF = 0xFFFFFFFF
gbt_payload = (struct.pack("<Id", 1, 0.0005) + struct.pack("<I", 2) + struct.pack("<dd", 0.7, 0.3)
               + struct.pack("<I", 3) + struct.pack("<IdI", 0, 0.5, 1) + struct.pack("<Id", LEAF, 0.01)
               + struct.pack("<Id", LEAF, -0.02)
               + struct.pack("<I", 5) + struct.pack("<IdI", 1, -0.1, 1) + struct.pack("<IdI", 0, 2.0, 3)
               + struct.pack("<Id", LEAF, 0.004) + struct.pack("<Id", LEAF, 0.001) + struct.pack("<Id", LEAF, -0.003))
put("model", "gbt_2.bin", blob(4, [0.0, 1.0], [1.0, 2.0], GBT_DEFAULTS, 0, [], gbt_payload))


def gbt_trees(seed, ntrees, leaves, p, thresholds):
    """A gbt payload of seeded random trees (nodes in creation order, children after their
    parent, as src/model_gbt.c's decoder checks), thresholds drawn from a few shared values,
    for the bitvector evaluator's blocks (16 trees of 32 leaves, 8 of 64; partial ones)"""
    import random
    rng = random.Random(seed)
    out = struct.pack("<Id", 1, 0.25) + struct.pack("<I", ntrees) + struct.pack("<" + "d" * p, *([1.0] * p))
    for t in range(ntrees):
        nodes = [None]  # None: a leaf; (feature, threshold, left)
        for _ in range(rng.randint(0, leaves - 1)):
            k = rng.choice([i for i, n in enumerate(nodes) if n is None])
            nodes[k] = (rng.randrange(p), rng.choice(thresholds), len(nodes))
            nodes += [None, None]
        out += struct.pack("<I", len(nodes))
        for n in nodes:
            out += struct.pack("<Id", LEAF, rng.uniform(-0.1, 0.1)) if n is None else struct.pack("<IdI", *n)
    return out


GBT_WIDE = [100, 0.1, 64, 0, 20, 0, 255, -1, 0.1, 10, 1e-7]
put("model", "gbt_blocks.bin",
    blob(4, [0.0] * 3, [1.0] * 3, GBT_DEFAULTS, 0, [],
         gbt_trees(1, 21, 31, 3, [-1.5, -0.0, 0.0, 0.5, 0.5, 2.0, 1e300, -1e300, 3.25])))
put("model", "gbt_wide_leaves.bin",
    blob(4, [0.0] * 2, [1.0] * 2, GBT_WIDE, 0, [],
         gbt_trees(2, 11, 64, 2, [-2.0, -0.0, 0.25, 0.75, 1.0, 5e-324])))
# logistic (src/model_logistic.c): payload version, intercept, coefficients, mean |y|
LOGISTIC_DEFAULTS = [1.0, 100, 1e-8]
logistic_payload = struct.pack("<Iddd", 1, 0.2, 0.8, -0.3) + struct.pack("<d", 0.012)
put("model", "logistic_2.bin", blob(5, [0.0, 500.0], [1.0, 80.0], LOGISTIC_DEFAULTS, 0, [], logistic_payload))
put("model", "heads_logistic.bin", blob2((1, (5, [0.0, 500.0], [1.0, 80.0], LOGISTIC_DEFAULTS, 0, [], logistic_payload)),
                                         (5, (2, [0.0, 500.0], [1.0, 80.0], [1.0], 0.001, [0.1, 0.2]))))
put("model", "bad_crc.bin", blob(2, [0.0], [1.0], [1.0], 0.0, [1.0])[:-1] + b"\x00")
put("model", "truncated.bin", blob(2, [0.0], [1.0], [1.0], 0.0, [1.0])[:30])

# --- feature_spec ----------------------------------------------------------------
sql = open(os.path.join(ROOT, "sql", "install", "45_features.sql")).read()
default = re.search(r"\$\$(\{\"features\".*?)\$\$", sql, re.S).group(1)
put("feature_spec", "default.json", default)
put("feature_spec", "every_kind.json", json.dumps({"description": "one of each", "features": [
    {"name": "r", "indicator": "log_return"}, {"name": "m", "indicator": "momentum", "n": 3},
    {"name": "v", "indicator": "volatility", "n": 2}, {"name": "s", "indicator": "sma_ratio", "n": 1},
    {"name": "e", "indicator": "ema_ratio", "n": 4}, {"name": "rs", "indicator": "rsi"},
    {"name": "mc", "indicator": "macd", "fast": 3, "slow": 7},
    {"name": "ms", "indicator": "macd_signal", "fast": 3, "slow": 7, "signal": 2},
    {"name": "b", "indicator": "bb_pctb", "n": 5, "k": 1.5}, {"name": "a", "indicator": "atr", "n": 3},
    {"name": "z", "indicator": "zscore", "n": 4}, {"name": "vz", "indicator": "volume_zscore"},
    {"name": "rg", "indicator": "range"}]}))
put("feature_spec", "long_window.json", '{"features": [{"name": "sma_big", "indicator": "sma_ratio", "n": 400}]}')
put("feature_spec", "errors.json", '{"features": [{"name": "Bad Name", "indicator": "rsi", "n": 2.5, "x": 1}], "other": 1}')
put("feature_spec", "duplicate_keys.json", '{"features": [{"name": "a", "name": "b", "indicator": "range"}, {"name": "b", "indicator": "range"}]}')
put("feature_spec", "multibyte_name.json", '{"features": [{"name": "' + "\u00e9" * 300 + '", "indicator": "range"}]}')
put("feature_spec", "scalar.json", '"features"')
put("feature_spec", "exogenous_calendar.json", json.dumps({"features": [
    {"name": "spx_ret", "indicator": "log_return", "symbol": "^GSPC"},
    {"name": "spx_rsi", "indicator": "rsi", "n": 14, "symbol": "^GSPC"},
    {"name": "own_vol", "indicator": "volatility", "n": 20},
    {"name": "wd", "indicator": "weekday"}, {"name": "eom", "indicator": "days_to_month_end"},
    {"name": "hol", "indicator": "days_since_holiday"}]}))
put("feature_spec", "long_indicator.json", json.dumps({"features": [{"name": "x", "indicator": "\u00e9" * 400}]}, ensure_ascii=False))
put("feature_spec", "features_not_array.json", '{"features": {"name": "x"}}')
put("feature_spec", "features_empty.json", '{"features": []}')

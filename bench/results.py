"""Result rows the benchmarks hand to `make bench` (bench/run.sh, bench/report.py).

Each benchmark prints its own report and, when BENCH_RESULTS names a file, appends
one JSON line per comparison to it: what was measured, stockml's figure, the
baseline's figure measured in the same run, the unit, and what the baseline is.
The ratio is always "times better for stockml": baseline / stockml for times and
memory (lower is better), stockml / baseline for rates (higher is better); below 1
means stockml is slower (or bigger) than its baseline.

The machine is shared, so a comparison is repeated: paired() runs stockml and its
baseline one after the other, BENCH_REPEAT times (3 unless set), and
record_paired() keeps the median of each side and the median of the per-pair
ratios (a load that hits one pair hits both of its sides alike).  scale() records
one row of the scaling table (time per row at one size).
"""
import json
import os
import statistics
import time


def median(xs):
    return statistics.median(xs)


def paired(fns, repeat):
    """Run every function of fns (a dict name -> fn) in turn, repeat times; returns
    name -> list of wall seconds, and name -> the last result."""
    times = {k: [] for k in fns}
    results = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            results[k] = fn()
            times[k].append(time.perf_counter() - t)
    return times, results


def _write(row):
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def record(bench, what, stockml, baseline, unit, baseline_desc, higher_is_better=False, cpu=None,
           runs=None, goal=None):
    """Append one comparison to $BENCH_RESULTS (no-op when it is unset).  cpu: the CPU
    seconds (client + backends) of stockml and of the baseline, when measured: on a
    shared machine their ratio is steadier than the wall-time one.  runs: how many
    repeats the figures are the median of; goal: the target ratio, as text."""
    if higher_is_better:
        ratio = stockml / baseline if baseline else None
    else:
        ratio = baseline / stockml if stockml else None
    cpu_ratio = cpu[1] / cpu[0] if cpu and cpu[0] > 0 and cpu[1] > 0 else None
    _write({"bench": bench, "what": what, "stockml": stockml, "baseline": baseline,
            "unit": unit, "ratio": ratio, "cpu_ratio": cpu_ratio,
            "baseline_desc": baseline_desc, "runs": runs, "goal": goal})


def record_paired(bench, what, stockml, baseline, unit, baseline_desc, higher_is_better=False,
                  goal=None):
    """As record(), from the lists of repeated figures of both sides measured in pairs:
    the medians of each side and the median of the per-pair ratios."""
    pairs = list(zip(stockml, baseline))
    if higher_is_better:
        ratios = [s / b for s, b in pairs if b]
    else:
        ratios = [b / s for s, b in pairs if s]
    _write({"bench": bench, "what": what, "stockml": median(stockml), "baseline": median(baseline),
            "unit": unit, "ratio": median(ratios) if ratios else None, "cpu_ratio": None,
            "baseline_desc": baseline_desc, "runs": len(pairs), "goal": goal})


def scale(bench, what, size, rows, seconds):
    """One point of a scaling curve: `what` at `size` (text) over `rows` rows took
    `seconds` (a median); the report prints the time per row."""
    _write({"scale": True, "bench": bench, "what": what, "size": size, "rows": rows,
            "seconds": seconds})

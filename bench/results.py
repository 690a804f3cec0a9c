"""Result rows the benchmarks hand to `make bench` (bench/run.sh, bench/report.py).

Each benchmark prints its own report and, when BENCH_RESULTS names a file, appends
one JSON line per comparison to it: what was measured, stockml's figure, the
baseline's figure measured in the same run, the unit, and what the baseline is.
The ratio is always "times better for stockml": baseline / stockml for times and
memory (lower is better), stockml / baseline for rates (higher is better); below 1
means stockml is slower (or bigger) than its baseline.
"""
import json
import os


def record(bench, what, stockml, baseline, unit, baseline_desc, higher_is_better=False, cpu=None):
    """Append one comparison to $BENCH_RESULTS (no-op when it is unset).  cpu: the CPU
    seconds (client + backends) of stockml and of the baseline, when measured: on a
    shared machine their ratio is steadier than the wall-time one."""
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    if higher_is_better:
        ratio = stockml / baseline if baseline else None
    else:
        ratio = baseline / stockml if stockml else None
    cpu_ratio = cpu[1] / cpu[0] if cpu and cpu[0] > 0 and cpu[1] > 0 else None
    with open(path, "a") as f:
        f.write(json.dumps({"bench": bench, "what": what, "stockml": stockml, "baseline": baseline,
                            "unit": unit, "ratio": ratio, "cpu_ratio": cpu_ratio,
                            "baseline_desc": baseline_desc}) + "\n")

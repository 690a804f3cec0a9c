#!/usr/bin/python3
"""The table of `make bench` (bench/run.sh): the result rows the benchmarks wrote
(bench/results.py), one line per comparison, printed and written as Markdown with
the machine and the date.

    report.py RESULTS_JSONL OUTPUT_MD SIZES STARTED [FAILED]     (OUTPUT_MD "-": print only)
"""
import datetime
import json
import os
import platform
import subprocess
import sys


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                    break
    except OSError:
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "load": load,
            "kernel": platform.release()}


def versions():
    out = []
    try:
        pg = subprocess.run(["pg_config", "--version"], capture_output=True, text=True).stdout.strip()
        out.append(pg)
    except OSError:
        pass
    for mod in ("numpy", "pandas", "sklearn", "scipy", "fastapi"):
        try:
            out.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            pass
    out.append(f"Python {platform.python_version()}")
    return ", ".join(out)


def figure(v, unit):
    if v is None:
        return "n/a"
    if unit == "s":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    if unit == "req/s":
        return f"{v:.0f} req/s"
    if unit == "MB":
        return f"{v:.1f} MB"
    return f"{v:.4g} {unit}"


def scaling_table(points):
    """The scaling curves: one line per benchmark and measure, the time per row at each
    size (bench/scaling.py), so a reader sees whether the cost grows linearly."""
    if not points:
        return ""
    sizes = []
    for p in points:
        if p["size"] not in sizes:
            sizes.append(p["size"])
    curves = {}
    for p in points:
        curves.setdefault((p["bench"], p["what"]), {})[p["size"]] = p
    head = ["benchmark", "what"] + [f"{s}: per row" for s in sizes] + ["last / first"]
    out = ["", "## Scaling (bench/scaling.py)", "",
           "Time per row (median of the repeats, wall clock) at each size; a flat line is a linear cost.", "",
           "| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for (bench, what), by_size in curves.items():
        cells, per_row = [], []
        for s in sizes:
            p = by_size.get(s)
            if p is None or not p["rows"]:
                cells.append("")
                continue
            us = p["seconds"] / p["rows"] * 1e6
            per_row.append(us)
            cells.append(f"{us:.3g} µs ({p['rows']} rows, {figure(p['seconds'], 's')})")
        growth = f"{per_row[-1] / per_row[0]:.2f}" if len(per_row) > 1 and per_row[0] > 0 else ""
        out.append(f"| {bench} | {what} | " + " | ".join(cells) + f" | {growth} |")
    return "\n".join(out) + "\n"


def main():
    path, md_path, sizes, started = sys.argv[1:5]
    failed = sys.argv[5].split() if len(sys.argv) > 5 and sys.argv[5].strip() else []
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    m = machine()
    points = [r for r in rows if r.get("scale")]
    rows = [r for r in rows if not r.get("scale")]
    head = ["benchmark", "what", "stockml", "baseline", "ratio", "goal", "runs", "ratio by CPU", "baseline is"]
    table = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.3g}x"
        cpu = "" if r.get("cpu_ratio") is None else f"{r['cpu_ratio']:.3g}x"
        runs = f"median of {r['runs']}" if r.get("runs") else "best of the runs"
        table.append(f"| {r['bench']} | {r['what']} | {figure(r['stockml'], r['unit'])} | "
                     f"{figure(r['baseline'], r['unit'])} | **{ratio}** | {r.get('goal') or ''} | {runs} | "
                     f"{cpu} | {r['baseline_desc']} |")
    curves = scaling_table(points)
    load_start = os.environ.get("BENCH_LOAD_START", "not recorded")
    finished = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = f"""# Benchmark results

Written by `{'BENCH_QUICK=1 ' if 'quick' in sizes else ''}make bench` (bench/run.sh), {started} to {finished}.
Sizes: {sizes}. Each benchmark ran on a throwaway cluster of its own (no parallel workers,
no JIT, shared_buffers 512MB); each baseline was measured in the same run, on the same data,
right beside the stockml figure it is compared with.

**ratio** = how many times better stockml is: baseline ÷ stockml for times (wall clock) and
memory, stockml ÷ baseline for requests per second. Below 1 means stockml is slower than (or
bigger than) its baseline — expected against a bare scan, which computes nothing. **ratio by
CPU**, where measured: the same with CPU seconds (the client's plus its server backends', from
/proc), which the other work on the machine disturbs less than wall time.

Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} of memory, Linux {m['kernel']}; load average
(1 / 5 / 15 min) at the start {load_start}, at the end {m['load']}. {versions()}.

This machine is shared with other sessions working at the same time, so the absolute figures
move with its load; the ratios stay meaningful because both sides of each were measured side
by side, seconds apart, under the same load.

{chr(10).join(table)}
{curves}"""
    if not rows:
        md += "\nNo results: every benchmark failed.\n"
    if failed:
        md += f"\nBenchmarks that failed in this run (no rows): {', '.join(failed)}.\n"
    md += """
How each baseline is written — the version of the Python stack a Python engineer would
defend, each stating why in its code: the pandas features are the faster of the per-symbol
reference code and a version vectorised over all symbols with grouped `rolling`/`ewm`
(bench/pandas_features.py); the FastAPI service keeps the model in memory from start-up and
reads only the last 400 bars of a symbol, and its cached variant answers from memory until a
new bar arrives, as the seed's Redis cache did (bench/models_api.py); scikit-learn's and
XGBoost's boosted trees get numpy arrays already in memory and are measured twice: pinned to one
thread like stockml's gbt (issue 10's comparison), and at the thread count (1 or 2, the
machine's cores) that made each fastest in this run, stated in its row (bench/gbt.py); scipy
gets numpy arrays already built; COPY reads a ready CSV file.
Where a goal is not reached, doc/benchmarks.md says what bounds it, from a `perf` profile.
"""
    if md_path != "-":
        with open(md_path, "w") as f:
            f.write(md)
    print(md)


if __name__ == "__main__":
    main()

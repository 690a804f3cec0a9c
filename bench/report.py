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


def main():
    path, md_path, sizes, started = sys.argv[1:5]
    failed = sys.argv[5].split() if len(sys.argv) > 5 and sys.argv[5].strip() else []
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    m = machine()
    head = ["benchmark", "what", "stockml", "baseline", "ratio", "ratio by CPU", "baseline is"]
    table = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.3g}x"
        cpu = "" if r.get("cpu_ratio") is None else f"{r['cpu_ratio']:.3g}x"
        table.append(f"| {r['bench']} | {r['what']} | {figure(r['stockml'], r['unit'])} | "
                     f"{figure(r['baseline'], r['unit'])} | **{ratio}** | {cpu} | {r['baseline_desc']} |")
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
at the end {m['load']}. {versions()}.

This machine is shared with other sessions working at the same time, so the absolute figures
move with its load; the ratios stay meaningful because both sides of each were measured side
by side, seconds apart, under the same load.

{chr(10).join(table)}
"""
    if not rows:
        md += "\nNo results: every benchmark failed.\n"
    if failed:
        md += f"\nBenchmarks that failed in this run (no rows): {', '.join(failed)}.\n"
    md += """
How each baseline is written — the best reasonable version of the Python stack, stated in its
code: the pandas features are the faster of the per-symbol reference code and a version
vectorised over all symbols with grouped `rolling`/`ewm` (bench/pandas_features.py); the
FastAPI service keeps the model in memory from start-up and reads only the last 400 bars of a
symbol (bench/models_api.py); scikit-learn's and XGBoost's boosted trees get numpy arrays
already in memory and one thread, as stockml's gbt has (bench/gbt.py); scipy gets numpy arrays
already built; COPY reads a ready CSV file.
"""
    if md_path != "-":
        with open(md_path, "w") as f:
            f.write(md)
    print(md)


if __name__ == "__main__":
    main()

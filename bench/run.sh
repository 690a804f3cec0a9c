#!/usr/bin/env bash
# bench/run.sh — `make bench`: every benchmark of bench/, each on a throwaway cluster
# of its own (scripts/common.sh bench_cluster: a private installation, stopped and
# removed afterwards), then one table of ratios, stockml against the baseline each
# benchmark measured beside it in the same run (bench/report.py), printed and written
# to bench/RESULTS.md with the machine and the date.  Not part of `make test`.
#   make bench                         the full sizes (500 symbols x 5 000 days; about 30 min)
#   BENCH_QUICK=1 make bench           smaller sizes (40 x 2 000; about 5 minutes)
#   BENCH_ONLY="features drift" make bench   only those benchmarks (table printed, RESULTS.md kept)
# The benchmarks: features (bench/features.py), models (models.py, models_api.py),
# gbt (gbt.py; stockml one thread against the baselines at one thread and at their faster of 1 and 2), ingest_http
# (ingest_http.py), drift (drift.py), monitor (monitor.py), scaling (scaling.py: time
# per row at 3 sizes, BENCH_SCALE_SIZES symbols x BENCH_SCALE_DAYS days), predict (predict.py,
# predict_api_cached.py, http_load.c: predict(model, symbol) from its kept state).  Comparisons
# are medians of BENCH_REPEAT (3; quick 3) runs side by side; doc/benchmarks.md.  Sizes can be set one by one: BENCH_SYMBOLS, BENCH_DAYS, BENCH_REPEAT,
# BENCH_SECONDS, BENCH_BATCH_ROWS, BENCH_ROWS (gbt), BENCH_HTTP_BARS,
# BENCH_HTTP_SYMBOLS, BENCH_DRIFT_N, BENCH_PREDICT_SYMBOLS (predict: 20).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"
pass_on=(BENCH_QUICK BENCH_ONLY BENCH_OUT BENCH_SYMBOLS BENCH_DAYS BENCH_REPEAT BENCH_SECONDS
	BENCH_BATCH_ROWS BENCH_HTTP_BARS BENCH_HTTP_SYMBOLS BENCH_DRIFT_N BENCH_ROWS BENCH_PERF BENCH_PERF_OUT
	BENCH_SCALE_DAYS BENCH_SCALE_SIZES BENCH_PREDICT_SYMBOLS)

# As root: run as postgres in a copy of the tree (PostgreSQL refuses root), then copy
# the RESULTS.md it wrote back into this tree.
if [ "$(id -u)" = 0 ]; then
	BENCH_OUT=$(mktemp -d /tmp/stockml-bench-out.XXXXXX)
	export BENCH_OUT
	chown postgres "$BENCH_OUT"
	rc=0
	(reexec_as_postgres bench "$root" bench/run.sh "${pass_on[@]}") || rc=$?
	if [ -f "$BENCH_OUT/RESULTS.md" ]; then
		cp "$BENCH_OUT/RESULTS.md" "$root/bench/RESULTS.md"
		say "wrote $root/bench/RESULTS.md"
	fi
	exit $rc
fi

out=${BENCH_OUT:-$root/bench}
results=$out/results.jsonl
rm -f "$results"
if [ -n "${BENCH_QUICK:-}" ]; then
	symbols=${BENCH_SYMBOLS:-40} days=${BENCH_DAYS:-2000}
	export BENCH_REPEAT=${BENCH_REPEAT:-3} BENCH_SECONDS=${BENCH_SECONDS:-3}
	export BENCH_BATCH_ROWS=${BENCH_BATCH_ROWS:-200000} BENCH_HTTP_BARS=${BENCH_HTTP_BARS:-5000}
	export BENCH_HTTP_SYMBOLS=${BENCH_HTTP_SYMBOLS:-50}
	drift_n=${BENCH_DRIFT_N:-200000}
	gbt_rows=${BENCH_ROWS:-100000}
	scale_days=${BENCH_SCALE_DAYS:-2000} scale_sizes=${BENCH_SCALE_SIZES:-"10 20 40"}
else
	symbols=${BENCH_SYMBOLS:-500} days=${BENCH_DAYS:-5000}
	drift_n=${BENCH_DRIFT_N:-1000000}
	gbt_rows=${BENCH_ROWS:-1000000}
	scale_days=${BENCH_SCALE_DAYS:-5000} scale_sizes=${BENCH_SCALE_SIZES:-"50 200 500"}
fi
# the load of the shared machine when the run starts (the report adds the one at its end)
read -r -a scale_list <<<"$scale_sizes"
BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg | sed 's| | / |g')
export BENCH_LOAD_START
py=/usr/bin/python3 # Debian's, with the packages of scripts/common.sh
started=$(date -u '+%Y-%m-%d %H:%M UTC')
failed=()
for b in ${BENCH_ONLY:-features models gbt ingest_http drift monitor scaling predict}; do
	say "benchmark $b"
	set +e
	(
		set -e
		bench_cluster "$root"
		export BENCH_RESULTS=$results BENCH_BINDIR=$bindir BENCH_TMP=$bench_tmp
		case $b in
		features) "$py" "$root/bench/features.py" "$symbols" "$days" ;;
		models) "$py" "$root/bench/models.py" "$symbols" "$days" ;;
		# threads: set in gbt.py; idle OpenMP threads sleep, as they must on a shared machine (spinning,
		# HGBR's 2-thread fit of 20 000 rows took 70 s instead of 1.7 s at a load of 9)
		gbt) OMP_WAIT_POLICY=PASSIVE "$py" "$root/bench/gbt.py" "$gbt_rows" ;;
		ingest_http) "$py" "$root/bench/ingest_http.py" ;;
		drift) "$py" "$root/bench/drift.py" "$drift_n" ;;
		monitor) "$py" "$root/bench/monitor.py" ;;
		scaling) "$py" "$root/bench/scaling.py" "$scale_days" "${scale_list[@]}" ;;
		predict) "$py" "$root/bench/predict.py" "${BENCH_PREDICT_SYMBOLS:-20}" "${BENCH_DAYS:-5000}" ;;
		*) echo "unknown benchmark $b (features, models, gbt, ingest_http, drift, monitor, scaling, predict)" >&2; exit 1 ;;
		esac
	)
	rc=$?
	set -e
	[ $rc -eq 0 ] || failed+=("$b")
done
rm -rf "$root/tmp_bench"

say "results"
# a run of some benchmarks only prints its table: bench/RESULTS.md holds every benchmark's rows
md=$out/RESULTS.md
[ -z "${BENCH_ONLY:-}" ] || md=-
"$py" "$root/bench/report.py" "$results" "$md" \
	"${BENCH_QUICK:+quick run (BENCH_QUICK=1): }$symbols symbols x $days days, gbt $gbt_rows x 16, drift samples 2 x $drift_n" \
	"$started" "${failed[*]:-}"
[ ${#failed[@]} -eq 0 ] || { echo "benchmarks that failed: ${failed[*]}" >&2; exit 1; }

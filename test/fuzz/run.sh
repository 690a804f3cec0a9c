#!/usr/bin/env bash
# test/fuzz/run.sh — build the libFuzzer targets (test/fuzz/Makefile) and run
# each one, from its seed corpus test/fuzz/corpus/<target>/ (new inputs go
# to test/fuzz/build/corpus/<target>/, the seeds are never rewritten).
#
#   bash test/fuzz/run.sh [--seconds N] [--coverage] [TARGET...]
#
# --seconds N   run each target N seconds (default $FUZZ_SECONDS, else 600);
#               `make fuzz` runs 10 minutes a target, the `fuzz` suite of
#               `make test` 20 seconds; 0 runs none (with --coverage: only
#               the coverage of the corpus grown so far).
# --coverage    afterwards, replay each target's corpus through a build with
#               clang's source coverage and print the line coverage of the
#               stockml files it covers (llvm-profdata, llvm-cov).
# TARGET        yahoo, csv, model, feature_spec (default: all, one at a time).
#
# A target that crashes, leaks, hits a sanitizer report or a finding of
# pg_stubs.c (abort) fails the run; libFuzzer writes the input to
# test/fuzz/build/crashes/<target>-crash-*, to be kept in the seed corpus
# once fixed.  Executions and coverage per target are printed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-600}
coverage=
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--coverage) coverage=1; shift ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(yahoo csv model feature_spec)

command -v clang >/dev/null || { echo "clang is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
make -s -C "$here" ${coverage:+all coverage} >/dev/null
build=$here/build
mkdir -p "$build/crashes" "$build/logs"
# OpenBLAS is not linked; keep libFuzzer's own limits explicit
opts=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
	-max_len=65536 -detect_leaks=1)
summary=()
failed=()
for t in "${targets[@]}"; do
	[ -x "$build/fuzz_$t" ] || { echo "no target $t" >&2; exit 2; }
	[ "$seconds" -gt 0 ] || continue
	mkdir -p "$build/corpus/$t"
	log=$build/logs/$t.log
	echo "fuzz_$t: ${seconds}s from $(find "$here/corpus/$t" -mindepth 1 -maxdepth 1 | wc -l) seeds (log: $log)"
	if ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$build/fuzz_$t" "${opts[@]}" -artifact_prefix="$build/crashes/$t-" \
		"$build/corpus/$t" "$here/corpus/$t" >"$log" 2>&1; then
		status=clean
	else
		status=FAILED
		failed+=("$t")
		grep -E -A30 "ERROR: |finding|runtime error|Sanitizer|deadly signal|timeout" "$log" | head -n 60 || tail -n 40 "$log"
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)
	summary+=("$(printf '%-13s %-7s %12s executions %7s/s  %s' "$t" "$status" "${runs:-?}" "${speed:-?}" "$cov")")
done

if [ -n "$coverage" ]; then
	llvm_bin=$(dirname "$(readlink -f "$(command -v clang)")")
	profdata=$llvm_bin/llvm-profdata
	llvmcov=$llvm_bin/llvm-cov
	for t in "${targets[@]}"; do
		prof=$build/cov/$t
		rm -rf "$prof"
		mkdir -p "$prof"
		LLVM_PROFILE_FILE="$prof/%p.profraw" "$build/cov/fuzz_$t" -runs=0 \
			"$build/corpus/$t" "$here/corpus/$t" >"$build/logs/$t.cov.log" 2>&1 || true
		"$profdata" merge -sparse "$prof"/*.profraw -o "$prof/merged.profdata"
		srcs=$(make -s -C "$here" --no-print-directory print-sources TARGET="$t")
		echo "--- line coverage of fuzz_$t's corpus ($(find "$build/corpus/$t" "$here/corpus/$t" -mindepth 1 -maxdepth 1 | wc -l) inputs)"
		cov_sources=()
		for s in $srcs; do cov_sources+=("$here/../../src/$s.c"); done
		"$llvmcov" report "$build/cov/fuzz_$t" -instr-profile="$prof/merged.profdata" \
			"${cov_sources[@]}" |
			awk '$1 ~ /src\/[a-z_]+\.c$/ {
				sub(/.*\/src\//, "src/", $1)
				printf "  %-24s %5d lines %5d missed  %s\n", $1, $8, $9, $10 }'
	done
fi

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzzing FAILED: ${failed[*]} (inputs in $build/crashes/)"
	exit 1
fi

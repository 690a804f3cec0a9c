#!/usr/bin/env bash
# scripts/lint.sh — the mechanical checks (issue 14), run by make:
#   make format         clang-format -i on the C sources (.clang-format): src/, test/fuzz/, test/sanitizer/
#   make check-format   fails, listing the C files clang-format would change
#   make lint           flake8, shellcheck, cppcheck, clang-tidy and a gcc -fanalyzer
#                       build, each on the whole tree; fails if any finds something
# `bash scripts/lint.sh lint cppcheck clang-tidy` runs only the steps named
# (flake8, shellcheck, cppcheck, clang-tidy, analyzer).  Installs the Debian
# packages it needs (STOCKML_LINT_PACKAGES) first.  The configurations are
# committed beside the code: .clang-format, .flake8, .clang-tidy,
# .cppcheck-suppressions.xml; every suppression there says why.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"
cd "$root"

c_files() { ls src/*.c src/*.h test/fuzz/*.c test/sanitizer/*.c 2>/dev/null || true; }
shell_files() {
	{ ls scripts/*.sh bench/*.sh 2>/dev/null; find test -name '*.sh'; echo .ci/run; } | sort -u
}
python_files() {
	{ ls scripts/*.py bench/*.py 2>/dev/null; find test -name '*.py'; } | sort -u
}

# the include paths and macros PGXS compiles with (its CPPFLAGS: -I. -Isrc, the
# server headers, pg_config's -I and -D; its -W options are gcc's)
pg_cppflags() {
	local f flags=(-I. -Isrc "-I$(pg_config --includedir-server)" "-I$(pg_config --pkgincludedir)/internal")
	for f in $(pg_config --cppflags); do
		case $f in -I* | -D*) flags+=("$f") ;; esac
	done
	echo "${flags[*]}"
}

failures=()

lint_flake8() {
	say "flake8 (.flake8)"
	# shellcheck disable=SC2046 # one word per file
	/usr/bin/python3 -m flake8 $(python_files) || failures+=(flake8)
}

lint_shellcheck() {
	say "shellcheck"
	# shellcheck disable=SC2046 # one word per file
	shellcheck $(shell_files) || failures+=(shellcheck)
}

# cppcheck with the server headers, so that it knows ereport(ERROR) does not return;
# it then parses PostgreSQL's headers with each file: a few files per process, one
# process a core (its own -j drops the suppressions that name a symbol)
lint_cppcheck() {
	say "cppcheck (.cppcheck-suppressions.xml)"
	local flags out
	flags=$(pg_cppflags)
	out=$(mktemp)
	# one configuration (-D): the one gcc builds on x86-64, not every #ifdef's
	# shellcheck disable=SC2086 # a word list
	if ! printf '%s\0' src/*.c | xargs -0 -n 4 -P "$(nproc)" \
		cppcheck -q --std=c11 --enable=warning,style,performance,portability \
		--inline-suppr --suppress-xml=.cppcheck-suppressions.xml --error-exitcode=1 \
		-D__GNUC__ -D__x86_64__ $flags >"$out" 2>&1 || [ -s "$out" ]; then
		cat "$out"
		failures+=(cppcheck)
	fi
	rm -f "$out"
}

# clang-tidy (.clang-tidy) on each file with PGXS's flags, two at a time
lint_clang_tidy() {
	say "clang-tidy (.clang-tidy)"
	local flags out
	flags=$(pg_cppflags)
	out=$(mktemp)
	# shellcheck disable=SC2086 # word lists
	printf '%s\0' src/*.c | xargs -0 -P "$(nproc)" -I{} clang-tidy --quiet {} -- -std=gnu99 $flags >"$out" 2>/dev/null || true
	if grep -q 'warning:\|error:' "$out"; then
		cat "$out"
		failures+=(clang-tidy)
	fi
	rm -f "$out"
}

# gcc's static analyser over the build, in a copy of the tree (the tree's own
# build is left as it is), its warnings errors
lint_analyzer() {
	say "gcc -fanalyzer build"
	local copy
	copy=$(mktemp -d)
	cp -a Makefile stockml.control src sql "$copy/"
	make -s -C "$copy" clean >/dev/null
	make -s -C "$copy" -j "$(nproc)" STOCKML_CFLAGS="-fanalyzer -Werror" 2>&1 || failures+=(analyzer)
	rm -rf "$copy"
}

check_format() {
	local f bad=()
	for f in $(c_files); do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
	done
	if [ ${#bad[@]} -gt 0 ]; then
		echo "not formatted as .clang-format says (make format rewrites them):"
		printf '  %s\n' "${bad[@]}"
		return 1
	fi
	echo "$(c_files | wc -l) C files formatted as .clang-format says"
}

case "${1:-lint}" in
format)
	STOCKML_PACKAGES=clang-format install_deps
	# shellcheck disable=SC2046 # one word per file
	clang-format -i $(c_files)
	;;
check-format)
	STOCKML_PACKAGES=clang-format install_deps
	check_format
	;;
lint)
	shift || true
	STOCKML_PACKAGES=$STOCKML_LINT_PACKAGES install_deps
	steps=("$@")
	[ ${#steps[@]} -gt 0 ] || steps=(flake8 shellcheck cppcheck clang-tidy analyzer)
	for s in "${steps[@]}"; do
		case $s in
		flake8 | shellcheck | cppcheck | analyzer) "lint_$s" ;;
		clang-tidy) lint_clang_tidy ;;
		*)
			echo "unknown lint step $s (flake8, shellcheck, cppcheck, clang-tidy, analyzer)" >&2
			exit 2
			;;
		esac
	done
	if [ ${#failures[@]} -gt 0 ]; then
		say "lint FAILED: ${failures[*]}"
		exit 1
	fi
	say "lint passed: ${steps[*]}"
	;;
*)
	echo "usage: $0 format | check-format | lint [step...]" >&2
	exit 2
	;;
esac

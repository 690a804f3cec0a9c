#!/usr/bin/env bash
# test/run.sh — `make test`: installs what is missing, builds with warnings as
# errors when STOCKML_CFLAGS=-Werror, installs stockml into a private copy of
# the PostgreSQL installation (tmp_check/install, like PostgreSQL's own
# `make check`, so the system one is never touched), starts a throwaway
# cluster with stockml and pg_cron preloaded, and runs every suite:
#   pg_regress      sql/*.sql against expected/*.out
#   pgTAP           test/pgtap/*.sql through pg_prove
#   isolation       test/isolation/specs/*.spec (when present)
#   TAP (perl)      test/t/*.pl with PostgreSQL::Test::Cluster (when present)
#   upgrade         0.1.0 -> current: same predictions, same catalog (test/upgrade/)
#   dump            pg_dump -Fc / pg_restore of the demo's database: same rows, ids continue (test/dump/)
#   citus           a coordinator and two workers with Citus (test/citus/): skipped,
#                   saying so, when Citus is not installed
#   fuzz            the libFuzzer targets of test/fuzz/ (Yahoo chart JSON, CSV, model blobs,
#                   feature specs), STOCKML_FUZZ_SECONDS (20) each; `make fuzz` runs them longer
#   grafana         the provisioning files against Grafana's documented options, and
#                   every dashboard query, as stockml_reader, on the demo's data
# STOCKML_SUITES="regress pgtap upgrade" runs only the suites named (regress,
# pgtap, isolation, tap, upgrade, dump, citus, fuzz, grafana); unset, all of them.
# STOCKML_SANITIZE=undefined (`make test-ubsan`) builds stockml with
# -fsanitize=undefined (no recovery: the first report aborts the backend) and runs
# pg_regress and pgTAP; any sanitizer report fails the run.  With "address" in the
# list (`make test-asan`: address,undefined) the server also gets libasan
# preloaded, as PostgreSQL's docs describe, with test/sanitizer/asan_preinit.c
# after it (without it Debian 12's postgres hangs in bindtextdomain before main).
# STOCKML_VALGRIND=1 (`make test-valgrind`) runs pg_regress and pgTAP with the
# server under valgrind memcheck (test/valgrind/run-postgres wraps the private
# installation's postgres; suppressions for PostgreSQL's own known reports in
# test/valgrind/postgres.supp, each with its reason); a report whose stack passes
# through stockml.so fails the run, every other report is listed.  Slow: see
# doc/testing.md for how long it takes.
# STOCKML_REGRESS="train models", STOCKML_PGTAP="50_models" and
# STOCKML_TAP="035_worker_security" narrow pg_regress, pgTAP and the perl TAP
# tests to the tests named.
# As root it copies the tree to a directory the unprivileged `postgres`
# account owns and runs the suites as that account.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"

reexec_as_postgres test "$root" test/run.sh STOCKML_CFLAGS STOCKML_SANITIZE STOCKML_VALGRIND STOCKML_SUITES STOCKML_REGRESS STOCKML_PGTAP STOCKML_TAP STOCKML_FUZZ_SECONDS
install_deps
cd "$root"

if [ -n "${STOCKML_SANITIZE:-}" ]; then
	san="-fsanitize=$STOCKML_SANITIZE -fno-sanitize-recover=all -fno-omit-frame-pointer"
	export STOCKML_CFLAGS="${STOCKML_CFLAGS:-} $san" STOCKML_LDFLAGS="$san"
	export STOCKML_SUITES=${STOCKML_SUITES:-regress pgtap}
fi
if [ -n "${STOCKML_VALGRIND:-}" ]; then
	export STOCKML_SUITES=${STOCKML_SUITES:-regress pgtap}
fi

say "build"
make -s clean >/dev/null
# the committed install and upgrade scripts are the concatenations of their pieces
make -s check-sql
make -s 2>&1

tmp=$root/tmp_check
inst=$tmp/install
rm -rf "$tmp"
mkdir -p "$tmp"
# .../lib/pgxs (pg_config --pgxs is .../lib/pgxs/src/makefiles/pgxs.mk)
pgxs_dir=$(dirname "$(dirname "$(dirname "$(pg_config --pgxs)")")")

say "private installation in $inst"
bindir=$(private_install "$root" "$inst")

port=$(free_port)
export PGHOST=$tmp PGPORT=$port PGUSER=postgres
export STOCKML_TEST_TMP=$tmp
failures=()
skipped=()
want() { [ -z "${STOCKML_SUITES:-}" ] || [[ " $STOCKML_SUITES " == *" $1 "* ]]; }
cleanup() {
	stop_cluster "$bindir" "$tmp/data"
	stop_cluster "$bindir" "$tmp/grafana"
	# shellcheck disable=SC2086 # a list of process ids
	if [ -n "${STOCKML_FIXTURE_PIDS:-}" ]; then kill $STOCKML_FIXTURE_PIDS 2>/dev/null || true; fi
}
trap cleanup EXIT

# Fixtures (mock servers) register themselves here: each test/fixtures/*.start.sh
# is sourced and may append to STOCKML_FIXTURE_PIDS and export settings.
STOCKML_FIXTURE_PIDS=""
for f in test/fixtures/*.start.sh; do
	# shellcheck source=/dev/null # each fixture is checked on its own
	[ -f "$f" ] && . "$f"
done

if [ -n "${STOCKML_SANITIZE:-}" ]; then
	# one report file per process; PostgreSQL keeps memory until exit by design and
	# forks without exec: no leak check
	mkdir -p "$tmp/sanitizer"
	STOCKML_SERVER_ENV="UBSAN_OPTIONS=print_stacktrace=1:log_path=$tmp/sanitizer/report"
	if [[ $STOCKML_SANITIZE == *address* ]]; then
		# libasan first, then a bindtextdomain() that starts ASan before glibc's gettext
		# lock is held (without it Debian's postgres hangs before main: see the file)
		gcc -Wall -Wextra -Werror -O2 -shared -fPIC -o "$tmp/asan_preinit.so" test/sanitizer/asan_preinit.c -ldl
		STOCKML_SERVER_ENV+=" LD_PRELOAD=$(gcc -print-file-name=libasan.so):$tmp/asan_preinit.so"
		STOCKML_SERVER_ENV+=" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$tmp/sanitizer/report"
	fi
	export STOCKML_SERVER_ENV
fi

say "throwaway cluster on port $port (socket in $tmp)"
init_cluster "$bindir" "$tmp/data" "$port" "$tmp" contrib_regression \
	test/postgresql.conf "$tmp/fixtures.conf"
if [ -n "${STOCKML_VALGRIND:-}" ]; then
	# after initdb (which need not run under valgrind): from here on every start of
	# this installation's postgres is valgrind's
	valgrind_started=$(date +%s)
	mkdir -p "$tmp/valgrind"
	mv "$bindir/postgres" "$bindir/postgres.bin"
	sed -e "s|@BIN@|$bindir/postgres.bin|" -e "s|@LOGDIR@|$tmp/valgrind|" \
		-e "s|@SUPP@|$root/test/valgrind/postgres.supp|" test/valgrind/run-postgres >"$bindir/postgres"
	chmod +x "$bindir/postgres"
	# the server under valgrind starts and stops some 30 times slower (start_cluster,
	# stop_cluster)
	STOCKML_START_TIMEOUT=600
fi
start_cluster "$bindir" "$tmp/data"

if want regress; then
say "pg_regress"
if ! make -s installcheck ${STOCKML_REGRESS:+REGRESS="$STOCKML_REGRESS"}; then
	failures+=(pg_regress)
	[ -f regression.diffs ] && head -n 200 regression.diffs
fi

fi

if want pgtap; then
say "pgTAP"
"$bindir/createdb" stockml_tap
"$bindir/psql" -X -q -d stockml_tap -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION stockml'
if ls test/pgtap/*.sql >/dev/null 2>&1; then
	tap_files=(test/pgtap/*.sql)
	if [ -n "${STOCKML_PGTAP:-}" ]; then
		tap_files=()
		for t in $STOCKML_PGTAP; do tap_files+=("test/pgtap/$t.sql"); done
	fi
	pg_prove -d stockml_tap --failures "${tap_files[@]}" || failures+=(pgTAP)
fi
fi

if want upgrade; then
	say "upgrade"
	bash test/upgrade/run.sh "$bindir" || failures+=(upgrade)
fi

if want dump; then
	say "dump and restore"
	bash test/dump/run.sh "$bindir" || failures+=(dump)
fi

if want citus; then
	say "citus (coordinator and two workers)"
	bash test/citus/run.sh "$bindir" | tee "$tmp/citus.log" || failures+=(citus)
	grep -q '^SKIPPED' "$tmp/citus.log" && skipped+=("citus: $(sed -n 's/^SKIPPED the citus suite: //p' "$tmp/citus.log")")
fi

if want fuzz; then
	say "fuzz (libFuzzer with ASan and UBSan, ${STOCKML_FUZZ_SECONDS:-20} s a target)"
	bash test/fuzz/run.sh --seconds "${STOCKML_FUZZ_SECONDS:-20}" || failures+=(fuzz)
fi

if want isolation && ls test/isolation/specs/*.spec >/dev/null 2>&1; then
	say "isolation"
	specs=()
	for s in test/isolation/specs/*.spec; do
		s=${s##*/}
		specs+=("${s%.spec}")
	done
	# --use-existing creates no database (and so loads no extension): make it here
	"$bindir/createdb" stockml_isolation
	"$bindir/psql" -X -q -d stockml_isolation -c 'CREATE EXTENSION stockml'
	"$pgxs_dir/src/test/isolation/pg_isolation_regress" --use-existing \
		--bindir="$bindir" --inputdir=test/isolation --outputdir="$tmp/isolation" \
		--dbname=stockml_isolation "${specs[@]}" ||
		{ failures+=(isolation); head -n 100 "$tmp/isolation/regression.diffs" 2>/dev/null; }
fi

if want tap && ls test/t/*.pl >/dev/null 2>&1; then
	say "TAP (perl)"
	tap_files=(test/t/*.pl)
	if [ -n "${STOCKML_TAP:-}" ]; then
		tap_files=()
		for t in $STOCKML_TAP; do tap_files+=("test/t/$t.pl"); done
	fi
	# these start clusters of their own from the private installation
	PATH="$bindir:$PATH" PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" \
		PG_TEST_NOCLEAN='' prove -I "$pgxs_dir/src/test/perl" -I test/t "${tap_files[@]}" ||
		failures+=(tap)
fi

# --- grafana (issue 6) -------------------------------------------------------
# A cluster set up as `make demo` sets one up (database stockml, scripts/demo.conf),
# filled by the demo's steps; then every query of grafana/dashboards/*.json and of
# the postgres_exporter file runs as a login member of stockml_reader, with Grafana's
# macros expanded (test/grafana/check_dashboards.py).
if want grafana; then
say "grafana dashboards (as stockml_reader, on the demo's data)"
grafana_demo() {
	local step
	PGPORT=$1 "$bindir/createdb" stockml || return 1
	for step in scripts/demo.d/*.sql; do
		PGPORT=$1 "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -d stockml -f "$step" >>"$tmp/grafana.demo.log" 2>&1 || {
			echo "demo step $step failed:"
			tail -n 20 "$tmp/grafana.demo.log"
			return 1
		}
	done
	PGPORT=$1 "$bindir/psql" -X -q -d stockml -c 'CREATE ROLE grafana_check LOGIN IN ROLE stockml_reader'
}
# the provisioning files against the options Grafana 10/11 document (no database needed)
/usr/bin/python3 test/grafana/check_provisioning.py --readme doc/grafana.md \
	--datasources grafana/provisioning/datasources/stockml.yaml \
	--dashboards grafana/provisioning/dashboards/stockml.yaml grafana/dashboards/*.json ||
	failures+=(grafana-provisioning)
gport=$(free_port)
init_cluster "$bindir" "$tmp/grafana" "$gport" "$tmp" stockml scripts/demo.conf
start_cluster "$bindir" "$tmp/grafana"
if grafana_demo "$gport"; then
	PGPORT=$gport PGUSER=grafana_check PGDATABASE=stockml /usr/bin/python3 test/grafana/check_dashboards.py \
		--datasource grafana/provisioning/datasources/stockml.yaml \
		--exporter grafana/prometheus/postgres_exporter_queries.yaml grafana/dashboards/*.json ||
		failures+=(grafana)
	# the demo's PNG charts, from the same panel queries, as the reader
	PGPORT=$gport PGUSER=grafana_check PGDATABASE=stockml /usr/bin/python3 scripts/demo_charts.py "$tmp/charts" &&
		/usr/bin/python3 test/grafana/check_charts.py "$tmp/charts" || failures+=(grafana-charts)
else
	failures+=(grafana)
fi
stop_cluster "$bindir" "$tmp/grafana"
fi
# --- end grafana ---------------------------------------------------------------

if [ -n "${STOCKML_SANITIZE:-}" ]; then
	say "sanitizer reports"
	if ls "$tmp"/sanitizer/report* >/dev/null 2>&1; then
		head -n 60 "$tmp"/sanitizer/report*
		failures+=(sanitizer)
	else
		echo "none (-fsanitize=$STOCKML_SANITIZE over: ${STOCKML_SUITES})"
	fi
fi

if [ -n "${STOCKML_VALGRIND:-}" ]; then
	stop_cluster "$bindir" "$tmp/data"
	say "valgrind reports ($(( ($(date +%s) - valgrind_started) / 60 )) minutes under valgrind)"
	bash test/valgrind/summary.sh "$tmp/valgrind" "$root" || failures+=(valgrind)
fi

for s in "${skipped[@]}"; do
	say "skipped $s"
done
if [ ${#failures[@]} -gt 0 ]; then
	say "FAILED: ${failures[*]} (logs in $tmp)"
	exit 1
fi
say "all tests passed"

#!/usr/bin/env bash
# test/citus/run.sh BINDIR — the Citus suite (issue 11), run by test/run.sh when
# Citus is installed in the PostgreSQL that BINDIR belongs to (it exits 0 with a
# message saying how to install it when it is not).  It starts a coordinator
# and two workers on loopback (three throwaway clusters, citus preloaded first,
# nodes reaching each other through the unix socket directory), creates citus
# and stockml on the coordinator, and then runs test/citus/checks.sh against
# it, which compares every answer with a single node (test/run.sh's cluster:
# PGHOST/PGPORT/PGUSER set) fed the same data.
set -euo pipefail
bindir=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/common.sh"
# the private installation is a copy of the server tree: its lib directory is beside bin
libdir=$(cd "$bindir/../lib" && pwd)
if [ ! -f "$libdir/citus.so" ]; then
	echo "SKIPPED the citus suite: Citus is not installed ($libdir/citus.so is missing)."
	echo "  Install Citus 13.2 for PostgreSQL 15 (Citus's packages, or from source:"
	echo "  bash /work/shared/citus/build.sh, i.e. ../shared/citus/build.sh beside the repository)."
	exit 0
fi

out=${STOCKML_TEST_TMP:-/tmp}/citus
rm -rf "$out"
mkdir -p "$out"
sock=$out
db=stockml_citus
nodes=(coord w1 w2)
declare -A port
cleanup_citus() {
	local n
	for n in "${nodes[@]}"; do stop_cluster "$bindir" "$out/$n"; done
}
trap cleanup_citus EXIT
cat >"$out/citus.conf" <<CONF
# --- citus suite ---
shared_preload_libraries = 'citus,pg_cron,stockml'
max_connections = 60
stockml.database = '$db'
# the checks count the calls of stockml's functions on the workers (pg_stat_user_functions)
track_functions = all
CONF
for n in "${nodes[@]}"; do
	port[$n]=$(free_port)
	# the mock Yahoo/Stooq server of test/run.sh (test/fixtures/mock_http.start.sh), if any
	init_cluster "$bindir" "$out/$n" "${port[$n]}" "$sock" "$db" "$out/citus.conf" \
		"${STOCKML_TEST_TMP:-/nonexistent}/fixtures.conf"
	start_cluster "$bindir" "$out/$n"
	"$bindir/createdb" -h "$sock" -p "${port[$n]}" "$db"
	"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "${port[$n]}" -d "$db" -c 'CREATE EXTENSION citus'
done
coord() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "${port[coord]}" -d "$db" "$@"; }
coord -c "SELECT citus_set_coordinator_host('$sock', ${port[coord]})" >/dev/null
coord -c "SELECT citus_add_node('$sock', ${port[w1]})" -c "SELECT citus_add_node('$sock', ${port[w2]})" >/dev/null
workers=$(coord -At -c "SELECT count(*) FROM citus_get_active_worker_nodes()")
echo "citus $(coord -At -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"): coordinator on port ${port[coord]}, $workers workers (${port[w1]}, ${port[w2]}), sockets in $sock"
[ "$workers" = 2 ] || { echo "expected 2 active workers, got $workers"; exit 1; }
coord -c 'CREATE EXTENSION stockml'
# CREATE EXTENSION on the coordinator is propagated to the workers
for n in w1 w2; do
	v=$("$bindir/psql" -X -At -h "$sock" -p "${port[$n]}" -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'stockml'")
	[ -n "$v" ] || { echo "stockml was not propagated to worker $n"; exit 1; }
done
echo "ok - citus, a coordinator and 2 workers; stockml on all three"

CITUS_BINDIR=$bindir CITUS_HOST=$sock CITUS_PORT=${port[coord]} CITUS_DB=$db CITUS_OUT=$out \
	bash "$here/checks.sh"

#!/usr/bin/env bash
# bench/citus.sh — issue 11 item 4: bench/features.sh's 2.5 M synthetic bars (500 symbols x
# 5 000 days, bench/synthetic.py) on a Citus coordinator with two workers beside one node,
# the same queries on the same rows in the same run (bench/citus.py): a bare ordered scan,
# the default feature set as 16 window aggregates (Citus pushes PARTITION BY symbol down),
# features() of every symbol, and train() over BENCH_TRAIN_SYMBOLS symbols with the bytes
# its pieces moved per symbol.  Four throwaway clusters of a private installation (as
# test/citus/run.sh starts them), all on this machine: the cluster cannot be faster here,
# it measures the overhead.  Then it adds a third worker, rebalances (citus_rebalance_start)
# and checks the answers again.  Not part of `make test` or `make bench`; about 15 minutes.
#   bash bench/citus.sh                               500 x 5000 bars, train over 50 symbols
#   BENCH_SYMBOLS=40 BENCH_DAYS=2000 bash bench/citus.sh      a quicker, smaller run
#   (BENCH_TRAIN_SYMBOLS, BENCH_REPEAT: symbols trained on, runs per timed query)
# Skipped, saying so, when Citus is not installed (bash ../shared/citus/build.sh builds it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"
reexec_as_postgres bench-citus "$root" bench/citus.sh BENCH_SYMBOLS BENCH_DAYS BENCH_TRAIN_SYMBOLS BENCH_REPEAT

make -s -C "$root" 2>&1
tmp=$root/tmp_bench_citus
rm -rf "$tmp"
mkdir -p "$tmp"
bindir=$(private_install "$root" "$tmp/install")
if [ ! -f "$bindir/../lib/citus.so" ]; then
	echo "SKIPPED bench/citus.sh: Citus is not installed ($(cd "$bindir/../lib" && pwd)/citus.so is missing)."
	exit 0
fi
# w3 starts empty: bench/citus.py adds it and rebalances after the timings
nodes=(single coord w1 w2 w3)
declare -A port
cleanup() {
	local n
	for n in "${nodes[@]}"; do stop_cluster "$bindir" "$tmp/$n"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
# the settings of bench_cluster (scripts/common.sh), on every node alike
cat >"$tmp/bench.conf" <<CONF
# --- bench/citus.sh ---
shared_buffers = 256MB
work_mem = 64MB
max_parallel_workers_per_gather = 0
jit = off
max_connections = 60
CONF
# wal_level logical: citus_rebalance_start() moves shards online (logical replication);
# its background tasks connect to their own node at citus.local_hostname: the socket directory
cat >"$tmp/citus.conf" <<CONF
shared_preload_libraries = 'citus,pg_cron,stockml'
wal_level = logical
citus.local_hostname = '$tmp'
CONF
for n in "${nodes[@]}"; do
	port[$n]=$(free_port)
	if [ "$n" = single ]; then
		init_cluster "$bindir" "$tmp/$n" "${port[$n]}" "$tmp" bench "$tmp/bench.conf"
	else
		init_cluster "$bindir" "$tmp/$n" "${port[$n]}" "$tmp" bench "$tmp/bench.conf" "$tmp/citus.conf"
	fi
	start_cluster "$bindir" "$tmp/$n"
	"$bindir/createdb" -h "$tmp" -p "${port[$n]}" bench
	if [ "$n" != single ]; then
		"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "${port[$n]}" -d bench -c 'CREATE EXTENSION citus'
	fi
done
coord() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "${port[coord]}" -d bench "$@"; }
coord -c "SELECT citus_set_coordinator_host('$tmp', ${port[coord]})" >/dev/null
coord -c "SELECT citus_add_node('$tmp', ${port[w1]})" -c "SELECT citus_add_node('$tmp', ${port[w2]})" >/dev/null
for n in single coord; do
	"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp" -p "${port[$n]}" -d bench -c 'CREATE EXTENSION stockml'
done
say "one node on port ${port[single]}; Citus $(coord -At -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"): coordinator ${port[coord]}, workers ${port[w1]} ${port[w2]}"
pids=()
for n in "${nodes[@]}"; do pids+=("$(head -n 1 "$tmp/$n/postmaster.pid")"); done
/usr/bin/python3 "$root/bench/citus.py" "host=$tmp port=${port[single]} dbname=bench user=postgres" \
	"host=$tmp port=${port[coord]} dbname=bench user=postgres" "${pids[0]}" "${pids[1]},${pids[2]},${pids[3]},${pids[4]}" \
	"${BENCH_SYMBOLS:-500}" "${BENCH_DAYS:-5000}" "${BENCH_TRAIN_SYMBOLS:-50}" "$tmp" "${port[w3]}"

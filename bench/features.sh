#!/usr/bin/env bash
# bench/features.sh — speed of stockml's indicators and features() on 2.5 M
# synthetic bars (500 symbols x 5 000 days of a seeded geometric random walk),
# against plain SQL window functions, psycopg2 + pandas, and a bare ordered scan,
# all measured in the same run on a throwaway cluster (private installation, as
# test/run.sh does).  Not part of `make test`; takes a few minutes.
#   bash bench/features.sh                 500 x 5000 bars
#   BENCH_SYMBOLS=50 bash bench/features.sh   a quicker, smaller run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"

if [ "$(id -u)" = 0 ]; then
	install_deps
	work=$(mktemp -d /tmp/stockml-bench.XXXXXX)
	cp -a "$root/." "$work/"
	rm -rf "$work/tmp_check" "$work/tmp_bench"
	chown -R postgres:postgres "$work"
	exec runuser -u postgres -- env PATH="$PATH" BENCH_SYMBOLS="${BENCH_SYMBOLS:-500}" \
		BENCH_DAYS="${BENCH_DAYS:-5000}" bash "$work/bench/features.sh"
fi
cd "$root"
make -s 2>&1
tmp=$root/tmp_bench
rm -rf "$tmp"
mkdir -p "$tmp"
bindir=$(private_install "$root" "$tmp/install")
port=$(free_port)
trap 'stop_cluster "$bindir" "$tmp/data"' EXIT
init_cluster "$bindir" "$tmp/data" "$port" "$tmp" bench
cat >>"$tmp/data/postgresql.conf" <<CONF
shared_buffers = 512MB
work_mem = 256MB
max_parallel_workers_per_gather = 0
jit = off
CONF
start_cluster "$bindir" "$tmp/data"
"$bindir/createdb" -h "$tmp" -p "$port" -U postgres bench
"$bindir/psql" -X -q -h "$tmp" -p "$port" -U postgres -d bench -c 'CREATE EXTENSION stockml'
PGHOST=$tmp PGPORT=$port PGUSER=postgres PGDATABASE=bench \
	/usr/bin/python3 "$root/bench/features.py" "${BENCH_SYMBOLS:-500}" "${BENCH_DAYS:-5000}"

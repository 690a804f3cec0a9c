#!/usr/bin/env bash
# bench/models.sh — training, serving and memory of stockml's models on 2.5 M
# synthetic bars (500 symbols x 5 000 days, bench/features.py's seeded random
# walk), against the Python stack doing the same work in the same run:
#   training  stockml.train (ridge, 5 walk-forward folds + refit) vs psycopg2 ->
#             pandas features -> scikit-learn StandardScaler + Ridge, same folds
#   memory    peak backend memory of that training vs the float8 feature matrix
#   predict   stockml.predict(model, symbol) under pgbench (2 clients) vs a
#             FastAPI + scikit-learn endpoint serving the same model
#   batch     predict(model, x) over 1 M feature rows vs a bare scan of them
# on a throwaway cluster (private installation, as test/run.sh does).  Not part
# of `make test`; takes about five minutes.
#   bash bench/models.sh                        500 x 5000 bars
#   BENCH_SYMBOLS=50 bash bench/models.sh       a quicker, smaller run
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
		BENCH_DAYS="${BENCH_DAYS:-5000}" BENCH_REPEAT="${BENCH_REPEAT:-3}" \
		BENCH_SECONDS="${BENCH_SECONDS:-15}" bash "$work/bench/models.sh"
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
PGHOST=$tmp PGPORT=$port PGUSER=postgres PGDATABASE=bench BENCH_BINDIR=$bindir BENCH_TMP=$tmp \
	/usr/bin/python3 "$root/bench/models.py" "${BENCH_SYMBOLS:-500}" "${BENCH_DAYS:-5000}"

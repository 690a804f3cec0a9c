# shellcheck shell=bash
# scripts/common.sh — shell helpers shared by the demo (scripts/demo.sh) and the
# test runner (test/run.sh): Debian packages, running as the unprivileged
# server account, and throwaway clusters with stockml and pg_cron preloaded.

# Debian packages stockml needs to build, run its demo and run its tests
# (clang, its libFuzzer runtime and llvm-cov for the fuzz targets of test/fuzz/).
STOCKML_PACKAGES="postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-15-cron
 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libcurl4-openssl-dev libopenblas-dev liblapacke-dev make gcc
 libipc-run-perl python3 python3-numpy python3-pandas python3-scipy python3-sklearn
 python3-psycopg2 python3-fastapi python3-uvicorn python3-yaml python3-matplotlib python3-xgboost
 clang libclang-rt-14-dev llvm-14"
# ... and those `make lint`, `make format` and `make check-format` need (scripts/lint.sh).
# shellcheck disable=SC2034 # read by scripts/lint.sh, which sources this file
STOCKML_LINT_PACKAGES="clang-format clang-tidy cppcheck shellcheck python3-flake8
 postgresql-server-dev-15 libcurl4-openssl-dev libopenblas-dev liblapacke-dev make gcc"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Install whatever of STOCKML_PACKAGES is missing, as root or through sudo.
install_deps() {
	local missing=() p
	for p in $STOCKML_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing Debian packages: ${missing[*]}"
	local sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || {
			echo "missing packages: ${missing[*]}; install them as root (apt-get install ...)" >&2
			return 1
		}
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A TCP port nobody listens on, from the kernel.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# init_cluster BINDIR DATADIR PORT SOCKETDIR DBNAME [CONF_FILE...]
# A new cluster with stockml and pg_cron preloaded, cron and the stockml
# worker pointed at DBNAME, and any extra configuration files appended.
init_cluster() {
	local bindir=$1 datadir=$2 port=$3 sockdir=$4 dbname=$5
	shift 5
	"$bindir/initdb" -D "$datadir" -A trust -U postgres --no-locale -E UTF8 >"$datadir.initdb.log" 2>&1 || {
		cat "$datadir.initdb.log" >&2
		return 1
	}
	cat >>"$datadir/postgresql.conf" <<CONF

# --- stockml throwaway cluster ---
port = $port
listen_addresses = ''
unix_socket_directories = '$sockdir'
shared_preload_libraries = 'pg_cron,stockml'
cron.database_name = '$dbname'
# pg_cron connects over libpq; no TCP here, so through the socket directory
cron.host = '$sockdir'
max_worker_processes = 16
fsync = off
synchronous_commit = off
log_min_messages = warning
CONF
	local f
	for f in "$@"; do
		[ -f "$f" ] && cat "$f" >>"$datadir/postgresql.conf"
	done
	return 0
}

# private_install ROOT INST: a copy of the server installation under INST with
# stockml (built in ROOT) installed into it; the system installation is not
# touched.  postgres finds its share and lib directories relative to its own
# binary, so a copy of the server tree plus `make install DESTDIR` is a full
# installation.  Prints the bin directory.
private_install() {
	local root=$1 inst=$2 d
	local pg_bindir pg_sharedir pg_libdir
	pg_bindir=$(pg_config --bindir)
	pg_sharedir=$(pg_config --sharedir)
	pg_libdir=$(pg_config --pkglibdir)
	for d in "$(dirname "$pg_bindir")" "$pg_sharedir"; do
		mkdir -p "$inst$(dirname "$d")"
		cp -a "$d" "$inst$(dirname "$d")/"
	done
	make -s -C "$root" install DESTDIR="$inst" >/dev/null
	[ -f "$inst$pg_libdir/stockml.so" ] || { echo "stockml.so missing from the private installation" >&2; return 1; }
	echo "$inst$pg_bindir"
}

# reexec_as_postgres NAME ROOT SCRIPT [VAR...]: as root, install what is missing,
# copy the tree ROOT to /tmp/stockml-NAME.XXXXXX owned by the postgres account and
# run ROOT/SCRIPT's copy there as postgres, passing the named environment
# variables on (never returns); as anyone else, do nothing.  The tests and the
# benchmarks use it: PostgreSQL refuses to run as root.
reexec_as_postgres() {
	[ "$(id -u)" = 0 ] || return 0
	local name=$1 root=$2 script=$3 work v
	shift 3
	local envs=("PATH=$PATH")
	for v in "$@"; do
		[ -n "${!v+x}" ] && envs+=("$v=${!v}")
	done
	install_deps
	work=$(mktemp -d "/tmp/stockml-$name.XXXXXX")
	# not the build products of earlier runs (a fuzzer may be growing test/fuzz/build meanwhile)
	tar -C "$root" --exclude=./tmp_check --exclude=./tmp_bench --exclude=./test/fuzz/build -cf - . |
		tar -C "$work" -xf -
	chown -R postgres:postgres "$work"
	say "running as user postgres in $work"
	exec runuser -u postgres -- env "${envs[@]}" bash "$work/$script"
}

# bench_cluster ROOT: build, install into a private installation under
# ROOT/tmp_bench, start a throwaway cluster set up for benchmarks (no parallel
# workers, no JIT, room in shared_buffers) with a database `bench` holding
# stockml, stopped on exit.  Sets bindir and bench_tmp; exports PGHOST, PGPORT,
# PGUSER and PGDATABASE.
bench_cluster() {
	local root=$1 port
	make -s -C "$root" 2>&1
	bench_tmp=$root/tmp_bench
	rm -rf "$bench_tmp"
	mkdir -p "$bench_tmp"
	bindir=$(private_install "$root" "$bench_tmp/install")
	port=$(free_port)
	trap 'stop_cluster "$bindir" "$bench_tmp/data"' EXIT
	init_cluster "$bindir" "$bench_tmp/data" "$port" "$bench_tmp" bench
	cat >>"$bench_tmp/data/postgresql.conf" <<CONF
shared_buffers = 512MB
work_mem = 256MB
max_parallel_workers_per_gather = 0
jit = off
CONF
	start_cluster "$bindir" "$bench_tmp/data"
	export PGHOST=$bench_tmp PGPORT=$port PGUSER=postgres PGDATABASE=bench
	"$bindir/createdb" bench
	"$bindir/psql" -X -q -c 'CREATE EXTENSION stockml'
}

# STOCKML_SERVER_ENV (e.g. "LD_PRELOAD=... ASAN_OPTIONS=...") is the server's
# environment on top of ours: the sanitizer run (test/run.sh, STOCKML_SANITIZE) uses it.
# STOCKML_START_TIMEOUT: seconds pg_ctl waits for the server (60; the valgrind run more).
start_cluster() { # BINDIR DATADIR
	local server_env
	read -r -a server_env <<<"${STOCKML_SERVER_ENV:-}"
	env "${server_env[@]}" "$1/pg_ctl" -D "$2" -l "$2/server.log" -w -t "${STOCKML_START_TIMEOUT:-60}" start >/dev/null || {
		tail -n 30 "$2/server.log" >&2
		return 1
	}
}

stop_cluster() { # BINDIR DATADIR
	if [ -f "$2/postmaster.pid" ]; then
		"$1/pg_ctl" -D "$2" -m fast -w -t "${STOCKML_START_TIMEOUT:-60}" stop >/dev/null 2>&1 || true
	fi
}

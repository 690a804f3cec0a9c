#!/usr/bin/env bash
# scripts/demo.sh — `make demo`: installs what is missing, builds and installs
# stockml, starts a throwaway cluster (its own directory and port, stockml and
# pg_cron preloaded; as root the server runs as the `postgres` account), loads
# the bundled MSFT sample and runs each step of scripts/demo.d/*.sql in order.
#   bash scripts/demo.sh stop    stops the demo cluster
# STOCKML_DEMO_PORT (default 54329) and STOCKML_DEMO_DIR (default tmp_demo/ in the
# repository, /tmp/stockml-demo as root) choose the cluster's port and directory; stop
# reads STOCKML_DEMO_DIR too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/common.sh"

port=${STOCKML_DEMO_PORT:-54329}
if [ "$(id -u)" = 0 ]; then
	dir=${STOCKML_DEMO_DIR:-/tmp/stockml-demo}
	as_server() { runuser -u postgres -- "$@"; }
	sudo=()
else
	dir=${STOCKML_DEMO_DIR:-$root/tmp_demo}
	as_server() { "$@"; }
	sudo=(sudo)
fi
bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)

if [ "${1:-}" = stop ]; then
	as_server bash -c "$(declare -f stop_cluster); stop_cluster '$bindir' '$dir/data'"
	echo "demo cluster in $dir stopped"
	exit 0
fi

install_deps
bindir=$(pg_config --bindir)

say "build and install"
make -s -C "$root" 2>&1
if [ -w "$(pg_config --pkglibdir)" ]; then
	make -s -C "$root" install >/dev/null
else
	"${sudo[@]}" make -s -C "$root" install >/dev/null
fi

say "throwaway cluster in $dir on port $port"
as_server bash -c "$(declare -f stop_cluster); stop_cluster '$bindir' '$dir/data'"
rm -rf "$dir"
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
as_server bash -c "$(declare -f init_cluster start_cluster); \
	init_cluster '$bindir' '$dir/data' '$port' '$dir' stockml '$root/scripts/demo.conf' && \
	start_cluster '$bindir' '$dir/data'"

export PGHOST=$dir PGPORT=$port PGUSER=postgres
"$bindir/createdb" stockml
cd "$root"
for step in scripts/demo.d/*.sql; do
	say "$(sed -n '1s/^-- *//p' "$step")"
	"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off -d stockml -f "$step"
done

say "charts of the forecasts, drift and skill (the Grafana panels' queries)"
PGDATABASE=stockml /usr/bin/python3 "$root/scripts/demo_charts.py" "$dir/charts"

# the stop command names the cluster's directory unless it is the default one
stop="bash $root/scripts/demo.sh stop"
[ -n "${STOCKML_DEMO_DIR:-}" ] && stop="STOCKML_DEMO_DIR=$(printf %q "$dir") $stop"
echo
echo "Explore:   cd $root && psql -h $dir -p $port -U postgres stockml"
# shellcheck disable=SC2016 # the backquotes are psql's, printed as they are
echo '           (from the repository root, where the README'"'"'s \set csv `cat data/MSFT.csv` finds the file)'
echo "Charts:    $dir/charts/*.png"
echo "Stop:      $stop"

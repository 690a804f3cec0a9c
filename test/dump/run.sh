#!/usr/bin/env bash
# test/dump/run.sh BINDIR — the dump test, run by test/run.sh (PGHOST set to its
# socket directory, STOCKML_TEST_TMP to its scratch directory):
#   1. every table and sequence of schema stockml is registered with
#      pg_extension_config_dump (a new table that is not fails here);
#   2. a cluster set up as `make demo` sets one up is filled by the demo's steps
#      (scripts/demo.d/*.sql: prices, HTTP ingest and jobs, models, monitoring and
#      the pg_cron pipeline), dumped with pg_dump -Fc and restored with
#      pg_restore --exit-on-error into database stockml of a second, new cluster
#      (CREATE EXTENSION comes with the dump);
#   3. every stockml table has the same row count and checksum of its rows in the
#      copy, every stockml sequence the same state, pg_cron the same jobs;
#   4. in the copy, ingest, train, deploy, predict, forecast, monitor and submit
#      work and their new rows get ids above the source's.
set -euo pipefail
bindir=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/common.sh"
tmp=${STOCKML_TEST_TMP:-/tmp}
out=$tmp/dump
rm -rf "$out"
mkdir -p "$out"
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
fail=0

src_port=$(free_port)
dst_port=$(free_port)
# shellcheck disable=SC2317 # called by the trap below
cleanup() {
	stop_cluster "$bindir" "$out/src"
	stop_cluster "$bindir" "$out/dst"
}
trap cleanup EXIT
init_cluster "$bindir" "$out/src" "$src_port" "$tmp" stockml "$root/scripts/demo.conf"
init_cluster "$bindir" "$out/dst" "$dst_port" "$tmp" stockml "$root/scripts/demo.conf"
start_cluster "$bindir" "$out/src"
start_cluster "$bindir" "$out/dst"

# Row count and md5 of every table of schema stockml (rows as text, sorted), the
# state of every sequence of schema stockml, and pg_cron's jobs.
cat >"$out/state.sql" <<'SQL'
SELECT format('SELECT %L AS rel, count(*) AS n, md5(coalesce(string_agg(%s, E''\n'' ORDER BY %2$s), '''')) AS md5 FROM %s t',
              c.oid::regclass::text, r.expr, c.oid::regclass)
  FROM pg_class c,
       -- the built-in feature set comes from CREATE EXTENSION, with the time of the restore
       LATERAL (SELECT CASE WHEN c.oid = 'stockml.feature_sets'::regclass
                            THEN '(t.name, t.spec, t.description, CASE WHEN t.name <> ''default'' THEN t.created_at END)::text'
                            ELSE 't::text' END) r(expr)
 WHERE c.relnamespace = 'stockml'::regnamespace AND c.relkind IN ('r', 'p')
   -- derived, not dumped: the restore's own writes fill it (checked below)
   AND c.oid <> 'stockml.bar_changes'::regclass
UNION ALL
SELECT format('SELECT %L, last_value, is_called::text FROM %s', c.oid::regclass::text, c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace = 'stockml'::regnamespace AND c.relkind = 'S'
   AND c.oid <> 'stockml.bar_changes_seq'::regclass
UNION ALL
SELECT 'SELECT ''cron.job'', count(*), md5(coalesce(string_agg(format(''%s|%s|%s|%s|%s'', jobname, schedule, command, database, username), E''\n'' ORDER BY jobname), '''')) FROM cron.job'
 ORDER BY 1
\gexec
SQL

cd "$root"
PGPORT=$src_port "$bindir/createdb" stockml

# 1. registrations, on the fresh install of the demo's first step's CREATE EXTENSION
PGPORT=$src_port psql -d stockml -c 'CREATE EXTENSION stockml'
unregistered=$(PGPORT=$src_port psql -d stockml -At <<'SQL'
SELECT c.oid::regclass
  FROM pg_class c, pg_extension e
 WHERE e.extname = 'stockml' AND c.relnamespace = 'stockml'::regnamespace
   AND c.relkind IN ('r', 'p', 'S') AND c.oid <> ALL (e.extconfig)
   -- predict()'s change tracking is derived from the bars: the restore's own writes rebuild it
   AND c.oid NOT IN ('stockml.bar_changes'::regclass, 'stockml.bar_changes_seq'::regclass)
 ORDER BY 1
SQL
)
if [ -n "$unregistered" ]; then
	echo "dump: not registered with pg_extension_config_dump (pg_dump would lose them): ${unregistered//$'\n'/ }"
	fail=1
fi
PGPORT=$src_port psql -d stockml -c 'DROP EXTENSION stockml'

# 2. the demo, then dump and restore
for step in scripts/demo.d/*.sql; do
	PGPORT=$src_port psql -d stockml -f "$step" >>"$out/demo.log" 2>&1 || {
		echo "dump: demo step $step failed:"
		tail -n 20 "$out/demo.log"
		exit 1
	}
done
# let the worker finish anything the demo left running, so both sides see the same rows
PGPORT=$src_port psql -d stockml -c "DO \$\$ BEGIN
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM stockml.jobs WHERE status IN ('queued', 'running'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END \$\$"

# what the demo leaves empty: a user-defined feature set and a corporate action
PGPORT=$src_port psql -d stockml <<'SQL'
INSERT INTO stockml.feature_sets (name, spec, description)
SELECT 'dump_test', jsonb_build_object('features', jsonb_build_array(spec -> 'features' -> 0)), 'one feature'
  FROM stockml.feature_sets WHERE name = 'default';
INSERT INTO stockml.corporate_actions (symbol, day, kind, amount, source)
VALUES ('MSFT', '2001-06-13', 'dividend', 0.08, 'dump test');
SQL

PGPORT=$src_port "$bindir/pg_dump" -Fc -d stockml -f "$out/stockml.dump"
PGPORT=$dst_port "$bindir/createdb" stockml
if ! PGPORT=$dst_port "$bindir/pg_restore" --exit-on-error -d stockml "$out/stockml.dump" >"$out/restore.log" 2>&1; then
	echo "dump: pg_restore failed:"
	tail -n 20 "$out/restore.log"
	exit 1
fi

# 3. the same rows on both sides
PGPORT=$src_port psql -d stockml -At -F ' ' -f "$out/state.sql" >"$out/state.source"
PGPORT=$dst_port psql -d stockml -At -F ' ' -f "$out/state.sql" >"$out/state.restored"
if ! diff -u "$out/state.source" "$out/state.restored"; then
	echo "dump: the restored database differs from the source (- source, + restored)"
	fail=1
fi
# a dump that kept nothing would also compare equal: the demo's data must be there
for rel in stockml.symbols stockml.prices stockml.ingest_log stockml.corporate_actions stockml.jobs \
	stockml.experiments stockml.runs stockml.run_metrics stockml.models stockml.model_aliases \
	stockml.alias_history stockml.predictions stockml.validation_predictions \
	stockml.retrain_policies stockml.drift_metrics stockml.performance_metrics \
	stockml.retrain_events cron.job; do
	n=$(awk -v r="$rel" '$1 == r { print $2 }' "$out/state.restored")
	if [ -z "$n" ] || [ "$n" = 0 ]; then
		echo "dump: $rel is empty after the demo (n='$n'); the test proves nothing for it"
		fail=1
	fi
done

# predict()'s change tracking (stockml.bar_changes, not dumped) was filled by the restore's
# writes: a row for every symbol with bars, so predict() keeps its feature state in the copy
no_changes=$(PGPORT=$dst_port psql -d stockml -At -c "SELECT string_agg(DISTINCT p.symbol, ' ') FROM stockml.prices p
  WHERE NOT EXISTS (SELECT FROM stockml.bar_changes b WHERE b.symbol = p.symbol)")
if [ -n "$no_changes" ]; then
	echo "dump: no stockml.bar_changes row after the restore for: $no_changes"
	fail=1
fi

# 4. the copy works on, and new rows get new ids
cat >"$out/ids.sql" <<'SQL'
SELECT format('SELECT %L, max(id) FROM %s', c.relname, c.oid::regclass)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id' AND a.attidentity <> ''
 WHERE c.relnamespace = 'stockml'::regnamespace AND c.relkind = 'r'
 ORDER BY 1
\gexec
SQL
PGPORT=$dst_port psql -d stockml -At -F ' ' -f "$out/ids.sql" >"$out/ids.before"
if ! PGPORT=$dst_port psql -d stockml -v csv="$(cat data/MSFT.csv)" >"$out/work.log" 2>&1 <<'SQL'
SELECT status FROM stockml.ingest_csv('MSFT', :'csv');
SELECT version AS v FROM stockml.train('msft_next_day', ARRAY['MSFT'], 'ridge', params => '{"alpha": 5}') \gset
SELECT action FROM stockml.deploy('msft_next_day', :v, reason => 'dump test');
SELECT predicted_close > 0 FROM stockml.predict('msft_next_day', 'MSFT');
SELECT stockml.predict('msft_next_day', x) > 0 FROM stockml.features('MSFT') ORDER BY day DESC LIMIT 1;
SELECT count(*) FROM stockml.forecast('msft_monitored');
SELECT count(*) FROM stockml.forecast('msft_next_day');
SELECT 1 FROM stockml.monitor('msft_monitored');
SELECT stockml.submit('refresh', '{"symbols": ["MSFT"]}') > 0;
SQL
then
	echo "dump: work in the restored database failed:"
	tail -n 20 "$out/work.log"
	fail=1
fi
PGPORT=$dst_port psql -d stockml -At -F ' ' -f "$out/ids.sql" >"$out/ids.after"
for t in ingest_log jobs runs models alias_history predictions drift_metrics performance_metrics; do
	before=$(awk -v r="$t" '$1 == r { print $2 }' "$out/ids.before")
	after=$(awk -v r="$t" '$1 == r { print $2 }' "$out/ids.after")
	if [ -z "$before" ] || [ -z "$after" ] || [ "$after" -le "$before" ]; then
		echo "dump: stockml.$t: max(id) $before before the work in the copy, $after after (want more)"
		fail=1
	fi
done

n=$(grep -c '' "$out/state.source")
[ "$fail" = 0 ] && echo "dump: pg_dump -Fc / pg_restore of the demo's database ok ($n tables, sequences and cron.job identical; ids continue)"
exit "$fail"

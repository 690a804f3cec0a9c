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
#   4. predict() gives the source's answers in the copy, from its kept state too
#      (stockml.bar_changes is derived, not dumped: the restore's writes fill it);
#   5. in the copy, ingest, train, deploy, predict, forecast, monitor and submit
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

# predict() serves the copy as it served the source, from its kept state too: bar_changes is
# derived, not dumped (doc/upgrades.md), and the restore's own writes of prices filled it.
# One session per side, the same calls: every model version on each of its symbols, each
# answer's whole row as jsonb (float8 exactly); the first round builds the states,
# the second is served from them with no bar read, the third after a bar appended to every
# symbol reads only that bar; each round also computed from all bars, and how the calls
# were served (stockml.feature_state_stats()) is part of the output.
cat >"$out/predict.sql" <<'SQL'
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.answers(round text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    c record;
    kept jsonb;
    full_ jsonb;
BEGIN
    FOR c IN SELECT m.name, m.version, s.symbol FROM stockml.models m, unnest(m.symbols) s(symbol)
              ORDER BY 1, 2, 3 LOOP
        BEGIN
            SELECT to_jsonb(p) INTO kept FROM stockml.predict(c.name, c.symbol, version => c.version) p;
            PERFORM set_config('stockml.feature_state_cache_size', '0', true);
            SELECT to_jsonb(p) INTO full_ FROM stockml.predict(c.name, c.symbol, version => c.version) p;
            PERFORM set_config('stockml.feature_state_cache_size', '1024', true);
            RETURN NEXT format('%s %s v%s %s: %s%s', round, c.symbol, c.version, c.name, kept,
                               CASE WHEN kept IS DISTINCT FROM full_ THEN ' KEPT /= FULL ' || full_::text ELSE '' END);
        EXCEPTION WHEN OTHERS THEN
            RETURN NEXT format('%s %s v%s %s: ERROR %s', round, c.symbol, c.version, c.name, SQLERRM);
        END;
    END LOOP;
    RETURN NEXT (SELECT format('%s served: %s', round, s) FROM stockml.feature_state_stats() s);
END $$;
SELECT pg_temp.answers('1 built');
SELECT pg_temp.answers('2 kept');
-- (adj_close / close as on the last bar: no rescale of the earlier ones)
INSERT INTO stockml.prices (symbol, day, open, high, low, close, adj_close, volume)
SELECT p.symbol, p.day + CASE extract(isodow FROM p.day) WHEN 5 THEN 3 WHEN 6 THEN 2 ELSE 1 END,
       p.close, p.close * 1.02, p.close * 0.99, p.close * 1.01, p.adj_close * 1.01, p.volume
  FROM (SELECT DISTINCT ON (symbol) * FROM stockml.prices ORDER BY symbol, day DESC) p;
SELECT pg_temp.answers('3 appended');
-- the appended bars go again (an edit), for what follows
DELETE FROM stockml.prices p USING (SELECT symbol, max(day) AS day FROM stockml.prices GROUP BY symbol) l
 WHERE p.symbol = l.symbol AND p.day = l.day;
SQL
PGPORT=$src_port psql -d stockml -At -f "$out/predict.sql" >"$out/predict.source"
PGPORT=$dst_port psql -d stockml -At -f "$out/predict.sql" >"$out/predict.restored"
if ! diff -u "$out/predict.source" "$out/predict.restored"; then
	echo "dump: predict() answers differently in the restored database (- source, + restored)"
	fail=1
fi
calls=$(grep -c ': {' "$out/predict.restored" || true)
if grep -q 'KEPT /= FULL\|ERROR' "$out/predict.restored" || [ "$calls" -lt 6 ]; then
	echo "dump: predict() in the restored database: $calls answers, or one kept /= full or an ERROR:"
	grep 'KEPT /= FULL\|ERROR' "$out/predict.restored" | head -n 5
	fail=1
fi
# each round served as it says: built (rebuilds), kept (hits), appended (appends)
n=$((calls / 3))
if ! grep -q "^1 built served: (0,0,$n,$n," "$out/predict.restored" ||
	! grep -q "^2 kept served: ($n,0,$n,$((2 * n))," "$out/predict.restored" ||
	! grep -q "^3 appended served: ($n,$n,$n,$((3 * n))," "$out/predict.restored"; then
	echo "dump: the restored database's calls were not served from the kept state as expected ($n per round):"
	grep served "$out/predict.restored"
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

#!/usr/bin/env bash
# test/upgrade/run.sh BINDIR — the upgrade test, run by test/run.sh against its
# throwaway cluster (PGHOST/PGPORT/PGUSER set):
#   1. install stockml 0.1.0 (the frozen sql/stockml--0.1.0.sql, run against the
#      current stockml.so, so every C symbol 0.1.0 names must still exist), load
#      MSFT's bars, train and deploy a ridge model, predict;
#   2. ALTER EXTENSION stockml UPDATE; the model still predicts the same value,
#      the ledger's target days move to the symbol's trading calendar,
#      its blob still carries format version 1, and ids continue (a new train);
#   3. the upgraded catalog (test/upgrade/catalog.sql: functions with bodies,
#      columns, constraints, indexes, views, grants, triggers, dump
#      registrations, comments) equals a fresh install of the current version.
set -euo pipefail
bindir=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${STOCKML_TEST_TMP:-/tmp}/upgrade
rm -rf "$out"
mkdir -p "$out"
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

"$bindir/dropdb" --if-exists stockml_up_old
"$bindir/dropdb" --if-exists stockml_up_new
"$bindir/createdb" stockml_up_old
"$bindir/createdb" stockml_up_new

current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/stockml.control")

psql -d stockml_up_old -v csv="$(cat "$root/data/MSFT.csv")" <<'SQL' >"$out/old.log"
CREATE EXTENSION stockml VERSION '0.1.0';
SELECT status, rows_inserted FROM stockml.ingest_csv('MSFT', :'csv');
SELECT version FROM stockml.train('up_ridge', ARRAY['MSFT'], 'ridge', params => '{"alpha": 10}');
SELECT action FROM stockml.deploy('up_ridge', 1, reason => 'upgrade test');
-- a forecast made on Friday 2000-12-22: 0.1.0 targets Christmas, 0.2.0 (XNYS) 2000-12-26
SELECT status FROM stockml.ingest_csv('MSFTH', :'csv');
DELETE FROM stockml.prices WHERE symbol = 'MSFTH' AND day > '2000-12-22';
SELECT count(*) FROM stockml.forecast('up_ridge', ARRAY['MSFT', 'MSFTH']);
SQL

predict_sql="SELECT symbol, as_of, target_day, predicted_close::text, lower::text, upper::text, model_version
               FROM stockml.predict('up_ridge', 'MSFT')"
blob_sql="SELECT version, get_byte(model, 4) + 256 * get_byte(model, 5) AS format
            FROM stockml.models WHERE name = 'up_ridge' ORDER BY version"
psql -d stockml_up_old -At -c "$predict_sql" >"$out/predict.before"
ledger_sql="SELECT symbol, as_of, target_day FROM stockml.predictions ORDER BY symbol"
ledger=$(psql -d stockml_up_old -At -c "$ledger_sql" | tr '\n' ' ')
if [ "$ledger" != "MSFT|2001-09-27|2001-09-28 MSFTH|2000-12-22|2000-12-25 " ]; then
	echo "upgrade: 0.1.0's forecast ledger is '$ledger', expected weekday target days"
	exit 1
fi
psql -d stockml_up_old -At -c "$blob_sql" >"$out/blob.before"

psql -d stockml_up_old -c 'ALTER EXTENSION stockml UPDATE'
got=$(psql -d stockml_up_old -At -c "SELECT extversion FROM pg_extension WHERE extname = 'stockml'")
fail=0
if [ "$got" != "$current" ]; then
	echo "upgrade: ALTER EXTENSION stockml UPDATE gave version $got, expected $current"
	fail=1
fi

psql -d stockml_up_old -At -c "$predict_sql" >"$out/predict.after"
psql -d stockml_up_old -At -c "$blob_sql" >"$out/blob.after"
if ! diff -u "$out/predict.before" "$out/predict.after"; then
	echo "upgrade: the deployed 0.1.0 model predicts differently after the upgrade"
	fail=1
fi
if [ "$(cat "$out/blob.before")" != "1|1" ] || ! diff -u "$out/blob.before" "$out/blob.after"; then
	echo "upgrade: the 0.1.0 model blob's format version changed or was not 1"
	fail=1
fi
# the ledger's forecasts are re-targeted to trading days of their symbol's calendar
ledger=$(psql -d stockml_up_old -At -c "$ledger_sql" | tr '\n' ' ')
if [ "$ledger" != "MSFT|2001-09-27|2001-09-28 MSFTH|2000-12-22|2000-12-26 " ]; then
	echo "upgrade: the forecast ledger after the upgrade is '$ledger', expected the XNYS target days"
	fail=1
fi
# ids continue after the upgrade: a second version trains and deploys
v=$(psql -d stockml_up_old -At -c "SELECT version FROM stockml.train('up_ridge', ARRAY['MSFT'], 'ridge', params => '{\"alpha\": 10}')")
if [ "$v" != 2 ]; then
	echo "upgrade: a train after the upgrade gave version '$v', expected 2"
	fail=1
fi

psql -d stockml_up_new -c 'CREATE EXTENSION stockml'
psql -d stockml_up_old -f "$here/catalog.sql" >"$out/catalog.upgraded"
psql -d stockml_up_new -f "$here/catalog.sql" >"$out/catalog.fresh"
if ! diff -u "$out/catalog.fresh" "$out/catalog.upgraded" >"$out/catalog.diff"; then
	echo "upgrade: the catalog after ALTER EXTENSION UPDATE differs from a fresh $current install"
	echo "(- fresh install, + upgraded; all of it in $out/catalog.diff)"
	head -n 80 "$out/catalog.diff"
	fail=1
fi
n=$(grep -c '' "$out/catalog.fresh")
[ "$fail" = 0 ] && echo "upgrade: 0.1.0 -> $current ok (catalog of $n lines identical, model predicts the same)"
exit "$fail"

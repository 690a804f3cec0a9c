#!/usr/bin/env bash
# test/citus/checks.sh — the Citus suite's checks (test/citus/run.sh starts the
# cluster and sets CITUS_*): each prints "ok - ..." or "not ok - ..." and the
# script fails when any failed.
set -uo pipefail
bindir=$CITUS_BINDIR
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$CITUS_OUT
fails=0
coord() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$CITUS_PORT" -d "$CITUS_DB" "$@"; }
single() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -d stockml_citus_single "$@"; }
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }
# the numbers as text, to the last bit
export PGOPTIONS="-c extra_float_digits=3"

# a single node (test/run.sh's cluster) with the same data
"$bindir/dropdb" --if-exists stockml_citus_single 2>/dev/null
"$bindir/createdb" stockml_citus_single
single -c 'CREATE EXTENSION stockml'

# 1. distribute(): where every table lives, twice (idempotent)
if coord -At -c 'SELECT table_name || $$ $$ || placement FROM stockml.distribute(shard_count => 4)' >"$out/distribute.1" 2>&1 &&
	coord -At -c 'SELECT table_name || $$ $$ || placement FROM stockml.distribute(shard_count => 4)' >"$out/distribute.2" 2>&1 &&
	cmp -s "$out/distribute.1" "$out/distribute.2" &&
	grep -qx 'stockml.prices distributed by symbol' "$out/distribute.1" &&
	grep -qx 'stockml.symbols distributed by symbol' "$out/distribute.1" &&
	grep -qx 'stockml.corporate_actions distributed by symbol' "$out/distribute.1"; then
	ok "distribute() distributes symbols, prices, corporate_actions by symbol; a second call changes nothing"
else
	notok "distribute():"
	cat "$out/distribute.1" "$out/distribute.2"
fi
shards=$(coord -At -c "SELECT count(DISTINCT p.nodeport) || ' nodes, ' || count(*) || ' shards'
  FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p USING (groupid)
 WHERE s.logicalrelid = 'stockml.prices'::regclass")
colocated=$(coord -At -c "SELECT count(DISTINCT colocationid) FROM pg_dist_partition
 WHERE logicalrelid IN ('stockml.symbols'::regclass, 'stockml.prices'::regclass, 'stockml.corporate_actions'::regclass)")
if [ "$shards" = "2 nodes, 4 shards" ] && [ "$colocated" = 1 ]; then
	ok "prices: $shards, colocated with symbols and corporate_actions"
else
	notok "prices: $shards, $colocated colocation groups"
fi

# 2. ingest the same CSV on both: MSFT, and MSFB = MSFT without its first 30 bars
msft=$(cat "$root/data/MSFT.csv")
msfb=$(sed '2,31d' "$root/data/MSFT.csv")
# the third ingest of MSFT changes one bar's volume (an update through ON CONFLICT DO UPDATE)
msft2=$(awk -F, -v OFS=, -v last="$(wc -l <"$root/data/MSFT.csv")" 'NR == last { $NF = $NF * 2 } { print }' "$root/data/MSFT.csv")
ingest_sql="SELECT status, rows_inserted, rows_updated, rows_rejected FROM stockml.ingest_csv('MSFT', :'msft');
SELECT status, rows_inserted, rows_updated, rows_rejected FROM stockml.ingest_csv('MSFB', :'msfb');
SELECT status, rows_inserted, rows_updated, rows_rejected FROM stockml.ingest_csv('MSFT', :'msft');
SELECT status, rows_inserted, rows_updated, rows_rejected FROM stockml.ingest_csv('MSFT', :'msft2');
SELECT count(*), sum(close::numeric), sum(volume) FROM stockml.prices;"
coord -At -v msft="$msft" -v msfb="$msfb" -v msft2="$msft2" <<<"$ingest_sql" >"$out/ingest.citus" 2>&1
single -At -v msft="$msft" -v msfb="$msfb" -v msft2="$msft2" <<<"$ingest_sql" >"$out/ingest.single" 2>&1
if cmp -s "$out/ingest.citus" "$out/ingest.single" && ! grep -q ERROR "$out/ingest.single"; then
	ok "ingest_csv on the coordinator: the same counts and bars as on one node ($(tr '\n' ' ' <"$out/ingest.single"))"
else
	notok "ingest_csv differs (citus, then single):"
	diff "$out/ingest.citus" "$out/ingest.single"
fi
rows=$(coord -At -c "SELECT 'bars per shard of prices: ' || string_agg(n::text, ' + ' ORDER BY n) FROM (SELECT nodeport, result::int AS n FROM run_command_on_shards('stockml.prices', 'SELECT count(*) FROM %s') r JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid)) s" 2>&1)
echo "# $rows"

# 3. features(): the same rows, to the last bit (never 0 rows)
feat_sql="SELECT symbol, day, close, x::text, y FROM stockml.features('MSFT') ORDER BY day"
coord -At -c "$feat_sql" >"$out/features.citus" 2>&1
single -At -c "$feat_sql" >"$out/features.single" 2>&1
nf=$(wc -l <"$out/features.single")
if [ "$nf" -gt 100 ] && cmp -s "$out/features.citus" "$out/features.single"; then
	ok "features('MSFT') on the coordinator: the same $nf rows as one node, bit for bit"
else
	notok "features('MSFT'): $(wc -l <"$out/features.citus") rows on Citus, $nf on one node"
	diff "$out/features.citus" "$out/features.single" | head -5
fi

# 4. train over two symbols, predict: the same model
train_sql="SELECT version FROM stockml.train('cm', ARRAY['MSFT', 'MSFB'], 'ridge', params => '{\"alpha\": 10}');
SELECT stockml.model_describe(model) FROM stockml.models WHERE name = 'cm';"
coord -At <<<"$train_sql" >"$out/train.citus" 2>&1
single -At <<<"$train_sql" >"$out/train.single" 2>&1
if /usr/bin/python3 "$here/same_json.py" "$out/train.citus" "$out/train.single" 1e-9; then
	ok "train('cm', MSFT and MSFB, ridge): the same model on Citus as on one node (within 1e-9)"
else
	notok "train over two symbols differs (citus, then single):"
	head -c 600 "$out/train.citus"; echo
	head -c 600 "$out/train.single"; echo
fi
pred_sql="SELECT symbol, as_of, target_day, predicted_close, lower, upper FROM stockml.predict('cm', 'MSFB', version => 1)"
coord -At -c "$pred_sql" >"$out/predict.citus" 2>&1
single -At -c "$pred_sql" >"$out/predict.single" 2>&1
if [ -s "$out/predict.single" ] && /usr/bin/python3 "$here/same_json.py" "$out/predict.citus" "$out/predict.single" 1e-9; then
	ok "predict('cm', 'MSFB'): $(cat "$out/predict.single") on both"
else
	notok "predict differs (citus, then single):"
	cat "$out/predict.citus" "$out/predict.single"
fi

# 5. deploy, forecast (the ledger stays on the coordinator): the same as one node.
# (monitor() is refused by Citus, "cannot push down this subquery": not fixed yet, issue 11)
fc_sql="SELECT action FROM stockml.deploy('cm', 1, reason => 'citus test');
SELECT status, symbol, as_of, target_day, predicted_close, lower, upper FROM stockml.forecast('cm', ARRAY['MSFT', 'MSFB']) ORDER BY symbol;
SELECT symbol, as_of, target_day, predicted_close FROM stockml.predictions ORDER BY symbol;"
coord -At <<<"$fc_sql" >"$out/forecast.citus" 2>&1
single -At <<<"$fc_sql" >"$out/forecast.single" 2>&1
if ! grep -q ERROR "$out/forecast.single" && /usr/bin/python3 "$here/same_json.py" "$out/forecast.citus" "$out/forecast.single" 1e-9; then
	ok "deploy, forecast(MSFT, MSFB) and its ledger rows: the same on Citus as on one node"
else
	notok "deploy/forecast differ (citus, then single):"
	cat "$out/forecast.citus" "$out/forecast.single"
fi

"$bindir/dropdb" stockml_citus_single
if [ "$fails" -gt 0 ]; then
	echo "citus: $fails check(s) failed (logs in $out)"
	exit 1
fi
echo "citus: all checks passed"

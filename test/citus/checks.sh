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
coord -At <<<"SET client_min_messages = debug1;
$train_sql" >"$out/train.citus" 2>"$out/train.citus.debug"
grep -v '^DEBUG' "$out/train.citus.debug" >>"$out/train.citus"
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

# 6. training reads each symbol where it lives (src/train_piece.c): the rows and, for the
# linear models, the R factors of every fold's share come from the symbol's worker
# (Citus says "pushing down the function call"), and combine into one node's models.
# MSFC = MSFT without its last 50 bars, so the symbols' shares of the folds differ.
msfc=$(head -n -50 "$root/data/MSFT.csv")
cal_spec='{"features": [{"name": "ret_1", "indicator": "log_return", "k": 1}, {"name": "ret_5", "indicator": "log_return", "k": 5}, {"name": "wd", "indicator": "weekday"}]}'
setup_sql="SELECT status FROM stockml.ingest_csv('MSFC', :'msfc');
INSERT INTO stockml.feature_sets (name, spec) VALUES ('cal', :'cal_spec');"
coord -At -v msfc="$msfc" -v cal_spec="$cal_spec" <<<"$setup_sql" >/dev/null
single -At -v msfc="$msfc" -v cal_spec="$cal_spec" <<<"$setup_sql" >/dev/null
# name|algorithm|params|feature set|pushed-down piece calls expected: 2 heads x 3 symbols x
# (rows + QR factors) for the linear models, whose search trials share the factors; rows only
# for gbt; none for a feature set that reads the calendar (it lives on the coordinator)
for t in 'pr|ridge|{"alpha": 10}|default|12' 'pe|elastic_net|{"alpha": 0.001, "l1_ratio": 0.5}|default|12' \
	'ps|ridge|{"alpha": [1, 10, 100]}|default|12' 'pg|gbt|{"max_iter": 20, "max_leaf_nodes": 8}|default|6' \
	'pc|ridge|{"alpha": 10}|cal|0'; do
	IFS='|' read -r name alg params fset calls <<<"$t"
	sql="SELECT version FROM stockml.train('$name', ARRAY['MSFT', 'MSFB', 'MSFC'], '$alg', params => '$params', feature_set => '$fset', horizons => ARRAY[1, 3]);
SELECT metrics - 'gate', stockml.model_describe(model) FROM stockml.models WHERE name = '$name';
SELECT fold, symbol, day, target_day, close, y, yhat FROM stockml.validation_predictions WHERE model_name = '$name' ORDER BY symbol, day;
SELECT n.feature, n.method, n.statistics::text FROM stockml.drift_null n JOIN stockml.models m ON m.id = n.model_id WHERE m.name = '$name' ORDER BY 1, 2;"
	coord -At <<<"SET client_min_messages = debug1;
$sql" >"$out/$name.citus" 2>"$out/$name.citus.debug"
	single -At <<<"$sql" >"$out/$name.single" 2>"$out/$name.single.err"
	pushed=$(grep -c '^DEBUG:  pushing down the function call' "$out/$name.citus.debug")
	rows=$(wc -l <"$out/$name.single")
	if [ "$pushed" = "$calls" ] && ! grep -q ERROR "$out/$name.single.err" "$out/$name.citus.debug" &&
		[ "$rows" -gt 300 ] && /usr/bin/python3 "$here/same_json.py" "$out/$name.citus" "$out/$name.single" 1e-9; then
		ok "train('$name', 3 symbols, $alg, feature set $fset, horizons 1 and 3): $calls piece calls run on the workers; model, metrics, $rows lines of validation rows and drift null equal one node's (within 1e-9)"
	else
		notok "train('$name', $alg, $fset): $pushed piece calls pushed down (expected $calls), or results differ:"
		/usr/bin/python3 "$here/same_json.py" "$out/$name.citus" "$out/$name.single" 1e-9
		grep -v '^DEBUG:  \(stockml train: [a-z -]* in\|pushing\)' "$out/$name.citus.debug" | head -5
	fi
	sed -n 's/^DEBUG:  stockml train: \(.*read on their nodes.*\)/# '"$name"': \1/p' "$out/$name.citus.debug"
done
# the QR piece refuses rows that are not the ones train() read first
if coord -At -c "SELECT stockml._train_piece_qr('MSFT', (SELECT spec FROM stockml.feature_sets WHERE name = 'default'), 1, NULL, 42, ARRAY[10, 20])" >"$out/hash.citus" 2>&1; then
	notok "_train_piece_qr with a wrong rows_hash gave an answer"
elif grep -q 'the training rows of "MSFT" changed while train() read them' "$out/hash.citus"; then
	ok "_train_piece_qr with another rows_hash: an ERROR saying the rows changed"
else
	notok "_train_piece_qr with a wrong rows_hash: $(cat "$out/hash.citus")"
fi

"$bindir/dropdb" stockml_citus_single
if [ "$fails" -gt 0 ]; then
	echo "citus: $fails check(s) failed (logs in $out)"
	exit 1
fi
echo "citus: all checks passed"

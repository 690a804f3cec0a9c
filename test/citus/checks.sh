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
# same NAME TOL [psql options...] <<<SQL: run SQL on both (psql -At), compare the outputs
# with same_json.py (numbers within TOL); an ERROR on either side fails.  The messages
# (stderr) are kept apart: one node's WARNINGs name its own database.
same() {
	local name=$1 tol=$2 sql
	shift 2
	sql=$(cat)
	coord -At "$@" <<<"$sql" >"$out/$name.citus" 2>"$out/$name.citus.err"
	single -At "$@" <<<"$sql" >"$out/$name.single" 2>"$out/$name.single.err"
	if grep -q ERROR "$out/$name.citus.err" "$out/$name.single.err"; then
		cat "$out/$name.citus.err" "$out/$name.single.err"
		return 1
	fi
	/usr/bin/python3 "$here/same_json.py" "$out/$name.citus" "$out/$name.single" "$tol"
}
# table_sql TABLE [COLUMN...]: every row of a table or view, ordered, without its
# timestamps (when a row was written differs between the two) and the columns named
table_sql() {
	local t=$1 cols
	shift
	cols=$(single -At -v t="$t" -v skip="{$(
		IFS=,
		echo "$*"
	)}" <<<"SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
  FROM information_schema.columns
 WHERE table_schema = 'stockml' AND table_name = :'t' AND data_type <> 'timestamp with time zone'
   AND column_name <> ALL (:'skip'::text[])")
	echo "SELECT $cols FROM stockml.$t ORDER BY $cols;"
}
# same_tables NAME TOL TABLE...: the rows of each table (table_sql) the same on both
same_tables() {
	local name=$1 tol=$2 t sql=""
	shift 2
	for t in "$@"; do sql+="$(table_sql "$t" id job_id)"$'\n'; done
	same "$name" "$tol" <<<"$sql"
}

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
	grep -qx 'stockml.corporate_actions distributed by symbol' "$out/distribute.1" &&
	grep -qx 'stockml.ingest_log distributed by symbol' "$out/distribute.1" &&
	[ "$(grep -c '^stockml\..* distributed by symbol$' "$out/distribute.1")" = 4 ] &&
	[ "$(grep ' reference$' "$out/distribute.1" | tr '\n' ' ')" = "stockml.experiments reference stockml.feature_sets reference stockml.model_aliases reference stockml.models reference stockml.run_metrics reference stockml.runs reference " ] &&
	! grep '^stockml\.' "$out/distribute.1" | grep -qv ' distributed by symbol$\| reference$\| coordinator$'; then
	ok "distribute() distributes symbols, prices, corporate_actions, ingest_log by symbol, makes feature_sets, experiments, runs, run_metrics, models, model_aliases reference tables, the other $(grep -c ' coordinator$' "$out/distribute.1") tables stay on the coordinator; a second call changes nothing"
else
	notok "distribute():"
	cat "$out/distribute.1" "$out/distribute.2"
fi
shards=$(coord -At -c "SELECT count(DISTINCT p.nodeport) || ' nodes, ' || count(*) || ' shards'
  FROM pg_dist_shard s JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p USING (groupid)
 WHERE s.logicalrelid = 'stockml.prices'::regclass")
colocated=$(coord -At -c "SELECT count(DISTINCT colocationid) FROM pg_dist_partition
 WHERE logicalrelid IN ('stockml.symbols'::regclass, 'stockml.prices'::regclass, 'stockml.corporate_actions'::regclass,
                        'stockml.ingest_log'::regclass)")
if [ "$shards" = "2 nodes, 4 shards" ] && [ "$colocated" = 1 ]; then
	ok "prices: $shards, colocated with symbols, corporate_actions and ingest_log"
else
	notok "prices: $shards, $colocated colocation groups"
fi

funcs=$(coord -At -c "SELECT string_agg(objid::regprocedure::text || ' by argument ' || distribution_argument_index, ', '
                                 ORDER BY objid::regprocedure::text)
  FROM pg_dist_object WHERE distribution_argument_index IS NOT NULL
   AND colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'stockml.prices'::regclass)")
if [ "$funcs" = "stockml._train_piece_qr(text,jsonb,integer,date,bigint,integer[]) by argument 0, stockml._train_piece_rows(text,jsonb,integer,date) by argument 0, stockml.features(text,date,date,text,integer) by argument 0, stockml.ingest_csv(text,text,text,boolean,text) by argument 0, stockml.predict(text,text,integer,text) by argument 1, stockml.predict_path(text,text,integer,text) by argument 1, stockml.total_return(text,date,date) by argument 0" ]; then
	ok "distributed functions, colocated with prices: $funcs"
else
	notok "distributed functions: $funcs"
fi
worker_port=$(coord -At -c "SELECT min(nodeport) FROM pg_dist_node WHERE groupid > 0")
if "$bindir/psql" -X -q -h "$CITUS_HOST" -p "$worker_port" -d "$CITUS_DB" -c 'SELECT * FROM stockml.distribute()' >"$out/distribute.worker" 2>&1; then
	notok "distribute() on a worker did not fail"
elif grep -q 'ERROR:  stockml.distribute() runs on the Citus coordinator, and this node is not it' "$out/distribute.worker"; then
	ok "distribute() on a worker: an ERROR naming the coordinator as the place to run it"
else
	notok "distribute() on a worker: $(cat "$out/distribute.worker")"
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
# ingest_csv() ran on the symbols' workers, which wrote the ingest_log rows with ids from
# ranges of their own (group id << 48): no id repeats across nodes
coord -At <<<"SET citus.log_remote_commands = on;
SELECT status FROM stockml.ingest_csv('MSFB', :'msfb');" -v msfb="$msfb" >/dev/null 2>"$out/ingest_remote.citus"
ids=$(coord -At -c "SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' ids, ' || count(DISTINCT id >> 48) || ' ranges' FROM stockml.ingest_log")
if grep -q "issuing SELECT status FROM stockml.ingest_csv('MSFB'" "$out/ingest_remote.citus" && [ "$ids" = "5 rows, 5 ids, 2 ranges" ]; then
	ok "ingest_csv('MSFB', ...) ran on its worker; ingest_log: $ids (the two workers')"
else
	notok "ingest_csv on the workers: $ids"
	head -5 "$out/ingest_remote.citus"
fi
single -At -v msfb="$msfb" <<<"SELECT status FROM stockml.ingest_csv('MSFB', :'msfb');" >/dev/null
rows=$(coord -At -c "SELECT 'bars per shard of prices: ' || string_agg(n::text, ' + ' ORDER BY n) FROM (SELECT nodeport, result::int AS n FROM run_command_on_shards('stockml.prices', 'SELECT count(*) FROM %s') r JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid)) s" 2>&1)
echo "# $rows"

# total_return() of a symbol, called alone, runs on the worker holding it (citus.log_remote_commands
# shows the call sent there): the ratio of the closes on both (no adjusted closes, no events)
tr_sql="SELECT stockml.total_return('MSFT', '2000-12-28', '2001-09-27');
SELECT (SELECT close FROM stockml.prices WHERE symbol = 'MSFT' AND day = '2001-09-27') /
       (SELECT close FROM stockml.prices WHERE symbol = 'MSFT' AND day = '2000-12-28');"
coord -At <<<"SET citus.log_remote_commands = on; $tr_sql" >"$out/total_return.citus" 2>"$out/total_return.citus.err"
single -At <<<"$tr_sql" >"$out/total_return.single" 2>&1
if [ "$(sort -u "$out/total_return.citus" | wc -l)" = 1 ] && cmp -s "$out/total_return.citus" "$out/total_return.single" &&
	grep -q 'issuing SELECT stockml.total_return(' "$out/total_return.citus.err"; then
	ok "total_return('MSFT', ...) ran on its worker: $(head -1 "$out/total_return.citus"), the ratio of the closes, as on one node"
else
	notok "total_return (citus, then single):"
	cat "$out/total_return.citus" "$out/total_return.citus.err" "$out/total_return.single"
fi

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
# name|algorithm|params|feature set|pushed-down piece calls expected[|train_end]: 2 heads x 3 symbols x
# (rows + QR factors) for the linear models, whose search trials share the factors; rows only
# for gbt; none for a feature set that reads the calendar (it lives on the coordinator)
for t in 'pr|ridge|{"alpha": 10}|default|12' 'pe|elastic_net|{"alpha": 0.001, "l1_ratio": 0.5}|default|12' \
	'ps|ridge|{"alpha": [1, 10, 100]}|default|12' 'pg|gbt|{"max_iter": 20, "max_leaf_nodes": 8}|default|6' \
	'pc|ridge|{"alpha": 10}|cal|0' 'pt|ridge|{"alpha": 10}|default|12|2001-08-15'; do
	IFS='|' read -r name alg params fset calls end <<<"$t"
	until_end=""
	[ -z "$end" ] || until_end=", train_end => '$end'"
	sql="SELECT version FROM stockml.train('$name', ARRAY['MSFT', 'MSFB', 'MSFC'], '$alg', params => '$params', feature_set => '$fset', horizons => ARRAY[1, 3]$until_end);
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
		ok "train('$name', 3 symbols, $alg, feature set $fset, horizons 1 and 3${end:+, train_end $end}): $calls piece calls run on the workers; model, metrics, $rows lines of validation rows and drift null equal one node's (within 1e-9)"
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

# 6b. features(symbol), predict(model, symbol) and predict_path() run on the worker holding the
# symbol (distribute() registers them; the feature sets and the models they read are reference
# tables, a copy on every node): Citus says "pushing down the function call", sends the call to
# a worker (citus.log_remote_commands) and the worker counts the calls (pg_stat_user_functions);
# the answers equal one node's
calls_sql="SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'features'), 0) || ' ' || coalesce(sum(calls) FILTER (WHERE funcname = 'predict'), 0) || ' ' || coalesce(sum(calls) FILTER (WHERE funcname = 'predict_path'), 0)
  FROM pg_stat_user_functions WHERE schemaname = 'stockml'"
worker_calls() { # the calls of features, predict, predict_path counted on both workers
	local p a b c ta=0 tb=0 tc=0
	for p in $(coord -At -c "SELECT nodeport FROM pg_dist_node WHERE groupid > 0 ORDER BY nodeport"); do
		read -r a b c < <("$bindir/psql" -X -At -h "$CITUS_HOST" -p "$p" -d "$CITUS_DB" -c "$calls_sql")
		ta=$((ta + a)) tb=$((tb + b)) tc=$((tc + c))
	done
	echo "$ta $tb $tc"
}
# a feature set that reads other symbols' bars (MSFB's and MSFC's: on both workers), which the
# delegated call reads through Citus from where they live
xs_spec='{"features": [{"name": "r1", "indicator": "log_return"}, {"name": "b1", "indicator": "log_return", "symbol": "MSFB"}, {"name": "c5", "indicator": "log_return", "k": 5, "symbol": "MSFC"}]}'
for side in coord single; do
	$side -At -v s="$xs_spec" <<<"INSERT INTO stockml.feature_sets (name, spec) VALUES ('xs', :'s');" >/dev/null
done
before=$(worker_calls)
serve_sql="SELECT symbol, day, close, x::text, y FROM stockml.features('MSFB') ORDER BY day;
SELECT symbol, day, x::text FROM stockml.features('MSFC', feature_set => 'cal') ORDER BY day;
SELECT symbol, day, x::text, y FROM stockml.features('MSFT', feature_set => 'xs') ORDER BY day;
SELECT * FROM stockml.predict('pr', 'MSFT', version => 1);
SELECT * FROM stockml.predict('pg', 'MSFC', version => 1);
SELECT * FROM stockml.predict_path('pr', 'MSFB', version => 1);"
coord -At <<<"SET client_min_messages = debug1;
SET citus.log_remote_commands = on;
$serve_sql" >"$out/serve.citus" 2>"$out/serve.citus.debug"
single -At <<<"$serve_sql" >"$out/serve.single" 2>"$out/serve.single.err"
pushed=$(grep -c '^DEBUG:  pushing down the function call' "$out/serve.citus.debug")
sent=$(grep -c "^NOTICE:  issuing SELECT .* FROM stockml\.\(features\|predict\|predict_path\)('" "$out/serve.citus.debug")
worker_ports=$(coord -At -c "SELECT string_agg(nodeport::text, '\|') FROM pg_dist_node WHERE groupid > 0")
to_workers=$(grep -A1 "^NOTICE:  issuing SELECT .* FROM stockml\.\(features\|predict\|predict_path\)('" "$out/serve.citus.debug" |
	grep -c "^DETAIL:  on server .*:\($worker_ports\) ")
# the workers report their counts within a second or so of going idle
for _ in $(seq 40); do
	after=$(worker_calls)
	read -r f0 p0 q0 <<<"$before"
	read -r f1 p1 q1 <<<"$after"
	delta="$((f1 - f0)) $((p1 - p0)) $((q1 - q0))"
	[ "$delta" = "3 2 1" ] && break
	sleep 0.5
done
nserve=$(wc -l <"$out/serve.single")
if [ "$pushed" = 6 ] && [ "$sent" = 6 ] && [ "$to_workers" = 6 ] && [ "$delta" = "3 2 1" ] && [ "$nserve" -gt 300 ] &&
	! grep -q ERROR "$out/serve.citus.debug" "$out/serve.single.err" &&
	/usr/bin/python3 "$here/same_json.py" "$out/serve.citus" "$out/serve.single" 1e-9; then
	ok "features() (default, the named sets 'cal' and 'xs', which reads two other symbols), predict() (ridge, gbt) and predict_path(), 6 calls: each pushed down and sent to a worker, which counted features, predict, predict_path calls: $delta; the same $nserve lines as one node (within 1e-9)"
else
	notok "the per-symbol calls on the workers: $pushed pushed down, $sent sent ($to_workers to a worker), worker calls $delta (expected 3 2 1), or the answers differ:"
	/usr/bin/python3 "$here/same_json.py" "$out/serve.citus" "$out/serve.single" 1e-9
	grep ERROR "$out/serve.citus.debug" "$out/serve.single.err" | head -5
fi

# the model caches of the workers' backends follow deploy() and rollback() (the trigger on
# models and model_aliases fires on every node's copy and invalidates there); the registry's
# functions on the reference tables, each compared with one node
reg_sql="SELECT action FROM stockml.deploy('pr', 1, reason => 'citus');
SELECT model_version, predicted_close FROM stockml.predict('pr', 'MSFT');
SELECT model_version, predicted_close FROM stockml.predict('pr', 'MSFB');
SELECT version FROM stockml.train('pr', ARRAY['MSFT', 'MSFB', 'MSFC'], 'ridge', params => '{\"alpha\": 100}', horizons => ARRAY[1, 3]);
SELECT action FROM stockml.deploy('pr', 2, reason => 'citus');
SELECT model_version, predicted_close FROM stockml.predict('pr', 'MSFT');
SELECT model_version, predicted_close FROM stockml.predict('pr', 'MSFB');
SELECT action, version FROM stockml.rollback('pr');
SELECT model_version, predicted_close FROM stockml.predict('pr', 'MSFT');
SELECT model_version, predicted_close FROM stockml.predict('pr', 'MSFB');
SELECT * FROM stockml.predict_path('pr', 'MSFC');
SELECT name, version, aliases, description, tags FROM stockml.set_version_info('pr', 2, 'alpha 100', ARRAY['citus']);
SELECT * FROM stockml.compare('pr', 1, 2);
SELECT * FROM stockml.feature_importance('cm');
SELECT * FROM stockml.feature_importance('cm', 1, 'permutation');
SELECT * FROM stockml.backtest('pr', version => 1);
SELECT * FROM stockml.backtest('pg', ARRAY['MSFT', 'MSFC'], cost_bps => 10, version => 1);
SELECT stockml.train_check('tc', ARRAY['MSFT', 'MSFB']) IS NULL;
SELECT stockml.symbol_calendar('MSFT'), stockml.is_trading_day(stockml.symbol_calendar('MSFT'), '2001-09-27');
SELECT day, stockml.predict('cm', x), stockml.predict_p_up('cm', x) FROM stockml.features('MSFT') ORDER BY day;
SELECT stockml.delete_version('pr', 2);
SELECT stockml.drop_model('pe');
SELECT name, count(*) FROM stockml.models GROUP BY name ORDER BY name;
SELECT m.name, count(*) FROM stockml.validation_predictions v JOIN stockml.models m ON m.id = v.model_id GROUP BY m.name ORDER BY m.name;
SELECT count(*) FROM stockml.validation_predictions;
SELECT count(*) FROM stockml.drift_null;
SELECT count(*) FROM stockml.runs WHERE model_name IN ('pe', 'ps');
SELECT name, alias, version FROM stockml.model_aliases ORDER BY name, alias;"
if same registry 1e-9 <<<"$reg_sql" &&
	grep -qx '1|.*' "$out/registry.single" && grep -qx '2|.*' "$out/registry.single"; then
	ok "on the workers predict() follows deploy() and rollback() of the model; set_version_info, compare, feature_importance, backtest, train_check, symbol_calendar, predict(model, x) and predict_p_up over features() on the coordinator, delete_version and drop_model (with its cascades) the same as one node ($(wc -l <"$out/registry.single") lines)"
else
	notok "the registry's functions differ (citus, then single):"
	diff "$out/registry.citus" "$out/registry.single" | head -20
fi

# feature_sets is a reference table: its guard (a trigger on every node's copy) refuses to
# change or delete the built-in set and TRUNCATE, as on one node; a bad spec is refused
guard_sql="INSERT INTO stockml.feature_sets (name, spec) SELECT 'mine', spec FROM stockml.feature_sets WHERE name = 'default';
UPDATE stockml.feature_sets SET description = 'changed' WHERE name = 'default';
DELETE FROM stockml.feature_sets WHERE name = 'default';
TRUNCATE stockml.feature_sets;
INSERT INTO stockml.feature_sets (name, spec) VALUES ('bad', '{\"features\": [{\"name\": \"a\", \"indicator\": \"nope\"}]}');
UPDATE stockml.feature_sets SET description = 'mine' WHERE name = 'mine';
DELETE FROM stockml.feature_sets WHERE name = 'mine';
SELECT name, description, spec::text FROM stockml.feature_sets ORDER BY name;"
coord -At -v ON_ERROR_STOP=0 <<<"$guard_sql" >"$out/guard.citus" 2>&1
single -At -v ON_ERROR_STOP=0 <<<"$guard_sql" >"$out/guard.single" 2>&1
# (the message on Citus names the worker it came from in its CONTEXT)
if diff <(grep -v 'CONTEXT:\|^while executing' "$out/guard.citus") <(grep -v 'CONTEXT:' "$out/guard.single") >/dev/null &&
	[ "$(grep -c 'ERROR:' "$out/guard.single")" = 4 ]; then
	ok "feature_sets on Citus: the built-in set can be neither changed, deleted nor truncated, a bad spec is refused (the same 4 ERRORs as one node), another set is written and deleted"
else
	notok "feature_sets' guard differs (citus, then single):"
	diff "$out/guard.citus" "$out/guard.single"
fi

# 7. HTTP ingest against the mock Yahoo/Stooq server (test/fixtures/mock_http.py): bars,
# dividends and splits, Stooq's CSV, and refresh() re-adjusting a history split after
# the first fetch (its full history re-fetched and rewritten)
if [ -n "${STOCKML_MOCK_HTTP_PORT:-}" ]; then
	cols="symbol, source, status, http_status, rows_inserted, rows_updated, rows_rejected, error"
	if same http 0 <<<"SELECT $cols FROM stockml.ingest_yahoo('EVENTS', '2000-01-01', '2002-01-01');
SELECT $cols FROM stockml.ingest_stooq('msft.us', '2000-01-01', '2001-06-30');
SELECT $cols FROM stockml.ingest_yahoo('SPLIT', '2020-01-01', '2020-06-30');
SELECT $cols FROM stockml.refresh(ARRAY['SPLIT', 'msft.us']) ORDER BY symbol;
SELECT $cols FROM stockml.refresh() ORDER BY symbol;" &&
		grep -q '^SPLIT|yahoo|ok|200|66|129|0|re-adjusted: split 2:1' "$out/http.single"; then
		ok "ingest_yahoo, ingest_stooq, refresh() (a re-adjusted history) on the coordinator: the same rows as one node ($(wc -l <"$out/http.single") ingests)"
	else
		notok "HTTP ingest differs (citus, then single):"
		cat "$out/http.citus" "$out/http.single"
	fi
	if same_tables http_tables 0 symbols prices corporate_actions ingest_log; then
		ok "after them: symbols, prices, corporate_actions, ingest_log the same as one node ($(wc -l <"$out/http_tables.single") rows)"
	else
		notok "the tables differ after the HTTP ingests"
	fi
else
	notok "no mock HTTP server (STOCKML_MOCK_HTTP_PORT): run the suite through test/run.sh"
fi

# 8. the forecast ledger day by day, then monitor(): AWLKA and AWLKB (MSFT's and MSFB's bars,
# on different workers; first in the dashboards' symbol lists) without their last 30 days; a model trained and deployed, then one bar a day and
# forecast() after each, so 29 forecasts per symbol are realized
csv=$root/data/MSFT.csv
n=$(wc -l <"$csv")
k=$((n - 30))
{
	echo "\\set a \`head -n $k '$csv'\`"
	echo "\\set b \`head -n $k '$csv' | sed '2,31d'\`"
	echo "SELECT status, rows_inserted FROM stockml.ingest_csv('AWLKA', :'a');"
	echo "SELECT status, rows_inserted FROM stockml.ingest_csv('AWLKB', :'b');"
	echo "SELECT version FROM stockml.train('cw', ARRAY['AWLKA', 'AWLKB'], 'ridge', params => '{\"alpha\": 10}');"
	echo "SELECT action FROM stockml.deploy('cw', 1, reason => 'citus walk');"
	for i in $(seq $((k + 1)) "$n"); do
		echo "\\set r \`sed -n '1p;${i}p' '$csv'\`"
		echo "SELECT rows_inserted FROM stockml.ingest_csv('AWLKA', :'r');"
		echo "SELECT rows_inserted FROM stockml.ingest_csv('AWLKB', :'r');"
		echo "SELECT status, symbol, as_of, target_day, predicted_close, lower, upper FROM stockml.forecast('cw') ORDER BY symbol;"
	done
} >"$out/walk.sql"
nodes=$(coord -At -c "SELECT count(DISTINCT nodeport) FROM pg_dist_placement pl JOIN pg_dist_node USING (groupid)
 WHERE pl.shardid IN (SELECT get_shard_id_for_distribution_column('stockml.prices', s) FROM unnest(ARRAY['AWLKA', 'AWLKB']) s)")
if [ "$nodes" = 2 ] && same walk 1e-9 -f "$out/walk.sql"; then
	ok "30 days of ingest_csv and forecast('cw') over AWLKA and AWLKB (on $nodes workers): the same ledger as one node ($(wc -l <"$out/walk.single") lines)"
else
	notok "the day-by-day forecasts differ (the two symbols on $nodes workers)"
fi
mon_cols="model, version, window_start, window_end, features, drifted_features, drift_share, n_forecasts, mae, skill, directional_accuracy, retrain_reason, retrain_job IS NOT NULL"
if same monitor 1e-9 <<<"SELECT $mon_cols FROM stockml.monitor('cw');
SELECT * FROM stockml.forecast_accuracy('cw', '2001-01-01', '2001-12-31');" &&
	grep -q '^cw|1|.*|58|' "$out/monitor.single"; then
	ok "monitor('cw') and forecast_accuracy(): the same drift, accuracy (58 realized forecasts) and retrain decision as one node: $(head -1 "$out/monitor.single" | cut -d'|' -f7-13)"
else
	notok "monitor() differs (citus, then single):"
	cat "$out/monitor.citus" "$out/monitor.single"
fi
# (retrain_events.details holds the model's age: its time of day differs; the outcome is
# compared once the job ended, below: the coordinator's worker may have run it already)
events_sql="SELECT model_name, model_version, reason, details - 'model_age', status, new_version, outcome FROM stockml.retrain_events ORDER BY model_name, created_at;"
if same_tables monitor_tables 1e-9 drift_metrics performance_metrics retrain_policies &&
	same events 1e-9 <<<"SELECT model_name, model_version, reason, details - 'model_age' FROM stockml.retrain_events ORDER BY model_name, created_at;"; then
	ok "drift_metrics, performance_metrics, retrain_policies, retrain_events: the same rows as one node ($(wc -l <"$out/monitor_tables.single") + $(wc -l <"$out/events.single"))"
else
	notok "monitor()'s tables differ"
fi

# 9. the job queue and the background worker on the coordinator: the retrain monitor()
# queued runs there (stockml.database names the coordinator's database); one node runs
# the same job function by hand (its worker serves another database) and records the
# outcome as the worker does
done_sql="SELECT count(*) FROM stockml.jobs WHERE kind = 'train' AND status IN ('queued', 'running')"
for _ in $(seq 240); do
	[ "$(coord -At -c "$done_sql")" = 0 ] && break
	sleep 0.5
done
coord -At -c "SELECT status || '|' || coalesce(result, error, '') FROM stockml.jobs WHERE kind = 'train'" >"$out/job.citus" 2>&1
single -At >"$out/job.single" 2>&1 <<<"WITH r AS (SELECT id, stockml.run_job_train(id, args) AS result FROM stockml.jobs
                WHERE kind = 'train' AND status = 'queued')
UPDATE stockml.jobs j SET status = 'done', result = r.result, attempts = 1, progress = 1,
       started_at = now(), finished_at = now()
  FROM r WHERE j.id = r.id RETURNING j.status || '|' || j.result"
if [ -s "$out/job.single" ] && cmp -s "$out/job.citus" "$out/job.single" &&
	same retrained 1e-9 <<<"SELECT version, stockml.model_describe(model) FROM stockml.models WHERE name = 'cw' ORDER BY version;
SELECT name, alias, version FROM stockml.model_aliases WHERE name = 'cw' ORDER BY alias;"; then
	ok "the retrain job ran in the coordinator's background worker: $(cat "$out/job.citus"); the same model and aliases as one node"
else
	notok "the retrain job (citus, then single):"
	cat "$out/job.citus" "$out/job.single"
fi
coord -At -c "SELECT status FROM stockml.retrain_events WHERE model_name = 'cw'" >"$out/event.citus" 2>&1
if grep -qx 'deployed\|not_deployed' "$out/event.citus" && same events_resolved 1e-9 <<<"$events_sql"; then
	ok "its retrain event resolved when the job ended: $(cat "$out/event.citus"), as on one node"
else
	notok "the retrain event: $(cat "$out/event.citus")"
fi

# 10. the pg_cron pipeline on the coordinator: one scheduled tick runs refresh, forecast and
# monitor in order; one node runs the same steps by hand (its pg_cron serves another database)
pipe_ok=false
if coord -c 'CREATE EXTENSION IF NOT EXISTS pg_cron' >"$out/pipeline.log" 2>&1 &&
	coord -At -c "SELECT jobname FROM stockml.schedule_pipeline('citus', '* * * * *', ARRAY['cw'])" >>"$out/pipeline.log" 2>&1; then
	ran_sql="SELECT count(DISTINCT d.jobid) FILTER (WHERE d.status IN ('succeeded', 'failed')) || ' ' ||
       coalesce(string_agg(d.status, ',' ORDER BY d.end_time) FILTER (WHERE d.status IN ('succeeded', 'failed')), '')
  FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname LIKE 'stockml-citus-%'"
	for _ in $(seq 200); do
		ran=$(coord -At -c "$ran_sql")
		[ "${ran%% *}" = 3 ] && break
		sleep 0.5
	done
	order=$(coord -At -c "SELECT string_agg(substring(j.jobname FROM '[a-z]+$'), ' ' ORDER BY d.end_time)
  FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname LIKE 'stockml-citus-%'" 2>&1)
	coord -At -c "SELECT stockml.unschedule_pipeline('citus')" >>"$out/pipeline.log" 2>&1
	[ "$ran" = "3 succeeded,succeeded,succeeded" ] && [ "$order" = "refresh forecast monitor" ] && pipe_ok=true
fi
for step in refresh forecast monitor; do
	single -q -c "CALL stockml.run_pipeline_step('citus', '$step', ARRAY['cw'])" >>"$out/pipeline.single" 2>&1
done
if $pipe_ok && same_tables pipeline 1e-9 prices predictions drift_metrics performance_metrics &&
	same pipeline_events 1e-9 <<<"$events_sql"; then
	ok "a pg_cron tick ran the pipeline's steps in order ($order), all succeeded; prices, the ledger and monitoring the same as one node"
else
	notok "the pg_cron pipeline: runs '$ran' in order '$order'"
	cat "$out/pipeline.log" "$out/pipeline.single"
fi

# 11. every view (Grafana's, the registry's, the reports'), as it reads the tables on Citus
views=$(single -At -c "SELECT string_agg(viewname, ' ' ORDER BY viewname) FROM pg_views WHERE schemaname = 'stockml'")
sql=""
# (without the durations: ingest_status.duration_ms, job_history.wait_s and run_s, and
# the worker's pid)
for v in $views; do sql+="$(table_sql "$v" id job_id duration_ms wait_s run_s worker_pid)"$'\n'; done
# and one symbol's forecasts as Grafana asks for them: Citus sends that query to the symbol's
# shard, where total_return() then reads the same shard (a nested query it allows for that)
sql+="SELECT symbol, target_day, predicted_close, actual_close, naive_close, error FROM stockml.forecast_history
 WHERE symbol = 'AWLKB' AND model_name = 'cw' ORDER BY time;"
if same views 1e-9 <<<"$sql"; then
	ok "every view of stockml ($(wc -w <<<"$views") views, $(wc -l <"$out/views.single") rows) reads the same on Citus as on one node"
else
	notok "the views differ"
fi

# 12. the Grafana dashboards' queries as Grafana runs them (test/grafana/check_dashboards.py),
# as a member of stockml_reader: on Citus the same outcome per query as on one node (the
# suite's data leaves some panels empty on both; the grafana suite checks them on the demo's)
dash_role=stockml_citus_grafana
for side in coord single; do
	$side -c "DROP ROLE IF EXISTS $dash_role" -c "CREATE ROLE $dash_role LOGIN IN ROLE stockml_reader" >/dev/null 2>&1
done
dashboards() { # HOST PORT DB OUT
	PGHOST=$1 PGPORT=$2 PGDATABASE=$3 PGUSER=$dash_role /usr/bin/python3 "$root/test/grafana/check_dashboards.py" \
		"$root"/grafana/dashboards/*.json 2>&1 | grep -v '^[[:space:]]' >"$4"
}
dashboards "$CITUS_HOST" "$CITUS_PORT" "$CITUS_DB" "$out/dashboards.citus"
dashboards "${PGHOST:-}" "${PGPORT:-5432}" stockml_citus_single "$out/dashboards.single"
nq=$(grep -c '^ok ' "$out/dashboards.single")
if [ "$nq" -gt 0 ] && cmp -s "$out/dashboards.citus" "$out/dashboards.single" &&
	! grep -qi 'permission denied\|Traceback' "$out/dashboards.citus"; then
	ok "the Grafana dashboards' queries as stockml_reader: the same outcome on Citus as on one node ($nq ok, $(grep -c '^FAIL' "$out/dashboards.single") without rows on both)"
else
	notok "the Grafana dashboards' queries differ (citus, then single):"
	diff "$out/dashboards.citus" "$out/dashboards.single"
fi
coord -c "DROP OWNED BY $dash_role" -c "DROP ROLE $dash_role" >/dev/null 2>&1

"$bindir/dropdb" stockml_citus_single
single -c "DROP ROLE IF EXISTS $dash_role" >/dev/null 2>&1
if [ "$fails" -gt 0 ]; then
	echo "citus: $fails check(s) failed (logs in $out)"
	exit 1
fi
echo "citus: all checks passed"

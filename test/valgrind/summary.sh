#!/usr/bin/env bash
# test/valgrind/summary.sh LOGDIR SRCDIR — the verdict of a valgrind run (test/run.sh,
# STOCKML_VALGRIND=1): counts the errors valgrind reported per process; an error
# whose stack passes through stockml (a frame in stockml.so, or, with its debug
# information, in one of SRCDIR/src/*.c) fails (exit 1), errors elsewhere are listed
# (PostgreSQL's own known ones are suppressed by test/valgrind/postgres.supp).
set -euo pipefail
dir=$1
# frames of stockml: "(in .../stockml.so)", or "(train.c:982)" / "(/full/path/src/train.c:982)"
names=
for f in "$2"/src/*.c; do
	b=${f##*/}
	names+="${names:+|}${b%.c}"
done
export OURS_RE="stockml[.]so|[(/](${names})[.]c:[0-9]+[)]"
logs=("$dir"/*.log)
procs=${#logs[@]}
# each error is a block starting with "==pid== <kind>" and ending at a blank "==pid== " line
awk '
	/^==[0-9]+== [A-Z]/ && !inerr { inerr = 1; block = $0 "\n"; ours = 0; next }
	inerr && /^==[0-9]+== *$/ { inerr = 0; n++; if (ours) { nours++; print block > "/dev/stderr" }
	                           else { nother++; print block > "'"$dir"'/other.txt" } next }
	inerr { block = block $0 "\n"; if ($0 ~ ENVIRON["OURS_RE"]) ours = 1 }
	END { printf "%d %d %d\n", n + 0, nours + 0, nother + 0 }
' "${logs[@]}" 2>"$dir/stockml.txt" >"$dir/counts.txt" || true
read -r total ours other <"$dir/counts.txt"
echo "$procs processes ran under valgrind; $total error(s) reported: $ours through stockml, $other elsewhere"
if [ "$other" -gt 0 ]; then
	echo "-- errors outside stockml (first 80 lines of $dir/other.txt):"
	head -n 80 "$dir/other.txt"
fi
if [ "$ours" -gt 0 ]; then
	echo "-- errors through stockml ($dir/stockml.txt):"
	head -n 200 "$dir/stockml.txt"
	exit 1
fi

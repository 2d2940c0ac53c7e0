#!/usr/bin/env bash
# What the mlp program draws and writes, tried as a hostile or careless user
# would: file names that gnuplot would run as commands, logs without
# held-out columns, pictures and logs under a file size limit or killed
# half-way, a model whose scaling divides by a subnormal. Ends with 77
# (skipped) after the other cases when gnuplot is not installed.
#
#   tests/tool_outputs_test.sh path/to/mlp path/to/digits.csv
set -u
mlp=$(readlink -f "${1:?usage: tool_outputs_test.sh path/to/mlp digits.csv}")
digits=$(readlink -f "${2:?usage: tool_outputs_test.sh path/to/mlp digits.csv}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
is_png() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = "211PNG" ]; }
no_temp() { ls -A | grep -q '\.tmp$' && fail "$1: a temporary file is left: $(ls -A)"; }

train=(train --sizes 64,16,10 --act relu,softmax --loss xent --epochs 3)
"$mlp" "${train[@]}" --log plain.csv --out m.st "$digits" 2>/dev/null ||
	fail "training m.st"
"$mlp" "${train[@]}" --val 0.2 --log val.csv --out v.st "$digits" 2>/dev/null ||
	fail "training v.st"

# ---- a log complete up to its last line: killed at any moment, the log
# is absent or the file that was there, or its header and whole lines
printf 'the previous log\n' > killed.csv
slow=(train --sizes 64,1024,1024,10 --act relu,relu,softmax --loss xent
      --epochs 50 --batch 8 --log killed.csv --out k.st "$digits")
for wait in 0.1 0.5 1.5 3; do
	"$mlp" "${slow[@]}" 2>/dev/null &
	sleep "$wait"
	kill -9 $! 2>/dev/null
	wait $! 2>/dev/null
	if [ "$(cat killed.csv)" = "the previous log" ]; then
		echo "killed after $wait s: the previous log"
		continue
	fi
	head -1 killed.csv | grep -q '^epoch,lr,loss,val_loss,val_accuracy,' ||
		fail "killed after $wait s: the log's first line: $(head -1 killed.csv)"
	awk -F, 'NR > 1 && NF != 7 { bad = 1 } END { exit bad }' killed.csv ||
		fail "killed after $wait s: a line of the log is not whole"
	[ -z "$(tail -c 1 killed.csv)" ] ||
		fail "killed after $wait s: the log does not end with a newline"
	[ "$(wc -l < killed.csv)" -ge 2 ] ||
		fail "killed after $wait s: a log of its header alone"
	echo "killed after $wait s: $(($(wc -l < killed.csv) - 1)) whole lines"
done
no_temp "killed training"

# ---- under a file size limit (ulimit -f): refused before training, and
# nothing written
# (Standard error through a pipe: a file would be under the limit too.)
bash -c "ulimit -f 0; exec '$mlp' ${train[*]} --log small.csv --out s.st '$digits'" \
	2>&1 > /dev/null | cat > err.txt
rc=${PIPESTATUS[0]}
[ "$rc" = 1 ] || fail "--log under ulimit -f 0: exit $rc"
grep -q "ulimit -f" err.txt || fail "--log under ulimit -f 0: $(cat err.txt)"
[ -e small.csv ] && fail "--log under ulimit -f 0: a log was left"

# ---- a model whose scaling divides by a subnormal: refused by the loader
"$mlp" "${train[@]}" --standardize --out std.st "$digits" 2>/dev/null
python3 - std.st <<'EOF'
import json, struct, sys
path = sys.argv[1]
data = bytearray(open(path, 'rb').read())
n = struct.unpack('<Q', data[:8])[0]
begin = json.loads(data[8:8 + n])['scaling.input.std']['data_offsets'][0]
data[8 + n + begin:8 + n + begin + 4] = struct.pack('<f', 1e-45)
open(path, 'wb').write(data)
EOF
"$mlp" eval std.st "$digits" > out.txt 2> err.txt
rc=$?
[ "$rc" = 3 ] || fail "eval with a subnormal deviation: exit $rc: $(cat out.txt err.txt)"
grep -q "scaling.input.std'\[0\] is 1.4013e-45: a deviation must be at least" err.txt ||
	fail "eval with a subnormal deviation: $(cat err.txt)"

if ! command -v gnuplot >/dev/null; then
	if [ "$failures" -gt 0 ]; then
		echo "$failures failures"
		exit 1
	fi
	echo "SKIP: gnuplot is not installed (Debian: gnuplot-nox): the other" \
		"cases passed"
	exit 77
fi

# ---- no file name reaches gnuplot's parser: names that gnuplot would run
# through a shell are only names
"$mlp" eval --plot '|touch PWNED1' v.st "$digits" > /dev/null 2> err.txt ||
	fail "eval --plot '|touch PWNED1': $(cat err.txt)"
"$mlp" plot val.csv '|touch PWNED2' 2> err.txt || fail "plot to '|touch PWNED2': $(cat err.txt)"
cp val.csv '<touch PWNED3'
cp val.csv "a'b\"c\`touch PWNED4\`.csv"
"$mlp" plot '<touch PWNED3' "a'b\"c\`touch PWNED4\`.csv" names.png 2> err.txt ||
	fail "plot of logs named '<touch PWNED3' and with quotes: $(cat err.txt)"
ls PWNED* 2>/dev/null && fail "a file name ran a command: $(ls PWNED*)"
for png in '|touch PWNED1' '|touch PWNED2' names.png; do
	is_png "$png" || fail "$png is not a PNG"
done

# ---- a log without held-out rows draws its training loss
"$mlp" plot plain.csv plain.png 2> err.txt || fail "plot without --val: $(cat err.txt)"
is_png plain.png || fail "plot without --val drew no PNG"
"$mlp" plot plain.csv val.csv both.png 2> err.txt || fail "plot of both: $(cat err.txt)"
printf 'epoch,lr,loss,val_loss,val_accuracy,samples_per_s,seconds\n' > empty.csv
"$mlp" plot empty.csv e.png 2> err.txt
[ $? = 4 ] && grep -q "no epochs" err.txt || fail "an empty log: $(cat err.txt)"
printf 'epoch,lr,loss,val_loss,val_accuracy,samples_per_s,seconds\n1,0.1,oops,nan,nan,1,1\n' > bad.csv
"$mlp" plot bad.csv e.png 2> err.txt
[ $? = 4 ] && grep -q "bad.csv:2: field 3 is not a number" err.txt ||
	fail "a bad log line: $(cat err.txt)"

# ---- pictures whole or not at all: under ulimit -f, an existing picture
# stays as it was and no other file is left
cp plain.png keep.png
bash -c "ulimit -f 1; exec '$mlp' eval --plot keep.png v.st '$digits'" \
	2>&1 > /dev/null | cat > err.txt
rc=${PIPESTATUS[0]}
[ "$rc" = 1 ] || fail "eval --plot under ulimit -f 1: exit $rc"
grep -q "file size limit (ulimit -f) of 1024 bytes" err.txt ||
	fail "eval --plot under ulimit -f 1: $(cat err.txt)"
cmp -s keep.png plain.png || fail "eval --plot under ulimit -f 1 changed the picture"
bash -c "ulimit -f 1; exec '$mlp' plot plain.csv new.png" 2> err.txt
[ -e new.png ] && fail "plot under ulimit -f 1 left new.png"
"$mlp" eval --plot /nonexistent/cm.png v.st "$digits" > out.txt 2> err.txt
rc=$?
[ "$rc" = 1 ] && [ ! -s out.txt ] ||
	fail "--plot into a missing directory: exit $rc, said before evaluating?"
grep -q "cannot create a file in /nonexistent" err.txt ||
	fail "--plot into a missing directory: $(cat err.txt)"
no_temp "pictures"

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "all output tests passed"

#!/usr/bin/env bash
# Every status of the library that the mlp program receives is checked:
# each function of mlp.h that returns a status and that the program calls
# is made to fail (tests/fail_inject.c, through LD_PRELOAD), in every
# command; where the command made the call, it must end with an exit
# status from 1 to 5 and a message, write no model, and not crash.
#
#   tests/tool_status_test.sh path/to/mlp path/to/libfail_inject.so mlp.h
set -u
mlp=$(readlink -f "${1:?usage: tool_status_test.sh mlp libfail_inject.so mlp.h}")
shim=$(readlink -f "${2:?usage: tool_status_test.sh mlp libfail_inject.so mlp.h}")
header=$(readlink -f "${3:?usage: tool_status_test.sh mlp libfail_inject.so mlp.h}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# The shim comes before the sanitizers' runtime in a sanitizer build.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

# The functions to fail: those of mlp.h that return a status and that the
# program imports; each must have a wrapper in the shim.
grep -oE '^MLP_API mlp_status mlp_[a-z0-9_]+\(' "$header" |
	sed 's/.* \(mlp_[a-z0-9_]*\)(/\1/' | sort -u > status.txt
nm -D --undefined-only "$mlp" | awk '{ print $2 }' | sed 's/@.*//' |
	sort -u > imports.txt
nm -D --defined-only "$shim" | awk '{ print $3 }' | sort -u > wrapped.txt
comm -12 status.txt imports.txt > used.txt
missing=$(comm -23 used.txt wrapped.txt)
[ -z "$missing" ] || fail "no wrapper in fail_inject.c for: $missing"
[ -s used.txt ] || fail "the program imports no function of mlp.h"

# Small data, and the models the commands read.
awk 'BEGIN { srand(1); for (i = 0; i < 60; i++) { x = rand(); y = rand();
	printf "%.4f,%.4f,%d\n", x, y, (x > y) } }' > d.csv
cut -d, -f1-2 d.csv > x.csv
awk -F, '{ printf "%s,%.4f\n", $1, 3 * $1 + $2 }' d.csv > r.csv
cut -d, -f1 r.csv > rx.csv
train=(train --sizes 2,8,2 --act tanh,softmax --loss xent --epochs 2 --batch 8)
"$mlp" "${train[@]}" --out m.st d.csv 2>/dev/null || fail "training m.st"
"$mlp" train --sizes 1,8,1 --act tanh,identity --epochs 2 --standardize \
	--out reg.st r.csv 2>/dev/null || fail "training reg.st"
"$mlp" "${train[@]}" --checkpoint ck.st --out m2.st d.csv 2>/dev/null ||
	fail "training with a checkpoint"
"$mlp" quantize m.st x.csv --out q.st >/dev/null 2>&1 || fail "quantising m.st"

commands=(
	"info m.st"
	"info reg.st"
	"run m.st x.csv"
	"run --argmax --batch 7 m.st x.csv"
	"run reg.st rx.csv"
	"eval m.st d.csv"
	"eval reg.st r.csv"
	"${train[*]} --standardize --val 0.2 --log log.csv --checkpoint c.st --out o.st d.csv"
	"${train[*]} --epochs 3 --resume ck.st --out o.st d.csv"
	"train --sizes 1,8,1 --act tanh,identity --epochs 2 --standardize --out o.st r.csv"
	"quantize m.st x.csv --out o.st"
	"quantize --method max reg.st rx.csv --out o.st"
	"info q.st"
	"run q.st x.csv"
	"eval q.st d.csv"
)
command -v gnuplot >/dev/null && commands+=("eval --plot cm.png m.st d.csv")
# mlp serve runs until a signal: what it calls as it starts fails it, and
# a SIGTERM ends it once it listens where nothing did (tool_serve_test.sh
# injects the failures of its requests).
"$mlp" serve --help >/dev/null 2>&1 && ! "$mlp" serve 2>&1 | grep -q "no HTTP server" &&
	commands+=("serve --port 0 m.st")

# run ARGS...: mlp ARGS; a server is stopped with SIGTERM once it listens
# (or has ended). The exit status is mlp's.
run() {
	if [ "$1" != serve ]; then
		"$mlp" "$@"
		return
	fi
	"$mlp" "$@" &
	local pid=$!
	for _ in $(seq 400); do
		grep -q "listening on" err.txt 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
}

injected=0
for cmd in "${commands[@]}"; do
	rm -f err.txt
	# shellcheck disable=SC2086
	run $cmd > /dev/null 2> err.txt
	rc=$?
	[ "$rc" = 0 ] || fail "mlp $cmd: exit $rc without a failure: $(cat err.txt)"
	while read -r f; do
		rm -f o.st log.txt err.txt
		# shellcheck disable=SC2086
		MLP_FAIL=$f MLP_FAIL_LOG=log.txt LD_PRELOAD=$shim run $cmd \
			> /dev/null 2> err.txt
		rc=$?
		[ -s log.txt ] || continue # the command does not call it
		injected=$((injected + 1))
		if [ "$rc" -lt 1 ] || [ "$rc" -gt 5 ]; then
			fail "mlp $cmd, $f failing: exit $rc: $(tail -n 2 err.txt)"
		fi
		grep -q '^mlp: ' err.txt || fail "mlp $cmd, $f failing: no message"
		[ -e o.st ] && fail "mlp $cmd, $f failing: a model was written"
	done < used.txt
done
echo "$injected failures injected into $(wc -l < used.txt) functions of" \
	"${#commands[@]} commands"
[ "$injected" -gt 0 ] || fail "no failure was injected"

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "every status the program receives is checked"

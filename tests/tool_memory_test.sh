#!/usr/bin/env bash
# The mlp program under address-space limits (ulimit -v) of 100, 150, 200
# and 300 MB: train, run and eval, on a small network and a large one, end
# within a minute, with exit status 0, or 1 and a message that says "out
# of memory" and names the limit; never a hang (OpenBLAS retries a buffer
# it cannot map forever) or a crash. Skipped (77) under the sanitizers,
# whose shadow memory needs more address space than any such limit.
# With --sweep, every 50 MB from 100 to 1200 MB instead, each command
# allowed either end, and a count of the ends at the close.
#
#   tests/tool_memory_test.sh path/to/mlp [--sweep]
set -u
mlp=$(readlink -f "${1:?usage: tool_memory_test.sh path/to/mlp [--sweep]}")
sweep=${2:-}
if ldd "$mlp" | grep -q 'libasan\|libtsan'; then
	echo "SKIP: a sanitizer build: its shadow memory needs more address" \
		"space than these limits"
	exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

printf '0,0,0\n0,1,1\n1,0,1\n1,1,0\n' > xor.csv
cut -d, -f1-2 xor.csv > x.csv
# The large network: 16.8 million parameters, 67 MB, four times that to
# train; the small one fits anywhere OpenBLAS's buffer does.
small=(--sizes 2,16,2 --act relu,softmax)
big=(--sizes 2,4096,4096,2 --act relu,relu,softmax)
"$mlp" train "${small[@]}" --loss xent --epochs 1 --out small.st xor.csv 2>/dev/null
"$mlp" train "${big[@]}" --loss xent --epochs 1 --out big.st xor.csv 2>/dev/null ||
	fail "the large network trains without a limit"

# under LIMIT WANT WHAT -- COMMAND...: WANT is 0, 1, or "either"
under() {
	local limit=$1 want=$2 what=$3 got
	shift 4
	bash -c "ulimit -v $limit; exec timeout 60 \"\$@\"" bash "$@" \
		> out.txt 2> err.txt
	got=$?
	case "$got" in
	0) ;;
	1)
		grep -q "out of memory" err.txt &&
			grep -q "ulimit -v" err.txt ||
			fail "$what under ulimit -v $limit: exit 1 without out of memory and the limit: $(cat err.txt)"
		;;
	124) fail "$what under ulimit -v $limit: a hang (killed after 60 s)" ;;
	*) fail "$what under ulimit -v $limit: exit $got: $(tail -n 3 err.txt)" ;;
	esac
	if [ "$want" != either ] && [ "$got" != "$want" ]; then
		fail "$what under ulimit -v $limit: exit $got, wanted $want"
	fi
	ends[$got]=$((${ends[$got]:-0} + 1))
	echo "ulimit -v $limit: $what: exit $got"
}
declare -A ends

limits=(100000 150000 200000 300000)
[ "$sweep" = --sweep ] && mapfile -t limits < <(seq 100000 50000 1200000)
bf16= bf16_train=
"$mlp" --version | grep -q '^precisions: fp32 bf16' && bf16=yes
# bf16 training is oneDNN's
[ -n "$bf16" ] && "$mlp" --version | grep -q '^engines:.* onednn' && bf16_train=yes
# OpenBLAS's buffer is what leaves nothing below 150 MB; BLIS and the
# reference BLAS take no such buffer.
openblas=
"$mlp" --version | grep -q '^BLAS: .*OpenBLAS' && openblas=yes
for limit in "${limits[@]}"; do
	# Below 200 MB OpenBLAS's buffer of 128 MiB and the libraries' code
	# leave no room for anything; at 300 MB a small network runs, and
	# the large one fits only where there is no such buffer.
	want=either large=1
	[ "$limit" = 100000 ] && [ -n "$openblas" ] && want=1
	[ "$limit" = 300000 ] && want=0
	[ "$limit" != 100000 ] && [ -z "$openblas" ] && large=either
	[ "$sweep" = --sweep ] && want=either large=either
	under $limit $want "train, small" -- "$mlp" train "${small[@]}" --loss xent \
		--epochs 2 --out s.st xor.csv
	under $limit $want "train, 2-512-512-2" -- "$mlp" train --sizes 2,512,512,2 \
		--act relu,relu,softmax --loss xent --epochs 1 --out m.st xor.csv
	under $limit $want "run, small" -- "$mlp" run small.st x.csv
	under $limit $want "eval, small" -- "$mlp" eval small.st xor.csv
	under $limit $large "train, large" -- "$mlp" train "${big[@]}" --loss xent \
		--epochs 1 --out b.st xor.csv
	under $limit $large "run, large" -- "$mlp" run big.st x.csv
	under $limit $large "eval, large" -- "$mlp" eval big.st xor.csv
	[ -n "$bf16" ] || continue
	# bf16 keeps a second copy of the weights, and oneDNN its threads.
	[ -n "$bf16_train" ] &&
		under $limit either "train, 2-1024-1024-2 in bf16" -- "$mlp" train \
			--sizes 2,1024,1024,2 --act relu,relu,softmax --loss xent --epochs 1 \
			--batch 2 --precision bf16 --out h.st xor.csv
	under $limit either "run, large, in bf16" -- "$mlp" run --precision bf16 \
		big.st x.csv
done
under 200000 0 "help" -- "$mlp" --help
ls -a | grep -q '\.tmp$' && fail "a temporary file is left: $(ls -a)"
if [ "$sweep" = --sweep ]; then
	for got in "${!ends[@]}"; do
		echo "exit $got: ${ends[$got]} commands"
	done
fi

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "all memory-limit tests passed"

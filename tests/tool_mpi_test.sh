#!/usr/bin/env bash
# The mlp program under mpirun: data-parallel training that matches one
# process, checkpoints resumed to the same file, mlp run writing the same
# bytes on 3 ranks as on one, and a failure on any one rank ending every
# rank within 10 s, with the same exit status and one message.
#
#   tests/tool_mpi_test.sh path/to/mlp path/to/mpirun data/digits.csv
set -u
mlp=$(readlink -f "${1:?usage: tool_mpi_test.sh mlp mpirun digits.csv}")
mpirun=${2:?usage: tool_mpi_test.sh mlp mpirun digits.csv}
digits=$(readlink -f "${3:?usage: tool_mpi_test.sh mlp mpirun digits.csv}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ranks() { local n=$1; shift; "$mpirun" -np "$n" --oversubscribe "$@"; }

# The digits, pixels scaled to [0, 1], the class last; the inputs alone.
awk -F, '{ for (i = 1; i <= 64; i++) printf "%g,", $i / 16; print $65 }' \
	"$digits" > d.csv
cut -d, -f1-64 d.csv > x.csv
train=(train --sizes 64,32,10 --act relu,softmax --loss xent --lr 0.003
       --batch 60 --seed 5)

# ---- 2 ranks train as one process does: the same classes on 99% of rows
"$mlp" "${train[@]}" --epochs 4 --out one.st d.csv 2> one.log ||
	fail "one process trains"
ranks 2 "$mlp" "${train[@]}" --epochs 4 --out two.st d.csv 2> two.log ||
	fail "2 ranks train"
[ "$(grep -c '^epoch' two.log)" = 4 ] || fail "rank 0 alone prints the epochs"
"$mlp" run --argmax one.st x.csv > one.txt
"$mlp" run --argmax two.st x.csv > two.txt
same=$(paste -d' ' one.txt two.txt | awk '$1 == $2' | wc -l)
echo "2 ranks against one process: the same class on $same of 1797 rows"
[ "$same" -ge 1779 ] || fail "2 ranks: the same class on $same of 1797 rows"

# ---- checkpoints: 2 epochs, then 2 resumed, give the file of 4 straight
for n in 1 2; do
	run=("$mlp")
	[ "$n" = 1 ] || run=(ranks "$n" "$mlp")
	"${run[@]}" "${train[@]}" --epochs 4 --out s$n.st d.csv 2>/dev/null
	"${run[@]}" "${train[@]}" --epochs 2 --checkpoint c$n.st --out h$n.st \
		d.csv 2>/dev/null
	"${run[@]}" "${train[@]}" --epochs 4 --resume c$n.st --out r$n.st \
		d.csv 2>/dev/null
	cmp -s s$n.st r$n.st || fail "$n rank(s): resumed file differs from straight"
	"$mlp" info c$n.st > /dev/null || fail "$n rank(s): the checkpoint is a model"
done
ls | grep -q tmp && fail "a temporary file is left: $(ls)"

# ---- mlp run on 3 ranks writes the bytes one process writes: CSV in
# batches of 7, the classes, and a file with a bad row (the rows before it,
# then exit 4)
for args in "--batch 7" "--argmax --batch 100" ""; do
	# shellcheck disable=SC2086
	"$mlp" run $args one.st x.csv > a.txt
	# shellcheck disable=SC2086
	ranks 3 "$mlp" run $args one.st x.csv > b.txt
	cmp -s a.txt b.txt || fail "mlp run $args: 3 ranks write other bytes"
done
{ head -n 20 x.csv; echo "1,2,oops"; tail -n 5 x.csv; } > bad.csv
"$mlp" run --batch 8 one.st bad.csv > a.txt 2> a.err; a=$?
ranks 3 "$mlp" run --batch 8 one.st bad.csv > b.txt 2> b.err; b=$?
[ "$a" = 4 ] && [ "$b" = 4 ] || fail "a bad row: exit $a alone, $b on 3 ranks"
cmp -s a.txt b.txt || fail "a bad row: 3 ranks write other bytes"
grep -q "bad.csv:21" b.err || fail "3 ranks: the bad row is not named: $(cat b.err)"

# ---- a batch the ranks cannot share
ranks 2 "$mlp" "${train[@]}" --batch 61 --epochs 1 --out x.st d.csv 2> e.txt
[ $? = 2 ] || fail "--batch 61 on 2 ranks: not exit 2"
grep -q "not a multiple of the 2 workers" e.txt || fail "--batch 61: $(cat e.txt)"

# ---- a failure on one rank: every rank ends within 10 s with the same
# status, and rank 0 alone says why, once. Each case is a command line for
# rank 0 and one for the other ranks ($r in it is the rank).
# one_fails WHAT STATUS MESSAGE RANKS COMMAND-ON-RANK-0 COMMAND-ELSEWHERE
one_fails() {
	local what=$1 want=$2 message=$3 n=$4 zero=$5 other=$6 begin end
	rm -f status.* err.txt
	begin=$(date +%s)
	# shellcheck disable=SC2016
	timeout 30 "$mpirun" -np "$n" --oversubscribe bash -c '
		r=$OMPI_COMM_WORLD_RANK
		if [ "$r" = 0 ]; then eval "$1"; else eval "$2"; fi
		echo $? > status.$r' bash "$zero" "$other" > /dev/null 2> err.txt
	end=$(date +%s)
	if [ $((end - begin)) -gt 10 ]; then
		fail "$what: $((end - begin)) s, not within 10 s"
	fi
	for ((k = 0; k < n; k++)); do
		if [ "$(cat status.$k 2>/dev/null)" != "$want" ]; then
			fail "$what: rank $k exit $(cat status.$k 2>/dev/null || echo none), wanted $want"
		fi
	done
	if [ "$(grep -c '^mlp: ' err.txt)" != 1 ]; then
		fail "$what: not one message: $(grep '^mlp: ' err.txt)"
	fi
	grep -qF -- "$message" err.txt || fail "$what: '$message' not in: $(cat err.txt)"
}
t=("$mlp" train --sizes 64,16,10 --act relu,softmax --loss xent --epochs 3 --batch 60)
printf -v T '%q ' "${t[@]}"
one_fails "train --lr -1 on rank 1" 2 "rank 1: --lr -1: lr must be finite" 2 \
	"$T --out o.st d.csv" "$T --out o.st \$( [ \$r = 1 ] && echo --lr -1 ) d.csv"
one_fails "train with an unknown option on rank 2 of 3" 2 \
	"rank 2: train: unknown option '--bogus'" 3 "$T --out o.st d.csv" \
	"$T --out o.st \$( [ \$r = 2 ] && echo --bogus ) d.csv"
one_fails "train with its data missing on rank 1" 1 \
	"rank 1: cannot open missing.csv" 2 "$T --out o.st d.csv" \
	"$T --out o.st missing.csv"
one_fails "train with a bad option on rank 0 alone" 2 "--epochs 0: epochs" 3 \
	"$T --epochs 0 --out o.st d.csv" "$T --out o.st d.csv"
"$mlp" train --sizes 64,16,10 --act relu,softmax --loss xent --epochs 2 \
	--seed 9 --out other.st d.csv 2>/dev/null
head -c 300 one.st > cut.st
one_fails "run with the model missing on rank 1" 1 "rank 1: cannot open missing.st" 2 \
	"$mlp run one.st x.csv" "$mlp run missing.st x.csv"
one_fails "run with a truncated model on rank 2 of 3" 3 "rank 2: cut.st:" 3 \
	"$mlp run one.st x.csv" "$mlp run \$( [ \$r = 2 ] && echo cut.st || echo one.st ) x.csv"
one_fails "run --batch 0 on rank 1" 2 "rank 1: --batch 0: not from 1" 2 \
	"$mlp run one.st x.csv" "$mlp run --batch 0 one.st x.csv"
one_fails "run with another model of the same shape on rank 1" 3 \
	"the ranks hold different models" 2 "$mlp run one.st x.csv" \
	"$mlp run other.st x.csv"
one_fails "run on rank 0, info elsewhere" 2 "the ranks ran different commands" 2 \
	"$mlp run one.st x.csv" "$mlp info one.st"

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "all tool tests under mpirun passed"

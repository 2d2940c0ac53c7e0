#!/usr/bin/env bash
# mlp train --checkpoint and --resume, tried as a hostile or careless user
# would: crafted checkpoint metadata and moments refused with the field
# and the rule; options given with --resume that differ from the
# checkpoint's refused naming both values, those left out taken from it;
# files that cannot be read or written named, with the cause, before an
# epoch is spent.
#
#   tests/tool_checkpoint_test.sh path/to/mlp path/to/digits.csv
set -u
mlp=$(readlink -f "${1:?usage: tool_checkpoint_test.sh path/to/mlp digits.csv}")
digits=$(readlink -f "${2:?usage: tool_checkpoint_test.sh path/to/mlp digits.csv}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run WANT WHAT -- COMMAND...: stdout in out.txt, stderr in err.txt
run() {
	local want=$1 what=$2 got
	shift 3
	"$@" > out.txt 2> err.txt
	got=$?
	[ "$got" = "$want" ] || fail "$what: exit $got, wanted $want: $(tail -n 3 err.txt)"
}
says() { grep -qF -- "$1" err.txt || fail "$2: '$1' not in: $(cat err.txt)"; }
no_epoch() { grep -q '^epoch ' err.txt && fail "$1: an epoch ran first"; }

t=(train --sizes 64,16,10 --act relu,softmax --loss xent --batch 60 --lr 0.01)
run 0 "2 epochs and a checkpoint" -- "$mlp" "${t[@]}" --epochs 2 \
	--checkpoint c.st --out h.st "$digits"
run 0 "4 epochs straight" -- "$mlp" "${t[@]}" --epochs 4 --out s.st "$digits"

# ---- resumed with no options but the files: the checkpoint's options,
# network and epochs, and the bits of the straight run
run 0 "resume with the options left out" -- "$mlp" train --resume c.st \
	--epochs 4 --out r.st "$digits"
cmp -s r.st s.st || fail "resumed with its options left out: not the straight run"
run 0 "resume with the same options given" -- "$mlp" "${t[@]}" --epochs 4 \
	--resume c.st --out r2.st "$digits"
cmp -s r2.st s.st || fail "resumed with its options given: not the straight run"

# ---- options given that differ: refused, both values named, no data read
for opt in "--lr 0.5:--lr 0.01" "--optim sgd:--optim adam" "--batch 30:--batch 60" \
	"--seed 7:--seed 0" "--beta2 0.99:--beta2 0.999" "--wd 0.1:--wd 0" \
	"--schedule cosine:--schedule constant" "--loss mse:--loss xent" \
	"--val 0.1:--val 0"; do
	given=${opt%%:*} was=${opt#*:}
	# shellcheck disable=SC2086
	run 2 "resume with $given" -- "$mlp" train --resume c.st $given --epochs 4 \
		--out x.st missing.csv
	says "$given: the checkpoint c.st was made with $was" "resume with $given"
done
run 2 "resume with other widths" -- "$mlp" train --resume c.st --sizes 64,32,10 \
	--act relu,softmax --out x.st missing.csv
says "--sizes: the checkpoint c.st is of another network" "other widths"
run 2 "resume with fewer epochs than done" -- "$mlp" train --resume c.st \
	--epochs 1 --out x.st missing.csv
says "--epochs 1: the checkpoint c.st has done 2 epochs" "fewer epochs"
run 2 "resume with --standardize" -- "$mlp" train --resume c.st --standardize \
	--epochs 3 --out x.st "$digits"
says "--standardize: the checkpoint c.st was made without it" "--standardize added"

# ---- --standardize comes with the checkpoint, and so does its data
awk -F, -v OFS=, '{ for (i = 1; i <= 64; i++) $i = $i * 1000; print }' \
	"$digits" > d1000.csv
run 0 "standardised, 4 straight" -- "$mlp" "${t[@]}" --standardize --epochs 4 \
	--out zs.st d1000.csv
run 0 "standardised, 2 and a checkpoint" -- "$mlp" "${t[@]}" --standardize \
	--epochs 2 --checkpoint zc.st --out zh.st d1000.csv
run 0 "standardised, resumed without --standardize" -- "$mlp" train \
	--resume zc.st --epochs 4 --out zr.st d1000.csv
cmp -s zr.st zs.st || fail "standardised and resumed: not the straight run"
run 4 "standardised, resumed on other data" -- "$mlp" train --resume zc.st \
	--epochs 4 --out x.st "$digits"
says "not the data it was made on" "other data"

# ---- crafted checkpoints: refused with the field and the rule, exit 3,
# before an epoch; the checkpoint stays a model mlp info shows
edit() { # FILE KEY VALUE: the metadata member KEY set to VALUE
	python3 - "$@" <<'EOF'
import json, struct, sys
path, key, value = sys.argv[1:4]
data = open(path, 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
header['__metadata__'][key] = value
text = json.dumps(header, separators=(',', ':'))
text += ' ' * (-len(text) % 8)
open(path, 'wb').write(struct.pack('<Q', len(text)) + text.encode() + data[8 + n:])
EOF
}
tensor() { # FILE NAME VALUE: element 0 of tensor NAME set to VALUE
	python3 - "$@" <<'EOF'
import json, struct, sys
path, name, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = bytearray(open(path, 'rb').read())
n = struct.unpack('<Q', data[:8])[0]
begin = json.loads(data[8:8 + n])[name]['data_offsets'][0]
data[8 + n + begin:8 + n + begin + 4] = struct.pack('<f', value)
open(path, 'wb').write(data)
EOF
}
crafted() { # WHAT EXPECT: bad.st against the run
	run 3 "$1" -- "$mlp" train --resume bad.st --epochs 4 --out x.st "$digits"
	says "$2" "$1"
	says "--resume bad.st:" "$1: the file named"
	no_epoch "$1"
	[ -e x.st ] && fail "$1: a model was written"
	rm -f x.st
}
for lr in -0x1p-10 0 0x0p+0; do
	cp c.st bad.st; edit bad.st checkpoint.lr "$lr"
	crafted "a rate in force of $lr" "the learning rate in force must be above 0"
done
cp c.st bad.st; edit bad.st checkpoint.lr 0x1p-1000
crafted "a rate in force of 0x1p-1000" "checkpoint.lr: '0x1p-1000' is not a finite float"
cp c.st bad.st; edit bad.st checkpoint.epoch 18446744073709551615
crafted "epoch 2^64 - 1" "checkpoint.epoch 18446744073709551615 is not an epoch of the run's 2"
cp c.st bad.st; edit bad.st checkpoint.steps 18446744073709551615
crafted "steps 2^64 - 1" "checkpoint.steps 18446744073709551615 is not 2 epochs of 30 steps"
cp c.st bad.st; edit bad.st train.lr -0x1.47ae14p-7
crafted "a negative learning rate" "lr must be finite and above 0"
cp c.st bad.st; edit bad.st train.optim lbfgs
crafted "an unknown optimizer" "train.optim: 'lbfgs' is not one of its values"
cp c.st bad.st; tensor bad.st optimizer.m.0.weight 3e38
crafted "a first moment of 3e38" "m = 3e+38"
cp c.st bad.st; tensor bad.st optimizer.v.0.bias -1e-6
crafted "a negative second moment" "a second moment is never negative"
grep -q "diverged" err.txt && fail "a negative second moment blamed on the rate"
run 0 "mlp info on the crafted checkpoint" -- "$mlp" info c.st
grep -q "checkpoint  epoch 2 of 2" out.txt || fail "info does not show the checkpoint: $(cat out.txt)"
run 3 "mlp info on a refused checkpoint" -- "$mlp" info bad.st
says "bad.st: the checkpoint is refused: optimizer tensors of layers.0.bias[0]" \
	"info on a refused checkpoint"

# ---- files: named with the cause, before an epoch
run 1 "--resume of a missing file" -- "$mlp" train --resume nonexist.st \
	--out x.st "$digits"
says "--resume nonexist.st: cannot open nonexist.st: No such file or directory" \
	"a missing checkpoint"
run 3 "--resume of a plain model" -- "$mlp" train --resume s.st --out x.st "$digits"
says "--resume s.st: not a checkpoint" "a plain model"
run 1 "--checkpoint in a missing directory" -- "$mlp" "${t[@]}" \
	--checkpoint /nonexistent/x.st --out x.st "$digits"
says "cannot write /nonexistent/x.st: cannot create a file in /nonexistent" \
	"--checkpoint in a missing directory"
no_epoch "--checkpoint in a missing directory"
# Standard error through a pipe: a file would be under the limit too.
bash -c "ulimit -f 8; exec '$mlp' ${t[*]} --checkpoint big.st --out x.st '$digits'" \
	2>&1 > /dev/null | cat > err.txt
rc=${PIPESTATUS[0]}
[ "$rc" = 1 ] || fail "--checkpoint past ulimit -f: exit $rc"
says "cannot write big.st: the file would be" "--checkpoint past ulimit -f"
says "above this process's file size limit (ulimit -f) of 8192 bytes" \
	"--checkpoint past ulimit -f"
no_epoch "--checkpoint past ulimit -f"
[ -e big.st ] && fail "--checkpoint past ulimit -f: a file was left"
ls -A | grep -q '\.tmp$' && fail "a temporary file is left: $(ls -A)"

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "all checkpoint tests of the tool passed"

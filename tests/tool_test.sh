#!/usr/bin/env bash
# The mlp command-line program on small files: every command, the exit
# codes, and messages that name the line of a bad row.
#
#   tests/tool_test.sh path/to/mlp
set -u
mlp=$(readlink -f "${1:?usage: tool_test.sh path/to/mlp}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0

# expect CODE DESCRIPTION -- COMMAND...: runs it, keeps stdout in $dir/out
# and stderr in $dir/err, and checks the exit code.
expect() {
	local want=$1 what=$2
	shift 3
	"$@" >"$dir/out" 2>"$dir/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: $what: exit $got, wanted $want"; sed 's/^/  stderr: /' "$dir/err"
		failures=$((failures + 1))
	fi
}

# contains FILE TEXT DESCRIPTION
contains() {
	if ! grep -qF -- "$2" "$1"; then
		echo "FAIL: $3: '$2' not in:"; sed 's/^/  /' "$1"
		failures=$((failures + 1))
	fi
}

cd "$dir" || exit 1

# ---- help and usage
expect 0 "mlp --help" -- "$mlp" --help
contains out "mlp info MODEL" "the usage lists the commands"
expect 2 "no command" -- "$mlp"
expect 2 "unknown command" -- "$mlp" frobnicate
contains err "unknown command 'frobnicate'" "unknown command named"
for cmd in info run train; do
	expect 0 "mlp $cmd --help" -- "$mlp" "$cmd" --help
	contains out "usage: mlp $cmd" "mlp $cmd --help"
done
expect 2 "train without --out" -- "$mlp" train --sizes 2,2 --act relu data.csv
expect 2 "train with a bad activation" -- "$mlp" train --sizes 2,2 --act swish --out m.st x
contains err "'swish', is not an activation" "bad activation named"
expect 2 "train with activations not matching layers" -- \
	"$mlp" train --sizes 2,3,2 --act relu --out m.st x
expect 2 "run with an unknown option" -- "$mlp" run --bogus m.st

# ---- train a classifier on XOR (CSV, label last), inspect it, run it
printf '0,0,0\n0,1,1\n1,0,1\n1,1,0\n' > xor.csv
expect 0 "train XOR" -- "$mlp" train --sizes 2,8,2 --act tanh,softmax --loss xent \
	--lr 0.05 --epochs 300 --batch 4 --out xor.safetensors --test xor.csv xor.csv
contains err "epoch 300/300" "a line an epoch when not on a terminal"
contains err "test accuracy 1.0000" "XOR learned"
expect 0 "info" -- "$mlp" info xor.safetensors
contains out "2 layers, 42 parameters" "info counts parameters"
contains out "layer 1  8 -> 2  softmax" "info shows a layer"
printf '# inputs\n0 0\n\n0 1\n1\t0\n1, 1\n' > xor_in.txt
expect 0 "run --argmax" -- "$mlp" run --argmax xor.safetensors xor_in.txt
if [ "$(tr '\n' ' ' < out)" != "0 1 1 0 " ]; then
	echo "FAIL: XOR classes: $(tr '\n' ' ' < out)"; failures=$((failures + 1))
fi
expect 0 "run from standard input" -- sh -c "printf '1 1\n' | '$mlp' run xor.safetensors"
if ! awk -F, '{ exit !(NF == 2 && $1 > 0.9) }' out; then
	echo "FAIL: run writes both probabilities: $(cat out)"; failures=$((failures + 1))
fi

# ---- bad rows: the line is named, the exit code is 4
printf '0 0\n0 1\n0 1 1\n' > bad_width.txt
expect 4 "a row too wide" -- "$mlp" run xor.safetensors bad_width.txt
contains err "bad_width.txt:3: expected 2 numbers, found 3" "the bad row's line"
if [ "$(wc -l < out)" != 2 ]; then
	echo "FAIL: the rows before a bad row are written"; failures=$((failures + 1))
fi
printf '0 0\n0 x\n' > bad_value.txt
expect 4 "a value that is not a number" -- "$mlp" run xor.safetensors bad_value.txt
contains err "bad_value.txt:2: 'x' is not a number" "the bad value named"
printf '0,0,0\n0,1,7\n' > bad_label.csv
expect 4 "a label out of range" -- "$mlp" train --sizes 2,4,2 --act relu,softmax \
	--loss xent --out m.st bad_label.csv
contains err "bad_label.csv:2: label 7 is not a class in 0..1" "the bad label named"
expect 1 "missing input" -- "$mlp" run xor.safetensors missing.txt
expect 1 "missing model" -- "$mlp" info missing.safetensors
printf 'not a model' > junk.safetensors
expect 3 "a file that is not a model" -- "$mlp" info junk.safetensors
contains err "runs past the end of the file" "the model's problem named"

# ---- regression: MSE, targets in the last columns
awk 'BEGIN { for (i = 0; i < 64; i++) { x = i / 32 - 1; print x "," x * x } }' > sq.csv
expect 0 "train a regression" -- "$mlp" train --sizes 1,16,1 --act tanh,identity \
	--lr 0.01 --epochs 200 --batch 16 --out sq.safetensors --test sq.csv sq.csv
expect 0 "run the regression" -- sh -c "printf '0.5\n' | '$mlp' run sq.safetensors"
if ! awk '{ exit !($1 > 0.15 && $1 < 0.35) }' out; then
	echo "FAIL: 0.5 squared came out as $(cat out)"; failures=$((failures + 1))
fi

# ---- divergence: exit 5
expect 5 "a learning rate that diverges" -- "$mlp" train --sizes 1,16,1 \
	--act relu,identity --optim sgd --momentum 0 --lr 1e30 --epochs 5 --out d.st sq.csv

# ---- IDX images and labels (4 images of 2×2 pixels, 2 classes)
printf '\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00\x02' > t-images-idx3-ubyte
printf '\xff\xff\x00\x00\x00\x00\xff\xff\xff\xf0\x00\x00\x00\x00\xf0\xff' >> t-images-idx3-ubyte
printf '\x00\x00\x08\x01\x00\x00\x00\x04\x00\x01\x00\x01' > t-labels-idx1-ubyte
expect 0 "train on IDX" -- "$mlp" train --sizes 4,4,2 --act relu,softmax --loss xent \
	--lr 0.05 --epochs 100 --batch 4 --out idx.safetensors t-images-idx3-ubyte
expect 0 "run on IDX images" -- "$mlp" run --argmax idx.safetensors t-images-idx3-ubyte
if [ "$(tr '\n' ' ' < out)" != "0 1 0 1 " ]; then
	echo "FAIL: IDX classes: $(tr '\n' ' ' < out)"; failures=$((failures + 1))
fi
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x00' > u-labels-idx1-ubyte
cp t-images-idx3-ubyte u-images-idx3-ubyte
expect 4 "IDX labels not matching images" -- "$mlp" train --sizes 4,2 --act softmax \
	--loss xent --out m.st u-images-idx3-ubyte
contains err "3 labels for 4 images" "the count mismatch named"

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "all tool tests passed"

#!/usr/bin/env bash
# The mlp command-line program on small files: every command, the exit
# codes, and messages that name the line of a bad row.
#
#   tests/tool_test.sh path/to/mlp path/to/train_like_tool
set -u
mlp=$(readlink -f "${1:?usage: tool_test.sh path/to/mlp path/to/train_like_tool}")
like_tool=$(readlink -f "${2:?usage: tool_test.sh path/to/mlp path/to/train_like_tool}")
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
# Wisdom only where a test puts it
unset MLP_WISDOM
export XDG_CACHE_HOME="$dir/cache"

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

# ---- every number option parsed in full and range-checked: exit 2, and a
# message that names the option and the value; no model written
printf '0,0,0\n0,1,1\n1,0,1\n1,1,0\n' > xor.csv
refused() { # OPTION VALUE MESSAGE
	rm -f refused.st
	expect 2 "train $1 '$2'" -- "$mlp" train --sizes 2,4,2 --act tanh,softmax \
		--loss xent --epochs 1 --out refused.st "$1" "$2" xor.csv
	contains err "mlp: $1" "train $1 '$2': the option named"
	contains err "$2" "train $1 '$2': the value named"
	contains err "$3" "train $1 '$2': the rule named"
	if [ -e refused.st ]; then
		echo "FAIL: train $1 '$2' wrote a model"; failures=$((failures + 1))
	fi
}
refused --epochs 2x "not a whole number"
refused --epochs -1 "not a whole number"
refused --epochs 0 "epochs must be at least 1"
refused --epochs "" "not a whole number"
refused --epochs 99999999999999999999 "not a whole number"
refused --batch 0 "batch_size must be at least 1"
refused --batch 1.5 "not a whole number"
refused --batch " 4" "not a whole number"
refused --seed banana "not a whole number from 0 to 18446744073709551615"
refused --seed -1 "not a whole number"
refused --seed 18446744073709551616 "not a whole number"
refused --lr 0 "lr must be finite and above 0"
refused --lr -0.1 "lr must be finite and above 0"
refused --lr abc "not a decimal number"
refused --lr 0.1x "not a decimal number"
refused --lr 1e39 "not a finite number"
refused --lr nan "not a finite number"
refused --lr inf "not a finite number"
refused --momentum 1 "momentum must be in [0, 1)"
refused --momentum -0.5 "momentum must be in [0, 1)"
refused --beta1 1 "beta1 must be in [0, 1)"
refused --beta2 2 "beta2 must be in [0, 1)"
refused --eps 0 "eps must be finite and above 0"
refused --wd -1 "weight_decay must be finite and at least 0"
refused --clip -1 "clip_norm must be finite and at least 0"
refused --clip x "not a decimal number"
refused --sizes 2 "at least two widths"
refused --sizes 2,0,2 "width 2 is 0; widths are 1 to 16777216"
refused --sizes 2,100000000,2 "width 2 is 100000000; widths are 1 to 16777216"
refused --sizes 2,,2 "width 2, '', is not a whole number"
refused --sizes 2,x,2 "width 2, 'x', is not a whole number"
refused --act relu,swish "item 2, 'swish', is not an activation"
refused --loss hinge "want mse or xent"
refused --optim lbfgs "want adam or sgd"
expect 2 "cross-entropy without a softmax or sigmoid output" -- "$mlp" train \
	--sizes 2,4,2 --act tanh,identity --loss xent --out refused.st xor.csv
contains err "cross-entropy needs a softmax or sigmoid output layer, not identity" \
	"the loss that does not fit named"

# ---- the tool trains as the library does: mlp_net_init(net, seed), then
# mlp_train with the same options and seed, gives the same file, byte for
# byte (for a classifier, a regression, and the default seed)
awk 'BEGIN { for (i = 0; i < 64; i++) { x = i / 32 - 1; print x "," x * x } }' > sq.csv
"$mlp" train --sizes 2,8,2 --act tanh,softmax --loss xent --lr 0.05 --epochs 30 \
	--batch 3 --seed 99 --out tool_xor.st xor.csv 2>/dev/null
"$like_tool" xor.csv lib_xor.st 2,8,2 tanh,softmax xent 30 3 0.05 99
if ! cmp -s tool_xor.st lib_xor.st; then
	echo "FAIL: mlp train and mlp_train differ (classifier, seed 99)"
	failures=$((failures + 1))
fi
"$mlp" train --sizes 1,16,1 --act tanh,identity --lr 0.01 --epochs 20 --batch 16 \
	--out tool_sq.st sq.csv 2>/dev/null
"$like_tool" sq.csv lib_sq.st 1,16,1 tanh,identity mse 20 16 0.01 0
if ! cmp -s tool_sq.st lib_sq.st; then
	echo "FAIL: mlp train and mlp_train differ (regression, default seed)"
	failures=$((failures + 1))
fi

# ---- train a classifier on XOR (CSV, label last), inspect it, run it
expect 0 "train XOR" -- "$mlp" train --sizes 2,8,2 --act tanh,softmax --loss xent \
	--lr 0.05 --epochs 300 --batch 4 --out xor.safetensors --test xor.csv xor.csv
contains err "epoch 300/300" "a line an epoch when not on a terminal"
contains err "held-out accuracy 1.0000" "XOR learned"
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
contains err "bad_value.txt:2: value 2, 'x', is not a decimal number" "the bad value named"
printf '0,0,0\n0,1,7\n' > bad_label.csv
expect 4 "a label out of range" -- "$mlp" train --sizes 2,4,2 --act relu,softmax \
	--loss xent --out m.st bad_label.csv
contains err "bad_label.csv:2: label 7 is not a class in 0..1" "the bad label named"
expect 2 "run --batch 0" -- "$mlp" run --batch 0 xor.safetensors xor_in.txt
contains err "mlp: --batch 0: not from 1 to 1048576" "run --batch 0 refused"
expect 2 "run --batch 2x" -- "$mlp" run --batch 2x xor.safetensors xor_in.txt
contains err "mlp: --batch '2x': not a whole number" "run --batch 2x refused"
expect 2 "run --batch 1048577" -- "$mlp" run --batch 1048577 xor.safetensors xor_in.txt
expect 2 "run --act for the wrong number of layers" -- "$mlp" run --act relu \
	xor.safetensors xor_in.txt
contains err "1 activations given for 2 layers" "the count mismatch named"
expect 1 "missing input" -- "$mlp" run xor.safetensors missing.txt
expect 1 "missing model" -- "$mlp" info missing.safetensors
printf 'not a model' > junk.safetensors
expect 3 "a file that is not a model" -- "$mlp" info junk.safetensors
contains err "runs past the end of the file" "the model's problem named"

# ---- regression: MSE, targets in the last columns
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

# ---- checkpoints: 2 epochs, then 2 resumed, give the file of 4 straight
ck=(train --sizes 2,4,2 --act tanh,softmax --loss xent --lr 0.05 --batch 2)
expect 0 "4 epochs straight" -- "$mlp" "${ck[@]}" --epochs 4 --out s.st xor.csv
expect 0 "2 epochs and a checkpoint" -- "$mlp" "${ck[@]}" --epochs 2 \
	--checkpoint c.st --checkpoint-every 2 --out h.st xor.csv
expect 0 "2 more, resumed" -- "$mlp" "${ck[@]}" --epochs 4 --resume c.st \
	--out r.st xor.csv
cmp -s s.st r.st || { echo "FAIL: resumed model differs from 4 epochs straight"; failures=$((failures + 1)); }
expect 0 "a checkpoint is a model" -- "$mlp" info c.st
expect 2 "resume with another seed" -- "$mlp" "${ck[@]}" --epochs 4 --seed 3 \
	--resume c.st --out r.st xor.csv
contains err "--seed 3: the checkpoint c.st was made with --seed 0" "the mismatch said"
expect 3 "resume from a model" -- "$mlp" "${ck[@]}" --epochs 4 --resume s.st \
	--out r.st xor.csv
contains err "--resume s.st: not a checkpoint" "not a checkpoint said"
expect 2 "--checkpoint-every alone" -- "$mlp" "${ck[@]}" --checkpoint-every 2 \
	--out r.st xor.csv
contains err "--checkpoint-every needs --checkpoint" "the missing file said"
expect 2 "--checkpoint-every 0" -- "$mlp" "${ck[@]}" --checkpoint c.st \
	--checkpoint-every 0 --out r.st xor.csv

# ---- precisions: what this build runs, refused values, bf16 where it runs
expect 0 "mlp --version" -- "$mlp" --version
contains out "engines: cblas" "the engines listed"
contains out "precisions: fp32" "the precisions listed"
contains out " int8" "int8 listed among the precisions"
bf16=false onednn=false
grep -q "precisions: fp32 bf16" out && bf16=true
grep -q "^engines:.* onednn" out && onednn=true
expect 2 "run --precision fp16" -- "$mlp" run --precision fp16 idx.safetensors
contains err "mlp: --precision 'fp16': want fp32, bf16 or int8" "the bad precision named"
expect 2 "train --precision fp16" -- "$mlp" train --sizes 2,4,2 --act tanh,softmax \
	--loss xent --epochs 1 --out p.st --precision fp16 xor.csv
if $bf16; then
	expect 0 "run in bf16 on IDX images" -- "$mlp" run --precision bf16 --argmax \
		idx.safetensors t-images-idx3-ubyte
	if [ "$(tr '\n' ' ' < out)" != "0 1 0 1 " ]; then
		echo "FAIL: IDX classes in bf16: $(tr '\n' ' ' < out)"; failures=$((failures + 1))
	fi
	# bf16 training is oneDNN's; bf16 plans also run on mlp's own kernel
	if $onednn; then
		expect 0 "train in bf16" -- "$mlp" train --sizes 4,4,2 --act relu,softmax \
			--loss xent --lr 0.05 --epochs 100 --batch 4 --precision bf16 \
			--out idx16.safetensors t-images-idx3-ubyte
		expect 0 "run what bf16 trained" -- "$mlp" run --argmax idx16.safetensors \
			t-images-idx3-ubyte
		if [ "$(tr '\n' ' ' < out)" != "0 1 0 1 " ]; then
			echo "FAIL: IDX classes after bf16 training: $(tr '\n' ' ' < out)"
			failures=$((failures + 1))
		fi
	else
		expect 2 "train in bf16 without oneDNN" -- "$mlp" train --sizes 4,4,2 \
			--act relu,softmax --loss xent --epochs 1 --precision bf16 \
			--out idx16.safetensors t-images-idx3-ubyte
		contains err "bf16 training needs a build with oneDNN" "bf16 training refused"
	fi
	# oneDNN held below bf16, as on a CPU without it: refused, and said so
	if $onednn; then
		expect 2 "run --precision bf16 without bf16" -- env DNNL_MAX_CPU_ISA=AVX512_CORE \
			"$mlp" run --precision bf16 idx.safetensors t-images-idx3-ubyte
		contains err "does not run bf16" "bf16 refused where it does not run"
		expect 2 "train --precision bf16 without bf16" -- env DNNL_MAX_CPU_ISA=AVX512_CORE \
			"$mlp" train --sizes 4,2 --act softmax --loss xent --precision bf16 \
			--out m.st t-images-idx3-ubyte
		expect 0 "mlp --version without bf16" -- env DNNL_MAX_CPU_ISA=AVX512_CORE \
			"$mlp" --version
		contains out "(bf16: needs a CPU with AVX512_BF16 or AMX)" "--version says bf16 is missing"
	fi
else
	echo "bf16 cases skipped: this build or CPU has no native bf16"
	expect 2 "run --precision bf16 without bf16" -- "$mlp" run --precision bf16 \
		idx.safetensors t-images-idx3-ubyte
	contains err "does not run bf16" "bf16 refused where it does not run"
fi

# ---- text as spreadsheets and editors write it: a byte-order mark, CRLF,
# spaces around numbers, blank lines at the end; what is refused, with the
# file and line, and bad bytes shown escaped
printf '\xef\xbb\xbf0,0,0\r\n0 , 1 , 1\r\n1,0,1\r\n1,1,0\r\n\r\n\n' > bom.csv
expect 0 "a CSV file with a byte-order mark and CRLF" -- "$mlp" train \
	--sizes 2,4,2 --act tanh,softmax --loss xent --epochs 2 --out bom.st bom.csv
printf '0,0,0\n0,1\0,1\n' > nul.csv
expect 4 "a NUL byte" -- "$mlp" train --sizes 2,4,2 --act tanh,softmax \
	--loss xent --out m.st nul.csv
contains err "nul.csv:2: a NUL byte at column 4" "the NUL byte's line and column"
printf '0,0,0\n0,\x1b[31m1,1\n' > esc.csv
expect 4 "a value with raw bytes" -- "$mlp" train --sizes 2,4,2 --act tanh,softmax \
	--loss xent --out m.st esc.csv
contains err "esc.csv:2: value 2, '\x1b[31m1', is not a decimal number" \
	"the raw bytes shown escaped"
if grep -q $'\x1b' err; then
	echo "FAIL: a raw escape byte reached the terminal"; failures=$((failures + 1))
fi
printf '0x1p0,0,0\n' > hex.csv
expect 4 "a hexadecimal float in data" -- "$mlp" train --sizes 2,4,2 \
	--act tanh,softmax --loss xent --out m.st hex.csv
contains err "hex.csv:1: value 1, '0x1p0', is not a decimal number" "hex refused"
refused --lr 0x1p-3 "not a decimal number"

# ---- targets checked like labels, in training and --test data alike
printf '0,0,0\n0,1,1\n1,0,2\n' > sig.csv
expect 4 "a sigmoid target of 2" -- "$mlp" train --sizes 2,4,1 \
	--act tanh,sigmoid --loss xent --out m.st sig.csv
contains err "sig.csv:3: target 1 is 2; with --loss xent a sigmoid output's targets lie in [0, 1]" \
	"the bad target's line"
printf '0,0,0\n0,1,1\n' > sig_ok.csv
expect 4 "a bad target in --test data" -- "$mlp" train --sizes 2,4,1 \
	--act tanh,sigmoid --loss xent --out m.st --test sig.csv sig_ok.csv
contains err "sig.csv:3: target 1 is 2" "the --test file's bad line"
printf '0,0,0\n0,1,7\n' > bad_test_label.csv
expect 4 "a bad label in --test data" -- "$mlp" train --sizes 2,4,2 \
	--act tanh,softmax --loss xent --out m.st --test bad_test_label.csv xor.csv
contains err "bad_test_label.csv:2: label 7" "the --test label's line"

# ---- a PyTorch file without activations: the advice is the tool's flag
h='{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},'
h+='"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}'
while [ $((${#h} % 8)) != 0 ]; do h+=' '; done
# shellcheck disable=SC2059
printf "$(printf '\\x%02x' $((${#h} & 255)) $((${#h} >> 8)) 0 0 0 0 0 0)" > nometa.st
printf '%s' "$h" >> nometa.st
printf '\0\0\x80\x3f\0\0\x80\x3f\0\0\0\0' >> nometa.st
expect 3 "info on a file without activations" -- "$mlp" info nometa.st
contains err "give them with --act" "the advice names --act"
expect 0 "info with --act" -- "$mlp" info --act identity nometa.st

# ---- IDX, plain and gzip: truncated, trailing bytes, sizes that lie
printf '\0\0\x08\x03\0\0\0\x02\0\0\0\x01\0\0\0\x02\x00\xff\x80\x10' > a-images-idx3-ubyte
printf '\0\0\x08\x01\0\0\0\x02\x01\x00' > a-labels-idx1-ubyte
expect 0 "plain IDX" -- "$mlp" train --sizes 2,3,2 --act relu,softmax \
	--loss xent --epochs 1 --out idx.st a-images-idx3-ubyte
gzip -c a-images-idx3-ubyte > b-images-idx3-ubyte.gz
gzip -c a-labels-idx1-ubyte > b-labels-idx1-ubyte.gz
expect 0 "gzip IDX" -- "$mlp" train --sizes 2,3,2 --act relu,softmax \
	--loss xent --epochs 1 --out idx.st b-images-idx3-ubyte.gz
head -c -4 b-images-idx3-ubyte.gz > c-images-idx3-ubyte.gz
gzip -c a-labels-idx1-ubyte > c-labels-idx1-ubyte.gz
expect 4 "a gzip file without its trailer" -- "$mlp" train --sizes 2,3,2 \
	--act relu,softmax --loss xent --out idx.st c-images-idx3-ubyte.gz
contains err "c-images-idx3-ubyte.gz: the gzip data ends early" "truncated gzip"
{ cat b-images-idx3-ubyte.gz; printf 'junk'; } > d-images-idx3-ubyte.gz
gzip -c a-labels-idx1-ubyte > d-labels-idx1-ubyte.gz
expect 4 "bytes after the gzip stream" -- "$mlp" train --sizes 2,3,2 \
	--act relu,softmax --loss xent --out idx.st d-images-idx3-ubyte.gz
contains err "bytes after the end of the gzip stream" "trailing bytes"
printf '\0\0\x08\x03\0\0\xff\xff\0\0\0\x01\0\0\0\x02\x00\xff' | gzip -c \
	> e-images-idx3-ubyte.gz
gzip -c a-labels-idx1-ubyte > e-labels-idx1-ubyte.gz
expect 4 "sizes that promise more than the file holds" -- "$mlp" train \
	--sizes 2,3,2 --act relu,softmax --loss xent --out idx.st e-images-idx3-ubyte.gz
contains err "its sizes say 131070 bytes of data, it has 2" "sizes that lie"

# ---- held-out rows, early stopping, schedules, the log
digits=$(dirname "$like_tool")/../../tests/data/digits.csv
[ -f "$digits" ] || digits=$(dirname "$0")/data/digits.csv
expect 0 "train with --val, --patience, cosine and a log" -- "$mlp" train \
	--sizes 64,32,10 --act relu,softmax --loss xent --lr 0.05 --epochs 40 \
	--val 0.2 --patience 2 --schedule cosine --warmup 1 --log log.csv \
	--out es.st "$digits"
contains err "stopped after epoch" "early stopping says where"
contains err "kept the parameters of epoch" "and which epoch it kept"
head -1 log.csv > log_head.txt
contains log_head.txt "epoch,lr,loss,val_loss,val_accuracy,samples_per_s,seconds" \
	"the log's header"
rows=$(($(wc -l < log.csv) - 1))
last=$(grep -o 'stopped after epoch [0-9]*' err | grep -o '[0-9]*$')
if [ "$rows" != "$last" ]; then
	echo "FAIL: the log has $rows epochs, training stopped after ${last:-?}"
	failures=$((failures + 1))
fi
# Warm-up: epoch 1 runs at lr/2 with one epoch of it.
lr1=$(sed -n 2p log.csv | cut -d, -f2)
if [ "$lr1" != "0.0250000004" ] && [ "$lr1" != "0.025" ]; then
	echo "FAIL: warm-up epoch 1 at lr $lr1, wanted 0.025"; failures=$((failures + 1))
fi
expect 2 "--patience without held-out data" -- "$mlp" train --sizes 64,10 \
	--act softmax --loss xent --patience 2 --out m.st "$digits"
contains err "--patience 2 needs held-out data" "the rule named"
expect 2 "--val with --test" -- "$mlp" train --sizes 64,10 --act softmax \
	--loss xent --val 0.1 --test "$digits" --out m.st "$digits"
expect 2 "--val 1" -- "$mlp" train --sizes 64,10 --act softmax --loss xent \
	--val 1 --out m.st "$digits"
contains err "val_fraction must be in [0, 1), not 1" "the --val rule"
expect 2 "--schedule wavy" -- "$mlp" train --sizes 64,10 --act softmax \
	--loss xent --schedule wavy --out m.st "$digits"
contains err "want constant, cosine or step:E:F" "the schedules named"
expect 2 "--schedule step:0:0.5" -- "$mlp" train --sizes 64,10 --act softmax \
	--loss xent --schedule step:0:0.5 --out m.st "$digits"
expect 2 "--schedule step:2:1.5" -- "$mlp" train --sizes 64,10 --act softmax \
	--loss xent --schedule step:2:1.5 --out m.st "$digits"
contains err "step_factor must be in (0, 1], not 1.5" "the step factor's rule"
expect 2 "--warmup as long as the run" -- "$mlp" train --sizes 64,10 \
	--act softmax --loss xent --epochs 3 --warmup 3 --out m.st "$digits"
expect 0 "a step schedule" -- "$mlp" train --sizes 64,10 --act softmax \
	--loss xent --epochs 4 --schedule step:2:0.5 --log step.csv --out m.st "$digits"
if [ "$(cut -d, -f2 step.csv | tail -n +2 | tr '\n' ' ')" != "0.00100000005 0.00100000005 0.000500000024 0.000500000024 " ]; then
	echo "FAIL: step:2:0.5 rates: $(cut -d, -f2 step.csv | tail -n +2 | tr '\n' ' ')"
	failures=$((failures + 1))
fi

# ---- mlp eval: the confusion matrix counts every row, its diagonal is the
# accuracy, and both agree with mlp run --argmax; regression's MSE, MAE
# and R^2 against awk's from mlp run's outputs
expect 0 "eval a classifier" -- "$mlp" eval es.st "$digits"
cp out eval.txt
cut -d, -f1-64 "$digits" > digits_in.csv
"$mlp" run --argmax es.st digits_in.csv > pred.txt 2>/dev/null
cut -d, -f65 "$digits" > truth.txt
right=$(paste -d' ' pred.txt truth.txt | awk '$1 == $2' | wc -l)
total=$(wc -l < truth.txt)
acc=$(awk -v r="$right" -v t="$total" 'BEGIN { printf "%.6f", r / t }')
contains eval.txt "accuracy  $acc" "eval's accuracy is run --argmax's"
diag=$(awk '/^ *[0-9]+( +[0-9]+)+$/ && NF == 11 { s += $($1 + 2) } END { print s }' eval.txt)
cells=$(awk '/^ *[0-9]+( +[0-9]+)+$/ && NF == 11 { for (i = 2; i <= NF; i++) s += $i } END { print s }' eval.txt)
if [ "$diag" != "$right" ] || [ "$cells" != "$total" ]; then
	echo "FAIL: confusion matrix diagonal $diag (want $right), cells $cells (want $total)"
	failures=$((failures + 1))
fi
awk 'BEGIN { srand(3); for (i = 0; i < 200; i++) { x = rand() * 2 - 1;
	printf "%.6f,%.6f\n", x, 3 * x + 0.5 + (rand() - 0.5) * 0.1 } }' > line.csv
expect 0 "train a regression" -- "$mlp" train --sizes 1,8,1 --act tanh,identity \
	--epochs 30 --lr 0.01 --out line.st line.csv
expect 0 "eval a regression" -- "$mlp" eval line.st line.csv
cp out eval_r.txt
cut -d, -f1 line.csv > line_in.csv
"$mlp" run line.st line_in.csv > line_out.txt 2>/dev/null
want=$(paste -d, line.csv line_out.txt | awk -F, '{ e = $3 - $2; se += e * e;
	ae += (e < 0 ? -e : e); t[NR] = $2; m += $2 } END { m /= NR;
	for (i = 1; i <= NR; i++) tot += (t[i] - m) ^ 2;
	printf "%.4g %.4g %.4f", se / NR, ae / NR, 1 - se / tot }')
got=$(awk '$1 == "mse" { a = $2 } $1 == "mae" { b = $2 } $1 == "r2" { c = $2 }
	END { printf "%.4g %.4g %.4f", a, b, c }' eval_r.txt)
if [ "$got" != "$want" ]; then
	echo "FAIL: eval's mse mae r2 '$got', awk's '$want'"; failures=$((failures + 1))
fi
expect 2 "eval --plot on a regression" -- "$mlp" eval --plot x.png line.st line.csv
contains err "not a classifier" "the reason"

# ---- mlp tune: wisdom written where the environment says, added to, read
# by run and eval with the same outputs; a malformed file said and left out
expect 0 "tune" -- "$mlp" tune --max-batch 8 --time-limit 0.2 es.st
contains err "wisdom written to $XDG_CACHE_HOME/mlp/wisdom" "tune names the file"
contains out "es.st: fp32 measure; 1" "tune prints the plan"
expect 0 "tune --out, two models" -- "$mlp" tune --max-batch 4 --time-limit 0.2 \
	--out w.txt es.st line.st
expect 0 "tune --out again" -- "$mlp" tune --max-batch 8 --time-limit 0.2 --out w.txt line.st
if [ "$(head -1 w.txt)" != "mlp-wisdom 1" ] || [ "$(tail -1 w.txt)" != "end" ] ||
	[ "$(grep -c '^machine ' w.txt)" != 1 ] ||
	[ "$(grep -c '^fp32 64 ' w.txt)" != 3 ] || [ "$(grep -c '^fp32 1 8 ' w.txt)" != 4 ]; then
	echo "FAIL: the wisdom file:"; sed 's/^/  /' w.txt; failures=$((failures + 1))
fi
"$mlp" run es.st digits_in.csv > plain_out.txt 2>/dev/null
expect 0 "run with wisdom" -- env MLP_WISDOM=w.txt "$mlp" run es.st digits_in.csv
if ! paste -d, plain_out.txt out | awk -F, '{ for (i = 1; i <= 10; i++) {
	d = $i - $(i + 10); if (d > 1e-5 || d < -1e-5) exit 1 } }'; then
	echo "FAIL: run's outputs with wisdom differ"; failures=$((failures + 1))
fi
expect 0 "eval with wisdom" -- env MLP_WISDOM=w.txt "$mlp" eval es.st "$digits"
contains out "accuracy  $acc" "eval with wisdom: the same accuracy"
printf 'mlp-wisdom 1\nfp32 1 2 relu 1 2 0 packed 1.0\n' > bad_wisdom.txt
for cmd in run eval; do
	if [ "$cmd" = run ]; then data=digits_in.csv; else data=$digits; fi
	expect 0 "$cmd with malformed wisdom" -- env MLP_WISDOM=bad_wisdom.txt \
		"$mlp" "$cmd" es.st "$data"
	contains err "wisdom bad_wisdom.txt left out: wisdom line 2" "$cmd names the bad line"
done
expect 2 "tune --max-batch 0" -- "$mlp" tune --max-batch 0 es.st
expect 2 "tune without a model" -- "$mlp" tune
expect 3 "tune a file that is no model" -- "$mlp" tune xor.csv

# ---- mlp plot and eval --plot: PNG files where gnuplot is installed, a
# message saying what to install where it is not
if command -v gnuplot >/dev/null; then
	expect 0 "plot two logs" -- "$mlp" plot log.csv step.csv curves.png
	expect 0 "eval --plot" -- "$mlp" eval --plot cm.png es.st "$digits"
	for png in curves.png cm.png; do
		if [ "$(head -c 4 "$png" | od -An -c | tr -d ' ')" != "211PNG" ]; then
			echo "FAIL: $png is not a PNG"; failures=$((failures + 1))
		fi
	done
else
	expect 1 "plot without gnuplot" -- "$mlp" plot log.csv curves.png
	contains err "apt-get install gnuplot-nox" "what to install"
fi
expect 4 "plot a file that is not a log" -- "$mlp" plot "$digits" x.png
contains err "not a log of mlp train --log" "the reason"

# ---- --standardize: inputs scaled by 1000 train as well as the raw ones
# (the model keeps the scaling; eval and run apply it); targets scaled by
# 1000 come back in their units
awk -F, -v OFS=, '{ for (i = 1; i <= 64; i++) $i = $i * 1000; print }' \
	"$digits" > digits1000.csv
expect 0 "train on unscaled digits" -- "$mlp" train --sizes 64,32,10 \
	--act relu,softmax --loss xent --epochs 10 --out plain.st "$digits"
expect 0 "train on digits x 1000, standardized" -- "$mlp" train --sizes 64,32,10 \
	--act relu,softmax --loss xent --epochs 10 --standardize --out std.st digits1000.csv
"$mlp" info std.st > info_std.txt
contains info_std.txt "scaling  inputs (mlp run and eval apply it)" "info shows the scaling"
plain_acc=$("$mlp" eval plain.st "$digits" | awk '$1 == "accuracy" { print $2 }')
std_acc=$("$mlp" eval std.st digits1000.csv | awk '$1 == "accuracy" { print $2 }')
if ! awk -v a="$std_acc" -v b="$plain_acc" 'BEGIN { exit !(a >= b - 0.01) }'; then
	echo "FAIL: x 1000 standardized: accuracy $std_acc, unscaled $plain_acc"
	failures=$((failures + 1))
fi
cut -d, -f1-64 digits1000.csv > d1000_in.csv
"$mlp" run --argmax std.st d1000_in.csv > std_pred.txt 2>/dev/null
right=$(paste -d' ' std_pred.txt truth.txt | awk '$1 == $2' | wc -l)
run_acc=$(awk -v r="$right" -v t="$(wc -l < truth.txt)" 'BEGIN { printf "%.6f", r / t }')
if [ "$run_acc" != "$std_acc" ]; then
	echo "FAIL: run applies the scaling: accuracy $run_acc, eval's $std_acc"
	failures=$((failures + 1))
fi
awk -F, -v OFS=, '{ $2 = $2 * 1000; print }' line.csv > line1000.csv
expect 0 "a regression on targets x 1000, standardized" -- "$mlp" train \
	--sizes 1,8,1 --act tanh,identity --epochs 30 --lr 0.01 --standardize \
	--out line1000.st line1000.csv
"$mlp" eval line1000.st line1000.csv > eval1000.txt
r2=$(awk '$1 == "r2" { print $2 }' eval1000.txt)
if ! awk -v r="$r2" 'BEGIN { exit !(r > 0.99) }'; then
	echo "FAIL: standardized regression R^2 $r2"; failures=$((failures + 1))
fi
mae=$(awk '$1 == "mae" { print $2 }' eval1000.txt)
if ! awk -v m="$mae" 'BEGIN { exit !(m > 1 && m < 100) }'; then
	echo "FAIL: the MAE $mae is not in the targets' units (x 1000)"
	failures=$((failures + 1))
fi
# --standardize with --val: the scaling comes from the rows trained on.
# Each of 20 rows in turn given an extreme input: the 4 rows --val 0.2
# holds out leave the model as it was, bit for bit (scaling and all); any
# other row changes it.
for i in $(seq 0 19); do
	echo "$(( (i * 7) % 10 )),$(( (i * 3) % 5 )),$(( i % 2 ))"
done > rows20.csv
"$mlp" train --sizes 2,4,2 --act tanh,softmax --loss xent --epochs 1 \
	--val 0.2 --seed 3 --standardize --out base.st rows20.csv 2>/dev/null
same=0
for i in $(seq 1 20); do
	awk -F, -v OFS=, -v r="$i" 'NR == r { $1 = 1000000 } { print }' rows20.csv \
		> extreme.csv
	expect 0 "--standardize --val, row $i extreme" -- "$mlp" train --sizes 2,4,2 \
		--act tanh,softmax --loss xent --epochs 1 --val 0.2 --seed 3 \
		--standardize --out extreme.st extreme.csv
	cmp -s base.st extreme.st && same=$((same + 1))
done
if [ "$same" != 4 ]; then
	echo "FAIL: --standardize --val 0.2: $same of 20 rows made extreme left" \
		"the model as it was, wanted the 4 held out"
	failures=$((failures + 1))
fi

fm=/usr/share/datasets/fashion-mnist
# ---- int8: a quantised model from mlp quantize, run, evaluated, shown
expect 0 "quantize XOR" -- "$mlp" quantize --rows 3 xor.safetensors xor_in.txt \
	--out xq.st
contains out "calibrated on 3 rows of xor_in.txt, by the 99.99 percentile" \
	"quantize says how it calibrated"
contains out "rel. RMS error" "quantize prints each layer's error"
contains out "classes: int8 equals float on" "quantize compares the classes"
expect 0 "quantize --method max" -- "$mlp" quantize --method max xor.safetensors \
	xor_in.txt --out xqm.st
contains out "by the largest |x|" "the method said"
expect 0 "info of a quantised model" -- "$mlp" info xq.st
contains out "quantised: I8 weights" "info shows a quantised model"
contains out "input scale" "info shows the scales"
expect 0 "run a quantised model" -- "$mlp" run --argmax xq.st xor_in.txt
if [ "$(tr '\n' ' ' < out)" != "0 1 1 0 " ]; then
	echo "FAIL: XOR classes in int8: $(tr '\n' ' ' < out)"; failures=$((failures + 1))
fi
expect 0 "run it in int8" -- "$mlp" run xq.st xor_in.txt
cp out xq_int8.txt
expect 0 "run it in fp32" -- "$mlp" run --precision fp32 xq.st xor_in.txt
if ! paste -d, xq_int8.txt out | awk -F, '{ for (i = 1; i <= NF / 2; i++) {
		d = $i - $(i + NF / 2); if (d < -0.05 || d > 0.05) exit 1 } }'; then
	echo "FAIL: int8 outputs more than 0.05 from the dequantised fp32 ones"
	failures=$((failures + 1))
fi
expect 0 "eval a quantised model" -- "$mlp" eval xq.st xor.csv
contains out "int8 layer 1: rel. RMS error" "eval prints the int8 error"
contains out "accuracy  1.000000" "XOR still learned in int8"
expect 2 "int8 for a float model" -- "$mlp" run --precision int8 xor.safetensors \
	xor_in.txt
contains err "is not a quantised model (make one with mlp quantize)" \
	"int8 of a float model refused"
expect 2 "quantize without --out" -- "$mlp" quantize xor.safetensors xor_in.txt
expect 2 "quantize --method bogus" -- "$mlp" quantize --method bogus \
	xor.safetensors xor_in.txt --out q.st
contains err "want percentile or max" "the bad method named"
expect 2 "quantize --percentile 40" -- "$mlp" quantize --percentile 40 \
	xor.safetensors xor_in.txt --out q.st
expect 4 "quantize on rows of the wrong width" -- "$mlp" quantize \
	xor.safetensors bad_width.txt --out q.st
[ ! -e q.st ] || { echo "FAIL: a refused quantize wrote q.st"; failures=$((failures + 1)); }
expect 0 "quantize on IDX images" -- "$mlp" quantize idx.safetensors \
	t-images-idx3-ubyte --out idxq.st
expect 0 "run IDX images in int8" -- "$mlp" run --argmax idxq.st t-images-idx3-ubyte
if [ "$(tr '\n' ' ' < out)" != "0 1 0 1 " ]; then
	echo "FAIL: IDX classes in int8: $(tr '\n' ' ' < out)"; failures=$((failures + 1))
fi

# ---- Fashion-MNIST in int8: calibrated on 1,000 training images, the
# classes equal fp32's on at least 99% of the 10,000 test images and the
# accuracy within 0.5 points (a network trained for one epoch)
if [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
	[ -f fm.st ] || expect 0 "train on Fashion-MNIST" -- "$mlp" train \
		--sizes 784,256,10 --act relu,softmax --loss xent --epochs 1 \
		--batch 64 --out fm.st "$fm/train-images-idx3-ubyte.gz"
	expect 0 "quantize Fashion-MNIST" -- "$mlp" quantize fm.st \
		"$fm/train-images-idx3-ubyte.gz" --out fmq.st
	expect 0 "fp32 classes" -- sh -c "'$mlp' run --argmax fm.st \
		'$fm/t10k-images-idx3-ubyte.gz' > fm32.txt"
	expect 0 "int8 classes" -- sh -c "'$mlp' run --argmax fmq.st \
		'$fm/t10k-images-idx3-ubyte.gz' > fm8.txt"
	same=$(paste -d' ' fm32.txt fm8.txt | awk '$1 == $2' | wc -l)
	echo "Fashion-MNIST: int8 classes equal fp32's on $same of 10000 images"
	if [ "$same" -lt 9900 ]; then
		echo "FAIL: int8 agrees with fp32 on $same of 10000 images (want 99%)"
		failures=$((failures + 1))
	fi
	expect 0 "eval fp32" -- "$mlp" eval fm.st "$fm/t10k-images-idx3-ubyte.gz"
	a32=$(awk '/^accuracy/ { print $2 }' out)
	expect 0 "eval int8" -- "$mlp" eval fmq.st "$fm/t10k-images-idx3-ubyte.gz"
	a8=$(awk '/^accuracy/ { print $2 }' out)
	echo "Fashion-MNIST: accuracy fp32 $a32, int8 $a8"
	if ! awk -v a="$a32" -v b="$a8" 'BEGIN { exit !(a - b <= 0.005 && b - a <= 0.005) }'; then
		echo "FAIL: int8 accuracy $a8 is more than 0.5 points from fp32's $a32"
		failures=$((failures + 1))
	fi
else
	echo "Fashion-MNIST int8 case skipped: needs $fm (Debian's dataset-fashion-mnist)"
fi

# ---- Fashion-MNIST: the bf16 plan's classes are the fp32 path's on at
# least 99% of the 10,000 test images (a network trained for one epoch)
if $bf16 && [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
	expect 0 "train on Fashion-MNIST" -- "$mlp" train --sizes 784,256,10 \
		--act relu,softmax --loss xent --epochs 1 --batch 64 --out fm.st \
		"$fm/train-images-idx3-ubyte.gz"
	expect 0 "fp32 classes" -- sh -c "'$mlp' run --argmax fm.st \
		'$fm/t10k-images-idx3-ubyte.gz' > fm32.txt"
	expect 0 "bf16 classes" -- sh -c "'$mlp' run --argmax --precision bf16 fm.st \
		'$fm/t10k-images-idx3-ubyte.gz' > fm16.txt"
	same=$(paste -d' ' fm32.txt fm16.txt | awk '$1 == $2' | wc -l)
	total=$(wc -l < fm32.txt)
	echo "Fashion-MNIST: bf16 classes equal fp32's on $same of $total images"
	if [ "$total" != 10000 ] || [ "$same" -lt 9900 ]; then
		echo "FAIL: bf16 agrees with fp32 on $same of $total images (want 99%)"
		failures=$((failures + 1))
	fi
else
	echo "Fashion-MNIST case skipped: needs native bf16 and $fm" \
		"(Debian's dataset-fashion-mnist)"
fi

if [ "$failures" -gt 0 ]; then
	echo "$failures failures"
	exit 1
fi
echo "all tool tests passed"

#!/usr/bin/env bash
# How fast `mlp run` reads CSV, end to end: 200,000 rows of 784 values
# "0.5" (627 MB) and 60,000 rows of 784 "%.6f" values (423 MB), through a
# 784-256-128-10 network, from a file and from a pipe; the median of three
# runs each, in MB/s of input. The files are written to DIR (default
# /tmp/mlp-csv-bench) once and kept.
#
#   bench/csv_read.sh path/to/mlp [DIR]
set -euo pipefail
mlp=${1:?usage: bench/csv_read.sh path/to/mlp [DIR]}
dir=${2:-/tmp/mlp-csv-bench}
mkdir -p "$dir"
echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
	"OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-(all)}"

if [ ! -s "$dir/half.csv" ]; then
	awk 'BEGIN { row = "0.5"; for (j = 1; j < 784; j++) row = row ",0.5";
		     for (i = 0; i < 200000; i++) print row }' >"$dir/half.csv"
fi
if [ ! -s "$dir/six.csv" ]; then
	awk 'BEGIN { srand(1); for (i = 0; i < 60000; i++) {
		row = sprintf("%.6f", rand()); for (j = 1; j < 784; j++)
		row = row sprintf(",%.6f", rand()); print row } }' >"$dir/six.csv"
fi
if [ ! -s "$dir/model.safetensors" ]; then
	awk 'BEGIN { srand(2); for (i = 0; i < 64; i++) { row = "";
		for (j = 0; j < 784; j++) row = row sprintf("%.3f,", rand());
		print row int(rand() * 10) } }' >"$dir/train.csv"
	"$mlp" train --sizes 784,256,128,10 --act relu,relu,softmax --loss xent \
		--epochs 1 --out "$dir/model.safetensors" "$dir/train.csv" 2>/dev/null
fi

# The median of three timings of "$@", in seconds.
median3() {
	local t=()
	for _ in 1 2 3; do
		local start end
		start=$(date +%s.%N)
		"$@" >/dev/null
		end=$(date +%s.%N)
		t+=("$(echo "$end - $start" | bc)")
	done
	printf '%s\n' "${t[@]}" | sort -n | sed -n 2p
}

for f in half six; do
	bytes=$(stat -c %s "$dir/$f.csv")
	file_s=$(median3 "$mlp" run "$dir/model.safetensors" "$dir/$f.csv")
	pipe_s=$(median3 sh -c "cat '$dir/$f.csv' | '$mlp' run '$dir/model.safetensors' -")
	printf '%s.csv (%d MB): file %.2f s, %.0f MB/s; pipe %.2f s, %.0f MB/s\n' \
		"$f" $((bytes / 1000000)) "$file_s" \
		"$(echo "$bytes / 1000000 / $file_s" | bc -l)" "$pipe_s" \
		"$(echo "$bytes / 1000000 / $pipe_s" | bc -l)"
done

#!/usr/bin/env bash
# bench/serve.sh — mlp serve under load from wrk (Debian: wrk), one row a
# request, on this machine (the load generator shares its CPUs).
#
#   bench/serve.sh [--mlp PATH] [--seconds S] [--cases A,B] [--soak S]
#                  [--serve-args "ARGS"]
#
# For each network (default 784-256-256-10, 784-1024-1024-10, 2-8-8-1) it
# starts `mlp serve` and drives it at concurrency 1, 8 and 64, then at 64
# with --max-batch 1 (queueing, no batching), and prints requests per
# second, the 50th and 99th percentiles of latency (wrk's), the mean
# batch (mlp's metrics) and the failed requests. With --soak S, one more
# run of S seconds at concurrency 64 on the first network, sampling the
# server's resident memory at 5 s and at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mlp=$here/../build/tools/mlp
seconds=10
cases=784-256-256-10,784-1024-1024-10,2-8-8-1
soak=0
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--serve-args) read -r -a extra <<<"$2"; shift 2 ;;
	--mlp) mlp=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--cases) cases=$2; shift 2 ;;
	--soak) soak=$2; shift 2 ;;
	*) echo "usage: bench/serve.sh [--mlp PATH] [--seconds S] [--cases A,B] [--soak S] [--serve-args ARGS]" >&2
	   exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "bench/serve.sh: needs wrk (Debian: wrk)" >&2; exit 2; }
mlp=$(readlink -f "$mlp")
dir=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT
cd "$dir"

echo "mlp serve under wrk, one row a request; $(nproc) CPUs:" \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
	"(family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')," \
	"model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | tr -d ' '));" \
	"$seconds s a cell; wrk and the server share the CPUs"

# model SIZES: a network of those widths (ReLU, softmax), trained an epoch
# on a few random rows so that its weights are set
model() {
	local sizes=$1 n_in=${1%%-*} n_out=${1##*-}
	awk -v n="$n_in" -v k="$n_out" 'BEGIN { srand(7); for (r = 0; r < 16; r++) {
		for (j = 0; j < n; j++) printf "%.4f,", rand(); print int(rand() * k) } }' > train.csv
	local acts
	acts=$(echo "$sizes" | awk -F- '{ for (i = 2; i < NF; i++) printf "relu,"; print "softmax" }')
	"$mlp" train --sizes "${sizes//-/,}" --act "$acts" --loss xent --epochs 1 \
		--out "net$sizes.st" train.csv 2>/dev/null
}

# post.lua: the body of one request, a row of n_in values
body() {
	local n_in=$1
	awk -v n="$n_in" 'BEGIN { srand(11); printf "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,%d],\"datatype\":\"FP32\",\"data\":[", n;
		for (j = 0; j < n; j++) printf "%s%.6f", j ? "," : "", rand(); printf "]}]}" }' > body.json
	cat > post.lua <<'EOF'
local f = io.open("body.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
EOF
}

start() { # MODEL ARGS...
	"$mlp" serve --port 0 ${extra[@]+"${extra[@]}"} "$@" 2> serve.err &
	server=$!
	port=
	for _ in $(seq 400); do
		port=$(sed -n 's/^mlp: serve: listening on http:\/\/[^ ]*:\([0-9]*\)\/v2 .*/\1/p' serve.err)
		[ -n "$port" ] && return 0
		sleep 0.05
	done
	cat serve.err >&2
	exit 1
}

stop() {
	kill -TERM "$server"
	wait "$server" || true
	server=
}

# drive NAME CONC SECONDS: wrk's requests/s, p50, p99 and failures
drive() {
	local name=$1 c=$2 s=$3 threads=2
	[ "$c" -lt 2 ] && threads=1
	wrk -t"$threads" -c"$c" -d"${s}s" --latency -s post.lua \
		"http://127.0.0.1:$port/v2/models/$name/infer" > wrk.txt
	rps=$(awk '/^Requests\/sec:/ { print $2 }' wrk.txt)
	p50=$(awk '$1 == "50%" { print $2 }' wrk.txt)
	p99=$(awk '$1 == "99%" { print $2 }' wrk.txt)
	bad=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ {
		for (i = 3; i <= NF; i += 2) n += $(i + 1) } END { print n + 0 }' wrk.txt)
}

mean_batch() { # from /metrics: rows over passes
	curl -s "http://127.0.0.1:$port/metrics" |
		awk -v m="$1" '$0 ~ "^mlp_batch_rows_sum\\{model=\"" m "\"" { s = $2 }
			$0 ~ "^mlp_batch_rows_count\\{model=\"" m "\"" { c = $2 }
			END { if (c > 0) printf "%.1f", s / c; else print "-" }'
}

printf '\n%-17s %9s %5s %10s %9s %9s %7s %6s\n' network max-batch conc req/s p50 p99 batch failed
for sizes in ${cases//,/ }; do
	model "$sizes"
	body "${sizes%%-*}"
	name=net$sizes
	for mb in 64 1; do
		start --max-batch "$mb" "$name.st"
		for c in 1 8 64; do
			[ "$mb" = 1 ] && [ "$c" != 64 ] && continue
			drive "$name" "$c" "$seconds"
			printf '%-17s %9s %5s %10s %9s %9s %7s %6s\n' "$sizes" "$mb" "$c" \
				"$rps" "$p50" "$p99" "$(mean_batch "$name")" "$bad"
		done
		stop
	done
done

if [ "$soak" -gt 0 ]; then
	sizes=${cases%%,*}
	name=net$sizes
	model "$sizes"
	body "${sizes%%-*}"
	start "$name.st"
	wrk -t2 -c64 -d"${soak}s" --latency -s post.lua \
		"http://127.0.0.1:$port/v2/models/$name/infer" > wrk.txt &
	load=$!
	sleep 5
	rss5=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
	wait "$load"
	rss_end=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
	total=$(awk '/requests in/ { print $1 }' wrk.txt)
	bad=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ {
		for (i = 3; i <= NF; i += 2) n += $(i + 1) } END { print n + 0 }' wrk.txt)
	served=$(curl -s "http://127.0.0.1:$port/metrics" |
		awk '/^mlp_infer_requests_total\{.*code="200"\}/ { n += $2 } END { print n + 0 }')
	stop
	echo
	echo "soak: $sizes, ${soak} s at concurrency 64: $total requests sent by wrk," \
		"$served answered 200 by mlp, $bad failed; resident memory" \
		"${rss5} kB at 5 s, ${rss_end} kB at the end" \
		"($(awk -v a="$rss5" -v b="$rss_end" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'))"
fi

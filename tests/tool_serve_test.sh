#!/usr/bin/env bash
# mlp serve on a free port, with curl: every endpoint of the Open Inference
# Protocol answers as the protocol says, the outputs are mlp run's on the
# same rows (the model's scaling applied), each kind of bad request is
# refused with its status and a message, a slow client holds no one up, a
# full queue is 503, the metrics count it all, and SIGTERM stops it with a
# request in flight answered.
#
# With the failure-injecting shim (tests/fail_inject.c), the library's
# failures in a request are answered 500, and the server goes on.
#
#   tests/tool_serve_test.sh path/to/mlp [path/to/libfail_inject.so]
set -u
mlp=$(readlink -f "${1:?usage: tool_serve_test.sh path/to/mlp [libfail_inject.so]}")
shim=${2:+$(readlink -f "$2")}
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
failures=0
cd "$dir" || exit 1

if ! "$mlp" serve --port 0 none.st 2>&1 | grep -qv "no HTTP server"; then
	echo "SKIP: this build of mlp has no HTTP server (libmicrohttpd)"; exit 77
fi
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
unset MLP_WISDOM
export XDG_CACHE_HOME="$dir/cache"

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# start NAME ARGS...: mlp serve ARGS on a free port, in the background; its
# pid in $pid, its port in $port, its standard error in NAME.err.
start() {
	local name=$1
	shift
	"$mlp" serve --port 0 "$@" 2>"$name.err" &
	pid=$!
	pids+=("$pid")
	port=
	for _ in $(seq 200); do
		port=$(sed -n 's/^mlp: serve: listening on http:\/\/[^ ]*:\([0-9]*\)\/v2 .*/\1/p' "$name.err")
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "serve $*: not listening"; cat "$name.err"; exit 1
}

# http METHOD PATH [BODY-FILE]: the status in $code, the body in body.txt,
# the headers in head.txt
http() {
	local args=(-s -o body.txt -D head.txt -w '%{http_code}' -X "$1"
		"http://127.0.0.1:$port$2")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "@$3")
	code=$(curl "${args[@]}")
}

expect() { # CODE WHAT METHOD PATH [BODY-FILE]
	local want=$1 what=$2
	shift 2
	http "$@"
	[ "$code" = "$want" ] || { fail "$what: HTTP $code, wanted $want: $(cat body.txt)"; }
}

has() { # TEXT WHAT: body.txt holds TEXT
	grep -qF -- "$1" body.txt || fail "$2: '$1' not in $(head -c 400 body.txt)"
}

# ---- two models: XOR (2 -> 2, softmax) and a regression with scaling
printf '0,0,0\n0,1,1\n1,0,1\n1,1,0\n' > xor.csv
"$mlp" train --sizes 2,8,2 --act tanh,softmax --loss xent --epochs 50 \
	--out xor.safetensors xor.csv 2>/dev/null || fail "train xor"
awk 'BEGIN { srand(5); for (i = 0; i < 200; i++) { x = rand() * 2000 - 1000;
	y = rand() * 10; printf "%.3f,%.4f,%.4f\n", x, y, 0.003 * x + y } }' > reg.csv
"$mlp" train --sizes 2,8,1 --act tanh,identity --epochs 20 --standardize \
	--out reg.st reg.csv 2>/dev/null || fail "train reg"

start main xor.safetensors reg.st
grep -q "with xor (2 -> 2), reg (2 -> 1)" main.err || fail "the models named: $(cat main.err)"

# ---- health, metadata, readiness
expect 200 "live" GET /v2/health/live
expect 200 "ready" GET /v2/health/ready
expect 200 "server metadata" GET /v2
has '"name":"mlp"' "server metadata"
expect 200 "model metadata" GET /v2/models/xor
has '"inputs":[{"name":"input","datatype":"FP32","shape":[-1,2]}]' "input metadata"
has '"outputs":[{"name":"output","datatype":"FP32","shape":[-1,2]}]' "output metadata"
expect 200 "model metadata, version 1" GET /v2/models/reg/versions/1
has '"shape":[-1,1]' "reg's output width"
expect 200 "model ready" GET /v2/models/xor/ready
expect 404 "an unknown model" GET /v2/models/nope/ready
has "no model 'nope': this server has xor, reg" "unknown model's message"
expect 404 "an unknown version" GET /v2/models/xor/versions/7
expect 404 "an unknown endpoint" GET /v3/health
has '"error":' "errors are JSON"
expect 405 "GET on infer" GET /v2/models/xor/infer
grep -qi '^Allow: POST' head.txt || fail "405 says Allow: POST: $(cat head.txt)"

# ---- inference: the outputs are mlp run's, for both models
rows_json() { # FILE: its rows as a JSON array of arrays
	awk 'BEGIN { printf "[" } { printf "%s[%s]", (NR > 1 ? "," : ""), $0 }
	     END { printf "]" }' "$1"
}
same() { # WHAT WANT-FILE: the data of body.txt against mlp run's CSV
	{ tr -d '\n' < body.txt | sed 's/.*"data":\[\([^]]*\)\].*/\1/' | tr ',' '\n'; echo; } > got.txt
	tr ',' '\n' < "$2" > want.txt
	if [ "$(wc -l < got.txt)" != "$(wc -l < want.txt)" ] ||
		! paste -d' ' got.txt want.txt | awk '{ d = $1 - $2; if (d < 0) d = -d;
			a = $2 < 0 ? -$2 : $2; if (d > 1e-5 * (a > 1 ? a : 1)) exit 1 }'; then
		fail "$1: served $(tr '\n' ' ' < got.txt), mlp run $(tr '\n' ' ' < want.txt)"
	fi
}
printf '0,0\n0,1\n1,0\n1,1\n' > xor_in.csv
"$mlp" run xor.safetensors xor_in.csv > xor_run.csv 2>/dev/null
printf '{"id":"r-1","inputs":[{"name":"input","shape":[4,2],"datatype":"FP32","data":%s}]}' \
	"$(rows_json xor_in.csv)" > xor_req.json
expect 200 "infer xor" POST /v2/models/xor/infer xor_req.json
has '"model_name":"xor"' "the answer names the model"
has '"id":"r-1"' "the answer carries the request's id"
has '"outputs":[{"name":"output","datatype":"FP32","shape":[4,2],"data":[' "the output tensor"
same "xor" xor_run.csv
cut -d, -f1,2 reg.csv | head -5 > reg_in.csv
"$mlp" run reg.st reg_in.csv > reg_run.csv 2>/dev/null
printf '{"inputs":[{"name":"input","shape":[5,2],"datatype":"FP32","data":[%s]}],"outputs":[{"name":"output"}]}' \
	"$(tr '\n' ',' < reg_in.csv | sed 's/,$//')" > reg_req.json
expect 200 "infer reg (flat data, scaled inputs)" POST /v2/models/reg/versions/1/infer reg_req.json
same "reg, scaled as mlp run scales" reg_run.csv
# ---- a quantised model is served in int8, as mlp run runs it
"$mlp" quantize xor.safetensors xor_in.csv --out xorq.st >/dev/null 2>&1 ||
	fail "quantize xor"
"$mlp" run xorq.st xor_in.csv > xorq_run.csv 2>/dev/null
main_port=$port main_pid=$pid
start q xorq.st
expect 200 "infer xorq" POST /v2/models/xorq/infer xor_req.json
same "xorq, in int8 as mlp run" xorq_run.csv
kill "$pid"
wait "$pid" 2>/dev/null
port=$main_port pid=$main_pid
printf '{"inputs":[{"name":"input","shape":[2],"datatype":"FP32","data":[1,0]}]}' > one.json
expect 200 "a row as shape [N]" POST /v2/models/xor/infer one.json
has '"shape":[1,2]' "one row"

# ---- bad requests: 400 and what is wrong
bad() { # WHAT BODY TEXT
	printf '%s' "$2" > bad.json
	expect 400 "$1" POST /v2/models/xor/infer bad.json
	has "$3" "$1"
	has '{"error":"' "$1: JSON"
}
bad "malformed JSON" '{"inputs":[{"name":"input",' "malformed JSON"
bad "not JSON" 'hello' "malformed JSON"
bad "no inputs" '{}' "no input tensor"
bad "a wrong width" '{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}' \
	"the input's rows have 3 values: the model takes 2"
bad "shape against data" '{"inputs":[{"name":"input","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]}' \
	"data holds 3 values: shape [2, 2] needs 4"
bad "a wrong datatype" '{"inputs":[{"name":"input","shape":[1,2],"datatype":"INT64","data":[1,2]}]}' \
	"datatype 'INT64': the model takes FP32"
bad "a wrong input name" '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}' \
	"input 'x' is not the model's"
bad "NaN" '{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[NaN,2]}]}' \
	"not a finite number"
bad "a value past FP32" '{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[1e39,2]}]}' \
	"beyond the range of FP32"
bad "a string as data" '{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":["1",2]}]}' \
	"data value 1 is not a number"
bad "too many rows" "{\"inputs\":[{\"name\":\"input\",\"shape\":[65,2],\"datatype\":\"FP32\",\"data\":[$(seq -s, 130)]}]}" \
	"more than 128 values"
expect 400 "no body" POST /v2/models/xor/infer /dev/null
has "no body" "no body"
expect 404 "infer on an unknown model" POST /v2/models/nope/infer xor_req.json

# ---- a client that sends half a request holds no one else up
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v2/models/xor/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"inp' >&3
t0=$(date +%s%N)
expect 200 "infer beside a stalled client" POST /v2/models/xor/infer xor_req.json
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] || fail "a stalled client held up another: $(( (t1 - t0) / 1000000 )) ms"
exec 3>&-

# ---- metrics: what was asked, counted
expect 200 "metrics" GET /metrics
grep -qi '^Content-Type: text/plain; version=0.0.4' head.txt || fail "metrics' content type"
has 'mlp_infer_requests_total{model="xor",code="200"} 3' "xor's answers counted"
has 'mlp_infer_requests_total{model="xor",code="400"} 12' "xor's refusals counted"
has 'mlp_infer_requests_total{model="reg",code="200"} 1' "reg's answers counted"
has 'mlp_infer_rows_total{model="xor"} 9' "rows counted"
has 'mlp_batch_rows_count{model="xor"} ' "batch sizes"
has 'mlp_infer_request_duration_seconds_bucket{model="xor",le="+Inf"} 16' "latency histogram"
has '# TYPE mlp_http_requests_total counter' "metric types"

# ---- options refused
"$mlp" serve --port 70000 xor.safetensors 2>err.txt; [ $? = 2 ] || fail "--port 70000 not refused"
"$mlp" serve --port 0 --max-batch 8 --queue-rows 4 xor.safetensors 2>err.txt
[ $? = 2 ] && grep -q "queue-rows 4: below --max-batch (8)" err.txt || fail "queue below batch: $(cat err.txt)"
cp xor.safetensors xor.st
"$mlp" serve --port 0 xor.safetensors xor.st 2>err.txt
[ $? = 2 ] && grep -q "are both model 'xor'" err.txt || fail "two models of one name: $(cat err.txt)"
"$mlp" serve --port 0 missing.st 2>err.txt; [ $? = 1 ] || fail "a missing model: exit $?"

# ---- a body over --max-body: 400, and the server goes on
kill -TERM "$pid"; wait "$pid" || fail "serve did not exit 0 on SIGTERM"
start small --max-body 256 xor.safetensors
head -c 1000 /dev/zero | tr '\0' ' ' > big.json
expect 400 "a body over --max-body" POST /v2/models/xor/infer big.json
has "larger than --max-body, 256 bytes" "the limit named"
expect 200 "the next request" POST /v2/models/xor/infer one.json
kill -TERM "$pid"; wait "$pid" || fail "serve did not exit 0 on SIGTERM"

# ---- a full queue: 503 with Retry-After; SIGTERM with a request in flight
# answers it, takes no new connection, and exits 0
start queue --max-batch 4 --queue-rows 4 --max-delay-us 3000000 xor.safetensors
printf '{"inputs":[{"name":"input","shape":[3,2],"datatype":"FP32","data":[0,0,0,1,1,0]}]}' > three.json
curl -s -o inflight.txt -w '%{http_code}' -X POST --data-binary @three.json \
	"http://127.0.0.1:$port/v2/models/xor/infer" > inflight_code.txt &
waiting=$!
sleep 1 # the 3 rows are queued, waiting for company
printf '{"inputs":[{"name":"input","shape":[2,2],"datatype":"FP32","data":[0,0,1,1]}]}' > two.json
expect 503 "a full queue" POST /v2/models/xor/infer two.json
grep -qi '^Retry-After: 1' head.txt || fail "503 says Retry-After: $(cat head.txt)"
has "queue of model 'xor' is full" "503's message"
kill -TERM "$pid"
sleep 0.3
curl -s -m 2 "http://127.0.0.1:$port/v2/health/live" >/dev/null && fail "a new connection taken after SIGTERM"
wait "$waiting"
[ "$(cat inflight_code.txt)" = 200 ] || fail "the request in flight: HTTP $(cat inflight_code.txt) $(cat inflight.txt)"
grep -q '"shape":\[3,2\]' inflight.txt || fail "the request in flight's outputs: $(cat inflight.txt)"
wait "$pid" || fail "serve did not exit 0 on SIGTERM with a request in flight"
grep -q "mlp: serve: stopped" queue.err || fail "serve says it stopped: $(cat queue.err)"

# ---- the library failing in a request: 500 and the reason; then on
if [ -n "$shim" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	for f in mlp_batcher_submit mlp_net_scale_inputs mlp_net_unscale_outputs; do
		MLP_FAIL=$f LD_PRELOAD=$shim start "inject_$f" xor.safetensors
		expect 500 "$f failing" POST /v2/models/xor/infer xor_req.json
		has "out of memory" "$f failing: the reason"
		expect 200 "after $f failed" POST /v2/models/xor/infer xor_req.json
		kill -TERM "$pid"; wait "$pid" || fail "serve did not exit 0 after $f failed"
	done
	MLP_FAIL=mlp_batcher_stats LD_PRELOAD=$shim start inject_stats xor.safetensors
	expect 200 "metrics, mlp_batcher_stats failing" GET /metrics
	has 'mlp_infer_rows_total{model="xor"} 0' "the other metrics"
	kill -TERM "$pid"; wait "$pid" || fail "serve did not exit 0"
fi

[ "$failures" = 0 ] && echo "all serve checks passed"
exit $((failures > 0))

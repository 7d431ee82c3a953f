#!/usr/bin/env bash
# run.sh -- `make bench`: what tracing costs a client, as ratios measured in one run (no pass/fail).
# Runs the same python3 client loop (N calls over one keep-alive connection, and N
# calls on fresh connections) against the e2e server, first untraced, then with
# `llmtap run`; prints per-call times, their ratio, and the tracer's CPU per call.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_CALLS:-300}
LLMTAP=${LLMTAP:-build/llmtap}
tmp=$(mktemp -d /tmp/llmtap-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 1 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
node tests/e2e/server.js 0 "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/server.log" 2>&1 &
for _ in $(seq 100); do grep -q listening "$tmp/server.log" && break; sleep 0.05; done
port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/server.log" | head -1)

# client MODE: prints seconds per call for N calls (MODE keepalive | fresh)
client() {
	python3 - "$port" "$tmp/cert.pem" "$N" "$1" <<'PY'
import http.client, json, ssl, sys, time
port, cafile, n, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
hdr = {"content-type": "application/json", "authorization": "Bearer sk-bench", "x-test-delay-ms": "0"}
conn = None
t0 = time.perf_counter()
for i in range(n):
    if conn is None or mode == "fresh":
        conn = http.client.HTTPSConnection("localhost", port, context=ctx)
    conn.request("POST", "/v1/chat/completions", body, hdr)
    conn.getresponse().read()
    if mode == "fresh":
        conn.close()
print((time.perf_counter() - t0) / n)
PY
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A base traced
for mode in keepalive fresh; do base[$mode]=$(client $mode); done
"$LLMTAP" run --db "$tmp/bench.db" 2>"$tmp/tracer.log" &
tracer=$!
for _ in $(seq 200); do grep -q '^ready' "$tmp/tracer.log" && break; sleep 0.05; done
c0=$(cpu_ticks $tracer)
for mode in keepalive fresh; do traced[$mode]=$(client $mode); done
c1=$(cpu_ticks $tracer)
kill -INT $tracer
wait $tracer || true
rows=$(sqlite3 "$tmp/bench.db" 'select count(*) from llm_calls')
hz=$(getconf CLK_TCK)
for mode in keepalive fresh; do
	awk -v m=$mode -v b=${base[$mode]} -v t=${traced[$mode]} 'BEGIN {
		printf "bench: %-9s untraced %.3f ms/call, traced %.3f ms/call, ratio %.2f\n", m, b*1000, t*1000, t/b }'
done
awk -v c=$((c1 - c0)) -v hz=$hz -v n=$((2 * N)) -v r=$rows 'BEGIN {
	printf "bench: tracer CPU %.1f us per call (%d calls, %d rows)\n", c / hz * 1e6 / n, n, r }'

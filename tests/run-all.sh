#!/usr/bin/env bash
# run-all.sh -- runs every suite of `make test` and prints the summed "N passed, N failed" line.
# Each suite prints its own "name: N passed, N failed" lines; a suite that exits
# non-zero without a failure count counts as one failure, so a crash is never green.
set -u
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0

# run_suite NAME CMD...: run a suite, echo its output, add up its counts.
run_suite() {
	local name=$1 out rc p f
	shift
	echo "== $name"
	out=$(mktemp)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	p=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$out" | awk '{s+=$1} END {print s+0}')
	f=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$out" | awk '{s+=$3} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name: exited $rc without a failure count"
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	rm -f "$out"
}

run_suite unit make --no-print-directory unit
run_suite fuzz make --no-print-directory fuzz-smoke
run_suite bench-build tests/bench/build-check.sh
# The e2e clients twice: with llmtap's probe placement and uprobe_multi links,
# then with the probes forced onto the exported entries as perf-event links
# (what a kernel before 6.6 gets); every row's bytes must be the same.
placed=$(mktemp /tmp/llmtap-placed.XXXXXX)
run_suite e2e python3 tests/e2e/run.py --record "$placed"
run_suite e2e-exported python3 tests/e2e/run.py --placement exported --links perf --compare "$placed"
rm -f "$placed"
run_suite robust python3 tests/e2e/robust.py
run_suite proc python3 tests/e2e/proc_test.py
run_suite latency python3 tests/e2e/latency_test.py
run_suite dns python3 tests/e2e/dns_test.py
run_suite push python3 tests/e2e/push_test.py
run_suite listen python3 tests/e2e/listen_test.py
run_suite ux python3 tests/e2e/ux_test.py
run_suite host python3 tests/e2e/host_test.py
run_suite ingest python3 tests/e2e/ingest_test.py
run_suite runs python3 tests/e2e/runs_test.py
run_suite agents python3 tests/e2e/agents_test.py
run_suite cover python3 tests/e2e/cover_test.py
run_suite hardening python3 tests/e2e/hardening_test.py
run_suite stacks python3 tests/e2e/stacks_test.py

echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

#!/usr/bin/env bash
# run-unit.sh -- runs each unit-test binary given; each prints "test_x: N passed, N failed".
set -u
rc=0
for t in "$@"; do
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$t" || rc=1
done
exit $rc

#!/usr/bin/env bash
# build-check.sh -- `make test`'s cheap check that the bench still builds: each workload program compiles, bench.py parses.
cd "$(dirname "$0")/../.."
pass=0
fail=0
for src in tests/bench/*.c; do
	prog=build/bench/$(basename "$src" .c)
	if make --no-print-directory "$prog" >/dev/null; then
		pass=$((pass + 1))
	else
		echo "FAIL bench-build: $src does not compile"
		fail=$((fail + 1))
	fi
done
for py in tests/bench/*.py; do
	if python3 -m py_compile "$py"; then
		pass=$((pass + 1))
	else
		echo "FAIL bench-build: $py does not parse"
		fail=$((fail + 1))
	fi
done
if node --check tests/bench/sdk_stream.mjs; then
	pass=$((pass + 1))
else
	echo "FAIL bench-build: tests/bench/sdk_stream.mjs does not parse"
	fail=$((fail + 1))
fi
echo "bench-build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

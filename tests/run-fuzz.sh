#!/usr/bin/env bash
# run-fuzz.sh SECONDS FUZZER... -- a libFuzzer pass of SECONDS per harness, crash inputs kept; one check per harness.
set -u
secs=$1
shift
pass=0
fail=0
for f in "$@"; do
	mkdir -p "$f.corpus"
	echo "fuzz: $(basename "$f") for ${secs}s"
	dict=()
	# a harness's token dictionary, when it has one, next to its source
	[ -f "tests/fuzz/$(basename "$f").dict" ] && dict=(-dict="tests/fuzz/$(basename "$f").dict")
	if "$f" -max_total_time="$secs" -artifact_prefix="$f.crash-" "${dict[@]}" "$f.corpus" >"$f.log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $f (last lines of $f.log):"
		tail -30 "$f.log"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

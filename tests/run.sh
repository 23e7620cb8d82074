#!/bin/bash
# Runs every suite: unit tests (plain and under ASan+UBSan), then the
# integration tests against real servers and clients. Each suite prints
# "PASS name" / "FAIL name" / "SKIP name (why)" lines; this script adds them
# up and ends with the one line "N passed, N failed[, N skipped]".
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
LOG=$B/test-logs
mkdir -p "$LOG"
results=$LOG/results
: >"$results"

run_suite() { # name, command...
	local name=$1 out=$LOG/$1.out rc
	shift
	printf '== %s\n' "$name"
	timeout "${SUITE_TIMEOUT:-600}" "$@" >"$out" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$out" | tee -a "$results"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
		# a crash, a timeout or a setup error is a failure even with no FAIL line
		echo "FAIL $name (exit $rc)" | tee -a "$results"
	fi
	if [ $rc -ne 0 ]; then
		echo "--- last lines of $out:"
		tail -n 25 "$out"
	fi
}

for t in "$B"/tests/*_test; do
	[ -x "$t" ] && run_suite "unit-$(basename "$t")" "$t"
done
for t in "$B"/tests-asan/*_test; do
	[ -x "$t" ] && run_suite "asan-$(basename "$t")" "$t"
done
for t in tests/fuzz/*_fuzz.c; do
	[ -f "$t" ] && run_suite "fuzz-$(basename "$t" .c)" tests/fuzz/run.sh --short "$(basename "$t" .c)"
done
for t in tests/integration/test_*.sh; do
	[ -f "$t" ] && run_suite "int-$(basename "$t" .sh)" bash "$t"
done

passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")
skipped=$(grep -c '^SKIP ' "$results")
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

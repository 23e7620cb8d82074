#!/bin/bash
# Runs every suite: unit tests (plain and under ASan+UBSan), fuzz targets,
# the integration tests against real servers and clients, then the nginx
# test again against the daemons built with ASan+UBSan. TESTS_ONLY=asan
# runs only the sanitizer suites (`make test-asan`). Each suite prints
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

# The daemons under ASan+UBSan ($B/asan, `make asan-build`) through the nginx
# test: a sanitizer report fails it even when every check passed (leaks are
# only reported at exit, after the checks).
asan_daemons() {
	local rep=$LOG/sanitizer bin
	[ -x "$B/asan/sluice-processor" ] && [ -x "$B/asan/sluice-loader" ] || return 0
	bin=$(cd "$B/asan" && pwd)
	rm -rf "$rep" && mkdir -p "$rep"
	run_suite asan-int-test_nginx env SLUICE_BIN_DIR="$bin" SUITE=asan.test_nginx \
		ASAN_OPTIONS="log_path=$rep/asan" \
		UBSAN_OPTIONS="log_path=$rep/ubsan:print_stacktrace=1" \
		bash tests/integration/test_nginx.sh
	if ls "$rep"/* >/dev/null 2>&1; then
		echo "FAIL asan.daemons (sanitizer reports in $rep)" | tee -a "$results"
		head -n 60 "$rep"/*
	else
		echo "PASS asan.daemons (no sanitizer report)" | tee -a "$results"
	fi
}

all=1
[ "${TESTS_ONLY:-}" = asan ] && all=
for t in "$B"/tests/*_test; do
	[ -n "$all" ] && [ -x "$t" ] && run_suite "unit-$(basename "$t")" "$t"
done
for t in "$B"/tests-asan/*_test; do
	[ -x "$t" ] && run_suite "asan-$(basename "$t")" "$t"
done
for t in tests/fuzz/*_fuzz.c; do
	[ -n "$all" ] && [ -f "$t" ] && run_suite "fuzz-$(basename "$t" .c)" bash tests/fuzz/run.sh --short "$(basename "$t" .c)"
done
for t in tests/integration/test_*.sh; do
	[ -n "$all" ] && [ -f "$t" ] && run_suite "int-$(basename "$t" .sh)" bash "$t"
done
asan_daemons

passed=$(grep -c '^PASS ' "$results")
failed=$(grep -c '^FAIL ' "$results")
skipped=$(grep -c '^SKIP ' "$results")
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

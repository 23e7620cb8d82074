#!/bin/bash
# Builds and runs the libFuzzer targets tests/fuzz/<name>_fuzz.c, each over a
# copy of its seed corpus tests/fuzz/corpus/<name>/. `make fuzz` runs every
# target for FUZZ_SECONDS (default 60); `make test` runs them with --short
# (replays the committed corpus, then fuzzes FUZZ_SHORT_SECONDS, default 10),
# so a regression on a known input fails CI.
#   tests/fuzz/run.sh [--short] [name_fuzz ...]
set -u
cd "$(dirname "$0")/../.." || exit 1
TOPB=${B:-build}
B=$TOPB/fuzz
mkdir -p "$B"
# processor/store.c includes the generated schema header
make -s B="$TOPB" "$TOPB/schema_sql.h" || exit 1
secs=${FUZZ_SECONDS:-60}
if [ "${1:-}" = --short ]; then
	secs=${FUZZ_SHORT_SECONDS:-10}
	shift
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && for f in tests/fuzz/*_fuzz.c; do targets+=("$(basename "$f" .c)"); done

# What each target links besides itself: every processor source the parsers
# live in (the linker drops what a target does not use).
SRCS=$(ls processor/*.c common/log.c common/wire.c tests/tools/wire_pack.c tests/tools/wire_v3.c | grep -v -e processor/main.c -e processor/sluicectl.c -e processor/service.c)
fails=0
for t in "${targets[@]}"; do
	name=${t%_fuzz}
	bin=$B/$t
	if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I. -I"$TOPB" -D_GNU_SOURCE "tests/fuzz/$t.c" $SRCS -o "$bin" -lmsgpackc -lsqlite3 -lmicrohttpd -lcurl -lcares -lpthread -lm 2>"$bin.build.log"; then
		cat "$bin.build.log"
		echo "FAIL fuzz.$name (build)"
		fails=$((fails + 1))
		continue
	fi
	work=$B/corpus-$name
	mkdir -p "$work"
	cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$B/$name-" "$work" >"$bin.log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$bin.log" | grep -o '[0-9]*$')
		echo "PASS fuzz.$name ($execs execs in ${secs}s, 0 crashes)"
	else
		tail -n 30 "$bin.log"
		echo "FAIL fuzz.$name (see $bin.log and $B/$name-*)"
		fails=$((fails + 1))
	fi
done
[ $fails -eq 0 ]

# Helpers for the loader's integration tests, sourced after
# tests/integration/lib.sh (its cgroup, nginx, cleanup and PASS/FAIL lines):
# a loader with this test's pin dir, wire-dump as the consumer, our own link
# count, and what reached the consumer compared with nginx's access log.
TOOLS=$TOP/tests/tools

# Starts a loader on $SOCK tracing $CG, pinned under $PIN. Extra args go to it.
start_loader() {
	SOCK=$T/loader.sock
	"$B/sluice-loader" --socket "$SOCK" --cgroup "$CG" --pin-dir "$PIN" "$@" \
		>>"$T/loader.log" 2>&1 &
	LOADER_PID=$!
	PIDS+=($!)
	wait_for 20 test -S "$SOCK" || { cat "$T/loader.log"; echo "loader did not start" >&2; exit 1; }
	wait_for 20 sh -c "grep -c 'capturing up to' '$T/loader.log' | grep -qx '$((++LOADERS_STARTED))'" ||
		{ cat "$T/loader.log"; echo "loader did not finish set-up" >&2; exit 1; }
}
LOADERS_STARTED=0

stop_loader() { # signal (default TERM)
	kill -"${1:-TERM}" "$LOADER_PID"
	wait "$LOADER_PID" 2>/dev/null
}

# wire-dump, standing in for the processor: prints every frame it gets.
start_dump() {
	"$B/wire-dump" -s "$SOCK" -b 96 "$@" >>"$T/dump.txt" 2>>"$T/dump.err" &
	DUMP_PID=$!
	PIDS+=($!)
}

# Links attached right now whose program uses this test's pinned ring
# buffer: the loader's links, wherever pinned, duplicates included.
our_links() {
	python3 "$TOOLS/loader_links.py" "$PIN"
}

# The request URIs under prefix that nginx read, as delivered to wire-dump
# (frames resent after a reconnect are counted once). Prints "unique dup".
seen_uris() { # prefix [file]
	python3 "$TOOLS/dump_uris.py" "$1" "${2:-$T/dump.txt}"
}

# Compares the URIs in the access log with what reached the consumer.
check_delivered() { # name prefix
	local n got
	n=$(log_count "$2")
	wait_for 20 sh -c "python3 '$TOOLS/dump_uris.py' '$2' '$T/dump.txt' | awk '{exit !(\$1 >= $n)}'"
	got=$(seen_uris "$2")
	if [ "$got" = "$n 0" ]; then
		pass "$1"
	else
		fail "$1" "access log has $n requests under $2; delivered (unique dup): $got"
	fi
}

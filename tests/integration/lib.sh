# Shared set-up for integration tests: a private cgroup (so the loader only
# traces this test's processes), a loader + processor pair on a private
# socket, nginx on a free loopback port with its own access log, and result
# lines in the format tests/run.sh adds up. Everything started is stopped on
# exit, whatever happened.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$TOP/${B:-build}
# the daemons: SLUICE_BIN_DIR runs the tests against other builds of them
# (tests/run.sh: $B/asan, under AddressSanitizer + UndefinedBehaviorSanitizer)
BIN=${SLUICE_BIN_DIR:-$B}
T=$(mktemp -d /tmp/sluice-test.XXXXXX)
chmod 0755 "$T" # servers drop to an unprivileged user and must read it
SUITE=${SUITE:-$(basename "$0" .sh)}
PIDS=()
PIN=/sys/fs/bpf/sluice-test-$$ # this test's pinned probes (--pin-dir)
CG=""
FAILS=0

pass() { echo "PASS $SUITE.$1"; }
fail() { echo "FAIL $SUITE.$1${2:+: $2}"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP $SUITE.$1 ($2)"; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	[ -f "$T/nginx.pid" ] && kill -TERM "$(cat "$T/nginx.pid")" 2>/dev/null
	# the loader keeps its probes pinned when it stops: remove them
	[ -d "$PIN" ] && "$BIN/sluice-loader" --unload --pin-dir "$PIN" >/dev/null 2>&1
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		# anything still in the cgroup goes, then the cgroup itself, once
		# the last of them has finished exiting (a fixed 0.2 s was not
		# always enough: empty sluice-test-* cgroups were left behind)
		for _ in $(seq 50); do
			for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
			rmdir "$CG" 2>/dev/null && break
			sleep 0.1
		done
		[ -d "$CG" ] && echo "warning: could not remove $CG" >&2
	fi
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

cgroup2_root() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup
	elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then echo /sys/fs/cgroup/unified
	else return 1
	fi
}

make_cgroup() {
	local root
	root=$(cgroup2_root) || { echo "no cgroup v2 hierarchy mounted" >&2; exit 1; }
	CG=$root/sluice-test-$$-$RANDOM
	mkdir "$CG" || exit 1
}

# Runs a command inside the test cgroup (the shell moves itself in first).
in_cg() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# One value (or rows) from the test's sqlite file $DB, with the sqlite3 CLI
# (names_lib.sh replaces it with a read-only python reader).
q() { sqlite3 -batch -noheader "$DB" "$1" 2>&1; }

# Polls (10 Hz) until the query's value compares true to want: wait_q secs op want sql
wait_q() {
	local i
	for i in $(seq $(($1 * 10))); do
		[ "$(q "$4")" "$2" "$3" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

wait_for() { # seconds, command...: polls until the command succeeds
	local secs=$1 i
	shift
	for i in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# Starts loader and processor; pairs go to $T/pairs.jsonl. Arguments go to
# the loader, the array PROC_ARGS (if set) to the processor.
start_sluice() {
	SOCK=$T/loader.sock
	"$BIN/sluice-loader" --socket "$SOCK" --cgroup "$CG" --pin-dir "$PIN" "$@" >"$T/loader.log" 2>&1 &
	PIDS+=($!)
	LOADER_PID=$!
	wait_for 20 test -S "$SOCK" || { cat "$T/loader.log"; echo "loader did not start" >&2; exit 1; }
	start_processor ${PROC_ARGS[@]+"${PROC_ARGS[@]}"}
	wait_for 10 grep -q "processor connected" "$T/loader.log" ||
		{ cat "$T/loader.log" "$T/processor.log"; echo "processor did not connect" >&2; exit 1; }
}

# The metadata store is $T/meta.db: tests never touch the host's /var/lib/sluice.
start_processor() {
	"$BIN/sluice-processor" --socket "$SOCK" --jsonl "$T/pairs.jsonl" --quiet \
		--status "$T/status.json" --state "$T/processor.state" --db "$T/meta.db" "$@" \
		>>"$T/processor.log" 2>&1 &
	PROC_PID=$!
	PIDS+=($!)
}

# nginx on 127.0.0.1:$PORT, serving $T/www, logging "METHOD URI STATUS" lines.
start_nginx() {
	PORT=$(free_port)
	mkdir -p "$T/www" "$T/nginx-tmp"
	echo "hello from sluice test" >"$T/www/index.html"
	cat >"$T/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $T/nginx-tmp;
	proxy_temp_path $T/nginx-tmp;
	fastcgi_temp_path $T/nginx-tmp;
	uwsgi_temp_path $T/nginx-tmp;
	scgi_temp_path $T/nginx-tmp;
	log_format oracle '\$request_method \$request_uri \$status';
	sendfile on;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$PORT;
		root $T/www;
		access_log $T/access.log oracle;
		location = /post { return 201 "created\n"; }
		location = /empty { return 204; }
	}
}
CONF
	in_cg /usr/sbin/nginx -c "$T/nginx.conf" -e "$T/nginx-error.log" ||
		{ cat "$T/nginx-error.log"; exit 1; }
	# /ready is not under any test's prefix, so this probe never counts
	wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PORT/ready" ||
		{ echo "nginx did not answer" >&2; exit 1; }
}

# Waits until the processor has written at least n pairs with the given
# server port and kind (server|client).
wait_pairs() { # n port kind [secs]
	wait_for "${4:-10}" python3 "$TOP/tests/integration/pairs.py" count "$T/pairs.jsonl" "$2" "$3" "$1"
}

# Lines of the access log whose URI starts with prefix.
log_count() { # prefix [log]
	awk -v p="$1" 'index($2, p) == 1' "${2:-$T/access.log}" | wc -l
}

# Compares the processor's pairs against the server's access log: the same
# multiset of "METHOD URI STATUS" lines, for one side (server|client), for
# URIs under prefix. Waits first until as many pairs as log lines are there.
check_oracle() { # name kind prefix [log] [port] [cut]
	local log=${4:-$T/access.log} port=${5:-$PORT} cut=${6:-0} n
	n=$(log_count "$3" "$log")
	PREFIX=$3 wait_pairs "$n" "$port" "$2" 10
	if PREFIX=$3 python3 "$TOP/tests/integration/pairs.py" oracle "$T/pairs.jsonl" "$port" \
		"$2" "$log" "$cut" >"$T/diff.txt" 2>&1; then
		pass "$1"
	else
		fail "$1" "$(head -c 1500 "$T/diff.txt")"
	fi
}

finish() {
	exit $((FAILS > 0))
}

#!/bin/bash
# `make bench`: what sluice costs the applications it watches and how much it
# carries, measured side by side in one run on this machine. Machines are
# noisy, so configurations are interleaved (A B C A B C ...) and the table
# shows medians and ratios of runs made next to each other, not lone times.
#   1. overhead: nginx on loopback driven by wrk (keep-alive, then
#      Connection: close) with nothing attached, with sluice (loader +
#      processor, full capture and pairing, JSON lines to a file), with
#      empty programs on the same hooks (the floor: what the hooks cost
#      before a program does anything, tests/bench/hook_floor.c), with the
#      loader alone (probes: sluice's BPF work and its loader, no processor
#      connected, so the loader spools and then drops) and with a
#      bpftrace peer doing comparable capture (tests/bench/peer.bt)
#   2. kernel cost: BPF run time per program invocation (kernel.bpf_stats)
#   3. pipeline: frame-gen (a synthetic loader) ramps its rate against the
#      real processor until the first drop or lag; the processor pipeline
#      alone on one core over a generated and a recorded stream; the HTTP
#      parser alone
#   4. real path: ring buffer -> loader -> processor under tcp-blast
#   5. memory: loader and processor RSS at 10k and 100k idle keep-alive
#      connections to nginx
# Raw numbers: $B/bench/raw.jsonl (one object per measurement) and
# $B/bench/results.json (the table's figures); the table: $B/bench/table.txt.
# Knobs: BENCH_REPS (3), BENCH_SECONDS (5), BENCH_ONLY (comma list of
# overhead,kernel,pipeline,realpath,memory), BENCH_KEEP=1 keeps the work dir.
# Everything started here is stopped on any exit, sysctls are restored.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
B=$TOP/${B:-build}
OUT=$B/bench
RAW=$OUT/raw.jsonl
REPS=${BENCH_REPS:-3}
SECS=${BENCH_SECONDS:-5}
ONLY=,${BENCH_ONLY:-overhead,kernel,pipeline,realpath,memory},
WRK_CONNS=50
T=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 0755 "$T"
PIDS=()
SLUICE_DEAD=""
NGINX_PIDFILES=()
SYSCTLS=()
CG=""
HZ=$(getconf CLK_TCK)

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
want() { [[ $ONLY == *",$1,"* ]]; }

# ---- cleanup: whatever happened, nothing stays behind ----

stop_pid() { # pid [signal]: TERM (or signal), up to 8 s, then KILL
	local p=$1 i
	kill -"${2:-TERM}" "$p" 2>/dev/null || return 0
	for i in $(seq 80); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

cleanup() {
	local p f s
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	for f in "${NGINX_PIDFILES[@]}"; do
		[ -f "$f" ] && stop_pid "$(cat "$f")" QUIT
	done
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		sleep 0.3
		rmdir "$CG" 2>/dev/null || log "could not remove cgroup $CG"
	fi
	for s in "${SYSCTLS[@]}"; do sysctl -qw "$s" >/dev/null 2>&1; done
	if [ -n "${BENCH_KEEP:-}" ]; then log "work dir kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sets a sysctl for the run and restores it on exit.
set_sysctl() { # name value
	SYSCTLS+=("$1=$(sysctl -n "$1")")
	sysctl -qw "$1=$2" >/dev/null
}

# ---- raw records: one JSON object per line ----

rec() { # kind key=value...: numbers stay numbers (a commit id is text even
	# when it reads as one: 4e88442 is not 4 x 10^88442)
	local s="{\"kind\":\"$1\"" kv k v
	shift
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		[[ $v =~ ^-?\.[0-9]+$ ]] && v=${v/./0.}
		if [ -z "$v" ]; then
			s+=",\"$k\":null"
		elif [ "$k" != commit ] && [[ $v =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
			s+=",\"$k\":$v"
		else
			v=${v//\\/\\\\}
			s+=",\"$k\":\"${v//\"/\\\"}\""
		fi
	done
	echo "$s}" >>"$RAW"
}

# "key=value" words of the first line of file starting with prefix.
kv_line() { # file prefix
	grep -m1 "^$2 " "$1" | cut -d' ' -f2-
}

# ---- process accounting ----

cpu_ticks() { # pid...: utime + stime of whole processes, in clock ticks
	local p t=0 v
	for p in "$@"; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

status_kb() { # pid field: a /proc/PID/status value in kB
	awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null
}

mem_fields() { # prefix pid: key=value words for rec
	local f
	for f in VmRSS VmHWM RssAnon RssFile RssShmem; do
		printf '%s_%s_kb=%s ' "$1" "$f" "$(status_kb "$2" "$f")"
	done
}

calc() { # awk expression: its value with 4 decimals
	awk "BEGIN { printf \"%.4f\", $1 }"
}

json_get() { # file python-expression-on-d
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

wait_for() { # seconds command...
	local i
	for i in $(seq $(($1 * 10))); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- set-up ----

preflight() {
	local t
	[ "$(id -u)" -eq 0 ] || die "must run as root (BPF, cgroups, sysctls)"
	[ "$(nproc)" -ge 2 ] || die "needs at least 2 CPUs (wrk and nginx are pinned apart)"
	for t in sluice-loader sluice-processor frame-gen proc-bench wire-record tcp-blast conn-hold hook-floor; do
		[ -x "$B/$t" ] || die "$B/$t missing: run 'make B=${B#$TOP/} bench'"
	done
	# bpftrace is the peer; only the benchmark needs it, so it is installed
	# here rather than by scripts/install-deps.sh for every `make test`
	if ! command -v bpftrace >/dev/null; then
		log "installing bpftrace (the peer sluice is compared with)"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bpftrace \
				>/dev/null || die "cannot install bpftrace"
	fi
	command -v wrk >/dev/null && command -v nginx >/dev/null || die "wrk and nginx needed (make deps)"
	[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	LOADER_HELP=$("$B/sluice-loader" --help 2>&1)
	PROC_HELP=$("$B/sluice-processor" --help 2>&1)
	mkdir -p "$OUT"
	: >"$RAW"
	rec meta date="$(date -u +%FT%TZ)" kernel="$(uname -r)" cpus="$(nproc)" \
		cpu="$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" reps="$REPS" \
		seconds="$SECS" wrk_conns="$WRK_CONNS" commit="$(git rev-parse --short HEAD 2>/dev/null)" \
		dirty="$(git status --porcelain -- bpf common loader processor 2>/dev/null | wc -l)" \
		bpftrace="$(bpftrace --version 2>/dev/null)" nginx="$(nginx -v 2>&1 | sed 's/.*\///')" \
		other_bpf_progs="$(bpftool prog show 2>/dev/null | grep -c '^[0-9]')" \
		other_tracepoint_links="$(bpftool link list 2>/dev/null | grep -c perf_event)" \
		loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
}

cgroup2_root() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup
	elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then echo /sys/fs/cgroup/unified
	else return 1
	fi
}

make_cgroup() {
	local root
	root=$(cgroup2_root) || die "no cgroup v2 hierarchy mounted"
	CG=$root/sluice-bench-$$
	mkdir "$CG" || die "cannot create $CG"
}

in_cg() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }

# nginx in the bench cgroup, one worker pinned to CPU 1 (wrk gets CPU 0),
# serving a 612-byte page (the size of nginx's welcome page); or with
# NGINX_WORKERS workers, unpinned, sharing the port with reuseport.
start_nginx() { # name worker_connections
	local name=$1 port conf=$T/$1.conf workers=${NGINX_WORKERS:-1} pin=10 reuse=""
	port=$(free_port)
	[ "$workers" -gt 1 ] && pin=auto reuse=" reuseport"
	mkdir -p "$T/www" "$T/$name-tmp"
	[ -f "$T/www/index.html" ] || head -c 612 /dev/zero | tr '\0' 'x' >"$T/www/index.html"
	cat >"$conf" <<CONF
worker_processes $workers;
worker_cpu_affinity $pin;
worker_rlimit_nofile $(($2 + 500));
daemon on;
pid $T/$name.pid;
error_log $T/$name-error.log;
events { worker_connections $2; }
http {
	access_log off;
	client_body_temp_path $T/$name-tmp;
	proxy_temp_path $T/$name-tmp;
	fastcgi_temp_path $T/$name-tmp;
	uwsgi_temp_path $T/$name-tmp;
	scgi_temp_path $T/$name-tmp;
	sendfile on;
	keepalive_requests 10000000;
	keepalive_timeout 600s;
	server {
		listen 127.0.0.1:$port backlog=4096$reuse;
		root $T/www;
	}
}
CONF
	NGINX_PIDFILES+=("$T/$name.pid")
	in_cg /usr/sbin/nginx -c "$conf" -e "$T/$name-error.log" || die "nginx did not start: $(cat "$T/$name-error.log")"
	wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/index.html" || die "nginx does not answer"
	NGINX_PORT=$port
}

stop_nginx() { # name
	[ -f "$T/$1.pid" ] && stop_pid "$(cat "$T/$1.pid")" QUIT
	rm -f "$T/$1.pid"
}

nginx_pids() { cat "$CG/cgroup.procs" 2>/dev/null | tr '\n' ' '; }

# ---- sluice and the peer ----

start_loader() {
	local largs=(--socket "$T/loader.sock" --cgroup "$CG")
	[[ $LOADER_HELP == *--no-pin* ]] && largs+=(--no-pin)
	SLUICE_DEAD=""
	"$B/sluice-loader" "${largs[@]}" >"$T/loader.log" 2>&1 &
	LOADER_PID=$!
	PIDS+=("$LOADER_PID")
	wait_for 30 test -S "$T/loader.sock" || die "loader did not start: $(tail -5 "$T/loader.log")"
}

start_sluice() { # extra processor args...
	local pargs=()
	[[ $PROC_HELP == *--db* ]] && pargs+=(--db "$T/meta.db")
	[[ $PROC_HELP == *--metrics-listen* ]] && pargs+=(--metrics-listen "127.0.0.1:$(free_port)")
	rm -f "$T/status.json" "$T/processor.state"* "$T/meta.db"*
	start_loader
	"$B/sluice-processor" --socket "$T/loader.sock" --jsonl "$T/pairs.jsonl" --quiet \
		--status "$T/status.json" --state "$T/processor.state" "${pargs[@]}" "$@" \
		>"$T/processor.log" 2>&1 &
	PROC_PID=$!
	PIDS+=("$PROC_PID")
	wait_for 15 grep -q "processor connected" "$T/loader.log" ||
		die "processor did not connect: $(tail -3 "$T/loader.log" "$T/processor.log")"
	wait_for 5 test -s "$T/status.json"
}

# Notes (log and SLUICE_DEAD) a loader or processor that is gone: its
# numbers are then not those of full capture, and the table says so.
check_sluice() {
	local who pid rc
	for who in loader processor; do
		pid=$LOADER_PID
		[ "$who" = processor ] && pid=$PROC_PID
		kill -0 "$pid" 2>/dev/null && continue
		[[ $SLUICE_DEAD == *"$who"* ]] && continue
		wait "$pid" 2>/dev/null
		rc=$?
		SLUICE_DEAD+="$who:exit$rc "
		log "  sluice-$who (pid $pid) is gone, exit status $rc$([ $rc -gt 128 ] && echo " (signal $((rc - 128)))"): $(tail -2 "$T/$who.log" | tr '\n' ' ')"
	done
}

# Loader first: it hands over what it holds and waits for the acks.
stop_sluice() {
	stop_pid "$LOADER_PID"
	stop_pid "$PROC_PID"
	rm -f "$T/pairs.jsonl"
}

# Every loss the pipeline counts, but not bytes beyond the capture cap
# (sendfile's are all of them): those are accounted, not lost.
LOSS_SUM='sum(v for k, v in d["loss"].items() if k != "truncated_bytes")'

proc_status() { # python expression on the status object d
	json_get "$T/status.json" "$1"
}

# Waits until the processor's pair count stops moving (status is rewritten
# every second); prints it.
settle_pairs() {
	local last=-1 cur i
	for i in $(seq 20); do
		sleep 1.2
		cur=$(proc_status 'd["pairs"]')
		[ "$cur" = "$last" ] && break
		last=$cur
	done
	echo "${cur:-0}"
}

start_peer() {
	sed -e "s|@CGROUP@|$CG|g" -e "s|@READY@|$T/peer.ready|" tests/bench/peer.bt >"$T/peer.bt"
	rm -f "$T/peer.ready"
	BPFTRACE_STRLEN=200 bpftrace --unsafe -o /dev/null "$T/peer.bt" >"$T/peer.log" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	wait_for 60 test -e "$T/peer.ready" || die "bpftrace did not attach: $(tail -5 "$T/peer.log")"
}

stop_peer() { stop_pid "$PEER_PID" INT; }

# Empty programs on every hook sluice's object uses (cgroup hooks on the
# bench cgroup, as the loader attaches them with --cgroup).
start_floor() {
	rm -f "$T/floor.ready"
	"$B/hook-floor" "$B/sluice.bpf.o" "$CG" "$T/floor.ready" >"$T/floor.log" 2>&1 &
	FLOOR_PID=$!
	PIDS+=("$FLOOR_PID")
	wait_for 15 test -s "$T/floor.ready" || die "hook-floor did not attach: $(tail -3 "$T/floor.log")"
}

stop_floor() { stop_pid "$FLOOR_PID"; }

# ---- wrk ----

# Runs wrk on CPU 0; sets RPS REQS P50 P99 ERRS (latencies in µs).
wrk_run() { # mode(ka|close) seconds
	local args=(-t1 -c"$WRK_CONNS" -d"$2"s --latency)
	[ "$1" = close ] && args+=(-H 'Connection: close')
	taskset -c 0 wrk "${args[@]}" "http://127.0.0.1:$NGINX_PORT/index.html" >"$T/wrk.out" 2>&1
	read -r RPS REQS P50 P99 ERRS < <(awk '
		function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000;
			if (v ~ /s$/) return v * 1000000; return v }
		/^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) }
		/requests in/ { n = $1 } /^Requests\/sec:/ { r = $2 }
		/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx/ { e += $NF }
		END { printf "%s %s %s %s %d\n", r, n, p50, p99, e }' "$T/wrk.out")
}

# One measured run: wrk plus CPU of nginx and of what is attached.
measure() { # rep cfg mode attached-pids...
	local rep=$1 cfg=$2 mode=$3 ng t0n t0a t1n t1a p0 p1 extra=()
	shift 3
	ng=$(nginx_pids)
	# shellcheck disable=SC2086
	t0n=$(cpu_ticks $ng)
	t0a=$(cpu_ticks "$@")
	[ "$cfg" = sluice ] && p0=$(settle_pairs)
	wrk_run "$mode" "$SECS"
	# shellcheck disable=SC2086
	t1n=$(cpu_ticks $ng)
	t1a=$(cpu_ticks "$@")
	if [ "$cfg" = sluice ]; then
		p1=$(settle_pairs)
		check_sluice
		extra=(pairs=$((p1 - p0)) loss="$(proc_status "$LOSS_SUM")" dead="$SLUICE_DEAD")
	fi
	[ "$cfg" = bpftrace ] && extra=(lost="$(grep -o 'Lost [0-9]* events' "$T/peer.log" | awk '{s+=$2} END {print s+0}')")
	rec wrk rep="$rep" cfg="$cfg" mode="$mode" rps="$RPS" requests="$REQS" p50_us="$P50" \
		p99_us="$P99" errors="$ERRS" cpu_nginx_s="$(calc "($t1n - $t0n) / $HZ")" \
		cpu_tool_s="$(calc "($t1a - $t0a) / $HZ")" "${extra[@]}"
	log "  rep $rep $cfg $mode: $RPS req/s, p50 ${P50}us p99 ${P99}us${extra:+, ${extra[*]}}"
}

# ---- 1. overhead ----

overhead_cfg() { # rep cfg
	local pids=()
	case $2 in
	sluice) start_sluice; pids=("$LOADER_PID" "$PROC_PID") ;;
	floor) start_floor; pids=("$FLOOR_PID") ;;
	probes) start_loader; pids=("$LOADER_PID") ;;
	bpftrace) start_peer; pids=("$PEER_PID") ;;
	esac
	wrk_run ka 1 # warm-up, not measured
	measure "$1" "$2" ka "${pids[@]}"
	measure "$1" "$2" close "${pids[@]}"
	case $2 in
	sluice) stop_sluice ;;
	floor) stop_floor ;;
	probes) stop_pid "$LOADER_PID" ;;
	bpftrace) stop_peer ;;
	esac
}

bench_overhead() {
	local rep cfg
	log "1. overhead: nginx <- wrk, $REPS interleaved reps of none/sluice/floor/probes/bpftrace x keep-alive/close, ${SECS}s each"
	for rep in $(seq "$REPS"); do
		for cfg in none sluice floor probes bpftrace; do
			overhead_cfg "$rep" "$cfg"
		done
	done
}

# ---- 2. kernel cost ----

prog_ids() { # pid: ids of the BPF programs the process holds
	grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un | tr '\n' ' '
}

# run_time_ns and run_cnt of the given programs, as "id name ns cnt" lines.
prog_stats() { # ids...
	bpftool prog show --json 2>/dev/null | python3 -c '
import json, sys
ids = set(int(i) for i in sys.argv[1:])
for p in json.load(sys.stdin):
    if p["id"] in ids:
        print(p["id"], p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))' "$@"
}

kernel_run() { # tool pid
	local ids mode
	# shellcheck disable=SC2207
	ids=($(prog_ids "$2"))
	[ ${#ids[@]} -gt 0 ] || { log "  no BPF programs found for $1 (pid $2)"; return; }
	wrk_run ka 1
	for mode in ka close; do
		prog_stats "${ids[@]}" >"$T/bpf0"
		wrk_run "$mode" "$SECS"
		prog_stats "${ids[@]}" >"$T/bpf1"
		join "$T/bpf0" "$T/bpf1" | while read -r id name ns0 cnt0 _ ns1 cnt1; do
			rec bpf tool="$1" mode="$mode" id="$id" prog="$name" ns=$((ns1 - ns0)) \
				cnt=$((cnt1 - cnt0)) requests="$REQS"
		done
		log "  $1 $mode: $(join "$T/bpf0" "$T/bpf1" | awk -v r="$REQS" '{ns += $6 - $3; c += $7 - $4}
			END {printf "%d programs, %.0f ns per invocation, %.2f us per request", NR, c ? ns / c : 0, r ? ns / r / 1000 : 0}')"
	done
}

bench_kernel() {
	log "2. kernel cost: kernel.bpf_stats_enabled=1 for these runs only"
	set_sysctl kernel.bpf_stats_enabled 1
	start_sluice
	kernel_run sluice "$LOADER_PID"
	stop_sluice
	start_peer
	kernel_run bpftrace "$PEER_PID"
	stop_peer
	sysctl -qw kernel.bpf_stats_enabled=0 >/dev/null
}

# ---- 3. pipeline ----

# One step of the ramp: frame-gen on CPU 0 as the loader at a fixed rate,
# a fresh processor, not pinned (after a failed step a processor is still
# digesting the damage: leaked connections make its checkpoints bigger, so
# no step inherits another's). Sets STEP_OK.
ramp_step() { # rate
	local pargs=() fg pp l c0 c1
	[[ $PROC_HELP == *--db* ]] && pargs+=(--db "$T/ramp.db")
	[[ $PROC_HELP == *--metrics-listen* ]] && pargs+=(--metrics-listen "127.0.0.1:$(free_port)")
	rm -f "$T/ramp.state"* "$T/ramp.db"* "$T/ramp-status.json"
	taskset -c 0 "$B/frame-gen" --socket "$T/fg.sock" --rate "$1" --seconds 3 \
		--wait-connect 20 >"$T/ramp.out" 2>"$T/ramp.err" &
	fg=$!
	PIDS+=("$fg")
	wait_for 10 test -S "$T/fg.sock" || die "frame-gen did not listen: $(cat "$T/ramp.err")"
	"$B/sluice-processor" --socket "$T/fg.sock" --jsonl /dev/null --quiet \
		--status "$T/ramp-status.json" --state "$T/ramp.state" "${pargs[@]}" >"$T/ramp-proc.log" 2>&1 &
	pp=$!
	PIDS+=("$pp")
	wait_for 20 grep -q '^connected' "$T/ramp.out"
	c0=$(cpu_ticks "$pp")
	wait "$fg"
	c1=$(cpu_ticks "$pp")
	sleep 1.2 # the processor's status file catches up
	l=$(kv_line "$T/ramp.out" step)
	stop_pid "$pp"
	STEP_OK=0
	[ -n "$l" ] || { log "  frame-gen failed: $(tail -3 "$T/ramp.err")"; return; }
	[[ $l == *result=pass* ]] && STEP_OK=1
	# shellcheck disable=SC2086
	rec ramp_step $l proc_pairs="$(json_get "$T/ramp-status.json" 'd["pairs"]')" \
		proc_events="$(json_get "$T/ramp-status.json" 'd["events"]')" \
		proc_bad_events="$(json_get "$T/ramp-status.json" 'd["bad_events"]')" \
		proc_live="$(json_get "$T/ramp-status.json" 'd["conns"]["live"]')" \
		proc_cpus="$(calc "($c1 - $c0) / $HZ / 3")"
	log "  $l"
	rm -f "$T/ramp.state"* "$T/ramp.db"*
}

# Rates x1.4 from 200k until the first drop or lag, then two bisections.
bench_ramp() {
	local rate=${RAMP_FROM:-200000} best=0 fail=0 i
	log "3a. pipeline ceiling: frame-gen (CPU 0) -> sluice-processor, 3 s steps until the first drop or lag"
	while [ "$rate" -le 8000000 ]; do
		ramp_step "$rate"
		[ "$STEP_OK" = 1 ] || { fail=$rate; break; }
		best=$rate
		rate=$(awk -v r="$rate" 'BEGIN { printf "%d", r * 1.4 }')
	done
	for i in 1 2; do
		[ "$fail" -gt 0 ] || break
		rate=$(awk -v a="$best" -v b="$fail" 'BEGIN { printf "%d", (a > 0 ? sqrt(a * b) : b / 2) }')
		ramp_step "$rate"
		if [ "$STEP_OK" = 1 ]; then best=$rate; else fail=$rate; fi
	done
	rec ramp max_rate="$best" first_fail="$fail"
}

# A real stream: the loader's frames while wrk drives nginx, recorded by
# wire-record standing in for the processor.
record_stream() {
	local largs=(--socket "$T/rec.sock" --cgroup "$CG") rec_pid
	[[ $LOADER_HELP == *--no-pin* ]] && largs+=(--no-pin)
	"$B/sluice-loader" "${largs[@]}" >"$T/rec-loader.log" 2>&1 &
	LOADER_PID=$!
	PIDS+=("$LOADER_PID")
	wait_for 30 test -S "$T/rec.sock" || { log "loader did not start"; return 1; }
	"$B/wire-record" "$T/rec.sock" "$T/real.frames" 2>"$T/rec.log" &
	rec_pid=$!
	PIDS+=("$rec_pid")
	wait_for 10 grep -q "processor connected" "$T/rec-loader.log"
	wrk_run ka 3
	wrk_run close 2
	stop_pid "$LOADER_PID"
	stop_pid "$rec_pid"
	log "  recorded $(cat "$T/rec.log")"
}

proc_bench() { # stream-name file
	local r
	r=$(taskset -c 1 "$B/proc-bench" "$2" 2 2>&1) || log "  proc-bench $1: $r"
	# shellcheck disable=SC2046
	[[ $r == proc_bench* ]] && rec proc_bench stream="$1" ${r#proc_bench }
	log "  $1: $r"
}

bench_pipeline() {
	local r
	bench_ramp
	log "3b. the processor pipeline alone on CPU 1 (decode, conntrack, pairing, JSON lines to /dev/null)"
	r=$("$B/frame-gen" --write "$T/synth.frames" --events 1000000 2>&1)
	rec frame_gen_write ${r#wrote }
	proc_bench synthetic "$T/synth.frames"
	rm -f "$T/synth.frames"
	if record_stream && [ -s "$T/real.frames" ]; then
		proc_bench recorded "$T/real.frames"
	fi
	rm -f "$T/real.frames"
	if [ -x "$B/http1-bench" ]; then
		r=$(taskset -c 1 "$B/http1-bench" 3000000 2>&1)
		rec http1_bench pairs_per_s="$(echo "$r" | sed -n 's/.*= \([0-9]*\) pairs\/s.*/\1/p')" \
			mb_per_s="$(echo "$r" | sed -n 's/.* \([0-9]*\) MB\/s.*/\1/p')"
		log "  http1 parser alone: $r"
	fi
}

# ---- 4. real path ----

bench_realpath() {
	local rate r ev0 ev1 l0 l1 t0 t1 kinds
	log "4. real path: tcp-blast (in the cgroup) -> ring buffer -> loader -> processor"
	start_sluice
	for rate in ${REAL_RATES:-25000 50000 100000 150000 200000 0}; do
		ev0=$(proc_status 'd["events"]')
		l0=$(proc_status "$LOSS_SUM")
		t0=$(date +%s.%N)
		r=$(in_cg "$B/tcp-blast" 2 "$rate" 4)
		t1=$(date +%s.%N)
		sleep 2.5 # a loss report (at most one per second) and a status rewrite
		ev1=$(proc_status 'd["events"]')
		l1=$(proc_status "$LOSS_SUM")
		kinds=$(proc_status '" ".join("%s:%d" % kv for kv in d["loss"].items() if kv[1] and kv[0] != "truncated_bytes")')
		# shellcheck disable=SC2046
		check_sluice
		rec realpath ${r#tcp_blast } events=$((ev1 - ev0)) dead="$SLUICE_DEAD" \
			events_per_s="$(calc "($ev1 - $ev0) / ($t1 - $t0)")" lost=$((l1 - l0)) \
			wall_s="$(calc "$t1 - $t0")" loss_totals="$kinds"
		log "  target $rate exchanges/s: ${r#tcp_blast }; processor got $((ev1 - ev0)) events, lost $((l1 - l0)) ${kinds:+(totals: $kinds)}"
	done
	stop_sluice
}

# ---- 5. memory ----

wait_live() { # n seconds: until the processor tracks at least 99% of n connections
	local i live
	for i in $(seq $(($2 * 2))); do
		live=$(proc_status 'd["conns"]["live"]')
		[ "${live:-0}" -ge $(($1 * 99 / 100)) ] && return 0
		sleep 0.5
	done
	log "  processor tracks only ${live:-?} of $1 connections"
	return 1
}

# conn-hold processes outside the cgroup (only nginx's side is traced), at
# most 18000 connections each (a hard RLIMIT_NOFILE of 20000 cannot be
# raised without CAP_SYS_RESOURCE, which containers often lack). Each uses its own
# source address, 127.0.0.(2 + HOLD_N).
hold_conns() { # n
	local n=$1 k h
	while [ "$n" -gt 0 ]; do
		k=$((n > 18000 ? 18000 : n))
		"$B/conn-hold" "$NGINX_PORT" "$k" /index.html "$HOLD_N" >"$T/hold-$HOLD_N.out" 2>&1 &
		h=$!
		PIDS+=("$h")
		HOLDERS+=("$h")
		wait_for 120 grep -q '^ready' "$T/hold-$HOLD_N.out" ||
			{ log "  conn-hold: $(cat "$T/hold-$HOLD_N.out")"; return 1; }
		HOLD_N=$((HOLD_N + 1))
		n=$((n - k))
	done
}

# Resident kB of a process's BPF map mappings (the ring buffer is mapped
# twice, back to back, so that records never wrap: 2 x --ringbuf-bytes).
bpfmap_kb() { # pid
	awk '/^[0-9a-f]+-[0-9a-f]+ / { m = ($6 ~ /bpf-map/) } /^Rss:/ && m { s += $2 } END { print s + 0 }' \
		"/proc/$1/smaps" 2>/dev/null
}

mem_record() { # conns max-conns
	local live ng=0 p
	check_sluice
	live=$(proc_status 'd["conns"]["live"]')
	for p in $(nginx_pids); do ng=$((ng + $(status_kb "$p" VmRSS))); done
	# shellcheck disable=SC2046
	rec mem conns="$1" max_conns="$2" live="$live" $(mem_fields loader "$LOADER_PID") \
		loader_bpfmap_kb="$(bpfmap_kb "$LOADER_PID")" $(mem_fields processor "$PROC_PID") \
		nginx_VmRSS_kb="$ng" evicted="$(proc_status 'd["conns"]["evicted"]')" dead="$SLUICE_DEAD"
	log "  $1 connections (processor tracks $live, --max-conns $2): loader" \
		"$(status_kb "$LOADER_PID" VmRSS) kB, processor $(status_kb "$PROC_PID" VmRSS) kB RSS"
}

# nginx with 7 workers (reuseport spreads connections over them; each
# worker is held under the hard fd limit too).
bench_memory() {
	local h
	HOLDERS=()
	HOLD_N=0
	log "5. memory: idle keep-alive connections to nginx, one request each"
	NGINX_WORKERS=7 start_nginx hold 19000
	# the processor's default table, for its start-up footprint
	start_sluice
	sleep 2
	mem_record 0 default
	stop_sluice
	# 100k connections need a table bigger than the default 65536
	start_sluice --max-conns 131072
	sleep 2
	mem_record 0 131072
	# recorded even when the processor falls behind: what it holds then counts
	hold_conns 10000 && { wait_live 10000 30; sleep 2; mem_record 10000 131072; }
	hold_conns 90000 && { wait_live 100000 60; sleep 2; mem_record 100000 131072; }
	for h in "${HOLDERS[@]}"; do stop_pid "$h"; done
	stop_sluice
	stop_nginx hold
}

# ---- main ----

preflight
make_cgroup
SECONDS=0
if want overhead || want kernel || want pipeline || want realpath; then
	start_nginx bench 4096
fi
want overhead && bench_overhead
want kernel && bench_kernel
want pipeline && bench_pipeline
want realpath && bench_realpath
stop_nginx bench
want memory && bench_memory
rec meta_end seconds="$SECONDS" loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
python3 tests/bench/report.py "$RAW" "$OUT/results.json" | tee "$OUT/table.txt"
log "raw numbers: $RAW; figures: $OUT/results.json; table: $OUT/table.txt (${SECONDS}s)"

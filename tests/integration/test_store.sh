#!/bin/bash
# The metadata store against real processes: python's http.server in a
# cgroup shaped like a Kubernetes pod's container (kubepods-burstable-pod
# <uid>.slice/cri-containerd-<id>.scope) and nginx in a docker-shaped one
# (docker-<id>.scope), both under this test's cgroup; curl drives traffic.
# The sqlite file is then read with the sqlite3 CLI and with sluicectl run
# as an unprivileged user, and checked against what the test knows: pids,
# container ids, pod uid and QoS, and connection bytes equal to what curl
# says it sent and received. Also: a pid reused by the kernel is two rows,
# kill -9 during a write burst leaves an intact file with every committed
# row, and a file from a newer schema is refused.
. "$(dirname "$0")/lib.sh"

CTL=$B/sluicectl
DB=$T/meta.db
hex() { head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }

POD_UID=$(python3 -c 'import uuid; print(uuid.uuid4())')
CID_POD=$(hex 32)
CID_DOCKER=$(hex 32)
make_cgroup
POD_CG=$CG/kubepods-burstable-pod${POD_UID//-/_}.slice
PY_CG=$POD_CG/cri-containerd-$CID_POD.scope
NGX_CG=$CG/docker-$CID_DOCKER.scope
mkdir -p "$PY_CG" "$NGX_CG" || exit 1

# lib.sh removes $CG; the cgroups below it go first, with what runs there.
cleanup_cgroups() {
	local d p
	disown -a # what is killed below is expected to die: no job notices
	for d in "$PY_CG" "$NGX_CG" "$CG/reuse"; do
		[ -d "$d" ] || continue
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	done
	sleep 0.2
	rmdir "$PY_CG" "$POD_CG" "$NGX_CG" "$CG/reuse" 2>/dev/null
	cleanup
}
trap cleanup_cgroups EXIT

# Starts a command in the background in cgroup $1 (the shell moves itself
# there, then execs it): $! is the command's own pid.
spawn_in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$@" & }

# What a real `kubectl get pods -o json` gives for the pod, trimmed.
cat >"$T/pods.json" <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "web-0", "namespace": "shop", "uid": "$POD_UID",
   "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
     "controller": true}]},
  "spec": {"nodeName": "$(hostname)", "containers": [{"name": "web"}]},
  "status": {"phase": "Running", "qosClass": "Burstable"}}]}
JSON
PROC_ARGS=(--pods-file "$T/pods.json" --metrics-listen none)
start_sluice

# python in the pod's container
mkdir -p "$T/www"
head -c 20000 /dev/urandom >"$T/www/blob.bin"
PY_PORT=$(free_port)
spawn_in_cgroup "$PY_CG" /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$T/www" \
	"$PY_PORT" >"$T/python.log" 2>&1
PY_PID=$!
PIDS+=("$PY_PID")
# nginx in the docker container: one process (no master/worker fork), so
# the process that accepts is the one that exec'd in the container
NGX_PORT=$(free_port)
mkdir -p "$T/nginx-tmp"
cat >"$T/nginx-store.conf" <<CONF
daemon off;
master_process off;
pid $T/nginx-store.pid;
error_log $T/nginx-error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $T/nginx-tmp;
	proxy_temp_path $T/nginx-tmp;
	fastcgi_temp_path $T/nginx-tmp;
	uwsgi_temp_path $T/nginx-tmp;
	scgi_temp_path $T/nginx-tmp;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$NGX_PORT;
		root $T/www;
		location = /post { return 201 "created\n"; }
		location = /err { return 503; }
	}
}
CONF
spawn_in_cgroup "$NGX_CG" /usr/sbin/nginx -c "$T/nginx-store.conf" >"$T/nginx.out" 2>&1
NGX_PID=$!
PIDS+=("$NGX_PID")
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PY_PORT/" || fail python_start
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$NGX_PORT/post" || fail nginx_start

# Traffic, from curl in the test's own cgroup. -w reports what curl moved:
# request bytes (headers and body), response header and body bytes, and the
# local port that names the connection.
W='%{local_port} %{size_request} %{size_header} %{size_download}\n'
in_cg curl -s -o /dev/null -w "$W" "http://127.0.0.1:$PY_PORT/blob.bin" >"$T/curl-py.txt"
head -c 3000 /dev/urandom | base64 -w0 >"$T/body"
in_cg curl -s -o /dev/null -w "$W" --data-binary @"$T/body" "http://127.0.0.1:$NGX_PORT/post" \
	>"$T/curl-post.txt"
in_cg curl -s -o /dev/null -o /dev/null -o /dev/null -w "$W" "http://127.0.0.1:$NGX_PORT/blob.bin" \
	"http://127.0.0.1:$NGX_PORT/err" "http://127.0.0.1:$NGX_PORT/missing" >"$T/curl-ka.txt"

# Waits until the store has closed rows for both ends of curl's connection.
conn_row() { # server_port client_port
	wait_q 10 = 2 "SELECT count(*) FROM conns WHERE closed IS NOT NULL AND
		((role = 'server' AND lport = $1 AND rport = $2) OR
		 (role = 'client' AND rport = $1 AND lport = $2))"
}

# --- process identity, container, pod ---
read -r lp req hdr body <"$T/curl-py.txt"
conn_row "$PY_PORT" "$lp" || fail python_conn_row "no closed server row for port $lp"
got=$(q "SELECT pid, ppid, uid, ns_pid = pid, exe, container_id, unit, cgroup_path
	FROM processes WHERE pid = $PY_PID AND exited IS NULL" | tr '|' ' ')
want="$PY_PID $$ 0 1 /usr/bin/python3 $CID_POD cri-containerd-$CID_POD.scope ${PY_CG#"$(cgroup2_root)"}"
[ "$got" = "$want" ] && pass python_process || fail python_process "got '$got', want '$want'"
got=$(q "SELECT cmdline FROM processes WHERE pid = $PY_PID AND exited IS NULL")
want="/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory $T/www $PY_PORT"
[ "$got" = "$want" ] && pass python_cmdline || fail python_cmdline "got '$got', want '$want'"
pidns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
[ "$(q "SELECT pidns FROM processes WHERE pid = $PY_PID")" = "$pidns" ] && pass python_pidns ||
	fail python_pidns "$(q "SELECT pidns FROM processes WHERE pid = $PY_PID") != $pidns"
got=$(q "SELECT c.runtime, c.pod_uid, p.qos, p.name, p.namespace, p.owner_kind, p.owner_name,
	p.node, p.source FROM containers c JOIN pods p ON p.uid = c.pod_uid WHERE c.id = '$CID_POD'" |
	tr '|' ' ')
want="containerd $POD_UID burstable web-0 shop StatefulSet web $(hostname) file"
[ "$got" = "$want" ] && pass pod_container || fail pod_container "got '$got', want '$want'"
got=$(q "SELECT c.runtime || ' ' || coalesce(c.pod_uid, 'none') FROM processes p
	JOIN containers c ON c.id = p.container_id WHERE p.pid = $NGX_PID")
[ "$got" = "docker none" ] && pass docker_container || fail docker_container "got '$got'"

# --- connection bytes, both ends, against curl's own counts ---
check_bytes() { # name server_port client_port sent_by_client recv_by_client
	local srv cli
	srv=$(q "SELECT bytes_recv || ' ' || bytes_sent FROM conns WHERE role = 'server'
		AND lport = $2 AND rport = $3")
	cli=$(q "SELECT bytes_sent || ' ' || bytes_recv FROM conns WHERE role = 'client'
		AND rport = $2 AND lport = $3")
	if [ "$srv" = "$4 $5" ] && [ "$cli" = "$4 $5" ]; then
		pass "$1"
	else
		fail "$1" "curl: sent $4 received $5; server row recv/sent '$srv', client row sent/recv '$cli'"
	fi
}
check_bytes python_get_bytes "$PY_PORT" "$lp" "$req" $((hdr + body))
read -r lp req hdr body <"$T/curl-post.txt"
conn_row "$NGX_PORT" "$lp"
check_bytes nginx_post_bytes "$NGX_PORT" "$lp" "$req" $((hdr + body))
# keep-alive: three requests, one connection; -w printed one line per URL
lp=$(awk '{print $1; exit}' "$T/curl-ka.txt")
req=$(awk '{s += $2} END {print s}' "$T/curl-ka.txt")
recv=$(awk '{s += $3 + $4} END {print s}' "$T/curl-ka.txt")
conn_row "$NGX_PORT" "$lp"
check_bytes keepalive_bytes "$NGX_PORT" "$lp" "$req" "$recv"
wait_q 5 = 3 "SELECT requests FROM conns WHERE role = 'server' AND lport = $NGX_PORT
	AND rport = $lp"
got=$(q "SELECT protocol, requests, http_4xx, http_5xx, c.pid = $NGX_PID FROM conns c
	WHERE role = 'server' AND lport = $NGX_PORT AND rport = $lp" | tr '|' ' ')
[ "$got" = "http1 3 1 1 1" ] && pass keepalive_requests || fail keepalive_requests "got '$got'"
got=$(q "SELECT p.exe FROM conns c JOIN processes p ON p.id = c.process
	WHERE c.role = 'client' AND c.lport = $lp")
[ "$got" = /usr/bin/curl ] && pass client_process || fail client_process "got '$got'"
# every connection nginx accepted counts on its port's row (the readiness
# probe's too: nginx is traced even when the client is not)
n=$(q "SELECT count(*) FROM conns WHERE role = 'server' AND pid = $NGX_PID")
got=$(q "SELECT addr || ':' || port || ' ' || listening || ' ' || accepted FROM ports
	WHERE process = (SELECT id FROM processes WHERE pid = $NGX_PID AND exited IS NULL)")
[ "$got" = "127.0.0.1:$NGX_PORT 1 $n" ] && [ "$n" -ge 3 ] && pass nginx_port ||
	fail nginx_port "got '$got', $n accepted connections stored"

# --- a pid the kernel hands out again is a second row ---
# ns_last_pid makes the next fork get pid P again (as CRIU does); other
# forks on the host can take it first, so this retries.
mkdir -p "$CG/reuse"
python3 - "$CG/reuse" >"$T/reuse.txt" 2>&1 <<'PY'
import os, sys, time
cg = sys.argv[1]
def run_in_cgroup():
    pid = os.fork()
    if pid == 0:
        with open(cg + "/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
        os.execv("/bin/sleep", ["sleep", "0.2"])
    return pid
first = run_in_cgroup()
os.waitpid(first, 0)
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(first - 1))
    pid = os.fork()
    if pid == 0:
        if os.getpid() != first:
            os._exit(0)
        with open(cg + "/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
        os.execv("/bin/sleep", ["sleep", "0.2"])
    os.waitpid(pid, 0)
    if pid == first:
        print(first)
        break
    time.sleep(0.01)
else:
    print("no-reuse")
PY
P=$(tail -1 "$T/reuse.txt")
if [ "$P" = no-reuse ] || [ -z "$P" ]; then
	skip pid_reuse_two_rows "the kernel never gave pid back: $(tail -3 "$T/reuse.txt")"
else
	wait_q 10 = 2 "SELECT count(*) FROM processes WHERE pid = $P AND exited IS NOT NULL"
	got=$(q "SELECT count(DISTINCT start_ns), min(exe), max(exit_code) FROM processes
		WHERE pid = $P AND exited IS NOT NULL" | tr '|' ' ')
	[ "$got" = "2 /bin/sleep 0" ] && pass pid_reuse_two_rows ||
		fail pid_reuse_two_rows "pid $P: got '$got', rows: $(q "SELECT * FROM processes WHERE pid = $P")"
fi

# --- sluicectl, as an unprivileged user, read-only ---
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
out=$(as_nobody "$CTL" --db "$DB" ps 2>&1)
echo "$out" | grep -E "^ *$PY_PID .* ${CID_POD:0:12} +shop/web-0 +burstable" >/dev/null &&
	pass ctl_ps || fail ctl_ps "$out"
out=$(as_nobody "$CTL" --db "$DB" --json conns --limit 1000 2>&1)
n=$(echo "$out" | python3 -c "
import json, sys
rows = json.load(sys.stdin)
print(sum(1 for r in rows if r['pid'] == $NGX_PID and r['reqs'] == 3 and r['workload']))" 2>&1)
[ "$n" = 1 ] && pass ctl_conns_json || fail ctl_conns_json "$n"
out=$(as_nobody "$CTL" --db "$DB" pods 2>&1)
echo "$out" | grep -E "^shop +web-0 +$POD_UID +burstable +StatefulSet/web" >/dev/null &&
	pass ctl_pods || fail ctl_pods "$out"
out=$(as_nobody "$CTL" --db "$DB" ports 2>&1)
echo "$out" | grep -E "^tcp +127.0.0.1 +$NGX_PORT +$NGX_PID " >/dev/null &&
	pass ctl_ports || fail ctl_ports "$out"
before=$(q "SELECT count(*) FROM conns")
out=$(as_nobody "$CTL" --db "$DB" sql "DELETE FROM conns" 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "read-only" && [ "$(q "SELECT count(*) FROM conns")" -ge "$before" ] &&
	pass ctl_sql_refuses_writes || fail ctl_sql_refuses_writes "rc $rc: $out"
out=$(as_nobody "$CTL" --db "$DB" sql "SELECT count(*) AS n FROM v_requests_per_process WHERE pid = $NGX_PID")
[ "$(echo "$out" | tail -1 | tr -d ' ')" = 1 ] && pass ctl_sql_view || fail ctl_sql_view "$out"
out=$("$CTL" --db "$T/nothere.db" ps 2>&1)
echo "$out" | grep -q "no metadata store at $T/nothere.db" && echo "$out" | grep -q "creates it" &&
	pass ctl_missing_db || fail ctl_missing_db "$out"

# --- kill -9 during a write burst ---
# A client opens connections one after another; the processor is killed
# while it commits them. Rows committed before the kill must all be there,
# the file must pass integrity_check, and after a restart (the loader
# resends what the checkpoint did not cover) every connection is stored
# exactly once, its one request counted once.
BURST=5000
in_cg python3 - "$NGX_PORT" "$BURST" >"$T/burst.txt" 2>&1 <<'PY' &
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /post HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
print("done")
PY
BURST_PID=$!
before_id=$(q "SELECT coalesce(max(id), 0) FROM conns")
BURST_SQL="SELECT count(*) FROM conns WHERE role = 'server' AND lport = $NGX_PORT AND rport > 0
	AND requests = 1 AND protocol = 'http1' AND id > $before_id"
wait_q 20 -ge 300 "$BURST_SQL"
committed=$(q "$BURST_SQL")
kill -KILL "$PROC_PID"
wait "$PROC_PID" 2>/dev/null
ic=$(q "PRAGMA integrity_check")
after=$(q "$BURST_SQL")
echo "# kill -9 with $committed of $BURST burst connections committed ($after after)"
[ "$ic" = ok ] && pass kill9_integrity || fail kill9_integrity "$ic"
# the kill must come while rows are still being written, not after
[ "$after" -ge "$committed" ] && [ "$committed" -ge 300 ] && [ "$after" -lt "$BURST" ] &&
	pass kill9_committed_rows_kept ||
	fail kill9_committed_rows_kept "$committed rows seen committed before the kill, $after after"
start_processor "${PROC_ARGS[@]}"
wait "$BURST_PID"
wait_q 30 -ge "$BURST" "$BURST_SQL"
got=$(q "$BURST_SQL")
dups=$(q "SELECT count(*) FROM conns WHERE role = 'server' AND lport = $NGX_PORT AND id > $before_id
	AND requests > 1")
[ "$got" = "$BURST" ] && [ "$dups" = 0 ] && pass kill9_restart_exactly_once ||
	fail kill9_restart_exactly_once "$got of $BURST connections stored, $dups counted twice; \
rows without a request: $(q "SELECT count(*) FROM conns WHERE role = 'server' AND lport = $NGX_PORT \
AND id > $before_id AND requests = 0"); burst: $(tail -1 "$T/burst.txt"); status: $(cat "$T/status.json")"
[ "$(q "PRAGMA integrity_check")" = ok ] && pass restart_integrity || fail restart_integrity
echo "# after the restart: $(grep -o 'batches [0-9]*\.\.[0-9]* were stored before the restart' "$T/processor.log")"

# --- a file from a newer sluice is refused, and left as it was ---
cp "$DB" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA user_version = 999" >/dev/null
timeout 10 "$B/sluice-processor" --socket "$T/none.sock" --db "$T/newer.db" --metrics-listen none \
	>"$T/newer.log" 2>&1
rc=$?
want="$T/newer.db has schema version 999, this sluice-processor knows up to"
if [ $rc -ne 0 ] && grep -q "$want" "$T/newer.log" && grep -q "upgrade sluice or move the file" "$T/newer.log" &&
	[ "$(sqlite3 "$T/newer.db" "PRAGMA user_version")" = 999 ]; then
	pass newer_schema_refused
else
	fail newer_schema_refused "rc $rc: $(cat "$T/newer.log")"
fi
finish

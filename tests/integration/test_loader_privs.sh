#!/bin/bash
# What the running loader holds, read from /proc, and what it tells systemd,
# read from a real notify socket (as systemd's Type=notify would):
#  - no capabilities left (effective, permitted, bounding, ambient), no new
#    privileges, a seccomp filter installed, while it forwards real traffic;
#  - READY=1 only once the socket listens (a processor can connect at once),
#    STATUS= lines, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on TERM.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/tools/loader_test_lib.sh"

make_cgroup
start_nginx
python3 - "$T/notify.sock" >"$T/notify.txt" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
t0 = time.monotonic()
while True:
    msg = s.recv(4096).decode()
    sock = os.path.exists(os.path.join(os.path.dirname(sys.argv[1]), "loader.sock"))
    for line in msg.split("\n"):
        print("%.3f %s socket=%d" % (time.monotonic() - t0, line, sock), flush=True)
PY
PIDS+=($!)
wait_for 5 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 start_loader
start_dump
in_cg python3 "$TOOLS/rate_client.py" "127.0.0.1:$PORT" /p/ 100 2 >/dev/null
check_delivered forwards_with_privileges_dropped /p/

st=/proc/$LOADER_PID/status
caps=$(grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' "$st" | awk '{print $2}' | sort -u)
[ "$caps" = 0000000000000000 ] && pass no_capabilities ||
	fail no_capabilities "$(grep -E '^Cap' "$st" | tr '\n' ' ')"
grep -qE '^NoNewPrivs:\s+1' "$st" && pass no_new_privs || fail no_new_privs "$(grep NoNewPrivs "$st")"
grep -qE '^Seccomp:\s+2' "$st" && pass seccomp_filter_installed || fail seccomp_filter_installed "$(grep Seccomp "$st")"
# every thread, nng's included
bad=0
for t in /proc/$LOADER_PID/task/*; do
	grep -qE '^Seccomp:\s+2' "$t/status" && grep -qE '^CapEff:\s+0+$' "$t/status" || bad=$((bad + 1))
done
[ "$bad" = 0 ] && pass every_thread_confined || fail every_thread_confined "$bad threads not"

ready=$(grep -m1 'READY=1' "$T/notify.txt")
[ -n "$ready" ] && [ "${ready##*socket=}" = 1 ] && pass ready_after_socket_listens ||
	fail ready_after_socket_listens "${ready:-no READY=1}"
grep -q 'STATUS=processor connected;' "$T/notify.txt" && pass status_lines ||
	fail status_lines "$(grep STATUS "$T/notify.txt" | tail -2)"
# 0.4 s watchdog: a ping every 0.2 s; over the ~3 s run, well over 8
n=$(grep -c 'WATCHDOG=1' "$T/notify.txt")
[ "$n" -ge 8 ] && pass watchdog_pings || fail watchdog_pings "$n pings"
stop_loader TERM
grep -q 'STOPPING=1' "$T/notify.txt" && pass stopping_on_term || fail stopping_on_term "no STOPPING=1"
finish

#!/bin/bash
# The loader's only input, from peers that get it wrong, while nginx serves
# real traffic (its access log is the oracle for "still forwarding"):
#  - raw garbage on the unix socket (no nng handshake), acks of the wrong
#    size, version or type, an oversized message, a burst of random
#    messages: malformed acks are counted and dropped (closing the pipe
#    under a sending peer can hang Debian's nng 1.5.2 for good), a
#    message without pair1's header costs that peer its connection (pair1
#    closes it), and the loader keeps running;
#  - a second processor while one is connected is refused, forwarding to
#    the first goes on;
#  - --processor-user daemon: a peer running as nobody is closed and
#    counted, one running as daemon gets every event.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/tools/loader_test_lib.sh"

make_cgroup
start_nginx
start_loader --processor-user daemon
U=127.0.0.1:$PORT
alive() { kill -0 "$LOADER_PID" 2>/dev/null; }

for i in 1 2 3; do
	python3 - "$SOCK" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
try:
    s.sendall(os.urandom(4096))
    s.recv(64)
except OSError:
    pass
s.close()
PY
done
alive && pass survives_raw_garbage || fail survives_raw_garbage "loader exited"

for mode in short long version type huge burst; do
	"$B/bad-peer" -s "$SOCK" -t 300 "$mode" >"$T/bad-$mode.out" 2>&1
done
alive && pass survives_bad_acks || fail survives_bad_acks "loader exited"
n=$(grep -c "malformed ack" "$T/loader.log")
[ "$n" -ge 3 ] && pass bad_acks_logged || fail bad_acks_logged "$n malformed acks logged"

start_dump
in_cg python3 "$TOOLS/rate_client.py" "$U" /ok/ 100 2 >/dev/null
check_delivered forwards_after_bad_peers /ok/
"$B/bad-peer" -s "$SOCK" -t 2500 hold >"$T/second.out" 2>&1 &
SECOND=$!
sleep 0.3
in_cg python3 "$TOOLS/rate_client.py" "$U" /ok2/ 100 2 >/dev/null
wait $SECOND
check_delivered second_processor_does_not_steal /ok2/

# a peer's uid is checked: the socket's group lets both users connect()
kill -TERM "$DUMP_PID"
wait "$DUMP_PID" 2>/dev/null
cp "$B/wire-dump" "$T/wire-dump" && chmod 0755 "$T/wire-dump"
sockgid=$(stat -c %g "$SOCK")
# user, output file, command...: in the background, its pid in SPAWNED (the
# command's own, so that killing it stops the consumer, not a subshell)
spawn_as() {
	local u=$1 out=$2
	shift 2
	setpriv --reuid="$u" --regid="$(id -g "$u")" --groups="$sockgid" --inh-caps=-all \
		"$@" >>"$out" 2>&1 &
	SPAWNED=$!
	PIDS+=($SPAWNED)
}
spawn_as nobody "$T/nobody.txt" "$T/wire-dump" -s "$SOCK"
NOBODY=$SPAWNED
sleep 1
in_cg python3 "$TOOLS/rate_client.py" "$U" /nobody/ 50 1 >/dev/null
sleep 1
kill -TERM "$NOBODY"
wait "$NOBODY" 2>/dev/null
grep -q "rejected a peer running as uid $(id -u nobody)" "$T/loader.log" &&
	! grep -q '^DATA' "$T/nobody.txt" && pass wrong_uid_rejected ||
	fail wrong_uid_rejected "$(grep -c '^DATA' "$T/nobody.txt") events reached nobody"
spawn_as daemon "$T/dump.txt" "$T/wire-dump" -s "$SOCK" -b 96
sleep 0.5
in_cg python3 "$TOOLS/rate_client.py" "$U" /daemon/ 100 2 >/dev/null
check_delivered processor_user_admitted /daemon/
alive && pass loader_still_running || fail loader_still_running "loader exited"
stop_loader TERM
grep -qE "[0-9]+ bad acks, [1-9][0-9]* peers rejected" "$T/loader.log" && pass rejections_counted ||
	fail rejections_counted "$(grep exiting: "$T/loader.log")"
finish

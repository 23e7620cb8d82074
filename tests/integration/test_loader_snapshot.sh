#!/bin/bash
# What predates the loader, and the version 2 events, with real processes:
#  - nginx and a python IPv6 listener started before the loader, in the test
#    cgroup: EXEC records flagged SNAPSHOT with exe and command line, and
#    LISTEN records flagged SNAPSHOT for each listening process;
#  - nothing from outside the cgroup (this shell) is in the snapshot;
#  - after the start, a process that listens and closes gives live LISTEN
#    start and stop, and its EXEC carries its command line.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/tools/loader_test_lib.sh"

make_cgroup
start_nginx
P6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
in_cg python3 -c "import socket,time; s=socket.socket(socket.AF_INET6); s.bind(('::1',$P6)); s.listen(); time.sleep(60)" &
PIDS+=($!)
wait_for 5 sh -c "ss -ltn | grep -q ':$P6 '"
start_loader
start_dump -b 0
master=$(cat "$T/nginx.pid")
wait_for 10 grep -q "^LISTEN .*tgid=$master .*port=$PORT .*flags=1" "$T/dump.txt"

ex=$(grep -m1 "^EXEC .*tgid=$master .*flags=1" "$T/dump.txt")
case "$ex" in
*'exe="/usr/sbin/nginx"'*"cmdline=\"nginx: master process /usr/sbin/nginx -c $T/nginx.conf"*) pass snapshot_exec_with_cmdline ;;
*) fail snapshot_exec_with_cmdline "${ex:-no snapshot EXEC for nginx $master}" ;;
esac
n=$(grep -cE "^LISTEN .*port=$PORT .*listening=1 flags=1" "$T/dump.txt")
[ "$n" -ge 2 ] && pass snapshot_listen_per_process || fail snapshot_listen_per_process "$n LISTEN records for :$PORT (master + worker expected)"
grep -qE "^LISTEN .*family=10 addr=::1 port=$P6 .*listening=1 flags=1" "$T/dump.txt" &&
	pass snapshot_listen_ipv6 || fail snapshot_listen_ipv6 "$(grep "port=$P6" "$T/dump.txt" | head -2)"
grep -qE "^EXEC .*tgid=$$ " "$T/dump.txt" && fail snapshot_only_our_cgroup "this shell is in it" ||
	pass snapshot_only_our_cgroup

in_cg python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); time.sleep(0.3); s.close()' live-listener
wait_for 10 grep -q '^LISTEN .*listening=0 flags=0' "$T/dump.txt"
lp=$(grep -m1 '^LISTEN .*listening=1 flags=0' "$T/dump.txt" | grep -oE 'port=[0-9]+')
grep -qE "^LISTEN .*$lp netns=[0-9]+ listening=0 flags=0" "$T/dump.txt" && [ -n "$lp" ] &&
	pass live_listen_start_and_stop || fail live_listen_start_and_stop "$(grep '^LISTEN .*flags=0' "$T/dump.txt")"
grep -qE '^EXEC .*cmdline="[^"]*python3 -c import socket,time.*live-listener ?" flags=0' "$T/dump.txt" &&
	pass live_exec_cmdline || fail live_exec_cmdline "$(grep '^EXEC .*flags=0' "$T/dump.txt" | tail -2)"
finish

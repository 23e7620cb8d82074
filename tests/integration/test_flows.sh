#!/bin/bash
# Flow bytes and packets, end to end, against what the endpoints say they
# sent. curl reports its request (size_request + size_upload) and what it
# read (size_header + size_download); nginx logs $bytes_sent and
# $request_length. sluice counts L4 payload (TCP segment data, UDP datagram
# data; no IP or TCP/UDP headers), so for each connection, seen from both
# of its sockets, the flow's bytes must equal those numbers exactly:
# small and 1 MiB (sendfile) GETs, a 100 KiB POST, IPv6. A UDP echo
# exchange checks bytes and packets exactly. The owners (process names,
# the TCP connection's conn_id) and the Prometheus counter are checked too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/names_lib.sh"

SRV=$NET.2
make_cgroup
MPORT=$(free_port)
PROC_ARGS=(--metrics-listen "127.0.0.1:$MPORT")
start_sluice
start_nginx_any "$SRV"
head -c 1048576 /dev/urandom >"$T/www/big.bin"
head -c 102400 /dev/urandom >"$T/body"

# one connection per curl; a line per transfer: port, bytes out, bytes in
get() { # name url [curl args]
	local name=$1 url=$2
	shift 2
	in_cg curl -s -o /dev/null -H 'Expect:' "$@" \
		-w "$name %{local_port} %{size_request} %{size_upload} %{size_header} %{size_download}\n" \
		"$url" >>"$T/curl.txt"
}
get small "http://$SRV:$PORT/index.html?small"
get big "http://$SRV:$PORT/big.bin?big"
get post "http://$SRV:$PORT/post?post" --data-binary @"$T/body"
get v6 "http://[::1]:$PORT/index.html?v6"

# sums over the flow's rows (a flow is one row unless its cgroup id changed)
flow() { # lport rport column
	q "SELECT coalesce(sum($3), -1) FROM flows WHERE proto = 'tcp' AND lport = $1 AND rport = $2"
}

# each transfer, from the client's and the server's socket
check_transfer() { # name
	local name=$1 cport out in sent reqlen
	read -r _ cport a b c d < <(grep "^$name " "$T/curl.txt")
	out=$((a + b)) in=$((c + d))
	read -r _ _ sent reqlen < <(grep "?$name " "$T/flows.log")
	wait_out 10 "$in" flow "$cport" "$PORT" bytes_in
	wait_out 5 "$reqlen" flow "$PORT" "$cport" bytes_in
	got="$(flow "$cport" "$PORT" bytes_out) $(flow "$cport" "$PORT" bytes_in)"
	[ "$got" = "$out $in" ] && pass "client_$name" ||
		fail "client_$name" "flow out/in '$got', curl says '$out $in'"
	got="$(flow "$PORT" "$cport" bytes_out) $(flow "$PORT" "$cport" bytes_in)"
	[ "$got" = "$sent $reqlen" ] && pass "server_$name" ||
		fail "server_$name" "flow out/in '$got', nginx says '$sent $reqlen'"
}
for t in small big post v6; do check_transfer "$t"; done

# owners: the processes, and the client flow's conn_id is its connection's
read -r _ cport _ < <(grep "^big " "$T/curl.txt")
got=$(q "SELECT comm FROM v_flows WHERE proto = 'tcp' AND lport = $cport AND rport = $PORT LIMIT 1")
[ "$got" = curl ] && pass owner_client || fail owner_client "comm '$got'"
got=$(q "SELECT comm FROM v_flows WHERE proto = 'tcp' AND lport = $PORT AND rport = $cport LIMIT 1")
[ "$got" = nginx ] && pass owner_server || fail owner_server "comm '$got'"
got=$(q "SELECT count(*) FROM flows f JOIN conns c ON c.conn_id = f.conn_id AND c.boot = f.boot
	WHERE f.lport = $cport AND f.rport = $PORT AND c.lport = $cport AND c.role = 'client'")
[ "$got" = 1 ] && pass flow_conn_id || fail flow_conn_id "$got joined rows"
got=$(q "SELECT count(*) FROM flows WHERE lport = $cport AND rport = $PORT AND pkts_out > 0 AND pkts_in >= 1048576 / 65536")
[ "$got" = 1 ] && pass packets_counted || fail packets_counted "$got rows"

# UDP: 5 datagrams of 100..500 bytes, each echoed: exact bytes and packets
UPORT=$(python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$SRV")
in_cg python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").close()
for _ in range(5):
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
' "$SRV" "$UPORT" "$T/udp.ready" &
PIDS+=($!)
# a datagram sent before the bind is refused, and the client gives up
wait_for 10 test -e "$T/udp.ready" || fail udp_server_ready "the UDP echo server did not start"
uport=$(in_cg python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for n in range(1, 6):
    s.sendto(b"u" * (100 * n), (sys.argv[1], int(sys.argv[2])))
    s.recvfrom(2048)
print(s.getsockname()[1])
' "$SRV" "$UPORT")
uflow() { q "SELECT bytes_out || ' ' || bytes_in || ' ' || pkts_out || ' ' || pkts_in FROM flows WHERE proto = 'udp' AND lport = $1 AND rport = $2"; }
wait_out 10 "1500 1500 5 5" uflow "$uport" "$UPORT"
got=$(uflow "$uport" "$UPORT")
[ "$got" = "1500 1500 5 5" ] && pass udp_client || fail udp_client "out/in/pkts '$got'"
wait_out 5 "1500 1500 5 5" uflow "$UPORT" "$uport"
got=$(uflow "$UPORT" "$uport")
[ "$got" = "1500 1500 5 5" ] && pass udp_server || fail udp_server "out/in/pkts '$got'"

# Prometheus: curl's transmitted TCP bytes, summed over its series, are
# what curl sent
want=$(awk '{ s += $3 + $4 } END { print s }' "$T/curl.txt")
prom_curl_tx() {
	curl -s "http://127.0.0.1:$MPORT/metrics" | grep '^sluice_network_flow_bytes_total{' |
		grep 'network_io_direction="transmit"' | grep 'process_executable_name="curl"' |
		grep 'network_transport="tcp"' | awk '{ s += $NF } END { print s + 0 }'
}
wait_out 5 "$want" prom_curl_tx
got=$(prom_curl_tx)
[ "$got" = "$want" ] && pass prometheus_counter || fail prometheus_counter "$got, curl sent $want"
finish

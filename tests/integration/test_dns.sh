#!/bin/bash
# Names from DNS, end to end: a real dnsmasq answers A, AAAA and a CNAME
# chain (TTL 2 s), and a longer-lived name (TTL 1 h); curl, in the test
# cgroup and a mount namespace whose resolv.conf points at dnsmasq,
# resolves them (glibc asks for A and AAAA at once with sendmmsg; once over
# TCP with use-vc) and fetches from nginx. Checked: the pairs' server.address
# is the name asked for, with the IP in network.peer.address; the store's
# connections and dns_names carry the names; after the TTL the names are
# gone from the cache (a fetch by IP shows the IP) and from the store; a
# processor restart keeps the unexpired name; the flow counter names its
# destination.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/names_lib.sh"

API=$NET.2 CHAIN=$NET.4 TCPIP=$NET.5 LONG=$NET.6 PTRIP=$NET.7 NONAME=$NET.8
make_cgroup
start_dnsmasq "address=/api.sluice.test/$API" "host-record=v6.sluice.test,::1" \
	"cname=www.sluice.test,edge.sluice.test" "cname=edge.sluice.test,origin.sluice.test" \
	"host-record=origin.sluice.test,$CHAIN" "host-record=tcp.sluice.test,$TCPIP" \
	"host-record=long.sluice.test,$LONG,3600" "host-record=ptr.sluice.test,$PTRIP,60"
MPORT=$(free_port)
PROC_ARGS=(--metrics-listen "127.0.0.1:$MPORT")
start_sluice
start_nginx_any "$API" "$CHAIN" "$TCPIP" "$LONG" "$PTRIP" "$NONAME"
fetch() { in_ns curl -s -o /dev/null --max-time 5 "$@"; }

# A, AAAA (curl -6), the CNAME chain, TCP DNS, and the long-lived name;
# each one's dns_names row is read at once, well within its 2 s TTL
row() { q "SELECT name || ' ' || coalesce(alias, '-') || ' ' || source FROM dns_names WHERE addr = '$1'"; }
fetch_row() { # addr curl-args...
	local a=$1
	shift
	fetch "$@"
	wait_some 1 row "$a"
	row "$a" >>"$T/rows.txt"
}
fetch_row "$API" "http://api.sluice.test:$PORT/dns/a"
fetch_row ::1 -6 "http://v6.sluice.test:$PORT/dns/aaaa"
fetch_row "$CHAIN" "http://www.sluice.test:$PORT/dns/chain"
RESOLV=$T/resolv-tcp.conf fetch_row "$TCPIP" "http://tcp.sluice.test:$PORT/dns/tcp"
fetch_row "$LONG" "http://long.sluice.test:$PORT/dns/long"
grep -q "query\[A\] tcp.sluice.test" "$T/dnsmasq.log" || fail tcp_query_made "dnsmasq saw no query"
printf '%s\n' "api.sluice.test - dns" "v6.sluice.test - dns" \
	"www.sluice.test origin.sluice.test dns" "tcp.sluice.test - dns" "long.sluice.test - dns" \
	>"$T/rows.want"
diff "$T/rows.want" "$T/rows.txt" >"$T/rows.diff" && pass store_dns_names ||
	fail store_dns_names "$(cat "$T/rows.diff")"

check_name() { # test path want-server-address want-peer
	local got
	wait_some 10 pair_addrs client "$2"
	got=$(pair_addrs client "$2")
	if [ "$got" = "$3 $4" ]; then pass "$1"; else fail "$1" "client pair for $2: '$got', want '$3 $4'"; fi
}
check_name pair_a /dns/a api.sluice.test "$API"
check_name pair_aaaa /dns/aaaa v6.sluice.test ::1
check_name pair_cname_chain /dns/chain www.sluice.test "$CHAIN"
check_name pair_tcp_dns /dns/tcp tcp.sluice.test "$TCPIP"
check_name pair_long /dns/long long.sluice.test "$LONG"
# the server side names its own address the way the client called it
got=$(pair_addrs server /dns/a)
[ "$got" = "api.sluice.test 127.0.0.1" ] && pass pair_server_side ||
	fail pair_server_side "server pair: '$got'"

# the store: connections carry the remote name, dns_names the answers
wait_some 5 q "SELECT 1 FROM conns WHERE raddr = '$CHAIN'"
got=$(q "SELECT raddr_name FROM conns WHERE role = 'client' AND raddr = '$API' AND rport = $PORT")
[ "$got" = api.sluice.test ] && pass store_conn_name || fail store_conn_name "raddr_name '$got'"
got=$(q "SELECT raddr_name FROM v_conns_named WHERE role = 'client' AND raddr = '$CHAIN'")
[ "$got" = www.sluice.test ] && pass store_conn_name_chain || fail store_conn_name_chain "'$got'"

# the flow counter's destination is the name
mline=$(curl -s "http://127.0.0.1:$MPORT/metrics" | grep '^sluice_network_flow_bytes_total' |
	grep 'network_io_direction="transmit"' | grep "destination_address=\"long.sluice.test\"" |
	grep 'process_executable_name="curl"')
[ -n "$mline" ] && pass flow_metric_named || fail flow_metric_named "no transmit series to long.sluice.test"

# after the 2 s TTL: gone from the cache (a fetch by IP shows the IP) and
# from the store; the long-lived name stays
sleep 3
fetch "http://$API:$PORT/dns/after-ttl"
check_name ttl_expired_in_cache /dns/after-ttl "$API" "$API"
wait_out 5 0 q "SELECT count(*) FROM dns_names WHERE addr = '$API'"
got=$(q "SELECT group_concat(name, ',') FROM (SELECT name FROM dns_names ORDER BY name)")
[ "$got" = long.sluice.test ] && pass ttl_expired_in_store || fail ttl_expired_in_store "rows left: '$got'"

# what the processor counted: responses parsed (A and AAAA of five names,
# some twice: UDP and TCP), nothing malformed
st=$(python3 -c "import json; d=json.load(open('$T/status.json'))['dns']; print(d['responses'] >= 10, d['malformed'])")
[ "$st" = "True 0" ] && pass dns_counters || fail dns_counters "responses>=10, malformed: $st"

# a processor restart keeps the unexpired name: fetched by IP, it is named
kill -TERM "$PROC_PID"
wait_for 10 sh -c "! kill -0 $PROC_PID"
start_processor "${PROC_ARGS[@]}"
wait_for 10 grep -q "DNS names still valid loaded" "$T/processor.log" &&
	pass restart_loads_names || fail restart_loads_names "$(tail -3 "$T/processor.log")"
fetch "http://$LONG:$PORT/dns/after-restart"
check_name restart_keeps_name /dns/after-restart long.sluice.test "$LONG"
fetch "http://$CHAIN:$PORT/dns/after-restart-expired"
check_name restart_drops_expired /dns/after-restart-expired "$CHAIN" "$CHAIN"


# --rdns active: the processor (its resolv.conf pointing at dnsmasq) asks
# for PTRs of addresses no answer named. The first pair to such an address
# cannot wait for the lookup; the next one is named. An address with no
# PTR is asked about once however often it is seen (the negative cache).
kill -TERM "$PROC_PID"
wait_for 10 sh -c "! kill -0 $PROC_PID"
unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf" \
	"$B/sluice-processor" --socket "$SOCK" --jsonl "$T/pairs.jsonl" --quiet \
	--status "$T/status.json" --state "$T/processor.state" --db "$T/meta.db" \
	--rdns active >>"$T/processor.log" 2>&1 &
PROC_PID=$!
PIDS+=($!)
wait_for 10 grep -q "active reverse DNS" "$T/processor.log" || fail rdns_started "$(tail -3 "$T/processor.log")"
fetch "http://$PTRIP:$PORT/dns/ptr-first"
fetch "http://$NONAME:$PORT/dns/noname-1"
wait_out 5 "ptr.sluice.test - ptr" row "$PTRIP"
got=$(row "$PTRIP")
[ "$got" = "ptr.sluice.test - ptr" ] && pass rdns_store_row || fail rdns_store_row "'$got'"
fetch "http://$PTRIP:$PORT/dns/ptr-second"
check_name rdns_names_pair /dns/ptr-second ptr.sluice.test "$PTRIP"
rdns_failed() { python3 -c "import json; print(json.load(open('$T/status.json'))['dns']['rdns']['failures'] > 0)" 2>/dev/null; }
wait_out 10 True rdns_failed
rev=$(echo "$NONAME" | awk -F. '{ print $4 "." $3 "." $2 "." $1 ".in-addr.arpa" }')
before=$(grep -c "query\[PTR\] $rev" "$T/dnsmasq.log")
fetch "http://$NONAME:$PORT/dns/noname-2"
fetch "http://$NONAME:$PORT/dns/noname-3"
check_name rdns_unnamed_stays_ip /dns/noname-3 "$NONAME" "$NONAME"
sleep 1
after=$(grep -c "query\[PTR\] $rev" "$T/dnsmasq.log")
# one lookup (c-ares may send it twice: dnsmasq refuses names it has no
# upstream for), and none for the later connections
[ "$before" -ge 1 ] && [ "$after" = "$before" ] &&
	pass rdns_negative_cache || fail rdns_negative_cache "PTR queries for $NONAME: $before, then $after"
finish

# Set-up shared by test_dns.sh and test_flows.sh, on top of lib.sh: a real
# dnsmasq on a loopback address of this test's own, clients that resolve
# through it (a mount namespace whose /etc/resolv.conf is bind-mounted over),
# an nginx listening on every address with a log of what it sent and read,
# and queries on the test's metadata store.

# A 127.x.y.0/24 block of this run's own: parallel runs do not collide.
NET=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))
DNS_IP=$NET.53

# dnsmasq answering from its config only (no upstream, no /etc/hosts),
# outside the test cgroup: what sluice sees is the clients' side. Extra
# arguments are dnsmasq options (address=, host-record=, cname=...).
start_dnsmasq() {
	command -v dnsmasq >/dev/null || { skip all "dnsmasq is not installed (dnsmasq-base)"; exit 0; }
	printf '%s\n' no-resolv no-hosts "listen-address=$DNS_IP" bind-interfaces port=53 \
		local-ttl=2 auth-ttl=2 log-queries "log-facility=$T/dnsmasq.log" \
		"pid-file=$T/dnsmasq.pid" "$@" >"$T/dnsmasq.conf"
	dnsmasq -C "$T/dnsmasq.conf" || { cat "$T/dnsmasq.log"; echo "dnsmasq did not start" >&2; exit 1; }
	PIDS+=("$(cat "$T/dnsmasq.pid")")
	echo "nameserver $DNS_IP" >"$T/resolv.conf"
	# the same server, asked over TCP (glibc's use-vc)
	printf 'nameserver %s\noptions use-vc\n' "$DNS_IP" >"$T/resolv-tcp.conf"
}

# Runs a command in the test cgroup, resolving names through dnsmasq
# (resolv.conf by default, or the file given with RESOLV=).
in_ns() {
	in_cg unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
		"${RESOLV:-$T/resolv.conf}" "$@"
}

# nginx on $PORT on each address given (IPv4; ::1 is added), in the test
# cgroup; $T/flows.log gets, per request, "URI remote_port bytes_sent
# request_length". Not on 0.0.0.0: benchmarks running beside the tests
# hold thousands of 127.x ports, and a wildcard bind collides with them.
start_nginx_any() { # addr...
	local a listen=""
	PORT=$(python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1")
	for a in "$@"; do listen="$listen listen $a:$PORT;"; done
	mkdir -p "$T/www" "$T/nginx-tmp"
	echo "hello from sluice test" >"$T/www/index.html"
	cat >"$T/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 256; }
http {
	client_body_temp_path $T/nginx-tmp;
	proxy_temp_path $T/nginx-tmp;
	fastcgi_temp_path $T/nginx-tmp;
	uwsgi_temp_path $T/nginx-tmp;
	scgi_temp_path $T/nginx-tmp;
	log_format oracle '\$request_method \$request_uri \$status';
	log_format flows '\$request_uri \$remote_port \$bytes_sent \$request_length';
	access_log $T/access.log oracle;
	access_log $T/flows.log flows;
	sendfile on;
	server {
		$listen
		listen [::1]:$PORT;
		root $T/www;
		# proxied to itself so that nginx reads the whole body first
		# (a bare return discards it unread, and \$request_length with it)
		location = /post { client_body_buffer_size 1m; proxy_pass http://$1:$PORT/sink; }
		location = /sink { return 201 "created\n"; }
	}
}
CONF
	in_cg /usr/sbin/nginx -c "$T/nginx.conf" -e "$T/nginx-error.log" ||
		{ cat "$T/nginx-error.log"; exit 1; }
	wait_for 10 curl -s -o /dev/null "http://$1:$PORT/ready" ||
		{ echo "nginx did not answer" >&2; exit 1; }
}

# Polls (up to secs) until what "$@" prints is want. "$@" may be a shell
# function: unlike wait_for's arguments, it is run again on every try.
wait_out() { # secs want cmd...
	local secs=$1 want=$2 end=$((SECONDS + $1 + 1))
	shift 2
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$("$@")" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# Polls until "$@" prints anything.
wait_some() { # secs cmd...
	local end=$((SECONDS + $1 + 1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		[ -n "$("$@")" ] && return 0
		sleep 0.1
	done
	return 1
}

# One value from the store (read-only, as a user would).
q() {
	python3 - "$T/meta.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
rows = db.execute(sys.argv[2]).fetchall()
print("\n".join("|".join("" if v is None else str(v) for v in r) for r in rows))
PY
}

# The JSON pairs (client or server side) whose url.path is path, one
# "server.address network.peer.address" line each.
pair_addrs() { # kind path
	python3 - "$T/pairs.jsonl" "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if not line.endswith("\n"):
        break  # the processor is mid-write
    p = json.loads(line)
    if p["span.kind"] == sys.argv[2] and p["url.path"] == sys.argv[3]:
        print(p["server.address"], p.get("network.peer.address", "-"))
PY
}

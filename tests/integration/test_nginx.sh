#!/bin/bash
# HTTP/1.x pairing against a real nginx on loopback, with nginx's access log
# as the oracle: keep-alive, HTTP/1.0 + close, HEAD, 404, POST with a body,
# a 1 MiB static file served with sendfile, 10 pipelined requests in one
# write, and a short wrk run. Server-side pairs (nginx) and client-side pairs
# (curl, python) are both checked.
. "$(dirname "$0")/lib.sh"

make_cgroup
start_sluice
start_nginx
U=http://127.0.0.1:$PORT
mkdir -p "$T/www/ka" "$T/www/big" "$T/www/h10" "$T/www/head"
for i in 1 2 3 4 5; do echo "page $i" >"$T/www/ka/$i.html"; done
echo "old protocol" >"$T/www/h10/index.html"
echo "heads up" >"$T/www/head/index.html"
head -c 1048576 /dev/urandom >"$T/www/big/file.bin"

# keep-alive: one curl, many URLs (one of them a 404) on one connection
in_cg curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
	"$U/ka/1.html" "$U/ka/2.html?x=1&y=2" "$U/ka/3.html" "$U/ka/missing" "$U/ka/4.html" "$U/ka/5.html"
check_oracle keepalive_server server /ka/
check_oracle keepalive_client client /ka/
conns=$(python3 -c "
import json,sys
ids={json.loads(l)['sluice.conn_id'] for l in open('$T/pairs.jsonl') if '\"/ka/' in l and '\"server\"' in l}
print(len(ids))")
[ "$conns" = 1 ] && pass keepalive_one_connection || fail keepalive_one_connection "$conns connections"

# HTTP/1.0 with close, HEAD, 404, POST with a body
in_cg curl -s -0 -H 'Connection: close' -o /dev/null "$U/h10/index.html"
in_cg curl -s -I -o /dev/null "$U/head/index.html"
in_cg curl -s -o /dev/null "$U/nf/nothing-here"
head -c 3000 /dev/urandom | base64 -w0 >"$T/body"
in_cg curl -s -o /dev/null --data-binary @"$T/body" "$U/post"
for c in h10 head nf post; do
	check_oracle "${c}_server" server "/$c"
	check_oracle "${c}_client" client "/$c"
done
body=$(stat -c %s "$T/body")
got=$(python3 -c "
import json
print([json.loads(l)['http.request.body.size'] for l in open('$T/pairs.jsonl') if '\"/post\"' in l and '\"server\"' in l])")
[ "$got" = "[$body]" ] && pass post_body_size || fail post_body_size "want [$body], got $got"

# 1 MiB static file: nginx sends the body with sendfile, which sluice counts
# without capturing it
in_cg curl -s -o "$T/big.out" "$U/big/file.bin"
check_oracle sendfile_server server /big/
check_oracle sendfile_client client /big/
got=$(python3 -c "
import json
print(sorted(json.loads(l)['http.response.body.size'] for l in open('$T/pairs.jsonl') if '/big/' in l))")
[ "$got" = "[1048576, 1048576]" ] && pass sendfile_body_size || fail sendfile_body_size "$got"

# 10 pipelined requests in one write, 10 responses read back
in_cg python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
reqs = b"".join(b"GET /pipe/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(9))
reqs += b"GET /pipe/last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
s.sendall(reqs)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
assert data.count(b"HTTP/1.1 404") == 10, data[:200]
PY
check_oracle pipelined_server server /pipe/
check_oracle pipelined_client client /pipe/
order=$(python3 -c "
import json
print(' '.join(json.loads(l)['url.path'].split('/')[-1] for l in open('$T/pairs.jsonl') if '/pipe/' in l and '\"server\"' in l))")
[ "$order" = "0 1 2 3 4 5 6 7 8 last" ] && pass pipelined_order || fail pipelined_order "$order"

# a short wrk run: every request nginx logged is a pair; wrk stops by
# closing its 4 connections, which may cut one request on each
in_cg wrk -t1 -c4 -d2s "$U/index.html" >"$T/wrk.out" 2>&1
check_oracle wrk_server server /index.html "$T/access.log" "$PORT" 4
finish

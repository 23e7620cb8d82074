#!/bin/bash
# Pairing against python's http.server (HTTP/1.0 responses, read until
# close), with the server's own request log as the oracle.
. "$(dirname "$0")/lib.sh"

make_cgroup
start_sluice
PORT=$(free_port)
mkdir -p "$T/www/py"
echo "from python" >"$T/www/py/index.html"
(cd "$T/www" && in_cg python3 -m http.server --bind 127.0.0.1 "$PORT" >"$T/py.log" 2>&1) &
PIDS+=($!)
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { fail start "http.server did not answer"; finish; }
for p in /py/index.html /py/missing /py/index.html?q=1 /py/; do
	in_cg curl -s -o /dev/null "http://127.0.0.1:$PORT$p"
done
in_cg curl -s -I -o /dev/null "http://127.0.0.1:$PORT/py/index.html"
# '127.0.0.1 - - [date] "GET /py/ HTTP/1.1" 200 -' -> 'GET /py/ 200'
sed -n 's/^.*"\([A-Z]*\) \([^ ]*\) HTTP\/1\.[01]" \([0-9]*\) .*$/\1 \2 \3/p' "$T/py.log" >"$T/py-access.log"
check_oracle python_server server /py/ "$T/py-access.log"
check_oracle python_client client /py/ "$T/py-access.log"
finish

#!/bin/bash
# `make run`: the loader (root) and the processor (as user nobody, group
# sluice, no capabilities) in the foreground, printing one line per HTTP
# request/response pair as it happens. Ctrl-C stops both; the loader
# detaches every probe on the way out.
#   make run                 human-readable lines
#   make run ARGS=--jsonl    JSON lines instead (ARGS go to the processor)
set -u
cd "$(dirname "$0")/.." || exit 1
B=build
RUN=/run/sluice
[ "$(id -u)" -eq 0 ] || { echo "make run: must run as root (the loader loads BPF programs)" >&2; exit 1; }
getent group sluice >/dev/null || groupadd --system sluice
mkdir -p "$RUN/processor"
chown nobody:sluice "$RUN/processor"
chmod 0750 "$RUN/processor"

args=()
for a in ${ARGS:-}; do
	if [ "$a" = --jsonl ]; then args+=(--jsonl -); else args+=("$a"); fi
done

# --no-pin: a foreground session leaves nothing attached behind it
"$B/sluice-loader" --socket "$RUN/loader.sock" --no-pin &
loader=$!
trap 'kill -TERM $loader $proc 2>/dev/null; wait' INT TERM
for _ in $(seq 100); do [ -S "$RUN/loader.sock" ] && break; sleep 0.1; done
[ -S "$RUN/loader.sock" ] || { echo "make run: the loader did not come up" >&2; exit 1; }
setpriv --reuid=nobody --regid=sluice --clear-groups --inh-caps=-all --bounding-set=-all \
	"$B/sluice-processor" --socket "$RUN/loader.sock" \
	--status "$RUN/processor/status.json" --state "$RUN/processor/state" "${args[@]}" &
proc=$!
echo "sluice: running; try 'curl http://example.com/' in another shell, '$B/sluicectl status' for counters, Ctrl-C to stop" >&2
wait $proc
kill -TERM $loader 2>/dev/null
wait $loader

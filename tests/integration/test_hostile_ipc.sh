#!/bin/bash
# Hostile input on the processor's one socket (issue: robustness). The
# processor dials the loader's socket, so whoever listens there feeds it.
# A real processor is pointed at tests/tools/evil_loader.c:
#   foreign_uid_refused  a "loader" running as nobody is refused before a
#                        byte of it is read, and counted (peers_refused)
#   loader_uid_accepted  ... unless --loader-uid names it
#   raw_junk_survived    a plain unix socket answering junk instead of the
#                        nng handshake: the processor keeps dialling
#   garbage_counted      noise, wrong versions, wrong shapes, truncated
#                        frames, 10000-deep nesting, a 4 GB declared
#                        length, replayed seqs, bad events among good ones,
#                        a message over the size limit: all counted in
#                        status.json and skipped; the processor stays up
#   pair_after_garbage   the valid request and response sent among and
#                        after all that still come out as one complete pair
. "$(dirname "$0")/lib.sh"

NOBODY=$(id -u nobody)

status() { # python expression over the status object d
	python3 -c "import json,sys; d=json.load(open('$T/status.json')); print($1)" 2>/dev/null
}

# Waits until the processor's status.json says expr is true.
wait_status() { # expr secs
	wait_for "$2" python3 -c "import json,sys; d=json.load(open('$T/status.json')); sys.exit(0 if ($1) else 1)"
}

stop_processor() {
	kill -TERM "$PROC_PID" 2>/dev/null
	wait "$PROC_PID" 2>/dev/null
	rm -f "$T/status.json"
}

cc -O1 -g -I"$TOP" -D_GNU_SOURCE -Wall -Wextra -Werror "$TOP/tests/tools/evil_loader.c" \
	"$TOP/tests/tools/wire_pack.c" "$TOP/common/wire.c" -o "$T/evil-loader" -lnng -lmsgpackc || exit 1
mkdir -m 0777 "$T/sock"

# A listener that is not root: refused, whatever it sends.
SOCK=$T/sock/foreign.sock
setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
	"$T/evil-loader" listen "$SOCK" 4 >"$T/foreign.out" 2>&1 &
PIDS+=($!)
FOREIGN=$!
wait_for 5 test -S "$SOCK"
start_processor
wait "$FOREIGN"
if wait_status "d['peers_refused'] >= 1 and d['frames'] == 0 and d['bad_frames'] == 0" 5 &&
	grep -q "no peer" "$T/foreign.out"; then
	pass "foreign_uid_refused ($(status "d['peers_refused']") connections refused)"
else
	fail foreign_uid_refused "$(cat "$T/foreign.out") $(status d)"
fi
stop_processor

# The same with --loader-uid naming it.
setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
	"$T/evil-loader" listen "$SOCK" 10 >"$T/foreign.out" 2>&1 &
PIDS+=($!)
FOREIGN=$!
wait_for 5 test -S "$SOCK"
start_processor --loader-uid "$NOBODY"
wait "$FOREIGN"
if grep -q "peer acked" "$T/foreign.out" && wait_status "d['frames'] == 1" 5; then
	pass loader_uid_accepted
else
	fail loader_uid_accepted "$(cat "$T/foreign.out") $(status d)"
fi
stop_processor
rm -f "$T/processor.state" "$T/processor.state.log"

# Junk before any nng, then every kind of bad frame from a root "loader".
SOCK=$T/sock/loader.sock
"$T/evil-loader" raw "$SOCK" 3 >"$T/raw.out" 2>&1 &
PIDS+=($!)
RAW=$!
wait_for 5 test -S "$SOCK"
start_processor
if wait_for 20 grep -q junked "$T/raw.out" && kill -0 "$PROC_PID" 2>/dev/null &&
	wait_status "d['frames'] == 0" 5; then
	pass raw_junk_survived
else
	fail raw_junk_survived "$(cat "$T/raw.out") $(status d)"
fi
wait "$RAW"
"$T/evil-loader" garbage "$SOCK" >"$T/garbage.out" 2>&1 &
PIDS+=($!)
GARBAGE=$!
wait "$GARBAGE"
sed 's/^/evil-loader: /' "$T/garbage.out"
status "json.dumps({k: d[k] for k in ('frames', 'bad_frames', 'replayed_frames', 'events', 'bad_events', 'pairs', 'peers_refused')})" |
	sed 's/^/status: /'
sent_frames=$(awk '/^sent [0-9]+ bad frames$/ { print $2 }' "$T/garbage.out")
sent_events=$(awk '/^sent [0-9]+ bad events$/ { print $2 }' "$T/garbage.out")
if kill -0 "$PROC_PID" 2>/dev/null && grep -q "acked 131" "$T/garbage.out" &&
	wait_status "d['bad_frames'] >= ${sent_frames:-99} and d['replayed_frames'] >= 2 and \
		d['bad_events'] >= ${sent_events:-99} + 2 and d['done_seq'] == 131" 5; then
	pass garbage_counted
else
	fail garbage_counted "$(status d)"
fi
if wait_for 5 grep -q '"/hostile/ok"' "$T/pairs.jsonl" && python3 - "$T/pairs.jsonl" <<'PY'; then
import json, sys
p = [json.loads(l) for l in open(sys.argv[1]) if '"/hostile/ok"' in l]
sys.exit(0 if len(p) == 1 and p[0]["sluice.complete"] and p[0]["http.response.status_code"] == 200 else 1)
PY
	pass pair_after_garbage
else
	fail pair_after_garbage "$(cat "$T/pairs.jsonl" 2>/dev/null | head -c 600)"
fi
finish

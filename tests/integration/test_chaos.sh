#!/bin/bash
# Chaos (issue: robustness): kill -9 at random moments under steady load,
# with nginx's access log as the oracle and the metadata store on.
#  - the processor, 20 times (0.5 to 2.5 s apart, at random): after each,
#    the loader takes the new processor and forwards again, the store's
#    sqlite file passes PRAGMA integrity_check, every request nginx logged
#    so far comes out as a complete pair (0 lost), and what one kill
#    repeats stays within one checkpoint window (README "Restarts": 0.5 s
#    of batches; here RATE/2 requests plus slack);
#  - the loader, 3 times (it pins its probes): while it is down and after
#    it is back the probes stay attached with the same link count, and
#    every request made after it is back pairs. What its unacked spool
#    held dies with it (documented: the spool is memory): counted, printed.
# CHAOS_SEED makes the moments repeatable; the seed is printed.
. "$(dirname "$0")/lib.sh"

TOOLS=$TOP/tests/tools
ROUNDS=${CHAOS_ROUNDS:-20}
LOADER_ROUNDS=${CHAOS_LOADER_ROUNDS:-3}
RATE=100
DUP_BOUND=$((RATE / 2 + 25))
SEED=${CHAOS_SEED:-$$}
RANDOM=$SEED
echo "chaos: seed $SEED, $ROUNDS processor kills, $LOADER_ROUNDS loader kills, $RATE req/s"

pairs_check() { # log [--since oldlog]: the oracle's line; fails while any is missing
	python3 "$TOOLS/chaos_pairs.py" "$T/pairs.jsonl" "$PORT" /c/ "$@"
}
field() { # name line
	echo "$2" | grep -o "$1=[0-9]*" | cut -d= -f2
}
connects() { # times a processor connected to a loader
	grep -c "processor connected" "$T/loader.log"
}
integrity() {
	sqlite3 -cmd ".timeout 5000" "$T/meta.db" "PRAGMA integrity_check" 2>&1 | head -3
}
links() {
	python3 "$TOOLS/loader_links.py" "$PIN"
}
nap() { # a random moment: 0.5 to 2.4 s
	local r=$((RANDOM % 20 + 5))
	sleep "$((r / 10)).$((r % 10))"
}
snap() { # a copy of the access log as it is now
	cp "$T/access.log" "$T/$1"
}

make_cgroup
start_nginx
start_sluice
in_cg python3 "$TOOLS/rate_client.py" "127.0.0.1:$PORT" /c/ "$RATE" 1 --per-conn 20 \
	--until "$T/stop" >"$T/rate.out" 2>&1 &
PIDS+=($!)
RATE_PID=$!
sleep 2

# --- the processor -------------------------------------------------------
bad=0 dups_prev=0 worst=0
for round in $(seq "$ROUNDS"); do
	nap
	c0=$(connects)
	kill -KILL "$PROC_PID"
	wait "$PROC_PID" 2>/dev/null
	start_processor
	why=""
	wait_for 10 sh -c "[ \$(grep -c 'processor connected' '$T/loader.log') -gt $c0 ]" ||
		why="the loader did not take the new processor;"
	sleep 0.5
	snap after # holds requests made since the restart: they must pair too
	wait_for 15 pairs_check "$T/after"
	line=$(pairs_check "$T/after") || why="$why lost: $line;"
	dups=$(field duplicated "$line")
	[ $((dups - dups_prev)) -gt "$worst" ] && worst=$((dups - dups_prev))
	[ $((dups - dups_prev)) -le "$DUP_BOUND" ] ||
		why="$why $((dups - dups_prev)) repeated, more than one checkpoint window ($DUP_BOUND);"
	[ "$(integrity)" = ok ] || why="$why sqlite: $(integrity);"
	echo "round $round: $line${why:+ -- $why}"
	[ -n "$why" ] && bad=$((bad + 1))
	dups_prev=$dups
done
if [ "$bad" = 0 ]; then
	pass "processor_kill9 ($ROUNDS kills: 0 lost, at most $worst repeated by one, sqlite ok)"
else
	fail processor_kill9 "$bad of $ROUNDS rounds broke an invariant (see above)"
fi

# --- the loader ----------------------------------------------------------
links0=$(links)
bad=0 lost=0
for round in $(seq "$LOADER_ROUNDS"); do
	nap
	snap before_kill
	kill -KILL "$LOADER_PID"
	wait "$LOADER_PID" 2>/dev/null
	why=""
	sleep 1 # meanwhile the probes go on writing into the pinned ring buffer
	down=$(links)
	[ "$down" = "$links0" ] || why="$down links while down, want $links0;"
	c0=$(connects)
	snap at_restart
	"$BIN/sluice-loader" --socket "$SOCK" --cgroup "$CG" --pin-dir "$PIN" >>"$T/loader.log" 2>&1 &
	LOADER_PID=$!
	PIDS+=($!)
	wait_for 20 sh -c "[ \$(grep -c 'processor connected' '$T/loader.log') -gt $c0 ]" ||
		why="$why the processor did not reconnect;"
	[ "$(links)" = "$links0" ] || why="$why $(links) links after the restart, want $links0;"
	sleep 1.5
	snap after
	wait_for 15 pairs_check "$T/after" --since "$T/at_restart"
	line=$(pairs_check "$T/after" --since "$T/at_restart") || why="$why after the restart: $line;"
	gone=$(field missing "$(pairs_check "$T/at_restart" --since "$T/before_kill")")
	lost=$((lost + gone))
	[ "$(integrity)" = ok ] || why="$why sqlite: $(integrity);"
	echo "loader round $round: links $links0 -> $down -> $(links); after the restart $line;" \
		"lost with the dead loader's spool: $gone${why:+ -- $why}"
	[ -n "$why" ] && bad=$((bad + 1))
done
if [ "$bad" = 0 ]; then
	pass "loader_kill9 ($LOADER_ROUNDS kills: $links0 links throughout, forwarding resumed; $lost requests lost with the spools)"
else
	fail loader_kill9 "$bad of $LOADER_ROUNDS rounds broke an invariant (see above)"
fi

touch "$T/stop"
wait "$RATE_PID"
echo "client: $(cat "$T/rate.out")"
[ "$(integrity)" = ok ] && kill -0 "$PROC_PID" && kill -0 "$LOADER_PID" &&
	pass "still_running (sqlite integrity ok)" || fail still_running "sqlite: $(integrity)"
finish

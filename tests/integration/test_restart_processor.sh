#!/bin/bash
# Restarting the processor under steady traffic, nginx's access log as the
# oracle (server-side pairs: METHOD URI STATUS), the loader pinned and
# running throughout:
#  - 5 graceful restarts (SIGTERM, start again): 0 pairs lost, 0 duplicated;
#  - 5 kill -9 and start again: 0 lost; duplicates are allowed (at most what
#    the last checkpoint did not cover is replayed) and printed.
# Depends on the processor's checkpoint (--state): it acks a batch only
# once a checkpoint covers it, and the loader resends whatever is unacked.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/tools/loader_test_lib.sh"

make_cgroup
start_nginx
start_sluice
U=127.0.0.1:$PORT

restart_during() { # signal prefix: 5 restarts while 100 req/s flow for ~14 s
	in_cg python3 "$TOOLS/rate_client.py" "$U" "$2" 100 14 --per-conn 25 >"$T/rate-$1.out" &
	local rate=$! i
	for i in 1 2 3 4 5; do
		sleep 2.3
		kill -"$1" "$PROC_PID"
		wait "$PROC_PID" 2>/dev/null
		sleep 0.3
		start_processor
	done
	wait $rate
}

compare() { # name prefix allow_dups
	local n out
	n=$(log_count "$2")
	if [ "$n" -lt 1000 ]; then
		fail "$1" "only $n requests in the access log"
		return
	fi
	# wait until every logged request has a pair, or 20 s
	wait_for 20 python3 "$TOOLS/pairs_vs_log.py" "$T/pairs.jsonl" "$PORT" "$T/access.log" "$2"
	out=$(python3 "$TOOLS/pairs_vs_log.py" "$T/pairs.jsonl" "$PORT" "$T/access.log" "$2" --list)
	echo "$1: $(echo "$out" | head -1)"
	case "$(echo "$out" | head -1)" in
	*" missing=0 duplicated=0 "*) pass "$1" ;;
	*" missing=0 "*) [ "$3" = dups_ok ] && pass "$1" || fail "$1" "$(echo "$out" | head -6)" ;;
	*) fail "$1" "$(echo "$out" | head -6)" ;;
	esac
}

restart_during TERM /g/
compare graceful_restarts_lose_and_repeat_nothing /g/ no_dups
restart_during KILL /k/
compare kill9_restarts_lose_nothing /k/ dups_ok
grep -q "reusing\|attached" "$T/loader.log" && kill -0 "$LOADER_PID" && pass loader_ran_throughout ||
	fail loader_ran_throughout "$(tail -3 "$T/loader.log")"
finish

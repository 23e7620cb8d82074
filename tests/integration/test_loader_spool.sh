#!/bin/bash
# The spool under a stopped consumer: wire-dump (standing in for the
# processor) is SIGSTOPped while wrk floods nginx, until the loader's 1 MiB
# spool overflows; then it is continued and the loader stopped.
#  - every record the loader read is either delivered (once) or counted as
#    dropped, and the drop count reached the consumer in a LOSS event:
#      read by the loader = delivered + spool drops;
#  - the loader's memory stays flat while it drops (RSS sampled during the
#    flood, after the spool filled);
#  - the loader kept running, and resumed forwarding when the consumer did.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/tools/loader_test_lib.sh"

make_cgroup
start_nginx
start_loader --spool-bytes 1M
start_dump
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$LOADER_PID/status"; }
base=$(rss)
kill -STOP "$DUMP_PID"
in_cg wrk -t2 -c20 -d8s "http://127.0.0.1:$PORT/index.html" >"$T/wrk.out" 2>&1 &
WRK=$!
sleep 3 # the spool is full well before this
samples=()
for _ in $(seq 8); do samples+=("$(rss)"); sleep 0.5; done
wait $WRK
kill -CONT "$DUMP_PID"
in_cg python3 "$TOOLS/rate_client.py" "127.0.0.1:$PORT" /after/ 50 2 >/dev/null
check_delivered forwards_after_consumer_resumes /after/
stop_loader TERM
kill -TERM "$DUMP_PID"
wait "$DUMP_PID" 2>/dev/null

summary=$(grep "exiting:" "$T/loader.log" | tail -1)
read_n=$(echo "$summary" | grep -oE 'exiting: [0-9]+ events' | grep -oE '[0-9]+')
dropped=$(echo "$summary" | grep -oE 'dropped \([0-9]+ events' | grep -oE '[0-9]+')
counts=$(python3 "$TOOLS/dump_count.py" "$T/dump.txt")
delivered=$(echo "$counts" | grep -oE 'delivered=[0-9]+' | cut -d= -f2)
reported=$(echo "$counts" | grep -oE 'loss\.7=[0-9]+' | cut -d= -f2)
echo "loader: $summary"
echo "consumer: $counts"
echo "rss kB: base $base, during drops ${samples[*]}"

[ "${dropped:-0}" -gt 0 ] && pass spool_overflowed || fail spool_overflowed "no drops: $summary"
[ -n "$read_n" ] && [ "$read_n" = "$((delivered + dropped))" ] && pass read_equals_delivered_plus_dropped ||
	fail read_equals_delivered_plus_dropped "read $read_n, delivered $delivered, dropped $dropped"
[ "${reported:-x}" = "$dropped" ] && pass drops_reported_to_consumer ||
	fail drops_reported_to_consumer "LOSS spool_events=$reported, loader dropped $dropped"
lo=$(printf '%s\n' "${samples[@]}" | sort -n | head -1)
hi=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
# flat: within 4 MiB while dropping, and under base + spool + 16 MiB of slack
[ $((hi - lo)) -le 4096 ] && [ "$hi" -le $((base + 1024 + 16384)) ] && pass rss_flat_while_dropping ||
	fail rss_flat_while_dropping "base $base kB, samples ${samples[*]}"
grep -q "0 batches unacked at exit" "$T/loader.log" && pass nothing_unacked_at_exit ||
	fail nothing_unacked_at_exit "$summary"
finish

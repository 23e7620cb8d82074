#!/bin/bash
# Pinned probes, with steady traffic to a real nginx and its access log as
# the oracle, wire-dump standing in for the processor:
#  - restart: SIGTERM the loader mid-run, leave it down 2 s, start it again.
#    Probes stay attached while it is down, the new loader adopts them (our
#    link count never changes), every request nginx logged reaches the
#    consumer exactly once;
#  - upgrade: a different load-time config replaces the programs in place of
#    the old ones (same link count), keeps the pinned maps (conn_ids go on
#    growing), and a different ring size replaces the ring (said in the log)
#    and drains the old one, all without a libbpf "couldn't reuse" failure;
#  - --unload while a loader runs is refused; afterwards it detaches and
#    removes exactly what sluice pinned: another pinned object survives.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/tools/loader_test_lib.sh"

make_cgroup
start_nginx
start_loader
start_dump
U=127.0.0.1:$PORT
nprogs=$(ls "$PIN/links" | wc -l) # one pinned link per program
[ "$(our_links)" = "$nprogs" ] && pass links_attached || fail links_attached "$(our_links) != $nprogs"

# --- restart while traffic flows --------------------------------------
in_cg python3 "$TOOLS/rate_client.py" "$U" /r/ 200 7 >"$T/rate1.out" &
RATE=$!
sleep 2
stop_loader TERM
down=$(our_links)
sleep 2
start_loader
wait $RATE
[ "$down" = "$nprogs" ] && pass probes_stay_attached_while_down ||
	fail probes_stay_attached_while_down "links while down: $down, want $nprogs"
grep -q "reusing the probes pinned in $PIN" "$T/loader.log" && pass restart_adopts_pins ||
	fail restart_adopts_pins "$(tail -5 "$T/loader.log")"
[ "$(our_links)" = "$nprogs" ] && pass restart_link_count_unchanged ||
	fail restart_link_count_unchanged "$(our_links) links, want $nprogs"
check_delivered restart_every_request_once /r/

# --- upgrade: another config replaces programs, keeps maps ---------------
conn_ids() { # the conn_ids seen so far, highest last
	grep -oE '^CONN_OPEN .* conn=[0-9]+' "$T/dump.txt" | grep -oE '[0-9]+$' | sort -n
}
before=$(conn_ids | tail -1)
stop_loader TERM
start_loader --capture-bytes 2048
in_cg python3 "$TOOLS/rate_client.py" "$U" /u/ 100 2 >"$T/rate2.out"
grep -q "from another object or config: replacing the programs" "$T/loader.log" &&
	pass upgrade_replaces_programs || fail upgrade_replaces_programs "$(tail -5 "$T/loader.log")"
[ "$(our_links)" = "$nprogs" ] && pass upgrade_link_count_unchanged ||
	fail upgrade_link_count_unchanged "$(our_links) links, want $nprogs"
check_delivered upgrade_every_request_once /u/
after=$(conn_ids | awk -v b="$before" '$1 > b' | wc -l)
[ -n "$before" ] && [ "$after" -gt 0 ] && [ "$(conn_ids | uniq -d | wc -l)" = 0 ] &&
	pass conn_ids_continue || fail conn_ids_continue "before $before, newer $after"

# a different ring size: the ring is replaced, the old one drained first
stop_loader TERM
in_cg python3 "$TOOLS/rate_client.py" "$U" /g/ 100 1 >"$T/rate3.out" # loader down
start_loader --capture-bytes 2048 --ringbuf-bytes 8M
in_cg python3 "$TOOLS/rate_client.py" "$U" /h/ 100 1 >"$T/rate4.out"
grep -q "pinned map rb has another layout: replacing it" "$T/loader.log" &&
	pass upgrade_ring_replaced_clearly || fail upgrade_ring_replaced_clearly "$(tail -5 "$T/loader.log")"
check_delivered upgrade_old_ring_drained /g/
check_delivered upgrade_new_ring_used /h/
if grep -qiE "couldn't reuse|failed to load|fatal" "$T/loader.log"; then
	fail no_libbpf_reuse_failure "$(grep -iE "couldn't reuse|failed|fatal" "$T/loader.log" | head -3)"
else
	pass no_libbpf_reuse_failure
fi

# --- --unload: refused while running, then exactly ours ---------------
bpftool map create "/sys/fs/bpf/sluice-decoy-$$" type array key 4 value 4 entries 1 name decoy
ids=$(python3 "$TOOLS/loader_links.py" "$PIN" --ids)
if "$B/sluice-loader" --unload --pin-dir "$PIN" >"$T/unload1.log" 2>&1; then
	fail unload_refused_while_running "$(cat "$T/unload1.log")"
else
	grep -q "in use by another sluice-loader" "$T/unload1.log" && pass unload_refused_while_running ||
		fail unload_refused_while_running "$(cat "$T/unload1.log")"
fi
stop_loader TERM
"$B/sluice-loader" --unload --pin-dir "$PIN" >"$T/unload2.log" 2>&1
left=0
for id in $ids; do bpftool link show id "$id" >/dev/null 2>&1 && left=$((left + 1)); done
[ ! -e "$PIN" ] && [ "$left" = 0 ] && pass unload_detaches_and_removes ||
	fail unload_detaches_and_removes "$left links left; $(ls -R "$PIN" 2>&1 | head -5)"
[ -e "/sys/fs/bpf/sluice-decoy-$$" ] && pass unload_leaves_others_alone ||
	fail unload_leaves_others_alone "the decoy pin is gone"
rm -f "/sys/fs/bpf/sluice-decoy-$$"
finish

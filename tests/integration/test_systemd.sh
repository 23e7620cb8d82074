#!/bin/bash
# sluice as its users run it, under a real systemd (PID 1 of a private
# namespace, see systemd/lib.sh and boot.sh): the README's "Install as a
# service" commands (make install, systemctl enable --now), both units
# active (running) through READY=1, then with real nginx, curl and wrk:
#  - pairs against nginx's access log; the sqlite store read as group sluice;
#  - `systemctl restart sluice-processor`, then `systemctl restart
#    sluice-loader`, each in the middle of a steady wrk run: 0 pairs lost or
#    repeated; the loader adopts its pinned probes (same links);
#  - the processor's sandbox from the inside: CapEff 0, bpf() refused,
#    /sys/fs/bpf not there; SIGSTOP past WatchdogSec: systemd restarts it;
#  - both units pass `systemd-analyze verify` and score <= 1.5 with
#    `systemd-analyze security`; `make uninstall` takes everything back out.
. "$(dirname "$0")/lib.sh"

for tool in unshare nsenter /lib/systemd/systemd wrk nginx sqlite3 bpftool; do
	if ! command -v "$tool" >/dev/null; then skip all "$tool is missing"; exit 0; fi
done
. "$TOP/tests/integration/systemd/lib.sh"

UNITS="sluice-loader sluice-processor"
journal() { sd journalctl --no-pager -n "${2:-25}" -u "$1" | tail -c 2500; }
prop() { sd systemctl show -P "$2" "$1"; }
in_sd() { sd systemd-run --scope --quiet "$@"; } # in the namespace's cgroups: traced

sd_boot
# A fresh machine as far as sluice goes: hide whatever the host has (the
# overlays turn these into whiteouts; the host keeps its files).
sd rm -rf /var/lib/sluice /var/log/sluice /etc/sluice /run/sluice /usr/local/lib/systemd/system/sluice-*

# --- install: the README's commands ------------------------------------
if sd make -s -C "$TOP" B="$B" install >"$T/install.log" 2>&1; then
	pass make_install
else
	fail make_install "$(tail -20 "$T/install.log")"
fi
sd getent passwd sluice >/dev/null && pass sysusers_user || fail sysusers_user "no user sluice"
# Its systemd shares the kernel with the host: trace this machine only.
sd sh -c 'echo "SLUICE_LOADER_ARGS=\"--cgroup /sys/fs/cgroup\"" >>/etc/sluice/loader.env'
if sd systemctl enable --now $UNITS >"$T/enable.log" 2>&1; then
	# Type=notify: "active (running)" only after READY=1
	sd systemctl status --no-pager $UNITS >"$T/status.txt" 2>&1
	n=$(grep -c "Active: active (running)" "$T/status.txt")
	types="$(prop sluice-loader Type) $(prop sluice-processor Type)"
	[ "$n" = 2 ] && [ "$types" = "notify notify" ] && pass enable_now_ready ||
		fail enable_now_ready "$types; $(grep -E "Active:|Status:" "$T/status.txt")"
else
	fail enable_now_ready "$(cat "$T/enable.log"; journal sluice-loader; journal sluice-processor)"
fi

# --- the units themselves -------------------------------------------
out=$(sd systemd-analyze verify sluice-loader.service sluice-processor.service 2>&1)
[ $? = 0 ] && [ -z "$out" ] && pass units_verify_clean || fail units_verify_clean "$out"
for u in $UNITS; do
	out=$(sd systemd-analyze security --offline=true --threshold=15 $u.service 2>&1)
	rc=$?
	echo "$out" | grep -E "✗|Overall" >"$T/security-$u.txt"
	score=$(echo "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	[ $rc = 0 ] && [ -n "$score" ] && pass "security_${u#sluice-}_$score" ||
		fail "security_${u#sluice-}" "rc $rc: $(cat "$T/security-$u.txt")"
done

# --- traffic: nginx and curl inside, access log as the oracle -----------
PORT=8080 # on the namespace's own loopback
mkdir -p "$SD_SHARE/www" "$SD_SHARE/tmp"
echo "hello from sluice under systemd" >"$SD_SHARE/www/index.html"
sed -e "s|@PORT@|$PORT|" "$TOP/tests/integration/systemd/nginx.conf" >"$SD_SHARE/nginx.conf"
sd systemd-run --quiet --unit=test-nginx /usr/sbin/nginx -c /run/sluice-test/nginx.conf
wait_for 10 sd curl -s -o /dev/null "http://127.0.0.1:$PORT/ready" || fail nginx "did not answer"
ln -s "$SD_ROOT/var/log/sluice/pairs.jsonl" "$T/pairs.jsonl"
LOG=$SD_SHARE/access.log
U=http://127.0.0.1:$PORT
in_sd curl -s -o /dev/null -o /dev/null -o /dev/null "$U/c/1" "$U/c/2?x=1" "$U/index.html?c=3"
in_sd curl -s -o /dev/null -X POST --data-binary "body" "$U/c/post"
check_oracle curl_server server /c/ "$LOG" "$PORT"
check_oracle curl_client client /c/ "$LOG" "$PORT"

# the store, read as a member of group sluice while the processor writes it
as_sluice_group() { sd setpriv --reuid=nobody --regid=sluice --clear-groups "$@"; }
store_has() { # query, line it must print
	out=$(as_sluice_group sqlite3 -readonly /var/lib/sluice/meta.db "$1" 2>&1)
	echo "$out" | grep -qE "$2"
}
wait_for 10 store_has "SELECT comm, port FROM v_listening WHERE alive" "^nginx\|$PORT\$" &&
	store_has "SELECT comm, requests FROM v_requests_per_process" "^nginx\|[1-9]" &&
	pass store_read_as_group_sluice || fail store_read_as_group_sluice "$out"
echo "$out" | sed 's/^/  /'
out=$(sd setpriv --reuid=nobody --regid=nogroup --clear-groups sqlite3 -readonly \
	/var/lib/sluice/meta.db "SELECT 1" 2>&1)
[ "$out" != 1 ] && pass store_closed_to_others || fail store_closed_to_others "nobody:nogroup read it"
out=$(as_sluice_group sluicectl status 2>&1)
echo "$out" | grep -qi "pairs" && pass sluicectl_status_as_group_sluice ||
	fail sluicectl_status_as_group_sluice "$out"

# --- restarts in the middle of a steady wrk run ------------------------
steady() { # prefix: 8 s of wrk, 2 connections, a request every 5 ms on each
	in_sd wrk -t1 -c2 -d8s -s "$TOP/tests/integration/systemd/steady.lua" "$U$1" >"$T/wrk$2.out" 2>&1
}
link_ids() { sd sh -c 'ls /sys/fs/bpf/sluice/links' | tr '\n' ' '; }
sd_record_links
links_before=$(link_ids)

steady /pr/ 1 &
sleep 3
sd systemctl restart sluice-processor || fail processor_restart "$(journal sluice-processor)"
wait $!
check_oracle processor_restart_server_lossless server /pr/ "$LOG" "$PORT" 2
check_oracle processor_restart_client_lossless client /pr/ "$LOG" "$PORT" 2
echo "  /pr/: $(log_count /pr/ "$LOG") requests in nginx's log; $(tail -1 "$T/diff.txt")"
sd test -S /run/sluice/loader.sock && pass socket_survives_processor_restart ||
	fail socket_survives_processor_restart "$(sd ls -la /run/sluice)"

since=$(sd date '+%Y-%m-%d %H:%M:%S')
steady /lr/ 2 &
sleep 3
sd systemctl restart sluice-loader || fail loader_restart "$(journal sluice-loader)"
wait $!
check_oracle loader_restart_server_lossless server /lr/ "$LOG" "$PORT" 2
check_oracle loader_restart_client_lossless client /lr/ "$LOG" "$PORT" 2
echo "  /lr/: $(log_count /lr/ "$LOG") requests in nginx's log; $(tail -1 "$T/diff.txt")"
sd journalctl --no-pager -u sluice-loader --since "$since" | grep -q "reusing the probes pinned" &&
	[ "$(link_ids)" = "$links_before" ] && pass loader_restart_keeps_probes ||
	fail loader_restart_keeps_probes "links before: $links_before after: $(link_ids); $(journal sluice-loader 8)"
sd test -f /run/sluice/processor/status.json && pass run_dir_survives_loader_restart ||
	fail run_dir_survives_loader_restart "$(sd ls -laR /run/sluice)"
[ "$(prop sluice-processor SubState)" = running ] && pass processor_rides_loader_restart ||
	fail processor_rides_loader_restart "$(journal sluice-processor)"

# --- the processor's sandbox, seen from inside ---------------------------
P=$(prop sluice-processor MainPID)
L=$(prop sluice-loader MainPID)
if [ "${P:-0}" -le 1 ] || [ "${L:-0}" -le 1 ]; then
	# what follows signals these pids: never 0 (our own process group)
	fail daemons_running "main pids: processor '$P', loader '$L'; $(journal sluice-processor 10)"
	finish
fi
status=$(sd cat "/proc/$P/status")
caps=$(echo "$status" | awk '/^Cap(Eff|Prm|Bnd|Amb):/ {printf "%s=%s ", $1, $2}')
[ "$caps" = "CapPrm:=0000000000000000 CapEff:=0000000000000000 CapBnd:=0000000000000000 CapAmb:=0000000000000000 " ] &&
	echo "$status" | grep -qE '^NoNewPrivs:\s+1' && echo "$status" | grep -qE '^Seccomp:\s+2' &&
	pass processor_no_capabilities || fail processor_no_capabilities "$caps"
line=$(sd journalctl --no-pager -u sluice-processor -o cat | grep "sandbox check" | tail -1)
echo "$line" | grep -q "bpf() refused: Operation not permitted" && pass processor_bpf_refused ||
	fail processor_bpf_refused "${line:-no sandbox check line}"
echo "$line" | sed 's/^/  /'
filter=$(prop sluice-processor SystemCallFilter)
case " ${filter#\~} " in
*" bpf "*) [ "${filter#\~}" != "$filter" ] && pass processor_filter_denies_bpf ||
	fail processor_filter_denies_bpf "bpf in the allow-list" ;;
*) [ "${filter#\~}" = "$filter" ] && pass processor_filter_denies_bpf ||
	fail processor_filter_denies_bpf "deny-list without bpf" ;;
esac
# the loader's view has the pins; the processor's /sys/fs/bpf is an empty,
# mode-000 stand-in that its user cannot even list
fs=$(sd nsenter -t "$P" -m -- stat -f -c %T /sys/fs/bpf)
mode=$(sd nsenter -t "$P" -m -- stat -c %a /sys/fs/bpf)
ls_out=$(sd nsenter -t "$P" -m -- setpriv --reuid=sluice --regid=sluice --clear-groups \
	--inh-caps=-all --bounding-set=-all ls /sys/fs/bpf 2>&1)
[ "$fs" != bpf_fs ] && [ "$mode" = 0 ] && echo "$ls_out" | grep -q "Permission denied" &&
	sd test -d /sys/fs/bpf/sluice && pass processor_cannot_see_bpffs ||
	fail processor_cannot_see_bpffs "fs $fs mode $mode: $ls_out"
for pid in $L $P; do
	sd awk -v p="$pid" '/^(Name|VmRSS|Threads):/ {printf "%s %s ", $2, $3} END {print "(pid " p ")"}' "/proc/$pid/status" | sed 's/^/  /'
done
# After set-up the loader has no capability left, in a bounding set that is
# exactly the unit's CapabilityBoundingSet= (names to bits from the kernel's
# header).
bnd=$(prop sluice-loader CapabilityBoundingSet)
want=$(python3 -c '
import re, sys
bits = {m[0].lower(): int(m[1]) for m in
        re.findall(r"#define\s+(CAP_\w+)\s+(\d+)", open("/usr/include/linux/capability.h").read())}
print("%016x" % sum(1 << bits[n] for n in sys.argv[1:]))' $bnd)
lcaps=$(sd cat "/proc/$L/status" | awk '/^Cap(Eff|Bnd):/ {printf "%s=%s ", $1, $2}')
[ "$lcaps" = "CapEff:=0000000000000000 CapBnd:=$want " ] && pass "loader_caps_dropped_after_setup_bounded_to_${bnd// /,}" ||
	fail loader_caps_dropped_after_setup "$lcaps, want CapBnd $want ($bnd)"

# --- watchdog: a stopped processor is restarted --------------------------
n0=$(prop sluice-processor NRestarts)
wd=$(prop sluice-processor WatchdogUSec)
P=$(prop sluice-processor MainPID)
[ "${P:-0}" -gt 1 ] && sd kill -STOP "$P"
restarted() { [ "$(prop sluice-processor NRestarts)" -gt "$n0" ]; }
if wait_for 60 restarted &&
	sd_wait_active sluice-processor 30; then
	pass "watchdog_restarts_stopped_processor_$wd"
else
	fail watchdog_restarts_stopped_processor "$(journal sluice-processor)"
fi
sd journalctl --no-pager -u sluice-processor | grep -E "Watchdog timeout|Scheduled restart" | sed 's/^/  /'
in_sd curl -s -o /dev/null "$U/w/after-watchdog"
check_oracle pairs_after_watchdog_restart server /w/ "$LOG" "$PORT"

# --- uninstall ------------------------------------------------------------
sd systemctl stop test-nginx
sd make -s -C "$TOP" B="$B" uninstall >"$T/uninstall.log" 2>&1
left=$(sd sh -c 'ls /usr/local/sbin/sluice-* /usr/local/bin/sluicectl /usr/local/lib/systemd/system/sluice-* \
	/usr/local/lib/sysusers.d/sluice.conf /usr/local/lib/tmpfiles.d/sluice.conf /usr/local/share/sluice \
	/usr/local/lib/sluice /sys/fs/bpf/sluice 2>/dev/null')
# loader.env was changed above: uninstall keeps it and says so
[ -z "$left" ] && grep -q "keep .*loader.env (changed" "$T/uninstall.log" && pass make_uninstall ||
	fail make_uninstall "left: $left; $(tail -5 "$T/uninstall.log")"
sd_shutdown
finish

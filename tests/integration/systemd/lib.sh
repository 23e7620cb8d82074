# A real systemd for a test: PID 1 of its own pid, mount, cgroup, uts, ipc
# and network namespaces (boot.sh says what it gets and why the host stays
# untouched). Source after ../lib.sh.
#   sd_boot            start it; SDPID is its PID 1 as the host sees it
#   sd CMD...          run CMD inside (systemctl, journalctl, make install)
#   sd_wait_active U   wait until unit U is active (running)
#   SD_ROOT            its / seen from the host; SD_SHARE is its /run/sluice-test
# The EXIT trap kills it with SIGKILL, checks that the BPF links it made went
# with it, and removes its cgroup; then ../lib.sh's cleanup runs.
SDPID=""
SD_CG=""
SD_S=$T/sd
SD_SHARE=$SD_S/share
SD_LINKS=""

sd() {
	nsenter -t "$SDPID" -m -p -u -i -n -C --wd=/ -- "$@"
}

sd_boot() {
	local root pid i
	root=$(cgroup2_root) || { echo "no cgroup v2 hierarchy mounted" >&2; exit 1; }
	SD_CG=$root/sluice-systemd-$$
	mkdir -p "$SD_CG" "$SD_SHARE"
	chmod 0755 "$SD_S" "$SD_SHARE"
	# the cgroup namespace is rooted where unshare runs: move there first
	sh -c 'echo $$ >"$1/cgroup.procs" && exec unshare --pid --mount --cgroup --uts --ipc \
		--net --fork --mount-proc "$2" "$3" "$4"' sh "$SD_CG" "$TOP/tests/integration/systemd/boot.sh" \
		"$SD_S" "$TOP" >"$SD_S/boot.log" 2>&1 &
	pid=$!
	for i in $(seq 50); do
		SDPID=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
		[ -n "$SDPID" ] && break
		sleep 0.1
	done
	[ -n "$SDPID" ] || { cat "$SD_S/boot.log"; echo "unshare did not start" >&2; exit 1; }
	echo "$pid" >"$root/cgroup.procs" # only the namespace stays in SD_CG
	SD_ROOT=/proc/$SDPID/root
	# PID 1 is systemd once it answers on its private bus
	wait_for 60 sd systemctl is-system-running --wait ||
		{ sd systemctl is-system-running; sd systemctl --failed --no-pager; cat "$SD_S/boot.log"; }
}

sd_wait_active() { # unit [secs]
	local unit=$1
	sd_running() { [ "$(sd systemctl show -P SubState "$unit")" = running ]; }
	wait_for "${2:-30}" sd_running
}

# Global ids of the BPF links pinned in the namespace's bpffs, for the
# cleanup check.
sd_record_links() {
	SD_LINKS=$(sd sh -c 'for f in /sys/fs/bpf/sluice/links/*; do bpftool link show pinned "$f" -j; done' \
		2>/dev/null | python3 -c 'import json,sys; print(" ".join(str(json.loads(l).get("id", "")) for l in sys.stdin if l.strip()))')
}

# Kills the namespace (its PID 1 first: the kernel takes every process in it
# along), removes its cgroups, and checks that the links the loader pinned
# in the namespace's own bpffs went with it.
sd_shutdown() {
	local id left=""
	[ -n "$SDPID" ] || return 0
	kill -KILL "$SDPID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SDPID" 2>/dev/null || break; sleep 0.1; done
	SDPID=""
	for _ in $(seq 30); do
		[ -d "$SD_CG" ] || break
		find "$SD_CG" -depth -type d -exec rmdir {} + 2>/dev/null
		sleep 0.2
	done
	for _ in $(seq 30); do
		left=""
		for id in $SD_LINKS; do bpftool link show id "$id" >/dev/null 2>&1 && left="$left $id"; done
		[ -z "$left" ] && break
		sleep 0.2
	done
	[ ! -d "$SD_CG" ] && [ -z "$left" ] && pass namespace_gone_without_trace ||
		fail namespace_gone_without_trace "cgroup $SD_CG left: $([ -d "$SD_CG" ] && echo yes || echo no); links left:$left"
}

sd_cleanup() {
	sd_shutdown
	cleanup
}
trap sd_cleanup EXIT

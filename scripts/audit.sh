#!/bin/bash
# `make audit`: what the privileged half of sluice is, computed from the
# Makefile, the code and the built binary, never from a list kept by hand:
#   1. its C: every file in LOADER_SRC and every loader/ or common/ header
#      they include (the compiler says which), lines of code and physical;
#   2. the shared libraries it links;
#   3. the capabilities it keeps: in the code, and read from a running loader;
#   4. the syscalls its seccomp filter allows;
#   5. the messages it accepts;
#   6. the BPF programs and maps it pins: from a running, pinned loader.
# Fails when the privileged C reaches its budget, when a library it must
# not link appears, or when the running loader holds any capability or
# runs without its filter. Needs root (it starts the loader).
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
LOADER=$B/sluice-loader
BUDGET=1500
FORBIDDEN='sqlite|curl|microhttpd|nghttp|http|cares|resolv|json|yaml|xml'
FAILS=0
problem() { echo "AUDIT FAIL: $*"; FAILS=$((FAILS + 1)); }
section() { printf '\n== %s\n' "$1"; }

[ -x "$LOADER" ] || { echo "audit: build $LOADER first (make audit does)" >&2; exit 2; }

section "1. Privileged C: the loader and the common code it links (BPF excluded)"
src=$(make -s --no-print-directory -f Makefile -f - B="$B" audit-src <<<'audit-src: ; @echo $(LOADER_SRC)')
hdrs=$(gcc -MM -I. -I"$B" -D_GNU_SOURCE $src | tr ' \\' '\n\n' | grep -E '^(loader|common)/.*\.h$' | sort -u)
echo "LOADER_SRC (Makefile): $src"
printf '%6s %6s  %s\n' code lines file
awk -f scripts/sloc.awk $src $hdrs | sort -k3 | awk '
	{ printf "%6d %6d  %s\n", $1, $2, $3; c += $1; p += $2 }
	END { printf "%6d %6d  total (code = lines that are not blank and not only comment)\n", c, p }' |
	tee "$B/audit-lines.txt"
total=$(awk '/total/ {print $1}' "$B/audit-lines.txt")
[ "$total" -lt "$BUDGET" ] && echo "budget: $total < $BUDGET lines of code" ||
	problem "privileged C is $total lines of code, the budget is < $BUDGET"

section "2. Shared libraries"
echo "linked directly (NEEDED):"
readelf -d "$LOADER" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print "  " $5}'
echo "loaded at run time (ldd):"
ldd "$LOADER" | awk '{print "  " $1}'
bad=$(ldd "$LOADER" | awk '{print $1}' | grep -E "$FORBIDDEN")
[ -z "$bad" ] && echo "no sqlite, HTTP, DNS or JSON library" || problem "links $(echo $bad)"
tls=$(ldd "$LOADER" | awk '{print $1}' | grep -E 'mbed|ssl|tls' | tr '\n' ' ')
[ -n "$tls" ] && echo "note: $tls come with Debian's libnng (built with TLS); the loader only uses ipc://"

section "3. Capabilities"
kept=$(grep -ohE 'capng_update\([^;]*' loader/*.c | grep -oE 'CAP_[A-Z_]+' | sort -u)
echo "kept after set-up, per the code (loader/privs.c): ${kept:-none (capng_clear, then capng_apply: every set and the bounding set emptied)}"

# a real loader: pinned in a private dir, tracing a private empty cgroup
root=$( [ -f /sys/fs/cgroup/cgroup.controllers ] && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified)
T=$(mktemp -d /tmp/sluice-audit.XXXXXX)
CG=$root/sluice-audit-$$
PIN=/sys/fs/bpf/sluice-audit-$$
mkdir "$CG"
cleanup() {
	[ -n "${PID:-}" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	"$LOADER" --unload --pin-dir "$PIN" >/dev/null 2>&1
	rmdir "$CG" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
"$LOADER" --socket "$T/loader.sock" --cgroup "$CG" --pin-dir "$PIN" >"$T/loader.log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "capturing up to" "$T/loader.log" && break; sleep 0.1; done
if ! grep -q "capturing up to" "$T/loader.log"; then
	cat "$T/loader.log"
	problem "the loader did not start"
	exit 1
fi
echo "running loader (pid $PID), /proc/$PID/status:"
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' "/proc/$PID/status" |
	sed 's/^/  /'
for t in /proc/$PID/task/*; do
	grep -qE '^CapEff:\s+0+$' "$t/status" && grep -qE '^CapPrm:\s+0+$' "$t/status" ||
		problem "thread ${t##*/} holds capabilities"
	grep -qE '^Seccomp:\s+2' "$t/status" || problem "thread ${t##*/} runs without the seccomp filter"
done
echo "threads checked: $(ls /proc/$PID/task | wc -l), all without capabilities and filtered"

section "4. Seccomp allow-list (loader/privs.c; anything else: the process is killed)"
plain=$(sed -n '/allowed\[\] = {/,/^};/p' loader/privs.c | grep -oE 'SCMP_SYS\([a-z0-9_]+\)' |
	sed 's/SCMP_SYS(\(.*\))/\1/' | sort -u)
echo "allowed unconditionally ($(echo "$plain" | wc -l)): $(echo $plain)"
echo "allowed with argument checks:"
sed -n '/checked\[\] = {/,/^\t};/p' loader/privs.c | grep -oE 'SCMP_SYS\([a-z]+\), SCMP_A[0-9]\(.*\) }' |
	sed -E 's/SCMP_SYS\(([a-z]+)\), SCMP_A([0-9])\((.*)\) \}/  \1: argument \2 \3/'
grep -q 'SCMP_ACT_KILL_PROCESS' loader/privs.c && echo "default action: SCMP_ACT_KILL_PROCESS"

section "5. Input accepted"
echo "receive sites in loader/: $(grep -c 'nng_recv' loader/*.c | awk -F: '$2 > 0' | tr '\n' ' ')"
echo "one message type, the ack: exactly $(awk '/define WIRE_ACK_LEN/ {print $3}' common/wire.h) bytes," \
	"0x92 $(awk '/define WIRE_ACK_VERSION/ {print $3}' common/wire.h) 0xcf + 8-byte seq (common/wire.h," \
	"wire_ack_decode); anything else closes that peer"
echo "nng drops larger messages first: NNG_OPT_RECVMAXSZ $(awk '/define IPC_RECV_MAX/ {print $3}' loader/ipc.c) bytes"
echo "peers admitted: root or --processor-user (loader/ipc.c: admit)"

section "6. What it pins ($PIN, from the running loader)"
echo "links (program, attach point):"
for l in "$PIN"/links/*; do
	id=$(bpftool -j link show pinned "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])')
	sec=$(bpftool -j prog show id "$id" | python3 -c 'import json,sys; p=json.load(sys.stdin); print(p["type"], p["name"])')
	echo "  ${l##*/}: $sec"
done
echo "maps:"
for m in "$PIN"/maps/* "$PIN"/meta; do
	bpftool -j map show pinned "$m" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print("  %-14s %-13s key %-2s value %-6s entries %s" % (sys.argv[1], m["type"], m["bytes_key"],
      m["bytes_value"], m["max_entries"]))' "${m##*/}"
done
echo "$(ls "$PIN"/links | wc -l) links, $(ls "$PIN"/maps | wc -l) maps and meta; --unload removes exactly these"

echo
if [ "$FAILS" -gt 0 ]; then
	echo "audit: $FAILS problem(s)"
	exit 1
fi
echo "audit: ok"

#!/bin/bash
# Pod metadata from the Kubernetes API (--k8s): the real loader and
# processor against tests/tools/fake_k8s_api.py, an HTTPS server with a CA
# and certificate this test makes with openssl, that wants a bearer token
# and serves a pod list with a resourceVersion and a watch stream whose
# events the test scripts. Checked: the sqlite pods rows (name, namespace,
# owner, node, deleted), the server's own log of requests (field selector,
# token, the resourceVersion each watch resumes from, a new list after 410
# and after an oversized line), a refused token (one clear log line, then
# recovery once the token file is rotated), a wrong CA, the status file
# through sluicectl, and a pod first known only from its cgroup path whose
# name the API fills in.
. "$(dirname "$0")/lib.sh"

DB=$T/meta.db
# the server's log: JSON lines; jl 'python expression over e' prints matches
jl() { python3 -c "
import json, sys
for line in open('$T/api.log'):
    e = json.loads(line)
    if $1: print($2)" 2>&1; }
# how many entries match; wait_n secs min cond: until at least min do
n_log() { jl "$1" 1 | wc -l; }
wait_n() {
	local i
	for i in $(seq $(($1 * 10))); do
		[ "$(n_log "$3")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
NODE=testnode
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
hex() { head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
pod_json() { # uid name namespace owner_kind owner_name node [labels]
	printf '{"metadata":{"uid":"%s","name":"%s","namespace":"%s","labels":%s,"ownerReferences":[{"apiVersion":"apps/v1","kind":"%s","name":"%s","controller":true}]},"spec":{"nodeName":"%s"},"status":{"qosClass":"Burstable"}}' \
		"$1" "$2" "$3" "${7:-{\}}" "$4" "$5" "$6"
}

# --- a CA, a server certificate for 127.0.0.1, a service account dir ---
mkdir -p "$T/sa"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=sluice-test-k8s-ca -keyout "$T/ca.key" -out "$T/sa/ca.crt" 2>"$T/openssl.log" &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=kube-apiserver \
	-keyout "$T/srv.key" -out "$T/srv.csr" 2>>"$T/openssl.log" &&
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/san.ext" &&
openssl x509 -req -in "$T/srv.csr" -CA "$T/sa/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
	-days 1 -extfile "$T/san.ext" -out "$T/srv.crt" 2>>"$T/openssl.log" ||
	{ cat "$T/openssl.log"; fail certs; finish; }
GOOD=tok-$(hex 16)
echo "$GOOD" >"$T/server-token"
echo "tok-wrong-$(hex 8)" >"$T/sa/token" # the processor starts with a refused token

# --- pods: one whose container runs here (cgroup), one more on this node,
# one on another node (the field selector must keep it out) ---
POD_UID=$(uuid)
API_UID=$(uuid)
OTHER_UID=$(uuid)
{
	echo "["
	pod_json "$POD_UID" web-0 shop StatefulSet web "$NODE"
	echo ","
	pod_json "$API_UID" api-5f7-x2x shop ReplicaSet api-5f7 "$NODE"
	echo ","
	pod_json "$OTHER_UID" elsewhere-1 shop ReplicaSet elsewhere "othernode"
	echo "]"
} >"$T/pods.json"

python3 "$TOP/tests/tools/fake_k8s_api.py" --cert "$T/srv.crt" --key "$T/srv.key" \
	--token "$T/server-token" --pods "$T/pods.json" --port-file "$T/api.port" \
	--log "$T/api.log" >"$T/api.out" 2>&1 &
PIDS+=($!)
wait_for 10 test -s "$T/api.port" || { cat "$T/api.out"; fail api_start; finish; }
API=https://127.0.0.1:$(cat "$T/api.port")
ctl() { # cmd [json]: drives the fake server
	curl -sf --cacert "$T/sa/ca.crt" -H 'Content-Type: application/json' \
		-d "${2:-{\}}" "$API/_test/$1"
}

# --- the pod's container: a kubepods-shaped cgroup under the test's ---
make_cgroup
POD_CG=$CG/kubepods-burstable-pod${POD_UID//-/_}.slice
CT_CG=$POD_CG/cri-containerd-$(hex 32).scope
mkdir -p "$CT_CG" || exit 1
cleanup_cgroups() {
	local p
	disown -a
	for p in $(cat "$CT_CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	sleep 0.2
	rmdir "$CT_CG" "$POD_CG" 2>/dev/null
	cleanup
}
trap cleanup_cgroups EXIT

PROC_ARGS=(--metrics-listen none --k8s on --k8s-sa-dir "$T/sa" --k8s-api "$API"
	--node-name "$NODE")
start_sluice

# --- a refused token: one clear line, retried with backoff ---
wait_for 15 grep -q "HTTP 401" "$T/processor.log" || fail token_refused_logged "$(cat "$T/processor.log")"
sh -c 'echo $$ > "$0/cgroup.procs" && exec sleep 120' "$CT_CG" &
SLEEP_PID=$!
PIDS+=("$SLEEP_PID")
# the exec in the pod's cgroup gives a pod row with what the path says
wait_q 10 = "burstable cgroup " \
	"SELECT qos || ' ' || source || ' ' || coalesce(name, '') FROM pods WHERE uid = '$POD_UID'" &&
	pass cgroup_pod_row_unnamed ||
	fail cgroup_pod_row_unnamed "$(q "SELECT * FROM pods")"
# by now (>= 3 s) the API was asked at least twice with the wrong token
sleep 2
n401=$(jl "e.get('status') == 401" 1 | wc -l)
lines=$(grep -c "HTTP 401" "$T/processor.log")
msg=$(grep -m1 "HTTP 401" "$T/processor.log")
if [ "$n401" -ge 2 ] && [ "$lines" = 1 ] && echo "$msg" | grep -q "$API" &&
	echo "$msg" | grep -q "token in $T/sa/token was refused"; then
	pass token_refused_logged
else
	fail token_refused_logged "$n401 refused requests, $lines log lines: $msg"
fi
python3 - "$T/status.json" >"$T/st.txt" 2>&1 <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["pods"]
print(p["source"], p["connected"], "401" in p["last_error"], p["errors"] >= 2)
PY
[ "$(cat "$T/st.txt")" = "k8s False True True" ] && pass status_shows_error ||
	fail status_shows_error "$(cat "$T/st.txt")"

# --- the token rotates (the kubelet rewrites it): picked up at the retry ---
echo "$GOOD" >"$T/sa/token.new" && mv "$T/sa/token.new" "$T/sa/token"
want="web-0 shop StatefulSet web $NODE burstable k8s"
wait_q 40 = "$want" "SELECT name || ' ' || namespace || ' ' || owner_kind || ' ' ||
	owner_name || ' ' || node || ' ' || qos || ' ' || source FROM pods WHERE uid = '$POD_UID'" &&
	pass cgroup_pod_named || fail cgroup_pod_named "$(q "SELECT * FROM pods WHERE uid = '$POD_UID'")"
got=$(q "SELECT name, owner_kind, owner_name, node, deleted IS NULL FROM pods WHERE uid = '$API_UID'" | tr '|' ' ')
[ "$got" = "api-5f7-x2x ReplicaSet api-5f7 $NODE 1" ] && pass listed_pod || fail listed_pod "got '$got'"
got=$(q "SELECT count(*) FROM pods WHERE uid = '$OTHER_UID'")
[ "$got" = 0 ] && pass other_node_pod_absent || fail other_node_pod_absent "$got rows"
grep -q "working again after" "$T/processor.log" && pass recovery_logged ||
	fail recovery_logged "$(grep -i kubernetes "$T/processor.log")"
# what the processor asked: this node only, the rotated token, then a watch
# from exactly the list's resourceVersion
first_ok=$(jl "e['kind'] == 'list' and e['status'] == 200" "e['query'].get('fieldSelector'), e['auth'] == 'Bearer $GOOD', e['rv']" | head -1)
list_rv=$(jl "e['kind'] == 'list' and e['status'] == 200" "e['rv']" | head -1)
[ "$first_ok" = "spec.nodeName=$NODE True $list_rv" ] && [ -n "$list_rv" ] &&
	pass list_request || fail list_request "$first_ok"
wait_n 5 1 "e['kind'] == 'watch'"
w=$(jl "e['kind'] == 'watch'" "e['query'].get('resourceVersion'), e['query'].get('allowWatchBookmarks'), e['query'].get('fieldSelector'), e['auth'] == 'Bearer $GOOD'" | head -1)
[ "$w" = "$list_rv true spec.nodeName=$NODE True" ] && pass watch_from_list_rv ||
	fail watch_from_list_rv "got $w, list rv $list_rv"
# the log is quiet while it works: one 401 line, nothing per request
n=$(grep -c "Kubernetes API" "$T/processor.log")
[ "$n" -le 4 ] && pass log_is_quiet || fail log_is_quiet "$(grep "Kubernetes API" "$T/processor.log")"

# --- watch events: ADDED, MODIFIED (owner and labels), DELETED ---
NEW_UID=$(uuid)
ctl event "{\"type\":\"ADDED\",\"pod\":$(pod_json "$NEW_UID" batch-1 jobs Job batch "$NODE")}" >/dev/null
wait_q 10 = "batch-1 jobs Job batch" "SELECT name || ' ' || namespace || ' ' || owner_kind ||
	' ' || owner_name FROM pods WHERE uid = '$NEW_UID'" && pass watch_added ||
	fail watch_added "$(q "SELECT * FROM pods WHERE uid = '$NEW_UID'")"
ctl event "{\"type\":\"MODIFIED\",\"pod\":$(pod_json "$NEW_UID" batch-1 jobs CronJob nightly "$NODE" '{"tier":"batch"}')}" >/dev/null
wait_q 10 = "CronJob nightly" "SELECT owner_kind || ' ' || owner_name FROM pods WHERE uid = '$NEW_UID'" &&
	pass watch_modified || fail watch_modified "$(q "SELECT * FROM pods WHERE uid = '$NEW_UID'")"
t0=$(date +%s%N)
ctl event "{\"type\":\"DELETED\",\"pod\":$(pod_json "$API_UID" api-5f7-x2x shop ReplicaSet api-5f7 "$NODE")}" >/dev/null
wait_q 10 = 1 "SELECT deleted IS NOT NULL FROM pods WHERE uid = '$API_UID'"
got=$(q "SELECT name, deleted >= $t0, deleted <= $(date +%s%N) FROM pods WHERE uid = '$API_UID'" | tr '|' ' ')
[ "$got" = "api-5f7-x2x 1 1" ] && pass watch_deleted_row_kept || fail watch_deleted_row_kept "got '$got'"
got=$(q "SELECT deleted FROM v_pods WHERE uid = '$API_UID'")
[[ "$got" =~ ^20[0-9][0-9]-.*Z$ ]] && pass view_shows_deleted || fail view_shows_deleted "got '$got'"

# --- a bookmark, then the server ends the stream: resumed from the bookmark ---
bm=$(ctl bookmark | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
wait_n 5 1 "e['kind'] == 'sent' and e.get('rv') == '$bm'"
nw=$(n_log "e['kind'] == 'watch'")
ctl close >/dev/null
wait_n 10 $((nw + 1)) "e['kind'] == 'watch'"
last=$(jl "e['kind'] == 'closed'" "e['last_rv']" | tail -1)
w=$(jl "e['kind'] == 'watch'" "e['query'].get('resourceVersion')" | tail -1)
nl=$(jl "e['kind'] == 'list' and e['status'] == 200" 1 | wc -l)
[ "$w" = "$bm" ] && [ "$last" = "$bm" ] && [ "$nl" = 1 ] && pass watch_resumed_from_last_rv ||
	fail watch_resumed_from_last_rv "resumed from '$w', bookmark $bm, stream's last $last, $nl lists"

# --- history compacted (410 as an ERROR event): a new list, and a pod that
# went while nobody watched is marked deleted by it ---
ctl silent_delete "{\"uid\":\"$NEW_UID\"}" >/dev/null
ctl compact '{"mode":"event"}' >/dev/null
ctl close >/dev/null
wait_q 15 = 1 "SELECT deleted IS NOT NULL FROM pods WHERE uid = '$NEW_UID'" &&
	pass relist_after_410_event_sweeps || fail relist_after_410_event_sweeps \
	"$(q "SELECT * FROM pods WHERE uid = '$NEW_UID'"); $(tail -5 "$T/api.log")"
nl=$(jl "e['kind'] == 'list' and e['status'] == 200" 1 | wc -l)
gone=$(jl "e['kind'] == 'sent' and e.get('code') == 410" 1 | wc -l)
[ "$nl" = 2 ] && [ "$gone" = 1 ] && pass relist_after_410_event ||
	fail relist_after_410_event "$nl lists, $gone 410 events"
got=$(q "SELECT name, deleted IS NULL FROM pods WHERE uid = '$POD_UID'" | tr '|' ' ')
[ "$got" = "web-0 1" ] && pass relist_keeps_live_pods || fail relist_keeps_live_pods "got '$got'"

# --- 410 as the HTTP status of the watch request ---
wait_n 10 4 "e['kind'] == 'watch' and e['status'] == 200"
ctl compact '{"mode":"http"}' >/dev/null
ctl close >/dev/null
wait_n 15 6 "e['kind'] == 'watch'"
seq=$(jl "e['kind'] in ('list', 'watch')" "e['kind'] + ':' + str(e['status'])" | tail -4 | tr '\n' ' ')
[ "$seq" = "watch:200 watch:410 list:200 watch:200 " ] && pass relist_after_http_410 ||
	fail relist_after_http_410 "requests: $seq"
w=$(jl "e['kind'] == 'watch'" "e['query'].get('resourceVersion')" | tail -1)
lrv=$(jl "e['kind'] == 'list' and e['status'] == 200" "e['rv']" | tail -1)
[ "$w" = "$lrv" ] && pass watch_from_new_list_rv || fail watch_from_new_list_rv "$w vs $lrv"

# --- a watch line over 4 MiB: dropped, counted, resynced by a new list ---
ctl huge "{\"uid\":\"$POD_UID\",\"bytes\":$((5 << 20))}" >/dev/null
wait_n 20 4 "e['kind'] == 'list' and e['status'] == 200" &&
	grep -q "longer than 4194304 bytes was dropped" "$T/processor.log" && pass huge_line_relists ||
	fail huge_line_relists "$(grep -i 'kubernetes' "$T/processor.log" | tail -3)"
got=$(q "SELECT name, deleted IS NULL FROM pods WHERE uid = '$POD_UID'" | tr '|' ' ')
[ "$got" = "web-0 1" ] && pass huge_line_pod_kept || fail huge_line_pod_kept "got '$got'"

# --- sluicectl status: the source, connected, counts ---
sleep 1.5 # a fresh status file (every second)
out=$("$B/sluicectl" --status "$T/status.json" status 2>&1)
known=$(q "SELECT count(*) FROM pods WHERE source = 'k8s' AND deleted IS NULL")
ev=$(jl "e['kind'] == 'sent' and e.get('type') != 'ERROR'" 1 | wc -l)
echo "$out" | grep -Eq "^pods\.source +k8s$" && echo "$out" | grep -Eq "^pods\.connected +true$" &&
	echo "$out" | grep -Eq "^pods\.known +$known$" && echo "$out" | grep -Eq "^pods\.lines_dropped +1$" &&
	echo "$out" | grep -Eq "^pods\.relists +3$" &&
	echo "$out" | grep -Eq "^pods\.events +$((ev - 1))$" &&
	echo "$out" | grep -Eq "^pods\.last_error +.*4194304" && pass ctl_status ||
	fail ctl_status "known $known, $ev events sent (one was the dropped line): $(echo "$out" | grep pods)"

# --- a clean stop with a watch open: prompt ---
t0=$(date +%s%N)
kill -TERM "$PROC_PID"
wait_for 10 sh -c "! kill -0 $PROC_PID"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "stopped after seq" "$T/processor.log" && [ "$ms" -lt 5000 ] && pass clean_stop ||
	fail clean_stop "$ms ms; $(tail -3 "$T/processor.log")"

# --- another CA than the server's: refused, said so ---
mkdir -p "$T/sa2"
cp "$T/sa/token" "$T/sa2/token"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=other-ca -keyout "$T/ca2.key" -out "$T/sa2/ca.crt" 2>>"$T/openssl.log"
"$BIN/sluice-processor" --socket "$T/none.sock" --quiet --db "$T/ca.db" --metrics-listen none \
	--k8s on --k8s-sa-dir "$T/sa2" --k8s-api "$API" --node-name "$NODE" >"$T/ca.log" 2>&1 &
CA_PID=$!
PIDS+=("$CA_PID")
wait_for 10 grep -q "Kubernetes API $API: .*certificate" "$T/ca.log" && pass wrong_ca_refused ||
	fail wrong_ca_refused "$(cat "$T/ca.log")"
kill -TERM "$CA_PID"

# --- settings that cannot work are refused at start ---
out=$(env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT "$BIN/sluice-processor" \
	--db "$T/x.db" --metrics-listen none --k8s on 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "KUBERNETES_SERVICE_HOST" && [ ! -e "$T/x.db" ] &&
	pass k8s_on_needs_api ||
	fail k8s_on_needs_api "rc $rc: $out"
out=$("$BIN/sluice-processor" --db "$T/x.db" --metrics-listen none --k8s maybe 2>&1)
rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "'maybe' is not auto, on or off" && pass k8s_bad_mode ||
	fail k8s_bad_mode "rc $rc: $out"
finish

#!/bin/bash
# Export end to end: known curl traffic against a real nginx, seen by sluice,
# scraped by a real Prometheus (Debian's) and sent over OTLP/HTTP to a
# collector that decodes with OpenTelemetry's own protobuf definitions
# (tests/integration/otlp, from the npm registry). Checked: Prometheus's API
# returns the expected series and counts, promtool accepts the exposition,
# spans carry the semconv attributes and the traceparent's parent, the route
# heuristic and the series cap hold, the first OTLP request's 503 is retried,
# the config file is read and flags override it, and a config with typos
# stops the processor with file:line messages.
. "$(dirname "$0")/lib.sh"

OTLP_DIR=$TOP/tests/integration/otlp
TP_TRACE=4bf92f3577b34da6a3ce929d0e0e4736
TP_PARENT=00f067aa0ba902b7

# ---- the parts ----

# npm packages are installed by the test, pinned by the committed lock file,
# and kept in tests/integration/otlp/node_modules (gitignored) for next time.
install_decoder() {
	local stamp=$OTLP_DIR/node_modules/.lock-installed
	if [ -f "$stamp" ] && cmp -s "$stamp" "$OTLP_DIR/package-lock.json"; then return 0; fi
	(cd "$OTLP_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1 ||
		{ cat "$T/npm.log"; echo "npm ci failed" >&2; exit 1; }
	cp "$OTLP_DIR/package-lock.json" "$stamp"
}

start_collector() {
	OPORT=$(free_port)
	mkdir -p "$T/otlp"
	FAIL_FIRST_TRACES=1 node "$OTLP_DIR/collector.js" "$OPORT" "$T/otlp" >"$T/collector.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 test -f "$T/otlp/ready" || { cat "$T/collector.log"; echo "collector did not start" >&2; exit 1; }
}

start_prometheus() {
	PPORT=$(free_port)
	cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
YML
	prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
		--web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
	PIDS+=($!)
	wait_for 20 curl -sf "http://127.0.0.1:$PPORT/-/ready" ||
		{ tail -20 "$T/prometheus.log"; echo "prometheus did not start" >&2; exit 1; }
}

# The file sets what the test needs; metrics_listen in it is wrong on
# purpose: --metrics-listen must win.
write_config() {
	cat >"$T/sluice.conf" <<CONF
# sluice-processor configuration for test_export.sh
[export]
metrics_listen = 127.0.0.1:1
otlp_endpoint = http://127.0.0.1:$OPORT/
otlp_interval = 1s
otlp_batch = 8

[metrics]
max_series = 8

[attributes "http.client.*"]
exclude = server.address, process.*
CONF
}

start_loader() {
	SOCK=$T/loader.sock
	"$B/sluice-loader" --socket "$SOCK" --cgroup "$CG" --pin-dir "$PIN" >"$T/loader.log" 2>&1 &
	PIDS+=($!)
	wait_for 20 test -S "$SOCK" || { cat "$T/loader.log"; echo "loader did not start" >&2; exit 1; }
}

# ---- queries ----

# Prometheus instant query -> "labelvalue=value" lines, sorted; label may be
# empty for a single series.
promq() { # label query
	curl -s "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$2" |
		python3 -c '
import json, sys
label = sys.argv[1]
r = json.load(sys.stdin)
out = []
for s in r.get("data", {}).get("result", []):
    v = s["value"][1]
    out.append("%s=%s" % (s["metric"].get(label, ""), v) if label else v)
print(" ".join(sorted(out)))' "$1"
}

# Polls a Prometheus query until it returns want (scrapes are 1 s apart).
check_prom() { # name label query want
	local got i
	for i in $(seq 40); do
		got=$(promq "$2" "$3")
		[ "$got" = "$4" ] && { pass "$1"; return; }
		sleep 0.5
	done
	fail "$1" "query $3: want '$4', got '$got'"
}

check_prom_ge() { # name query min
	local got i
	for i in $(seq 40); do
		got=$(promq "" "$2")
		[ -n "$got" ] && [ "${got%.*}" -ge "$3" ] && { pass "$1"; return; }
		sleep 0.5
	done
	fail "$1" "query $2: want >= $3, got '$got'"
}

# Spans the collector decoded, for nginx's port, as of now.
count_spans() { # min
	python3 -c '
import json, sys
n = 0
try:
    n = sum(1 for l in open(sys.argv[1]) if json.loads(l)["attrs"].get("server.port") == int(sys.argv[2]))
except FileNotFoundError:
    pass
sys.exit(0 if n >= int(sys.argv[3]) else 1)' "$T/otlp/spans.jsonl" "$PORT" "$1"
}

# ---- run ----

install_decoder
make_cgroup
# nginx first: its readiness probe must not be traced (it would add a series)
start_nginx
start_collector
MPORT=$(free_port)
write_config
start_loader
start_processor --config "$T/sluice.conf" --metrics-listen "127.0.0.1:$MPORT"
wait_for 10 grep -q "processor connected" "$T/loader.log" ||
	{ cat "$T/loader.log" "$T/processor.log"; echo "processor did not connect" >&2; exit 1; }
start_prometheus
U=http://127.0.0.1:$PORT
mkdir -p "$T/www/ka"
echo "page" >"$T/www/ka/1.html"
head -c 2000 /dev/urandom | base64 -w0 >"$T/body"
BODY=$(stat -c %s "$T/body")

# Known traffic, one connection per curl: 5 + 3 + 2 + 1 requests.
for i in 1 2 3 4 5; do
	in_cg curl -s -o /dev/null "$U/users/$((1000 + i))/orders/9f1c2b3a$i"
done
for i in 1 2 3; do in_cg curl -s -o /dev/null "$U/ka/1.html"; done
for i in 1 2; do in_cg curl -s -o /dev/null --data-binary @"$T/body" "$U/post"; done
in_cg curl -s -o /dev/null -H "traceparent: 00-$TP_TRACE-$TP_PARENT-01" "$U/trace/77"
check_oracle users_paired server /users/
check_oracle trace_paired client /trace/

# ---- Prometheus ----

curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/exposition.txt"
if promtool check metrics <"$T/exposition.txt" >"$T/promtool.out" 2>&1; then
	pass promtool_check_metrics
else
	fail promtool_check_metrics "$(head -c 800 "$T/promtool.out")"
fi
grep -q "metrics_listen = 127.0.0.1:1" "$T/sluice.conf" && [ -s "$T/exposition.txt" ] &&
	pass flag_overrides_config || fail flag_overrides_config "nothing on --metrics-listen"

SP="server_port=\"$PORT\""
check_prom server_counts_by_route http_route \
	"sum by (http_route) (http_server_request_duration_seconds_count{$SP})" \
	"/ka/{id}.html=3 /post=2 /trace/{id}=1 /users/{id}/orders/{id}=5"
check_prom server_counts_by_status http_response_status_code \
	"sum by (http_response_status_code) (http_server_request_duration_seconds_count{$SP})" \
	"200=3 201=2 404=6"
check_prom client_counts_by_template url_template \
	"sum by (url_template) (http_client_request_duration_seconds_count{$SP})" \
	"/ka/{id}.html=3 /post=2 /trace/{id}=1 /users/{id}/orders/{id}=5"
check_prom histogram_inf_bucket_is_count "" \
	"sum(http_server_request_duration_seconds_bucket{$SP,le=\"+Inf\"})" "11"
check_prom histogram_buckets_cumulative "" \
	"count(http_server_request_duration_seconds_bucket{$SP,le=\"0.005\"} > ignoring(le) http_server_request_duration_seconds_bucket{$SP,le=\"0.01\"})" ""
check_prom server_exe_label process_executable_name \
	"sum by (process_executable_name) (http_server_request_duration_seconds_count{$SP})" "nginx=11"
check_prom request_body_bytes "" \
	"sum(http_server_request_body_size_bytes_sum{$SP,http_route=\"/post\"})" "$((2 * BODY))"
check_prom request_body_le_0 "" \
	"sum(http_server_request_body_size_bytes_bucket{$SP,le=\"0\"})" "9"
# attribute selection: [attributes "http.client.*"] excluded these
check_prom client_selection_applied "" \
	"count(http_client_request_duration_seconds_count{server_address!=\"\"}) or count(http_client_request_duration_seconds_count{process_executable_name!=\"\"})" ""
check_prom_ge health_pairs 'sluice_http_pairs_total{complete="true"}' 22
check_prom_ge health_data_events 'sluice_events_received_total{type="data"}' 44
check_prom_ge health_connections_opened 'sluice_connections_opened_total' 22
check_prom health_drop_reasons "" "count(sluice_events_dropped_total)" "8"
# the collector answered the first trace export with 503: sluice retried
check_prom otlp_retry_counted "" "sluice_otlp_requests_total{signal=\"traces\",result=\"retry\"}" "1"

# ---- OTLP spans, decoded by OpenTelemetry's protobuf code ----

wait_for 15 count_spans 22 || true
[ ! -s "$T/otlp/errors.log" ] && pass otlp_decodes_cleanly ||
	fail otlp_decodes_cleanly "$(head -c 1500 "$T/otlp/errors.log")"

if out=$(python3 - "$T/otlp/spans.jsonl" "$PORT" "$TP_TRACE" "$TP_PARENT" 2>&1 <<'PY'
import collections, json, sys
path, port, tp_trace, tp_parent = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
spans = [json.loads(l) for l in open(path)]
spans = [s for s in spans if s["attrs"].get("server.port") == port and not s["attrs"]["url.path"].startswith("/cap/")]
errs = []
def want(cond, msg):
    if not cond: errs.append(msg)
kinds = collections.Counter((s["kind"], s["resource"]["service.name"]) for s in spans)
want(kinds == {(2, "nginx"): 11, (3, "curl"): 11}, "kinds/services %s" % dict(kinds))
names = collections.Counter(s["name"] for s in spans if s["kind"] == 2)
want(names == {"GET /users/{id}/orders/{id}": 5, "GET /ka/{id}.html": 3, "POST /post": 2,
               "GET /trace/{id}": 1}, "server span names %s" % dict(names))
for s in spans:
    a = s["attrs"]
    want(len(s["traceId"]) == 32 and len(s["spanId"]) == 16, "ids %s" % s)
    want(int(s["end"]) >= int(s["start"]) > 1600000000 * 10**9, "times %s %s" % (s["start"], s["end"]))
    want(a["http.request.method"] in ("GET", "POST"), "method %s" % a)
    want(a["server.address"] == "127.0.0.1" and a["client.address"] == "127.0.0.1", "addresses %s" % a)
    want(isinstance(a["http.response.status_code"], int), "status not an int: %s" % a)
    want(a["url.scheme"] == "http", "scheme %s" % a)
    want(("http.route" in a) == (s["kind"] == 2) and ("url.template" in a) == (s["kind"] == 3),
         "route attribute by kind %s" % a)
    want(s["resource"]["process.pid"] > 0, "pid %s" % s["resource"])
    if s["kind"] == 3:
        want(a["url.full"] == "http://127.0.0.1:%d%s" % (port, a["url.path"]), "url.full %s" % a)
    if a["http.response.status_code"] == 404 and s["kind"] == 3:
        want(s["status"] == 2 and a["error.type"] == "404", "client 404 is an error %s" % s)
    if a["http.response.status_code"] == 404 and s["kind"] == 2:
        want(s["status"] == 0 and "error.type" not in a, "server 404 is no error %s" % s)
    if a["url.path"] == "/post":
        want(a["http.request.body.size"] > 1000, "body size %s" % a)
tp = [s for s in spans if s["attrs"]["url.path"] == "/trace/77"]
want(len(tp) == 2, "traceparent spans %d" % len(tp))
for s in tp:
    want(s["traceId"] == tp_trace and s["parentSpanId"] == tp_parent, "parent link %s" % s)
rest = [s for s in spans if s["attrs"]["url.path"] != "/trace/77"]
want(all(s["parentSpanId"] == "" for s in rest), "unexpected parents")
want(len({s["traceId"] for s in rest}) == len(rest), "trace ids not distinct")
want(len({s["spanId"] for s in spans}) == len(spans), "span ids not distinct")
print("\n".join(errs[:10]))
sys.exit(1 if errs else 0)
PY
); then pass otlp_spans_match_traffic; else fail otlp_spans_match_traffic "$out"; fi

# ---- the series cap: 8 series per metric, then the overflow series ----

# 4 server series exist; 12 more routes: 4 get series, 8 overflow
for w in alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima; do
	in_cg curl -s -o /dev/null "$U/cap/$w"
done
check_prom cap_series_count "" \
	"sluice_metric_series{metric=\"http.server.request.duration\"}" "8"
check_prom cap_overflow_series "" \
	"sum(http_server_request_duration_seconds_count{otel_metric_overflow=\"true\"})" "8"
check_prom cap_overflow_counter "" \
	"sluice_metric_overflow_total{metric=\"http.server.request.duration\"}" "8"
check_prom cap_total_kept "" "sum(http_server_request_duration_seconds_count)" "23"

# ---- OTLP metrics ----

cat >"$T/check_metrics.py" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
port = int(sys.argv[2])
last = {m["name"]: m for m in reqs[-1]["metrics"]} if reqs else {}
errs = []
d = last.get("http.server.request.duration")
if not d or d["kind"] != "histogram" or d["temporality"] != 2 or d["unit"] != "s":
    errs.append("no cumulative histogram http.server.request.duration in %s" % list(last))
else:
    by = {p["attrs"].get("http.route"): p for p in d["points"] if p["attrs"].get("server.port") == port}
    p = by.get("/users/{id}/orders/{id}")
    if not p or p["count"] != 5 or sum(p["bucketCounts"]) != 5 or len(p["explicitBounds"]) != 14:
        errs.append("users route point %s" % p)
    over = [q for q in d["points"] if q["attrs"].get("otel.metric.overflow") is True]
    if len(over) != 1 or over[0]["count"] != 8:
        errs.append("overflow points %s" % over)
h = last.get("sluice.http.pairs")
if not h or h["kind"] != "sum" or not h["monotonic"]:
    errs.append("sluice.http.pairs %s" % h)
print("\n".join(errs))
sys.exit(1 if errs else 0)
PY
# pushes come every second: wait for one that has seen all of the above
wait_for 10 python3 "$T/check_metrics.py" "$T/otlp/metrics.jsonl" "$PORT"
if out=$(python3 "$T/check_metrics.py" "$T/otlp/metrics.jsonl" "$PORT" 2>&1); then
	pass otlp_metrics_match
else
	fail otlp_metrics_match "$out"
fi

# ---- config errors stop the processor ----

cat >"$T/bad.conf" <<'CONF'
[export]
metric_listen = 127.0.0.1:9464
otlp_interval = 10
[metrics]
max_series = lots
CONF
"$B/sluice-processor" --config "$T/bad.conf" --socket "$T/none.sock" >"$T/bad.out" 2>&1
rc=$?
want="$T/bad.conf:2: unknown key 'metric_listen' in [export] (did you mean 'metrics_listen'?)
$T/bad.conf:3: otlp_interval in [export]: expected a duration from 100ms to 1h, such as 500ms, 10s or 2m, got '10'
$T/bad.conf:5: max_series in [metrics]: expected an integer from 1 to 1000000, got 'lots'
sluice-processor: fatal: invalid configuration (3 errors above): not starting"
[ $rc -ne 0 ] && [ "$(cat "$T/bad.out")" = "$want" ] && pass config_errors_refuse_start ||
	fail config_errors_refuse_start "rc=$rc: $(cat "$T/bad.out")"
"$B/sluice-processor" --config "$T/missing.conf" >"$T/missing.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "missing.conf: cannot read: No such file or directory" "$T/missing.out" &&
	pass config_missing_explicit_file || fail config_missing_explicit_file "rc=$rc: $(cat "$T/missing.out")"
"$B/sluice-processor" --config /dev/null --socket "$T/none.sock" --metrics-listen "127.0.0.1:$MPORT" \
	>"$T/busy.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "cannot listen on 127.0.0.1:$MPORT: Address already in use" "$T/busy.out" &&
	pass metrics_port_taken || fail metrics_port_taken "rc=$rc: $(cat "$T/busy.out")"

# ---- a clean stop sends what is left ----

kill -TERM "$PROC_PID"
wait_for 10 sh -c "! kill -0 $PROC_PID" || true
last=$(tail -n 1 "$T/otlp/metrics.jsonl" | python3 -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)["metrics"]}
print(sum(p["asInt"] for p in m["sluice.otlp.spans"]["points"] if p["attrs"]["result"] == "exported"))')
sent=$(grep -c . "$T/otlp/spans.jsonl")
[ "$last" = "$sent" ] && pass final_push_on_stop || fail final_push_on_stop "exported=$last received=$sent"
finish

/* Export wiring (processor/export.h): from a pair to attributes, metric
 * measurements and a span; from the processor's counters to the health
 * metrics; and the start and stop of the registry and both exporters. */
#include "processor/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/records.h"
#include "common/log.h"
#include "processor/metrics.h"
#include "processor/names.h"
#include "processor/otlp.h"
#include "processor/output.h"
#include "processor/processor.h"
#include "processor/prom.h"
#include "processor/route.h"

#define EXPORT_STOP_WAIT_MS 5000 /* OTLP gets this long to send what is left */

struct export {
	struct metrics *m;
	struct prom *prom;   /* NULL: metrics_listen = none */
	struct otlp *otlp;   /* NULL: no OTLP endpoint */
	bool routes;         /* route heuristic on */
};

/* ---- pairs ---- */

/* The pair's facts both exporters need, computed once. */
struct pair_view {
	bool server;
	const char *method;   /* semconv-normalised */
	char route[ROUTE_MAX];
	char saddr[48], caddr[48];
	uint16_t sport, cport;
	const char *shown;    /* server.address: the DNS name when known, else saddr */
	const char *peer;     /* network.peer.address: the remote end, saddr or caddr */
	char status[12], sport_s[12], pid[12], error[12];
};

/* snprintf("%u") without the stdio machinery: this runs for every pair. */
static void utoa(char out[12], uint32_t n)
{
	char tmp[12];
	size_t i = 0, j = 0;

	do
		tmp[i++] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	while (i > 0)
		out[j++] = tmp[--i];
	out[j] = 0;
}

_Static_assert((int)HTTP1_ROLE_SERVER == (int)SLUICE_ROLE_SERVER, "pair and connection roles agree");

static void view_pair(struct export *e, const struct conn *c, const struct http1_pair *p,
		      struct pair_view *v)
{
	/* the parser's role wins: it saw which side sent requests */
	uint8_t role = p->role ? p->role : c->role;

	v->server = role == SLUICE_ROLE_SERVER;
	output_addr(v->server ? v->saddr : v->caddr, sizeof(v->saddr), c->family, c->laddr);
	output_addr(v->server ? v->caddr : v->saddr, sizeof(v->saddr), c->family, c->raddr);
	v->sport = v->server ? c->lport : c->rport;
	v->cport = v->server ? c->rport : c->lport;
	v->peer = v->server ? v->caddr : v->saddr;
	v->method = route_method(p->method);
	v->route[0] = 0;
	if (e->routes)
		route_template(p->path, v->route, sizeof(v->route));
	utoa(v->status, p->status > 0 ? (uint32_t)p->status : 0);
	utoa(v->sport_s, v->sport);
	utoa(v->pid, c->tgid);
	/* semconv error.type: the status code when it counts as an error */
	v->error[0] = 0;
	if (p->status >= (v->server ? 500 : 400))
		memcpy(v->error, v->status, sizeof(v->error));
}

static void record_metrics(struct export *e, const struct http1_pair *p,
			   const struct pair_view *v, const char *exe)
{
	static const enum metrics_id server_ids[] = {
		M_HTTP_SERVER_DURATION, M_HTTP_SERVER_REQ_BODY, M_HTTP_SERVER_RESP_BODY,
	};
	static const enum metrics_id client_ids[] = {
		M_HTTP_CLIENT_DURATION, M_HTTP_CLIENT_REQ_BODY, M_HTTP_CLIENT_RESP_BODY,
	};
	double vals[3] = {
		p->end_ns > p->start_ns ? (double)(p->end_ns - p->start_ns) / 1e9 : 0,
		(double)p->req_body, (double)p->resp_body,
	};
	struct metrics_attrs a = { 0 };

	a.v[MK_METHOD] = v->method;
	a.v[MK_STATUS] = v->status;
	a.v[v->server ? MK_ROUTE : MK_URL_TEMPLATE] = v->route[0] ? v->route : NULL;
	a.v[MK_ERROR_TYPE] = v->error[0] ? v->error : NULL;
	a.v[MK_SERVER_ADDR] = v->shown;
	a.v[MK_SERVER_PORT] = v->sport_s;
	a.v[MK_CLIENT_ADDR] = v->caddr;
	a.v[MK_URL_PATH] = p->path;
	a.v[MK_EXE] = exe;
	a.v[MK_PID] = v->pid;
	metrics_observe_n(e->m, v->server ? server_ids : client_ids, vals, 3, &a);
}

/* strlcpy: cuts what does not fit (the JSON encoder repairs a cut UTF-8
 * character) */
static void copy(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);

	memcpy(dst, src, len);
	dst[len] = 0;
}

static void queue_span(struct export *e, const struct conn *c, const struct http1_pair *p,
		       const struct pair_view *v, const char *exe, int64_t boot_to_unix_ns)
{
	struct otlp_span s;

	memset(&s, 0, sizeof(s));
	s.start_ns = (uint64_t)((int64_t)p->start_ns + boot_to_unix_ns);
	s.end_ns = (uint64_t)((int64_t)(p->end_ns > p->start_ns ? p->end_ns : p->start_ns) +
			      boot_to_unix_ns);
	s.has_parent = otlp_parse_traceparent(p->traceparent, s.trace_id, s.parent_id);
	s.complete = p->complete;
	s.kind = v->server ? OTLP_SPAN_KIND_SERVER : OTLP_SPAN_KIND_CLIENT;
	s.status = (uint16_t)(p->status > 0 && p->status < 1000 ? p->status : 0);
	s.server_port = v->sport;
	s.client_port = v->cport;
	s.pid = c->tgid;
	s.req_body = p->req_body;
	s.resp_body = p->resp_body;
	copy(s.method, sizeof(s.method), v->method);
	if (strcmp(v->method, "_OTHER") == 0)
		copy(s.method_orig, sizeof(s.method_orig), p->method);
	copy(s.route, sizeof(s.route), v->route);
	copy(s.path, sizeof(s.path), p->path);
	copy(s.server_addr, sizeof(s.server_addr), v->shown);
	copy(s.peer_addr, sizeof(s.peer_addr), v->peer);
	s.peer_port = c->rport;
	copy(s.client_addr, sizeof(s.client_addr), v->caddr);
	copy(s.exe, sizeof(s.exe), exe);
	otlp_span(e->otlp, &s);
}

void export_pair(struct export *e, const struct conn *c, const struct http1_pair *p,
		 const char *process_name, const char *server_name, int64_t boot_to_unix_ns)
{
	struct pair_view v;

	if (!p->method[0])
		return; /* the request line was lost: nothing to name it by */
	view_pair(e, c, p, &v);
	v.shown = server_name ? server_name : v.saddr;
	/* without a response the duration means "until sluice gave up":
	 * spans show such pairs (as errors), histograms do not */
	if (p->status > 0)
		record_metrics(e, p, &v, process_name);
	if (e->otlp)
		queue_span(e, c, p, &v, process_name, boot_to_unix_ns);
}

/* ---- health ---- */

static void set1(struct export *e, enum metrics_id id, enum metrics_key k, const char *v,
		 uint64_t n)
{
	struct metrics_attrs a = { 0 };

	if (v)
		a.v[k] = v;
	metrics_set(e->m, id, &a, n);
}

static void set2(struct export *e, enum metrics_id id, const char *stage, const char *reason,
		 uint64_t n)
{
	struct metrics_attrs a = { 0 };

	a.v[MK_STAGE] = stage;
	a.v[MK_REASON] = reason;
	metrics_set(e->m, id, &a, n);
}

/* Every loss the loader reports, by where it happened. */
static void health_events(struct export *e, const struct processor *p)
{
	static const char *const types[SLUICE_EV_MAX + 1] = {
		[SLUICE_EV_EXEC] = "exec", [SLUICE_EV_EXIT] = "exit",
		[SLUICE_EV_CONN_OPEN] = "conn_open", [SLUICE_EV_CONN_CLOSE] = "conn_close",
		[SLUICE_EV_DATA] = "data", [SLUICE_EV_LOSS] = "loss",
		[SLUICE_EV_DNS] = "dns", [SLUICE_EV_FLOW] = "flow",
	};
	static const struct { int kind; const char *stage, *reason; } drops[] = {
		{ SLUICE_LOSS_RB_DATA, "kernel", "ringbuf_full_data" },
		{ SLUICE_LOSS_RB_CONN, "kernel", "ringbuf_full_conn" },
		{ SLUICE_LOSS_RB_PROC, "kernel", "ringbuf_full_proc" },
		{ SLUICE_LOSS_MAP_FULL, "kernel", "map_full" },
		{ SLUICE_LOSS_READ_FAIL, "kernel", "read_failed" },
		{ SLUICE_LOSS_SPOOL_EVENTS, "loader", "spool_full" },
		{ SLUICE_LOSS_BAD_RECORD, "loader", "bad_record" },
	};

	for (int t = 1; t <= SLUICE_EV_MAX; t++)
		if (types[t])
			set1(e, M_EVENTS_RECEIVED, MK_TYPE, types[t], p->by_type[t]);
	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		set2(e, M_EVENTS_DROPPED, drops[i].stage, drops[i].reason, p->loss[drops[i].kind]);
	set2(e, M_EVENTS_DROPPED, "decode", "malformed", p->dec.bad_events);
	set1(e, M_FRAMES_RECEIVED, MK_MAX, NULL, p->dec.frames);
	set1(e, M_FRAMES_REJECTED, MK_REASON, "malformed", p->dec.bad_frames);
	set1(e, M_FRAMES_REJECTED, MK_REASON, "replayed", p->dec.replays);
	set1(e, M_CAPTURE_TRUNCATED, MK_MAX, NULL, p->loss[SLUICE_LOSS_TRUNC_BYTES]);
	set1(e, M_SPOOL_DROPPED, MK_MAX, NULL, p->loss[SLUICE_LOSS_SPOOL_FULL]);
}

static void health_pairing(struct export *e, const struct processor *p)
{
	const struct http1_stats *hs = conntrack_http_stats(p->ct);
	const struct conntrack_stats *cs = conntrack_stats(p->ct);

	set1(e, M_HTTP_PAIRS, MK_COMPLETE, "true", hs->pairs);
	set1(e, M_HTTP_PAIRS, MK_COMPLETE, "false", hs->incomplete);
	set1(e, M_HTTP_DROPPED, MK_REASON, "orphan_response", hs->orphan_responses);
	set1(e, M_HTTP_DROPPED, MK_REASON, "pending_overflow", hs->pending_overflow);
	set1(e, M_HTTP_RESYNCS, MK_MAX, NULL, hs->resyncs);
	set1(e, M_HTTP_NOT_HTTP, MK_MAX, NULL, hs->not_http);
	set1(e, M_CONNS_TRACKED, MK_MAX, NULL, cs->live);
	set1(e, M_CONNS_OPENED, MK_MAX, NULL, cs->opened);
	set1(e, M_CONNS_CLOSED, MK_MAX, NULL, cs->closed);
	set1(e, M_CONNS_EVICTED, MK_MAX, NULL, cs->evicted);
	set1(e, M_CONNS_UNKNOWN, MK_MAX, NULL, cs->unknown);
}

/* Thread-safe (locks only): also the OTLP sender's refresh hook, so each
 * push carries its own counters as of that moment. */
static void health_export(struct export *e)
{
	static const char *const results[] = { "ok", "retry", "failed" };
	struct otlp_stats st;
	uint64_t n, over;

	for (int id = 0; id < M_COUNT; id++) {
		if (!metrics_defs[id].selectable)
			continue;
		metrics_usage(e->m, (enum metrics_id)id, &n, &over);
		set1(e, M_SERIES, MK_METRIC, metrics_defs[id].name, n);
		set1(e, M_SERIES_OVERFLOW, MK_METRIC, metrics_defs[id].name, over);
	}
	if (!e->otlp)
		return;
	otlp_stats(e->otlp, &st);
	set1(e, M_OTLP_SPANS, MK_RESULT, "exported", st.exported);
	set1(e, M_OTLP_SPANS, MK_RESULT, "queue_full", st.queue_full);
	set1(e, M_OTLP_SPANS, MK_RESULT, "failed", st.failed);
	set1(e, M_OTLP_SPANS, MK_RESULT, "rejected", st.rejected);
	set1(e, M_OTLP_QUEUE, MK_MAX, NULL, st.queued);
	for (int sig = 0; sig < 2; sig++) {
		for (int r = 0; r < 3; r++) {
			struct metrics_attrs a = { 0 };

			a.v[MK_SIGNAL] = sig ? "metrics" : "traces";
			a.v[MK_RESULT] = results[r];
			metrics_set(e->m, M_OTLP_REQUESTS, &a, st.requests[sig][r]);
		}
	}
}

void export_health(struct export *e, const struct processor *p)
{
	if (!e)
		return;
	health_events(e, p);
	health_pairing(e, p);
	names_metrics(p->names, e->m);
	health_export(e);
}

struct metrics *export_metrics(struct export *e)
{
	return e ? e->m : NULL;
}

/* ---- life ---- */

static void refresh_export_health(void *ctx)
{
	health_export(ctx);
}

/* base + "/v1/traces", without doubling a trailing slash. */
static char *signal_url(const char *base, const char *path)
{
	size_t n = strlen(base);
	char *url;

	while (n > 0 && base[n - 1] == '/')
		n--;
	if ((url = malloc(n + strlen(path) + 1)))
		sprintf(url, "%.*s%s", (int)n, base, path);
	return url;
}

static int start_otlp(struct export *e, const struct config *c, char *err, size_t errlen)
{
	char *traces = NULL, *metrics = NULL;
	struct otlp_opts o = {
		.headers = c->otlp_headers, .timeout_ms = c->otlp_timeout_ms,
		.retry_ms = c->otlp_retry_ms, .interval_ms = c->otlp_interval_ms,
		.batch = c->otlp_batch, .queue = c->otlp_queue, .metrics = e->m,
		.refresh = refresh_export_health, .refresh_ctx = e,
	};

	if (c->otlp_traces)
		traces = c->otlp_traces_endpoint ? strdup(c->otlp_traces_endpoint)
		       : c->otlp_endpoint ? signal_url(c->otlp_endpoint, "/v1/traces") : NULL;
	if (c->otlp_metrics)
		metrics = c->otlp_metrics_endpoint ? strdup(c->otlp_metrics_endpoint)
			: c->otlp_endpoint ? signal_url(c->otlp_endpoint, "/v1/metrics") : NULL;
	o.traces_url = traces;
	o.metrics_url = metrics;
	if ((traces || metrics) && (e->otlp = otlp_start(&o, err, errlen)))
		log_info("OTLP export: traces to %s, metrics to %s every %ums",
			 traces ? traces : "(off)", metrics ? metrics : "(off)", c->otlp_interval_ms);
	free(traces);
	free(metrics);
	return (traces || metrics) && !e->otlp ? -1 : 0;
}

struct export *export_start(const struct config *c, char *err, size_t errlen)
{
	struct metrics_opts mo = { .max_series = c->max_series, .select = c->select,
				   .nselect = c->nselect };
	const char *listen = c->metrics_listen ? c->metrics_listen : PROM_DEFAULT_LISTEN;
	struct export *e = calloc(1, sizeof(*e));

	if (!e || !(e->m = metrics_new(&mo))) {
		snprintf(err, errlen, "out of memory for the metrics registry");
		free(e);
		return NULL;
	}
	e->routes = c->routes;
	if (strcmp(listen, "none") != 0) {
		e->prom = prom_start(listen, e->m, err, errlen);
		if (!e->prom && c->metrics_listen) { /* asked for: a must */
			export_stop(e, NULL);
			return NULL;
		}
		/* the default address may be another sluice's (a test, a second
		 * instance): pairing matters more than one endpoint */
		if (!e->prom)
			log_warn("%s: no Prometheus endpoint (set metrics_listen or "
				 "--metrics-listen to another address, or to none)", err);
		else
			log_info("Prometheus metrics at http://%s/metrics", listen);
	}
	if (start_otlp(e, c, err, errlen) < 0) {
		export_stop(e, NULL);
		return NULL;
	}
	return e;
}

void export_stop(struct export *e, const struct processor *p)
{
	if (!e)
		return;
	if (p)
		export_health(e, p); /* the last push carries the final counts */
	prom_stop(e->prom);
	otlp_stop(e->otlp, EXPORT_STOP_WAIT_MS);
	metrics_free(e->m);
	free(e);
}

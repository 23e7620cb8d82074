/* The OTLP/HTTP exporter (processor/otlp.h). JSON rather than protobuf:
 * OTLP/HTTP accepts both, and JSON needs no protobuf library or generated
 * code in an agent that sends two message types. libcurl rather than a
 * hand-written client: TLS to a collector, proxies, keep-alive, timeouts and
 * redirects are what a user's endpoint may need, and getting them right by
 * hand is a project of its own. One sender thread does all network work. */
#include "processor/otlp.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/log.h"

#ifndef SLUICE_VERSION /* the Makefile defines it; fuzz builds may not */
#define SLUICE_VERSION "unknown"
#endif
#define OTLP_SPAN_FLUSH_MS 1000     /* a partial batch waits at most this long */
#define OTLP_BACKOFF_FIRST_MS 500
#define OTLP_BACKOFF_MAX_MS 30000
#define OTLP_RESPONSE_MAX (64 * 1024)

enum { SIG_TRACES, SIG_METRICS };
enum { REQ_OK, REQ_RETRY, REQ_FAILED };

/* ---- JSON encoding ---- */

static void json_str(FILE *f, const char *s)
{
	char clean[1024];

	metrics_clean_value(clean, s, sizeof(clean) - 1); /* protobuf strings must be UTF-8 */
	fputc('"', f);
	for (const char *p = clean; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f); /* control bytes were cleaned to '?' */
	}
	fputc('"', f);
}

static void hex(FILE *f, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		fputc(digits[b[i] >> 4], f);
		fputc(digits[b[i] & 15], f);
	}
	fputc('"', f);
}

static void attr_key(FILE *f, bool *first, const char *key)
{
	fputs(*first ? "{\"key\":" : ",{\"key\":", f);
	*first = false;
	json_str(f, key);
}

static void attr_str(FILE *f, bool *first, const char *key, const char *v)
{
	attr_key(f, first, key);
	fputs(",\"value\":{\"stringValue\":", f);
	json_str(f, v);
	fputs("}}", f);
}

/* int64 travels as a JSON string (proto3 JSON mapping). */
static void attr_int(FILE *f, bool *first, const char *key, int64_t v)
{
	attr_key(f, first, key);
	fprintf(f, ",\"value\":{\"intValue\":\"%" PRId64 "\"}}", v);
}

static void attr_bool(FILE *f, bool *first, const char *key, bool v)
{
	attr_key(f, first, key);
	fprintf(f, ",\"value\":{\"boolValue\":%s}}", v ? "true" : "false");
}

static void resource(FILE *f, const char *service, const struct otlp_span *s, const char *host)
{
	bool first = true;

	fputs("\"resource\":{\"attributes\":[", f);
	attr_str(f, &first, "service.name", service);
	if (s) {
		attr_int(f, &first, "process.pid", s->pid);
		attr_str(f, &first, "process.executable.name", s->exe);
	}
	attr_str(f, &first, "host.name", host);
	attr_str(f, &first, "telemetry.sdk.name", "sluice");
	attr_str(f, &first, "telemetry.sdk.version", SLUICE_VERSION);
	fputs("]}", f);
}

static void scope(FILE *f)
{
	fputs("\"scope\":{\"name\":\"sluice\",\"version\":\"" SLUICE_VERSION "\"}", f);
}

/* semconv: a server span fails on 5xx, a client span on 4xx and 5xx; no
 * response at all fails both. */
static bool span_failed(const struct otlp_span *s)
{
	return s->status == 0 || s->status >= (s->kind == OTLP_SPAN_KIND_SERVER ? 500 : 400);
}

static void span_attrs(FILE *f, const struct otlp_span *s)
{
	bool first = true, server = s->kind == OTLP_SPAN_KIND_SERVER;
	char url[600], status[8];

	fputs(",\"attributes\":[", f);
	attr_str(f, &first, "http.request.method", s->method);
	if (s->method_orig[0])
		attr_str(f, &first, "http.request.method_original", s->method_orig);
	attr_str(f, &first, "url.path", s->path);
	attr_str(f, &first, "url.scheme", "http");
	if (!server) {
		snprintf(url, sizeof(url), "http://%s%s%s:%u%s", strchr(s->server_addr, ':') ? "[" : "",
			 s->server_addr, strchr(s->server_addr, ':') ? "]" : "", s->server_port, s->path);
		attr_str(f, &first, "url.full", url);
	}
	if (s->route[0])
		attr_str(f, &first, server ? "http.route" : "url.template", s->route);
	if (s->status)
		attr_int(f, &first, "http.response.status_code", s->status);
	attr_str(f, &first, "server.address", s->server_addr);
	attr_int(f, &first, "server.port", s->server_port);
	attr_str(f, &first, "client.address", s->client_addr);
	attr_int(f, &first, "client.port", s->client_port);
	if (s->peer_addr[0]) {
		attr_str(f, &first, "network.peer.address", s->peer_addr);
		attr_int(f, &first, "network.peer.port", s->peer_port);
	}
	attr_str(f, &first, "network.protocol.name", "http");
	attr_int(f, &first, "http.request.body.size", (int64_t)s->req_body);
	attr_int(f, &first, "http.response.body.size", (int64_t)s->resp_body);
	if (span_failed(s)) {
		snprintf(status, sizeof(status), "%u", s->status);
		attr_str(f, &first, "error.type", s->status ? status : "no_response");
	}
	if (!s->complete)
		attr_bool(f, &first, "sluice.complete", false);
	fputc(']', f);
}

static void span_json(FILE *f, const struct otlp_span *s)
{
	fputs("{\"traceId\":", f);
	hex(f, s->trace_id, 16);
	fputs(",\"spanId\":", f);
	hex(f, s->span_id, 8);
	if (s->has_parent) {
		fputs(",\"parentSpanId\":", f);
		hex(f, s->parent_id, 8);
	}
	/* semconv span name: "{method} {route}", "HTTP" for unknown methods */
	fputs(",\"name\":", f);
	if (strcmp(s->method, "_OTHER") == 0) {
		json_str(f, "HTTP");
	} else {
		char name[sizeof(s->method) + sizeof(s->route) + 1];

		snprintf(name, sizeof(name), "%s%s%s", s->method, s->route[0] ? " " : "", s->route);
		json_str(f, name);
	}
	fprintf(f, ",\"kind\":%u,\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64
		   "\"", s->kind, s->start_ns, s->end_ns);
	span_attrs(f, s);
	if (span_failed(s))
		fputs(",\"status\":{\"code\":2}", f); /* STATUS_CODE_ERROR; else UNSET */
	fputc('}', f);
}

static int by_process(const void *a, const void *b)
{
	const struct otlp_span *x = *(const struct otlp_span *const *)a;
	const struct otlp_span *y = *(const struct otlp_span *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->exe, y->exe);
}

/* One resource per process, so each application shows up as the service
 * it is (service.name = its executable) rather than as "sluice". */
void otlp_encode_spans(FILE *f, const struct otlp_span *spans, size_t n, const char *host)
{
	const struct otlp_span **v = malloc((n ? n : 1) * sizeof(*v));

	if (!v) {
		fputs("{\"resourceSpans\":[]}", f);
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = &spans[i];
	qsort(v, n, sizeof(*v), by_process);
	fputs("{\"resourceSpans\":[", f);
	for (size_t i = 0; i < n; i++) {
		bool new_group = i == 0 || by_process(&v[i - 1], &v[i]) != 0;

		if (new_group) {
			fputs(i ? "]}]},{" : "{", f);
			resource(f, v[i]->exe, v[i], host);
			fputs(",\"scopeSpans\":[{", f);
			scope(f);
			fputs(",\"spans\":[", f);
		} else {
			fputc(',', f);
		}
		span_json(f, v[i]);
	}
	fputs(n ? "]}]}]}" : "]}", f);
	free(v);
}

static bool all_digits(const char *v)
{
	return *v && strspn(v, "0123456789") == strlen(v) && strlen(v) < 19;
}

static void point_attrs(FILE *f, const struct metrics_series *s, enum metrics_id id)
{
	enum metrics_key k;
	const char *v;
	uint32_t pos = 0;
	bool first = true;

	fputs("\"attributes\":[", f);
	while (metrics_attr_next(s, id, &pos, &k, &v)) {
		if (metrics_keys[k].type == MKT_INT && all_digits(v))
			attr_int(f, &first, metrics_keys[k].name, strtoll(v, NULL, 10));
		else if (metrics_keys[k].type == MKT_BOOL)
			attr_bool(f, &first, metrics_keys[k].name, strcmp(v, "true") == 0);
		else
			attr_str(f, &first, metrics_keys[k].name, v);
	}
	fputc(']', f);
}

static void histogram_point(FILE *f, const struct metrics_series *s, enum metrics_id id)
{
	const struct metrics_def *d = &metrics_defs[id];
	const uint64_t *b = metrics_buckets(s);

	fprintf(f, ",\"count\":\"%" PRIu64 "\",\"sum\":%.17g,\"bucketCounts\":[", s->count, s->sum);
	for (int i = 0; i <= d->nbounds; i++)
		fprintf(f, "%s\"%" PRIu64 "\"", i ? "," : "", b[i]);
	fputs("],\"explicitBounds\":[", f);
	for (int i = 0; i < d->nbounds; i++)
		fprintf(f, "%s%.17g", i ? "," : "", d->bounds[i]);
	fputc(']', f);
}

static void metric_json(FILE *f, const struct metrics_snapshot *snap, enum metrics_id id)
{
	const struct metrics_def *d = &metrics_defs[id];
	static const char *const open[] = {
		[MKIND_HISTOGRAM] = "\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[",
		[MKIND_COUNTER] = "\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[",
		[MKIND_GAUGE] = "\"gauge\":{\"dataPoints\":[",
	};

	fputs("{\"name\":", f);
	json_str(f, d->name);
	fputs(",\"description\":", f);
	json_str(f, d->help);
	fputs(",\"unit\":", f);
	json_str(f, d->unit);
	fprintf(f, ",%s", open[d->kind]);
	for (size_t i = 0; i < snap->m[id].n; i++) {
		const struct metrics_series *s = snap->m[id].series[i];

		fputs(i ? ",{" : "{", f);
		point_attrs(f, s, id);
		if (d->kind != MKIND_GAUGE) /* cumulative: since the series began */
			fprintf(f, ",\"startTimeUnixNano\":\"%" PRIu64 "\"", s->start_ns);
		fprintf(f, ",\"timeUnixNano\":\"%" PRIu64 "\"", snap->time_ns);
		if (d->kind == MKIND_HISTOGRAM)
			histogram_point(f, s, id);
		else
			fprintf(f, ",\"asInt\":\"%" PRIu64 "\"", s->value);
		fputc('}', f);
	}
	fputs("]}}", f);
}

void otlp_encode_metrics(FILE *f, const struct metrics_snapshot *snap, const char *host)
{
	bool first = true;

	fputs("{\"resourceMetrics\":[{", f);
	resource(f, "sluice", NULL, host);
	fputs(",\"scopeMetrics\":[{", f);
	scope(f);
	fputs(",\"metrics\":[", f);
	for (int id = 0; id < M_COUNT; id++) {
		if (snap->m[id].n == 0)
			continue;
		if (!first)
			fputc(',', f);
		first = false;
		metric_json(f, snap, (enum metrics_id)id);
	}
	fputs("]}]}]}", f);
}

/* ---- traceparent ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Lowercase hex only: the W3C spec says to ignore anything else. */
static bool unhex(const char *s, uint8_t *out, size_t n)
{
	uint8_t any = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		any |= out[i];
	}
	return any != 0; /* all-zero ids are invalid */
}

bool otlp_parse_traceparent(const char *v, uint8_t trace_id[16], uint8_t parent_id[8])
{
	size_t len = strnlen(v, 512);
	int hi = len ? hexval(v[0]) : -1, lo = len > 1 ? hexval(v[1]) : -1;

	/* version 00 is exactly 55 bytes; a later version may append "-..." */
	if (len < 55 || hi < 0 || lo < 0 || (hi == 15 && lo == 15) ||
	    ((hi | lo) == 0 && len != 55) || (len > 55 && v[55] != '-'))
		return false;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-' || hexval(v[53]) < 0 || hexval(v[54]) < 0)
		return false;
	return unhex(v + 3, trace_id, 16) && unhex(v + 36, parent_id, 8);
}

/* ---- the exporter ---- */

struct otlp {
	struct otlp_opts o;
	char *traces_url, *metrics_url;
	struct curl_slist *headers;
	char host[256];
	pthread_t thread;
	pthread_mutex_t lock;      /* guards everything down to `st` */
	pthread_cond_t wake;
	struct otlp_span *q;       /* ring of o.queue spans */
	uint32_t head, count;
	bool stop;
	uint64_t stop_by;          /* CLOCK_MONOTONIC ns: give up sending then */
	uint64_t rng[2];           /* xorshift128+ for span and trace ids */
	struct otlp_stats st;
	/* sender thread only */
	CURL *curl;
	struct otlp_span *batch;
	char *resp;
	size_t resp_len;
	bool failing[2];           /* last request of the signal failed: log once */
	uint64_t jitter[2];        /* the sender's own generator, for backoff */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t s[2])
{
	uint64_t a = s[0], b = s[1];

	s[0] = b;
	a ^= a << 23;
	s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return s[1] + b;
}

/* Random, never all-zero ids (W3C: all-zero is invalid). */
static void random_id(uint64_t s[2], uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = rng_next(s) | 1;

		memcpy(out + i, &r, n - i < 8 ? n - i : 8);
	}
}

void otlp_span(struct otlp *x, const struct otlp_span *s)
{
	struct otlp_span *slot;

	if (!x->o.traces_url)
		return;
	pthread_mutex_lock(&x->lock);
	if (x->count == x->o.queue) {
		x->st.queue_full++;
		pthread_mutex_unlock(&x->lock);
		return;
	}
	slot = &x->q[(x->head + x->count++) % x->o.queue];
	*slot = *s;
	random_id(x->rng, slot->span_id, 8);
	if (!slot->has_parent)
		random_id(x->rng, slot->trace_id, 16);
	if (x->count >= x->o.batch)
		pthread_cond_signal(&x->wake);
	pthread_mutex_unlock(&x->lock);
}

void otlp_stats(struct otlp *x, struct otlp_stats *st)
{
	pthread_mutex_lock(&x->lock);
	*st = x->st;
	st->queued = x->count;
	pthread_mutex_unlock(&x->lock);
}

static void count_request(struct otlp *x, int sig, int result)
{
	pthread_mutex_lock(&x->lock);
	x->st.requests[sig][result]++;
	pthread_mutex_unlock(&x->lock);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct otlp *x = ctx;
	size_t len = size * n, keep = len;
	char *grown;

	if (x->resp_len + keep > OTLP_RESPONSE_MAX)
		keep = OTLP_RESPONSE_MAX - x->resp_len; /* the rest is read and ignored */
	if (keep && (grown = realloc(x->resp, x->resp_len + keep + 1))) {
		x->resp = grown;
		memcpy(x->resp + x->resp_len, p, keep);
		x->resp_len += keep;
		x->resp[x->resp_len] = 0;
	}
	return len;
}

enum post_result { POST_OK, POST_RETRY, POST_PERMANENT };

/* The first failure after a success is logged; the rest are counted. */
static void post_failed(struct otlp *x, int sig, const char *url, const char *why)
{
	if (!x->failing[sig])
		log_warn("OTLP export to %s failed: %s (retries and failures are counted in "
			 "sluice_otlp_requests_total)", url, why);
	x->failing[sig] = true;
}

/* One POST. Retryable per the OTLP spec: 429, 502, 503, 504 and network
 * errors; any other non-2xx is permanent for this payload. */
static enum post_result post(struct otlp *x, int sig, const char *url, const char *body,
			     size_t len, long *retry_after)
{
	CURL *c = x->curl;
	curl_off_t ra = -1;
	long code = 0;
	CURLcode rc;
	char why[256];

	x->resp_len = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		post_failed(x, sig, url, curl_easy_strerror(rc));
		return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? POST_PERMANENT
										     : POST_RETRY;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300) {
		x->failing[sig] = false;
		return POST_OK;
	}
	curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra);
	*retry_after = (long)ra;
	snprintf(why, sizeof(why), "HTTP %ld %.160s", code, x->resp_len ? x->resp : "");
	post_failed(x, sig, url, why);
	return code == 429 || code == 502 || code == 503 || code == 504 ? POST_RETRY : POST_PERMANENT;
}

/* Waits ms, or less when told to stop. Returns false once the stop
 * deadline has passed: nothing more may be tried. */
static bool backoff_wait(struct otlp *x, uint64_t ms)
{
	uint64_t until = mono_ns() + ms * 1000000ULL;
	bool go_on;

	pthread_mutex_lock(&x->lock);
	while (!x->stop && mono_ns() < until) {
		uint64_t ns = until;
		struct timespec ts = { (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };

		pthread_cond_timedwait(&x->wake, &x->lock, &ts);
	}
	go_on = !x->stop || mono_ns() < x->stop_by;
	pthread_mutex_unlock(&x->lock);
	return go_on;
}

/* POSTs until it succeeds, fails for good, or retry_ms have passed, with
 * exponential backoff (doubling, +-25% jitter so many agents do not retry
 * in step) or the collector's Retry-After. */
static bool send_retrying(struct otlp *x, int sig, const char *url, const char *body, size_t len)
{
	uint64_t give_up = mono_ns() + x->o.retry_ms * 1000000ULL, delay = OTLP_BACKOFF_FIRST_MS;

	for (;;) {
		long retry_after = -1;
		enum post_result r = post(x, sig, url, body, len, &retry_after);
		uint64_t wait = retry_after > 0 ? (uint64_t)retry_after * 1000 : delay;

		if (r == POST_OK) {
			count_request(x, sig, REQ_OK);
			return true;
		}
		if (retry_after <= 0)
			wait = wait * 3 / 4 + (uint64_t)(rng_next(x->jitter) % (wait / 2 + 1));
		if (r == POST_PERMANENT || mono_ns() + wait * 1000000ULL > give_up ||
		    !backoff_wait(x, wait)) {
			count_request(x, sig, REQ_FAILED);
			return false;
		}
		count_request(x, sig, REQ_RETRY);
		delay = delay * 2 > OTLP_BACKOFF_MAX_MS ? OTLP_BACKOFF_MAX_MS : delay * 2;
	}
}

/* Moves up to a batch of spans out of the queue. Called with the lock. */
static size_t take_batch(struct otlp *x)
{
	size_t n = 0;

	while (x->count > 0 && n < x->o.batch) {
		x->batch[n++] = x->q[x->head];
		x->head = (x->head + 1) % x->o.queue;
		x->count--;
	}
	return n;
}

/* OTLP partial success: {"partialSuccess":{"rejectedSpans":"3",...}} */
static uint64_t rejected_spans(const struct otlp *x)
{
	const char *p = x->resp_len ? strstr(x->resp, "\"rejectedSpans\"") : NULL;

	if (!p)
		return 0;
	p += strlen("\"rejectedSpans\"");
	p += strspn(p, " \t\r\n:\"");
	return strtoull(p, NULL, 10);
}

static void send_spans(struct otlp *x, size_t n)
{
	char *body = NULL;
	size_t len = 0;
	uint64_t rejected = 0;
	bool ok = false;
	FILE *f = open_memstream(&body, &len);

	if (f) {
		otlp_encode_spans(f, x->batch, n, x->host);
		fclose(f);
		if ((ok = send_retrying(x, SIG_TRACES, x->traces_url, body, len)))
			rejected = rejected_spans(x);
	}
	free(body);
	pthread_mutex_lock(&x->lock);
	if (!ok) {
		x->st.failed += n;
	} else {
		rejected = rejected > n ? n : rejected;
		x->st.rejected += rejected;
		x->st.exported += n - rejected;
	}
	pthread_mutex_unlock(&x->lock);
}

static void push_metrics(struct otlp *x)
{
	struct metrics_snapshot *snap;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (x->o.refresh)
		x->o.refresh(x->o.refresh_ctx); /* e.g. our own counters, as of now */
	if (!(snap = metrics_snapshot(x->o.metrics)))
		return;
	if ((f = open_memstream(&body, &len))) {
		otlp_encode_metrics(f, snap, x->host);
		fclose(f);
		/* a failed push is not kept: the next one carries the same
		 * cumulative totals, and newer */
		send_retrying(x, SIG_METRICS, x->metrics_url, body, len);
	}
	free(body);
	metrics_snapshot_free(snap);
}

/* Waits, with the lock held, for a full batch, the time `at`, or stop. */
static void wait_until(struct otlp *x, uint64_t at)
{
	struct timespec ts = { (time_t)(at / 1000000000ULL), (long)(at % 1000000000ULL) };

	while (!x->stop && x->count < x->o.batch && mono_ns() < at)
		pthread_cond_timedwait(&x->wake, &x->lock, &ts);
}

/* Stopping: what is queued goes out, then a last metrics push, until
 * stop_by. Spans still queued then are lost, and counted. */
static void drain(struct otlp *x)
{
	while (x->count > 0 && mono_ns() < x->stop_by) {
		size_t n = take_batch(x);

		pthread_mutex_unlock(&x->lock);
		send_spans(x, n);
		pthread_mutex_lock(&x->lock);
	}
	x->st.failed += x->count;
	x->count = 0;
	pthread_mutex_unlock(&x->lock);
	if (x->metrics_url && mono_ns() < x->stop_by)
		push_metrics(x);
}

static void *sender(void *arg)
{
	struct otlp *x = arg;
	uint64_t flush_ns = OTLP_SPAN_FLUSH_MS * 1000000ULL, every = x->o.interval_ms * 1000000ULL;
	uint64_t flush_at = mono_ns() + flush_ns, metrics_at = mono_ns() + every;

	pthread_mutex_lock(&x->lock);
	while (!x->stop) {
		wait_until(x, x->metrics_url && metrics_at < flush_at ? metrics_at : flush_at);
		if (x->stop)
			break;
		if (x->count >= x->o.batch || mono_ns() >= flush_at) {
			size_t n = take_batch(x);

			if (mono_ns() >= flush_at)
				flush_at = mono_ns() + flush_ns;
			pthread_mutex_unlock(&x->lock);
			if (n)
				send_spans(x, n);
			pthread_mutex_lock(&x->lock);
		}
		if (x->metrics_url && mono_ns() >= metrics_at) {
			pthread_mutex_unlock(&x->lock);
			push_metrics(x);
			pthread_mutex_lock(&x->lock);
			metrics_at = mono_ns() + every;
		}
	}
	drain(x); /* unlocks */
	return NULL;
}

/* "a=b, c=d" -> "a: b", "c: d" on top of the content type. */
static struct curl_slist *make_headers(const char *spec)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char line[1024];

	while (h && spec && *spec) {
		size_t len = strcspn(spec, ","), name;
		const char *item = spec + strspn(spec, " \t");

		len -= (size_t)(item - spec);
		name = strcspn(item, "=");
		if (name < len && len < sizeof(line) - 2) {
			struct curl_slist *more;

			snprintf(line, sizeof(line), "%.*s: %.*s", (int)name, item,
				 (int)(len - name - 1), item + name + 1);
			if (!(more = curl_slist_append(h, line))) {
				curl_slist_free_all(h);
				return NULL;
			}
			h = more;
		}
		spec = item + len + (item[len] == ',');
	}
	return h;
}

static void otlp_free(struct otlp *x)
{
	if (x->curl)
		curl_easy_cleanup(x->curl);
	curl_slist_free_all(x->headers);
	free(x->traces_url);
	free(x->metrics_url);
	free(x->q);
	free(x->batch);
	free(x->resp);
	free(x);
}

static void seed(uint64_t s[2])
{
	if (getrandom(s, 2 * sizeof(uint64_t), 0) != 2 * sizeof(uint64_t)) {
		s[0] = mono_ns() ^ ((uint64_t)getpid() << 32);
		s[1] = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	}
	s[0] |= 1; /* xorshift state must not be all zero */
}

/* Aborts a request in flight once a stop's deadline has passed: the timeout
 * of one request may be longer than the time a stop may take. */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct otlp *x = ctx;

	(void)dt, (void)dn, (void)ut, (void)un;
	return __atomic_load_n(&x->stop, __ATOMIC_ACQUIRE) &&
	       mono_ns() > __atomic_load_n(&x->stop_by, __ATOMIC_ACQUIRE);
}

/* The easy handle is set up once and reused: one keep-alive connection to
 * the collector. NOSIGNAL because we are a thread in a daemon. */
static int setup_curl(struct otlp *x)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(x->curl = curl_easy_init()) ||
	    !(x->headers = make_headers(x->o.headers)))
		return -1;
	curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, (long)x->o.timeout_ms);
	curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->curl, CURLOPT_USERAGENT, "sluice/" SLUICE_VERSION);
	curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(x->curl, CURLOPT_XFERINFODATA, x);
	return 0;
}

struct otlp *otlp_start(const struct otlp_opts *o, char *err, size_t errlen)
{
	struct otlp *x = calloc(1, sizeof(*x));
	pthread_condattr_t ca;

	if (!x || !o->batch || !o->queue) {
		snprintf(err, errlen, "%s", x ? "batch and queue sizes must be at least 1" : "out of memory");
		free(x);
		return NULL;
	}
	x->o = *o;
	x->traces_url = o->traces_url ? strdup(o->traces_url) : NULL;
	x->metrics_url = o->metrics_url ? strdup(o->metrics_url) : NULL;
	x->o.traces_url = x->traces_url;
	x->o.metrics_url = x->metrics_url;
	x->q = calloc(o->queue, sizeof(*x->q));
	x->batch = calloc(o->batch, sizeof(*x->batch));
	if (!x->q || !x->batch || (o->traces_url && !x->traces_url) ||
	    (o->metrics_url && !x->metrics_url) || setup_curl(x) < 0) {
		snprintf(err, errlen, "cannot set up the OTLP exporter (out of memory or libcurl)");
		otlp_free(x);
		return NULL;
	}
	if (gethostname(x->host, sizeof(x->host) - 1) < 0)
		strcpy(x->host, "unknown");
	seed(x->rng);
	seed(x->jitter);
	pthread_mutex_init(&x->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* wall-clock jumps must not stall us */
	pthread_cond_init(&x->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&x->thread, NULL, sender, x)) != 0) {
		snprintf(err, errlen, "cannot start the OTLP sender thread: %s", strerror(errno));
		otlp_free(x);
		return NULL;
	}
	return x;
}

void otlp_stop(struct otlp *x, uint32_t wait_ms)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	/* atomic stores: on_progress reads them without the lock */
	__atomic_store_n(&x->stop_by, mono_ns() + wait_ms * 1000000ULL, __ATOMIC_RELEASE);
	__atomic_store_n(&x->stop, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&x->wake);
	pthread_mutex_unlock(&x->lock);
	pthread_join(x->thread, NULL);
	pthread_cond_destroy(&x->wake);
	pthread_mutex_destroy(&x->lock);
	otlp_free(x);
}

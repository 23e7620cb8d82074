/* processor/otlp.c: traceparent parsing, the traceparent capture in the
 * HTTP parser, the JSON it encodes, and the sender against a real HTTP
 * server (libmicrohttpd, in this process) that fails on demand: retry with
 * backoff, permanent failures, partial success, queue overflow and a stop
 * while the collector is unreachable. The JSON's conformance to OTLP is
 * checked by the integration test with OpenTelemetry's own definitions. */
#include "processor/otlp.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "processor/http1.h"
#include "tests/unit/harness.h"

static void test_traceparent(void)
{
	uint8_t t[16], p[8];

	CHECK(otlp_parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", t, p));
	CHECK_EQ_U(t[0], 0x0a);
	CHECK_EQ_U(t[15], 0x9c);
	CHECK_EQ_U(p[0], 0xb7);
	CHECK_EQ_U(p[7], 0x31);
	/* a future version may carry more after a dash */
	CHECK(otlp_parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-xyz", t, p));
	CHECK(!otlp_parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", t, p));
	CHECK(!otlp_parse_traceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", t, p));
	CHECK(!otlp_parse_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01", t, p));
	CHECK(!otlp_parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", t, p));
	CHECK(!otlp_parse_traceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", t, p));
	CHECK(!otlp_parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", t, p));
	CHECK(!otlp_parse_traceparent("", t, p));
}

static char got_tp[HTTP1_TRACEPARENT_MAX + 1];
static int got_pairs;

static void on_pair(void *ctx, const struct http1_pair *pair)
{
	(void)ctx;
	memcpy(got_tp, pair->traceparent, sizeof(pair->traceparent));
	got_pairs++;
}

static void feed(const char *req, const char *resp)
{
	struct http1_conn *c = calloc(1, http1_conn_size());

	got_pairs = 0;
	http1_init(c, HTTP1_ROLE_SERVER, on_pair, NULL, NULL);
	http1_data(c, false, 1, 0, (uint32_t)strlen(req), (const uint8_t *)req, (uint32_t)strlen(req));
	http1_data(c, true, 2, 0, (uint32_t)strlen(resp), (const uint8_t *)resp, (uint32_t)strlen(resp));
	free(c);
}

/* The parser keeps a request's traceparent; a response's is ignored. */
static void test_parser_capture(void)
{
	feed("GET / HTTP/1.1\r\nHost: x\r\nTraceParent:  00-0af7651916cd43dd8448eb211c80319c-"
	     "b7ad6b7169203331-01 \r\n\r\n",
	     "HTTP/1.1 200 OK\r\ntraceparent: 00-11111111111111111111111111111111-"
	     "2222222222222222-01\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ_U(got_pairs, 1);
	CHECK_STR(got_tp, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	feed("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n");
	CHECK_STR(got_tp, "");
	/* too long: cut at 55 bytes, and then no longer valid */
	feed("GET / HTTP/1.1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	     "-and-more-and-more\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n");
	CHECK_EQ_U(strlen(got_tp), 55);
}

static void sample_span(struct otlp_span *s, uint32_t pid, const char *exe, uint8_t kind)
{
	memset(s, 0, sizeof(*s));
	s->start_ns = 1700000000000000000ULL;
	s->end_ns = s->start_ns + 1500000;
	s->kind = kind;
	s->status = 404;
	s->server_port = 8080;
	s->client_port = 51000;
	s->pid = pid;
	s->complete = true;
	strcpy(s->method, "GET");
	strcpy(s->route, "/users/{id}");
	strcpy(s->path, "/users/42");
	strcpy(s->server_addr, "::1");
	strcpy(s->client_addr, "::1");
	strcpy(s->exe, exe);
	memset(s->trace_id, 0xab, 16);
	memset(s->span_id, 0xcd, 8);
}

static char *encode_spans(const struct otlp_span *s, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	otlp_encode_spans(f, s, n, "host1");
	fclose(f);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_span_json(void)
{
	struct otlp_span s[3];
	char *json;

	sample_span(&s[0], 20, "nginx", OTLP_SPAN_KIND_SERVER);
	sample_span(&s[1], 10, "curl", OTLP_SPAN_KIND_CLIENT);
	sample_span(&s[2], 20, "nginx", OTLP_SPAN_KIND_SERVER);
	s[2].has_parent = true;
	memset(s[2].parent_id, 0x01, 8);
	strcpy(s[2].method, "_OTHER");
	strcpy(s[2].method_orig, "PROPFIND");
	strcpy(s[2].path, "/caf\xc3\xa9/\xff\"q");
	json = encode_spans(s, 3);
	/* one resource per process: curl's first (lower pid) */
	CHECK_EQ_U(count(json, "\"resource\":"), 2);
	CHECK(strstr(json, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
			   "\"service.name\",\"value\":{\"stringValue\":\"curl\"}}") == json);
	CHECK_EQ_U(count(json, "\"traceId\":\"abababababababababababababababab\""), 3);
	CHECK_EQ_U(count(json, "\"parentSpanId\":\"0101010101010101\""), 1);
	CHECK(strstr(json, "\"name\":\"GET /users/{id}\",\"kind\":2,\"startTimeUnixNano\":"
			   "\"1700000000000000000\",\"endTimeUnixNano\":\"1700000000001500000\"") != NULL);
	CHECK(strstr(json, "\"name\":\"HTTP\"") != NULL);
	CHECK(strstr(json, "{\"key\":\"http.request.method_original\",\"value\":{\"stringValue\":\"PROPFIND\"}}") != NULL);
	CHECK(strstr(json, "{\"key\":\"url.full\",\"value\":{\"stringValue\":\"http://[::1]:8080/users/42\"}}") != NULL);
	CHECK(strstr(json, "{\"key\":\"url.template\",\"value\":{\"stringValue\":\"/users/{id}\"}}") != NULL);
	CHECK_EQ_U(count(json, "{\"key\":\"http.route\""), 2);
	CHECK(strstr(json, "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"404\"}}") != NULL);
	/* 404: an error for the client span only */
	CHECK_EQ_U(count(json, "\"status\":{\"code\":2}"), 1);
	CHECK(strstr(json, "\"stringValue\":\"/caf\xc3\xa9/?\\\"q\"") != NULL);
	free(json);
	json = encode_spans(s, 0);
	CHECK_STR(json, "{\"resourceSpans\":[]}");
	free(json);
}

static void test_metrics_json(void)
{
	struct metrics_opts o = { .max_series = 10 };
	struct metrics *m = metrics_new(&o);
	struct metrics_attrs a = { 0 };
	struct metrics_snapshot *snap;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	REQUIRE(m);
	a.v[MK_METHOD] = "GET";
	a.v[MK_STATUS] = "200";
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 0.3);
	memset(&a, 0, sizeof(a));
	metrics_set(m, M_CONNS_TRACKED, &a, 4);
	a.v[MK_TYPE] = "data";
	metrics_set(m, M_EVENTS_RECEIVED, &a, 9);
	snap = metrics_snapshot(m);
	f = open_memstream(&buf, &len);
	otlp_encode_metrics(f, snap, "host1");
	fclose(f);
	CHECK(strstr(buf, "{\"name\":\"http.server.request.duration\",\"description\":\"Duration of HTTP "
			  "server requests.\",\"unit\":\"s\",\"histogram\":{\"aggregationTemporality\":2,"
			  "\"dataPoints\":[{\"attributes\":[{\"key\":\"http.request.method\",\"value\":"
			  "{\"stringValue\":\"GET\"}},{\"key\":\"http.response.status_code\",\"value\":"
			  "{\"intValue\":\"200\"}}],\"startTimeUnixNano\":") != NULL);
	CHECK(strstr(buf, "\"count\":\"1\",\"sum\":0.29999999999999999,\"bucketCounts\":[\"0\",\"0\","
			  "\"0\",\"0\",\"0\",\"0\",\"0\",\"1\",\"0\",\"0\",\"0\",\"0\",\"0\",\"0\",\"0\"],"
			  "\"explicitBounds\":[0.0050000000000000001,") != NULL);
	CHECK(strstr(buf, "\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":"
			  "[{\"attributes\":[{\"key\":\"type\",\"value\":{\"stringValue\":\"data\"}}],") != NULL);
	CHECK(strstr(buf, "\"gauge\":{\"dataPoints\":[{\"attributes\":[],\"timeUnixNano\":") != NULL);
	free(buf);
	metrics_snapshot_free(snap);
	metrics_free(m);
}

/* ---- a collector that misbehaves on demand ---- */

struct collector {
	struct MHD_Daemon *d;
	uint16_t port;
	atomic_int requests;
	atomic_int fail_next;    /* answer this many requests with `fail_code` */
	atomic_int fail_code;
	atomic_int delay_ms;     /* before answering */
	atomic_int spans;        /* "spanId" keys received */
	const char *reply;       /* body of a 200 */
};

static enum MHD_Result on_post(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *len, void **req)
{
	struct collector *col = cls;
	const char *body = col->reply ? col->reply : "{}";
	struct MHD_Response *r;
	enum MHD_Result rv;
	unsigned code = 200;

	(void)url;
	(void)method;
	(void)version;
	if (!*req) {
		*req = col;
		return MHD_YES;
	}
	if (*len) { /* count spans as the body streams in */
		for (size_t i = 0; i + 8 <= *len; i++)
			if (memcmp(data + i, "\"spanId\"", 8) == 0)
				col->spans++;
		*len = 0;
		return MHD_YES;
	}
	col->requests++;
	if (col->delay_ms)
		usleep((useconds_t)col->delay_ms * 1000);
	if (col->fail_next > 0) {
		col->fail_next--;
		code = (unsigned)col->fail_code;
		body = "{}";
	}
	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	rv = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rv;
}

static int collector_start(struct collector *col)
{
	const union MHD_DaemonInfo *info;

	col->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				  0, NULL, NULL, on_post, col, MHD_OPTION_END);
	if (!col->d || !(info = MHD_get_daemon_info(col->d, MHD_DAEMON_INFO_BIND_PORT)))
		return -1;
	col->port = info->port;
	return 0;
}

static struct otlp *exporter(struct collector *col, uint32_t queue, uint32_t batch,
			     uint32_t retry_ms)
{
	char url[64], err[256];
	struct otlp_opts o = {
		.traces_url = url, .timeout_ms = 2000, .retry_ms = retry_ms, .interval_ms = 3600000,
		.batch = batch, .queue = queue, .headers = "X-Test=1",
	};

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/traces", col->port);
	return otlp_start(&o, err, sizeof(err));
}

static void wait_for(struct otlp *x, uint64_t want_done, int secs)
{
	struct otlp_stats st;

	for (int i = 0; i < secs * 100; i++) {
		otlp_stats(x, &st);
		if (st.exported + st.failed + st.rejected >= want_done)
			return;
		usleep(10000);
	}
}

static void test_retry_then_ok(void)
{
	struct collector col = { 0 };
	struct otlp_span s;
	struct otlp_stats st;
	struct otlp *x;
	struct timespec t0, t1;

	REQUIRE(collector_start(&col) == 0);
	col.fail_next = 2;
	col.fail_code = 503;
	x = exporter(&col, 16, 4, 10000);
	REQUIRE(x);
	sample_span(&s, 1, "nginx", OTLP_SPAN_KIND_SERVER);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 4; i++) /* a full batch: sent at once */
		otlp_span(x, &s);
	wait_for(x, 4, 10);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	otlp_stats(x, &st);
	CHECK_EQ_U(st.exported, 4);
	CHECK_EQ_U(st.requests[0][0], 1); /* ok */
	CHECK_EQ_U(st.requests[0][1], 2); /* retries */
	CHECK_EQ_U(col.requests, 3);
	CHECK_EQ_U(col.spans, 12);        /* the same batch three times */
	/* backoff: ~0.5 s then ~1 s (+-25%) */
	{
		double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

		CHECK(secs > 1.1 && secs < 3.0);
	}
	otlp_stop(x, 1000);
	MHD_stop_daemon(col.d);
}

static void test_permanent_and_partial(void)
{
	struct collector col = { 0 };
	struct otlp_span s;
	struct otlp_stats st;
	struct otlp *x;

	REQUIRE(collector_start(&col) == 0);
	col.fail_next = 1;
	col.fail_code = 400; /* not retryable: dropped and counted */
	col.reply = "{\"partialSuccess\":{\"rejectedSpans\":\"1\",\"errorMessage\":\"too old\"}}";
	x = exporter(&col, 16, 2, 10000);
	REQUIRE(x);
	sample_span(&s, 1, "nginx", OTLP_SPAN_KIND_SERVER);
	otlp_span(x, &s);
	otlp_span(x, &s);
	wait_for(x, 2, 5);
	otlp_span(x, &s);
	otlp_span(x, &s);
	wait_for(x, 4, 5);
	otlp_stats(x, &st);
	CHECK_EQ_U(st.failed, 2);
	CHECK_EQ_U(st.rejected, 1);
	CHECK_EQ_U(st.exported, 1);
	CHECK_EQ_U(st.requests[0][2], 1); /* failed */
	CHECK_EQ_U(st.requests[0][1], 0); /* no retry of a 400 */
	otlp_stop(x, 1000);
	MHD_stop_daemon(col.d);
}

/* A slow collector never blocks otlp_span: the queue fills, the rest is
 * counted, and what was queued still arrives. */
static void test_queue_overflow(void)
{
	struct collector col = { 0 };
	struct otlp_span s;
	struct otlp_stats st;
	struct otlp *x;
	struct timespec t0, t1;

	REQUIRE(collector_start(&col) == 0);
	col.delay_ms = 300;
	x = exporter(&col, 8, 4, 10000);
	REQUIRE(x);
	sample_span(&s, 1, "nginx", OTLP_SPAN_KIND_SERVER);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++)
		otlp_span(x, &s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 1); /* never waited on the collector */
	otlp_stats(x, &st);
	CHECK(st.queue_full >= 100 - 8 - 4);
	wait_for(x, 100 - st.queue_full, 10);
	otlp_stats(x, &st);
	CHECK_EQ_U(st.exported + st.queue_full, 100);
	CHECK_EQ_U((uint64_t)col.spans, st.exported);
	otlp_stop(x, 1000);
	MHD_stop_daemon(col.d);
}

/* Nothing listens: stopping gives up at the deadline and counts the loss. */
static void test_stop_unreachable(void)
{
	struct collector col = { .port = 1 }; /* port 1: connection refused */
	struct otlp_span s;
	struct otlp_stats st;
	struct otlp *x = exporter(&col, 16, 8, 60000);
	struct timespec t0, t1;
	double secs;

	REQUIRE(x);
	sample_span(&s, 1, "nginx", OTLP_SPAN_KIND_SERVER);
	for (int i = 0; i < 3; i++)
		otlp_span(x, &s);
	usleep(1900 * 1000); /* flush at 1 s, refused, ~0.5 s backoff, refused again */
	otlp_stats(x, &st);
	CHECK(st.requests[0][1] >= 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	otlp_stop(x, 300);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs < 1.0);
}

/* A request in flight to a collector that takes its time is cut off by a
 * stop's deadline, not by the (longer) request timeout. */
static void test_stop_during_slow_request(void)
{
	struct collector col = { 0 };
	struct otlp_span s;
	struct otlp *x;
	struct timespec t0, t1;
	double secs;

	REQUIRE(collector_start(&col) == 0);
	col.delay_ms = 2500;
	x = exporter(&col, 16, 1, 60000);
	REQUIRE(x);
	sample_span(&s, 1, "nginx", OTLP_SPAN_KIND_SERVER);
	otlp_span(x, &s);
	usleep(300 * 1000); /* the request is now waiting on the collector */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	otlp_stop(x, 200);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs < 1.0);
	MHD_stop_daemon(col.d);
}

RUN_TESTS("otlp", TEST(test_traceparent), TEST(test_parser_capture), TEST(test_span_json),
	  TEST(test_metrics_json), TEST(test_retry_then_ok), TEST(test_permanent_and_partial),
	  TEST(test_queue_overflow), TEST(test_stop_unreachable),
	  TEST(test_stop_during_slow_request))

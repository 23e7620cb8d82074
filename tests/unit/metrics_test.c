/* processor/metrics.c and the exposition of processor/prom.c: attribute
 * selection by include/exclude globs, the series cap and its overflow
 * series, histogram buckets at their boundaries, value cleaning, snapshots,
 * and the exact Prometheus text of a small registry. */
#include "processor/metrics.h"

#include <pthread.h>
#include <stdlib.h>

#include "processor/prom.h"
#include "tests/unit/harness.h"

#define BIT(k) (1u << (k))

static struct metrics *new_metrics(uint32_t max_series, const struct metrics_select *sel,
				   size_t nsel)
{
	struct metrics_opts o = { .max_series = max_series, .select = sel, .nselect = nsel };

	return metrics_new(&o);
}

static void http_attrs(struct metrics_attrs *a, const char *route, const char *status)
{
	memset(a, 0, sizeof(*a));
	a->v[MK_METHOD] = "GET";
	a->v[MK_STATUS] = status;
	a->v[MK_ROUTE] = route;
	a->v[MK_SERVER_ADDR] = "127.0.0.1";
	a->v[MK_SERVER_PORT] = "8080";
	a->v[MK_EXE] = "nginx";
	a->v[MK_URL_PATH] = "/users/42";
	a->v[MK_CLIENT_ADDR] = "10.0.0.1";
}

static void test_default_selection(void)
{
	struct metrics *m = new_metrics(10, NULL, 0);

	REQUIRE(m);
	CHECK_EQ_U(metrics_selected(m, M_HTTP_SERVER_DURATION),
		   BIT(MK_METHOD) | BIT(MK_STATUS) | BIT(MK_ROUTE) | BIT(MK_ERROR_TYPE) |
		   BIT(MK_SERVER_ADDR) | BIT(MK_SERVER_PORT) | BIT(MK_EXE));
	/* client metrics have url.template where server ones have http.route */
	CHECK(metrics_selected(m, M_HTTP_CLIENT_DURATION) & BIT(MK_URL_TEMPLATE));
	CHECK(!(metrics_selected(m, M_HTTP_CLIENT_DURATION) & BIT(MK_ROUTE)));
	CHECK(!(metrics_selected(m, M_HTTP_SERVER_DURATION) & BIT(MK_URL_PATH)));
	metrics_free(m);
}

static void test_include_exclude_globs(void)
{
	static const char *const inc[] = { "http.*", "server.port" };
	static const char *const exc[] = { "http.route" };
	static const char *const all[] = { "*" };
	static const char *const no_addr[] = { "server_address", "process.*" };
	const struct metrics_select sel[] = {
		{ "http.server.request.duration", inc, 2, exc, 1 },
		{ "http_client_*", all, 1, NULL, 0 },          /* Prometheus-form glob */
		{ "*", NULL, 0, no_addr, 2 },                  /* label-form attribute name */
	};
	struct metrics *m = new_metrics(10, sel, 3);

	REQUIRE(m);
	CHECK_EQ_U(metrics_selected(m, M_HTTP_SERVER_DURATION),
		   BIT(MK_METHOD) | BIT(MK_STATUS) | BIT(MK_SERVER_PORT));
	/* "*" includes the opt-in ones, but not keys the metric cannot carry */
	CHECK_EQ_U(metrics_selected(m, M_HTTP_CLIENT_DURATION),
		   BIT(MK_METHOD) | BIT(MK_STATUS) | BIT(MK_URL_TEMPLATE) | BIT(MK_ERROR_TYPE) |
		   BIT(MK_SERVER_PORT) | BIT(MK_URL_PATH));
	/* no include: the defaults, minus the excludes of "*" */
	CHECK_EQ_U(metrics_selected(m, M_HTTP_SERVER_REQ_BODY),
		   BIT(MK_METHOD) | BIT(MK_STATUS) | BIT(MK_ROUTE) | BIT(MK_ERROR_TYPE) |
		   BIT(MK_SERVER_PORT));
	/* health metrics are not selectable: set() must not merge series */
	CHECK_EQ_U(metrics_selected(m, M_EVENTS_DROPPED), BIT(MK_STAGE) | BIT(MK_REASON));
	metrics_free(m);
}

static void test_series_cap_and_overflow(void)
{
	struct metrics *m = new_metrics(3, NULL, 0);
	struct metrics_snapshot *s;
	struct metrics_attrs a;
	uint64_t n, over;
	char route[32];

	REQUIRE(m);
	for (int i = 0; i < 5; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		http_attrs(&a, route, "200");
		metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 0.001);
		metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 0.001);
	}
	http_attrs(&a, "/r0", "200");
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 0.001); /* existing: not overflow */
	metrics_usage(m, M_HTTP_SERVER_DURATION, &n, &over);
	CHECK_EQ_U(n, 3);
	CHECK_EQ_U(over, 4);
	s = metrics_snapshot(m);
	REQUIRE(s);
	REQUIRE(s->m[M_HTTP_SERVER_DURATION].n == 4);
	{
		const struct metrics_series *o = s->m[M_HTTP_SERVER_DURATION].series[3];
		enum metrics_key k = MK_MAX;
		const char *v = "";
		uint32_t pos = 0;

		CHECK_EQ_U(o->count, 4);
		CHECK_EQ_U(s->m[M_HTTP_SERVER_DURATION].series[0]->count, 3);
		bool got = metrics_attr_next(o, M_HTTP_SERVER_DURATION, &pos, &k, &v);

		CHECK(got);
		CHECK_EQ_U(k, MK_OVERFLOW);
		CHECK_STR(v, "true");
		CHECK(!metrics_attr_next(o, M_HTTP_SERVER_DURATION, &pos, &k, &v));
	}
	metrics_snapshot_free(s);
	metrics_free(m);
}

static void test_buckets_at_boundaries(void)
{
	struct metrics *m = new_metrics(10, NULL, 0);
	struct metrics_snapshot *s;
	struct metrics_attrs a;
	const uint64_t *b;

	REQUIRE(m);
	http_attrs(&a, "/", "200");
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 0.005); /* le="0.005": inclusive */
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 0.0051);
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 10);
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 11);    /* +Inf */
	metrics_observe(m, M_HTTP_SERVER_REQ_BODY, &a, 0);     /* le="0" */
	s = metrics_snapshot(m);
	REQUIRE(s);
	REQUIRE(s->m[M_HTTP_SERVER_DURATION].n == 1);
	b = metrics_buckets(s->m[M_HTTP_SERVER_DURATION].series[0]);
	CHECK_EQ_U(b[0], 1);
	CHECK_EQ_U(b[1], 1);
	CHECK_EQ_U(b[13], 1);
	CHECK_EQ_U(b[14], 1);
	CHECK(s->m[M_HTTP_SERVER_DURATION].series[0]->sum > 21.01 &&
	      s->m[M_HTTP_SERVER_DURATION].series[0]->sum < 21.02);
	CHECK_EQ_U(metrics_buckets(s->m[M_HTTP_SERVER_REQ_BODY].series[0])[0], 1);
	metrics_snapshot_free(s);
	metrics_free(m);
}

static void test_clean_value(void)
{
	char out[16];

	CHECK_EQ_U(metrics_clean_value(out, "caf\xc3\xa9", 15), 5);
	CHECK_STR(out, "caf\xc3\xa9");
	metrics_clean_value(out, "a\x01" "b\xff" "c\xc0\xaf", 15); /* control, invalid, overlong */
	CHECK_STR(out, "a?b?c??");
	metrics_clean_value(out, "\xed\xa0\x80", 15); /* surrogate */
	CHECK_STR(out, "???");
	metrics_clean_value(out, "ab\xe2\x82\xac", 4); /* a 3-byte char does not fit: cut before it */
	CHECK_STR(out, "ab");
}

static void test_lookups(void)
{
	CHECK_EQ_U(metrics_find("http.server.request.duration"), M_HTTP_SERVER_DURATION);
	CHECK_EQ_U(metrics_find("http_client_request_duration_seconds"), M_HTTP_CLIENT_DURATION);
	CHECK(metrics_find("http.server.duration") < 0);
	CHECK_EQ_U(metrics_key_find("server_port"), MK_SERVER_PORT);
	CHECK(metrics_key_find("http.method") < 0);
}

static const char want_exposition[] =
	"# HELP http_server_request_duration_seconds Duration of HTTP server requests.\n"
	"# TYPE http_server_request_duration_seconds histogram\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.005\"} 0\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.01\"} 0\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.025\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.05\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.075\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.1\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.25\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.5\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"0.75\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"1\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"2.5\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"5\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"7.5\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"10\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",le=\"+Inf\"} 2\n"
	"http_server_request_duration_seconds_sum{http_request_method=\"GET\"} 1.02\n"
	"http_server_request_duration_seconds_count{http_request_method=\"GET\"} 2\n"
	"# HELP sluice_events_dropped_total Events lost before pairing, by stage (kernel, loader, decode) and reason.\n"
	"# TYPE sluice_events_dropped_total counter\n"
	"sluice_events_dropped_total{stage=\"kernel\",reason=\"a\\\"b\\\\c\\nd\"} 7\n"
	"# HELP sluice_connections_tracked Connections tracked now.\n"
	"# TYPE sluice_connections_tracked gauge\n"
	"sluice_connections_tracked 3\n";

static void test_prom_exposition(void)
{
	static const char *const only_method[] = { "http.request.method" };
	const struct metrics_select sel = { "*", only_method, 1, NULL, 0 };
	struct metrics *m = new_metrics(10, &sel, 1);
	struct metrics_snapshot *s;
	struct metrics_attrs a = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	REQUIRE(m);
	http_attrs(&a, "/", "200");
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 0.02);
	metrics_observe(m, M_HTTP_SERVER_DURATION, &a, 1);
	memset(&a, 0, sizeof(a));
	a.v[MK_STAGE] = "kernel";
	a.v[MK_REASON] = "a\"b\\c\nd"; /* a newline is a control byte: cleaned to '?'... */
	metrics_set(m, M_EVENTS_DROPPED, &a, 7);
	memset(&a, 0, sizeof(a));
	metrics_set(m, M_CONNS_TRACKED, &a, 3);
	s = metrics_snapshot(m);
	REQUIRE(s);
	f = open_memstream(&buf, &len);
	REQUIRE(f);
	prom_render(s, f);
	fclose(f);
	/* ...so the escaped \n of the expected text must not appear */
	{
		char want[sizeof(want_exposition)];
		char *nl;

		memcpy(want, want_exposition, sizeof(want));
		nl = strstr(want, "\\\\c\\nd");
		memcpy(nl, "\\\\c?d", 6);
		memmove(nl + 5, nl + 6, strlen(nl + 6) + 1);
		CHECK_STR(buf, want);
	}
	free(buf);
	metrics_snapshot_free(s);
	metrics_free(m);
}

static void test_listen_parse(void)
{
	char h[64], p[8];

	CHECK(prom_parse_listen("127.0.0.1:9464", h, sizeof(h), p, sizeof(p)) == 0);
	CHECK_STR(h, "127.0.0.1");
	CHECK_STR(p, "9464");
	CHECK(prom_parse_listen("[::1]:80", h, sizeof(h), p, sizeof(p)) == 0);
	CHECK_STR(h, "::1");
	CHECK(prom_parse_listen(":9464", h, sizeof(h), p, sizeof(p)) == 0);
	CHECK_STR(h, "");
	CHECK(prom_parse_listen("::1:80", h, sizeof(h), p, sizeof(p)) < 0);
	CHECK(prom_parse_listen("localhost", h, sizeof(h), p, sizeof(p)) < 0);
	CHECK(prom_parse_listen("a:99999", h, sizeof(h), p, sizeof(p)) < 0);
	CHECK(prom_parse_listen("a:9x", h, sizeof(h), p, sizeof(p)) < 0);
	CHECK(prom_parse_listen("a:", h, sizeof(h), p, sizeof(p)) < 0);
}

static struct metrics *race_m;

static void *racer(void *arg)
{
	struct metrics_attrs a;
	char route[16];

	for (int i = 0; i < 20000; i++) {
		snprintf(route, sizeof(route), "/r%d", (i + (int)(intptr_t)arg) % 50);
		http_attrs(&a, route, "200");
		metrics_observe(race_m, M_HTTP_SERVER_DURATION, &a, 0.001);
		if (i % 1000 == 0)
			metrics_snapshot_free(metrics_snapshot(race_m));
	}
	return NULL;
}

/* The pair path records while a scrape snapshots: totals must add up. */
static void test_concurrent_record_and_snapshot(void)
{
	pthread_t t[4];
	struct metrics_snapshot *s;
	uint64_t total = 0;

	race_m = new_metrics(40, NULL, 0);
	REQUIRE(race_m);
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, racer, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	s = metrics_snapshot(race_m);
	REQUIRE(s);
	for (size_t i = 0; i < s->m[M_HTTP_SERVER_DURATION].n; i++)
		total += s->m[M_HTTP_SERVER_DURATION].series[i]->count;
	CHECK_EQ_U(total, 80000);
	CHECK_EQ_U(s->m[M_HTTP_SERVER_DURATION].n, 41); /* 40 + overflow */
	metrics_snapshot_free(s);
	metrics_free(race_m);
}

RUN_TESTS("metrics", TEST(test_default_selection), TEST(test_include_exclude_globs),
	  TEST(test_series_cap_and_overflow), TEST(test_buckets_at_boundaries),
	  TEST(test_clean_value), TEST(test_lookups), TEST(test_prom_exposition),
	  TEST(test_listen_parse), TEST(test_concurrent_record_and_snapshot))

/* Connection table tests: lookup, close, placeholder entries for lost open
 * events, and LRU eviction that emits what an evicted connection waited for. */
#include <string.h>

#include "common/events.h"
#include "processor/conntrack.h"
#include "tests/unit/harness.h"

struct got {
	int pairs, incomplete;
	uint64_t last_conn;
};

static void on_pair(void *ctx, const struct conn *c, const struct http1_pair *p)
{
	struct got *g = ctx;

	g->pairs++;
	g->incomplete += !p->complete;
	g->last_conn = c->conn_id;
}

static void feed_request(struct conn *c, uint64_t ts)
{
	static const char req[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";

	http1_data(c->http, false, ts, 0, sizeof(req) - 1, (const uint8_t *)req, sizeof(req) - 1);
}

static void test_open_get_close(void)
{
	struct got g = { 0 };
	struct conntrack *ct = conntrack_new(16, on_pair, &g);
	struct conn *c;

	REQUIRE(ct);
	c = conntrack_open(ct, 100, 1, 7, SLUICE_ROLE_SERVER);
	CHECK(conntrack_get(ct, 100, 2, 7) == c);
	CHECK_EQ_U(conntrack_stats(ct)->live, 1);
	CHECK_EQ_U(conntrack_stats(ct)->unknown, 0);
	feed_request(c, 3);
	conntrack_close(ct, 100, 4, 0, 28);
	CHECK_EQ_U(conntrack_stats(ct)->live, 0);
	CHECK_EQ_U(conntrack_stats(ct)->closed, 1);
	/* the request never got a response: emitted incomplete at close */
	CHECK_EQ_U(g.pairs, 1);
	CHECK_EQ_U(g.incomplete, 1);
	conntrack_free(ct);
}

static void test_unknown_conn_placeholder(void)
{
	struct got g = { 0 };
	struct conntrack *ct = conntrack_new(16, on_pair, &g);
	struct conn *c;

	REQUIRE(ct);
	c = conntrack_get(ct, 555, 1, 9);
	REQUIRE(c);
	CHECK_EQ_U(c->role, SLUICE_ROLE_UNKNOWN);
	CHECK_EQ_U(c->family, 0);
	CHECK_EQ_U(conntrack_stats(ct)->unknown, 1);
	conntrack_free(ct);
}

static void test_lru_eviction(void)
{
	struct got g = { 0 };
	struct conntrack *ct = conntrack_new(16, on_pair, &g);

	REQUIRE(ct);
	for (uint64_t id = 1; id <= 16; id++)
		feed_request(conntrack_open(ct, id, id, 1, SLUICE_ROLE_SERVER), id);
	conntrack_get(ct, 1, 100, 1); /* 1 is now the most recent: 2 goes first */
	conntrack_open(ct, 17, 101, 1, SLUICE_ROLE_SERVER);
	CHECK_EQ_U(conntrack_stats(ct)->evicted, 1);
	CHECK_EQ_U(conntrack_stats(ct)->live, 16);
	CHECK_EQ_U(g.incomplete, 1);
	CHECK_EQ_U(g.last_conn, 2);
	/* 2 is gone: asking for it again makes a placeholder */
	conntrack_get(ct, 2, 102, 1);
	CHECK_EQ_U(conntrack_stats(ct)->unknown, 1);
	conntrack_flush(ct, 200);
	CHECK_EQ_U(conntrack_stats(ct)->live, 0);
	conntrack_free(ct);
}

RUN_TESTS("conntrack", TEST(test_open_get_close), TEST(test_unknown_conn_placeholder),
	  TEST(test_lru_eviction))

/* Connection table tests: lookup, close, placeholder entries for lost open
 * events, LRU eviction that emits what an evicted connection waited for,
 * the shared pool of waiting requests, the list of changes checkpoints
 * use, and memory that is only touched as the table fills. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/records.h"
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

struct seen {
	int changed, gone;
	uint64_t ids[8];
};

static void seen_change(void *ctx, uint64_t id, struct conn *c)
{
	struct seen *s = ctx;

	if (c && s->changed < 8)
		s->ids[s->changed] = id;
	s->changed += c != NULL;
	s->gone += c == NULL;
}

static void test_open_get_close(void)
{
	struct got g = { 0 };
	struct conntrack *ct = conntrack_new(16, 64, on_pair, &g);
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
	struct conntrack *ct = conntrack_new(16, 64, on_pair, &g);
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
	struct conntrack *ct = conntrack_new(16, 64, on_pair, &g);

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

/* Five connections, four slots: the one with the oldest request gives
 * its requests back, which counts as a change to it. */
static void test_shared_pending_pool(void)
{
	struct got g = { 0 };
	struct conntrack *ct = conntrack_new(16, 4, on_pair, &g);
	struct seen s = { 0 };

	REQUIRE(ct);
	conntrack_changes_reset(ct);
	for (uint64_t id = 1; id <= 4; id++)
		feed_request(conntrack_open(ct, id, id, 1, SLUICE_ROLE_SERVER), id);
	CHECK_EQ_U(conntrack_stats(ct)->pending, 4);
	CHECK_EQ_U(conntrack_stats(ct)->pending_max, 4);
	CHECK(conntrack_changes(ct, seen_change, &s));
	CHECK_EQ_U(s.changed, 4);
	feed_request(conntrack_open(ct, 5, 5, 1, SLUICE_ROLE_SERVER), 5);
	CHECK_EQ_U(conntrack_stats(ct)->pending, 4);
	CHECK_EQ_U(conntrack_http_stats(ct)->pending_evicted, 1);
	CHECK_EQ_U(g.incomplete, 1);
	CHECK_EQ_U(g.last_conn, 1);
	s = (struct seen){ 0 };
	CHECK(conntrack_changes(ct, seen_change, &s));
	CHECK_EQ_U(s.changed, 2); /* 5, and 1 whose request went */
	CHECK(s.ids[0] + s.ids[1] == 6);
	conntrack_flush(ct, 9);
	CHECK_EQ_U(conntrack_stats(ct)->pending, 0);
	conntrack_free(ct);
}

/* What a checkpoint asks for: each changed connection once, each closed
 * one that a checkpoint held as gone, nothing that never reached one. */
static void test_changes(void)
{
	struct got g = { 0 };
	struct conntrack *ct = conntrack_new(64, 64, on_pair, &g);
	struct seen s = { 0 };

	REQUIRE(ct);
	for (uint64_t id = 1; id <= 3; id++)
		conntrack_open(ct, id, id, 1, SLUICE_ROLE_CLIENT);
	conntrack_changes_reset(ct); /* 1..3 saved in a base */
	conntrack_get(ct, 2, 10, 1);
	conntrack_get(ct, 2, 11, 1);
	conntrack_close(ct, 3, 12, 0, 0);
	conntrack_open(ct, 4, 13, 1, SLUICE_ROLE_CLIENT);
	conntrack_close(ct, 4, 14, 0, 0); /* never saved: nothing to delete... */
	CHECK(conntrack_changes(ct, seen_change, &s));
	CHECK_EQ_U(s.changed, 1);
	CHECK_EQ_U(s.ids[0], 2);
	CHECK_EQ_U(s.gone, 2); /* ...but it was noted as changed first: a harmless delete */
	s = (struct seen){ 0 };
	CHECK(conntrack_changes(ct, seen_change, &s));
	CHECK_EQ_U(s.changed + s.gone, 0);
	conntrack_free(ct);
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	if (f)
		fclose(f);
	return kib;
}

/* A table for a million connections and as many waiting requests costs
 * memory only for what is used. */
static void test_untouched_until_used(void)
{
	struct got g = { 0 };
	long before = rss_kib();
	struct conntrack *ct = conntrack_new(1u << 20, 1u << 20, on_pair, &g);

	REQUIRE(ct);
	for (uint64_t id = 1; id <= 1000; id++)
		feed_request(conntrack_open(ct, id, id, 1, SLUICE_ROLE_SERVER), id);
	/* the hash heads (8 MiB) are calloc'ed too: untouched, they cost nothing */
	CHECK(rss_kib() - before < 4096);
	conntrack_free(ct);
}

RUN_TESTS("conntrack", TEST(test_open_get_close), TEST(test_unknown_conn_placeholder),
	  TEST(test_lru_eviction), TEST(test_shared_pending_pool), TEST(test_changes),
	  TEST(test_untouched_until_used))

/* processor/dnscache.c: TTL expiry, LRU eviction order, v4-mapped
 * addresses, renames, the dirty list the store drains, and the counters. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "processor/dnscache.h"
#include "tests/unit/harness.h"

#define SEC 1000000000LL

static struct dnscache_entry entry(const char *ip, const char *name, int64_t expires)
{
	struct dnscache_entry e = { .name = name, .expires_ns = expires,
				    .source = DNSCACHE_SRC_DNS };

	e.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	inet_pton(e.family, ip, e.addr);
	return e;
}

static const char *get(struct dnscache *c, const char *ip, int64_t now)
{
	uint8_t a[16] = { 0 };
	uint8_t fam = strchr(ip, ':') ? AF_INET6 : AF_INET;

	inet_pton(fam, ip, a);
	return dnscache_get(c, fam, a, now);
}

static void test_put_get_expire(void)
{
	struct dnscache *c = dnscache_new(16);
	struct dnscache_entry e = entry("10.0.0.1", "api.test", 10 * SEC);
	const char *n;

	REQUIRE(c);
	dnscache_put(c, &e, 1 * SEC);
	REQUIRE((n = get(c, "10.0.0.1", 2 * SEC)) != NULL);
	CHECK_STR(n, "api.test");
	CHECK(get(c, "10.0.0.2", 2 * SEC) == NULL);
	CHECK(get(c, "10.0.0.1", 10 * SEC) == NULL); /* expiry is exclusive */
	CHECK_EQ_U(dnscache_stats(c)->hits, 1);
	CHECK_EQ_U(dnscache_stats(c)->misses, 2);
	CHECK_EQ_U(dnscache_stats(c)->expired, 1);
	CHECK_EQ_U(dnscache_stats(c)->entries, 0);
	/* an answer already expired is not stored */
	dnscache_put(c, &e, 11 * SEC);
	CHECK_EQ_U(dnscache_stats(c)->entries, 0);
	dnscache_free(c);
}

static void test_v4_mapped(void)
{
	struct dnscache *c = dnscache_new(16);
	struct dnscache_entry e = entry("192.0.2.5", "v4.test", 10 * SEC);
	const char *n;

	REQUIRE(c);
	dnscache_put(c, &e, 0);
	/* an IPv6 socket talking to an IPv4 peer reports ::ffff:a.b.c.d */
	REQUIRE((n = get(c, "::ffff:192.0.2.5", 1)) != NULL);
	CHECK_STR(n, "v4.test");
	e = entry("::ffff:192.0.2.6", "m.test", 10 * SEC);
	dnscache_put(c, &e, 0);
	REQUIRE((n = get(c, "192.0.2.6", 1)) != NULL);
	CHECK_STR(n, "m.test");
	dnscache_free(c);
}

static void test_lru_eviction(void)
{
	struct dnscache *c = dnscache_new(16);
	char ip[32], name[32];

	REQUIRE(c);
	for (int i = 0; i < 16; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		snprintf(name, sizeof(name), "n%d.test", i);
		struct dnscache_entry e = entry(ip, name, 100 * SEC);
		dnscache_put(c, &e, 0);
	}
	CHECK(get(c, "10.0.0.0", 1) != NULL); /* 0 is now the most recent; 1 the oldest */
	struct dnscache_entry e = entry("10.0.1.0", "new.test", 100 * SEC);
	dnscache_put(c, &e, 1);
	CHECK_EQ_U(dnscache_stats(c)->evictions, 1);
	CHECK_EQ_U(dnscache_stats(c)->entries, 16);
	CHECK(get(c, "10.0.0.1", 2) == NULL);
	CHECK(get(c, "10.0.0.0", 2) != NULL);
	CHECK(get(c, "10.0.1.0", 2) != NULL);
	/* churn far beyond the size: still bounded, every lookup consistent */
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
		e = entry(ip, "churn.test", 100 * SEC);
		dnscache_put(c, &e, 3);
		CHECK(get(c, ip, 3) != NULL);
	}
	CHECK_EQ_U(dnscache_stats(c)->entries, 16);
	dnscache_free(c);
}

static void test_rename_and_alias(void)
{
	struct dnscache *c = dnscache_new(16);
	struct dnscache_entry e = entry("2001:db8::1", "a.test", 10 * SEC);
	const char *n;

	REQUIRE(c);
	dnscache_put(c, &e, 0);
	e.name = "b.test";
	e.alias = "edge.cdn.test";
	dnscache_put(c, &e, 0);
	REQUIRE((n = get(c, "2001:db8::1", 1)) != NULL);
	CHECK_STR(n, "b.test");
	CHECK_EQ_U(dnscache_stats(c)->inserts, 1);
	CHECK_EQ_U(dnscache_stats(c)->updates, 1);
	dnscache_free(c);
}

struct seen {
	int n;
	char names[8][32];
	int64_t expires[8];
};

static void collect(void *ctx, const struct dnscache_entry *e)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", e->name);
		s->expires[s->n++] = e->expires_ns;
	}
}

static void test_dirty_list(void)
{
	struct dnscache *c = dnscache_new(16);
	struct dnscache_entry a = entry("10.0.0.1", "a.test", 10 * SEC);
	struct dnscache_entry b = entry("10.0.0.2", "b.test", 10 * SEC);
	struct seen s = { 0 };

	REQUIRE(c);
	dnscache_put(c, &a, 0);
	dnscache_put(c, &b, 0);
	dnscache_put(c, &a, 0); /* the same answer again: nothing new to store */
	CHECK_EQ_U(dnscache_take_dirty(c, collect, &s), 2);
	CHECK_STR(s.names[0], "a.test");
	CHECK_STR(s.names[1], "b.test");
	CHECK_EQ_U(dnscache_take_dirty(c, collect, &s), 0);
	a.expires_ns = 20 * SEC; /* a longer life is news */
	dnscache_put(c, &a, 0);
	dnscache_put(c, &b, 0);
	CHECK_EQ_U(dnscache_take_dirty(c, collect, &s), 1);
	CHECK(s.expires[2] == 20 * SEC);
	/* an entry dropped while dirty leaves the list */
	b.expires_ns = 30 * SEC;
	dnscache_put(c, &b, 0);
	CHECK_EQ_U(dnscache_expire(c, 25 * SEC), 1); /* a goes, b stays */
	dnscache_put(c, &(struct dnscache_entry){ .family = AF_INET, .addr = { 10 }, .name = "c",
					       .expires_ns = 40 * SEC }, 0);
	CHECK_EQ_U(dnscache_expire(c, 35 * SEC), 1); /* b, dirty, goes */
	CHECK_EQ_U(dnscache_take_dirty(c, collect, &s), 1);
	CHECK_STR(s.names[3], "c");
	dnscache_free(c);
}

RUN_TESTS("dnscache", TEST(test_put_get_expire), TEST(test_v4_mapped), TEST(test_lru_eviction),
	  TEST(test_rename_and_alias), TEST(test_dirty_list))

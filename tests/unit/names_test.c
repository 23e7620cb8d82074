/* processor/names.c with a real sqlite store: DNS events (UDP and TCP
 * framed) name addresses for lookups and pairs; names are written to
 * dns_names, expired rows are deleted, and a restart (a new store and
 * names on the same file) keeps exactly the names still valid. */
#include "processor/names.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/records.h"
#include "processor/store.h"
#include "tests/unit/db_query.h"
#include "tests/unit/harness.h"

#define SEC 1000000000LL

static char dir[] = "/tmp/sluice-names-test.XXXXXX";

static int64_t wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static struct store *open_store(void)
{
	struct store_opts o = { .path = db, .boot_id = "test-boot", .cgroup_root = "/nonexistent",
				.boot_to_unix_ns = 1700000000000000000LL };

	return store_open(&o);
}

/* A response: question `name` (A), answers ip (A) with ttl; a CNAME
 * chain first when alias is set. */
static size_t response(uint8_t *p, const char *name, const char *alias, const char *ip,
		       uint32_t ttl)
{
	size_t n = 0, q;
	uint8_t hdr[12] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, alias ? 2 : 1, 0, 0, 0, 0 };
	const char *s;

	memcpy(p, hdr, 12);
	n = 12;
	q = n;
	for (s = name; *s;) {
		size_t len = strcspn(s, ".");

		p[n++] = (uint8_t)len;
		memcpy(p + n, s, len);
		n += len;
		s += len + (s[len] == '.');
	}
	p[n++] = 0;
	memcpy(p + n, "\0\1\0\1", 4);
	n += 4;
	if (alias) { /* name CNAME alias; alias A ip */
		size_t at;

		memcpy(p + n, (uint8_t[]){ 0xc0, (uint8_t)q, 0, 5, 0, 1, 0, 0, 0, 60, 0, 0 }, 12);
		n += 12;
		at = n;
		for (s = alias; *s;) {
			size_t len = strcspn(s, ".");

			p[n++] = (uint8_t)len;
			memcpy(p + n, s, len);
			n += len;
			s += len + (s[len] == '.');
		}
		p[n++] = 0;
		p[at - 1] = (uint8_t)(n - at);
		q = at;
	}
	memcpy(p + n, (uint8_t[]){ 0xc0, (uint8_t)q, 0, 1, 0, 1, (uint8_t)(ttl >> 24),
				   (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl, 0, 4 },
	       12);
	n += 12;
	inet_pton(AF_INET, ip, p + n);
	return n + 4;
}

static struct wire_event dns_event(const uint8_t *msg, size_t len, uint8_t proto)
{
	static const uint8_t a[4] = { 127, 0, 0, 53 }, b[4] = { 127, 0, 0, 1 };
	struct wire_event e = { .type = SLUICE_EV_DNS };

	e.dns.family = AF_INET;
	e.dns.proto = proto;
	e.dns.direction = SLUICE_DIR_INGRESS;
	e.dns.sport = 53;
	e.dns.dport = 40000;
	e.dns.saddr = a;
	e.dns.daddr = b;
	e.dns.payload = msg;
	e.dns.cap_len = e.dns.full_len = (uint32_t)len;
	return e;
}

static const char *lookup(struct names *n, const char *ip, int64_t t)
{
	uint8_t a[16] = { 0 };

	inet_pton(AF_INET, ip, a);
	return names_lookup(n, AF_INET, a, t);
}

static void udp_tcp_and_pairs(void)
{
	struct names *n = names_new(64);
	uint8_t msg[512], seg[514];
	size_t len;
	struct wire_event ev;
	struct conn c = { .family = AF_INET, .role = SLUICE_ROLE_CLIENT, .raddr = { 10, 0, 0, 2 } };
	struct http1_pair pr = { 0 };
	const char *name;

	REQUIRE(n);
	len = response(msg, "www.sluice.test", "edge.sluice.test", "10.0.0.2", 30);
	ev = dns_event(msg, len, IPPROTO_UDP);
	names_dns(n, &ev, 100 * SEC);
	REQUIRE((name = lookup(n, "10.0.0.2", 101 * SEC)) != NULL);
	CHECK_STR(name, "www.sluice.test");
	REQUIRE((name = names_pair_server(n, &c, &pr, 101 * SEC)) != NULL);
	CHECK_STR(name, "www.sluice.test");
	c.role = SLUICE_ROLE_SERVER; /* a server's server end is its own address */
	CHECK(names_pair_server(n, &c, &pr, 101 * SEC) == NULL);
	/* TCP: the same message behind its 2-byte length */
	len = response(msg, "tcp.sluice.test", NULL, "10.0.0.3", 30);
	seg[0] = (uint8_t)(len >> 8);
	seg[1] = (uint8_t)len;
	memcpy(seg + 2, msg, len);
	ev = dns_event(seg, len + 2, IPPROTO_TCP);
	names_dns(n, &ev, 100 * SEC);
	REQUIRE((name = lookup(n, "10.0.0.3", 101 * SEC)) != NULL);
	CHECK_STR(name, "tcp.sluice.test");
	CHECK(lookup(n, "10.0.0.3", 131 * SEC) == NULL); /* the TTL ran out */
	/* a query and garbage are counted, not learnt */
	msg[2] = 0x01; /* QR = 0 */
	ev = dns_event(msg, len, IPPROTO_UDP);
	names_dns(n, &ev, 100 * SEC);
	ev = dns_event(msg, 5, IPPROTO_UDP);
	names_dns(n, &ev, 100 * SEC);
	CHECK_EQ_U(names_stats(n)->responses, 2);
	CHECK_EQ_U(names_stats(n)->queries, 1);
	CHECK_EQ_U(names_stats(n)->malformed, 1);
	CHECK_EQ_U(names_stats(n)->answers, 2);
	names_free(n);
}

/* A name valid for an hour survives a restart; one whose TTL ran out is
 * deleted from the table and not loaded. */
static void persisted_across_restart(void)
{
	struct names *n = names_new(64);
	struct store *s;
	uint8_t msg[512];
	size_t len;
	struct wire_event ev;
	const char *name;
	int64_t now = wall();

	REQUIRE(n && mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/meta.db", dir);
	REQUIRE((s = open_store()) != NULL);
	names_attach_store(n, s, now);
	len = response(msg, "keep.sluice.test", NULL, "10.0.1.1", 3600);
	ev = dns_event(msg, len, IPPROTO_UDP);
	names_dns(n, &ev, now);
	len = response(msg, "gone.sluice.test", NULL, "10.0.1.2", 2);
	ev = dns_event(msg, len, IPPROTO_UDP);
	names_dns(n, &ev, now - 10 * SEC); /* answered 10 s ago with a TTL of 2 s */
	CHECK_EQ_U(store_flush(s, 1), 0);
	CHECK_EQ_U(q_int("SELECT count(*) FROM dns_names WHERE name = 'keep.sluice.test'"
			 " AND addr = '10.0.1.1' AND source = 'dns'"), 1);
	/* the expired one was written and deleted in the same commit */
	CHECK_EQ_U(q_int("SELECT count(*) FROM dns_names"), 1);
	CHECK_EQ_U(names_stats(n)->rows_expired, 1);
	store_close(s, 2);
	names_free(n);

	REQUIRE((n = names_new(64)) != NULL);
	REQUIRE((s = open_store()) != NULL);
	names_attach_store(n, s, wall());
	CHECK_EQ_U(names_stats(n)->rows_loaded, 1);
	REQUIRE((name = lookup(n, "10.0.1.1", wall())) != NULL);
	CHECK_STR(name, "keep.sluice.test");
	CHECK(lookup(n, "10.0.1.2", wall()) == NULL);
	store_close(s, 2);
	names_free(n);
	for (int i = 0; i < 3; i++) {
		char f[320];

		snprintf(f, sizeof(f), "%s%s", db, (const char *[]){ "", "-wal", "-shm" }[i]);
		unlink(f);
	}
	rmdir(dir);
}

RUN_TESTS("names", TEST(udp_tcp_and_pairs), TEST(persisted_across_restart))

/* processor/dns.c against hand-built messages: the shapes real resolvers
 * send (compression, CNAME chains, 0x20 mixed case, TCP framing) and the
 * hostile ones (pointer loops, pointers to themselves or forward, counts
 * larger than the packet, records cut short, names over 255 octets). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

#include "processor/dns.h"
#include "tests/unit/harness.h"

struct b {
	uint8_t p[4096];
	size_t n;
};

static void u8(struct b *b, uint8_t v) { b->p[b->n++] = v; }
static void u16(struct b *b, uint16_t v) { u8(b, (uint8_t)(v >> 8)); u8(b, (uint8_t)v); }
static void u32(struct b *b, uint32_t v) { u16(b, (uint16_t)(v >> 16)); u16(b, (uint16_t)v); }

/* "a.b.c" as labels, with a terminating 0 unless ptr >= 0 (then a pointer). */
static size_t name(struct b *b, const char *s, int ptr)
{
	size_t at = b->n;

	while (*s) {
		const char *dot = strchr(s, '.');
		size_t len = dot ? (size_t)(dot - s) : strlen(s);

		u8(b, (uint8_t)len);
		memcpy(b->p + b->n, s, len);
		b->n += len;
		s += len + (dot ? 1 : 0);
	}
	if (ptr >= 0)
		u16(b, (uint16_t)(0xc000 | ptr));
	else
		u8(b, 0);
	return at;
}

static void header(struct b *b, uint16_t qd, uint16_t an)
{
	b->n = 0;
	u16(b, 0x1234);
	u16(b, 0x8180); /* response, RD, RA, NOERROR */
	u16(b, qd);
	u16(b, an);
	u16(b, 0);
	u16(b, 0);
}

static size_t question(struct b *b, const char *q, uint16_t type)
{
	size_t at = name(b, q, -1);

	u16(b, type);
	u16(b, 1);
	return at;
}

/* An answer whose owner is a pointer to `owner` (compressed, as servers do). */
static void rr_a(struct b *b, size_t owner, uint32_t ttl, const char *ip)
{
	u16(b, (uint16_t)(0xc000 | owner));
	u16(b, DNS_T_A);
	u16(b, 1);
	u32(b, ttl);
	u16(b, 4);
	inet_pton(AF_INET, ip, b->p + b->n);
	b->n += 4;
}

static void rr_aaaa(struct b *b, size_t owner, uint32_t ttl, const char *ip)
{
	u16(b, (uint16_t)(0xc000 | owner));
	u16(b, DNS_T_AAAA);
	u16(b, 1);
	u32(b, ttl);
	u16(b, 16);
	inet_pton(AF_INET6, ip, b->p + b->n);
	b->n += 16;
}

/* A CNAME from `owner` to target; returns where the target name starts. */
static size_t rr_cname(struct b *b, size_t owner, uint32_t ttl, const char *target)
{
	size_t len_at, at;

	u16(b, (uint16_t)(0xc000 | owner));
	u16(b, DNS_T_CNAME);
	u16(b, 1);
	u32(b, ttl);
	len_at = b->n;
	u16(b, 0);
	at = name(b, target, -1);
	b->p[len_at] = (uint8_t)((b->n - at) >> 8);
	b->p[len_at + 1] = (uint8_t)(b->n - at);
	return at;
}

static struct dns_msg m; /* 16 KiB: not on the stack */
static struct dns_answer ans[DNS_MAX_RRS];

static const char *ip(const struct dns_answer *a)
{
	static char s[64];

	return inet_ntop(a->family, a->addr, s, sizeof(s));
}

static void test_a_record(void)
{
	struct b b;
	size_t q;

	header(&b, 1, 1);
	q = question(&b, "api.example.test", DNS_T_A);
	rr_a(&b, q, 300, "10.1.2.3");
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	CHECK(m.response && !m.tc && !m.cut);
	CHECK_EQ_U(m.id, 0x1234);
	CHECK_EQ_U(m.qtype, DNS_T_A);
	REQUIRE(dns_answers(&m, ans, DNS_MAX_RRS) == 1);
	CHECK_STR(ans[0].name, "api.example.test");
	CHECK(ans[0].alias == NULL);
	CHECK_STR(ip(&ans[0]), "10.1.2.3");
	CHECK_EQ_U(ans[0].ttl, 300);
}

static void test_aaaa_and_mixed_case(void)
{
	struct b b;
	size_t q;

	header(&b, 1, 2);
	q = question(&b, "Www.ExAmple.TEST", DNS_T_AAAA); /* 0x20 randomised by the resolver */
	rr_aaaa(&b, q, 60, "2001:db8::1");
	rr_aaaa(&b, q, 30, "2001:db8::2");
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	REQUIRE(dns_answers(&m, ans, DNS_MAX_RRS) == 2);
	CHECK_STR(ans[0].name, "www.example.test");
	CHECK(ans[0].family == AF_INET6);
	CHECK_STR(ip(&ans[1]), "2001:db8::2");
	CHECK_EQ_U(ans[1].ttl, 30);
}

/* www -> edge (ttl 100) -> e1 (ttl 20) -> A (ttl 50): the address belongs
 * to the asked name, with the chain's smallest TTL, and the canonical name
 * is kept as the alias. The chain's order in the message does not matter. */
static void test_cname_chain(void)
{
	struct b b;
	size_t q, edge, e1;

	header(&b, 1, 3);
	q = question(&b, "www.shop.test", DNS_T_A);
	edge = rr_cname(&b, q, 100, "edge.cdn.test");
	e1 = rr_cname(&b, edge, 20, "e1.cdn.test");
	rr_a(&b, e1, 50, "192.0.2.7");
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	REQUIRE(dns_answers(&m, ans, DNS_MAX_RRS) == 1);
	CHECK_STR(ans[0].name, "www.shop.test");
	REQUIRE(ans[0].alias != NULL);
	CHECK_STR(ans[0].alias, "e1.cdn.test");
	CHECK_EQ_U(ans[0].ttl, 20);
	CHECK_STR(ip(&ans[0]), "192.0.2.7");
}

/* a -> b -> a: the loop is cut, the address of b still maps to a. */
static void test_cname_loop(void)
{
	struct b b;
	size_t q, tb;

	header(&b, 1, 3);
	q = question(&b, "a.test", DNS_T_A);
	tb = rr_cname(&b, q, 10, "b.test");
	rr_cname(&b, tb, 10, "a.test");
	rr_a(&b, tb, 10, "192.0.2.9");
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	REQUIRE(dns_answers(&m, ans, DNS_MAX_RRS) == 1);
	CHECK_STR(ans[0].name, "a.test");
}

/* A record not on the question's chain keeps its own owner name. */
static void test_unrelated_owner(void)
{
	struct b b;
	size_t q, other;

	header(&b, 1, 2);
	q = question(&b, "one.test", DNS_T_A);
	rr_a(&b, q, 10, "192.0.2.1");
	other = b.n;
	name(&b, "two.test", -1);
	u16(&b, DNS_T_A); u16(&b, 1); u32(&b, 10); u16(&b, 4); u32(&b, 0xc0000202);
	(void)other;
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	REQUIRE(dns_answers(&m, ans, DNS_MAX_RRS) == 2);
	CHECK_STR(ans[1].name, "two.test");
	CHECK_STR(ip(&ans[1]), "192.0.2.2");
}

static void test_pointer_to_itself(void)
{
	struct b b;
	char out[DNS_NAME_MAX + 1];
	size_t off;

	header(&b, 1, 0);
	off = b.n;
	u16(&b, (uint16_t)(0xc000 | off)); /* the name is a pointer to itself */
	u16(&b, 1); u16(&b, 1);
	CHECK(dns_read_name(b.p, b.n, &off, out) == -EBADMSG);
	CHECK(dns_parse(b.p, b.n, &m) == -EBADMSG);
}

/* Two pointers at each other, and a label run that ends in a pointer back
 * to its own start: both would loop forever without the decreasing rule. */
static void test_pointer_loops(void)
{
	struct b b;
	char out[DNS_NAME_MAX + 1];
	size_t off = 12;

	header(&b, 0, 0);
	u16(&b, 0xc000 | 14);
	u16(&b, 0xc000 | 12);
	CHECK(dns_read_name(b.p, b.n, &off, out) == -EBADMSG);
	header(&b, 0, 0);
	name(&b, "a", 12); /* 01 'a' c0 0c */
	off = 12;
	CHECK(dns_read_name(b.p, b.n, &off, out) == -EBADMSG);
}

static void test_forward_pointer(void)
{
	struct b b;
	char out[DNS_NAME_MAX + 1];
	size_t off = 12;

	header(&b, 0, 0);
	u16(&b, 0xc000 | 16); /* points past itself, at a valid-looking name */
	u16(&b, 0);
	name(&b, "evil.test", -1);
	CHECK(dns_read_name(b.p, b.n, &off, out) == -EBADMSG);
	off = 12;
	b.n = 13; /* a pointer cut in half */
	CHECK(dns_read_name(b.p, b.n, &off, out) == -EBADMSG);
}

/* A legitimate chain of pointers (each to an earlier name) is followed. */
static void test_compression_chain(void)
{
	struct b b;
	char out[DNS_NAME_MAX + 1];
	size_t base, mid, off;

	header(&b, 0, 0);
	base = name(&b, "example.test", -1);
	mid = name(&b, "cdn", (int)base);
	off = name(&b, "a.b", (int)mid);
	CHECK(dns_read_name(b.p, b.n, &off, out) == 0);
	CHECK_STR(out, "a.b.cdn.example.test");
	CHECK_EQ_U(off, b.n); /* ends after the pointer, not the target */
}

static void test_name_limits(void)
{
	struct b b;
	char out[DNS_NAME_MAX + 1], label[64];
	size_t off;

	/* four 63-byte labels: 4 * 64 + 1 = 257 octets > 255 */
	header(&b, 0, 0);
	memset(label, 'x', 63);
	for (int i = 0; i < 4; i++) {
		u8(&b, 63);
		memcpy(b.p + b.n, label, 63);
		b.n += 63;
	}
	u8(&b, 0);
	off = 12;
	CHECK(dns_read_name(b.p, b.n, &off, out) == -EBADMSG);
	/* reserved label type 0x40 */
	header(&b, 0, 0);
	u8(&b, 0x41);
	u8(&b, 'a');
	u8(&b, 0);
	off = 12;
	CHECK(dns_read_name(b.p, b.n, &off, out) == -EBADMSG);
	/* root, and a label with a dot and a control byte in it: escaped */
	header(&b, 0, 0);
	u8(&b, 0);
	u8(&b, 3); u8(&b, 'a'); u8(&b, '.'); u8(&b, 1); u8(&b, 0);
	off = 12;
	CHECK(dns_read_name(b.p, b.n, &off, out) == 0);
	CHECK_STR(out, "");
	CHECK(dns_read_name(b.p, b.n, &off, out) == 0);
	CHECK_STR(out, "a\\046\\001");
}

/* The capture ends inside the second answer: the first is kept. */
static void test_truncated_rr(void)
{
	struct b b;
	size_t q;

	header(&b, 1, 2);
	q = question(&b, "cut.test", DNS_T_A);
	rr_a(&b, q, 10, "192.0.2.1");
	rr_a(&b, q, 10, "192.0.2.2");
	REQUIRE(dns_parse(b.p, b.n - 2, &m) == 0);
	CHECK(m.cut);
	REQUIRE(dns_answers(&m, ans, DNS_MAX_RRS) == 1);
	CHECK_STR(ip(&ans[0]), "192.0.2.1");
	/* cut inside the question's name: not a message; after its name: cut */
	REQUIRE(dns_parse(b.p, 12 + 3, &m) == -EBADMSG);
	REQUIRE(dns_parse(b.p, 12 + 10, &m) == 0);
	CHECK(m.cut);
	CHECK_EQ_U(m.nrr, 0);
	CHECK(dns_parse(b.p, 11, &m) == -EBADMSG);
}

static void test_counts_larger_than_packet(void)
{
	struct b b;
	size_t q;

	header(&b, 1, 65535);
	b.p[9] = 0xff; /* nscount, never read */
	q = question(&b, "big.test", DNS_T_A);
	rr_a(&b, q, 10, "192.0.2.3");
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	CHECK(m.cut);
	CHECK_EQ_U(dns_answers(&m, ans, DNS_MAX_RRS), 1);
	header(&b, 65535, 0); /* one question of 65535 */
	question(&b, "q.test", DNS_T_A);
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	CHECK(m.cut);
	CHECK_EQ_U(m.qtype, DNS_T_A);
}

static void test_many_answers(void)
{
	struct b b;
	size_t q;
	char a[32];

	header(&b, 1, 100);
	q = question(&b, "many.test", DNS_T_A);
	for (int i = 0; i < 100; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 250, i % 250);
		rr_a(&b, q, 10, a);
	}
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	CHECK(!m.cut);
	CHECK_EQ_U(m.nrr, DNS_MAX_RRS);
	CHECK_EQ_U(m.skipped, 100 - DNS_MAX_RRS);
	CHECK_EQ_U(dns_answers(&m, ans, DNS_MAX_RRS), DNS_MAX_RRS);
	CHECK_EQ_U(dns_answers(&m, ans, 5), 5); /* the caller's bound holds */
}

static void test_bad_rdata_and_ttl(void)
{
	struct b b;
	size_t q;

	header(&b, 1, 3);
	q = question(&b, "t.test", DNS_T_A);
	u16(&b, 0xc000 | (uint16_t)q); u16(&b, DNS_T_A); u16(&b, 1); u32(&b, 5); u16(&b, 3);
	u8(&b, 1); u8(&b, 2); u8(&b, 3); /* an A with 3 bytes: skipped */
	rr_a(&b, q, 0x80000001u, "192.0.2.4"); /* top bit: zero */
	rr_a(&b, q, 0x7fffffffu, "192.0.2.5"); /* held to a week */
	REQUIRE(dns_parse(b.p, b.n, &m) == 0);
	CHECK_EQ_U(m.skipped, 1);
	REQUIRE(dns_answers(&m, ans, DNS_MAX_RRS) == 2);
	CHECK_EQ_U(ans[0].ttl, 0);
	CHECK_EQ_U(ans[1].ttl, DNS_TTL_MAX);
}

static void test_tcp_framing(void)
{
	struct b b;
	uint8_t seg[600];
	const uint8_t *msg;
	size_t len, q;

	header(&b, 1, 1);
	q = question(&b, "tcp.test", DNS_T_A);
	rr_a(&b, q, 10, "192.0.2.8");
	seg[0] = (uint8_t)(b.n >> 8);
	seg[1] = (uint8_t)b.n;
	memcpy(seg + 2, b.p, b.n);
	REQUIRE(dns_tcp_unframe(seg, b.n + 2, &msg, &len) == 0);
	CHECK_EQ_U(len, b.n);
	REQUIRE(dns_parse(msg, len, &m) == 0);
	CHECK_EQ_U(dns_answers(&m, ans, DNS_MAX_RRS), 1);
	/* a capture cut short: the message is what the segment holds */
	REQUIRE(dns_tcp_unframe(seg, 20, &msg, &len) == 0);
	CHECK_EQ_U(len, 18);
	seg[0] = 0;
	seg[1] = 5; /* shorter than a header */
	CHECK(dns_tcp_unframe(seg, b.n + 2, &msg, &len) == -EBADMSG);
	CHECK(dns_tcp_unframe(seg, 3, &msg, &len) == -EBADMSG);
}

RUN_TESTS("dns",
	  TEST(test_a_record), TEST(test_aaaa_and_mixed_case), TEST(test_cname_chain),
	  TEST(test_cname_loop), TEST(test_unrelated_owner), TEST(test_pointer_to_itself),
	  TEST(test_pointer_loops), TEST(test_forward_pointer), TEST(test_compression_chain),
	  TEST(test_name_limits), TEST(test_truncated_rr), TEST(test_counts_larger_than_packet),
	  TEST(test_many_answers), TEST(test_bad_rdata_and_ttl), TEST(test_tcp_framing))

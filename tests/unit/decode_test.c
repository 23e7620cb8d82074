/* Wire codec tests: records packed by the loader's encoder come out of the
 * processor's strict decoder unchanged; hostile frames are counted, never
 * trusted. */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/events.h"
#include "common/wire.h"
#include "processor/decode.h"
#include "processor/mpack.h"
#include "tests/unit/frame_build.h"
#include "tests/unit/harness.h"

struct sink {
	struct wire_event ev[16];
	uint8_t payload[16][64];
	int n;
};

static void collect(void *ctx, const struct wire_event *ev)
{
	struct sink *s = ctx;

	if (s->n < 16) {
		s->ev[s->n] = *ev;
		if (ev->type == SLUICE_EV_DATA)
			memcpy(s->payload[s->n], ev->data.payload,
			       ev->data.cap_len < 64 ? ev->data.cap_len : 64);
		s->n++;
	}
}

static struct sluice_ev_data *data_rec(const char *payload, uint64_t pos, size_t *len)
{
	size_t cap = strlen(payload);
	struct sluice_ev_data *d = calloc(1, sizeof(*d) + cap);

	d->h.type = SLUICE_EV_DATA;
	d->h.size = (uint32_t)(sizeof(*d) + cap);
	d->h.ts_ns = 123456789;
	d->h.tgid = 42;
	d->h.tid = 43;
	d->conn_id = 7;
	d->pos = pos;
	d->full_len = (uint32_t)cap + 100;
	d->cap_len = (uint32_t)cap;
	d->direction = SLUICE_DIR_INGRESS;
	d->syscall = SLUICE_SYS_READ;
	memcpy(d->payload, payload, cap);
	*len = d->h.size;
	return d;
}

static void test_roundtrip_data_and_open(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct sluice_ev_conn_open o = { .h = { SLUICE_EV_CONN_OPEN, 0, sizeof(o), 5, 10, 11 } };
	struct sink s = { 0 };
	struct decode_stats st = { 0 };
	uint8_t buf[4096];
	uint64_t seq = 0;
	size_t dlen, n;
	struct sluice_ev_data *d = data_rec("GET / HTTP/1.1\r\n", 1000, &dlen);

	o.conn_id = 7;
	o.role = SLUICE_ROLE_SERVER;
	o.family = AF_INET;
	o.lport = 8080;
	o.rport = 40000;
	memcpy(o.laddr, "\x7f\0\0\x01", 4);
	memcpy(o.raddr, "\x7f\0\0\x02", 4);
	strcpy(o.comm, "nginx");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK(wire_pack_record(&pk, &o, sizeof(o)) == 0);
	CHECK(wire_pack_record(&pk, d, dlen) == 0);
	n = test_frame(buf, sizeof(buf), 99, &sb, 2);
	CHECK(decode_frame(buf, n, 0, &seq, collect, &s, &st) == 2);
	CHECK_EQ_U(seq, 99);
	REQUIRE(s.n == 2);
	CHECK_EQ_U(s.ev[0].type, SLUICE_EV_CONN_OPEN);
	CHECK_EQ_U(s.ev[0].open.lport, 8080);
	CHECK_EQ_U(s.ev[0].open.rport, 40000);
	CHECK(memcmp(s.ev[0].open.raddr, "\x7f\0\0\x02", 4) == 0);
	CHECK_EQ_U(s.ev[0].open.comm_len, 5);
	CHECK_EQ_U(s.ev[1].type, SLUICE_EV_DATA);
	CHECK_EQ_U(s.ev[1].tgid, 42);
	CHECK_EQ_U(s.ev[1].data.pos, 1000);
	CHECK_EQ_U(s.ev[1].data.full_len, dlen - sizeof(*d) + 100);
	CHECK(memcmp(s.payload[1], "GET / HTTP/1.1\r\n", 16) == 0);
	/* the same frame again is a replay: counted, nothing delivered */
	CHECK(decode_frame(buf, n, 99, &seq, collect, &s, &st) == -EALREADY);
	CHECK_EQ_U(st.replays, 1);
	CHECK_EQ_U(s.n, 2);
	msgpack_sbuffer_destroy(&sb);
	free(d);
}

static void test_encoder_rejects_bad_records(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t dlen;
	struct sluice_ev_data *d = data_rec("abc", 0, &dlen);
	struct sluice_ev_exit x = { .h = { SLUICE_EV_EXIT, 0, sizeof(x), 1, 2, 2 } };

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK(wire_pack_record(&pk, d, dlen - 1) < 0);          /* size disagrees */
	d->cap_len = d->full_len + 1;
	CHECK(wire_pack_record(&pk, d, dlen) < 0);              /* cap beyond moved */
	x.h.type = 99;
	CHECK(wire_pack_record(&pk, &x, sizeof(x)) < 0);        /* unknown type */
	CHECK(wire_pack_record(&pk, &x, 3) < 0);                /* shorter than a header */
	CHECK_EQ_U(sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
	free(d);
}

static void test_ack_exact(void)
{
	uint8_t a[WIRE_ACK_LEN], bad[WIRE_ACK_LEN + 1];
	uint64_t seq = 0;

	wire_ack_encode(a, 0x0102030405060708ULL);
	CHECK(wire_ack_decode(a, sizeof(a), &seq) == 0);
	CHECK_EQ_U(seq, 0x0102030405060708ULL);
	CHECK(wire_ack_decode(a, sizeof(a) - 1, &seq) < 0);
	memcpy(bad, a, sizeof(a));
	bad[WIRE_ACK_LEN] = 0;
	CHECK(wire_ack_decode(bad, sizeof(bad), &seq) < 0);
	CHECK_EQ_U(a[1], 1); /* the ack's format is version 1's, whatever WIRE_VERSION is */
	a[1] = WIRE_ACK_VERSION + 1;
	CHECK(wire_ack_decode(a, sizeof(a), &seq) < 0);
}

static void test_hostile_headers(void)
{
	struct sink s = { 0 };
	struct decode_stats st = { 0 };
	uint64_t seq;
	/* [1, 5, array32 of 2^32-1 events] with nothing behind it */
	static const uint8_t huge[] = { 0x93, 0x01, 0x05, 0xdd, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t wrongver[] = { 0x93, WIRE_VERSION + 1, 0x05, 0x90 };
	static const uint8_t ver0[] = { 0x93, 0x00, 0x05, 0x90 };
	static const uint8_t notarray[] = { 0xa3, 'a', 'b', 'c' };

	CHECK(decode_frame(huge, sizeof(huge), 0, &seq, collect, &s, &st) == -EPROTO);
	CHECK(decode_frame(wrongver, sizeof(wrongver), 0, &seq, collect, &s, &st) == -EPROTO);
	CHECK(decode_frame(ver0, sizeof(ver0), 0, &seq, collect, &s, &st) == -EPROTO);
	CHECK(decode_frame(notarray, sizeof(notarray), 0, &seq, collect, &s, &st) == -EPROTO);
	CHECK(decode_frame(notarray, 0, 0, &seq, collect, &s, &st) == -EPROTO);
	CHECK_EQ_U(st.bad_frames, 5);
	CHECK_EQ_U(s.n, 0);
}

/* A bad event between two good ones costs only itself. */
static void test_bad_event_skipped(void)
{
	struct sink s = { 0 };
	struct decode_stats st = { 0 };
	uint64_t seq;
	static const uint8_t f[] = {
		0x93, 0x01, 0x07, 0x93,
		0x97, 0x04, 0x01, 0x02, 0x03, 0x09, 0x10, 0x20, /* close: ok */
		0x97, 0x04, 0x01, 0x02, 0x03, 0xa1, 'x', 0x10, 0x20, /* str where uint */
		0x95, 0x02, 0x01, 0x02, 0x02, 0xff, /* exit: 4 + 2 items wanted */
	};

	CHECK(decode_frame(f, sizeof(f), 0, &seq, collect, &s, &st) == 1);
	CHECK_EQ_U(st.bad_events, 2);
	REQUIRE(s.n == 1);
	CHECK_EQ_U(s.ev[0].close.conn_id, 9);
	CHECK_EQ_U(s.ev[0].close.bytes_recv, 0x20);
}

/* Every truncation of a valid frame decodes to fewer events, never more, and
 * never reads past the end (ASan checks the latter). */
static void test_every_truncation(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t dlen, n;
	uint8_t buf[512];
	struct sluice_ev_data *d = data_rec("HTTP/1.1 200 OK\r\n", 0, &dlen);
	int worst = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_pack_record(&pk, d, dlen);
	wire_pack_loss(&pk, 5, SLUICE_LOSS_RB_DATA, 3, 77);
	n = test_frame(buf, sizeof(buf), 1, &sb, 2);
	for (size_t cut = 0; cut < n; cut++) {
		struct sink s = { 0 };
		struct decode_stats st = { 0 };
		uint8_t *copy = malloc(cut ? cut : 1);
		uint64_t seq;
		int r;

		memcpy(copy, buf, cut);
		r = decode_frame(copy, cut, 0, &seq, collect, &s, &st);
		if (r > worst)
			worst = r;
		free(copy);
	}
	CHECK(worst <= 1);
	msgpack_sbuffer_destroy(&sb);
	free(d);
}

static void test_mpack_skip_nested(void)
{
	struct mpack m;
	/* [[1, "ab", {1: 2}], 0xc0] then a trailing byte */
	static const uint8_t b[] = { 0x92, 0x93, 0x01, 0xa2, 'a', 'b', 0x81, 0x01, 0x02, 0xc0, 0x07 };
	static const uint8_t lie[] = { 0xdd, 0x00, 0x10, 0x00, 0x00, 0x01 };

	mpack_init(&m, b, sizeof(b));
	CHECK(mpack_skip(&m));
	CHECK(m.p == b + 10);
	mpack_init(&m, lie, sizeof(lie));
	CHECK(!mpack_skip(&m));
	CHECK(m.err);
}

/* Version 2 fields: EXEC's cmdline and snapshot flag, LISTEN, LOSS's epoch. */
static void test_v2_events(void)
{
	struct sluice_ev_exec x = { .h = { SLUICE_EV_EXEC, SLUICE_FLAG_SNAPSHOT, sizeof(x), 9, 100,
					   100 } };
	struct sluice_ev_listen l = { .h = { SLUICE_EV_LISTEN, 0, sizeof(l), 8, 101, 101 } };
	struct sink s = { 0 };
	struct decode_stats st = { 0 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t buf[4096];
	uint64_t seq;
	size_t n;

	strcpy(x.comm, "nginx");
	strcpy(x.exe, "/usr/sbin/nginx");
	memcpy(x.cmdline, "nginx\0-g\0daemon off;\0", 22);
	x.cmdline_len = 22;
	l.family = AF_INET6;
	l.listening = 1;
	l.port = 8443;
	l.netns = 4026531840u;
	l.addr[15] = 1;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK(wire_pack_record(&pk, &x, sizeof(x)) == 0);
	CHECK(wire_pack_record(&pk, &l, sizeof(l)) == 0);
	wire_pack_loss(&pk, 5, SLUICE_LOSS_SPOOL_EVENTS, 12, 1700000000000000000ull);
	n = test_frame(buf, sizeof(buf), 7, &sb, 3);
	CHECK(decode_frame(buf, n, 0, &seq, collect, &s, &st) == 3);
	REQUIRE(s.n == 3);
	CHECK_EQ_U(s.ev[0].flags, SLUICE_FLAG_SNAPSHOT);
	CHECK_EQ_U(s.ev[0].exec.cmdline_len, 22);
	CHECK(memcmp(s.ev[0].exec.cmdline, "nginx\0-g\0daemon off;\0", 22) == 0);
	CHECK_EQ_U(s.ev[0].exec.exe_len, 15);
	CHECK_EQ_U(s.ev[1].type, SLUICE_EV_LISTEN);
	CHECK_EQ_U(s.ev[1].flags, 0);
	CHECK_EQ_U(s.ev[1].listen.family, AF_INET6);
	CHECK_EQ_U(s.ev[1].listen.listening, 1);
	CHECK_EQ_U(s.ev[1].listen.port, 8443);
	CHECK_EQ_U(s.ev[1].listen.netns, 4026531840u);
	CHECK_EQ_U(s.ev[1].listen.addr[15], 1);
	CHECK_EQ_U(s.ev[2].loss.total, 12);
	CHECK_EQ_U(s.ev[2].loss.epoch, 1700000000000000000ull);
	msgpack_sbuffer_destroy(&sb);
}

/* A version 1 frame (EXEC without cmdline/flags, LOSS without epoch) still
 * decodes; items a newer loader appends are skipped; versions beyond ours
 * are refused. */
static void test_versions(void)
{
	struct sink s = { 0 };
	struct decode_stats st = { 0 };
	uint64_t seq;
	static const uint8_t v1[] = {
		0x93, 0x01, 0x07, 0x93,
		0x9c, 0x01, 0x01, 0x02, 0x02, 0x01, 0x00, 0x05, 0x06, 0x07, 0x08,
		0xa1, 'x', 0xa1, 'y', /* EXEC, 12 items */
		0x96, 0x06, 0x01, 0x00, 0x00, 0x02, 0x09, /* LOSS, 6 items */
		0x98, 0x04, 0x01, 0x02, 0x03, 0x09, 0x10, 0x20, 0xa3, 'n', 'e', 'w', /* CLOSE + 1 */
	};
	uint8_t v3[sizeof(v1)];

	CHECK(decode_frame(v1, sizeof(v1), 0, &seq, collect, &s, &st) == 3);
	REQUIRE(s.n == 3);
	CHECK_EQ_U(s.ev[0].exec.cmdline_len, 0);
	CHECK_EQ_U(s.ev[0].flags, 0);
	CHECK_EQ_U(s.ev[0].exec.exe_len, 1);
	CHECK_EQ_U(s.ev[1].loss.kind, SLUICE_LOSS_RB_PROC);
	CHECK_EQ_U(s.ev[1].loss.total, 9);
	CHECK_EQ_U(s.ev[1].loss.epoch, 0);
	CHECK_EQ_U(s.ev[2].close.bytes_recv, 0x20);
	memcpy(v3, v1, sizeof(v1));
	v3[1] = WIRE_VERSION + 1;
	CHECK(decode_frame(v3, sizeof(v3), 0, &seq, collect, &s, &st) == -EPROTO);
	/* an EXEC with cmdline but no flags is neither version: skipped */
	static const uint8_t half[] = {
		0x93, 0x02, 0x08, 0x91,
		0x9d, 0x01, 0x01, 0x02, 0x02, 0x01, 0x00, 0x05, 0x06, 0x07, 0x08,
		0xa1, 'x', 0xa1, 'y', 0xc4, 0x00,
	};
	CHECK(decode_frame(half, sizeof(half), 0, &seq, collect, &s, &st) == 0);
	CHECK_EQ_U(st.bad_events, 1);
}

static void test_encoder_rejects_bad_v2(void)
{
	struct sluice_ev_exec x = { .h = { SLUICE_EV_EXEC, 0, sizeof(x), 1, 2, 2 } };
	struct sluice_ev_listen l = { .h = { SLUICE_EV_LISTEN, 0, sizeof(l), 1, 2, 2 } };
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	x.cmdline_len = SLUICE_CMDLINE_LEN + 1;
	CHECK(wire_pack_record(&pk, &x, sizeof(x)) < 0);     /* cmdline beyond its array */
	x.cmdline_len = 0;
	x.h.flags = 2;
	CHECK(wire_pack_record(&pk, &x, sizeof(x)) < 0);     /* unknown flag */
	l.family = AF_UNIX;
	CHECK(wire_pack_record(&pk, &l, sizeof(l)) < 0);     /* not inet */
	l.family = AF_INET;
	l.listening = 2;
	CHECK(wire_pack_record(&pk, &l, sizeof(l)) < 0);     /* neither start nor stop */
	CHECK_EQ_U(sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
}

/* v3: a DNS packet and a flow's counts come out as they went in; records
 * the kernel could not have written are refused by the encoder. */
static void test_v3_dns_and_flow(void)
{
	static struct sluice_ev_dns d = { .h = { SLUICE_EV_DNS, 0, sizeof(d), 9, 77, 0 } };
	struct sluice_ev_flow f = { .h = { SLUICE_EV_FLOW, 0, sizeof(f), 10, 78, 0 } };
	struct sink s = { .n = 0 };
	struct decode_stats st = { 0 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t buf[4096];
	uint64_t seq;

	d.cgroup_id = 5;
	d.family = AF_INET;
	d.proto = IPPROTO_UDP;
	d.direction = SLUICE_DIR_INGRESS;
	d.sport = 53;
	d.dport = 40000;
	d.full_len = 700; /* an EDNS answer, cut at the cap */
	d.cap_len = SLUICE_DNS_CAP;
	memcpy(d.saddr, "\x7f\0\0\x35", 4);
	memset(d.payload, 0xab, sizeof(d.payload));
	f.k = (struct sluice_flow_key){ .cgroup_id = 6, .family = AF_INET6, .proto = IPPROTO_TCP,
					.lport = 80, .rport = 50000, .raddr = { [15] = 1 } };
	f.v = (struct sluice_flow_counts){ .bytes_out = 1u << 20, .bytes_in = 94, .pkts_out = 20,
					   .pkts_in = 9, .conn_id = 1234, .tgid = 78,
					   .comm = "nginx" };
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	REQUIRE(wire_pack_record(&pk, &d, sizeof(d)) == 0);
	REQUIRE(wire_pack_record(&pk, &f, sizeof(f)) == 0);
	REQUIRE(decode_frame(buf, test_frame(buf, sizeof(buf), 1, &sb, 2), 0, &seq, collect, &s, &st) == 2);
	CHECK(s.ev[0].type == SLUICE_EV_DNS && s.ev[0].tgid == 77);
	CHECK(s.ev[0].dns.proto == IPPROTO_UDP && s.ev[0].dns.sport == 53);
	CHECK(s.ev[0].dns.full_len == 700 && s.ev[0].dns.cap_len == SLUICE_DNS_CAP);
	CHECK(s.ev[0].dns.cgroup_id == 5 && !memcmp(s.ev[0].dns.saddr, "\x7f\0\0\x35", 4));
	CHECK(s.ev[1].type == SLUICE_EV_FLOW && s.ev[1].tgid == 78);
	CHECK(s.ev[1].flow.family == AF_INET6 && s.ev[1].flow.raddr[15] == 1);
	CHECK(s.ev[1].flow.bytes_out == 1u << 20 && s.ev[1].flow.pkts_in == 9);
	CHECK(s.ev[1].flow.conn_id == 1234 && s.ev[1].flow.cgroup_id == 6);
	CHECK(s.ev[1].flow.comm_len == 5 && !memcmp(s.ev[1].flow.comm, "nginx", 5));
	/* what the kernel cannot have written */
	d.cap_len = 701;
	CHECK(wire_pack_record(&pk, &d, sizeof(d)) == -EINVAL);
	d.cap_len = 10;
	d.proto = 1; /* ICMP */
	CHECK(wire_pack_record(&pk, &d, sizeof(d)) == -EINVAL);
	f.k.family = 0;
	CHECK(wire_pack_record(&pk, &f, sizeof(f)) == -EINVAL);
	CHECK(wire_pack_record(&pk, &f, sizeof(f) - 1) == -EINVAL);
	msgpack_sbuffer_destroy(&sb);
}

RUN_TESTS("decode", TEST(test_roundtrip_data_and_open), TEST(test_encoder_rejects_bad_records),
	  TEST(test_ack_exact), TEST(test_hostile_headers), TEST(test_bad_event_skipped),
	  TEST(test_every_truncation), TEST(test_mpack_skip_nested), TEST(test_v2_events),
	  TEST(test_versions), TEST(test_encoder_rejects_bad_v2), TEST(test_v3_dns_and_flow))

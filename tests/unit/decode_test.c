/* Wire codec tests: records framed as the loader frames them come out of
 * the processor's strict decoder unchanged, and so do the same records in
 * an older loader's version 3 frames; records the kernel cannot have
 * written and hostile frames are counted, never trusted. */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/records.h"
#include "common/wire.h"
#include "tests/tools/wire_pack.h"
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

/* One record as a version 4 frame, framed without the loader's header
 * check: what the decoder makes of it (events delivered, or <0). */
static int decode_raw(const void *rec, size_t len, struct sink *s, struct decode_stats *st)
{
	static uint8_t buf[SLUICE_RECORD_MAX + 64];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint64_t seq;
	int r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_bin(&pk, len);
	msgpack_pack_bin_body(&pk, rec, len);
	r = decode_frame(buf, test_frame(buf, sizeof(buf), 1, &sb, 1), 0, &seq, collect, s, st);
	msgpack_sbuffer_destroy(&sb);
	return r;
}

/* The loader checks a record's header only; the decoder checks every field. */
static void test_bad_records(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t dlen;
	struct sluice_ev_data *d = data_rec("abc", 0, &dlen);
	struct sluice_ev_exit x = { .h = { SLUICE_EV_EXIT, 0, sizeof(x), 1, 2, 2 } };
	struct sluice_ev_loss l = { .h = { SLUICE_EV_LOSS, 0, sizeof(l), 1, 0, 0 } };
	struct sink s = { 0 };
	struct decode_stats st = { 0 };

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK(wire_pack_record(&pk, d, dlen - 1) < 0);          /* size disagrees */
	CHECK(decode_raw(d, dlen - 1, &s, &st) == 0);
	CHECK(wire_pack_record(&pk, &l, sizeof(l)) < 0);        /* LOSS is the loader's own */
	x.h.type = 99;
	CHECK(wire_pack_record(&pk, &x, sizeof(x)) < 0);        /* unknown type */
	CHECK(decode_raw(&x, sizeof(x), &s, &st) == 0);
	CHECK(wire_pack_record(&pk, &x, 3) < 0);                /* shorter than a header */
	CHECK(decode_raw(&x, 3, &s, &st) == 0);
	CHECK_EQ_U(sb.size, 0);
	d->cap_len = d->full_len + 1;                           /* cap beyond moved: */
	CHECK(wire_pack_record(&pk, d, dlen) == 0);             /* the loader does not look, */
	CHECK(decode_raw(d, dlen, &s, &st) == 0);               /* the decoder does */
	CHECK(wire_pack_record_v3(&pk, d, dlen) < 0);           /* and so did version 3's encoder */
	CHECK_EQ_U(st.bad_events, 4);
	CHECK_EQ_U(s.n, 0);
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

static void test_bad_v2_fields(void)
{
	struct sluice_ev_exec x = { .h = { SLUICE_EV_EXEC, 0, sizeof(x), 1, 2, 2 } };
	struct sluice_ev_listen l = { .h = { SLUICE_EV_LISTEN, 0, sizeof(l), 1, 2, 2 } };
	struct sink s = { 0 };
	struct decode_stats st = { 0 };

	x.cmdline_len = SLUICE_CMDLINE_LEN + 1;
	CHECK(decode_raw(&x, sizeof(x), &s, &st) == 0);     /* cmdline beyond its array */
	x.cmdline_len = 0;
	x.h.flags = 2;
	CHECK(decode_raw(&x, sizeof(x), &s, &st) == 0);     /* unknown flag */
	l.family = AF_UNIX;
	CHECK(decode_raw(&l, sizeof(l), &s, &st) == 0);     /* not inet */
	l.family = AF_INET;
	l.listening = 2;
	CHECK(decode_raw(&l, sizeof(l), &s, &st) == 0);     /* neither start nor stop */
	l.listening = 1;
	CHECK(decode_raw(&l, sizeof(l), &s, &st) == 1);     /* and the fixed one passes */
	CHECK_EQ_U(st.bad_events, 4);
}

/* A DNS packet and a flow's counts come out as they went in; records the
 * kernel could not have written are refused by the decoder. */
static void test_dns_and_flow(void)
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
	st = (struct decode_stats){ 0 };
	d.cap_len = 701;
	CHECK(decode_raw(&d, sizeof(d), &s, &st) == 0);
	d.cap_len = 10;
	d.proto = 1; /* ICMP */
	CHECK(decode_raw(&d, sizeof(d), &s, &st) == 0);
	f.k.family = 0;
	CHECK(decode_raw(&f, sizeof(f), &s, &st) == 0);
	CHECK(wire_pack_record(&pk, &f, sizeof(f) - 1) == -EINVAL);
	CHECK_EQ_U(st.bad_events, 3);
	msgpack_sbuffer_destroy(&sb);
}

/* Everything a decoded event says, as text: pointers by what they point at. */
static void canon(const struct wire_event *e, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%u %u %llu %u %u |", e->type, e->flags,
			 (unsigned long long)e->ts_ns, e->tgid, e->tid);
	const uint8_t *bytes[3] = { 0 };
	uint32_t lens[3] = { 0 };

	switch (e->type) {
	case SLUICE_EV_EXEC:
		n += snprintf(out + n, cap - n, "%u %u %u %u %llu %llu", e->exec.ppid, e->exec.uid,
			      e->exec.pidns_ino, e->exec.ns_pid, (unsigned long long)e->exec.cgroup_id,
			      (unsigned long long)e->exec.start_ns);
		bytes[0] = e->exec.comm, lens[0] = e->exec.comm_len;
		bytes[1] = e->exec.exe, lens[1] = e->exec.exe_len;
		bytes[2] = e->exec.cmdline, lens[2] = e->exec.cmdline_len;
		break;
	case SLUICE_EV_EXIT:
		n += snprintf(out + n, cap - n, "%d %llu", e->exit.code,
			      (unsigned long long)e->exit.start_ns);
		break;
	case SLUICE_EV_CONN_OPEN:
		n += snprintf(out + n, cap - n, "%llu %u %u %u %u %u", (unsigned long long)e->open.conn_id,
			      e->open.role, e->open.family, e->open.lport, e->open.rport, e->open.netns);
		bytes[0] = e->open.laddr, lens[0] = e->open.family == AF_INET ? 4 : 16;
		bytes[1] = e->open.raddr, lens[1] = lens[0];
		bytes[2] = e->open.comm, lens[2] = e->open.comm_len;
		break;
	case SLUICE_EV_CONN_CLOSE:
		n += snprintf(out + n, cap - n, "%llu %llu %llu", (unsigned long long)e->close.conn_id,
			      (unsigned long long)e->close.bytes_sent,
			      (unsigned long long)e->close.bytes_recv);
		break;
	case SLUICE_EV_DATA:
		n += snprintf(out + n, cap - n, "%llu %llu %u %u %u", (unsigned long long)e->data.conn_id,
			      (unsigned long long)e->data.pos, e->data.direction, e->data.syscall,
			      e->data.full_len);
		bytes[0] = e->data.payload, lens[0] = e->data.cap_len;
		break;
	case SLUICE_EV_LOSS:
		n += snprintf(out + n, cap - n, "%u %llu %llu", e->loss.kind,
			      (unsigned long long)e->loss.total, (unsigned long long)e->loss.epoch);
		break;
	case SLUICE_EV_LISTEN:
		n += snprintf(out + n, cap - n, "%u %u %u %u", e->listen.family, e->listen.listening,
			      e->listen.port, e->listen.netns);
		bytes[0] = e->listen.addr, lens[0] = e->listen.family == AF_INET ? 4 : 16;
		break;
	case SLUICE_EV_DNS:
		n += snprintf(out + n, cap - n, "%u %u %u %u %u %u %llu", e->dns.family, e->dns.proto,
			      e->dns.direction, e->dns.sport, e->dns.dport, e->dns.full_len,
			      (unsigned long long)e->dns.cgroup_id);
		bytes[0] = e->dns.saddr, lens[0] = e->dns.family == AF_INET ? 4 : 16;
		bytes[1] = e->dns.daddr, lens[1] = lens[0];
		bytes[2] = e->dns.payload, lens[2] = e->dns.cap_len;
		break;
	case SLUICE_EV_FLOW:
		n += snprintf(out + n, cap - n, "%u %u %u %u %llu %llu %llu %llu %llu %llu",
			      e->flow.family, e->flow.proto, e->flow.lport, e->flow.rport,
			      (unsigned long long)e->flow.cgroup_id, (unsigned long long)e->flow.conn_id,
			      (unsigned long long)e->flow.bytes_out, (unsigned long long)e->flow.bytes_in,
			      (unsigned long long)e->flow.pkts_out, (unsigned long long)e->flow.pkts_in);
		bytes[0] = e->flow.laddr, lens[0] = e->flow.family == AF_INET ? 4 : 16;
		bytes[1] = e->flow.raddr, lens[1] = lens[0];
		bytes[2] = e->flow.comm, lens[2] = e->flow.comm_len;
		break;
	}
	for (int i = 0; i < 3; i++) {
		n += snprintf(out + n, cap - n, " |%u:", lens[i]);
		for (uint32_t j = 0; j < lens[i] && n < (int)cap - 3; j++)
			n += snprintf(out + n, cap - n, "%02x", bytes[i][j]);
	}
}

/* The records of every type, framed by the loader (version 4) and by a
 * version 3 loader, decode to the same events: what the processor makes of
 * an event does not depend on which loader sent it. */
static void test_v3_and_v4_agree(void)
{
	static struct sluice_ev_exec x = { .h = { SLUICE_EV_EXEC, SLUICE_FLAG_SNAPSHOT, sizeof(x), 1, 2, 3 },
					   .ppid = 4, .uid = 1000, .cgroup_id = 5, .pidns_ino = 6,
					   .ns_pid = 7, .start_ns = 8, .comm = "curl",
					   .exe = "/usr/bin/curl", .cmdline_len = 9, .cmdline = "curl\0-s\0x" };
	struct sluice_ev_exit e = { .h = { SLUICE_EV_EXIT, 0, sizeof(e), 9, 2, 3 }, .exit_code = -256,
				    .start_ns = 8 };
	struct sluice_ev_conn_open o = { .h = { SLUICE_EV_CONN_OPEN, 0, sizeof(o), 10, 2, 3 },
					 .conn_id = 11, .role = SLUICE_ROLE_CLIENT, .family = AF_INET6,
					 .lport = 40000, .rport = 443, .netns = 12,
					 .laddr = { [15] = 1 }, .raddr = { 0x20, 0x01, [15] = 2 },
					 .comm = "0123456789abcdef" /* all 16: no NUL */ };
	struct sluice_ev_conn_close c = { .h = { SLUICE_EV_CONN_CLOSE, 0, sizeof(c), 13, 2, 3 },
					  .conn_id = 11, .bytes_sent = 14, .bytes_recv = 15 };
	struct sluice_ev_listen l = { .h = { SLUICE_EV_LISTEN, 0, sizeof(l), 16, 2, 3 },
				      .family = AF_INET, .listening = 1, .port = 8080, .netns = 12,
				      .addr = { 127, 0, 0, 1 } };
	static struct sluice_ev_dns d = { .h = { SLUICE_EV_DNS, 0, sizeof(d), 17, 0, 0 },
					  .cgroup_id = 5, .family = AF_INET, .proto = IPPROTO_TCP,
					  .direction = SLUICE_DIR_EGRESS, .sport = 5353, .dport = 53,
					  .full_len = 40, .cap_len = 3, .payload = "abc" };
	struct sluice_ev_flow f = { .h = { SLUICE_EV_FLOW, 0, sizeof(f), 18, 2, 0 },
				    .k = { .cgroup_id = 5, .family = AF_INET, .proto = IPPROTO_UDP,
					   .lport = 1, .rport = 2, .laddr = { 10, 0, 0, 1 } },
				    .v = { .bytes_out = 19, .bytes_in = 20, .pkts_out = 1,
					   .pkts_in = 2, .conn_id = 0, .tgid = 2, .comm = "dig" } };
	size_t dlen;
	struct sluice_ev_data *da = data_rec("HTTP/1.1 200 OK\r\n", 21, &dlen);
	const void *recs[] = { &x, &e, &o, &c, da, &l, &d, &f };
	const size_t lens[] = { sizeof(x), sizeof(e), sizeof(o), sizeof(c), dlen,
				sizeof(l), sizeof(d), sizeof(f) };
	struct sink got[2] = { { .n = 0 }, { .n = 0 } };
	static uint8_t buf[2][8192];
	char a[4096], b[4096];

	for (int v = 0; v < 2; v++) {
		struct decode_stats st = { 0 };
		msgpack_sbuffer sb;
		msgpack_packer pk;
		uint64_t seq;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		for (size_t i = 0; i < 8; i++)
			CHECK((v ? wire_pack_record(&pk, recs[i], lens[i])
				 : wire_pack_record_v3(&pk, recs[i], lens[i])) == 0);
		(v ? wire_pack_loss : wire_pack_loss_v3)(&pk, 22, SLUICE_LOSS_SPOOL_FULL, 23, 24);
		CHECK(decode_frame(buf[v], test_frame_v(buf[v], sizeof(buf[v]), v ? 4 : 3, 1, &sb, 9), 0,
				   &seq, collect, &got[v], &st) == 9);
		msgpack_sbuffer_destroy(&sb);
	}
	REQUIRE(got[0].n == 9 && got[1].n == 9);
	for (int i = 0; i < 9; i++) {
		canon(&got[0].ev[i], a, sizeof(a));
		canon(&got[1].ev[i], b, sizeof(b));
		CHECK_EQ_U(got[1].ev[i].type, i < 8 ? ((const struct sluice_ev_header *)recs[i])->type
						    : SLUICE_EV_LOSS);
		if (strcmp(a, b))
			fprintf(stderr, "  v3: %s\n  v4: %s\n", a, b);
		CHECK(!strcmp(a, b));
	}
	CHECK_EQ_U(got[1].ev[2].open.comm_len, 16);
	CHECK_EQ_U(got[1].ev[8].loss.epoch, 24);
	free(da);
}

RUN_TESTS("decode", TEST(test_roundtrip_data_and_open), TEST(test_bad_records),
	  TEST(test_ack_exact), TEST(test_hostile_headers), TEST(test_bad_event_skipped),
	  TEST(test_every_truncation), TEST(test_mpack_skip_nested), TEST(test_v2_events),
	  TEST(test_versions), TEST(test_bad_v2_fields), TEST(test_dns_and_flow),
	  TEST(test_v3_and_v4_agree))

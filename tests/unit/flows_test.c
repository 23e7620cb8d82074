/* processor/flows.c: FLOW events become counters (summed when attribute
 * selection merges flows, ends named by DNS) and rows of the flows table
 * (one per flow, totals over events, replays after a restart not counted
 * twice), against a real metrics registry and sqlite store. */
#include "processor/flows.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/records.h"
#include "processor/metrics.h"
#include "processor/names.h"
#include "processor/store.h"
#include "tests/unit/db_query.h"
#include "tests/unit/harness.h"

#define SEC 1000000000LL
#define T0 ((int64_t)time(NULL)) /* event times: now, as the rows' retention expects */

static char dir[] = "/tmp/sluice-flows-test.XXXXXX";

static struct store *open_store(uint64_t done_seq)
{
	struct store_opts o = { .path = db, .boot_id = "test-boot", .cgroup_root = "/nonexistent",
				.boot_to_unix_ns = 1700000000000000000LL, .done_seq = done_seq };

	return store_open(&o);
}

static uint8_t laddr[4] = { 127, 0, 0, 1 }, raddr[4] = { 10, 9, 8, 7 };

static struct wire_event flow(uint8_t proto, uint16_t lport, uint16_t rport, uint64_t out,
			      uint64_t in)
{
	struct wire_event e = { .type = SLUICE_EV_FLOW, .tgid = 4242 };

	e.flow.family = AF_INET;
	e.flow.proto = proto;
	e.flow.laddr = laddr;
	e.flow.raddr = raddr;
	e.flow.lport = lport;
	e.flow.rport = rport;
	e.flow.cgroup_id = 77;
	e.flow.bytes_out = out;
	e.flow.bytes_in = in;
	e.flow.pkts_out = out ? 1 : 0;
	e.flow.pkts_in = in ? 2 : 0;
	e.flow.comm = (const uint8_t *)"curl";
	e.flow.comm_len = 4;
	return e;
}

/* The value of the one series of id whose attributes include key=val. */
static uint64_t series_value(struct metrics *m, enum metrics_id id, enum metrics_key key,
			     const char *val, int *nseries)
{
	struct metrics_snapshot *s = metrics_snapshot(m);
	uint64_t v = 0;

	*nseries = (int)s->m[id].n;
	for (size_t i = 0; i < s->m[id].n; i++) {
		uint32_t pos = 0;
		enum metrics_key k;
		const char *a;

		while (metrics_attr_next(s->m[id].series[i], id, &pos, &k, &a))
			if (k == key && !strcmp(a, val))
				v += s->m[id].series[i]->value;
	}
	metrics_snapshot_free(s);
	return v;
}

/* Two connections to the same peer differ only by port: with the default
 * selection (no ports) they share a series, and their bytes add up. The
 * peer is called by its DNS name. */
static void counters_sum_and_name(void)
{
	struct metrics_opts mo = { .max_series = 100 };
	struct metrics *m = metrics_new(&mo);
	struct names *n = names_new(16);
	struct flows *f = flows_new(n);
	/* api.sluice.test A 10.9.8.7, TTL 3600 */
	static const uint8_t answer[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		3, 'a', 'p', 'i', 6, 's', 'l', 'u', 'i', 'c', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 10, 9, 8, 7,
	};
	struct wire_event dns = { .type = SLUICE_EV_DNS };
	struct wire_event a = flow(IPPROTO_TCP, 40001, 443, 100, 1000);
	struct wire_event b = flow(IPPROTO_TCP, 40002, 443, 50, 7);
	int ns;

	REQUIRE(m && n && f);
	dns.dns.family = AF_INET;
	dns.dns.proto = IPPROTO_UDP;
	dns.dns.saddr = raddr;
	dns.dns.daddr = laddr;
	dns.dns.payload = answer;
	dns.dns.cap_len = dns.dns.full_len = sizeof(answer);
	names_dns(n, &dns, (T0 + 1) * SEC);
	flows_set_metrics(f, m);
	flows_event(f, 1, &a, (T0 + 1) * SEC);
	flows_event(f, 1, &b, (T0 + 1) * SEC);
	CHECK_EQ_U(series_value(m, M_NET_FLOW_BYTES, MK_IO_DIRECTION, "transmit", &ns), 150);
	CHECK_EQ_U(series_value(m, M_NET_FLOW_BYTES, MK_IO_DIRECTION, "receive", &ns), 1007);
	CHECK_EQ_U(ns, 2); /* one per direction */
	CHECK_EQ_U(series_value(m, M_NET_FLOW_PACKETS, MK_DEST_ADDR, "api.sluice.test", &ns), 2);
	CHECK_EQ_U(series_value(m, M_NET_FLOW_BYTES, MK_SOURCE_ADDR, "api.sluice.test", &ns), 1007);
	CHECK_EQ_U(series_value(m, M_NET_FLOW_BYTES, MK_SOURCE_ADDR, "127.0.0.1", &ns), 150);
	CHECK_EQ_U(series_value(m, M_NET_FLOW_BYTES, MK_TRANSPORT, "tcp", &ns), 1157);
	CHECK_EQ_U(series_value(m, M_NET_FLOW_BYTES, MK_EXE, "curl", &ns), 1157);
	CHECK_EQ_U(flows_stats(f)->bytes_in, 1007);
	flows_free(f);
	names_free(n);
	metrics_free(m);
}

/* Rows: one per flow with totals; a restart that replays stored batches
 * does not count them twice. */
static void rows_and_replay(void)
{
	struct flows *f = flows_new(NULL);
	struct store *s;
	struct wire_event a = flow(IPPROTO_TCP, 40001, 443, 100, 1000);
	struct wire_event u = flow(IPPROTO_UDP, 5353, 53, 33, 109);

	REQUIRE(f && mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/meta.db", dir);
	REQUIRE((s = open_store(0)) != NULL);
	flows_attach_store(f, s);
	flows_event(f, 1, &a, (T0 + 1) * SEC);
	flows_event(f, 2, &u, (T0 + 1) * SEC);
	CHECK_EQ_U(store_flush(s, 2), 0);
	flows_event(f, 3, &a, (T0 + 2) * SEC);
	CHECK_EQ_U(store_flush(s, 3), 0);
	CHECK_EQ_U(q_int("SELECT bytes_out FROM flows WHERE proto = 'tcp' AND rport = 443"), 200);
	CHECK_EQ_U(q_int("SELECT bytes_in FROM flows WHERE proto = 'tcp' AND rport = 443"), 2000);
	CHECK_EQ_U(q_int("SELECT pkts_in FROM flows WHERE proto = 'udp'"), 2);
	CHECK_EQ_U(q_int("SELECT pid FROM flows WHERE proto = 'udp' AND laddr = '127.0.0.1'"
			 " AND raddr = '10.9.8.7' AND cgroup_id = 77"), 4242);
	CHECK_EQ_U(q_int("SELECT count(*) FROM flows"), 2);
	CHECK_EQ_U(q_int("SELECT count(*) FROM v_flows WHERE comm = 'curl'"), 2);
	store_close(s, 3);
	flows_free(f);

	/* the checkpoint said 1: batches 2 and 3 come again, and 4 is new */
	REQUIRE((f = flows_new(NULL)) != NULL);
	REQUIRE((s = open_store(1)) != NULL);
	flows_attach_store(f, s);
	flows_event(f, 2, &u, (T0 + 3) * SEC);
	flows_event(f, 3, &a, (T0 + 3) * SEC);
	flows_event(f, 4, &a, (T0 + 4) * SEC);
	CHECK_EQ_U(store_flush(s, 4), 0);
	CHECK_EQ_U(flows_stats(f)->replay_skipped, 2);
	CHECK_EQ_U(q_int("SELECT bytes_out FROM flows WHERE proto = 'tcp'"), 300);
	CHECK_EQ_U(q_int("SELECT bytes_out FROM flows WHERE proto = 'udp'"), 33);
	store_close(s, 4);
	flows_free(f);
	for (int i = 0; i < 3; i++) {
		char p[320];

		snprintf(p, sizeof(p), "%s%s", db, (const char *[]){ "", "-wal", "-shm" }[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* More distinct flows than one commit can hold: the excess is counted. */
static void pending_table_is_bounded(void)
{
	struct flows *f = flows_new(NULL);
	struct store *s;
	char sub[320];

	REQUIRE(f);
	snprintf(db, sizeof(db), "/tmp/sluice-flows-bound.%d.db", (int)getpid());
	unlink(db);
	REQUIRE((s = open_store(0)) != NULL);
	flows_attach_store(f, s);
	for (uint32_t i = 0; i < FLOWS_PENDING_MAX + 10; i++) {
		struct wire_event e = flow(IPPROTO_UDP, (uint16_t)(i % 60000 + 1), (uint16_t)(i / 60000 + 1), 1, 0);

		flows_event(f, 1, &e, (T0 + 1) * SEC);
	}
	CHECK_EQ_U(flows_stats(f)->rows_dropped, 10);
	CHECK_EQ_U(store_flush(s, 1), 0);
	CHECK_EQ_U(q_int("SELECT count(*) FROM flows"), FLOWS_PENDING_MAX);
	store_close(s, 1);
	flows_free(f);
	for (int i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s%s", db, (const char *[]){ "", "-wal", "-shm" }[i]);
		unlink(sub);
	}
}

RUN_TESTS("flows", TEST(counters_sum_and_name), TEST(rows_and_replay),
	  TEST(pending_table_is_bounded))

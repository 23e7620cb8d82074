/* Checkpoint tests: a request seen before a restart pairs with the response
 * seen after it, replays are refused after a reload, damaged or foreign
 * files are refused without harm, a checkpoint writes only what changed,
 * a torn or uncommitted log tail is ignored, and the log is folded into a
 * new base when it grows. */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/records.h"
#include "common/wire.h"
#include "tests/tools/wire_pack.h"
#include "processor/checkpoint.h"
#include "tests/unit/frame_build.h"
#include "tests/unit/harness.h"

#define FRAME_CAP 1024 /* the frame buffers below */

static char ckpt_path[] = "/tmp/sluice-ckpt-test-XXXXXX";
static char log_path[sizeof(ckpt_path) + 4];

/* Builds a frame with one record (+ an open event when open != 0). */
static size_t mkframe(uint8_t *out, uint64_t seq, uint64_t conn, int open, int egress,
		      uint64_t pos, const char *payload)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t cap = strlen(payload), n;
	struct sluice_ev_data *d = calloc(1, sizeof(*d) + cap);
	struct sluice_ev_conn_open o = { .h = { SLUICE_EV_CONN_OPEN, 0, sizeof(o), 1, 9, 9 } };

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	o.conn_id = conn;
	o.role = SLUICE_ROLE_SERVER;
	o.family = AF_INET;
	o.lport = 80;
	o.rport = 5555;
	if (open)
		wire_pack_record(&pk, &o, sizeof(o));
	*d = (struct sluice_ev_data){ .h = { SLUICE_EV_DATA, 0, (uint32_t)(sizeof(*d) + cap),
					     seq * 10, 9, 9 },
				      .conn_id = conn, .pos = pos, .full_len = (uint32_t)cap,
				      .cap_len = (uint32_t)cap,
				      .direction = egress ? SLUICE_DIR_EGRESS : SLUICE_DIR_INGRESS,
				      .syscall = SLUICE_SYS_READ };
	memcpy(d->payload, payload, cap);
	wire_pack_record(&pk, d, d->h.size);
	n = test_frame(out, FRAME_CAP, seq, &sb, open ? 2 : 1);
	msgpack_sbuffer_destroy(&sb);
	free(d);
	return n;
}

/* A frame with one loss report. */
static size_t mkloss(uint8_t *out, uint64_t seq, uint32_t kind, uint64_t total, uint64_t epoch)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_pack_loss(&pk, seq * 10, kind, total, epoch);
	n = test_frame(out, FRAME_CAP, seq, &sb, 1);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static const char req[] = "GET /before-restart HTTP/1.1\r\nHost: x\r\n\r\n";
static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static void new_processor(struct processor *p, FILE *out)
{
	processor_init(p, 64);
	p->out.jsonl = out;
}

static void test_pair_spans_restart(void)
{
	struct processor a, b;
	uint8_t f[FRAME_CAP];
	FILE *out = tmpfile();
	char line[2048] = "";
	size_t n;

	REQUIRE(out);
	new_processor(&a, out);
	n = mkframe(f, 100, 7, 1, 0, 0, req);
	CHECK(processor_frame(&a, f, n) == 2);
	CHECK(checkpoint_save(&a, ckpt_path) == 0);
	processor_fini(&a);

	new_processor(&b, out);
	CHECK(checkpoint_load(&b, ckpt_path) == 0);
	CHECK_EQ_U(b.done_seq, 100);
	CHECK_EQ_U(conntrack_stats(b.ct)->live, 1);
	/* the replayed frame is refused, the response pairs with the old request */
	CHECK(processor_frame(&b, f, n) == -EALREADY);
	n = mkframe(f, 101, 7, 0, 1, 0, resp);
	CHECK(processor_frame(&b, f, n) == 1);
	CHECK_EQ_U(b.out.pairs, 1);
	rewind(out);
	CHECK(fgets(line, sizeof(line), out) != NULL);
	CHECK(strstr(line, "\"url.path\":\"/before-restart\"") != NULL);
	CHECK(strstr(line, "\"http.response.status_code\":200") != NULL);
	CHECK(strstr(line, "\"sluice.complete\":true") != NULL);
	CHECK(strstr(line, "\"server.port\":80") != NULL);
	processor_fini(&b);
	fclose(out);
}

static void test_missing_and_garbage(void)
{
	struct processor p;
	FILE *f;

	processor_init(&p, 16);
	unlink(ckpt_path);
	CHECK(checkpoint_load(&p, ckpt_path) == -ENOENT);
	f = fopen(ckpt_path, "w");
	REQUIRE(f);
	fputs("last_seq 5\n", f);
	fclose(f);
	CHECK(checkpoint_load(&p, ckpt_path) == -EINVAL);
	CHECK_EQ_U(p.done_seq, 0);
	CHECK_EQ_U(conntrack_stats(p.ct)->live, 0);
	processor_fini(&p);
}

/* A file cut short keeps its seq and the connections before the cut. */
static void test_truncated(void)
{
	struct processor a, b;
	uint8_t f[FRAME_CAP];
	size_t n;
	long size;
	FILE *fp;

	processor_init(&a, 16);
	for (uint64_t id = 1; id <= 3; id++) {
		n = mkframe(f, 10 + id, id, 1, 0, 0, req);
		processor_frame(&a, f, n);
	}
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
	processor_fini(&a);
	fp = fopen(ckpt_path, "r+");
	REQUIRE(fp);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fclose(fp);
	REQUIRE(truncate(ckpt_path, size - 10) == 0);
	processor_init(&b, 16);
	CHECK(checkpoint_load(&b, ckpt_path) == -EIO);
	CHECK_EQ_U(b.done_seq, 13);
	CHECK_EQ_U(conntrack_stats(b.ct)->live, 2);
	processor_fini(&b);
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* One counter of the writer's status object. */
static unsigned long long ckpt_stat(const struct processor *p, const char *name)
{
	char buf[512] = "", key[64];
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	const char *at;

	if (!f)
		return ~0ull;
	checkpoint_status_json(p->ckpt, f);
	fclose(f);
	snprintf(key, sizeof(key), "\"%s\":", name);
	at = strstr(buf, key);
	return at ? strtoull(at + strlen(key), NULL, 10) : ~0ull;
}

/* Frames 1..n open connections 1..n, each with a request waiting. */
static void open_conns(struct processor *p, uint64_t n)
{
	uint8_t f[FRAME_CAP];

	for (uint64_t id = 1; id <= n; id++)
		processor_frame(p, f, mkframe(f, id, id, 1, 0, 0, req));
}

static void fresh_files(void)
{
	unlink(ckpt_path);
	unlink(log_path);
}

/* A checkpoint after one connection changed writes that connection, not
 * the table; a closed one is deleted; a reload sees both. */
static void test_incremental(void)
{
	struct processor a, b;
	uint8_t f[FRAME_CAP];
	unsigned long long base;

	fresh_files();
	processor_init(&a, 256);
	open_conns(&a, 100);
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
	base = ckpt_stat(&a, "last_bytes");
	CHECK_EQ_U(ckpt_stat(&a, "bases"), 1);
	processor_frame(&a, f, mkframe(f, 101, 5, 0, 1, 0, resp)); /* 5 is answered */
	processor_frame(&a, f, mkframe(f, 102, 9, 0, 1, 0, resp));
	conntrack_close(a.ct, 9, 1, 0, 0);
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
	CHECK_EQ_U(ckpt_stat(&a, "bases"), 1);
	CHECK(ckpt_stat(&a, "last_bytes") * 20 < base);
	CHECK_EQ_U(a.out.pairs, 2);
	processor_fini(&a);

	processor_init(&b, 256);
	CHECK(checkpoint_load(&b, ckpt_path) == 0);
	CHECK_EQ_U(b.done_seq, 102);
	CHECK_EQ_U(conntrack_stats(b.ct)->live, 99);
	CHECK_EQ_U(conntrack_stats(b.ct)->pending, 98); /* 5 and 9 answered */
	/* the reloaded log goes on: the next save appends */
	processor_frame(&b, f, mkframe(f, 103, 7, 0, 1, 0, resp));
	REQUIRE(checkpoint_save(&b, ckpt_path) == 0);
	CHECK_EQ_U(ckpt_stat(&b, "bases"), 0);
	CHECK_EQ_U(b.out.pairs, 1);
	processor_fini(&b);
}

/* Two appends; the second is torn (cut inside a record, or its commit
 * lost, or a byte flipped): the reload stops at the first one's commit,
 * and the log goes on from there. */
static void test_torn_tail(void)
{
	/* header + done_seq + the loss totals */
	const long commit = 16 + 8 + 8 * SLUICE_LOSS_MAX;
	const long cuts[] = { 1, 7, 40, commit };
	uint8_t f[FRAME_CAP];

	for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]) + 1; k++) {
		struct processor a, b;
		long end;

		fresh_files();
		processor_init(&a, 64);
		open_conns(&a, 3);
		REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
		processor_frame(&a, f, mkframe(f, 10, 1, 0, 1, 0, resp));
		REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
		end = file_size(log_path);
		processor_frame(&a, f, mkframe(f, 11, 2, 0, 1, 0, resp));
		REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
		processor_fini(&a);
		if (k < sizeof(cuts) / sizeof(cuts[0])) {
			REQUIRE(truncate(log_path, file_size(log_path) - cuts[k]) == 0);
		} else { /* a flipped byte in the second append's conn record */
			FILE *fp = fopen(log_path, "r+");

			REQUIRE(fp);
			fseek(fp, end + 30, SEEK_SET);
			fputc(0x55 ^ 0xff, fp);
			fclose(fp);
		}
		processor_init(&b, 64);
		CHECK(checkpoint_load(&b, ckpt_path) == 0);
		CHECK_EQ_U(b.done_seq, 10);
		CHECK_EQ_U(conntrack_stats(b.ct)->pending, 2); /* 2's answer is not in */
		CHECK_EQ_U(file_size(log_path), end);
		processor_frame(&b, f, mkframe(f, 11, 2, 0, 1, 0, resp));
		CHECK_EQ_U(b.out.pairs, 1);
		REQUIRE(checkpoint_save(&b, ckpt_path) == 0);
		processor_fini(&b);
		processor_init(&b, 64);
		CHECK(checkpoint_load(&b, ckpt_path) == 0);
		CHECK_EQ_U(b.done_seq, 11);
		CHECK_EQ_U(conntrack_stats(b.ct)->pending, 1);
		processor_fini(&b);
	}
}

/* A crash between the new base and its new log leaves an old log next to
 * the new base: it is ignored (the base already holds all of it). */
static void test_old_log_ignored(void)
{
	struct processor a, c;
	char old[sizeof(log_path) + 8];
	uint8_t f[FRAME_CAP];

	fresh_files();
	snprintf(old, sizeof(old), "%s.old", log_path);
	processor_init(&a, 64);
	open_conns(&a, 3);
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
	processor_frame(&a, f, mkframe(f, 20, 1, 0, 1, 0, resp));
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
	processor_fini(&a);
	REQUIRE(rename(log_path, old) == 0);
	processor_init(&c, 64); /* another state: one connection, seq 30 */
	processor_frame(&c, f, mkframe(f, 30, 77, 1, 0, 0, req));
	REQUIRE(checkpoint_save(&c, ckpt_path) == 0);
	processor_fini(&c);
	REQUIRE(rename(old, log_path) == 0);
	processor_init(&c, 64);
	CHECK(checkpoint_load(&c, ckpt_path) == 0);
	CHECK_EQ_U(c.done_seq, 30);
	CHECK_EQ_U(conntrack_stats(c.ct)->live, 1);
	processor_fini(&c);
}

/* Saves that keep changing every connection grow the log until it is
 * folded into a new base; what is read back is the latest state. */
static void test_compaction(void)
{
	struct processor a, b;
	uint8_t f[FRAME_CAP];
	uint64_t seq = 1000;
	long peak = 0;

	fresh_files();
	processor_init(&a, 2048);
	open_conns(&a, 1000);
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
	for (int round = 0; round < 8; round++) {
		for (uint64_t id = 1; id <= 1000; id++) /* a byte each: every one changes */
			processor_frame(&a, f, mkframe(f, ++seq, id, 0, 0, 40 + round, "x"));
		REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
		if (file_size(log_path) > peak)
			peak = file_size(log_path);
	}
	CHECK(ckpt_stat(&a, "bases") >= 2);
	CHECK(peak <= 3 * file_size(ckpt_path));
	processor_fini(&a);
	processor_init(&b, 2048);
	CHECK(checkpoint_load(&b, ckpt_path) == 0);
	CHECK_EQ_U(b.done_seq, seq);
	CHECK_EQ_U(conntrack_stats(b.ct)->live, 1000);
	processor_fini(&b);
}

/* checkpoint_save in two halves, as main.c runs it with the store's commit
 * thread: prepare records the state as of now, frames processed before the
 * write must not show in it, and the files read back exactly that state.
 * A save that must be a base says so and changes nothing. */
static void test_prepared_append(void)
{
	struct processor a, b;
	uint8_t f[FRAME_CAP];

	fresh_files();
	processor_init(&a, 256);
	open_conns(&a, 100);
	REQUIRE(checkpoint_prepare(&a, ckpt_path) == 0); /* the first is a base */
	processor_frame(&a, f, mkframe(f, 101, 3, 0, 1, 0, resp)); /* not in it */
	checkpoint_write_prepared(a.ckpt);
	CHECK(checkpoint_finish(&a) == 0);
	CHECK_EQ_U(ckpt_stat(&a, "bases"), 1);
	processor_init(&b, 256);
	CHECK(checkpoint_load(&b, ckpt_path) == 0);
	CHECK_EQ_U(b.done_seq, 100);
	CHECK_EQ_U(conntrack_stats(b.ct)->pending, 100);
	processor_fini(&b);
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0); /* an append after it */
	CHECK_EQ_U(ckpt_stat(&a, "bases"), 1);
	processor_frame(&a, f, mkframe(f, 102, 5, 0, 1, 0, resp)); /* 5 is answered */
	conntrack_close(a.ct, 9, 1, 0, 0);
	REQUIRE(checkpoint_prepare(&a, ckpt_path) == 0);
	/* after the prepare, before the write: not in this checkpoint */
	processor_frame(&a, f, mkframe(f, 103, 7, 0, 1, 0, resp));
	checkpoint_write_prepared(a.ckpt);
	CHECK(checkpoint_finish(&a) == 0);
	CHECK(checkpoint_finish(&a) == -EINVAL); /* nothing prepared any more */
	CHECK_EQ_U(ckpt_stat(&a, "bases"), 1);
	CHECK_EQ_U(ckpt_stat(&a, "saves"), 3);
	CHECK_EQ_U(a.out.pairs, 4); /* 3, 5, 7, and 9's request, incomplete at its close */
	processor_fini(&a);

	processor_init(&b, 256);
	CHECK(checkpoint_load(&b, ckpt_path) == 0);
	CHECK_EQ_U(b.done_seq, 102);
	CHECK_EQ_U(conntrack_stats(b.ct)->live, 99);
	CHECK_EQ_U(conntrack_stats(b.ct)->pending, 97); /* 3, 5 answered, 9 gone; 7 waits */
	/* the replayed frame 103 pairs 7 again */
	CHECK(processor_frame(&b, f, mkframe(f, 103, 7, 0, 1, 0, resp)) == 1);
	CHECK_EQ_U(b.out.pairs, 1);
	/* and the log goes on from the prepared append */
	REQUIRE(checkpoint_prepare(&b, ckpt_path) == 0);
	checkpoint_write_prepared(b.ckpt);
	CHECK(checkpoint_finish(&b) == 0);
	CHECK_EQ_U(ckpt_stat(&b, "bases"), 0);
	processor_fini(&b);
	processor_init(&b, 256);
	CHECK(checkpoint_load(&b, ckpt_path) == 0);
	CHECK_EQ_U(b.done_seq, 103);
	CHECK_EQ_U(conntrack_stats(b.ct)->pending, 96);
	processor_fini(&b);
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* 10k connections, each with a request waiting, across a restart: every
 * response after it pairs with the request from before it. */
static void test_10k_round_trip(void)
{
	struct processor a, b;
	uint8_t f[FRAME_CAP];
	struct timespec t0;
	double save_s, load_s;

	fresh_files();
	processor_init(&a, 16384);
	open_conns(&a, 10000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	REQUIRE(checkpoint_save(&a, ckpt_path) == 0);
	save_s = secs_since(&t0);
	processor_fini(&a);
	processor_init(&b, 16384);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(checkpoint_load(&b, ckpt_path) == 0);
	load_s = secs_since(&t0);
	CHECK_EQ_U(conntrack_stats(b.ct)->live, 10000);
	CHECK_EQ_U(conntrack_stats(b.ct)->pending, 10000);
	for (uint64_t id = 1; id <= 10000; id++)
		processor_frame(&b, f, mkframe(f, 10000 + id, id, 0, 1, 0, resp));
	CHECK_EQ_U(conntrack_http_stats(b.ct)->pairs, 10000);
	CHECK_EQ_U(conntrack_http_stats(b.ct)->incomplete, 0);
	fprintf(stderr, "  10k connections: base %ld bytes, save %.1f ms, load %.1f ms\n",
		file_size(ckpt_path), save_s * 1e3, load_s * 1e3);
	processor_fini(&b);
}

/* Loss totals count from an epoch (a BPF object's start): within one a
 * replayed or reordered report never lowers them, a newer one adds to them,
 * an older one is a replay; across a restart the epoch is remembered. */
static void test_loss_epochs(void)
{
	static const struct { uint64_t total, epoch, want; } steps[] = {
		{ 5, 100, 5 }, { 3, 100, 5 }, { 8, 100, 8 }, /* restart after this */
		{ 2, 200, 10 }, { 9, 100, 10 }, { 6, 200, 14 }, { 6, 200, 14 },
	};
	struct processor a, b, *p = &a;
	uint8_t f[FRAME_CAP];
	FILE *out = tmpfile();

	REQUIRE(out);
	new_processor(&a, out);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (i == 3) {
			CHECK(checkpoint_save(&a, ckpt_path) == 0);
			processor_fini(&a);
			new_processor(&b, out);
			CHECK(checkpoint_load(&b, ckpt_path) == 0);
			CHECK_EQ_U(b.loss[SLUICE_LOSS_RB_DATA], 8);
			p = &b;
		}
		CHECK(processor_frame(p, f, mkloss(f, 200 + i, SLUICE_LOSS_RB_DATA, steps[i].total,
						    steps[i].epoch)) == 1);
		CHECK_EQ_U(p->loss[SLUICE_LOSS_RB_DATA], steps[i].want);
	}
	CHECK_EQ_U(b.loss[SLUICE_LOSS_MAP_FULL], 0);
	processor_fini(&b);
	fclose(out);
}

int main(void)
{
	static const struct h_test tests[] = {
		TEST(test_pair_spans_restart), TEST(test_missing_and_garbage),
		TEST(test_truncated), TEST(test_incremental), TEST(test_torn_tail),
		TEST(test_old_log_ignored), TEST(test_compaction), TEST(test_10k_round_trip), TEST(test_loss_epochs),
		TEST(test_prepared_append),
	};
	int fd = mkstemp(ckpt_path), rc;

	if (fd >= 0)
		close(fd);
	snprintf(log_path, sizeof(log_path), "%s.log", ckpt_path);
	rc = h_run("checkpoint", tests, (int)(sizeof(tests) / sizeof(tests[0])));
	fresh_files();
	return rc;
}

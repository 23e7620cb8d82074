/* Checkpoint tests: a request seen before a restart pairs with the response
 * seen after it, replays are refused after a reload, and damaged or foreign
 * files are refused without harm. */
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/events.h"
#include "common/wire.h"
#include "processor/checkpoint.h"
#include "tests/unit/harness.h"

static char ckpt_path[] = "/tmp/sluice-ckpt-test-XXXXXX";

/* Builds a frame with one record (+ an open event when open != 0). */
static size_t mkframe(uint8_t *out, uint64_t seq, uint64_t conn, int open, int egress,
		      uint64_t pos, const char *payload)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t cap = strlen(payload), n = 0;
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
	out[n++] = 0x93;
	out[n++] = WIRE_VERSION;
	out[n++] = 0xcf;
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(seq >> (8 * i));
	out[n++] = (uint8_t)(0x90 | (open ? 2 : 1));
	memcpy(out + n, sb.data, sb.size);
	n += sb.size;
	msgpack_sbuffer_destroy(&sb);
	free(d);
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
	uint8_t f[1024];
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
	uint8_t f[1024];
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

int main(void)
{
	static const struct h_test tests[] = { TEST(test_pair_spans_restart),
					       TEST(test_missing_and_garbage),
					       TEST(test_truncated) };
	int fd = mkstemp(ckpt_path), rc;

	if (fd >= 0)
		close(fd);
	rc = h_run("checkpoint", tests, 3);
	unlink(ckpt_path);
	return rc;
}

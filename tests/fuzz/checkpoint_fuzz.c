/* Fuzzes checkpoint_load (processor/checkpoint.c): the files are input.
 * Real files come first: a processor with connections in every kind of
 * state writes a base and appends to its log (checkpoint_save). Each input
 * then damages copies of them and a fresh processor loads them and runs
 * frames on what it restored; crashes, leaks and UB abort.
 *
 * Input: byte 0 flags (bit 0: leave the CRCs as damaged, else recompute
 * them so the damage reaches the checks behind them; bit 1: cut the log
 * at the offset bytes 1-2 name); then edits of 4 bytes each: file (bit 0 of
 * the first byte: base or log), a 16-bit offset, a byte to XOR there.
 * Offsets land in the files' records, past their headers (the harness finds
 * a header's end by its own trailing CRC, so it knows no private layout),
 * and the record framing (len, type, crc, pad: 16 bytes) is walked to fix
 * each record's CRC. */
#include <errno.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/records.h"
#include "common/log.h"
#include "common/wire.h"
#include "tests/tools/wire_pack.h"
#include "processor/checkpoint.h"
#include "tests/unit/frame_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct file {
	uint8_t *buf;
	size_t len, head; /* head: the header's size */
};

#define FRAME_CAP 4096 /* the frame buffers below */

static char dir[] = "/tmp/sluice-ckpt-fuzz-XXXXXX";
static char base_path[64], log_path[72];
static struct file tmpl[2]; /* the base and the log as written */

static uint32_t crc32(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
	}
	return ~crc;
}

/* One frame: an open (when open) and a chunk of conn's stream. */
static size_t frame(uint8_t *out, uint64_t seq, uint64_t conn, int open, int egress,
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
	o.role = conn % 2 ? SLUICE_ROLE_SERVER : SLUICE_ROLE_CLIENT;
	o.family = conn % 3 ? AF_INET : AF_INET6;
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

/* Requests of every shape a checkpoint may catch half-way. */
static const char *const reqs[] = {
	"GET /a?q=1 HTTP/1.1\r\nHost: x\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
	"POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
	"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nHEAD /3 HTTP/1.1\r\n\r\nGET /4 HT",
	"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
	"GET /half",
	"\x16\x03\x01 not http",
};

static void read_file(const char *path, struct file *f)
{
	FILE *fp = fopen(path, "r");

	f->buf = malloc(1 << 20);
	f->len = fp && f->buf ? fread(f->buf, 1, 1 << 20, fp) : 0;
	if (fp)
		fclose(fp);
	/* the header ends with the CRC of what precedes it */
	for (f->head = 8; f->head + 4 <= f->len; f->head += 4) {
		uint32_t c;

		memcpy(&c, f->buf + f->head, 4);
		if (c == crc32(0, f->buf, f->head))
			break;
	}
	f->head = (f->head + 4 + 7) & ~(size_t)7; /* past the CRC and any padding */
	if (f->head > f->len)
		abort();
}

/* The harness's idea of the format must hold for what was written: every
 * record's framing and CRC, to the end of the file. Else fuzzing would
 * quietly test nothing: stop loudly instead. */
static void check_template(const struct file *f, int min_records)
{
	size_t at = f->head;
	int n = 0;

	while (at + 16 <= f->len) {
		uint32_t len, crc;

		memcpy(&len, f->buf + at, 4);
		memcpy(&crc, f->buf + at + 8, 4);
		if (len > f->len - at - 16 || crc != crc32(crc32(0, f->buf + at + 4, 4), f->buf + at + 16, len))
			break;
		at += 16 + len;
		n++;
	}
	if (at != f->len || n < min_records) {
		fprintf(stderr, "checkpoint_fuzz: the file format changed: fix the harness\n");
		abort();
	}
}

static void remove_files(void)
{
	unlink(base_path);
	unlink(log_path);
	rmdir(dir);
}

static void make_templates(void)
{
	struct processor p;
	uint8_t f[FRAME_CAP];
	uint64_t seq = 1;

	log_verbose = 0;
	if (!mkdtemp(dir) || processor_init_limits(&p, 64, 8) < 0)
		abort();
	snprintf(base_path, sizeof(base_path), "%s/state", dir);
	snprintf(log_path, sizeof(log_path), "%s/state.log", dir);
	atexit(remove_files);
	for (uint64_t c = 1; c <= 6; c++)
		processor_frame(&p, f, frame(f, seq++, c, 1, c % 2 == 0, 0, reqs[c - 1]));
	if (checkpoint_save(&p, base_path) != 0)
		abort();
	processor_frame(&p, f, frame(f, seq++, 1, 0, 1, 0, "HTTP/1.1 200 OK\r\nContent-Len"));
	processor_frame(&p, f, frame(f, seq++, 7, 1, 0, 0, reqs[2]));
	conntrack_close(p.ct, 5, 99, 0, 0);
	if (checkpoint_save(&p, base_path) != 0)
		abort();
	processor_fini(&p);
	read_file(base_path, &tmpl[0]);
	read_file(log_path, &tmpl[1]);
	check_template(&tmpl[0], 6); /* six connections */
	check_template(&tmpl[1], 4); /* two changed, one gone, one new, a commit */
}

/* Every record's CRC made right again (as far as its framing still holds). */
static void fix_crcs(struct file *f)
{
	size_t at = f->head;

	while (at + 16 <= f->len) {
		uint32_t len, crc;

		memcpy(&len, f->buf + at, 4);
		if (len > f->len - at - 16)
			break;
		crc = crc32(crc32(0, f->buf + at + 4, 4), f->buf + at + 16, len);
		memcpy(f->buf + at + 8, &crc, 4);
		at += 16 + len;
	}
}

static void write_file(const char *path, const struct file *f)
{
	FILE *fp = fopen(path, "w");

	if (!fp)
		abort();
	fwrite(f->buf, 1, f->len, fp);
	fclose(fp);
}

/* The restored connections must still run: a response and more requests. */
static void exercise(struct processor *p)
{
	uint8_t f[FRAME_CAP];

	for (uint64_t c = 1; c <= 8; c++) {
		processor_frame(p, f, frame(f, 1000 + c * 2, c, 0, c % 2, 64,
					    "HTTP/1.1 204 No Content\r\n\r\n"));
		processor_frame(p, f, frame(f, 1001 + c * 2, c, 0, c % 2 == 0, 400,
					    "GET /after HTTP/1.1\r\n\r\n"));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bufs[2][1 << 20];
	struct file f[2];
	struct processor p;

	if (!tmpl[0].buf)
		make_templates();
	for (int i = 0; i < 2; i++) {
		f[i] = tmpl[i];
		f[i].buf = memcpy(bufs[i], tmpl[i].buf, tmpl[i].len);
	}
	for (size_t i = 1; size > 0 && i + 4 <= size; i += 4) {
		struct file *t = &f[data[i] & 1];
		size_t span = t->len - t->head;

		if (span)
			t->buf[t->head + ((size_t)data[i + 1] << 8 | data[i + 2]) % span] ^= data[i + 3];
	}
	if (size > 0 && !(data[0] & 1)) {
		fix_crcs(&f[0]);
		fix_crcs(&f[1]);
	}
	if (size > 2 && (data[0] & 2))
		f[1].len = ((size_t)data[1] << 8 | data[2]) % (f[1].len + 1);
	write_file(base_path, &f[0]);
	write_file(log_path, &f[1]);
	if (processor_init_limits(&p, 64, 8) < 0)
		return 0;
	checkpoint_load(&p, base_path);
	exercise(&p);
	conntrack_flush(p.ct, 1u << 30);
	processor_fini(&p);
	return 0;
}

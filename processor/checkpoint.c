/* Checkpoint files (checkpoint.h): a base PATH and a log PATH.log.
 * Both are sequences of records, each with its length and a CRC-32 of its
 * type and payload, after a header with its own CRC. The base is written
 * to PATH.tmp and renamed, then a fresh log with the base's generation is
 * renamed over the old one; a log whose generation differs from the base's
 * (a crash between the two renames) is ignored, the base already holding
 * all of it. A checkpoint appends the connections that changed, a record
 * for each one that went, and a commit record with the seq; on reading,
 * records after the last valid commit are dropped (a crash mid-append).
 * No fsync: checkpoints are for process restarts, and the loader's spool
 * does not survive a power loss either. */
#include "processor/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define CKPT_MAGIC "SLUICECK"
#define CKPT_LOG_MAGIC "SLUICELG"
#define CKPT_FORMAT 3 /* 3: loss epochs */
#define CKPT_LOG_MIN (256u << 10) /* a log is folded only beyond this */
#define CKPT_IOBUF (256u << 10)
/* A checkpoint is made in memory for a writer thread only up to this size
 * (estimated beforehand); a bigger one is written the synchronous way. A
 * buffer beyond CKPT_MEM_KEEP is freed once written: memory is budgeted
 * (64 MiB at 100k connections). */
#define CKPT_MEM_MAX (1u << 20)
#define CKPT_MEM_KEEP (256u << 10)

/* Format 1 (one file of fixed records) had magic ... loss at these same
 * offsets: its done_seq is still read. */
struct ckpt_header {
	char magic[8];
	uint32_t format;      /* CKPT_FORMAT */
	uint32_t layout;      /* ckpt_layout(): may connections be restored */
	uint64_t done_seq;
	uint64_t loss[SLUICE_LOSS_MAX];
	uint64_t loss_epoch[SLUICE_LOSS_MAX], loss_cur[SLUICE_LOSS_MAX]; /* format 3 */
	uint64_t gen;         /* the log with this generation continues it */
	uint32_t nconns;      /* REC_CONN records that follow */
	uint32_t crc;         /* of the bytes before it */
};

struct ckpt_log_header {
	char magic[8];
	uint32_t format, layout;
	uint64_t gen;
	uint32_t crc;         /* of the bytes before it */
	uint32_t pad;
};

enum { REC_CONN = 1, REC_DEL = 2, REC_COMMIT = 3 };

struct ckpt_rec {
	uint32_t len;         /* payload bytes that follow */
	uint32_t type;
	uint32_t crc;         /* of type, then the payload */
	uint32_t pad;
};

/* REC_CONN's payload: this, then http_len bytes of http1_save. */
struct ckpt_conn {
	uint64_t conn_id, last_ns, bytes_sent, bytes_recv;
	uint32_t tgid, http_len;
	uint16_t lport, rport;
	uint8_t role, family, pad[2];
	uint8_t laddr[16], raddr[16];
	char comm[16];
};

struct ckpt_commit {
	uint64_t done_seq;
	uint64_t loss[SLUICE_LOSS_MAX];
	uint64_t loss_epoch[SLUICE_LOSS_MAX], loss_cur[SLUICE_LOSS_MAX];
};

struct checkpoint {
	char *path, *log_path;
	FILE *log;            /* appending; NULL: the next save writes a base */
	uint64_t gen;         /* of the base and log on disk */
	uint64_t log_bytes;   /* records in the log */
	uint64_t rec_bytes, recs; /* connection records written: their mean size */
	uint8_t *buf;         /* one record's payload (the largest: REC_CONN) */
	size_t buf_size;
	int err;              /* the first write error of this save */
	uint64_t saves, bases, bytes, last_bytes, last_ns, max_ns; /* for status */
	/* checkpoint_prepare's append, in memory (mem_on: records go there) */
	bool mem_on, prepared;
	uint8_t *mem;
	size_t mem_len, mem_cap;
	uint64_t prep_ns;     /* time spent preparing it */
	int job_err;          /* checkpoint_write_prepared's result */
	bool job_base;        /* the prepared save is a new base ... */
	uint64_t job_gen;     /* ... of this generation */
	uint64_t job_ns;      /* ... and its time */
};

static uint32_t ckpt_crc(uint32_t crc, const void *buf, size_t n)
{
	static uint32_t table[256];
	const uint8_t *p = buf;

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Changes whenever a saved struct's layout can have changed. */
static uint32_t ckpt_layout(void)
{
	uint32_t h = 2166136261u;
	uint32_t parts[] = { sizeof(struct ckpt_conn), (uint32_t)http1_save_max(),
			     sizeof(struct ckpt_commit), SLUICE_EVENT_VERSION, CKPT_FORMAT };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		h = (h ^ parts[i]) * 16777619u;
	return h;
}

static uint64_t ckpt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the writer ---- */

void checkpoint_free(struct checkpoint *ck)
{
	if (!ck)
		return;
	if (ck->log)
		fclose(ck->log);
	free(ck->mem);
	free(ck->path);
	free(ck->log_path);
	free(ck->buf);
	free(ck);
}

static struct checkpoint *ckpt_get(struct processor *p, const char *path)
{
	struct checkpoint *ck = p->ckpt;

	if (ck && strcmp(ck->path, path) == 0)
		return ck;
	checkpoint_free(ck);
	p->ckpt = ck = calloc(1, sizeof(*ck));
	if (!ck)
		return NULL;
	ck->buf_size = sizeof(struct ckpt_conn) + http1_save_max();
	ck->path = strdup(path);
	ck->buf = malloc(ck->buf_size);
	if (ck->path && ck->buf && asprintf(&ck->log_path, "%s.log", path) >= 0)
		return ck;
	checkpoint_free(ck);
	p->ckpt = NULL;
	return NULL;
}

static void ckpt_write(struct checkpoint *ck, FILE *f, const void *p, size_t n)
{
	if (ck->err)
		return;
	if (ck->mem_on) { /* checkpoint_prepare: to memory, for a writer thread */
		if (ck->mem_len + n > ck->mem_cap) {
			size_t cap = ck->mem_cap ? ck->mem_cap : 64u << 10;
			uint8_t *m;

			while (cap < ck->mem_len + n)
				cap *= 2;
			if (!(m = realloc(ck->mem, cap))) {
				ck->err = -ENOMEM;
				return;
			}
			ck->mem = m;
			ck->mem_cap = cap;
		}
		memcpy(ck->mem + ck->mem_len, p, n);
		ck->mem_len += n;
		return;
	}
	if (fwrite(p, 1, n, f) != n)
		ck->err = errno ? -errno : -EIO;
}

static void ckpt_record(struct checkpoint *ck, FILE *f, uint32_t type, const void *p,
			uint32_t len)
{
	struct ckpt_rec r = { .len = len, .type = type };

	r.crc = ckpt_crc(ckpt_crc(0, &r.type, sizeof(r.type)), p, len);
	ckpt_write(ck, f, &r, sizeof(r));
	ckpt_write(ck, f, p, len);
	ck->last_bytes += sizeof(r) + len;
}

static void ckpt_conn_record(struct checkpoint *ck, FILE *f, const struct conn *c)
{
	struct ckpt_conn *cc = (struct ckpt_conn *)ck->buf;
	size_t n;

	memset(cc, 0, sizeof(*cc));
	cc->conn_id = c->conn_id;
	cc->last_ns = c->last_ns;
	cc->bytes_sent = c->bytes_sent;
	cc->bytes_recv = c->bytes_recv;
	cc->tgid = c->tgid;
	cc->lport = c->lport;
	cc->rport = c->rport;
	cc->role = c->role;
	cc->family = c->family;
	memcpy(cc->laddr, c->laddr, sizeof(cc->laddr));
	memcpy(cc->raddr, c->raddr, sizeof(cc->raddr));
	memcpy(cc->comm, c->comm, sizeof(cc->comm));
	n = http1_save(c->http, cc + 1, ck->buf_size - sizeof(*cc));
	cc->http_len = (uint32_t)n;
	ckpt_record(ck, f, REC_CONN, cc, (uint32_t)(sizeof(*cc) + n));
	ck->rec_bytes += sizeof(struct ckpt_rec) + sizeof(*cc) + n;
	ck->recs++;
}

struct ckpt_base_ctx {
	struct checkpoint *ck;
	FILE *f;
};

static void ckpt_base_conn(void *ctx, struct conn *c)
{
	struct ckpt_base_ctx *b = ctx;

	ckpt_conn_record(b->ck, b->f, c);
}

/* The generation recorded in a file's header (magic checked), else 0. */
static uint64_t ckpt_disk_gen(const char *path, const char *magic, size_t off)
{
	uint8_t h[sizeof(struct ckpt_header)];
	uint64_t gen = 0;
	FILE *f = fopen(path, "r");

	if (f && fread(h, 1, sizeof(h), f) >= off + sizeof(gen) && memcmp(h, magic, 8) == 0)
		memcpy(&gen, h + off, sizeof(gen));
	if (f)
		fclose(f);
	return gen;
}

/* A generation no file on disk has: a crash after the new base is renamed
 * in and before its log is must leave the old log unmatched. */
static uint64_t ckpt_new_gen(const struct checkpoint *ck)
{
	struct timespec ts;
	uint64_t gen, g;

	clock_gettime(CLOCK_REALTIME, &ts);
	gen = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	g = ckpt_disk_gen(ck->path, CKPT_MAGIC, offsetof(struct ckpt_header, gen));
	gen = g >= gen ? g + 1 : gen;
	g = ckpt_disk_gen(ck->log_path, CKPT_LOG_MAGIC, offsetof(struct ckpt_log_header, gen));
	gen = g >= gen ? g + 1 : gen;
	return gen > ck->gen ? gen : ck->gen + 1;
}

/* A new, empty log for generation gen; stays open for appending. */
static int ckpt_new_log(struct checkpoint *ck, uint64_t gen)
{
	struct ckpt_log_header h = { .format = CKPT_FORMAT, .layout = ckpt_layout(), .gen = gen };
	char tmp[4096];
	FILE *f;

	memcpy(h.magic, CKPT_LOG_MAGIC, 8);
	h.crc = ckpt_crc(0, &h, offsetof(struct ckpt_log_header, crc));
	snprintf(tmp, sizeof(tmp), "%s.tmp", ck->log_path);
	if (!(f = fopen(tmp, "w")))
		return -errno;
	setvbuf(f, NULL, _IOFBF, CKPT_IOBUF);
	ckpt_write(ck, f, &h, sizeof(h));
	if (!ck->err && fflush(f) != 0)
		ck->err = -errno;
	if (!ck->err && rename(tmp, ck->log_path) != 0)
		ck->err = -errno;
	if (ck->err) {
		fclose(f);
		return ck->err;
	}
	ck->log = f; /* the same file, now under its real name */
	ck->log_bytes = 0;
	return 0;
}

/* Every live connection into a new base, then a new log: the old log is
 * folded in. */
/* The base's header for p now; a new generation. */
static void ckpt_base_header(struct checkpoint *ck, struct processor *p, struct ckpt_header *h)
{
	*h = (struct ckpt_header){ .format = CKPT_FORMAT, .layout = ckpt_layout() };
	memcpy(h->magic, CKPT_MAGIC, 8);
	h->done_seq = p->done_seq;
	memcpy(h->loss, p->loss, sizeof(h->loss));
	memcpy(h->loss_epoch, p->loss_epoch, sizeof(h->loss_epoch));
	memcpy(h->loss_cur, p->loss_cur, sizeof(h->loss_cur));
	h->gen = ckpt_new_gen(ck);
	h->nconns = (uint32_t)conntrack_stats(p->ct)->live;
	h->crc = ckpt_crc(0, h, offsetof(struct ckpt_header, crc));
}

/* Renames the written base in, then starts its generation's log. */
static int ckpt_base_done(struct checkpoint *ck, const char *tmp, uint64_t gen)
{
	if (!ck->err && rename(tmp, ck->path) != 0)
		ck->err = -errno;
	if (ck->err) {
		unlink(tmp);
		return ck->err;
	}
	return ckpt_new_log(ck, gen);
}

static int ckpt_base(struct checkpoint *ck, struct processor *p)
{
	struct ckpt_header h;
	struct ckpt_base_ctx b = { .ck = ck };
	char tmp[4096];
	int err;

	if (ck->log)
		fclose(ck->log);
	ck->log = NULL;
	ckpt_base_header(ck, p, &h);
	snprintf(tmp, sizeof(tmp), "%s.tmp", ck->path);
	if (!(b.f = fopen(tmp, "w")))
		return -errno;
	setvbuf(b.f, NULL, _IOFBF, CKPT_IOBUF);
	ckpt_write(ck, b.f, &h, sizeof(h));
	ck->last_bytes += sizeof(h);
	conntrack_foreach(p->ct, ckpt_base_conn, &b);
	if (fclose(b.f) != 0 && !ck->err)
		ck->err = -errno;
	if ((err = ckpt_base_done(ck, tmp, h.gen)) < 0)
		return err; /* no log: the next save is a base again */
	ck->gen = h.gen;
	ck->bases++;
	conntrack_changes_reset(p->ct);
	return 0;
}

static void ckpt_log_change(void *ctx, uint64_t conn_id, struct conn *c)
{
	struct checkpoint *ck = ctx;

	if (c)
		ckpt_conn_record(ck, ck->log, c);
	else
		ckpt_record(ck, ck->log, REC_DEL, &conn_id, sizeof(conn_id));
}

/* What changed, then the commit that makes it count. */
static int ckpt_append(struct checkpoint *ck, struct processor *p)
{
	struct ckpt_commit cm = { .done_seq = p->done_seq };

	if (!conntrack_changes(p->ct, ckpt_log_change, ck))
		return ckpt_base(ck, p); /* too much changed to list */
	memcpy(cm.loss, p->loss, sizeof(cm.loss));
	memcpy(cm.loss_epoch, p->loss_epoch, sizeof(cm.loss_epoch));
	memcpy(cm.loss_cur, p->loss_cur, sizeof(cm.loss_cur));
	ckpt_record(ck, ck->log, REC_COMMIT, &cm, sizeof(cm));
	if (!ck->err && !ck->mem_on && fflush(ck->log) != 0)
		ck->err = -errno;
	ck->log_bytes += ck->last_bytes;
	return ck->err;
}

/* Fold the log once it holds twice what a base would. */
static bool ckpt_fold_due(const struct checkpoint *ck, const struct processor *p)
{
	uint64_t mean = ck->recs ? ck->rec_bytes / ck->recs : 512;
	uint64_t live = conntrack_stats(p->ct)->live * mean;

	return ck->log_bytes > 2 * (live > CKPT_LOG_MIN ? live : CKPT_LOG_MIN);
}

int checkpoint_save(struct processor *p, const char *path)
{
	struct checkpoint *ck = ckpt_get(p, path);
	uint64_t t0 = ckpt_now();
	int err;

	if (!ck)
		return -ENOMEM;
	free(ck->mem); /* a big table's turn: memory goes to it */
	ck->mem = NULL;
	ck->mem_cap = 0;
	ck->err = 0;
	ck->last_bytes = 0;
	if (!ck->log || ckpt_fold_due(ck, p))
		err = ckpt_base(ck, p);
	else
		err = ckpt_append(ck, p);
	if (err && ck->log) { /* what is in it is unsure now: start over next time */
		fclose(ck->log);
		ck->log = NULL;
	}
	ck->saves++;
	ck->bytes += ck->last_bytes;
	ck->last_ns = ckpt_now() - t0;
	if (ck->last_ns > ck->max_ns)
		ck->max_ns = ck->last_ns;
	return err;
}

/* The same save as checkpoint_save's, made in memory: the caller's thread
 * reads the connection table, a writer thread writes the bytes (and, for
 * a base, renames the files). -EAGAIN, having changed nothing, when it
 * would be more than CKPT_MEM_MAX (estimated): checkpoint_save does it. */
int checkpoint_prepare(struct processor *p, const char *path)
{
	struct checkpoint *ck = ckpt_get(p, path);
	uint64_t t0 = ckpt_now(), mean;
	struct ckpt_header h;
	uint32_t n;
	bool base;
	int err = 0;

	if (!ck)
		return -ENOMEM;
	mean = ck->recs ? ck->rec_bytes / ck->recs : 512;
	n = conntrack_changes_pending(p->ct);
	base = !ck->log || ckpt_fold_due(ck, p) || n == UINT32_MAX;
	if (base)
		n = (uint32_t)conntrack_stats(p->ct)->live;
	if ((uint64_t)n * mean > CKPT_MEM_MAX)
		return -EAGAIN;
	ck->err = 0;
	ck->last_bytes = 0;
	ck->mem_len = 0;
	ck->mem_on = true;
	if (base) {
		struct ckpt_base_ctx b = { .ck = ck };

		if (ck->log)
			fclose(ck->log);
		ck->log = NULL;
		ckpt_base_header(ck, p, &h);
		ckpt_write(ck, NULL, &h, sizeof(h));
		ck->last_bytes += sizeof(h);
		conntrack_foreach(p->ct, ckpt_base_conn, &b);
		conntrack_changes_reset(p->ct); /* as of now, all in this base */
		ck->job_gen = h.gen;
		err = ck->err;
	} else {
		err = ckpt_append(ck, p); /* never a base: there was no overflow */
	}
	ck->mem_on = false;
	ck->prepared = true;
	ck->job_base = base;
	ck->job_err = err;
	ck->prep_ns = ckpt_now() - t0;
	return 0;
}

/* On the writer thread: only the files, ck->log, ck->log_bytes, ck->err,
 * ck->mem and the job_ fields. */
void checkpoint_write_prepared(void *arg)
{
	struct checkpoint *ck = arg;
	uint64_t t0 = ckpt_now();
	char tmp[4096];
	FILE *f;

	if (ck->job_err) {
		/* nothing: finish reports it */
	} else if (ck->job_base) {
		ck->err = 0;
		snprintf(tmp, sizeof(tmp), "%s.tmp", ck->path);
		if (!(f = fopen(tmp, "w"))) {
			ck->job_err = -errno;
		} else {
			if (fwrite(ck->mem, 1, ck->mem_len, f) != ck->mem_len)
				ck->err = errno ? -errno : -EIO;
			if (fclose(f) != 0 && !ck->err)
				ck->err = -errno;
			ck->job_err = ckpt_base_done(ck, tmp, ck->job_gen);
		}
	} else if (!ck->log || fwrite(ck->mem, 1, ck->mem_len, ck->log) != ck->mem_len ||
		   fflush(ck->log) != 0) {
		ck->job_err = errno ? -errno : -EIO;
	}
	ck->job_ns = ckpt_now() - t0;
}

int checkpoint_finish(struct processor *p)
{
	struct checkpoint *ck = p->ckpt;
	int err;

	if (!ck || !ck->prepared)
		return -EINVAL;
	ck->prepared = false;
	err = ck->job_err;
	if (ck->job_base && ck->log) { /* the base is in, its log started */
		ck->gen = ck->job_gen;
		ck->bases++;
	}
	if (err && ck->log) { /* what is in it is unsure now: start over next time */
		fclose(ck->log);
		ck->log = NULL;
	}
	if (ck->mem_cap > CKPT_MEM_KEEP) { /* a big one: give it back */
		free(ck->mem);
		ck->mem = NULL;
		ck->mem_cap = 0;
	}
	ck->saves++;
	ck->bytes += ck->last_bytes;
	ck->last_ns = ck->prep_ns + ck->job_ns;
	if (ck->last_ns > ck->max_ns)
		ck->max_ns = ck->last_ns;
	return err;
}

void checkpoint_status_json(const struct checkpoint *ck, FILE *f)
{
	if (!ck)
		return;
	fprintf(f, ",\"checkpoint\":{\"saves\":%" PRIu64 ",\"bases\":%" PRIu64 ",\"bytes\":%" PRIu64
		   ",\"last_bytes\":%" PRIu64 ",\"log_bytes\":%" PRIu64 ",\"last_us\":%" PRIu64
		   ",\"max_us\":%" PRIu64 "}",
		ck->saves, ck->bases, ck->bytes, ck->last_bytes, ck->log_bytes, ck->last_ns / 1000,
		ck->max_ns / 1000);
}

/* ---- reading ---- */

/* The next record's payload into ck->buf: 1, or 0 at a clean end, or -1
 * at anything else (a torn or damaged tail). */
static int ckpt_next(struct checkpoint *ck, FILE *f, struct ckpt_rec *r)
{
	size_t n = fread(r, 1, sizeof(*r), f);

	if (n == 0 && feof(f))
		return 0;
	if (n != sizeof(*r) || r->len > ck->buf_size || fread(ck->buf, 1, r->len, f) != r->len ||
	    ckpt_crc(ckpt_crc(0, &r->type, sizeof(r->type)), ck->buf, r->len) != r->crc)
		return -1;
	return 1;
}

/* A REC_CONN payload, checked as input: lengths, role, family, comm. The
 * HTTP state is checked by http1_restore (bad state starts afresh). */
static bool ckpt_restore_conn(struct processor *p, const uint8_t *buf, uint32_t len)
{
	struct ckpt_conn cc;
	struct conn c = { 0 };

	if (len < sizeof(cc))
		return false;
	memcpy(&cc, buf, sizeof(cc));
	if (cc.http_len != len - sizeof(cc) || cc.role > SLUICE_ROLE_SERVER ||
	    (cc.family != 0 && cc.family != AF_INET && cc.family != AF_INET6))
		return false;
	c.conn_id = cc.conn_id;
	c.last_ns = cc.last_ns;
	c.bytes_sent = cc.bytes_sent;
	c.bytes_recv = cc.bytes_recv;
	c.tgid = cc.tgid;
	c.lport = cc.lport;
	c.rport = cc.rport;
	c.role = cc.role;
	c.family = cc.family;
	memcpy(c.laddr, cc.laddr, sizeof(c.laddr));
	memcpy(c.raddr, cc.raddr, sizeof(c.raddr));
	memcpy(c.comm, cc.comm, sizeof(c.comm));
	c.comm[sizeof(c.comm) - 1] = 0;
	conntrack_restore(p->ct, &c, buf + sizeof(cc), cc.http_len);
	return true;
}

static bool ckpt_apply(struct checkpoint *ck, struct processor *p, const struct ckpt_rec *r)
{
	struct ckpt_commit cm;
	uint64_t id;

	switch (r->type) {
	case REC_CONN:
		return ckpt_restore_conn(p, ck->buf, r->len);
	case REC_DEL:
		if (r->len != sizeof(id))
			return false;
		memcpy(&id, ck->buf, sizeof(id));
		conntrack_forget(p->ct, id);
		return true;
	case REC_COMMIT:
		if (r->len != sizeof(cm))
			return false;
		memcpy(&cm, ck->buf, sizeof(cm));
		p->done_seq = cm.done_seq;
		memcpy(p->loss, cm.loss, sizeof(p->loss));
		memcpy(p->loss_epoch, cm.loss_epoch, sizeof(p->loss_epoch));
		memcpy(p->loss_cur, cm.loss_cur, sizeof(p->loss_cur));
		return true;
	}
	return false;
}

/* The base's header: 0, or -EINVAL (not a checkpoint), or -ESTALE (from
 * another build: only done_seq and the loss totals are used). */
static int ckpt_read_header(FILE *f, struct ckpt_header *h, struct processor *p,
			    const char *path)
{
	size_t n = fread(h, 1, sizeof(*h), f);

	if (n < offsetof(struct ckpt_header, gen) || memcmp(h->magic, CKPT_MAGIC, 8) != 0 ||
	    h->format < 1 || h->format > CKPT_FORMAT ||
	    (h->format == CKPT_FORMAT &&
	     (n != sizeof(*h) || h->crc != ckpt_crc(0, h, offsetof(struct ckpt_header, crc))))) {
		log_warn("%s is not a sluice checkpoint: starting from scratch", path);
		return -EINVAL;
	}
	p->done_seq = h->done_seq;
	memcpy(p->loss, h->loss, sizeof(p->loss));
	if (h->format == CKPT_FORMAT) {
		memcpy(p->loss_epoch, h->loss_epoch, sizeof(p->loss_epoch));
		memcpy(p->loss_cur, h->loss_cur, sizeof(p->loss_cur));
	} else { /* totals of one epoch, which the next report adopts */
		memcpy(p->loss_cur, h->loss, sizeof(p->loss_cur));
	}
	if (h->format != CKPT_FORMAT || h->layout != ckpt_layout()) {
		log_warn("%s comes from another build: its connections are not restored "
			 "(requests in flight at the restart are lost)", path);
		return -ESTALE;
	}
	return 0;
}

static int ckpt_read_base(struct checkpoint *ck, struct processor *p, FILE *f,
			  const struct ckpt_header *h)
{
	struct ckpt_rec r;

	for (uint32_t i = 0; i < h->nconns; i++)
		if (ckpt_next(ck, f, &r) != 1 || r.type != REC_CONN ||
		    !ckpt_restore_conn(p, ck->buf, r.len))
			return -EIO;
	return 0;
}

/* Where the committed part of the log ends (after its last valid commit). */
static long ckpt_log_end(struct checkpoint *ck, FILE *f)
{
	long end = ftell(f);
	struct ckpt_rec r;

	while (ckpt_next(ck, f, &r) == 1)
		if (r.type == REC_COMMIT)
			end = ftell(f);
	return end;
}

static bool ckpt_log_header_ok(FILE *f, uint64_t gen)
{
	struct ckpt_log_header h;

	return fread(&h, 1, sizeof(h), f) == sizeof(h) && memcmp(h.magic, CKPT_LOG_MAGIC, 8) == 0 &&
	       h.format == CKPT_FORMAT && h.layout == ckpt_layout() && h.gen == gen &&
	       h.crc == ckpt_crc(0, &h, offsetof(struct ckpt_log_header, crc));
}

/* Applies the committed part of the log of generation gen, cuts off the
 * rest and keeps it open for appending. Returns records it had to skip. */
static int ckpt_read_log(struct checkpoint *ck, struct processor *p, uint64_t gen)
{
	FILE *f = fopen(ck->log_path, "r");
	struct ckpt_rec r;
	long start, end;
	int bad = 0;

	if (!f)
		return 0; /* none: the base is all there is */
	if (!ckpt_log_header_ok(f, gen)) {
		fclose(f); /* a crash between base and log: the base has it all */
		return 0;
	}
	start = ftell(f);
	end = ckpt_log_end(ck, f);
	fseek(f, start, SEEK_SET);
	while (ftell(f) < end && ckpt_next(ck, f, &r) == 1)
		bad += !ckpt_apply(ck, p, &r);
	fclose(f);
	if (truncate(ck->log_path, end) == 0 && (ck->log = fopen(ck->log_path, "a"))) {
		setvbuf(ck->log, NULL, _IOFBF, CKPT_IOBUF);
		ck->log_bytes = (uint64_t)(end - start);
	}
	return bad;
}

int checkpoint_load(struct processor *p, const char *path)
{
	struct checkpoint *ck = ckpt_get(p, path);
	struct ckpt_header h;
	FILE *f;
	int err, bad = 0;

	if (!ck)
		return -ENOMEM;
	if (!(f = fopen(path, "r")))
		return errno == ENOENT ? -ENOENT : -errno;
	err = ckpt_read_header(f, &h, p, path);
	if (!err)
		err = ckpt_read_base(ck, p, f, &h);
	fclose(f);
	if (err == -EIO)
		log_warn("%s is damaged: connections after the first damaged one are lost", path);
	if (err == 0 || err == -EIO) {
		ck->gen = h.gen;
		bad = ckpt_read_log(ck, p, h.gen);
		/* what is live now is what the files hold */
		conntrack_changes_reset(p->ct);
	}
	if (bad)
		log_warn("%s: %d records with bad contents skipped", ck->log_path, bad);
	if (!err)
		log_info("restored %" PRIu64 " connections at seq %" PRIu64 " from %s",
			 conntrack_stats(p->ct)->live, p->done_seq, path);
	return err;
}

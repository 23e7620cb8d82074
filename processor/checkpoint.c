/* Checkpoint file: fixed header, then one record per live connection (its
 * struct conn, the length of its http1 state, the state: http1_save).
 * Written to PATH.tmp and renamed,
 * so a crash mid-write leaves the previous checkpoint. A file from a build
 * with other struct layouts keeps its seq but not its connections. */
#include "processor/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define CKPT_MAGIC "SLUICECK"
#define CKPT_FORMAT 1

struct ckpt_header {
	char magic[8];
	uint32_t format;       /* CKPT_FORMAT: where done_seq sits */
	uint32_t layout;       /* ckpt_layout(): may connections be restored */
	uint64_t done_seq;
	uint64_t loss[SLUICE_LOSS_MAX];
	uint32_t nconns;
	uint32_t rec_size;     /* sizeof(struct conn) */
};

/* Changes whenever a saved struct's layout can have changed. */
static uint32_t ckpt_layout(void)
{
	uint32_t h = 2166136261u;
	uint32_t parts[] = { sizeof(struct conn), (uint32_t)http1_save_max(),
			     sizeof(struct http1_pair), SLUICE_EVENT_VERSION };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		h = (h ^ parts[i]) * 16777619u;
	return h;
}

struct ckpt_writer {
	FILE *f;
	uint8_t *buf;          /* http1_save_max() bytes */
	int err;
};

static void ckpt_write_conn(void *ctx, struct conn *c)
{
	struct ckpt_writer *w = ctx;
	uint32_t n = (uint32_t)http1_save(c->http, w->buf, http1_save_max());

	if (fwrite(c, sizeof(*c), 1, w->f) != 1 || fwrite(&n, sizeof(n), 1, w->f) != 1 ||
	    fwrite(w->buf, n, 1, w->f) != 1)
		w->err = -EIO;
}

int checkpoint_save(const struct processor *p, const char *path)
{
	struct ckpt_header h = { .format = CKPT_FORMAT, .layout = ckpt_layout() };
	struct ckpt_writer w = { .buf = malloc(http1_save_max()) };
	char tmp[4096];

	if (!w.buf)
		return -ENOMEM;
	memcpy(h.magic, CKPT_MAGIC, 8);
	h.done_seq = p->done_seq;
	memcpy(h.loss, p->loss, sizeof(h.loss));
	h.nconns = (uint32_t)conntrack_stats(p->ct)->live;
	h.rec_size = (uint32_t)sizeof(struct conn);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(w.f = fopen(tmp, "w"))) {
		free(w.buf);
		return -errno;
	}
	if (fwrite(&h, sizeof(h), 1, w.f) != 1)
		w.err = -EIO;
	conntrack_foreach(p->ct, ckpt_write_conn, &w);
	if (fclose(w.f) != 0 && !w.err)
		w.err = -errno;
	if (!w.err && rename(tmp, path) != 0)
		w.err = -errno;
	free(w.buf);
	return w.err;
}

static int ckpt_read_conns(struct processor *p, FILE *f, const struct ckpt_header *h)
{
	struct conn saved;
	uint8_t *buf = malloc(http1_save_max());
	uint32_t n;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->nconns && !err; i++) {
		/* input: the state's length is bounded, its bytes checked by http1_restore */
		if (fread(&saved, sizeof(saved), 1, f) != 1 || fread(&n, sizeof(n), 1, f) != 1 ||
		    n > http1_save_max() || fread(buf, n, 1, f) != 1)
			err = -EIO;
		else
			conntrack_restore(p->ct, &saved, buf, n);
	}
	free(buf);
	return err;
}

int checkpoint_load(struct processor *p, const char *path)
{
	struct ckpt_header h;
	FILE *f = fopen(path, "r");
	int err = 0;

	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, CKPT_MAGIC, 8) != 0 ||
	    h.format != CKPT_FORMAT) {
		log_warn("%s is not a sluice checkpoint: starting from scratch", path);
		fclose(f);
		return -EINVAL;
	}
	p->done_seq = h.done_seq;
	memcpy(p->loss, h.loss, sizeof(p->loss));
	if (h.layout != ckpt_layout() || h.rec_size != sizeof(struct conn)) {
		log_warn("%s comes from another build: its %u connections are not restored "
			 "(requests in flight at the restart are lost)", path, h.nconns);
		fclose(f);
		return -ESTALE;
	}
	err = ckpt_read_conns(p, f, &h);
	fclose(f);
	if (err) {
		log_warn("%s is truncated: connections after the first damaged one are lost", path);
		return err;
	}
	log_info("restored %u connections at seq %" PRIu64 " from %s", h.nconns, h.done_seq, path);
	return 0;
}

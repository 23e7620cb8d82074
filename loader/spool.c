/* Building frames ([WIRE_VERSION, seq, [events...]]) from ring-buffer
 * records and deciding when one is due (count, bytes or age); keeping them,
 * bounded in bytes, until acked; a reconnect rewinds the send cursor. */
#include "loader/spool.h"

#include <errno.h>
#include <stdlib.h>

#include "common/wire.h"

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void batch_init(struct batch *b)
{
	static const uint8_t head[FRAME_HEAD_LEN] = { 0x93, WIRE_VERSION, 0xcf };

	msgpack_sbuffer_init(&b->sb);
	msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
	msgpack_sbuffer_write(&b->sb, (const char *)head, sizeof(head));
	b->events = b->reports = 0;
	b->first_ns = 0;
}

static void counted(struct batch *b, uint64_t now_ns)
{
	if (!b->events++)
		b->first_ns = now_ns;
}

int batch_add_record(struct batch *b, const void *rec, size_t len, uint64_t now_ns)
{
	if (wire_pack_record(&b->pk, rec, len))
		return -EINVAL;
	counted(b, now_ns);
	return 0;
}

void batch_add_loss(struct batch *b, uint32_t kind, uint64_t total, uint64_t epoch,
		    uint64_t now_ns)
{
	wire_pack_loss(&b->pk, now_ns, kind, total, epoch);
	counted(b, now_ns);
	b->reports++;
}

bool batch_full(const struct batch *b)
{
	return b->events >= BATCH_MAX_EVENTS || b->sb.size >= BATCH_MAX_BYTES;
}

bool batch_due(const struct batch *b, uint64_t now_ns)
{
	return b->events && (batch_full(b) || now_ns - b->first_ns >= BATCH_MAX_AGE_NS);
}

uint8_t *batch_take(struct batch *b, size_t *len, uint32_t *records)
{
	uint8_t *frame;

	b->sb.data[FRAME_HEAD_LEN - 5] = (char)0xdd;
	put_be((uint8_t *)b->sb.data + FRAME_HEAD_LEN - 4, b->events, 4);
	*len = b->sb.size;
	*records = b->events - b->reports;
	frame = (uint8_t *)msgpack_sbuffer_release(&b->sb);
	batch_free(b);
	batch_init(b);
	/* sbuffer grows by doubling: give back the slack, so the spool's byte
	 * bound is also a bound on its memory. */
	uint8_t *fit = realloc(frame, *len);
	return fit ? fit : frame;
}

void batch_free(struct batch *b)
{
	msgpack_sbuffer_destroy(&b->sb);
}

static void frame_set_seq(uint8_t *frame, uint64_t seq)
{
	put_be(frame + 3, seq, 8);
}

void spool_init(struct spool *s, size_t limit, uint64_t first_seq)
{
	*s = (struct spool){ .limit = limit, .next_seq = first_seq };
}

int spool_push(struct spool *s, uint8_t *buf, size_t len, uint32_t events)
{
	struct frame *f = NULL;

	if (s->bytes + len > s->limit || !(f = malloc(sizeof(*f)))) {
		s->dropped_frames++;
		s->dropped_events += events;
		free(buf);
		return -ENOSPC;
	}
	*f = (struct frame){ .seq = s->next_seq++, .events = events, .len = len, .buf = buf };
	frame_set_seq(buf, f->seq);
	if (s->tail)
		s->tail->next = f;
	else
		s->head = f;
	s->tail = f;
	if (!s->cursor)
		s->cursor = f;
	s->bytes += len;
	s->frames++;
	return 0;
}

void spool_ack(struct spool *s, uint64_t seq)
{
	while (s->head && s->head->seq <= seq) {
		struct frame *f = s->head;

		s->head = f->next;
		if (s->cursor == f) /* acked before we (re)sent it: skip it */
			s->cursor = f->next;
		if (s->tail == f)
			s->tail = NULL;
		s->bytes -= f->len;
		s->acked++;
		free(f->buf);
		free(f);
	}
}

void spool_rewind(struct spool *s)
{
	s->cursor = s->head;
}

const struct frame *spool_next(const struct spool *s)
{
	return s->cursor;
}

void spool_sent(struct spool *s)
{
	if (s->cursor)
		s->cursor = s->cursor->next;
}

void spool_free(struct spool *s)
{
	uint64_t acked = s->acked;

	for (struct frame *f = s->head; f; f = f->next) {
		s->dropped_frames++;
		s->dropped_events += f->events;
	}
	spool_ack(s, UINT64_MAX);
	s->acked = acked; /* freeing is not acknowledging */
}

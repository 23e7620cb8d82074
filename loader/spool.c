/* Building frames ([WIRE_VERSION, seq, [records as bins...]]) from ring-buffer
 * records in one preallocated buffer and deciding when one is due (count,
 * bytes or age); keeping them, bounded in bytes, until acked. */
#include "loader/loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/events.h"
#include "common/wire.h"

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The head's constant bytes are written once; seq and count per frame. */
int batch_init(struct batch *b)
{
	static const uint8_t head[WIRE_FRAME_HEAD_LEN] = { 0x93, WIRE_VERSION, 0xcf,
							   [WIRE_FRAME_HEAD_LEN - 5] = 0xdd };

	*b = (struct batch){ .buf = malloc(BATCH_BUF_BYTES), .len = sizeof(head) };
	if (!b->buf)
		return -ENOMEM;
	memcpy(b->buf, head, sizeof(head));
	return 0;
}

/* One event: the record as a msgpack bin32. */
static void append(struct batch *b, const void *rec, size_t len, uint64_t now_ns)
{
	b->buf[b->len] = 0xc6;
	put_be(b->buf + b->len + 1, len, 4);
	memcpy(b->buf + b->len + WIRE_EVENT_HEAD_LEN, rec, len);
	b->len += WIRE_EVENT_HEAD_LEN + len;
	if (!b->events++)
		b->first_ns = now_ns;
}

int batch_add_record(struct batch *b, const void *rec, size_t len, uint64_t now_ns)
{
	if (wire_record_check(rec, len))
		return -EINVAL;
	append(b, rec, len, now_ns);
	return 0;
}

void batch_add_loss(struct batch *b, uint32_t kind, uint64_t total, uint64_t epoch,
		    uint64_t now_ns)
{
	struct sluice_ev_loss r = { .h = { .type = SLUICE_EV_LOSS, .size = sizeof(r), .ts_ns = now_ns },
				    .kind = kind, .total = total, .epoch = epoch };

	append(b, &r, sizeof(r), now_ns);
	b->reports++;
}

bool batch_full(const struct batch *b)
{
	return b->events >= BATCH_MAX_EVENTS || b->len >= BATCH_MAX_BYTES;
}

bool batch_due(const struct batch *b, uint64_t now_ns)
{
	return b->events && (batch_full(b) || now_ns - b->first_ns >= BATCH_MAX_AGE_NS);
}

void batch_free(struct batch *b)
{
	free(b->buf);
}

void spool_init(struct spool *s, size_t limit, uint64_t first_seq)
{
	*s = (struct spool){ .limit = limit, .next_seq = first_seq };
}

int spool_push(struct spool *s, struct batch *b)
{
	size_t len = b->len;
	uint32_t events = b->events, records = events - b->reports;
	struct frame *f = NULL;

	b->len = WIRE_FRAME_HEAD_LEN; /* the batch starts over either way */
	b->events = b->reports = 0;
	if (s->bytes + len > s->limit || !(f = malloc(sizeof(*f) + len))) {
		s->dropped_frames++;
		s->dropped_events += records;
		return -ENOSPC;
	}
	*f = (struct frame){ .seq = s->next_seq++, .events = records, .len = len };
	memcpy(f->buf, b->buf, len);
	put_be(f->buf + 3, f->seq, 8);
	put_be(f->buf + WIRE_FRAME_HEAD_LEN - 4, events, 4);
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
		free(f);
	}
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

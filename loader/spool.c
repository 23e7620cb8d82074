/* FIFO of unacknowledged frames, bounded in bytes. Frames leave only when
 * acked; a reconnect rewinds the send cursor to the oldest. */
#include "loader/spool.h"

#include <errno.h>
#include <stdlib.h>

#include "loader/batch.h"

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

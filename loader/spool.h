/* The bounded in-memory spool of frames not yet acknowledged by the
 * processor, in seq order, with a cursor marking what has been sent on the
 * current connection. Seqs in the spool are contiguous. Only bytes bound
 * what is in flight: the processor acks in bursts, after a checkpoint. */
#ifndef SLUICE_SPOOL_H
#define SLUICE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct frame {
	struct frame *next;
	uint64_t seq;
	uint32_t events;
	size_t len;
	uint8_t *buf;
};

struct spool {
	struct frame *head, *tail; /* oldest, newest */
	struct frame *cursor;      /* next frame to send; NULL: all sent */
	size_t bytes, limit;
	uint64_t next_seq;
	/* totals for the summary and LOSS events */
	uint64_t frames, acked, dropped_frames, dropped_events;
};

void spool_init(struct spool *s, size_t limit, uint64_t first_seq);
/* Takes ownership of buf. Assigns the next seq, or, if the spool is full,
 * drops (and counts) the frame without consuming a seq: -ENOSPC. */
int spool_push(struct spool *s, uint8_t *buf, size_t len, uint32_t events);
/* Frees every frame with seq <= seq. */
void spool_ack(struct spool *s, uint64_t seq);
/* New connection: everything unacked goes out again, oldest first. */
void spool_rewind(struct spool *s);
/* The next frame to send, or NULL when all are sent. */
const struct frame *spool_next(const struct spool *s);
void spool_sent(struct spool *s);
/* Frees what is left, counting it as dropped: it was never acknowledged. */
void spool_free(struct spool *s);

#endif

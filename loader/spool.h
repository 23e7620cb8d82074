/* Frames on their way to the processor. A batch is the frame being built:
 * records are msgpack-encoded straight into its body behind a fixed 16-byte
 * head, so the event count and seq are filled in at the end. The spool
 * keeps built frames, in seq order, until the processor acks them, with a
 * cursor marking what has been sent on the current connection; seqs in the
 * spool are contiguous and only bytes bound it: the processor acks in
 * bursts, after a checkpoint. */
#ifndef SLUICE_SPOOL_H
#define SLUICE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* 0x93 version, 0xcf seq(8, BE), 0xdd count(4, BE). */
#define FRAME_HEAD_LEN 16
#define BATCH_MAX_EVENTS 4096
#define BATCH_MAX_BYTES (512u << 10)
#define BATCH_MAX_AGE_NS (20u * 1000000u)

struct batch {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint32_t events;   /* in the frame: records and LOSS reports */
	uint32_t reports;  /* LOSS reports among them */
	uint64_t first_ns; /* CLOCK_BOOTTIME when the first event went in */
};

void batch_init(struct batch *b);
/* 0, or -EINVAL for a malformed record (nothing was appended). */
int batch_add_record(struct batch *b, const void *rec, size_t len, uint64_t now_ns);
void batch_add_loss(struct batch *b, uint32_t kind, uint64_t total, uint64_t epoch,
		    uint64_t now_ns);
bool batch_full(const struct batch *b);
bool batch_due(const struct batch *b, uint64_t now_ns);
/* Hands the finished frame (malloc'ed, seq still 0) to the caller, with the
 * number of records in it (LOSS reports are not counted: they repeat). */
uint8_t *batch_take(struct batch *b, size_t *len, uint32_t *records);
void batch_free(struct batch *b);

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

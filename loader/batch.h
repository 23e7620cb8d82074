/* One batch frame being built: records are msgpack-encoded straight into
 * the frame body behind a fixed 16-byte head, so the event count and seq
 * are filled in at the end instead of known up front. */
#ifndef SLUICE_BATCH_H
#define SLUICE_BATCH_H

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
	uint32_t events;
	uint64_t first_ns; /* CLOCK_BOOTTIME when the first event went in */
};

void batch_init(struct batch *b);
/* 0, or -EINVAL for a malformed record (nothing was appended). */
int batch_add_record(struct batch *b, const void *rec, size_t len, uint64_t now_ns);
void batch_add_loss(struct batch *b, uint32_t kind, uint64_t total, uint64_t epoch,
		    uint64_t now_ns);
bool batch_full(const struct batch *b);
bool batch_due(const struct batch *b, uint64_t now_ns);
/* Hands the finished frame (malloc'ed, seq still 0) to the caller. */
uint8_t *batch_take(struct batch *b, size_t *len, uint32_t *events);
void batch_free(struct batch *b);
/* Stamps the seq into a frame taken from batch_take. */
void frame_set_seq(uint8_t *frame, uint64_t seq);

#endif

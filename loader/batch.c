/* Builds batch frames ([WIRE_VERSION, seq, [events...]]) from ring-buffer
 * records, and decides when one is due: by count, bytes or age. */
#include "loader/batch.h"

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
	b->events = 0;
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
}

bool batch_full(const struct batch *b)
{
	return b->events >= BATCH_MAX_EVENTS || b->sb.size >= BATCH_MAX_BYTES;
}

bool batch_due(const struct batch *b, uint64_t now_ns)
{
	return b->events && (batch_full(b) || now_ns - b->first_ns >= BATCH_MAX_AGE_NS);
}

uint8_t *batch_take(struct batch *b, size_t *len, uint32_t *events)
{
	uint8_t *frame;

	b->sb.data[FRAME_HEAD_LEN - 5] = (char)0xdd;
	put_be((uint8_t *)b->sb.data + FRAME_HEAD_LEN - 4, b->events, 4);
	*len = b->sb.size;
	*events = b->events;
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

void frame_set_seq(uint8_t *frame, uint64_t seq)
{
	put_be(frame + 3, seq, 8);
}

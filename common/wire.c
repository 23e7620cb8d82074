/* The loader's side of contract 2 (common/wire.h), shared with the
 * processor's tests: what a forwardable record's header looks like, and the
 * strict reading of the fixed 11-byte ack (the processor encodes it,
 * processor/decode.c). */
#include "common/wire.h"

#include <errno.h>
#include <string.h>

#include "common/events.h"

int wire_record_check(const void *rec, size_t len)
{
	struct sluice_ev_header h;

	if (len < sizeof(h) || len > SLUICE_RECORD_MAX)
		return -EINVAL;
	memcpy(&h, rec, sizeof(h)); /* a copy: rec may be unaligned */
	if (h.size != len || !h.type || h.type > SLUICE_EV_MAX || h.type == SLUICE_EV_LOSS)
		return -EINVAL;
	return 0;
}

int wire_ack_decode(const uint8_t *buf, size_t len, uint64_t *seq)
{
	uint64_t v = 0;

	if (!buf || len != WIRE_ACK_LEN || buf[0] != 0x92 || buf[1] != WIRE_ACK_VERSION ||
	    buf[2] != 0xcf)
		return -EPROTO;
	for (int i = 0; i < 8; i++)
		v = v << 8 | buf[3 + i];
	*seq = v;
	return 0;
}

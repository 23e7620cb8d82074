/* A loader frame around an already packed body, as the loader builds it:
 * [version, seq, events] with an explicit 32-bit event count. Shared by the
 * decode and checkpoint tests and the checkpoint fuzzer. */
#ifndef SLUICE_TEST_FRAME_BUILD_H
#define SLUICE_TEST_FRAME_BUILD_H

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"

static inline size_t test_frame_v(uint8_t *out, size_t cap, uint8_t version, uint64_t seq,
				  const msgpack_sbuffer *body, uint32_t count)
{
	size_t n = 0;

	out[n++] = 0x93;
	out[n++] = version;
	out[n++] = 0xcf;
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(seq >> (8 * i));
	out[n++] = 0xdd;
	for (int i = 3; i >= 0; i--)
		out[n++] = (uint8_t)(count >> (8 * i));
	if (n + body->size > cap)
		abort();
	memcpy(out + n, body->data, body->size);
	return n + body->size;
}

static inline size_t test_frame(uint8_t *out, size_t cap, uint64_t seq,
				const msgpack_sbuffer *body, uint32_t count)
{
	return test_frame_v(out, cap, WIRE_VERSION, seq, body, count);
}

#endif

/* A strict, allocation-free msgpack reader for the subset sluice's wire
 * format uses (arrays, integers, str, bin). Every declared length is checked
 * against the bytes actually present before it is trusted, nesting is not
 * followed (callers read arrays item by item), and anything outside the
 * subset is an error. msgpack-c's unpacker allocates for a declared count
 * before validating it, which a hostile frame can turn into a huge
 * allocation; this reader cannot. */
#ifndef SLUICE_MPACK_H
#define SLUICE_MPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mpack {
	const uint8_t *p;   /* next unread byte */
	const uint8_t *end; /* one past the last byte */
	bool err;           /* sticky: once set every read fails */
};

void mpack_init(struct mpack *m, const void *buf, size_t len);
/* Each returns false (and sets m->err) on a type mismatch or truncation. */
bool mpack_array(struct mpack *m, uint32_t *n);
bool mpack_uint(struct mpack *m, uint64_t *v);
bool mpack_int(struct mpack *m, int64_t *v);
/* str and bin: *ptr points into the buffer, *len bytes long, len <= max. */
bool mpack_str(struct mpack *m, const uint8_t **ptr, uint32_t *len, uint32_t max);
bool mpack_bin(struct mpack *m, const uint8_t **ptr, uint32_t *len, uint32_t max);
/* Skips one whole object of any type (arrays and maps included, without
 * recursion). Used to step over a malformed event to the next one. */
bool mpack_skip(struct mpack *m);

#endif

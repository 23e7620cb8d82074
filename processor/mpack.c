/* Bounded msgpack reader: see mpack.h for why it exists. */
#include "processor/mpack.h"

void mpack_init(struct mpack *m, const void *buf, size_t len)
{
	m->p = buf;
	m->end = m->p + len;
	m->err = false;
}

static bool mpack_fail(struct mpack *m)
{
	m->err = true;
	return false;
}

static bool mpack_need(struct mpack *m, size_t n)
{
	if (m->err || (size_t)(m->end - m->p) < n)
		return mpack_fail(m);
	return true;
}

/* Reads an n-byte big-endian unsigned integer (n <= 8). */
static bool mpack_be(struct mpack *m, unsigned n, uint64_t *v)
{
	if (!mpack_need(m, n))
		return false;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v = (*v << 8) | m->p[i];
	m->p += n;
	return true;
}

static bool mpack_tag(struct mpack *m, uint8_t *tag)
{
	if (!mpack_need(m, 1))
		return false;
	*tag = *m->p++;
	return true;
}

bool mpack_array(struct mpack *m, uint32_t *n)
{
	uint8_t t;
	uint64_t v;

	if (!mpack_tag(m, &t))
		return false;
	if ((t & 0xf0) == 0x90) {
		*n = t & 0x0f;
	} else if (t == 0xdc || t == 0xdd) {
		if (!mpack_be(m, t == 0xdc ? 2 : 4, &v))
			return false;
		*n = (uint32_t)v;
	} else {
		return mpack_fail(m);
	}
	/* every item takes at least one byte: a count beyond what is left lies */
	if (*n > (size_t)(m->end - m->p))
		return mpack_fail(m);
	return true;
}

bool mpack_uint(struct mpack *m, uint64_t *v)
{
	uint8_t t;

	if (!mpack_tag(m, &t))
		return false;
	if (t <= 0x7f) {
		*v = t;
		return true;
	}
	if (t >= 0xcc && t <= 0xcf)
		return mpack_be(m, 1u << (t - 0xcc), v);
	return mpack_fail(m);
}

bool mpack_int(struct mpack *m, int64_t *v)
{
	uint8_t t;
	uint64_t u;

	if (!mpack_need(m, 1))
		return false;
	t = *m->p;
	if (t <= 0x7f || (t >= 0xcc && t <= 0xcf)) {
		if (!mpack_uint(m, &u) || u > INT64_MAX)
			return mpack_fail(m);
		*v = (int64_t)u;
		return true;
	}
	m->p++;
	if (t >= 0xe0) {
		*v = (int8_t)t;
		return true;
	}
	if (t < 0xd0 || t > 0xd3 || !mpack_be(m, 1u << (t - 0xd0), &u))
		return mpack_fail(m);
	switch (t) {
	case 0xd0: *v = (int8_t)u; break;
	case 0xd1: *v = (int16_t)u; break;
	case 0xd2: *v = (int32_t)u; break;
	default: *v = (int64_t)u; break;
	}
	return true;
}

static bool mpack_bytes(struct mpack *m, uint64_t len, uint32_t max,
			const uint8_t **ptr, uint32_t *out)
{
	if (len > max || !mpack_need(m, len))
		return mpack_fail(m);
	*ptr = m->p;
	*out = (uint32_t)len;
	m->p += len;
	return true;
}

bool mpack_str(struct mpack *m, const uint8_t **ptr, uint32_t *len, uint32_t max)
{
	uint8_t t;
	uint64_t n;

	if (!mpack_tag(m, &t))
		return false;
	if ((t & 0xe0) == 0xa0)
		n = t & 0x1f;
	else if (t < 0xd9 || t > 0xdb || !mpack_be(m, 1u << (t - 0xd9), &n))
		return mpack_fail(m);
	return mpack_bytes(m, n, max, ptr, len);
}

bool mpack_bin(struct mpack *m, const uint8_t **ptr, uint32_t *len, uint32_t max)
{
	uint8_t t;
	uint64_t n;

	if (!mpack_tag(m, &t))
		return false;
	if (t < 0xc4 || t > 0xc6 || !mpack_be(m, 1u << (t - 0xc4), &n))
		return mpack_fail(m);
	return mpack_bytes(m, n, max, ptr, len);
}

/* Size of the payload that follows tag t (after any length field), or -1
 * when t is a container (its count goes to *items) or invalid. */
static int64_t mpack_payload_len(struct mpack *m, uint8_t t, uint64_t *items)
{
	uint64_t n = 0;

	*items = 0;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;
	if ((t & 0xe0) == 0xa0)
		return t & 0x1f;
	if ((t & 0xf0) == 0x90 || (t & 0xf0) == 0x80) {
		*items = (uint64_t)(t & 0x0f) << ((t & 0xf0) == 0x80);
		return -1;
	}
	switch (t) {
	case 0xcc: case 0xd0: return 1;
	case 0xcd: case 0xd1: return 2;
	case 0xca: case 0xce: case 0xd2: return 4;
	case 0xcb: case 0xcf: case 0xd3: return 8;
	case 0xd4: return 2; case 0xd5: return 3; case 0xd6: return 5;
	case 0xd7: return 9; case 0xd8: return 17;
	case 0xc4: case 0xd9: return mpack_be(m, 1, &n) ? (int64_t)n : -2;
	case 0xc5: case 0xda: return mpack_be(m, 2, &n) ? (int64_t)n : -2;
	case 0xc6: case 0xdb: return mpack_be(m, 4, &n) ? (int64_t)n : -2;
	case 0xc7: return mpack_be(m, 1, &n) ? (int64_t)n + 1 : -2;
	case 0xc8: return mpack_be(m, 2, &n) ? (int64_t)n + 1 : -2;
	case 0xc9: return mpack_be(m, 4, &n) ? (int64_t)n + 1 : -2;
	case 0xdc: case 0xde:
		if (!mpack_be(m, 2, &n))
			return -2;
		*items = t == 0xde ? 2 * n : n;
		return -1;
	case 0xdd: case 0xdf:
		if (!mpack_be(m, 4, &n))
			return -2;
		*items = t == 0xdf ? 2 * n : n;
		return -1;
	default: return -2; /* 0xc1: never used */
	}
}

bool mpack_skip(struct mpack *m)
{
	uint64_t pending = 1, items;
	uint8_t t;
	int64_t len;

	while (pending > 0) {
		pending--;
		if (!mpack_tag(m, &t))
			return false;
		len = mpack_payload_len(m, t, &items);
		if (len == -2)
			return mpack_fail(m);
		if (len == -1) {
			/* each item needs a byte: counts beyond the buffer lie */
			if (items > (uint64_t)(m->end - m->p))
				return mpack_fail(m);
			pending += items;
			continue;
		}
		if (!mpack_need(m, (size_t)len))
			return false;
		m->p += len;
	}
	return true;
}

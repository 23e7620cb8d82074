/* HTTP/1.x parsing and request/response pairing (processor/http1.h).
 * Owns struct http1_conn: one incremental parser per direction, the FIFO of
 * requests awaiting responses (slots of a pool, linked through it), and the
 * policy for missing bytes, resync and a full pool. */
#include "processor/http1.h"

#include <stdlib.h>
#include <string.h>

/* Bounds. State per connection is fixed; these only decide how much input
 * may go by before it is called garbage, so a hostile peer costs CPU linear
 * in its bytes and nothing else. */
#define HTTP1_HEAD_MAX (64u * 1024)   /* start line + headers; one chunk line; trailers */
#define HTTP1_METHOD_LIMIT 32         /* a longer token is not a method */
#define HTTP1_NAME_MAX 20             /* header names compared (longest: 17) */
#define HTTP1_TOK_MAX 16              /* list tokens compared (longest: 12) */
#define HTTP1_LEN_MAX (1ull << 62)    /* Content-Length ceiling */
#define HTTP1_HEX_DIGITS 15           /* chunk-size ceiling: 2^60 */
#define HTTP1_SNIFF_EACH (4u * 1024)  /* undecided: give up once both directions had this */
#define HTTP1_SNIFF_ANY (64u * 1024)  /* ... or one direction had this */

/* Parser states. Order matters: everything before ST_BODY_LEN is line-ish
 * and counts against HTTP1_HEAD_MAX; from ST_HUNT on nothing is parsed. */
enum http1_state {
	ST_REQ_START, ST_METHOD, ST_TARGET, ST_REQ_VER,
	ST_RESP_START, ST_RESP_VER, ST_STATUS, ST_REASON,
	ST_HDR_START, ST_HDR_NAME, ST_HDR_VALUE,
	ST_CHUNK_SIZE, ST_CHUNK_EXT, ST_CHUNK_END,
	ST_TRAILER_START, ST_TRAILER_LINE,
	ST_LF,          /* a CR was read; the LF ends the line kind in d->eol */
	ST_BODY_LEN,    /* Content-Length body, d->remain to go */
	ST_BODY_CLOSE,  /* response body delimited by the connection's close */
	ST_CHUNK_DATA,  /* inside a chunk, d->remain to go */
	ST_HUNT,        /* framing lost: wait for a chunk that starts a message */
	ST_IGNORE,      /* response side of an "unsure" connection */
};

/* What the LF that ends a line completes. */
enum http1_line {
	L_REQ, L_STATUS, L_HDR, L_HEAD_END, L_CHUNK_SIZE, L_CHUNK_END,
	L_TRAILER, L_TRAILERS_END,
};

enum http1_hdr { H_OTHER, H_CLEN, H_TE, H_CONN, H_EXPECT, H_TRACEPARENT };

/* Per-message flags of a direction (d->mflags). */
enum {
	M_CLEN = 1 << 0,      /* Content-Length seen (value in d->clen) */
	M_TE = 1 << 1,        /* Transfer-Encoding seen */
	M_CHUNKED = 1 << 2,   /* ... and its last coding is chunked */
	M_CLOSE = 1 << 3,     /* Connection: close */
	M_KEEPALIVE = 1 << 4, /* Connection: keep-alive */
	M_CONTINUE = 1 << 5,  /* Expect: 100-continue */
	M_LOSSY = 1 << 6,     /* bytes of a read-until-close body were missing */
	M_DIGITS = 1 << 7,    /* Content-Length element has digits */
	M_ELEM_END = 1 << 8,  /* ... and whitespace after them */
	M_STATUS = 1 << 9,    /* status line complete */
	M_PHANTOM = 1 << 10,  /* response answers an overflowed request */
	M_FINAL = 1 << 11,    /* status digits read and >= 200: a final response */
};

/* Entry flags. */
enum {
	E_REQ_DONE = 1 << 0, E_RESP_DONE = 1 << 1, E_BAD = 1 << 2,
	E_HEAD = 1 << 3, E_CONNECT = 1 << 4, E_QUERY = 1 << 5,
};

enum http1_mode {
	MODE_SNIFF,  /* role UNKNOWN and not decided yet */
	MODE_LIVE,   /* parsing and pairing */
	MODE_UNSURE, /* request count lost: requests emitted alone, responses dropped */
	MODE_DEAD,   /* not HTTP, upgraded, or closed: input ignored */
};

/* A request from its first byte until its pair is emitted. The target is
 * kept whole (path '?' query) and split when emitted. Saved verbatim in
 * checkpoints: no pointers. */
struct http1_entry {
	uint64_t start_ns, end_ns, req_body, resp_body;
	uint16_t status;
	uint16_t tlen;  /* bytes of target kept */
	uint16_t qpos;  /* index of the '?' (== tlen if it did not fit) */
	uint8_t mlen;
	uint8_t flags;
	char method[HTTP1_METHOD_MAX];
	char target[HTTP1_TARGET_MAX];
	uint8_t tplen;  /* bytes of traceparent kept (the exporter validates) */
	char traceparent[HTTP1_TRACEPARENT_MAX - 1];
};

/* One direction's parser. */
struct http1_dir {
	uint8_t st, eol, hdr;
	uint8_t name_len, tok_len;
	uint8_t idx;      /* position in a literal / count of digits or method bytes */
	uint16_t mflags;
	uint16_t status;
	uint32_t head_len; /* line bytes of this message (or chunk line) so far */
	uint64_t num;     /* number being read; target length in ST_TARGET */
	union {               /* one or the other is live, never both: */
		uint64_t clen;  /* Content-Length, while the headers are read */
		uint64_t remain; /* body bytes to go, once they are */
	};
	uint64_t body;
	uint32_t cur;     /* slot of the request being read / that a response
			   * answers, or CUR_NONE. The response side only ever
			   * names a queued request; the request side may name
			   * c->over, an overflowed one. */
	char name[HTTP1_NAME_MAX];
	char tok[HTTP1_TOK_MAX];
};

/* Per connection, kept small: a table tracks 100k of them. The requests
 * themselves are in pool slots. */
struct http1_conn {
	void *ctx;                /* for the pool's emit */
	struct http1_pool *pool;  /* where the slots are (and emit, counters) */
	uint8_t role, mode;
	bool req_egress; /* requests travel in the egress direction */
	bool confirmed;  /* a start line parsed: this is HTTP */
	uint32_t phantoms; /* overflowed (or evicted) requests still owed a response */
	uint32_t qhead, qtail; /* slots of the queued requests, oldest first */
	uint32_t over;     /* slot of an overflowed request while it is read */
	uint8_t count;     /* queued requests, <= HTTP1_PENDING_MAX */
	bool tainted[2];    /* undecided: skipped bytes may have held a start line */
	uint8_t carry_len[2];
	uint8_t carry[2][6]; /* last skipped bytes, for a start line across chunks */
	uint32_t sniffed[2]; /* bytes seen before a start line (saturating) */
	uint64_t expect[2]; /* next stream position, [egress] */
	struct http1_dir req, resp;
};

#define CUR_NONE UINT32_MAX /* no slot */

/* A pool slot: one request, and its links. */
struct http1_slot {
	struct http1_entry e;      /* first: an entry's address is its slot's */
	struct http1_conn *owner;  /* NULL while free */
	uint32_t next;             /* the owner's queue, or the free list */
	uint32_t older, newer;     /* used slots by age: a full pool takes the oldest */
};

struct http1_pool {
	struct http1_slot *slot;
	uint32_t cap;            /* slots */
	uint32_t fresh;          /* slots from here on were never used: untouched memory */
	uint32_t free;           /* free list (through next) of used-before slots */
	uint32_t used;
	uint32_t oldest, newest; /* ends of the age list */
	http1_emit_fn emit;
	struct http1_stats *stats;
	struct http1_stats own_stats; /* when the user keeps none */
	bool heap;               /* slot array from http1_pool_new: freed with it */
};

/* A connection on its own (http1_init): its pool follows it in memory, with
 * a slot for every request it may queue and one for an overflowed one. */
struct http1_solo {
	struct http1_conn c;
	struct http1_pool pool;
	struct http1_slot slot[HTTP1_PENDING_MAX + 1];
};

/* RFC 9110 tchar ("!#$%&'*+-.^_`|~", digits, letters) as a bitmap */
static const uint64_t http1_tchar_bits[2] = { 0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull };

static inline bool http1_tchar(uint8_t ch)
{
	return ch < 128 && ((http1_tchar_bits[ch >> 6] >> (ch & 63)) & 1);
}

/* A header name byte: lower-cased when a tchar, else 0 (one load per
 * byte in the header-name loop; generated from http1_tchar_bits). */
static const uint8_t http1_name_map[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x21, 0x00, 0x23, 0x24, 0x25, 0x26, 0x27, 0x00, 0x00, 0x2a, 0x2b, 0x00, 0x2d, 0x2e, 0x00,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x00, 0x00, 0x00, 0x5e, 0x5f,
	0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x00, 0x7c, 0x00, 0x7e, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const char http1_ver[] = "HTTP/1.";

static inline uint8_t http1_lower(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static inline bool http1_crlf(uint8_t ch)
{
	return ch == '\r' || ch == '\n';
}

size_t http1_conn_size(void)
{
	return sizeof(struct http1_solo);
}

size_t http1_conn_core_size(void)
{
	return sizeof(struct http1_conn);
}

/* ---- the pool ---- */

static void pool_setup(struct http1_pool *pl, struct http1_slot *slot, uint32_t cap,
		       http1_emit_fn emit, struct http1_stats *stats)
{
	memset(pl, 0, sizeof(*pl));
	pl->slot = slot;
	pl->cap = cap;
	pl->free = pl->oldest = pl->newest = CUR_NONE;
	pl->emit = emit;
	pl->stats = stats ? stats : &pl->own_stats;
}

struct http1_pool *http1_pool_new(uint32_t slots, http1_emit_fn emit, struct http1_stats *stats)
{
	struct http1_pool *pl;
	struct http1_slot *slot;

	if (slots == 0 || slots > HTTP1_POOL_MAX)
		return NULL;
	/* calloc of this size maps zero pages: a slot costs memory once used */
	slot = calloc(slots, sizeof(*slot));
	pl = malloc(sizeof(*pl));
	if (!slot || !pl) {
		free(slot);
		free(pl);
		return NULL;
	}
	pool_setup(pl, slot, slots, emit, stats);
	pl->heap = true;
	return pl;
}

void http1_pool_free(struct http1_pool *pool)
{
	if (!pool || !pool->heap)
		return;
	free(pool->slot);
	free(pool);
}

uint32_t http1_pool_used(const struct http1_pool *pool)
{
	return pool->used;
}

/* A free slot, newest in age order, or CUR_NONE when the pool is full. */
static uint32_t pool_take(struct http1_pool *pl, struct http1_conn *owner)
{
	uint32_t i;
	struct http1_slot *s;

	if (pl->free != CUR_NONE) {
		i = pl->free;
		pl->free = pl->slot[i].next;
	} else if (pl->fresh < pl->cap) {
		i = pl->fresh++;
	} else {
		return CUR_NONE;
	}
	s = &pl->slot[i];
	s->owner = owner;
	s->next = CUR_NONE;
	s->newer = CUR_NONE;
	s->older = pl->newest;
	if (pl->newest != CUR_NONE)
		pl->slot[pl->newest].newer = i;
	else
		pl->oldest = i;
	pl->newest = i;
	pl->used++;
	return i;
}

static void pool_put(struct http1_pool *pl, uint32_t i)
{
	struct http1_slot *s = &pl->slot[i];

	if (s->older != CUR_NONE)
		pl->slot[s->older].newer = s->newer;
	else
		pl->oldest = s->newer;
	if (s->newer != CUR_NONE)
		pl->slot[s->newer].older = s->older;
	else
		pl->newest = s->older;
	s->owner = NULL;
	s->next = pl->free;
	pl->free = i;
	pl->used--;
}

/* ---- the request queue and emission ---- */

static struct http1_entry *http1_ent(const struct http1_conn *c, uint32_t i)
{
	return &c->pool->slot[i].e;
}

static struct http1_entry *http1_cur(struct http1_conn *c, const struct http1_dir *d)
{
	return d->cur == CUR_NONE ? NULL : http1_ent(c, d->cur);
}

static uint32_t http1_slot_of(const struct http1_conn *c, const struct http1_entry *e)
{
	return e ? (uint32_t)((const struct http1_slot *)e - c->pool->slot) : CUR_NONE;
}

/* The oldest queued request (the next to be answered), or NULL. */
static struct http1_entry *http1_q_head(struct http1_conn *c)
{
	return c->count ? http1_ent(c, c->qhead) : NULL;
}

static void http1_q_push(struct http1_conn *c, uint32_t i)
{
	if (c->count)
		c->pool->slot[c->qtail].next = i;
	else
		c->qhead = i;
	c->qtail = i;
	c->count++;
}

/* Dequeues the head and frees its slot: nothing may name it after. */
static void http1_q_pop(struct http1_conn *c)
{
	uint32_t i = c->qhead;

	c->qhead = c->pool->slot[i].next;
	if (--c->count == 0)
		c->qhead = c->qtail = CUR_NONE;
	pool_put(c->pool, i);
}

static void http1_emit(struct http1_conn *c, const struct http1_entry *e, uint64_t ts)
{
	struct http1_pair p;
	size_t plen = (e->flags & E_QUERY) ? e->qpos : e->tlen;

	memset(&p, 0, sizeof(p));
	p.start_ns = e->start_ns;
	p.end_ns = (e->flags & E_RESP_DONE) ? e->end_ns : ts;
	if (p.end_ns < p.start_ns) /* evicted by another connection's clock */
		p.end_ns = p.start_ns;
	memcpy(p.method, e->method, e->mlen);
	memcpy(p.path, e->target, plen);
	if (e->qpos < e->tlen && (e->flags & E_QUERY))
		memcpy(p.query, e->target + e->qpos + 1, e->tlen - e->qpos - 1u);
	p.has_query = e->flags & E_QUERY;
	p.status = e->status;
	p.req_body = e->req_body;
	p.resp_body = e->resp_body;
	p.complete = (e->flags & (E_REQ_DONE | E_RESP_DONE | E_BAD)) == (E_REQ_DONE | E_RESP_DONE);
	p.role = c->role;
	memcpy(p.traceparent, e->traceparent, e->tplen);
	if (p.complete)
		c->pool->stats->pairs++;
	else
		c->pool->stats->incomplete++;
	if (c->pool->emit)
		c->pool->emit(c->ctx, &p);
}

/* Emits and frees the overflowed request being read. */
static void http1_over_emit(struct http1_conn *c, uint64_t ts)
{
	if (c->over == CUR_NONE)
		return;
	http1_emit(c, http1_ent(c, c->over), ts);
	pool_put(c->pool, c->over);
	if (c->req.cur == c->over)
		c->req.cur = CUR_NONE;
	c->over = CUR_NONE;
}

/* Emits finished pairs from the head. When unsure, a finished request is
 * emitted on its own: no response can be matched to it any more. */
static void http1_drain(struct http1_conn *c)
{
	while (c->count > 0) {
		struct http1_entry *e = http1_q_head(c);

		if (!(e->flags & E_REQ_DONE))
			break;
		if (!(e->flags & E_RESP_DONE) && c->mode != MODE_UNSURE)
			break;
		http1_emit(c, e, e->end_ns);
		http1_q_pop(c);
	}
}

/* A request is lost mid-way: a method or target the loss cut short is not
 * reported, a truncated path would be misleading. */
static void http1_req_cut(struct http1_entry *e, uint8_t st)
{
	if (st == ST_METHOD)
		e->mlen = 0;
	if (st == ST_METHOD || st == ST_TARGET) {
		e->tlen = 0;
		e->flags &= ~E_QUERY;
	}
}

/* Emits everything still held, incomplete unless both sides finished. */
static void http1_flush(struct http1_conn *c, uint64_t ts)
{
	if (c->req.cur != CUR_NONE)
		http1_req_cut(http1_cur(c, &c->req), c->req.st);
	http1_drain(c);
	while (c->count > 0) {
		http1_emit(c, http1_q_head(c), ts);
		http1_q_pop(c);
	}
	http1_over_emit(c, ts);
	c->req.cur = CUR_NONE;
	c->resp.cur = CUR_NONE;
}

/* The first request without a response, and how many lack one. */
static struct http1_entry *http1_unanswered(struct http1_conn *c, uint32_t *n)
{
	struct http1_entry *first = NULL;

	*n = c->phantoms;
	for (uint32_t i = c->count ? c->qhead : CUR_NONE; i != CUR_NONE;
	     i = c->pool->slot[i].next) {
		struct http1_entry *e = http1_ent(c, i);

		if (!(e->flags & E_RESP_DONE)) {
			(*n)++;
			if (!first)
				first = e;
		}
	}
	return first;
}

/* ---- losing framing ---- */

static void http1_msg_reset(struct http1_dir *d)
{
	d->mflags = 0;
	d->status = 0;
	d->idx = 0;
	d->head_len = 0;
	d->num = 0;
	d->clen = 0;
	d->remain = 0;
	d->body = 0;
	d->hdr = H_OTHER;
}

/* Never looked like HTTP/1.x: stop cheaply. Requests read so far were never
 * confirmed as HTTP, so they are dropped rather than reported. */
static void http1_give_up(struct http1_conn *c)
{
	c->pool->stats->not_http++;
	http1_drop(c);
}

void http1_drop(struct http1_conn *c)
{
	while (c->count > 0)
		http1_q_pop(c);
	if (c->over != CUR_NONE)
		pool_put(c->pool, c->over);
	c->over = CUR_NONE;
	c->mode = MODE_DEAD;
	c->req.cur = CUR_NONE;
	c->resp.cur = CUR_NONE;
}

/* How many requests the response stream answered is no longer known, so
 * pairing by order could be wrong from here on. Everything held is emitted
 * incomplete except the request still being read (when the request stream
 * is intact): it is emitted, incomplete, when it ends. */
static void http1_unsure(struct http1_conn *c, uint64_t ts, bool req_lost)
{
	struct http1_entry *keep = req_lost ? NULL : http1_cur(c, &c->req);

	if (req_lost && c->req.cur != CUR_NONE)
		http1_req_cut(http1_cur(c, &c->req), c->req.st);

	c->mode = MODE_UNSURE;
	c->phantoms = 0;
	while (c->count > 0 && http1_q_head(c) != keep) {
		struct http1_entry *e = http1_q_head(c);

		e->flags |= E_BAD;
		http1_emit(c, e, ts);
		http1_q_pop(c);
	}
	if (keep)
		keep->flags |= E_BAD;
	if (req_lost) {
		http1_over_emit(c, ts);
		c->req.cur = CUR_NONE;
	}
	http1_msg_reset(&c->resp);
	c->resp.st = ST_IGNORE;
	c->resp.cur = CUR_NONE;
}

/* The response stream lost framing. With no request unanswered the lost
 * bytes answered nothing still to pair. With exactly one, and the final
 * status line of its response (the one being read) already seen, the lost bytes are
 * the rest of that response (nothing else can have been answered: nothing
 * else was asked): emit it incomplete, pair on from the next status line.
 * In any other case the next status line may answer that request or a
 * later one (an interim 1xx may have been all that was lost), so nobody
 * can tell. */
static void http1_resp_lost(struct http1_conn *c, uint64_t ts)
{
	struct http1_dir *d = &c->resp;
	uint32_t n;
	struct http1_entry *e = http1_unanswered(c, &n);

	if (n > 1 || (n == 1 && (!(d->mflags & M_FINAL) ||
				  (http1_cur(c, d) != e && !(d->mflags & M_PHANTOM))))) {
		http1_unsure(c, ts, false);
		return;
	}
	if (e) {
		e->status = d->status;
		e->flags |= E_RESP_DONE | E_BAD;
		e->end_ns = ts;
		http1_drain(c);
	}
	c->phantoms = 0;
	d->cur = CUR_NONE;
	http1_msg_reset(d);
	d->st = ST_HUNT;
}

/* A direction lost framing: garbage where HTTP should be, or missing bytes
 * no length accounts for. Garbage before anything parsed means not HTTP. */
static void http1_lost(struct http1_conn *c, struct http1_dir *d, uint64_t ts, bool garbage)
{
	if (garbage && !c->confirmed) {
		http1_give_up(c);
		return;
	}
	c->pool->stats->resyncs++;
	if (d == &c->req) {
		http1_unsure(c, ts, true);
		d->st = ST_HUNT;
	} else {
		http1_resp_lost(c, ts);
	}
}

/* Is "HTTP/1." in p[0..n)? Every start line holds it. */
static bool http1_has_ver(const uint8_t *p, size_t n)
{
	const uint8_t *q = p, *end = p + n;

	while (end - q >= 7 && (q = memchr(q, 'H', (size_t)(end - q) - 6)) != NULL) {
		if (memcmp(q, http1_ver, 7) == 0)
			return true;
		q++;
	}
	return false;
}

/* Bytes of physical direction e are skipped unparsed: could a request or
 * status line be among them? Keeps the last 6 bytes so one split across
 * two skipped chunks is found too. */
static bool http1_skim(struct http1_conn *c, int e, const uint8_t *p, size_t n)
{
	uint8_t edge[12];
	size_t cl = c->carry_len[e], k = n < 6 ? n : 6, keep;
	bool hit;

	if (n == 0)
		return false;
	memcpy(edge, c->carry[e], cl);
	memcpy(edge + cl, p, k);
	hit = http1_has_ver(edge, cl + k) || http1_has_ver(p, n);
	if (n >= 6) {
		memcpy(c->carry[e], p + n - 6, 6);
		c->carry_len[e] = 6;
	} else {
		keep = cl + k < 6 ? cl + k : 6;
		memcpy(c->carry[e], edge + cl + k - keep, keep);
		c->carry_len[e] = (uint8_t)keep;
	}
	return hit;
}

/* Bytes of a hunting direction went by unparsed (`missing`: some of them
 * were not even captured). Harmless unless they may hold a start line.
 * Request bytes: a request in them would still be owed a response, so the
 * request count is lost. Response bytes: they may or may not hold (the
 * start of) the response to a request now waiting; if they do, the next
 * status line answers a later request, if not the first waiting one.
 * Nobody can tell, so stop pairing. With no request waiting nothing is
 * lost: that is the usual case, the rest of a response given up on. */
static void http1_skipped(struct http1_conn *c, struct http1_dir *d, const uint8_t *p,
			  size_t n, bool missing, uint64_t ts)
{
	int e = (d == &c->req) == c->req_egress;
	uint32_t waiting;

	if (!http1_skim(c, e, p, n) && !missing)
		return;
	if (c->mode != MODE_LIVE || d->st != ST_HUNT)
		return;
	if (d == &c->req) {
		http1_unsure(c, ts, true);
		return;
	}
	http1_unanswered(c, &waiting);
	if (waiting > 0)
		http1_unsure(c, ts, false);
}

#define HTTP1_BAD(c, d, ts, ret)                 \
	do {                                     \
		http1_lost(c, d, ts, true);      \
		return (ret);                    \
	} while (0)

/* ---- a full pool ---- */

/* Whether c's queued requests can become phantoms: no request is being
 * read (its remaining bytes would need a slot) and none of them is a HEAD
 * or a CONNECT (their responses cannot be framed from a count). */
static bool http1_can_phantom(struct http1_conn *c)
{
	if (c->mode != MODE_LIVE || c->req.cur != CUR_NONE)
		return false;
	for (uint32_t i = c->count ? c->qhead : CUR_NONE; i != CUR_NONE;
	     i = c->pool->slot[i].next)
		if (http1_ent(c, i)->flags & (E_HEAD | E_CONNECT))
			return false;
	return true;
}

/* The pool is full and c holds its oldest slot: c gives back all of its
 * slots. Its requests are emitted now, incomplete. Where possible they
 * become phantoms, as if they had overflowed (no request is queued behind
 * them, so their responses are counted off and pairing resumes after);
 * otherwise c stops pairing (as after a lost response) and, if a request
 * was being read, hunts for the next one. Never a wrong pair either way.
 * Called only from another request's start (c's request side is idle if
 * c is that connection). */
static void http1_evict(struct http1_conn *c, uint64_t ts)
{
	bool reading = c->req.cur != CUR_NONE;

	c->pool->stats->pending_evictions++;
	c->pool->stats->pending_evicted += c->count + (c->over != CUR_NONE);
	if (!http1_can_phantom(c)) {
		http1_unsure(c, ts, reading);
		if (reading)
			c->req.st = ST_HUNT;
		return;
	}
	while (c->count > 0) {
		struct http1_entry *e = http1_q_head(c);

		c->phantoms += !(e->flags & E_RESP_DONE);
		e->flags |= E_BAD;
		http1_emit(c, e, ts);
		http1_q_pop(c);
	}
	if (c->resp.cur != CUR_NONE) { /* its response is being read: now a phantom's */
		c->resp.cur = CUR_NONE;
		c->resp.mflags |= M_PHANTOM;
	}
}

/* A slot for a request of c starting now. A full pool first takes back
 * the slots of the connection holding its oldest one, maybe c itself. */
static uint32_t http1_alloc(struct http1_conn *c, uint64_t ts)
{
	struct http1_pool *pl = c->pool;
	uint32_t i;

	/* ends: each eviction frees at least the oldest slot */
	while ((i = pool_take(pl, c)) == CUR_NONE)
		http1_evict(pl->slot[pl->oldest].owner, ts);
	return i;
}

/* ---- message boundaries ---- */

static void http1_req_begin(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	uint32_t i = http1_alloc(c, ts); /* first: it may turn queued requests into phantoms */
	struct http1_entry *e = http1_ent(c, i);

	/* Once one request overflowed, later ones do too until the overflowed
	 * ones are answered: otherwise a stored request would sit behind a
	 * phantom in response order. */
	if (c->count == HTTP1_PENDING_MAX || (c->mode == MODE_LIVE && c->phantoms > 0)) {
		c->pool->stats->pending_overflow++;
		if (c->mode == MODE_LIVE)
			c->phantoms++;
		c->over = i;
	} else {
		http1_q_push(c, i);
	}
	e->start_ns = ts;
	e->end_ns = 0;
	e->req_body = 0;
	e->resp_body = 0;
	e->status = 0;
	e->tlen = 0;
	e->qpos = 0;
	e->mlen = 0;
	e->flags = 0;
	e->tplen = 0;
	d->cur = i;
	http1_msg_reset(d);
}

static void http1_req_done(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	struct http1_entry *e = http1_cur(c, d);
	bool over = d->cur == c->over;

	d->cur = CUR_NONE;
	d->st = ST_REQ_START;
	d->head_len = 0;
	e->req_body = d->body;
	e->flags |= E_REQ_DONE;
	if (!(e->flags & E_RESP_DONE))
		e->end_ns = ts; /* the end if it is emitted without a response */
	if (over) {
		http1_over_emit(c, ts); /* overflowed: never paired */
		return;
	}
	if (c->mode == MODE_UNSURE)
		e->flags |= E_BAD;
	http1_drain(c);
}

/* The response ended (ts: the chunk holding its last byte). */
static void http1_resp_done(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	struct http1_entry *e = http1_cur(c, d);

	if (e) {
		e->status = d->status;
		e->resp_body = d->body;
		e->end_ns = ts;
		e->flags |= E_RESP_DONE | ((d->mflags & M_LOSSY) ? E_BAD : 0);
		http1_drain(c);
	} else if ((d->mflags & M_PHANTOM) && c->phantoms > 0) {
		c->phantoms--;
	}
	d->cur = CUR_NONE;
	http1_msg_reset(d);
	d->st = ST_RESP_START;
}

static void http1_msg_done(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	if (d == &c->req)
		http1_req_done(c, d, ts);
	else
		http1_resp_done(c, d, ts);
}

/* The request a response answers: the oldest without one when the
 * response begins. None: an overflowed one, or none at all (an orphan). */
static void http1_resp_bind(struct http1_conn *c, struct http1_dir *d)
{
	uint32_t n;

	d->cur = http1_slot_of(c, http1_unanswered(c, &n));
	if (d->cur == CUR_NONE && c->phantoms > 0)
		d->mflags |= M_PHANTOM;
}

/* 101 or a 2xx to CONNECT: the bytes that follow are another protocol. */
static void http1_upgrade(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	http1_resp_done(c, d, ts);
	http1_flush(c, ts);
	c->mode = MODE_DEAD;
}

static void http1_chunk_begin(struct http1_dir *d)
{
	d->st = ST_CHUNK_SIZE;
	d->num = 0;
	d->idx = 0;
	d->head_len = 0;
}

/* Request framing (RFC 9112 6.3): chunked, else Content-Length, else none.
 * A transfer coding other than chunked last leaves the length unknowable. */
static void http1_req_head_done(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	if (d->mflags & M_TE) {
		if (!(d->mflags & M_CHUNKED)) {
			http1_lost(c, d, ts, true);
			return;
		}
		http1_chunk_begin(d);
	} else if ((d->mflags & M_CLEN) && d->clen > 0) {
		d->remain = d->clen;
		d->st = ST_BODY_LEN;
	} else {
		http1_req_done(c, d, ts);
	}
}

/* Response framing: no body for HEAD, 1xx, 204, 304; then chunked, then
 * Content-Length, else until the connection closes. 1xx other than 101 are
 * interim: the final response to the same request follows. */
static void http1_resp_head_done(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	const struct http1_entry *e;

	if (d->status < 200 && d->status != 101) {
		http1_msg_reset(d);
		d->cur = CUR_NONE;
		d->st = ST_RESP_START;
		return;
	}
	e = http1_cur(c, d);
	if (!e && !(d->mflags & M_PHANTOM))
		c->pool->stats->orphan_responses++;
	if (d->status == 101 || (e && (e->flags & E_CONNECT) && d->status < 300)) {
		http1_upgrade(c, d, ts);
	} else if ((e && (e->flags & E_HEAD)) || d->status == 204 || d->status == 304) {
		http1_resp_done(c, d, ts);
	} else if (d->mflags & M_TE) {
		if (d->mflags & M_CHUNKED)
			http1_chunk_begin(d);
		else
			d->st = ST_BODY_CLOSE;
	} else if (d->mflags & M_CLEN) {
		d->remain = d->clen;
		d->st = ST_BODY_LEN;
		if (d->clen == 0)
			http1_resp_done(c, d, ts);
	} else {
		d->st = ST_BODY_CLOSE;
	}
}

/* ---- header values ---- */

static bool http1_name_is(const struct http1_dir *d, const char *s, size_t n)
{
	return d->name_len == n && memcmp(d->name, s, n) == 0;
}

static uint8_t http1_hdr_kind(const struct http1_dir *d)
{
	if (http1_name_is(d, "content-length", 14))
		return H_CLEN;
	if (http1_name_is(d, "transfer-encoding", 17))
		return H_TE;
	if (http1_name_is(d, "connection", 10))
		return H_CONN;
	if (http1_name_is(d, "expect", 6))
		return H_EXPECT;
	if (http1_name_is(d, "traceparent", 11))
		return H_TRACEPARENT;
	return H_OTHER;
}

/* One Content-Length list element ended. Repeats must agree (RFC 9110 8.6). */
static bool http1_clen_elem(struct http1_dir *d)
{
	if (!(d->mflags & M_DIGITS))
		return false;
	if ((d->mflags & M_CLEN) && d->clen != d->num)
		return false;
	d->clen = d->num;
	d->num = 0;
	d->mflags = (d->mflags | M_CLEN) & ~(M_DIGITS | M_ELEM_END);
	return true;
}

static bool http1_clen_byte(struct http1_dir *d, uint8_t ch)
{
	if (ch >= '0' && ch <= '9') {
		if ((d->mflags & M_ELEM_END) || d->num > (HTTP1_LEN_MAX - 9) / 10)
			return false;
		d->num = d->num * 10 + (ch - '0');
		d->mflags |= M_DIGITS;
		return true;
	}
	if (ch == ' ' || ch == '\t') {
		if (d->mflags & M_DIGITS)
			d->mflags |= M_ELEM_END;
		return true;
	}
	return ch == ',' && http1_clen_elem(d);
}

static bool http1_tok_is(const struct http1_dir *d, size_t n, const char *s, size_t sn)
{
	return n == sn && memcmp(d->tok, s, sn) == 0;
}

/* A token of a comma list ended. For Transfer-Encoding only the last one
 * matters: chunked must be the final coding to frame the body. */
static void http1_tok_end(struct http1_dir *d)
{
	size_t n = d->tok_len;

	d->tok_len = 0;
	if (n == 0)
		return;
	switch (d->hdr) {
	case H_TE:
		d->mflags |= M_TE;
		if (http1_tok_is(d, n, "chunked", 7))
			d->mflags |= M_CHUNKED;
		else
			d->mflags &= ~M_CHUNKED;
		break;
	case H_CONN:
		if (http1_tok_is(d, n, "close", 5))
			d->mflags |= M_CLOSE;
		else if (http1_tok_is(d, n, "keep-alive", 10))
			d->mflags |= M_KEEPALIVE;
		break;
	case H_EXPECT:
		if (http1_tok_is(d, n, "100-continue", 12))
			d->mflags |= M_CONTINUE;
		break;
	}
}

static void http1_tok_byte(struct http1_dir *d, uint8_t ch)
{
	if (ch == ',' || ch == ' ' || ch == '\t') {
		http1_tok_end(d);
		return;
	}
	/* tok_len saturates at TOK_MAX + 1: "too long to be anything we know" */
	if (d->tok_len < HTTP1_TOK_MAX)
		d->tok[d->tok_len] = (char)http1_lower(ch);
	if (d->tok_len <= HTTP1_TOK_MAX)
		d->tok_len++;
}

/* ---- line ends ---- */

static void http1_line_done(struct http1_conn *c, struct http1_dir *d, uint8_t kind, uint64_t ts)
{
	switch (kind) {
	case L_REQ:
	case L_STATUS:
		c->confirmed = true;
		d->mflags |= (kind == L_STATUS) ? M_STATUS : 0;
		d->st = ST_HDR_START;
		break;
	case L_HDR:
		d->st = ST_HDR_START;
		if (d->hdr == H_CLEN) {
			if (!http1_clen_elem(d))
				http1_lost(c, d, ts, true);
		} else if (d->hdr != H_OTHER) {
			http1_tok_end(d);
		}
		break;
	case L_HEAD_END:
		if (d == &c->req)
			http1_req_head_done(c, d, ts);
		else
			http1_resp_head_done(c, d, ts);
		break;
	case L_CHUNK_SIZE:
		d->remain = d->num;
		d->st = d->num ? ST_CHUNK_DATA : ST_TRAILER_START;
		break;
	case L_CHUNK_END:
		http1_chunk_begin(d);
		break;
	case L_TRAILER:
		d->st = ST_TRAILER_START;
		break;
	case L_TRAILERS_END:
		http1_msg_done(c, d, ts);
		break;
	}
}

/* p[i] is CR or LF and ends a line of `kind`. A CR needs its LF first, so
 * the line is only complete when the LF arrives (maybe in a later chunk). */
static size_t http1_eol(struct http1_conn *c, struct http1_dir *d, uint8_t ch,
			uint8_t kind, size_t i, uint64_t ts)
{
	if (ch == '\r') {
		d->eol = kind;
		d->st = ST_LF;
	} else {
		http1_line_done(c, d, kind, ts);
	}
	return i + 1;
}

/* The first CR or LF in p[0..n), else n: eight bytes at a time (header
 * values and skipped lines are most of a message's bytes). */
static size_t http1_scan_eol(const uint8_t *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w, cr, lf;

		memcpy(&w, p + i, 8);
		cr = w ^ (ones * '\r');
		lf = w ^ (ones * '\n');
		/* a zero byte in cr or lf: exact for the first one found */
		if (((cr - ones) & ~cr & highs) | ((lf - ones) & ~lf & highs))
			break;
	}
	while (i < n && !http1_crlf(p[i]))
		i++;
	return i;
}

/* ---- states: each consumes what it can of p[0..n) and returns how much ---- */

static size_t st_req_start(struct http1_conn *c, struct http1_dir *d,
			   const uint8_t *p, size_t n, uint64_t ts)
{
	size_t i = 0;

	while (i < n && http1_crlf(p[i])) /* RFC 9112 2.2: ignore empty lines */
		i++;
	if (i == n)
		return n;
	if (!http1_tchar(p[i]))
		HTTP1_BAD(c, d, ts, i);
	http1_req_begin(c, d, ts);
	d->st = ST_METHOD;
	return i;
}

static void http1_method_end(struct http1_conn *c, struct http1_dir *d, uint64_t ts)
{
	struct http1_entry *e = http1_cur(c, d);

	if (e->mlen == 4 && memcmp(e->method, "HEAD", 4) == 0)
		e->flags |= E_HEAD;
	else if (e->mlen == 7 && memcmp(e->method, "CONNECT", 7) == 0)
		e->flags |= E_CONNECT;
	/* An overflowed request's response would be framed without knowing
	 * it has no body (HEAD) or ends HTTP (CONNECT): stop pairing. */
	if (d->cur == c->over && (e->flags & (E_HEAD | E_CONNECT)))
		http1_unsure(c, ts, false);
	d->num = 0;
	d->st = ST_TARGET;
}

static size_t st_method(struct http1_conn *c, struct http1_dir *d,
			const uint8_t *p, size_t n, uint64_t ts)
{
	struct http1_entry *e = http1_cur(c, d);

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (ch == ' ') {
			http1_method_end(c, d, ts);
			return i + 1;
		}
		if (!http1_tchar(ch) || ++d->idx > HTTP1_METHOD_LIMIT)
			HTTP1_BAD(c, d, ts, i);
		if (e->mlen < HTTP1_METHOD_MAX - 1)
			e->method[e->mlen++] = (char)ch;
	}
	return n;
}

static size_t st_target(struct http1_conn *c, struct http1_dir *d,
			const uint8_t *p, size_t n, uint64_t ts)
{
	struct http1_entry *e = http1_cur(c, d);

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (ch <= ' ' || ch == 0x7f) {
			if (ch != ' ' || d->num == 0)
				HTTP1_BAD(c, d, ts, i);
			d->st = ST_REQ_VER;
			d->idx = 0;
			return i + 1;
		}
		d->num++;
		if (ch == '?' && !(e->flags & E_QUERY)) {
			e->flags |= E_QUERY;
			e->qpos = e->tlen;
		}
		if (e->tlen < HTTP1_TARGET_MAX - 1)
			e->target[e->tlen++] = (char)ch;
	}
	return n;
}

/* "HTTP/1." DIGIT, then SP in a status line or the line end in a request. */
static size_t st_version(struct http1_conn *c, struct http1_dir *d,
			 const uint8_t *p, size_t n, uint64_t ts)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (d->idx < 7) {
			if (ch != (uint8_t)http1_ver[d->idx])
				HTTP1_BAD(c, d, ts, i);
		} else if (d->idx == 7) {
			if (ch < '0' || ch > '9')
				HTTP1_BAD(c, d, ts, i);
		} else if (d->st == ST_RESP_VER && ch == ' ') {
			d->st = ST_STATUS;
			d->idx = 0;
			return i + 1;
		} else if (d->st == ST_REQ_VER && http1_crlf(ch)) {
			return http1_eol(c, d, ch, L_REQ, i, ts);
		} else {
			HTTP1_BAD(c, d, ts, i);
		}
		d->idx++;
	}
	return n;
}

static size_t st_resp_start(struct http1_conn *c, struct http1_dir *d,
			    const uint8_t *p, size_t n, uint64_t ts)
{
	size_t i = 0;

	(void)ts;
	while (i < n && http1_crlf(p[i])) /* stray CRLF after a body: harmless */
		i++;
	if (i < n) {
		http1_msg_reset(d);
		http1_resp_bind(c, d);
		d->st = ST_RESP_VER;
	}
	return i;
}

static size_t st_status(struct http1_conn *c, struct http1_dir *d,
			const uint8_t *p, size_t n, uint64_t ts)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (d->idx < 3) {
			if (ch < '0' || ch > '9' || (d->idx == 0 && ch == '0'))
				HTTP1_BAD(c, d, ts, i);
			d->status = d->status * 10 + (ch - '0');
			if (d->idx == 2 && d->status >= 200)
				d->mflags |= M_FINAL;
			d->idx++;
		} else if (ch == ' ') {
			d->st = ST_REASON;
			return i + 1;
		} else if (http1_crlf(ch)) {
			return http1_eol(c, d, ch, L_STATUS, i, ts);
		} else {
			HTTP1_BAD(c, d, ts, i);
		}
	}
	return n;
}

/* Reason phrase, chunk extensions, trailer lines: content not needed. */
static size_t st_skip_line(struct http1_conn *c, struct http1_dir *d,
			   const uint8_t *p, size_t n, uint64_t ts, uint8_t kind)
{
	size_t i = http1_scan_eol(p, n);

	return i == n ? n : http1_eol(c, d, p[i], kind, i, ts);
}

static size_t st_hdr_start(struct http1_conn *c, struct http1_dir *d,
			   const uint8_t *p, uint64_t ts)
{
	if (http1_crlf(p[0]))
		return http1_eol(c, d, p[0], L_HEAD_END, 0, ts);
	/* not a token: includes obs-fold (SP/HT), which we refuse rather
	 * than guess whether it continues a framing header */
	if (!http1_tchar(p[0]))
		HTTP1_BAD(c, d, ts, 0);
	d->name_len = 0;
	d->st = ST_HDR_NAME;
	return 0;
}

static size_t st_hdr_name(struct http1_conn *c, struct http1_dir *d,
			  const uint8_t *p, size_t n, uint64_t ts)
{
	unsigned len = d->name_len; /* in a register: this loop runs per byte */

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = http1_name_map[p[i]];

		if (!ch) {
			d->name_len = (uint8_t)len;
			if (p[i] != ':')
				HTTP1_BAD(c, d, ts, i); /* not a tchar */
			d->hdr = http1_hdr_kind(d);
			d->tok_len = 0;
			d->num = 0;
			d->mflags &= ~(M_DIGITS | M_ELEM_END);
			d->st = ST_HDR_VALUE;
			return i + 1;
		}
		/* name_len saturates at NAME_MAX + 1: matches no known name */
		if (len < HTTP1_NAME_MAX)
			d->name[len] = (char)ch;
		if (len <= HTTP1_NAME_MAX)
			len++;
	}
	d->name_len = (uint8_t)len;
	return n;
}

/* A request's W3C traceparent, kept for the exporter's span parent. Spaces
 * go (the value has none); a repeated header makes it invalid, as it
 * should be. Responses carry none worth keeping. */
static size_t st_traceparent(struct http1_conn *c, struct http1_dir *d,
			     const uint8_t *p, size_t n, uint64_t ts)
{
	struct http1_entry *e = d == &c->req ? http1_cur(c, d) : NULL;
	size_t i = http1_scan_eol(p, n);

	for (size_t j = 0; e && j < i; j++)
		if (p[j] != ' ' && p[j] != '\t' && e->tplen < sizeof(e->traceparent))
			e->traceparent[e->tplen++] = (char)p[j];
	return i == n ? n : http1_eol(c, d, p[i], L_HDR, i, ts);
}

static size_t st_hdr_value(struct http1_conn *c, struct http1_dir *d,
			   const uint8_t *p, size_t n, uint64_t ts)
{
	if (d->hdr == H_OTHER) /* the common case: only find the line end */
		return st_skip_line(c, d, p, n, ts, L_HDR);
	if (d->hdr == H_TRACEPARENT)
		return st_traceparent(c, d, p, n, ts);
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (http1_crlf(ch))
			return http1_eol(c, d, ch, L_HDR, i, ts);
		if (d->hdr == H_CLEN) {
			if (!http1_clen_byte(d, ch))
				HTTP1_BAD(c, d, ts, i);
		} else {
			http1_tok_byte(d, ch);
		}
	}
	return n;
}

static size_t st_chunk_size(struct http1_conn *c, struct http1_dir *d,
			    const uint8_t *p, size_t n, uint64_t ts)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i], lo = http1_lower(ch);
		unsigned v;

		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (lo >= 'a' && lo <= 'f')
			v = lo - 'a' + 10;
		else if (d->idx == 0)
			HTTP1_BAD(c, d, ts, i);
		else if (ch == ';' || ch == ' ' || ch == '\t') {
			d->st = ST_CHUNK_EXT; /* extensions (and BWS) are skipped */
			return i + 1;
		} else if (http1_crlf(ch))
			return http1_eol(c, d, ch, L_CHUNK_SIZE, i, ts);
		else
			HTTP1_BAD(c, d, ts, i);
		if (++d->idx > HTTP1_HEX_DIGITS)
			HTTP1_BAD(c, d, ts, i);
		d->num = d->num * 16 + v;
	}
	return n;
}

/* Bodies: counted in bulk, never looked at. */
static size_t st_counted(struct http1_conn *c, struct http1_dir *d, size_t n, uint64_t ts)
{
	size_t k = n < d->remain ? n : (size_t)d->remain;

	d->remain -= k;
	d->body += k;
	if (d->remain == 0) {
		if (d->st == ST_CHUNK_DATA)
			d->st = ST_CHUNK_END;
		else
			http1_msg_done(c, d, ts);
	}
	return k;
}

/* A CR/LF-only state: chunk data's CRLF, the LF of a CRLF. */
static size_t st_line_end(struct http1_conn *c, struct http1_dir *d, uint8_t ch, uint64_t ts)
{
	if (d->st == ST_LF) {
		if (ch != '\n')
			HTTP1_BAD(c, d, ts, 0);
		http1_line_done(c, d, d->eol, ts);
		return 1;
	}
	if (!http1_crlf(ch))
		HTTP1_BAD(c, d, ts, 0);
	return http1_eol(c, d, ch, L_CHUNK_END, 0, ts);
}

static size_t st_trailer_start(struct http1_conn *c, struct http1_dir *d,
			       uint8_t ch, uint64_t ts)
{
	if (http1_crlf(ch))
		return http1_eol(c, d, ch, L_TRAILERS_END, 0, ts);
	if (!http1_tchar(ch))
		HTTP1_BAD(c, d, ts, 0);
	d->st = ST_TRAILER_LINE;
	return 0;
}

static size_t http1_step(struct http1_conn *c, struct http1_dir *d,
			 const uint8_t *p, size_t n, uint64_t ts)
{
	switch (d->st) {
	case ST_REQ_START: return st_req_start(c, d, p, n, ts);
	case ST_METHOD: return st_method(c, d, p, n, ts);
	case ST_TARGET: return st_target(c, d, p, n, ts);
	case ST_REQ_VER:
	case ST_RESP_VER: return st_version(c, d, p, n, ts);
	case ST_RESP_START: return st_resp_start(c, d, p, n, ts);
	case ST_STATUS: return st_status(c, d, p, n, ts);
	case ST_REASON: return st_skip_line(c, d, p, n, ts, L_STATUS);
	case ST_HDR_START: return st_hdr_start(c, d, p, ts);
	case ST_HDR_NAME: return st_hdr_name(c, d, p, n, ts);
	case ST_HDR_VALUE: return st_hdr_value(c, d, p, n, ts);
	case ST_CHUNK_SIZE: return st_chunk_size(c, d, p, n, ts);
	case ST_CHUNK_EXT: return st_skip_line(c, d, p, n, ts, L_CHUNK_SIZE);
	case ST_CHUNK_END:
	case ST_LF: return st_line_end(c, d, p[0], ts);
	case ST_TRAILER_START: return st_trailer_start(c, d, p[0], ts);
	case ST_TRAILER_LINE: return st_skip_line(c, d, p, n, ts, L_TRAILER);
	case ST_BODY_LEN:
	case ST_CHUNK_DATA: return st_counted(c, d, n, ts);
	case ST_BODY_CLOSE: d->body += n; return n;
	default: return n;
	}
}

/* Runs captured bytes through a direction's parser. */
static void http1_feed(struct http1_conn *c, struct http1_dir *d,
		       const uint8_t *p, size_t n, uint64_t ts)
{
	while (n > 0 && d->st < ST_HUNT && c->mode != MODE_DEAD) {
		bool line = d->st < ST_BODY_LEN;
		size_t k = http1_step(c, d, p, n, ts);

		p += k;
		n -= k;
		if (line && d->st < ST_BODY_LEN && (d->head_len += (uint32_t)k) > HTTP1_HEAD_MAX)
			http1_lost(c, d, ts, true);
	}
}

/* n bytes of this direction are missing. Inside a body whose remaining
 * length covers them, framing continues by count and the message stays
 * complete: those bytes were never needed. A read-until-close body just
 * counts them but can no longer be called complete. Anywhere else the next
 * message boundary is unknown. */
static void http1_gap(struct http1_conn *c, struct http1_dir *d, uint64_t n, uint64_t ts)
{
	switch (d->st) {
	case ST_HUNT:
		http1_skipped(c, d, NULL, 0, true, ts);
		return;
	case ST_IGNORE:
		return;
	case ST_BODY_CLOSE:
		d->body += n;
		d->mflags |= M_LOSSY;
		return;
	case ST_BODY_LEN:
	case ST_CHUNK_DATA:
		if (d->remain >= n) {
			d->remain -= n - 1;
			d->body += n - 1;
			st_counted(c, d, 1, ts); /* the last byte runs the transition */
			return;
		}
		break;
	}
	http1_lost(c, d, ts, false);
}

/* ---- finding message starts at chunk boundaries ---- */

enum { SNIFF_NO, SNIFF_SHORT, SNIFF_REQ, SNIFF_RESP };

static bool http1_known_method(const uint8_t *p, size_t n)
{
	static const char *const m[] = { "GET", "HEAD", "POST", "PUT", "DELETE",
					 "CONNECT", "OPTIONS", "TRACE", "PATCH" };

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strlen(m[i]) == n && memcmp(m[i], p, n) == 0)
			return true;
	return false;
}

/* Does a chunk begin a message? A request line is "token SP target SP
 * HTTP/1."; a chunk that ends inside the target still counts when the token
 * is a well-known method. A status line starts with "HTTP/1." (5 bytes of
 * it suffice). SHORT: cannot tell.
 * Unless the chunk starts the stream (`start`), the token must be a
 * well-known method too: a chunk can begin inside a method, and "EAD /x
 * HTTP/1.1" would lose the HEAD that decides whether a response has a body.
 * No well-known method is a suffix of another. */
static int http1_sniff(const uint8_t *p, size_t n, bool start)
{
	size_t m = 0, t, t0, k;

	while (n > 0 && http1_crlf(*p))
		p++, n--;
	k = n < 7 ? n : 7;
	if (n > 0 && memcmp(p, http1_ver, k) == 0)
		return n >= 5 ? SNIFF_RESP : SNIFF_SHORT;
	while (m < n && m <= HTTP1_METHOD_LIMIT && http1_tchar(p[m]))
		m++;
	if (m == n)
		return m <= HTTP1_METHOD_LIMIT ? SNIFF_SHORT : SNIFF_NO;
	if (m == 0 || m > HTTP1_METHOD_LIMIT || p[m] != ' ')
		return SNIFF_NO;
	for (t0 = t = m + 1; t < n && p[t] > ' ' && p[t] != 0x7f; t++)
		;
	if (t == n)
		return t > t0 && http1_known_method(p, m) ? SNIFF_REQ : SNIFF_SHORT;
	if (t == t0 || p[t] != ' ')
		return SNIFF_NO;
	t++;
	k = n - t < 7 ? n - t : 7;
	if (memcmp(p + t, http1_ver, k) != 0)
		return SNIFF_NO;
	return start || http1_known_method(p, m) ? SNIFF_REQ : SNIFF_SHORT;
}

static void http1_dir_start(struct http1_conn *c, struct http1_dir *d, bool hunt)
{
	c->carry_len[(d == &c->req) == c->req_egress] = 0;
	http1_msg_reset(d);
	d->cur = CUR_NONE;
	d->st = hunt ? ST_HUNT : (d == &c->req ? ST_REQ_START : ST_RESP_START);
}

/* Role UNKNOWN: the first chunk that starts a request or a status line
 * tells which direction carries requests. Returns whether it did.
 * Requests are paired only if none can hide in request bytes that went by
 * undecided (tainted): their responses would answer the wrong request.
 * Bytes before tracking began are invisible: a request sent then and
 * answered after a later one was sent (pipelining) is the one risk of a
 * connection seen mid-life. */
static bool http1_decide(struct http1_conn *c, bool egress, const uint8_t *p, size_t n)
{
	int s;
	struct http1_dir *d, *other;

	if (n >= 2 && p[0] >= 0x14 && p[0] <= 0x17 && p[1] == 0x03) { /* TLS record */
		http1_give_up(c);
		return false;
	}
	/* UNKNOWN means seen mid-life: position 0 is where tracking began, not
	 * where the stream did, so no chunk is known to start a message */
	s = http1_sniff(p, n, false);
	if (s != SNIFF_REQ && s != SNIFF_RESP)
		return false;
	c->req_egress = (s == SNIFF_REQ) == egress;
	c->role = c->req_egress ? HTTP1_ROLE_CLIENT : HTTP1_ROLE_SERVER;
	c->mode = MODE_LIVE;
	d = c->req_egress == egress ? &c->req : &c->resp;
	other = d == &c->req ? &c->resp : &c->req;
	http1_dir_start(c, d, false);
	/* the other direction starts clean only if none of it went by */
	http1_dir_start(c, other, c->expect[!egress] != 0);
	if (c->tainted[c->req_egress]) {
		c->mode = MODE_UNSURE;
		c->resp.st = ST_IGNORE;
	}
	return true;
}

/* A direction that lost framing picks up again at a chunk that starts a
 * message. Returns whether to parse this chunk. */
static bool http1_hunt(struct http1_conn *c, struct http1_dir *d, const uint8_t *p, size_t n,
		       bool missing, uint64_t ts)
{
	int s = http1_sniff(p, n, false);

	if (d->st == ST_IGNORE) {
		if (s == SNIFF_RESP)
			c->pool->stats->orphan_responses++;
		return false;
	}
	if (s != (d == &c->req ? SNIFF_REQ : SNIFF_RESP)) {
		http1_skipped(c, d, p, n, missing, ts);
		return false;
	}
	http1_dir_start(c, d, false);
	return true;
}

/* ---- the interface ---- */

/* Fresh state; c's slots (if any) must have been given back. */
static void http1_reset(struct http1_conn *c, enum http1_role role)
{
	void *ctx = c->ctx;
	struct http1_pool *pool = c->pool;

	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	c->pool = pool;
	c->qhead = c->qtail = c->over = CUR_NONE;
	if (role == HTTP1_ROLE_CLIENT || role == HTTP1_ROLE_SERVER) {
		c->role = (uint8_t)role;
		c->mode = MODE_LIVE;
		c->req_egress = role == HTTP1_ROLE_CLIENT;
	} else {
		c->role = HTTP1_ROLE_UNKNOWN;
		c->mode = MODE_SNIFF;
	}
	c->req.st = ST_REQ_START;
	c->resp.st = ST_RESP_START;
	c->req.cur = c->resp.cur = CUR_NONE;
}

void http1_init(struct http1_conn *c, enum http1_role role,
		http1_emit_fn emit, void *ctx, struct http1_stats *stats)
{
	struct http1_solo *solo = (struct http1_solo *)c;

	/* the slots are initialised when used: skip the bulk of the memory */
	pool_setup(&solo->pool, solo->slot, HTTP1_PENDING_MAX + 1, emit, stats);
	c->ctx = ctx;
	c->pool = &solo->pool;
	http1_reset(c, role);
}

void http1_init_pool(struct http1_conn *c, enum http1_role role, void *ctx,
		     struct http1_pool *pool)
{
	c->ctx = ctx;
	c->pool = pool;
	http1_reset(c, role);
}

/* Until a start line parsed, bytes are a budget: a connection that never
 * shows HTTP stops costing anything. */
static bool http1_over_budget(struct http1_conn *c, int dir, uint32_t n)
{
	uint64_t s = (uint64_t)c->sniffed[dir] + n;

	c->sniffed[dir] = s < HTTP1_SNIFF_ANY ? (uint32_t)s : HTTP1_SNIFF_ANY;
	return (c->sniffed[0] >= HTTP1_SNIFF_EACH && c->sniffed[1] >= HTTP1_SNIFF_EACH) ||
	       c->sniffed[dir] >= HTTP1_SNIFF_ANY;
}

void http1_data(struct http1_conn *c, bool egress, uint64_t ts_ns, uint64_t pos,
		uint32_t full_len, const uint8_t *buf, uint32_t cap_len)
{
	int e = egress ? 1 : 0;
	uint64_t exp = c->expect[e], gap = 0;
	struct http1_dir *d;

	if (c->mode == MODE_DEAD || full_len == 0)
		return;
	if (cap_len > full_len)
		cap_len = full_len;
	if (pos < exp) { /* replay: drop what was seen already */
		uint64_t old = exp - pos;
		uint32_t skip;

		if (old >= full_len)
			return;
		skip = old < cap_len ? (uint32_t)old : cap_len;
		buf += skip;
		cap_len -= skip;
		full_len -= (uint32_t)old;
	} else {
		gap = pos - exp;
	}
	c->expect[e] = exp + gap + full_len;
	if (!c->confirmed && http1_over_budget(c, e, full_len)) {
		http1_give_up(c);
		return;
	}
	if (c->mode == MODE_SNIFF) {
		c->tainted[e] |= gap > 0; /* the missing bytes may hold anything */
		if (!http1_decide(c, egress, buf, cap_len)) {
			if (c->mode == MODE_SNIFF && (http1_skim(c, e, buf, cap_len) || cap_len < full_len))
				c->tainted[e] = true;
			return;
		}
		gap = 0; /* nothing was being parsed before this chunk */
	}
	d = egress == c->req_egress ? &c->req : &c->resp;
	if (gap)
		http1_gap(c, d, gap, ts_ns);
	if (d->st >= ST_HUNT && !http1_hunt(c, d, buf, cap_len, cap_len < full_len, ts_ns))
		return;
	http1_feed(c, d, buf, cap_len, ts_ns);
	if (cap_len < full_len && c->mode != MODE_DEAD)
		http1_gap(c, d, full_len - cap_len, ts_ns);
}

void http1_close(struct http1_conn *c, uint64_t ts_ns)
{
	struct http1_dir *d = &c->resp;

	if (c->mode == MODE_DEAD || !c->confirmed) {
		/* never showed HTTP: nothing to report (a request being read
		 * before its line ended may still hold a slot) */
		http1_drop(c);
		return;
	}
	if (c->mode != MODE_LIVE) {
		/* unsure: no response is paired, not even a cut-short one */
	} else if (d->st == ST_BODY_CLOSE) {
		http1_resp_done(c, d, ts_ns);
	} else if (d->cur != CUR_NONE && (d->mflags & M_FINAL)) {
		http1_cur(c, d)->status = d->status; /* cut short: keep what was seen */
	}
	http1_flush(c, ts_ns);
	c->mode = MODE_DEAD;
}

void http1_close_totals(struct http1_conn *c, uint64_t ts_ns, uint64_t egress_total,
			uint64_t ingress_total)
{
	uint64_t total[2] = { ingress_total, egress_total };

	for (int e = 0; e < 2 && c->mode != MODE_DEAD; e++) {
		struct http1_dir *d = (e == 1) == c->req_egress ? &c->req : &c->resp;

		if (total[e] <= c->expect[e])
			continue;
		if (c->mode != MODE_SNIFF)
			http1_gap(c, d, total[e] - c->expect[e], ts_ns);
		c->expect[e] = total[e];
	}
	http1_close(c, ts_ns);
}

/* ---- checkpoints ---- */

/* Saved: a tag, the struct with its slot numbers made positions (queue
 * position i, or HTTP1_PENDING_MAX for the overflowed request) and its
 * pointers cleared, then the queued requests in order, then the overflowed
 * one. The tag changes with the layout, so another build's bytes fail. */
struct http1_saved {
	uint32_t tag;
	uint32_t nent;        /* entries that follow */
	struct http1_conn c;
};

static uint32_t http1_save_tag(void)
{
	return 0x48310000u ^ (uint32_t)(sizeof(struct http1_conn) * 31 +
					 sizeof(struct http1_entry) * 7 + 2);
}

size_t http1_save_size(const struct http1_conn *c)
{
	return sizeof(struct http1_saved) +
	       (c->count + (c->over != CUR_NONE)) * sizeof(struct http1_entry);
}

size_t http1_save_max(void)
{
	return sizeof(struct http1_saved) + (HTTP1_PENDING_MAX + 1) * sizeof(struct http1_entry);
}

/* A slot number as a position in what is saved. */
static uint32_t http1_pos_of(const struct http1_conn *c, uint32_t cur)
{
	uint32_t pos = 0;

	if (cur == CUR_NONE)
		return CUR_NONE;
	if (cur == c->over)
		return HTTP1_PENDING_MAX;
	for (uint32_t i = c->count ? c->qhead : CUR_NONE; i != CUR_NONE;
	     i = c->pool->slot[i].next, pos++)
		if (i == cur)
			return pos;
	return CUR_NONE; /* cannot happen: a side names only c's slots */
}

size_t http1_save(const struct http1_conn *c, void *buf, size_t cap)
{
	size_t need = http1_save_size(c);
	struct http1_saved *sv = buf;
	struct http1_entry *out;

	if (need > cap)
		return need;
	memset(sv, 0, sizeof(*sv));
	sv->tag = http1_save_tag();
	sv->nent = (uint32_t)((need - sizeof(*sv)) / sizeof(struct http1_entry));
	sv->c = *c;
	sv->c.ctx = NULL;
	sv->c.pool = NULL;
	sv->c.qhead = sv->c.qtail = 0;
	sv->c.over = c->over != CUR_NONE;
	sv->c.req.cur = http1_pos_of(c, c->req.cur);
	sv->c.resp.cur = http1_pos_of(c, c->resp.cur);
	out = (struct http1_entry *)(sv + 1);
	for (uint32_t i = c->count ? c->qhead : CUR_NONE; i != CUR_NONE;
	     i = c->pool->slot[i].next)
		*out++ = *http1_ent(c, i);
	if (c->over != CUR_NONE)
		*out = *http1_ent(c, c->over);
	return need;
}

static bool http1_entry_ok(const struct http1_entry *e)
{
	return e->mlen < HTTP1_METHOD_MAX && e->tlen < HTTP1_TARGET_MAX && e->qpos <= e->tlen &&
	       e->tplen <= sizeof(e->traceparent) &&
	       (e->status == 0 || (e->status >= 100 && e->status <= 999)) &&
	       /* answered: by a final response (or 101), never an interim one */
	       (!(e->flags & E_RESP_DONE) || e->status >= 200 || e->status == 101);
}

/* States each side can be in: a side in the other's state would run code
 * that assumes it is the other (a request side reading a status line). */
#define ST_BIT(s) (1u << (s))
#define ST_BOTH (ST_BIT(ST_HDR_START) | ST_BIT(ST_HDR_NAME) | ST_BIT(ST_HDR_VALUE) |  \
		 ST_BIT(ST_CHUNK_SIZE) | ST_BIT(ST_CHUNK_EXT) | ST_BIT(ST_CHUNK_END) |  \
		 ST_BIT(ST_TRAILER_START) | ST_BIT(ST_TRAILER_LINE) | ST_BIT(ST_LF) |  \
		 ST_BIT(ST_BODY_LEN) | ST_BIT(ST_CHUNK_DATA) | ST_BIT(ST_HUNT))
#define ST_REQ_SIDE (ST_BOTH | ST_BIT(ST_REQ_START) | ST_BIT(ST_METHOD) | ST_BIT(ST_TARGET) | \
		     ST_BIT(ST_REQ_VER))
#define ST_RESP_SIDE (ST_BOTH | ST_BIT(ST_RESP_START) | ST_BIT(ST_RESP_VER) |          \
		      ST_BIT(ST_STATUS) | ST_BIT(ST_REASON) | ST_BIT(ST_BODY_CLOSE) |    \
		      ST_BIT(ST_IGNORE))

/* Past its head a message is a final response (or a request: status 0):
 * an interim status there would complete a pair with a 1xx. */
#define ST_PAST_HEAD (ST_BIT(ST_BODY_LEN) | ST_BIT(ST_BODY_CLOSE) | ST_BIT(ST_CHUNK_SIZE) |   \
		      ST_BIT(ST_CHUNK_EXT) | ST_BIT(ST_CHUNK_END) | ST_BIT(ST_CHUNK_DATA) |  \
		      ST_BIT(ST_TRAILER_START) | ST_BIT(ST_TRAILER_LINE))

static bool http1_dir_ok(const struct http1_dir *d, uint32_t states, bool resp)
{
	bool past_head;

	if (d->st > ST_IGNORE) /* before any ST_BIT of it */
		return false;
	past_head = (ST_PAST_HEAD & ST_BIT(d->st)) || (d->st == ST_LF && d->eol >= L_CHUNK_SIZE);
	return (states & ST_BIT(d->st)) && d->status <= 999 &&
	       d->eol <= L_TRAILERS_END &&
	       d->hdr <= H_TRACEPARENT && d->name_len <= HTTP1_NAME_MAX + 1 &&
	       d->tok_len <= HTTP1_TOK_MAX + 1 &&
	       (!(d->mflags & M_FINAL) || d->status >= 200) &&
	       (!resp || !past_head || d->status >= 200);
}

/* The saved struct's bools, read as bytes: a byte other than 0 or 1 in a
 * bool is undefined behaviour once read as one. */
static bool http1_bools_ok(const struct http1_conn *c)
{
	static const size_t off[] = { offsetof(struct http1_conn, req_egress),
				      offsetof(struct http1_conn, confirmed),
				      offsetof(struct http1_conn, tainted),
				      offsetof(struct http1_conn, tainted) + 1 };
	const uint8_t *b = (const uint8_t *)c;

	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (b[off[i]] > 1)
			return false;
	return true;
}

/* Whether saved state is safe to run: every length, index and state in
 * range, and the slot positions consistent with the states (the request
 * side names a request exactly while it is inside one; only it may name
 * the overflowed one; the response side names a queued one or none). */
static bool http1_saved_ok(const struct http1_saved *sv, const uint8_t *ents, size_t len)
{
	const struct http1_conn *c = &sv->c;
	struct http1_entry e;
	bool idle = c->req.st == ST_REQ_START || c->req.st == ST_HUNT;

	if (sv->tag != http1_save_tag() || !http1_bools_ok(c) || c->count > HTTP1_PENDING_MAX ||
	    c->over > 1 ||
	    sv->nent != (uint32_t)c->count + c->over || len != sizeof(*sv) + sv->nent * sizeof(e))
		return false;
	if (c->role > HTTP1_ROLE_SERVER || c->mode > MODE_DEAD || c->carry_len[0] > 6 ||
	    c->carry_len[1] > 6 || !http1_dir_ok(&c->req, ST_REQ_SIDE, false) ||
	    !http1_dir_ok(&c->resp, ST_RESP_SIDE, true))
		return false;
	if ((c->mode == MODE_DEAD || c->mode == MODE_SNIFF) && sv->nent > 0)
		return false;
	/* undecided exactly while sniffing; requests go the role's way */
	if (c->mode != MODE_DEAD && ((c->mode == MODE_SNIFF) != (c->role == HTTP1_ROLE_UNKNOWN) ||
				     (c->role != HTTP1_ROLE_UNKNOWN &&
				      c->req_egress != (c->role == HTTP1_ROLE_CLIENT))))
		return false;
	if (c->mode != MODE_DEAD && idle != (c->req.cur == CUR_NONE))
		return false;
	if (c->req.cur != CUR_NONE && c->req.cur >= c->count &&
	    !(c->req.cur == HTTP1_PENDING_MAX && c->over))
		return false;
	if ((c->over && c->req.cur != HTTP1_PENDING_MAX) ||
	    (c->resp.cur != CUR_NONE && c->resp.cur >= c->count))
		return false;
	for (uint32_t i = 0; i < sv->nent; i++) {
		memcpy(&e, ents + i * sizeof(e), sizeof(e));
		if (!http1_entry_ok(&e))
			return false;
	}
	return true;
}

/* Takes back c's slots and makes room for n more: a full shared pool
 * evicts as for a new request (never c: it holds nothing by then). */
static bool http1_room(struct http1_conn *c, uint32_t n, uint64_t ts)
{
	struct http1_pool *pl = c->pool;

	http1_drop(c);
	if (n > pl->cap)
		return false;
	while (pl->cap - pl->used < n)
		http1_evict(pl->slot[pl->oldest].owner, ts);
	return true;
}

/* Slots for the saved entries, and the positions made slot numbers. */
static void http1_load_entries(struct http1_conn *c, const uint8_t *ents, uint32_t n, bool over)
{
	uint32_t slot[HTTP1_PENDING_MAX + 1];
	uint32_t count = c->count;

	c->count = 0;
	c->qhead = c->qtail = c->over = CUR_NONE;
	for (uint32_t i = 0; i < n; i++) {
		slot[i] = pool_take(c->pool, c);
		memcpy(http1_ent(c, slot[i]), ents + i * sizeof(struct http1_entry),
		       sizeof(struct http1_entry));
		if (i < count)
			http1_q_push(c, slot[i]);
	}
	if (over)
		c->over = slot[count];
	if (c->req.cur != CUR_NONE)
		c->req.cur = c->req.cur == HTTP1_PENDING_MAX ? c->over : slot[c->req.cur];
	if (c->resp.cur != CUR_NONE)
		c->resp.cur = slot[c->resp.cur];
}

/* `saved` need not be aligned: it is read with memcpy. */
bool http1_restore(struct http1_conn *c, const void *saved, size_t len)
{
	struct http1_saved sv;
	const uint8_t *ents = (const uint8_t *)saved + sizeof(sv);
	void *ctx = c->ctx;
	struct http1_pool *pool = c->pool;
	uint8_t role = c->role; /* not the refused bytes' */

	if (len >= sizeof(sv))
		memcpy(&sv, saved, sizeof(sv));
	/* evictions to make room emit with ts 0: http1_emit keeps end >= start */
	if (len < sizeof(sv) || !http1_saved_ok(&sv, ents, len) || !http1_room(c, sv.nent, 0)) {
		http1_drop(c);
		http1_reset(c, (enum http1_role)role);
		return false;
	}
	*c = sv.c;
	c->ctx = ctx;
	c->pool = pool;
	http1_load_entries(c, ents, sv.nent, sv.c.over);
	return true;
}

/* HTTP/1.x parsing and request/response pairing for one TCP connection.
 * Fed with what the probes saw: chunks of each direction's byte stream,
 * each with its stream position, the number of bytes the syscall moved and
 * the (possibly shorter) captured prefix. Emits one http1_pair per request
 * once its response is complete (or once it can no longer complete).
 * Bounded: a few hundred bytes of parser state per connection; the requests
 * waiting for a response live in a pool with a fixed number of slots, either
 * the connection's own (http1_init) or one shared by many (http1_init_pool).
 * When a shared pool is full, the connection holding its oldest request
 * gives all of its waiting requests back: they are emitted incomplete and
 * their responses are never paired with anything else. No allocation after
 * set-up. */
#ifndef SLUICE_HTTP1_H
#define SLUICE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_METHOD_MAX 16
#define HTTP1_TARGET_MAX 256 /* path + query kept per request; longer is cut */
#define HTTP1_PENDING_MAX 32 /* requests awaiting a response per connection */
#define HTTP1_POOL_MAX (1u << 24) /* slots a shared pool may have */
#define HTTP1_TRACEPARENT_MAX 56 /* W3C traceparent version 00 is 55 bytes */

enum http1_role { HTTP1_ROLE_UNKNOWN = 0, HTTP1_ROLE_CLIENT = 1, HTTP1_ROLE_SERVER = 2 };

struct http1_pair {
	uint64_t start_ns;     /* first request byte seen (boot-time ns) */
	uint64_t end_ns;       /* last response byte seen, or when given up */
	char method[HTTP1_METHOD_MAX];  /* NUL-terminated; "" if unknown */
	char path[HTTP1_TARGET_MAX];    /* NUL-terminated, without the query */
	char query[HTTP1_TARGET_MAX];   /* NUL-terminated, without '?'; "" when none */
	bool has_query;        /* a '?' was present (query may still be empty) */
	int status;            /* final status code, 0 when no response */
	uint64_t req_body;     /* request body bytes (by framing, not capture) */
	uint64_t resp_body;    /* response body bytes */
	bool complete;         /* both messages fully framed, no bytes lost */
	uint8_t role;          /* enum http1_role the connection was decided to have */
	char traceparent[HTTP1_TRACEPARENT_MAX]; /* the request's traceparent header,
				* spaces removed, cut to 55 bytes; "" when none.
				* Unvalidated: the exporter checks it. */
};

/* Counters a connection adds to; the caller aggregates them. */
struct http1_stats {
	uint64_t pairs;           /* complete pairs emitted */
	uint64_t incomplete;      /* pairs emitted with complete == false */
	uint64_t resyncs;         /* times a stream lost framing and resynchronised */
	uint64_t orphan_responses; /* responses with no request to pair: dropped */
	uint64_t pending_overflow; /* requests dropped: pending queue full */
	uint64_t not_http;        /* connections given up as not HTTP/1.x */
	uint64_t pending_evicted; /* requests emitted before their response: the
				   * shared pool was full (also in incomplete) */
	uint64_t pending_evictions; /* times a connection gave its requests back */
};

typedef void (*http1_emit_fn)(void *ctx, const struct http1_pair *pair);

struct http1_conn; /* defined in http1.c: opaque, sized by the functions below */
struct http1_pool; /* slots for waiting requests shared by many connections */

/* A pool of `slots` request slots (1..HTTP1_POOL_MAX) for connections set up
 * with http1_init_pool. Pairs of all of them go to emit, counters to stats
 * (NULL: the pool keeps its own). Memory for a slot is touched only once the
 * slot is first used. NULL when out of memory. */
struct http1_pool *http1_pool_new(uint32_t slots, http1_emit_fn emit, struct http1_stats *stats);
/* Every connection using the pool must be closed (or dropped) first. */
void http1_pool_free(struct http1_pool *pool);
uint32_t http1_pool_used(const struct http1_pool *pool);

/* Bytes for a connection with its own slots (HTTP1_PENDING_MAX + 1 of them,
 * about 13 KiB): for one connection on its own. */
size_t http1_conn_size(void);
/* Bytes for a connection whose slots come from a shared pool. */
size_t http1_conn_core_size(void);

/* `c` points at http1_conn_size() bytes. role may be UNKNOWN: then the
 * first chunk that starts like a request line decides the direction. */
void http1_init(struct http1_conn *c, enum http1_role role,
		http1_emit_fn emit, void *ctx, struct http1_stats *stats);
/* `c` points at http1_conn_core_size() bytes; its pairs go to the pool's
 * emit with ctx. */
void http1_init_pool(struct http1_conn *c, enum http1_role role, void *ctx,
		     struct http1_pool *pool);

/* One chunk. egress: the traced process wrote it (else: read it).
 * pos: stream offset of its first byte, counted from the first byte sluice
 * could see in that direction (0); full_len bytes were moved and the
 * first cap_len (<= full_len) of them are in buf. A pos beyond what was seen
 * so far, or cap_len < full_len, means bytes are missing: framing continues
 * by counts where lengths are known, otherwise the stream resynchronises at
 * the next chunk that starts a message and affected pairs are incomplete.
 * A pos before what was seen (a replay) is ignored. */
void http1_data(struct http1_conn *c, bool egress, uint64_t ts_ns, uint64_t pos,
		uint32_t full_len, const uint8_t *buf, uint32_t cap_len);

/* The connection closed: a read-until-close response completes; requests
 * still waiting are emitted incomplete. */
void http1_close(struct http1_conn *c, uint64_t ts_ns);

/* Same, knowing each direction's total length in the stream positions'
 * base (e.g. the close event's byte totals): bytes after the last chunk seen
 * were lost, so a read-until-close response that misses its tail is
 * incomplete rather than complete and short. */
void http1_close_totals(struct http1_conn *c, uint64_t ts_ns, uint64_t egress_total,
			uint64_t ingress_total);

/* Gives back every slot without emitting anything (the connection's memory
 * is about to be reused without a close). The connection is dead after. */
void http1_drop(struct http1_conn *c);

/* Checkpoints: a connection's state as bytes that hold no pointers, to be
 * continued by another process. http1_save writes http1_save_size(c) bytes
 * (at most http1_save_max()) to buf when they fit in cap, and returns that
 * size either way. */
size_t http1_save_size(const struct http1_conn *c);
size_t http1_save_max(void);
size_t http1_save(const struct http1_conn *c, void *buf, size_t cap);
/* Continues from `len` saved bytes. c was set up by http1_init or
 * http1_init_pool (its ctx, pool and counters stay) and its own state goes.
 * The bytes are input: state that fails the range checks (a corrupt file),
 * or that needs more slots than the pool has, is not used (not even its
 * role): the connection starts afresh with the role it was set up with, and
 * false is returned. A full shared pool makes room as for a new request. */
bool http1_restore(struct http1_conn *c, const void *saved, size_t len);

#endif

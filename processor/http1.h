/* HTTP/1.x parsing and request/response pairing for one TCP connection.
 * Fed with what the probes saw: chunks of each direction's byte stream,
 * each with its stream position, the number of bytes the syscall moved and
 * the (possibly shorter) captured prefix. Emits one http1_pair per request
 * once its response is complete (or once it can no longer complete).
 * Bounded: fixed-size state per connection, no allocation. */
#ifndef SLUICE_HTTP1_H
#define SLUICE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_METHOD_MAX 16
#define HTTP1_TARGET_MAX 256 /* path + query kept per request; longer is cut */
#define HTTP1_PENDING_MAX 32 /* requests awaiting a response per connection */
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
};

typedef void (*http1_emit_fn)(void *ctx, const struct http1_pair *pair);

struct http1_conn; /* defined in http1.c; opaque size below for embedding */
size_t http1_conn_size(void);

/* `mem` points at http1_conn_size() bytes. role may be UNKNOWN: then the
 * first chunk that starts like a request line decides the direction. */
void http1_init(struct http1_conn *c, enum http1_role role,
		http1_emit_fn emit, void *ctx, struct http1_stats *stats);

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

/* Continues a connection from state saved by copying http1_conn_size()
 * bytes of another http1_conn (a checkpoint across a processor restart).
 * The state holds no pointers; emit, ctx and stats are this process's.
 * State that fails the range checks (a corrupt file) is not used: the
 * connection starts afresh with its saved role, and false is returned. */
bool http1_restore(struct http1_conn *c, const void *saved, http1_emit_fn emit, void *ctx,
		   struct http1_stats *stats);

#endif

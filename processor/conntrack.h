/* The processor's table of live TCP connections, keyed by the kernel's
 * host-unique conn_id. Each entry carries the endpoints, the owning process
 * and the HTTP/1.x pairing state (360 bytes in all). Bounded: a fixed
 * table allocated at start; when it is full the least recently used
 * connection is evicted (its waiting requests are emitted incomplete) and
 * counted. Requests waiting for a response share one pool of max_pending
 * slots (http1.h says what a full pool does). Memory is touched only as
 * the table fills. For incremental checkpoints the table also remembers
 * which connections changed or went since the last one. */
#ifndef SLUICE_CONNTRACK_H
#define SLUICE_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "processor/http1.h"

struct conn {
	uint64_t conn_id;
	uint64_t last_ns;       /* last event seen: LRU order */
	uint32_t tgid;
	uint8_t role;           /* enum sluice_role */
	uint8_t family;         /* AF_INET/AF_INET6, 0 when the open event was lost */
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
	char comm[16];
	uint8_t ckpt;           /* CONN_DIRTY, CONN_SAVED: conntrack's, for checkpoints */
	/* conntrack's links, as slot numbers (half the size of pointers; 0: none) */
	uint32_t hnext;                /* hash chain, or free list */
	uint64_t bytes_sent, bytes_recv;
	uint32_t lru_prev, lru_next;   /* most recent at head */
	struct conntrack *ct;          /* owner, for the emit callback */
	struct http1_conn *http;       /* points just past this struct */
};

struct conntrack_stats {
	uint64_t opened;        /* connections created from open events */
	uint64_t closed;        /* removed on close events */
	uint64_t evicted;       /* removed because the table was full */
	uint64_t unknown;       /* data/close for a conn_id with no open event */
	uint64_t live;          /* currently tracked */
	uint64_t pending;       /* requests waiting for a response (pool slots used) */
	uint64_t pending_max;   /* pool slots */
};

#define CONNTRACK_DEFAULT_PENDING 16384

/* Called for every pair, with the connection it happened on. */
typedef void (*conntrack_pair_fn)(void *ctx, const struct conn *c, const struct http1_pair *p);

struct conntrack;

/* max_pending: slots for waiting requests, 1..HTTP1_POOL_MAX. */
struct conntrack *conntrack_new(uint32_t max_conns, uint32_t max_pending, conntrack_pair_fn fn,
				void *ctx);
void conntrack_free(struct conntrack *ct);

/* Creates (or, for a conn_id already known, refreshes) an entry. */
struct conn *conntrack_open(struct conntrack *ct, uint64_t conn_id, uint64_t ts_ns,
			    uint32_t tgid, uint8_t role);
/* The entry for conn_id, creating a placeholder (counted in unknown) when the
 * open event never arrived. Never NULL. */
struct conn *conntrack_get(struct conntrack *ct, uint64_t conn_id, uint64_t ts_ns,
			   uint32_t tgid);
/* The connection closed having moved these totals (the same base as data
 * positions), so a lost tail of a read-until-close response is noticed. */
void conntrack_close(struct conntrack *ct, uint64_t conn_id, uint64_t ts_ns,
		     uint64_t bytes_sent, uint64_t bytes_recv);
/* Removes a connection without emitting anything (a checkpoint's record
 * that it had closed before the restart: its pairs went out then). */
void conntrack_forget(struct conntrack *ct, uint64_t conn_id);
/* Emits what every connection still waits for (incomplete) and empties the table. */
void conntrack_flush(struct conntrack *ct, uint64_t ts_ns);

/* Calls fn for every live connection, least recently used first. */
void conntrack_foreach(struct conntrack *ct, void (*fn)(void *ctx, struct conn *c), void *ctx);
/* Re-creates a connection from a checkpoint: endpoints and counters from
 * `saved`, HTTP state from `len` bytes of http1_save (checked: bad state
 * starts afresh). It counts as saved, not as changed. */
struct conn *conntrack_restore(struct conntrack *ct, const struct conn *saved, const void *http,
			       size_t len);

/* Changes since the last checkpoint. Off until first asked for (a table
 * without checkpoints tracks nothing). conntrack_changes calls fn once for
 * every connection that changed (c) or went (c NULL) since the previous
 * call or conntrack_changes_reset, and forgets them; false, calling nothing,
 * when more changed than could be remembered (twice max_conns): then the
 * caller saves every live connection and calls conntrack_changes_reset. */
typedef void (*conntrack_change_fn)(void *ctx, uint64_t conn_id, struct conn *c);
bool conntrack_changes(struct conntrack *ct, conntrack_change_fn fn, void *ctx);
/* How many connections conntrack_changes would report at most (ids noted,
 * some maybe twice); UINT32_MAX when it would return false. */
uint32_t conntrack_changes_pending(const struct conntrack *ct);
/* Everything live has just been saved: nothing is changed any more. */
void conntrack_changes_reset(struct conntrack *ct);

const struct conntrack_stats *conntrack_stats(const struct conntrack *ct);
struct http1_stats *conntrack_http_stats(struct conntrack *ct);

#endif

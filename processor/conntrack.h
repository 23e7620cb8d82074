/* The processor's table of live TCP connections, keyed by the kernel's
 * host-unique conn_id. Each entry carries the endpoints, the owning process
 * and the HTTP/1.x pairing state. Bounded: a fixed pool allocated at start;
 * when it is full the least recently used connection is evicted (its
 * waiting requests are emitted incomplete) and counted. */
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
	uint64_t bytes_sent, bytes_recv;
	struct conn *hnext;            /* hash chain */
	struct conn *lru_prev, *lru_next; /* most recent at head */
	struct conntrack *ct;          /* owner, for the emit callback */
	struct http1_conn *http;       /* points just past this struct */
};

struct conntrack_stats {
	uint64_t opened;        /* connections created from open events */
	uint64_t closed;        /* removed on close events */
	uint64_t evicted;       /* removed because the table was full */
	uint64_t unknown;       /* data/close for a conn_id with no open event */
	uint64_t live;          /* currently tracked */
};

/* Called for every pair, with the connection it happened on. */
typedef void (*conntrack_pair_fn)(void *ctx, const struct conn *c, const struct http1_pair *p);

struct conntrack;

struct conntrack *conntrack_new(uint32_t max_conns, conntrack_pair_fn fn, void *ctx);
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
/* Emits what every connection still waits for (incomplete) and empties the table. */
void conntrack_flush(struct conntrack *ct, uint64_t ts_ns);

/* Calls fn for every live connection, least recently used first. */
void conntrack_foreach(struct conntrack *ct, void (*fn)(void *ctx, struct conn *c), void *ctx);
/* Re-creates a connection from a checkpoint: endpoints and counters from
 * `saved`, HTTP state from `http` (http1_conn_size() bytes). */
struct conn *conntrack_restore(struct conntrack *ct, const struct conn *saved, const void *http);

const struct conntrack_stats *conntrack_stats(const struct conntrack *ct);
struct http1_stats *conntrack_http_stats(struct conntrack *ct);

#endif

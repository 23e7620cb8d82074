/* The ip -> name cache: what DNS answers (and, optionally, PTR lookups)
 * said each address is called, until the answer's TTL runs out. Bounded:
 * a fixed table allocated at start; when it is full the least recently
 * used entry goes (counted). Entries changed since the store last took
 * them are kept on a dirty list, so persistence writes each change once.
 * One namespace for the host: addresses are not qualified by netns.
 * Times are Unix ns. Not thread-safe: the pipeline's thread owns it. */
#ifndef SLUICE_DNSCACHE_H
#define SLUICE_DNSCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "processor/dns.h"

#define DNSCACHE_DEFAULT_ENTRIES 16384

enum dnscache_source {
	DNSCACHE_SRC_DNS = 1, /* a DNS answer the probes saw */
	DNSCACHE_SRC_PTR = 2, /* an active PTR lookup (--rdns=active) */
};

struct dnscache_stats {
	uint64_t hits, misses;
	uint64_t inserts;   /* new addresses */
	uint64_t updates;   /* known addresses refreshed or renamed */
	uint64_t evictions; /* entries dropped because the table was full */
	uint64_t expired;   /* entries dropped because their TTL ran out */
	uint64_t entries;   /* now */
	uint64_t dirty;     /* entries changed since dnscache_take_dirty() last ran */
};

/* A read-only view of one entry. */
struct dnscache_entry {
	uint8_t family;       /* AF_INET or AF_INET6 (v4-mapped v6 is stored as v4) */
	uint8_t addr[16];
	uint8_t source;       /* enum dnscache_source */
	const char *name;
	const char *alias;    /* canonical name behind a CNAME chain, or NULL */
	int64_t expires_ns, updated_ns;
};

struct dnscache;

/* max_entries: at least 16. NULL when out of memory. */
struct dnscache *dnscache_new(uint32_t max_entries);
void dnscache_free(struct dnscache *c);

/* addr is called name (alias: NULL or the canonical name) until
 * expires_ns. An entry already expired by now_ns is not stored. */
void dnscache_put(struct dnscache *c, const struct dnscache_entry *e, int64_t now_ns);
/* The name of addr at now_ns, or NULL (counted as hit or miss). An expired
 * entry found on the way is dropped. The string lives until the next call
 * that changes the cache. */
const char *dnscache_get(struct dnscache *c, uint8_t family, const uint8_t *addr,
			 int64_t now_ns);
/* Drops every entry expired at now_ns; returns how many. */
uint32_t dnscache_expire(struct dnscache *c, int64_t now_ns);
/* Hands each entry changed since the last call to fn (oldest change first)
 * and marks it clean. Returns how many. */
uint32_t dnscache_take_dirty(struct dnscache *c,
			     void (*fn)(void *ctx, const struct dnscache_entry *e), void *ctx);

const struct dnscache_stats *dnscache_stats(const struct dnscache *c);

/* Turns a v4-mapped v6 address into v4 in place (family and addr); other
 * addresses are left alone. */
void dnscache_normalize(uint8_t *family, uint8_t addr[16]);

#endif

/* Names for addresses, as the processor's pipeline uses them: DNS packets
 * from the probes go through the parser (dns.h) into the ip -> name cache
 * (dnscache.h); pairs, connections and flows look their addresses up here.
 * The cache is persisted in the metadata store (table dns_names): changed
 * entries are written with the store's commits, expired rows deleted, and
 * a start loads the rows still valid. Optionally (--rdns=active) addresses
 * never seen in an answer are looked up with PTR queries (rdns.h). */
#ifndef SLUICE_NAMES_H
#define SLUICE_NAMES_H

#include <stdint.h>
#include <stdio.h>

#include "processor/conntrack.h"
#include "processor/decode.h"
#include "processor/dnscache.h"
#include "processor/http1.h"

struct names_stats {
	uint64_t packets;     /* DNS events received */
	uint64_t queries;     /* of them, queries (QR = 0) */
	uint64_t responses;   /* responses parsed */
	uint64_t malformed;   /* not a DNS message (or a TCP segment that starts none) */
	uint64_t truncated;   /* responses cut short (capture cap, TC bit, end of bytes) */
	uint64_t answers;     /* address -> name answers taken into the cache */
	uint64_t rows_written; /* dns_names rows written, and deleted as expired */
	uint64_t rows_expired;
	uint64_t rows_loaded; /* valid names loaded from the store at start */
};

struct names;
struct store;
struct metrics;
struct rdns;

/* cache_entries: 0 for DNSCACHE_DEFAULT_ENTRIES. NULL when out of memory. */
struct names *names_new(uint32_t cache_entries);
void names_free(struct names *n);

/* Loads the names the store still holds and writes changes to it from now
 * on. s may be NULL (no store). Call once, before events flow. */
void names_attach_store(struct names *n, struct store *s, int64_t now_unix_ns);
/* Hands misses to r for active PTR lookups (NULL: passive only); answers
 * come back into the cache. names owns r from then on. */
void names_set_rdns(struct names *n, struct rdns *r);

/* One DNS event; unix_ns: its time. */
void names_dns(struct names *n, const struct wire_event *ev, int64_t unix_ns);
/* The name of an address at unix_ns, or NULL. Valid until the next call. */
const char *names_lookup(struct names *n, uint8_t family, const uint8_t *addr, int64_t unix_ns);
/* The name of a pair's server end (the remote end for a client, the local
 * one for a server), or NULL. */
const char *names_pair_server(struct names *n, const struct conn *c, const struct http1_pair *p,
			      int64_t unix_ns);

/* Between frames: expiry sweeps, PTR lookups. */
void names_tick(struct names *n);

const struct names_stats *names_stats(const struct names *n);
const struct dnscache_stats *names_cache_stats(const struct names *n);
/* ,"dns":{...} for the status JSON. */
void names_status_json(const struct names *n, FILE *f);
/* The DNS and cache counters as health metrics. */
void names_metrics(const struct names *n, struct metrics *m);

#endif

/* Active reverse DNS (--rdns=active): PTR queries, through c-ares and the
 * host's resolv.conf, for addresses the pipeline needed a name for and no
 * DNS answer gave. Asynchronous (polled from the processor's loop, never
 * blocking it), rate-limited (a token bucket), and each address is asked
 * at most once per RDNS_RETRY_S whatever the outcome, which is also the
 * negative cache. Loopback, link-local, multicast and unspecified
 * addresses are never asked about. Off by default: the processor sends no
 * traffic of its own unless told to. */
#ifndef SLUICE_RDNS_H
#define SLUICE_RDNS_H

#include <stdint.h>
#include <stdio.h>

#define RDNS_DEFAULT_RATE 20  /* queries per second (and burst) */
#define RDNS_RETRY_S 300      /* an address is asked again after this long */
#define RDNS_QUEUE_MAX 256    /* addresses waiting for a token */
#define RDNS_RECENT_SLOTS 4096 /* addresses remembered as asked (direct-mapped) */

struct rdns_stats {
	uint64_t wanted;       /* addresses handed in */
	uint64_t skipped;      /* ... not worth a query (loopback, recently asked) */
	uint64_t queue_full;   /* ... dropped: the queue was full */
	uint64_t queries;      /* PTR queries sent */
	uint64_t answers;      /* ... that gave a name */
	uint64_t failures;     /* ... that gave none (NXDOMAIN, timeout, garbage) */
};

/* A name for family/addr (valid ttl seconds), at unix_ns. */
typedef void (*rdns_answer_fn)(void *ctx, uint8_t family, const uint8_t *addr,
			       const char *name, uint32_t ttl, int64_t unix_ns);

struct rdns;

/* rate: queries per second (0: RDNS_DEFAULT_RATE). NULL with err filled
 * when c-ares cannot start (no resolv.conf nameserver, no memory). */
struct rdns *rdns_new(uint32_t rate, char *err, size_t errlen);
void rdns_free(struct rdns *r);
void rdns_set_callback(struct rdns *r, rdns_answer_fn fn, void *ctx);
/* Asks for a name for addr unless it was asked recently; never blocks. */
void rdns_want(struct rdns *r, uint8_t family, const uint8_t *addr, int64_t unix_ns);
/* Sends what the rate allows and takes in answers (non-blocking). */
void rdns_poll(struct rdns *r, int64_t unix_ns);

const struct rdns_stats *rdns_stats(const struct rdns *r);
/* ,"rdns":{...} */
void rdns_status_json(const struct rdns *r, FILE *f);
/* "4.3.2.1.in-addr.arpa" / the ip6.arpa nibble form; exposed for tests. */
void rdns_ptr_name(uint8_t family, const uint8_t *addr, char *out, size_t n);

#endif

/* Active reverse DNS (processor/rdns.h) over c-ares. Answers are parsed by
 * sluice's own DNS parser (dns.c) rather than c-ares's helpers: that one is
 * fuzzed, and it gives the record's TTL. */
#include "processor/rdns.h"

#include <ares.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "processor/dns.h"

#define SEC_NS 1000000000LL
#define PTR_NAME_MAX 80 /* 32 nibbles * 2 + "ip6.arpa" */

struct rdns_addr {
	uint8_t family;
	uint8_t addr[16];
};

struct recent {
	struct rdns_addr a;
	int64_t until_ns; /* not asked again before; 0: empty */
};

struct query {
	struct rdns *r;
	struct rdns_addr a;
};

struct rdns {
	ares_channel ch;
	rdns_answer_fn fn;
	void *ctx;
	uint32_t rate;
	double tokens;
	int64_t last_ns;           /* when tokens were last refilled */
	int64_t now_ns;            /* of the poll running callbacks */
	struct rdns_addr queue[RDNS_QUEUE_MAX];
	uint32_t qhead, qlen;
	struct recent recent[RDNS_RECENT_SLOTS];
	struct dns_msg msg;
	struct rdns_stats st;
};

void rdns_ptr_name(uint8_t family, const uint8_t *addr, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (family == AF_INET) {
		snprintf(out, n, "%u.%u.%u.%u.in-addr.arpa", addr[3], addr[2], addr[1], addr[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 4 < n; i--) {
		out[o++] = hex[addr[i] & 15];
		out[o++] = '.';
		out[o++] = hex[addr[i] >> 4];
		out[o++] = '.';
	}
	snprintf(out + o, n - o, "ip6.arpa");
}

/* Addresses no resolver names: unspecified, link-local, multicast and
 * broadcast. (Loopback is asked: resolvers answer 127.0.0.1 and ::1 with
 * "localhost", and local test setups name other 127/8 addresses.) */
static bool not_worth_asking(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (family == AF_INET)
		return a[0] == 0 || (a[0] == 169 && a[1] == 254) || a[0] >= 224;
	return !memcmp(a, zero, 16) || a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

static struct recent *recent_slot(struct rdns *r, const struct rdns_addr *a)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ a->family;

	for (int i = 0; i < 16; i++)
		h = (h ^ a->addr[i]) * 0x100000001b3ULL;
	return &r->recent[(h ^ h >> 29) % RDNS_RECENT_SLOTS];
}

void rdns_want(struct rdns *r, uint8_t family, const uint8_t *addr, int64_t unix_ns)
{
	struct rdns_addr a = { .family = family };
	struct recent *s;

	r->st.wanted++;
	memcpy(a.addr, addr, family == AF_INET ? 4 : 16);
	s = recent_slot(r, &a);
	if (not_worth_asking(family, a.addr) ||
	    (s->until_ns > unix_ns && !memcmp(&s->a, &a, sizeof(a)))) {
		r->st.skipped++;
		return;
	}
	if (r->qlen >= RDNS_QUEUE_MAX) {
		r->st.queue_full++; /* asked again on its next miss */
		return;
	}
	s->a = a;
	s->until_ns = unix_ns + RDNS_RETRY_S * SEC_NS;
	r->queue[(r->qhead + r->qlen++) % RDNS_QUEUE_MAX] = a;
}

static void on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;
	struct rdns *r = q->r;
	const char *name;
	uint32_t ttl;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION) {
		free(q);
		return;
	}
	if (status == ARES_SUCCESS && abuf && alen > 0 &&
	    dns_parse(abuf, (size_t)alen, &r->msg) == 0 && dns_ptr(&r->msg, &name, &ttl) == 0) {
		r->st.answers++;
		if (r->fn)
			r->fn(r->ctx, q->a.family, q->a.addr, name, ttl, r->now_ns);
	} else {
		r->st.failures++; /* the recent table keeps it from being asked again soon */
	}
	free(q);
}

static void send_one(struct rdns *r)
{
	struct query *q = malloc(sizeof(*q));
	char name[PTR_NAME_MAX];

	if (!q)
		return;
	q->r = r;
	q->a = r->queue[r->qhead];
	r->qhead = (r->qhead + 1) % RDNS_QUEUE_MAX;
	r->qlen--;
	r->tokens -= 1;
	rdns_ptr_name(q->a.family, q->a.addr, name, sizeof(name));
	r->st.queries++;
	ares_query(r->ch, name, 1 /* C_IN */, DNS_T_PTR, on_reply, q);
}

/* Non-blocking: whatever sockets are ready now, and timeouts. */
static void pump(struct rdns *r)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	int bits = ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM), n = 0;

	for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = (short)((ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
				   (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0));

		if (ev)
			pfd[n++] = (struct pollfd){ .fd = socks[i], .events = ev };
	}
	if (n && poll(pfd, (nfds_t)n, 0) > 0) {
		for (int i = 0; i < n; i++)
			ares_process_fd(r->ch, pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ?
					pfd[i].fd : ARES_SOCKET_BAD,
					pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
	}
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
}

void rdns_poll(struct rdns *r, int64_t unix_ns)
{
	if (r->last_ns && unix_ns > r->last_ns)
		r->tokens += (double)(unix_ns - r->last_ns) * r->rate / SEC_NS;
	if (r->tokens > r->rate)
		r->tokens = r->rate; /* the burst is one second's worth */
	r->last_ns = unix_ns;
	r->now_ns = unix_ns;
	while (r->qlen && r->tokens >= 1)
		send_one(r);
	pump(r);
}

struct rdns *rdns_new(uint32_t rate, char *err, size_t errlen)
{
	struct ares_options o = { .timeout = 2000, .tries = 2 };
	struct rdns *r;
	int rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return NULL;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->rate = rate ? rate : RDNS_DEFAULT_RATE;
	r->tokens = r->rate;
	if ((rc = ares_init_options(&r->ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES)) !=
	    ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares cannot start (resolv.conf?): %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	return r;
}

void rdns_free(struct rdns *r)
{
	if (!r)
		return;
	ares_destroy(r->ch); /* cancels what is in flight: on_reply frees each query */
	free(r);
	ares_library_cleanup();
}

void rdns_set_callback(struct rdns *r, rdns_answer_fn fn, void *ctx)
{
	r->fn = fn;
	r->ctx = ctx;
}

const struct rdns_stats *rdns_stats(const struct rdns *r)
{
	return &r->st;
}

void rdns_status_json(const struct rdns *r, FILE *f)
{
	fprintf(f, ",\"rdns\":{\"wanted\":%" PRIu64 ",\"skipped\":%" PRIu64
		   ",\"queue_full\":%" PRIu64 ",\"queries\":%" PRIu64 ",\"answers\":%" PRIu64
		   ",\"failures\":%" PRIu64 "}",
		r->st.wanted, r->st.skipped, r->st.queue_full, r->st.queries, r->st.answers,
		r->st.failures);
}

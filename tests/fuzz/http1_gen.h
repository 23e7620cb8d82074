/* A generator of HTTP/1.x conversations whose right answer is known, and a
 * driver that feeds one to processor/http1.c in random chunks with random
 * faults (lost chunks, uncaptured tails, replays) and checks every emitted
 * pair against it. Used by tests/fuzz/http1_fuzz.c (randomness from the
 * input) and tests/unit/http1_test.c (from a PRNG). Header-only on purpose:
 * both are single-file programs.
 *
 * Exchange i has path "/i", status 210 + i and its own body lengths, so a
 * pair that joins request i with another response shows. The promise being
 * checked: a pair marked complete is exactly right, a status reported on an
 * incomplete pair is the right one, nothing is emitted twice; with no
 * faults (and a known role) every exchange comes out complete, in order. */
#ifndef SLUICE_HTTP1_GEN_H
#define SLUICE_HTTP1_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor/http1.h"

#define H1G_MAX 40          /* exchanges per conversation */
#define H1G_BUF (64 * 1024) /* bytes per direction */

/* Returns a number in [0, n); n > 0. */
typedef unsigned (*h1g_rand_fn)(void *st, unsigned n);

struct h1g {
	h1g_rand_fn rnd;
	void *rst;
	int k;                     /* exchanges */
	uint8_t role;              /* what http1_init is told */
	uint8_t true_role;         /* what the conversation is */
	bool faults;               /* any fault injected */
	bool until_close;          /* last response ends with the connection */
	uint32_t pool_slots;       /* > 0: run in a shared pool this small, so
				    * requests are evicted (counted as faults) */
	uint8_t req[H1G_BUF], resp[H1G_BUF];
	size_t req_len, resp_len;
	size_t req_end[H1G_MAX];   /* stream offset just past request i */
	size_t resp_end[H1G_MAX];
	char method[H1G_MAX][8];
	uint64_t req_body[H1G_MAX], resp_body[H1G_MAX];
	int emitted[H1G_MAX];
	int n_pairs, n_complete, last_complete, bad;
	char why[160];             /* first broken promise */
};

static unsigned h1g_r(struct h1g *g, unsigned n)
{
	return n ? g->rnd(g->rst, n) : 0;
}

static size_t h1g_put(uint8_t *buf, size_t len, const char *fmt, size_t n)
{
	if (len + n < H1G_BUF)
		memcpy(buf + len, fmt, n);
	return len + n < H1G_BUF ? len + n : len;
}

#define H1G_PRINTF(g, dir, ...)                                                      \
	do {                                                                         \
		char h_tmp[512];                                                     \
		int h_n = snprintf(h_tmp, sizeof(h_tmp), __VA_ARGS__);               \
		g->dir##_len = h1g_put(g->dir, g->dir##_len, h_tmp, (size_t)h_n);    \
	} while (0)

/* n body bytes: letters only, so no body can look like a start line. */
static void h1g_body(struct h1g *g, bool resp, size_t n)
{
	uint8_t *buf = resp ? g->resp : g->req;
	size_t *len = resp ? &g->resp_len : &g->req_len;

	for (size_t i = 0; i < n && *len < H1G_BUF - 1; i++)
		buf[(*len)++] = (uint8_t)('a' + (i % 26));
}

/* A body in chunks of random sizes, with an extension now and then. */
static void h1g_chunked(struct h1g *g, bool resp, size_t n)
{
	while (n > 0) {
		size_t c = 1 + h1g_r(g, (unsigned)(n < 300 ? n : 300));

		if (resp)
			H1G_PRINTF(g, resp, "%zx%s\r\n", c, h1g_r(g, 4) ? "" : ";x=y");
		else
			H1G_PRINTF(g, req, "%zx%s\r\n", c, h1g_r(g, 4) ? "" : ";x=y");
		h1g_body(g, resp, c);
		if (resp)
			H1G_PRINTF(g, resp, "\r\n");
		else
			H1G_PRINTF(g, req, "\r\n");
		n -= c;
	}
	if (resp)
		H1G_PRINTF(g, resp, "0\r\n%s\r\n", h1g_r(g, 3) ? "" : "T: 1\r\n");
	else
		H1G_PRINTF(g, req, "0\r\n%s\r\n", h1g_r(g, 3) ? "" : "T: 1\r\n");
}

static void h1g_request(struct h1g *g, int i)
{
	static const char *const m[] = { "GET", "GET", "HEAD", "POST", "PUT" };
	const char *method = m[h1g_r(g, 5)];
	size_t body = 0;

	snprintf(g->method[i], sizeof(g->method[i]), "%s", method);
	H1G_PRINTF(g, req, "%s /%d%s HTTP/1.1\r\nHost: h\r\nUser-Agent: gen\r\n", method, i,
		   h1g_r(g, 2) ? "?q=1" : "");
	if (method[0] == 'P') {
		body = h1g_r(g, 700);
		if (h1g_r(g, 2)) {
			H1G_PRINTF(g, req, "Content-Length: %zu\r\n\r\n", body);
			h1g_body(g, false, body);
		} else {
			H1G_PRINTF(g, req, "Transfer-Encoding: chunked\r\n\r\n");
			if (body)
				h1g_chunked(g, false, body);
			else
				H1G_PRINTF(g, req, "0\r\n\r\n");
		}
	} else {
		H1G_PRINTF(g, req, "\r\n");
	}
	g->req_body[i] = body;
	g->req_end[i] = g->req_len;
}

static void h1g_response(struct h1g *g, int i, bool last)
{
	size_t body = h1g_r(g, 900);
	bool head = strcmp(g->method[i], "HEAD") == 0;
	unsigned how = h1g_r(g, last ? 3 : 2);

	if (h1g_r(g, 6) == 0)
		H1G_PRINTF(g, resp, "HTTP/1.1 100 Continue\r\n\r\n");
	H1G_PRINTF(g, resp, "HTTP/1.1 %d OK\r\nServer: gen\r\n", 210 + i);
	if (how == 2 && !head) { /* no length: runs to the close */
		g->until_close = true;
		H1G_PRINTF(g, resp, "Connection: close\r\n\r\n");
		h1g_body(g, true, body);
	} else if (how == 1 && !head) {
		H1G_PRINTF(g, resp, "Transfer-Encoding: chunked\r\n\r\n");
		if (body)
			h1g_chunked(g, true, body);
		else
			H1G_PRINTF(g, resp, "0\r\n\r\n");
	} else {
		H1G_PRINTF(g, resp, "Content-Length: %zu\r\n\r\n", body);
		if (head)
			body = 0;
		h1g_body(g, true, body);
	}
	g->resp_body[i] = body;
	g->resp_end[i] = g->resp_len;
}

static void h1g_fail(struct h1g *g, const char *what, int i)
{
	if (!g->bad++)
		snprintf(g->why, sizeof(g->why), "%s (exchange %d)", what, i);
}

static void h1g_on_pair(void *ctx, const struct http1_pair *p)
{
	struct h1g *g = ctx;
	char *end;
	long i = strtol(p->path + 1, &end, 10);

	g->n_pairs++;
	if (p->path[0] == 0) { /* lost inside its request line: not attributable */
		if (p->complete)
			h1g_fail(g, "complete pair without a path", -1);
		return;
	}
	if (p->path[0] != '/' || *end || i < 0 || i >= g->k) {
		h1g_fail(g, "pair for a request that was never sent", -1);
		return;
	}
	if (g->emitted[i]++)
		h1g_fail(g, "request emitted twice", (int)i);
	if (p->status != 0 && p->status != 210 + i)
		h1g_fail(g, "status of another response", (int)i);
	if (p->role != g->true_role)
		h1g_fail(g, "wrong role", (int)i);
	if (!p->complete)
		return;
	g->n_complete++;
	if (i <= g->last_complete)
		h1g_fail(g, "complete pairs out of order", (int)i);
	g->last_complete = (int)i;
	if (p->req_body != g->req_body[i] || p->resp_body != g->resp_body[i])
		h1g_fail(g, "complete pair with wrong body sizes", (int)i);
	if (g->role != HTTP1_ROLE_UNKNOWN && strcmp(p->method, g->method[i]) != 0)
		h1g_fail(g, "complete pair with wrong method", (int)i);
}

/* Builds a conversation of k exchanges (k <= H1G_MAX). */
static void h1g_build(struct h1g *g, int k)
{
	g->k = k;
	g->req_len = g->resp_len = 0;
	g->until_close = false;
	for (int i = 0; i < k; i++)
		h1g_request(g, i);
	for (int i = 0; i < k; i++)
		h1g_response(g, i, i == k - 1);
}

/* One chunk of a direction: [from, from + len) of its stream, of which the
 * first cap bytes are captured. */
static void h1g_chunk(struct h1g *g, struct http1_conn *c, bool resp, uint64_t ts,
		      size_t from, size_t len, size_t cap)
{
	bool egress = resp == (g->true_role == HTTP1_ROLE_SERVER);

	http1_data(c, egress, ts, from, (uint32_t)len, (resp ? g->resp : g->req) + from,
		   (uint32_t)cap);
}

/* How far feeding has come: bytes of each stream handed over ([1]:
 * responses), and whether the last chunk of each was lost. */
struct h1g_pos {
	size_t at[2];
	bool dropped[2];
	uint64_t ts;
};

/* How far a stream may go now. A response byte goes only after its request
 * was sent whole; requests run at most `depth` ahead of responses. */
static size_t h1g_limit(const struct h1g *g, const struct h1g_pos *s, bool resp, int depth)
{
	int sent = 0, answered = 0;

	while (sent < g->k && g->req_end[sent] <= s->at[0])
		sent++;
	while (answered < g->k && g->resp_end[answered] <= s->at[1])
		answered++;
	if (resp)
		return sent > 0 ? g->resp_end[sent - 1] : 0;
	return answered + depth <= g->k ? g->req_end[answered + depth - 1] : g->req_len;
}

/* One chunk of a stream, up to lim; fault_pct: chance it meets a fault. */
static void h1g_step(struct h1g *g, struct http1_conn *c, struct h1g_pos *s, bool resp,
		     size_t lim, unsigned fault_pct)
{
	size_t *at = &s->at[resp], len = 1 + h1g_r(g, 400), cap, back;

	if (len > lim - *at)
		len = lim - *at;
	cap = len;
	if (h1g_r(g, 100) < fault_pct) {
		unsigned kind = h1g_r(g, 3);

		g->faults = true;
		if (kind == 0) { /* the chunk never arrives */
			*at += len;
			s->dropped[resp] = true;
			return;
		}
		if (kind == 1) { /* its tail is not captured */
			cap = h1g_r(g, (unsigned)len);
		} else if (*at > 0 && !s->dropped[resp]) {
			/* bytes already delivered come again (a resend); lost
			 * bytes never come back */
			back = 1 + h1g_r(g, (unsigned)(*at < 64 ? *at : 64));
			h1g_chunk(g, c, resp, s->ts++, *at - back, back + len, back + len);
			*at += len;
			return;
		}
	}
	h1g_chunk(g, c, resp, s->ts++, *at, len, cap);
	*at += len;
	s->dropped[resp] = false;
}

/* Feeds the conversation in random chunks, fault_pct: chance per chunk of
 * a fault (lost, tail not captured, resent), then closes and checks. */
static void h1g_run(struct h1g *g, struct http1_conn *c, unsigned fault_pct, int depth)
{
	struct h1g_pos s = { .ts = 1 };
	struct http1_stats st = { 0 };
	bool server = g->true_role == HTTP1_ROLE_SERVER;
	struct http1_pool *pool = NULL;

	g->faults = false;
	g->n_pairs = g->n_complete = g->bad = 0;
	g->last_complete = -1;
	memset(g->emitted, 0, sizeof(g->emitted));
	if (g->pool_slots && (pool = http1_pool_new(g->pool_slots, h1g_on_pair, &st)))
		http1_init_pool(c, (enum http1_role)g->role, g, pool);
	else
		http1_init(c, (enum http1_role)g->role, h1g_on_pair, g, &st);
	while (s.at[0] < g->req_len || s.at[1] < g->resp_len) {
		size_t lq = h1g_limit(g, &s, false, depth), ls = h1g_limit(g, &s, true, depth);
		bool can_rq = s.at[0] < lq, can_rs = s.at[1] < ls;

		if (!can_rq && !can_rs)
			break; /* cannot happen with depth >= 1 */
		bool resp = can_rs && (!can_rq || h1g_r(g, 2));

		h1g_step(g, c, &s, resp, resp ? ls : lq, fault_pct);
	}
	/* the totals reveal a lost last chunk; half the time they are unknown */
	if (g->until_close || h1g_r(g, 2))
		http1_close_totals(c, s.ts, s.at[server], s.at[!server]);
	else
		http1_close(c, s.ts);
	if (st.pairs + st.incomplete != (uint64_t)g->n_pairs)
		h1g_fail(g, "stats disagree with pairs emitted", -1);
	if (pool && http1_pool_used(pool) != 0)
		h1g_fail(g, "slots still used after the close", -1);
	http1_pool_free(pool);
	g->faults |= st.pending_evictions > 0;
	/* UNKNOWN may see its first request line split and decide late */
	if (!g->faults && g->role != HTTP1_ROLE_UNKNOWN &&
	    (g->n_complete != g->k || g->n_pairs != g->k))
		h1g_fail(g, "fault-free conversation not all complete", g->n_complete);
}

#endif

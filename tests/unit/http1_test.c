/* Unit tests for processor/http1.c: parsing, pairing, split points, gaps,
 * resync and limits. Each test drives one connection through http1_data /
 * http1_close and checks the pairs it emitted and the counters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor/http1.h"
#include "tests/fuzz/http1_gen.h"
#include "tests/unit/harness.h"

#define REC_MAX 64

/* One connection under test: what it emitted and its stream positions. */
struct fx {
	struct http1_conn *c;
	struct http1_stats st;
	struct http1_pair p[REC_MAX];
	int n;
	uint64_t pos[2];
};

static _Alignas(16) uint8_t fx_mem[64 * 1024];
static struct fx fx;

static void on_pair(void *ctx, const struct http1_pair *p)
{
	struct fx *f = ctx;

	if (f->n < REC_MAX)
		f->p[f->n] = *p;
	f->n++;
}

static struct fx *fx_new(enum http1_role role)
{
	if (http1_conn_size() > sizeof(fx_mem))
		abort();
	memset(&fx, 0, sizeof(fx));
	fx.c = (struct http1_conn *)fx_mem;
	http1_init(fx.c, role, on_pair, &fx, &fx.st);
	return &fx;
}

/* full_len bytes moved, the first cap of them captured. */
static void feed_cut(struct fx *f, bool egress, uint64_t ts, const char *s, uint32_t full,
		     uint32_t cap)
{
	http1_data(f->c, egress, ts, f->pos[egress], full, (const uint8_t *)s, cap);
	f->pos[egress] += full;
}

static void feed(struct fx *f, bool egress, uint64_t ts, const char *s)
{
	feed_cut(f, egress, ts, s, (uint32_t)strlen(s), (uint32_t)strlen(s));
}

/* n bytes of a direction never reach the parser (lost events). */
static void lose(struct fx *f, bool egress, uint64_t n)
{
	f->pos[egress] += n;
}

#define IN false
#define OUT true

static const char GET_REQ[] =
	"GET /index.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n"
	"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
static const char OK_RESP[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

static void test_server_get(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 100, GET_REQ);
	CHECK_EQ_U(f->n, 0);
	feed(f, OUT, 200, OK_RESP);
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].method, "GET");
	CHECK_STR(f->p[0].path, "/index.html");
	CHECK_STR(f->p[0].query, "x=1&y=2");
	CHECK(f->p[0].has_query);
	CHECK_EQ_U(f->p[0].status, 200);
	CHECK_EQ_U(f->p[0].req_body, 0);
	CHECK_EQ_U(f->p[0].resp_body, 5);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->p[0].role, HTTP1_ROLE_SERVER);
	CHECK_EQ_U(f->p[0].start_ns, 100);
	CHECK_EQ_U(f->p[0].end_ns, 200);
	CHECK_EQ_U(f->st.pairs, 1);
	CHECK_EQ_U(f->st.incomplete, 0);
	http1_close(f->c, 300);
	CHECK_EQ_U(f->n, 1);
}

static void test_client_role(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	feed(f, OUT, 10, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(f, IN, 20, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
	feed(f, OUT, 30, "DELETE /b HTTP/1.1\r\n\r\n");
	feed(f, IN, 40, "HTTP/1.1 204 No Content\r\n\r\n");
	REQUIRE(f->n == 2);
	CHECK_STR(f->p[0].path, "/a");
	CHECK(!f->p[0].has_query);
	CHECK_STR(f->p[0].query, "");
	CHECK_EQ_U(f->p[0].status, 404);
	CHECK_EQ_U(f->p[0].resp_body, 9);
	CHECK_EQ_U(f->p[0].role, HTTP1_ROLE_CLIENT);
	CHECK_STR(f->p[1].method, "DELETE");
	CHECK_EQ_U(f->p[1].status, 204);
	CHECK_EQ_U(f->p[1].start_ns, 30);
	CHECK_EQ_U(f->p[1].end_ns, 40);
	CHECK(f->p[0].complete && f->p[1].complete);
}

static bool same_pair(const struct http1_pair *a, const struct http1_pair *b)
{
	return strcmp(a->method, b->method) == 0 && strcmp(a->path, b->path) == 0 &&
	       strcmp(a->query, b->query) == 0 && a->has_query == b->has_query &&
	       a->status == b->status && a->req_body == b->req_body &&
	       a->resp_body == b->resp_body && a->complete == b->complete &&
	       a->start_ns == b->start_ns;
}

/* Feeds msg as two chunks split at `at` (ts, ts + 1); 0 or len: one chunk. */
static void feed_split(struct fx *f, bool egress, uint64_t ts, const char *msg, size_t at)
{
	size_t len = strlen(msg);

	if (at == 0)
		at = len;
	feed_cut(f, egress, ts, msg, (uint32_t)at, (uint32_t)at);
	if (at < len)
		feed_cut(f, egress, ts + 1, msg + at, (uint32_t)(len - at), (uint32_t)(len - at));
}

static const char SPLIT_REQ[] =
	"POST /api/v1/items?id=42 HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n"
	"Expect: 100-continue\r\n\r\n{\"a\":1}";
static const char SPLIT_RESP[] =
	"HTTP/1.1 100 Continue\r\n\r\n"
	"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	"4;name=val\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n";

/* Splitting either message at every byte boundary yields the same pair. */
static void test_split_every_byte(void)
{
	struct http1_pair ref;
	int bad = 0;
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 100, SPLIT_REQ);
	feed(f, OUT, 200, SPLIT_RESP);
	REQUIRE(f->n == 1);
	ref = f->p[0];
	CHECK(ref.complete);
	CHECK_EQ_U(ref.req_body, 7);
	CHECK_EQ_U(ref.resp_body, 20);
	CHECK_EQ_U(ref.status, 201);
	for (size_t at = 0; at <= strlen(SPLIT_REQ); at++) {
		f = fx_new(HTTP1_ROLE_SERVER);
		feed_split(f, IN, 100, SPLIT_REQ, at);
		feed(f, OUT, 200, SPLIT_RESP);
		if (f->n != 1 || !same_pair(&f->p[0], &ref) || f->p[0].end_ns != 200)
			bad++;
	}
	for (size_t at = 0; at <= strlen(SPLIT_RESP); at++) {
		f = fx_new(HTTP1_ROLE_SERVER);
		feed(f, IN, 100, SPLIT_REQ);
		feed_split(f, OUT, 200, SPLIT_RESP, at);
		/* the last byte is in the second chunk unless the split is at the end */
		uint64_t end = (at == 0 || at == strlen(SPLIT_RESP)) ? 200 : 201;

		if (f->n != 1 || !same_pair(&f->p[0], &ref) || f->p[0].end_ns != end)
			bad++;
	}
	CHECK_EQ_U(bad, 0);
}

/* Every byte its own chunk, both directions. */
static void test_one_byte_chunks(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	for (size_t i = 0; i < strlen(SPLIT_REQ); i++)
		feed_cut(f, OUT, 100 + i, SPLIT_REQ + i, 1, 1);
	for (size_t i = 0; i < strlen(SPLIT_RESP); i++)
		feed_cut(f, IN, 1000 + i, SPLIT_RESP + i, 1, 1);
	REQUIRE(f->n == 1);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->p[0].start_ns, 100);
	CHECK_EQ_U(f->p[0].end_ns, 1000 + strlen(SPLIT_RESP) - 1);
	CHECK_STR(f->p[0].path, "/api/v1/items");
	CHECK_STR(f->p[0].query, "id=42");
	CHECK_EQ_U(f->p[0].resp_body, 20);
}

static void test_pipelined_10(void)
{
	char req[4096] = "", resp[4096] = "", line[128];
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
		strcat(req, line);
		snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%.*s",
			 i, i, "0123456789");
		strcat(resp, line);
	}
	feed(f, IN, 1, req);
	CHECK_EQ_U(f->n, 0);
	feed(f, OUT, 2, resp);
	REQUIRE(f->n == 10);
	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "/r%d", i);
		CHECK_STR(f->p[i].path, line);
		CHECK_EQ_U(f->p[i].resp_body, (unsigned)i);
		CHECK(f->p[i].complete);
	}
	CHECK_EQ_U(f->st.pairs, 10);
}

static void test_post_content_length(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "POST /form HTTP/1.1\r\nContent-Length: 11\r\n"
		       "Content-Type: text/plain\r\n\r\nhello");
	feed(f, IN, 2, " world");
	feed(f, OUT, 3, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
	feed(f, IN, 4, "GET /next HTTP/1.1\r\n\r\n");
	feed(f, OUT, 5, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 2);
	CHECK_STR(f->p[0].method, "POST");
	CHECK_EQ_U(f->p[0].req_body, 11);
	CHECK_EQ_U(f->p[0].resp_body, 2);
	CHECK_STR(f->p[1].path, "/next");
	CHECK_EQ_U(f->p[1].resp_body, 0);
	CHECK(f->p[0].complete && f->p[1].complete);
}

static void test_chunked_ext_trailers(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "PUT /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		       "5;a=b;c=\"d\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
		       "0;last\r\nChecksum: abc\r\nX-More: 1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"3\r\nabc\r\n0\r\n\r\n");
	feed(f, IN, 3, "GET /after HTTP/1.1\r\n\r\n");
	feed(f, OUT, 4, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
	REQUIRE(f->n == 2);
	CHECK_EQ_U(f->p[0].req_body, 31);
	CHECK_EQ_U(f->p[0].resp_body, 3);
	CHECK(f->p[0].complete);
	CHECK_STR(f->p[1].path, "/after");
	CHECK(f->p[1].complete);
	CHECK_EQ_U(f->st.resyncs, 0);
}

static void test_head_then_next(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "HEAD /big HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 123456\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	REQUIRE(f->n == 2);
	CHECK_STR(f->p[0].method, "HEAD");
	CHECK_EQ_U(f->p[0].resp_body, 0);
	CHECK(f->p[0].complete);
	CHECK_STR(f->p[1].path, "/small");
	CHECK_EQ_U(f->p[1].resp_body, 3);
	CHECK(f->p[1].complete);
}

static void test_204_304(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	feed(f, OUT, 1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n"
			"GET /c HTTP/1.1\r\n\r\n");
	/* 204/304 have no body even when they carry a length header */
	feed(f, IN, 2, "HTTP/1.1 204 No Content\r\n\r\n"
		       "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"x\"\r\n\r\n"
		       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
	REQUIRE(f->n == 3);
	CHECK_EQ_U(f->p[0].status, 204);
	CHECK_EQ_U(f->p[1].status, 304);
	CHECK_EQ_U(f->p[1].resp_body, 0);
	CHECK_EQ_U(f->p[2].status, 200);
	CHECK_EQ_U(f->p[2].resp_body, 2);
	CHECK(f->p[0].complete && f->p[1].complete && f->p[2].complete);
}

static void test_100_continue(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	feed(f, OUT, 1, "POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
	feed(f, IN, 2, "HTTP/1.1 100 Continue\r\n\r\n");
	CHECK_EQ_U(f->n, 0);
	feed(f, OUT, 3, "data");
	feed(f, IN, 4, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
	CHECK_EQ_U(f->n, 0);
	feed(f, IN, 5, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].status, 200);
	CHECK_EQ_U(f->p[0].req_body, 4);
	CHECK_EQ_U(f->p[0].end_ns, 5);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->st.orphan_responses, 0);
}

static void test_101_then_garbage(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\n\r\n\x81\x05hello");
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].status, 101);
	CHECK(f->p[0].complete);
	feed(f, IN, 3, "\x81\x85garbage that is not HTTP");
	feed(f, OUT, 4, "HTTP/1.1 200 OK\r\n\r\n");
	http1_close(f->c, 5);
	CHECK_EQ_U(f->n, 1);
	CHECK_EQ_U(f->st.resyncs, 0);
	CHECK_EQ_U(f->st.orphan_responses, 0);
	CHECK_EQ_U(f->st.not_http, 0);
}

static void test_connect_tunnel(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	feed(f, OUT, 1, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
	feed(f, IN, 2, "HTTP/1.1 200 Connection established\r\n\r\n");
	feed(f, OUT, 3, "\x16\x03\x01\x02\x00");
	http1_close(f->c, 4);
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "example.com:443");
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->st.resyncs, 0);
}

static void test_http10_until_close(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "GET /old HTTP/1.0\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>");
	feed(f, OUT, 3, "</html>");
	CHECK_EQ_U(f->n, 0);
	http1_close(f->c, 9);
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].resp_body, 13);
	CHECK_EQ_U(f->p[0].end_ns, 9);
	CHECK(f->p[0].complete);
}

static void test_connection_close(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	/* with a length: complete at the body's end, close adds nothing */
	feed(f, IN, 1, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
	CHECK_EQ_U(f->n, 1);
	http1_close(f->c, 3);
	CHECK_EQ_U(f->n, 1);
	CHECK(f->p[0].complete);
	/* without one: the body runs to the close; a gap in it makes it incomplete */
	f = fx_new(HTTP1_ROLE_SERVER);
	feed(f, IN, 1, "GET /b HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc");
	lose(f, OUT, 100);
	feed(f, OUT, 3, "def");
	http1_close(f->c, 4);
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].resp_body, 106);
	CHECK(!f->p[0].complete);
	CHECK_EQ_U(f->st.resyncs, 0);
	/* its last chunk lost: only the close event's byte totals can tell */
	f = fx_new(HTTP1_ROLE_SERVER);
	feed(f, IN, 1, "GET /c HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.0 200 OK\r\n\r\nabc");
	http1_close_totals(f->c, 3, f->pos[OUT] + 50, f->pos[IN]);
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].resp_body, 53);
	CHECK(!f->p[0].complete);
	f = fx_new(HTTP1_ROLE_SERVER);
	feed(f, IN, 1, "GET /d HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.0 200 OK\r\n\r\nabc");
	http1_close_totals(f->c, 3, f->pos[OUT], f->pos[IN]);
	REQUIRE(f->n == 1);
	CHECK(f->p[0].complete);
}

/* cap_len < full_len inside a Content-Length body: counts carry the framing. */
static void test_body_larger_than_capture(void)
{
	static char big[20000];
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);
	int h;

	h = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n");
	memset(big + h, 'x', 10000);
	feed(f, IN, 1, "GET /big HTTP/1.1\r\n\r\n");
	feed_cut(f, OUT, 2, big, (uint32_t)h + 10000, 4096);
	REQUIRE(f->n == 1);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->p[0].resp_body, 10000);
	CHECK_EQ_U(f->p[0].end_ns, 2);
	/* same inside a chunk's data, and for a request body */
	h = snprintf(big, sizeof(big), "POST /c HTTP/1.1\r\nContent-Length: 5000\r\n\r\nxxxx");
	feed_cut(f, IN, 3, big, (uint32_t)h - 4 + 5000, (uint32_t)h);
	feed(f, OUT, 4, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\nxx");
	lose(f, OUT, 4094);
	feed(f, OUT, 5, "\r\n0\r\n\r\n");
	REQUIRE(f->n == 2);
	CHECK(f->p[1].complete);
	CHECK_EQ_U(f->p[1].req_body, 5000);
	CHECK_EQ_U(f->p[1].resp_body, 4096);
	feed(f, IN, 6, "GET /next HTTP/1.1\r\n\r\n");
	feed(f, OUT, 7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 3);
	CHECK_STR(f->p[2].path, "/next");
	CHECK(f->p[2].complete);
	CHECK_EQ_U(f->st.resyncs, 0);
}

/* Request headers cut: nobody knows how many requests the gap held, so
 * no response is paired again; later requests are still recorded. */
static void test_gap_in_request_headers(void)
{
	static const char r[] = "GET /cut HTTP/1.1\r\nHost: h\r\nCookie: aaaaaaaaaaaa\r\n\r\n";
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "GET /first HTTP/1.1\r\n\r\n");
	feed_cut(f, IN, 2, r, (uint32_t)strlen(r), 30);
	REQUIRE(f->n == 2);
	CHECK_STR(f->p[0].path, "/first");
	CHECK_STR(f->p[1].path, "/cut");
	CHECK(!f->p[0].complete && !f->p[1].complete);
	CHECK_EQ_U(f->p[0].status, 0);
	CHECK_EQ_U(f->st.resyncs, 1);
	feed(f, OUT, 3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	feed(f, IN, 4, "body bytes of something");
	feed(f, IN, 5, "GET /later?q HTTP/1.1\r\n\r\n");
	feed(f, OUT, 6, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 3);
	CHECK_STR(f->p[2].path, "/later");
	CHECK_STR(f->p[2].query, "q");
	CHECK_EQ_U(f->p[2].status, 0);
	CHECK(!f->p[2].complete);
	CHECK_EQ_U(f->st.orphan_responses, 2);
	CHECK_EQ_U(f->st.pairs, 0);
}

/* Response cut with one request waiting: only its response can have been
 * lost, so it is emitted incomplete and pairing goes on. */
static void test_gap_in_response_one_pending(void)
{
	static const char r[] = "HTTP/1.1 500 Oops\r\nX-Long: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	feed(f, OUT, 1, "GET /a HTTP/1.1\r\n\r\n");
	feed_cut(f, IN, 2, r, (uint32_t)strlen(r), 25);
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/a");
	CHECK_EQ_U(f->p[0].status, 500);
	CHECK(!f->p[0].complete);
	CHECK_EQ_U(f->p[0].end_ns, 2);
	CHECK_EQ_U(f->st.resyncs, 1);
	feed(f, IN, 3, "tail of the lost response");
	feed(f, OUT, 4, "GET /b HTTP/1.1\r\n\r\n");
	feed(f, IN, 5, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	REQUIRE(f->n == 2);
	CHECK_STR(f->p[1].path, "/b");
	CHECK_EQ_U(f->p[1].status, 200);
	CHECK(f->p[1].complete);
	/* a gap between responses noticed only after a second request went out:
	 * two were waiting, so neither can be paired any more */
	feed(f, OUT, 6, "GET /c HTTP/1.1\r\n\r\n");
	lose(f, IN, 40);
	feed(f, OUT, 7, "GET /d HTTP/1.1\r\n\r\n");
	feed(f, IN, 8, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	/* /c and /d were both waiting when the gap showed: unsure */
	REQUIRE(f->n == 4);
	CHECK(!f->p[2].complete && !f->p[3].complete);
	CHECK_EQ_U(f->p[3].status, 0);
}

static void test_gap_in_response_three_pending(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-");
	lose(f, OUT, 60);
	feed(f, OUT, 3, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 3);
	for (int i = 0; i < 3; i++) {
		CHECK(!f->p[i].complete);
		CHECK_EQ_U(f->p[i].status, 0); /* none got a status: no wrong pairing */
	}
	CHECK_STR(f->p[2].path, "/3");
	CHECK_EQ_U(f->st.resyncs, 1);
	CHECK_EQ_U(f->st.orphan_responses, 1);
	feed(f, IN, 4, "GET /4 HTTP/1.1\r\n\r\n");
	feed(f, OUT, 5, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	http1_close(f->c, 6);
	REQUIRE(f->n == 4);
	CHECK(!f->p[3].complete);
	CHECK_EQ_U(f->p[3].status, 0);
	CHECK_EQ_U(f->st.pairs, 0);
}

static void test_replay_ignored(void)
{
	static const char req[] = "GET /r HTTP/1.1\r\n\r\n";
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, req);
	http1_data(f->c, false, 2, 0, (uint32_t)strlen(req), (const uint8_t *)req,
		   (uint32_t)strlen(req)); /* the same chunk again */
	feed(f, OUT, 3, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab");
	/* overlaps the last 2 captured bytes, adds "cd" */
	http1_data(f->c, true, 4, f->pos[OUT] - 2, 4, (const uint8_t *)"abcd", 4);
	REQUIRE(f->n == 1);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->p[0].resp_body, 4);
	CHECK_EQ_U(f->p[0].end_ns, 4);
	http1_close(f->c, 5);
	CHECK_EQ_U(f->n, 1);
	CHECK_EQ_U(f->st.resyncs, 0);
	CHECK_EQ_U(f->st.orphan_responses, 0);
}

static void test_garbage(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	/* bad request line after a good exchange */
	feed(f, IN, 1, "GET /ok HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	feed(f, IN, 3, "GET /x HTTP/2.0\r\n\r\n");
	CHECK_EQ_U(f->st.resyncs, 1);
	REQUIRE(f->n == 2);
	CHECK(f->p[0].complete);
	CHECK_STR(f->p[1].path, "/x");
	CHECK(!f->p[1].complete);
	/* non-digit status */
	f = fx_new(HTTP1_ROLE_CLIENT);
	feed(f, OUT, 1, "GET /a HTTP/1.1\r\n\r\n");
	feed(f, IN, 2, "HTTP/1.1 2x0 OK\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK(!f->p[0].complete);
	CHECK_EQ_U(f->st.resyncs, 1);
	/* header line without ':' */
	f = fx_new(HTTP1_ROLE_CLIENT);
	feed(f, OUT, 1, "GET /a HTTP/1.1\r\nthis is not a header\r\n\r\n");
	CHECK_EQ_U(f->st.resyncs, 1);
	REQUIRE(f->n == 1);
	CHECK(!f->p[0].complete);
	/* Content-Length garbage, disagreeing repeats, overflow; obs-fold */
	static const char *const bad[] = {
		"Content-Length: 12abc\r\n", "Content-Length: 1\r\nContent-Length: 2\r\n",
		"Content-Length: 99999999999999999999999\r\n", "Content-Length:\r\n",
		"Content-Length: 1 2\r\n", "Transfer-Encoding: gzip\r\n", "X-A: b\r\n c\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char req[256];

		f = fx_new(HTTP1_ROLE_SERVER);
		feed(f, IN, 1, "GET /ok HTTP/1.1\r\n\r\n");
		snprintf(req, sizeof(req), "POST /p HTTP/1.1\r\n%s\r\n", bad[i]);
		feed(f, IN, 2, req);
		CHECK_EQ_U(f->st.resyncs, 1);
		CHECK_EQ_U(f->n, 2);
		CHECK_EQ_U(f->st.pairs, 0);
	}
	/* agreeing repeats are fine */
	f = fx_new(HTTP1_ROLE_SERVER);
	feed(f, IN, 1, "POST /p HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->p[0].req_body, 2);
}

/* Garbage before any HTTP was seen: the connection is not HTTP. */
static void test_not_http_known_role(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	feed(f, OUT, 1, "*1\r\n$4\r\nPING\r\n"); /* redis */
	feed(f, IN, 2, "+PONG\r\n");
	http1_close(f->c, 3);
	CHECK_EQ_U(f->st.not_http, 1);
	CHECK_EQ_U(f->n, 0);
	CHECK_EQ_U(f->st.resyncs, 0);
	f = fx_new(HTTP1_ROLE_SERVER);
	feed(f, IN, 1, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03");
	feed(f, IN, 2, "GET / HTTP/1.1\r\n\r\n");
	http1_close(f->c, 3);
	CHECK_EQ_U(f->st.not_http, 1);
	CHECK_EQ_U(f->n, 0);
}

static void test_unknown_role(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_UNKNOWN);

	/* requests arrive: we are the server */
	feed(f, IN, 1, "GET /u HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].role, HTTP1_ROLE_SERVER);
	CHECK(f->p[0].complete);
	/* we send requests: client */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	feed(f, OUT, 1, "OPTIONS * HTTP/1.1\r\n\r\n");
	feed(f, IN, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].role, HTTP1_ROLE_CLIENT);
	CHECK_STR(f->p[0].path, "*");
	/* seen mid-life (positions count from when tracking began): a response
	 * body's tail, then a status line decides; request bytes went by, but
	 * none that could hold a request line, so pairing goes on */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	feed(f, OUT, 1, "xxxxxxxxxx");
	feed(f, IN, 2, "ers: 1\r\n\r\n");
	feed(f, OUT, 3, "HTTP/1.1 204 No Content\r\n\r\n");
	CHECK_EQ_U(f->st.orphan_responses, 1);
	feed(f, IN, 4, "GET /m HTTP/1.1\r\n\r\n");
	feed(f, OUT, 5, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/m");
	CHECK_EQ_U(f->p[0].role, HTTP1_ROLE_SERVER);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->st.not_http, 0);
}

/* Seen mid-life, bytes went by before the role was known. Skipped request
 * bytes that may hold a request line, or request bytes lost, mean a request
 * may still be owed a response: nothing is paired. Skipped response bytes
 * that may hold a status line while a request waits: same. */
static void test_unknown_midlife_strict(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_UNKNOWN);

	feed(f, IN, 1, "T /a HTTP/1.1\r\n\r\n"); /* "GET" cut: not decisive */
	feed(f, IN, 2, "GET /b HTTP/1.1\r\n\r\n");
	feed(f, OUT, 3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/b");
	CHECK(!f->p[0].complete); /* the 200 may well have been /a's */
	CHECK_EQ_U(f->st.orphan_responses, 1);
	/* request bytes missing before the first decisive chunk */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	lose(f, IN, 100);
	feed(f, IN, 1, "GET /c HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK(!f->p[0].complete);
	/* decided by a response; then skipped request bytes hold a request line */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	feed(f, IN, 1, "zzzz");
	feed(f, OUT, 2, "HTTP/1.1 204 No Content\r\n\r\n");
	feed(f, IN, 3, "tail of an upload, then PUT /x HTTP/1.1\r\n\r\n");
	feed(f, IN, 4, "GET /z HTTP/1.1\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/z");
	CHECK(!f->p[0].complete);
	feed(f, OUT, 5, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ_U(f->st.orphan_responses, 2);
	CHECK_EQ_U(f->st.pairs, 0);
	/* decided by a request; skipped response bytes hold a status line while
	 * /m waits: it may have been /m's response or not */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	feed(f, OUT, 1, "xxxx");
	feed(f, IN, 2, "GET /m HTTP/1.1\r\n\r\n");
	feed(f, OUT, 3, "yyyy end of a body HTTP/1.1 200 OK\r\n");
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/m");
	CHECK(!f->p[0].complete);
	CHECK_EQ_U(f->st.resyncs, 0);
	/* also when the status line is split across two skipped chunks */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	feed(f, OUT, 1, "xxxx");
	feed(f, IN, 2, "GET /m HTTP/1.1\r\n\r\n");
	feed(f, OUT, 3, "yyyy more of an old body HT");
	feed(f, OUT, 4, "TP/1.1 200 OK\r\n");
	CHECK_EQ_U(f->n, 1);
	/* skipped bytes that cannot hold one change nothing */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	feed(f, OUT, 1, "xxxx");
	feed(f, IN, 2, "GET /m HTTP/1.1\r\n\r\n");
	feed(f, OUT, 3, "yyyy more of an old body");
	feed(f, OUT, 4, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/m");
	CHECK(f->p[0].complete);
}

static void test_tls_not_http(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_UNKNOWN);

	feed(f, OUT, 1, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
	feed(f, IN, 2, "HTTP/1.1 200 OK\r\n\r\n");
	http1_close(f->c, 3);
	CHECK_EQ_U(f->st.not_http, 1);
	CHECK_EQ_U(f->n, 0);
	/* mid-life non-HTTP: undecided bytes run out the budget */
	f = fx_new(HTTP1_ROLE_UNKNOWN);
	static uint8_t junk[1000];
	memset(junk, 0xab, sizeof(junk));
	for (int i = 0; i < 5; i++) {
		http1_data(f->c, true, 1, 100 + i * 1000, 1000, junk, 1000);
		http1_data(f->c, false, 1, 100 + i * 1000, 1000, junk, 1000);
	}
	CHECK_EQ_U(f->st.not_http, 1);
}

static void test_oversized(void)
{
	static char buf[80000];
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);
	int n;

	/* method longer than kept: cut */
	feed(f, IN, 1, "VERYLONGMETHODNAMEX / HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 405 No\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_EQ_U(strlen(f->p[0].method), HTTP1_METHOD_MAX - 1);
	CHECK(f->p[0].complete);
	/* target longer than kept: path cut, the '?' beyond the cut still noted */
	n = snprintf(buf, sizeof(buf), "GET /");
	memset(buf + n, 'p', 1000);
	n += 1000;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "?q=1 HTTP/1.1\r\n\r\n");
	feed(f, IN, 3, buf);
	feed(f, OUT, 4, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 2);
	CHECK_EQ_U(strlen(f->p[1].path), HTTP1_TARGET_MAX - 1);
	CHECK(f->p[1].has_query);
	CHECK_STR(f->p[1].query, "");
	CHECK(f->p[1].complete);
	/* a query that is itself cut */
	n = snprintf(buf, sizeof(buf), "GET /p?");
	memset(buf + n, 'q', 600);
	n += 600;
	snprintf(buf + n, sizeof(buf) - (size_t)n, " HTTP/1.1\r\n\r\n");
	feed(f, IN, 5, buf);
	feed(f, OUT, 6, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 3);
	CHECK_STR(f->p[2].path, "/p");
	CHECK_EQ_U(strlen(f->p[2].query), HTTP1_TARGET_MAX - 4);
	/* headers beyond the limit: framing is abandoned, nothing overflows */
	n = snprintf(buf, sizeof(buf), "GET /h HTTP/1.1\r\nX-Big: ");
	memset(buf + n, 'v', 70000);
	n += 70000;
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n\r\n");
	feed(f, IN, 7, buf);
	CHECK_EQ_U(f->st.resyncs, 1);
	REQUIRE(f->n == 4);
	CHECK_STR(f->p[3].path, "/h");
	CHECK(!f->p[3].complete);
	/* a method-like token beyond any method's length is garbage */
	f = fx_new(HTTP1_ROLE_SERVER);
	feed(f, IN, 1, "GET / HTTP/1.1\r\n\r\n");
	memset(buf, 'A', 100);
	snprintf(buf + 100, 50, " / HTTP/1.1\r\n\r\n");
	feed(f, IN, 2, buf);
	CHECK_EQ_U(f->st.resyncs, 1);
}

/* More requests than the queue holds: the extra ones are emitted
 * incomplete, and their responses must not be paired with later requests.
 * Response i carries status 200 + i, so a wrong pairing shows. */
static void test_pending_overflow(void)
{
	char line[128];
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);
	int total = HTTP1_PENDING_MAX + 4, complete = 0, wrong = 0;

	for (int i = 0; i < total; i++) {
		snprintf(line, sizeof(line), "GET /%d HTTP/1.1\r\n\r\n", i);
		feed(f, IN, 1, line);
	}
	CHECK_EQ_U(f->st.pending_overflow, 4);
	CHECK_EQ_U(f->n, 4);
	/* one answer, then a new request: it must queue behind the overflowed
	 * ones, so it overflows too */
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	feed(f, IN, 3, "GET /late HTTP/1.1\r\n\r\n");
	CHECK_EQ_U(f->st.pending_overflow, 5);
	for (int i = 1; i <= total; i++) {
		snprintf(line, sizeof(line), "HTTP/1.1 %d OK\r\nContent-Length: 0\r\n\r\n", 200 + i);
		feed(f, OUT, 4, line);
	}
	/* every phantom answered: pairing by order resumes */
	feed(f, IN, 5, "GET /again HTTP/1.1\r\n\r\n");
	feed(f, OUT, 6, "HTTP/1.1 299 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == total + 2);
	for (int i = 0; i < f->n; i++) {
		if (!f->p[i].complete)
			continue;
		complete++;
		if (strcmp(f->p[i].path, "/again") == 0)
			wrong += f->p[i].status != 299;
		else
			wrong += f->p[i].status != 200 + atoi(f->p[i].path + 1);
	}
	CHECK_EQ_U(wrong, 0);
	CHECK_EQ_U(complete, HTTP1_PENDING_MAX + 1);
	CHECK_EQ_U(f->st.orphan_responses, 0);
	CHECK_EQ_U(f->st.incomplete, 5);
}

static void test_close_without_response(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	feed(f, OUT, 1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	feed(f, IN, 2, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
	http1_close(f->c, 7);
	REQUIRE(f->n == 2);
	CHECK_EQ_U(f->p[0].status, 200); /* seen, but its body was cut by the close */
	CHECK(!f->p[0].complete);
	CHECK_EQ_U(f->p[1].status, 0);
	CHECK(!f->p[1].complete);
	CHECK_EQ_U(f->p[1].end_ns, 7);
	CHECK_EQ_U(f->st.incomplete, 2);
}

/* The server answers before the request body is in (e.g. 413). */
static void test_early_response(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "POST /up HTTP/1.1\r\nContent-Length: 6\r\n\r\nab");
	feed(f, OUT, 2, "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ_U(f->n, 0);
	feed(f, IN, 3, "cdef");
	REQUIRE(f->n == 1);
	CHECK_EQ_U(f->p[0].status, 413);
	CHECK_EQ_U(f->p[0].req_body, 6);
	CHECK_EQ_U(f->p[0].end_ns, 2);
	CHECK(f->p[0].complete);
}

static void test_lf_only_and_orphan(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, OUT, 1, "HTTP/1.1 200 OK\nContent-Length: 1\n\nx"); /* no request yet */
	CHECK_EQ_U(f->st.orphan_responses, 1);
	feed(f, IN, 2, "\r\nGET /lf HTTP/1.1\nHost: h\n\n");
	feed(f, OUT, 3, "HTTP/1.1 200\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n");
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/lf");
	CHECK_EQ_U(f->p[0].resp_body, 2);
	CHECK(f->p[0].complete);
}

/* An overflowed HEAD: its response's framing is unknowable from a counter. */
static void test_overflowed_head(void)
{
	char line[64];
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	for (int i = 0; i < HTTP1_PENDING_MAX; i++) {
		snprintf(line, sizeof(line), "GET /%d HTTP/1.1\r\n\r\n", i);
		feed(f, IN, 1, line);
	}
	feed(f, IN, 2, "HEAD /h HTTP/1.1\r\n\r\n");
	CHECK_EQ_U(f->n, HTTP1_PENDING_MAX + 1);
	CHECK_EQ_U(f->st.pairs, 0);
	feed(f, OUT, 3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ_U(f->st.pairs, 0);
	CHECK_EQ_U(f->st.pending_overflow, 1);
}

/* A gap that takes a Content-Length body exactly to its end; gaps between
 * responses. */
static void test_gap_ends_body(void)
{
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);

	feed(f, IN, 1, "GET /g HTTP/1.1\r\n\r\n");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
	lose(f, OUT, 90);
	feed(f, IN, 3, "GET /h HTTP/1.1\r\n\r\n");
	feed(f, OUT, 4, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 2);
	CHECK(f->p[0].complete);
	CHECK_EQ_U(f->p[0].resp_body, 100);
	CHECK(f->p[1].complete);
	/* bytes missing between responses with no request waiting answered
	 * nothing: the status line after them is an orphan, pairing goes on */
	lose(f, OUT, 1);
	feed(f, OUT, 5, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ_U(f->st.resyncs, 1);
	CHECK_EQ_U(f->st.orphan_responses, 1);
	feed(f, IN, 6, "GET /i HTTP/1.1\r\n\r\n");
	feed(f, OUT, 7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 3);
	CHECK_STR(f->p[2].path, "/i");
	CHECK(f->p[2].complete);
	/* with one waiting, they may have been only an interim 100 Continue:
	 * the next status line may or may not be its answer */
	feed(f, IN, 8, "POST /j HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
	lose(f, OUT, 25); /* "HTTP/1.1 100 Continue\r\n\r\n" */
	feed(f, IN, 9, "x");
	feed(f, OUT, 10, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	feed(f, IN, 11, "GET /k HTTP/1.1\r\n\r\n");
	feed(f, OUT, 12, "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 5);
	CHECK(!f->p[3].complete && !f->p[4].complete);
	CHECK_EQ_U(f->p[3].status, 0);
	CHECK_EQ_U(f->p[4].status, 0); /* not the 200, which was /j's */
	CHECK_EQ_U(f->st.resyncs, 2);
}

/* Response losses where one request waits but the lost bytes need not be
 * its response: they must not be taken as its answer. */
static void test_gap_response_not_its_answer(void)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct fx *f = fx_new(HTTP1_ROLE_CLIENT);

	/* cut inside an interim response: the final one is still to come */
	feed(f, OUT, 1, "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
	feed_cut(f, IN, 2, cont, (uint32_t)strlen(cont), 17);
	feed(f, OUT, 3, "x");
	feed(f, IN, 4, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	feed(f, OUT, 5, "GET /b HTTP/1.1\r\n\r\n");
	feed(f, IN, 6, "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 2);
	CHECK_STR(f->p[1].path, "/b");
	CHECK_EQ_U(f->p[1].status, 0); /* not the 200, which was /a's */
	CHECK_EQ_U(f->st.pairs, 0);
	/* cut inside a response that began before the request it would answer
	 * was seen (an orphan): the request's own answer is still to come */
	f = fx_new(HTTP1_ROLE_SERVER);
	feed(f, OUT, 1, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
	feed(f, IN, 2, "GET /c HTTP/1.1\r\n\r\n");
	lose(f, OUT, 97 + 10);
	feed(f, OUT, 3, "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 1);
	CHECK_STR(f->p[0].path, "/c");
	CHECK_EQ_U(f->p[0].status, 0);
	CHECK(!f->p[0].complete);
	CHECK_EQ_U(f->st.pairs, 0);
}

/* State saved mid-conversation (a checkpoint) continues elsewhere; a
 * corrupt copy starts afresh instead of being trusted. */
static void test_restore(void)
{
	static _Alignas(16) uint8_t saved[64 * 1024], other[64 * 1024];
	struct http1_conn *c2 = (struct http1_conn *)other;
	struct fx *f = fx_new(HTTP1_ROLE_SERVER);
	size_t n;

	feed(f, IN, 1, "GET /a HTTP/1.1\r\n\r\nPOST /b?x HTTP/1.1\r\nContent-Len");
	feed(f, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab");
	n = http1_save(f->c, saved, sizeof(saved));
	REQUIRE(n <= sizeof(saved) && n == http1_save_size(f->c));
	memset(f->c, 0xee, http1_conn_size()); /* the old process is gone */
	http1_init(c2, HTTP1_ROLE_UNKNOWN, on_pair, f, &f->st);
	CHECK(http1_restore(c2, saved, n));
	f->c = c2;
	feed(f, OUT, 3, "cd");
	feed(f, IN, 4, "gth: 2\r\n\r\nxy");
	feed(f, OUT, 5, "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n");
	REQUIRE(f->n == 2);
	CHECK_STR(f->p[0].path, "/a");
	CHECK_EQ_U(f->p[0].resp_body, 4);
	CHECK_STR(f->p[1].path, "/b");
	CHECK_STR(f->p[1].query, "x");
	CHECK_EQ_U(f->p[1].req_body, 2);
	CHECK_EQ_U(f->p[1].status, 201);
	CHECK(f->p[0].complete && f->p[1].complete);
	/* corrupt: the bytes scribbled on */
	f = fx_new(HTTP1_ROLE_CLIENT);
	feed(f, OUT, 1, "GET /c HTTP/1.1\r\n\r\n");
	n = http1_save(f->c, saved, sizeof(saved));
	for (size_t i = 0; i < 200; i++)
		saved[i] ^= 0x5a;
	http1_init(c2, HTTP1_ROLE_CLIENT, on_pair, f, &f->st);
	CHECK(!http1_restore(c2, saved, n));
	f->c = c2;
	f->pos[0] = f->pos[1] = 0;
	feed(f, OUT, 2, "GET /d HTTP/1.1\r\n\r\n");
	feed(f, IN, 3, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ_U(f->n, 1);
	/* cut short: not a whole state */
	n = http1_save(f->c, saved, sizeof(saved));
	http1_init(c2, HTTP1_ROLE_UNKNOWN, on_pair, f, &f->st);
	CHECK(!http1_restore(c2, saved, n - 1));
	CHECK(!http1_restore(c2, saved, 3));
}

/* ---- a shared pool: connections A and B, a few slots ---- */

struct pooled {
	struct http1_pool *pool;
	struct http1_stats st;
	struct fx a, b; /* their pairs and positions; .c points into mem */
	_Alignas(16) uint8_t mem[2][1024];
};

static void pooled_pair(void *ctx, const struct http1_pair *p)
{
	on_pair(ctx, p);
}

static struct pooled *pooled_new(uint32_t slots)
{
	static struct pooled pd;

	if (http1_conn_core_size() > sizeof(pd.mem[0]))
		abort();
	http1_pool_free(pd.pool);
	memset(&pd, 0, sizeof(pd));
	pd.pool = http1_pool_new(slots, pooled_pair, &pd.st);
	pd.a.c = (struct http1_conn *)pd.mem[0];
	pd.b.c = (struct http1_conn *)pd.mem[1];
	http1_init_pool(pd.a.c, HTTP1_ROLE_SERVER, &pd.a, pd.pool);
	http1_init_pool(pd.b.c, HTTP1_ROLE_SERVER, &pd.b, pd.pool);
	return &pd;
}

static void get(struct fx *f, uint64_t ts, const char *path)
{
	char line[128];

	snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n\r\n", path);
	feed(f, IN, ts, line);
}

static void status(struct fx *f, uint64_t ts, int code)
{
	char line[128];

	snprintf(line, sizeof(line), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", code);
	feed(f, OUT, ts, line);
}

/* The pool is full: the connection with the oldest request gives all of
 * its requests back (emitted incomplete); their responses, when they come,
 * answer nothing else, and pairing on it resumes after them. */
static void test_pool_evicts_oldest(void)
{
	struct pooled *pd = pooled_new(4);

	REQUIRE(pd->pool);
	get(&pd->a, 1, "/a1");
	get(&pd->a, 2, "/a2");
	get(&pd->a, 3, "/a3");
	get(&pd->b, 4, "/b1");
	CHECK_EQ_U(http1_pool_used(pd->pool), 4);
	get(&pd->b, 5, "/b2"); /* A's are the oldest */
	CHECK_EQ_U(pd->st.pending_evictions, 1);
	CHECK_EQ_U(pd->st.pending_evicted, 3);
	CHECK_EQ_U(http1_pool_used(pd->pool), 2);
	REQUIRE(pd->a.n == 3);
	CHECK(!pd->a.p[0].complete && !pd->a.p[2].complete);
	CHECK_STR(pd->a.p[2].path, "/a3");
	CHECK_EQ_U(pd->a.p[0].status, 0);
	status(&pd->a, 6, 201);
	status(&pd->a, 7, 202);
	status(&pd->a, 8, 203);
	get(&pd->a, 9, "/a4");
	status(&pd->a, 10, 204);
	REQUIRE(pd->a.n == 4);
	CHECK_STR(pd->a.p[3].path, "/a4");
	CHECK_EQ_U(pd->a.p[3].status, 204);
	CHECK(pd->a.p[3].complete);
	status(&pd->b, 11, 211);
	status(&pd->b, 12, 212);
	REQUIRE(pd->b.n == 2);
	CHECK_EQ_U(pd->b.p[0].status, 211);
	CHECK_EQ_U(pd->b.p[1].status, 212);
	CHECK_EQ_U(pd->st.orphan_responses, 0);
	CHECK_EQ_U(pd->st.pairs, 3);
	CHECK_EQ_U(pd->st.incomplete, 3);
	http1_close(pd->a.c, 13);
	http1_close(pd->b.c, 13);
	CHECK_EQ_U(http1_pool_used(pd->pool), 0);
}

/* Evicted in the middle of a response: that response ends as a phantom's,
 * the next one pairs. */
static void test_pool_evict_mid_response(void)
{
	struct pooled *pd = pooled_new(2);

	REQUIRE(pd->pool);
	get(&pd->a, 1, "/a1");
	feed(&pd->a, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
	get(&pd->b, 3, "/b1");
	get(&pd->b, 4, "/b2");
	REQUIRE(pd->a.n == 1);
	CHECK(!pd->a.p[0].complete);
	feed(&pd->a, OUT, 5, "cde");
	get(&pd->a, 6, "/a2");
	status(&pd->a, 7, 202);
	REQUIRE(pd->a.n == 2);
	CHECK_STR(pd->a.p[1].path, "/a2");
	CHECK_EQ_U(pd->a.p[1].status, 202);
	CHECK(pd->a.p[1].complete);
	CHECK_EQ_U(pd->st.orphan_responses, 0);
}

/* A connection evicted while a request is being read, or holding a HEAD
 * whose response cannot be framed without it, stops pairing: requests
 * are still reported, responses are not guessed at. */
static void test_pool_evict_unsure(void)
{
	struct pooled *pd = pooled_new(2);

	REQUIRE(pd->pool);
	feed(&pd->a, IN, 1, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
	get(&pd->b, 2, "/b1");
	get(&pd->b, 3, "/b2"); /* A's request is the oldest */
	REQUIRE(pd->a.n == 1);
	CHECK_STR(pd->a.p[0].path, "/up");
	CHECK(!pd->a.p[0].complete);
	feed(&pd->a, IN, 4, "defghij");
	status(&pd->a, 5, 200);
	get(&pd->a, 6, "/a2");
	status(&pd->a, 7, 200);
	CHECK_EQ_U(pd->st.pairs, 0);
	for (int i = 0; i < pd->a.n; i++)
		CHECK(!pd->a.p[i].complete && pd->a.p[i].status == 0);

	pd = pooled_new(1);
	REQUIRE(pd->pool);
	feed(&pd->a, IN, 1, "HEAD /h HTTP/1.1\r\n\r\n");
	get(&pd->b, 2, "/b1");
	feed(&pd->a, OUT, 3, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
	get(&pd->a, 4, "/a2");
	feed(&pd->a, OUT, 5, "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_EQ_U(pd->a.n, 2);
	for (int i = 0; i < pd->a.n; i++)
		CHECK(!pd->a.p[i].complete && pd->a.p[i].status == 0);
}

/* One connection with more requests than the pool: it evicts itself. */
static void test_pool_self_eviction(void)
{
	struct pooled *pd = pooled_new(2);

	REQUIRE(pd->pool);
	feed(&pd->a, IN, 1, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
	CHECK_EQ_U(pd->a.n, 3);
	CHECK_EQ_U(pd->st.pending_evicted, 2);
	CHECK_EQ_U(pd->st.pending_overflow, 1);
	status(&pd->a, 2, 201);
	status(&pd->a, 3, 202);
	status(&pd->a, 4, 203);
	get(&pd->a, 5, "/4");
	status(&pd->a, 6, 204);
	REQUIRE(pd->a.n == 4);
	CHECK_EQ_U(pd->a.p[3].status, 204);
	CHECK_EQ_U(pd->st.pairs, 1);
	CHECK_EQ_U(pd->st.orphan_responses, 0);
	http1_close(pd->a.c, 7);
	CHECK_EQ_U(http1_pool_used(pd->pool), 0);
}

/* Restoring into a full pool makes room the same way. */
static void test_pool_restore(void)
{
	static _Alignas(16) uint8_t saved[64 * 1024];
	struct pooled *pd = pooled_new(3);
	size_t n;

	REQUIRE(pd->pool);
	feed(&pd->a, IN, 1, "GET /a1 HTTP/1.1\r\n\r\nGET /a2 HTTP/1.1\r\n\r\n");
	n = http1_save(pd->a.c, saved, sizeof(saved));
	http1_close(pd->a.c, 2);
	pd->a.n = 0;
	get(&pd->b, 3, "/b1");
	get(&pd->b, 4, "/b2");
	get(&pd->b, 5, "/b3");
	http1_init_pool(pd->a.c, HTTP1_ROLE_UNKNOWN, &pd->a, pd->pool);
	CHECK(http1_restore(pd->a.c, saved, n));
	CHECK_EQ_U(pd->b.n, 3); /* B gave its requests back */
	status(&pd->a, 6, 201);
	status(&pd->a, 7, 202);
	REQUIRE(pd->a.n == 2);
	CHECK_STR(pd->a.p[0].path, "/a1");
	CHECK_EQ_U(pd->a.p[1].status, 202);
	CHECK(pd->a.p[1].complete);
	/* more than the pool can ever hold: refused */
	pd = pooled_new(1);
	REQUIRE(pd->pool);
	CHECK(!http1_restore(pd->a.c, saved, n));
	CHECK_EQ_U(http1_pool_used(pd->pool), 0);
}

static unsigned xorshift(void *st, unsigned n)
{
	uint64_t *x = st;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (unsigned)(*x >> 32) % n;
}

/* Generated conversations (tests/fuzz/http1_gen.h) in random chunks, with
 * and without faults, every role and pipelining depth: no pair is ever
 * wrong, and without faults every one is complete. */
static void test_generated_conversations(void)
{
	static struct h1g g;
	uint64_t x = 0x2545f4914f6cdd1dull;
	int bad = 0, complete = 0, pairs = 0;

	for (int run = 0; run < 600; run++) {
		memset(&g, 0, sizeof(g));
		g.rnd = xorshift;
		g.rst = &x;
		g.true_role = run & 1 ? HTTP1_ROLE_CLIENT : HTTP1_ROLE_SERVER;
		g.role = run % 3 == 0 ? HTTP1_ROLE_UNKNOWN : g.true_role;
		h1g_build(&g, 1 + (int)xorshift(&x, H1G_MAX));
		h1g_run(&g, fx_new(HTTP1_ROLE_UNKNOWN)->c, run % 2 ? 0 : 1 + run % 20,
			1 + run % 7);
		if (g.bad && !bad++)
			fprintf(stderr, "  run %d: %s\n", run, g.why);
		complete += g.n_complete;
		pairs += g.n_pairs;
	}
	CHECK_EQ_U(bad, 0);
	CHECK(complete > pairs / 2); /* the faults did not just turn pairing off */
}

/* The same through a pool of 1 to 8 slots: requests are evicted at every
 * point of the conversation, and still no pair is wrong. */
static void test_generated_small_pool(void)
{
	static struct h1g g;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int bad = 0, evicting = 0;

	for (int run = 0; run < 600; run++) {
		memset(&g, 0, sizeof(g));
		g.rnd = xorshift;
		g.rst = &x;
		g.pool_slots = 1 + run % 8;
		g.true_role = run & 1 ? HTTP1_ROLE_CLIENT : HTTP1_ROLE_SERVER;
		g.role = run % 3 == 0 ? HTTP1_ROLE_UNKNOWN : g.true_role;
		h1g_build(&g, 1 + (int)xorshift(&x, H1G_MAX));
		h1g_run(&g, fx_new(HTTP1_ROLE_UNKNOWN)->c, run % 4 ? 0 : 1 + run % 20,
			1 + run % 12);
		if (g.bad && !bad++)
			fprintf(stderr, "  run %d: %s\n", run, g.why);
		evicting += g.faults;
	}
	CHECK_EQ_U(bad, 0);
	CHECK(evicting > 100);
}

RUN_TESTS("http1",
	  TEST(test_server_get), TEST(test_client_role), TEST(test_split_every_byte),
	  TEST(test_one_byte_chunks), TEST(test_pipelined_10), TEST(test_post_content_length),
	  TEST(test_chunked_ext_trailers), TEST(test_head_then_next), TEST(test_204_304),
	  TEST(test_100_continue), TEST(test_101_then_garbage), TEST(test_connect_tunnel),
	  TEST(test_http10_until_close), TEST(test_connection_close),
	  TEST(test_body_larger_than_capture), TEST(test_gap_in_request_headers),
	  TEST(test_gap_in_response_one_pending), TEST(test_gap_in_response_three_pending),
	  TEST(test_replay_ignored), TEST(test_garbage), TEST(test_not_http_known_role),
	  TEST(test_unknown_role), TEST(test_unknown_midlife_strict), TEST(test_tls_not_http),
	  TEST(test_oversized), TEST(test_pending_overflow), TEST(test_close_without_response),
	  TEST(test_early_response), TEST(test_lf_only_and_orphan), TEST(test_overflowed_head),
	  TEST(test_gap_ends_body), TEST(test_gap_response_not_its_answer), TEST(test_restore),
	  TEST(test_generated_conversations), TEST(test_generated_small_pool),
	  TEST(test_pool_evicts_oldest),
	  TEST(test_pool_evict_mid_response), TEST(test_pool_evict_unsure),
	  TEST(test_pool_self_eviction), TEST(test_pool_restore))

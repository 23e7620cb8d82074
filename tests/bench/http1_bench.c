/* Throughput of processor/http1.c on one core: a keep-alive connection
 * carrying a typical ~200-byte GET and ~300-byte response, each one chunk.
 *   gcc -I. -O2 tests/bench/http1_bench.c processor/http1.c -o /tmp/http1_bench
 * Prints pairs/s and MB/s; exits non-zero if a pair came out incomplete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "processor/http1.h"

static const char REQ[] =
	"GET /api/v1/users/12345/orders?limit=20&offset=40 HTTP/1.1\r\n"
	"Host: shop.internal.example.com\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) curl/7.88.1\r\n"
	"Accept: application/json\r\n"
	"Accept-Encoding: gzip, deflate\r\n"
	"Connection: keep-alive\r\n\r\n";
static const char RESP[] =
	"HTTP/1.1 200 OK\r\n"
	"Server: nginx/1.22.1\r\n"
	"Date: Sun, 22 Nov 2026 06:46:35 GMT\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 96\r\n"
	"Connection: keep-alive\r\n"
	"Cache-Control: no-cache\r\n"
	"X-Request-Id: 5f1c2a7e-9b3d-4e8a-a1f0-3c9d8e7b6a54\r\n\r\n"
	"{\"orders\":[{\"id\":1,\"total\":12.5},{\"id\":2,\"total\":7.25}],"
	"\"next\":\"/api/v1/users/12345/orders?o=60\"}";

static unsigned long long pairs, bad;

static void on_pair(void *ctx, const struct http1_pair *p)
{
	(void)ctx;
	pairs++;
	bad += !p->complete;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000000;
	struct http1_stats st = { 0 };
	struct http1_conn *c = malloc(http1_conn_size());
	uint32_t rl = sizeof(REQ) - 1, sl = sizeof(RESP) - 1;
	uint64_t rpos = 0, spos = 0;
	struct timespec a, b;
	double s;

	if (!c)
		return 1;
	http1_init(c, HTTP1_ROLE_SERVER, on_pair, NULL, &st);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		http1_data(c, false, (uint64_t)i * 2, rpos, rl, (const uint8_t *)REQ, rl);
		http1_data(c, true, (uint64_t)i * 2 + 1, spos, sl, (const uint8_t *)RESP, sl);
		rpos += rl;
		spos += sl;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("request %u B, response %u B: %llu pairs in %.3f s = %.0f pairs/s, %.0f MB/s\n",
	       rl, sl, pairs, s, (double)pairs / s, (double)(rl + sl) * (double)pairs / s / 1e6);
	free(c);
	return pairs == (unsigned long long)n && bad == 0 ? 0 : 1;
}

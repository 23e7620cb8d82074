/* Output formatting: JSON strings are always valid JSON and valid UTF-8
 * whatever bytes the traffic held; addresses print as users expect. */
#include <string.h>
#include <sys/socket.h>

#include "processor/output.h"
#include "tests/unit/harness.h"

static void json_of(const char *in, char *out, size_t n)
{
	FILE *f = fmemopen(out, n, "w");

	output_json_str(f, in);
	fclose(f);
}

static void test_json_escapes(void)
{
	char buf[256];

	json_of("/plain/path?x=1", buf, sizeof(buf));
	CHECK_STR(buf, "\"/plain/path?x=1\"");
	json_of("a\"b\\c", buf, sizeof(buf));
	CHECK_STR(buf, "\"a\\\"b\\\\c\"");
	json_of("\x01tab\there\x7f", buf, sizeof(buf));
	CHECK_STR(buf, "\"\\u0001tab\\u0009here\\u007f\"");
	json_of("caf\xc3\xa9", buf, sizeof(buf));
	CHECK_STR(buf, "\"caf\\u00c3\\u00a9\"");
	json_of("", buf, sizeof(buf));
	CHECK_STR(buf, "\"\"");
	json_of("\"", buf, sizeof(buf));
	CHECK_STR(buf, "\"\\\"\"");
}

static void test_addresses(void)
{
	char buf[64];
	const uint8_t v4[4] = { 127, 0, 0, 1 };
	uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 };
	uint8_t v6[16] = { 0 };

	v6[15] = 1;
	output_addr(buf, sizeof(buf), AF_INET, v4);
	CHECK_STR(buf, "127.0.0.1");
	output_addr(buf, sizeof(buf), AF_INET6, mapped);
	CHECK_STR(buf, "10.1.2.3");
	output_addr(buf, sizeof(buf), AF_INET6, v6);
	CHECK_STR(buf, "::1");
	output_addr(buf, sizeof(buf), AF_INET, (const uint8_t[4]){ 255, 10, 0, 199 });
	CHECK_STR(buf, "255.10.0.199");
	output_addr(buf, sizeof(buf), 0, v6);
	CHECK_STR(buf, "unknown");
}

/* The exact JSON line: the formatter writes fields itself (no fprintf),
 * so pin every field, escapes, extremes and both roles. */
static void test_jsonl_line(void)
{
	static char out[8192];
	struct conn c = { .conn_id = 18446744073709551615ull, .tgid = 4294967295u, .role = 2,
			  .family = AF_INET, .lport = 8080, .rport = 65535 };
	struct http1_pair p = { .start_ns = 1000, .end_ns = 4000, .status = 404,
				.resp_body = 1234567890123ull, .complete = 1 };
	struct output o = { .boot_to_unix_ns = 1700000000000000000ll };
	const uint8_t a[4] = { 10, 0, 200, 7 }, b[4] = { 127, 0, 0, 1 };
	FILE *f = fmemopen(out, sizeof(out), "w");

	REQUIRE(f);
	memcpy(c.laddr, a, 4);
	memcpy(c.raddr, b, 4);
	strcpy(p.method, "GET");
	strcpy(p.path, "/a\"b\\c\x01\xc3\xa9");
	strcpy(p.query, "x=1&y");
	p.has_query = 1;
	o.jsonl = f;
	output_pair(&o, &c, &p, "nginx", NULL);
	p.status = 0;
	p.complete = 0;
	p.has_query = 0;
	p.role = 1;
	p.end_ns = 10;
	c.family = AF_INET6;
	memset(c.laddr, 0, 16);
	c.laddr[15] = 1;
	memset(c.raddr, 0, 16);
	c.raddr[10] = c.raddr[11] = 0xff;
	c.raddr[12] = 192;
	c.raddr[15] = 9;
	output_pair(&o, &c, &p, "cu\"rl", "example.com");
	fclose(f);
	CHECK_STR(out, "{\"time_unix_nano\":1700000000000001000,\"duration_ns\":3000,\"span.kind\":\"server\",\"process.pid\":4294967295,\"process.executable.name\":\"nginx\",\"client.address\":\"127.0.0.1\",\"client.port\":65535,\"server.address\":\"10.0.200.7\",\"server.port\":8080,\"network.peer.address\":\"127.0.0.1\",\"network.peer.port\":65535,\"http.request.method\":\"GET\",\"url.path\":\"/a\\\"b\\\\c\\u0001\\u00c3\\u00a9\",\"url.query\":\"x=1&y\",\"http.response.status_code\":404,\"http.request.body.size\":0,\"http.response.body.size\":1234567890123,\"sluice.complete\":true,\"sluice.conn_id\":18446744073709551615}\n"
		       "{\"time_unix_nano\":1700000000000001000,\"duration_ns\":0,\"span.kind\":\"client\",\"process.pid\":4294967295,\"process.executable.name\":\"cu\\\"rl\",\"client.address\":\"::1\",\"client.port\":8080,\"server.address\":\"example.com\",\"server.port\":65535,\"network.peer.address\":\"192.0.0.9\",\"network.peer.port\":65535,\"http.request.method\":\"GET\",\"url.path\":\"/a\\\"b\\\\c\\u0001\\u00c3\\u00a9\",\"http.request.body.size\":0,\"http.response.body.size\":1234567890123,\"sluice.complete\":false,\"sluice.conn_id\":18446744073709551615}\n");
	CHECK_EQ_U(o.pairs, 2);
}

RUN_TESTS("output", TEST(test_json_escapes), TEST(test_addresses),
	  TEST(test_jsonl_line))

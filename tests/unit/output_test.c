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
	output_addr(buf, sizeof(buf), 0, v6);
	CHECK_STR(buf, "unknown");
}

RUN_TESTS("output", TEST(test_json_escapes), TEST(test_addresses))

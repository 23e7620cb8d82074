/* Fuzzes processor/config.c: any bytes as a config file. The parser must
 * never crash or leak, every error must be one "name:line: message" line,
 * and what it accepted must be within the bounds its keys promise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* Each error line starts with the file name and ends with a newline. */
static void check_errors(const struct config *c)
{
	const char *p = c->errors;
	int lines = 0;

	check((c->nerrors == 0) == (p == NULL));
	while (p && *p) {
		const char *nl = strchr(p, '\n');

		check(nl != NULL && strncmp(p, "fuzz.conf:", 10) == 0);
		p = nl + 1;
		lines++;
	}
	check(lines == (c->nerrors > CONFIG_MAX_ERRORS ? CONFIG_MAX_ERRORS + 1 : c->nerrors));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;

	config_defaults(&c);
	config_parse(&c, "fuzz.conf", (const char *)data, size);
	check_errors(&c);
	check(c.max_series >= 1 && c.max_series <= 1000000);
	check(c.max_conns == 0 || (c.max_conns >= 16 && c.max_conns <= (1u << 24)));
	check(c.otlp_interval_ms >= 100 && c.otlp_batch >= 1 && c.otlp_queue >= 1);
	check(!c.socket || strlen(c.socket) <= 100);
	for (size_t i = 0; i < c.nselect; i++)
		check(c.select[i].metric != NULL && (c.select[i].include || !c.select[i].ninclude));
	config_free(&c);
	return 0;
}

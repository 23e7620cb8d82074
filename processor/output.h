/* Where completed pairs go: JSON lines (OpenTelemetry semantic-convention
 * field names) and/or one human-readable line per pair. */
#ifndef SLUICE_OUTPUT_H
#define SLUICE_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "processor/conntrack.h"
#include "processor/http1.h"

struct output {
	FILE *jsonl;        /* NULL: no JSON lines */
	FILE *human;        /* NULL: no human lines */
	int64_t boot_to_unix_ns; /* added to boot-time stamps to get Unix time */
	uint64_t pairs;     /* pairs written */
};

/* server_name: the server end's DNS name (names.h), or NULL: it then shows
 * as server.address and the IP stays in network.peer.address. */
void output_pair(struct output *o, const struct conn *c, const struct http1_pair *p,
		 const char *process_name, const char *server_name);
/* Writes `s` as a JSON string (quoted, escaped; bytes >= 0x80 as \u00XX so
 * the output is always valid UTF-8 whatever the traffic held). */
void output_json_str(FILE *f, const char *s);
/* Formats an address (v4, v6, v4-mapped v6 shown as v4) into buf. */
void output_addr(char *buf, size_t n, uint8_t family, const uint8_t *addr);

#endif

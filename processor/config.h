/* The processor's config file (--config, default /etc/sluice/sluice.conf):
 * an INI-like `key = value` format with [sections], parsed strictly: a
 * typo or a wrong type is an error with file:line and what was expected,
 * and the processor refuses to start. processor/sluice.conf.example is the
 * reference. Command-line flags override what the file says. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "processor/metrics.h"

#define CONFIG_DEFAULT_PATH "/etc/sluice/sluice.conf"
#define CONFIG_MAX_ERRORS 20

struct config {
	/* [processor]: NULL / 0 / false when the file does not say; main.c's
	 * flags and defaults decide then */
	char *socket, *jsonl, *status, *state;
	uint32_t max_conns;
	bool quiet, verbose;

	/* [export] */
	char *metrics_listen;        /* HOST:PORT, or "none" */
	char *otlp_endpoint;         /* base URL (+ /v1/traces, /v1/metrics); NULL: off */
	char *otlp_traces_endpoint;  /* full URLs, when a signal goes elsewhere */
	char *otlp_metrics_endpoint;
	char *otlp_headers;          /* "name=value, name=value" */
	bool otlp_traces, otlp_metrics;
	uint32_t otlp_interval_ms;   /* metrics push period */
	uint32_t otlp_timeout_ms;    /* one request */
	uint32_t otlp_retry_ms;      /* give a batch up after retrying this long */
	uint32_t otlp_batch;         /* spans per request */
	uint32_t otlp_queue;         /* spans waiting, at most */

	/* [metrics] and [attributes "<metric glob>"] */
	uint32_t max_series;
	bool routes;                 /* false: no http.route / url.template */
	struct metrics_select *select;
	size_t nselect;
	uint32_t *select_line;       /* where each selector began */

	/* what went wrong: one "file:line: message" per line */
	char *errors;
	size_t errors_len;
	int nerrors;
};

/* Fills c with the defaults (nothing to free yet). */
void config_defaults(struct config *c);
/* Parses text (len bytes, need not be NUL-terminated) named `name` in
 * messages, over what c holds. Returns the number of errors (in c->errors). */
int config_parse(struct config *c, const char *name, const char *text, size_t len);
/* config_defaults + the file at path. A missing file is fine unless
 * `explicit` (the user named it). Returns 0, or -1 with c->errors set. */
int config_load(struct config *c, const char *path, bool explicit);
/* Sets one key as the file would, checked the same way; errors name
 * `origin` (a flag: "--otlp-endpoint: ..."). Returns the number of errors. */
int config_set(struct config *c, const char *section, const char *key, const char *value,
	       const char *origin);
void config_free(struct config *c);

/* Levenshtein distance, exposed for the tests of did-you-mean. */
size_t config_distance(const char *a, const char *b);

#endif

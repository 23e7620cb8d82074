/* Network flows as the processor sees them: the loader's FLOW events (the
 * kernel's per-flow counts since the previous report) become the counters
 * sluice_network_flow_bytes_total / _packets_total, with the ends named by
 * DNS when a name is known and the owner (process, container, pod) as
 * attributes, and rows of the store's flows table (totals per flow).
 * What is counted: L4 payload bytes and GSO segments (events.h). */
#ifndef SLUICE_FLOWS_H
#define SLUICE_FLOWS_H

#include <stdint.h>
#include <stdio.h>

#include "processor/decode.h"

#define FLOWS_PENDING_MAX 8192    /* distinct flows waiting for one store commit */
#define FLOWS_STORE_MAX_ROWS 100000 /* newest flow rows kept */
#define FLOWS_STORE_MAX_AGE_S (7 * 86400)

struct flows_stats {
	uint64_t events;         /* FLOW events */
	uint64_t bytes_out, bytes_in, pkts_out, pkts_in; /* their sums */
	uint64_t rows_written;   /* flows rows inserted or updated */
	uint64_t rows_dropped;   /* flow updates lost: the pending table was full */
	uint64_t replay_skipped; /* events of batches stored before a restart */
	uint64_t rows_pruned;
};

struct flows;
struct names;
struct metrics;
struct store;

/* names: for the ends' names (may be NULL). */
struct flows *flows_new(struct names *names);
void flows_free(struct flows *f);
/* Where measurements and rows go; either may be NULL (none). */
void flows_set_metrics(struct flows *f, struct metrics *m);
void flows_attach_store(struct flows *f, struct store *s);

/* One FLOW event from batch seq; unix_ns: its time. */
void flows_event(struct flows *f, uint64_t seq, const struct wire_event *ev, int64_t unix_ns);

const struct flows_stats *flows_stats(const struct flows *f);
/* ,"flows":{...} for the status JSON. */
void flows_status_json(const struct flows *f, FILE *out);

#endif

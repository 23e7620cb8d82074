/* The processor's pipeline state and its steps, shared by main.c and tests:
 * a frame goes in, pairs come out through `output`. */
#ifndef SLUICE_PROCESSOR_H
#define SLUICE_PROCESSOR_H

#include <stdint.h>

#include "common/records.h"
#include "processor/conntrack.h"
#include "processor/decode.h"
#include "processor/output.h"

struct checkpoint;
struct export;
struct flows;
struct names;
struct store;

struct processor {
	struct conntrack *ct;
	struct output out;
	struct decode_stats dec;
	uint64_t done_seq;                 /* last frame fully processed */
	uint64_t loss[SLUICE_LOSS_MAX];    /* totals reported by the loader, all epochs */
	uint64_t loss_epoch[SLUICE_LOSS_MAX]; /* the epoch of the newest report (0: any) */
	uint64_t loss_cur[SLUICE_LOSS_MAX];   /* its total, counted since that epoch */
	uint64_t by_type[SLUICE_EV_MAX + 1]; /* events handled, per type */
	struct export *exp;                /* metrics and OTLP (export.h); NULL: none */
	struct store *store;               /* metadata store (store.h); NULL: --db none */
	struct checkpoint *ckpt;           /* checkpoint writer (checkpoint.h); NULL: none yet */
	uint64_t peers_refused;            /* loader sockets refused for their uid (main.c) */
	uint64_t frame_seq;                /* seq of the frame being processed */
	struct names *names;               /* DNS names for addresses (names.h) */
	struct flows *flows;               /* flow counters and rows (flows.h) */
};

int processor_init(struct processor *p, uint32_t max_conns);
/* max_pending: requests waiting for a response, all connections together. */
int processor_init_limits(struct processor *p, uint32_t max_conns, uint32_t max_pending);
void processor_fini(struct processor *p);
/* Handles one frame from the loader. Returns the decode_frame result. */
int processor_frame(struct processor *p, const void *buf, size_t len);
/* Periodic work between frames (store commits). now_ns: CLOCK_MONOTONIC. */
void processor_tick(struct processor *p, uint64_t now_ns);
/* Writes the counters as one JSON object (for status files and sluicectl). */
void processor_status_json(const struct processor *p, FILE *f);

#endif

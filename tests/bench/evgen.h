/* Synthetic event streams for the benchmarks: server-side HTTP/1.1
 * keep-alive traffic as the probes would see it (CONN_OPEN, request DATA,
 * response DATA, ..., CONN_CLOSE), built as common/records.h records and
 * framed as the loader frames them (version 4: each record as a bin, after
 * the loader's own header check, tests/tools/wire_pack.c) into batch frames
 * shaped like loader/spool.c's. Used by tests/tools/frame_gen.c
 * (a synthetic loader) and tests/bench/proc_bench.c. */
#ifndef SLUICE_EVGEN_H
#define SLUICE_EVGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* The loader's batch bounds (loader/loader.h): frames look like its frames. */
#define EVGEN_FRAME_EVENTS 4096
#define EVGEN_FRAME_BYTES (512u << 10)
#define EVGEN_HEAD_LEN 16

struct evgen_conn {
	uint64_t conn_id;
	uint64_t in_pos, out_pos; /* stream positions per direction */
	uint32_t pairs;           /* responses sent on this connection */
	uint8_t step;             /* what it emits next: enum in evgen.c */
};

struct evgen {
	uint32_t nconns;          /* connections open at once */
	uint32_t pairs_per_conn;  /* pairs before close; 0: never close */
	bool idle_after;          /* after pairs_per_conn pairs: stay open, idle */
	uint32_t tgid;
	struct evgen_conn *conns;
	uint32_t rr;              /* round-robin cursor over conns */
	uint32_t idle;            /* connections that went idle */
	uint64_t next_conn_id, ts_ns;
	/* what was generated */
	uint64_t events, pairs, opens, closes;
	uint8_t *rec;             /* record under construction */
};

/* conn ids start at first_conn_id; 0 on success, -ENOMEM. */
int evgen_init(struct evgen *g, uint32_t nconns, uint32_t pairs_per_conn, bool idle_after,
	       uint64_t first_conn_id);
void evgen_free(struct evgen *g);
/* Appends the next event to pk. false when every connection is idle. */
bool evgen_next(struct evgen *g, msgpack_packer *pk);

/* One batch frame being built: [WIRE_VERSION, seq, [events...]] with the
 * loader's fixed 16-byte head, count and seq stamped at the end. */
struct evframe {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint32_t events;
	uint64_t pairs;  /* responses inside */
};

void evframe_init(struct evframe *f);
void evframe_free(struct evframe *f);
bool evframe_full(const struct evframe *f);
/* Stamps count and seq; the frame is f->sb.data, f->sb.size bytes, until
 * evframe_reset. */
void evframe_finish(struct evframe *f, uint64_t seq);
void evframe_reset(struct evframe *f);
/* Adds the next generated event to the frame; false when g is exhausted. */
bool evframe_add(struct evframe *f, struct evgen *g);

#endif

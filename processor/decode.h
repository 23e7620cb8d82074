/* Strict decoding of loader frames (Contract 2, common/wire.h) into
 * wire_event values that point into the frame buffer (no copies). */
#ifndef SLUICE_DECODE_H
#define SLUICE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/records.h"
#include "common/wire.h"

/* Any Contract-1 record: an aligned copy to read one's fields from. */
union wire_record {
	struct sluice_ev_header h;
	struct sluice_ev_exec exec;
	struct sluice_ev_exit exit;
	struct sluice_ev_conn_open open;
	struct sluice_ev_conn_close close;
	struct sluice_ev_data data;
	struct sluice_ev_loss loss;
	struct sluice_ev_listen listen;
	struct sluice_ev_dns dns;
	struct sluice_ev_flow flow;
};

/* The layout each type has in this version (index = type, 0: none): a
 * record is at least this long (DATA: exactly this plus its payload). */
extern const uint16_t wire_record_size[SLUICE_EV_MAX + 1];

struct wire_event {
	uint8_t type;   /* enum sluice_event_type */
	uint16_t flags; /* SLUICE_FLAG_SNAPSHOT (EXEC, LISTEN); 0 for other types */
	uint64_t ts_ns;
	uint32_t tgid, tid;
	union {
		struct {
			uint32_t ppid, uid, pidns_ino, ns_pid;
			uint64_t cgroup_id, start_ns;
			const uint8_t *comm, *exe;
			uint32_t comm_len, exe_len;
			/* argv as in memory: NUL-separated, maybe cut short;
			 * empty from a version 1 loader */
			const uint8_t *cmdline;
			uint32_t cmdline_len;
		} exec;
		struct {
			int32_t code;
			uint64_t start_ns;
		} exit;
		struct {
			uint64_t conn_id;
			uint8_t role, family;
			uint16_t lport, rport;
			uint32_t netns;
			const uint8_t *laddr, *raddr; /* 4 or 16 bytes by family */
			const uint8_t *comm;
			uint32_t comm_len;
		} open;
		struct {
			uint64_t conn_id, bytes_sent, bytes_recv;
		} close;
		struct {
			uint64_t conn_id, pos;
			uint8_t direction, syscall;
			uint32_t full_len, cap_len;
			const uint8_t *payload;
		} data;
		struct {
			uint32_t kind;
			uint64_t total;
			uint64_t epoch; /* counters started then (CLOCK_REALTIME ns); 0 from v1 */
		} loss;
		struct {
			uint8_t family, listening; /* listening: 1 started, 0 stopped */
			uint16_t port;
			uint32_t netns;
			const uint8_t *addr; /* 4 or 16 bytes by family */
		} listen;
		struct {
			uint8_t family, proto, direction; /* direction: SLUICE_DIR_EGRESS = sent */
			uint16_t sport, dport;
			uint32_t full_len, cap_len;
			uint64_t cgroup_id;
			const uint8_t *saddr, *daddr; /* 4 or 16 bytes by family */
			const uint8_t *payload;       /* cap_len bytes of the L4 payload */
		} dns;
		struct {
			uint8_t family, proto;
			uint16_t lport, rport;
			uint64_t cgroup_id, conn_id;
			uint64_t bytes_out, bytes_in, pkts_out, pkts_in; /* L4 payload, segments */
			const uint8_t *laddr, *raddr; /* 4 or 16 bytes by family */
			const uint8_t *comm;          /* the socket creator's; comm_len 0: unknown */
			uint32_t comm_len;
		} flow;
	};
};

struct decode_stats {
	uint64_t frames;        /* frames decoded (header valid) */
	uint64_t bad_frames;    /* frames rejected whole: bad header or version */
	uint64_t events;        /* events delivered */
	uint64_t bad_events;    /* events skipped as malformed */
	uint64_t replays;       /* frames skipped: seq already processed */
};

/* Items per event type in a version 3 frame, header included. */
extern const uint8_t wire_v3_items[10];

typedef void (*decode_event_fn)(void *ctx, const struct wire_event *ev);

/* Decodes one frame (versions 1..WIRE_VERSION); calls fn for each valid event
 * in order. Items appended by a newer loader are skipped; ones an older
 * loader did not send read as 0/empty. Returns the
 * number of events delivered; -EPROTO when the frame header is invalid, or
 * -EALREADY when its seq is <= done_seq (a replay): nothing is delivered
 * then. *seq is set whenever the header is valid. */
int decode_frame(const void *buf, size_t len, uint64_t done_seq, uint64_t *seq,
		 decode_event_fn fn, void *ctx, struct decode_stats *st);

/* The ack for seq (common/wire.h): the one message the processor sends. */
void wire_ack_encode(uint8_t out[WIRE_ACK_LEN], uint64_t seq);

#endif

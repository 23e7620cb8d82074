/* Contract 2: the loader -> processor frames (msgpack) and the processor ->
 * loader ack. The encoder (wire_enc.c) is linked by the loader; the strict
 * decoder lives in processor/decode.c because the loader never unpacks
 * msgpack: the one input it takes, the ack, has a fixed 11-byte encoding.
 *
 * Batch frame:  [WIRE_VERSION, seq, [event, ...]]      (array of 3)
 * Events, each a msgpack array whose first four items are
 *   [type, ts_ns, tgid, tid, ...]:
 *   EXEC       + [ppid, uid, cgroup_id, pidns_ino, ns_pid, start_ns, comm str, exe str,
 *                 cmdline bin (<= 256, argv NUL-separated, maybe cut), flags]      (v2: last 2)
 *   EXIT       + [exit_code (int), start_ns]
 *   CONN_OPEN  + [conn_id, role, family, laddr bin(4|16), lport, raddr bin(4|16), rport, netns, comm str]
 *   CONN_CLOSE + [conn_id, bytes_sent, bytes_recv]
 *   DATA       + [conn_id, direction, syscall, pos, full_len, payload bin]
 *   LOSS       + [kind, total, epoch]  (tgid = tid = 0; totals since `epoch`, the
 *                                      CLOCK_REALTIME ns the counters started at: a
 *                                      replay is harmless, a new epoch restarted them)  (v2: epoch)
 *   LISTEN     + [family, addr bin(4|16), port, netns, listening (1 start, 0 stop), flags]  (v2)
 *   DNS        + [family, proto, direction, saddr bin(4|16), sport, daddr bin(4|16), dport,
 *                 cgroup_id, full_len, payload bin (<= SLUICE_DNS_CAP)]  (v3; tgid = the
 *                 socket's owner or 0, tid = 0)
 *   FLOW       + [family, proto, laddr bin(4|16), lport, raddr bin(4|16), rport, cgroup_id,
 *                 conn_id, bytes_out, bytes_in, pkts_out, pkts_in, comm str]  (v3; counts
 *                 since the flow's previous FLOW event; tgid = the socket's owner or 0,
 *                 tid = 0; comm: the socket creator's, "" unknown)
 * flags: SLUICE_FLAG_SNAPSHOT marks state found when the loader started.
 * Fields are only ever appended, and WIRE_VERSION is bumped when they are. A
 * decoder accepts frames of versions 1..WIRE_VERSION; an event may carry
 * fewer items (an older loader: the missing ones read as 0/empty, down to
 * version 1's count) or more (a newer loader: the extra ones are skipped).
 * Ack frame: 0x92 WIRE_ACK_VERSION 0xcf <seq as 8 bytes big-endian>, i.e. the
 * msgpack array [1, seq] with seq always in its uint64 form. Its format has
 * not changed since version 1, so its version stays 1: either daemon can be
 * upgraded first. */
#ifndef SLUICE_WIRE_H
#define SLUICE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 3
#define WIRE_ACK_VERSION 1
#define WIRE_ACK_LEN 11
/* Bounds the decoder enforces; the encoder never exceeds them. */
#define WIRE_MAX_FRAME (8u << 20)
#define WIRE_MAX_EVENTS 65536

/* Item counts per event type, header items included (index = type): what
 * this version writes. */
extern const uint8_t wire_event_items[10];

struct msgpack_packer;
struct sluice_ev_header;

/* Appends one ring-buffer record as a msgpack event. `len` is the record's
 * size as the ring buffer reported it. Returns 0, or -EINVAL if the record's
 * type or size is wrong (the caller counts SLUICE_LOSS_BAD_RECORD). */
int wire_pack_record(struct msgpack_packer *pk, const void *rec, size_t len);
/* Appends a LOSS event carrying `total` for `kind`, counted since `epoch`. */
void wire_pack_loss(struct msgpack_packer *pk, uint64_t ts_ns, uint32_t kind, uint64_t total,
		    uint64_t epoch);

void wire_ack_encode(uint8_t out[WIRE_ACK_LEN], uint64_t seq);
/* 0 and *seq on an exact, well-formed ack; -EPROTO otherwise. */
int wire_ack_decode(const uint8_t *buf, size_t len, uint64_t *seq);

#endif

/* Contract 2: the loader -> processor frames (msgpack) and the processor ->
 * loader ack. The encoder (wire_enc.c) is linked by the loader; the strict
 * decoder lives in processor/decode.c because the loader never unpacks
 * msgpack: the one input it takes, the ack, has a fixed 11-byte encoding.
 *
 * Batch frame:  [WIRE_VERSION, seq, [event, ...]]      (array of 3)
 * Events, each a msgpack array whose first four items are
 *   [type, ts_ns, tgid, tid, ...]:
 *   EXEC       + [ppid, uid, cgroup_id, pidns_ino, ns_pid, start_ns, comm str, exe str]
 *   EXIT       + [exit_code (int), start_ns]
 *   CONN_OPEN  + [conn_id, role, family, laddr bin(4|16), lport, raddr bin(4|16), rport, netns, comm str]
 *   CONN_CLOSE + [conn_id, bytes_sent, bytes_recv]
 *   DATA       + [conn_id, direction, syscall, pos, full_len, payload bin]
 *   LOSS       + [kind, total]        (tgid = tid = 0; totals since the loader's BPF
 *                                      object was loaded, so a replay is harmless)
 * Ack frame: 0x92 WIRE_VERSION 0xcf <seq as 8 bytes big-endian>, i.e. the
 * msgpack array [WIRE_VERSION, seq] with seq always in its uint64 form. */
#ifndef SLUICE_WIRE_H
#define SLUICE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_ACK_LEN 11
/* Bounds the decoder enforces; the encoder never exceeds them. */
#define WIRE_MAX_FRAME (8u << 20)
#define WIRE_MAX_EVENTS 65536

/* Field counts per event type, header items included (index = type). */
extern const uint8_t wire_event_items[7];

struct msgpack_packer;
struct sluice_ev_header;

/* Appends one ring-buffer record as a msgpack event. `len` is the record's
 * size as the ring buffer reported it. Returns 0, or -EINVAL if the record's
 * type or size is wrong (the caller counts SLUICE_LOSS_BAD_RECORD). */
int wire_pack_record(struct msgpack_packer *pk, const void *rec, size_t len);
/* Appends a LOSS event carrying `total` for `kind`. */
void wire_pack_loss(struct msgpack_packer *pk, uint64_t ts_ns, uint32_t kind, uint64_t total);

void wire_ack_encode(uint8_t out[WIRE_ACK_LEN], uint64_t seq);
/* 0 and *seq on an exact, well-formed ack; -EPROTO otherwise. */
int wire_ack_decode(const uint8_t *buf, size_t len, uint64_t *seq);

#endif

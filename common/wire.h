/* Contract 2: the loader -> processor frames (msgpack) and the processor ->
 * loader ack. The privileged loader neither packs nor unpacks msgpack with
 * a library: a frame is five fixed byte layouts it writes itself
 * (loader/spool.c), and the one input it takes, the ack, has a fixed
 * 11-byte encoding. The strict decoder is processor/decode.c.
 *
 * Batch frame:  [WIRE_VERSION, seq, [event, ...]]      (array of 3)
 *   written as 0x93 WIRE_VERSION 0xcf seq(8, BE) 0xdd count(4, BE), then per
 *   event 0xc6 len(4, BE) and len bytes.
 * Version 4: each event is a msgpack bin holding one Contract-1 record
 *   (common/events.h, common/records.h) exactly as it was written, in the
 *   host's byte order (both ends run on the same host): the ring-buffer
 *   records as the kernel wrote them, FLOW and LOSS records as the loader
 *   built them. The loader checks only the header (wire_record_check); the
 *   processor checks every field. A record may be longer than the layout a
 *   decoder knows (fields appended later are ignored), never shorter.
 * Versions 1..3 (loaders before 4; still decoded, so that the processor can
 *   be upgraded first): each event a msgpack array [type, ts_ns, tgid, tid,
 *   fields...], see processor/decode.c.
 * Ack frame: 0x92 WIRE_ACK_VERSION 0xcf <seq as 8 bytes big-endian>, i.e. the
 * msgpack array [1, seq] with seq always in its uint64 form. Its format has
 * not changed since version 1, so its version stays 1. */
#ifndef SLUICE_WIRE_H
#define SLUICE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 4
#define WIRE_ACK_VERSION 1
#define WIRE_ACK_LEN 11
#define WIRE_FRAME_HEAD_LEN 16 /* 0x93 version 0xcf seq(8) 0xdd count(4) */
#define WIRE_EVENT_HEAD_LEN 5  /* 0xc6 len(4) */
/* Bounds the decoder enforces; the encoder never exceeds them. */
#define WIRE_MAX_FRAME (8u << 20)
#define WIRE_MAX_EVENTS 65536

/* 0 when rec is a record the loader may forward: a header whose size is
 * len, a type BPF writes, len within SLUICE_RECORD_MAX; else -EINVAL (the
 * loader counts SLUICE_LOSS_BAD_RECORD). Nothing past the header is read. */
int wire_record_check(const void *rec, size_t len);

/* 0 and *seq on an exact, well-formed ack; -EPROTO otherwise. */
int wire_ack_decode(const uint8_t *buf, size_t len, uint64_t *seq);

#endif

/* Building loader frames' events with msgpack-c, for tests and tools that
 * play the loader (the loader itself writes the bytes, loader/spool.c). */
#ifndef SLUICE_TEST_WIRE_PACK_H
#define SLUICE_TEST_WIRE_PACK_H

#include <stddef.h>
#include <stdint.h>

struct msgpack_packer;

/* Version 4, as the loader sends: the record as a bin, after the loader's
 * own header check (wire_record_check). 0, or -EINVAL and nothing written. */
int wire_pack_record(struct msgpack_packer *pk, const void *rec, size_t len);
/* Version 4: a LOSS record carrying `total` for `kind`, counted since `epoch`. */
void wire_pack_loss(struct msgpack_packer *pk, uint64_t ts_ns, uint32_t kind, uint64_t total,
		    uint64_t epoch);

/* Versions 1..3 (wire_v3.c): the record's fields as a msgpack array, after a
 * complete validation of the record. 0, or -EINVAL and nothing written. */
int wire_pack_record_v3(struct msgpack_packer *pk, const void *rec, size_t len);
void wire_pack_loss_v3(struct msgpack_packer *pk, uint64_t ts_ns, uint32_t kind, uint64_t total,
		       uint64_t epoch);

#endif

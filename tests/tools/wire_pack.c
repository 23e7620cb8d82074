/* Version 4 events with msgpack-c: see wire_pack.h. */
#include "tests/tools/wire_pack.h"

#include <errno.h>

#include <msgpack.h>

#include "common/events.h"
#include "common/wire.h"

int wire_pack_record(struct msgpack_packer *pk, const void *rec, size_t len)
{
	if (wire_record_check(rec, len))
		return -EINVAL;
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, rec, len);
	return 0;
}

void wire_pack_loss(struct msgpack_packer *pk, uint64_t ts_ns, uint32_t kind, uint64_t total,
		    uint64_t epoch)
{
	struct sluice_ev_loss r = { .h = { .type = SLUICE_EV_LOSS, .size = sizeof(r), .ts_ns = ts_ns },
				    .kind = kind, .total = total, .epoch = epoch };

	msgpack_pack_bin(pk, sizeof(r));
	msgpack_pack_bin_body(pk, &r, sizeof(r));
}

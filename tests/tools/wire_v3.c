/* The encoder of wire versions 1..3 (loaders before version 4): each
 * record as a msgpack array of its fields. The loader no longer links it;
 * tests use it to check that the processor still decodes what an older
 * loader sends, and that the version 4 records decode to the same events.
 * It validates every record completely before writing a single byte. */
#include "tests/tools/wire_pack.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include <msgpack.h>

#include "common/records.h"
#include "common/wire.h"
#include "processor/decode.h"

/* msgpack-c picks the shortest encoding for any width, so one helper does. */
static void u(msgpack_packer *pk, uint64_t v)
{
	msgpack_pack_uint64(pk, v);
}

static void str(msgpack_packer *pk, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

static void head(msgpack_packer *pk, uint16_t type, uint64_t ts, uint32_t tgid, uint32_t tid)
{
	msgpack_pack_array(pk, wire_v3_items[type]);
	u(pk, type);
	u(pk, ts);
	u(pk, tgid);
	u(pk, tid);
}

static void pack(msgpack_packer *pk, const union wire_record *r, const uint8_t *payload)
{
	size_t alen;

	head(pk, r->h.type, r->h.ts_ns, r->h.tgid, r->h.tid);
	switch (r->h.type) {
	case SLUICE_EV_EXEC:
		u(pk, r->exec.ppid); u(pk, r->exec.uid); u(pk, r->exec.cgroup_id);
		u(pk, r->exec.pidns_ino); u(pk, r->exec.ns_pid); u(pk, r->exec.start_ns);
		str(pk, r->exec.comm, sizeof(r->exec.comm));
		str(pk, r->exec.exe, sizeof(r->exec.exe));
		bin(pk, r->exec.cmdline, r->exec.cmdline_len);
		u(pk, r->h.flags);
		break;
	case SLUICE_EV_EXIT:
		msgpack_pack_int32(pk, r->exit.exit_code);
		u(pk, r->exit.start_ns);
		break;
	case SLUICE_EV_CONN_OPEN:
		alen = r->open.family == AF_INET ? 4 : 16;
		u(pk, r->open.conn_id); u(pk, r->open.role); u(pk, r->open.family);
		bin(pk, r->open.laddr, alen); u(pk, r->open.lport);
		bin(pk, r->open.raddr, alen); u(pk, r->open.rport);
		u(pk, r->open.netns);
		str(pk, r->open.comm, sizeof(r->open.comm));
		break;
	case SLUICE_EV_CONN_CLOSE:
		u(pk, r->close.conn_id); u(pk, r->close.bytes_sent); u(pk, r->close.bytes_recv);
		break;
	case SLUICE_EV_DATA:
		u(pk, r->data.conn_id); u(pk, r->data.direction); u(pk, r->data.syscall);
		u(pk, r->data.pos); u(pk, r->data.full_len);
		bin(pk, payload, r->data.cap_len);
		break;
	case SLUICE_EV_LISTEN:
		u(pk, r->listen.family);
		bin(pk, r->listen.addr, r->listen.family == AF_INET ? 4 : 16);
		u(pk, r->listen.port); u(pk, r->listen.netns); u(pk, r->listen.listening);
		u(pk, r->h.flags);
		break;
	case SLUICE_EV_DNS:
		alen = r->dns.family == AF_INET ? 4 : 16;
		u(pk, r->dns.family); u(pk, r->dns.proto); u(pk, r->dns.direction);
		bin(pk, r->dns.saddr, alen); u(pk, r->dns.sport);
		bin(pk, r->dns.daddr, alen); u(pk, r->dns.dport);
		u(pk, r->dns.cgroup_id); u(pk, r->dns.full_len);
		bin(pk, r->dns.payload, r->dns.cap_len);
		break;
	case SLUICE_EV_FLOW:
		alen = r->flow.k.family == AF_INET ? 4 : 16;
		u(pk, r->flow.k.family); u(pk, r->flow.k.proto);
		bin(pk, r->flow.k.laddr, alen); u(pk, r->flow.k.lport);
		bin(pk, r->flow.k.raddr, alen); u(pk, r->flow.k.rport);
		u(pk, r->flow.k.cgroup_id); u(pk, r->flow.v.conn_id);
		u(pk, r->flow.v.bytes_out); u(pk, r->flow.v.bytes_in);
		u(pk, r->flow.v.pkts_out); u(pk, r->flow.v.pkts_in);
		str(pk, r->flow.v.comm, sizeof(r->flow.v.comm));
		break;
	}
}

static bool bad_family(__u8 f)
{
	return f != AF_INET && f != AF_INET6;
}

static bool bad_proto(__u8 p)
{
	return p != IPPROTO_TCP && p != IPPROTO_UDP;
}

/* What the per-type checks beyond the size allow through; 0 = valid. */
static int rec_invalid(const union wire_record *r)
{
	switch (r->h.type) {
	case SLUICE_EV_EXEC:
		return r->exec.cmdline_len > SLUICE_CMDLINE_LEN;
	case SLUICE_EV_CONN_OPEN:
		return bad_family(r->open.family);
	case SLUICE_EV_LISTEN:
		return bad_family(r->listen.family) || r->listen.listening > 1;
	case SLUICE_EV_DNS:
		return bad_family(r->dns.family) || bad_proto(r->dns.proto) ||
		       r->dns.direction > SLUICE_DIR_INGRESS || r->dns.cap_len > SLUICE_DNS_CAP ||
		       r->dns.cap_len > r->dns.full_len;
	case SLUICE_EV_FLOW:
		return bad_family(r->flow.k.family) || bad_proto(r->flow.k.proto);
	}
	return 0;
}

int wire_pack_record_v3(struct msgpack_packer *pk, const void *rec, size_t len)
{
	union wire_record r; /* a copy: the caller's buffer may be unaligned */
	size_t want;

	if (len < sizeof(r.h))
		return -EINVAL;
	memcpy(&r.h, rec, sizeof(r.h));
	/* LOSS reports go through wire_pack_loss_v3, never as a record */
	if (r.h.type > SLUICE_EV_MAX || r.h.type == SLUICE_EV_LOSS ||
	    !(want = wire_record_size[r.h.type]) || len < want ||
	    r.h.size != len || (r.h.flags & ~SLUICE_FLAG_SNAPSHOT))
		return -EINVAL;
	memcpy(&r, rec, want);
	if (r.h.type == SLUICE_EV_DATA) {
		if (r.data.cap_len > r.data.full_len || r.data.cap_len > SLUICE_CAPTURE_MAX)
			return -EINVAL;
		want += r.data.cap_len;
	}
	if (len != want || rec_invalid(&r))
		return -EINVAL;
	pack(pk, &r, (const uint8_t *)rec + sizeof(r.data));
	return 0;
}

void wire_pack_loss_v3(struct msgpack_packer *pk, uint64_t ts_ns, uint32_t kind, uint64_t total,
		    uint64_t epoch)
{
	head(pk, SLUICE_EV_LOSS, ts_ns, 0, 0);
	u(pk, kind);
	u(pk, total);
	u(pk, epoch);
}

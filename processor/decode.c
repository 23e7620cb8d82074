/* Frame and event decoding with every field's type, range and length
 * checked. A malformed event is skipped and counted; the events around it
 * still count. A malformed frame header rejects the whole frame. */
#include "processor/decode.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "common/events.h"
#include "common/wire.h"
#include "processor/mpack.h"

/* The fewest items an event may have: version 1's counts (header included). */
static const uint8_t wire_event_items_min[SLUICE_EV_MAX + 1] = {
	[SLUICE_EV_EXEC] = 4 + 8,	[SLUICE_EV_EXIT] = 4 + 2, [SLUICE_EV_CONN_OPEN] = 4 + 9,
	[SLUICE_EV_CONN_CLOSE] = 4 + 3, [SLUICE_EV_DATA] = 4 + 6, [SLUICE_EV_LOSS] = 4 + 2,
	[SLUICE_EV_LISTEN] = 4 + 6,	[SLUICE_EV_DNS] = 4 + 10, [SLUICE_EV_FLOW] = 4 + 13,
};

static bool dec_u32(struct mpack *m, uint32_t *out, uint32_t max)
{
	uint64_t v;

	if (!mpack_uint(m, &v) || v > max) {
		m->err = true;
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

static bool dec_header(struct mpack *m, struct wire_event *ev, uint32_t *items)
{
	uint32_t type;

	if (!mpack_array(m, items) || *items < 4)
		return false;
	if (!dec_u32(m, &type, SLUICE_EV_MAX) || type == 0)
		return false;
	ev->type = (uint8_t)type;
	ev->flags = 0;
	if (*items < wire_event_items_min[type])
		return false;
	return mpack_uint(m, &ev->ts_ns) && dec_u32(m, &ev->tgid, UINT32_MAX) &&
	       dec_u32(m, &ev->tid, UINT32_MAX);
}

static bool dec_exec(struct mpack *m, struct wire_event *ev)
{
	return dec_u32(m, &ev->exec.ppid, UINT32_MAX) && dec_u32(m, &ev->exec.uid, UINT32_MAX) &&
	       mpack_uint(m, &ev->exec.cgroup_id) &&
	       dec_u32(m, &ev->exec.pidns_ino, UINT32_MAX) &&
	       dec_u32(m, &ev->exec.ns_pid, UINT32_MAX) && mpack_uint(m, &ev->exec.start_ns) &&
	       mpack_str(m, &ev->exec.comm, &ev->exec.comm_len, SLUICE_COMM_LEN) &&
	       mpack_str(m, &ev->exec.exe, &ev->exec.exe_len, SLUICE_EXE_LEN);
}

static bool dec_flags(struct mpack *m, struct wire_event *ev)
{
	uint32_t flags;

	if (!dec_u32(m, &flags, SLUICE_FLAG_SNAPSHOT))
		return false;
	ev->flags = (uint16_t)flags;
	return true;
}

/* Version 2 appended cmdline and flags; a version 1 EXEC has neither. */
static bool dec_exec_v2(struct mpack *m, struct wire_event *ev, uint32_t items)
{
	ev->exec.cmdline = NULL;
	ev->exec.cmdline_len = 0;
	if (items < wire_event_items[SLUICE_EV_EXEC])
		return items == wire_event_items_min[SLUICE_EV_EXEC];
	return mpack_bin(m, &ev->exec.cmdline, &ev->exec.cmdline_len, SLUICE_CMDLINE_LEN) &&
	       dec_flags(m, ev);
}

static bool dec_exit(struct mpack *m, struct wire_event *ev)
{
	int64_t code;

	if (!mpack_int(m, &code) || code < INT32_MIN || code > INT32_MAX)
		return false;
	ev->exit.code = (int32_t)code;
	return mpack_uint(m, &ev->exit.start_ns);
}

static bool dec_addr(struct mpack *m, const uint8_t **addr, uint8_t family)
{
	uint32_t len;

	if (!mpack_bin(m, addr, &len, 16))
		return false;
	return len == (family == AF_INET ? 4u : 16u);
}

static bool dec_open(struct mpack *m, struct wire_event *ev)
{
	uint32_t role, family, lport, rport;

	if (!mpack_uint(m, &ev->open.conn_id) || !dec_u32(m, &role, SLUICE_ROLE_SERVER) ||
	    !dec_u32(m, &family, 255) || (family != AF_INET && family != AF_INET6))
		return false;
	ev->open.role = (uint8_t)role;
	ev->open.family = (uint8_t)family;
	if (!dec_addr(m, &ev->open.laddr, ev->open.family) || !dec_u32(m, &lport, 65535) ||
	    !dec_addr(m, &ev->open.raddr, ev->open.family) || !dec_u32(m, &rport, 65535))
		return false;
	ev->open.lport = (uint16_t)lport;
	ev->open.rport = (uint16_t)rport;
	return dec_u32(m, &ev->open.netns, UINT32_MAX) &&
	       mpack_str(m, &ev->open.comm, &ev->open.comm_len, SLUICE_COMM_LEN);
}

static bool dec_close(struct mpack *m, struct wire_event *ev)
{
	return mpack_uint(m, &ev->close.conn_id) && mpack_uint(m, &ev->close.bytes_sent) &&
	       mpack_uint(m, &ev->close.bytes_recv);
}

static bool dec_data(struct mpack *m, struct wire_event *ev)
{
	uint32_t dir, sys;

	if (!mpack_uint(m, &ev->data.conn_id) || !dec_u32(m, &dir, SLUICE_DIR_INGRESS) ||
	    !dec_u32(m, &sys, SLUICE_SYS_MAX) || sys == 0 || !mpack_uint(m, &ev->data.pos) ||
	    !dec_u32(m, &ev->data.full_len, UINT32_MAX) ||
	    !mpack_bin(m, &ev->data.payload, &ev->data.cap_len, SLUICE_CAPTURE_MAX))
		return false;
	ev->data.direction = (uint8_t)dir;
	ev->data.syscall = (uint8_t)sys;
	/* the captured prefix can never be longer than what moved */
	return ev->data.cap_len <= ev->data.full_len;
}

/* kind is bounded: consumers index their totals with it. */
static bool dec_loss(struct mpack *m, struct wire_event *ev, uint32_t items)
{
	ev->loss.epoch = 0;
	return dec_u32(m, &ev->loss.kind, SLUICE_LOSS_MAX - 1) && mpack_uint(m, &ev->loss.total) &&
	       (items < wire_event_items[SLUICE_EV_LOSS] || mpack_uint(m, &ev->loss.epoch));
}

static bool dec_listen(struct mpack *m, struct wire_event *ev)
{
	uint32_t family, port, listening;

	if (!dec_u32(m, &family, 255) || (family != AF_INET && family != AF_INET6))
		return false;
	ev->listen.family = (uint8_t)family;
	if (!dec_addr(m, &ev->listen.addr, ev->listen.family) || !dec_u32(m, &port, 65535) ||
	    !dec_u32(m, &ev->listen.netns, UINT32_MAX) || !dec_u32(m, &listening, 1))
		return false;
	ev->listen.port = (uint16_t)port;
	ev->listen.listening = (uint8_t)listening;
	return dec_flags(m, ev);
}

static bool dec_family_proto(struct mpack *m, uint8_t *family, uint8_t *proto)
{
	uint32_t f, p;

	if (!dec_u32(m, &f, 255) || (f != AF_INET && f != AF_INET6) || !dec_u32(m, &p, 255) ||
	    (p != IPPROTO_TCP && p != IPPROTO_UDP))
		return false;
	*family = (uint8_t)f;
	*proto = (uint8_t)p;
	return true;
}

/* An address and its port, as DNS and FLOW carry them. */
static bool dec_end(struct mpack *m, uint8_t family, const uint8_t **addr, uint16_t *port)
{
	uint32_t v;

	if (!dec_addr(m, addr, family) || !dec_u32(m, &v, 65535))
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool dec_dns(struct mpack *m, struct wire_event *ev)
{
	uint32_t dir;

	if (!dec_family_proto(m, &ev->dns.family, &ev->dns.proto) ||
	    !dec_u32(m, &dir, SLUICE_DIR_INGRESS) ||
	    !dec_end(m, ev->dns.family, &ev->dns.saddr, &ev->dns.sport) ||
	    !dec_end(m, ev->dns.family, &ev->dns.daddr, &ev->dns.dport) ||
	    !mpack_uint(m, &ev->dns.cgroup_id) || !dec_u32(m, &ev->dns.full_len, UINT32_MAX) ||
	    !mpack_bin(m, &ev->dns.payload, &ev->dns.cap_len, SLUICE_DNS_CAP))
		return false;
	ev->dns.direction = (uint8_t)dir;
	return ev->dns.cap_len <= ev->dns.full_len;
}

static bool dec_flow(struct mpack *m, struct wire_event *ev)
{
	return dec_family_proto(m, &ev->flow.family, &ev->flow.proto) &&
	       dec_end(m, ev->flow.family, &ev->flow.laddr, &ev->flow.lport) &&
	       dec_end(m, ev->flow.family, &ev->flow.raddr, &ev->flow.rport) &&
	       mpack_uint(m, &ev->flow.cgroup_id) && mpack_uint(m, &ev->flow.conn_id) &&
	       mpack_uint(m, &ev->flow.bytes_out) && mpack_uint(m, &ev->flow.bytes_in) &&
	       mpack_uint(m, &ev->flow.pkts_out) && mpack_uint(m, &ev->flow.pkts_in) &&
	       mpack_str(m, &ev->flow.comm, &ev->flow.comm_len, SLUICE_COMM_LEN);
}

static bool dec_body(struct mpack *m, struct wire_event *ev, uint32_t items)
{
	switch (ev->type) {
	case SLUICE_EV_EXEC: return dec_exec(m, ev) && dec_exec_v2(m, ev, items);
	case SLUICE_EV_EXIT: return dec_exit(m, ev);
	case SLUICE_EV_CONN_OPEN: return dec_open(m, ev);
	case SLUICE_EV_CONN_CLOSE: return dec_close(m, ev);
	case SLUICE_EV_DATA: return dec_data(m, ev);
	case SLUICE_EV_LOSS: return dec_loss(m, ev, items);
	case SLUICE_EV_LISTEN: return dec_listen(m, ev);
	case SLUICE_EV_DNS: return dec_dns(m, ev);
	case SLUICE_EV_FLOW: return dec_flow(m, ev);
	}
	return false;
}

static bool dec_event(struct mpack *m, struct wire_event *ev)
{
	uint32_t items;

	if (!dec_header(m, ev, &items) || !dec_body(m, ev, items))
		return false;
	/* items a newer loader appended: skipped, whatever their type */
	for (uint32_t i = wire_event_items[ev->type]; i < items; i++)
		if (!mpack_skip(m))
			return false;
	return true;
}

static int dec_frame_header(struct mpack *m, uint64_t *seq, uint32_t *nevents)
{
	uint32_t items;
	uint64_t version;

	if (!mpack_array(m, &items) || items != 3 || !mpack_uint(m, &version) || version < 1 ||
	    version > WIRE_VERSION || !mpack_uint(m, seq) || !mpack_array(m, nevents) ||
	    *nevents > WIRE_MAX_EVENTS)
		return -EPROTO;
	return 0;
}

int decode_frame(const void *buf, size_t len, uint64_t done_seq, uint64_t *seq,
		 decode_event_fn fn, void *ctx, struct decode_stats *st)
{
	struct mpack m;
	struct wire_event ev;
	uint32_t n;
	int delivered = 0;

	mpack_init(&m, buf, len);
	if (len > WIRE_MAX_FRAME || dec_frame_header(&m, seq, &n) < 0) {
		st->bad_frames++;
		return -EPROTO;
	}
	if (*seq <= done_seq) {
		st->replays++;
		return -EALREADY;
	}
	st->frames++;
	for (uint32_t i = 0; i < n; i++) {
		struct mpack start = m;

		if (dec_event(&m, &ev)) {
			fn(ctx, &ev);
			delivered++;
			continue;
		}
		st->bad_events++;
		m = start;
		if (!mpack_skip(&m)) {
			/* cannot find the next event: the rest of the frame is lost */
			st->bad_events += n - i - 1;
			break;
		}
	}
	st->events += (uint64_t)delivered;
	return delivered;
}

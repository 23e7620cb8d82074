/* Frame and event decoding with every field's type, range and length
 * checked. A malformed event is skipped and counted; the events around it
 * still count. A malformed frame header rejects the whole frame. Version 4
 * events are Contract-1 records in a bin (dec_record); versions 1..3 are
 * msgpack arrays of fields (dec_event_v3). */
#include "processor/decode.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "common/records.h"
#include "common/wire.h"
#include "processor/mpack.h"

/* Items per event type, header included: what version 3 wrote. */
const uint8_t wire_v3_items[SLUICE_EV_MAX + 1] = {
	[SLUICE_EV_EXEC] = 4 + 10,	[SLUICE_EV_EXIT] = 4 + 2, [SLUICE_EV_CONN_OPEN] = 4 + 9,
	[SLUICE_EV_CONN_CLOSE] = 4 + 3, [SLUICE_EV_DATA] = 4 + 6, [SLUICE_EV_LOSS] = 4 + 3,
	[SLUICE_EV_LISTEN] = 4 + 6,	[SLUICE_EV_DNS] = 4 + 10, [SLUICE_EV_FLOW] = 4 + 13,
};

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
	if (items < wire_v3_items[SLUICE_EV_EXEC])
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
	       (items < wire_v3_items[SLUICE_EV_LOSS] || mpack_uint(m, &ev->loss.epoch));
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

static bool dec_event_v3(struct mpack *m, struct wire_event *ev)
{
	uint32_t items;

	if (!dec_header(m, ev, &items) || !dec_body(m, ev, items))
		return false;
	/* items a newer loader appended: skipped, whatever their type */
	for (uint32_t i = wire_v3_items[ev->type]; i < items; i++)
		if (!mpack_skip(m))
			return false;
	return true;
}

/* ---- version 4: one record per bin ---- */

const uint16_t wire_record_size[SLUICE_EV_MAX + 1] = {
	[SLUICE_EV_EXEC] = sizeof(struct sluice_ev_exec),
	[SLUICE_EV_EXIT] = sizeof(struct sluice_ev_exit),
	[SLUICE_EV_CONN_OPEN] = sizeof(struct sluice_ev_conn_open),
	[SLUICE_EV_CONN_CLOSE] = sizeof(struct sluice_ev_conn_close),
	[SLUICE_EV_DATA] = sizeof(struct sluice_ev_data),
	[SLUICE_EV_LOSS] = sizeof(struct sluice_ev_loss),
	[SLUICE_EV_LISTEN] = sizeof(struct sluice_ev_listen),
	[SLUICE_EV_DNS] = sizeof(struct sluice_ev_dns),
	[SLUICE_EV_FLOW] = sizeof(struct sluice_ev_flow),
};

static bool inet(uint8_t family)
{
	return family == AF_INET || family == AF_INET6;
}

static bool l4(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* A fixed-size, NUL-padded name in the record: up to its first NUL. */
static void name(const uint8_t *p, size_t max, const uint8_t **out, uint32_t *len)
{
	*out = p;
	*len = (uint32_t)strnlen((const char *)p, max);
}

/* Scalars are read from an aligned copy of the record's fixed part; byte
 * arrays (names, addresses, payloads) are pointed at in the frame. */
#define AT(field) (p + offsetof(union wire_record, field))

static bool rec_exec(const uint8_t *p, const union wire_record *r, struct wire_event *ev)
{
	const struct sluice_ev_exec *x = &r->exec;

	if (x->cmdline_len > SLUICE_CMDLINE_LEN)
		return false;
	ev->flags = r->h.flags;
	ev->exec.ppid = x->ppid;
	ev->exec.uid = x->uid;
	ev->exec.pidns_ino = x->pidns_ino;
	ev->exec.ns_pid = x->ns_pid;
	ev->exec.cgroup_id = x->cgroup_id;
	ev->exec.start_ns = x->start_ns;
	name(AT(exec.comm), SLUICE_COMM_LEN, &ev->exec.comm, &ev->exec.comm_len);
	name(AT(exec.exe), SLUICE_EXE_LEN, &ev->exec.exe, &ev->exec.exe_len);
	ev->exec.cmdline = AT(exec.cmdline);
	ev->exec.cmdline_len = x->cmdline_len;
	return true;
}

static bool rec_open(const uint8_t *p, const union wire_record *r, struct wire_event *ev)
{
	const struct sluice_ev_conn_open *o = &r->open;

	if (o->role > SLUICE_ROLE_SERVER || !inet(o->family))
		return false;
	ev->open.conn_id = o->conn_id;
	ev->open.role = o->role;
	ev->open.family = o->family;
	ev->open.lport = o->lport;
	ev->open.rport = o->rport;
	ev->open.netns = o->netns;
	ev->open.laddr = AT(open.laddr);
	ev->open.raddr = AT(open.raddr);
	name(AT(open.comm), SLUICE_COMM_LEN, &ev->open.comm, &ev->open.comm_len);
	return true;
}

static bool rec_data(const uint8_t *p, uint32_t n, const union wire_record *r,
		     struct wire_event *ev)
{
	const struct sluice_ev_data *d = &r->data;

	if (d->direction > SLUICE_DIR_INGRESS || !d->syscall || d->syscall > SLUICE_SYS_MAX ||
	    d->cap_len > d->full_len || d->cap_len > SLUICE_CAPTURE_MAX ||
	    n != sizeof(*d) + d->cap_len)
		return false;
	ev->data.conn_id = d->conn_id;
	ev->data.pos = d->pos;
	ev->data.direction = d->direction;
	ev->data.syscall = d->syscall;
	ev->data.full_len = d->full_len;
	ev->data.cap_len = d->cap_len;
	ev->data.payload = AT(data.payload);
	return true;
}

static bool rec_listen(const uint8_t *p, const union wire_record *r, struct wire_event *ev)
{
	const struct sluice_ev_listen *l = &r->listen;

	if (!inet(l->family) || l->listening > 1)
		return false;
	ev->flags = r->h.flags;
	ev->listen.family = l->family;
	ev->listen.listening = l->listening;
	ev->listen.port = l->port;
	ev->listen.netns = l->netns;
	ev->listen.addr = AT(listen.addr);
	return true;
}

static bool rec_dns(const uint8_t *p, const union wire_record *r, struct wire_event *ev)
{
	const struct sluice_ev_dns *d = &r->dns;

	if (!inet(d->family) || !l4(d->proto) || d->direction > SLUICE_DIR_INGRESS ||
	    d->cap_len > SLUICE_DNS_CAP || d->cap_len > d->full_len)
		return false;
	ev->dns.family = d->family;
	ev->dns.proto = d->proto;
	ev->dns.direction = d->direction;
	ev->dns.sport = d->sport;
	ev->dns.dport = d->dport;
	ev->dns.full_len = d->full_len;
	ev->dns.cap_len = d->cap_len;
	ev->dns.cgroup_id = d->cgroup_id;
	ev->dns.saddr = AT(dns.saddr);
	ev->dns.daddr = AT(dns.daddr);
	ev->dns.payload = AT(dns.payload);
	return true;
}

static bool rec_flow(const uint8_t *p, const union wire_record *r, struct wire_event *ev)
{
	const struct sluice_ev_flow *f = &r->flow;

	if (!inet(f->k.family) || !l4(f->k.proto))
		return false;
	ev->flow.family = f->k.family;
	ev->flow.proto = f->k.proto;
	ev->flow.lport = f->k.lport;
	ev->flow.rport = f->k.rport;
	ev->flow.cgroup_id = f->k.cgroup_id;
	ev->flow.conn_id = f->v.conn_id;
	ev->flow.bytes_out = f->v.bytes_out;
	ev->flow.bytes_in = f->v.bytes_in;
	ev->flow.pkts_out = f->v.pkts_out;
	ev->flow.pkts_in = f->v.pkts_in;
	ev->flow.laddr = AT(flow.k.laddr);
	ev->flow.raddr = AT(flow.k.raddr);
	name(AT(flow.v.comm), SLUICE_COMM_LEN, &ev->flow.comm, &ev->flow.comm_len);
	return true;
}

static bool dec_record(const uint8_t *p, uint32_t n, struct wire_event *ev)
{
	union wire_record r;

	if (n < sizeof(r.h))
		return false;
	memcpy(&r.h, p, sizeof(r.h));
	if (!r.h.type || r.h.type > SLUICE_EV_MAX || r.h.size != n || n < wire_record_size[r.h.type] ||
	    (r.h.flags & ~SLUICE_FLAG_SNAPSHOT))
		return false;
	memcpy(&r, p, wire_record_size[r.h.type]);
	ev->type = (uint8_t)r.h.type;
	ev->flags = 0;
	ev->ts_ns = r.h.ts_ns;
	ev->tgid = r.h.tgid;
	ev->tid = r.h.tid;
	switch (r.h.type) {
	case SLUICE_EV_EXEC: return rec_exec(p, &r, ev);
	case SLUICE_EV_EXIT:
		ev->exit.code = r.exit.exit_code;
		ev->exit.start_ns = r.exit.start_ns;
		return true;
	case SLUICE_EV_CONN_OPEN: return rec_open(p, &r, ev);
	case SLUICE_EV_CONN_CLOSE:
		ev->close.conn_id = r.close.conn_id;
		ev->close.bytes_sent = r.close.bytes_sent;
		ev->close.bytes_recv = r.close.bytes_recv;
		return true;
	case SLUICE_EV_DATA: return rec_data(p, n, &r, ev);
	case SLUICE_EV_LOSS:
		ev->loss.kind = r.loss.kind; /* bounded: consumers index their totals with it */
		ev->loss.total = r.loss.total;
		ev->loss.epoch = r.loss.epoch;
		return r.loss.kind < SLUICE_LOSS_MAX;
	case SLUICE_EV_LISTEN: return rec_listen(p, &r, ev);
	case SLUICE_EV_DNS: return rec_dns(p, &r, ev);
	case SLUICE_EV_FLOW: return rec_flow(p, &r, ev);
	}
	return false;
}

static bool dec_event(struct mpack *m, uint64_t version, struct wire_event *ev)
{
	const uint8_t *rec;
	uint32_t n;

	if (version < 4)
		return dec_event_v3(m, ev);
	return mpack_bin(m, &rec, &n, SLUICE_RECORD_MAX) && dec_record(rec, n, ev);
}

static int dec_frame_header(struct mpack *m, uint64_t *version, uint64_t *seq, uint32_t *nevents)
{
	uint32_t items;

	if (!mpack_array(m, &items) || items != 3 || !mpack_uint(m, version) || *version < 1 ||
	    *version > WIRE_VERSION || !mpack_uint(m, seq) || !mpack_array(m, nevents) ||
	    *nevents > WIRE_MAX_EVENTS)
		return -EPROTO;
	return 0;
}

int decode_frame(const void *buf, size_t len, uint64_t done_seq, uint64_t *seq,
		 decode_event_fn fn, void *ctx, struct decode_stats *st)
{
	struct mpack m;
	struct wire_event ev;
	uint64_t version;
	uint32_t n;
	int delivered = 0;

	mpack_init(&m, buf, len);
	if (len > WIRE_MAX_FRAME || dec_frame_header(&m, &version, seq, &n) < 0) {
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

		if (dec_event(&m, version, &ev)) {
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

void wire_ack_encode(uint8_t out[WIRE_ACK_LEN], uint64_t seq)
{
	out[0] = 0x92;
	out[1] = WIRE_ACK_VERSION;
	out[2] = 0xcf;
	for (int i = 0; i < 8; i++)
		out[3 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

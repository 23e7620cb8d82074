/* One frame through the pipeline: decode -> per-event dispatch to the
 * process cache and the connection table -> HTTP pairing -> output. */
#include "processor/processor.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

#include "processor/checkpoint.h"
#include "processor/export.h"
#include "processor/flows.h"
#include "processor/names.h"
#include "processor/procs.h"
#include "processor/store.h"

static void on_pair(void *ctx, const struct conn *c, const struct http1_pair *pair)
{
	struct processor *p = ctx;
	const char *name = procs_name(c->tgid, c->comm);
	const char *server = names_pair_server(p->names, c, pair,
					       (int64_t)pair->start_ns + p->out.boot_to_unix_ns);

	output_pair(&p->out, c, pair, name, server);
	store_pair(p->store, p->frame_seq, c, pair);
	if (p->exp)
		export_pair(p->exp, c, pair, name, server, p->out.boot_to_unix_ns);
}

static void on_open(struct processor *p, const struct wire_event *ev)
{
	struct conn *c = conntrack_open(p->ct, ev->open.conn_id, ev->ts_ns, ev->tgid, ev->open.role);
	size_t alen = ev->open.family == AF_INET ? 4 : 16;

	c->family = ev->open.family;
	c->lport = ev->open.lport;
	c->rport = ev->open.rport;
	memcpy(c->laddr, ev->open.laddr, alen);
	memcpy(c->raddr, ev->open.raddr, alen);
	memcpy(c->comm, ev->open.comm, ev->open.comm_len < 15 ? ev->open.comm_len : 15);
}

static void on_data(struct processor *p, const struct wire_event *ev)
{
	struct conn *c = conntrack_get(p->ct, ev->data.conn_id, ev->ts_ns, ev->tgid);
	bool egress = ev->data.direction == SLUICE_DIR_EGRESS;

	if (egress)
		c->bytes_sent += ev->data.full_len;
	else
		c->bytes_recv += ev->data.full_len;
	http1_data(c->http, egress, ev->ts_ns, ev->data.pos, ev->data.full_len,
		   ev->data.payload, ev->data.cap_len);
}

/* Loss reports carry totals counted since an epoch (the loader's BPF
 * object's start): within one epoch a replayed or reordered report never
 * lowers them, and a newer epoch's counters, which start again from zero,
 * add to what earlier epochs counted. */
static void loss_report(struct processor *p, uint32_t k, uint64_t total, uint64_t epoch)
{
	if (k >= SLUICE_LOSS_MAX || epoch < p->loss_epoch[k])
		return; /* an older epoch's report, replayed */
	if (epoch > p->loss_epoch[k] && p->loss_epoch[k] != 0)
		p->loss_cur[k] = 0; /* new counters */
	p->loss_epoch[k] = epoch;
	if (total > p->loss_cur[k]) {
		p->loss[k] += total - p->loss_cur[k];
		p->loss_cur[k] = total;
	}
}

static void on_event(void *ctx, const struct wire_event *ev)
{
	struct processor *p = ctx;
	int64_t unix_ns = (int64_t)ev->ts_ns + p->out.boot_to_unix_ns;

	p->by_type[ev->type]++;
	store_event(p->store, p->frame_seq, ev);
	switch (ev->type) {
	case SLUICE_EV_EXEC:
		procs_exec(ev->tgid, ev->exec.exe, ev->exec.exe_len);
		break;
	case SLUICE_EV_CONN_OPEN:
		on_open(p, ev);
		store_conn_name(p->store, p->frame_seq, ev,
				names_lookup(p->names, ev->open.family, ev->open.raddr, unix_ns));
		break;
	case SLUICE_EV_DNS:
		names_dns(p->names, ev, unix_ns);
		break;
	case SLUICE_EV_FLOW:
		flows_event(p->flows, p->frame_seq, ev, unix_ns);
		break;
	case SLUICE_EV_CONN_CLOSE:
		conntrack_close(p->ct, ev->close.conn_id, ev->ts_ns, ev->close.bytes_sent,
				ev->close.bytes_recv);
		break;
	case SLUICE_EV_DATA:
		on_data(p, ev);
		break;
	case SLUICE_EV_LOSS:
		loss_report(p, ev->loss.kind, ev->loss.total, ev->loss.epoch);
		break;
	default: /* EXIT: process lifetimes matter to the store, not to pairing */
		break;
	}
}

int processor_init(struct processor *p, uint32_t max_conns)
{
	return processor_init_limits(p, max_conns, CONNTRACK_DEFAULT_PENDING);
}

int processor_init_limits(struct processor *p, uint32_t max_conns, uint32_t max_pending)
{
	memset(p, 0, sizeof(*p));
	p->ct = conntrack_new(max_conns, max_pending, on_pair, p);
	p->names = names_new(0);
	p->flows = flows_new(p->names);
	return p->ct && p->names && p->flows ? 0 : -ENOMEM;
}

void processor_fini(struct processor *p)
{
	/* first: its commit thread may be writing the checkpoint */
	store_close(p->store, p->done_seq); /* its last commit writes names and flows */
	p->store = NULL;
	conntrack_free(p->ct);
	p->ct = NULL;
	checkpoint_free(p->ckpt);
	p->ckpt = NULL;
	flows_free(p->flows);
	p->flows = NULL;
	names_free(p->names);
	p->names = NULL;
}

int processor_frame(struct processor *p, const void *buf, size_t len)
{
	/* frame_seq: on_event and on_pair tell the store which batch they are in */
	int n = decode_frame(buf, len, p->done_seq, &p->frame_seq, on_event, p, &p->dec);

	if (n >= 0)
		p->done_seq = p->frame_seq;
	return n;
}

static const char *const loss_names[SLUICE_LOSS_MAX] = {
	"ringbuf_data", "ringbuf_conn", "ringbuf_proc", "map_full", "read_fail",
	"truncated_bytes", "spool_batches", "spool_events", "bad_records",
};

void processor_status_json(const struct processor *p, FILE *f)
{
	const struct conntrack_stats *cs = conntrack_stats(p->ct);
	const struct http1_stats *hs = conntrack_http_stats(p->ct);

	fprintf(f, "{\"done_seq\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"bad_frames\":%" PRIu64
		   ",\"replayed_frames\":%" PRIu64 ",\"events\":%" PRIu64
		   ",\"bad_events\":%" PRIu64 ",\"pairs\":%" PRIu64,
		p->done_seq, p->dec.frames, p->dec.bad_frames, p->dec.replays, p->dec.events,
		p->dec.bad_events, p->out.pairs);
	fprintf(f, ",\"peers_refused\":%" PRIu64, p->peers_refused);
	fprintf(f, ",\"http\":{\"complete\":%" PRIu64 ",\"incomplete\":%" PRIu64
		   ",\"resyncs\":%" PRIu64 ",\"orphan_responses\":%" PRIu64
		   ",\"pending_overflow\":%" PRIu64 ",\"not_http\":%" PRIu64
		   ",\"pending\":%" PRIu64 ",\"pending_max\":%" PRIu64
		   ",\"pending_evicted\":%" PRIu64 ",\"pending_evictions\":%" PRIu64 "}",
		hs->pairs, hs->incomplete, hs->resyncs, hs->orphan_responses,
		hs->pending_overflow, hs->not_http, cs->pending, cs->pending_max,
		hs->pending_evicted, hs->pending_evictions);
	fprintf(f, ",\"conns\":{\"live\":%" PRIu64 ",\"opened\":%" PRIu64 ",\"closed\":%" PRIu64
		   ",\"evicted\":%" PRIu64 ",\"unknown\":%" PRIu64 "},\"loss\":{",
		cs->live, cs->opened, cs->closed, cs->evicted, cs->unknown);
	for (int i = 0; i < SLUICE_LOSS_MAX; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", loss_names[i], p->loss[i]);
	fputc('}', f);
	store_status_json(p->store, f);
	names_status_json(p->names, f);
	flows_status_json(p->flows, f);
	checkpoint_status_json(p->ckpt, f);
	fputs("}\n", f);
}

void processor_tick(struct processor *p, uint64_t now_ns)
{
	names_tick(p->names);
	store_tick(p->store, now_ns, p->done_seq);
}

/* Synthetic keep-alive HTTP/1.1 server traffic, one event at a time, round
 * robin over the open connections (see evgen.h). */
#include "tests/bench/evgen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/records.h"
#include "common/wire.h"
#include "tests/tools/wire_pack.h"

enum { STEP_OPEN, STEP_REQ, STEP_RESP, STEP_CLOSE, STEP_IDLE };

#define EVGEN_TS_STEP 2000 /* ns between events: a plausible 500k events/s clock */

/* What a curl-like client sends and nginx answers; four targets so paths
 * differ, one with a query. */
static const char *const reqs[4] = {
	"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n\r\n",
	"GET /api/v1/users/12345/orders?limit=20&offset=40 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
	"User-Agent: curl/7.88.1\r\nAccept: application/json\r\n\r\n",
	"GET /static/app.js HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\nAccept-Encoding: gzip\r\n\r\n",
	"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: kube-probe/1.29\r\n\r\n",
};
static const char resp[] =
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 06:46:35 GMT\r\n"
	"Content-Type: text/html\r\nContent-Length: 23\r\n"
	"Last-Modified: Sun, 22 Nov 2026 06:40:00 GMT\r\nConnection: keep-alive\r\n"
	"ETag: \"6560e2c0-17\"\r\nAccept-Ranges: bytes\r\n\r\nhello from sluice test\n";

int evgen_init(struct evgen *g, uint32_t nconns, uint32_t pairs_per_conn, bool idle_after,
	       uint64_t first_conn_id)
{
	*g = (struct evgen){ .nconns = nconns, .pairs_per_conn = pairs_per_conn,
			     .idle_after = idle_after, .tgid = 4242,
			     .next_conn_id = first_conn_id, .ts_ns = 1000000000ull };
	g->conns = calloc(nconns, sizeof(*g->conns));
	g->rec = malloc(sizeof(struct sluice_ev_data) + SLUICE_CAPTURE_MAX);
	if (!g->conns || !g->rec || !nconns) {
		evgen_free(g);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nconns; i++)
		g->conns[i].conn_id = g->next_conn_id++;
	return 0;
}

void evgen_free(struct evgen *g)
{
	free(g->conns);
	free(g->rec);
	g->conns = NULL;
	g->rec = NULL;
}

static void header(struct evgen *g, struct sluice_ev_header *h, uint16_t type, uint32_t size)
{
	*h = (struct sluice_ev_header){ .type = type, .size = size, .ts_ns = g->ts_ns,
					.tgid = g->tgid, .tid = g->tgid };
	g->ts_ns += EVGEN_TS_STEP;
}

static void pack_open(struct evgen *g, msgpack_packer *pk, const struct evgen_conn *c)
{
	struct sluice_ev_conn_open *o = (struct sluice_ev_conn_open *)g->rec;

	memset(o, 0, sizeof(*o));
	header(g, &o->h, SLUICE_EV_CONN_OPEN, sizeof(*o));
	o->conn_id = c->conn_id;
	o->role = SLUICE_ROLE_SERVER;
	o->family = AF_INET;
	o->lport = 8080;
	o->rport = (uint16_t)(32768 + c->conn_id % 28000);
	o->netns = 4026531840u;
	memcpy(o->laddr, "\x7f\0\0\1", 4);
	memcpy(o->raddr, "\x7f\0\0\1", 4);
	memcpy(o->comm, "nginx", 6);
	wire_pack_record(pk, o, sizeof(*o));
}

static void pack_close(struct evgen *g, msgpack_packer *pk, const struct evgen_conn *c)
{
	struct sluice_ev_conn_close *x = (struct sluice_ev_conn_close *)g->rec;

	header(g, &x->h, SLUICE_EV_CONN_CLOSE, sizeof(*x));
	x->conn_id = c->conn_id;
	x->bytes_sent = c->out_pos;
	x->bytes_recv = c->in_pos;
	wire_pack_record(pk, x, sizeof(*x));
}

static void pack_data(struct evgen *g, msgpack_packer *pk, struct evgen_conn *c, bool egress)
{
	struct sluice_ev_data *d = (struct sluice_ev_data *)g->rec;
	const char *p = egress ? resp : reqs[c->pairs & 3];
	uint32_t n = (uint32_t)strlen(p);
	uint64_t *pos = egress ? &c->out_pos : &c->in_pos;

	header(g, &d->h, SLUICE_EV_DATA, (uint32_t)sizeof(*d) + n);
	d->conn_id = c->conn_id;
	d->pos = *pos;
	d->full_len = d->cap_len = n;
	d->direction = egress ? SLUICE_DIR_EGRESS : SLUICE_DIR_INGRESS;
	d->syscall = egress ? SLUICE_SYS_WRITEV : SLUICE_SYS_READ;
	d->pad = 0;
	d->pad2 = 0;
	memcpy(d->payload, p, n);
	wire_pack_record(pk, d, sizeof(*d) + n);
	*pos += n;
}

/* The connection's next step after a response. */
static uint8_t after_resp(struct evgen *g, struct evgen_conn *c)
{
	if (!g->pairs_per_conn || c->pairs < g->pairs_per_conn)
		return STEP_REQ;
	if (g->idle_after) {
		g->idle++;
		return STEP_IDLE;
	}
	return STEP_CLOSE;
}

static void emit(struct evgen *g, msgpack_packer *pk, struct evgen_conn *c)
{
	switch (c->step) {
	case STEP_OPEN:
		pack_open(g, pk, c);
		g->opens++;
		c->step = STEP_REQ;
		break;
	case STEP_REQ:
		pack_data(g, pk, c, false);
		c->step = STEP_RESP;
		break;
	case STEP_RESP:
		pack_data(g, pk, c, true);
		c->pairs++;
		g->pairs++;
		c->step = after_resp(g, c);
		break;
	case STEP_CLOSE:
		pack_close(g, pk, c);
		g->closes++;
		/* the slot carries a new connection */
		*c = (struct evgen_conn){ .conn_id = g->next_conn_id++, .step = STEP_OPEN };
		break;
	}
	g->events++;
}

bool evgen_next(struct evgen *g, msgpack_packer *pk)
{
	struct evgen_conn *c;

	if (g->idle == g->nconns)
		return false;
	do {
		c = &g->conns[g->rr];
		g->rr = g->rr + 1 == g->nconns ? 0 : g->rr + 1;
	} while (c->step == STEP_IDLE);
	emit(g, pk, c);
	return true;
}

void evframe_init(struct evframe *f)
{
	msgpack_sbuffer_init(&f->sb);
	msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
	evframe_reset(f);
}

void evframe_free(struct evframe *f)
{
	msgpack_sbuffer_destroy(&f->sb);
}

void evframe_reset(struct evframe *f)
{
	static const uint8_t head[EVGEN_HEAD_LEN] = { 0x93, WIRE_VERSION, 0xcf };

	msgpack_sbuffer_clear(&f->sb);
	msgpack_sbuffer_write(&f->sb, (const char *)head, sizeof(head));
	f->events = 0;
	f->pairs = 0;
}

bool evframe_full(const struct evframe *f)
{
	return f->events >= EVGEN_FRAME_EVENTS || f->sb.size >= EVGEN_FRAME_BYTES;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void evframe_finish(struct evframe *f, uint64_t seq)
{
	uint8_t *p = (uint8_t *)f->sb.data;

	put_be(p + 3, seq, 8);
	p[EVGEN_HEAD_LEN - 5] = 0xdd;
	put_be(p + EVGEN_HEAD_LEN - 4, f->events, 4);
}

bool evframe_add(struct evframe *f, struct evgen *g)
{
	uint64_t pairs = g->pairs;

	if (!evgen_next(g, &f->pk))
		return false;
	f->events++;
	f->pairs += g->pairs - pairs;
	return true;
}

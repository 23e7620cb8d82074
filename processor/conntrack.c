/* Connection table: chained hash over a fixed pool, with an LRU list for
 * eviction. No allocation after conntrack_new. */
#include "processor/conntrack.h"

#include <stdlib.h>
#include <string.h>

#include "common/events.h"

struct conntrack {
	struct conn **buckets;    /* hash heads, nbuckets of them */
	uint32_t mask;            /* nbuckets - 1 */
	uint8_t *pool;            /* max_conns slots of slot_size bytes */
	size_t slot_size;
	struct conn *free;        /* free slots, linked through hnext */
	struct conn *lru_head, *lru_tail;
	conntrack_pair_fn fn;
	void *ctx;
	struct conntrack_stats st;
	struct http1_stats http;
};

static uint32_t ct_hash(const struct conntrack *ct, uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (uint32_t)id & ct->mask;
}

static void ct_emit(void *ctx, const struct http1_pair *p)
{
	struct conn *c = ctx;

	c->ct->fn(c->ct->ctx, c, p);
}

struct conntrack *conntrack_new(uint32_t max_conns, conntrack_pair_fn fn, void *ctx)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));
	uint32_t nb = 1;

	if (!ct || max_conns == 0)
		goto fail;
	while (nb < max_conns)
		nb <<= 1;
	ct->mask = nb - 1;
	ct->slot_size = (sizeof(struct conn) + http1_conn_size() + 15) & ~(size_t)15;
	ct->buckets = calloc(nb, sizeof(*ct->buckets));
	ct->pool = calloc(max_conns, ct->slot_size);
	if (!ct->buckets || !ct->pool)
		goto fail;
	for (uint32_t i = max_conns; i-- > 0;) {
		struct conn *c = (struct conn *)(ct->pool + (size_t)i * ct->slot_size);

		c->hnext = ct->free;
		ct->free = c;
	}
	ct->fn = fn;
	ct->ctx = ctx;
	return ct;
fail:
	conntrack_free(ct);
	return NULL;
}

void conntrack_free(struct conntrack *ct)
{
	if (!ct)
		return;
	free(ct->buckets);
	free(ct->pool);
	free(ct);
}

static void lru_unlink(struct conntrack *ct, struct conn *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		ct->lru_head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		ct->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_push(struct conntrack *ct, struct conn *c)
{
	c->lru_prev = NULL;
	c->lru_next = ct->lru_head;
	if (ct->lru_head)
		ct->lru_head->lru_prev = c;
	ct->lru_head = c;
	if (!ct->lru_tail)
		ct->lru_tail = c;
}

static struct conn *ct_find(struct conntrack *ct, uint64_t id)
{
	for (struct conn *c = ct->buckets[ct_hash(ct, id)]; c; c = c->hnext)
		if (c->conn_id == id)
			return c;
	return NULL;
}

/* Ends an entry's life (its HTTP state already closed): the slot is freed. */
static void ct_unlink(struct conntrack *ct, struct conn *c)
{
	struct conn **pp = &ct->buckets[ct_hash(ct, c->conn_id)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	lru_unlink(ct, c);
	c->hnext = ct->free;
	ct->free = c;
	ct->st.live--;
}

/* Evictions and flushes: pending requests are emitted, the slot freed. */
static void ct_remove(struct conntrack *ct, struct conn *c, uint64_t ts_ns)
{
	http1_close(c->http, ts_ns);
	ct_unlink(ct, c);
}

static struct conn *ct_insert(struct conntrack *ct, uint64_t id, uint64_t ts_ns,
			      uint32_t tgid, uint8_t role)
{
	struct conn *c;
	uint32_t h;

	if (!ct->free) {
		ct->st.evicted++;
		ct_remove(ct, ct->lru_tail, ts_ns);
	}
	c = ct->free;
	ct->free = c->hnext;
	memset(c, 0, sizeof(*c));
	c->conn_id = id;
	c->last_ns = ts_ns;
	c->tgid = tgid;
	c->role = role;
	c->ct = ct;
	c->http = (struct http1_conn *)(c + 1);
	http1_init(c->http, (enum http1_role)role, ct_emit, c, &ct->http);
	h = ct_hash(ct, id);
	c->hnext = ct->buckets[h];
	ct->buckets[h] = c;
	lru_push(ct, c);
	ct->st.live++;
	return c;
}

struct conn *conntrack_open(struct conntrack *ct, uint64_t conn_id, uint64_t ts_ns,
			    uint32_t tgid, uint8_t role)
{
	struct conn *c = ct_find(ct, conn_id);

	ct->st.opened++;
	if (c) {
		/* a replayed open event: keep the state, refresh the order */
		lru_unlink(ct, c);
		lru_push(ct, c);
		return c;
	}
	return ct_insert(ct, conn_id, ts_ns, tgid, role);
}

struct conn *conntrack_get(struct conntrack *ct, uint64_t conn_id, uint64_t ts_ns,
			   uint32_t tgid)
{
	struct conn *c = ct_find(ct, conn_id);

	if (!c) {
		ct->st.unknown++;
		return ct_insert(ct, conn_id, ts_ns, tgid, SLUICE_ROLE_UNKNOWN);
	}
	c->last_ns = ts_ns;
	if (ct->lru_head != c) {
		lru_unlink(ct, c);
		lru_push(ct, c);
	}
	return c;
}

void conntrack_close(struct conntrack *ct, uint64_t conn_id, uint64_t ts_ns,
		     uint64_t bytes_sent, uint64_t bytes_recv)
{
	struct conn *c = ct_find(ct, conn_id);

	if (!c)
		return;
	ct->st.closed++;
	http1_close_totals(c->http, ts_ns, bytes_sent, bytes_recv);
	ct_unlink(ct, c);
}

void conntrack_flush(struct conntrack *ct, uint64_t ts_ns)
{
	while (ct->lru_tail)
		ct_remove(ct, ct->lru_tail, ts_ns);
}

const struct conntrack_stats *conntrack_stats(const struct conntrack *ct)
{
	return &ct->st;
}

struct http1_stats *conntrack_http_stats(struct conntrack *ct)
{
	return &ct->http;
}

void conntrack_foreach(struct conntrack *ct, void (*fn)(void *ctx, struct conn *c), void *ctx)
{
	for (struct conn *c = ct->lru_tail, *prev; c; c = prev) {
		prev = c->lru_prev;
		fn(ctx, c);
	}
}

struct conn *conntrack_restore(struct conntrack *ct, const struct conn *saved, const void *http)
{
	struct conn *c = ct_find(ct, saved->conn_id);

	if (!c)
		c = ct_insert(ct, saved->conn_id, saved->last_ns, saved->tgid, saved->role);
	c->family = saved->family;
	c->lport = saved->lport;
	c->rport = saved->rport;
	memcpy(c->laddr, saved->laddr, sizeof(c->laddr));
	memcpy(c->raddr, saved->raddr, sizeof(c->raddr));
	memcpy(c->comm, saved->comm, sizeof(c->comm));
	c->bytes_sent = saved->bytes_sent;
	c->bytes_recv = saved->bytes_recv;
	http1_restore(c->http, http, ct_emit, c, &ct->http);
	return c;
}

/* Connection table: chained hash over a fixed array of slots, an LRU list
 * for eviction, the shared pool of waiting requests, and the list of what
 * changed since the last checkpoint. No allocation after conntrack_new
 * except that list, which is bounded. */
#include "processor/conntrack.h"

#include <stdlib.h>
#include <string.h>

#include "common/records.h"

enum { CONN_DIRTY = 1, CONN_SAVED = 2 };

/* Links are slot numbers counted from 1: 0, what calloc and memset give,
 * is "none", so the table's memory can start untouched. */
#define NIL 0

struct conntrack {
	uint32_t *buckets;        /* hash heads (slot numbers), nbuckets of them */
	uint32_t mask;            /* nbuckets - 1 */
	uint8_t *slots;           /* max_conns slots of slot_size bytes */
	size_t slot_size;
	uint32_t max_conns;
	uint32_t fresh;           /* slots from here on never used: memory untouched */
	uint32_t free;            /* slots used before and free again, through hnext */
	struct conn *lru_head, *lru_tail;
	struct http1_pool *pool;  /* waiting requests of every connection */
	conntrack_pair_fn fn;
	void *ctx;
	struct conntrack_stats st;
	struct http1_stats http;
	/* checkpoint changes: ids of connections that changed or went */
	bool tracking;            /* on once conntrack_changes was first called */
	bool overflow;            /* more than changes_max: everything must be saved */
	uint64_t *changes;
	uint32_t nchanges, changes_cap, changes_max;
};

static struct conn *ct_at(const struct conntrack *ct, uint32_t i)
{
	return i == NIL ? NULL : (struct conn *)(ct->slots + (size_t)(i - 1) * ct->slot_size);
}

static uint32_t ct_index(const struct conntrack *ct, const struct conn *c)
{
	return c ? (uint32_t)(((const uint8_t *)c - ct->slots) / ct->slot_size) + 1 : NIL;
}

static uint32_t ct_hash(const struct conntrack *ct, uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (uint32_t)id & ct->mask;
}

static void ct_note(struct conntrack *ct, uint64_t id)
{
	uint64_t *n;
	uint32_t cap;

	if (ct->overflow)
		return;
	if (ct->nchanges == ct->changes_cap) {
		cap = ct->changes_cap ? ct->changes_cap * 2 : 1024;
		if (cap > ct->changes_max)
			cap = ct->changes_max;
		if (ct->nchanges >= cap || !(n = realloc(ct->changes, cap * sizeof(*n)))) {
			ct->overflow = true; /* a full save instead: correct, only slower */
			return;
		}
		ct->changes = n;
		ct->changes_cap = cap;
	}
	ct->changes[ct->nchanges++] = id;
}

/* The connection's state changed: the next checkpoint writes it. */
static void ct_dirty(struct conntrack *ct, struct conn *c)
{
	if (!ct->tracking || (c->ckpt & CONN_DIRTY))
		return;
	c->ckpt |= CONN_DIRTY;
	ct_note(ct, c->conn_id);
}

/* Every pair changes its connection's state, including pairs emitted
 * because another connection's request needed a pool slot: this is how
 * such changes reach the checkpoint. */
static void ct_emit(void *ctx, const struct http1_pair *p)
{
	struct conn *c = ctx;

	ct_dirty(c->ct, c);
	c->ct->fn(c->ct->ctx, c, p);
}

struct conntrack *conntrack_new(uint32_t max_conns, uint32_t max_pending, conntrack_pair_fn fn,
				void *ctx)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));
	uint32_t nb = 1;

	if (!ct || max_conns == 0)
		goto fail;
	while (nb < max_conns)
		nb <<= 1;
	ct->mask = nb - 1;
	ct->max_conns = max_conns;
	ct->changes_max = max_conns > (1u << 30) ? UINT32_MAX : max_conns * 2;
	ct->slot_size = (sizeof(struct conn) + http1_conn_core_size() + 7) & ~(size_t)7;
	ct->buckets = calloc(nb, sizeof(*ct->buckets));
	/* zero pages until used: a big table costs address space, not memory */
	ct->slots = calloc(max_conns, ct->slot_size);
	ct->pool = http1_pool_new(max_pending, ct_emit, &ct->http);
	if (!ct->buckets || !ct->slots || !ct->pool)
		goto fail;
	ct->st.pending_max = max_pending;
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
	free(ct->slots);
	http1_pool_free(ct->pool);
	free(ct->changes);
	free(ct);
}

static void lru_unlink(struct conntrack *ct, struct conn *c)
{
	struct conn *prev = ct_at(ct, c->lru_prev), *next = ct_at(ct, c->lru_next);

	if (prev)
		prev->lru_next = c->lru_next;
	else
		ct->lru_head = next;
	if (next)
		next->lru_prev = c->lru_prev;
	else
		ct->lru_tail = prev;
	c->lru_prev = c->lru_next = NIL;
}

static void lru_push(struct conntrack *ct, struct conn *c)
{
	uint32_t i = ct_index(ct, c);

	c->lru_prev = NIL;
	c->lru_next = ct_index(ct, ct->lru_head);
	if (ct->lru_head)
		ct->lru_head->lru_prev = i;
	ct->lru_head = c;
	if (!ct->lru_tail)
		ct->lru_tail = c;
}

static struct conn *ct_find(struct conntrack *ct, uint64_t id)
{
	for (struct conn *c = ct_at(ct, ct->buckets[ct_hash(ct, id)]); c; c = ct_at(ct, c->hnext))
		if (c->conn_id == id)
			return c;
	return NULL;
}

/* Ends an entry's life (its HTTP state already closed): the slot is freed.
 * A connection a checkpoint holds must be deleted from it: noted, unless
 * already noted as changed (the checkpoint then finds it gone). */
static void ct_unlink(struct conntrack *ct, struct conn *c)
{
	uint32_t i = ct_index(ct, c), *pp = &ct->buckets[ct_hash(ct, c->conn_id)];

	while (*pp != i)
		pp = &ct_at(ct, *pp)->hnext;
	*pp = c->hnext;
	lru_unlink(ct, c);
	if (ct->tracking && c->ckpt == CONN_SAVED)
		ct_note(ct, c->conn_id);
	http1_drop(c->http); /* nothing is left after a close: this only makes sure */
	c->hnext = ct->free;
	ct->free = i;
	ct->st.live--;
}

/* Evictions and flushes: pending requests are emitted, the slot freed. */
static void ct_remove(struct conntrack *ct, struct conn *c, uint64_t ts_ns)
{
	http1_close(c->http, ts_ns);
	ct_unlink(ct, c);
}

static struct conn *ct_slot(struct conntrack *ct, uint64_t ts_ns)
{
	struct conn *c;

	if (ct->free == NIL && ct->fresh == ct->max_conns) {
		ct->st.evicted++;
		ct_remove(ct, ct->lru_tail, ts_ns);
	}
	if (ct->free != NIL) {
		c = ct_at(ct, ct->free);
		ct->free = c->hnext;
	} else {
		c = (struct conn *)(ct->slots + (size_t)ct->fresh++ * ct->slot_size);
	}
	return c;
}

static struct conn *ct_insert(struct conntrack *ct, uint64_t id, uint64_t ts_ns,
			      uint32_t tgid, uint8_t role)
{
	struct conn *c = ct_slot(ct, ts_ns);
	uint32_t h;

	memset(c, 0, sizeof(*c));
	c->conn_id = id;
	c->last_ns = ts_ns;
	c->tgid = tgid;
	c->role = role;
	c->ct = ct;
	c->http = (struct http1_conn *)(c + 1);
	http1_init_pool(c->http, (enum http1_role)role, c, ct->pool);
	h = ct_hash(ct, id);
	c->hnext = ct->buckets[h];
	ct->buckets[h] = ct_index(ct, c);
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
	} else {
		c = ct_insert(ct, conn_id, ts_ns, tgid, role);
	}
	ct_dirty(ct, c); /* the caller fills in the endpoints */
	return c;
}

struct conn *conntrack_get(struct conntrack *ct, uint64_t conn_id, uint64_t ts_ns,
			   uint32_t tgid)
{
	struct conn *c = ct_find(ct, conn_id);

	if (!c) {
		ct->st.unknown++;
		c = ct_insert(ct, conn_id, ts_ns, tgid, SLUICE_ROLE_UNKNOWN);
	}
	c->last_ns = ts_ns;
	if (ct->lru_head != c) {
		lru_unlink(ct, c);
		lru_push(ct, c);
	}
	ct_dirty(ct, c); /* the caller feeds it data */
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

void conntrack_forget(struct conntrack *ct, uint64_t conn_id)
{
	struct conn *c = ct_find(ct, conn_id);

	if (c)
		ct_unlink(ct, c); /* drops its requests unseen */
}

void conntrack_flush(struct conntrack *ct, uint64_t ts_ns)
{
	while (ct->lru_tail)
		ct_remove(ct, ct->lru_tail, ts_ns);
}

const struct conntrack_stats *conntrack_stats(const struct conntrack *ct)
{
	/* the pool counts for itself; copied when asked (ct is never const) */
	((struct conntrack *)ct)->st.pending = http1_pool_used(ct->pool);
	return &ct->st;
}

struct http1_stats *conntrack_http_stats(struct conntrack *ct)
{
	return &ct->http;
}

void conntrack_foreach(struct conntrack *ct, void (*fn)(void *ctx, struct conn *c), void *ctx)
{
	for (struct conn *c = ct->lru_tail, *prev; c; c = prev) {
		prev = ct_at(ct, c->lru_prev);
		fn(ctx, c);
	}
}

struct conn *conntrack_restore(struct conntrack *ct, const struct conn *saved, const void *http,
			       size_t len)
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
	c->comm[sizeof(c->comm) - 1] = 0;
	c->bytes_sent = saved->bytes_sent;
	c->bytes_recv = saved->bytes_recv;
	http1_restore(c->http, http, len);
	c->ckpt = CONN_SAVED;
	return c;
}

bool conntrack_changes(struct conntrack *ct, conntrack_change_fn fn, void *ctx)
{
	ct->tracking = true;
	if (ct->overflow)
		return false;
	for (uint32_t i = 0; i < ct->nchanges; i++) {
		uint64_t id = ct->changes[i];
		struct conn *c = ct_find(ct, id);

		if (!c) {
			fn(ctx, id, NULL);
		} else if (c->ckpt & CONN_DIRTY) { /* else: an id noted twice */
			c->ckpt = CONN_SAVED;
			fn(ctx, id, c);
		}
	}
	ct->nchanges = 0;
	return true;
}

uint32_t conntrack_changes_pending(const struct conntrack *ct)
{
	return ct->overflow ? UINT32_MAX : ct->nchanges;
}

void conntrack_changes_reset(struct conntrack *ct)
{
	ct->tracking = true;
	ct->overflow = false;
	ct->nchanges = 0;
	for (struct conn *c = ct->lru_head; c; c = ct_at(ct, c->lru_next))
		c->ckpt = CONN_SAVED;
}

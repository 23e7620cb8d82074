/* The ip -> name cache (processor/dnscache.h): a fixed array of entries
 * linked three ways by index: a hash chain per bucket, one LRU list (most
 * recent at the head) and the dirty list (oldest change at the head). Names
 * are copied to the heap, at most 2 * (DNS_NAME_MAX + 1) bytes per entry. */
#include "processor/dnscache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NIL UINT32_MAX

struct slot {
	uint8_t family, source;
	bool used, dirty;
	uint8_t addr[16];
	int64_t expires_ns, updated_ns;
	char *name, *alias;
	uint32_t hnext;            /* hash chain */
	uint32_t prev, next;       /* LRU list, or the free list (next only) */
	uint32_t dprev, dnext;     /* dirty list */
};

struct list {
	uint32_t head, tail;
};

struct dnscache {
	struct slot *slots;
	uint32_t cap, nbuckets;    /* nbuckets: a power of two >= 2 * cap */
	uint32_t *buckets;
	uint32_t free;             /* free list through slot.next */
	struct list lru, dirty;
	struct dnscache_stats st;
};

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void dnscache_normalize(uint8_t *family, uint8_t addr[16])
{
	if (*family == AF_INET6 && !memcmp(addr, v4mapped, 12)) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	}
}

static uint32_t addr_hash(const struct dnscache *c, uint8_t family, const uint8_t *addr)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ family;

	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		h = (h ^ addr[i]) * 0x100000001b3ULL;
	return (uint32_t)(h ^ h >> 32) & (c->nbuckets - 1);
}

/* ---- the two lists, by index ---- */

static void lru_unlink(struct dnscache *c, uint32_t i)
{
	struct slot *s = &c->slots[i];

	if (s->prev != NIL)
		c->slots[s->prev].next = s->next;
	else
		c->lru.head = s->next;
	if (s->next != NIL)
		c->slots[s->next].prev = s->prev;
	else
		c->lru.tail = s->prev;
}

static void lru_push_head(struct dnscache *c, uint32_t i)
{
	c->slots[i].prev = NIL;
	c->slots[i].next = c->lru.head;
	if (c->lru.head != NIL)
		c->slots[c->lru.head].prev = i;
	c->lru.head = i;
	if (c->lru.tail == NIL)
		c->lru.tail = i;
}

static void dirty_unlink(struct dnscache *c, uint32_t i)
{
	struct slot *s = &c->slots[i];

	if (!s->dirty)
		return;
	if (s->dprev != NIL)
		c->slots[s->dprev].dnext = s->dnext;
	else
		c->dirty.head = s->dnext;
	if (s->dnext != NIL)
		c->slots[s->dnext].dprev = s->dprev;
	else
		c->dirty.tail = s->dprev;
	s->dirty = false;
	c->st.dirty--;
}

static void dirty_mark(struct dnscache *c, uint32_t i)
{
	struct slot *s = &c->slots[i];

	if (s->dirty)
		return;
	s->dirty = true;
	c->st.dirty++;
	s->dnext = NIL;
	s->dprev = c->dirty.tail;
	if (c->dirty.tail != NIL)
		c->slots[c->dirty.tail].dnext = i;
	else
		c->dirty.head = i;
	c->dirty.tail = i;
}

/* ---- slots ---- */

static uint32_t find(const struct dnscache *c, uint8_t family, const uint8_t *addr,
		     uint32_t **link)
{
	uint32_t *l = &c->buckets[addr_hash(c, family, addr)];

	for (; *l != NIL; l = &c->slots[*l].hnext) {
		const struct slot *s = &c->slots[*l];

		if (s->family == family && !memcmp(s->addr, addr, 16))
			break;
	}
	if (link)
		*link = l;
	return *l;
}

static void drop(struct dnscache *c, uint32_t i)
{
	struct slot *s = &c->slots[i];
	uint32_t *link;

	find(c, s->family, s->addr, &link);
	*link = s->hnext;
	lru_unlink(c, i);
	dirty_unlink(c, i);
	free(s->name);
	free(s->alias);
	memset(s, 0, sizeof(*s));
	s->next = c->free;
	c->free = i;
	c->st.entries--;
}

/* A free slot, evicting the least recently used entry when none is. */
static uint32_t take_slot(struct dnscache *c)
{
	uint32_t i = c->free;

	if (i == NIL) {
		c->st.evictions++;
		drop(c, c->lru.tail);
		i = c->free;
	}
	c->free = c->slots[i].next;
	return i;
}

/* Replaces *dst with a copy of src (NULL allowed) unless they are equal.
 * Returns whether it changed; on allocation failure the old value stays. */
static bool set_str(char **dst, const char *src)
{
	char *copy;

	if ((!*dst && !src) || (*dst && src && !strcmp(*dst, src)))
		return false;
	if (src && !(copy = strndup(src, DNS_NAME_MAX)))
		return false;
	free(*dst);
	*dst = src ? copy : NULL;
	return true;
}

/* ---- the interface ---- */

struct dnscache *dnscache_new(uint32_t max_entries)
{
	struct dnscache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cap = max_entries < 16 ? 16 : max_entries;
	for (c->nbuckets = 1; c->nbuckets < 2 * c->cap; c->nbuckets <<= 1)
		;
	c->slots = calloc(c->cap, sizeof(*c->slots));
	c->buckets = malloc(c->nbuckets * sizeof(*c->buckets));
	if (!c->slots || !c->buckets) {
		dnscache_free(c);
		return NULL;
	}
	memset(c->buckets, 0xff, c->nbuckets * sizeof(*c->buckets)); /* NIL */
	for (uint32_t i = 0; i < c->cap; i++)
		c->slots[i].next = i + 1 < c->cap ? i + 1 : NIL;
	c->free = 0;
	c->lru = c->dirty = (struct list){ NIL, NIL };
	return c;
}

void dnscache_free(struct dnscache *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->slots && i < c->cap; i++) {
		free(c->slots[i].name);
		free(c->slots[i].alias);
	}
	free(c->slots);
	free(c->buckets);
	free(c);
}

static uint32_t insert(struct dnscache *c, uint8_t family, const uint8_t *addr)
{
	uint32_t i = take_slot(c), h;
	struct slot *s = &c->slots[i];

	memset(s, 0, sizeof(*s));
	s->used = true;
	s->family = family;
	memcpy(s->addr, addr, family == AF_INET ? 4 : 16);
	h = addr_hash(c, family, s->addr);
	s->hnext = c->buckets[h];
	c->buckets[h] = i;
	lru_push_head(c, i);
	c->st.inserts++;
	c->st.entries++;
	return i;
}

void dnscache_put(struct dnscache *c, const struct dnscache_entry *e, int64_t now_ns)
{
	uint8_t family = e->family, addr[16] = { 0 };
	bool changed;
	uint32_t i;
	struct slot *s;

	if (!e->name || !e->name[0] || e->expires_ns <= now_ns ||
	    (family != AF_INET && family != AF_INET6))
		return;
	memcpy(addr, e->addr, family == AF_INET ? 4 : 16);
	dnscache_normalize(&family, addr);
	if ((i = find(c, family, addr, NULL)) == NIL) {
		i = insert(c, family, addr);
	} else {
		c->st.updates++;
		lru_unlink(c, i);
		lru_push_head(c, i);
	}
	s = &c->slots[i];
	changed = set_str(&s->name, e->name);
	changed |= set_str(&s->alias, e->alias);
	if (!s->name) { /* out of memory for a new entry: it cannot stand */
		drop(c, i);
		return;
	}
	/* a later expiry is news for the store; an earlier one only with a rename */
	if (changed || e->expires_ns > s->expires_ns || s->source != e->source) {
		s->expires_ns = e->expires_ns;
		s->source = e->source;
		s->updated_ns = e->updated_ns ? e->updated_ns : now_ns;
		dirty_mark(c, i);
	}
}

const char *dnscache_get(struct dnscache *c, uint8_t family, const uint8_t *addr,
			 int64_t now_ns)
{
	uint8_t a[16] = { 0 };
	uint32_t i;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	memcpy(a, addr, family == AF_INET ? 4 : 16);
	dnscache_normalize(&family, a);
	i = find(c, family, a, NULL);
	if (i != NIL && c->slots[i].expires_ns <= now_ns) {
		c->st.expired++;
		drop(c, i);
		i = NIL;
	}
	if (i == NIL) {
		c->st.misses++;
		return NULL;
	}
	c->st.hits++;
	lru_unlink(c, i);
	lru_push_head(c, i);
	return c->slots[i].name;
}

uint32_t dnscache_expire(struct dnscache *c, int64_t now_ns)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->cap; i++) {
		if (c->slots[i].used && c->slots[i].expires_ns <= now_ns) {
			drop(c, i);
			n++;
		}
	}
	c->st.expired += n;
	return n;
}

static void view(const struct slot *s, struct dnscache_entry *e)
{
	e->family = s->family;
	memcpy(e->addr, s->addr, 16);
	e->source = s->source;
	e->name = s->name;
	e->alias = s->alias;
	e->expires_ns = s->expires_ns;
	e->updated_ns = s->updated_ns;
}

uint32_t dnscache_take_dirty(struct dnscache *c,
			     void (*fn)(void *ctx, const struct dnscache_entry *e), void *ctx)
{
	struct dnscache_entry e;
	uint32_t n = 0, i;

	while ((i = c->dirty.head) != NIL) {
		dirty_unlink(c, i);
		view(&c->slots[i], &e);
		fn(ctx, &e);
		n++;
	}
	return n;
}

const struct dnscache_stats *dnscache_stats(const struct dnscache *c)
{
	return &c->st;
}

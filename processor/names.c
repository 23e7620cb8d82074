/* Names for addresses (processor/names.h): DNS events in, lookups out, and
 * the dns_names table kept in step with the cache. */
#include "processor/names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sqlite3.h>

#include "common/records.h"
#include "common/log.h"
#include "processor/dns.h"
#include "processor/metrics.h"
#include "processor/rdns.h"
#include "processor/store.h"

#define SEC_NS 1000000000LL
#define NAMES_SWEEP_NS SEC_NS /* expired cache entries are dropped this often */

struct names {
	struct dnscache *cache;
	struct rdns *rdns;          /* NULL: passive only */
	struct dns_msg msg;         /* parse buffer (16 KiB: kept off the stack) */
	struct dns_answer ans[DNS_MAX_RRS];
	int64_t next_sweep_ns;
	int64_t next_expiry_ns;     /* earliest expiry among stored rows; 0: none stored */
	struct sqlite3_stmt *put;   /* while write() runs */
	int64_t write_now;
	int write_err;
	struct names_stats st;
};

struct names *names_new(uint32_t cache_entries)
{
	struct names *n = calloc(1, sizeof(*n));

	if (n && !(n->cache = dnscache_new(cache_entries ? cache_entries
							  : DNSCACHE_DEFAULT_ENTRIES))) {
		free(n);
		return NULL;
	}
	return n;
}

void names_free(struct names *n)
{
	if (!n)
		return;
	rdns_free(n->rdns);
	dnscache_free(n->cache);
	free(n);
}

/* ---- DNS packets ---- */

static void learn(struct names *n, const struct dns_answer *a, int64_t unix_ns, uint8_t src)
{
	struct dnscache_entry e = {
		.family = a->family, .name = a->name, .alias = a->alias, .source = src,
		.expires_ns = unix_ns + (int64_t)a->ttl * SEC_NS, .updated_ns = unix_ns,
	};

	memcpy(e.addr, a->addr, 16);
	dnscache_put(n->cache, &e, unix_ns);
	n->st.answers++;
}

void names_dns(struct names *n, const struct wire_event *ev, int64_t unix_ns)
{
	const uint8_t *msg = ev->dns.payload;
	size_t len = ev->dns.cap_len, k;

	n->st.packets++;
	if ((ev->dns.proto == IPPROTO_TCP && dns_tcp_unframe(msg, len, &msg, &len) < 0) ||
	    dns_parse(msg, len, &n->msg) < 0 || n->msg.opcode != 0) {
		n->st.malformed++; /* also a TCP segment continuing a message: not parsed */
		return;
	}
	if (!n->msg.response) {
		n->st.queries++;
		return;
	}
	n->st.responses++;
	n->st.truncated += n->msg.cut || n->msg.tc || ev->dns.cap_len < ev->dns.full_len;
	k = dns_answers(&n->msg, n->ans, DNS_MAX_RRS);
	for (size_t i = 0; i < k; i++)
		learn(n, &n->ans[i], unix_ns, DNSCACHE_SRC_DNS);
}

/* ---- lookups ---- */

const char *names_lookup(struct names *n, uint8_t family, const uint8_t *addr, int64_t unix_ns)
{
	const char *name = dnscache_get(n->cache, family, addr, unix_ns);

	if (!name && n->rdns)
		rdns_want(n->rdns, family, addr, unix_ns);
	return name;
}

const char *names_pair_server(struct names *n, const struct conn *c, const struct http1_pair *p,
			      int64_t unix_ns)
{
	uint8_t role = p->role ? p->role : c->role; /* the parser's role wins, as in output.c */

	if (!c->family)
		return NULL; /* the open event was lost: no addresses */
	return names_lookup(n, c->family, role == SLUICE_ROLE_SERVER ? c->laddr : c->raddr,
			    unix_ns);
}

static void on_ptr(void *ctx, uint8_t family, const uint8_t *addr, const char *name,
		   uint32_t ttl, int64_t unix_ns)
{
	struct names *n = ctx;
	struct dns_answer a = { .family = family, .ttl = ttl, .name = name };

	memcpy(a.addr, addr, family == AF_INET ? 4 : 16);
	learn(n, &a, unix_ns, DNSCACHE_SRC_PTR);
}

void names_set_rdns(struct names *n, struct rdns *r)
{
	rdns_free(n->rdns);
	n->rdns = r;
	if (r)
		rdns_set_callback(r, on_ptr, n);
}

static int64_t wall_ns(void);

void names_tick(struct names *n)
{
	int64_t now_unix_ns = wall_ns();

	if (now_unix_ns >= n->next_sweep_ns) {
		dnscache_expire(n->cache, now_unix_ns);
		n->next_sweep_ns = now_unix_ns + NAMES_SWEEP_NS;
	}
	if (n->rdns)
		rdns_poll(n->rdns, now_unix_ns);
}

/* ---- the dns_names table ---- */

static const char names_put_sql[] =
	"INSERT INTO dns_names (addr, name, alias, source, first_seen, updated, expires)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) ON CONFLICT (addr, name) DO UPDATE SET"
	" alias = excluded.alias, source = excluded.source, updated = excluded.updated,"
	" expires = excluded.expires";

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static const char *source_name(uint8_t src)
{
	return src == DNSCACHE_SRC_PTR ? "ptr" : "dns";
}

static void put_row(void *ctx, const struct dnscache_entry *e)
{
	struct names *n = ctx;
	sqlite3_stmt *q = n->put;
	char addr[INET6_ADDRSTRLEN];

	if (n->write_err)
		return; /* the transaction rolls back: these rows go with it */
	inet_ntop(e->family, e->addr, addr, sizeof(addr));
	sqlite3_bind_text(q, 1, addr, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, e->name, -1, SQLITE_STATIC);
	if (e->alias)
		sqlite3_bind_text(q, 3, e->alias, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 3);
	sqlite3_bind_text(q, 4, source_name(e->source), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, e->updated_ns);
	sqlite3_bind_int64(q, 6, e->expires_ns);
	if (sqlite3_step(q) != SQLITE_DONE)
		n->write_err = -EIO;
	else
		n->st.rows_written++;
	sqlite3_reset(q);
	if (!n->next_expiry_ns || e->expires_ns < n->next_expiry_ns)
		n->next_expiry_ns = e->expires_ns;
}

/* Deletes the expired rows and finds when the next one expires. */
static int delete_expired(struct names *n, sqlite3 *db, int64_t now)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "DELETE FROM dns_names WHERE expires <= ?1", -1, &q, NULL))
		return -EIO;
	sqlite3_bind_int64(q, 1, now);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -EIO;
	n->st.rows_expired += (uint64_t)sqlite3_changes(db);
	n->next_expiry_ns = 0;
	if (sqlite3_prepare_v2(db, "SELECT min(expires) FROM dns_names", -1, &q, NULL))
		return -EIO;
	if (sqlite3_step(q) == SQLITE_ROW)
		n->next_expiry_ns = sqlite3_column_int64(q, 0); /* NULL (no rows) reads 0 */
	sqlite3_finalize(q);
	return 0;
}

static uint32_t w_pending(void *ctx)
{
	struct names *n = ctx;

	return (uint32_t)dnscache_stats(n->cache)->dirty +
	       (n->next_expiry_ns && wall_ns() >= n->next_expiry_ns);
}

static int w_write(void *ctx, sqlite3 *db, int64_t boot, int64_t now)
{
	struct names *n = ctx;

	(void)boot; /* names outlive boots: an address is called what DNS says */
	n->write_err = 0;
	if (dnscache_stats(n->cache)->dirty) {
		if (sqlite3_prepare_v2(db, names_put_sql, -1, &n->put, NULL) != SQLITE_OK)
			return -EIO;
		dnscache_take_dirty(n->cache, put_row, n);
		sqlite3_finalize(n->put);
		n->put = NULL;
	}
	if (!n->write_err && n->next_expiry_ns && now >= n->next_expiry_ns)
		n->write_err = delete_expired(n, db, now);
	return n->write_err;
}

static void w_done(void *ctx, int committed)
{
	(void)ctx; /* the rows were taken either way; a failed commit is the store's count */
	(void)committed;
}

static void load_row(struct names *n, sqlite3_stmt *q, int64_t now)
{
	const char *addr = (const char *)sqlite3_column_text(q, 0);
	const char *src = (const char *)sqlite3_column_text(q, 3);
	struct dnscache_entry e = {
		.name = (const char *)sqlite3_column_text(q, 1),
		.alias = (const char *)sqlite3_column_text(q, 2),
		.source = src && !strcmp(src, "ptr") ? DNSCACHE_SRC_PTR : DNSCACHE_SRC_DNS,
		.updated_ns = sqlite3_column_int64(q, 4),
		.expires_ns = sqlite3_column_int64(q, 5),
	};

	if (!addr || !e.name)
		return;
	e.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(e.family, addr, e.addr) != 1)
		return;
	dnscache_put(n->cache, &e, now);
	n->st.rows_loaded++;
}

static void clean(void *ctx, const struct dnscache_entry *e)
{
	(void)ctx; /* loaded from the table: nothing to write back */
	(void)e;
}

/* Oldest first, so the newest answer for an address is the one it keeps. */
static void load(struct names *n, sqlite3 *db, int64_t now)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(db, "SELECT addr, name, alias, source, updated, expires"
				   " FROM dns_names WHERE expires > ?1 ORDER BY updated", -1, &q,
			       NULL) != SQLITE_OK) {
		log_warn("cannot read dns_names: %s", sqlite3_errmsg(db));
		return;
	}
	sqlite3_bind_int64(q, 1, now);
	while (sqlite3_step(q) == SQLITE_ROW)
		load_row(n, q, now);
	sqlite3_finalize(q);
	dnscache_take_dirty(n->cache, clean, NULL);
	n->next_expiry_ns = now; /* rows that expired while stopped go at the first commit */
	if (n->st.rows_loaded)
		log_info("%" PRIu64 " DNS names still valid loaded from the store",
			 n->st.rows_loaded);
}

void names_attach_store(struct names *n, struct store *s, int64_t now_unix_ns)
{
	struct store_writer w = { w_pending, w_write, w_done, n };
	sqlite3 *db = store_add_writer(s, &w);

	if (db)
		load(n, db, now_unix_ns);
}

/* ---- counters ---- */

const struct names_stats *names_stats(const struct names *n)
{
	return &n->st;
}

const struct dnscache_stats *names_cache_stats(const struct names *n)
{
	return dnscache_stats(n->cache);
}

void names_status_json(const struct names *n, FILE *f)
{
	const struct names_stats *s = &n->st;
	const struct dnscache_stats *c = dnscache_stats(n->cache);

	fprintf(f, ",\"dns\":{\"packets\":%" PRIu64 ",\"queries\":%" PRIu64
		   ",\"responses\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"truncated\":%" PRIu64
		   ",\"answers\":%" PRIu64 ",\"rows_written\":%" PRIu64 ",\"rows_expired\":%" PRIu64
		   ",\"rows_loaded\":%" PRIu64,
		s->packets, s->queries, s->responses, s->malformed, s->truncated, s->answers,
		s->rows_written, s->rows_expired, s->rows_loaded);
	fprintf(f, ",\"cache\":{\"entries\":%" PRIu64 ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
		   ",\"inserts\":%" PRIu64 ",\"updates\":%" PRIu64 ",\"evictions\":%" PRIu64
		   ",\"expired\":%" PRIu64 "}",
		c->entries, c->hits, c->misses, c->inserts, c->updates, c->evictions, c->expired);
	if (n->rdns)
		rdns_status_json(n->rdns, f);
	fputc('}', f);
}

static void set(struct metrics *m, enum metrics_id id, enum metrics_key k, const char *v,
		uint64_t n)
{
	struct metrics_attrs a = { 0 };

	if (v)
		a.v[k] = v;
	metrics_set(m, id, &a, n);
}

void names_metrics(const struct names *n, struct metrics *m)
{
	const struct dnscache_stats *c = dnscache_stats(n->cache);

	if (!m)
		return;
	set(m, M_DNS_PACKETS, MK_TYPE, "query", n->st.queries);
	set(m, M_DNS_PACKETS, MK_TYPE, "response", n->st.responses);
	set(m, M_DNS_PACKETS, MK_TYPE, "malformed", n->st.malformed);
	set(m, M_DNS_CACHE_LOOKUPS, MK_RESULT, "hit", c->hits);
	set(m, M_DNS_CACHE_LOOKUPS, MK_RESULT, "miss", c->misses);
	set(m, M_DNS_CACHE_REMOVED, MK_REASON, "evicted", c->evictions);
	set(m, M_DNS_CACHE_REMOVED, MK_REASON, "expired", c->expired);
	set(m, M_DNS_CACHE_ENTRIES, MK_MAX, NULL, c->entries);
}

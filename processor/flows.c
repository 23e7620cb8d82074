/* Flows (processor/flows.h): each FLOW event adds to two counters per
 * direction and to a pending row; pending rows are written with the
 * store's next commit. Owners: the process's executable name (exec events,
 * else the comm the probes recorded), and container and pod from the
 * socket's cgroup path (cached per cgroup id). */
#include "processor/flows.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sqlite3.h>

#include "common/records.h"
#include "processor/cgroup.h"
#include "processor/metrics.h"
#include "processor/names.h"
#include "processor/output.h"
#include "processor/procs.h"
#include "processor/store.h"

#define SEC_NS 1000000000LL
#define FLOWS_PRUNE_NS (10 * SEC_NS)
#define CGROUP_SLOTS 256  /* cgroup id -> container, pod; direct-mapped */

/* What one flow adds before the next store commit. */
struct flow_row {
	bool used;
	uint8_t family, proto;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
	uint64_t cgroup_id, conn_id;
	uint32_t pid;
	char comm[SLUICE_COMM_LEN];
	uint64_t bytes_out, bytes_in, pkts_out, pkts_in;
	int64_t first, last;
};

struct cgroup_slot {
	uint64_t id; /* 0: empty */
	struct cgroup_info info;
};

struct flows {
	struct names *names;
	struct metrics *m;
	struct store *store;
	struct flow_row *rows;     /* open addressing, ROW_SLOTS slots */
	uint32_t *used;            /* the slots in use, nrows of them */
	uint32_t nrows;
	int64_t next_prune_ns;
	struct cgroup_cache *cg;
	struct cgroup_slot cgroups[CGROUP_SLOTS];
	struct flows_stats st;
};

#define ROW_SLOTS (2 * FLOWS_PENDING_MAX)

struct flows *flows_new(struct names *names)
{
	struct flows *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->names = names;
	f->rows = calloc(ROW_SLOTS, sizeof(*f->rows));
	f->used = calloc(FLOWS_PENDING_MAX, sizeof(*f->used));
	f->cg = cgroup_cache_new(NULL);
	if (!f->rows || !f->used || !f->cg) {
		flows_free(f);
		return NULL;
	}
	return f;
}

void flows_free(struct flows *f)
{
	if (!f)
		return;
	cgroup_cache_free(f->cg);
	free(f->rows);
	free(f->used);
	free(f);
}

void flows_set_metrics(struct flows *f, struct metrics *m)
{
	f->m = m;
}

/* ---- owners ---- */

/* The executable's name when its exec was seen (as pairs show it), else
 * the comm the probes recorded when the socket was created: the process
 * has often exited by the time its flow is read. */
static const char *owner_name(const struct wire_event *ev, char comm[SLUICE_COMM_LEN])
{
	uint32_t n = ev->flow.comm_len < SLUICE_COMM_LEN - 1 ? ev->flow.comm_len
							      : SLUICE_COMM_LEN - 1;

	memcpy(comm, ev->flow.comm, n);
	comm[n] = 0;
	if (!comm[0])
		return NULL;
	return ev->tgid ? procs_name(ev->tgid, comm) : comm;
}

static const struct cgroup_info *owner_cgroup(struct flows *f, uint64_t id)
{
	struct cgroup_slot *s = &f->cgroups[id % CGROUP_SLOTS];
	struct timespec ts;
	const char *path;

	if (!id)
		return NULL;
	if (s->id == id)
		return &s->info;
	if (!(path = cgroup_cache_get(f->cg, id))) {
		clock_gettime(CLOCK_MONOTONIC, &ts); /* the cache limits walks to one a second */
		cgroup_cache_scan(f->cg, (uint64_t)ts.tv_sec * SEC_NS + (uint64_t)ts.tv_nsec);
		if (!(path = cgroup_cache_get(f->cg, id)))
			return NULL;
	}
	s->id = id;
	cgroup_parse(path, &s->info);
	return &s->info;
}

/* ---- metrics ---- */

struct ends {
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN], lport[8], rport[8], pid[12];
	const char *lname, *rname;
};

static void name_ends(struct flows *f, const struct wire_event *ev, int64_t unix_ns,
		      struct ends *e)
{
	output_addr(e->l, sizeof(e->l), ev->flow.family, ev->flow.laddr);
	output_addr(e->r, sizeof(e->r), ev->flow.family, ev->flow.raddr);
	snprintf(e->lport, sizeof(e->lport), "%u", ev->flow.lport);
	snprintf(e->rport, sizeof(e->rport), "%u", ev->flow.rport);
	snprintf(e->pid, sizeof(e->pid), "%u", ev->tgid);
	e->lname = f->names ? names_lookup(f->names, ev->flow.family, ev->flow.laddr, unix_ns) : NULL;
	e->lname = e->lname ? e->lname : e->l;
	e->rname = f->names ? names_lookup(f->names, ev->flow.family, ev->flow.raddr, unix_ns) : NULL;
	e->rname = e->rname ? e->rname : e->r;
}

/* transmit: from the local end to the remote one; receive: the reverse. */
static void add(struct flows *f, struct metrics_attrs *a, const struct ends *e, bool tx,
		uint64_t bytes, uint64_t pkts)
{
	if (!bytes && !pkts)
		return;
	a->v[MK_IO_DIRECTION] = tx ? "transmit" : "receive";
	a->v[MK_SOURCE_ADDR] = tx ? e->lname : e->rname;
	a->v[MK_SOURCE_PORT] = tx ? e->lport : e->rport;
	a->v[MK_DEST_ADDR] = tx ? e->rname : e->lname;
	a->v[MK_DEST_PORT] = tx ? e->rport : e->lport;
	metrics_add(f->m, M_NET_FLOW_BYTES, a, bytes);
	metrics_add(f->m, M_NET_FLOW_PACKETS, a, pkts);
}

static void measure(struct flows *f, const struct wire_event *ev, int64_t unix_ns)
{
	const struct cgroup_info *cg = owner_cgroup(f, ev->flow.cgroup_id);
	struct metrics_attrs a = { 0 };
	char comm[SLUICE_COMM_LEN];
	struct ends e;

	name_ends(f, ev, unix_ns, &e);
	a.v[MK_TRANSPORT] = ev->flow.proto == IPPROTO_TCP ? "tcp" : "udp";
	a.v[MK_EXE] = owner_name(ev, comm);
	a.v[MK_PID] = ev->tgid ? e.pid : NULL;
	a.v[MK_CONTAINER] = cg && cg->container_id[0] ? cg->container_id : NULL;
	a.v[MK_POD_UID] = cg && cg->pod_uid[0] ? cg->pod_uid : NULL;
	add(f, &a, &e, true, ev->flow.bytes_out, ev->flow.pkts_out);
	add(f, &a, &e, false, ev->flow.bytes_in, ev->flow.pkts_in);
}

/* ---- rows for the store ---- */

static uint32_t row_hash(const struct wire_event *ev)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *parts[2] = { ev->flow.laddr, ev->flow.raddr };
	size_t alen = ev->flow.family == AF_INET ? 4 : 16;

	for (int p = 0; p < 2; p++)
		for (size_t i = 0; i < alen; i++)
			h = (h ^ parts[p][i]) * 0x100000001b3ULL;
	h ^= ev->flow.cgroup_id * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)ev->flow.lport << 32 | (uint64_t)ev->flow.rport << 16 | ev->flow.proto;
	h *= 0x100000001b3ULL;
	return (uint32_t)(h ^ h >> 32);
}

static bool row_is(const struct flow_row *r, const struct wire_event *ev)
{
	return r->family == ev->flow.family && r->proto == ev->flow.proto &&
	       r->lport == ev->flow.lport && r->rport == ev->flow.rport &&
	       r->cgroup_id == ev->flow.cgroup_id &&
	       !memcmp(r->laddr, ev->flow.laddr, ev->flow.family == AF_INET ? 4 : 16) &&
	       !memcmp(r->raddr, ev->flow.raddr, ev->flow.family == AF_INET ? 4 : 16);
}

/* The pending row of ev's flow, created empty; NULL when the table is full. */
static struct flow_row *row_get(struct flows *f, const struct wire_event *ev)
{
	uint32_t i = row_hash(ev) % ROW_SLOTS;
	struct flow_row *r;

	for (;; i = (i + 1) % ROW_SLOTS) { /* half empty at most: the probe ends */
		r = &f->rows[i];
		if (!r->used)
			break;
		if (row_is(r, ev))
			return r;
	}
	if (f->nrows >= FLOWS_PENDING_MAX)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->used = true;
	r->family = ev->flow.family;
	r->proto = ev->flow.proto;
	r->lport = ev->flow.lport;
	r->rport = ev->flow.rport;
	r->cgroup_id = ev->flow.cgroup_id;
	memcpy(r->laddr, ev->flow.laddr, ev->flow.family == AF_INET ? 4 : 16);
	memcpy(r->raddr, ev->flow.raddr, ev->flow.family == AF_INET ? 4 : 16);
	f->used[f->nrows++] = i;
	return r;
}

static void row_add(struct flows *f, const struct wire_event *ev, int64_t unix_ns)
{
	struct flow_row *r = row_get(f, ev);

	if (!r) {
		f->st.rows_dropped++;
		return;
	}
	r->pid = r->pid ? r->pid : ev->tgid;
	if (!r->comm[0])
		owner_name(ev, r->comm);
	r->conn_id = r->conn_id ? r->conn_id : ev->flow.conn_id;
	r->bytes_out += ev->flow.bytes_out;
	r->bytes_in += ev->flow.bytes_in;
	r->pkts_out += ev->flow.pkts_out;
	r->pkts_in += ev->flow.pkts_in;
	r->first = r->first ? r->first : unix_ns;
	r->last = unix_ns > r->last ? unix_ns : r->last;
}

static const char flows_put_sql[] =
	"INSERT INTO flows (boot, cgroup_id, proto, laddr, lport, raddr, rport, raddr_name, pid,"
	" process, conn_id, bytes_out, bytes_in, pkts_out, pkts_in, first_seen, last_seen, comm)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, (SELECT id FROM processes WHERE boot = ?1"
	" AND pid = ?9 ORDER BY exited IS NULL DESC, id DESC LIMIT 1), ?10, ?11, ?12, ?13, ?14,"
	" ?15, ?16, ?17)"
	" ON CONFLICT (boot, cgroup_id, proto, laddr, lport, raddr, rport) DO UPDATE SET"
	" raddr_name = coalesce(excluded.raddr_name, flows.raddr_name),"
	" pid = coalesce(flows.pid, excluded.pid),"
	" comm = coalesce(flows.comm, excluded.comm),"
	" process = coalesce(flows.process, excluded.process),"
	" conn_id = coalesce(flows.conn_id, excluded.conn_id),"
	" bytes_out = flows.bytes_out + excluded.bytes_out,"
	" bytes_in = flows.bytes_in + excluded.bytes_in,"
	" pkts_out = flows.pkts_out + excluded.pkts_out,"
	" pkts_in = flows.pkts_in + excluded.pkts_in,"
	" last_seen = max(flows.last_seen, excluded.last_seen)";

static int put_row(struct flows *f, sqlite3_stmt *q, int64_t boot, const struct flow_row *r,
		   int64_t now)
{
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
	const char *name = f->names ? names_lookup(f->names, r->family, r->raddr, now) : NULL;
	int rc;

	output_addr(la, sizeof(la), r->family, r->laddr);
	output_addr(ra, sizeof(ra), r->family, r->raddr);
	sqlite3_bind_int64(q, 1, boot);
	sqlite3_bind_int64(q, 2, (int64_t)r->cgroup_id);
	sqlite3_bind_text(q, 3, r->proto == IPPROTO_TCP ? "tcp" : "udp", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, la, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(q, 5, r->lport);
	sqlite3_bind_text(q, 6, ra, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(q, 7, r->rport);
	if (name)
		sqlite3_bind_text(q, 8, name, -1, SQLITE_TRANSIENT);
	if (r->pid)
		sqlite3_bind_int64(q, 9, r->pid);
	if (r->conn_id)
		sqlite3_bind_int64(q, 10, (int64_t)r->conn_id);
	sqlite3_bind_int64(q, 11, (int64_t)r->bytes_out);
	sqlite3_bind_int64(q, 12, (int64_t)r->bytes_in);
	sqlite3_bind_int64(q, 13, (int64_t)r->pkts_out);
	sqlite3_bind_int64(q, 14, (int64_t)r->pkts_in);
	sqlite3_bind_int64(q, 15, r->first);
	sqlite3_bind_int64(q, 16, r->last);
	if (r->comm[0])
		sqlite3_bind_text(q, 17, r->comm, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Old rows go, and all but the newest FLOWS_STORE_MAX_ROWS. */
static int prune(struct flows *f, sqlite3 *db, int64_t now)
{
	static const char *const sql[2] = {
		"DELETE FROM flows WHERE last_seen < ?1",
		"DELETE FROM flows WHERE id <= (SELECT id FROM flows ORDER BY id DESC"
		" LIMIT 1 OFFSET ?1)",
	};
	int64_t arg[2] = { now - (int64_t)FLOWS_STORE_MAX_AGE_S * SEC_NS, FLOWS_STORE_MAX_ROWS };

	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *q;
		int rc;

		if (sqlite3_prepare_v2(db, sql[i], -1, &q, NULL) != SQLITE_OK)
			return -EIO;
		sqlite3_bind_int64(q, 1, arg[i]);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			return -EIO;
		f->st.rows_pruned += (uint64_t)sqlite3_changes(db);
	}
	f->next_prune_ns = now + FLOWS_PRUNE_NS;
	return 0;
}

static uint32_t w_pending(void *ctx)
{
	return ((struct flows *)ctx)->nrows;
}

static int w_write(void *ctx, sqlite3 *db, int64_t boot, int64_t now)
{
	struct flows *f = ctx;
	sqlite3_stmt *q;
	int err = 0;

	if (!f->nrows)
		return 0;
	if (sqlite3_prepare_v2(db, flows_put_sql, -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	for (uint32_t i = 0; i < f->nrows && !err; i++)
		if (!(err = put_row(f, q, boot, &f->rows[f->used[i]], now)))
			f->st.rows_written++;
	sqlite3_finalize(q);
	if (!err && now >= f->next_prune_ns)
		err = prune(f, db, now);
	return err;
}

/* Committed or not, the rows are gone from here (a failed commit is
 * counted by the store). */
static void w_done(void *ctx, int committed)
{
	struct flows *f = ctx;

	(void)committed;
	for (uint32_t i = 0; i < f->nrows; i++)
		f->rows[f->used[i]].used = false;
	f->nrows = 0;
}

void flows_attach_store(struct flows *f, struct store *s)
{
	struct store_writer w = { w_pending, w_write, w_done, f };

	if (store_add_writer(s, &w))
		f->store = s;
}

/* ---- events ---- */

void flows_event(struct flows *f, uint64_t seq, const struct wire_event *ev, int64_t unix_ns)
{
	f->st.events++;
	f->st.bytes_out += ev->flow.bytes_out;
	f->st.bytes_in += ev->flow.bytes_in;
	f->st.pkts_out += ev->flow.pkts_out;
	f->st.pkts_in += ev->flow.pkts_in;
	if (f->m)
		measure(f, ev, unix_ns);
	if (!f->store)
		return;
	if (store_replayed(f->store, seq))
		f->st.replay_skipped++;
	else
		row_add(f, ev, unix_ns);
}

const struct flows_stats *flows_stats(const struct flows *f)
{
	return &f->st;
}

void flows_status_json(const struct flows *f, FILE *out)
{
	const struct flows_stats *s = &f->st;

	fprintf(out, ",\"flows\":{\"events\":%" PRIu64 ",\"bytes_out\":%" PRIu64
		     ",\"bytes_in\":%" PRIu64 ",\"pkts_out\":%" PRIu64 ",\"pkts_in\":%" PRIu64
		     ",\"rows_written\":%" PRIu64 ",\"rows_dropped\":%" PRIu64
		     ",\"replay_skipped\":%" PRIu64 ",\"rows_pruned\":%" PRIu64 "}",
		s->events, s->bytes_out, s->bytes_in, s->pkts_out, s->pkts_in, s->rows_written,
		s->rows_dropped, s->replay_skipped, s->rows_pruned);
}

/* The metadata store: events become queued row operations ("ops"), which
 * store_flush() applies in one transaction with prepared statements.
 * Queued ops for the same connection, process or port are merged, so a
 * busy keep-alive connection costs one row write per commit, not one per
 * request. See store.h for the life of a row and schema/README.md for the
 * tables. */
#include "processor/store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "common/records.h"
#include "common/log.h"
#include "processor/cgroup.h"
#include "processor/output.h"
#include "processor/k8s.h"
#include "processor/pods.h"
#include "schema_sql.h"

const struct store_migration *const store_schema_list = store_schema;
const int store_schema_count = STORE_SCHEMA_VERSION;

#define STORE_QUEUE_MAX (1u << 18)  /* ops waiting; more are dropped and counted */
#define STORE_PROCS_MAX (1u << 22)  /* live processes remembered (pid_max is 4M) */
#define STORE_CG_RETRY_MAX 1024     /* cgroup ids waiting to be found */
#define STORE_CG_TRIES 5            /* walks before a cgroup id is given up */
#define STORE_PODS_EVERY_NS 1000000000ULL
#define STORE_PRUNE_FLUSHES 100     /* prune at least every this many commits */
#define STORE_CMDLINE_MAX 256
#define STORE_SPARE_CAP 1024        /* ops in a second queue array (600 KB): new, or kept */
#define STORE_ASYNC_CAP 2048        /* a queue array beyond this is never handed over */

enum op_kind { OP_EXEC = 1, OP_EXIT, OP_SEEN, OP_CONN, OP_PORT, OP_CGROUP };

/* What one connection's row gains in this batch. */
struct conn_row {
	uint64_t conn_id;
	uint32_t pid;
	bool has_proc;         /* start: the owning process's start_ns */
	uint64_t start;
	bool has_open;         /* role, opened, comm from the open event */
	uint8_t role;
	int64_t opened;
	char comm[SLUICE_COMM_LEN];
	bool has_ends;         /* endpoints below are known */
	uint8_t family;
	uint16_t lport, rport;
	uint32_t netns;
	uint8_t laddr[16], raddr[16];
	bool has_close;        /* closed, and the bytes are final */
	int64_t closed;
	bool has_bytes;
	uint64_t sent, recv;
	bool http;             /* pairs seen: protocol = http1 */
	uint32_t requests, h4, h5, noresp;
	uint64_t latency;
	int64_t last;
	char rname[256];       /* raddr's DNS name; "" when unknown */
};

struct op {
	uint8_t kind;
	union {
		struct {
			uint32_t pid, ppid, uid, pidns, ns_pid;
			uint64_t start, cgroup_id;
			int64_t ts;
			const char *cgpath; /* owned by the cgroup cache; NULL: not yet known */
			bool promote;       /* a (pid, start 0) row may be this process */
			char comm[SLUICE_COMM_LEN];
			char exe[SLUICE_EXE_LEN];
			char cmdline[STORE_CMDLINE_MAX + 1]; /* argv joined by spaces */
		} exec;
		struct {
			uint32_t pid;
			int32_t status;
			uint64_t start;
			int64_t ts;
		} exit;
		struct {
			uint32_t pid;
			uint64_t start;
			int64_t first, last;
			char comm[SLUICE_COMM_LEN];
		} seen;
		struct conn_row conn;
		struct {
			uint32_t pid, n;    /* n: connections accepted */
			uint64_t start;
			uint8_t family;
			int8_t listening;   /* 1, 0 (stopped), -1: only accepts seen */
			uint16_t port;
			uint8_t addr[16];
			int64_t first, last;
		} port;
		struct {
			uint64_t id;
			const char *path;
			int64_t ts;
		} cg;
	};
};

struct proc_slot {
	uint32_t tgid;
	uint32_t used;
	uint64_t start; /* 0: running, start unknown */
};

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_EXEC_PROMOTE, ST_EXEC, ST_EXIT, ST_EXIT_PROMOTE,
	ST_SEEN, ST_CONN, ST_PORT, ST_PORT_ACCEPT, ST_CG_FIX, ST_CONTAINER, ST_POD_CG, ST_POD_FILE, ST_POD_K8S,
	ST_POD_K8S_LIVE, ST_POD_K8S_GONE, ST_POD_K8S_COUNT, ST_SEQ,
	ST_PROC_LOOKUP, ST_PRUNE_CONNS, ST_PRUNE_CONNS_AGE, ST_PRUNE_PORTS_AGE,
	ST_PRUNE_PROCS_AGE, ST_PRUNE_PROCS, ST_COUNT
};

/* One commit's worth of ops, handed to the commit thread (or committed
 * inline by store_flush). The thread reads only this and what never
 * changes after store_open (db, stmt, boot, path, limits); its results
 * come back here and are added to the counters on the main thread. */
struct store_batch {
	struct op *ops;
	uint32_t nops, cap;
	struct pod_meta *pods;
	int npods;
	uint64_t done_seq;
	bool prune;                /* retention is due in this commit */
	bool writers;              /* other modules' rows too (inline commits only) */
	void (*then)(void *);      /* after the commit, on the same thread */
	void *then_arg;
	/* results */
	int rc;
	uint64_t pruned_conns, pruned_procs;
	char err[200];
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[ST_COUNT];
	int64_t boot;              /* boots.id of the running boot */
	int64_t boot_to_unix;
	uint64_t skip_until;       /* batches up to this seq are committed already */
	struct op *ops;            /* the queue, in arrival order */
	uint32_t nops, cap;
	uint32_t *index;           /* merge index: op slot + 1, 0 = empty */
	uint32_t index_cap;        /* 2 * cap */
	uint32_t batch_rows;
	uint64_t last_commit_ns;   /* monotonic */
	struct proc_slot *procs;   /* tgid -> start_ns of processes believed alive */
	uint32_t procs_cap, nprocs;
	struct cgroup_cache *cg;
	uint64_t retry[STORE_CG_RETRY_MAX]; /* cgroup ids not found yet */
	uint8_t tries[STORE_CG_RETRY_MAX];
	uint32_t nretry;
	struct pods_file pods;
	struct pod_meta *pods_new; /* a reloaded pod list waiting for the next commit */
	int npods_new;
	uint64_t next_pods_ns;
	struct k8s *k8s;           /* pods from the Kubernetes API; NULL: none (now) */
	struct k8s_batch k8s_b;    /* taken from it, waiting for the next commit */
	struct k8s_status k8s_st;  /* its last status, kept for after it stopped */
	bool k8s_used;
	int64_t k8s_known;         /* pods with source k8s and no deleted time */
	uint32_t max_conns;
	int64_t max_age_ns;
	uint32_t conns_since_prune, flushes_since_prune;
	bool failing;              /* last commit failed: log recovery once */
	struct store_writer writers[STORE_WRITERS_MAX]; /* other modules' rows */
	int nwriters;
	struct store_stats st;
	/* The commit thread: one batch at a time. The main thread touches db
	 * only while no batch is in flight (inflight false). */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool thread_started, job_ready, job_done, quit; /* under mu */
	bool inflight;             /* main thread's: job handed over, not collected */
	struct store_batch job;
	struct op *spare;          /* the other queue array, for the next swap */
	uint32_t spare_cap;
};

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t unix_ns(const struct store *s, uint64_t boot_ns)
{
	return (int64_t)boot_ns + s->boot_to_unix;
}

/* Copies a counted, maybe NUL-padded string from an event. */
static void copy_str(char *dst, size_t size, const uint8_t *src, uint32_t len)
{
	const uint8_t *nul = src ? memchr(src, 0, len) : NULL;
	size_t n = nul ? (size_t)(nul - src) : len;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

/* argv as the kernel keeps it (NUL-separated, maybe cut) as one line. */
static void copy_argv(char *dst, size_t size, const uint8_t *src, uint32_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ? (char)src[i] : ' ';
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = 0;
}

/* ---- live processes: tgid -> start_ns, linear probing ---- */

static uint32_t proc_hash(uint32_t tgid, uint32_t cap)
{
	return (tgid * 2654435761u) & (cap - 1);
}

static struct proc_slot *proc_find(const struct store *s, uint32_t tgid)
{
	for (uint32_t i = proc_hash(tgid, s->procs_cap);; i = (i + 1) & (s->procs_cap - 1)) {
		if (!s->procs[i].used)
			return NULL;
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	}
}

static int proc_grow(struct store *s)
{
	uint32_t cap = s->procs_cap * 2;
	struct proc_slot *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->procs_cap; i++) {
		uint32_t j = proc_hash(s->procs[i].tgid, cap);

		if (!s->procs[i].used)
			continue;
		while (t[j].used)
			j = (j + 1) & (cap - 1);
		t[j] = s->procs[i];
	}
	free(s->procs);
	s->procs = t;
	s->procs_cap = cap;
	return 0;
}

static void proc_set(struct store *s, uint32_t tgid, uint64_t start)
{
	struct proc_slot *p = proc_find(s, tgid);
	uint32_t i;

	if (p) {
		p->start = start;
		return;
	}
	if ((s->nprocs + 1) * 2 > s->procs_cap &&
	    (s->procs_cap >= STORE_PROCS_MAX || proc_grow(s) < 0))
		return; /* not remembered: its next connection looks it up again */
	for (i = proc_hash(tgid, s->procs_cap); s->procs[i].used; i = (i + 1) & (s->procs_cap - 1))
		;
	s->procs[i] = (struct proc_slot){ .tgid = tgid, .used = 1, .start = start };
	s->nprocs++;
}

/* Deletion with backward shift, so lookups never need tombstones. */
static void proc_del(struct store *s, uint32_t tgid)
{
	struct proc_slot *p = proc_find(s, tgid);
	uint32_t mask = s->procs_cap - 1, i, j;

	if (!p)
		return;
	i = (uint32_t)(p - s->procs);
	s->procs[i].used = 0;
	s->nprocs--;
	for (j = (i + 1) & mask; s->procs[j].used; j = (j + 1) & mask) {
		uint32_t h = proc_hash(s->procs[j].tgid, s->procs_cap);

		/* move j into the hole at i unless its home lies in (i, j] */
		if (((j - h) & mask) >= ((j - i) & mask)) {
			s->procs[i] = s->procs[j];
			s->procs[j].used = 0;
			i = j;
		}
	}
}

/* ---- the queue and its merge index ---- */

static uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

/* Ops that merge have an identity: a connection, a (process, batch) pair
 * for last-seen updates, a listening port. Others return false. */
static bool op_key(const struct op *o, uint64_t *h)
{
	switch (o->kind) {
	case OP_CONN:
		*h = mix64(OP_CONN, o->conn.conn_id);
		return true;
	case OP_SEEN:
		*h = mix64(mix64(OP_SEEN, o->seen.pid), o->seen.start);
		return true;
	case OP_PORT:
		*h = mix64(mix64(mix64(OP_PORT, o->port.pid), o->port.start),
			   (uint64_t)o->port.port << 8 | o->port.family);
		for (int i = 0; i < 16; i += 8) {
			uint64_t w;

			memcpy(&w, o->port.addr + i, 8);
			*h = mix64(*h, w);
		}
		return true;
	default:
		return false;
	}
}

static bool op_same(const struct op *a, const struct op *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case OP_CONN:
		return a->conn.conn_id == b->conn.conn_id;
	case OP_SEEN:
		return a->seen.pid == b->seen.pid && a->seen.start == b->seen.start;
	case OP_PORT:
		return a->port.pid == b->port.pid && a->port.start == b->port.start &&
		       a->port.port == b->port.port && a->port.family == b->port.family &&
		       memcmp(a->port.addr, b->port.addr, 16) == 0;
	default:
		return false;
	}
}

static void index_put(struct store *s, uint32_t slot)
{
	uint64_t h;

	if (!op_key(&s->ops[slot], &h))
		return;
	for (uint32_t i = (uint32_t)h & (s->index_cap - 1);; i = (i + 1) & (s->index_cap - 1)) {
		if (!s->index[i]) {
			s->index[i] = slot + 1;
			return;
		}
	}
}

static int queue_grow(struct store *s)
{
	uint32_t cap = s->cap ? s->cap * 2 : 1024;
	struct op *ops;
	uint32_t *index;

	if (cap > STORE_QUEUE_MAX)
		return -ENOSPC;
	if (cap > STORE_ASYNC_CAP) {
		/* a burst: the commit thread's batch and the spare go first, so
		 * the big array is the only one (memory is budgeted) */
		store_wait(s);
		free(s->spare);
		s->spare = NULL;
		s->spare_cap = 0;
	}
	ops = realloc(s->ops, (size_t)cap * sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	s->ops = ops;
	index = calloc((size_t)cap * 2, sizeof(*index));
	if (!index)
		return -ENOMEM;
	free(s->index);
	s->index = index;
	s->cap = cap;
	s->index_cap = cap * 2;
	for (uint32_t i = 0; i < s->nops; i++)
		index_put(s, i);
	return 0;
}

/* After a burst, an empty queue goes back to a size the commit thread
 * takes (and to memory it does not hold for nothing). */
static void queue_shrink(struct store *s)
{
	struct op *ops;
	uint32_t *index;

	if (s->cap <= STORE_ASYNC_CAP || s->nops)
		return;
	if (!(index = calloc((size_t)STORE_ASYNC_CAP * 2, sizeof(*index))) ||
	    !(ops = realloc(s->ops, (size_t)STORE_ASYNC_CAP * sizeof(*ops)))) {
		free(index);
		return;
	}
	free(s->index);
	s->ops = ops;
	s->index = index;
	s->cap = STORE_ASYNC_CAP;
	s->index_cap = STORE_ASYNC_CAP * 2;
}

/* A new zeroed op of `kind`, or NULL (counted) when the queue is full. */
static struct op *op_add(struct store *s, uint8_t kind)
{
	struct op *o;

	if (s->nops == s->cap && queue_grow(s) < 0) {
		s->st.rows_dropped++;
		return NULL;
	}
	o = &s->ops[s->nops++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	return o;
}

/* The queued op with key's identity, or a new one copied from key. */
static struct op *op_merge(struct store *s, const struct op *key)
{
	uint64_t h;
	struct op *o;

	op_key(key, &h);
	for (uint32_t i = (uint32_t)h & (s->index_cap - 1); s->index_cap && s->index[i];
	     i = (i + 1) & (s->index_cap - 1))
		if (op_same(&s->ops[s->index[i] - 1], key))
			return &s->ops[s->index[i] - 1];
	o = op_add(s, key->kind);
	if (!o)
		return NULL;
	*o = *key;
	index_put(s, (uint32_t)(o - s->ops));
	return o;
}

static void queue_reset(struct store *s)
{
	s->nops = 0;
	if (s->index)
		memset(s->index, 0, (size_t)s->index_cap * sizeof(*s->index));
}

/* ---- events -> ops ---- */

static void cg_retry_add(struct store *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->nretry; i++)
		if (s->retry[i] == id)
			return;
	if (s->nretry == STORE_CG_RETRY_MAX) {
		s->st.cgroup_unresolved++;
		return;
	}
	s->tries[s->nretry] = 0;
	s->retry[s->nretry++] = id;
}

/* The start_ns of live process tgid: remembered, else its newest row still
 * running (a restarted processor forgets), else 0 ("start unknown"). */
static uint64_t proc_start(struct store *s, uint32_t tgid)
{
	struct proc_slot *p = proc_find(s, tgid);
	sqlite3_stmt *q = s->stmt[ST_PROC_LOOKUP];
	uint64_t start = 0;

	if (p)
		return p->start;
	store_wait(s); /* the connection is the commit thread's while a batch is in flight */
	sqlite3_bind_int64(q, 1, s->boot);
	sqlite3_bind_int64(q, 2, tgid);
	if (sqlite3_step(q) == SQLITE_ROW)
		start = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	proc_set(s, tgid, start);
	return start;
}

static void on_proc_exec(struct store *s, const struct wire_event *ev, bool skip)
{
	struct proc_slot *old = proc_find(s, ev->tgid);
	bool promote = !old || old->start == 0;
	struct op *o;

	proc_set(s, ev->tgid, ev->exec.start_ns);
	if (skip || !(o = op_add(s, OP_EXEC)))
		return;
	o->exec.pid = ev->tgid;
	o->exec.ppid = ev->exec.ppid;
	o->exec.uid = ev->exec.uid;
	o->exec.pidns = ev->exec.pidns_ino;
	o->exec.ns_pid = ev->exec.ns_pid;
	o->exec.start = ev->exec.start_ns;
	o->exec.cgroup_id = ev->exec.cgroup_id;
	o->exec.ts = unix_ns(s, ev->ts_ns);
	o->exec.promote = promote;
	copy_str(o->exec.comm, sizeof(o->exec.comm), ev->exec.comm, ev->exec.comm_len);
	copy_str(o->exec.exe, sizeof(o->exec.exe), ev->exec.exe, ev->exec.exe_len);
	copy_argv(o->exec.cmdline, sizeof(o->exec.cmdline), ev->exec.cmdline,
		  ev->exec.cmdline_len);
	if (s->cg && ev->exec.cgroup_id) {
		o->exec.cgpath = cgroup_cache_get(s->cg, ev->exec.cgroup_id);
		if (!o->exec.cgpath)
			cg_retry_add(s, ev->exec.cgroup_id);
	}
}

static void on_proc_exit(struct store *s, const struct wire_event *ev, bool skip)
{
	struct op *o;

	proc_del(s, ev->tgid);
	if (skip || !(o = op_add(s, OP_EXIT)))
		return;
	o->exit.pid = ev->tgid;
	o->exit.start = ev->exit.start_ns;
	o->exit.status = ev->exit.code;
	o->exit.ts = unix_ns(s, ev->ts_ns);
}

/* Bumps the process's last_seen (creating a start-unknown row if needed). */
static void proc_seen(struct store *s, uint32_t pid, uint64_t start, const char *comm, int64_t ts)
{
	struct op key = { .kind = OP_SEEN, .seen = { .pid = pid, .start = start } };
	struct op *o = op_merge(s, &key);

	if (!o)
		return;
	if (!o->seen.first || ts < o->seen.first)
		o->seen.first = ts;
	if (ts > o->seen.last)
		o->seen.last = ts;
	if (comm && !o->seen.comm[0])
		snprintf(o->seen.comm, sizeof(o->seen.comm), "%s", comm);
}

static struct conn_row *conn_op(struct store *s, uint64_t conn_id, uint32_t pid, int64_t ts)
{
	struct op key = { .kind = OP_CONN, .conn = { .conn_id = conn_id } };
	struct op *o = op_merge(s, &key);

	if (!o)
		return NULL;
	o->conn.pid = pid;
	if (ts > o->conn.last)
		o->conn.last = ts;
	return &o->conn;
}

/* A port op: listening 1/0 from LISTEN events, -1 for an accepted
 * connection (n counts those). */
static void port_op(struct store *s, uint32_t pid, uint64_t start, uint8_t family,
		    const uint8_t *addr, uint16_t port, int8_t listening, int64_t ts)
{
	struct op key = { .kind = OP_PORT };
	struct op *o;

	key.port.pid = pid;
	key.port.start = start;
	key.port.family = family;
	key.port.port = port;
	key.port.listening = -1;
	key.port.first = key.port.last = ts;
	memcpy(key.port.addr, addr, family == AF_INET ? 4 : 16);
	if (!(o = op_merge(s, &key)))
		return;
	o->port.n += listening < 0;
	if (listening >= 0)
		o->port.listening = listening;
	o->port.last = ts;
}

static void on_open(struct store *s, const struct wire_event *ev)
{
	int64_t ts = unix_ns(s, ev->ts_ns);
	uint64_t start = proc_start(s, ev->tgid);
	size_t alen = ev->open.family == AF_INET ? 4 : 16;
	struct conn_row *c;
	char comm[SLUICE_COMM_LEN];

	copy_str(comm, sizeof(comm), ev->open.comm, ev->open.comm_len);
	proc_seen(s, ev->tgid, start, comm, ts);
	if (!(c = conn_op(s, ev->open.conn_id, ev->tgid, ts)))
		return;
	c->has_proc = true;
	c->start = start;
	c->has_open = c->has_ends = true;
	c->role = ev->open.role;
	c->opened = ts;
	memcpy(c->comm, comm, sizeof(comm));
	c->family = ev->open.family;
	c->lport = ev->open.lport;
	c->rport = ev->open.rport;
	c->netns = ev->open.netns;
	memcpy(c->laddr, ev->open.laddr, alen);
	memcpy(c->raddr, ev->open.raddr, alen);
	s->conns_since_prune++;
	if (ev->open.role == SLUICE_ROLE_SERVER) /* c may move when the queue grows */
		port_op(s, ev->tgid, start, ev->open.family, ev->open.laddr, ev->open.lport, -1, ts);
}

static void on_close(struct store *s, const struct wire_event *ev)
{
	int64_t ts = unix_ns(s, ev->ts_ns);
	struct conn_row *c = conn_op(s, ev->close.conn_id, ev->tgid, ts);

	if (!c)
		return;
	c->has_close = c->has_bytes = true;
	c->closed = ts;
	c->sent = ev->close.bytes_sent;
	c->recv = ev->close.bytes_recv;
}

/* listen() started (or, in the loader's snapshot, was found) or stopped. */
static void on_listen(struct store *s, const struct wire_event *ev)
{
	int64_t ts = unix_ns(s, ev->ts_ns);
	uint64_t start = proc_start(s, ev->tgid);

	if (ev->listen.listening)
		proc_seen(s, ev->tgid, start, NULL, ts);
	port_op(s, ev->tgid, start, ev->listen.family, ev->listen.addr, ev->listen.port,
		ev->listen.listening ? 1 : 0, ts);
}

void store_event(struct store *s, uint64_t seq, const struct wire_event *ev)
{
	bool skip;

	if (!s)
		return;
	skip = seq <= s->skip_until;
	s->st.replay_skipped += skip;
	switch (ev->type) {
	case SLUICE_EV_EXEC:
		on_proc_exec(s, ev, skip);
		break;
	case SLUICE_EV_EXIT:
		on_proc_exit(s, ev, skip);
		break;
	case SLUICE_EV_CONN_OPEN:
		if (!skip)
			on_open(s, ev);
		break;
	case SLUICE_EV_CONN_CLOSE:
		if (!skip)
			on_close(s, ev);
		break;
	case SLUICE_EV_LISTEN:
		if (!skip)
			on_listen(s, ev);
		break;
	default:
		break;
	}
}

/* Pairs add to their connection's counters. They never create a process
 * row: a pair can come after its process exited (at close). */
void store_pair(struct store *s, uint64_t seq, const struct conn *c,
		const struct http1_pair *pair)
{
	int64_t ts;
	struct conn_row *r;
	struct proc_slot *p;

	if (!s || seq <= s->skip_until)
		return;
	ts = unix_ns(s, pair->end_ns ? pair->end_ns : pair->start_ns);
	if (!(r = conn_op(s, c->conn_id, c->tgid, ts)))
		return;
	r->http = true;
	r->requests++;
	r->h4 += pair->status >= 400 && pair->status < 500;
	r->h5 += pair->status >= 500;
	r->noresp += pair->status == 0;
	if (pair->status && pair->end_ns > pair->start_ns)
		r->latency += pair->end_ns - pair->start_ns;
	if (!r->has_close) { /* running totals until the close gives exact ones */
		r->has_bytes = true;
		r->sent = c->bytes_sent;
		r->recv = c->bytes_recv;
	}
	if (!r->has_ends && c->family) {
		r->has_ends = true;
		r->family = c->family;
		r->lport = c->lport;
		r->rport = c->rport;
		memcpy(r->laddr, c->laddr, 16);
		memcpy(r->raddr, c->raddr, 16);
	}
	if (!r->has_proc && (p = proc_find(s, c->tgid))) {
		r->has_proc = true;
		r->start = p->start;
		proc_seen(s, c->tgid, p->start, NULL, ts);
	}
}

void store_conn_name(struct store *s, uint64_t seq, const struct wire_event *open,
		     const char *name)
{
	struct conn_row *r;

	if (!s || !name || seq <= s->skip_until || open->type != SLUICE_EV_CONN_OPEN ||
	    !(r = conn_op(s, open->open.conn_id, open->tgid, unix_ns(s, open->ts_ns))))
		return;
	snprintf(r->rname, sizeof(r->rname), "%s", name);
}

/* ---- statements ---- */

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_EXEC_PROMOTE] =
		"UPDATE OR IGNORE processes SET start_ns = ?3"
		" WHERE boot = ?1 AND pid = ?2 AND start_ns = 0 AND exited IS NULL",
	[ST_EXEC] =
		"INSERT INTO processes (boot, pid, start_ns, ppid, uid, comm, exe, cgroup_id,"
		" cgroup_path, unit, container_id, pidns, ns_pid, first_seen, last_seen, cmdline)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15)"
		" ON CONFLICT (boot, pid, start_ns) DO UPDATE SET ppid = excluded.ppid,"
		" uid = excluded.uid, comm = excluded.comm, exe = excluded.exe,"
		" cmdline = excluded.cmdline,"
		" cgroup_id = excluded.cgroup_id, cgroup_path = excluded.cgroup_path,"
		" unit = excluded.unit, container_id = excluded.container_id,"
		" pidns = excluded.pidns, ns_pid = excluded.ns_pid,"
		" last_seen = max(last_seen, excluded.last_seen)",
	[ST_EXIT] =
		"UPDATE processes SET exited = ?4, exit_code = ?5, exit_signal = ?6,"
		" last_seen = max(last_seen, ?4) WHERE boot = ?1 AND pid = ?2 AND start_ns = ?3",
	[ST_EXIT_PROMOTE] =
		"UPDATE OR IGNORE processes SET start_ns = ?3, exited = ?4, exit_code = ?5,"
		" exit_signal = ?6, last_seen = max(last_seen, ?4)"
		" WHERE boot = ?1 AND pid = ?2 AND start_ns = 0 AND exited IS NULL",
	[ST_SEEN] =
		"INSERT INTO processes (boot, pid, start_ns, comm, first_seen, last_seen)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (boot, pid, start_ns) DO UPDATE"
		" SET last_seen = max(last_seen, excluded.last_seen),"
		" comm = coalesce(comm, excluded.comm)",
	[ST_CONN] =
		"INSERT INTO conns (boot, conn_id, process, pid, comm, role, laddr, lport, raddr,"
		" rport, netns, protocol, requests, http_4xx, http_5xx, no_response, latency_ns,"
		" bytes_sent, bytes_recv, opened, closed, last_seen, raddr_name)"
		" VALUES (?1, ?2, (SELECT id FROM processes WHERE boot = ?1 AND pid = ?3"
		" AND start_ns = ?4), ?3, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
		" ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
		" ON CONFLICT (boot, conn_id) DO UPDATE SET"
		" process = coalesce(conns.process, excluded.process),"
		" comm = coalesce(excluded.comm, conns.comm),"
		" role = coalesce(excluded.role, conns.role),"
		" laddr = coalesce(excluded.laddr, conns.laddr),"
		" lport = coalesce(excluded.lport, conns.lport),"
		" raddr = coalesce(excluded.raddr, conns.raddr),"
		" rport = coalesce(excluded.rport, conns.rport),"
		" netns = coalesce(excluded.netns, conns.netns),"
		" protocol = coalesce(excluded.protocol, conns.protocol),"
		" requests = conns.requests + excluded.requests,"
		" http_4xx = conns.http_4xx + excluded.http_4xx,"
		" http_5xx = conns.http_5xx + excluded.http_5xx,"
		" no_response = conns.no_response + excluded.no_response,"
		" latency_ns = conns.latency_ns + excluded.latency_ns,"
		/* once closed, the totals are exact: later running totals do not count */
		" bytes_sent = CASE WHEN conns.closed IS NOT NULL AND excluded.closed IS NULL"
		" THEN conns.bytes_sent ELSE coalesce(excluded.bytes_sent, conns.bytes_sent) END,"
		" bytes_recv = CASE WHEN conns.closed IS NOT NULL AND excluded.closed IS NULL"
		" THEN conns.bytes_recv ELSE coalesce(excluded.bytes_recv, conns.bytes_recv) END,"
		" opened = coalesce(conns.opened, excluded.opened),"
		" closed = coalesce(excluded.closed, conns.closed),"
		" last_seen = max(conns.last_seen, excluded.last_seen),"
		" raddr_name = coalesce(conns.raddr_name, excluded.raddr_name)",
	[ST_PORT] =
		"INSERT INTO ports (process, proto, addr, port, accepted, first_seen, last_seen,"
		" listening) SELECT id, 'tcp', ?4, ?5, ?6, ?7, ?8, ?9 FROM processes"
		" WHERE boot = ?1 AND pid = ?2 AND start_ns = ?3"
		" ON CONFLICT (process, proto, addr, port) DO UPDATE SET"
		" accepted = accepted + excluded.accepted,"
		" listening = coalesce(excluded.listening, listening),"
		" last_seen = max(last_seen, excluded.last_seen)",
	/* an accepted connection counts on its listening socket's row, if known */
	[ST_PORT_ACCEPT] =
		"UPDATE ports SET accepted = accepted + ?6, last_seen = max(last_seen, ?8)"
		" WHERE id = (SELECT pt.id FROM ports pt JOIN processes p ON p.id = pt.process"
		" WHERE p.boot = ?1 AND p.pid = ?2 AND p.start_ns = ?3 AND pt.proto = 'tcp'"
		" AND pt.port = ?5 AND pt.listening = 1 AND pt.addr IN (?4, '0.0.0.0', '::')"
		" ORDER BY pt.addr = ?4 DESC LIMIT 1)",
	[ST_CG_FIX] =
		"UPDATE processes SET cgroup_path = ?3, unit = ?4, container_id = ?5"
		" WHERE boot = ?1 AND cgroup_id = ?2 AND cgroup_path IS NULL",
	[ST_CONTAINER] =
		"INSERT INTO containers (id, runtime, cgroup_path, pod_uid, first_seen, last_seen)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO UPDATE SET"
		" cgroup_path = excluded.cgroup_path, pod_uid = coalesce(excluded.pod_uid, pod_uid),"
		" last_seen = max(last_seen, excluded.last_seen)",
	[ST_POD_CG] =
		"INSERT INTO pods (uid, qos, source, first_seen, last_seen)"
		" VALUES (?1, ?2, 'cgroup', ?3, ?3) ON CONFLICT (uid) DO UPDATE SET"
		" qos = coalesce(excluded.qos, qos), last_seen = max(last_seen, excluded.last_seen)",
	[ST_POD_FILE] =
		"INSERT INTO pods (uid, name, namespace, owner_kind, owner_name, node, qos, source,"
		" first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'file', ?8, ?8)"
		" ON CONFLICT (uid) DO UPDATE SET name = excluded.name,"
		" namespace = excluded.namespace, owner_kind = excluded.owner_kind,"
		" owner_name = excluded.owner_name, node = excluded.node,"
		" qos = coalesce(pods.qos, excluded.qos), source = 'file',"
		" last_seen = max(last_seen, excluded.last_seen)",
	/* the API is the authority on a pod's name and owner; QoS is the
	 * cgroup's when known, as for the file */
	[ST_POD_K8S] =
		"INSERT INTO pods (uid, name, namespace, owner_kind, owner_name, node, qos, source,"
		" first_seen, last_seen, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'k8s', ?8, ?8, ?9)"
		" ON CONFLICT (uid) DO UPDATE SET name = excluded.name,"
		" namespace = excluded.namespace, owner_kind = excluded.owner_kind,"
		" owner_name = excluded.owner_name, node = excluded.node,"
		" qos = coalesce(pods.qos, excluded.qos), source = 'k8s', deleted = excluded.deleted,"
		" last_seen = max(last_seen, excluded.last_seen)",
	[ST_POD_K8S_LIVE] = "SELECT uid FROM pods WHERE source = 'k8s' AND deleted IS NULL",
	[ST_POD_K8S_GONE] =
		"UPDATE pods SET deleted = ?2, last_seen = max(last_seen, ?2) WHERE uid = ?1",
	[ST_POD_K8S_COUNT] = "SELECT count(*) FROM pods WHERE source = 'k8s' AND deleted IS NULL",
	[ST_SEQ] =
		"INSERT INTO meta (key, value) VALUES ('applied_seq', ?1)"
		" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_PROC_LOOKUP] =
		"SELECT start_ns FROM processes WHERE boot = ?1 AND pid = ?2 AND exited IS NULL"
		" ORDER BY start_ns DESC LIMIT 1",
	[ST_PRUNE_CONNS] =
		"DELETE FROM conns WHERE id <= (SELECT id FROM conns ORDER BY id DESC"
		" LIMIT 1 OFFSET ?1)",
	[ST_PRUNE_CONNS_AGE] =
		"DELETE FROM conns WHERE last_seen < ?1 AND (closed IS NOT NULL OR boot <> ?2)",
	[ST_PRUNE_PORTS_AGE] =
		"DELETE FROM ports WHERE last_seen < ?1 AND process IN"
		" (SELECT id FROM processes WHERE exited IS NOT NULL OR boot <> ?2)",
	[ST_PRUNE_PROCS_AGE] =
		"DELETE FROM processes WHERE last_seen < ?1 AND (exited IS NOT NULL OR boot <> ?2)"
		" AND NOT EXISTS (SELECT 1 FROM conns WHERE conns.process = processes.id)"
		" AND NOT EXISTS (SELECT 1 FROM ports WHERE ports.process = processes.id)",
	[ST_PRUNE_PROCS] =
		"DELETE FROM processes WHERE id IN (SELECT id FROM processes"
		" WHERE (exited IS NOT NULL OR boot <> ?2)"
		" AND NOT EXISTS (SELECT 1 FROM conns WHERE conns.process = processes.id)"
		" AND NOT EXISTS (SELECT 1 FROM ports WHERE ports.process = processes.id)"
		" ORDER BY id DESC LIMIT -1 OFFSET ?1)",
};

static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, i);
}

/* Runs a bound statement and readies it for the next use. */
static int run(struct store *s, enum stmt_id id)
{
	sqlite3_stmt *q = s->stmt[id];
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	log_debug("store: %s: %s", stmt_sql[id], sqlite3_errmsg(s->db));
	return -1;
}

static int prepare_all(struct store *s)
{
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[i], NULL) != SQLITE_OK) {
			log_warn("%s: cannot prepare a statement (%s): is the schema damaged?",
				 s->path, sqlite3_errmsg(s->db));
			return -1;
		}
	}
	return 0;
}

/* ---- ops -> rows ---- */

/* The container and pod a cgroup path names; the caller binds unit and
 * container id into the process row. */
static int apply_cgroup_path(struct store *s, const char *path, const struct cgroup_info *ci,
			     int64_t ts)
{
	sqlite3_stmt *q;

	if (ci->container_id[0]) {
		q = s->stmt[ST_CONTAINER];
		bind_text(q, 1, ci->container_id);
		bind_text(q, 2, cgroup_runtime_name(ci->runtime));
		bind_text(q, 3, path);
		bind_text(q, 4, ci->pod_uid);
		sqlite3_bind_int64(q, 5, ts);
		if (run(s, ST_CONTAINER) < 0)
			return -1;
	}
	if (ci->pod_uid[0]) {
		q = s->stmt[ST_POD_CG];
		bind_text(q, 1, ci->pod_uid);
		bind_text(q, 2, cgroup_qos_name(ci->qos));
		sqlite3_bind_int64(q, 3, ts);
		if (run(s, ST_POD_CG) < 0)
			return -1;
	}
	return 0;
}

static void bind_proc_key(struct store *s, sqlite3_stmt *q, uint32_t pid, uint64_t start)
{
	sqlite3_bind_int64(q, 1, s->boot);
	sqlite3_bind_int64(q, 2, pid);
	sqlite3_bind_int64(q, 3, (int64_t)start);
}

static int apply_exec(struct store *s, const struct op *o)
{
	sqlite3_stmt *q = s->stmt[ST_EXEC];
	struct cgroup_info ci = { 0 };

	if (o->exec.promote) {
		bind_proc_key(s, s->stmt[ST_EXEC_PROMOTE], o->exec.pid, o->exec.start);
		if (run(s, ST_EXEC_PROMOTE) < 0)
			return -1;
	}
	if (o->exec.cgpath) {
		cgroup_parse(o->exec.cgpath, &ci);
		if (apply_cgroup_path(s, o->exec.cgpath, &ci, o->exec.ts) < 0)
			return -1;
	}
	bind_proc_key(s, q, o->exec.pid, o->exec.start);
	sqlite3_bind_int64(q, 4, o->exec.ppid);
	sqlite3_bind_int64(q, 5, o->exec.uid);
	bind_text(q, 6, o->exec.comm);
	bind_text(q, 7, o->exec.exe);
	sqlite3_bind_int64(q, 8, (int64_t)o->exec.cgroup_id);
	bind_text(q, 9, o->exec.cgpath);
	bind_text(q, 10, ci.unit);
	bind_text(q, 11, ci.container_id);
	sqlite3_bind_int64(q, 12, o->exec.pidns);
	sqlite3_bind_int64(q, 13, o->exec.ns_pid);
	sqlite3_bind_int64(q, 14, o->exec.ts);
	bind_text(q, 15, o->exec.cmdline);
	return run(s, ST_EXEC);
}

/* The raw wait status: exit(n) is n << 8, death by signal is the signal. */
static void bind_exit(struct store *s, sqlite3_stmt *q, const struct op *o)
{
	int32_t st = o->exit.status;

	bind_proc_key(s, q, o->exit.pid, o->exit.start);
	sqlite3_bind_int64(q, 4, o->exit.ts);
	if (st & 0x7f)
		sqlite3_bind_null(q, 5);
	else
		sqlite3_bind_int(q, 5, (st >> 8) & 0xff);
	sqlite3_bind_int(q, 6, st & 0x7f);
}

static int apply_exit(struct store *s, const struct op *o)
{
	bind_exit(s, s->stmt[ST_EXIT], o);
	if (run(s, ST_EXIT) < 0)
		return -1;
	if (sqlite3_changes(s->db) > 0)
		return 0;
	/* only known through its connections until now: it gets its identity */
	bind_exit(s, s->stmt[ST_EXIT_PROMOTE], o);
	return run(s, ST_EXIT_PROMOTE);
}

static int apply_seen(struct store *s, const struct op *o)
{
	sqlite3_stmt *q = s->stmt[ST_SEEN];

	bind_proc_key(s, q, o->seen.pid, o->seen.start);
	bind_text(q, 4, o->seen.comm);
	sqlite3_bind_int64(q, 5, o->seen.first);
	sqlite3_bind_int64(q, 6, o->seen.last);
	return run(s, ST_SEEN);
}

static const char *role_name(uint8_t role)
{
	return role == SLUICE_ROLE_CLIENT ? "client" :
	       role == SLUICE_ROLE_SERVER ? "server" : "unknown";
}

static void bind_ends(sqlite3_stmt *q, const struct conn_row *c, char *la, char *ra, size_t n)
{
	if (!c->has_ends)
		return; /* all NULL: the row keeps what it had */
	output_addr(la, n, c->family, c->laddr);
	output_addr(ra, n, c->family, c->raddr);
	bind_text(q, 7, la);
	sqlite3_bind_int(q, 8, c->lport);
	bind_text(q, 9, ra);
	sqlite3_bind_int(q, 10, c->rport);
	sqlite3_bind_int64(q, 11, c->netns);
}

static int apply_conn(struct store *s, const struct op *o)
{
	const struct conn_row *c = &o->conn;
	sqlite3_stmt *q = s->stmt[ST_CONN];
	char la[64], ra[64];

	sqlite3_bind_int64(q, 1, s->boot);
	sqlite3_bind_int64(q, 2, (int64_t)c->conn_id);
	sqlite3_bind_int64(q, 3, c->pid);
	if (c->has_proc)
		sqlite3_bind_int64(q, 4, (int64_t)c->start);
	if (c->has_open) {
		bind_text(q, 5, c->comm);
		bind_text(q, 6, role_name(c->role));
		sqlite3_bind_int64(q, 20, c->opened);
	}
	bind_ends(q, c, la, ra, sizeof(la));
	bind_text(q, 12, c->http ? "http1" : NULL);
	sqlite3_bind_int64(q, 13, c->requests);
	sqlite3_bind_int64(q, 14, c->h4);
	sqlite3_bind_int64(q, 15, c->h5);
	sqlite3_bind_int64(q, 16, c->noresp);
	sqlite3_bind_int64(q, 17, (int64_t)c->latency);
	if (c->has_bytes) {
		sqlite3_bind_int64(q, 18, (int64_t)c->sent);
		sqlite3_bind_int64(q, 19, (int64_t)c->recv);
	}
	if (c->has_close)
		sqlite3_bind_int64(q, 21, c->closed);
	sqlite3_bind_int64(q, 22, c->last);
	bind_text(q, 23, c->rname);
	return run(s, ST_CONN);
}

static void bind_port(struct store *s, sqlite3_stmt *q, const struct op *o, const char *addr)
{
	bind_proc_key(s, q, o->port.pid, o->port.start);
	bind_text(q, 4, addr);
	sqlite3_bind_int(q, 5, o->port.port);
	sqlite3_bind_int64(q, 6, o->port.n);
	sqlite3_bind_int64(q, 7, o->port.first);
	sqlite3_bind_int64(q, 8, o->port.last);
	if (o->port.listening >= 0)
		sqlite3_bind_int(q, 9, o->port.listening);
}

static int apply_port(struct store *s, const struct op *o)
{
	char addr[64];

	output_addr(addr, sizeof(addr), o->port.family, o->port.addr);
	if (o->port.listening < 0) {
		bind_port(s, s->stmt[ST_PORT_ACCEPT], o, addr);
		if (run(s, ST_PORT_ACCEPT) < 0)
			return -1;
		if (sqlite3_changes(s->db) > 0)
			return 0;
	}
	bind_port(s, s->stmt[ST_PORT], o, addr);
	return run(s, ST_PORT);
}

/* A cgroup id found late: fill the rows that were written without it. */
static int apply_cg_fix(struct store *s, const struct op *o)
{
	sqlite3_stmt *q = s->stmt[ST_CG_FIX];
	struct cgroup_info ci;

	cgroup_parse(o->cg.path, &ci);
	if (apply_cgroup_path(s, o->cg.path, &ci, o->cg.ts) < 0)
		return -1;
	sqlite3_bind_int64(q, 1, s->boot);
	sqlite3_bind_int64(q, 2, (int64_t)o->cg.id);
	bind_text(q, 3, o->cg.path);
	bind_text(q, 4, ci.unit);
	bind_text(q, 5, ci.container_id);
	return run(s, ST_CG_FIX);
}

static int apply_op(struct store *s, const struct op *o)
{
	switch (o->kind) {
	case OP_EXEC: return apply_exec(s, o);
	case OP_EXIT: return apply_exit(s, o);
	case OP_SEEN: return apply_seen(s, o);
	case OP_CONN: return apply_conn(s, o);
	case OP_PORT: return apply_port(s, o);
	case OP_CGROUP: return apply_cg_fix(s, o);
	default: return 0;
	}
}

/* A pod's fields as parameters 1..8 of either pod upsert (file or API). */
static void bind_pod(sqlite3_stmt *q, const struct pod_meta *pm, int64_t ts)
{
	bind_text(q, 1, pm->uid);
	bind_text(q, 2, pm->name);
	bind_text(q, 3, pm->namespace);
	bind_text(q, 4, pm->owner_kind);
	bind_text(q, 5, pm->owner_name);
	bind_text(q, 6, pm->node);
	bind_text(q, 7, pm->qos);
	sqlite3_bind_int64(q, 8, ts);
}

static int apply_pods(struct store *s, const struct pod_meta *pods, int npods, int64_t ts)
{
	for (int i = 0; i < npods; i++) {
		bind_pod(s->stmt[ST_POD_FILE], &pods[i], ts);
		if (run(s, ST_POD_FILE) < 0)
			return -1;
	}
	return 0;
}

static int k8s_upsert(struct store *s, const struct pod_meta *pm, int64_t deleted, int64_t ts)
{
	sqlite3_stmt *q = s->stmt[ST_POD_K8S];

	bind_pod(q, pm, ts);
	if (deleted)
		sqlite3_bind_int64(q, 9, deleted);
	return run(s, ST_POD_K8S);
}

static int uid_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pod_meta *)a)->uid, ((const struct pod_meta *)b)->uid);
}

/* After a complete list: the pods the API named before and not now are
 * gone (deleted while the watch was down, or before a restart). */
static int k8s_sweep(struct store *s, struct pod_meta *list, int n, int64_t ts)
{
	sqlite3_stmt *q = s->stmt[ST_POD_K8S_LIVE];
	struct pod_meta key;
	char (*gone)[PODS_FIELD_MAX] = NULL;
	size_t ngone = 0, cap = 0;
	int rc = 0, step;

	qsort(list, (size_t)n, sizeof(*list), uid_cmp);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *uid = (const char *)sqlite3_column_text(q, 0);

		if (!uid || strlen(uid) >= PODS_FIELD_MAX)
			continue;
		snprintf(key.uid, sizeof(key.uid), "%s", uid);
		if (bsearch(&key, list, (size_t)n, sizeof(*list), uid_cmp))
			continue;
		if (ngone == cap) {
			void *g = realloc(gone, (cap = cap ? cap * 2 : 16) * sizeof(*gone));

			if (!g) {
				rc = -1;
				break;
			}
			gone = g;
		}
		memcpy(gone[ngone++], key.uid, sizeof(key.uid));
	}
	sqlite3_reset(q);
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < ngone; i++) {
		bind_text(s->stmt[ST_POD_K8S_GONE], 1, gone[i]);
		sqlite3_bind_int64(s->stmt[ST_POD_K8S_GONE], 2, ts);
		rc = run(s, ST_POD_K8S_GONE);
	}
	free(gone);
	return rc;
}

/* What the Kubernetes API thread handed over: a list (upserts, and a sweep
 * of the pods it no longer has), then the changes after it, in order. */
static int apply_k8s(struct store *s, int64_t ts)
{
	struct k8s_batch *b = &s->k8s_b;
	sqlite3_stmt *q = s->stmt[ST_POD_K8S_COUNT];

	if (!b->has_list && !b->nchanges)
		return 0;
	for (int i = 0; i < b->nlist; i++)
		if (k8s_upsert(s, &b->list[i], 0, ts) < 0)
			return -1;
	if (b->has_list && k8s_sweep(s, b->list, b->nlist, ts) < 0)
		return -1;
	for (int i = 0; i < b->nchanges; i++)
		if (k8s_upsert(s, &b->changes[i].pod, b->changes[i].deleted ? ts : 0, ts) < 0)
			return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		s->k8s_known = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return 0;
}

/* ---- commit, retention ---- */

static int prune_run(struct store *s, enum stmt_id id, int64_t a, uint64_t *count)
{
	sqlite3_stmt *q = s->stmt[id];

	sqlite3_bind_int64(q, 1, a);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, s->boot);
	if (run(s, id) < 0)
		return -1;
	*count += (uint64_t)sqlite3_changes(s->db);
	return 0;
}

/* Keeps the newest max_conns connections (and as many finished processes
 * without connections) and drops what is older than max_age. Runs inside
 * the commit's transaction, every STORE_PRUNE_FLUSHES commits or once a
 * tenth of max_conns new connections arrived (decided by prune_due() when
 * the batch is made, on the main thread). */
static int prune(struct store *s, struct store_batch *b)
{
	uint64_t ports = 0;
	int64_t cutoff = wall_ns() - s->max_age_ns;

	if (prune_run(s, ST_PRUNE_CONNS, s->max_conns, &b->pruned_conns) < 0)
		return -1;
	if (s->max_age_ns &&
	    (prune_run(s, ST_PRUNE_CONNS_AGE, cutoff, &b->pruned_conns) < 0 ||
	     prune_run(s, ST_PRUNE_PORTS_AGE, cutoff, &ports) < 0 ||
	     prune_run(s, ST_PRUNE_PROCS_AGE, cutoff, &b->pruned_procs) < 0))
		return -1;
	return prune_run(s, ST_PRUNE_PROCS, s->max_conns, &b->pruned_procs);
}

static bool prune_due(struct store *s)
{
	if (s->conns_since_prune * 10ULL < s->max_conns &&
	    ++s->flushes_since_prune < STORE_PRUNE_FLUSHES)
		return false;
	s->conns_since_prune = s->flushes_since_prune = 0;
	return true;
}

static int apply_all(struct store *s, struct store_batch *b)
{
	for (uint32_t i = 0; i < b->nops; i++)
		if (apply_op(s, &b->ops[i]) < 0)
			return -1;
	for (int i = 0; b->writers && i < s->nwriters; i++)
		if (s->writers[i].write(s->writers[i].ctx, s->db, s->boot, wall_ns()) < 0)
			return -1;
	if (apply_pods(s, b->pods, b->npods, wall_ns()) < 0 ||
	    (b->writers && apply_k8s(s, wall_ns()) < 0))
		return -1;
	sqlite3_bind_int64(s->stmt[ST_SEQ], 1, (int64_t)b->done_seq);
	if (run(s, ST_SEQ) < 0)
		return -1;
	return b->prune ? prune(s, b) : 0;
}

/* One transaction for the batch: on the commit thread or inline. */
static void commit_batch(struct store *s, struct store_batch *b)
{
	b->rc = 0;
	b->pruned_conns = b->pruned_procs = 0;
	if (run(s, ST_BEGIN) < 0 || apply_all(s, b) < 0 || run(s, ST_COMMIT) < 0) {
		snprintf(b->err, sizeof(b->err), "%s", sqlite3_errmsg(s->db));
		if (!sqlite3_get_autocommit(s->db))
			run(s, ST_ROLLBACK);
		b->rc = -EIO;
	}
}

static void flush_failed(struct store *s, uint64_t rows, const char *err)
{
	s->st.write_errors++;
	s->st.rows_dropped += rows;
	if (!s->failing)
		log_warn("%s: cannot write (%s): %" PRIu64 " rows dropped; retrying at the next "
			 "batch", s->path, err, rows);
	s->failing = true;
}

static uint32_t writers_pending(const struct store *s)
{
	uint32_t n = 0;

	for (int i = 0; i < s->nwriters; i++)
		n += s->writers[i].pending(s->writers[i].ctx);
	return n;
}

/* The queue becomes batch b, for the commit thread; the queue goes on in
 * the spare array (or a new small one), so only a queue of at most
 * batch_rows (store_commit_async's limit) is ever held twice. */
static int take_queue(struct store *s, struct store_batch *b, uint64_t done_seq)
{
	struct op *ops = s->spare;
	uint32_t cap = s->spare_cap, *index = NULL;

	if (!ops && !(ops = malloc((size_t)(cap = STORE_SPARE_CAP) * sizeof(*ops))))
		return -ENOMEM;
	if (cap != s->cap && !(index = calloc((size_t)cap * 2, sizeof(*index)))) {
		if (ops != s->spare)
			free(ops);
		return -ENOMEM;
	}
	*b = (struct store_batch){ .ops = s->ops, .nops = s->nops, .cap = s->cap,
				   .pods = s->pods_new, .npods = s->npods_new,
				   .done_seq = done_seq, .prune = prune_due(s) };
	s->ops = ops;
	s->spare = NULL;
	s->spare_cap = 0;
	s->pods_new = NULL;
	s->npods_new = 0;
	if (index) { /* a new size: a new, empty index */
		free(s->index);
		s->index = index;
		s->cap = cap;
		s->index_cap = cap * 2;
		s->nops = 0;
	} else {
		queue_reset(s);
	}
	return 0;
}

/* A commit's results into the counters. */
static void batch_count(struct store *s, const struct store_batch *b, uint64_t rows)
{
	if (b->rc < 0) {
		flush_failed(s, rows, b->err);
	} else if (rows) {
		s->st.rows += rows;
		s->st.commits++;
		if (s->failing)
			log_info("%s: writing again", s->path);
		s->failing = false;
	}
	s->st.pruned_conns += b->pruned_conns;
	s->st.pruned_procs += b->pruned_procs;
}

/* The commit thread's batch is done: counted, its array kept spare when
 * small (a big one from a burst goes back to the system). */
static void batch_done(struct store *s, struct store_batch *b)
{
	batch_count(s, b, b->nops + (uint64_t)b->npods);
	if (!s->spare && b->cap && b->cap <= STORE_SPARE_CAP) {
		s->spare = b->ops;
		s->spare_cap = b->cap;
	} else {
		free(b->ops);
	}
	free(b->pods);
	b->ops = NULL;
	b->pods = NULL;
}

static void *commit_thread(void *arg)
{
	struct store *s = arg;

	pthread_setname_np(pthread_self(), "store-commit");
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->job_ready && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->job_ready)
			break;
		pthread_mutex_unlock(&s->mu);
		if (s->job.nops || s->job.npods)
			commit_batch(s, &s->job);
		if (s->job.then)
			s->job.then(s->job.then_arg);
		pthread_mutex_lock(&s->mu);
		s->job_ready = false;
		s->job_done = true;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

bool store_idle(struct store *s)
{
	bool done;

	if (!s || !s->inflight)
		return true;
	pthread_mutex_lock(&s->mu);
	done = s->job_done;
	pthread_mutex_unlock(&s->mu);
	if (done) {
		s->inflight = false;
		batch_done(s, &s->job);
	}
	return done;
}

void store_wait(struct store *s)
{
	if (!s || !s->inflight)
		return;
	pthread_mutex_lock(&s->mu);
	while (!s->job_done)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	s->inflight = false;
	batch_done(s, &s->job);
}

int store_flush(struct store *s, uint64_t done_seq)
{
	struct store_batch b;
	uint64_t more = s ? writers_pending(s) : 0;

	store_wait(s);
	if (s)
		more += (uint64_t)s->k8s_b.nlist + (uint64_t)s->k8s_b.nchanges + s->k8s_b.has_list;
	if (!s || (s->nops == 0 && s->npods_new == 0 && more == 0))
		return 0;
	/* in place: no second array */
	b = (struct store_batch){ .ops = s->ops, .nops = s->nops, .pods = s->pods_new,
				  .npods = s->npods_new, .done_seq = done_seq,
				  .prune = prune_due(s), .writers = true };
	commit_batch(s, &b);
	batch_count(s, &b, s->nops + (uint64_t)s->npods_new + more);
	for (int i = 0; i < s->nwriters; i++)
		s->writers[i].done(s->writers[i].ctx, b.rc == 0);
	queue_reset(s);
	queue_shrink(s);
	free(s->pods_new);
	s->pods_new = NULL;
	s->npods_new = 0;
	if (b.rc < 0 && (s->k8s_b.has_list || s->k8s_b.nchanges))
		k8s_relist(s->k8s); /* what it handed over is lost: ask for all of it again */
	k8s_batch_free(&s->k8s_b);
	return b.rc;
}

int store_commit_async(struct store *s, uint64_t done_seq, void (*then)(void *), void *arg)
{
	int rc;

	/* names' and flows' rows and pods from the Kubernetes API (written
	 * from state the receive thread owns), and a queue beyond a batch (a
	 * burst: not held twice): here and now */
	if (!s || writers_pending(s) || s->k8s_b.has_list || s->k8s_b.nchanges ||
	    s->nops > s->batch_rows || s->cap > STORE_ASYNC_CAP) {
		rc = store_flush(s, done_seq);
		if (then)
			then(arg);
		return rc;
	}
	if (!store_idle(s))
		return -EBUSY;
	if (!s->nops && !s->npods_new) { /* nothing to commit: then is next in line */
		if (then)
			then(arg);
		return 0;
	}
	if (!s->thread_started) {
		if (pthread_mutex_init(&s->mu, NULL) || pthread_cond_init(&s->cv, NULL) ||
		    pthread_create(&s->thread, NULL, commit_thread, s)) {
			log_warn("%s: no commit thread: committing inline", s->path);
			rc = store_flush(s, done_seq);
			if (then)
				then(arg);
			return rc;
		}
		s->thread_started = true;
	}
	if (take_queue(s, &s->job, done_seq) < 0) {
		rc = store_flush(s, done_seq); /* no memory for a second array: inline */
		if (then)
			then(arg);
		return rc;
	}
	s->job.then = then;
	s->job.then_arg = arg;
	pthread_mutex_lock(&s->mu);
	s->job_done = false;
	s->job_ready = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	s->inflight = true;
	return 0;
}

void store_attach_k8s(struct store *s, struct k8s *k)
{
	if (!s)
		return;
	if (s->k8s)
		k8s_status(s->k8s, &s->k8s_st); /* the last word, for the status after it stops */
	s->k8s = k;
	s->k8s_used = s->k8s_used || k;
}

/* Takes what the API thread has, once the previous hand-over is committed. */
static void k8s_poll(struct store *s)
{
	if (s->k8s && !s->k8s_b.has_list && !s->k8s_b.nchanges)
		k8s_take(s->k8s, &s->k8s_b);
}

struct sqlite3 *store_add_writer(struct store *s, const struct store_writer *w)
{
	if (!s || s->nwriters >= STORE_WRITERS_MAX)
		return NULL;
	s->writers[s->nwriters++] = *w;
	return s->db;
}

int store_replayed(const struct store *s, uint64_t seq)
{
	return s && seq <= s->skip_until;
}

/* Cgroup ids not found at exec time: walk again (the cache limits walks
 * to one per second) and fix the rows of those found. Only with an empty
 * queue: a walk may replace path strings that queued ops point to. */
static void cg_retry(struct store *s, uint64_t now_ns)
{
	uint32_t kept = 0;

	if (!s->nretry || s->nops || !store_idle(s) ||
	    cgroup_cache_scan(s->cg, now_ns) == -EAGAIN)
		return;
	for (uint32_t i = 0; i < s->nretry; i++) {
		const char *path = cgroup_cache_get(s->cg, s->retry[i]);
		struct op *o;

		if (path && (o = op_add(s, OP_CGROUP))) {
			o->cg.id = s->retry[i];
			o->cg.path = path;
			o->cg.ts = wall_ns();
		} else if (!path && ++s->tries[i] < STORE_CG_TRIES) {
			s->retry[kept] = s->retry[i];
			s->tries[kept++] = s->tries[i];
		} else if (!path) {
			s->st.cgroup_unresolved++; /* gone before it was seen: a short-lived cgroup */
		}
	}
	s->nretry = kept;
}

static void pods_poll(struct store *s, uint64_t now_ns)
{
	struct pod_meta *pods;
	int n;

	if (!s->pods.path || now_ns < s->next_pods_ns)
		return;
	s->next_pods_ns = now_ns + STORE_PODS_EVERY_NS;
	n = pods_file_poll(&s->pods, &pods);
	if (n <= 0)
		return;
	free(s->pods_new);
	s->pods_new = pods;
	s->npods_new = n;
	s->st.pods_file_pods = (uint64_t)n;
}

void store_tick(struct store *s, uint64_t now_ns, uint64_t done_seq)
{
	if (!s)
		return;
	if (s->nops >= s->batch_rows || now_ns - s->last_commit_ns >= STORE_BATCH_NS) {
		/* on the commit thread; if one is still running, the next tick
		 * tries again, and a queue beyond a batch waits for it and is
		 * committed here (store_commit_async) */
		if (s->inflight && s->nops >= s->batch_rows)
			store_wait(s);
		if (store_commit_async(s, done_seq, NULL, NULL) != -EBUSY)
			s->last_commit_ns = now_ns;
	}
	cg_retry(s, now_ns);
	pods_poll(s, now_ns);
	k8s_poll(s);
}

/* ---- schema migrations ---- */

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *q;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return v;
}

/* Applies migration m (version v) unless another writer just did. */
static int migrate_one(sqlite3 *db, const struct store_migration *m, char *err, size_t errlen)
{
	char pragma[64];
	char *msg = NULL;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (user_version(db) >= m->version)
		return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	/* user_version is written in the same transaction as the schema change */
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
	if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "applying schema/%s: %s", m->name, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int store_migrate(struct sqlite3 *db, const char *path, const struct store_migration *m, int n,
		  char *err, size_t errlen)
{
	int v = user_version(db);

	if (v < 0) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if (v > n) {
		snprintf(err, errlen, "%s has schema version %d, this sluice-processor knows up "
			 "to %d: upgrade sluice or move the file", path, v, n);
		return -1;
	}
	for (int i = v; i < n; i++) {
		if (m[i].version != i + 1) {
			snprintf(err, errlen, "schema/%s: expected migration %d", m[i].name, i + 1);
			return -1;
		}
		if (migrate_one(db, &m[i], err, errlen) < 0)
			return -1;
		log_info("%s: schema migrated to version %d (%s)", path, i + 1, m[i].name);
	}
	return 0;
}

/* ---- open / close ---- */

static int read_boot_id(const char *given, char *out, size_t n)
{
	FILE *f;

	if (given) {
		snprintf(out, n, "%s", given);
		return 0;
	}
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!f || !fgets(out, (int)n, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return 0;
}

/* This boot's row in boots: every row written carries its id. */
static int store_boot(struct store *s, const struct store_opts *o)
{
	char id[64];
	sqlite3_stmt *q = NULL;
	int rc = -1;

	if (read_boot_id(o->boot_id, id, sizeof(id)) < 0) {
		log_warn("cannot read /proc/sys/kernel/random/boot_id: rows of different boots "
			 "will not be told apart");
		snprintf(id, sizeof(id), "unknown");
	}
	if (sqlite3_prepare_v2(s->db, "INSERT INTO boots (boot_id, boot_time) VALUES (?1, ?2)"
			       " ON CONFLICT (boot_id) DO UPDATE SET boot_id = boot_id"
			       " RETURNING id", -1, &q, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, o->boot_to_unix_ns);
	if (sqlite3_step(q) == SQLITE_ROW) {
		s->boot = sqlite3_column_int64(q, 0);
		rc = 0;
	}
out:
	if (rc < 0)
		log_warn("%s: cannot record this boot: %s", s->path, sqlite3_errmsg(s->db));
	sqlite3_finalize(q);
	return rc;
}

/* applied_seq from the last commit of an earlier run: batches up to it that
 * the loader replays (those after the processor's checkpoint) are skipped. */
static void store_replay_window(struct store *s, uint64_t done_seq)
{
	sqlite3_stmt *q;
	uint64_t applied = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'applied_seq'", -1, &q,
			       NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(q) == SQLITE_ROW)
		applied = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	/* only when resuming from a checkpoint: otherwise seqs may be a new loader's */
	if (done_seq > 0 && applied > done_seq)
		s->skip_until = applied;
	if (s->skip_until)
		log_info("%s: batches %" PRIu64 "..%" PRIu64 " were stored before the restart; "
			 "their replay will not be counted again", s->path, done_seq + 1, applied);
}

static int store_pragmas(struct store *s)
{
	static const char *const pragmas[] = {
		/* synchronous=NORMAL in WAL mode: a crash keeps every committed
		 * transaction except perhaps the last ones before a power loss,
		 * and the file always stays consistent */
		"PRAGMA synchronous = NORMAL",
		"PRAGMA journal_size_limit = 67108864",
		"PRAGMA foreign_keys = OFF",
	};
	sqlite3_stmt *q;
	bool wal = false;

	sqlite3_busy_timeout(s->db, 2000);
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &q, NULL) == SQLITE_OK) {
		wal = sqlite3_step(q) == SQLITE_ROW &&
		      strcmp((const char *)sqlite3_column_text(q, 0), "wal") == 0;
		sqlite3_finalize(q);
	}
	if (!wal) {
		log_warn("%s: cannot switch to WAL mode (%s)", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++)
		if (sqlite3_exec(s->db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
			return -1;
	return 0;
}

/* The directory /var/lib/sluice may not exist on a first run without the
 * systemd unit's StateDirectory=: make the last level. */
static void make_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (mkdir(dir, 0755) == 0)
		log_info("created %s", dir);
}

/* Refuses, before changing anything in it, a file that is not sqlite or
 * whose schema is newer than this build. */
static int store_check(struct store *s)
{
	int v;

	if (sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_warn("%s: %s (not a sluice metadata store? move it away or use another --db)",
			 s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	v = user_version(s->db);
	if (v > store_schema_count) {
		log_warn("%s has schema version %d, this sluice-processor knows up to %d: upgrade "
			 "sluice or move the file", s->path, v, store_schema_count);
		return -1;
	}
	return 0;
}

static int store_setup(struct store *s, const struct store_opts *o)
{
	char err[512];

	make_parent_dir(o->path);
	if (sqlite3_open_v2(o->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warn("cannot open %s: %s (use --db PATH to put it elsewhere, --db none to "
			 "run without it)", o->path, s->db ? sqlite3_errmsg(s->db) : "no memory");
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (store_check(s) < 0 || store_pragmas(s) < 0)
		return -1;
	if (store_migrate(s->db, s->path, store_schema_list, store_schema_count, err,
			  sizeof(err)) < 0) {
		log_warn("%s", err);
		return -1;
	}
	if (prepare_all(s) < 0 || store_boot(s, o) < 0)
		return -1;
	store_replay_window(s, o->done_seq);
	return 0;
}

static void store_free(struct store *s)
{
	store_wait(s);
	if (s->thread_started) {
		pthread_mutex_lock(&s->mu);
		s->quit = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	free(s->spare);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	if (sqlite3_close(s->db) != SQLITE_OK)
		log_warn("%s: close: %s", s->path, sqlite3_errmsg(s->db));
	cgroup_cache_free(s->cg);
	free(s->pods_new);
	k8s_batch_free(&s->k8s_b);
	free(s->ops);
	free(s->index);
	free(s->procs);
	free(s->path);
	free(s);
}

struct store *store_open(const struct store_opts *o)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->path = strdup(o->path);
	s->boot_to_unix = o->boot_to_unix_ns;
	s->max_conns = o->max_conns ? o->max_conns : STORE_DEFAULT_MAX_CONNS;
	s->max_age_ns = (int64_t)o->max_age_s * 1000000000;
	s->batch_rows = o->batch_rows ? o->batch_rows : STORE_BATCH_ROWS;
	s->pods.path = o->pods_file;
	s->procs_cap = 4096;
	s->procs = calloc(s->procs_cap, sizeof(*s->procs));
	s->cg = cgroup_cache_new(o->cgroup_root);
	if (!s->path || !s->procs || !s->cg || store_setup(s, o) < 0) {
		store_free(s);
		return NULL;
	}
	/* learn the cgroups that exist already; later ones are found on a miss */
	cgroup_cache_scan(s->cg, 0);
	log_info("metadata store %s (schema version %d)", s->path, store_schema_count);
	return s;
}

void store_close(struct store *s, uint64_t done_seq)
{
	if (!s)
		return;
	store_flush(s, done_seq);
	store_free(s);
}

const struct store_stats *store_stats(const struct store *s)
{
	return &s->st;
}

/* A JSON string of text from outside (an API server's error message):
 * quotes, backslashes and control bytes escaped, non-ASCII bytes as '?' so
 * the file is always valid UTF-8. */
static void json_text(FILE *f, const char *v)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c >= 0x7f ? '?' : *c, f);
	}
	fputc('"', f);
}

/* ,"pods":{...}: where pod names come from and how that goes. */
static void store_pods_status_json(const struct store *s, FILE *f)
{
	struct k8s_status k = s->k8s_st;
	const char *src = s->k8s_used ? (s->pods.path ? "k8s+file" : "k8s") :
			  s->pods.path ? "file" : "none";

	fprintf(f, ",\"pods\":{\"source\":\"%s\"", src);
	if (s->pods.path)
		fprintf(f, ",\"file_pods\":%" PRIu64, s->st.pods_file_pods);
	if (s->k8s_used) {
		if (s->k8s)
			k8s_status(s->k8s, &k);
		fputs(",\"k8s_api\":", f);
		json_text(f, k.api);
		fputs(",\"node\":", f);
		json_text(f, k.node);
		fprintf(f, ",\"connected\":%s,\"known\":%" PRId64 ",\"events\":%" PRIu64
			   ",\"lists\":%" PRIu64 ",\"relists\":%" PRIu64 ",\"watches\":%" PRIu64
			   ",\"errors\":%" PRIu64 ",\"lines_dropped\":%" PRIu64
			   ",\"bad_events\":%" PRIu64 ",\"overflows\":%" PRIu64,
			s->k8s && k.connected ? "true" : "false", s->k8s_known, k.events, k.lists,
			k.relists, k.watches, k.errors, k.lines_dropped, k.bad_events, k.overflows);
		fputs(",\"resource_version\":", f);
		json_text(f, k.rv);
		fputs(",\"last_error\":", f);
		json_text(f, k.last_error);
	}
	fputc('}', f);
}

void store_status_json(const struct store *s, FILE *f)
{
	const struct store_stats *st;

	if (!s)
		return;
	st = &s->st;
	fprintf(f, ",\"store\":{\"rows\":%" PRIu64 ",\"commits\":%" PRIu64
		   ",\"write_errors\":%" PRIu64 ",\"rows_dropped\":%" PRIu64
		   ",\"replay_skipped\":%" PRIu64 ",\"pruned_conns\":%" PRIu64
		   ",\"pruned_procs\":%" PRIu64 ",\"cgroup_unresolved\":%" PRIu64
		   ",\"pods_file_pods\":%" PRIu64 ",\"queued\":%u}",
		st->rows, st->commits, st->write_errors, st->rows_dropped, st->replay_skipped,
		st->pruned_conns, st->pruned_procs, st->cgroup_unresolved, st->pods_file_pods,
		s->nops);	store_pods_status_json(s, f);
}

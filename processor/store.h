/* The metadata store (Contract 3): processes, containers, pods, listening
 * ports and recent connections in a sqlite file that users query while the
 * processor runs. The processor is the only writer; the file is in WAL mode
 * so readers never block it. Events are turned into rows in memory and
 * committed in one transaction per STORE_BATCH_NS or batch_rows rows, on
 * the store's own commit thread (store_tick, store_commit_async) or inline
 * (store_flush); the queue is handed over always between two loader
 * batches: the commit records the batch seq it covers, so batches replayed
 * after a crash are not counted twice. Schema: schema/NNN_*.sql, embedded at build time. */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "processor/conntrack.h"
#include "processor/decode.h"
#include "processor/http1.h"

#define STORE_DEFAULT_PATH "/var/lib/sluice/meta.db"
#define STORE_DEFAULT_MAX_CONNS 100000
#define STORE_DEFAULT_MAX_AGE_S (7 * 86400)
#define STORE_BATCH_NS 100000000ULL   /* commit at least this often */
#define STORE_BATCH_ROWS 2000         /* ...or once this many rows wait */

/* One numbered migration: schema/NNN_name.sql. */
struct store_migration {
	int version; /* NNN: user_version once it is applied */
	const char *name;
	const char *sql;
};

struct store_opts {
	const char *path;          /* the sqlite file; its directory is created if missing */
	uint32_t max_conns;        /* newest connections kept; exited processes likewise */
	uint64_t max_age_s;        /* older closed connections / exited processes go; 0: no limit */
	const char *pods_file;     /* kubectl get pods -o json output; NULL: none */
	const char *cgroup_root;   /* NULL: detect /sys/fs/cgroup[/unified] */
	const char *boot_id;       /* NULL: read /proc/sys/kernel/random/boot_id */
	int64_t boot_to_unix_ns;   /* Unix time of boot: turns event stamps into wall time */
	uint64_t done_seq;         /* last loader batch the processor's checkpoint covers */
	uint32_t batch_rows;       /* 0: STORE_BATCH_ROWS */
};

struct store_stats {
	uint64_t rows;           /* rows written (inserted or updated) and committed */
	uint64_t commits;
	uint64_t write_errors;   /* failed transactions */
	uint64_t rows_dropped;   /* rows lost: failed transactions, full queue */
	uint64_t replay_skipped; /* events of batches committed before a restart */
	uint64_t pruned_conns;
	uint64_t pruned_procs;
	uint64_t cgroup_unresolved; /* cgroup ids never found in the hierarchy */
	uint64_t pods_file_pods; /* pods in the last good --pods-file */
	uint64_t queued;         /* rows waiting for the next commit */
};

struct store;
struct sqlite3;

/* Opens (creating, migrating) the file. Returns NULL after logging why:
 * e.g. a schema newer than this build, or a file that is not sqlite. */
struct store *store_open(const struct store_opts *o);
/* Commits what is queued, recording done_seq, and closes. NULL is fine. */
void store_close(struct store *s, uint64_t done_seq);

/* Every store_* below accepts s == NULL (--db none) and does nothing.
 * seq: the loader batch the event (or pair) came in. */
void store_event(struct store *s, uint64_t seq, const struct wire_event *ev);
void store_pair(struct store *s, uint64_t seq, const struct conn *c,
		const struct http1_pair *pair);
/* Call between batches and when idle: starts a commit on the commit
 * thread when due, reloads the pod file, resolves cgroups. now_ns:
 * CLOCK_MONOTONIC. */
void store_tick(struct store *s, uint64_t now_ns, uint64_t done_seq);
/* Commits now, on the calling thread, after any commit in flight. 0 or a
 * negative errno. */
int store_flush(struct store *s, uint64_t done_seq);
/* Hands what is queued (rows of batches up to done_seq) to the store's
 * commit thread and returns at once; then(arg), when not NULL, runs on
 * that thread once the transaction has committed or failed (a failure
 * drops and counts the rows, as store_flush does). One commit at a time:
 * -EBUSY, doing nothing, while the previous one runs. When other modules'
 * rows wait (store_writer) it commits inline and calls then inline. With
 * s NULL it calls then inline. 0, -EBUSY or store_flush's result. */
int store_commit_async(struct store *s, uint64_t done_seq, void (*then)(void *), void *arg);
/* Whether no commit is in flight; collects a finished one's results (its
 * counters) on the calling thread. Only the thread that feeds the store
 * calls any store_* function. */
bool store_idle(struct store *s);
/* Waits for the commit in flight, if any, and collects it. */
void store_wait(struct store *s);

/* The DNS name of a CONN_OPEN event's remote address (conns.raddr_name). */
void store_conn_name(struct store *s, uint64_t seq, const struct wire_event *open,
		     const char *name);

/* Rows another module keeps (DNS names, flows): written inside the store's
 * transaction, so they commit, fail and survive crashes with its own rows
 * and its applied_seq. */
#define STORE_WRITERS_MAX 4
struct store_writer {
	uint32_t (*pending)(void *ctx); /* rows waiting: a commit is due for them too */
	/* Writes them with db in the open transaction; < 0 rolls it back. */
	int (*write)(void *ctx, struct sqlite3 *db, int64_t boot, int64_t now_unix_ns);
	void (*done)(void *ctx, int committed); /* after the commit or the rollback */
	void *ctx;
};
/* Registers w; returns the open database for reading what the module left
 * there (NULL when s is NULL or the table of writers is full). */
struct sqlite3 *store_add_writer(struct store *s, const struct store_writer *w);
/* Whether batch seq's rows were committed before this start (a replay). */
int store_replayed(const struct store *s, uint64_t seq);

/* Pods from the Kubernetes API (k8s.h): store_tick takes what its thread
 * has and the next commit writes it (source 'k8s'; a pod the API deleted
 * keeps its row, with pods.deleted set). NULL detaches it (before
 * k8s_stop); what was taken is still committed. */
struct k8s;
void store_attach_k8s(struct store *s, struct k8s *k);

const struct store_stats *store_stats(const struct store *s);
/* ,"store":{...},"pods":{...} for the processor's status JSON (nothing when
 * s is NULL). "pods" says where pod names come from: source (k8s, file,
 * k8s+file, none) and, for the API, connected, last_error, known, events... */
void store_status_json(const struct store *s, FILE *f);

/* Applies migrations m[0..n) (versions 1..n) that db lacks, each in its own
 * transaction; refuses a db newer than n. 0, or -1 with err filled. */
int store_migrate(struct sqlite3 *db, const char *path, const struct store_migration *m, int n,
		  char *err, size_t errlen);
/* The schema compiled into this binary. */
extern const struct store_migration *const store_schema_list;
extern const int store_schema_count;

#endif

/* The metadata store against real sqlite files: migrations (fresh, from an
 * older version, refusing a newer one, atomic on failure), process
 * identity (a reused pid is two rows; a forked worker gets its identity at
 * exit), connection rows (requests, bytes, ports), retention, replay after
 * a restart, cgroup and pod metadata. Rows are read back through a second,
 * read-only connection, as a user would. */
#include "processor/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/records.h"
#include "processor/cgroup.h"
#include "tests/unit/db_query.h"
#include "tests/unit/harness.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DID "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define PUID "5f3c9a2e-1b4d-4c8e-9f00-123456789abc"
#define PUID_ "5f3c9a2e_1b4d_4c8e_9f00_123456789abc"

static char dir[] = "/tmp/sluice-store-test.XXXXXX";

static void fresh_db(const char *name)
{
	char cmd[400];

	static int made;

	if (!made && !mkdtemp(dir))
		return;
	made = 1;
	snprintf(db, sizeof(db), "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "%s-wal", db);
	unlink(db);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s-shm", db);
	unlink(cmd);
}

static struct store *open_store(uint32_t max_conns, uint64_t done_seq, const char *cgroot,
				const char *pods)
{
	struct store_opts o = {
		.path = db, .max_conns = max_conns, .boot_id = "test-boot",
		.boot_to_unix_ns = 1700000000000000000LL, .done_seq = done_seq,
		.cgroup_root = cgroot ? cgroot : "/nonexistent", .pods_file = pods,
	};

	return store_open(&o);
}

static int raw_exec(const char *sql)
{
	sqlite3 *h;
	int rc;

	if (sqlite3_open(db, &h) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	sqlite3_close(h);
	return rc == SQLITE_OK ? 0 : -1;
}

/* ---- events as the decoder hands them over ---- */

static struct wire_event ev_exec(uint32_t pid, uint64_t start, uint64_t cgid, const char *exe)
{
	struct wire_event e = { .type = SLUICE_EV_EXEC, .ts_ns = start + 1000, .tgid = pid,
				.tid = pid };
	const char *base = strrchr(exe, '/');

	e.exec.ppid = 1;
	e.exec.uid = 33;
	e.exec.cgroup_id = cgid;
	e.exec.pidns_ino = 4026531836u;
	e.exec.ns_pid = pid;
	e.exec.start_ns = start;
	e.exec.comm = (const uint8_t *)(base ? base + 1 : exe);
	e.exec.comm_len = (uint32_t)strlen((const char *)e.exec.comm);
	e.exec.exe = (const uint8_t *)exe;
	e.exec.exe_len = (uint32_t)strlen(exe);
	return e;
}

static const uint8_t any4[4];

static struct wire_event ev_listen(uint32_t pid, const uint8_t *addr, uint16_t port,
				   int listening, uint64_t ts)
{
	struct wire_event e = { .type = SLUICE_EV_LISTEN, .ts_ns = ts, .tgid = pid, .tid = pid };

	e.listen.family = AF_INET;
	e.listen.addr = addr;
	e.listen.port = port;
	e.listen.listening = (uint8_t)listening;
	return e;
}

static struct wire_event ev_exit(uint32_t pid, uint64_t start, int32_t status, uint64_t ts)
{
	struct wire_event e = { .type = SLUICE_EV_EXIT, .ts_ns = ts, .tgid = pid, .tid = pid };

	e.exit.code = status;
	e.exit.start_ns = start;
	return e;
}

static const uint8_t lo[4] = { 127, 0, 0, 1 };

static struct wire_event ev_open(uint64_t id, uint32_t pid, uint8_t role, uint16_t lport,
				 uint16_t rport, uint64_t ts)
{
	struct wire_event e = { .type = SLUICE_EV_CONN_OPEN, .ts_ns = ts, .tgid = pid, .tid = pid };

	e.open.conn_id = id;
	e.open.role = role;
	e.open.family = AF_INET;
	e.open.lport = lport;
	e.open.rport = rport;
	e.open.laddr = lo;
	e.open.raddr = lo;
	e.open.comm = (const uint8_t *)"worker";
	e.open.comm_len = 6;
	return e;
}

static struct wire_event ev_close(uint64_t id, uint32_t pid, uint64_t sent, uint64_t recv,
				  uint64_t ts)
{
	struct wire_event e = { .type = SLUICE_EV_CONN_CLOSE, .ts_ns = ts, .tgid = pid };

	e.close.conn_id = id;
	e.close.bytes_sent = sent;
	e.close.bytes_recv = recv;
	return e;
}

static void pair(struct store *s, uint64_t seq, uint64_t conn_id, uint32_t pid, int status,
		 uint64_t sent, uint64_t recv)
{
	struct conn c = { .conn_id = conn_id, .tgid = pid, .family = AF_INET, .lport = 8080,
			  .rport = 40000, .bytes_sent = sent, .bytes_recv = recv };
	struct http1_pair p = { .start_ns = 5000000, .end_ns = 7000000, .status = status };

	memcpy(c.laddr, lo, 4);
	memcpy(c.raddr, lo, 4);
	store_pair(s, seq, &c, &p);
}

static void feed(struct store *s, uint64_t seq, struct wire_event e)
{
	store_event(s, seq, &e);
}

/* ---- migrations ---- */

static void fresh_file_gets_every_migration_and_wal(void)
{
	struct store *s;

	fresh_db("fresh.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	CHECK_EQ_U(q_int("PRAGMA user_version"), store_schema_count);
	CHECK_STR(q_text("PRAGMA journal_mode"), "wal");
	CHECK_EQ_U(q_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
			 " ('processes','containers','pods','ports','conns','boots','meta')"), 7);
	/* 002's eight views and 003's three (v_conns_named, v_flows, v_dns_names) */
	CHECK_EQ_U(q_int("SELECT count(*) FROM sqlite_master WHERE type = 'view'"), 11);
	CHECK_STR(q_text("SELECT boot_id FROM boots"), "test-boot");
	store_close(s, 0);
	/* a second open finds it current and changes nothing */
	s = open_store(0, 0, NULL, NULL);
	CHECK(s != NULL);
	CHECK_EQ_U(q_int("SELECT count(*) FROM boots"), 1);
	store_close(s, 0);
}

static void older_file_is_migrated_and_keeps_its_rows(void)
{
	sqlite3 *h;
	char err[256] = "";
	struct store *s;

	fresh_db("old.db");
	h = NULL;
	sqlite3_open(db, &h); /* not inside REQUIRE: it evaluates twice */
	REQUIRE(h != NULL);
	CHECK(store_migrate(h, db, store_schema_list, 1, err, sizeof(err)) == 0);
	CHECK(sqlite3_exec(h, "INSERT INTO boots (boot_id, boot_time) VALUES ('b0', 0);"
			      "INSERT INTO processes (boot, pid, start_ns, comm, first_seen, last_seen)"
			      " VALUES (1, 42, 7, 'old', 1, 1)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	CHECK_EQ_U(q_int("PRAGMA user_version"), 1);
	CHECK_EQ_U(q_int("SELECT count(*) FROM sqlite_master WHERE type = 'view'"), 0);
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	CHECK_EQ_U(q_int("PRAGMA user_version"), store_schema_count);
	CHECK_STR(q_text("SELECT comm FROM v_processes WHERE pid = 42"), "old");
	store_close(s, 0);
}

static void newer_file_is_refused_untouched(void)
{
	sqlite3 *h;
	char err[256] = "", want[512];
	struct store *s;

	fresh_db("new.db");
	CHECK(raw_exec("CREATE TABLE t (x); PRAGMA user_version = 999") == 0);
	s = open_store(0, 0, NULL, NULL);
	CHECK(s == NULL);
	store_close(s, 0);
	CHECK_EQ_U(q_int("PRAGMA user_version"), 999);
	CHECK_STR(q_text("PRAGMA journal_mode"), "delete"); /* not even switched to WAL */
	h = NULL;
	sqlite3_open(db, &h); /* not inside REQUIRE: it evaluates twice */
	REQUIRE(h != NULL);
	CHECK(store_migrate(h, db, store_schema_list, store_schema_count, err, sizeof(err)) < 0);
	sqlite3_close(h);
	snprintf(want, sizeof(want), "%s has schema version 999, this sluice-processor knows up "
		 "to %d: upgrade sluice or move the file", db, store_schema_count);
	CHECK_STR(err, want);
}

static void failed_migration_leaves_the_previous_version(void)
{
	static const struct store_migration m[] = {
		{ 1, "001_a.sql", "CREATE TABLE a (x);" },
		{ 2, "002_b.sql", "CREATE TABLE b (x); INSERT INTO nowhere VALUES (1);" },
	};
	sqlite3 *h;
	char err[256] = "";

	fresh_db("broken.db");
	h = NULL;
	sqlite3_open(db, &h); /* not inside REQUIRE: it evaluates twice */
	REQUIRE(h != NULL);
	CHECK(store_migrate(h, db, m, 2, err, sizeof(err)) < 0);
	sqlite3_close(h);
	CHECK(strstr(err, "002_b.sql") != NULL);
	CHECK_EQ_U(q_int("PRAGMA user_version"), 1);
	CHECK_EQ_U(q_int("SELECT count(*) FROM sqlite_master WHERE name = 'b'"), 0);
}

static void not_sqlite_is_refused(void)
{
	FILE *f;

	fresh_db("junk.db");
	f = fopen(db, "w");
	REQUIRE(f != NULL);
	fputs("this is not a database, just a file someone left here................\n", f);
	fclose(f);
	CHECK(open_store(0, 0, NULL, NULL) == NULL);
}

/* ---- rows ---- */

static void reused_pid_is_two_rows(void)
{
	struct store *s;

	fresh_db("pids.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 1, ev_exec(100, 1000, 0, "/usr/bin/first"));
	feed(s, 1, ev_exit(100, 1000, 3 << 8, 900000));
	feed(s, 2, ev_exec(100, 5000000, 0, "/usr/bin/second"));
	feed(s, 2, ev_exit(999, 1, 9, 1000)); /* unknown process: changes nothing */
	CHECK(store_flush(s, 2) == 0);
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes WHERE pid = 100"), 2);
	CHECK_STR(q_text("SELECT exe FROM processes WHERE pid = 100 AND start_ns = 1000"),
		  "/usr/bin/first");
	CHECK_EQ_U(q_int("SELECT exit_code FROM processes WHERE start_ns = 1000"), 3);
	CHECK_EQ_U(q_int("SELECT exit_signal FROM processes WHERE start_ns = 1000"), 0);
	CHECK_EQ_U(q_int("SELECT exited FROM processes WHERE start_ns = 1000"),
		   1700000000000000000ULL + 900000);
	CHECK_EQ_U(q_int("SELECT exited IS NULL FROM processes WHERE start_ns = 5000000"), 1);
	CHECK_STR(q_text("SELECT comm FROM v_processes WHERE alive"), "second");
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes"), 2);
	CHECK_EQ_U(q_int("SELECT value FROM meta WHERE key = 'applied_seq'"), 2);
	store_close(s, 2);
}

static void cmdline_is_one_line(void)
{
	static const uint8_t argv[] = "python3\0-m\0http.server\0" "8000\0";
	struct wire_event e = ev_exec(9, 90, 0, "/usr/bin/python3.11");
	struct store *s;

	fresh_db("argv.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	e.exec.cmdline = argv;
	e.exec.cmdline_len = sizeof(argv) - 1;
	store_event(s, 1, &e);
	store_close(s, 1);
	CHECK_STR(q_text("SELECT cmdline FROM processes WHERE pid = 9"),
		  "python3 -m http.server 8000");
}

/* LISTEN rows; accepted connections count on the wildcard listener. */
static void listening_ports(void)
{
	struct store *s;

	fresh_db("listen.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 1, ev_exec(50, 500, 0, "/usr/sbin/sshd"));
	feed(s, 1, ev_listen(50, any4, 22, 1, 1000));
	feed(s, 1, ev_listen(50, lo, 9000, 1, 1000));
	feed(s, 1, ev_open(1, 50, SLUICE_ROLE_SERVER, 22, 41000, 2000));
	CHECK(store_flush(s, 1) == 0);
	feed(s, 2, ev_open(2, 50, SLUICE_ROLE_SERVER, 22, 41001, 3000));
	feed(s, 2, ev_listen(50, lo, 9000, 0, 4000));
	store_close(s, 2);
	CHECK_EQ_U(q_int("SELECT count(*) FROM ports"), 2);
	CHECK_STR(q_text("SELECT addr || ':' || port || ' ' || listening || ' ' || accepted"
			 " FROM ports WHERE port = 22"), "0.0.0.0:22 1 2");
	CHECK_EQ_U(q_int("SELECT listening FROM ports WHERE port = 9000"), 0);
	CHECK_EQ_U(q_int("SELECT count(*) FROM v_listening WHERE alive"), 1);
}

static void killed_by_signal(void)
{
	struct store *s;

	fresh_db("sig.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 1, ev_exec(7, 70, 0, "/bin/sleep"));
	feed(s, 1, ev_exit(7, 70, 9, 80));
	store_close(s, 1);
	CHECK_EQ_U(q_int("SELECT exit_signal FROM processes WHERE pid = 7"), 9);
	CHECK_EQ_U(q_int("SELECT exit_code IS NULL FROM processes WHERE pid = 7"), 1);
}

static void server_conn_counts_requests_bytes_and_port(void)
{
	struct store *s;

	fresh_db("conn.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 1, ev_exec(200, 2000, 0, "/usr/sbin/nginx"));
	feed(s, 1, ev_open(11, 200, SLUICE_ROLE_SERVER, 8080, 40000, 3000000));
	pair(s, 1, 11, 200, 200, 100, 50);
	pair(s, 1, 11, 200, 404, 200, 100);
	CHECK(store_flush(s, 1) == 0);
	/* running totals are visible before the close */
	CHECK_EQ_U(q_int("SELECT bytes_sent FROM conns WHERE conn_id = 11"), 200);
	pair(s, 2, 11, 200, 503, 300, 150);
	feed(s, 2, ev_close(11, 200, 345, 151, 9000000));
	CHECK(store_flush(s, 2) == 0);
	/* a pair emitted after the close must not undo its exact totals */
	pair(s, 3, 11, 200, 0, 999, 999);
	CHECK(store_flush(s, 3) == 0);
	CHECK_EQ_U(q_int("SELECT requests FROM conns WHERE conn_id = 11"), 4);
	CHECK_EQ_U(q_int("SELECT http_4xx FROM conns WHERE conn_id = 11"), 1);
	CHECK_EQ_U(q_int("SELECT http_5xx FROM conns WHERE conn_id = 11"), 1);
	CHECK_EQ_U(q_int("SELECT no_response FROM conns WHERE conn_id = 11"), 1);
	CHECK_EQ_U(q_int("SELECT latency_ns FROM conns WHERE conn_id = 11"), 3 * 2000000);
	CHECK_EQ_U(q_int("SELECT bytes_sent FROM conns WHERE conn_id = 11"), 345);
	CHECK_EQ_U(q_int("SELECT bytes_recv FROM conns WHERE conn_id = 11"), 151);
	CHECK_STR(q_text("SELECT role || ' ' || laddr || ':' || lport || ' ' || protocol"
			 " FROM conns WHERE conn_id = 11"), "server 127.0.0.1:8080 http1");
	CHECK_STR(q_text("SELECT p.exe FROM conns c JOIN processes p ON p.id = c.process"),
		  "/usr/sbin/nginx");
	CHECK_STR(q_text("SELECT addr || ':' || port || ' ' || accepted FROM ports"),
		  "127.0.0.1:8080 1");
	CHECK_EQ_U(q_int("SELECT requests FROM v_requests_per_process WHERE pid = 200"), 4);
	CHECK_EQ_U(q_int("SELECT bytes_total FROM v_top_talkers WHERE pid = 200"), 345 + 151);
	CHECK_EQ_U(q_int("SELECT port FROM v_listening WHERE pid = 200"), 8080);
	store_close(s, 3);
}

/* nginx workers are forked, never exec'd: known by their connections
 * first (start unknown), then by their exit, which carries the start. */
static void forked_worker_gets_its_identity_at_exit(void)
{
	struct store *s;

	fresh_db("fork.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 1, ev_open(21, 300, SLUICE_ROLE_CLIENT, 50000, 80, 1000));
	CHECK(store_flush(s, 1) == 0);
	CHECK_EQ_U(q_int("SELECT start_ns FROM processes WHERE pid = 300"), 0);
	CHECK_STR(q_text("SELECT comm FROM processes WHERE pid = 300"), "worker");
	feed(s, 2, ev_exit(300, 777, 0, 5000));
	feed(s, 2, ev_close(21, 300, 10, 20, 6000)); /* sockets close after the exit */
	CHECK(store_flush(s, 2) == 0);
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes"), 1);
	CHECK_EQ_U(q_int("SELECT start_ns FROM processes WHERE pid = 300"), 777);
	CHECK_EQ_U(q_int("SELECT exit_code FROM processes WHERE pid = 300"), 0);
	CHECK_EQ_U(q_int("SELECT p.start_ns FROM conns c JOIN processes p ON p.id = c.process"),
		   777);
	/* the pid comes back as another forked process: a new row */
	feed(s, 3, ev_open(22, 300, SLUICE_ROLE_CLIENT, 50001, 80, 7000));
	store_close(s, 3);
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes WHERE pid = 300"), 2);
}

static void retention_keeps_the_newest_conns(void)
{
	struct store *s;

	fresh_db("keep.db");
	s = open_store(10, 0, NULL, NULL);
	REQUIRE(s != NULL);
	for (uint64_t i = 1; i <= 25; i++) {
		feed(s, i, ev_open(i, 400, SLUICE_ROLE_CLIENT, (uint16_t)(30000 + i), 80, i * 1000));
		feed(s, i, ev_close(i, 400, i, i, i * 1000 + 500));
		store_flush(s, i);
	}
	CHECK_EQ_U(q_int("SELECT count(*) FROM conns"), 10);
	CHECK_EQ_U(q_int("SELECT min(conn_id) FROM conns"), 16);
	CHECK_EQ_U(q_int("SELECT max(conn_id) FROM conns"), 25);
	CHECK(store_stats(s)->pruned_conns == 15);
	store_close(s, 25);
}

/* A processor killed after committing batch 5 but checkpointed at batch 3
 * gets batches 4 and 5 again: they must not count twice. */
static void replayed_batches_are_not_counted_twice(void)
{
	struct store *s;

	fresh_db("replay.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 3, ev_open(31, 500, SLUICE_ROLE_SERVER, 80, 41000, 1000));
	pair(s, 4, 31, 500, 200, 1, 1);
	pair(s, 5, 31, 500, 200, 2, 2);
	store_close(s, 5); /* as if killed right after this commit */
	s = open_store(0, 3, NULL, NULL);
	REQUIRE(s != NULL);
	pair(s, 4, 31, 500, 200, 1, 1);
	pair(s, 5, 31, 500, 200, 2, 2);
	pair(s, 6, 31, 500, 200, 3, 3);
	store_close(s, 6);
	CHECK_EQ_U(q_int("SELECT requests FROM conns WHERE conn_id = 31"), 3);
	/* without a checkpoint (done_seq 0) nothing is skipped: seqs may be a new loader's */
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	pair(s, 2, 31, 500, 200, 4, 4);
	store_close(s, 2);
	CHECK_EQ_U(q_int("SELECT requests FROM conns WHERE conn_id = 31"), 4);
}

/* After a restart the store finds running processes in the file. */
static void restart_finds_running_processes(void)
{
	struct store *s;

	fresh_db("restart.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 1, ev_exec(600, 6000, 0, "/usr/bin/python3"));
	store_close(s, 1);
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 2, ev_open(61, 600, SLUICE_ROLE_SERVER, 8000, 42000, 7000));
	store_close(s, 2);
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes"), 1);
	CHECK_STR(q_text("SELECT p.exe FROM conns c JOIN processes p ON p.id = c.process"),
		  "/usr/bin/python3");
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* A directory tree stands in for the cgroup hierarchy (ids = inodes). */
static void cgroup_path_gives_container_pod_and_qos(void)
{
	char root[400], pod[600], ctr[800], late[900];
	struct store *s;

	fresh_db("cg.db");
	snprintf(root, sizeof(root), "%s/cg", dir);
	snprintf(pod, sizeof(pod), "%s/kubepods-burstable-pod" PUID_ ".slice", root);
	snprintf(ctr, sizeof(ctr), "%s/cri-containerd-" CID ".scope", pod);
	snprintf(late, sizeof(late), "%s/docker-" DID ".scope", root);
	CHECK(mkdir(root, 0755) == 0 && mkdir(pod, 0755) == 0 && mkdir(ctr, 0755) == 0);
	s = open_store(0, 0, root, NULL);
	REQUIRE(s != NULL);
	feed(s, 1, ev_exec(700, 7000, ino_of(ctr), "/usr/bin/python3"));
	store_tick(s, STORE_BATCH_NS, 1); /* the walk at open found it: one commit */
	store_wait(s); /* the commit runs on the store's thread */
	CHECK_STR(q_text("SELECT container_id FROM processes WHERE pid = 700"), CID);
	CHECK_STR(q_text("SELECT runtime || ' ' || pod_uid FROM containers"), "containerd " PUID);
	CHECK_STR(q_text("SELECT qos || ' ' || source FROM pods"), "burstable cgroup");
	CHECK_STR(q_text("SELECT unit FROM processes WHERE pid = 700"),
		  "cri-containerd-" CID ".scope");
	/* a cgroup made after the last walk is found by a later one */
	CHECK(mkdir(late, 0755) == 0);
	feed(s, 2, ev_exec(701, 7001, ino_of(late), "/usr/sbin/nginx"));
	store_tick(s, 3 * STORE_BATCH_NS, 2);
	store_wait(s); /* the commit runs on the store's thread */
	CHECK_EQ_U(q_int("SELECT cgroup_path IS NULL FROM processes WHERE pid = 701"), 1);
	store_tick(s, CGROUP_RESCAN_NS, 2); /* walk allowed again */
	store_wait(s); /* the commit runs on the store's thread */
	store_tick(s, CGROUP_RESCAN_NS + STORE_BATCH_NS, 2); /* commit the fix */
	store_wait(s); /* the commit runs on the store's thread */
	CHECK_STR(q_text("SELECT cgroup_path FROM processes WHERE pid = 701"),
		  "/docker-" DID ".scope");
	CHECK_STR(q_text("SELECT runtime FROM containers c JOIN processes p"
			 " ON p.container_id = c.id WHERE p.pid = 701"), "docker");
	store_close(s, 2);
	rmdir(late);
	rmdir(ctr);
	rmdir(pod);
	rmdir(root);
}

static void pods_file_names_the_pods(void)
{
	char path[400];
	FILE *f;
	struct store *s;
	struct wire_event e;

	fresh_db("pods.db");
	snprintf(path, sizeof(path), "%s/pods.json", dir);
	f = fopen(path, "w");
	REQUIRE(f != NULL);
	fputs("{\"items\":[{\"metadata\":{\"uid\":\"" PUID "\",\"name\":\"web-1\","
	      "\"namespace\":\"shop\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
	      "\"name\":\"web\",\"controller\":true}]},\"spec\":{\"nodeName\":\"n1\"},"
	      "\"status\":{\"qosClass\":\"Burstable\"}}]}", f);
	fclose(f);
	s = open_store(0, 0, NULL, path);
	REQUIRE(s != NULL);
	e = ev_exec(800, 8000, 0, "/bin/true");
	store_event(s, 1, &e);
	store_tick(s, STORE_BATCH_NS, 1); /* reads the file */
	store_wait(s); /* the commit runs on the store's thread */
	store_tick(s, 2 * STORE_BATCH_NS, 1); /* commits it */
	store_wait(s); /* the commit runs on the store's thread */
	CHECK_STR(q_text("SELECT namespace || '/' || name || ' ' || owner_kind || '/' ||"
			 " owner_name || ' ' || node || ' ' || qos || ' ' || source FROM pods"),
		  "shop/web-1 ReplicaSet/web n1 burstable file");
	CHECK_EQ_U(store_stats(s)->pods_file_pods, 1);
	store_close(s, 1);
	unlink(path);
}

static void count_call(void *arg)
{
	++*(int *)arg;
}

/* A commit on the store's thread: then runs after it, once; the rows and
 * applied_seq are in the file when the caller sees the job done; a queue
 * filled meanwhile goes in the next commit. */
static void async_commit_runs_then_after_it(void)
{
	struct store *s;
	int calls = 0;

	fresh_db("async.db");
	s = open_store(0, 0, NULL, NULL);
	REQUIRE(s != NULL);
	feed(s, 4, ev_exec(900, 9000, 0, "/bin/first"));
	CHECK(store_commit_async(s, 4, count_call, &calls) == 0);
	feed(s, 5, ev_exec(901, 9010, 0, "/bin/second")); /* queued while it runs */
	store_wait(s);
	CHECK(store_idle(s));
	CHECK_EQ_U(calls, 1);
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes WHERE pid = 900"), 1);
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes WHERE pid = 901"), 0);
	CHECK_EQ_U(q_int("SELECT value FROM meta WHERE key = 'applied_seq'"), 4);
	CHECK_EQ_U(store_stats(s)->commits, 1);
	CHECK(store_commit_async(s, 5, count_call, &calls) == 0);
	store_wait(s);
	CHECK_EQ_U(calls, 2);
	CHECK_EQ_U(q_int("SELECT count(*) FROM processes WHERE pid = 901"), 1);
	CHECK_EQ_U(q_int("SELECT value FROM meta WHERE key = 'applied_seq'"), 5);
	CHECK(store_commit_async(s, 5, count_call, &calls) == 0);
	CHECK(store_idle(s)); /* nothing queued: then ran at once, no commit */
	CHECK_EQ_U(calls, 3);
	CHECK_EQ_U(store_stats(s)->commits, 2);
	store_close(s, 5);
}

static void null_store_is_a_no_op(void)
{
	struct wire_event e = ev_exec(1, 1, 0, "/x");

	store_event(NULL, 1, &e);
	pair(NULL, 1, 1, 1, 200, 1, 1);
	store_tick(NULL, 1, 1);
	store_status_json(NULL, stdout);
	CHECK(store_flush(NULL, 1) == 0);
}

static void cleanup(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

RUN_TESTS("store", TEST(fresh_file_gets_every_migration_and_wal),
	  TEST(older_file_is_migrated_and_keeps_its_rows), TEST(newer_file_is_refused_untouched),
	  TEST(failed_migration_leaves_the_previous_version), TEST(not_sqlite_is_refused),
	  TEST(reused_pid_is_two_rows), TEST(cmdline_is_one_line), TEST(listening_ports),
	  TEST(killed_by_signal),
	  TEST(server_conn_counts_requests_bytes_and_port),
	  TEST(forked_worker_gets_its_identity_at_exit), TEST(retention_keeps_the_newest_conns),
	  TEST(replayed_batches_are_not_counted_twice), TEST(restart_finds_running_processes),
	  TEST(cgroup_path_gives_container_pod_and_qos), TEST(pods_file_names_the_pods),
	  TEST(async_commit_runs_then_after_it),
	  TEST(null_store_is_a_no_op), TEST(cleanup))

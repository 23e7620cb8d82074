/* sluicectl: the unprivileged command-line client. Reads the metadata
 * store (read-only: the file is opened read-only and query_only, and
 * `sql` refuses any statement that could write) and the processor's status
 * file. Every command prints an aligned table, or JSON with --json.
 * Life: parse arguments -> open what the command reads -> print -> exit. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"

#define DEFAULT_STATUS "/run/sluice/processor/status.json"
#define DEFAULT_DB "/var/lib/sluice/meta.db"
#define STATUS_MAX 65536
#define TABLE_MAX_ROWS 100000 /* a table is aligned in memory; --json streams */

struct ctl {
	const char *db_path;
	const char *status_path;
	bool json;
	bool all;      /* ps/ports: include processes that exited */
	long limit;    /* conns: rows shown */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluicectl [options] COMMAND\n"
		"  ps               running processes: identity, container, pod\n"
		"  conns            newest connections: endpoints, bytes, requests\n"
		"  pods             pods with their containers and processes\n"
		"  ports            listening ports (from accepted connections)\n"
		"  containers       containers and their pods\n"
		"  status           the processor's counters (events, pairs, drops by stage)\n"
		"  sql \"SELECT ...\" any read-only query (see schema/README.md)\n"
		"options:\n"
		"  --db PATH        metadata store (default " DEFAULT_DB ")\n"
		"  --status PATH    status file the processor writes (default " DEFAULT_STATUS ")\n"
		"  --json           JSON (one array of objects per statement) instead of a table\n"
		"  --all            ps, ports: include processes that exited\n"
		"  --limit N        conns: rows to show (default 50)\n"
		"  --version, --help\n");
}

/* ---- status file ---- */

/* Prints a flat JSON object of numbers, strings and nested objects as
 * aligned "a.b  value" lines (a \uXXXX escape shows as uXXXX). Anything
 * else in the file is reported, not guessed. */
static int print_flat(const char *s)
{
	char prefix[256] = "", key[128];
	size_t plen[16];
	int depth = 0;

	while (*s) {
		if (*s == '{') {
			if (depth >= 15)
				return -1;
			plen[depth++] = strlen(prefix);
			s++;
		} else if (*s == '}') {
			if (depth == 0)
				return -1;
			prefix[plen[--depth]] = 0;
			s++;
		} else if (*s == '"') {
			const char *e = strchr(s + 1, '"');
			size_t n = e ? (size_t)(e - s - 1) : 0;

			if (!e || n >= sizeof(key) || e[1] != ':')
				return -1;
			memcpy(key, s + 1, n);
			key[n] = 0;
			s = e + 2;
			if (*s == '{') { /* "key.": until its closing brace */
				size_t l = strlen(prefix);

				if (depth >= 15)
					return -1;
				plen[depth++] = l;
				snprintf(prefix + l, sizeof(prefix) - l, "%s.", key);
				s++;
				continue;
			}
			if (*s == '"') { /* text: printed without its quotes and escapes */
				printf("%s%-*s ", prefix, (int)(30 - strlen(prefix)), key);
				for (s++; *s && *s != '"'; s++) {
					if (*s == '\\' && s[1])
						s++;
					if (*s >= ' ')
						putchar(*s);
				}
				if (*s++ != '"')
					return -1;
				putchar('\n');
				continue;
			}
			printf("%s%-*s %.*s\n", prefix, (int)(30 - strlen(prefix)), key,
			       (int)strspn(s, "0123456789-.truefals"), s);
			s += strspn(s, "0123456789-.truefals");
		} else if (*s == ',' || isspace((unsigned char)*s)) {
			s++;
		} else {
			return -1;
		}
	}
	return depth == 0 ? 0 : -1;
}

static int cmd_status(const char *path)
{
	static char buf[STATUS_MAX + 1];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "sluicectl: cannot read %s: is sluice-processor running with "
				"--status %s?\n", path, path);
		return 1;
	}
	n = fread(buf, 1, STATUS_MAX, f);
	fclose(f);
	buf[n] = 0;
	if (print_flat(buf) < 0) {
		fprintf(stderr, "sluicectl: %s is not a processor status file\n", path);
		return 1;
	}
	return 0;
}

/* ---- opening the store read-only ---- */

/* ATTACH would open (or create) other files; nothing else needs refusing
 * here because the connection itself cannot write. */
static int deny_attach(void *ctx, int action, const char *a, const char *b, const char *c,
		       const char *d)
{
	(void)ctx, (void)a, (void)b, (void)c, (void)d;
	return action == SQLITE_ATTACH || action == SQLITE_DETACH ? SQLITE_DENY : SQLITE_OK;
}

static sqlite3 *db_try(const char *uri, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA query_only = 1; SELECT count(*) FROM sqlite_master", NULL,
			 NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 2000);
	sqlite3_set_authorizer(db, deny_attach, NULL);
	return db;
}

/* file: URI for path (percent-escaping what a URI gives meaning to). */
static void uri_of(char *out, size_t n, const char *path, const char *query)
{
	size_t k = (size_t)snprintf(out, n, "file:");

	for (; *path && k + 4 < n; path++)
		k += (size_t)(strchr("?#%", *path) ? snprintf(out + k, n - k, "%%%02X", *path)
						   : snprintf(out + k, n - k, "%c", *path));
	snprintf(out + k, n - k, "?%s", query);
}

/* A reader of a WAL file needs its -shm; when the processor is not running
 * and the directory is not writable for this user there is none, and the
 * file can only be read as immutable (safe then: nobody writes it). */
static sqlite3 *db_open(const char *path)
{
	char uri[8192], err[256] = "";
	struct stat st;
	sqlite3 *db;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "sluicectl: no metadata store at %s (%s). sluice-processor creates "
				"it when it runs (--db %s); use --db PATH for another file.\n",
			path, strerror(errno), path);
		return NULL;
	}
	uri_of(uri, sizeof(uri), path, "mode=ro");
	if ((db = db_try(uri, err, sizeof(err))))
		return db;
	snprintf(uri, sizeof(uri), "%s-wal", path);
	if (stat(uri, &st) < 0) {
		char err2[256];

		uri_of(uri, sizeof(uri), path, "immutable=1");
		if ((db = db_try(uri, err2, sizeof(err2))))
			return db;
	}
	fprintf(stderr, "sluicectl: cannot read %s: %s%s\n", path, err,
		access(path, R_OK) ? " (this user may not read it: see its owner and group)" : "");
	return NULL;
}

/* ---- results: aligned tables and JSON ---- */

struct table {
	int ncols;
	char **names;
	char **cells;   /* nrows * ncols; NULL for SQL NULL */
	bool *numeric;  /* per column: every value is a number (right-aligned) */
	bool *seen;     /* per column: some value is not NULL */
	size_t nrows, cap;
	bool cut;       /* rows beyond TABLE_MAX_ROWS were left out */
};

/* A cell as text, control characters made visible: values come from
 * traffic and process names, and must not drive the terminal. */
static char *cell_text(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	char *out;

	if (!t)
		return NULL;
	out = strdup((const char *)t);
	for (char *p = out; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

static int table_add(struct table *t, sqlite3_stmt *q)
{
	if (t->nrows == TABLE_MAX_ROWS) {
		t->cut = true;
		return 0;
	}
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **cells = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		int type = sqlite3_column_type(q, i);

		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = cell_text(q, i);
		if (type != SQLITE_NULL && type != SQLITE_INTEGER && type != SQLITE_FLOAT)
			t->numeric[i] = false;
		t->seen[i] |= type != SQLITE_NULL;
	}
	t->nrows++;
	return 0;
}

/* Display width of UTF-8 text: code points, not bytes. */
static int text_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void table_print_row(const struct table *t, char *const *row, const int *width)
{
	for (int i = 0; i < t->ncols; i++) {
		const char *v = row[i] ? row[i] : "-";
		int pad = width[i] - text_width(v);
		bool last = i == t->ncols - 1;

		if (t->numeric[i] && t->seen[i])
			printf("%*s%s", pad, "", v);
		else
			printf("%s%*s", v, last ? 0 : pad, "");
		fputs(last ? "\n" : "  ", stdout);
	}
}

static void table_print(const struct table *t)
{
	int *width = calloc((size_t)t->ncols, sizeof(*width));

	if (!width)
		return;
	for (int i = 0; i < t->ncols; i++)
		width[i] = text_width(t->names[i]);
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			const char *v = t->cells[r * (size_t)t->ncols + (size_t)i];
			int w = text_width(v ? v : "-");

			if (w > width[i])
				width[i] = w;
		}
	table_print_row(t, t->names, width);
	for (size_t r = 0; r < t->nrows; r++)
		table_print_row(t, t->cells + r * (size_t)t->ncols, width);
	if (t->cut)
		fprintf(stderr, "sluicectl: only the first %d rows are shown: add a LIMIT, or "
				"use --json\n", TABLE_MAX_ROWS);
	free(width);
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	for (int i = 0; i < t->ncols; i++)
		free(t->names[i]);
	free(t->cells);
	free(t->names);
	free(t->numeric);
	free(t->seen);
}

static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void json_row(sqlite3_stmt *q, bool first)
{
	int n = sqlite3_column_count(q);

	fputs(first ? "\n {" : ",\n {", stdout);
	for (int i = 0; i < n; i++) {
		int type = sqlite3_column_type(q, i);

		if (i)
			putchar(',');
		json_str(sqlite3_column_name(q, i));
		putchar(':');
		if (type == SQLITE_NULL)
			fputs("null", stdout);
		else if (type == SQLITE_INTEGER ||
			 (type == SQLITE_FLOAT && !strpbrk((const char *)sqlite3_column_text(q, i),
							   "IN")))
			fputs((const char *)sqlite3_column_text(q, i), stdout);
		else
			json_str((const char *)sqlite3_column_text(q, i));
	}
	putchar('}');
}

static int table_init(struct table *t, sqlite3_stmt *q)
{
	memset(t, 0, sizeof(*t));
	t->ncols = sqlite3_column_count(q);
	t->names = calloc((size_t)t->ncols + 1, sizeof(*t->names));
	t->numeric = calloc((size_t)t->ncols + 1, sizeof(*t->numeric));
	t->seen = calloc((size_t)t->ncols + 1, sizeof(*t->seen));
	if (!t->names || !t->numeric || !t->seen)
		return -ENOMEM;
	for (int i = 0; i < t->ncols; i++) {
		t->names[i] = strdup(sqlite3_column_name(q, i));
		t->numeric[i] = true;
	}
	return 0;
}

/* Steps q to the end, printing its rows. 0, or -1 after saying why. */
static int print_stmt(sqlite3 *db, sqlite3_stmt *q, bool json)
{
	struct table t;
	int rc, n = 0;

	if (!json && table_init(&t, q) < 0)
		return -1;
	if (json)
		putchar('[');
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (json)
			json_row(q, n++ == 0);
		else if (table_add(&t, q) < 0)
			break;
	}
	if (json)
		fputs(n ? "\n]\n" : "]\n", stdout);
	else {
		table_print(&t);
		table_free(&t);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "sluicectl: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Calls fn for each statement in sql, in order, stopping at an error. */
static int each_stmt(sqlite3 *db, const char *sql, int (*fn)(sqlite3 *, sqlite3_stmt *, void *),
		     void *ctx)
{
	const char *tail = sql;
	sqlite3_stmt *q;
	int rc = 0;

	while (rc == 0 && *tail) {
		if (sqlite3_prepare_v2(db, tail, -1, &q, &tail) != SQLITE_OK) {
			fprintf(stderr, "sluicectl: %s%s\n", sqlite3_errmsg(db),
				sqlite3_errcode(db) == SQLITE_AUTH ? " (ATTACH and DETACH are refused)"
								   : "");
			return -1;
		}
		if (q) /* NULL: only whitespace or a comment was left */
			rc = fn(db, q, ctx);
		sqlite3_finalize(q);
	}
	return rc;
}

static int check_readonly(sqlite3 *db, sqlite3_stmt *q, void *ctx)
{
	(void)db, (void)ctx;
	if (sqlite3_stmt_readonly(q))
		return 0;
	fprintf(stderr, "sluicectl: only read-only statements are allowed (SELECT, WITH, "
			"EXPLAIN, read-only PRAGMA); nothing was run: \"%s\"\n", sqlite3_sql(q));
	return -1;
}

struct run_ctx {
	const long *bind; /* to ?1 of statements that have a parameter */
	bool json;
	int done;         /* statements printed so far */
};

static int run_one(sqlite3 *db, sqlite3_stmt *q, void *ctx)
{
	struct run_ctx *r = ctx;

	if (r->bind && sqlite3_bind_parameter_count(q) >= 1)
		sqlite3_bind_int64(q, 1, *r->bind);
	if (r->done++ && !r->json)
		putchar('\n');
	return print_stmt(db, q, r->json);
}

/* Runs every statement in sql, after checking that none could write. */
static int run_sql(sqlite3 *db, const char *sql, const long *bind, bool json)
{
	struct run_ctx r = { .bind = bind, .json = json };

	if (each_stmt(db, sql, check_readonly, NULL) < 0 || each_stmt(db, sql, run_one, &r) < 0)
		return 1;
	return 0;
}

/* ---- commands ---- */

/* "ns/name" when the pod is named, else its uid; the container's short id. */
#define POD_COL "coalesce(pod_namespace || '/' || pod_name, pod_uid) AS pod"
#define CTR_COL "substr(container_id, 1, 12) AS container"
#define ENDPOINT(a, p) \
	"CASE WHEN instr(" a ", ':') THEN '[' || " a " || ']' ELSE " a " END || ':' || " p

static const char SQL_PS[] =
	"SELECT pid, ppid, uid, comm, exe, " CTR_COL ", " POD_COL ", qos,"
	" CASE WHEN container_id IS NULL THEN unit END AS unit, started"
	" FROM v_processes WHERE alive OR ?1 ORDER BY pid";
static const char SQL_PS_ALL[] =
	"SELECT pid, ppid, uid, comm, exe, " CTR_COL ", " POD_COL ", started, exited,"
	" exit_code, exit_signal FROM v_processes WHERE alive OR ?1 ORDER BY id";
static const char SQL_CONNS[] =
	"SELECT opened, pid, comm, role, " ENDPOINT("laddr", "lport") " AS local, "
	ENDPOINT("raddr", "rport") " AS remote, protocol AS proto, requests AS reqs,"
	" bytes_sent AS sent, bytes_recv AS recv, duration_ms,"
	" coalesce(pod_namespace || '/' || pod_name, substr(container_id, 1, 12)) AS workload"
	" FROM v_conns ORDER BY id DESC LIMIT ?1";
static const char SQL_PODS[] =
	"SELECT namespace, name, uid, qos, owner_kind || '/' || owner_name AS owner, node,"
	" containers, processes, source FROM v_pods ORDER BY namespace, name, uid";
static const char SQL_PORTS[] =
	"SELECT proto, addr, port, pid, comm, exe, " CTR_COL ", " POD_COL ", accepted, last_seen"
	" FROM v_listening WHERE alive OR ?1 ORDER BY port, addr, pid";
static const char SQL_CONTAINERS[] =
	"SELECT substr(id, 1, 12) AS id, runtime, coalesce(pod_namespace || '/' || pod_name,"
	" pod_uid) AS pod, processes, cgroup_path, last_seen FROM v_containers"
	" ORDER BY last_seen DESC";

static int cmd_query(const struct ctl *c, const char *cmd, const char *arg)
{
	long all = c->all;
	sqlite3 *db;
	int rc;

	if (!(db = db_open(c->db_path)))
		return 1;
	if (strcmp(cmd, "ps") == 0)
		rc = run_sql(db, c->all ? SQL_PS_ALL : SQL_PS, &all, c->json);
	else if (strcmp(cmd, "conns") == 0)
		rc = run_sql(db, SQL_CONNS, &c->limit, c->json);
	else if (strcmp(cmd, "pods") == 0)
		rc = run_sql(db, SQL_PODS, NULL, c->json);
	else if (strcmp(cmd, "ports") == 0)
		rc = run_sql(db, SQL_PORTS, &all, c->json);
	else if (strcmp(cmd, "containers") == 0)
		rc = run_sql(db, SQL_CONTAINERS, NULL, c->json);
	else
		rc = run_sql(db, arg, NULL, c->json);
	sqlite3_close(db);
	return rc;
}

static const char *const commands[] = { "ps", "conns", "pods", "ports", "containers", "sql",
					"status" };

static bool known_command(const char *s)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(s, commands[i]) == 0)
			return true;
	return false;
}

/* Options may come before or after the command. Returns the command, or
 * NULL after printing why; *arg is the command's one argument (sql). */
static const char *parse_args(int argc, char **argv, struct ctl *c, const char **arg)
{
	const char *cmd = NULL;

	*c = (struct ctl){ .db_path = DEFAULT_DB, .status_path = DEFAULT_STATUS, .limit = 50 };
	*arg = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (strcmp(a, "--all") == 0) {
			c->all = true;
		} else if ((strcmp(a, "--db") == 0 || strcmp(a, "--status") == 0) && v) {
			*(a[2] == 'd' ? &c->db_path : &c->status_path) = v;
			i++;
		} else if (strcmp(a, "--limit") == 0 && v) {
			c->limit = strtol(v, &end, 10);
			if (*end || end == v || c->limit < 1) {
				fprintf(stderr, "sluicectl: --limit: '%s' is not a positive number\n", v);
				return NULL;
			}
			i++;
		} else if (!cmd && known_command(a)) {
			cmd = a;
		} else if (cmd && strcmp(cmd, "sql") == 0 && !*arg) {
			*arg = a;
		} else {
			fprintf(stderr, "sluicectl: unexpected '%s' (see --help)\n", a);
			return NULL;
		}
	}
	if (cmd && strcmp(cmd, "sql") == 0 && !*arg) {
		fprintf(stderr, "sluicectl: sql needs a query: sluicectl sql \"SELECT ...\"\n");
		return NULL;
	}
	if (!cmd)
		usage(stderr);
	return cmd;
}

int main(int argc, char **argv)
{
	struct ctl c;
	const char *cmd, *arg;

	log_init("sluicectl");
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		puts("sluicectl " SLUICE_VERSION);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (!(cmd = parse_args(argc, argv, &c, &arg)))
		return 2;
	if (strcmp(cmd, "status") == 0)
		return cmd_status(c.status_path);
	return cmd_query(&c, cmd, arg);
}

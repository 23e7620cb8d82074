/* Reading a test's sqlite file the way a user does beside the processor:
 * a separate read-only connection per query. The test sets `db` (its path)
 * before the first query. Shared by the store, flows and names tests. */
#ifndef SLUICE_TEST_DB_QUERY_H
#define SLUICE_TEST_DB_QUERY_H

#include <stdio.h>

#include <sqlite3.h>

static char db[300];

/* The first column of the first row: -1 on NULL or no row, -2 without a db. */
static inline long long q_int(const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *q;
	long long v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	} else {
		fprintf(stderr, "  %s: %s\n", sql, sqlite3_errmsg(h));
	}
	sqlite3_close(h);
	return v;
}

/* The same as text, "(null)" for NULL or no row (a static buffer). */
static inline const char *q_text(const char *sql)
{
	static char out[512];
	sqlite3 *h;
	sqlite3_stmt *q;

	snprintf(out, sizeof(out), "(null)");
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return "(no db)";
	if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
			snprintf(out, sizeof(out), "%s", sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
	} else {
		snprintf(out, sizeof(out), "(error: %s)", sqlite3_errmsg(h));
	}
	sqlite3_close(h);
	return out;
}

#endif

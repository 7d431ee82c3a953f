/* inflight.c -- table calls_in_flight: the LLM calls the tracer is following right now, rewritten every second, for `llmtap top`. */
#include "db/inflight.h"

#include <sqlite3.h>

#include "base/util.h"
#include "db/query_int.h"
#include "db/stats.h"
#include "db/store_int.h"

/* Created here rather than by a numbered migration: it is the tracer's
 * scratch state, not history (not pushed, not retained). */
static const char inflight_schema[] =
	"CREATE TABLE IF NOT EXISTS calls_in_flight (pid INTEGER, tid INTEGER, comm TEXT, method TEXT,"
	" host TEXT, path TEXT, start_ns INTEGER, phase TEXT, response_bytes INTEGER, updated_ns INTEGER)";

int inflight_write(struct store *s, const struct inflight_row *rows, size_t n, int64_t now_ns)
{
	sqlite3 *db = store_sqlite(s);
	sqlite3_stmt *st = NULL;
	size_t i;

	if (sqlite3_exec(db, inflight_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN; DELETE FROM calls_in_flight", NULL, NULL, NULL) != SQLITE_OK)
		goto out_err;
	if (sqlite3_prepare_v2(db, "INSERT INTO calls_in_flight VALUES (?,?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK)
		goto out_rollback;
	for (i = 0; i < n; i++) {
		const struct inflight_row *r = &rows[i];

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, r->pid);
		sqlite3_bind_int64(st, 2, r->tid);
		sqlite3_bind_text(st, 3, r->comm, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r->method, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, r->host, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, r->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, r->start_ns);
		sqlite3_bind_text(st, 8, r->phase, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, r->response_bytes);
		sqlite3_bind_int64(st, 10, now_ns);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out_rollback;
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
out_rollback:
	sqlite3_finalize(st);
	log_warn("database: calls_in_flight: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
out_err:
	log_warn("database: calls_in_flight: %s", sqlite3_errmsg(db));
	return -1;
}

int query_inflight(struct query **out, struct store *s, int64_t fresh_ns)
{
	*out = NULL;
	if (!query_has_table(s, "calls_in_flight"))
		return 1;
	if (query_prepare(out, s, "SELECT * FROM calls_in_flight WHERE updated_ns >= ?1 ORDER BY start_ns"))
		return -1;
	sqlite3_bind_int64((*out)->st, 1, fresh_ns);
	return 0;
}

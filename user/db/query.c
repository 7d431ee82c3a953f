/* query.c -- the read-side queries (calls, show, stats, dns, push status): the SQL lives here, rows come out through a cursor. */
#include "db/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/query_int.h"
#include "db/store_int.h"

/* Prepare sql on s's connection into a new query. Returns 0 and *out, -1. */
int query_prepare(struct query **out, struct store *s, const char *sql)
{
	struct query *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q)
		return -1;
	q->db = store_sqlite(s);
	if (sqlite3_prepare_v2(q->db, sql, -1, &q->st, NULL) != SQLITE_OK) {
		free(q);
		return -1;
	}
	*out = q;
	return 0;
}

int query_calls(struct query **out, struct store *s, const struct query_calls_filter *f)
{
	struct query *q;

	if (query_prepare(&q, s, "SELECT * FROM (SELECT * FROM llm_calls WHERE (?1 = 0 OR start_ns >= ?1)"
				 " AND (?2 = 0 OR pid = ?2) AND (?3 IS NULL OR model = ?3)"
				 " ORDER BY start_ns DESC LIMIT ?4) ORDER BY start_ns ASC"))
		return -1;
	sqlite3_bind_int64(q->st, 1, f->since_ns);
	sqlite3_bind_int64(q->st, 2, f->pid);
	if (f->model)
		sqlite3_bind_text(q->st, 3, f->model, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q->st, 4, f->limit);
	*out = q;
	return 0;
}

int query_calls_by_prefix(struct query **out, struct store *s, const char *prefix)
{
	struct query *q;
	char like[128];

	snprintf(like, sizeof(like), "%s%%", prefix);
	if (query_prepare(&q, s, "SELECT * FROM llm_calls WHERE id LIKE ?1 LIMIT 2"))
		return -1;
	sqlite3_bind_text(q->st, 1, like, -1, SQLITE_TRANSIENT);
	*out = q;
	return 0;
}

int query_connection(struct query **out, struct store *s, const char *id)
{
	struct query *q;

	if (query_prepare(&q, s, "SELECT * FROM connections WHERE id = ?1"))
		return -1;
	sqlite3_bind_text(q->st, 1, id, -1, SQLITE_TRANSIENT);
	*out = q;
	return 0;
}

int query_call_process(struct query **out, struct store *s, int64_t pid, int has_start,
		       int64_t start_ns)
{
	struct query *q;

	if (query_prepare(&q, s, "SELECT id, ppid, exe, argv, start_ns, cpu_ms, runq_ms, exit_ns,"
				 " exit_code, exit_signal, oom_killed FROM processes WHERE pid = ?1"
				 " AND (?2 IS NULL OR start_ns IS NULL OR start_ns <= ?2 + 100000000)"
				 " ORDER BY start_ns DESC LIMIT 1"))
		return -1;
	sqlite3_bind_int64(q->st, 1, pid);
	if (has_start)
		sqlite3_bind_int64(q->st, 2, start_ns);
	*out = q;
	return 0;
}

int query_dns(struct query **out, struct store *s, long pid, long limit)
{
	struct query *q;
	int rc;

	*out = NULL;
	if (query_prepare(&q, s, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
				 " AND name = 'dns_lookups'"))
		return -1;
	rc = sqlite3_step(q->st);
	query_close(q);
	if (rc != SQLITE_ROW)
		return 1;
	if (query_prepare(&q, s, "SELECT id, pid, tid, comm, name, qtype, addrs, rcode, result, source,"
				 " start_ns, latency_ms, server FROM (SELECT * FROM dns_lookups"
				 " WHERE (?1 = 0 OR pid = ?1) ORDER BY start_ns DESC LIMIT ?2)"
				 " ORDER BY start_ns ASC"))
		return -1;
	sqlite3_bind_int64(q->st, 1, pid);
	sqlite3_bind_int64(q->st, 2, limit);
	*out = q;
	return 0;
}

/* ---- agent_runs, agent_steps ---- */

/* 1 when the database has table name. */
static int query_has_table(struct store *s, const char *name)
{
	struct query *q;
	int rc;

	if (query_prepare(&q, s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"))
		return 0;
	sqlite3_bind_text(q->st, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q->st);
	query_close(q);
	return rc == SQLITE_ROW;
}

/* Prepare sql with one text parameter ?1 (1 when there is no agent_runs table). */
static int query_runs_text(struct query **out, struct store *s, const char *sql, const char *text)
{
	*out = NULL;
	if (!query_has_table(s, "agent_runs"))
		return 1;
	if (query_prepare(out, s, sql))
		return -1;
	sqlite3_bind_text((*out)->st, 1, text, -1, SQLITE_TRANSIENT);
	return 0;
}

int query_runs(struct query **out, struct store *s, const struct query_runs_filter *f)
{
	struct query *q;

	*out = NULL;
	if (!query_has_table(s, "agent_runs"))
		return 1;
	if (query_prepare(&q, s, "SELECT * FROM (SELECT * FROM agent_runs WHERE (?1 = 0 OR start_ns >= ?1)"
				 " AND (?2 = 0 OR pid = ?2) AND (?3 IS NULL OR agent = ?3)"
				 " ORDER BY start_ns DESC LIMIT ?4) ORDER BY start_ns ASC"))
		return -1;
	sqlite3_bind_int64(q->st, 1, f->since_ns);
	sqlite3_bind_int64(q->st, 2, f->pid);
	if (f->agent)
		sqlite3_bind_text(q->st, 3, f->agent, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q->st, 4, f->limit > 0 ? f->limit : -1);
	*out = q;
	return 0;
}

int query_runs_by_prefix(struct query **out, struct store *s, const char *prefix)
{
	char like[128];

	snprintf(like, sizeof(like), "%s%%", prefix);
	return query_runs_text(out, s, "SELECT * FROM agent_runs WHERE id LIKE ?1 LIMIT 2", like);
}

int query_run_children(struct query **out, struct store *s, const char *id)
{
	return query_runs_text(out, s, "SELECT * FROM agent_runs WHERE parent_run_id = ?1"
				       " ORDER BY start_ns, id", id);
}

int query_run_steps(struct query **out, struct store *s, const char *id)
{
	return query_runs_text(out, s, "SELECT * FROM agent_steps WHERE run_id = ?1 ORDER BY seq", id);
}

int query_run_costs(struct query **out, struct store *s, long limit)
{
	struct query *q;

	*out = NULL;
	if (!query_has_table(s, "agent_runs"))
		return 1;
	if (query_prepare(&q, s, "SELECT agent, cost_usd FROM agent_runs WHERE state IN ('ended', 'idle')"
				 " AND cost_usd IS NOT NULL AND agent IS NOT NULL"
				 " ORDER BY start_ns DESC LIMIT ?1"))
		return -1;
	sqlite3_bind_int64(q->st, 1, limit);
	*out = q;
	return 0;
}

/* ---- rows ---- */

int query_step(struct query *q)
{
	switch (sqlite3_step(q->st)) {
	case SQLITE_ROW: return 1;
	case SQLITE_DONE: return 0;
	default: return -1;
	}
}

int query_ncols(const struct query *q)
{
	return sqlite3_column_count(q->st);
}

const char *query_name(const struct query *q, int col)
{
	return sqlite3_column_name(q->st, col);
}

int query_index(const struct query *q, const char *name)
{
	int i, n = sqlite3_column_count(q->st);

	for (i = 0; i < n; i++)
		if (!strcmp(sqlite3_column_name(q->st, i), name))
			return i;
	return -1;
}

enum query_type query_type(const struct query *q, int col)
{
	switch (sqlite3_column_type(q->st, col)) {
	case SQLITE_INTEGER: return QUERY_INT;
	case SQLITE_FLOAT: return QUERY_REAL;
	case SQLITE_TEXT: return QUERY_TEXT;
	case SQLITE_BLOB: return QUERY_BLOB;
	default: return QUERY_NULL;
	}
}

int64_t query_int(const struct query *q, int col)
{
	return sqlite3_column_int64(q->st, col);
}

double query_real(const struct query *q, int col)
{
	return sqlite3_column_double(q->st, col);
}

const char *query_text(const struct query *q, int col)
{
	return (const char *)sqlite3_column_text(q->st, col);
}

size_t query_bytes(const struct query *q, int col)
{
	return (size_t)sqlite3_column_bytes(q->st, col);
}

void query_close(struct query *q)
{
	if (!q)
		return;
	sqlite3_finalize(q->st);
	free(q);
}

/* ---- push status ---- */

int query_push_status(struct query **out, struct store *s)
{
	if (query_prepare(out, s, "SELECT target, tbl, last_rowid, pushed_rows, dropped_rows,"
				  " last_success_ns, last_error, last_error_ns FROM push_state"
				  " ORDER BY target, tbl"))
		return 1;	/* a database from before push */
	return 0;
}

/* Column col of the current row as a time: QUERY_NULL_NS when NULL. */
static int64_t query_ns(const struct query *q, int col)
{
	if (sqlite3_column_type(q->st, col) == SQLITE_NULL)
		return QUERY_NULL_NS;
	return sqlite3_column_int64(q->st, col);
}

int query_push_next(struct query *q, struct query_push_row *row)
{
	int rc;

	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW) {
		row->target = (const char *)sqlite3_column_text(q->st, 0);
		row->table = (const char *)sqlite3_column_text(q->st, 1);
		row->last_error = (const char *)sqlite3_column_text(q->st, 6);
		/* rows of tables push no longer knows stay out */
		if (!row->target || !row->table || !db_table_find(row->table))
			continue;
		row->backlog = db_count_after(q->db, row->table, sqlite3_column_int64(q->st, 2));
		row->pushed_rows = sqlite3_column_int64(q->st, 3);
		row->dropped_rows = sqlite3_column_int64(q->st, 4);
		row->last_success_ns = query_ns(q, 5);
		row->last_error_ns = query_ns(q, 7);
		return 1;
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

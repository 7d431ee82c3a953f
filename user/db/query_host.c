/* query_host.c -- the read-side queries of the host view: events, host samples, and what the host, the process and the agent said around one call. */
#include "db/query.h"

#include <sqlite3.h>

#include "db/query_int.h"
#include "db/store_int.h"

/* 1 when the database has table (one written before it existed has not). */
static int has_table(struct store *s, const char *table)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(store_sqlite(s), "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc;
}

int query_events(struct query **out, struct store *s, int64_t since_ns, long pid, const char *source,
		 long limit)
{
	struct query *q;

	if (!has_table(s, "events"))
		return 1;
	if (query_prepare(&q, s, "SELECT * FROM (SELECT * FROM events WHERE (?1 = 0 OR ts_ns >= ?1)"
				 " AND (?2 = 0 OR pid = ?2) AND (?3 IS NULL OR source = ?3)"
				 " ORDER BY ts_ns DESC LIMIT ?4) ORDER BY ts_ns ASC"))
		return -1;
	sqlite3_bind_int64(q->st, 1, since_ns);
	sqlite3_bind_int64(q->st, 2, pid);
	if (source)
		sqlite3_bind_text(q->st, 3, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q->st, 4, limit);
	*out = q;
	return 0;
}

int query_host(struct query **out, struct store *s, int64_t since_ns, long limit)
{
	struct query *q;

	if (!has_table(s, "host_samples"))
		return 1;
	if (query_prepare(&q, s, "SELECT * FROM (SELECT * FROM host_samples WHERE (?1 = 0 OR ts_ns >= ?1)"
				 " ORDER BY ts_ns DESC LIMIT ?2) ORDER BY ts_ns ASC"))
		return -1;
	sqlite3_bind_int64(q->st, 1, since_ns);
	sqlite3_bind_int64(q->st, 2, limit);
	*out = q;
	return 0;
}

/* Prepare sql with ?1 start and ?2 end (and ?3 when pid >= 0). */
static int query_window(struct query **out, struct store *s, const char *sql, int64_t pid,
			int64_t start_ns, int64_t end_ns)
{
	struct query *q;

	if (query_prepare(&q, s, sql))
		return -1;
	sqlite3_bind_int64(q->st, 1, start_ns);
	sqlite3_bind_int64(q->st, 2, end_ns);
	if (pid >= 0)
		sqlite3_bind_int64(q->st, 3, pid);
	*out = q;
	return 0;
}

int query_call_host(struct query **out, struct store *s, int64_t start_ns, int64_t end_ns)
{
	return query_window(out, s, "SELECT * FROM host_samples WHERE ts_ns >= ?1"
			    " AND ts_ns - interval_ms * 1000000 <= ?2 ORDER BY ts_ns LIMIT 50", -1,
			    start_ns, end_ns);
}

int query_call_samples(struct query **out, struct store *s, int64_t pid, int64_t start_ns,
		       int64_t end_ns)
{
	return query_window(out, s, "SELECT * FROM cpu_samples WHERE pid = ?3 AND ts_ns >= ?1"
			    " AND ts_ns - interval_ms * 1000000 <= ?2 ORDER BY ts_ns LIMIT 50", pid,
			    start_ns, end_ns);
}

int query_call_spans(struct query **out, struct store *s, const char *id)
{
	struct query *q;

	if (query_prepare(&q, s, "SELECT * FROM agent_spans WHERE call_id = ?1 ORDER BY start_ns"))
		return -1;
	sqlite3_bind_text(q->st, 1, id, -1, SQLITE_TRANSIENT);
	*out = q;
	return 0;
}

int query_call_events(struct query **out, struct store *s, int64_t pid, int64_t start_ns,
		      int64_t end_ns)
{
	return query_window(out, s, "SELECT * FROM events WHERE (pid = ?3 OR pid IS NULL)"
			    " AND ts_ns >= ?1 - 60000000000 AND ts_ns <= ?2 + 60000000000"
			    " ORDER BY ts_ns LIMIT 50", pid, start_ns, end_ns);
}

/* query.h -- the read-side queries (calls, show, stats, dns, push status): the SQL lives here, rows come out through a cursor. */
#ifndef LLMTAP_QUERY_H
#define LLMTAP_QUERY_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* An open query and its current row. Every query below returns 0 and *out
 * (step it with query_step(), free it with query_close()), or -1 with
 * nothing printed: store_errmsg() says why. */
struct query;

/* ---- llm_calls ---- */

/* What `llmtap calls` lists: the newest limit calls (0: no filter) since
 * since_ns, of pid, with model, oldest first; every column. */
struct query_calls_filter {
	int64_t since_ns;		/* 0: any time */
	long pid;			/* 0: any process */
	const char *model;		/* NULL: any model */
	long limit;
};
int query_calls(struct query **out, struct store *s, const struct query_calls_filter *f);

/* The calls whose id starts with prefix (at most 2: more than one means
 * the prefix is ambiguous); every column. prefix holds no LIKE wildcard. */
int query_calls_by_prefix(struct query **out, struct store *s, const char *prefix);

/* The connections row of id (every column): none or one. */
int query_connection(struct query **out, struct store *s, const char *id);

/* The process of a call: the newest processes row of pid started before
 * the call (start_ns, when has_start; 100 ms of slack), with id, ppid,
 * exe, argv, start_ns, cpu_ms, runq_ms, exit_ns, exit_code, exit_signal,
 * oom_killed: none or one. */
int query_call_process(struct query **out, struct store *s, int64_t pid, int has_start,
		       int64_t start_ns);

/* The stats, report and top queries are in db/stats.h. */

/* ---- dns_lookups ---- */

/* The newest limit DNS lookups (of pid; 0: any), oldest first: id, pid,
 * tid, comm, name, qtype, addrs, rcode, result, source, start_ns,
 * latency_ms, server. Returns 1 (no query) when the database has no
 * dns_lookups table (written before DNS tracing existed). */
int query_dns(struct query **out, struct store *s, long pid, long limit);

/* ---- the host view (db/query_host.c) ---- */

/* The newest limit events since since_ns (0: any), of pid (0: any), of
 * source (NULL: any), oldest first: every column. Returns 1 (no query)
 * when the database has no events table. */
int query_events(struct query **out, struct store *s, int64_t since_ns, long pid, const char *source,
		 long limit);

/* The newest limit host_samples since since_ns, oldest first: every column.
 * Returns 1 when the database has no host_samples table. */
int query_host(struct query **out, struct store *s, int64_t since_ns, long limit);

/* The host_samples whose interval overlaps [start_ns, end_ns], oldest first. */
int query_call_host(struct query **out, struct store *s, int64_t start_ns, int64_t end_ns);

/* The cpu_samples of pid whose interval overlaps [start_ns, end_ns]. */
int query_call_samples(struct query **out, struct store *s, int64_t pid, int64_t start_ns,
		       int64_t end_ns);

/* The agent_spans joined to call id, by start. */
int query_call_spans(struct query **out, struct store *s, const char *id);

/* The events of pid, or of no process, within a minute of [start_ns, end_ns]. */
int query_call_events(struct query **out, struct store *s, int64_t pid, int64_t start_ns,
		      int64_t end_ns);
/* ---- agent_runs, agent_steps ---- */

/* Each of these returns 1 (no query) when the database has no agent_runs
 * table (written before runs existed). */

/* What `llmtap runs` lists: the newest limit runs (0: no limit) started
 * since since_ns, of pid, of agent; oldest first; every column. */
struct query_runs_filter {
	int64_t since_ns;		/* 0: any time */
	long pid;			/* 0: any process */
	const char *agent;		/* NULL: any agent */
	long limit;
};
int query_runs(struct query **out, struct store *s, const struct query_runs_filter *f);

/* The runs whose id starts with prefix (at most 2); every column. */
int query_runs_by_prefix(struct query **out, struct store *s, const char *prefix);

/* The child runs of run id, by start; every column. */
int query_run_children(struct query **out, struct store *s, const char *id);

/* The steps of run id, by seq; every column. */
int query_run_steps(struct query **out, struct store *s, const char *id);

/* agent, cost_usd of the newest limit runs that ended or went idle with a
 * known cost (the history cost_outlier compares with). */
int query_run_costs(struct query **out, struct store *s, long limit);

/* ---- rows ---- */

enum query_type { QUERY_INT, QUERY_REAL, QUERY_TEXT, QUERY_BLOB, QUERY_NULL };

/* Move to the next row. Returns 1 on a row, 0 when done, -1 on error. */
int query_step(struct query *q);

/* The number of columns, a column's name, the index of the column named
 * name (-1 when none). */
int query_ncols(const struct query *q);
const char *query_name(const struct query *q, int col);
int query_index(const struct query *q, const char *name);

/* The current row's value of col, as SQLite converts it: its type
 * (QUERY_NULL for a column out of range), as an integer, a real, text
 * (NULL when NULL or out of range; valid until the next step) and the
 * text's length. */
enum query_type query_type(const struct query *q, int col);
int64_t query_int(const struct query *q, int col);
double query_real(const struct query *q, int col);
const char *query_text(const struct query *q, int col);
size_t query_bytes(const struct query *q, int col);

/* Free q. NULL-safe. */
void query_close(struct query *q);

/* ---- push status ---- */

#define QUERY_NULL_NS INT64_MIN		/* a time that is NULL */

/* A push target's delivery of one table, from push_state. Strings are
 * valid until the next query_push_next(). */
struct query_push_row {
	const char *target;		/* the target's URL without password and query */
	const char *table;
	int64_t pushed_rows, backlog, dropped_rows;
	int64_t last_success_ns;	/* QUERY_NULL_NS when never */
	const char *last_error;		/* NULL when none */
	int64_t last_error_ns;		/* QUERY_NULL_NS when none */
};

/* Every push target's state per table, by target then table. Returns 1
 * (no query) when the database has no push_state (written before push). */
int query_push_status(struct query **out, struct store *s);

/* The next row of a query_push_status() query, its backlog counted now
 * (rows after its cursor). Returns 1 and *row, 0 when done, -1 on error. */
int query_push_next(struct query *q, struct query_push_row *row);

#endif

/* stats.c -- the read-side aggregates of `stats`, `top` and the report: totals and percentiles per group, errors by kind, unpriced models, the slowest calls. */
#include "db/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/pctl.h"
#include "db/query_int.h"
#include "db/store_int.h"

/* What stats groups by: the name of the grouping and its expression
 * ("$ET" stands for the error kind column, NULL in databases older than it). */
static const struct {
	const char *name, *expr;
} groups[] = {
	{ "model", "coalesce(model, '-')" },
	{ "provider", "coalesce(provider, '-')" },
	{ "process", "coalesce(comm, '-')" },
	{ "host", "coalesce(host, '-')" },
	{ "day", "coalesce(date(start_ns / 1000000000, 'unixepoch', 'localtime'), '-')" },
	{ "error", "coalesce($ET, CASE WHEN error IS NULL THEN 'none' ELSE 'other' END)" },
	{ "all", "'all'" },
};
#define NGROUPS ((int)(sizeof(groups) / sizeof(groups[0])))

int query_stats_group(const char *name)
{
	int i;

	for (i = 0; i < NGROUPS; i++)
		if (!strcmp(name, groups[i].name))
			return i;
	return -1;
}

const char *query_stats_groups(void)
{
	return "model, provider, process, host, day or error";
}

int query_has_table(struct store *s, const char *table)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(store_sqlite(s), "SELECT 1 FROM sqlite_master WHERE type = 'table'"
			       " AND name = ?1", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc;
}

int query_has_column(struct store *s, const char *table, const char *column)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(store_sqlite(s), "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc;
}

/* ---- llmtap_pctl(x, p): the p-th percentile of x over a group ---- */

/* The aggregate's state: the values, and the percentile asked for. */
struct pctl_ctx {
	struct pctl p;
	double pct;
};

static void pctl_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct pctl_ctx *c = sqlite3_aggregate_context(ctx, sizeof(*c));

	(void)argc;
	if (!c)
		return;
	c->pct = sqlite3_value_double(argv[1]);
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	if (pctl_add(&c->p, sqlite3_value_double(argv[0])))
		sqlite3_result_error_nomem(ctx);
}

static void pctl_final(sqlite3_context *ctx)
{
	struct pctl_ctx *c = sqlite3_aggregate_context(ctx, 0);

	if (!c || !c->p.n) {
		sqlite3_result_null(ctx);
		if (c)
			pctl_free(&c->p);
		return;
	}
	sqlite3_result_double(ctx, pctl_get(&c->p, c->pct));
	pctl_free(&c->p);
}

/* Register llmtap_pctl() on s's connection (idempotent). Returns 0, -1. */
static int pctl_register(struct store *s)
{
	return sqlite3_create_function(store_sqlite(s), "llmtap_pctl", 2, SQLITE_UTF8 |
				       SQLITE_DETERMINISTIC, NULL, NULL, pctl_step, pctl_final) ==
	       SQLITE_OK ? 0 : -1;
}

/* sql with every "$ET" replaced by the error kind column, or NULL when the
 * database predates it; malloc'd, NULL when out of memory. */
static char *with_error_type(struct store *s, const char *sql)
{
	const char *et = query_has_column(s, "llm_calls", "error_type") ? "error_type" : "NULL";
	struct buf b = { 0 };
	const char *p;
	int rc = 0;

	while ((p = strstr(sql, "$ET"))) {
		rc |= buf_append(&b, sql, p - sql);
		rc |= buf_puts(&b, et);
		sql = p + 3;
	}
	rc |= buf_puts(&b, sql);
	if (rc) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Prepare sql ($ET replaced) and bind since_ns to ?1. Returns 0, -1. */
static int prepare_since(struct query **out, struct store *s, const char *sql, int64_t since_ns)
{
	char *q = with_error_type(s, sql);
	int rc;

	*out = NULL;
	if (!q)
		return -1;
	rc = query_prepare(out, s, q);
	free(q);
	if (rc)
		return -1;
	sqlite3_bind_int64((*out)->st, 1, since_ns);
	return 0;
}

#define SINCE " (?1 = 0 OR start_ns >= ?1)"
#define PCTLS(col) \
	" llmtap_pctl(" col ", 50) AS p50_" col ", llmtap_pctl(" col ", 95) AS p95_" col "," \
	" llmtap_pctl(" col ", 99) AS p99_" col ","

int query_stats(struct query **out, struct store *s, int group, int64_t since_ns)
{
	char sql[2048];

	*out = NULL;
	if (group < 0 || group >= NGROUPS || pctl_register(s))
		return -1;
	snprintf(sql, sizeof(sql),
		 "SELECT %s AS \"%s\", count(*) AS calls, sum(error IS NOT NULL) AS errors,"
		 " coalesce(sum(input_tokens), 0) AS input_tokens,"
		 " coalesce(sum(output_tokens), 0) AS output_tokens,"
		 " coalesce(sum(cost_usd), 0) AS cost_usd,"
		 " sum(cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))"
		 " AS unpriced_calls,"
		 " avg(ttft_ms) AS avg_ttft_ms, avg(duration_ms) AS avg_duration_ms,"
		 PCTLS("duration_ms") PCTLS("ttfb_ms") PCTLS("ttft_ms")
		 " max(duration_ms) AS max_duration_ms"
		 " FROM llm_calls WHERE" SINCE " GROUP BY 1 ORDER BY %s",
		 groups[group].expr, groups[group].name,
		 strcmp(groups[group].name, "day") ? "cost_usd DESC, calls DESC, 1" : "1");
	return prepare_since(out, s, sql, since_ns);
}

int query_errors_by_kind(struct query **out, struct store *s, int64_t since_ns)
{
	return prepare_since(out, s, "SELECT coalesce($ET, 'other') AS error_type, count(*) AS calls"
			     " FROM llm_calls WHERE" SINCE " AND error IS NOT NULL GROUP BY 1"
			     " ORDER BY 2 DESC, 1", since_ns);
}

int query_unpriced(struct query **out, struct store *s, int64_t since_ns)
{
	return prepare_since(out, s, "SELECT coalesce(model, '-') AS model, coalesce(provider, '-')"
			     " AS provider, count(*) AS calls FROM llm_calls WHERE" SINCE
			     " AND cost_usd IS NULL AND (input_tokens IS NOT NULL OR"
			     " output_tokens IS NOT NULL) GROUP BY 1, 2 ORDER BY 3 DESC, 1", since_ns);
}

int query_slowest(struct query **out, struct store *s, int64_t since_ns, long limit)
{
	int rc = prepare_since(out, s, "SELECT id, start_ns, comm, pid, provider, model, status,"
			       " duration_ms, ttfb_ms, ttft_ms, dns_ms, connect_ms, tls_ms, client_ms,"
			       " upload_ms, wait_ms, stream, verdict, $ET AS error_type, error, cost_usd"
			       " FROM llm_calls WHERE" SINCE " AND duration_ms IS NOT NULL"
			       " ORDER BY duration_ms DESC LIMIT ?2", since_ns);

	if (!rc)
		sqlite3_bind_int64((*out)->st, 2, limit);
	return rc;
}

int query_window(struct query **out, struct store *s, int64_t since_ns)
{
	return prepare_since(out, s, "SELECT count(*) AS calls, sum(error IS NOT NULL) AS errors,"
			     " coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0)"
			     " AS output_tokens, coalesce(sum(cost_usd), 0) AS cost_usd FROM llm_calls"
			     " WHERE" SINCE, since_ns);
}

int query_busiest(struct query **out, struct store *s, int64_t since_ns, long limit)
{
	const char *cpu = query_has_table(s, "cpu_samples") ?
		"(SELECT sum(cpu_ms) FROM cpu_samples c WHERE c.pid = l.pid AND c.ts_ns >= ?1)" : "NULL";
	char sql[1024];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT pid, comm, count(*) AS calls, sum(error IS NOT NULL) AS errors,"
		 " coalesce(sum(input_tokens), 0) + coalesce(sum(output_tokens), 0) AS tokens,"
		 " coalesce(sum(cost_usd), 0) AS cost_usd, %s AS cpu_ms FROM llm_calls l WHERE"
		 " (?1 = 0 OR start_ns >= ?1) GROUP BY pid ORDER BY calls DESC, cost_usd DESC LIMIT ?2", cpu);
	rc = prepare_since(out, s, sql, since_ns);
	if (!rc)
		sqlite3_bind_int64((*out)->st, 2, limit);
	return rc;
}

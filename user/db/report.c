/* report.c -- the read-side queries of `llmtap report`: the calls of a period or a run, their processes, CPU samples, and agent runs and steps when the database has them. */
#include "db/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/query_int.h"
#include "db/stats.h"
#include "db/store_int.h"

#define CPU_LIMIT "50000"	/* samples drawn at most: the newest go */

/* The ids of the report's calls, as a subquery: ?1 since, ?2 run, ?3 limit.
 * $RUN is the run filter ("1" when the database has no runs). */
static const char calls_sel[] =
	"SELECT rowid FROM llm_calls WHERE start_ns IS NOT NULL AND (?1 = 0 OR start_ns >= ?1)"
	" AND ($RUN) ORDER BY start_ns DESC LIMIT ?3";
static const char run_cond[] =
	"?2 IS NULL OR run_id = ?2 OR run_id IN (SELECT id FROM agent_runs WHERE parent_run_id = ?2)";

/* sql with $CALLS, $RUN and $ET replaced; malloc'd, NULL when out of memory. */
static char *expand(struct store *s, const char *sql)
{
	int runs = query_has_column(s, "llm_calls", "run_id") && query_has_table(s, "agent_runs");
	const char *et = query_has_column(s, "llm_calls", "error_type") ? "error_type" : "NULL";
	const char *rid = query_has_column(s, "llm_calls", "run_id") ? "run_id" : "NULL";
	const struct {
		const char *key, *val;
	} subs[] = {
		{ "$CALLS", calls_sel }, { "$RUN", runs ? run_cond : "?2 IS NULL" }, { "$ET", et },
		{ "$RID", rid },
	};
	char *cur = strdup(sql);
	size_t i;

	for (i = 0; cur && i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *p;

		while (cur && (p = strstr(cur, subs[i].key))) {
			size_t pre = p - cur, kl = strlen(subs[i].key), vl = strlen(subs[i].val);
			char *n = malloc(strlen(cur) - kl + vl + 1);

			if (n) {
				memcpy(n, cur, pre);
				memcpy(n + pre, subs[i].val, vl);
				strcpy(n + pre + vl, p + kl);
			}
			free(cur);
			cur = n;
		}
	}
	return cur;
}

int query_report(struct query **out, struct store *s, enum report_part part, const struct report_filter *f)
{
	const char *sql = NULL;
	char *q;
	int rc;

	*out = NULL;
	switch (part) {
	case REPORT_CALLS:
		sql = "SELECT id, start_ns, pid, comm, provider, operation, model, host, status, stream,"
		      " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,"
		      " duration_ms, ttfb_ms, ttft_ms, dns_ms, connect_ms, tls_ms, client_ms, upload_ms,"
		      " wait_ms, conn_reused, tokens_per_s, verdict, $ET AS error_type, error, $RID AS run_id"
		      " FROM llm_calls WHERE rowid IN ($CALLS) ORDER BY start_ns";
		break;
	case REPORT_PROCESSES:
		if (!query_has_table(s, "processes"))
			return 1;
		sql = "SELECT pid, ppid, comm, exe, argv, start_ns, exit_ns, exit_code, exit_signal, oom_killed,"
		      " cpu_ms, runq_ms FROM processes WHERE pid IN (SELECT pid FROM llm_calls WHERE rowid IN"
		      " ($CALLS)) ORDER BY start_ns";
		break;
	case REPORT_CPU:
		if (!query_has_table(s, "cpu_samples"))
			return 1;
		sql = "SELECT * FROM (SELECT * FROM cpu_samples WHERE pid IN (SELECT pid FROM llm_calls"
		      " WHERE rowid IN ($CALLS)) AND ts_ns >= (SELECT min(start_ns) - 60000000000 FROM llm_calls"
		      " WHERE rowid IN ($CALLS)) AND ts_ns <= (SELECT max(start_ns) + 600000000000 FROM llm_calls"
		      " WHERE rowid IN ($CALLS)) ORDER BY ts_ns DESC LIMIT " CPU_LIMIT ") ORDER BY ts_ns";
		break;
	case REPORT_RUNS:
		if (!query_has_table(s, "agent_runs") || !query_has_column(s, "llm_calls", "run_id"))
			return 1;
		sql = "SELECT * FROM agent_runs WHERE id IN (SELECT run_id FROM llm_calls WHERE rowid IN"
		      " ($CALLS)) OR (?2 IS NOT NULL AND (id = ?2 OR parent_run_id = ?2)) ORDER BY start_ns";
		break;
	case REPORT_STEPS:
		if (!query_has_table(s, "agent_steps") || !query_has_table(s, "agent_runs") ||
		    !query_has_column(s, "llm_calls", "run_id"))
			return 1;
		sql = "SELECT * FROM agent_steps WHERE run_id IN (SELECT run_id FROM llm_calls WHERE rowid IN"
		      " ($CALLS)) OR (?2 IS NOT NULL AND run_id IN (SELECT id FROM agent_runs WHERE id = ?2 OR"
		      " parent_run_id = ?2)) ORDER BY run_id, seq";
		break;
	}
	q = sql ? expand(s, sql) : NULL;
	if (!q)
		return -1;
	rc = query_prepare(out, s, q);
	free(q);
	if (rc)
		return -1;
	sqlite3_bind_int64((*out)->st, 1, f->since_ns);
	if (f->run_id)
		sqlite3_bind_text((*out)->st, 2, f->run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64((*out)->st, 3, f->limit);
	return 0;
}

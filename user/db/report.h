/* report.h -- the read-side queries of `llmtap report`: the calls of a period or a run, their processes, CPU samples, and agent runs and steps when the database has them. */
#ifndef LLMTAP_DB_REPORT_H
#define LLMTAP_DB_REPORT_H

#include <stdint.h>

#include "db/query.h"

struct store;

/* Which calls a report covers: started at or after since_ns (0: any),
 * of run_id and its child runs (NULL: any), the newest limit of them. */
struct report_filter {
	int64_t since_ns;
	const char *run_id;
	long limit;
};

enum report_part {
	REPORT_CALLS,		/* the calls, oldest first: timing split, tokens, cost, verdict, error kind */
	REPORT_PROCESSES,	/* the processes rows of their pids */
	REPORT_CPU,		/* cpu_samples of those pids over the calls' period (every column) */
	REPORT_RUNS,		/* agent_runs of the calls (every column) */
	REPORT_STEPS,		/* agent_steps of those runs, by run and seq (every column) */
};

/* One part of the report. Returns 0 and *out, 1 (no query) when the
 * database lacks the part's table (runs before they existed), -1 on error. */
int query_report(struct query **out, struct store *s, enum report_part part, const struct report_filter *f);

#endif

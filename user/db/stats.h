/* stats.h -- the read-side aggregates of `stats`, `top` and the report: totals and percentiles per group, errors by kind, unpriced models, the slowest calls. */
#ifndef LLMTAP_DB_STATS_H
#define LLMTAP_DB_STATS_H

#include <stdint.h>

#include "db/query.h"

struct store;

/* The grouping of `llmtap stats --by name` (model, provider, process, host,
 * day, error; "all" is one group of every call); -1 when name is none. */
int query_stats_group(const char *name);

/* The names query_stats_group() knows, for messages: "model, provider, ...". */
const char *query_stats_groups(void);

/* Totals of the calls started at or after since_ns (0: all) per group, the
 * costliest first (by day: oldest first). Columns: the group (named as the
 * grouping, "-" when NULL), calls, errors, input_tokens, output_tokens,
 * cost_usd, unpriced_calls (tokens known, no price), avg_ttft_ms,
 * avg_duration_ms, p50_/p95_/p99_ of duration_ms, ttfb_ms and ttft_ms
 * (linear interpolation; NULL when no call had one), max_duration_ms. */
int query_stats(struct query **out, struct store *s, int group, int64_t since_ns);

/* Failed or incomplete calls by kind (error_type, calls), the most first. */
int query_errors_by_kind(struct query **out, struct store *s, int64_t since_ns);

/* Models with tokens and no price (model, provider, calls), the most first. */
int query_unpriced(struct query **out, struct store *s, int64_t since_ns);

/* The limit slowest finished calls: id, start_ns, comm, pid, provider,
 * model, status, duration_ms, ttfb_ms, ttft_ms, dns_ms, connect_ms, tls_ms,
 * client_ms, upload_ms, wait_ms, stream, verdict, error_type, error,
 * cost_usd. */
int query_slowest(struct query **out, struct store *s, int64_t since_ns, long limit);

/* 1 when table has column, 0 when not (or no such table). */
int query_has_column(struct store *s, const char *table, const char *column);

/* 1 when the database has table, else 0. */
int query_has_table(struct store *s, const char *table);



/* `top`'s window: totals of the calls started since since_ns: calls,
 * errors, input_tokens, output_tokens, cost_usd (one row). */
int query_window(struct query **out, struct store *s, int64_t since_ns);

/* `top`'s busiest processes since since_ns, the most calls first: pid,
 * comm, calls, errors, tokens (in + out), cost_usd, cpu_ms (its
 * cpu_samples in the window; NULL without them), limit rows. */
int query_busiest(struct query **out, struct store *s, int64_t since_ns, long limit);

#endif

/* stats.c -- the read-side commands about totals: `stats` (by model, provider, process or host, and push status) and `dns`. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db/query.h"
#include "db/store.h"
#include "push/format.h"
#include "base/util.h"

/* `llmtap stats --help` */
static const char usage_stats[] =
	"usage: llmtap stats [--db PATH] [--json] [--by model|provider|process|host]\n"
	"Totals of recorded calls: count, errors, tokens, cost, latency.\n";

/* Format epoch ns as local "MM-DD HH:MM:SS" into out: "-" when QUERY_NULL_NS. */
static void fmt_when(int64_t ns, char *out, size_t n)
{
	if (ns == QUERY_NULL_NS) {
		snprintf(out, n, "-");
		return;
	}
	cli_fmt_time(ns, out, n);
}

/* Append ns as a JSON integer, null when QUERY_NULL_NS. */
static void cli_json_ns(struct buf *b, int64_t ns)
{
	if (ns == QUERY_NULL_NS)
		buf_puts(b, "null");
	else
		jw_int(b, ns);
}

/* Print one push_state row as a JSON line. */
static void push_row_print_json(const struct query_push_row *r)
{
	struct buf b = { 0 };

	buf_puts(&b, "{\"push_target\":");
	jw_cstr(&b, r->target);
	buf_puts(&b, ",\"table\":");
	jw_cstr(&b, r->table);
	buf_puts(&b, ",\"pushed_rows\":");
	jw_int(&b, r->pushed_rows);
	buf_puts(&b, ",\"backlog\":");
	jw_int(&b, r->backlog);
	buf_puts(&b, ",\"dropped_rows\":");
	jw_int(&b, r->dropped_rows);
	buf_puts(&b, ",\"last_success_ns\":");
	cli_json_ns(&b, r->last_success_ns);
	buf_puts(&b, ",\"last_error\":");
	jw_cstr(&b, r->last_error);
	buf_puts(&b, ",\"last_error_ns\":");
	cli_json_ns(&b, r->last_error_ns);
	buf_puts(&b, "}");
	if (b.data)
		puts((const char *)b.data);
	buf_free(&b);
}

/* Print the state of every push target recorded in the database (last
 * success, backlog, last error; JSON: objects with "push_target"), after
 * a heading in the table form. Prints nothing when the database has no
 * push_state. Returns 0, -1 on a database error. */
static int push_status_print(struct store *s, int json)
{
	struct query_push_row r;
	struct query *q;
	int rc, header = 0;
	char ok[32], bad[32];

	rc = query_push_status(&q, s);
	if (rc)
		return rc > 0 ? 0 : -1;
	while ((rc = query_push_next(q, &r)) == 1) {
		if (json) {
			push_row_print_json(&r);
			continue;
		}
		if (!header++)
			printf("\npush targets\n%-44s %-12s %9s %8s %7s %-14s %s\n", "TARGET", "TABLE",
			       "PUSHED", "BACKLOG", "DROPPED", "LAST_SUCCESS", "LAST_ERROR");
		fmt_when(r.last_success_ns, ok, sizeof(ok));
		fmt_when(r.last_error_ns, bad, sizeof(bad));
		printf("%-44s %-12s %9lld %8lld %7lld %-14s %s%s%s\n", r.target, r.table,
		       (long long)r.pushed_rows, (long long)r.backlog, (long long)r.dropped_rows, ok,
		       r.last_error ? bad : "-", r.last_error ? " " : "", r.last_error ? r.last_error : "");
	}
	query_close(q);
	return rc ? -1 : 0;
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "by", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = cli_default_db(), *by = "model";
	int opt, rc = 1, json = 0, i, group;
	struct store *s;
	struct query *q;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'b': by = optarg; break;
		case 'h': fputs(usage_stats, stdout); return 0;
		default: fputs(usage_stats, stderr); return 2;
		}
	}
	group = query_stats_group(by);
	if (group < 0) {
		fprintf(stderr, "llmtap: bad --by value '%s' (model, provider, process or host)\n", by);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	if (query_stats(&q, s, group)) {
		log_warn("database: %s", store_errmsg(s));
		goto out_store;
	}
	if (!json)
		printf("%-28s %7s %7s %10s %10s %11s %9s %9s\n", by, "CALLS", "ERRORS",
		       "IN_TOK", "OUT_TOK", "COST_USD", "AVG_TTFT", "AVG_MS");
	while ((i = query_step(q)) == 1) {
		char a[32], b[32];

		if (json) {
			cli_row_print_json(q);
			continue;
		}
		printf("%-28s %7lld %7lld %10lld %10lld %11.4f %9s %9s\n", cli_col_text(q, 0, "-"),
		       (long long)query_int(q, 1), (long long)query_int(q, 2),
		       (long long)query_int(q, 3), (long long)query_int(q, 4),
		       query_real(q, 5), cli_fmt_ms(q, 6, a, sizeof(a)), cli_fmt_ms(q, 7, b, sizeof(b)));
	}
	rc = i ? 1 : 0;
	if (rc)
		log_warn("database: %s", store_errmsg(s));
	query_close(q);
	/* Push targets: last success, backlog, last error (JSON: objects with "push_target"). */
	if (!rc && push_status_print(s, json))
		rc = 1;
out_store:
	store_close(s);
	return rc;
}

/* `llmtap dns --help` */
static const char usage_dns[] =
	"usage: llmtap dns [--db PATH] [--json] [--limit N] [-p PID]\n"
	"List recorded DNS lookups (getaddrinfo calls and UDP queries), oldest first\n"
	"(the newest N, default 50).\n";

int cmd_dns(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = cli_default_db();
	int json = 0, opt, rc = 1, i;
	long limit = 50, pid = 0;
	struct store *s;
	struct query *q;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'n':
			if (cli_parse_positive(optarg, "--limit", &limit))
				return 2;
			break;
		case 'p':
			if (cli_parse_positive(optarg, "-p/--pid", &pid))
				return 2;
			break;
		case 'h': fputs(usage_dns, stdout); return 0;
		default: fputs(usage_dns, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	i = query_dns(&q, s, pid, limit);
	if (i < 0) {
		log_warn("database: %s", store_errmsg(s));
		goto out_store;
	}
	if (i > 0) {
		/* A database written before DNS tracing existed has no such table: nothing to list. */
		if (!json)
			printf("(no DNS lookups recorded in %s)\n", db);
		rc = 0;
		goto out_store;
	}
	if (!json)
		printf("%-14s %-15s %7s %-11s %-6s %-32s %-10s %8s  %-21s %s\n", "TIME", "COMM", "PID",
		       "SOURCE", "QTYPE", "NAME", "RESULT", "MS", "SERVER", "ADDRS");
	while ((i = query_step(q)) == 1) {
		char t[32], a[32], ms[32];

		if (json) {
			cli_row_print_json(q);
			continue;
		}
		cli_fmt_time(query_int(q, 10), t, sizeof(t));
		if (query_type(q, 11) == QUERY_NULL)
			snprintf(ms, sizeof(ms), "-");
		else
			snprintf(ms, sizeof(ms), "%.1f", query_real(q, 11));
		printf("%-14s %-15s %7s %-11s %-6s %-32s %-10s %8s  %-21s %s\n", t, cli_col_text(q, 3, ""),
		       cli_fmt_int(q, 1, a, sizeof(a)), cli_col_text(q, 9, "-"), cli_col_text(q, 5, "-"),
		       cli_col_text(q, 4, "-"), cli_col_text(q, 8, "-"), ms, cli_col_text(q, 12, "-"),
		       cli_col_text(q, 6, ""));
	}
	if (i)
		log_warn("database: %s", store_errmsg(s));
	else
		rc = 0;
	query_close(q);
out_store:
	store_close(s);
	return rc;
}

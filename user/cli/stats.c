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
#include "db/stats.h"
#include "db/store.h"
#include "push/format.h"
#include "base/util.h"

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

/* `llmtap stats --help` */
static const char usage_stats[] =
	"usage: llmtap stats [--db PATH] [--json] [--by model|provider|process|host|day|error]\n"
	"                    [--since DURATION|TIME] [--slowest N]\n"
	"Totals of recorded calls per group, the costliest first: calls, errors, tokens,\n"
	"cost, and p50/p95/p99 of the duration, time to first byte and to first token (ms);\n"
	"then the errors by kind, the models without a price and the slowest calls with\n"
	"their verdict (network, model, client or mixed).\n"
	"  --by G             group by model (default), provider, process, host, day or error\n"
	"  --since D|TIME     only calls started since (10m, 2h, 2026-11-24T10:00:00)\n"
	"  --slowest N        list the N slowest calls (default 3; 0: none)\n"
	"  --json             JSON Lines: one object per group, then objects with an\n"
	"                     \"error_type\", \"unpriced_model\", \"slowest_call\" or \"push_target\" key\n";

/* "p50/p95/p99" of three REAL columns from first, in whole ms ("-" when NULL). */
static const char *fmt_pctls(struct query *q, int first, char *out, size_t n)
{
	char a[32], b[32], c[32];

	snprintf(out, n, "%s/%s/%s", cli_fmt_ms(q, first, a, sizeof(a)),
		 cli_fmt_ms(q, first + 1, b, sizeof(b)), cli_fmt_ms(q, first + 2, c, sizeof(c)));
	return out;
}

/* Print one totals row of query_stats(): as text under the header, or JSON. */
static void stats_row_print(struct query *q, int json)
{
	char usd[32], d[64], t[64], f[64], unpriced[32] = "";
	int i = query_index(q, "p50_duration_ms"), u = query_index(q, "unpriced_calls");

	if (json) {
		cli_row_print_json(q);
		return;
	}
	if (query_int(q, u) > 0)
		snprintf(unpriced, sizeof(unpriced), " (%lld unpriced)", (long long)query_int(q, u));
	printf("%-28s %7lld %6lld %10lld %9lld %11s %20s %17s %17s%s\n", cli_col_text(q, 0, "-"),
	       (long long)query_int(q, 1), (long long)query_int(q, 2), (long long)query_int(q, 3),
	       (long long)query_int(q, 4), cli_fmt_usd(query_real(q, 5), usd, sizeof(usd)),
	       fmt_pctls(q, i, d, sizeof(d)), fmt_pctls(q, i + 3, f, sizeof(f)),
	       fmt_pctls(q, i + 6, t, sizeof(t)), unpriced);
}

/* The totals per group, then a total line (text only, when more than one group). */
static int stats_groups_print(struct store *s, int group, int64_t since, int json)
{
	struct query *q;
	int rc, n = 0;

	if (query_stats(&q, s, group, since))
		return -1;
	if (!json)
		printf("%-28s %7s %6s %10s %9s %11s %20s %17s %17s\n", query_name(q, 0), "CALLS", "ERRORS",
		       "IN_TOK", "OUT_TOK", "COST_USD", "DURATION p50/95/99", "TTFB p50/95/99",
		       "TTFT p50/95/99");
	while ((rc = query_step(q)) == 1) {
		stats_row_print(q, json);
		n++;
	}
	query_close(q);
	if (rc || json || n < 2)
		return rc ? -1 : 0;
	if (query_stats(&q, s, query_stats_group("all"), since))
		return -1;
	while ((rc = query_step(q)) == 1)
		stats_row_print(q, 0);
	query_close(q);
	return rc ? -1 : 0;
}

/* Errors by kind: "errors: rate_limited 3, auth 1" (JSON: {"error_type", "calls"}). */
static int stats_errors_print(struct store *s, int64_t since, int json)
{
	struct query *q;
	int rc, n = 0;

	if (query_errors_by_kind(&q, s, since))
		return -1;
	while ((rc = query_step(q)) == 1) {
		if (json) {
			cli_row_print_json(q);
			continue;
		}
		printf("%s%s %lld", n++ ? ", " : "\nerrors by kind: ", cli_col_text(q, 0, "-"),
		       (long long)query_int(q, 1));
	}
	if (n)
		putchar('\n');
	query_close(q);
	return rc ? -1 : 0;
}

/* Models with tokens and no price (JSON: {"unpriced_model", "provider", "calls"}). */
static int stats_unpriced_print(struct store *s, int64_t since, int json)
{
	struct query *q;
	int rc, n = 0;

	if (query_unpriced(&q, s, since))
		return -1;
	while ((rc = query_step(q)) == 1) {
		if (json) {
			json_t *o = json_object();

			json_object_set_new(o, "unpriced_model", json_string(cli_col_text(q, 0, "-")));
			json_object_set_new(o, "provider", json_string(cli_col_text(q, 1, "-")));
			json_object_set_new(o, "calls", json_integer(query_int(q, 2)));
			cli_json_print(o);
			continue;
		}
		if (!n++)
			printf("\nmodels without a price (cost_usd NULL; see 'llmtap prices'):\n");
		printf("  %-40s %-18s %lld call(s)\n", cli_col_text(q, 0, "-"), cli_col_text(q, 1, "-"),
		       (long long)query_int(q, 2));
	}
	query_close(q);
	return rc ? -1 : 0;
}

/* The slowest calls with their split and verdict (JSON: "slowest_call" = id). */
static int stats_slowest_print(struct store *s, int64_t since, long limit, int json)
{
	static const char *const parts[] = { "dns_ms", "connect_ms", "tls_ms", "client_ms", "upload_ms",
					     "wait_ms" };
	struct query *q;
	int rc, n = 0;
	size_t i;

	if (limit <= 0)
		return 0;
	if (query_slowest(&q, s, since, limit))
		return -1;
	while ((rc = query_step(q)) == 1) {
		char t[32], v[32];

		if (json) {
			json_t *o = cli_row_to_json(q);

			json_object_set_new(o, "slowest_call", json_string(cli_col_named(q, "id", "")));
			json_object_del(o, "id");
			cli_json_print(o);
			continue;
		}
		if (!n++)
			printf("\nslowest calls\n");
		cli_fmt_time(query_int(q, query_index(q, "start_ns")), t, sizeof(t));
		printf("  %s %s %s %s %s ms, verdict %s:", cli_col_named(q, "id", ""), t,
		       cli_col_named(q, "comm", "-"), cli_col_named(q, "model", "-"),
		       cli_fmt_real(q, query_index(q, "duration_ms"), v, sizeof(v)),
		       cli_col_named(q, "verdict", "-"));
		for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			int c = query_index(q, parts[i]);

			if (query_type(q, c) != QUERY_NULL)
				printf(" %.*s %s", (int)(strlen(parts[i]) - 3), parts[i],
				       cli_fmt_real(q, c, v, sizeof(v)));
		}
		if (query_type(q, query_index(q, "ttft_ms")) != QUERY_NULL)
			printf(", first token %s", cli_fmt_real(q, query_index(q, "ttft_ms"), v, sizeof(v)));
		if (query_type(q, query_index(q, "error_type")) != QUERY_NULL)
			printf(", error %s", cli_col_named(q, "error_type", ""));
		putchar('\n');
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
		{ "since", required_argument, NULL, 's' },
		{ "slowest", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = cli_default_db(), *by = "model";
	int opt, rc = 1, json = 0, group;
	long slowest = 3;
	int64_t since = 0;
	struct store *s;
	char *end;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'b': by = optarg; break;
		case 's':
			if (cli_parse_since(optarg, &since)) {
				fprintf(stderr, "llmtap: bad --since value '%s' (10m, 2h, 2026-11-24T10:00:00)\n", optarg);
				return 2;
			}
			break;
		case 'S':
			slowest = strtol(optarg, &end, 10);
			if (*end || end == optarg || slowest < 0 || slowest > 1000) {
				fprintf(stderr, "llmtap: bad --slowest value '%s' (0 to 1000)\n", optarg);
				return 2;
			}
			break;
		case 'h': fputs(usage_stats, stdout); return 0;
		default: return cli_opt_error("stats", argv, opt);
		}
	}
	group = query_stats_group(by);
	if (group < 0 || !strcmp(by, "all")) {
		fprintf(stderr, "llmtap: bad --by value '%s' (%s)\n", by, query_stats_groups());
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	if (stats_groups_print(s, group, since, json) || stats_errors_print(s, since, json) ||
	    stats_unpriced_print(s, since, json) || stats_slowest_print(s, since, slowest, json)) {
		log_warn("database: %s", store_errmsg(s));
		goto out_store;
	}
	/* Push targets: last success, backlog, last error (JSON: objects with "push_target"). */
	if (push_status_print(s, json))
		goto out_store;
	rc = 0;
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
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:n:h", opts, NULL)) != -1) {
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
		default: return cli_opt_error("dns", argv, opt);
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

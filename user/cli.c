/* cli.c -- the read-side commands: calls, show, stats, dns. */
#include "cli.h"

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

const char *cli_default_db(void)
{
	const char *db = getenv("LLMTAP_DB");

	if (!(db && *db))
		db = config_file_value("db");	/* /etc/llmtap.conf, as `run` reads it */
	return db && *db ? db : "./llmtap.db";
}

/* The current row of q as a JSON object, column names as keys. */
static json_t *row_to_json(struct query *q)
{
	json_t *o = json_object();
	int i, n = query_ncols(q);

	for (i = 0; i < n; i++) {
		const char *name = query_name(q, i);
		json_t *v;

		switch (query_type(q, i)) {
		case QUERY_INT:
			v = json_integer(query_int(q, i));
			break;
		case QUERY_REAL:
			v = json_real(query_real(q, i));
			break;
		case QUERY_TEXT:
			v = json_stringn_nocheck(query_text(q, i), query_bytes(q, i));
			break;
		default:
			v = json_null();
		}
		json_object_set_new(o, name, v);
	}
	return o;
}

/* Print o as one line and drop it. */
static void cli_json_print(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

/* Print the current row of q as one JSON line. */
static void row_print_json(struct query *q)
{
	cli_json_print(row_to_json(q));
}

/* Add to call object o what concerns it from the other tables: its
 * connection ("connection", from connections by conn_id). */
static void call_json_extend(struct store *s, json_t *o)
{
	json_t *id = json_object_get(o, "conn_id");
	struct query *q;

	if (!json_is_string(id))
		return;
	if (query_connection(&q, s, json_string_value(id)))
		return;
	if (query_step(q) == 1)
		json_object_set_new(o, "connection", row_to_json(q));
	query_close(q);
}

/* Add to call object o its process ("process", from processes: the newest
 * row of its pid started before the call), argv as an array. Nothing when
 * the database has no such row (or no processes table). */
static void call_json_process(struct store *s, json_t *o)
{
	json_t *pid = json_object_get(o, "pid"), *start = json_object_get(o, "start_ns"), *p, *argv;
	struct query *q;

	if (!json_is_integer(pid))
		return;
	if (query_call_process(&q, s, json_integer_value(pid), json_is_integer(start),
			       json_integer_value(start)))
		return;
	if (query_step(q) == 1) {
		p = row_to_json(q);
		argv = json_loads(json_string_value(json_object_get(p, "argv")) ?: "null", 0, NULL);
		if (json_is_array(argv))
			json_object_set(p, "argv", argv);
		json_decref(argv);
		json_object_set_new(o, "process", p);
	}
	query_close(q);
}

/* Parse --since: a duration ago ("10m") or a time ("2026-11-24T10:00:00[Z]",
 * "2026-11-24 10:00", "2026-11-24"). Returns 0 and epoch ns, -1 if malformed. */
static int parse_since(const char *s, int64_t *ns)
{
	static const char *const fmts[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d %H:%M", "%Y-%m-%d",
	};
	double secs;
	struct tm tm;
	size_t i;
	char *end;
	time_t t;

	if (!parse_duration(s, &secs)) {
		*ns = (int64_t)real_ns() - (int64_t)(secs * 1e9);
		return 0;
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, fmts[i], &tm);
		if (!end || (*end && strcmp(end, "Z")))
			continue;
		tm.tm_isdst = -1;
		t = *end == 'Z' ? timegm(&tm) : mktime(&tm);
		*ns = (int64_t)t * 1000000000;
		return 0;
	}
	return -1;
}

/* Parse a positive integer option value; on error say which option. Returns 0 or -1. */
static int parse_positive(const char *arg, const char *opt, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v <= 0) {
		fprintf(stderr, "llmtap: bad %s value '%s'\n", opt, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* `llmtap calls --help` */
static const char usage_calls[] =
	"usage: llmtap calls [--db PATH] [--json] [--limit N] [--since DURATION|TIME]\n"
	"                    [-p PID] [--model M]\n"
	"List recorded LLM calls, oldest first (the newest N).\n";

/* Column i of q's row as text; dflt when NULL or absent. */
static const char *col_text(struct query *q, int i, const char *dflt)
{
	const char *t = query_text(q, i);

	return t ? t : dflt;
}

/* Column name of q's row as text; dflt when NULL or absent. */
static const char *col_named(struct query *q, const char *name, const char *dflt)
{
	return col_text(q, query_index(q, name), dflt);
}

/* Format a duration column in whole ms into out: "-" when NULL. */
static const char *fmt_ms(struct query *q, int i, char *out, size_t n)
{
	if (query_type(q, i) == QUERY_NULL)
		return "-";
	snprintf(out, n, "%.0f", query_real(q, i));
	return out;
}

/* Format an integer column into out: "-" when NULL. */
static const char *fmt_int(struct query *q, int i, char *out, size_t n)
{
	if (query_type(q, i) == QUERY_NULL)
		return "-";
	snprintf(out, n, "%lld", (long long)query_int(q, i));
	return out;
}

/* Format epoch ns as local "MM-DD HH:MM:SS" into out. */
static void fmt_time(int64_t ns, char *out, size_t n)
{
	time_t t = ns / 1000000000;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, n, "%m-%d %H:%M:%S", &tm);
}

int cmd_calls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "model", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = cli_default_db(), *model = NULL;
	int json = 0, opt, rc = 1, i;
	long limit = 50, pid = 0;
	int64_t since = 0;
	struct query_calls_filter f;
	struct store *s;
	struct query *q;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'n':
			if (parse_positive(optarg, "--limit", &limit))
				return 2;
			break;
		case 's':
			if (parse_since(optarg, &since)) {
				fprintf(stderr, "llmtap: bad --since value '%s' (10m, 2h, 2026-11-24T10:00:00)\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (parse_positive(optarg, "-p/--pid", &pid))
				return 2;
			break;
		case 'M': model = optarg; break;
		case 'h': fputs(usage_calls, stdout); return 0;
		default: fputs(usage_calls, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	f = (struct query_calls_filter){ .since_ns = since, .pid = pid, .model = model, .limit = limit };
	if (query_calls(&q, s, &f)) {
		log_warn("database: %s", store_errmsg(s));
		goto out_store;
	}
	if (!json)
		printf("%-36s %-14s %-15s %7s %-17s %-24s %6s %7s %7s %7s %7s %-8s %s\n", "ID", "TIME",
		       "COMM", "PID", "PROVIDER", "MODEL", "STATUS", "IN", "OUT", "TTFT", "TOTAL",
		       "VERDICT", "ERROR");
	while ((i = query_step(q)) == 1) {
		char t[32], a[32], b[32], c[32], d[32], e[32], g[32];

		if (json) {
			json_t *o = row_to_json(q);

			call_json_extend(s, o);
			call_json_process(s, o);
			cli_json_print(o);
			continue;
		}
		fmt_time(query_int(q, query_index(q, "start_ns")), t, sizeof(t));
		printf("%-36s %-14s %-15s %7s %-17s %-24s %6s %7s %7s %7s %7s %-8s %s\n",
		       col_named(q, "id", ""), t, col_named(q, "comm", ""),
		       fmt_int(q, query_index(q, "pid"), a, sizeof(a)),
		       col_named(q, "provider", "-"), col_named(q, "model", "-"),
		       fmt_int(q, query_index(q, "status"), b, sizeof(b)),
		       fmt_int(q, query_index(q, "input_tokens"), c, sizeof(c)),
		       fmt_int(q, query_index(q, "output_tokens"), d, sizeof(d)),
		       fmt_ms(q, query_index(q, "ttft_ms"), e, sizeof(e)),
		       fmt_ms(q, query_index(q, "duration_ms"), g, sizeof(g)),
		       col_named(q, "verdict", "-"), col_named(q, "error", ""));
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

/* A REAL column by name; -1 when NULL or absent. */
static double col_ms(struct query *q, const char *name)
{
	int i = query_index(q, name);

	if (i < 0 || query_type(q, i) == QUERY_NULL)
		return -1;
	return query_real(q, i);
}

/* One bar of the waterfall: label, ms, and a bar placed at offset, scaled to total. */
static void bar(const char *label, double ms, double offset, double total)
{
	int width = 48, start, len, i;

	start = (int)(offset / total * width + 0.5);
	len = (int)(ms / total * width + 0.5);
	if (len < 1)
		len = 1;
	if (start >= width)
		start = width - 1;
	if (start + len > width)
		len = width - start;
	printf("  %-15s %9.1f ms |", label, ms);
	for (i = 0; i < start; i++)
		putchar(' ');
	for (i = 0; i < len; i++)
		fputs("\u2588", stdout);
	printf("%*s|\n", width - start - len, "");
}

/* The latency waterfall of the current row: the connection's setup (new
 * connections only), the client, the upload, the wait for the model and the
 * response stream, then the verdict. */
static void waterfall_print(struct query *q)
{
	struct {
		const char *label;
		double ms;
	} parts[7] = {
		{ "dns", col_ms(q, "dns_ms") },
		{ "connect", col_ms(q, "connect_ms") },
		{ "tls", col_ms(q, "tls_ms") },
		{ "client", col_ms(q, "client_ms") },
		{ "upload", col_ms(q, "upload_ms") },
		{ "wait for model", col_ms(q, "wait_ms") },
		{ "stream", -1 },
	};
	double duration = col_ms(q, "duration_ms"), ttft = col_ms(q, "ttft_ms");
	double total = 0, off = 0;
	int i, v = query_index(q, "verdict"), stream = query_index(q, "stream");
	const char *verdict = v >= 0 ? col_text(q, v, NULL) : NULL;

	printf("\nlatency (ms)\n");
	if (parts[5].ms < 0)	/* rows written before wait_ms existed */
		parts[5].ms = col_ms(q, "ttfb_ms");
	if (duration < 0 || parts[5].ms < 0) {
		printf("  no response: %s\n", col_named(q, "error", "-"));
		return;
	}
	parts[6].ms = duration - parts[5].ms - (parts[4].ms > 0 ? parts[4].ms : 0);
	if (parts[6].ms < 0)
		parts[6].ms = 0;
	if (stream >= 0 && !query_int(q, stream))
		parts[6].label = "download";
	for (i = 0; i < 7; i++)
		total += parts[i].ms > 0 ? parts[i].ms : 0;
	if (total <= 0)
		total = 1;
	for (i = 0; i < 7; i++) {
		if (parts[i].ms < 0)
			continue;
		bar(parts[i].label, parts[i].ms, off, total);
		off += parts[i].ms;
	}
	if (ttft >= 0)
		printf("  %-15s %9.1f ms after the request was sent\n", "first token", ttft);
	printf("  %-15s %9.1f ms\n", "total", total);
	if (verdict)
		printf("verdict: %s\n", verdict);
}

/* `llmtap show --help` */
static const char usage_show[] =
	"usage: llmtap show [--db PATH] [--json] ID\n"
	"Print one call (ID or a unique prefix): fields, latency, headers, bodies.\n";

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = cli_default_db(), *id;
	int opt, rc = 1, i, n, json = 0, found = 0;
	struct store *s;
	struct query *q;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'h': fputs(usage_show, stdout); return 0;
		default: fputs(usage_show, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage_show, stderr);
		return 2;
	}
	id = argv[optind];
	if (strlen(id) > 64 || strchr(id, '%') || strchr(id, '_')) {
		fprintf(stderr, "llmtap: bad call id '%s'\n", id);
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	if (query_calls_by_prefix(&q, s, id)) {
		log_warn("database: %s", store_errmsg(s));
		goto out_store;
	}
	while (query_step(q) == 1) {
		if (++found > 1) {
			fprintf(stderr, "llmtap: call id prefix '%s' is ambiguous\n", id);
			goto out_query;
		}
		if (json) {
			row_print_json(q);
			continue;
		}
		n = query_ncols(q);
		for (i = 0; i < n; i++) {
			const char *name = query_name(q, i);

			if (!strcmp(name, "request_headers") || !strcmp(name, "response_headers") ||
			    !strcmp(name, "request_body") || !strcmp(name, "response_body") ||
			    !strcmp(name, "response_text"))
				continue;
			printf("%-19s %s\n", name, col_text(q, i, "-"));
		}
		waterfall_print(q);
		printf("\nresponse text\n%s\n", col_named(q, "response_text", "-"));
		printf("\nrequest headers\n%s", col_named(q, "request_headers", "-\n"));
		printf("\nrequest body\n%s\n", col_named(q, "request_body", "-"));
		printf("\nresponse headers\n%s", col_named(q, "response_headers", "-\n"));
		printf("\nresponse body\n%s\n", col_named(q, "response_body", "-"));
	}
	if (!found) {
		fprintf(stderr, "llmtap: no call with id '%s'\n", id);
		goto out_query;
	}
	rc = 0;
out_query:
	query_close(q);
out_store:
	store_close(s);
	return rc;
}

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
	fmt_time(ns, out, n);
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
			row_print_json(q);
			continue;
		}
		printf("%-28s %7lld %7lld %10lld %10lld %11.4f %9s %9s\n", col_text(q, 0, "-"),
		       (long long)query_int(q, 1), (long long)query_int(q, 2),
		       (long long)query_int(q, 3), (long long)query_int(q, 4),
		       query_real(q, 5), fmt_ms(q, 6, a, sizeof(a)), fmt_ms(q, 7, b, sizeof(b)));
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
			if (parse_positive(optarg, "--limit", &limit))
				return 2;
			break;
		case 'p':
			if (parse_positive(optarg, "-p/--pid", &pid))
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
			row_print_json(q);
			continue;
		}
		fmt_time(query_int(q, 10), t, sizeof(t));
		if (query_type(q, 11) == QUERY_NULL)
			snprintf(ms, sizeof(ms), "-");
		else
			snprintf(ms, sizeof(ms), "%.1f", query_real(q, 11));
		printf("%-14s %-15s %7s %-11s %-6s %-32s %-10s %8s  %-21s %s\n", t, col_text(q, 3, ""),
		       fmt_int(q, 1, a, sizeof(a)), col_text(q, 9, "-"), col_text(q, 5, "-"),
		       col_text(q, 4, "-"), col_text(q, 8, "-"), ms, col_text(q, 12, "-"),
		       col_text(q, 6, ""));
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

/* calls.c -- the read-side commands about calls: `calls` lists them, `show` prints one with its latency waterfall. */
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
		json_object_set_new(o, "connection", cli_row_to_json(q));
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
		p = cli_row_to_json(q);
		argv = json_loads(json_string_value(json_object_get(p, "argv")) ?: "null", 0, NULL);
		if (json_is_array(argv))
			json_object_set(p, "argv", argv);
		json_decref(argv);
		json_object_set_new(o, "process", p);
	}
	query_close(q);
}

/* `llmtap calls --help` */
static const char usage_calls[] =
	"usage: llmtap calls [--db PATH] [--json] [--limit N] [--since DURATION|TIME]\n"
	"                    [-p PID] [--model M]\n"
	"List recorded LLM calls, oldest first (the newest N).\n";

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
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'n':
			if (cli_parse_positive(optarg, "--limit", &limit))
				return 2;
			break;
		case 's':
			if (cli_parse_since(optarg, &since)) {
				fprintf(stderr, "llmtap: bad --since value '%s' (10m, 2h, 2026-11-24T10:00:00)\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (cli_parse_positive(optarg, "-p/--pid", &pid))
				return 2;
			break;
		case 'M': model = optarg; break;
		case 'h': fputs(usage_calls, stdout); return 0;
		default: return cli_opt_error("calls", argv, opt);
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
			json_t *o = cli_row_to_json(q);

			call_json_extend(s, o);
			call_json_process(s, o);
			cli_call_host_json(s, o);
			cli_json_print(o);
			continue;
		}
		cli_fmt_time(query_int(q, query_index(q, "start_ns")), t, sizeof(t));
		printf("%-36s %-14s %-15s %7s %-17s %-24s %6s %7s %7s %7s %7s %-8s %s\n",
		       cli_col_named(q, "id", ""), t, cli_col_named(q, "comm", ""),
		       cli_fmt_int(q, query_index(q, "pid"), a, sizeof(a)),
		       cli_col_named(q, "provider", "-"), cli_col_named(q, "model", "-"),
		       cli_fmt_int(q, query_index(q, "status"), b, sizeof(b)),
		       cli_fmt_int(q, query_index(q, "input_tokens"), c, sizeof(c)),
		       cli_fmt_int(q, query_index(q, "output_tokens"), d, sizeof(d)),
		       cli_fmt_ms(q, query_index(q, "ttft_ms"), e, sizeof(e)),
		       cli_fmt_ms(q, query_index(q, "duration_ms"), g, sizeof(g)),
		       cli_col_named(q, "verdict", "-"), cli_col_named(q, "error", ""));
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
	const char *verdict = v >= 0 ? cli_col_text(q, v, NULL) : NULL;

	printf("\nlatency (ms)\n");
	if (parts[5].ms < 0)	/* rows written before wait_ms existed */
		parts[5].ms = col_ms(q, "ttfb_ms");
	if (duration < 0 || parts[5].ms < 0) {
		printf("  no response: %s\n", cli_col_named(q, "error", "-"));
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
/* Print a body column whole, then a newline: a NUL byte in it is shown as
 * \0 (a binary body is stored whole; printing it must not stop at its
 * first NUL). "-" when NULL. */
static void body_print(struct query *q, const char *name)
{
	int i = query_index(q, name);
	const char *t = i < 0 || query_type(q, i) == QUERY_NULL ? NULL : query_text(q, i);
	size_t n = t ? query_bytes(q, i) : 0, k;

	if (!t) {
		puts("-");
		return;
	}
	for (k = 0; k < n; k++) {
		if (t[k])
			putchar(t[k]);
		else
			fputs("\\0", stdout);
	}
	putchar('\n');
}

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
	int opt, rc = 1, i, n, json = 0, found = 0, step = 0;
	struct store *s;
	struct query *q;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'h': fputs(usage_show, stdout); return 0;
		default: return cli_opt_error("show", argv, opt);
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
	while ((step = query_step(q)) == 1) {
		if (++found > 1) {
			fprintf(stderr, "llmtap: call id prefix '%s' is ambiguous\n", id);
			goto out_query;
		}
		if (json) {
			cli_row_print_json(q);
			continue;
		}
		n = query_ncols(q);
		for (i = 0; i < n; i++) {
			const char *name = query_name(q, i);

			if (!strcmp(name, "request_headers") || !strcmp(name, "response_headers") ||
			    !strcmp(name, "request_body") || !strcmp(name, "response_body") ||
			    !strcmp(name, "response_text"))
				continue;
			if (query_type(q, i) == QUERY_REAL) {
				char v[64];

				printf("%-19s %s\n", name, cli_fmt_real(q, i, v, sizeof(v)));
				continue;
			}
			printf("%-19s %s\n", name, cli_col_text(q, i, "-"));
		}
		waterfall_print(q);
		cli_call_host_print(s, q);
		printf("\nresponse text\n%s\n", cli_col_named(q, "response_text", "-"));
		printf("\nrequest headers\n%s", cli_col_named(q, "request_headers", "-\n"));
		printf("\nrequest body\n");
		body_print(q, "request_body");
		printf("\nresponse headers\n%s", cli_col_named(q, "response_headers", "-\n"));
		printf("\nresponse body\n");
		body_print(q, "response_body");
	}
	if (step < 0) {		/* not "no call": the database could not answer */
		log_warn("database: %s", store_errmsg(s));
		goto out_query;
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

/* cli.c -- the read-side commands: calls, show, stats, dns. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "push/push.h"
#include "db/store.h"
#include "base/util.h"

const char *cli_default_db(void)
{
	const char *db = getenv("LLMTAP_DB");

	if (!(db && *db))
		db = config_file_value("db");	/* /etc/llmtap.conf, as `run` reads it */
	return db && *db ? db : "./llmtap.db";
}

/* Index of column name in st, or -1. */
static int col_index(sqlite3_stmt *st, const char *name)
{
	int i, n = sqlite3_column_count(st);

	for (i = 0; i < n; i++)
		if (!strcmp(sqlite3_column_name(st, i), name))
			return i;
	return -1;
}

/* The current row of st as a JSON object, column names as keys. */
static json_t *row_to_json(sqlite3_stmt *st)
{
	json_t *o = json_object();
	int i, n = sqlite3_column_count(st);

	for (i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		json_t *v;

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(st, i));
			break;
		case SQLITE_TEXT:
			v = json_stringn_nocheck((const char *)sqlite3_column_text(st, i),
						 sqlite3_column_bytes(st, i));
			break;
		default:
			v = json_null();
		}
		json_object_set_new(o, name, v);
	}
	return o;
}

/* Print o as one line and drop it. */
static void json_print(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

static void row_print_json(sqlite3_stmt *st)
{
	json_print(row_to_json(st));
}

/* Add to call object o what concerns it from the other tables: its
 * connection ("connection", from connections by conn_id). */
static void call_json_extend(sqlite3 *db, json_t *o)
{
	json_t *id = json_object_get(o, "conn_id");
	sqlite3_stmt *st;

	if (!json_is_string(id))
		return;
	if (sqlite3_prepare_v2(db, "SELECT * FROM connections WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, json_string_value(id), -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(o, "connection", row_to_json(st));
	sqlite3_finalize(st);
}

/* Add to call object o its process ("process", from processes: the newest
 * row of its pid started before the call), argv as an array. Nothing when
 * the database has no such row (or no processes table). */
static void call_json_process(sqlite3 *db, json_t *o)
{
	json_t *pid = json_object_get(o, "pid"), *start = json_object_get(o, "start_ns"), *p, *argv;
	sqlite3_stmt *st;

	if (!json_is_integer(pid))
		return;
	if (sqlite3_prepare_v2(db, "SELECT id, ppid, exe, argv, start_ns, cpu_ms, runq_ms, exit_ns,"
			       " exit_code, exit_signal, oom_killed FROM processes WHERE pid = ?1"
			       " AND (?2 IS NULL OR start_ns IS NULL OR start_ns <= ?2 + 100000000)"
			       " ORDER BY start_ns DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, json_integer_value(pid));
	if (json_is_integer(start))
		sqlite3_bind_int64(st, 2, json_integer_value(start));
	if (sqlite3_step(st) == SQLITE_ROW) {
		p = row_to_json(st);
		argv = json_loads(json_string_value(json_object_get(p, "argv")) ?: "null", 0, NULL);
		if (json_is_array(argv))
			json_object_set(p, "argv", argv);
		json_decref(argv);
		json_object_set_new(o, "process", p);
	}
	sqlite3_finalize(st);
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

static void usage_calls(FILE *f)
{
	fprintf(f,
		"usage: llmtap calls [--db PATH] [--json] [--limit N] [--since DURATION|TIME]\n"
		"                    [-p PID] [--model M]\n"
		"List recorded LLM calls, oldest first (the newest N).\n");
}

/* Open the database for reading; prints why not. */
static struct store *open_db(const char *db)
{
	struct store *s;

	if (store_open(&s, db, 1))
		return NULL;
	return s;
}

static const char *col_text(sqlite3_stmt *st, int i, const char *dflt)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : dflt;
}

/* Format a duration column: "-" when NULL. */
static const char *fmt_ms(sqlite3_stmt *st, int i, char *out, size_t n)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	snprintf(out, n, "%.0f", sqlite3_column_double(st, i));
	return out;
}

static const char *fmt_int(sqlite3_stmt *st, int i, char *out, size_t n)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return "-";
	snprintf(out, n, "%lld", (long long)sqlite3_column_int64(st, i));
	return out;
}

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
	struct store *s;
	sqlite3_stmt *st;
	char sql[1024];

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
		case 'h': usage_calls(stdout); return 0;
		default: usage_calls(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	s = open_db(db);
	if (!s)
		return 1;
	snprintf(sql, sizeof(sql),
		 "SELECT * FROM (SELECT * FROM llm_calls WHERE (?1 = 0 OR start_ns >= ?1)"
		 " AND (?2 = 0 OR pid = ?2) AND (?3 IS NULL OR model = ?3)"
		 " ORDER BY start_ns DESC LIMIT ?4) ORDER BY start_ns ASC");
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
		goto out_close;
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, pid);
	if (model)
		sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, limit);
	if (!json)
		printf("%-36s %-14s %-15s %7s %-17s %-24s %6s %7s %7s %7s %7s %-8s %s\n", "ID", "TIME",
		       "COMM", "PID", "PROVIDER", "MODEL", "STATUS", "IN", "OUT", "TTFT", "TOTAL",
		       "VERDICT", "ERROR");
	while ((i = sqlite3_step(st)) == SQLITE_ROW) {
		char t[32], a[32], b[32], c[32], d[32], e[32], f[32];

		if (json) {
			json_t *o = row_to_json(st);

			call_json_extend(store_db(s), o);
			call_json_process(store_db(s), o);
			json_print(o);
			continue;
		}
		fmt_time(sqlite3_column_int64(st, col_index(st, "start_ns")), t, sizeof(t));
		printf("%-36s %-14s %-15s %7s %-17s %-24s %6s %7s %7s %7s %7s %-8s %s\n",
		       col_text(st, col_index(st, "id"), ""), t, col_text(st, col_index(st, "comm"), ""),
		       fmt_int(st, col_index(st, "pid"), a, sizeof(a)),
		       col_text(st, col_index(st, "provider"), "-"),
		       col_text(st, col_index(st, "model"), "-"),
		       fmt_int(st, col_index(st, "status"), b, sizeof(b)),
		       fmt_int(st, col_index(st, "input_tokens"), c, sizeof(c)),
		       fmt_int(st, col_index(st, "output_tokens"), d, sizeof(d)),
		       fmt_ms(st, col_index(st, "ttft_ms"), e, sizeof(e)),
		       fmt_ms(st, col_index(st, "duration_ms"), f, sizeof(f)),
		       col_text(st, col_index(st, "verdict"), "-"),
		       col_text(st, col_index(st, "error"), ""));
	}
	if (i != SQLITE_DONE)
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
	else
		rc = 0;
	sqlite3_finalize(st);
out_close:
	store_close(s);
	return rc;
}

/* A REAL column by name; -1 when NULL or absent. */
static double col_ms(sqlite3_stmt *st, const char *name)
{
	int i = col_index(st, name);

	if (i < 0 || sqlite3_column_type(st, i) == SQLITE_NULL)
		return -1;
	return sqlite3_column_double(st, i);
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
static void waterfall_print(sqlite3_stmt *st)
{
	struct {
		const char *label;
		double ms;
	} parts[7] = {
		{ "dns", col_ms(st, "dns_ms") },
		{ "connect", col_ms(st, "connect_ms") },
		{ "tls", col_ms(st, "tls_ms") },
		{ "client", col_ms(st, "client_ms") },
		{ "upload", col_ms(st, "upload_ms") },
		{ "wait for model", col_ms(st, "wait_ms") },
		{ "stream", -1 },
	};
	double duration = col_ms(st, "duration_ms"), ttft = col_ms(st, "ttft_ms");
	double total = 0, off = 0;
	int i, v = col_index(st, "verdict"), stream = col_index(st, "stream");
	const char *verdict = v >= 0 ? col_text(st, v, NULL) : NULL;

	printf("\nlatency (ms)\n");
	if (parts[5].ms < 0)	/* rows written before wait_ms existed */
		parts[5].ms = col_ms(st, "ttfb_ms");
	if (duration < 0 || parts[5].ms < 0) {
		printf("  no response: %s\n", col_text(st, col_index(st, "error"), "-"));
		return;
	}
	parts[6].ms = duration - parts[5].ms - (parts[4].ms > 0 ? parts[4].ms : 0);
	if (parts[6].ms < 0)
		parts[6].ms = 0;
	if (stream >= 0 && !sqlite3_column_int(st, stream))
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

static void usage_show(FILE *f)
{
	fprintf(f, "usage: llmtap show [--db PATH] [--json] ID\n"
		   "Print one call (ID or a unique prefix): fields, latency, headers, bodies.\n");
}

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
	sqlite3_stmt *st;
	char like[128];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage_show(stdout); return 0;
		default: usage_show(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage_show(stderr);
		return 2;
	}
	id = argv[optind];
	if (strlen(id) > 64 || strchr(id, '%') || strchr(id, '_')) {
		fprintf(stderr, "llmtap: bad call id '%s'\n", id);
		return 2;
	}
	s = open_db(db);
	if (!s)
		return 1;
	snprintf(like, sizeof(like), "%s%%", id);
	if (sqlite3_prepare_v2(store_db(s), "SELECT * FROM llm_calls WHERE id LIKE ?1 LIMIT 2",
			       -1, &st, NULL) != SQLITE_OK) {
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
		goto out_close;
	}
	sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (++found > 1) {
			fprintf(stderr, "llmtap: call id prefix '%s' is ambiguous\n", id);
			goto out_final;
		}
		if (json) {
			row_print_json(st);
			continue;
		}
		n = sqlite3_column_count(st);
		for (i = 0; i < n; i++) {
			const char *name = sqlite3_column_name(st, i);

			if (!strcmp(name, "request_headers") || !strcmp(name, "response_headers") ||
			    !strcmp(name, "request_body") || !strcmp(name, "response_body") ||
			    !strcmp(name, "response_text"))
				continue;
			printf("%-19s %s\n", name, col_text(st, i, "-"));
		}
		waterfall_print(st);
		printf("\nresponse text\n%s\n", col_text(st, 20, "-"));
		printf("\nrequest headers\n%s", col_text(st, 31, "-\n"));
		printf("\nrequest body\n%s\n", col_text(st, 33, "-"));
		printf("\nresponse headers\n%s", col_text(st, 32, "-\n"));
		printf("\nresponse body\n%s\n", col_text(st, 34, "-"));
	}
	if (!found) {
		fprintf(stderr, "llmtap: no call with id '%s'\n", id);
		goto out_final;
	}
	rc = 0;
out_final:
	sqlite3_finalize(st);
out_close:
	store_close(s);
	return rc;
}

static void usage_stats(FILE *f)
{
	fprintf(f, "usage: llmtap stats [--db PATH] [--json] [--by model|provider|process|host]\n"
		   "Totals of recorded calls: count, errors, tokens, cost, latency.\n");
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
	const char *db = cli_default_db(), *by = "model", *col;
	int opt, rc = 1, json = 0, i;
	struct store *s;
	sqlite3_stmt *st;
	char sql[1024];

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'b': by = optarg; break;
		case 'h': usage_stats(stdout); return 0;
		default: usage_stats(stderr); return 2;
		}
	}
	if (!strcmp(by, "model"))
		col = "coalesce(model, '-')";
	else if (!strcmp(by, "provider"))
		col = "coalesce(provider, '-')";
	else if (!strcmp(by, "process"))
		col = "coalesce(comm, '-')";
	else if (!strcmp(by, "host"))
		col = "coalesce(host, '-')";
	else {
		fprintf(stderr, "llmtap: bad --by value '%s' (model, provider, process or host)\n", by);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	s = open_db(db);
	if (!s)
		return 1;
	snprintf(sql, sizeof(sql),
		 "SELECT %s AS %s, count(*) AS calls, sum(error IS NOT NULL) AS errors,"
		 " coalesce(sum(input_tokens), 0) AS input_tokens,"
		 " coalesce(sum(output_tokens), 0) AS output_tokens,"
		 " round(coalesce(sum(cost_usd), 0), 6) AS cost_usd,"
		 " round(avg(ttft_ms), 1) AS avg_ttft_ms, round(avg(duration_ms), 1) AS avg_duration_ms,"
		 " round(max(duration_ms), 1) AS max_duration_ms"
		 " FROM llm_calls GROUP BY 1 ORDER BY calls DESC, 1", col, by);
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
		goto out_close;
	}
	if (!json)
		printf("%-28s %7s %7s %10s %10s %11s %9s %9s\n", by, "CALLS", "ERRORS",
		       "IN_TOK", "OUT_TOK", "COST_USD", "AVG_TTFT", "AVG_MS");
	while ((i = sqlite3_step(st)) == SQLITE_ROW) {
		char a[32], b[32];

		if (json) {
			row_print_json(st);
			continue;
		}
		printf("%-28s %7lld %7lld %10lld %10lld %11.4f %9s %9s\n", col_text(st, 0, "-"),
		       (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2),
		       (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4),
		       sqlite3_column_double(st, 5), fmt_ms(st, 6, a, sizeof(a)),
		       fmt_ms(st, 7, b, sizeof(b)));
	}
	rc = i == SQLITE_DONE ? 0 : 1;
	if (rc)
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
	sqlite3_finalize(st);
	/* Push targets: last success, backlog, last error (JSON: objects with "push_target"). */
	if (!rc && push_stats_print(store_db(s), json))
		rc = 1;
out_close:
	store_close(s);
	return rc;
}

static void usage_dns(FILE *f)
{
	fprintf(f, "usage: llmtap dns [--db PATH] [--json] [--limit N] [-p PID]\n"
		   "List recorded DNS lookups (getaddrinfo calls and UDP queries), oldest first\n"
		   "(the newest N, default 50).\n");
}

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
	sqlite3_stmt *st;

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
		case 'h': usage_dns(stdout); return 0;
		default: usage_dns(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	s = open_db(db);
	if (!s)
		return 1;
	/* A database written before DNS tracing existed has no such table: nothing to list. */
	if (sqlite3_prepare_v2(store_db(s), "SELECT 1 FROM sqlite_master WHERE type = 'table'"
			       " AND name = 'dns_lookups'", -1, &st, NULL) != SQLITE_OK) {
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
		goto out_close;
	}
	i = sqlite3_step(st);
	sqlite3_finalize(st);
	if (i != SQLITE_ROW) {
		if (!json)
			printf("(no DNS lookups recorded in %s)\n", db);
		rc = 0;
		goto out_close;
	}
	if (sqlite3_prepare_v2(store_db(s),
			       "SELECT id, pid, tid, comm, name, qtype, addrs, rcode, result, source,"
			       " start_ns, latency_ms, server FROM (SELECT * FROM dns_lookups"
			       " WHERE (?1 = 0 OR pid = ?1) ORDER BY start_ns DESC LIMIT ?2)"
			       " ORDER BY start_ns ASC", -1, &st, NULL) != SQLITE_OK) {
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
		goto out_close;
	}
	sqlite3_bind_int64(st, 1, pid);
	sqlite3_bind_int64(st, 2, limit);
	if (!json)
		printf("%-14s %-15s %7s %-11s %-6s %-32s %-10s %8s  %-21s %s\n", "TIME", "COMM", "PID",
		       "SOURCE", "QTYPE", "NAME", "RESULT", "MS", "SERVER", "ADDRS");
	while ((i = sqlite3_step(st)) == SQLITE_ROW) {
		char t[32], a[32], ms[32];

		if (json) {
			row_print_json(st);
			continue;
		}
		fmt_time(sqlite3_column_int64(st, 10), t, sizeof(t));
		if (sqlite3_column_type(st, 11) == SQLITE_NULL)
			snprintf(ms, sizeof(ms), "-");
		else
			snprintf(ms, sizeof(ms), "%.1f", sqlite3_column_double(st, 11));
		printf("%-14s %-15s %7s %-11s %-6s %-32s %-10s %8s  %-21s %s\n", t, col_text(st, 3, ""),
		       fmt_int(st, 1, a, sizeof(a)), col_text(st, 9, "-"), col_text(st, 5, "-"),
		       col_text(st, 4, "-"), col_text(st, 8, "-"), ms, col_text(st, 12, "-"),
		       col_text(st, 6, ""));
	}
	if (i != SQLITE_DONE)
		log_warn("database: %s", sqlite3_errmsg(store_db(s)));
	else
		rc = 0;
	sqlite3_finalize(st);
out_close:
	store_close(s);
	return rc;
}

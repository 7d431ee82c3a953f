/* report.c -- `llmtap report --html FILE`: one self-contained HTML page (data/report.html with the data inside): a timeline of every call, costs, the slowest calls, errors, runs, CPU. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assets.h"
#include "base/util.h"
#include "db/report.h"
#include "db/stats.h"
#include "db/store.h"
#include "prices.h"
#include "version.h"

#define REPORT_MARKER "/*LLMTAP_DATA*/"
#define REPORT_LIMIT 20000	/* calls drawn by default: the newest */

/* `llmtap report --help` */
static const char usage_report[] =
	"usage: llmtap report --html FILE [--db PATH] [--since DURATION|TIME] [--run ID] [--limit N]\n"
	"Write one self-contained HTML page (no network access when viewed): a timeline of\n"
	"every call per process, split into DNS, connect, TLS, upload, wait for the model and\n"
	"response; agent runs and their tool steps when recorded; cost and tokens by model and\n"
	"process; the slowest calls with their verdict; errors by kind; CPU per process.\n"
	"  --html FILE        where to write it ('-' for standard output)\n"
	"  --since D|TIME     only calls started since (10m, 2h, 2026-11-24T10:00:00)\n"
	"  --run ID           only the calls of this agent run and its sub-agents\n"
	"  --limit N          at most the newest N calls (default 20000)\n";

/* Add part's rows to data under key as an array of objects (an absent
 * table: an empty array). Returns 0, -1 on a database error. */
static int add_part(json_t *data, const char *key, struct store *s, enum report_part part,
		    const struct report_filter *f)
{
	json_t *arr = json_array();
	struct query *q;
	int rc;

	json_object_set_new(data, key, arr);
	rc = query_report(&q, s, part, f);
	if (rc)
		return rc > 0 ? 0 : -1;
	while ((rc = query_step(q)) == 1)
		json_array_append_new(arr, cli_row_to_json(q));
	query_close(q);
	return rc ? -1 : 0;
}

/* Write the page with data spliced at the marker into path ("-": stdout).
 * Returns 0, -1 after a message. */
static int report_write(const char *path, const char *data)
{
	const char *page = asset_report_html, *mark = strstr(page, REPORT_MARKER);
	char *tmp = NULL;
	FILE *f = stdout;
	int rc = -1;

	if (!mark) {
		fprintf(stderr, "llmtap: the built-in report page has no data marker\n");
		return -1;
	}
	if (strcmp(path, "-")) {
		/* written beside and renamed: a reader never sees half a page */
		if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
			return -1;
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);	/* as private as the DB */

		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			if (fd >= 0)
				close(fd);
			fprintf(stderr, "llmtap: cannot write %s: %s\n", path, strerror(errno));
			free(tmp);
			return -1;
		}
	}
	fwrite(page, 1, mark - page, f);
	fputs("window.LLMTAP_DATA = ", f);
	fputs(data, f);
	fputs(";", f);
	fputs(mark + strlen(REPORT_MARKER), f);
	if (f == stdout) {
		rc = fflush(f) ? -1 : 0;
	} else if (fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "llmtap: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	} else {
		rc = 0;
	}
	free(tmp);
	return rc;
}

/* --run PREFIX: the one run whose id starts with it, its full id into
 * buf and f->run_id. Returns 0, or -1 with one line said (no such run, or
 * more than one). */
static int report_run_resolve(struct store *s, const char *db, struct report_filter *f,
			      char *buf, size_t n)
{
	struct query *q;
	int found = 0;

	if (query_runs_by_prefix(&q, s, f->run_id)) {
		fprintf(stderr, "llmtap: cannot read the agent runs of %s\n", db);
		return -1;
	}
	while (query_step(q) == 1) {
		if (!found)
			snprintf(buf, n, "%s", query_text(q, query_index(q, "id")));
		found++;
	}
	query_close(q);
	if (found != 1) {
		fprintf(stderr, "llmtap: %s agent run '%s' in %s\n",
			found ? "more than one" : "no", f->run_id, db);
		return -1;
	}
	f->run_id = buf;
	return 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "html", required_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 's' },
		{ "run", required_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct report_filter f = { .limit = REPORT_LIMIT };
	char run_id[64];
	const char *db = cli_default_db(), *out = NULL;
	json_t *data;
	struct store *s;
	char *text;
	int opt, rc = 1;
	long limit;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'o': out = optarg; break;
		case 's':
			if (cli_parse_since(optarg, &f.since_ns)) {
				fprintf(stderr, "llmtap: bad --since value '%s' (10m, 2h, 2026-11-24T10:00:00)\n", optarg);
				return 2;
			}
			break;
		case 'r': f.run_id = optarg; break;
		case 'n':
			if (cli_parse_positive(optarg, "--limit", &limit))
				return 2;
			f.limit = limit;
			break;
		case 'h': fputs(usage_report, stdout); return 0;
		default: return cli_opt_error("report", argv, opt);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!out) {
		fprintf(stderr, "llmtap report: --html FILE is needed; try 'llmtap report --help'\n");
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	if (f.run_id && !query_has_table(s, "agent_runs")) {
		fprintf(stderr, "llmtap: %s has no agent runs (--run %s)\n", db, f.run_id);
		goto out_store;
	}
	if (f.run_id && report_run_resolve(s, db, &f, run_id, sizeof(run_id)))
		goto out_store;
	prices_setup(NULL);	/* only to name the table in the page; stored costs are drawn */
	data = json_object();
	json_object_set_new(data, "db", json_string(db));
	json_object_set_new(data, "version", json_string(LLMTAP_VERSION));
	json_object_set_new(data, "generated_ns", json_integer((json_int_t)real_ns()));
	json_object_set_new(data, "prices", json_string(prices_origin() ? prices_origin() : "?"));
	json_object_set_new(data, "run", f.run_id ? json_string(f.run_id) : json_null());
	json_object_set_new(data, "has_runs", json_boolean(query_has_table(s, "agent_runs")));
	if (add_part(data, "calls", s, REPORT_CALLS, &f) || add_part(data, "processes", s, REPORT_PROCESSES, &f) ||
	    add_part(data, "cpu_samples", s, REPORT_CPU, &f) || add_part(data, "runs", s, REPORT_RUNS, &f) ||
	    add_part(data, "steps", s, REPORT_STEPS, &f)) {
		log_warn("database: %s", store_errmsg(s));
		json_decref(data);
		goto out_store;
	}
	/* JSON_ESCAPE_SLASH: no "</script>" can end the data early */
	text = json_dumps(data, JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_REAL_PRECISION(15));
	if (text && !report_write(out, text)) {
		rc = 0;
		if (strcmp(out, "-"))
			fprintf(stderr, "llmtap: wrote %s: %zu call(s)\n", out,
				json_array_size(json_object_get(data, "calls")));
	}
	free(text);
	json_decref(data);
out_store:
	store_close(s);
	return rc;
}

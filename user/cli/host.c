/* host.c -- the read-side commands of the host view: `events`, `host`, and what `show` and `calls --json` add about the host, the process and the agent around a call. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/query.h"
#include "db/store.h"
#include "base/util.h"

/* The real (or integer) column name of q's row; -1 when NULL or absent. */
static double col_num(struct query *q, const char *name)
{
	int i = query_index(q, name);

	return i < 0 || query_type(q, i) == QUERY_NULL ? -1 : query_real(q, i);
}

/* "12.3" or "-" for a negative value. */
static const char *fmt_num(double v, const char *fmt, char *out, size_t n)
{
	if (v < 0)
		snprintf(out, n, "-");
	else
		snprintf(out, n, fmt, v);
	return out;
}

/* Parse the options every listing shares. Returns 0, or the exit code. */
static int list_opts(int argc, char **argv, const char *usage, const char **db, int *json, long *limit,
		     int64_t *since, long *pid, const char **source)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': *db = optarg; break;
		case 'j': *json = 1; break;
		case 'n':
			if (cli_parse_positive(optarg, "--limit", limit))
				return 2;
			break;
		case 's':
			if (cli_parse_since(optarg, since)) {
				fprintf(stderr, "llmtap: bad --since value '%s'\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (!pid || cli_parse_positive(optarg, "-p/--pid", pid)) {
				if (!pid)
					fputs(usage, stderr);
				return 2;
			}
			break;
		case 'S':
			if (!source || (strcmp(optarg, "agent") && strcmp(optarg, "llmtap"))) {
				fprintf(stderr, "llmtap: bad --source value '%s' (agent or llmtap)\n", optarg);
				return 2;
			}
			*source = optarg;
			break;
		case 'h': fputs(usage, stdout); return -1;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* Print one events row as a text line. */
static void event_print(struct query *q)
{
	char t[32], p[32];

	cli_fmt_time(query_int(q, query_index(q, "ts_ns")), t, sizeof(t));
	printf("%-14s %-7s %-8s %-24s %7s %s\n", t, cli_col_named(q, "source", "-"),
	       cli_col_named(q, "severity", "-"), cli_col_named(q, "name", "-"),
	       cli_fmt_int(q, query_index(q, "pid"), p, sizeof(p)), cli_col_named(q, "attributes", ""));
}

static const char usage_events[] =
	"usage: llmtap events [--db PATH] [--json] [--limit N] [--since 10m|TIME] [-p PID]\n"
	"                     [--source agent|llmtap]\n"
	"List events, oldest first (the newest N, default 50): what llmtap noticed (disk full, OOM\n"
	"kills, zombies, stuck agents, push targets down, capture drops) and what agents posted.\n";

int cmd_events(int argc, char **argv)
{
	const char *db = cli_default_db(), *source = NULL;
	int json = 0, rc, i;
	long limit = 50, pid = 0;
	int64_t since = 0;
	struct store *s;
	struct query *q;

	rc = list_opts(argc, argv, usage_events, &db, &json, &limit, &since, &pid, &source);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (store_open(&s, db, 1))
		return 1;
	rc = 1;
	i = query_events(&q, s, since, pid, source, limit);
	if (i < 0) {
		log_warn("database: %s", store_errmsg(s));
		goto out_store;
	}
	if (i > 0) {
		if (!json)
			printf("(no events recorded in %s)\n", db);
		rc = 0;
		goto out_store;
	}
	if (!json)
		printf("%-14s %-7s %-8s %-24s %7s %s\n", "TIME", "SOURCE", "SEVERITY", "NAME", "PID",
		       "ATTRIBUTES");
	while ((i = query_step(q)) == 1) {
		if (json)
			cli_row_print_json(q);
		else
			event_print(q);
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

/* The columns of host lines: their header, and one host_samples row. */
#define HOST_HEAD "%-14s %5s %5s %5s %5s %6s %9s %9s %8s %14s %11s %11s\n"
static void host_print_head(void)
{
	printf(HOST_HEAD, "TIME", "CPU%", "IOW%", "STL%", "LOAD1", "RUNQ", "MEM_AVAIL", "SWAP_USED",
	       "PSI_CPU", "PSI_MEM/IO", "DISK_R/W", "NET_RX/TX");
}

/* Print the current host_samples row of q as a line under host_print_head(). */
static void host_print(struct query *q)
{
	char t[32], cpu[16], iow[16], stl[16], ld[16], rq[16], ma[16], su[16], pc[16], pm[32], dk[32],
	     nt[32], a[16], b[16];
	double idle = col_num(q, "cpu_idle_pct");

	cli_fmt_time(query_int(q, query_index(q, "ts_ns")), t, sizeof(t));
	fmt_num(idle < 0 ? -1 : 100 - idle, "%.1f", cpu, sizeof(cpu));
	fmt_num(col_num(q, "cpu_iowait_pct"), "%.1f", iow, sizeof(iow));
	fmt_num(col_num(q, "cpu_steal_pct"), "%.1f", stl, sizeof(stl));
	fmt_num(col_num(q, "load1"), "%.2f", ld, sizeof(ld));
	fmt_num(col_num(q, "procs_running"), "%.0f", rq, sizeof(rq));
	fmt_num(col_num(q, "mem_available_bytes") / 1048576, "%.0fM", ma, sizeof(ma));
	fmt_num(col_num(q, "swap_used_bytes") / 1048576, "%.0fM", su, sizeof(su));
	fmt_num(col_num(q, "psi_cpu_pct"), "%.1f%%", pc, sizeof(pc));
	snprintf(pm, sizeof(pm), "%s/%s", fmt_num(col_num(q, "psi_mem_pct"), "%.1f%%", a, sizeof(a)),
		 fmt_num(col_num(q, "psi_io_pct"), "%.1f%%", b, sizeof(b)));
	snprintf(dk, sizeof(dk), "%s/%s", fmt_num(col_num(q, "disk_read_bps") / 1048576, "%.1f", a, sizeof(a)),
		 fmt_num(col_num(q, "disk_write_bps") / 1048576, "%.1f", b, sizeof(b)));
	snprintf(nt, sizeof(nt), "%s/%s", fmt_num(col_num(q, "net_rx_bps") / 1048576, "%.1f", a, sizeof(a)),
		 fmt_num(col_num(q, "net_tx_bps") / 1048576, "%.1f", b, sizeof(b)));
	printf(HOST_HEAD, t, cpu, iow, stl, ld, rq, ma, su, pc, pm, dk, nt);
}

static const char usage_host[] =
	"usage: llmtap host [--db PATH] [--json] [--limit N] [--since 10m|TIME]\n"
	"List host samples, oldest first (the newest N, default 50): CPU busy, iowait and steal,\n"
	"load, memory, pressure stall (PSI), disk MB/s read/written, network MB/s in/out.\n";

int cmd_host(int argc, char **argv)
{
	const char *db = cli_default_db();
	int json = 0, rc, i;
	long limit = 50;
	int64_t since = 0;
	struct store *s;
	struct query *q;

	rc = list_opts(argc, argv, usage_host, &db, &json, &limit, &since, NULL, NULL);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (store_open(&s, db, 1))
		return 1;
	rc = 1;
	i = query_host(&q, s, since, limit);
	if (i < 0) {
		log_warn("database: %s", store_errmsg(s));
		goto out_store;
	}
	if (i > 0) {
		if (!json)
			printf("(no host samples recorded in %s)\n", db);
		rc = 0;
		goto out_store;
	}
	if (!json)
		host_print_head();
	while ((i = query_step(q)) == 1) {
		if (json)
			cli_row_print_json(q);
		else
			host_print(q);
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

/* The window of call row c: [start_ns, end_ns]. Returns 0, -1 when it has no start. */
static int call_window(struct query *c, int64_t *pid, int64_t *start, int64_t *end)
{
	double dur = col_num(c, "duration_ms");
	int i = query_index(c, "start_ns");

	if (i < 0 || query_type(c, i) == QUERY_NULL)
		return -1;
	*pid = query_int(c, query_index(c, "pid"));
	*start = query_int(c, i);
	*end = *start + (dur > 0 ? (int64_t)(dur * 1e6) : 0);
	return 0;
}

void cli_call_host_print(struct store *s, struct query *c)
{
	int64_t pid, start, end;
	struct query *q;
	int n;

	if (call_window(c, &pid, &start, &end))
		return;
	if (!query_call_host(&q, s, start, end)) {
		for (n = 0; query_step(q) == 1; n++) {
			if (!n) {
				printf("\nhost during the call\n");
				host_print_head();
			}
			host_print(q);
		}
		query_close(q);
	}
	if (!query_call_samples(&q, s, pid, start, end)) {
		for (n = 0; query_step(q) == 1; n++) {
			char t[32], rss[16], cpu[16];
			double iv = col_num(q, "interval_ms");

			if (!n)
				printf("\nthe process during the call\n%-14s %6s %9s %7s %5s %5s %10s %10s\n", "TIME",
				       "CPU%", "RSS", "THREADS", "FDS", "STATE", "READ", "WRITTEN");
			cli_fmt_time(query_int(q, query_index(q, "ts_ns")), t, sizeof(t));
			fmt_num(iv > 0 ? 100 * col_num(q, "cpu_ms") / iv : -1, "%.1f", cpu, sizeof(cpu));
			fmt_num(col_num(q, "rss_bytes") / 1048576, "%.1fM", rss, sizeof(rss));
			printf("%-14s %6s %9s %7s %5s %5s %10s %10s\n", t, cpu, rss,
			       cli_col_named(q, "num_threads", "-"), cli_col_named(q, "fds", "-"),
			       cli_col_named(q, "state", "-"), cli_col_named(q, "read_bytes", "-"),
			       cli_col_named(q, "write_bytes", "-"));
		}
		query_close(q);
	}
	if (!query_call_spans(&q, s, query_text(c, query_index(c, "id")))) {
		for (n = 0; query_step(q) == 1; n++) {
			if (!n)
				printf("\nthe agent's own spans of this call\n");
			printf("  %s  %s  %s  %s ms  model %s  in %s out %s  service %s\n",
			       cli_col_named(q, "name", "-"), cli_col_named(q, "kind", "-"),
			       cli_col_named(q, "status", "-"), cli_col_named(q, "duration_ms", "-"),
			       cli_col_named(q, "model", "-"), cli_col_named(q, "input_tokens", "-"),
			       cli_col_named(q, "output_tokens", "-"), cli_col_named(q, "service_name", "-"));
		}
		query_close(q);
	}
	if (!query_call_events(&q, s, pid, start, end)) {
		for (n = 0; query_step(q) == 1; n++) {
			if (!n)
				printf("\nevents within a minute of the call\n");
			event_print(q);
		}
		query_close(q);
	}
}

/* The rows of q as a JSON array, q closed; NULL when the query failed to open (rc). */
static json_t *rows_json(int rc, struct query *q)
{
	json_t *a;

	if (rc)
		return NULL;
	a = json_array();
	while (a && query_step(q) == 1)
		json_array_append_new(a, cli_row_to_json(q));
	query_close(q);
	return a;
}

/* Set o[key] to the rows of the query opened with rc into q (nothing when it failed). */
static void set_rows(json_t *o, const char *key, int rc, struct query *q)
{
	json_t *a = rows_json(rc, q);

	if (a)
		json_object_set_new(o, key, a);
}

void cli_call_host_json(struct store *s, json_t *o)
{
	json_t *pid = json_object_get(o, "pid"), *st = json_object_get(o, "start_ns");
	json_t *dur = json_object_get(o, "duration_ms"), *id = json_object_get(o, "id");
	struct query *q = NULL;
	int64_t start, end;
	int rc;

	if (!json_is_integer(st) || !json_is_integer(pid))
		return;
	start = json_integer_value(st);
	end = start + (json_is_number(dur) ? (int64_t)(json_number_value(dur) * 1e6) : 0);
	rc = query_call_host(&q, s, start, end);
	set_rows(o, "host_samples", rc, q);
	rc = query_call_samples(&q, s, json_integer_value(pid), start, end);
	set_rows(o, "process_samples", rc, q);
	if (json_is_string(id)) {
		rc = query_call_spans(&q, s, json_string_value(id));
		set_rows(o, "agent_spans", rc, q);
	}
	rc = query_call_events(&q, s, json_integer_value(pid), start, end);
	set_rows(o, "events", rc, q);
}

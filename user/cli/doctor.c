/* doctor.c -- `llmtap doctor`: which processes talk TLS to other hosts, and for each what llmtap hooked or why it cannot see it. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/procfs.h"
#include "base/util.h"
#include "capture/attach.h"
#include "capture/cover.h"
#include "run_cover.h"

/* `llmtap doctor --help` */
static const char usage_doctor[] =
	"usage: llmtap doctor [--db PATH] [--json] [--scan] [--wait SEC]\n"
	"Processes with TLS connections to other hosts, and for each what llmtap hooked\n"
	"(binary, library, method) or why it cannot see it. Asks the tracer writing the\n"
	"database (its report is refreshed on the spot); without one, or with --scan, looks\n"
	"for itself and says what `llmtap run` would hook. Needs root.\n"
	"  --json       the report as one JSON object\n"
	"  --scan       look for itself even when a tracer runs\n"
	"  --wait SEC   how long to wait for the tracer's fresh report (default 5)\n";

/* The state file at path as JSON, or NULL when absent or unreadable. */
static json_t *state_read(const char *path)
{
	return json_load_file(path, 0, NULL);
}

/* The tracer's updated_ns in report r; 0 when none. */
static long long report_updated(json_t *r)
{
	return json_integer_value(json_object_get(json_object_get(r, "tracer"), "updated_ns"));
}

/* Ask the tracer writing db for a fresh report: it is signalled (SIGUSR1)
 * only when its state file names a live process with the same start time
 * (a pid reused since is never signalled). Returns the report (fresh, or
 * the last one with a "note" when the tracer did not answer within
 * wait_s), or NULL when no tracer runs for db. */
static json_t *tracer_ask(const char *db, double wait_s)
{
	char path[4200], note[160];
	json_t *r, *fresh;
	json_t *tr;
	long long before;
	uint64_t deadline;
	int pid;

	run_cover_path(db, path, sizeof(path));
	r = state_read(path);
	tr = json_object_get(r, "tracer");
	pid = (int)json_integer_value(json_object_get(tr, "pid"));
	if (!r || pid <= 0 || procfs_start_ticks(pid) == 0 ||
	    procfs_start_ticks(pid) != (unsigned long long)json_integer_value(json_object_get(tr, "start_ticks"))) {
		json_decref(r);
		return NULL;
	}
	before = report_updated(r);
	if (kill(pid, SIGUSR1)) {
		snprintf(note, sizeof(note), "could not ask the tracer for a fresh report (%s): "
			 "this one is %.0f s old", strerror(errno), (real_ns() - before) / 1e9);
		json_object_set_new(r, "note", json_string(note));
		return r;
	}
	deadline = mono_ns() + (uint64_t)(wait_s * 1e9);
	while (mono_ns() < deadline) {
		usleep(50000);
		fresh = state_read(path);
		if (fresh && report_updated(fresh) != before) {
			json_decref(r);
			return fresh;
		}
		json_decref(fresh);
	}
	snprintf(note, sizeof(note), "the tracer did not answer within %.0f s: this report is %.0f s old",
		 wait_s, (real_ns() - before) / 1e9);
	json_object_set_new(r, "note", json_string(note));
	return r;
}

/* Look for ourselves, as `run` would attach. Returns the report or NULL
 * (message printed). */
static json_t *own_scan(void)
{
	struct cover_opts o = { .self = getpid() };
	struct cover_summary sum;
	struct attach *a;
	json_t *r;

	if (attach_new_dry(&a)) {
		fprintf(stderr, "llmtap: out of memory\n");
		return NULL;
	}
	attach_host(a);
	r = cover_scan(a, NULL, &o, &sum);
	attach_free(a);
	if (r)
		json_object_set_new(r, "source", json_string("scan"));
	return r;
}

/* How a process is hooked, in one line: its hooked files, else why not. */
static void how_print(json_t *p)
{
	json_t *h = json_object_get(p, "hooked"), *f;
	const char *why = json_string_value(json_object_get(p, "reason"));
	size_t i;

	if (why && strcmp(json_string_value(json_object_get(p, "status")), "covered")) {
		printf("%s", why);
		return;
	}
	json_array_foreach(h, i, f)
		printf("%s%s %s (%s)", i ? "; " : "", json_string_value(json_object_get(f, "kind")),
		       json_string_value(json_object_get(f, "path")),
		       json_string_value(json_object_get(f, "method")));
	if (!json_array_size(h))
		printf("-");
}

/* The report as a table, with a heading saying where it comes from. */
static void report_print(json_t *r)
{
	json_t *procs = json_object_get(r, "processes"), *sum = json_object_get(r, "summary");
	json_t *tr = json_object_get(r, "tracer"), *p, *c;
	const char *note = json_string_value(json_object_get(r, "note"));
	size_t i;

	if (tr)
		printf("report of the tracer (pid %lld, database %s)\n",
		       json_integer_value(json_object_get(tr, "pid")),
		       json_string_value(json_object_get(tr, "db")));
	else
		printf("no tracer runs for this database: looked for myself; \"covered\" means "
		       "`llmtap run` would hook it\n");
	if (note)
		printf("note: %s\n", note);
	printf("%lld process(es) with TLS connections to other hosts: %lld covered, %lld not seen, "
	       "%lld partly seen, %lld pending; %lld unseen TLS connection(s)\n",
	       json_integer_value(json_object_get(sum, "processes")),
	       json_integer_value(json_object_get(sum, "covered")),
	       json_integer_value(json_object_get(sum, "uncovered")),
	       json_integer_value(json_object_get(sum, "partial")),
	       json_integer_value(json_object_get(sum, "pending")),
	       json_integer_value(json_object_get(sum, "unseen_connections")));
	if (!json_array_size(procs))
		return;
	printf("\n%-8s %-15s %-10s %4s %5s %4s %6s  %s\n", "PID", "COMM", "STATUS", "TLS", "PLAIN",
	       "SEEN", "UNSEEN", "HOOKED, OR WHY NOT");
	json_array_foreach(procs, i, p) {
		c = json_object_get(p, "connections");
		printf("%-8lld %-15.15s %-10s %4lld %5lld %4lld %6lld  ",
		       json_integer_value(json_object_get(p, "pid")),
		       json_string_value(json_object_get(p, "comm")),
		       json_string_value(json_object_get(p, "status")),
		       json_integer_value(json_object_get(c, "tls")) +
		       json_integer_value(json_object_get(c, "unknown")),
		       json_integer_value(json_object_get(c, "plain")),
		       json_integer_value(json_object_get(c, "seen")),
		       json_integer_value(json_object_get(c, "unseen")));
		how_print(p);
		printf("\n");
	}
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "scan", no_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = cli_default_db();
	int json = 0, scan = 0, opt;
	double wait_s = 5;
	json_t *r = NULL;
	char *end;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 's': scan = 1; break;
		case 'w':
			wait_s = strtod(optarg, &end);
			if (end == optarg || *end || wait_s < 0 || wait_s > 600) {
				fprintf(stderr, "llmtap: bad --wait value '%s' (seconds, 0 to 600)\n", optarg);
				return 2;
			}
			break;
		case 'h': fputs(usage_doctor, stdout); return 0;
		default: fputs(usage_doctor, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmtap: doctor: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "llmtap: doctor needs root (it reads other processes' sockets and maps)\n");
		return 1;
	}
	if (!scan)
		r = tracer_ask(db, wait_s);
	if (!r)
		r = own_scan();
	if (!r)
		return 1;
	if (json) {
		cli_json_print(json_incref(r));
	} else {
		report_print(r);
	}
	json_decref(r);
	return 0;
}

/* runs.c -- `llmtap runs`: agent runs one per line, one run as a tree of its steps (timing, tokens, cost, tool arguments, the execs under each tool), or as a compact YAML card. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "db/query.h"
#include "db/store.h"

#define TREE_DEPTH_MAX 8	/* sub-runs shown this deep */
#define STEP_SHOWN 44		/* bytes of a step's model, or tool name and arguments */
#define ARGV_SHOWN 100		/* bytes of an exec's command line in the tree */
#define BAR_WIDTH 24		/* the timeline column */
#define CARD_STEPS 16		/* steps listed whole on a card */
#define CARD_TOP 3		/* costliest calls and tools named on a card */

/* `llmtap runs --help` */
static const char usage_runs[] =
	"usage: llmtap runs [--db PATH] [--json] [--since DURATION|TIME] [--limit N] [-p PID] [--agent NAME]\n"
	"       llmtap runs [--db PATH] [--json | --card] ID\n"
	"List agent runs (oldest first, sub-runs under their parent), or show one run (ID or a\n"
	"unique prefix): its steps with timing, tokens and cost, and the processes each tool ran.\n"
	"--card prints a compact YAML summary of the run.\n";

/* ---- reading ---- */

/* Parse the JSON text of column key of o into a value in place (flags,
 * flag_info, execs); a value that does not parse stays text. */
static void json_parse_col(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key), *p;

	if (!json_is_string(v))
		return;
	p = json_loads(json_string_value(v), 0, NULL);
	if (p)
		json_object_set_new(o, key, p);
}

/* Every row of q as JSON objects (flags and execs parsed); NULL on error. */
static json_t *rows_read(struct query *q)
{
	json_t *a = json_array(), *o;
	int rc;

	while ((rc = query_step(q)) == 1) {
		o = cli_row_to_json(q);
		json_parse_col(o, "flags");
		json_parse_col(o, "flag_info");
		json_parse_col(o, "execs");
		json_array_append_new(a, o);
	}
	if (rc) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* The steps of run id as a JSON array (empty when none or on error). */
static json_t *steps_of(struct store *s, const char *id)
{
	struct query *q;
	json_t *a = NULL;

	if (!query_run_steps(&q, s, id)) {
		a = rows_read(q);
		query_close(q);
	}
	return a ? a : json_array();
}

/* The child runs of id, each with "steps" and its own "children" (depth-limited). */
static json_t *children_of(struct store *s, const char *id, int depth)
{
	struct query *q;
	json_t *a = NULL, *c;
	size_t i;

	if (depth < TREE_DEPTH_MAX && !query_run_children(&q, s, id)) {
		a = rows_read(q);
		query_close(q);
	}
	if (!a)
		return json_array();
	json_array_foreach(a, i, c) {
		const char *cid = json_string_value(json_object_get(c, "id"));

		json_object_set_new(c, "steps", steps_of(s, cid ? cid : ""));
		json_object_set_new(c, "children", children_of(s, cid ? cid : "", depth + 1));
	}
	return a;
}

/* ---- small formatting helpers ---- */

/* Key k of o as an integer (0 when absent or null). */
static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Key k of o as a number (0 when absent or null). */
static double jnum(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* Key k of o as a string; dflt when absent or not a string. */
static const char *jstr(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : dflt;
}

/* 1 when key of o is there and not null. */
static int jhas(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return v && !json_is_null(v);
}

/* A duration in ms as "850ms", "12.3s", "4m12s", "1h02m". */
static const char *fmt_dur(double ms, char *out, size_t n)
{
	if (ms < 0)
		snprintf(out, n, "-");
	else if (ms < 1000)
		snprintf(out, n, "%.0fms", ms);
	else if (ms < 60000)
		snprintf(out, n, "%.1fs", ms / 1000);
	else if (ms < 3600000)
		snprintf(out, n, "%dm%02ds", (int)(ms / 60000), (int)(ms / 1000) % 60);
	else
		snprintf(out, n, "%dh%02dm", (int)(ms / 3600000), (int)(ms / 60000) % 60);
	return out;
}

/* A cost as "$0.0123" ("-" when unknown). */
static const char *fmt_cost(json_t *o, const char *k, char *out, size_t n)
{
	if (!jhas(o, k))
		snprintf(out, n, "-");
	else
		snprintf(out, n, "$%.*f", jnum(o, k) < 0.01 ? 6 : 4, jnum(o, k));
	return out;
}

/* The flags array as "a,b" ("-" when none). */
static const char *fmt_flags(json_t *o, char *out, size_t n)
{
	json_t *f = json_object_get(o, "flags"), *v;
	size_t i, len = 0;

	out[0] = 0;
	json_array_foreach(f, i, v)
		len += snprintf(out + len, len < n ? n - len : 0, "%s%s", i ? "," : "",
				json_string_value(v) ? json_string_value(v) : "?");
	if (!out[0])
		snprintf(out, n, "-");
	return out;
}

/* s cut to max bytes (an ellipsis marks the cut, UTF-8 kept whole). */
static void print_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max) {
		fputs(s, stdout);
		return;
	}
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	printf("%.*s...", (int)max, s);
}

/* Cut s in place to at most max bytes, "..." marking a cut (UTF-8 kept whole). */
static void cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max || max < 4)
		return;
	n = max - 3;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(s + n, "...", 4);
}

/* Bytes of s beyond its characters (what a %-*s width must add for UTF-8). */
static int utf8_extra(const char *s)
{
	int extra = 0;

	for (; *s; s++)
		extra += ((unsigned char)*s & 0xc0) == 0x80;
	return extra;
}

/* The wall time of a run in ms (end - start; start when unknown). */
static double run_wall_ms(json_t *r)
{
	return jhas(r, "end_ns") ? (jint(r, "end_ns") - jint(r, "start_ns")) / 1e6 : 0;
}

/* ---- the list ---- */

/* One line of the list; depth indents a sub-run. */
static void list_line(json_t *r, int depth)
{
	char t[32], w[32], c[32], fl[256], agent[64];

	cli_fmt_time(jint(r, "start_ns"), t, sizeof(t));
	snprintf(agent, sizeof(agent), "%*s%s%s", depth * 2, "", depth ? "\u2514 " : "", jstr(r, "agent", jstr(r, "comm", "?")));
	printf("%-36s %-14s %-22s %7lld %7s %5lld %5lld %8lld %7lld %10s %-11s %s\n", jstr(r, "id", ""), t, agent,
	       (long long)jint(r, "pid"), fmt_dur(run_wall_ms(r), w, sizeof(w)), (long long)jint(r, "llm_calls"),
	       (long long)jint(r, "tool_calls"), (long long)jint(r, "input_tokens"),
	       (long long)jint(r, "output_tokens"), fmt_cost(r, "cost_usd", c, sizeof(c)),
	       jstr(r, "state", "-"), fmt_flags(r, fl, sizeof(fl)));
}

/* Print run i of rows and, under it, its sub-runs in the list (depth-first). */
static void list_tree(json_t *rows, size_t i, char *done, int depth)
{
	const char *id = jstr(json_array_get(rows, i), "id", "");
	json_t *r;
	size_t k;

	done[i] = 1;
	list_line(json_array_get(rows, i), depth);
	json_array_foreach(rows, k, r)
		if (!done[k] && depth < TREE_DEPTH_MAX && !strcmp(jstr(r, "parent_run_id", ""), id))
			list_tree(rows, k, done, depth + 1);
}

/* `llmtap runs` without an id. */
static int runs_list(struct store *s, const struct query_runs_filter *f, int json)
{
	struct query *q;
	json_t *rows, *r;
	char *done;
	size_t i;
	int rc = query_runs(&q, s, f);

	if (rc > 0)
		return 0;	/* a database from before runs: none */
	if (rc < 0 || !(rows = rows_read(q))) {
		log_warn("database: %s", store_errmsg(s));
		query_close(q);
		return 1;
	}
	query_close(q);
	if (json) {
		json_array_foreach(rows, i, r)
			cli_json_print(json_incref(r));
		json_decref(rows);
		return 0;
	}
	printf("%-36s %-14s %-22s %7s %7s %5s %5s %8s %7s %10s %-11s %s\n", "ID", "START", "AGENT", "PID", "WALL",
	       "CALLS", "TOOLS", "IN", "OUT", "COST", "STATE", "FLAGS");
	done = calloc(json_array_size(rows) + 1, 1);
	/* top-level runs (and runs whose parent is not listed) lead their trees */
	json_array_foreach(rows, i, r) {
		const char *p = jstr(r, "parent_run_id", NULL);
		json_t *o;
		size_t k;
		int listed = 0;

		json_array_foreach(rows, k, o)
			listed |= p && !strcmp(jstr(o, "id", ""), p);
		if (done && !done[i] && !listed)
			list_tree(rows, i, done, 0);
	}
	free(done);
	json_decref(rows);
	return 0;
}

/* ---- one run ---- */

/* An exec's argv as one line (arguments with spaces quoted). */
static void argv_line(json_t *argv, char *out, size_t n)
{
	size_t i, len = 0;
	json_t *v;

	out[0] = 0;
	json_array_foreach(argv, i, v) {
		const char *a = json_string_value(v) ? json_string_value(v) : "";
		int q = !*a || strpbrk(a, " \t\n'\"$;&|<>") != NULL;

		len += snprintf(out + len, len < n ? n - len : 0, "%s%s%s%s", i ? " " : "", q ? "'" : "", a, q ? "'" : "");
		if (len >= n)
			break;
	}
	for (i = 0; out[i]; i++)
		if (out[i] == '\n' || out[i] == '\t')
			out[i] = ' ';
}

/* The timeline bar of [start, end] within [t0, t0 + wall]. */
static void bar(int64_t t0, double wall_ms, int64_t start, int64_t end)
{
	int a, b, i;

	if (wall_ms <= 0)
		wall_ms = 1;
	a = (int)((start - t0) / 1e6 / wall_ms * BAR_WIDTH);
	b = (int)((end - t0) / 1e6 / wall_ms * BAR_WIDTH + 0.999);
	if (a < 0)
		a = 0;
	if (a >= BAR_WIDTH)
		a = BAR_WIDTH - 1;
	if (b <= a)
		b = a + 1;
	if (b > BAR_WIDTH)
		b = BAR_WIDTH;
	putchar('|');
	for (i = 0; i < BAR_WIDTH; i++)
		fputs(i >= a && i < b ? "\u2588" : " ", stdout);
	putchar('|');
}

static void print_run(json_t *run, int depth);

/* One step of the tree, its execs under a tool, and the sub-runs started under it. */
static void print_step(json_t *run, json_t *st, int depth)
{
	int64_t t0 = jint(run, "start_ns"), start = jint(st, "start_ns");
	int64_t end = jhas(st, "end_ns") ? jint(st, "end_ns") : jint(run, "end_ns");
	double wall = run_wall_ms(run), ms = (end - start) / 1e6;
	int tool = !strcmp(jstr(st, "kind", ""), "tool");
	char d[32], c[32], tok[48], line[512], at[32];

	json_t *e, *ch;
	size_t i;

	snprintf(at, sizeof(at), "+%.3f", (start - t0) / 1e9);
	snprintf(tok, sizeof(tok), "%s", "");
	if (!tool && (jhas(st, "input_tokens") || jhas(st, "output_tokens")))
		snprintf(tok, sizeof(tok), "%lld/%lld", (long long)jint(st, "input_tokens"),
			 (long long)jint(st, "output_tokens"));
	printf("%*s%4lld %8s %7s %-5s ", depth * 4, "", (long long)jint(st, "seq"), at,
	       jhas(st, "end_ns") ? fmt_dur(ms, d, sizeof(d)) : "running", tool ? "tool" : "llm");
	if (tool) {
		snprintf(line, sizeof(line), "%s %s", jstr(st, "tool_name", "?"), jstr(st, "arguments", ""));
		cut(line, STEP_SHOWN);
		printf("%-*s %13s %10s %-10s ", STEP_SHOWN + utf8_extra(line), line, jhas(st, "exit_code") ?
		       (snprintf(tok, sizeof(tok), "exit %lld", (long long)jint(st, "exit_code")), tok) : "", "",
		       jstr(st, "status", "-"));
	} else {
		printf("%-*.*s %13s %10s %-10s ", STEP_SHOWN, STEP_SHOWN, jstr(st, "model", "?"), tok,
		       fmt_cost(st, "cost_usd", c, sizeof(c)), jstr(st, "status", "-"));
	}
	bar(t0, wall, start, end);
	printf(" %3.0f%%\n", wall > 0 ? 100.0 * ms / wall : 0);
	if (!tool && jhas(st, "error"))
		printf("%*s      error: %s\n", depth * 4, "", jstr(st, "error", ""));
	json_array_foreach(json_object_get(st, "execs"), i, e) {
		char ex[32], cpu[32];

		argv_line(json_object_get(e, "argv"), line, sizeof(line));
		if (json_array_size(json_object_get(e, "last_argv"))) {
			size_t k = strlen(line);

			snprintf(line + k, sizeof(line) - k, " \u21d2 ");
			k = strlen(line);
			argv_line(json_object_get(e, "last_argv"), line + k, sizeof(line) - k);
		}
		snprintf(ex, sizeof(ex), jhas(e, "exit_code") ? "exit %lld" : "running", (long long)jint(e, "exit_code"));
		if (jhas(e, "exit_signal") && jint(e, "exit_signal"))
			snprintf(ex, sizeof(ex), "signal %lld", (long long)jint(e, "exit_signal"));
		snprintf(cpu, sizeof(cpu), "cpu %.0fms", jnum(e, "cpu_ms"));
		printf("%*s        %s pid %-7lld %-9s %-10s %8s  ", depth * 4, "",
		       json_is_true(json_object_get(e, "command")) ? "\u25b6" : "\u2502", (long long)jint(e, "pid"), ex,
		       cpu, jhas(e, "duration_ms") ? fmt_dur(jnum(e, "duration_ms"), d, sizeof(d)) : "-");
		print_cut(line, ARGV_SHOWN);
		putchar('\n');
	}
	json_array_foreach(json_object_get(run, "children"), i, ch)
		if (jhas(ch, "parent_seq") && jint(ch, "parent_seq") == jint(st, "seq"))
			print_run(ch, depth + 1);
}

/* Sums over a run and its sub-runs. */
static void totals(json_t *run, double *cost, int64_t *in, int64_t *out, int64_t *calls)
{
	json_t *ch;
	size_t i;

	*cost += jnum(run, "cost_usd");
	*in += jint(run, "input_tokens");
	*out += jint(run, "output_tokens");
	*calls += jint(run, "llm_calls");
	json_array_foreach(json_object_get(run, "children"), i, ch)
		totals(ch, cost, in, out, calls);
}

/* A run's header, its steps, and its sub-runs (under the step they ran in). */
static void print_run(json_t *run, int depth)
{
	char t[32], w[32], l[32], tl[32], c[32], fl[256];
	double wall = run_wall_ms(run);
	json_t *st, *ch, *info;
	size_t i;
	int ind = depth * 4;

	cli_fmt_time(jint(run, "start_ns"), t, sizeof(t));
	printf("%*s%srun %s  %s (pid %lld, %s)  %s\n", ind, "", depth ? "\u2514 sub-" : "", jstr(run, "id", ""),
	       jstr(run, "agent", "?"), (long long)jint(run, "pid"), jstr(run, "comm", "?"), jstr(run, "state", "-"));
	printf("%*s  started %s   wall %s   llm %s (%.0f%%)   tools %s (%.0f%%)\n", ind, "", t,
	       fmt_dur(wall, w, sizeof(w)), fmt_dur(jnum(run, "llm_ms"), l, sizeof(l)),
	       wall > 0 ? 100 * jnum(run, "llm_ms") / wall : 0, fmt_dur(jnum(run, "tool_ms"), tl, sizeof(tl)),
	       wall > 0 ? 100 * jnum(run, "tool_ms") / wall : 0);
	printf("%*s  %lld llm call(s), %lld tool call(s), %lld error(s)   tokens in %lld out %lld (cache read %lld)"
	       "   cost %s\n", ind, "", (long long)jint(run, "llm_calls"), (long long)jint(run, "tool_calls"),
	       (long long)jint(run, "errors"), (long long)jint(run, "input_tokens"),
	       (long long)jint(run, "output_tokens"), (long long)jint(run, "cache_read_tokens"),
	       fmt_cost(run, "cost_usd", c, sizeof(c)));
	if (jhas(run, "model"))
		printf("%*s  model %s (%s)%s%s\n", ind, "", jstr(run, "model", "?"), jstr(run, "provider", "?"),
		       jhas(run, "max_input_tokens") ? ", biggest context " : "",
		       jhas(run, "max_input_tokens") ? (snprintf(w, sizeof(w), "%lld tokens",
								  (long long)jint(run, "max_input_tokens")), w) : "");
	if (!depth && jhas(run, "parent_run_id"))
		printf("  sub-run of %s (its step %lld)\n", jstr(run, "parent_run_id", ""), (long long)jint(run, "parent_seq"));
	info = json_object_get(run, "flag_info");
	if (json_array_size(json_object_get(run, "flags"))) {
		char *d = info ? json_dumps(info, JSON_COMPACT) : NULL;

		printf("%*s  flags: %s  %s\n", ind, "", fmt_flags(run, fl, sizeof(fl)), d ? d : "");
		free(d);
	}
	putchar('\n');
	if (!depth)
		printf("%4s %8s %7s %-5s %-*s %13s %10s %-10s %-*s %4s\n", "SEQ", "AT", "TIME", "KIND", STEP_SHOWN, "STEP",
		       "IN/OUT", "COST", "STATUS", BAR_WIDTH + 2, "TIMELINE", "WALL");
	json_array_foreach(json_object_get(run, "steps"), i, st)
		print_step(run, st, depth);
	/* sub-runs not under a step of this run */
	json_array_foreach(json_object_get(run, "children"), i, ch)
		if (!jhas(ch, "parent_seq"))
			print_run(ch, depth + 1);
	if (depth)
		putchar('\n');
}

/* ---- the card ---- */

/* A YAML scalar: a JSON-quoted string (valid YAML). */
static void yq(const char *s)
{
	json_t *v = json_string(s ? s : "");
	char *d = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

	fputs(d ? d : "\"\"", stdout);
	free(d);
	json_decref(v);
}

/* Compare steps by cost, most first (qsort over json_t pointers). */
static int by_cost(const void *a, const void *b)
{
	double x = jnum(*(json_t *const *)a, "cost_usd"), y = jnum(*(json_t *const *)b, "cost_usd");

	return x < y ? 1 : x > y ? -1 : 0;
}

/* One step of a card as a short line. */
static void card_step(json_t *st)
{
	char line[256], d[32], c[32];
	double ms = jhas(st, "duration_ms") ? jnum(st, "duration_ms") : -1;

	if (!strcmp(jstr(st, "kind", ""), "tool")) {
		const char *cmd = jstr(st, "command", NULL);

		snprintf(line, sizeof(line), "%lld tool %s %s %s%s%s%.60s", (long long)jint(st, "seq"),
			 jstr(st, "tool_name", "?"), fmt_dur(ms, d, sizeof(d)), jstr(st, "status", "-"),
			 jhas(st, "exit_code") ? (snprintf(c, sizeof(c), " exit=%lld", (long long)jint(st, "exit_code")), c) : "",
			 cmd ? " $ " : " ", cmd ? cmd : jstr(st, "arguments", ""));
	} else {
		snprintf(line, sizeof(line), "%lld llm %s %s in=%lld out=%lld %s%s", (long long)jint(st, "seq"),
			 jstr(st, "model", "?"), fmt_dur(ms, d, sizeof(d)), (long long)jint(st, "input_tokens"),
			 (long long)jint(st, "output_tokens"), fmt_cost(st, "cost_usd", c, sizeof(c)),
			 strcmp(jstr(st, "status", "ok"), "ok") ? " error" : "");
	}
	printf("  - ");
	yq(line);
	putchar('\n');
}

/* `llmtap runs ID --card`: the run in about 1.5 kB of YAML. */
static void print_card(json_t *run)
{
	json_t *steps = json_object_get(run, "steps"), *st, *v, **llm, *ch, *names = json_object(), *t;
	size_t i, n = json_array_size(steps), nllm = 0, k;
	double cost = 0, wall = run_wall_ms(run);
	int64_t in = 0, out = 0, calls = 0, execs = 0, unanswered = 0, failed = 0;
	char ts[32];
	time_t secs = jint(run, "start_ns") / 1000000000;
	const char *key;
	char *d;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&secs));
	printf("# llmtap run card\nrun: %s\nagent: ", jstr(run, "id", ""));
	yq(jstr(run, "agent", "?"));
	printf("\npid: %lld\nstate: %s\nmodel: ", (long long)jint(run, "pid"), jstr(run, "state", "-"));
	yq(jstr(run, "model", ""));
	printf("\nstarted: %s\nwall_s: %.2f\n", ts, wall / 1000);
	if (jhas(run, "parent_run_id"))
		printf("parent_run: %s\n", jstr(run, "parent_run_id", ""));
	llm = calloc(n + 1, sizeof(*llm));
	json_array_foreach(steps, i, st) {
		if (strcmp(jstr(st, "kind", ""), "tool")) {
			if (llm)
				llm[nllm++] = st;
			continue;
		}
		execs += json_array_size(json_object_get(st, "execs"));
		unanswered += !strcmp(jstr(st, "status", ""), "unanswered");
		failed += !strcmp(jstr(st, "status", ""), "error");
		t = json_object_get(names, jstr(st, "tool_name", "?"));
		if (!t)
			json_object_set_new(names, jstr(st, "tool_name", "?"), t = json_pack("{s:i,s:f}", "calls", 0, "ms", 0.0));
		json_object_set_new(t, "calls", json_integer(jint(t, "calls") + 1));
		json_object_set_new(t, "ms", json_real(jnum(t, "ms") + (jhas(st, "duration_ms") ? jnum(st, "duration_ms") : 0)));
	}
	printf("llm: {calls: %lld, s: %.2f, input_tokens: %lld, output_tokens: %lld, cache_read_tokens: %lld, errors: %lld}\n",
	       (long long)jint(run, "llm_calls"), jnum(run, "llm_ms") / 1000, (long long)jint(run, "input_tokens"),
	       (long long)jint(run, "output_tokens"), (long long)jint(run, "cache_read_tokens"),
	       (long long)jint(run, "errors"));
	printf("tools: {calls: %lld, s: %.2f, failed: %lld, unanswered: %lld, execs: %lld}\n",
	       (long long)jint(run, "tool_calls"), jnum(run, "tool_ms") / 1000, (long long)failed,
	       (long long)unanswered, (long long)execs);
	totals(run, &cost, &in, &out, &calls);
	printf("cost_usd: %.6f\n", jnum(run, "cost_usd"));
	if (json_array_size(json_object_get(run, "children")))
		printf("with_sub_runs: {cost_usd: %.6f, llm_calls: %lld, input_tokens: %lld, output_tokens: %lld}\n",
		       cost, (long long)calls, (long long)in, (long long)out);
	printf("flags: [");
	json_array_foreach(json_object_get(run, "flags"), i, v)
		printf("%s%s", i ? ", " : "", json_string_value(v) ? json_string_value(v) : "?");
	printf("]\n");
	if (json_object_size(json_object_get(run, "flag_info"))) {
		printf("flag_details:\n");
		json_object_foreach(json_object_get(run, "flag_info"), key, v) {
			d = json_dumps(v, JSON_COMPACT);
			printf("  %s: %s\n", key, d ? d : "{}");
			free(d);
		}
	}
	/* the costliest calls: what drove the cost */
	if (llm && nllm) {
		qsort(llm, nllm, sizeof(*llm), by_cost);
		printf("top_cost:\n");
		for (k = 0; k < nllm && k < CARD_TOP && jhas(llm[k], "cost_usd"); k++)
			printf("  - {seq: %lld, input_tokens: %lld, output_tokens: %lld, cost_usd: %.6f, share: %.0f%%}\n",
			       (long long)jint(llm[k], "seq"), (long long)jint(llm[k], "input_tokens"),
			       (long long)jint(llm[k], "output_tokens"), jnum(llm[k], "cost_usd"),
			       jnum(run, "cost_usd") > 0 ? 100 * jnum(llm[k], "cost_usd") / jnum(run, "cost_usd") : 0);
	}
	if (json_object_size(names)) {
		printf("tool_time:\n");
		json_object_foreach(names, key, t) {
			printf("  - {tool: ");
			yq(key);
			printf(", calls: %lld, s: %.2f}\n", (long long)jint(t, "calls"), jnum(t, "ms") / 1000);
		}
	}
	printf("steps:\n");
	for (i = 0; i < n; i++) {
		if (n > CARD_STEPS && i == CARD_STEPS / 2) {
			printf("  - \"... %zu steps omitted ...\"\n", n - CARD_STEPS);
			i = n - CARD_STEPS / 2;
		}
		card_step(json_array_get(steps, i));
	}
	if (json_array_size(json_object_get(run, "children"))) {
		printf("sub_runs:\n");
		json_array_foreach(json_object_get(run, "children"), i, ch) {
			printf("  - {run: %s, agent: ", jstr(ch, "id", ""));
			yq(jstr(ch, "agent", "?"));
			printf(", under_step: %lld, llm_calls: %lld, tool_calls: %lld, cost_usd: %.6f, wall_s: %.2f}\n",
			       (long long)jint(ch, "parent_seq"), (long long)jint(ch, "llm_calls"),
			       (long long)jint(ch, "tool_calls"), jnum(ch, "cost_usd"), run_wall_ms(ch) / 1000);
		}
	}
	free(llm);
	json_decref(names);
}

/* `llmtap runs ID`: the run (prefix), its steps and sub-runs. */
static int runs_show(struct store *s, const char *id, int json, int card)
{
	struct query *q;
	json_t *rows, *run;
	int rc = query_runs_by_prefix(&q, s, id);

	if (rc > 0) {
		fprintf(stderr, "llmtap: no run with id '%s' (this database has no runs)\n", id);
		return 1;
	}
	if (rc < 0 || !(rows = rows_read(q))) {
		log_warn("database: %s", store_errmsg(s));
		query_close(q);
		return 1;
	}
	query_close(q);
	if (json_array_size(rows) != 1) {
		fprintf(stderr, json_array_size(rows) ? "llmtap: run id prefix '%s' is ambiguous\n" :
			"llmtap: no run with id '%s'\n", id);
		json_decref(rows);
		return 1;
	}
	run = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	json_object_set_new(run, "steps", steps_of(s, jstr(run, "id", "")));
	json_object_set_new(run, "children", children_of(s, jstr(run, "id", ""), 0));
	if (json)
		cli_json_print(json_incref(run));
	else if (card)
		print_card(run);
	else
		print_run(run, 0);
	json_decref(run);
	return 0;
}

int cmd_runs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "card", no_argument, NULL, 'c' },
		{ "limit", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "agent", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct query_runs_filter f = { .limit = 50 };
	const char *db = cli_default_db(), *id = NULL;
	int opt, json = 0, card = 0, rc;
	struct store *s;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db = optarg; break;
		case 'j': json = 1; break;
		case 'c': card = 1; break;
		case 'n':
			if (cli_parse_positive(optarg, "--limit", &f.limit))
				return 2;
			break;
		case 's':
			if (cli_parse_since(optarg, &f.since_ns)) {
				fprintf(stderr, "llmtap: bad --since value '%s' (10m, 2h, 2026-11-24T10:00:00)\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (cli_parse_positive(optarg, "-p/--pid", &f.pid))
				return 2;
			break;
		case 'a': f.agent = optarg; break;
		case 'h': fputs(usage_runs, stdout); return 0;
		default: fputs(usage_runs, stderr); return 2;
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "llmtap: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (card && (json || !id)) {
		fprintf(stderr, "llmtap: --card takes a run ID and no --json\n");
		return 2;
	}
	if (id && (strlen(id) > 64 || strpbrk(id, "%_"))) {
		fprintf(stderr, "llmtap: bad run id '%s'\n", id);
		return 2;
	}
	if (store_open(&s, db, 1))	/* says why not */
		return 1;
	rc = id ? runs_show(s, id, json, card) : runs_list(s, &f, json);
	store_close(s);
	return rc;
}

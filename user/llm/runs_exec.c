/* runs_exec.c -- the processes side of the run builder: each agent's process tree, the execs inside a tool step's window, agents' names from their argv.
 *
 * Processes rows come in any order (a process's row is written when it
 * exits or at the next CPU sample, so a child's often comes before its
 * parent's). An exec is placed when its chain of parents reaches an agent;
 * a chain that reaches a process not seen yet is tried again at each tick
 * (for ORPHAN_NS). A tool step's window runs from the end of the response
 * that asked for it to the start of the request that carried its result. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "llm/runs_int.h"

#define CHAIN_MAX 64	/* parents followed */

void rexec_free(struct rexec *e)
{
	free(e->argv);
	free(e->last_argv);
	e->argv = e->last_argv = NULL;
}

/* The process entry of pid, or NULL. */
static struct rproc *proc_find(struct runs *r, int64_t pid)
{
	struct htab_node *n = htab_find(&r->procs, (uint64_t)pid, 0);

	return n ? htab_entry(n, struct rproc, node) : NULL;
}

/* 1 when a started before (or at) b, within the start times' precision. */
static int started_by(int64_t a, int64_t b)
{
	return a == RN_NULL || b == RN_NULL || a <= b + START_SLACK_NS;
}

struct ragent *runs_exec_agent(struct runs *r, const struct rproc *p, int *unknown)
{
	const struct rproc *cur = p;
	struct ragent *a;
	struct rproc *up;
	int depth;

	*unknown = 0;
	for (depth = 0; depth < CHAIN_MAX; depth++) {
		if (cur->ppid == RN_NULL || cur->ppid <= 1 || cur->ppid == cur->pid)
			return NULL;
		a = runs_agent_find(r, cur->ppid, p->start_ns);
		if (a && started_by(a->start_ns, p->start_ns) && a->runs)
			return a;
		up = proc_find(r, cur->ppid);
		if (!up) {
			*unknown = 1;
			return NULL;
		}
		/* a parent that started after its child is another process (pid reuse) */
		if (!started_by(up->start_ns, cur->start_ns))
			return NULL;
		cur = up;
	}
	return NULL;
}

/* The arguments of a JSON argv joined by spaces; with squeeze, quotes and
 * backslashes dropped and runs of white space made one space. malloc'd. */
static char *argv_join(const char *argv_json, int squeeze)
{
	json_t *a = argv_json ? json_loads(argv_json, 0, NULL) : NULL, *v;
	struct buf b = { 0 };
	size_t i;
	char *out;

	json_array_foreach(a, i, v) {
		if (json_is_string(v) && ((i && buf_append(&b, " ", 1)) ||
					  buf_append(&b, json_string_value(v), json_string_length(v)))) {
			buf_free(&b);
			json_decref(a);
			return NULL;
		}
	}
	json_decref(a);
	out = buf_steal(&b);
	if (out && squeeze) {
		size_t o = 0;
		int space = 0;

		for (i = 0; out[i]; i++) {
			char c = out[i];

			if (c == '\'' || c == '"' || c == '\\')
				continue;
			if (c == ' ' || c == '\t' || c == '\n') {
				space = o > 0;
				continue;
			}
			if (space)
				out[o++] = ' ';
			space = 0;
			out[o++] = c;
		}
		out[o] = 0;
	}
	return out;
}

/* s with quotes and backslashes dropped, white space runs made one space. */
static char *squeeze(const char *s)
{
	json_t *one = json_string(s), *arr = json_array();
	char *dump, *out = NULL;

	if (one && arr && !json_array_append(arr, one) && (dump = json_dumps(arr, 0))) {
		out = argv_join(dump, 1);
		free(dump);
	}
	json_decref(one);
	json_decref(arr);
	return out;
}

int runs_argv_carries(const char *argv_json, const char *command)
{
	char *j, *sc;
	int yes;

	if (!argv_json || !command || !*command)
		return 0;
	j = argv_join(argv_json, 0);
	yes = j && strstr(j, command);
	free(j);
	if (yes)
		return 1;
	j = argv_join(argv_json, 1);
	sc = squeeze(command);
	yes = j && sc && *sc && strstr(j, sc);
	free(j);
	free(sc);
	return yes;
}

/* The step of run at seq, or NULL. */
static struct rstep *step_at(struct rrun *run, int64_t seq)
{
	return run && seq >= 0 && (size_t)seq >= run->base && (size_t)seq - run->base < run->nkept ?
	       run->steps[seq - run->base] : NULL;
}

/* The index of p's exec in step s, or -1. */
static int exec_index(const struct rstep *s, const struct rproc *p)
{
	size_t i;

	for (i = 0; i < s->nexecs; i++)
		if (s->execs[i].pid == p->pid && (s->execs[i].start_ns == RN_NULL || p->start_ns == RN_NULL ||
						  llabs(s->execs[i].start_ns - p->start_ns) <= START_SLACK_NS))
			return (int)i;
	return -1;
}

/* Copy p's row into exec e (for step s's command). Returns 1 when it changed. */
static int exec_fill(struct rexec *e, const struct rproc *p, const struct rstep *s)
{
	int changed = e->exit_ns != p->exit_ns || e->cpu_ms != p->cpu_ms || e->exit_code != p->exit_code ||
		      e->exit_signal != p->exit_signal;

	e->pid = p->pid;
	e->ppid = p->ppid;
	e->start_ns = p->start_ns;
	if (e->exec_ns == RN_NULL || p->exec_ns < e->exec_ns) {
		e->exec_ns = p->exec_ns;	/* its first exec in the step */
		changed = 1;
	}
	e->exit_ns = p->exit_ns;
	e->exit_code = p->exit_code;
	e->exit_signal = p->exit_signal;
	e->cpu_ms = p->cpu_ms;
	memcpy(e->comm, p->comm, sizeof(e->comm));
	memcpy(e->process_id, p->process_id, sizeof(e->process_id));
	if (p->argv && !e->argv) {
		e->argv = strdup(p->argv);
		e->carries = runs_argv_carries(e->argv, s->command);
		changed = 1;
	} else if (p->argv && strcmp(e->argv, p->argv) &&
		   (!e->last_argv || strcmp(e->last_argv, p->argv))) {
		/* it exec'd again: the first program (the wrapper that carries the
		 * command) stays, the last one is kept beside it */
		free(e->last_argv);
		e->last_argv = strdup(p->argv);
		e->carries |= runs_argv_carries(e->last_argv, s->command);
		changed = 1;
	}
	return changed;
}

/* Take p's exec out of the step it is in. */
static void exec_detach(struct rproc *p)
{
	struct rstep *s = step_at(p->run, p->seq);
	int i = s ? exec_index(s, p) : -1;

	if (i >= 0) {
		rexec_free(&s->execs[i]);
		memmove(&s->execs[i], &s->execs[i + 1], (s->nexecs - i - 1) * sizeof(*s->execs));
		s->nexecs--;
		runs_step_mark(p->run, s);
	}
	p->run = NULL;
	p->seq = 0;
}

/* Put p's exec into step s of run (or refresh it there). */
static void exec_attach(struct rproc *p, struct rrun *run, struct rstep *s)
{
	struct rexec *n;
	int i;

	if (p->run != run || p->seq != s->seq)
		exec_detach(p);
	i = exec_index(s, p);
	if (i < 0) {
		s->nexecs_all++;
		if (s->nexecs >= STEP_EXECS_MAX) {
			/* a build's thousands of processes: counted, not listed */
			runs_step_mark(run, s);
			p->run = run;
			p->seq = s->seq;
			return;
		}
		n = realloc(s->execs, (s->nexecs + 1) * sizeof(*n));
		if (!n)
			return;
		s->execs = n;
		i = (int)s->nexecs++;
		memset(&n[i], 0, sizeof(n[i]));
		n[i].exit_code = n[i].exit_signal = n[i].exit_ns = n[i].exec_ns = RN_NULL;
		s->dirty = 1;
	}
	if (exec_fill(&s->execs[i], p, s))
		s->dirty = 1;
	if (s->dirty)
		runs_step_mark(run, s);
	p->run = run;
	p->seq = s->seq;
}

/* 1 when the tool step s's window holds time t. */
static int in_window(const struct rstep *s, int64_t t)
{
	return s->tool && t >= s->start_ns && (s->end_ns == RN_NULL || t <= s->end_ns);
}

void runs_exec_place(struct runs *r, struct rproc *p)
{
	struct rstep *best = NULL, *s;
	struct rrun *brun = NULL, *run;
	struct ragent *a;
	struct rproc *parent;
	int unknown, carries, bcarries = 0;
	size_t i;

	if (p->exec_ns == RN_NULL)
		return;		/* a fork that never exec'd: no exec of its own */
	a = runs_exec_agent(r, p, &unknown);
	if (unknown && !p->orphan && r->norphans < RUNS_ORPHANS_MAX)
		r->orphans[r->norphans++] = p->pid;
	p->orphan = unknown;
	if (p->run)
		runs_touch(r, p->run->agent);
	if (!a) {
		if (p->run && !unknown)
			exec_detach(p);
		return;
	}
	runs_touch(r, a);
	/* the step its parent is an exec of (of the same agent: a sub-agent's
	 * tools are its own), when it holds the time too */
	parent = proc_find(r, p->ppid);
	if (parent && parent->run && parent->run->agent == a && (s = step_at(parent->run, parent->seq)) &&
	    in_window(s, p->exec_ns)) {
		exec_attach(p, parent->run, s);
		return;
	}
	for (run = a->runs; run; run = run->next) {
		for (i = run->nkept; i-- > 0;) {
			s = run->steps[i];
			if (!in_window(s, p->exec_ns))
				continue;
			carries = runs_argv_carries(p->argv, s->command);
			/* the one whose command it carries, else the latest window */
			if (!best || (carries && !bcarries) ||
			    (carries == bcarries && (s->start_ns > best->start_ns ||
						     (s->start_ns == best->start_ns && s->seq < best->seq)))) {
				best = s;
				brun = run;
				bcarries = carries;
			}
		}
	}
	if (best)
		exec_attach(p, brun, best);
	else if (p->run)
		exec_detach(p);
}

void runs_exec_adopt(struct runs *r, const struct rproc *p)
{
	int64_t kids[RUNS_ORPHANS_MAX];
	size_t i, k = 0, nkids = 0;
	struct rproc *c;

	/* take the children out first: placing one may note it again */
	for (i = 0; i < r->norphans; i++) {
		c = proc_find(r, r->orphans[i]);
		if (!c || !c->orphan)
			continue;	/* gone, or placed since */
		if (c->ppid == p->pid)
			kids[nkids++] = c->pid;
		else
			r->orphans[k++] = r->orphans[i];
	}
	r->norphans = k;
	for (i = 0; i < nkids; i++) {
		c = proc_find(r, kids[i]);
		if (c) {
			c->orphan = 0;
			runs_exec_place(r, c);
		}
	}
}

void runs_exec_scan(struct runs *r, struct rrun *run, struct rstep *s)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	(void)run;
	while ((n = htab_next(&r->procs, &it))) {
		struct rproc *p = htab_entry(n, struct rproc, node);

		if (p->exec_ns != RN_NULL && p->exec_ns >= s->start_ns)
			runs_exec_place(r, p);
	}
}

void runs_exec_trim(struct runs *r, struct rrun *run, struct rstep *s)
{
	size_t i = 0;

	while (i < s->nexecs) {
		struct rproc *p;

		if (s->execs[i].exec_ns <= s->end_ns) {
			i++;
			continue;
		}
		p = proc_find(r, s->execs[i].pid);
		if (p && p->run == run && p->seq == s->seq) {
			exec_detach(p);
			runs_exec_place(r, p);
		} else {
			rexec_free(&s->execs[i]);
			memmove(&s->execs[i], &s->execs[i + 1], (s->nexecs - i - 1) * sizeof(*s->execs));
			s->nexecs--;
		}
		runs_step_mark(run, s);
	}
}

void runs_exec_forget_run(struct runs *r, struct rrun *run)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	while ((n = htab_next(&r->procs, &it))) {
		struct rproc *p = htab_entry(n, struct rproc, node);

		if (p->run == run)
			p->run = NULL;
	}
}

/* Free one process entry. */
static void proc_drop(struct runs *r, struct rproc *p)
{
	htab_del(&r->procs, &p->node);
	free(p->argv);
	free(p);
}

void runs_exec_tick(struct runs *r)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;
	int64_t now = r->now_ns, oldest = INT64_MAX;
	int full = r->procs.count >= PROCS_MAX;

	while ((n = htab_next(&r->procs, &it))) {
		struct rproc *p = htab_entry(n, struct rproc, node);
		int young = p->exec_ns != RN_NULL && now - p->exec_ns < ORPHAN_NS;

		if (p->exit_ns != RN_NULL && now - p->exit_ns > PROC_KEEP_NS &&
		    !runs_agent_find(r, p->pid, RN_NULL)) {
			proc_drop(r, p);
			continue;
		}
		if (p->orphan && young)
			runs_exec_place(r, p);
		/* a running process outside every tool: its chain link is kept, not its argv */
		if (p->argv && !p->run && (p->exec_ns == RN_NULL || now - p->exec_ns > ARGV_KEEP_NS)) {
			free(p->argv);
			p->argv = NULL;
		}
		if (p->seen_ns < oldest)
			oldest = p->seen_ns;
	}
	if (!full)
		return;
	/* still full: the half least recently seen goes */
	oldest += (now - oldest) / 2;
	it = (struct htab_iter)HTAB_ITER_INIT;
	while ((n = htab_next(&r->procs, &it))) {
		struct rproc *p = htab_entry(n, struct rproc, node);

		if (p->seen_ns <= oldest && !p->run)
			proc_drop(r, p);
	}
}

void runs_exec_free_all(struct runs *r)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	while ((n = htab_next(&r->procs, &it)))
		proc_drop(r, htab_entry(n, struct rproc, node));
}

/* ---- agent names ---- */

/* 1 when a program name (a basename) is an interpreter running a script. */
static int interpreter(const char *b)
{
	static const char *const names[] = { "node", "nodejs", "bun", "deno", "python", "python2",
					     "python3", "ruby", "perl", "php", "sh", "bash", "dash",
					     "zsh", "tsx", "ts-node", "npx" };
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i]);
		/* python3.11, node20 */
		if (!strncmp(b, names[i], n) && (!b[n] || b[n] == '.' || (b[n] >= '0' && b[n] <= '9')))
			return 1;
	}
	return 0;
}

/* The name an npm package path gives ("/x/node_modules/@a/b/cli.js" -> "b"). */
static int package_name(const char *path, char *out, size_t n)
{
	const char *p = NULL, *q = path, *end;

	while ((q = strstr(q, "node_modules/"))) {
		p = q + 13;
		q = p;
	}
	if (!p || !*p)
		return 0;
	if (*p == '@') {
		p = strchr(p, '/');
		if (!p)
			return 0;
		p++;
	}
	end = p + strcspn(p, "/");
	if (end == p)
		return 0;
	if (!strncmp(p, ".bin/", 5)) {
		/* node_modules/.bin/NAME: the command's name */
		snprintf(out, n, "%s", p + 5);
		return out[0] != 0;
	}
	snprintf(out, n, "%.*s", (int)(end - p), p);
	return 1;
}

char *runs_agent_name(const char *comm, const char *argv_json, char *out, size_t n)
{
	json_t *a = argv_json ? json_loads(argv_json, 0, NULL) : NULL;
	const char *arg0, *b, *s;
	size_t i;

	snprintf(out, n, "%s", comm ? comm : "");
	arg0 = json_string_value(json_array_get(a, 0));
	b = arg0 ? strrchr(arg0, '/') : NULL;
	b = b ? b + 1 : arg0;
	if (!b || (!interpreter(b) && !(comm && interpreter(comm)))) {
		json_decref(a);
		return out;
	}
	for (i = 1; i < json_array_size(a); i++) {
		s = json_string_value(json_array_get(a, i));
		if (!s)
			break;
		if (!strcmp(s, "-m") && json_string_value(json_array_get(a, i + 1))) {
			snprintf(out, n, "%s", json_string_value(json_array_get(a, i + 1)));
			break;
		}
		if (!strcmp(s, "-c") || !strcmp(s, "-e") || !strcmp(s, "--eval"))
			break;	/* inline code: the interpreter is all there is */
		if (s[0] == '-')
			continue;
		if (!package_name(s, out, n)) {
			b = strrchr(s, '/');
			snprintf(out, n, "%s", b ? b + 1 : s);
		}
		break;
	}
	json_decref(a);
	return out;
}

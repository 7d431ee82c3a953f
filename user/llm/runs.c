/* runs.c -- pure run builder: which run each LLM call belongs to, its llm and tool steps, tool results matched to tool calls, runs ending and going idle.
 *
 * A run is one agent session of one process: its conversations (chains of
 * requests each extending the last one's messages), the side calls it makes
 * meanwhile (requests without tools), its tool calls and what its process
 * tree exec'd while they ran. A new conversation with tools starts a new run,
 * except while a tool call of the process is pending: then it is an
 * in-process sub-agent, a child run of that tool step. A process whose
 * ancestor has runs makes child runs of the ancestor's run. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include "llm/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/runs_int.h"
#include "llm/tools.h"

struct runs *runs_new(const struct row_sink *sink)
{
	struct runs *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (sink)
		r->sink = *sink;
	htab_init(&r->agents);
	htab_init(&r->procs);
	return r;
}

/* ---- steps ---- */

static void step_free(struct rstep *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nexecs; i++)
		rexec_free(&s->execs[i]);
	free(s->execs);
	free(s->model);
	free(s->error);
	free(s->name);
	free(s->id);
	free(s->args);
	free(s->command);
	free(s);
}

/* Past RUN_STEPS_KEPT steps, the oldest ones that can no longer change
 * (written, answered) leave memory: a process making calls for days is one
 * run, and its rows are in the database. What goes is a prefix, so the
 * kept steps stay seq base .. base + nkept - 1; an exec that comes later
 * for a step gone is not listed under it. */
static void steps_trim(struct rrun *run)
{
	size_t drop = 0, i;

	if (run->nkept < 2 * RUN_STEPS_KEPT)
		return;
	while (drop < run->nkept - RUN_STEPS_KEPT && drop < run->dfrom &&
	       !run->steps[drop]->open && !run->steps[drop]->dirty)
		drop++;
	if (!drop)
		return;
	for (i = 0; i < drop; i++)
		step_free(run->steps[i]);
	memmove(run->steps, run->steps + drop, (run->nkept - drop) * sizeof(*run->steps));
	run->nkept -= drop;
	run->base += drop;
	run->dfrom -= drop;
}

/* A new step at the end of run (seq in order). NULL on OOM. */
static struct rstep *step_add(struct rrun *run, int tool)
{
	struct rstep **n, *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	steps_trim(run);
	if (run->nkept == run->cap) {
		size_t cap = run->cap ? 2 * run->cap : 8;

		n = realloc(run->steps, cap * sizeof(*n));
		if (!n) {
			free(s);
			return NULL;
		}
		run->steps = n;
		run->cap = cap;
	}
	n = run->steps;
	s->seq = (int64_t)run->nsteps;
	s->tool = tool;
	s->end_ns = RN_NULL;
	s->parent_seq = RN_NULL;
	s->result_bytes = RN_NULL;
	s->in = s->out = s->ctx = RN_NULL;
	s->cost = -1;
	n[run->nkept++] = s;
	run->nsteps++;
	runs_step_mark(run, s);
	return s;
}

/* A copy of s or NULL (NULL stays NULL). */
static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- agents and runs ---- */

struct ragent *runs_agent_find(struct runs *r, int64_t pid, int64_t at_ns)
{
	struct htab_node *n = htab_find(&r->agents, (uint64_t)pid, 0);
	struct ragent *a = n ? htab_entry(n, struct ragent, node) : NULL;

	/* an agent that exited well before at_ns was another process (pid reuse) */
	if (a && a->exited && at_ns != RN_NULL && at_ns > a->exit_ns + RN_SEC)
		return NULL;
	return a;
}

/* The name and process id of agent a from its processes row, when seen. */
static void agent_refresh(struct runs *r, struct ragent *a)
{
	struct htab_node *n = htab_find(&r->procs, (uint64_t)a->pid, 0);
	struct rproc *p = n ? htab_entry(n, struct rproc, node) : NULL;
	char name[64];
	struct rrun *run;

	if (!p || (a->start_ns != RN_NULL && p->start_ns != RN_NULL &&
		   llabs(p->start_ns - a->start_ns) > START_SLACK_NS))
		return;
	runs_agent_name(p->comm[0] ? p->comm : a->comm, p->argv, name, sizeof(name));
	if (!p->argv && a->name[0])
		return;		/* keep what a fuller row said */
	if (strcmp(name, a->name) || strcmp(p->process_id, a->process_id)) {
		snprintf(a->name, sizeof(a->name), "%s", name);
		memcpy(a->process_id, p->process_id, sizeof(a->process_id));
		if (a->start_ns == RN_NULL)
			a->start_ns = p->start_ns;
		for (run = a->runs; run; run = run->next)
			run->dirty = 1;
		runs_touch(r, a);
	}
}

/* The agent of call c's process, created when new (or when the pid was reused). */
static struct ragent *agent_get(struct runs *r, const struct call_row *c)
{
	struct ragent *a = runs_agent_find(r, c->pid, c->start_ns);
	struct htab_node *old;

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->pid = c->pid;
	a->start_ns = RN_NULL;
	snprintf(a->comm, sizeof(a->comm), "%s", c->comm);
	snprintf(a->name, sizeof(a->name), "%s", c->comm);
	old = htab_find(&r->agents, (uint64_t)c->pid, 0);
	if (old) {
		runs_emit_dirty(r);	/* the old agent leaves the touched list */
		/* the old process's runs stay until they are forgotten, unreachable by pid */
		struct ragent *o = htab_entry(old, struct ragent, node);

		htab_del(&r->agents, old);
		while (o->runs) {
			struct rrun *run = o->runs;

			o->runs = run->next;
			runs_emit_run(r, run);
			runs_run_free(r, run);
		}
		free(o);
	}
	if (htab_add(&r->agents, &a->node, (uint64_t)c->pid, 0)) {
		free(a);
		return NULL;
	}
	agent_refresh(r, a);
	return a;
}

void runs_run_free(struct runs *r, struct rrun *run)
{
	struct rconv *c;
	size_t i;

	runs_exec_forget_run(r, run);
	while ((c = run->convs)) {
		run->convs = c->next;
		runs_conv_free(c);
	}
	for (i = 0; i < run->nkept; i++)
		step_free(run->steps[i]);
	free(run->steps);
	free(run->model);
	free(run->provider);
	free(run->sigs);
	free(run->loop_tool);
	free(run->loop_args);
	free(run);
}

/* The run of a that is active (running) and most recently so, or NULL. */
static struct rrun *agent_current(struct ragent *a)
{
	struct rrun *run, *best = NULL;

	for (run = a->runs; run; run = run->next)
		if (run->state == RS_RUNNING && (!best || run->last_ns > best->last_ns))
			best = run;
	return best;
}

/* The pending tool step of a's runs a call at t_ns most likely runs under:
 * the latest started (at or before t_ns), with the fewest child runs. */
static struct rstep *agent_pending(struct ragent *a, int64_t t_ns, struct rrun **out)
{
	struct rstep *best = NULL;
	struct rrun *run;
	struct rconv *c;
	size_t i;

	*out = NULL;
	for (run = a->runs; run; run = run->next) {
		for (c = run->convs; c; c = c->next) {
			for (i = 0; i < c->npending; i++) {
				struct rstep *s = c->pending[i];

				if (s->start_ns > t_ns + START_SLACK_NS)
					continue;
				if (!best || s->children < best->children ||
				    (s->children == best->children && s->start_ns > best->start_ns)) {
					best = s;
					*out = run;
				}
			}
		}
	}
	return best;
}

/* Set run's parent: the run of the nearest ancestor process with runs,
 * under its pending tool step when one is; parent_wait when the process's
 * parents are not known yet. */
static void run_find_parent(struct runs *r, struct rrun *run)
{
	struct htab_node *n = htab_find(&r->procs, (uint64_t)run->agent->pid, 0);
	struct rproc *p = n ? htab_entry(n, struct rproc, node) : NULL;
	struct ragent *pa;
	struct rrun *prun = NULL;
	struct rstep *ps;
	int unknown = 0;

	pa = p ? runs_exec_agent(r, p, &unknown) : NULL;
	run->parent_wait = !p || unknown;
	if (!pa)
		return;
	ps = agent_pending(pa, run->start_ns, &prun);
	if (!ps)
		prun = agent_current(pa) ? agent_current(pa) : pa->runs;
	if (!prun)
		return;
	memcpy(run->parent_id, prun->id, sizeof(run->parent_id));
	memcpy(run->root_id, prun->root_id, sizeof(run->root_id));
	run->parent_seq = ps ? ps->seq : RN_NULL;
	if (ps)
		ps->children++;
	run->parent_wait = 0;
	run->dirty = 1;
}

/* A new run of agent a starting with call c; its parent is the pending tool
 * step ps of prun when given, else found from the process tree. */
static struct rrun *run_new(struct runs *r, struct ragent *a, const struct call_row *c,
			    struct rrun *prun, struct rstep *ps)
{
	struct rrun *run = calloc(1, sizeof(*run)), *old, **pp;

	if (!run)
		return NULL;
	memcpy(run->id, c->id, sizeof(run->id));
	memcpy(run->root_id, c->id, sizeof(run->root_id));
	run->agent = a;
	run->parent_seq = RN_NULL;
	run->cost = -1;
	run->start_ns = run->end_ns = run->last_ns = c->start_ns;
	run->state = RS_RUNNING;
	run->dirty = 1;
	run->next = a->runs;
	a->runs = run;
	a->nruns++;
	if (prun) {
		memcpy(run->parent_id, prun->id, sizeof(run->parent_id));
		memcpy(run->root_id, prun->root_id, sizeof(run->root_id));
		run->parent_seq = ps->seq;
		ps->children++;
	} else {
		run_find_parent(r, run);
	}
	/* too many runs in memory for one process: the oldest not running goes */
	while (a->nruns > RUNS_PER_AGENT) {
		for (pp = &a->runs, old = NULL; *pp; pp = &(*pp)->next)
			if ((*pp)->state != RS_RUNNING || !(*pp)->next)
				old = *pp;
		if (!old || old == run)
			break;
		for (pp = &a->runs; *pp != old; pp = &(*pp)->next)
			;
		*pp = old->next;
		a->nruns--;
		runs_emit_run(r, old);
		runs_run_free(r, old);
	}
	return run;
}

/* The run a call of a new conversation belongs to (q: its request). */
static struct rrun *run_pick(struct runs *r, struct ragent *a, const struct tool_request *q,
			     const struct call_row *c)
{
	struct rrun *cur = agent_current(a), *prun;
	struct rstep *ps;

	if (q->parsed && q->has_tools) {
		ps = agent_pending(a, c->start_ns, &prun);
		if (ps)
			return run_new(r, a, c, prun, ps);	/* an in-process sub-agent */
		if (cur && !cur->has_tools)
			return cur;	/* its calls so far were side calls */
		return run_new(r, a, c, NULL, NULL);
	}
	/* a call without tools: a side call of the run going on */
	return cur ? cur : run_new(r, a, c, NULL, NULL);
}

/* The context size of call c: input tokens, with the cache reads and
 * writes Anthropic counts apart. RN_NULL when unknown. */
static int64_t call_ctx(const struct call_row *c)
{
	int64_t n = c->input_tokens;

	if (n == CALL_NULL_INT)
		return RN_NULL;
	if (c->provider && !strncmp(c->provider, "anthropic", 9)) {
		if (c->cache_read_tokens != CALL_NULL_INT)
			n += c->cache_read_tokens;
		if (c->cache_write_tokens != CALL_NULL_INT)
			n += c->cache_write_tokens;
	}
	return n;
}

/* Add call c as an llm step of run and count it. Returns the step or NULL. */
static struct rstep *run_add_call(struct rrun *run, const struct call_row *c, int64_t end_ns)
{
	struct rstep *s = step_add(run, 0);
	int failed = (c->status != CALL_NULL_INT && c->status >= 400) || c->error;

	if (!s)
		return NULL;
	memcpy(s->call_id, c->id, sizeof(s->call_id));
	s->start_ns = c->start_ns;
	s->end_ns = end_ns;
	s->status = failed ? "error" : "ok";
	s->model = dup_or_null(c->model);
	s->error = dup_or_null(c->error);
	s->in = c->input_tokens;
	s->out = c->output_tokens;
	s->ctx = call_ctx(c);
	s->cost = c->cost_usd;
	s->llm_ms = c->duration_ms >= 0 ? c->duration_ms : 0;
	run->llm_calls++;
	if (c->input_tokens != CALL_NULL_INT)
		run->in += c->input_tokens;
	if (c->output_tokens != CALL_NULL_INT)
		run->out += c->output_tokens;
	if (c->cache_read_tokens != CALL_NULL_INT)
		run->cache_r += c->cache_read_tokens;
	if (c->cache_write_tokens != CALL_NULL_INT)
		run->cache_w += c->cache_write_tokens;
	if (c->cost_usd >= 0)
		run->cost = (run->cost < 0 ? 0 : run->cost) + c->cost_usd;
	run->errors += failed;
	run->llm_ms += s->llm_ms;
	if (s->ctx != RN_NULL && s->ctx > run->max_ctx)
		run->max_ctx = s->ctx;
	if (c->request_bytes != CALL_NULL_INT && c->request_bytes > run->max_req_bytes)
		run->max_req_bytes = c->request_bytes;
	if (c->model) {
		free(run->model);
		run->model = strdup(c->model);
	}
	if (c->provider) {
		free(run->provider);
		run->provider = strdup(c->provider);
	}
	return s;
}

/* Add the tool calls of a response as tool steps (pending in conv cv),
 * asked by llm step ls, starting at the response's end. */
static void run_add_tools(struct runs *r, struct rrun *run, struct rconv *cv, struct rstep *ls,
			  const struct tool_response *resp, int64_t end_ns)
{
	struct rstep **np;
	size_t i;

	for (i = 0; i < resp->ncalls; i++) {
		const struct tool_call *tc = &resp->calls[i];
		struct rstep *s;

		if (cv) {
			np = realloc(cv->pending, (cv->npending + 1) * sizeof(*np));
			if (!np)
				return;
			cv->pending = np;
		}
		s = step_add(run, 1);
		if (!s)
			return;
		s->start_ns = end_ns;
		s->status = "running";
		s->open = 1;
		s->parent_seq = ls ? ls->seq : RN_NULL;
		/* a Gemini call has no id: its name stands for it */
		s->id = strdup(tc->id ? tc->id : tc->name);
		s->name = strdup(tc->name);
		s->args = strdup(tc->arguments);
		s->command = tools_command(tc->arguments);
		if (tc->id)
			tools_norm_id(tc->id, s->norm, sizeof(s->norm));
		run->tool_calls++;
		if (cv)
			cv->pending[cv->npending++] = s;
		runs_flags_tool(run, s);
		runs_exec_scan(r, run, s);
	}
}

void runs_on_call(struct runs *r, struct call_row *c)
{
	struct tool_request q;
	struct tool_response resp;
	struct ragent *a;
	struct rrun *run;
	struct rconv *cv;
	struct rstep *ls;
	size_t from, nmsgs;
	int compacted, by_id, matched;
	int64_t end_ns = c->start_ns + (c->duration_ms >= 0 ? (int64_t)(c->duration_ms * 1e6) : 0);

	if (end_ns > r->now_ns)
		r->now_ns = end_ns;
	a = agent_get(r, c);
	if (!a)
		return;
	tools_parse_request(&q, c->operation, c->request_body,
			    c->request_body ? strlen(c->request_body) : 0);
	tools_parse_response(&resp, c->operation, c->response_body,
			     c->response_body ? strlen(c->response_body) : 0);
	cv = runs_conv_match(a, &q, c->request_body, &from, &compacted);
	matched = cv != NULL;
	by_id = cv && q.previous_response_id && from == 0;
	run = cv ? cv->run : run_pick(r, a, &q, c);
	if (!run)
		goto out_clear;
	if (cv)
		runs_conv_answer(r, cv, &q, from, c);
	else if (q.parsed && (q.nmsgs || resp.ncalls))
		cv = runs_conv_new(run);
	nmsgs = q.nmsgs + (by_id && cv ? cv->nmsgs : 0);
	ls = run_add_call(run, c, end_ns);
	if (cv)
		runs_flags_call(r, run, cv, c, nmsgs, ls, matched, compacted);
	if (cv && (nmsgs > run->max_msgs))
		run->max_msgs = nmsgs;
	if (cv)
		runs_conv_update(cv, &q, &resp, c, by_id);
	run->has_tools |= q.has_tools;
	run_add_tools(r, run, cv, ls, &resp, end_ns);
	if (end_ns > run->last_ns)
		run->last_ns = end_ns;
	if (run->last_ns > run->end_ns)
		run->end_ns = run->last_ns;
	if (run->state == RS_IDLE)
		run->state = RS_RUNNING;
	run->dirty = 1;
	runs_flags_cost(r, run);
	memcpy(c->run_id, run->id, sizeof(c->run_id));
	runs_touch(r, a);
	/* its steps go with the call (a backlog filled meanwhile would drop
	 * them, not the call); the run's row once per flush */
	runs_emit_steps(r, run);
out_clear:
	tool_request_clear(&q);
	tool_response_clear(&resp);
}

void runs_flush(struct runs *r)
{
	if (r)
		runs_emit_dirty(r);
}

/* The process of agent a exited at exit_ns: its runs end, their pending
 * tool calls unanswered. */
static void agent_exit(struct runs *r, struct ragent *a, int64_t exit_ns)
{
	struct rrun *run;

	a->exited = 1;
	a->exit_ns = exit_ns;
	runs_touch(r, a);
	for (run = a->runs; run; run = run->next) {
		if (run->state == RS_ENDED)
			continue;
		runs_close_pending(r, run, exit_ns);
		if (run->state == RS_RUNNING && exit_ns > run->end_ns)
			run->end_ns = exit_ns;
		run->state = RS_ENDED;
		run->dirty = 1;
		runs_hist_add(r, run);
	}
}

void runs_on_process(struct runs *r, const struct proc_row *row)
{
	struct htab_node *n = htab_find(&r->procs, (uint64_t)row->pid, 0);
	struct rproc *p = n ? htab_entry(n, struct rproc, node) : NULL;
	struct ragent *a;
	int64_t t = row->exit_ns != PROC_NULL ? row->exit_ns : row->exec_ns;

	if (t != PROC_NULL && t > r->now_ns)
		r->now_ns = t;
	/* another process with the same pid: the old entry goes */
	if (p && row->start_ns != PROC_NULL && p->start_ns != RN_NULL &&
	    llabs(row->start_ns - p->start_ns) > START_SLACK_NS) {
		htab_del(&r->procs, &p->node);
		free(p->argv);
		free(p);
		p = NULL;
	}
	if (!p) {
		if (r->procs.count >= PROCS_MAX)
			runs_exec_tick(r);
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->exec_ns = p->exit_ns = p->exit_code = p->exit_signal = RN_NULL;
		p->start_ns = RN_NULL;
		if (htab_add(&r->procs, &p->node, (uint64_t)row->pid, 0)) {
			free(p);
			return;
		}
	}
	p->pid = row->pid;
	p->ppid = row->ppid;
	p->start_ns = row->start_ns;
	p->exec_ns = row->exec_ns;
	p->exit_ns = row->exit_ns;
	p->exit_code = row->exit_code;
	p->exit_signal = row->exit_signal;
	p->cpu_ms = row->cpu_ms;
	memcpy(p->comm, row->comm, sizeof(p->comm));
	memcpy(p->process_id, row->id, sizeof(p->process_id));
	if (row->argv && (!p->argv || strcmp(p->argv, row->argv))) {
		free(p->argv);
		p->argv = strdup(row->argv);
	}
	p->seen_ns = r->now_ns;
	a = runs_agent_find(r, row->pid, row->start_ns);
	if (a && (a->start_ns == RN_NULL || row->start_ns == PROC_NULL ||
		  llabs(a->start_ns - row->start_ns) <= START_SLACK_NS)) {
		agent_refresh(r, a);
		if (row->exit_ns != PROC_NULL && !a->exited)
			agent_exit(r, a, row->exit_ns);
	}
	/* its changes go out at the next call or tick: a process row is cheap */
	runs_exec_place(r, p);
	if (r->norphans)
		runs_exec_adopt(r, p);
}

void runs_tick(struct runs *r, int64_t now_ns)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;
	struct rrun *run, **pp;

	if (now_ns > r->now_ns)
		r->now_ns = now_ns;
	runs_exec_tick(r);
	runs_emit_dirty(r);	/* the touched list is empty while agents may go below */
	while ((n = htab_next(&r->agents, &it))) {
		struct ragent *a = htab_entry(n, struct ragent, node);

		for (pp = &a->runs; (run = *pp);) {
			int pending = 0;
			struct rconv *c;

			for (c = run->convs; c; c = c->next)
				pending |= c->npending > 0;
			if (run->parent_wait && now_ns - run->start_ns < PARENT_WAIT_NS)
				run_find_parent(r, run);
			/* a run waiting for a long tool is not idle */
			if (run->state == RS_RUNNING && !pending && now_ns - run->last_ns > RUN_IDLE_NS) {
				run->state = RS_IDLE;
				run->dirty = 1;
				runs_hist_add(r, run);
			}
			if ((run->state == RS_ENDED && now_ns - run->end_ns > RUN_KEEP_NS) ||
			    (run->state == RS_IDLE && now_ns - run->last_ns > RUN_FORGET_NS)) {
				*pp = run->next;
				a->nruns--;
				runs_emit_run(r, run);
				runs_run_free(r, run);
				continue;
			}
			pp = &run->next;
		}
		if (a->exited && !a->runs && now_ns - a->exit_ns > RUN_KEEP_NS) {
			htab_del(&r->agents, n);
			free(a);
		}
	}
	runs_emit_all(r);
}

void runs_stop(struct runs *r, int64_t now_ns)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;
	struct rrun *run;

	while ((n = htab_next(&r->agents, &it))) {
		for (run = htab_entry(n, struct ragent, node)->runs; run; run = run->next) {
			if (run->state != RS_RUNNING)
				continue;
			runs_close_pending(r, run, now_ns);
			run->state = RS_INTERRUPTED;
			run->dirty = 1;
		}
	}
	runs_emit_all(r);
}

void runs_free(struct runs *r)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;

	if (!r)
		return;
	runs_emit_all(r);
	while ((n = htab_next(&r->agents, &it))) {
		struct ragent *a = htab_entry(n, struct ragent, node);

		while (a->runs) {
			struct rrun *run = a->runs;

			a->runs = run->next;
			runs_run_free(r, run);
		}
		htab_del(&r->agents, n);
		free(a);
	}
	runs_exec_free_all(r);
	htab_fini(&r->agents);
	htab_fini(&r->procs);
	free(r->hist);
	free(r);
}

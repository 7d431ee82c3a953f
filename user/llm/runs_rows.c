/* runs_rows.c -- the run builder's flags (context_growth, compaction, tool_loop, retry, error_burst, cost_outlier) and the agent_runs / agent_steps rows it sends. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "llm/runs_int.h"
#include "llm/tools.h"

#define LOOP_ARGS_MAX 200	/* bytes of a looping call's arguments kept */
#define HIST_AGENTS_MAX 256	/* agent names with a cost history */

/* ---- flags ---- */

void runs_flags_call(struct runs *r, struct rrun *run, struct rconv *cv, const struct call_row *c,
		     size_t nmsgs, const struct rstep *ls, int continued, int compacted)
{
	int failed = (c->status != CALL_NULL_INT && c->status >= 400) || c->error;
	uint64_t h = c->request_body ? hash64(c->request_body, c->request_body_len ? c->request_body_len :
					      strlen(c->request_body), HASH64_INIT) : 0;
	int tokens = ls && ls->ctx != RN_NULL;
	int64_t m = tokens ? ls->ctx : (int64_t)nmsgs, prev = cv->last_metric;

	(void)r;
	/* retry: the same request again after a failed one */
	if (h && run->last_failed && h == run->last_hash) {
		run->retries++;
		run->flags |= FL_RETRY;
	}
	run->last_hash = h;
	run->last_failed = failed;
	/* error_burst: BURST_ERRORS failures within BURST_NS */
	if (failed) {
		if (run->nerr == BURST_ERRORS) {
			memmove(run->err_ns, run->err_ns + 1, (BURST_ERRORS - 1) * sizeof(run->err_ns[0]));
			run->nerr--;
		}
		run->err_ns[run->nerr++] = c->start_ns;
		if (run->nerr == BURST_ERRORS && run->err_ns[BURST_ERRORS - 1] - run->err_ns[0] <= BURST_NS)
			run->flags |= FL_ERROR_BURST;
	}
	if (continued && prev >= 0 && cv->metric_tokens == tokens) {
		/* compaction: the history shrank sharply, or was replaced by a summary */
		if ((compacted || prev >= (tokens ? COMPACT_TOKENS : COMPACT_MSGS)) && m <= prev * COMPACT_RATIO &&
		    !(run->flags & FL_COMPACTION)) {
			run->flags |= FL_COMPACTION;
			run->cp_from = prev;
			run->cp_to = m;
			run->cp_seq = ls ? ls->seq : RN_NULL;
		}
		if (m >= prev) {
			cv->streak++;
		} else {
			cv->streak = 1;
			cv->streak_first = m;
		}
	} else {
		cv->streak = 1;
		cv->streak_first = m;
	}
	if (compacted && !(run->flags & FL_COMPACTION)) {
		run->flags |= FL_COMPACTION;
		run->cp_from = prev;
		run->cp_to = m;
		run->cp_seq = ls ? ls->seq : RN_NULL;
	}
	cv->last_metric = m;
	cv->metric_tokens = tokens;
	/* context_growth: never shrinking over CG_CALLS calls, to CG_RATIO times and past a size */
	if (cv->streak >= CG_CALLS && m >= CG_RATIO * cv->streak_first &&
	    m >= (tokens ? CG_TOKENS : CG_MSGS)) {
		run->flags |= FL_CONTEXT_GROWTH;
		if (cv->streak >= run->cg_calls) {
			run->cg_calls = cv->streak;
			run->cg_first = cv->streak_first;
			run->cg_max = m;
		}
	}
}

void runs_flags_tool(struct rrun *run, const struct rstep *s)
{
	char *canon = tools_canonical(s->args);
	uint64_t h;
	size_t i;
	void *n;

	if (!canon)
		return;
	h = hash64(s->name, strlen(s->name) + 1, HASH64_INIT);
	h = hash64(canon, strlen(canon), h);
	for (i = 0; i < run->nsigs && run->sigs[i].h != h; i++)
		;
	if (i == run->nsigs) {
		n = realloc(run->sigs, (run->nsigs + 1) * sizeof(*run->sigs));
		if (!n) {
			free(canon);
			return;
		}
		run->sigs = n;
		run->sigs[run->nsigs].h = h;
		run->sigs[run->nsigs++].n = 0;
	}
	run->sigs[i].n++;
	if (run->sigs[i].n >= LOOP_TIMES && run->sigs[i].n > run->loop_times) {
		run->flags |= FL_TOOL_LOOP;
		run->loop_times = run->sigs[i].n;
		free(run->loop_tool);
		free(run->loop_args);
		run->loop_tool = strdup(s->name);
		run->loop_args = strndup(canon, LOOP_ARGS_MAX);
	}
	free(canon);
}

/* The cost history of agent name; created when make is set. NULL when none. */
static struct rhist *hist_of(struct runs *r, const char *name, int make)
{
	struct rhist *n;
	size_t i;

	for (i = 0; i < r->nhist; i++)
		if (!strcmp(r->hist[i].name, name))
			return &r->hist[i];
	if (!make || r->nhist >= HIST_AGENTS_MAX)
		return NULL;
	n = realloc(r->hist, (r->nhist + 1) * sizeof(*n));
	if (!n)
		return NULL;
	r->hist = n;
	memset(&n[r->nhist], 0, sizeof(*n));
	snprintf(n[r->nhist].name, sizeof(n[r->nhist].name), "%s", name);
	return &n[r->nhist++];
}

/* Add a cost to a history (the oldest goes when full). */
static void hist_push(struct rhist *h, double cost)
{
	h->cost[h->next] = cost;
	h->next = (h->next + 1) % HIST_MAX;
	if (h->n < HIST_MAX)
		h->n++;
}

/* qsort comparator of doubles, ascending. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void runs_seed_cost(struct runs *r, const char *agent, double cost_usd)
{
	struct rhist *h = agent && cost_usd >= 0 ? hist_of(r, agent, 1) : NULL;

	if (h)
		hist_push(h, cost_usd);
}

void runs_hist_add(struct runs *r, struct rrun *run)
{
	if (run->counted || run->cost < 0)
		return;
	run->counted = 1;
	runs_seed_cost(r, run->agent->name, run->cost);
}

void runs_flags_cost(struct runs *r, struct rrun *run)
{
	struct rhist *h = hist_of(r, run->agent->name, 0);
	double sorted[HIST_MAX], median;

	if (!h || h->n < OUTLIER_RUNS || run->cost < 0 || run->counted)
		return;
	memcpy(sorted, h->cost, h->n * sizeof(double));
	qsort(sorted, h->n, sizeof(double), cmp_double);
	median = h->n % 2 ? sorted[h->n / 2] : (sorted[h->n / 2 - 1] + sorted[h->n / 2]) / 2;
	if (run->cost >= OUTLIER_RATIO * median && run->cost - median >= OUTLIER_MIN_USD) {
		run->flags |= FL_COST_OUTLIER;
		run->outlier_median = median;
	}
}

/* ---- rows ---- */

static const char *const flag_names[] = {
	"context_growth", "compaction", "tool_loop", "retry", "error_burst", "cost_outlier",
};

/* An integer as JSON: null when unknown. */
static json_t *jint(int64_t v)
{
	return v == RN_NULL ? json_null() : json_integer(v);
}

/* Set key of o to v (taken), when both are there. */
static void jset(json_t *o, const char *key, json_t *v)
{
	if (o && v)
		json_object_set_new(o, key, v);
	else
		json_decref(v);
}

/* The run's flags as a JSON array and their numbers as a JSON object. */
static void run_flags_json(struct runs *r, const struct rrun *run, char **flags, char **info)
{
	json_t *a = json_array(), *o = json_object(), *f;
	struct rhist *h;
	size_t i;

	for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (run->flags & (1u << i))
			json_array_append_new(a, json_string(flag_names[i]));
	if (run->flags & FL_CONTEXT_GROWTH) {
		const char *u = run->max_ctx > 0 ? "tokens" : "messages";

		jset(o, "context_growth", f = json_object());
		jset(f, "calls", json_integer(run->cg_calls));
		jset(f, "unit", json_string(u));
		jset(f, "first", json_integer(run->cg_first));
		jset(f, "max", json_integer(run->cg_max));
		jset(f, "max_input_tokens", run->max_ctx > 0 ? json_integer(run->max_ctx) : json_null());
		jset(f, "max_request_bytes", json_integer(run->max_req_bytes));
		jset(f, "max_messages", json_integer((json_int_t)run->max_msgs));
	}
	if (run->flags & FL_COMPACTION) {
		jset(o, "compaction", f = json_object());
		jset(f, "seq", jint(run->cp_seq));
		jset(f, "from", json_integer(run->cp_from));
		jset(f, "to", json_integer(run->cp_to));
	}
	if (run->flags & FL_TOOL_LOOP) {
		jset(o, "tool_loop", f = json_object());
		jset(f, "tool", json_string(run->loop_tool ? run->loop_tool : ""));
		jset(f, "times", json_integer(run->loop_times));
		jset(f, "arguments", json_string(run->loop_args ? run->loop_args : ""));
	}
	if (run->flags & FL_RETRY) {
		jset(o, "retry", f = json_object());
		jset(f, "retries", json_integer(run->retries));
	}
	if (run->flags & FL_ERROR_BURST) {
		jset(o, "error_burst", f = json_object());
		jset(f, "errors", json_integer(run->errors));
		jset(f, "within_s", json_integer(BURST_NS / RN_SEC));
	}
	if (run->flags & FL_COST_OUTLIER) {
		h = hist_of(r, run->agent->name, 0);
		jset(o, "cost_outlier", f = json_object());
		jset(f, "cost_usd", json_real(run->cost));
		jset(f, "median_usd", json_real(run->outlier_median));
		jset(f, "runs", json_integer(h ? h->n : 0));
	}
	*flags = a ? json_dumps(a, JSON_COMPACT) : NULL;
	*info = o && json_object_size(o) ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(a);
	json_decref(o);
}

/* agent_runs.state of a run state. */
static const char *state_name(enum run_state s)
{
	static const char *const names[] = { "running", "idle", "ended", "interrupted" };

	return names[s];
}

/* Send run's agent_runs row (a copy the sink owns; nothing on OOM). */
static void emit_run(struct runs *r, struct rrun *run)
{
	struct run_row *w = calloc(1, sizeof(*w));
	struct ragent *a = run->agent;

	if (!w)
		return;
	memcpy(w->id, run->id, sizeof(w->id));
	w->pid = a->pid;
	snprintf(w->comm, sizeof(w->comm), "%s", a->comm);
	w->start_ns = run->start_ns;
	w->end_ns = run->end_ns;
	w->llm_calls = run->llm_calls;
	w->tool_calls = run->tool_calls;
	w->input_tokens = run->in;
	w->output_tokens = run->out;
	w->cost_usd = run->cost;
	memcpy(w->parent_run_id, run->parent_id, sizeof(w->parent_run_id));
	run_flags_json(r, run, &w->flags, &w->flag_info);
	w->agent = strdup(a->name);
	memcpy(w->process_id, a->process_id, sizeof(w->process_id));
	memcpy(w->root_run_id, run->root_id, sizeof(w->root_run_id));
	w->parent_seq = run->parent_seq;
	w->state = state_name(run->state);
	w->model = run->model ? strdup(run->model) : NULL;
	w->provider = run->provider ? strdup(run->provider) : NULL;
	w->cache_read_tokens = run->cache_r;
	w->cache_write_tokens = run->cache_w;
	w->errors = run->errors;
	w->step_count = (int64_t)run->nsteps;
	w->llm_ms = run->llm_ms;
	w->tool_ms = run->tool_ms;
	w->max_input_tokens = run->max_ctx > 0 ? run->max_ctx : CALL_NULL_INT;
	w->max_request_bytes = run->max_req_bytes > 0 ? run->max_req_bytes : CALL_NULL_INT;
	row_emit(&r->sink, ROW_RUN, w);
}

/* exec_ns order for the execs of a step. */
static int cmp_exec(const void *a, const void *b)
{
	const struct rexec *x = a, *y = b;

	return x->exec_ns < y->exec_ns ? -1 : x->exec_ns > y->exec_ns ? 1 :
	       x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The execs of s as a JSON array; *exit_code: the command exec's. */
static char *execs_json(struct rstep *s, int64_t *exit_code)
{
	json_t *a = json_array(), *o, *argv;
	int marked = 0;
	size_t i;
	char *out;

	*exit_code = CALL_NULL_INT;
	if (s->nexecs > 1)
		qsort(s->execs, s->nexecs, sizeof(*s->execs), cmp_exec);
	for (i = 0; i < s->nexecs; i++) {
		const struct rexec *e = &s->execs[i];

		o = json_object();
		argv = e->argv ? json_loads(e->argv, 0, NULL) : NULL;
		jset(o, "pid", json_integer(e->pid));
		jset(o, "ppid", jint(e->ppid));
		jset(o, "comm", json_string(e->comm));
		jset(o, "argv", json_is_array(argv) ? argv : (json_decref(argv), json_array()));
		if (e->last_argv) {
			argv = json_loads(e->last_argv, 0, NULL);
			jset(o, "last_argv", json_is_array(argv) ? argv : (json_decref(argv), json_array()));
		}
		jset(o, "exit_code", jint(e->exit_code));
		jset(o, "exit_signal", jint(e->exit_signal));
		jset(o, "exec_ns", jint(e->exec_ns));
		jset(o, "exit_ns", jint(e->exit_ns));
		jset(o, "duration_ms", e->exit_ns != RN_NULL && e->exec_ns != RN_NULL ?
				       json_real((e->exit_ns - e->exec_ns) / 1e6) : json_null());
		jset(o, "cpu_ms", json_real(e->cpu_ms));
		jset(o, "process_id", e->process_id[0] ? json_string(e->process_id) : json_null());
		/* the first exec carrying the command the model asked for */
		jset(o, "command", json_boolean(e->carries && !marked));
		if (e->carries && !marked) {
			marked = 1;
			*exit_code = e->exit_code;
		}
		json_array_append_new(a, o);
	}
	out = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return out;
}

/* Send step s's agent_steps row (a copy the sink owns; nothing on OOM). */
static void emit_step(struct runs *r, struct rrun *run, struct rstep *s)
{
	struct step_row *w = calloc(1, sizeof(*w));

	if (!w)
		return;
	snprintf(w->id, sizeof(w->id), "%s:%lld", run->id, (long long)s->seq);
	memcpy(w->run_id, run->id, sizeof(w->run_id));
	w->seq = s->seq;
	w->kind = s->tool ? "tool" : "llm";
	memcpy(w->call_id, s->call_id, sizeof(w->call_id));
	w->start_ns = s->start_ns;
	w->end_ns = s->end_ns;
	w->status = s->status;
	w->parent_seq = s->parent_seq;
	w->input_tokens = s->in;
	w->output_tokens = s->out;
	w->cost_usd = s->cost;
	w->duration_ms = s->end_ns != RN_NULL ? (s->end_ns - s->start_ns) / 1e6 : -1;
	w->result_bytes = s->result_bytes;
	memcpy(w->result_call_id, s->result_call_id, sizeof(w->result_call_id));
	w->exit_code = w->exec_count = CALL_NULL_INT;
	if (s->tool) {
		w->tool_name = strdup(s->name);
		w->tool_call_id = strdup(s->id);
		w->arguments = strdup(s->args);
		w->command = s->command ? strdup(s->command) : NULL;
		w->execs = execs_json(s, &w->exit_code);
		w->exec_count = s->nexecs_all > (int64_t)s->nexecs ? s->nexecs_all : (int64_t)s->nexecs;
	} else {
		w->model = s->model ? strdup(s->model) : NULL;
		w->error = s->error ? strdup(s->error) : NULL;
	}
	w->pid = run->agent->pid;
	snprintf(w->comm, sizeof(w->comm), "%s", run->agent->comm);
	row_emit(&r->sink, ROW_STEP, w);
}

void runs_emit_steps(struct runs *r, struct rrun *run)
{
	size_t i;

	for (i = run->dfrom; i < run->nkept; i++) {
		if (run->steps[i]->dirty) {
			emit_step(r, run, run->steps[i]);
			run->steps[i]->dirty = 0;
		}
	}
	run->dfrom = run->nkept;
}

void runs_emit_run(struct runs *r, struct rrun *run)
{
	runs_emit_steps(r, run);
	if (run->dirty) {
		emit_run(r, run);
		run->dirty = 0;
	}
}

void runs_touch(struct runs *r, struct ragent *a)
{
	if (!a || a->touched)
		return;
	a->touched = 1;
	a->next_touched = r->touched;
	r->touched = a;
}

void runs_emit_dirty(struct runs *r)
{
	struct ragent *a;
	struct rrun *run;

	while ((a = r->touched)) {
		r->touched = a->next_touched;
		a->touched = 0;
		a->next_touched = NULL;
		for (run = a->runs; run; run = run->next)
			runs_emit_run(r, run);
	}
}

void runs_emit_all(struct runs *r)
{
	struct htab_iter it = HTAB_ITER_INIT;
	struct htab_node *n;
	struct rrun *run;

	runs_emit_dirty(r);
	while ((n = htab_next(&r->agents, &it)))
		for (run = htab_entry(n, struct ragent, node)->runs; run; run = run->next)
			runs_emit_run(r, run);
}

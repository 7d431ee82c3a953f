/* test_runs.c -- unit tests for the run builder: calls and processes rows in, agent_runs and agent_steps rows out. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "llm/runs.h"

#define MS 1000000ll
#define T0 1765000000000000000ll	/* a Unix time in ns */

/* ---- a sink keeping the newest row of each id ---- */

#define MAXROWS 512
static struct run_row *runs_out[MAXROWS];
static struct step_row *steps_out[MAXROWS];
static int nruns_out, nsteps_out, emitted, step_rows;

static void sink_emit(void *ud, enum row_kind kind, void *row)
{
	int i;

	(void)ud;
	emitted++;
	step_rows += kind == ROW_STEP;
	if (kind == ROW_RUN) {
		struct run_row *w = row;

		for (i = 0; i < nruns_out; i++)
			if (!strcmp(runs_out[i]->id, w->id)) {
				row_free(ROW_RUN, runs_out[i]);
				runs_out[i] = w;
				return;
			}
		if (nruns_out < MAXROWS) {
			runs_out[nruns_out++] = w;
			return;
		}
	} else if (kind == ROW_STEP) {
		struct step_row *w = row;

		for (i = 0; i < nsteps_out; i++)
			if (!strcmp(steps_out[i]->id, w->id)) {
				row_free(ROW_STEP, steps_out[i]);
				steps_out[i] = w;
				return;
			}
		if (nsteps_out < MAXROWS) {
			steps_out[nsteps_out++] = w;
			return;
		}
	}
	row_free(kind, row);
}

static void sink_reset(void)
{
	int i;

	for (i = 0; i < nruns_out; i++)
		row_free(ROW_RUN, runs_out[i]);
	for (i = 0; i < nsteps_out; i++)
		row_free(ROW_STEP, steps_out[i]);
	nruns_out = nsteps_out = emitted = 0;
}

static const struct row_sink sink = { sink_emit, NULL };

static struct run_row *run_of(const char *id)
{
	int i;

	for (i = 0; i < nruns_out; i++)
		if (!strcmp(runs_out[i]->id, id))
			return runs_out[i];
	return NULL;
}

static struct step_row *step_of(const char *run, int seq)
{
	char id[64];
	int i;

	snprintf(id, sizeof(id), "%s:%d", run, seq);
	for (i = 0; i < nsteps_out; i++)
		if (!strcmp(steps_out[i]->id, id))
			return steps_out[i];
	return NULL;
}

/* 1 when the run's flags (a JSON array) hold name. */
static int has_flag(const struct run_row *w, const char *name)
{
	char q[64];

	snprintf(q, sizeof(q), "\"%s\"", name);
	return w && w->flags && strstr(w->flags, q);
}

/* ---- inputs ---- */

static int ncall;

/* Feed one call; its run id into run_id (37 bytes). */
static void call(struct runs *R, int64_t pid, const char *op, int64_t start_ms, int64_t dur_ms,
		 const char *req, const char *resp, int64_t in, int64_t out, double cost, int status,
		 char run_id[37])
{
	struct call_row *c = calloc(1, sizeof(*c));

	snprintf(c->id, sizeof(c->id), "00000000-0000-7000-8000-%012d", ++ncall);
	c->pid = pid;
	snprintf(c->comm, sizeof(c->comm), "agent%lld", (long long)pid);
	c->provider = !strcmp(op, "messages") ? "anthropic" : !strcmp(op, "generate_content") ? "gemini" : "openai";
	c->operation = op;
	c->model = strdup("gpt-4o-mini");
	c->status = status;
	c->input_tokens = in;
	c->output_tokens = out;
	c->cache_read_tokens = c->cache_write_tokens = c->reasoning_tokens = CALL_NULL_INT;
	c->cost_usd = cost;
	c->start_ns = T0 + start_ms * MS;
	c->duration_ms = (double)dur_ms;
	c->request_body = strdup(req);
	c->response_body = strdup(resp);
	c->request_bytes = (int64_t)strlen(req);
	{	/* the assistant text, as the provider parser would give it (chat) */
		json_t *o = json_loads(resp, 0, NULL);
		json_t *t = json_object_get(json_object_get(json_array_get(json_object_get(o, "choices"), 0),
							    "message"), "content");

		if (json_is_string(t))
			c->response_text = strdup(json_string_value(t));
		json_decref(o);
	}
	if (status >= 400)
		c->error = strdup("rate_limit_exceeded: slow down");
	runs_on_call(R, c);
	runs_flush(R);
	memcpy(run_id, c->run_id, 37);
	call_row_free(c);
}

/* Feed one processes row (times in ms from T0; -1 unknown). */
static void proc(struct runs *R, int64_t pid, int64_t ppid, const char *comm, const char *argv,
		 int64_t start_ms, int64_t exec_ms, int64_t exit_ms, int exit_code, double cpu_ms)
{
	struct proc_row p = { 0 };

	snprintf(p.id, sizeof(p.id), "proc-%lld", (long long)pid);
	p.pid = pid;
	p.ppid = ppid;
	snprintf(p.comm, sizeof(p.comm), "%s", comm);
	p.argv = (char *)argv;
	p.start_ns = start_ms >= 0 ? T0 + start_ms * MS : PROC_NULL;
	p.exec_ns = exec_ms >= 0 ? T0 + exec_ms * MS : PROC_NULL;
	p.exit_ns = exit_ms >= 0 ? T0 + exit_ms * MS : PROC_NULL;
	p.exit_code = exit_ms >= 0 ? exit_code : PROC_NULL;
	p.exit_signal = exit_ms >= 0 ? 0 : PROC_NULL;
	p.cpu_ms = cpu_ms;
	runs_on_process(R, &p);
}

/* An OpenAI chat request: the user's text, then pairs (assistant tool call id, tool result). */
static char *chat_req(const char *user, int tools, int nturns, const char *const *ids)
{
	json_t *o = json_object(), *msgs = json_array(), *m;
	char *s;
	int i;

	json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", "You are an agent."));
	json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", user));
	for (i = 0; i < nturns; i++) {
		m = json_pack("{s:s,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]}", "role", "assistant", "content",
			      "tool_calls", "id", ids[i], "type", "function", "function", "name", "bash",
			      "arguments", "{\"command\":\"ls -la\"}");
		json_array_append_new(msgs, m);
		json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "role", "tool", "tool_call_id", ids[i],
						      "content", "total 0"));
	}
	json_object_set_new(o, "model", json_string("gpt-4o-mini"));
	json_object_set_new(o, "messages", msgs);
	if (tools)
		json_object_set_new(o, "tools", json_pack("[{s:s,s:{s:s}}]", "type", "function", "function",
							  "name", "bash"));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* An OpenAI chat response asking for tool name with arguments args (id), or text when name is NULL. */
static char *chat_resp(const char *id, const char *name, const char *args, const char *text)
{
	json_t *o;
	char *s;

	if (name)
		o = json_pack("{s:s,s:[{s:i,s:{s:s,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]},s:s}]}", "object",
			      "chat.completion", "choices", "index", 0, "message", "role", "assistant", "content",
			      "tool_calls", "id", id, "type", "function", "function", "name", name, "arguments",
			      args, "finish_reason", "tool_calls");
	else
		o = json_pack("{s:s,s:[{s:i,s:{s:s,s:s},s:s}]}", "object", "chat.completion", "choices", "index",
			      0, "message", "role", "assistant", "content", text, "finish_reason", "stop");
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* ---- cases ---- */

/* One conversation: a tool call, its execs (a grandchild's row first), the result, text. */
static void test_basic(void)
{
	struct runs *R = runs_new(&sink);
	const char *ids[] = { "call_abc123" };
	char r1[37], r2[37], *q1 = chat_req("list the files", 1, 0, NULL), *q2 = chat_req("list the files", 1, 1, ids);
	char *a1 = chat_resp("call_abc123", "bash", "{\"command\":\"ls -la\"}", NULL), *a2 = chat_resp(NULL, NULL, NULL, "Done.");
	struct run_row *w;
	struct step_row *s;
	json_t *ex;

	proc(R, 100, 1, "python3", "[\"python3\",\"/opt/x/agent.py\",\"--fast\"]", 0, 0, -1, 0, 5);
	call(R, 100, "chat", 1000, 100, q1, a1, 100, 20, 0.001, 200, r1);
	CHECKF(!strcmp(r1, "00000000-0000-7000-8000-000000000001"), "%s", r1);
	/* the tool's exec: ls's row comes before its parent bash's */
	proc(R, 102, 101, "ls", "[\"ls\",\"-la\"]", 1155, 1160, 1165, 0, 1);
	runs_tick(R, T0 + 1170 * MS);
	proc(R, 101, 100, "bash", "[\"bash\",\"-c\",\"ls -la\"]", 1150, 1151, 1170, 0, 3);
	/* the parent's row places its orphan child at once, not at the next tick */
	runs_flush(R);
	s = step_of(r1, 1);
	CHECK(s && s->execs && strstr(s->execs, "\"pid\":101") && strstr(s->execs, "\"pid\":102"));
	runs_tick(R, T0 + 1180 * MS);
	/* an exec after the window (during the next call) is not the tool's */
	call(R, 100, "chat", 1200, 50, q2, a2, 150, 10, 0.002, 200, r2);
	proc(R, 103, 100, "git", "[\"git\",\"status\"]", 1210, 1211, 1220, 1, 2);
	CHECKF(!strcmp(r2, r1), "%s %s", r2, r1);
	w = run_of(r1);
	CHECK(w != NULL);
	if (w) {
		CHECK(w->llm_calls == 2 && w->tool_calls == 1 && w->input_tokens == 250 && w->output_tokens == 30);
		CHECK(w->cost_usd > 0.00299 && w->cost_usd < 0.00301);
		CHECK(w->pid == 100 && w->step_count == 3 && !w->parent_run_id[0]);
		CHECK_STR(w->agent, "agent.py");
		CHECK_STR(w->state, "running");
		CHECK_STR(w->flags, "[]");
		CHECKF(!strcmp(w->root_run_id, r1), "%s", w->root_run_id);
		CHECK(w->start_ns == T0 + 1000 * MS && w->end_ns == T0 + 1250 * MS);
	}
	s = step_of(r1, 0);
	CHECK(s && !strcmp(s->kind, "llm") && !strcmp(s->call_id, r1) && !strcmp(s->status, "ok"));
	s = step_of(r1, 1);
	CHECK(s && !strcmp(s->kind, "tool"));
	if (s) {
		CHECK_STR(s->tool_name, "bash");
		CHECK_STR(s->tool_call_id, "call_abc123");
		CHECK_STR(s->arguments, "{\"command\":\"ls -la\"}");
		CHECK_STR(s->command, "ls -la");
		CHECK_STR(s->status, "ok");
		CHECK(s->start_ns == T0 + 1100 * MS && s->end_ns == T0 + 1200 * MS);
		CHECK(s->parent_seq == 0 && s->result_bytes == 7 && s->exit_code == 0);
		CHECKF(!strcmp(s->result_call_id, "00000000-0000-7000-8000-000000000002"), "%s", s->result_call_id);
		ex = json_loads(s->execs ? s->execs : "", 0, NULL);
		CHECK(json_array_size(ex) == 2);
		CHECK(json_integer_value(json_object_get(json_array_get(ex, 0), "pid")) == 101);
		CHECK(json_is_true(json_object_get(json_array_get(ex, 0), "command")));
		CHECK(json_integer_value(json_object_get(json_array_get(ex, 0), "exit_code")) == 0);
		CHECK_STR(json_string_value(json_array_get(json_object_get(json_array_get(ex, 0), "argv"), 2)),
			  "ls -la");
		CHECK(json_integer_value(json_object_get(json_array_get(ex, 1), "pid")) == 102);
		CHECK(json_is_false(json_object_get(json_array_get(ex, 1), "command")));
		CHECK(json_real_value(json_object_get(json_array_get(ex, 1), "duration_ms")) == 5.0);
		json_decref(ex);
	}
	s = step_of(r1, 2);
	CHECK(s && !strcmp(s->kind, "llm") && s->input_tokens == 150);
	CHECK(step_of(r1, 3) == NULL);
	/* the agent exits: the run ends there */
	proc(R, 100, 1, "python3", "[\"python3\",\"/opt/x/agent.py\",\"--fast\"]", 0, 0, 1300, 0, 9);
	CHECK(!strcmp(run_of(r1)->state, "running"));	/* process rows go out at the next tick */
	runs_tick(R, T0 + 1400 * MS);
	w = run_of(r1);
	CHECK(w && !strcmp(w->state, "ended") && w->end_ns == T0 + 1300 * MS);
	runs_free(R);
	sink_reset();
	free(q1);
	free(q2);
	free(a1);
	free(a2);
}

/* The execs of a tool arrive before the call that asked for it. */
static void test_exec_first(void)
{
	struct runs *R = runs_new(&sink);
	const char *ids[] = { "call_1" };
	char r1[37], *q1 = chat_req("go", 1, 0, NULL), *q2 = chat_req("go", 1, 1, ids);
	char *a1 = chat_resp("call_1", "bash", "{\"command\":\"make -j2\"}", NULL), *a2 = chat_resp(NULL, NULL, NULL, "ok");
	char *h = chat_resp(NULL, NULL, NULL, "hello");
	struct step_row *s;

	proc(R, 400, 1, "node", "[\"node\",\"/usr/lib/node_modules/@acme/coder/cli.js\"]", 0, 0, -1, 0, 0);
	call(R, 400, "chat", 10, 10, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	     h, 5, 5, -1, 200, r1);
	/* the row of make (exec'd after the response) comes before the call row */
	proc(R, 401, 400, "make", "[\"make\",\"-j2\"]", 1101, 1102, 1150, 2, 4);
	call(R, 400, "chat", 1000, 100, q1, a1, 10, 10, -1, 200, r1);
	call(R, 400, "chat", 1200, 100, q2, a2, 10, 10, -1, 200, r1);
	s = step_of(r1, 2);
	CHECK(s && s->tool_name && s->execs && strstr(s->execs, "\"pid\":401") && s->exit_code == 2);
	/* bash -c 'a; b' execs b in place: the command line it started with stays */
	call(R, 400, "chat", 2000, 100, q1, a1, 10, 10, -1, 200, r1);
	proc(R, 402, 400, "bash", "[\"bash\",\"-c\",\"cd src; make -j2\"]", 2101, 2102, -1, 0, 1);
	proc(R, 402, 400, "make", "[\"make\",\"-j2\"]", 2101, 2110, 2150, 0, 3);
	/* a row read from /proc first (its start known to a tick), then its exec's: one exec */
	proc(R, 403, 400, "sh", "[\"sh\"]", 2120, 2121, -1, 0, 0);
	proc(R, 403, 400, "sh", "[\"sh\"]", 2125, 2121, 2130, 0, 1);
	runs_tick(R, T0 + 2200 * MS);
	s = step_of(r1, 5);
	CHECK(s && s->execs && strstr(s->execs, "\"pid\":403") && !strstr(strstr(s->execs, "\"pid\":403") + 1, "\"pid\":403"));
	CHECK(s && s->execs && strstr(s->execs, "\"argv\":[\"bash\",\"-c\",\"cd src; make -j2\"]") &&
	      strstr(s->execs, "\"last_argv\":[\"make\",\"-j2\"]") && strstr(s->execs, "\"command\":true") &&
	      strstr(s->execs, "\"comm\":\"make\""));
	CHECK(run_of(r1) && !strcmp(run_of(r1)->agent, "coder"));
	/* the side call (no tools) and the agent's conversation are one run */
	CHECK(run_of(r1) && run_of(r1)->llm_calls == 4);
	runs_free(R);
	sink_reset();
	free(q1);
	free(q2);
	free(a1);
	free(a2);
	free(h);
}

/* Ids rewritten between the call and its result: exact, normalised, by order and name. */
static void test_ids(void)
{
	struct runs *R = runs_new(&sink);
	char r[37];
	struct step_row *s;
	/* openclaw drops the underscore */
	const char *q1 = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[{\"type\":\"function\"}]}";
	const char *q2 = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"tool_calls\":"
			 "[{\"id\":\"callf35X\",\"type\":\"function\",\"function\":{\"name\":\"exec\",\"arguments\":\"{}\"}}]},"
			 "{\"role\":\"tool\",\"tool_call_id\":\"callf35X\",\"content\":\"12345\"}],\"tools\":[{\"type\":\"function\"}]}";
	/* gemini: no id in functionCall, run_shell_command_<ms>_0 in functionResponse; two calls of one name */
	const char *g1 = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"b\"}]}],\"tools\":[{}]}";
	const char *gr = "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"run_shell_command\","
			 "\"args\":{\"command\":\"ls\"}}},{\"functionCall\":{\"name\":\"run_shell_command\",\"args\":"
			 "{\"command\":\"pwd\"}}}]}}]}";
	const char *g2 = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"b\"}]},{\"role\":\"model\",\"parts\":"
			 "[{\"functionCall\":{\"name\":\"run_shell_command\",\"args\":{\"command\":\"ls\"}}}]},"
			 "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"id\":\"run_shell_command_1765_0\","
			 "\"name\":\"run_shell_command\",\"response\":{\"output\":\"a\"}}},{\"functionResponse\":"
			 "{\"id\":\"run_shell_command_1765_1\",\"name\":\"run_shell_command\",\"response\":{\"error\":\"no\"}}}]}],"
			 "\"tools\":[{}]}";
	/* anthropic: two tool calls, one result (is_error): the other unanswered */
	const char *m1 = "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"c\"}],\"tools\":[{}]}";
	const char *mr = "{\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\",\"input\":{\"command\":\"x\"}},"
			 "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"Read\",\"input\":{\"path\":\"y\"}}]}";
	const char *m2 = "{\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"c\"},{\"role\":\"assistant\","
			 "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\",\"input\":{}}]},{\"role\":"
			 "\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"is_error\":true,"
			 "\"content\":\"boom\"}]}],\"tools\":[{}]}";
	char *a1 = chat_resp("call_f35X", "exec", "{}", NULL);

	call(R, 500, "chat", 0, 10, q1, a1, 1, 1, -1, 200, r);
	call(R, 500, "chat", 100, 10, q2, "{}", 1, 1, -1, 200, r);
	s = step_of(r, 1);
	CHECK(s && !strcmp(s->status, "ok") && s->result_bytes == 5);
	runs_free(R);
	sink_reset();

	R = runs_new(&sink);
	call(R, 501, "generate_content", 0, 10, g1, gr, 1, 1, -1, 200, r);
	call(R, 501, "generate_content", 100, 10, g2, "{}", 1, 1, -1, 200, r);
	s = step_of(r, 1);
	CHECK(s && !strcmp(s->tool_call_id, "run_shell_command") && !strcmp(s->status, "ok") &&
	      !strcmp(s->command, "ls"));
	s = step_of(r, 2);
	CHECK(s && !strcmp(s->command, "pwd") && !strcmp(s->status, "error"));
	runs_free(R);
	sink_reset();

	R = runs_new(&sink);
	call(R, 502, "messages", 0, 10, m1, mr, 1, 1, -1, 200, r);
	call(R, 502, "messages", 100, 10, m2, "{}", 1, 1, -1, 200, r);
	s = step_of(r, 1);
	CHECK(s && !strcmp(s->tool_call_id, "toolu_1") && !strcmp(s->status, "error") && s->result_bytes == 4);
	s = step_of(r, 2);
	CHECK(s && !strcmp(s->tool_call_id, "toolu_2") && !strcmp(s->status, "unanswered") &&
	      s->end_ns == T0 + 100 * MS);
	runs_free(R);
	sink_reset();
	free(a1);
}

/* A child process making its own calls during a tool step is a sub-agent. */
static void test_subagent_process(void)
{
	struct runs *R = runs_new(&sink);
	const char *ids[] = { "call_t" };
	char rp[37], rc[37], *q1 = chat_req("delegate", 1, 0, NULL), *q2 = chat_req("delegate", 1, 1, ids);
	char *a1 = chat_resp("call_t", "bash", "{\"command\":\"python3 sub.py\"}", NULL);
	char *a2 = chat_resp(NULL, NULL, NULL, "done");
	struct run_row *w;
	struct step_row *s;

	proc(R, 600, 1, "python3", "[\"python3\",\"main.py\"]", 0, 0, -1, 0, 0);
	call(R, 600, "chat", 0, 100, q1, a1, 10, 1, 0.01, 200, rp);
	/* the child's call before its process row: its parent is found at a tick */
	call(R, 601, "chat", 300, 50, "{\"messages\":[{\"role\":\"user\",\"content\":\"sub\"}],\"tools\":[{}]}",
	     a2, 5, 1, 0.02, 200, rc);
	CHECK(strcmp(rp, rc) != 0);
	w = run_of(rc);
	CHECK(w && !w->parent_run_id[0]);
	proc(R, 601, 600, "python3", "[\"python3\",\"sub.py\"]", 150, 151, -1, 0, 30);
	runs_tick(R, T0 + 360 * MS);
	/* the sub-agent's own tool: its exec is its own, not the parent's */
	call(R, 601, "chat", 360, 10, "{\"messages\":[{\"role\":\"user\",\"content\":\"sub\"},{\"role\":\"user\",\"content\":\"more\"}],\"tools\":[{}]}",
	     a1, 5, 1, 0.0, 200, rc);
	proc(R, 602, 601, "bash", "[\"bash\",\"-c\",\"python3 sub.py\"]", 375, 376, 380, 0, 1);
	runs_tick(R, T0 + 390 * MS);
	s = step_of(rc, 2);
	CHECK(s && s->execs && strstr(s->execs, "\"pid\":602"));
	s = step_of(rp, 1);
	CHECK(s && s->execs && !strstr(s->execs, "\"pid\":602"));
	proc(R, 601, 600, "python3", "[\"python3\",\"sub.py\"]", 150, 151, 400, 0, 30);
	runs_tick(R, T0 + 500 * MS);
	w = run_of(rc);
	CHECK(w && !strcmp(w->parent_run_id, rp) && w->parent_seq == 1 && !strcmp(w->root_run_id, rp));
	CHECK(w && !strcmp(w->state, "ended"));
	CHECK(w && !strcmp(w->agent, "sub.py"));
	call(R, 600, "chat", 500, 100, q2, a2, 10, 1, 0.01, 200, rp);
	s = step_of(rp, 1);
	CHECK(s && s->execs && strstr(s->execs, "\"pid\":601") && s->exit_code == 0);
	w = run_of(rp);
	CHECK(w && w->llm_calls == 2 && w->cost_usd < 0.021);	/* its own calls only */
	runs_free(R);
	sink_reset();
	free(q1);
	free(q2);
	free(a1);
	free(a2);
}

/* A new conversation with tools while a tool call is pending: an in-process
 * sub-agent; a call without tools: a side call of the run. */
static void test_subagent_inprocess(void)
{
	struct runs *R = runs_new(&sink);
	const char *ids[] = { "call_task" }, *sids[] = { "call_s1" };
	char rm[37], rs[37], rx[37];
	char *q1 = chat_req("main task", 1, 0, NULL), *q2 = chat_req("main task", 1, 1, ids);
	char *s1 = chat_req("sub task", 1, 0, NULL), *s2 = chat_req("sub task", 1, 1, sids);
	char *a1 = chat_resp("call_task", "Task", "{\"prompt\":\"sub task\"}", NULL);
	char *b1 = chat_resp("call_s1", "bash", "{\"command\":\"ls\"}", NULL), *t = chat_resp(NULL, NULL, NULL, "x");
	struct run_row *w;

	call(R, 700, "chat", 0, 10, q1, a1, 1, 1, -1, 200, rm);
	call(R, 700, "chat", 100, 10, s1, b1, 1, 1, -1, 200, rs);
	call(R, 700, "chat", 150, 10, "{\"messages\":[{\"role\":\"user\",\"content\":\"title?\"}]}", t, 1, 1, -1,
	     200, rx);
	call(R, 700, "chat", 200, 10, s2, t, 1, 1, -1, 200, rx);
	CHECK(!strcmp(rx, rs));
	call(R, 700, "chat", 300, 10, q2, t, 1, 1, -1, 200, rx);
	CHECK(!strcmp(rx, rm));
	w = run_of(rs);
	CHECK(w && !strcmp(w->parent_run_id, rm) && w->parent_seq == 1 && w->llm_calls == 3);
	w = run_of(rm);
	CHECK(w && w->llm_calls == 2 && w->tool_calls == 1);
	runs_free(R);
	sink_reset();
	free(q1);
	free(q2);
	free(s1);
	free(s2);
	free(a1);
	free(b1);
	free(t);
}

/* tool_loop, context_growth, compaction, retry, error_burst, cost_outlier. */
static void test_flags(void)
{
	struct runs *R = runs_new(&sink);
	const char *ids[] = { "c1", "c2", "c3", "c4", "c5", "c6" };
	char r[37], r0[37], *q, *a;
	int i;
	int64_t grow[] = { 10000, 20000, 30000, 45000, 60000, 80000 };
	struct run_row *w;

	for (i = 0; i < 6; i++) {
		q = chat_req("loop", 1, i, ids);
		a = i < 5 ? chat_resp(ids[i], "bash", i < 3 ? "{\"command\":\"ls -la\"}" : "{\"command\": \"ls -la\"}", NULL) :
			    chat_resp(NULL, NULL, NULL, "A long answer that a later request carries as its summary.");
		call(R, 800, "chat", i * 100, 10, q, a, grow[i], 1, -1, 200, i ? r : r0);
		free(q);
		free(a);
	}
	w = run_of(r0);
	CHECK(w && has_flag(w, "tool_loop") && has_flag(w, "context_growth") && !has_flag(w, "compaction"));
	CHECK(w && w->flag_info && strstr(w->flag_info, "\"times\":5") && strstr(w->flag_info, "\"max\":80000"));
	CHECK(w && w->max_input_tokens == 80000);
	/* compaction: a new history carrying the last answer as its summary */
	q = strdup("{\"messages\":[{\"role\":\"system\",\"content\":\"other\"},{\"role\":\"user\",\"content\":"
		   "\"Summary: A long answer that a later request carries as its summary.\"}],\"tools\":[{}]}");
	a = chat_resp(NULL, NULL, NULL, "ok");
	call(R, 800, "chat", 700, 10, q, a, 5000, 1, -1, 200, r);
	CHECK(!strcmp(r, r0));
	w = run_of(r0);
	CHECK(w && has_flag(w, "compaction") && strstr(w->flag_info, "\"from\":80000") &&
	      strstr(w->flag_info, "\"to\":5000"));
	/* retry: the same request after a failure; error_burst: three failures in a minute */
	call(R, 800, "chat", 800, 10, q, "{}", CALL_NULL_INT, CALL_NULL_INT, -1, 429, r);
	call(R, 800, "chat", 900, 10, q, "{}", CALL_NULL_INT, CALL_NULL_INT, -1, 429, r);
	w = run_of(r0);
	CHECK(w && has_flag(w, "retry") && !has_flag(w, "error_burst") && w->errors == 2);
	call(R, 800, "chat", 1000, 10, q, "{}", CALL_NULL_INT, CALL_NULL_INT, -1, 429, r);
	w = run_of(r0);
	CHECK(w && has_flag(w, "error_burst") && strstr(w->flag_info, "\"retries\":2"));
	free(q);
	free(a);
	runs_free(R);
	sink_reset();

	/* cost_outlier: against the agent's earlier runs */
	R = runs_new(&sink);
	for (i = 0; i < 5; i++)
		runs_seed_cost(R, "agent900", 0.01);
	q = chat_req("cheap", 1, 0, NULL);
	a = chat_resp(NULL, NULL, NULL, "x");
	call(R, 900, "chat", 0, 10, q, a, 1, 1, 0.02, 200, r);
	CHECK(run_of(r) && !has_flag(run_of(r), "cost_outlier"));
	call(R, 900, "chat", 100, 10, q, a, 1, 1, 0.5, 200, r);
	CHECK(run_of(r) && has_flag(run_of(r), "cost_outlier") && strstr(run_of(r)->flag_info, "\"median_usd\":0.01"));
	free(q);
	free(a);
	runs_free(R);
	sink_reset();
}

/* Responses API: previous_response_id continues a conversation. */
static void test_previous_response(void)
{
	struct runs *R = runs_new(&sink);
	char r1[37], r2[37];
	struct step_row *s;

	call(R, 1000, "responses", 0, 10, "{\"input\":\"hi\",\"tools\":[{\"type\":\"function\",\"name\":\"sh\"}]}",
	     "{\"id\":\"resp_1\",\"output\":[{\"type\":\"function_call\",\"call_id\":\"call_9\",\"name\":\"sh\","
	     "\"arguments\":\"{\\\"cmd\\\":[\\\"bash\\\",\\\"-lc\\\",\\\"ls\\\"]}\"}]}", 1, 1, -1, 200, r1);
	call(R, 1000, "responses", 100, 10, "{\"previous_response_id\":\"resp_1\",\"input\":[{\"type\":"
	     "\"function_call_output\",\"call_id\":\"call_9\",\"output\":\"{\\\"output\\\":\\\"\\\",\\\"metadata\\\":"
	     "{\\\"exit_code\\\":1}}\"}],\"tools\":[{}]}", "{\"id\":\"resp_2\",\"output\":[]}", 1, 1, -1, 200, r2);
	CHECK(!strcmp(r1, r2));
	s = step_of(r1, 1);
	CHECK(s && !strcmp(s->status, "error") && !strcmp(s->command, "ls"));
	runs_free(R);
	sink_reset();
}

/* Idle after ten quiet minutes, running again when the conversation goes on. */
static void test_idle(void)
{
	struct runs *R = runs_new(&sink);
	char r[37], *q = chat_req("idle", 1, 0, NULL), *a = chat_resp(NULL, NULL, NULL, "x");

	call(R, 1100, "chat", 0, 10, q, a, 1, 1, -1, 200, r);
	runs_tick(R, T0 + 60000 * MS);
	CHECK(run_of(r) && !strcmp(run_of(r)->state, "running"));
	runs_tick(R, T0 + 700000 * MS);
	CHECK(run_of(r) && !strcmp(run_of(r)->state, "idle"));
	call(R, 1100, "chat", 800000, 10, q, a, 1, 1, -1, 200, r);
	CHECK(run_of(r) && !strcmp(run_of(r)->state, "running") && run_of(r)->llm_calls == 2);
	runs_free(R);
	sink_reset();
	free(q);
	free(a);
}

/* A tool that runs a build: its thousands of processes are counted, the first listed. */
static void test_many_execs(void)
{
	struct runs *R = runs_new(&sink);
	char r[37], *q = chat_req("build", 1, 0, NULL), *a = chat_resp("call_b", "bash", "{\"command\":\"make\"}", NULL);
	json_t *ex;
	int i;

	call(R, 1400, "chat", 0, 10, q, a, 1, 1, -1, 200, r);
	for (i = 0; i < 600; i++)
		proc(R, 20000 + i, 1400, "cc", "[\"cc\",\"-c\",\"x.c\"]", 20 + i, 20 + i, 21 + i, 0, 1);
	runs_tick(R, T0 + 700 * MS);
	CHECK(step_of(r, 1) && step_of(r, 1)->exec_count == 600);
	ex = step_of(r, 1) ? json_loads(step_of(r, 1)->execs, 0, NULL) : NULL;
	CHECK(json_array_size(ex) == 500);
	json_decref(ex);
	runs_free(R);
	sink_reset();
	free(q);
	free(a);
}

/* A process that makes thousands of calls in one run: every step's row is
 * written once and counted in the run, though only the newest are kept in
 * memory; an exec for a step that left memory goes nowhere, and the steps
 * kept still take theirs. */
static void test_long_run(void)
{
	struct runs *R = runs_new(&sink);
	char r[37], first[37], *q = chat_req("again", 0, 0, NULL), *a = chat_resp(NULL, NULL, NULL, "ok");
	char *tq = chat_req("tool", 1, 0, NULL), *ta = chat_resp("call_late", "bash", "{\"command\":\"ls\"}", NULL);
	int i;

	step_rows = 0;
	for (i = 0; i < 3000; i++) {
		call(R, 1500, "chat", i * 10, 5, q, a, 1, 1, -1, 200, r);
		if (!i)
			memcpy(first, r, sizeof(first));
	}
	CHECK(!strcmp(first, r));
	CHECK(step_rows == 3000);
	CHECK(run_of(r) && run_of(r)->step_count == 3000 && run_of(r)->llm_calls == 3000);
	/* an exec in the window of a step long gone, then a tool step now */
	sink_reset();
	proc(R, 15001, 1500, "ls", "[\"ls\"]", 12, 12, 13, 0, 1);
	call(R, 1500, "chat", 30000, 5, tq, ta, 1, 1, -1, 200, r);
	proc(R, 15002, 1500, "ls", "[\"ls\"]", 30010, 30010, 30011, 0, 1);
	runs_tick(R, T0 + 30100 * MS);
	CHECK(step_of(r, 3001) && step_of(r, 3001)->exec_count == 1);
	runs_free(R);
	sink_reset();
	free(q);
	free(a);
	free(tq);
	free(ta);
}

/* Calls that share an id (never in llmtap, but rows are input): a run that
 * is its own parent closes without looping (found by fuzz_runs). */
static void test_same_ids(void)
{
	struct runs *R = runs_new(&sink);
	struct call_row *c;
	const char *reqs[] = {
		"{\"messages\":[{\"role\":\"user\",\"content\":\"main\"}],\"tools\":[{}]}",
		"{\"messages\":[{\"role\":\"user\",\"content\":\"sub\"}],\"tools\":[{}]}",
		"{\"messages\":[{\"role\":\"user\",\"content\":\"main\"},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"x\"}],\"tools\":[{}]}",
	};
	char *a = chat_resp("c1", "Task", "{}", NULL);
	int i;

	for (i = 0; i < 3; i++) {
		c = calloc(1, sizeof(*c));
		memcpy(c->id, "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", 37);
		c->pid = 1300;
		c->provider = "openai";
		c->operation = "chat";
		c->status = 200;
		c->input_tokens = c->output_tokens = c->cache_read_tokens = c->cache_write_tokens = CALL_NULL_INT;
		c->reasoning_tokens = CALL_NULL_INT;
		c->cost_usd = -1;
		c->start_ns = T0 + i * 100 * MS;
		c->duration_ms = 10;
		c->request_body = strdup(reqs[i]);
		c->response_body = strdup(i < 2 ? a : "{}");
		runs_on_call(R, c);
		call_row_free(c);
	}
	runs_stop(R, T0 + 1000 * MS);
	CHECK(nruns_out >= 1);
	runs_free(R);
	sink_reset();
	free(a);
}

static void test_helpers(void)
{
	char n[64];

	CHECK_STR(runs_agent_name("node", "[\"node\",\"/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js\",\"-p\"]",
				  n, sizeof(n)), "claude-code");
	CHECK_STR(runs_agent_name("node", "[\"/usr/bin/node\",\"--no-warnings\",\"/x/node_modules/@google/gemini-cli/dist/index.js\"]",
				  n, sizeof(n)), "gemini-cli");
	CHECK_STR(runs_agent_name("python3", "[\"python3\",\"-u\",\"/srv/agent_client.py\",\"spec.json\"]", n, sizeof(n)),
		  "agent_client.py");
	CHECK_STR(runs_agent_name("python3", "[\"python3\",\"-m\",\"aider\"]", n, sizeof(n)), "aider");
	CHECK_STR(runs_agent_name("pi", "[\"node\",\"/x/node_modules/.bin/pi\",\"-p\"]", n, sizeof(n)), "pi");
	CHECK_STR(runs_agent_name("python3", "[\"python3\",\"-c\",\"print(1)\"]", n, sizeof(n)), "python3");
	CHECK_STR(runs_agent_name("claude", "[\"claude\",\"-p\",\"hi\"]", n, sizeof(n)), "claude");
	CHECK_STR(runs_agent_name("pi", NULL, n, sizeof(n)), "pi");
	CHECK_STR(runs_agent_name("node", "not json", n, sizeof(n)), "node");

	CHECK(runs_argv_carries("[\"bash\",\"-c\",\"ls -la\"]", "ls -la"));
	CHECK(runs_argv_carries("[\"ls\",\"-la\"]", "ls -la"));
	/* Claude Code's wrapper quotes the command inside eval '...' */
	CHECK(runs_argv_carries("[\"/bin/bash\",\"-c\",\"-l\",\"source /root/.claude/shell-snapshots/s.sh && eval "
				"'echo '\\\"'\\\"'it'\\\"'\\\"'s ok' < /dev/null && pwd -P >| /tmp/claude-cwd\"]",
				"echo \"it's ok\""));
	CHECK(!runs_argv_carries("[\"bash\",\"-c\",\"ls\"]", "ls -la"));
	CHECK(!runs_argv_carries(NULL, "ls"));
	CHECK(!runs_argv_carries("[\"ls\"]", ""));
}

int main(void)
{
	test_basic();
	test_exec_first();
	test_ids();
	test_subagent_process();
	test_subagent_inprocess();
	test_flags();
	test_previous_response();
	test_idle();
	test_same_ids();
	test_many_execs();
	test_long_run();
	test_helpers();
	return harness_done("test_runs");
}

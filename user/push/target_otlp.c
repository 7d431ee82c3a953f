/* target_otlp.c -- the OTLP/HTTP target: llm_calls rows as spans, agent_runs rows as run, tool and exec spans (format_otlp*.c build the JSON), POST /v1/traces.
 *
 * Retries follow the OTLP/HTTP spec: 429, 502, 503, 504 and network errors
 * are retried (after Retry-After when the server sent one); any other
 * failure status means the batch will never be accepted, so it is dropped
 * and counted. */
#include "push/push_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push/format_otlp.h"
#include "base/util.h"

#define ROW_OVERHEAD 2048		/* bytes of JSON a span takes besides its strings */
#define MODEL_BODY_MAX (1u << 20)	/* request bodies kept (without --push-bodies) to name the model */

/* Column indexes of the fields a span uses (-1: absent). */
enum {
	F_ID, F_PID, F_TID, F_COMM, F_EXE, F_PROVIDER, F_OPERATION, F_MODEL, F_HOST, F_METHOD,
	F_PATH, F_STATUS, F_STREAM, F_IN, F_OUT, F_CACHE_R, F_CACHE_W, F_REASONING, F_COST,
	F_FINISH, F_TEXT, F_START, F_DURATION, F_TTFB, F_TTFT, F_DNS, F_CONNECT, F_TLS,
	F_REUSED, F_REQ_BYTES, F_RESP_BYTES, F_REQ_BODY, F_RESP_BODY, F_ERROR, F_CONN_ID,
	F_UPLOAD, F_CLIENT, F_TPS, F_VERDICT, F_WAIT, F_RUN_ID, F_CONTAINER, F_N
};

static const char *const field_names[F_N] = {
	"id", "pid", "tid", "comm", "exe", "provider", "operation", "model", "host", "method",
	"path", "status", "stream", "input_tokens", "output_tokens", "cache_read_tokens",
	"cache_write_tokens", "reasoning_tokens", "cost_usd", "finish_reason", "response_text",
	"start_ns", "duration_ms", "ttfb_ms", "ttft_ms", "dns_ms", "connect_ms", "tls_ms",
	"conn_reused", "request_bytes", "response_bytes", "request_body", "response_body", "error",
	"conn_id", "upload_ms", "client_ms", "tokens_per_s", "verdict", "wait_ms", "run_id",
	"container_id",
};

/* Column c of st's row as a malloc'd string; NULL when absent (c < 0) or NULL. */
static char *otlp_col_str(sqlite3_stmt *st, int c)
{
	const unsigned char *t;

	if (c < 0 || sqlite3_column_type(st, c) == SQLITE_NULL)
		return NULL;
	t = sqlite3_column_text(st, c);
	return t ? strdup((const char *)t) : NULL;
}

/* Column c of st's row as an integer; CALL_NULL_INT when absent or NULL. */
static int64_t otlp_col_int(sqlite3_stmt *st, int c)
{
	if (c < 0 || sqlite3_column_type(st, c) == SQLITE_NULL)
		return CALL_NULL_INT;
	return sqlite3_column_int64(st, c);
}

/* Column c of st's row as a real; CALL_NULL_REAL when absent or NULL. */
static double otlp_col_real(sqlite3_stmt *st, int c)
{
	if (c < 0 || sqlite3_column_type(st, c) == SQLITE_NULL)
		return CALL_NULL_REAL;
	return sqlite3_column_double(st, c);
}

/* A call_row whose provider, operation and verdict are malloc'd too. */
static void otlp_row_free(struct call_row *r)
{
	if (!r)
		return;
	free((char *)r->provider);
	free((char *)r->operation);
	free((char *)r->verdict);
	r->provider = r->operation = r->verdict = NULL;
	call_row_free(r);
}

/* strlen(s); 0 for NULL. */
static size_t otlp_slen(const char *s)
{
	return s ? strlen(s) : 0;
}

/* The current row of st as a call_row (fields by column index f[]). */
static struct call_row *otlp_row_read(sqlite3_stmt *st, const int *f, int bodies, size_t *bytes)
{
	struct call_row *r = calloc(1, sizeof(*r));
	char *s;

	if (!r)
		return NULL;
	s = otlp_col_str(st, f[F_ID]);
	snprintf(r->id, sizeof(r->id), "%s", s ? s : "");
	free(s);
	s = otlp_col_str(st, f[F_COMM]);
	snprintf(r->comm, sizeof(r->comm), "%s", s ? s : "");
	free(s);
	s = otlp_col_str(st, f[F_CONN_ID]);
	snprintf(r->conn_id, sizeof(r->conn_id), "%s", s ? s : "");
	free(s);
	s = otlp_col_str(st, f[F_RUN_ID]);
	snprintf(r->run_id, sizeof(r->run_id), "%s", s ? s : "");
	free(s);
	r->pid = otlp_col_int(st, f[F_PID]);
	r->tid = otlp_col_int(st, f[F_TID]);
	r->exe = otlp_col_str(st, f[F_EXE]);
	r->provider = otlp_col_str(st, f[F_PROVIDER]);
	r->operation = otlp_col_str(st, f[F_OPERATION]);
	r->model = otlp_col_str(st, f[F_MODEL]);
	r->host = otlp_col_str(st, f[F_HOST]);
	r->method = otlp_col_str(st, f[F_METHOD]);
	r->path = otlp_col_str(st, f[F_PATH]);
	r->status = otlp_col_int(st, f[F_STATUS]);
	r->stream = otlp_col_int(st, f[F_STREAM]);
	r->input_tokens = otlp_col_int(st, f[F_IN]);
	r->output_tokens = otlp_col_int(st, f[F_OUT]);
	r->cache_read_tokens = otlp_col_int(st, f[F_CACHE_R]);
	r->cache_write_tokens = otlp_col_int(st, f[F_CACHE_W]);
	r->reasoning_tokens = otlp_col_int(st, f[F_REASONING]);
	r->cost_usd = otlp_col_real(st, f[F_COST]);
	r->finish_reason = otlp_col_str(st, f[F_FINISH]);
	r->start_ns = otlp_col_int(st, f[F_START]);
	r->duration_ms = otlp_col_real(st, f[F_DURATION]);
	r->ttfb_ms = otlp_col_real(st, f[F_TTFB]);
	r->ttft_ms = otlp_col_real(st, f[F_TTFT]);
	r->dns_ms = otlp_col_real(st, f[F_DNS]);
	r->connect_ms = otlp_col_real(st, f[F_CONNECT]);
	r->tls_ms = otlp_col_real(st, f[F_TLS]);
	r->conn_reused = otlp_col_int(st, f[F_REUSED]);
	r->request_bytes = otlp_col_int(st, f[F_REQ_BYTES]);
	r->response_bytes = otlp_col_int(st, f[F_RESP_BYTES]);
	r->error = otlp_col_str(st, f[F_ERROR]);
	r->upload_ms = otlp_col_real(st, f[F_UPLOAD]);
	r->wait_ms = otlp_col_real(st, f[F_WAIT]);
	r->client_ms = otlp_col_real(st, f[F_CLIENT]);
	r->tokens_per_s = otlp_col_real(st, f[F_TPS]);
	r->verdict = otlp_col_str(st, f[F_VERDICT]);
	r->container_id = otlp_col_str(st, f[F_CONTAINER]);
	/* The request body names the requested model; kept whole only with --push-bodies. */
	if (bodies || (f[F_REQ_BODY] >= 0 && sqlite3_column_bytes(st, f[F_REQ_BODY]) <= (int)MODEL_BODY_MAX))
		r->request_body = otlp_col_str(st, f[F_REQ_BODY]);
	if (bodies) {
		r->response_body = otlp_col_str(st, f[F_RESP_BODY]);
		r->response_text = otlp_col_str(st, f[F_TEXT]);
	}
	*bytes = ROW_OVERHEAD + otlp_slen(r->request_body) + otlp_slen(r->response_body) +
		 2 * otlp_slen(r->response_text) + otlp_slen(r->exe) + otlp_slen(r->error);
	return r;
}

/* The top run of run_id's tree (agent_runs.root_run_id), read on t's
 * connection; malloc'd, NULL when unknown (the run is its own root then). */
static char *otlp_root_of(struct push_target *t, const char *run_id)
{
	sqlite3_stmt *st;
	char *root = NULL;

	if (!run_id[0] || sqlite3_prepare_v2(t->db, "SELECT root_run_id FROM agent_runs WHERE id = ?1", -1, &st,
					     NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		root = otlp_col_str(st, 0);
	sqlite3_finalize(st);
	return root;
}

/* The index (+1: column 0 is the rowid) of each name of names[0..n) in tab; -1 absent. */
static void otlp_fields(const struct push_tab *tab, const char *const *names, int n, int *f)
{
	int i, j;

	for (i = 0; i < n; i++) {
		f[i] = -1;
		for (j = 0; j < tab->ncols; j++)
			if (!strcmp(tab->cols[j].name, names[i]))
				f[i] = j + 1;
	}
}

/* The llm_calls rows of st (at most batch_rows) as one OTLP traces request.
 * As push_kind_ops.build. */
static int otlp_build_calls(struct push_target *t, struct push_tab *tab, sqlite3_stmt *st,
			    struct buf *body, int64_t *last, int *nrows)
{
	const struct push_opts *o = push_opts_of(t->p);
	struct otlp_opts oo = { push_host_id(t->p), push_host_name(t->p), NULL, o->bodies };
	struct call_row **rows = calloc(o->batch_rows, sizeof(*rows));
	char **roots = calloc(o->batch_rows, sizeof(*roots));
	int f[F_N], i, n = 0, rc = SQLITE_NOMEM;
	size_t bytes = 0, b;

	if (!rows || !roots)
		goto out_free;
	otlp_fields(tab, field_names, F_N, f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == o->batch_rows) {
			rc = SQLITE_FULL;
			break;
		}
		rows[n] = otlp_row_read(st, f, o->bodies, &b);
		if (!rows[n]) {
			rc = SQLITE_NOMEM;
			break;
		}
		roots[n] = otlp_root_of(t, rows[n]->run_id);
		n++;
		bytes += b;
		*last = sqlite3_column_int64(st, 0);
		if (bytes >= PUSH_BATCH_BYTES) {
			rc = SQLITE_FULL;
			break;
		}
	}
	if ((rc == SQLITE_DONE || rc == SQLITE_FULL) && n &&
	    otlp_traces_json_roots(body, (const struct call_row *const *)rows, (const char *const *)roots, n, &oo))
		rc = SQLITE_NOMEM;
	*nrows = n;
out_free:
	for (i = 0; i < n; i++) {
		otlp_row_free(rows[i]);
		free(roots[i]);
	}
	free(rows);
	free(roots);
	return rc == SQLITE_DONE ? 0 : rc == SQLITE_FULL ? 1 : -1;
}

/* The agent_runs and agent_steps columns a run's spans use. */
enum { R_ID, R_PID, R_COMM, R_START, R_END, R_LLM, R_TOOLS, R_IN, R_OUT, R_COST, R_PARENT, R_FLAGS,
       R_AGENT, R_ROOT, R_PSEQ, R_STATE, R_MODEL, R_PROVIDER, R_ERRORS, R_N };
static const char *const run_fields[R_N] = {
	"id", "pid", "comm", "start_ns", "end_ns", "llm_calls", "tool_calls", "input_tokens",
	"output_tokens", "cost_usd", "parent_run_id", "flags", "agent", "root_run_id", "parent_seq",
	"state", "model", "provider", "errors",
};

/* Copy column c of st into a fixed-size id field (empty when NULL). */
static void otlp_col_id(sqlite3_stmt *st, int c, char *dst, size_t n)
{
	char *s = otlp_col_str(st, c);

	snprintf(dst, n, "%s", s ? s : "");
	free(s);
}

/* The tool steps of run id, read on t's connection; *n of them. NULL when none. */
static struct step_row **otlp_steps_read(struct push_target *t, const char *id, size_t *n, size_t *bytes)
{
	sqlite3_stmt *st;
	struct step_row **v = NULL, **nv, *s;

	*n = 0;
	if (sqlite3_prepare_v2(t->db, "SELECT seq, tool_name, tool_call_id, arguments, start_ns, end_ns, status,"
			       " execs, exit_code, result_bytes, command FROM agent_steps WHERE run_id = ?1"
			       " AND kind = 'tool' ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		s = calloc(1, sizeof(*s));
		nv = s ? realloc(v, (*n + 1) * sizeof(*v)) : NULL;
		if (!nv) {
			free(s);
			break;
		}
		v = nv;
		v[(*n)++] = s;
		s->seq = otlp_col_int(st, 0);
		s->kind = "tool";
		s->tool_name = otlp_col_str(st, 1);
		s->tool_call_id = otlp_col_str(st, 2);
		s->arguments = otlp_col_str(st, 3);
		s->start_ns = otlp_col_int(st, 4);
		s->end_ns = otlp_col_int(st, 5);
		s->status = "ok";
		if (sqlite3_column_type(st, 6) == SQLITE_TEXT) {
			const char *stt = (const char *)sqlite3_column_text(st, 6);

			s->status = !strcmp(stt, "error") ? "error" : !strcmp(stt, "unanswered") ? "unanswered" :
				    !strcmp(stt, "running") ? "running" : "ok";
		}
		s->execs = otlp_col_str(st, 7);
		s->exit_code = otlp_col_int(st, 8);
		s->result_bytes = otlp_col_int(st, 9);
		s->command = otlp_col_str(st, 10);
		*bytes += ROW_OVERHEAD + otlp_slen(s->arguments) + 2 * otlp_slen(s->execs);
	}
	sqlite3_finalize(st);
	return v;
}

/* The agent_runs rows of st that are over (not "running": a run goes out
 * once it ended, went idle or was interrupted) as run, tool and exec spans.
 * As push_kind_ops.build. */
static int otlp_build_runs(struct push_target *t, struct push_tab *tab, sqlite3_stmt *st,
			   struct buf *body, int64_t *last, int *nrows)
{
	const struct push_opts *o = push_opts_of(t->p);
	struct otlp_opts oo = { push_host_id(t->p), push_host_name(t->p), NULL, o->bodies };
	int f[R_N], rc, any = 0;
	size_t bytes = 0, ns, i;

	otlp_fields(tab, run_fields, R_N, f);
	if (buf_puts(body, "{\"resourceSpans\":["))
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct run_row r = { 0 };
		struct step_row **steps;
		char *state = otlp_col_str(st, f[R_STATE]);
		int skip = !state || !strcmp(state, "running");

		free(state);
		*last = sqlite3_column_int64(st, 0);
		(*nrows)++;
		if (skip)
			continue;	/* its later row, once it is over, goes */
		otlp_col_id(st, f[R_ID], r.id, sizeof(r.id));
		otlp_col_id(st, f[R_COMM], r.comm, sizeof(r.comm));
		otlp_col_id(st, f[R_PARENT], r.parent_run_id, sizeof(r.parent_run_id));
		otlp_col_id(st, f[R_ROOT], r.root_run_id, sizeof(r.root_run_id));
		r.pid = otlp_col_int(st, f[R_PID]);
		r.start_ns = otlp_col_int(st, f[R_START]);
		r.end_ns = otlp_col_int(st, f[R_END]);
		r.llm_calls = otlp_col_int(st, f[R_LLM]);
		r.tool_calls = otlp_col_int(st, f[R_TOOLS]);
		r.input_tokens = otlp_col_int(st, f[R_IN]);
		r.output_tokens = otlp_col_int(st, f[R_OUT]);
		r.cost_usd = otlp_col_real(st, f[R_COST]);
		r.flags = otlp_col_str(st, f[R_FLAGS]);
		r.agent = otlp_col_str(st, f[R_AGENT]);
		r.parent_seq = otlp_col_int(st, f[R_PSEQ]);
		r.state = "ended";
		r.model = otlp_col_str(st, f[R_MODEL]);
		r.provider = otlp_col_str(st, f[R_PROVIDER]);
		r.errors = otlp_col_int(st, f[R_ERRORS]);
		steps = otlp_steps_read(t, r.id, &ns, &bytes);
		if ((any && buf_puts(body, ",")) ||
		    otlp_run_json(body, &r, (const struct step_row *const *)steps, ns, &oo))
			rc = SQLITE_NOMEM;
		any = 1;
		for (i = 0; i < ns; i++)
			row_free(ROW_STEP, steps[i]);
		free(steps);
		free(r.flags);
		free(r.agent);
		free(r.model);
		free(r.provider);
		bytes += ROW_OVERHEAD;
		if (rc == SQLITE_NOMEM)
			break;
		if (*nrows >= o->batch_rows || bytes >= PUSH_BATCH_BYTES) {
			rc = SQLITE_FULL;
			break;
		}
	}
	if (buf_puts(body, "]}"))
		rc = SQLITE_NOMEM;
	if (!any)
		buf_reset(body);	/* nothing to send: only runs still going */
	return rc == SQLITE_DONE ? 0 : rc == SQLITE_FULL ? 1 : -1;
}

/* Spans of llm_calls or agent_runs rows. As push_kind_ops.build. */
static int otlp_build(struct push_target *t, struct push_tab *tab, sqlite3_stmt *st,
		      const char *batch_id, struct buf *body, int64_t *last, int *nrows)
{
	(void)batch_id;
	if (!strcmp(tab->name, "agent_runs"))
		return otlp_build_runs(t, tab, st, body, last, nrows);
	return otlp_build_calls(t, tab, st, body, last, nrows);
}

/* POST the spans; retried per the OTLP/HTTP spec, else dropped. As
 * push_kind_ops.send. */
static void otlp_send(struct push_target *t, struct push_tab *tab, const struct buf *body,
		      const char *batch_id, int nrows, struct push_result *r)
{
	struct push_http h = { 0 };
	const char *rej;

	(void)tab;
	(void)batch_id;
	r->outcome = PUSH_RETRY;
	h.url = t->url.endpoint;
	h.content_type = "application/json";
	h.body = body->data;
	h.len = body->len;
	if (push_http_post(t, &h, 1)) {
		push_set_error(t, r, "OTLP: %s", h.err);
	} else if (h.status >= 200 && h.status < 300) {
		r->outcome = PUSH_OK;
		/* partial success: the rest was taken; a retry would not change the verdict */
		rej = h.resp.data ? strstr((const char *)h.resp.data, "\"rejectedSpans\"") : NULL;
		if (rej && strtoll(rej + strcspn(rej, "0123456789"), NULL, 10) > 0)
			log_warn("push: %s: the collector rejected some of %d span(s): %.200s",
				 t->url.key, nrows, (const char *)h.resp.data);
	} else {
		if (!otlp_status_retryable(h.status))
			r->outcome = PUSH_DROP;
		push_set_error(t, r, "OTLP: HTTP %ld: %.200s", h.status,
			       h.resp.data ? (const char *)h.resp.data : "");
		r->retry_after = h.retry_after;
	}
	buf_free(&h.resp);
}

/* What an OTLP target pushes: calls; runs with their tools and execs. */
static const char *const otlp_tables[] = { "llm_calls", "agent_runs", NULL };

const struct push_kind_ops push_otlp_ops = {
	.name = "otlp",
	.tables = otlp_tables,
	.setup = NULL,
	.build = otlp_build,
	.send = otlp_send,
};

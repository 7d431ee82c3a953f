/* target_otlp.c -- the OTLP/HTTP target: llm_calls rows as spans (format_otlp.c builds the JSON), POST /v1/traces.
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
	F_UPLOAD, F_CLIENT, F_TPS, F_VERDICT, F_WAIT, F_CONTAINER, F_N
};

static const char *const field_names[F_N] = {
	"id", "pid", "tid", "comm", "exe", "provider", "operation", "model", "host", "method",
	"path", "status", "stream", "input_tokens", "output_tokens", "cache_read_tokens",
	"cache_write_tokens", "reasoning_tokens", "cost_usd", "finish_reason", "response_text",
	"start_ns", "duration_ms", "ttfb_ms", "ttft_ms", "dns_ms", "connect_ms", "tls_ms",
	"conn_reused", "request_bytes", "response_bytes", "request_body", "response_body", "error",
	"conn_id", "upload_ms", "client_ms", "tokens_per_s", "verdict", "wait_ms", "container_id",
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

/* The llm_calls rows of st (at most batch_rows) as one OTLP traces request.
 * As push_kind_ops.build. */
static int otlp_build(struct push_target *t, struct push_tab *tab, sqlite3_stmt *st,
		      const char *batch_id, struct buf *body, int64_t *last, int *nrows)
{
	const struct push_opts *o = push_opts_of(t->p);
	struct otlp_opts oo = { push_host_id(t->p), push_host_name(t->p), NULL, o->bodies };
	struct call_row **rows = calloc(o->batch_rows, sizeof(*rows));
	int f[F_N], i, j, n = 0, rc;
	size_t bytes = 0, b;

	(void)batch_id;
	if (!rows)
		return -1;
	for (i = 0; i < F_N; i++) {
		f[i] = -1;
		for (j = 0; j < tab->ncols; j++)
			if (!strcmp(tab->cols[j].name, field_names[i]))
				f[i] = j + 1;	/* column 0 is the rowid */
	}
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
		n++;
		bytes += b;
		*last = sqlite3_column_int64(st, 0);
		if (bytes >= PUSH_BATCH_BYTES) {
			rc = SQLITE_FULL;
			break;
		}
	}
	if ((rc == SQLITE_DONE || rc == SQLITE_FULL) && n &&
	    otlp_traces_json(body, (const struct call_row *const *)rows, n, &oo))
		rc = SQLITE_NOMEM;
	*nrows = n;
	for (i = 0; i < n; i++)
		otlp_row_free(rows[i]);
	free(rows);
	return rc == SQLITE_DONE ? 0 : rc == SQLITE_FULL ? 1 : -1;
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

const struct push_kind_ops push_otlp_ops = {
	.name = "otlp",
	.all_tables = 0,
	.setup = NULL,
	.build = otlp_build,
	.send = otlp_send,
};

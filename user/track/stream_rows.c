/* stream_rows.c -- a finished exchange becomes an llm_calls row: timings, provider fields, costs, verdict; heads formatted for storage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/stream_int.h"
#include "llm/cost.h"
#include "llm/errtype.h"
#include "llm/jmemo.h"
#include "llm/provider.h"
#include "llm/redact.h"
#include "base/util.h"
#include "llm/verdict.h"

/* n bytes of body memory go back to t's budget (never below nothing). */
static void body_mem_release(struct stream_table *t, size_t n)
{
	t->body_mem -= n < t->body_mem ? n : t->body_mem;
}

/* Free x and what it holds; its body memory goes back to t's budget. */
static void exchange_free(struct stream_table *t, struct exchange *x)
{
	body_mem_release(t, x->req_body.cap + x->resp_body.cap);
	free(x->target);
	free(x->host);
	buf_free(&x->req_head);
	buf_free(&x->resp_head);
	buf_free(&x->req_body);
	buf_free(&x->resp_body);
	if (x->req_dec)
		decoder_free(x->req_dec);
	if (x->resp_dec)
		decoder_free(x->resp_dec);
	free(x->content_type);
	free(x->error);
	free(x->ticks);
	buf_free(&x->ws_req);
	free(x);
}

void stream_head_format(struct buf *out, const struct http1_head *h)
{
	char line[128];
	size_t i;

	if (h->type == HTTP1_REQUEST) {
		char *t = redact_target(h->target);

		buf_puts(out, h->method);
		buf_puts(out, " ");
		buf_puts(out, t ? t : "");
		free(t);
		snprintf(line, sizeof(line), " HTTP/1.%d\n", h->version_minor);
	} else {
		snprintf(line, sizeof(line), "HTTP/1.%d %d %s\n", h->version_minor,
			 h->status, h->reason ? h->reason : "");
	}
	buf_puts(out, line);
	for (i = 0; i < h->n_headers; i++) {
		char *v = redact_header_value(h->headers[i].name, h->headers[i].value);

		buf_puts(out, h->headers[i].name);
		buf_puts(out, ": ");
		buf_puts(out, v ? v : REDACTED);
		buf_puts(out, "\n");
		free(v);
	}
}

/* The secret rules over the n bytes at *owned (malloc'd, NUL after them):
 * their copy, or when they took nothing *owned itself (taken: *owned set
 * NULL) with bit set in *clean, so the store does not run them again.
 * *outn (when given) gets the length. NULL when out of memory. */
static char *redacted_take(char **owned, size_t n, size_t *outn, unsigned *clean, unsigned bit)
{
	int unchanged;
	char *r = redact_textn_changed(*owned, n, outn, &unchanged);

	if (unchanged) {
		r = *owned;
		*owned = NULL;
		*clean |= bit;
	}
	return r;
}

/* Body b of an exchange of t through the secret rules, as redacted_take():
 * its own buffer when they took nothing (no copy of a large body), else
 * their copy. Its memory leaves t's body budget here (the row holds it). */
static char *body_take(struct stream_table *t, struct buf *b, size_t *outn, unsigned *clean,
		       unsigned bit)
{
	size_t n = b->len;
	char *owned, *r;

	body_mem_release(t, b->cap);
	owned = buf_steal(b);
	if (!owned)
		return NULL;
	r = redacted_take(&owned, n, outn, clean, bit);
	free(owned);
	return r;
}

static double ms_between(uint64_t from, uint64_t to)
{
	if (!from || !to || to < from)
		return CALL_NULL_REAL;
	return (double)(to - from) / 1e6;
}

static char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Time at which the decoded response body first reached `off` bytes. */
static uint64_t tick_time(const struct exchange *x, long off)
{
	size_t i;

	if (off < 0)
		return 0;
	for (i = 0; i < x->nticks; i++)
		if (x->ticks[i].off >= (uint64_t)off)
			return x->ticks[i].ts;
	return 0;
}

/* The latency split of a call: its connection's setup when it is the first
 * on it, the upload, the token rate and the verdict. */
static void exchange_timing(struct stream *c, const struct exchange *x,
			    const struct llm_call *call, struct call_row *r)
{
	struct call_netinfo ni = { .dns_ms = -1, .connect_ms = -1, .tls_ms = -1, .client_ms = -1 };
	struct latency_split sp;
	uint64_t first_tok = tick_time(x, call->first_token_offset), upload_end;
	double gen_ms;

	if (c->t->net && c->sock)
		net_sock_call_info(c->t->net, c->ssl, x->t_req_start, x->t_req_end, !x->reused, &ni);
	else if (c->t->net)
		net_call_info(c->t->net, c->tgid, c->ssl, x->t_req_start, x->t_req_end,
			      !x->reused, &ni);
	memcpy(r->conn_id, ni.conn_id, sizeof(r->conn_id));
	r->dns_ms = x->reused ? CALL_NULL_REAL : ni.dns_ms;
	r->connect_ms = x->reused ? CALL_NULL_REAL : ni.connect_ms;
	r->tls_ms = x->reused ? CALL_NULL_REAL : ni.tls_ms;
	r->client_ms = x->reused ? CALL_NULL_REAL : ni.client_ms;
	/* A large body is uploaded when the peer has acknowledged it, not when
	 * the last write returned (the socket buffer held the rest). */
	upload_end = x->t_req_end;
	if (ni.acked_ns > upload_end)
		upload_end = ni.acked_ns;
	if (x->t_resp_first && upload_end > x->t_resp_first)
		upload_end = x->t_resp_first;
	r->upload_ms = x->req_done ? ms_between(x->t_req_start, upload_end) : CALL_NULL_REAL;
	r->wait_ms = x->req_done ? ms_between(upload_end, x->t_resp_first) : CALL_NULL_REAL;
	gen_ms = ms_between(first_tok, x->t_resp_last);
	r->tokens_per_s = call->stream && gen_ms > 0 && call->output_tokens > 0 ?
		call->output_tokens / (gen_ms / 1e3) : CALL_NULL_REAL;
	sp.dns_ms = r->dns_ms;
	sp.connect_ms = r->connect_ms;
	sp.tls_ms = r->tls_ms;
	sp.client_ms = r->client_ms;
	sp.upload_ms = r->upload_ms;
	sp.ttfb_ms = r->wait_ms;
	sp.download_ms = ms_between(x->t_resp_first, x->t_resp_last);
	sp.stream = call->stream;
	r->verdict = x->status ? verdict_of(&sp) : NULL;
}

/* Unlink x from c and free it, without a row. */
void exchange_drop(struct stream *c, struct exchange *x)
{
	struct exchange **pp;

	for (pp = &c->xq; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (c->req_x == x)
		c->req_x = NULL;
	if (c->resp_x == x)
		c->resp_x = NULL;
	exchange_free(c->t, x);
}

/* Build and hand over the row of x if it is an LLM call; unlink and free x.
 * why, when set, says why the exchange ended incomplete. */
void exchange_emit(struct stream *c, struct exchange *x, const char *why)
{
	struct llm_request req = {
		.host = x->host, .method = x->method, .path = x->target,
		.body = x->req_body.data, .body_len = x->req_body.len, .head_only = x->head_only,
	};
	struct llm_response resp = {
		.status = x->status, .content_type = x->content_type,
		.body = x->resp_body.data, .body_len = x->resp_body.len,
	};

	/* Over a WebSocket, a response.create is the POST it stands for, and
	 * its events a 200 event stream. */
	if (x->ws) {
		req.method = "POST";
		req.body = x->ws_req.data;
		req.body_len = x->ws_req.len;
		resp.status = 200;
	}
	const char *provider, *operation;
	struct llm_call call;
	struct call_row *r = NULL;
	struct exchange **pp;
	char msg[64];

	for (pp = &c->xq; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (c->req_x == x)
		c->req_x = NULL;
	if (c->resp_x == x)
		c->resp_x = NULL;
	if (why)
		exchange_fail(x, why);
	if (!provider_detect(&req, &provider, &operation) &&
	    !provider_detect_answer(&req, &resp, &provider, &operation)) {
		if (verbose && (x->status || x->req_done)) {
			char *t = redact_target(x->target);	/* key= in a query is a secret */

			log_debug("pid %u: %s %s%s: not recorded: %s (status %d)", c->tgid, x->method,
				  x->host ? x->host : "?", t ? t : "", provider_why_not(&req), x->status);
			free(t);
		}
		goto out_free;
	}
	/* the provider parser and the runs builder read the same bodies */
	jmemo_begin();
	if (provider_parse(&call, &req, &resp))
		goto out_clear;
	/* The client cancelled a stream whose answer had ended (its finish
	 * event came): a complete call, not an error. */
	if (x->client_cancel && call.stream && call.finish_reason && !call.error) {
		free(x->error);
		x->error = NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out_clear;

	uuid7(r->id);
	r->cost_usd = cost_estimate_call(&call);	/* before the strings move to r */
	r->pid = c->tgid;
	r->tid = x->tid;
	memcpy(r->comm, c->comm, sizeof(r->comm));
	r->exe = strdup_or_null(c->exe);
	r->cgroup = strdup_or_null(c->cgroup);
	r->container_id = strdup_or_null(c->container_id);
	r->provider = call.provider ? call.provider : provider;
	r->operation = call.operation ? call.operation : operation;
	r->model = call.model;
	call.model = NULL;
	r->host = strdup_or_null(x->host);
	r->method = strdup(x->method);
	r->path = redact_target(x->target);
	r->status = x->status ? x->status : CALL_NULL_INT;
	r->stream = call.stream;
#define TOK(v) ((v) == TOKENS_NONE ? CALL_NULL_INT : (v))
	r->input_tokens = TOK(call.input_tokens);
	r->output_tokens = TOK(call.output_tokens);
	r->cache_read_tokens = TOK(call.cache_read_tokens);
	r->cache_write_tokens = TOK(call.cache_write_tokens);
	r->reasoning_tokens = TOK(call.reasoning_tokens);
#undef TOK
	r->finish_reason = call.finish_reason;
	call.finish_reason = NULL;
	/* Keys pasted into prompts or echoed by a model are secrets too. */
	r->response_text = call.response_text ?
		redacted_take(&call.response_text, strlen(call.response_text), NULL, &r->clean,
			      CALL_CLEAN_TEXT) : NULL;
	r->start_ns = x->t_req_start ? (int64_t)mono_to_epoch_ns(x->t_req_start) : CALL_NULL_INT;
	r->duration_ms = ms_between(x->t_req_start, x->t_resp_last);
	r->ttfb_ms = ms_between(x->t_req_end, x->t_resp_first);
	r->ttft_ms = ms_between(x->t_req_end, tick_time(x, call.first_token_offset));
	exchange_timing(c, x, &call, r);
	r->conn_reused = x->reused;
	r->request_bytes = x->req_body.len;
	r->response_bytes = x->resp_body.len;
	r->request_headers = buf_steal(&x->req_head);
	r->response_headers = x->status ? buf_steal(&x->resp_head) : NULL;
	/* whole bodies, NUL bytes and all; a key the stream split across events
	 * goes from the body too, not only from response_text (with a clean
	 * text there is none such: the body alone is looked at) */
	r->request_body = body_take(c->t, &x->req_body, &r->request_body_len, &r->clean,
				    CALL_CLEAN_REQ_BODY);
	if (x->status && call.response_text)	/* a text the rules took from (kept: not clean) */
		r->response_body = redact_stream_body(
			x->resp_body.data ? (const char *)x->resp_body.data : "", x->resp_body.len,
			call.response_text, &r->response_body_len);
	else if (x->status)
		r->response_body = body_take(c->t, &x->resp_body, &r->response_body_len, &r->clean,
					     CALL_CLEAN_RESP_BODY);
	r->error_type = errtype_of(&(struct errtype_in){
		.status = x->status, .api_error = call.error, .capture = x->error,
		.truncated = x->truncated[0] || x->truncated[1],
		.response_started = x->t_resp_first != 0 });
	if (x->error) {
		r->error = x->error;
		x->error = NULL;
	} else if (x->truncated[0] || x->truncated[1]) {
		r->error = strdup("truncated");
	} else if (call.error) {
		r->error = call.error;
		call.error = NULL;
	} else if (x->status >= 400) {
		snprintf(msg, sizeof(msg), "http %d", x->status);
		r->error = strdup(msg);
	}
	row_emit(&c->t->sink, ROW_CALL, r);
out_clear:
	jmemo_end();
	llm_call_clear(&call);
out_free:
	exchange_free(c->t, x);
}

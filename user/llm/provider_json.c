/* provider_json.c -- the JSON helpers of the per-API parsers, and the response body read as one document, SSE events, a JSON array or NDJSON. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/jmemo.h"
#include "llm/jparse.h"
#include "llm/provider_int.h"
#include "proto/sse.h"

/* ---- small JSON helpers (declared in provider_int.h) ---- */

json_t *p_get(json_t *v, const char *path)
{
	char key[64];

	while (v && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		v = json_object_get(v, key);	/* NULL when v is not an object */
		path += n + (dot ? 1 : 0);
	}
	return v;
}

int p_streq(json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

void p_tokens(int64_t *dst, json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		*dst = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) >= 0 &&
		 json_real_value(v) < 9e18)
		*dst = (int64_t)json_real_value(v);
}

void p_set_cstr(struct pstate *p, char **dst, const char *s)
{
	char *d;

	if (!s || !s[0])
		return;
	d = strdup(s);
	if (!d) {
		p->nomem = 1;
		return;
	}
	free(*dst);
	*dst = d;
}

void p_set_str(struct pstate *p, char **dst, json_t *v)
{
	if (json_is_string(v))
		p_set_cstr(p, dst, json_string_value(v));
}

void p_model(struct pstate *p, json_t *v)
{
	if (!p->c->model)
		p_set_str(p, &p->c->model, v);
}

int p_text(struct pstate *p, json_t *v)
{
	size_t n;

	if (!json_is_string(v))
		return 0;
	p->have_text = 1;
	n = json_string_length(v);
	if (n && buf_append(&p->text, json_string_value(v), n)) {
		p->nomem = 1;
		return 0;
	}
	return n > 0;
}

void p_token(struct pstate *p)
{
	if (p->offset >= 0 && p->c->first_token_offset < 0)
		p->c->first_token_offset = p->offset;
}

/* Set c->error to "kind: message" (either part alone when the other is
 * missing). Does nothing when both are missing. */
void p_set_error(struct pstate *p, const char *kind, const char *msg)
{
	struct buf b = { 0 };
	int rc = 0;

	if (p->c->error || (!kind && !msg))
		return;
	if (kind)
		rc |= buf_puts(&b, kind);
	if (kind && msg)
		rc |= buf_puts(&b, ": ");
	if (msg)
		rc |= buf_puts(&b, msg);
	if (rc || !(p->c->error = buf_steal(&b)))
		p->nomem = 1;
	buf_free(&b);
}

/* The error kind is the first of: a string "code" (OpenAI's specific
 * code, e.g. "invalid_api_key"), "type" (Anthropic, OpenAI), "status"
 * (Gemini, e.g. "RESOURCE_EXHAUSTED"), a numeric "code". */
void p_error_obj(struct pstate *p, json_t *e)
{
	const char *keys[] = { "code", "type", "status" };
	const char *kind = NULL, *msg = NULL;
	json_t *v;
	char num[32];
	size_t i;

	if (!json_is_object(e))
		return;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && !kind; i++) {
		v = json_object_get(e, keys[i]);
		if (json_is_string(v) && json_string_value(v)[0])
			kind = json_string_value(v);
	}
	v = json_object_get(e, "code");
	if (!kind && json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		kind = num;
	}
	v = json_object_get(e, "message");
	if (json_is_string(v) && json_string_value(v)[0])
		msg = json_string_value(v);
	p_set_error(p, kind, msg);
}

/* Any API error a parsed body or event carries: {"error": {...}},
 * {"error": "text"}, or an event {"type": "error", "code", "message"}. */
static void find_error(struct pstate *p, json_t *root)
{
	json_t *e = json_object_get(root, "error");

	if (json_is_object(e))
		p_error_obj(p, e);
	else if (json_is_string(e) && json_string_value(e)[0])
		p_set_error(p, NULL, json_string_value(e));
	else if (p_streq(json_object_get(root, "type"), "error"))
		p_error_obj(p, root);
}

/* ---- detection ---- */

/* ---- the response body ---- */

/* What on_sse_event() needs. */
struct sse_ctx {
	struct pstate *p;
	const struct pformat *fmt;
};

/* One SSE event: "[DONE]" and non-JSON data are skipped. */
static void on_sse_event(void *ud, const struct sse_event *ev)
{
	struct sse_ctx *x = ud;
	json_t *root;

	if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6))
		return;
	root = jmemo_loadb(ev->data, ev->data_len, JSON_ALLOW_NUL, NULL);
	if (!root)
		return;
	x->p->offset = (long)ev->end_offset;
	find_error(x->p, root);
	if (x->fmt)
		x->fmt->event(x->p, ev->event, root);
	json_decref(root);
}

/* Parse an SSE body event by event. */
static void parse_sse(struct pstate *p, const struct pformat *fmt,
		      const char *b, size_t n)
{
	struct sse_ctx x = { p, fmt };
	struct sse_parser *sp = sse_parser_new(on_sse_event, &x);

	if (!sp) {
		p->nomem = 1;
		return;
	}
	/* a failed feed (line over the limit) keeps the events before it */
	if (!sse_parser_feed(sp, b, n))
		sse_parser_finish(sp);
	sse_parser_free(sp);
	p->offset = -1;
}

/* 1 for JSON whitespace, else 0. */
static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Parse a streamed JSON array ("[{...},\r\n{...}]", Gemini's
 * streamGenerateContent without alt=sse) element by element, from b[i] =
 * '['. Stops at the first element that does not parse (a truncated body). */
static void parse_json_array(struct pstate *p, const struct pformat *fmt,
			     const char *b, size_t n, size_t i)
{
	size_t used;
	json_t *root;

	i++;
	for (;;) {
		while (i < n && (is_ws(b[i]) || b[i] == ','))
			i++;
		if (i >= n || b[i] == ']')
			break;
		root = jparse_loadb_first(b + i, n - i, JSON_ALLOW_NUL, &used);
		if (!root)
			break;
		if (!used || used > n - i) {
			json_decref(root);
			break;
		}
		i += used;
		p->offset = (long)i;
		find_error(p, root);
		if (fmt)
			fmt->event(p, "", root);
		json_decref(root);
	}
	p->offset = -1;
}

/* Parse newline-delimited JSON objects (Ollama's streams), from b[i] =
 * '{'. Stops at the first line that does not parse (a truncated body). */
static void parse_ndjson(struct pstate *p, const struct pformat *fmt,
			 const char *b, size_t n, size_t i)
{
	size_t used;
	json_t *root;

	for (;;) {
		while (i < n && is_ws(b[i]))
			i++;
		if (i >= n)
			break;
		root = jparse_loadb_first(b + i, n - i, JSON_ALLOW_NUL, &used);
		if (!root)
			break;
		if (!used || used > n - i) {
			json_decref(root);
			break;
		}
		i += used;
		p->offset = (long)i;
		find_error(p, root);
		if (fmt)
			fmt->event(p, "", root);
		json_decref(root);
	}
	p->offset = -1;
}

/* Is the body (from its first '{') newline-delimited JSON: its content type
 * says so (Ollama's streams: application/x-ndjson), or, without one, it
 * holds more than one object, one a line? */
static int looks_ndjson(const struct llm_response *resp, const char *b, size_t n)
{
	const char *ct = resp->content_type;

	if (ct)
		return strcasestr(ct, "ndjson") != NULL;
	return memmem(b, n, "}\n{", 3) != NULL;
}

/* Does the body (from its first non-blank byte) look like an event stream? */
static int looks_sse(const struct llm_response *resp, const char *b, size_t n)
{
	static const char *const starts[] = { "data:", "event:", "id:", "retry:", ":" };
	const char *ct = resp->content_type;
	size_t i;

	if (ct) {
		for (; *ct; ct++)
			if (!strncasecmp(ct, "text/event-stream", 17))
				return 1;
	}
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		size_t sl = strlen(starts[i]);

		if (n >= sl && !memcmp(b, starts[i], sl))
			return 1;
	}
	return 0;
}

/* Parse the response body: a JSON document, a streamed JSON array (Gemini),
 * or an event stream. */
void p_parse_body(struct pstate *p, const struct pformat *fmt,
		       const struct llm_response *resp)
{
	const char *b = (const char *)resp->body;
	size_t n = resp->body_len, i = 0;
	json_t *root;

	if (n >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < n && is_ws(b[i]))
		i++;
	if (i < n && b[i] == '[' && fmt == &gemini_format) {
		p->c->stream = 1;
		parse_json_array(p, fmt, b, n, i);
		return;
	}
	if (i < n && b[i] == '{' && fmt == &ollama_format && looks_ndjson(resp, b + i, n - i)) {
		/* objects one a line: an Ollama stream */
		p->c->stream = 1;
		parse_ndjson(p, fmt, b, n, i);
		return;
	}
	if (i < n && (b[i] == '{' || b[i] == '[')) {
		root = jmemo_loadb(b + i, n - i, JSON_ALLOW_NUL, NULL);
		if (!root)
			return;
		find_error(p, root);
		if (fmt && json_is_object(root))
			fmt->body(p, root);
		json_decref(root);
		return;
	}
	if (looks_sse(resp, b + i, n - i)) {
		p->c->stream = 1;
		parse_sse(p, fmt, b, n);
	}
}

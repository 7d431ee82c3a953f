/* jsondocs.c -- pure iteration over the JSON documents an LLM response body carries: one document, SSE events, or a streamed JSON array. */
#include "llm/jsondocs.h"

#include <string.h>

#include "llm/jmemo.h"
#include "llm/jparse.h"
#include "proto/sse.h"

/* 1 for JSON white space. */
static int jd_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* What the SSE callback needs. */
struct jd_sse {
	jsondocs_fn fn;
	void *ud;
};

/* One SSE event: its data as JSON, else nothing. */
static void jd_on_event(void *ud, const struct sse_event *ev)
{
	struct jd_sse *x = ud;
	json_t *doc;

	if (!ev->data_len || ev->data[0] == '[')	/* "[DONE]" (and no array is an event) */
		return;
	doc = jmemo_loadb(ev->data, ev->data_len, JSON_ALLOW_NUL, NULL);
	if (!doc)
		return;
	x->fn(x->ud, ev->event, doc);
	json_decref(doc);
}

/* The elements of a streamed array from b[i] = '['. */
static void jd_array(const char *b, size_t n, size_t i, jsondocs_fn fn, void *ud)
{
	size_t used;
	json_t *doc;

	for (i++;;) {
		while (i < n && (jd_is_ws(b[i]) || b[i] == ','))
			i++;
		if (i >= n || b[i] == ']')
			return;
		doc = jparse_loadb_first(b + i, n - i, JSON_ALLOW_NUL, &used);
		if (!doc)
			return;
		if (!used || used > n - i) {
			json_decref(doc);
			return;
		}
		i += used;
		fn(ud, "", doc);
		json_decref(doc);
	}
}

/* Does b[0..n) start like an event stream? */
static int jd_looks_sse(const char *b, size_t n)
{
	static const char *const starts[] = { "data:", "event:", "id:", "retry:", ":" };
	size_t i, sl;

	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		sl = strlen(starts[i]);
		if (n >= sl && !memcmp(b, starts[i], sl))
			return 1;
	}
	return 0;
}

int jsondocs_each(const char *body, size_t len, jsondocs_fn fn, void *ud)
{
	struct jd_sse x = { fn, ud };
	struct sse_parser *sp;
	size_t i = 0;
	json_t *doc;

	if (!body)
		return JSONDOCS_NONE;
	if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && jd_is_ws(body[i]))
		i++;
	if (i >= len)
		return JSONDOCS_NONE;
	if (body[i] == '[') {
		jd_array(body, len, i, fn, ud);
		return JSONDOCS_ARRAY;
	}
	if (body[i] == '{') {
		doc = jmemo_loadb(body + i, len - i, JSON_ALLOW_NUL, NULL);
		if (!json_is_object(doc)) {
			json_decref(doc);
			return JSONDOCS_NONE;
		}
		fn(ud, "", doc);
		json_decref(doc);
		return JSONDOCS_ONE;
	}
	if (!jd_looks_sse(body + i, len - i))
		return JSONDOCS_NONE;
	sp = sse_parser_new(jd_on_event, &x);
	if (!sp)
		return -1;
	/* a failed feed (a line over the limit) keeps the events before it */
	if (!sse_parser_feed(sp, body, len))
		sse_parser_finish(sp);
	sse_parser_free(sp);
	return JSONDOCS_SSE;
}

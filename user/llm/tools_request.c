/* tools_request.c -- pure reading of an LLM request body: its messages as fingerprints (to tell which conversation it continues), the tool results it carries, whether it declares tools; and helpers on tool ids and arguments. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include "llm/tools.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "llm/jmemo.h"
#include "llm/tools_int.h"

#define FP_DEPTH_MAX 64		/* deeper values are fingerprinted by their type only */
#define FP_KEYS_STACK 32	/* object keys sorted on the stack up to this many */

/* Mix a tag byte into h. */
static uint64_t fp_tag(uint64_t h, char tag)
{
	return hash64(&tag, 1, h);
}

/* qsort comparator of key pointers. */
static int fp_keycmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fingerprint of a JSON value, keys sorted, "cache_control" left out at
 * any depth (agents move that marker from turn to turn). */
static uint64_t fp_json(json_t *v, uint64_t h, int depth)
{
	const char *stack[FP_KEYS_STACK], **keys = stack, *k;
	json_t *e;
	size_t i, n;
	int64_t iv;
	double d;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		h = fp_tag(h, 'o');
		if (depth >= FP_DEPTH_MAX)
			return h;
		n = json_object_size(v);
		if (n > FP_KEYS_STACK && !(keys = malloc(n * sizeof(*keys))))
			return fp_tag(h, '!');
		i = 0;
		json_object_foreach(v, k, e)
			if (i < n)
				keys[i++] = k;
		n = i;
		qsort(keys, n, sizeof(*keys), fp_keycmp);
		for (i = 0; i < n; i++) {
			if (!strcmp(keys[i], "cache_control"))
				continue;
			h = hash64(keys[i], strlen(keys[i]) + 1, h);
			h = fp_json(json_object_get(v, keys[i]), h, depth + 1);
		}
		if (keys != stack)
			free(keys);
		return fp_tag(h, '}');
	case JSON_ARRAY:
		h = fp_tag(h, 'a');
		if (depth >= FP_DEPTH_MAX)
			return h;
		json_array_foreach(v, i, e)
			h = fp_json(e, h, depth + 1);
		return fp_tag(h, ']');
	case JSON_STRING:
		h = fp_tag(h, 's');
		n = json_string_length(v);
		h = hash64(&n, sizeof(n), h);
		return hash64(json_string_value(v), n, h);
	case JSON_INTEGER:
		iv = json_integer_value(v);
		return hash64(&iv, sizeof(iv), fp_tag(h, 'i'));
	case JSON_REAL:
		d = json_real_value(v);
		return hash64(&d, sizeof(d), fp_tag(h, 'r'));
	case JSON_TRUE: return fp_tag(h, 't');
	case JSON_FALSE: return fp_tag(h, 'f');
	default: return fp_tag(h, 'n');
	}
}

/* Fingerprint of one value on its own (never 0: 0 means "none"). */
static uint64_t fp_of(json_t *v)
{
	uint64_t h = fp_json(v, HASH64_INIT, 0);

	return h ? h : 1;
}

/* Size of a result's content: a string's bytes, the text of text parts, an
 * object's JSON text (images and other parts count nothing). */
static size_t content_bytes(json_t *v)
{
	json_t *e, *t;
	size_t i, n = 0;
	char *d;

	if (json_is_string(v))
		return json_string_length(v);
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			t = json_is_string(e) ? e : json_object_get(e, "text");
			if (json_is_string(t))
				n += json_string_length(t);
		}
		return n;
	}
	if (json_is_object(v)) {
		t = json_object_get(v, "text");
		if (json_is_string(t))
			return json_string_length(t);
		d = json_dumps(v, JSON_COMPACT);
		n = d ? strlen(d) : 0;
		free(d);
	}
	return n;
}

/* 1 when a Responses tool output says the command failed: its JSON text
 * has metadata.exit_code != 0 (Codex), or it starts "Exit code: N", N != 0. */
static int output_failed(json_t *out)
{
	const char *s = json_string_value(out);
	json_t *root, *code;
	int failed = 0;

	if (!s)
		return 0;
	if (!strncmp(s, "Exit code: ", 11))
		return atoi(s + 11) != 0;
	if (*s != '{')
		return 0;
	root = json_loads(s, 0, NULL);
	code = json_object_get(json_object_get(root, "metadata"), "exit_code");
	failed = json_is_integer(code) && json_integer_value(code) != 0;
	json_decref(root);
	return failed;
}

/* The state of one tools_parse_request() run. */
struct rq_state {
	struct tool_request *q;
	int nomem;
};

/* Append a result (id and name copied from JSON strings, each may be NULL). */
static void rq_result(struct rq_state *s, json_t *id, json_t *name, int is_error, size_t bytes,
		      size_t msg)
{
	struct tool_request *q = s->q;
	struct tool_result *n, *r;

	n = realloc(q->results, (q->nresults + 1) * sizeof(*n));
	if (!n) {
		s->nomem = 1;
		return;
	}
	q->results = n;
	r = &n[q->nresults];
	memset(r, 0, sizeof(*r));
	r->id = json_string_length(id) ? strdup(json_string_value(id)) : NULL;
	r->name = json_string_length(name) ? strdup(json_string_value(name)) : NULL;
	if ((json_string_length(id) && !r->id) || (json_string_length(name) && !r->name)) {
		free(r->id);
		free(r->name);
		s->nomem = 1;
		return;
	}
	r->is_error = is_error;
	r->bytes = bytes;
	r->msg = msg;
	q->nresults++;
}

/* The messages of list as fingerprints. */
static void rq_msgs(struct rq_state *s, json_t *list)
{
	struct tool_request *q = s->q;
	json_t *m;
	size_t i;

	if (!json_array_size(list))
		return;
	q->msgs = malloc(json_array_size(list) * sizeof(*q->msgs));
	if (!q->msgs) {
		s->nomem = 1;
		return;
	}
	json_array_foreach(list, i, m)
		q->msgs[q->nmsgs++] = fp_of(m);
}

/* 1 when the JSON value is a non-empty array. */
static int nonempty(json_t *v)
{
	return json_array_size(v) > 0;
}

/* OpenAI chat: messages; leading system/developer messages are the instructions. */
static void rq_chat(struct rq_state *s, json_t *root)
{
	json_t *list = json_object_get(root, "messages"), *m, *role;
	uint64_t head = HASH64_INIT;
	size_t i, first = 0;
	const char *r;

	rq_msgs(s, list);
	json_array_foreach(list, i, m) {
		role = json_object_get(m, "role");
		r = json_string_value(role) ?: "";
		if (!strcmp(r, "tool"))
			rq_result(s, json_object_get(m, "tool_call_id"), NULL, 0,
				  content_bytes(json_object_get(m, "content")), i);
		else if (!strcmp(r, "function"))
			rq_result(s, NULL, json_object_get(m, "name"), 0,
				  content_bytes(json_object_get(m, "content")), i);
		if (first == i && (!strcmp(r, "system") || !strcmp(r, "developer")))
			first = i + 1;
	}
	for (i = 0; i < s->q->nmsgs && i <= first; i++)
		head = hash64(&s->q->msgs[i], sizeof(uint64_t), head);
	s->q->head = s->q->nmsgs ? (head ? head : 1) : 0;
	s->q->has_tools = nonempty(json_object_get(root, "tools")) ||
			  nonempty(json_object_get(root, "functions"));
}

/* The head of a request: its instructions with its first message. */
static void rq_head(struct rq_state *s, json_t *instructions)
{
	uint64_t h = HASH64_INIT, f;

	if (!s->q->nmsgs)
		return;
	f = instructions ? fp_of(instructions) : 0;
	h = hash64(&f, sizeof(f), h);
	h = hash64(&s->q->msgs[0], sizeof(uint64_t), h);
	s->q->head = h ? h : 1;
}

/* OpenAI Responses: input (a string, or items), instructions, previous_response_id. */
static void rq_responses(struct rq_state *s, json_t *root)
{
	json_t *input = json_object_get(root, "input"), *it, *prev;
	const char *type;
	size_t i;

	if (json_is_string(input)) {
		s->q->msgs = malloc(sizeof(*s->q->msgs));
		if (!s->q->msgs) {
			s->nomem = 1;
			return;
		}
		s->q->msgs[s->q->nmsgs++] = fp_of(input);
	} else {
		rq_msgs(s, input);
	}
	json_array_foreach(input, i, it) {
		type = json_string_value(json_object_get(it, "type")) ?: "";
		if (!strcmp(type, "function_call_output") || !strcmp(type, "custom_tool_call_output") ||
		    !strcmp(type, "local_shell_call_output")) {
			json_t *out = json_object_get(it, "output");

			rq_result(s, json_object_get(it, "call_id"), NULL, output_failed(out),
				  content_bytes(out), i);
		}
	}
	rq_head(s, json_object_get(root, "instructions"));
	prev = json_object_get(root, "previous_response_id");
	if (json_string_length(prev) && !(s->q->previous_response_id = strdup(json_string_value(prev))))
		s->nomem = 1;
	s->q->has_tools = nonempty(json_object_get(root, "tools"));
}

/* Anthropic Messages: system, messages with tool_result blocks. */
static void rq_messages(struct rq_state *s, json_t *root)
{
	json_t *list = json_object_get(root, "messages"), *m, *b;
	size_t i, j;

	rq_msgs(s, list);
	json_array_foreach(list, i, m) {
		json_array_foreach(json_object_get(m, "content"), j, b) {
			if (strcmp(json_string_value(json_object_get(b, "type")) ?: "", "tool_result"))
				continue;
			rq_result(s, json_object_get(b, "tool_use_id"), NULL,
				  json_is_true(json_object_get(b, "is_error")),
				  content_bytes(json_object_get(b, "content")), i);
		}
	}
	rq_head(s, json_object_get(root, "system"));
	s->q->has_tools = nonempty(json_object_get(root, "tools"));
}

/* Gemini: contents with functionResponse parts, systemInstruction. */
static void rq_gemini(struct rq_state *s, json_t *root)
{
	json_t *list = json_object_get(root, "contents"), *c, *p, *fr, *resp, *sys;
	size_t i, j;

	rq_msgs(s, list);
	json_array_foreach(list, i, c) {
		json_array_foreach(json_object_get(c, "parts"), j, p) {
			fr = json_object_get(p, "functionResponse");
			if (!json_is_object(fr))
				continue;
			resp = json_object_get(fr, "response");
			rq_result(s, json_object_get(fr, "id"), json_object_get(fr, "name"),
				  json_object_get(resp, "error") != NULL, content_bytes(resp), i);
		}
	}
	sys = json_object_get(root, "systemInstruction");
	rq_head(s, sys ? sys : json_object_get(root, "system_instruction"));
	s->q->has_tools = nonempty(json_object_get(root, "tools"));
}

int tools_parse_request(struct tool_request *q, const char *op, const char *body, size_t len)
{
	struct rq_state s = { q, 0 };
	enum tr_op o = tr_op_of(op);
	json_t *root;

	memset(q, 0, sizeof(*q));
	if (o == TR_NONE || !body || !len)
		return 0;
	root = jmemo_loadb(body, len, JSON_ALLOW_NUL, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return 0;
	}
	q->parsed = 1;
	switch (o) {
	case TR_CHAT: rq_chat(&s, root); break;
	case TR_RESPONSES: rq_responses(&s, root); break;
	case TR_MESSAGES: rq_messages(&s, root); break;
	case TR_GEMINI: rq_gemini(&s, root); break;
	case TR_NONE: break;
	}
	json_decref(root);
	return s.nomem ? -1 : 0;
}

void tool_request_clear(struct tool_request *q)
{
	size_t i;

	for (i = 0; i < q->nresults; i++) {
		free(q->results[i].id);
		free(q->results[i].name);
	}
	free(q->results);
	free(q->msgs);
	free(q->previous_response_id);
	memset(q, 0, sizeof(*q));
}

/* ---- ids and arguments ---- */

char *tools_command(const char *arguments)
{
	static const char *const keys[] = { "command", "cmd", "script", "code" };
	json_t *root, *v, *last;
	char *out = NULL;
	size_t i;

	if (!arguments)
		return NULL;
	root = json_loads(arguments, 0, NULL);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && !out && json_is_object(root); i++) {
		v = json_object_get(root, keys[i]);
		last = json_is_array(v) ? json_array_get(v, json_array_size(v) - 1) : v;
		if (json_string_length(last))
			out = strdup(json_string_value(last));
	}
	json_decref(root);
	return out;
}

char *tools_norm_id(const char *id, char *out, size_t n)
{
	size_t o = 0;

	if (!n)
		return out;
	for (; id && *id && o + 1 < n; id++)
		if (isalnum((unsigned char)*id))
			out[o++] = (char)tolower((unsigned char)*id);
	out[o] = 0;
	return out;
}

char *tools_canonical(const char *arguments)
{
	json_t *root;
	char *out;

	if (!arguments)
		return NULL;
	root = json_loads(arguments, JSON_DECODE_ANY, NULL);
	if (!root)
		return strdup(arguments);
	out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(root);
	return out;
}

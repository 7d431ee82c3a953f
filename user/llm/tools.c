/* tools.c -- pure extraction of the tool calls an LLM response asks for, and of the tool results and conversation shape a request carries, in every provider format, streamed or not.
 *
 * Streams are assembled the way the providers send them: OpenAI chat
 * tool_calls deltas keyed by "index", Responses items keyed by
 * "output_index" (function_call_arguments deltas, then the done item or the
 * completed response, which win), Anthropic content blocks keyed by "index"
 * (tool_use start, input_json_delta pieces), Gemini functionCall parts whole
 * in each chunk. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* strdup, strndup */
#endif
#include "llm/tools.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "llm/jsondocs.h"
#include "llm/tools_int.h"

#define TR_SLOTS_MAX 4096	/* stream slots (indexes) followed per response */
#define TR_DEPTH_MAX 64		/* JSON depth fingerprinted; deeper values hash as their type */

enum tr_op tr_op_of(const char *op)
{
	if (!op)
		return TR_NONE;
	if (!strcmp(op, "chat"))
		return TR_CHAT;
	if (!strcmp(op, "responses"))
		return TR_RESPONSES;
	if (!strcmp(op, "messages"))
		return TR_MESSAGES;
	if (!strcmp(op, "generate_content"))
		return TR_GEMINI;
	return TR_NONE;
}

/* ---- responses ---- */

/* A call being assembled from stream events. */
struct tr_slot {
	int used, tool;
	char *id, *name;
	struct buf args;
	char *whole;		/* arguments given whole (an input object, a done item) */
};

struct tr_state {
	struct tool_response *r;
	enum tr_op op;
	int stream;		/* the body is a stream (SSE, an array), not one object */
	struct tr_slot *slots;
	size_t nslots;
	int nomem;
};

/* s->slots[i], the array grown to hold it; NULL past TR_SLOTS_MAX or on OOM. */
static struct tr_slot *tr_slot(struct tr_state *s, size_t i)
{
	struct tr_slot *n;

	if (i >= TR_SLOTS_MAX)
		return NULL;
	if (i >= s->nslots) {
		n = realloc(s->slots, (i + 1) * sizeof(*n));
		if (!n) {
			s->nomem = 1;
			return NULL;
		}
		memset(n + s->nslots, 0, (i + 1 - s->nslots) * sizeof(*n));
		s->slots = n;
		s->nslots = i + 1;
	}
	s->slots[i].used = 1;
	return &s->slots[i];
}

/* Replace *dst with a copy of JSON string v (nothing when v is no non-empty string). */
static void tr_set(struct tr_state *s, char **dst, json_t *v)
{
	char *d;

	if (!json_is_string(v) || !json_string_length(v))
		return;
	d = strndup(json_string_value(v), json_string_length(v));
	if (!d) {
		s->nomem = 1;
		return;
	}
	free(*dst);
	*dst = d;
}

/* Arguments given as a value: a string is the JSON text itself, anything
 * else is dumped. malloc'd, NULL when v is NULL (or OOM: noted). */
static char *tr_args_of(struct tr_state *s, json_t *v)
{
	char *d;

	if (!v)
		return NULL;
	if (json_is_string(v))
		d = strndup(json_string_value(v), json_string_length(v));
	else
		d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!d)
		s->nomem = 1;
	return d;
}

/* Set a slot's whole arguments from v (replacing pieces and earlier values). */
static void tr_slot_whole(struct tr_state *s, struct tr_slot *sl, json_t *v)
{
	char *d = tr_args_of(s, v);

	if (!d)
		return;
	free(sl->whole);
	sl->whole = d;
}

/* Append a piece of streamed arguments to a slot. */
static void tr_slot_piece(struct tr_state *s, struct tr_slot *sl, json_t *v)
{
	if (json_is_string(v) && json_string_length(v) &&
	    buf_append(&sl->args, json_string_value(v), json_string_length(v)))
		s->nomem = 1;
}

/* Free what a slot holds and empty it. */
static void tr_slot_free(struct tr_slot *sl)
{
	free(sl->id);
	free(sl->name);
	free(sl->whole);
	buf_free(&sl->args);
	memset(sl, 0, sizeof(*sl));
}

/* Append a finished call (id and name copied; args owned from here). */
static void tr_add(struct tr_state *s, const char *id, const char *name, char *args)
{
	struct tool_response *r = s->r;
	struct tool_call *n, *c;

	if (!name || !*name) {
		free(args);
		return;
	}
	n = realloc(r->calls, (r->ncalls + 1) * sizeof(*n));
	if (!n) {
		free(args);
		s->nomem = 1;
		return;
	}
	r->calls = n;
	c = &n[r->ncalls];
	c->id = id && *id ? strdup(id) : NULL;
	c->name = strdup(name);
	c->arguments = args ? args : strdup("{}");
	if ((id && *id && !c->id) || !c->name || !c->arguments) {
		free(c->id);
		free(c->name);
		free(c->arguments);
		s->nomem = 1;
		return;
	}
	r->ncalls++;
}

/* Add the call of a whole value: id, name and arguments as JSON values. */
static void tr_add_json(struct tr_state *s, json_t *id, json_t *name, json_t *args)
{
	tr_add(s, json_string_value(id), json_string_value(name), tr_args_of(s, args));
}

/* The choice a chat body or chunk is about: index 0 (or the first without an index). */
static json_t *tr_choice0(json_t *root)
{
	json_t *c, *idx;
	size_t i;

	json_array_foreach(json_object_get(root, "choices"), i, c) {
		idx = json_object_get(c, "index");
		if (json_is_object(c) && (!json_is_integer(idx) || json_integer_value(idx) == 0))
			return c;
	}
	return NULL;
}

/* OpenAI chat: a whole response (message) or a chunk (delta). */
static void tr_chat(struct tr_state *s, json_t *root, int stream)
{
	json_t *ch = tr_choice0(root), *m, *tc, *fc;
	size_t i;

	if (!stream) {
		m = json_object_get(ch, "message");
		json_array_foreach(json_object_get(m, "tool_calls"), i, tc) {
			fc = json_object_get(tc, "function");
			tr_add_json(s, json_object_get(tc, "id"), json_object_get(fc, "name"),
				    json_object_get(fc, "arguments"));
		}
		fc = json_object_get(m, "function_call");	/* the legacy form */
		if (fc)
			tr_add_json(s, NULL, json_object_get(fc, "name"), json_object_get(fc, "arguments"));
		return;
	}
	m = json_object_get(ch, "delta");
	json_array_foreach(json_object_get(m, "tool_calls"), i, tc) {
		json_t *idx = json_object_get(tc, "index"), *id = json_object_get(tc, "id");
		struct tr_slot *sl = NULL;
		size_t k;

		if (json_is_integer(idx) && json_integer_value(idx) >= 0) {
			sl = tr_slot(s, (size_t)json_integer_value(idx));
		} else {
			/* servers that send whole calls without an index: by id, else a new one */
			for (k = 0; k < s->nslots && json_is_string(id); k++)
				if (s->slots[k].id && !strcmp(s->slots[k].id, json_string_value(id)))
					sl = &s->slots[k];
			if (!sl)
				sl = tr_slot(s, s->nslots);
		}
		if (!sl)
			continue;
		sl->tool = 1;
		fc = json_object_get(tc, "function");
		tr_set(s, &sl->id, id);
		tr_set(s, &sl->name, json_object_get(fc, "name"));
		fc = json_object_get(fc, "arguments");
		if (json_is_string(fc))
			tr_slot_piece(s, sl, fc);
		else if (fc)
			tr_slot_whole(s, sl, fc);
	}
	fc = json_object_get(m, "function_call");
	if (fc) {
		struct tr_slot *sl = tr_slot(s, 0);

		if (sl) {
			sl->tool = 1;
			tr_set(s, &sl->name, json_object_get(fc, "name"));
			tr_slot_piece(s, sl, json_object_get(fc, "arguments"));
		}
	}
}

/* A Responses output item into slot sl (any type; only tool calls count). */
static void tr_resp_item(struct tr_state *s, struct tr_slot *sl, json_t *item, int done)
{
	json_t *type = json_object_get(item, "type");
	const char *t = json_string_value(type);

	if (!t)
		return;
	if (!strcmp(t, "function_call") || !strcmp(t, "custom_tool_call")) {
		json_t *args = json_object_get(item, !strcmp(t, "function_call") ? "arguments" : "input");

		sl->tool = 1;
		tr_set(s, &sl->id, json_object_get(item, "call_id"));
		tr_set(s, &sl->name, json_object_get(item, "name"));
		/* an added item's arguments are "" (pieces follow); a done one's are whole */
		if (done || (json_is_string(args) && json_string_length(args)))
			tr_slot_whole(s, sl, args);
	} else if (!strcmp(t, "local_shell_call")) {
		json_t *n = json_string("local_shell");

		sl->tool = 1;
		tr_set(s, &sl->id, json_object_get(item, "call_id"));
		tr_set(s, &sl->name, n);
		json_decref(n);
		tr_slot_whole(s, sl, json_object_get(item, "action"));
	}
}

/* The output array of a whole Responses object: it replaces every slot. */
static void tr_resp_output(struct tr_state *s, json_t *output)
{
	json_t *item;
	size_t i;

	if (!json_array_size(output))
		return;
	for (i = 0; i < s->nslots; i++)
		tr_slot_free(&s->slots[i]);
	json_array_foreach(output, i, item) {
		struct tr_slot *sl = tr_slot(s, i);

		if (sl)
			tr_resp_item(s, sl, item, 1);
	}
}

/* The slot of an event's output_index; NULL when absent. */
static struct tr_slot *tr_resp_slot(struct tr_state *s, json_t *root)
{
	json_t *idx = json_object_get(root, "output_index");

	if (!json_is_integer(idx) || json_integer_value(idx) < 0)
		return NULL;
	return tr_slot(s, (size_t)json_integer_value(idx));
}

/* OpenAI Responses: a whole response object or a stream event. */
static void tr_responses(struct tr_state *s, const char *event, json_t *root, int stream)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	struct tr_slot *sl;
	json_t *resp;

	if (!stream) {
		tr_set(s, &s->r->response_id, json_object_get(root, "id"));
		tr_resp_output(s, json_object_get(root, "output"));
		return;
	}
	if (!type)
		type = event;
	if (!strncmp(type, "response.output_item.", 21)) {
		sl = tr_resp_slot(s, root);
		if (sl)
			tr_resp_item(s, sl, json_object_get(root, "item"), !strcmp(type + 21, "done"));
	} else if (!strcmp(type, "response.function_call_arguments.delta") ||
		   !strcmp(type, "response.custom_tool_call_input.delta")) {
		sl = tr_resp_slot(s, root);
		if (sl)
			tr_slot_piece(s, sl, json_object_get(root, "delta"));
	} else if (!strcmp(type, "response.function_call_arguments.done") ||
		   !strcmp(type, "response.custom_tool_call_input.done")) {
		sl = tr_resp_slot(s, root);
		if (sl)
			tr_slot_whole(s, sl, json_object_get(root, type[9] == 'f' ? "arguments" : "input"));
	} else if (!strncmp(type, "response.", 9)) {
		/* created, in_progress, completed, incomplete, failed: the response object */
		resp = json_object_get(root, "response");
		tr_set(s, &s->r->response_id, json_object_get(resp, "id"));
		tr_resp_output(s, json_object_get(resp, "output"));
	}
}

/* Anthropic Messages: a whole message or a stream event. */
static void tr_messages(struct tr_state *s, const char *event, json_t *root, int stream)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	json_t *b, *idx = json_object_get(root, "index");
	struct tr_slot *sl;
	size_t i;

	if (!stream) {
		json_array_foreach(json_object_get(root, "content"), i, b)
			if (!strcmp(json_string_value(json_object_get(b, "type")) ?: "", "tool_use"))
				tr_add_json(s, json_object_get(b, "id"), json_object_get(b, "name"),
					    json_object_get(b, "input"));
		return;
	}
	if (!type)
		type = event;
	if (!json_is_integer(idx) || json_integer_value(idx) < 0)
		return;
	if (!strcmp(type, "content_block_start")) {
		b = json_object_get(root, "content_block");
		if (strcmp(json_string_value(json_object_get(b, "type")) ?: "", "tool_use"))
			return;
		sl = tr_slot(s, (size_t)json_integer_value(idx));
		if (!sl)
			return;
		sl->tool = 1;
		tr_set(s, &sl->id, json_object_get(b, "id"));
		tr_set(s, &sl->name, json_object_get(b, "name"));
		tr_slot_whole(s, sl, json_object_get(b, "input"));
	} else if (!strcmp(type, "content_block_delta")) {
		b = json_object_get(root, "delta");
		if (strcmp(json_string_value(json_object_get(b, "type")) ?: "", "input_json_delta") ||
		    (size_t)json_integer_value(idx) >= s->nslots)
			return;
		tr_slot_piece(s, &s->slots[json_integer_value(idx)], json_object_get(b, "partial_json"));
	}
}

/* Gemini: a whole response or a stream chunk; functionCall parts are whole. */
static void tr_gemini(struct tr_state *s, json_t *root)
{
	json_t *cand = NULL, *c, *part, *fc, *idx;
	size_t i;

	json_array_foreach(json_object_get(root, "candidates"), i, c) {
		idx = json_object_get(c, "index");
		if (!json_is_integer(idx) || json_integer_value(idx) == 0) {
			cand = c;
			break;
		}
	}
	json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), i, part) {
		fc = json_object_get(part, "functionCall");
		if (json_is_object(fc))
			tr_add_json(s, json_object_get(fc, "id"), json_object_get(fc, "name"),
				    json_object_get(fc, "args"));
	}
}

/* jsondocs callback: one document of the response body. */
static void tr_on_doc(void *ud, const char *event, json_t *doc)
{
	struct tr_state *s = ud;

	switch (s->op) {
	case TR_CHAT: tr_chat(s, doc, s->stream); break;
	case TR_RESPONSES: tr_responses(s, event, doc, s->stream); break;
	case TR_MESSAGES: tr_messages(s, event, doc, s->stream); break;
	case TR_GEMINI: tr_gemini(s, doc); break;
	case TR_NONE: break;
	}
}

int tools_parse_response(struct tool_response *r, const char *op, const char *body, size_t len)
{
	struct tr_state s = { .r = r, .op = tr_op_of(op) };
	size_t i;

	memset(r, 0, sizeof(*r));
	if (s.op == TR_NONE || !body)
		return 0;
	for (i = 0; i < len && (isspace((unsigned char)body[i]) || (unsigned char)body[i] >= 0x80); i++)
		;	/* white space and a BOM */
	s.stream = i < len && body[i] != '{';
	if (jsondocs_each(body, len, tr_on_doc, &s) < 0)
		s.nomem = 1;
	for (i = 0; i < s.nslots; i++) {
		struct tr_slot *sl = &s.slots[i];
		char *args = NULL;

		if (sl->used && sl->tool) {
			/* pieces that came win over the empty object a start event gives */
			if (sl->args.len)
				args = buf_steal(&sl->args);
			else if (sl->whole)
				args = strdup(sl->whole);
			if ((sl->args.len || sl->whole) && !args)
				s.nomem = 1;
			tr_add(&s, sl->id, sl->name, args);
		}
		tr_slot_free(sl);
	}
	free(s.slots);
	return s.nomem ? -1 : 0;
}

void tool_response_clear(struct tool_response *r)
{
	size_t i;

	for (i = 0; i < r->ncalls; i++) {
		free(r->calls[i].id);
		free(r->calls[i].name);
		free(r->calls[i].arguments);
	}
	free(r->calls);
	free(r->response_id);
	memset(r, 0, sizeof(*r));
}

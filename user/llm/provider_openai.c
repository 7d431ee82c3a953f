/* provider_openai.c -- OpenAI response formats: chat completions, legacy completions, embeddings, Responses API. */
#include <string.h>

#include "llm/provider_int.h"

/* The choice with index 0 (or with no index: servers that send only one),
 * or NULL. Chunks of an n>1 stream that carry another choice give NULL. */
static json_t *choice0(json_t *root)
{
	json_t *choices = json_object_get(root, "choices"), *ch;
	size_t i;

	if (!json_is_array(choices))
		return NULL;
	json_array_foreach(choices, i, ch) {
		json_t *idx = json_object_get(ch, "index");

		if (!json_is_object(ch))
			continue;
		if (!json_is_integer(idx) || json_integer_value(idx) == 0)
			return ch;
	}
	return NULL;
}

/* Chat/completions usage. cached_tokens is OpenAI's; DeepSeek reports
 * prompt_cache_hit_tokens instead (both are part of prompt_tokens). */
static void chat_usage(struct pstate *p, json_t *u)
{
	struct llm_call *c = p->c;

	if (!json_is_object(u))
		return;
	p_tokens(&c->input_tokens, json_object_get(u, "prompt_tokens"));
	p_tokens(&c->output_tokens, json_object_get(u, "completion_tokens"));
	p_tokens(&c->cache_read_tokens, json_object_get(u, "prompt_cache_hit_tokens"));
	p_tokens(&c->cache_read_tokens, p_get(u, "prompt_tokens_details.cached_tokens"));
	p_tokens(&c->reasoning_tokens, p_get(u, "completion_tokens_details.reasoning_tokens"));
}

/* Message content: a string, or (some compatible servers) an array of
 * {"type": "text", "text": ...} parts. */
static void chat_content(struct pstate *p, json_t *content)
{
	json_t *part;
	size_t i;

	if (json_is_string(content)) {
		p_text(p, content);
		return;
	}
	if (!json_is_array(content))
		return;
	json_array_foreach(content, i, part)
		if (p_streq(json_object_get(part, "type"), "text"))
			p_text(p, json_object_get(part, "text"));
}

/* A non-streamed chat.completion or text_completion (legacy = 1). */
static void chat_body_common(struct pstate *p, json_t *root, int legacy)
{
	json_t *ch = choice0(root);

	p_model(p, json_object_get(root, "model"));
	if (ch) {
		if (legacy)
			p_text(p, json_object_get(ch, "text"));
		else
			chat_content(p, p_get(ch, "message.content"));
		p_set_str(p, &p->c->finish_reason, json_object_get(ch, "finish_reason"));
	}
	chat_usage(p, json_object_get(root, "usage"));
}

/* Does a delta carry tool-call argument text (tool_calls[], or the older
 * function_call)? */
static int tool_args(json_t *delta)
{
	json_t *tcs = json_object_get(delta, "tool_calls"), *tc, *a;
	size_t i;

	json_array_foreach(tcs, i, tc) {
		a = p_get(tc, "function.arguments");
		if (json_is_string(a) && json_string_length(a))
			return 1;
	}
	a = p_get(delta, "function_call.arguments");
	return json_is_string(a) && json_string_length(a) > 0;
}

/* One chat.completion.chunk / text_completion chunk. Usage arrives in the
 * last chunk (stream_options.include_usage, choices []), or for Groq in
 * x_groq.usage. */
static void chat_event_common(struct pstate *p, json_t *root, int legacy)
{
	json_t *ch = choice0(root), *delta;

	p_model(p, json_object_get(root, "model"));
	if (ch) {
		if (legacy) {
			if (p_text(p, json_object_get(ch, "text")))
				p_token(p);
		} else {
			delta = json_object_get(ch, "delta");
			if (p_text(p, json_object_get(delta, "content")) |
			    tool_args(delta))
				p_token(p);
		}
		p_set_str(p, &p->c->finish_reason, json_object_get(ch, "finish_reason"));
	}
	chat_usage(p, json_object_get(root, "usage"));
	chat_usage(p, p_get(root, "x_groq.usage"));
}

/* The pformat entry points: whole bodies and stream events. */
static void chat_body(struct pstate *p, json_t *root)
{
	chat_body_common(p, root, 0);
}

static void chat_event(struct pstate *p, const char *event, json_t *root)
{
	(void)event;
	chat_event_common(p, root, 0);
}

static void completions_body(struct pstate *p, json_t *root)
{
	chat_body_common(p, root, 1);
}

static void completions_event(struct pstate *p, const char *event, json_t *root)
{
	(void)event;
	chat_event_common(p, root, 1);
}

const struct pformat openai_chat_format = { chat_body, chat_event };
const struct pformat openai_completions_format = { completions_body, completions_event };

/* Embeddings: only the model and prompt tokens; there is no text. */
static void embeddings_body(struct pstate *p, json_t *root)
{
	p_model(p, json_object_get(root, "model"));
	p_tokens(&p->c->input_tokens, p_get(root, "usage.prompt_tokens"));
}

/* An embeddings "stream" does not exist; read any event as a body. */
static void embeddings_event(struct pstate *p, const char *event, json_t *root)
{
	(void)event;
	embeddings_body(p, root);
}

const struct pformat openai_embeddings_format = { embeddings_body, embeddings_event };

/* ---- Responses API ---- */

/* Responses API usage: cached tokens are inside input_tokens, reasoning
 * tokens inside output_tokens. */
static void responses_usage(struct pstate *p, json_t *u)
{
	struct llm_call *c = p->c;

	if (!json_is_object(u))
		return;
	p_tokens(&c->input_tokens, json_object_get(u, "input_tokens"));
	p_tokens(&c->output_tokens, json_object_get(u, "output_tokens"));
	p_tokens(&c->cache_read_tokens, p_get(u, "input_tokens_details.cached_tokens"));
	p_tokens(&c->reasoning_tokens, p_get(u, "output_tokens_details.reasoning_tokens"));
}

/* The output_text of every "message" item of output[] (text = 1), and
 * whether any item is a function call (the return value). */
static int responses_output(struct pstate *p, json_t *output, int text)
{
	json_t *item, *part;
	size_t i, j;
	int calls = 0;

	json_array_foreach(output, i, item) {
		json_t *type = json_object_get(item, "type");

		if (p_streq(type, "function_call") || p_streq(type, "custom_tool_call"))
			calls = 1;
		if (!text || !p_streq(type, "message"))
			continue;
		json_array_foreach(json_object_get(item, "content"), j, part)
			if (p_streq(json_object_get(part, "type"), "output_text"))
				p_text(p, json_object_get(part, "text"));
	}
	return calls;
}

/* A Response object (the body, or the "response" of a stream event).
 * finish_reason: "stop" when completed ("tool_calls" when the output asks
 * for a function call, like chat completions), incomplete_details.reason
 * when incomplete, else the status itself (failed, cancelled); nothing
 * while in progress. */
static void responses_object(struct pstate *p, json_t *r, int text)
{
	json_t *status = json_object_get(r, "status");
	int calls;

	if (!json_is_object(r))
		return;
	p_model(p, json_object_get(r, "model"));
	calls = responses_output(p, json_object_get(r, "output"), text);
	if (p_streq(status, "completed"))
		p_set_cstr(p, &p->c->finish_reason, calls ? "tool_calls" : "stop");
	else if (p_streq(status, "incomplete") &&
		 json_is_string(p_get(r, "incomplete_details.reason")))
		p_set_str(p, &p->c->finish_reason, p_get(r, "incomplete_details.reason"));
	else if (json_is_string(status) && !p_streq(status, "in_progress") &&
		 !p_streq(status, "queued"))
		p_set_str(p, &p->c->finish_reason, status);
	if (json_is_object(json_object_get(r, "error")))
		p_error_obj(p, json_object_get(r, "error"));
	responses_usage(p, json_object_get(r, "usage"));
}

/* A whole Response body. */
static void responses_body(struct pstate *p, json_t *root)
{
	responses_object(p, root, 1);
}

/* Stream events, by their "type" (the SSE event name when absent). */
static void responses_event(struct pstate *p, const char *event, json_t *root)
{
	json_t *t = json_object_get(root, "type");
	const char *type = json_is_string(t) ? json_string_value(t) : event;
	json_t *delta = json_object_get(root, "delta");

	if (!strcmp(type, "response.output_text.delta")) {
		if (p_text(p, delta))
			p_token(p);
	} else if (!strcmp(type, "response.function_call_arguments.delta")) {
		if (json_is_string(delta) && json_string_length(delta))
			p_token(p);
	} else if (!strncmp(type, "response.", 9) && json_object_get(root, "response")) {
		/* created, in_progress, completed, incomplete, failed: the
		 * final ones carry the whole response; take its text only when
		 * no deltas came. */
		responses_object(p, json_object_get(root, "response"), !p->have_text);
	}
}

const struct pformat openai_responses_format = { responses_body, responses_event };

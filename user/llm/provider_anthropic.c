/* provider_anthropic.c -- Anthropic Messages API response format, whole and streamed. */
#include <string.h>

#include "llm/provider_int.h"

/* Usage: input_tokens excludes cache reads and writes; any field present
 * replaces what an earlier event said (message_delta carries the final
 * output_tokens, and in newer API versions the input/cache counts again). */
static void usage(struct pstate *p, json_t *u)
{
	struct llm_call *c = p->c;

	if (!json_is_object(u))
		return;
	p_tokens(&c->input_tokens, json_object_get(u, "input_tokens"));
	p_tokens(&c->output_tokens, json_object_get(u, "output_tokens"));
	p_tokens(&c->cache_read_tokens, json_object_get(u, "cache_read_input_tokens"));
	p_tokens(&c->cache_write_tokens, json_object_get(u, "cache_creation_input_tokens"));
}

/* A whole Message: "text" blocks joined as they are (no separator, the
 * same text a stream of the same message assembles); thinking and tool_use
 * blocks are not text. */
static void message_body(struct pstate *p, json_t *root)
{
	json_t *block;
	size_t i;

	p_model(p, json_object_get(root, "model"));
	json_array_foreach(json_object_get(root, "content"), i, block)
		if (p_streq(json_object_get(block, "type"), "text"))
			p_text(p, json_object_get(block, "text"));
	p_set_str(p, &p->c->finish_reason, json_object_get(root, "stop_reason"));
	usage(p, json_object_get(root, "usage"));
}

/* Stream events, by their "type" (the SSE event name when absent). A
 * first token is a non-empty text_delta or input_json_delta (tool input);
 * thinking deltas are not. "error" events are read by the driver. */
static void message_event(struct pstate *p, const char *event, json_t *root)
{
	json_t *t = json_object_get(root, "type"), *d, *dt;
	const char *type = json_is_string(t) ? json_string_value(t) : event;

	if (!strcmp(type, "message_start")) {
		json_t *m = json_object_get(root, "message");

		p_model(p, json_object_get(m, "model"));
		usage(p, json_object_get(m, "usage"));
	} else if (!strcmp(type, "content_block_start")) {
		d = json_object_get(root, "content_block");
		if (p_streq(json_object_get(d, "type"), "text") &&
		    p_text(p, json_object_get(d, "text")))
			p_token(p);
	} else if (!strcmp(type, "content_block_delta")) {
		d = json_object_get(root, "delta");
		dt = json_object_get(d, "type");
		if (p_streq(dt, "text_delta")) {
			if (p_text(p, json_object_get(d, "text")))
				p_token(p);
		} else if (p_streq(dt, "input_json_delta")) {
			json_t *pj = json_object_get(d, "partial_json");

			if (json_is_string(pj) && json_string_length(pj))
				p_token(p);
		}
	} else if (!strcmp(type, "message_delta")) {
		p_set_str(p, &p->c->finish_reason, p_get(root, "delta.stop_reason"));
		usage(p, json_object_get(root, "usage"));
	}
}

const struct pformat anthropic_format = { message_body, message_event };

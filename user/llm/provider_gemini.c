/* provider_gemini.c -- Gemini generateContent response format (whole, SSE, or streamed JSON array). */
#include "llm/provider_int.h"

/* candidates[] entry with index 0 (or no index), or NULL. */
static json_t *candidate0(json_t *root)
{
	json_t *cands = json_object_get(root, "candidates"), *cand;
	size_t i;

	json_array_foreach(cands, i, cand) {
		json_t *idx = json_object_get(cand, "index");

		if (!json_is_object(cand))
			continue;
		if (!json_is_integer(idx) || json_integer_value(idx) == 0)
			return cand;
	}
	return NULL;
}

/* One GenerateContentResponse: the whole body or one stream chunk. Text
 * parts are appended (thought summaries, "thought": true, are not text);
 * a first token is non-empty text or a functionCall part. usageMetadata
 * fields replace earlier ones (chunks repeat and grow them).
 * candidatesTokenCount excludes thoughtsTokenCount: Google reports them
 * apart, and so do we (output_tokens / reasoning_tokens). */
static void response(struct pstate *p, json_t *root)
{
	struct llm_call *c = p->c;
	json_t *cand = candidate0(root), *part, *u;
	size_t i;

	p_model(p, json_object_get(root, "modelVersion"));
	json_array_foreach(p_get(cand, "content.parts"), i, part) {
		if (json_is_true(json_object_get(part, "thought")))
			continue;
		if (p_text(p, json_object_get(part, "text")) ||
		    json_object_get(part, "functionCall"))
			p_token(p);
	}
	p_set_str(p, &c->finish_reason, json_object_get(cand, "finishReason"));
	if (!cand)	/* a blocked prompt has no candidates */
		p_set_str(p, &c->finish_reason, p_get(root, "promptFeedback.blockReason"));

	u = json_object_get(root, "usageMetadata");
	p_tokens(&c->input_tokens, json_object_get(u, "promptTokenCount"));
	p_tokens(&c->output_tokens, json_object_get(u, "candidatesTokenCount"));
	p_tokens(&c->cache_read_tokens, json_object_get(u, "cachedContentTokenCount"));
	p_tokens(&c->reasoning_tokens, json_object_get(u, "thoughtsTokenCount"));
}

/* The pformat entry points: a body and a stream chunk read alike. */
static void gemini_body(struct pstate *p, json_t *root)
{
	response(p, root);
}

static void gemini_event(struct pstate *p, const char *event, json_t *root)
{
	(void)event;
	response(p, root);
}

const struct pformat gemini_format = { gemini_body, gemini_event };

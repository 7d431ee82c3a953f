/* provider_ollama.c -- Ollama's native API response formats: /api/chat, /api/generate (one JSON object, or NDJSON lines when streamed) and /api/embed. */
#include "llm/provider_int.h"

/* One chat or generate object: the whole body, or one NDJSON line of a
 * stream. Text is message.content (chat) or response (generate); the last
 * line ("done": true) carries the counts and done_reason. */
static void response(struct pstate *p, json_t *root)
{
	struct llm_call *c = p->c;
	json_t *calls = p_get(root, "message.tool_calls");

	p_model(p, json_object_get(root, "model"));
	if (p_text(p, p_get(root, "message.content")) || p_text(p, json_object_get(root, "response")) ||
	    (json_is_array(calls) && json_array_size(calls)))
		p_token(p);
	if (json_is_true(json_object_get(root, "done")))
		p_set_str(p, &c->finish_reason, json_object_get(root, "done_reason"));
	p_tokens(&c->input_tokens, json_object_get(root, "prompt_eval_count"));
	p_tokens(&c->output_tokens, json_object_get(root, "eval_count"));
}

/* The pformat entry points: a body and a stream line read alike. */
static void ollama_body(struct pstate *p, json_t *root)
{
	response(p, root);
}

static void ollama_event(struct pstate *p, const char *event, json_t *root)
{
	(void)event;
	response(p, root);
}

const struct pformat ollama_format = { ollama_body, ollama_event };

/* /api/embed: the input's token count; no text. */
static void ollama_embed_body(struct pstate *p, json_t *root)
{
	p_model(p, json_object_get(root, "model"));
	p_tokens(&p->c->input_tokens, json_object_get(root, "prompt_eval_count"));
}

/* An embed response is never streamed; read a line like a body. */
static void ollama_embed_event(struct pstate *p, const char *event, json_t *root)
{
	(void)event;
	ollama_embed_body(p, root);
}

const struct pformat ollama_embed_format = { ollama_embed_body, ollama_embed_event };

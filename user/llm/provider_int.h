/* provider_int.h -- internals shared by provider.c, provider_json.c and the per-API response parsers (provider_*.c). */
#ifndef LLMTAP_PROVIDER_INT_H
#define LLMTAP_PROVIDER_INT_H

#include <jansson.h>

#include "base/buf.h"
#include "llm/provider.h"

/* The state of one provider_parse() run. */
struct pstate {
	struct llm_call *c;
	struct buf text;	/* assistant text so far */
	int have_text;		/* a text field was seen (text may still be "") */
	long offset;		/* body offset just past the event being read; -1 when not a stream */
	int nomem;		/* an allocation failed */
};

/* A response format: how to read a whole JSON body, and one stream event
 * (SSE event data, or one element of a streamed JSON array). event is the
 * SSE "event" field ("" when absent). Neither owns root. */
struct pformat {
	void (*body)(struct pstate *p, json_t *root);
	void (*event)(struct pstate *p, const char *event, json_t *root);
};

extern const struct pformat openai_chat_format;		/* chat/completions */
extern const struct pformat openai_completions_format;	/* legacy completions */
extern const struct pformat openai_embeddings_format;
extern const struct pformat openai_responses_format;
extern const struct pformat anthropic_format;
extern const struct pformat gemini_format;
extern const struct pformat ollama_format;		/* Ollama /api/chat, /api/generate */
extern const struct pformat ollama_embed_format;	/* Ollama /api/embed */

/* Value at a dotted path of object keys ("usage.prompt_tokens_details.
 * cached_tokens"), or NULL when any step is missing or not an object. */
json_t *p_get(json_t *v, const char *path);

/* 1 when v is a string equal to s, else 0. */
int p_streq(json_t *v, const char *s);

/* Store a token count: *dst = v when v is a non-negative JSON number;
 * otherwise *dst is left as it was. */
void p_tokens(int64_t *dst, json_t *v);

/* Replace *dst by a copy of string v when v is a non-empty string; else
 * leave it. Sets p->nomem on allocation failure. */
void p_set_str(struct pstate *p, char **dst, json_t *v);

/* Replace *dst by a copy of the non-empty C string s. Sets p->nomem on
 * allocation failure. */
void p_set_cstr(struct pstate *p, char **dst, const char *s);

/* Set the model from string v unless a model is already known. */
void p_model(struct pstate *p, json_t *v);

/* Append string v (a JSON string, else ignored) to the assistant text and
 * note that text was seen. Returns 1 when it added at least one byte. */
int p_text(struct pstate *p, json_t *v);

/* Content arrived in the current stream event: the first call records
 * p->offset as first_token_offset. No effect outside streams. */
void p_token(struct pstate *p);

/* Record an API error from an error-shaped object (keys type/status/code
 * and message) unless an error is already recorded. */
void p_error_obj(struct pstate *p, json_t *e);

/* Set c->error to "kind: message" (either part alone when the other is
 * missing). Does nothing when both are missing. */
void p_set_error(struct pstate *p, const char *kind, const char *msg);

/* Parse the response body: a JSON document, a streamed JSON array (Gemini),
 * NDJSON (Ollama) or an event stream; fmt (NULL when the API is not known)
 * reads each document or event. */
void p_parse_body(struct pstate *p, const struct pformat *fmt,
		  const struct llm_response *resp);

#endif

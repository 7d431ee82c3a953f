/* provider.h -- pure LLM API recognition and response parsing (OpenAI, Anthropic, Gemini, compatible). */
#ifndef LLMTAP_PROVIDER_H
#define LLMTAP_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#define TOKENS_NONE (-1)

/* The request side, as the HTTP layer saw it. */
struct llm_request {
	const char *host;	/* Host header, may carry ":port"; may be NULL */
	const char *method;
	const char *path;	/* target with query */
	const uint8_t *body;	/* decoded request body */
	size_t body_len;
};

/* The response side. */
struct llm_response {
	int status;		/* 0 when there was no response */
	const char *content_type; /* may be NULL */
	const uint8_t *body;	/* decoded response body (SSE kept as text) */
	size_t body_len;
};

/* What the parsers extract; strings are malloc'd (free with llm_call_clear()),
 * provider/operation are static. */
struct llm_call {
	const char *provider;	/* "openai", "anthropic", "gemini", "openai-compatible", ... */
	const char *operation;	/* "chat", "responses", "messages", "generate_content", "embeddings", "completions" */
	char *model;		/* the model the response names, else the requested one */
	int stream;		/* 1 when the response was SSE */
	int64_t input_tokens, output_tokens;	/* TOKENS_NONE when not reported */
	int64_t cache_read_tokens, cache_write_tokens, reasoning_tokens;
	char *finish_reason;
	char *response_text;	/* assistant text assembled across the stream */
	long first_token_offset; /* streams: offset in the response body just past the
				  * event carrying the first content token; -1 when none */
	char *error;		/* API error the response reported ("rate_limit_error: ..."), else NULL */
};

/* Is this request an LLM API call? Decides from host, path and request body.
 * Returns 1 and sets *provider and *operation (static strings), or 0. Hosts that
 * name a provider (api.openai.com, api.anthropic.com,
 * generativelanguage.googleapis.com, ...) give that provider; any other host
 * with an OpenAI-shaped path and body gives "openai-compatible". */
int provider_detect(const struct llm_request *req, const char **provider,
		    const char **operation);

/* An exchange provider_detect() refuses (no body, not a POST, a body of
 * another shape) to an LLM API path (/chat/completions, /messages,
 * :generateContent, ...) that the server answered like an LLM API (a JSON
 * body with an "error" member): returns 1 and sets *provider (by host, else
 * "openai-compatible", ...) and *operation, so the call still has a row.
 * Returns 0 otherwise. */
int provider_detect_answer(const struct llm_request *req, const struct llm_response *resp,
			   const char **provider, const char **operation);

/* 1 when path (with or without a query) ends like an LLM API operation
 * (/chat/completions, /messages, :generateContent, ...), else 0. */
int provider_llm_path(const char *path);

/* Why provider_detect() refuses req, in a few words ("GET, not POST", "not
 * an LLM API path", "no request body", ...), for -v. */
const char *provider_why_not(const struct llm_request *req);

/* Fill *c from a detected exchange (c is initialised by this call). Never
 * fails on bad input: unparseable JSON leaves fields NULL/TOKENS_NONE.
 * Returns 0, or -1 when out of memory. */
int provider_parse(struct llm_call *c, const struct llm_request *req,
		   const struct llm_response *resp);

/* Free what provider_parse() allocated and reset *c. */
void llm_call_clear(struct llm_call *c);

#endif

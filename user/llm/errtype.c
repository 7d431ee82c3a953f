/* errtype.c -- pure classification of a failed or incomplete LLM call into one error kind (rate_limited, auth, ...). */
#include "llm/errtype.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const errtype_kinds[] = {
	"rate_limited", "context_length", "auth", "invalid_request", "overloaded", "server_error",
	"timeout", "network", "truncated", "capture_gap", "incomplete", NULL,
};

/* Words in a provider's error that name its kind, checked in this order
 * (the first match wins, so a context-length error reported as
 * "invalid_request_error: prompt is too long" is context_length). Matched
 * case-insensitively anywhere in the text: OpenAI's code and type,
 * Anthropic's type, Gemini's status, and the messages they use. A
 * generic word (invalid_request, server_error) yields to the status:
 * "server_error" with a 529 is overloaded. */
static const struct {
	const char *word, *kind;
} api_words[] = {
	{ "context_length", "context_length" },		/* OpenAI context_length_exceeded */
	{ "context length", "context_length" },
	{ "context window", "context_length" },
	{ "prompt is too long", "context_length" },	/* Anthropic */
	{ "maximum context", "context_length" },
	{ "too many tokens", "context_length" },
	{ "input token count", "context_length" },	/* Gemini: "exceeds the maximum number of tokens" */
	{ "exceeds the maximum number of tokens", "context_length" },
	{ "string_above_max_length", "context_length" },
	{ "rate_limit", "rate_limited" },		/* rate_limit_error, rate_limit_exceeded */
	{ "rate limit", "rate_limited" },
	{ "resource_exhausted", "rate_limited" },	/* Gemini 429 */
	{ "insufficient_quota", "rate_limited" },
	{ "too many requests", "rate_limited" },
	{ "overloaded", "overloaded" },			/* Anthropic overloaded_error (529) */
	{ "unavailable", "overloaded" },		/* Gemini UNAVAILABLE (503) */
	{ "server_is_busy", "overloaded" },
	{ "authentication", "auth" },			/* Anthropic authentication_error */
	{ "permission", "auth" },			/* permission_error, PERMISSION_DENIED */
	{ "unauthenticated", "auth" },
	{ "invalid_api_key", "auth" },
	{ "incorrect api key", "auth" },
	{ "api key not valid", "auth" },		/* Gemini */
	{ "unauthorized", "auth" },
	{ "deadline_exceeded", "timeout" },		/* Gemini 504 */
	{ "timeout", "timeout" },
	{ "timed out", "timeout" },
	{ "invalid_request", "invalid_request" },	/* invalid_request_error */
	{ "invalid_argument", "invalid_request" },	/* Gemini 400 */
	{ "not_found", "invalid_request" },		/* not_found_error, NOT_FOUND, model_not_found */
	{ "failed_precondition", "invalid_request" },
	{ "request_too_large", "invalid_request" },	/* Anthropic 413 */
	{ "api_error", "server_error" },		/* Anthropic 500 */
	{ "internal", "server_error" },			/* Gemini INTERNAL */
	{ "server_error", "server_error" },		/* OpenAI */
};

/* The kind a provider's error text names, or NULL. */
static const char *kind_of_text(const char *s)
{
	size_t i;

	if (!s || !*s)
		return NULL;
	for (i = 0; i < sizeof(api_words) / sizeof(api_words[0]); i++)
		if (strcasestr(s, api_words[i].word))
			return api_words[i].kind;
	return NULL;
}

/* The kind an HTTP error status names, or NULL for a status below 400. */
static const char *kind_of_status(int status)
{
	if (status < 400)
		return NULL;
	switch (status) {
	case 401: case 403: case 407:
		return "auth";
	case 408: case 504: case 524:
		return "timeout";
	case 429:
		return "rate_limited";
	case 503: case 529:
		return "overloaded";
	}
	return status < 500 ? "invalid_request" : "server_error";
}

/* The kind of a tracker's reason for ending an exchange early. */
static const char *kind_of_capture(const struct errtype_in *in)
{
	const char *s = in->capture;

	if (!strncmp(s, "capture gap", 11))
		return "capture_gap";
	if (!strncmp(s, "truncated", 9))
		return "truncated";
	/* the peer went away before answering: the network (or the server) failed */
	if (strstr(s, "connection closed") && !in->status && !in->response_started)
		return "network";
	if (strstr(s, "timed out") || strstr(s, "timeout"))
		return "timeout";
	return "incomplete";
}

/* 1 for the kinds a provider's text tells better than a status does. */
static int specific(const char *kind)
{
	return strcmp(kind, "invalid_request") && strcmp(kind, "server_error");
}

const char *errtype_of(const struct errtype_in *in)
{
	const char *k = NULL, *ks = kind_of_status(in->status);

	/* "HTTP 503" is the parser's stand-in for a body without an error */
	if (in->api_error && strncmp(in->api_error, "HTTP ", 5))
		k = kind_of_text(in->api_error);
	if (k && (specific(k) || !ks))
		return k;
	if (ks)
		return ks;
	if (in->api_error)	/* an error event in a 200 stream, of no known kind */
		return "server_error";
	if (in->capture && *in->capture)
		return kind_of_capture(in);
	if (in->truncated)
		return "truncated";
	return NULL;
}

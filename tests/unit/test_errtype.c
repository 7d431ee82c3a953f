/* test_errtype.c -- unit tests for the error kinds: provider error bodies of each vendor, statuses, capture reasons. */
#include <string.h>

#include "harness.h"
#include "llm/errtype.h"

static const struct {
	int status;
	const char *api, *capture;
	int truncated, started;
	const char *want;	/* NULL: no error */
} cases[] = {
	{ 200, NULL, NULL, 0, 1, NULL },
	{ 0, NULL, NULL, 0, 0, NULL },
	/* OpenAI */
	{ 429, "rate_limit_exceeded: Rate limit reached for gpt-4o", NULL, 0, 1, "rate_limited" },
	{ 429, "insufficient_quota: You exceeded your current quota", NULL, 0, 1, "rate_limited" },
	{ 400, "context_length_exceeded: This model's maximum context length is 128000 tokens", NULL, 0, 1,
	  "context_length" },
	{ 401, "invalid_api_key: Incorrect API key provided: sk-...", NULL, 0, 1, "auth" },
	{ 404, "model_not_found: The model `gpt-9` does not exist", NULL, 0, 1, "invalid_request" },
	{ 400, "invalid_request_error: Missing required parameter: 'messages'.", NULL, 0, 1, "invalid_request" },
	{ 500, "server_error: The server had an error", NULL, 0, 1, "server_error" },
	/* Anthropic */
	{ 429, "rate_limit_error: Number of request tokens has exceeded your rate limit", NULL, 0, 1, "rate_limited" },
	{ 400, "invalid_request_error: prompt is too long: 210000 tokens > 200000 maximum", NULL, 0, 1,
	  "context_length" },
	{ 529, "overloaded_error: Overloaded", NULL, 0, 1, "overloaded" },
	{ 200, "overloaded_error: Overloaded", NULL, 0, 1, "overloaded" },	/* mid-stream */
	{ 401, "authentication_error: invalid x-api-key", NULL, 0, 1, "auth" },
	{ 403, "permission_error: no access", NULL, 0, 1, "auth" },
	{ 500, "api_error: Internal server error", NULL, 0, 1, "server_error" },
	{ 413, "request_too_large: Request exceeds the maximum size", NULL, 0, 1, "invalid_request" },
	/* Gemini */
	{ 429, "RESOURCE_EXHAUSTED: Resource has been exhausted (e.g. check quota).", NULL, 0, 1, "rate_limited" },
	{ 400, "INVALID_ARGUMENT: The input token count (1200000) exceeds the maximum number of tokens allowed",
	  NULL, 0, 1, "context_length" },
	{ 400, "INVALID_ARGUMENT: API key not valid. Please pass a valid API key.", NULL, 0, 1, "auth" },
	{ 503, "UNAVAILABLE: The model is overloaded. Please try again later.", NULL, 0, 1, "overloaded" },
	{ 504, "DEADLINE_EXCEEDED: Deadline expired before operation could complete.", NULL, 0, 1, "timeout" },
	{ 500, "INTERNAL: An internal error has occurred.", NULL, 0, 1, "server_error" },
	/* a generic word yields to the status */
	{ 529, "server_error: Forced status 529", NULL, 0, 1, "overloaded" },
	{ 429, "invalid_request_error: slow down", NULL, 0, 1, "rate_limited" },
	/* statuses alone (the parser's "HTTP N" when the body said nothing) */
	{ 429, "HTTP 429", NULL, 0, 1, "rate_limited" },
	{ 401, NULL, NULL, 0, 1, "auth" },
	{ 403, NULL, NULL, 0, 1, "auth" },
	{ 400, NULL, NULL, 0, 1, "invalid_request" },
	{ 404, NULL, NULL, 0, 1, "invalid_request" },
	{ 405, "HTTP 405", NULL, 0, 1, "invalid_request" },
	{ 408, NULL, NULL, 0, 1, "timeout" },
	{ 500, NULL, NULL, 0, 1, "server_error" },
	{ 502, NULL, NULL, 0, 1, "server_error" },
	{ 503, "HTTP 503", NULL, 0, 1, "overloaded" },
	{ 504, NULL, NULL, 0, 1, "timeout" },
	{ 529, NULL, NULL, 0, 1, "overloaded" },
	/* an error event of no known kind in a 200 stream */
	{ 200, "weird_thing: something", NULL, 0, 1, "server_error" },
	/* the status wins over the capture */
	{ 429, NULL, "connection closed before the response completed", 0, 1, "rate_limited" },
	/* capture reasons */
	{ 0, NULL, "connection closed before the response completed", 0, 0, "network" },
	{ 200, NULL, "connection closed before the response completed", 0, 1, "incomplete" },
	{ 0, NULL, "process exited before the response completed", 0, 0, "incomplete" },
	{ 200, NULL, "tracer stopped before the response completed", 0, 1, "incomplete" },
	{ 200, NULL, "capture gap: 1234 bytes lost (ring buffer full)", 0, 1, "capture_gap" },
	{ 0, NULL, "capture gap: 99 bytes not copied (HTTP/2 framing lost)", 0, 0, "capture_gap" },
	{ 200, NULL, "malformed HTTP response: bad chunk size", 0, 1, "incomplete" },
	{ 200, NULL, NULL, 1, 1, "truncated" },
	{ 200, NULL, "", 1, 1, "truncated" },
};

int main(void)
{
	size_t i;
	int j, found;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct errtype_in in = {
			.status = cases[i].status, .api_error = cases[i].api, .capture = cases[i].capture,
			.truncated = cases[i].truncated, .response_started = cases[i].started,
		};
		const char *got = errtype_of(&in);

		if (!cases[i].want) {
			CHECKF(got == NULL, "case %zu: got %s want none", i, got);
			continue;
		}
		CHECKF(got && !strcmp(got, cases[i].want), "case %zu (%d %s %s): got %s want %s", i,
		       cases[i].status, cases[i].api ? cases[i].api : "-",
		       cases[i].capture ? cases[i].capture : "-", got ? got : "(null)", cases[i].want);
		/* every kind returned is one of the documented ones */
		for (j = 0, found = 0; got && errtype_kinds[j]; j++)
			found |= !strcmp(errtype_kinds[j], got);
		CHECKF(found, "case %zu: %s is not in errtype_kinds", i, got);
	}
	return harness_done("test_errtype");
}

/* fuzz_provider.c -- libFuzzer harness: provider detection and parsing of any request/response bytes. */
#include <stdint.h>
#include <string.h>

#include "llm/provider.h"

/* The first input byte picks an endpoint; the rest is the response body
 * (also offered as the request body, so body-shape detection is fuzzed). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const eps[][3] = {
		{ "api.openai.com", "/v1/chat/completions", "text/event-stream" },
		{ "api.openai.com", "/v1/responses", "text/event-stream" },
		{ "api.openai.com", "/v1/completions", "application/json" },
		{ "api.openai.com", "/v1/embeddings", "application/json" },
		{ "api.anthropic.com", "/v1/messages", "text/event-stream" },
		{ "generativelanguage.googleapis.com",
		  "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "application/json" },
		{ "localhost:11434", "/v1/chat/completions", NULL },
		{ "localhost:4000", "/v1/messages", NULL },
	};
	struct llm_request req = { 0 };
	struct llm_response resp = { 0 };
	struct llm_call c;
	const char *prov, *op;
	unsigned sel;

	if (!size)
		return 0;
	sel = data[0] % (sizeof(eps) / sizeof(eps[0]));
	req.host = eps[sel][0];
	req.method = "POST";
	req.path = eps[sel][1];
	req.body = data + 1;
	req.body_len = size - 1;
	resp.status = data[0] & 0x80 ? 429 : 200;
	resp.content_type = eps[sel][2];
	resp.body = data + 1;
	resp.body_len = size - 1;

	provider_detect(&req, &prov, &op);
	provider_parse(&c, &req, &resp);
	llm_call_clear(&c);
	return 0;
}

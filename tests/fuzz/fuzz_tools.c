/* fuzz_tools.c -- libFuzzer harness: tool calls from any response body and tool results from any request body, in every operation's format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/tools.h"

/* The first byte picks an operation; the rest is offered as a response body
 * and as a request body, and its first part as tool arguments. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ops[] = { "chat", "responses", "messages", "generate_content", "embeddings" };
	struct tool_response r;
	struct tool_request q;
	char *s, *c, id[64];
	size_t i;

	if (!size)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	tools_parse_response(&r, ops[data[0] % 5], s, size - 1);
	for (i = 0; i < r.ncalls; i++) {
		c = tools_command(r.calls[i].arguments);
		free(c);
		c = tools_canonical(r.calls[i].arguments);
		free(c);
		tools_norm_id(r.calls[i].id, id, sizeof(id));
	}
	tool_response_clear(&r);
	tools_parse_request(&q, ops[data[0] % 5], s, size - 1);
	tool_request_clear(&q);
	c = tools_command(s);
	free(c);
	c = tools_canonical(s);
	free(c);
	free(s);
	return 0;
}

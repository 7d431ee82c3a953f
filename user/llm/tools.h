/* tools.h -- pure extraction of the tool calls an LLM response asks for, and of the tool results and conversation shape a request carries, in every provider format, streamed or not. */
#ifndef LLMTAP_TOOLS_H
#define LLMTAP_TOOLS_H

#include <stddef.h>
#include <stdint.h>

/* One tool call the model asked for. Strings are malloc'd. */
struct tool_call {
	char *id;		/* the id the model gave it; NULL when none (Gemini) */
	char *name;
	char *arguments;	/* JSON text as the model gave it ("{}" when none) */
};

/* What a response asks for. */
struct tool_response {
	struct tool_call *calls;
	size_t ncalls;
	char *response_id;	/* Responses API: the response's id (a later previous_response_id) */
};

/* One tool result a request carries. */
struct tool_result {
	char *id;		/* tool_call_id, call_id, tool_use_id, functionResponse.id; NULL when none */
	char *name;		/* the function's name where the format says it (Gemini); else NULL */
	int is_error;		/* the agent reported a failure (see tools_parse_request()) */
	size_t bytes;		/* size of the result: its text, or its JSON text */
	size_t msg;		/* index of the message (input item, content) carrying it */
};

/* The shape of a request: its messages as fingerprints, its tool results. */
struct tool_request {
	uint64_t *msgs;		/* one fingerprint per message / input item / content, in order */
	size_t nmsgs;
	uint64_t head;		/* fingerprint of the instructions and the first message; 0 when none */
	int has_tools;		/* it declares tools the model may call */
	char *previous_response_id;	/* Responses API; NULL when none */
	struct tool_result *results;
	size_t nresults;
	int parsed;		/* 1 when the body was a JSON object of a known operation */
};

/* The operations with tool calls: "chat", "responses", "messages",
 * "generate_content" (llm_calls.operation). Others give nothing. */

/* Fill *r with the tool calls of a response body of operation op: whole or
 * streamed (SSE, a streamed JSON array), assembled across stream events
 * (OpenAI chat tool_calls deltas by index, Responses function_call items and
 * argument deltas, Anthropic tool_use blocks and input_json_delta, Gemini
 * functionCall parts). A truncated body gives the calls it carried so far,
 * arguments as far as they came. Returns 0, -1 when out of memory (*r holds
 * what was found; clear it as usual). */
int tools_parse_response(struct tool_response *r, const char *op, const char *body, size_t len);
void tool_response_clear(struct tool_response *r);

/* Fill *q from a request body of operation op. Messages are fingerprinted
 * after dropping "cache_control" (moved from turn to turn by agents), with
 * sorted keys. Results: OpenAI chat "tool" messages, Responses
 * function_call_output / custom_tool_call_output items, Anthropic tool_result
 * blocks, Gemini functionResponse parts. is_error: Anthropic "is_error",
 * a Gemini response with an "error" key, a Responses output whose JSON
 * says metadata.exit_code != 0; OpenAI chat results have no status (0).
 * Returns 0, -1 when out of memory. */
int tools_parse_request(struct tool_request *q, const char *op, const char *body, size_t len);
void tool_request_clear(struct tool_request *q);

/* The shell command a tool's arguments name: the first of "command", "cmd",
 * "script", "code" that is a string, or the last string of such an array
 * (["bash", "-lc", "ls"] -> "ls"). malloc'd; NULL when none. */
char *tools_command(const char *arguments);

/* An id reduced to its lower-cased letters and digits ("call_F3x" ->
 * "callf3x"): agents rewrite ids between the call and its result. Into out
 * (size n, truncated); returns out. */
char *tools_norm_id(const char *id, char *out, size_t n);

/* arguments as canonical JSON (keys sorted, compact), for comparing two
 * calls; a copy of the text when it is not JSON. malloc'd; NULL on OOM. */
char *tools_canonical(const char *arguments);

#endif

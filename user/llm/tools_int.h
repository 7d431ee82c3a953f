/* tools_int.h -- what tools.c and tools_request.c share: the operations that carry tool calls. */
#ifndef LLMTAP_TOOLS_INT_H
#define LLMTAP_TOOLS_INT_H

enum tr_op { TR_NONE, TR_CHAT, TR_RESPONSES, TR_MESSAGES, TR_GEMINI };

/* The operation of an llm_calls.operation value ("chat", "responses",
 * "messages", "generate_content"); TR_NONE for any other (or NULL). */
enum tr_op tr_op_of(const char *op);

#endif

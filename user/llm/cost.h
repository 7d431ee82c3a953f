/* cost.h -- pure price table: estimated USD cost of an LLM call from its token usage. */
#ifndef LLMTAP_COST_H
#define LLMTAP_COST_H

#include <stdint.h>

/* Estimated cost in USD, or a negative value for an unknown model (or when
 * neither input nor output tokens are known). Token counts are as the
 * provider reported them (TOKENS_NONE = -1 when not):
 * for OpenAI/Gemini input_tokens includes cached tokens; for Anthropic it
 * excludes cache reads and writes. Model names match by the longest known
 * prefix, so dated snapshots ("gpt-4o-2024-08-06") price as their family. */
double cost_estimate(const char *provider, const char *model,
		     int64_t input_tokens, int64_t output_tokens,
		     int64_t cache_read_tokens, int64_t cache_write_tokens);

struct llm_call;

/* Estimated cost of a parsed call (provider.h), or negative as above. Unlike
 * cost_estimate() on its fields it also prices Gemini's thinking tokens,
 * which generateContent reports apart from output_tokens
 * (reasoning_tokens) but bills as output. */
double cost_estimate_call(const struct llm_call *c);

#endif

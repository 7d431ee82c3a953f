/* cost.h -- pure price table: parsed from a TSV file (data/prices.tsv), and the estimated USD cost of an LLM call from its token usage. */
#ifndef LLMTAP_COST_H
#define LLMTAP_COST_H

#include <stddef.h>
#include <stdint.h>

/* One row of a price table: USD per 1M tokens. cached and write are
 * negative when the row has none ('-'): those tokens are priced as input. */
struct price {
	char *model;		/* a model name; it prices the names that continue it */
	char *provider;		/* who charges it */
	double in, cached, write, out;
	char date[11];		/* YYYY-MM-DD */
	char *source;
	unsigned line;		/* in the file */
};

struct price_table {
	struct price *rows;
	size_t n;
};

/* Parse a price table from text (data/prices.tsv's format: '#' comments,
 * a header line naming the columns model, provider, input, cached_input,
 * cache_write, output, date, source in any order, then one tab-separated
 * row per model). Returns 0 and *out, or -1 with "line N: why" in err
 * (never a partial table). */
int prices_parse(struct price_table **out, const char *text, size_t len, char *err, size_t errlen);

/* Free a table. NULL-safe. */
void prices_free(struct price_table *t);

/* The row that prices model (called through provider, may be NULL): the
 * longest matching name among the rows of provider, else among all rows
 * (the first of equals wins). NULL when none matches. */
const struct price *prices_lookup(const struct price_table *t, const char *provider,
				  const char *model);

/* The table cost_estimate() and cost_estimate_call() use (the caller
 * keeps it alive); NULL: none, every model is unknown. */
void cost_use(const struct price_table *t);
const struct price_table *cost_table(void);

/* Estimated cost in USD, or a negative value for an unknown model (or when
 * neither input nor output tokens are known). Token counts are as the
 * provider reported them (TOKENS_NONE = -1 when not):
 * for OpenAI/Gemini input_tokens includes cached tokens; for Anthropic it
 * excludes cache reads and writes. */
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

/* cost.c -- pure price table: estimated USD cost of an LLM call from its token usage. */
#include "llm/cost.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "llm/provider.h"

/* USD per 1M tokens. cached = a cache read (OpenAI "cached input",
 * Anthropic "cache hits", Gemini "context caching"); write = Anthropic's
 * 5-minute cache write (1.25x input; the 1-hour write at 2x is not told
 * apart in usage and is priced as 5-minute). Standard tier, short-context
 * rates (Gemini 2.5 Pro <= 200K, 1.5 <= 128K prompt tokens); batch, flex
 * and priority tiers are not modelled.
 *
 * Published list prices as of 2025-11 (openai.com/api/pricing,
 * docs.anthropic.com pricing, ai.google.dev/gemini-api/docs/pricing). */
struct price {
	const char *prefix;
	double in, cached, write, out;
};

static const struct price prices[] = {
	/* OpenAI */
	{ "gpt-5",			1.25,	0.125,	0,	10.00 },
	{ "gpt-5-mini",			0.25,	0.025,	0,	2.00 },
	{ "gpt-5-nano",			0.05,	0.005,	0,	0.40 },
	{ "gpt-5-pro",			15.00,	15.00,	0,	120.00 },
	{ "gpt-4.1",			2.00,	0.50,	0,	8.00 },
	{ "gpt-4.1-mini",		0.40,	0.10,	0,	1.60 },
	{ "gpt-4.1-nano",		0.10,	0.025,	0,	0.40 },
	{ "gpt-4o",			2.50,	1.25,	0,	10.00 },
	{ "gpt-4o-2024-05-13",		5.00,	5.00,	0,	15.00 },
	{ "gpt-4o-mini",		0.15,	0.075,	0,	0.60 },
	{ "chatgpt-4o-latest",		5.00,	5.00,	0,	15.00 },
	{ "gpt-4-turbo",		10.00,	10.00,	0,	30.00 },
	{ "gpt-4-0125-preview",		10.00,	10.00,	0,	30.00 },
	{ "gpt-4-1106-preview",		10.00,	10.00,	0,	30.00 },
	{ "gpt-4",			30.00,	30.00,	0,	60.00 },
	{ "gpt-3.5-turbo",		0.50,	0.50,	0,	1.50 },
	{ "gpt-3.5-turbo-instruct",	1.50,	1.50,	0,	2.00 },
	{ "o1",				15.00,	7.50,	0,	60.00 },
	{ "o1-mini",			1.10,	0.55,	0,	4.40 },
	{ "o1-pro",			150.00,	150.00,	0,	600.00 },
	{ "o3",				2.00,	0.50,	0,	8.00 },
	{ "o3-mini",			1.10,	0.55,	0,	4.40 },
	{ "o3-pro",			20.00,	20.00,	0,	80.00 },
	{ "o4-mini",			1.10,	0.275,	0,	4.40 },
	{ "text-embedding-3-small",	0.02,	0.02,	0,	0 },
	{ "text-embedding-3-large",	0.13,	0.13,	0,	0 },
	{ "text-embedding-ada-002",	0.10,	0.10,	0,	0 },

	/* Anthropic (and the dotted names OpenRouter uses) */
	{ "claude-3-haiku",		0.25,	0.03,	0.30,	1.25 },
	{ "claude-3-5-haiku",		0.80,	0.08,	1.00,	4.00 },
	{ "claude-3.5-haiku",		0.80,	0.08,	1.00,	4.00 },
	{ "claude-haiku-4-5",		1.00,	0.10,	1.25,	5.00 },
	{ "claude-haiku-4.5",		1.00,	0.10,	1.25,	5.00 },
	{ "claude-3-sonnet",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-3-5-sonnet",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-3.5-sonnet",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-3-7-sonnet",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-3.7-sonnet",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-sonnet-4",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-sonnet-4-5",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-sonnet-4.5",		3.00,	0.30,	3.75,	15.00 },
	{ "claude-3-opus",		15.00,	1.50,	18.75,	75.00 },
	{ "claude-opus-4",		15.00,	1.50,	18.75,	75.00 },
	{ "claude-opus-4-1",		15.00,	1.50,	18.75,	75.00 },
	{ "claude-opus-4.1",		15.00,	1.50,	18.75,	75.00 },
	{ "claude-opus-4-5",		5.00,	0.50,	6.25,	25.00 },
	{ "claude-opus-4.5",		5.00,	0.50,	6.25,	25.00 },

	/* Google Gemini */
	{ "gemini-1.5-flash",		0.075,	0.01875, 0,	0.30 },
	{ "gemini-1.5-flash-8b",	0.0375,	0.01,	0,	0.15 },
	{ "gemini-1.5-pro",		1.25,	0.3125,	0,	5.00 },
	{ "gemini-2.0-flash",		0.10,	0.025,	0,	0.40 },
	{ "gemini-2.0-flash-lite",	0.075,	0.075,	0,	0.30 },
	{ "gemini-2.5-flash",		0.30,	0.03,	0,	2.50 },
	{ "gemini-2.5-flash-lite",	0.10,	0.01,	0,	0.40 },
	{ "gemini-2.5-pro",		1.25,	0.125,	0,	10.00 },
};

/* May a known name end here? "gpt-4o" prices "gpt-4o-2024-08-06" and
 * "claude-sonnet-4@20250514" (Vertex), but "gpt-4" must not price
 * "gpt-4.5-preview" nor "o1" price "o1x". */
static int name_boundary(char ch)
{
	return ch == 0 || ch == '-' || ch == ':' || ch == '@' || ch == '_';
}

/* The bare model name: without vendor paths ("openai/gpt-4o",
 * "models/gemini-2.0-flash", "publishers/google/models/...") and
 * Bedrock-style prefixes ("us.anthropic.claude-..."). */
static const char *bare_name(const char *model)
{
	const char *s = strrchr(model, '/'), *a;

	if (s)
		model = s + 1;
	a = strstr(model, "anthropic.");
	if (a)
		model = a + strlen("anthropic.");
	return model;
}

/* The entry whose prefix is the longest match of model, or NULL. */
static const struct price *lookup(const char *model)
{
	const struct price *best = NULL;
	size_t i, best_len = 0;

	model = bare_name(model);
	for (i = 0; i < sizeof(prices) / sizeof(prices[0]); i++) {
		size_t n = strlen(prices[i].prefix);

		if (n <= best_len || strncasecmp(model, prices[i].prefix, n) ||
		    !name_boundary(model[n]))
			continue;
		best = &prices[i];
		best_len = n;
	}
	return best;
}

/* 1 when s starts with prefix, any case; 0 otherwise or for NULL s. */
static int has_prefix_ci(const char *s, const char *prefix)
{
	return s && !strncasecmp(s, prefix, strlen(prefix));
}

/* A token count as a double, TOKENS_NONE (and any negative) as 0. */
static double nz(int64_t v)
{
	return v > 0 ? (double)v : 0;
}

/* See cost.h. Returns a negative value also when neither input nor output
 * tokens are known (nothing to price). Whether input_tokens includes the
 * cached tokens is decided by the provider name ("anthropic*" excludes
 * them); with no provider, by the model family (claude-* excludes). */
double cost_estimate(const char *provider, const char *model,
		     int64_t input_tokens, int64_t output_tokens,
		     int64_t cache_read_tokens, int64_t cache_write_tokens)
{
	const struct price *pr;
	double in, cr, cw, out, usd;
	int anthropic_style;

	if (!model)
		return -1;
	pr = lookup(model);
	if (!pr)
		return -1;
	if (input_tokens < 0 && output_tokens < 0)
		return -1;

	in = nz(input_tokens);
	cr = nz(cache_read_tokens);
	cw = nz(cache_write_tokens);
	out = nz(output_tokens);
	if (provider)
		anthropic_style = has_prefix_ci(provider, "anthropic");
	else
		anthropic_style = has_prefix_ci(bare_name(model), "claude");

	if (!anthropic_style) {
		/* cached tokens are part of the input: price them apart */
		in = in > cr ? in - cr : 0;
	}
	usd = in * pr->in + cr * pr->cached + cw * pr->write + out * pr->out;
	return usd / 1e6;
}

/* See cost.h. */
double cost_estimate_call(const struct llm_call *c)
{
	int64_t out = c->output_tokens;

	/* Gemini bills thoughts as output but counts them apart */
	if (c->operation && !strcmp(c->operation, "generate_content") &&
	    c->reasoning_tokens > 0)
		out = (out > 0 ? out : 0) + c->reasoning_tokens;
	return cost_estimate(c->provider, c->model, c->input_tokens, out,
			     c->cache_read_tokens, c->cache_write_tokens);
}

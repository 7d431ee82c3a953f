/* test_cost.c -- unit tests for the price table: the TSV parser (every prefix, bad rows), data/prices.tsv itself, prefix matching, providers, cache accounting, unknown models. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm/cost.h"
#include "harness.h"

/* CHECK that also returns whether cond held. */
#define CHECK_OK(cond) ((cond) ? (h_passed++, 1) : (h_failed++, fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond), 0))
#include "llm/provider.h"

#define N TOKENS_NONE

/* Per-1M rates make expected costs easy to write: tokens * rate / 1e6. */
#define USD(tok, rate) ((double)(tok) * (rate) / 1e6)

static const struct {
	const char *provider, *model;
	int64_t in, out, cread, cwrite;
	double want;	/* < 0: unknown */
} cases[] = {
	/* OpenAI: cached tokens are inside input_tokens */
	{ "openai", "gpt-4o", 1000, 500, 0, N, USD(1000, 2.50) + USD(500, 10.00) },
	{ "openai", "gpt-4o-2024-08-06", 1342, 8, 1280, N,
	  USD(62, 2.50) + USD(1280, 1.25) + USD(8, 10.00) },
	{ "openai", "gpt-4o-mini-2024-07-18", 1000000, 1000000, N, N, 0.15 + 0.60 },
	{ "openai", "gpt-4o-2024-05-13", 1000000, 0, 0, N, 5.00 },
	{ "openai", "gpt-4.1-2025-04-14", 2077, 10, 1920, N,
	  USD(157, 2.00) + USD(1920, 0.50) + USD(10, 8.00) },
	{ "openai", "gpt-4.1-mini-2025-04-14", 1000000, 1000000, 0, N, 0.40 + 1.60 },
	{ "openai", "gpt-4.1-nano", 1000000, 1000000, 1000000, N, 0.025 + 0.40 },
	{ "openai", "o1-2024-12-17", 1000000, 1000000, 0, N, 15.00 + 60.00 },
	{ "openai", "o1-mini", 1000000, 1000000, 0, N, 1.10 + 4.40 },
	{ "openai", "o3-2025-04-16", 1000000, 1000000, 0, N, 2.00 + 8.00 },
	{ "openai", "o3-mini-2025-01-31", 15, 530, 0, N, USD(15, 1.10) + USD(530, 4.40) },
	{ "openai", "o4-mini-2025-04-16", 18, 214, 0, N, USD(18, 1.10) + USD(214, 4.40) },
	{ "openai", "gpt-5-2025-08-07", 1000000, 1000000, 500000, N, 0.625 + 0.0625 + 10.00 },
	{ "openai", "gpt-5-mini-2025-08-07", 1000000, 1000000, 0, N, 0.25 + 2.00 },
	{ "openai", "gpt-5-nano", 1000000, 1000000, 0, N, 0.05 + 0.40 },
	{ "openai", "gpt-3.5-turbo-0125", 1000000, 1000000, N, N, 0.50 + 1.50 },
	{ "openai", "gpt-3.5-turbo-instruct:20230824-v2", 5, 7, N, N, USD(5, 1.50) + USD(7, 2.00) },
	{ "openai", "text-embedding-3-small", 1000000, N, N, N, 0.02 },
	{ "openai", "text-embedding-3-large", 8, N, N, N, USD(8, 0.13) },
	{ "openai", "GPT-4o", 1000000, 0, 0, N, 2.50 },
	/* vendor prefixes; a compatible server's known model prices by the model */
	{ "openrouter", "openai/gpt-4o", 1000000, 0, 0, N, 2.50 },
	{ "openai-compatible", "gpt-4o", 1000000, 0, 0, N, 2.50 },
	{ "azure-openai", "gpt-4o-2024-11-20", 1000000, 0, N, N, 2.50 },
	{ "gemini", "models/gemini-2.0-flash", 1000000, 1000000, N, N, 0.10 + 0.40 },
	{ "openrouter", "google/gemini-2.5-pro", 1000000, 1000000, 0, N, 1.25 + 10.00 },
	/* cached beyond input (inconsistent report): never negative */
	{ "openai", "gpt-4o", 100, 0, 200, N, USD(200, 1.25) },
	/* Anthropic: input excludes cache reads and writes */
	{ "anthropic", "claude-3-5-haiku-20241022", 21, 17, 0, 1536,
	  USD(21, 0.80) + USD(1536, 1.00) + USD(17, 4.00) },
	{ "anthropic", "claude-sonnet-4-20250514", 472, 181, 2048, 0,
	  USD(472, 3.00) + USD(2048, 0.30) + USD(181, 15.00) },
	{ "anthropic", "claude-sonnet-4-5-20250929", 1000000, 1000000, N, N, 3.00 + 15.00 },
	{ "anthropic", "claude-3-7-sonnet-latest", 1000000, 0, N, N, 3.00 },
	{ "anthropic", "claude-3-5-sonnet-20241022", 0, 1000000, N, N, 15.00 },
	{ "anthropic", "claude-opus-4-20250514", 1000000, 1000000, 1000000, 1000000,
	  15.00 + 75.00 + 1.50 + 18.75 },
	{ "anthropic", "claude-opus-4-1-20250805", 12, 1, 0, 0, USD(12, 15.00) + USD(1, 75.00) },
	{ "anthropic", "claude-opus-4-5-20251101", 1000000, 1000000, N, N, 5.00 + 25.00 },
	{ "anthropic", "claude-3-opus-20240229", 1000000, 0, N, N, 15.00 },
	{ "anthropic", "claude-3-haiku-20240307", 1000000, 1000000, N, N, 0.25 + 1.25 },
	{ "anthropic", "claude-haiku-4-5-20251001", 1000000, 1000000, 1000000, N, 1.00 + 5.00 + 0.10 },
	{ "anthropic-compatible", "claude-sonnet-4", 100, 0, 100, N, USD(100, 3.00) + USD(100, 0.30) },
	{ NULL, "us.anthropic.claude-3-5-sonnet-20240620-v1:0", 100, 0, 100, N,
	  USD(100, 3.00) + USD(100, 0.30) },
	{ "gemini", "claude-sonnet-4@20250514", 1000000, 0, N, N, 3.00 },
	{ "openrouter", "anthropic/claude-3.7-sonnet", 1000000, 0, N, N, 3.00 },
	/* Gemini: cached content is inside promptTokenCount */
	{ "gemini", "gemini-2.5-flash", 1043, 14, 1024, N,
	  USD(19, 0.30) + USD(1024, 0.03) + USD(14, 2.50) },
	{ "gemini", "gemini-2.5-flash-lite", 1000000, 1000000, N, N, 0.10 + 0.40 },
	{ "gemini", "gemini-2.5-flash-lite-preview-06-17", 1000000, 0, N, N, 0.10 },
	{ "gemini", "gemini-2.5-flash-preview-05-20", 1000000, 0, N, N, 0.30 },
	{ "gemini", "gemini-2.5-pro", 1000000, 1000000, N, N, 1.25 + 10.00 },
	{ "gemini", "gemini-2.0-flash-001", 1000000, 1000000, N, N, 0.10 + 0.40 },
	{ "gemini", "gemini-2.0-flash-lite", 1000000, 1000000, N, N, 0.075 + 0.30 },
	{ "gemini", "gemini-1.5-flash-002", 1000000, 1000000, N, N, 0.075 + 0.30 },
	{ "gemini", "gemini-1.5-flash-8b-001", 1000000, 1000000, N, N, 0.0375 + 0.15 },
	{ "gemini", "gemini-1.5-pro-002", 1000000, 1000000, N, N, 1.25 + 5.00 },
	/* unknown or unpriceable */
	{ "openai-compatible", "llama3.2", 100, 100, N, N, -1 },
	{ "openai", NULL, 100, 100, N, N, -1 },
	{ "openai", "", 100, 100, N, N, -1 },
	{ "openai", "gpt-4.5-preview", 1000000, 0, N, N, 75.00 },
	{ "openai", "gpt-4.1o", 100, 100, N, N, -1 },
	{ "openai", "o1x", 100, 100, N, N, -1 },
	{ "openai", "gpt-4o", N, N, N, N, -1 },
	{ "openai", "/", 1, 1, N, N, -1 },
};

/* Every model the table must know, at a dated or plain name. */
static const char *const required[] = {
	"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1",
	"o1-mini", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano",
	"gpt-3.5-turbo", "text-embedding-3-small", "text-embedding-3-large",
	"claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022",
	"claude-3-7-sonnet-20250219", "claude-sonnet-4-20250514",
	"claude-opus-4-20250514", "claude-3-haiku-20240307", "claude-3-opus-20240229",
	"claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929",
	"claude-opus-4-1-20250805", "gemini-1.5-flash", "gemini-1.5-pro",
	"gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite",
};

/* a equals b up to rounding. */
static int close_to(double a, double b)
{
	return fabs(a - b) <= 1e-12 + 1e-9 * fabs(b);
}

/* Every case, then every required model is priced. */
static void test_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = cost_estimate(cases[i].provider, cases[i].model,
					   cases[i].in, cases[i].out,
					   cases[i].cread, cases[i].cwrite);

		if (cases[i].want < 0)
			CHECKF(got < 0, "%s: got %.12f want unknown",
			       cases[i].model ? cases[i].model : "(null)", got);
		else
			CHECKF(close_to(got, cases[i].want), "%s: got %.12f want %.12f",
			       cases[i].model, got, cases[i].want);
	}
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		CHECKF(cost_estimate(NULL, required[i], 1000, 1000, N, N) > 0,
		       "%s is not priced", required[i]);
}

/* cost_estimate_call adds Gemini's thinking tokens to output. */
static void test_call(void)
{
	struct llm_call c = {
		.provider = "gemini", .operation = "generate_content",
		.model = "gemini-2.5-flash",
		.input_tokens = 1043, .output_tokens = 14, .cache_read_tokens = 1024,
		.cache_write_tokens = N, .reasoning_tokens = 391,
	};
	double want = USD(19, 0.30) + USD(1024, 0.03) + USD(14 + 391, 2.50);

	CHECKF(close_to(cost_estimate_call(&c), want), "gemini call: got %.12f want %.12f",
	       cost_estimate_call(&c), want);

	/* OpenAI: reasoning is already inside output */
	c.provider = "openai";
	c.operation = "chat";
	c.model = "o4-mini";
	c.input_tokens = 18;
	c.output_tokens = 214;
	c.cache_read_tokens = 0;
	c.reasoning_tokens = 192;
	want = USD(18, 1.10) + USD(214, 4.40);
	CHECK(close_to(cost_estimate_call(&c), want));

	c.model = NULL;
	CHECK(cost_estimate_call(&c) < 0);
}

/* The file data/prices.tsv (tests run from the repository's root). */
static char *read_prices(size_t *len)
{
	FILE *f = fopen("data/prices.tsv", "rb");
	char *b = malloc(1 << 20);

	*len = f && b ? fread(b, 1, 1 << 20, f) : 0;
	if (f)
		fclose(f);
	return b;
}

/* The shipped table: 80+ rows, every vendor the README names, no model twice for one provider. */
static void test_shipped(const struct price_table *t)
{
	static const char *const vendors[] = {
		"openai", "anthropic", "gemini", "deepseek", "mistral", "xai", "dashscope", "zhipu",
		"moonshot", "groq", "together", "fireworks",
	};
	size_t i, j;

	CHECKF(t->n >= 80, "%zu rows", t->n);
	for (i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++) {
		for (j = 0; j < t->n && strcmp(t->rows[j].provider, vendors[i]); j++)
			;
		CHECKF(j < t->n, "no row of %s", vendors[i]);
	}
	for (i = 0; i < t->n; i++) {
		CHECKF(t->rows[i].in >= 0 && t->rows[i].out >= 0, "line %u", t->rows[i].line);
		CHECKF(t->rows[i].cached < 0 || t->rows[i].cached <= t->rows[i].in,
		       "line %u: cached above input", t->rows[i].line);
		CHECKF(!strncmp(t->rows[i].source, "https://", 8), "line %u: source", t->rows[i].line);
		CHECKF(strcmp(t->rows[i].date, "2023-01-01") > 0, "line %u: date", t->rows[i].line);
		for (j = 0; j < i; j++)
			CHECKF(strcasecmp(t->rows[i].model, t->rows[j].model) ||
			       strcmp(t->rows[i].provider, t->rows[j].provider),
			       "line %u: %s twice", t->rows[i].line, t->rows[i].model);
	}
	/* dated snapshots price as their family; a host's own row wins */
	CHECK_STR(prices_lookup(t, "openai", "gpt-4o-mini-2024-07-18")->model, "gpt-4o-mini");
	CHECK_STR(prices_lookup(t, "groq", "meta-llama/llama-4-scout-17b-16e-instruct")->provider, "groq");
	CHECK_STR(prices_lookup(t, "together", "deepseek-ai/DeepSeek-V3")->provider, "together");
	CHECK_STR(prices_lookup(t, "fireworks", "accounts/fireworks/models/deepseek-v3")->provider, "fireworks");
	CHECK_STR(prices_lookup(t, "xai", "grok-4-fast-reasoning")->model, "grok-4-fast");
	CHECK_STR(prices_lookup(t, "xai", "grok-4-0709")->model, "grok-4");
	CHECK_STR(prices_lookup(t, "openai", "gpt-5.1-2025-11-13")->model, "gpt-5.1");
	CHECK(prices_lookup(t, "openai-compatible", "llama3.2:1b") == NULL);
}

/* Every prefix of the shipped file parses or fails with a line number, never crashes;
 * bad rows are refused with the line and what is wrong. */
static void test_parse(const char *text, size_t len)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "", "no header" },
		{ "# only a comment\n", "no header" },
		{ "model\tprovider\n", "no 'input' column" },
		{ "model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\n"
		  "m\tp\t1\t-\t-\tx\t2025-01-01\thttps://s\n", "line 2: bad output price 'x'" },
		{ "model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\n"
		  "m\tp\t-\t-\t-\t1\t2025-01-01\thttps://s\n", "bad input price '-'" },
		{ "model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\n"
		  "m\tp\t1\t-\t-\t-1\t2025-01-01\thttps://s\n", "bad output price" },
		{ "model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\n"
		  "\n# c\nm\tp\t1\t-\t-\t1\t2025-1-01\thttps://s\n", "line 4: bad date" },
		{ "model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\n"
		  "m\tp\t1\t-\t-\t1\n", "line 2: 6 fields" },
		{ "model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\tinput\n",
		  "column 'input' twice" },
	};
	struct price_table *t;
	char err[256];
	size_t i, ok = 0;

	for (i = 0; i <= len; i++) {
		err[0] = 0;
		if (!prices_parse(&t, text, i, err, sizeof(err))) {
			ok++;
			prices_free(t);
			continue;
		}
		CHECKF(!strncmp(err, "line ", 5), "prefix %zu: %s", i, err);
	}
	CHECK(ok > 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		t = NULL;
		CHECKF(prices_parse(&t, bad[i].text, strlen(bad[i].text), err, sizeof(err)) == -1 && !t,
		       "bad %zu parsed", i);
		CHECKF(strstr(err, bad[i].err) != NULL, "bad %zu: got '%s' want '%s'", i, err, bad[i].err);
	}
	/* columns in another order, a column of the user's own, CRLF, blanks */
	{
		const char *mine = "source\tdate\tnote\toutput\tcache_write\tcached_input\tinput\tprovider\tmodel\r\n"
				   "https://x\t2026-01-02\tmine\t2\t-\t0.5\t1\tlocal\t my-model \r\n";

		if (CHECK_OK(!prices_parse(&t, mine, strlen(mine), err, sizeof(err)))) {
			CHECK(t->n == 1);
			CHECK_STR(t->rows[0].model, "my-model");
			CHECK(t->rows[0].in == 1 && t->rows[0].cached == 0.5 && t->rows[0].write < 0 &&
			      t->rows[0].out == 2);
			cost_use(t);
			CHECK(close_to(cost_estimate("local", "my-model-v2", 1000000, 1000000, 500000, N),
				       0.5 + 0.25 + 2));
			cost_use(NULL);
			CHECK(cost_estimate("local", "my-model-v2", 1000000, 1000000, 500000, N) < 0);
			CHECK(cost_estimate("local", "my-model", 1, 1, N, N) < 0);
			/* the same question of a new table: the new table's answer, not the last one */
			{
				const char *other = "model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\n"
						    "my-model\tlocal\t10\t5\t-\t20\t2026-01-02\thttps://x\n";
				struct price_table *u = NULL;

				cost_use(t);
				CHECK(close_to(cost_estimate("local", "my-model", 1000000, 1000000, N, N), 3));
				CHECK(close_to(cost_estimate(NULL, "my-model", 1000000, 1000000, N, N), 3));
				if (CHECK_OK(!prices_parse(&u, other, strlen(other), err, sizeof(err)))) {
					cost_use(u);
					CHECK(close_to(cost_estimate("local", "my-model", 1000000, 1000000, N, N), 30));
					cost_use(NULL);
					prices_free(u);
				}
			}
			prices_free(t);
		}
	}
}

/* Runs every test; exit status 0 when all passed. */
int main(void)
{
	struct price_table *t = NULL;
	char err[256];
	size_t len;
	char *text = read_prices(&len);

	CHECKF(len > 0, "data/prices.tsv not found (run from the repository's root)");
	CHECKF(!prices_parse(&t, text, len, err, sizeof(err)), "data/prices.tsv: %s", err);
	if (!t)
		return harness_done("test_cost");
	test_shipped(t);
	test_parse(text, len);
	cost_use(t);
	test_cases();
	test_call();
	cost_use(NULL);
	prices_free(t);
	free(text);
	return harness_done("test_cost");
}

/* cost.c -- pure price table: parsed from a TSV file (data/prices.tsv), and the estimated USD cost of an LLM call from its token usage. */
#include "llm/cost.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm/provider.h"

#define PRICE_MAX 1e6		/* USD per 1M tokens: above this a row is a typo */
#define PRICES_ROWS_MAX 100000

/* The columns of a table, by name; the header line gives their order. */
enum col { C_MODEL, C_PROVIDER, C_IN, C_CACHED, C_WRITE, C_OUT, C_DATE, C_SOURCE, C_NCOLS };
static const char *const col_names[C_NCOLS] = {
	"model", "provider", "input", "cached_input", "cache_write", "output", "date", "source",
};

static const struct price_table *cur_table;
static unsigned cur_gen;		/* bumped by cost_use(): a memo of an older table is void */

/* This thread's last lookup in cost_estimate(): a host's calls name a few
 * models over and over, and a lookup scans the whole table (3 % of the
 * reader's time per call). */
struct price_memo {
	unsigned gen;
	int valid, has_provider;	/* has_provider: NULL and "" are not the same */
	char provider[64], model[128];
	const struct price *p;
};

static __thread struct price_memo memo;

/* Write "line N: why" into err. Returns -1. */
static int perr(char *err, size_t errlen, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "line %u: ", line);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Split line (NUL-terminated, modified) at tabs into f (at most max
 * fields, surrounding blanks trimmed). Returns the number of fields. */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	char *p = line, *e;

	for (;;) {
		char *tab = strchr(p, '\t');

		if (tab)
			*tab = 0;
		while (*p == ' ')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\r'))
			*--e = 0;
		if (n == max)
			return max + 1;
		f[n++] = p;
		if (!tab)
			return n;
		p = tab + 1;
	}
}

/* Parse a price cell: a number from 0 to PRICE_MAX, or '-' (when dash_ok:
 * *v = -1). Returns 0, -1. */
static int parse_price(const char *s, int dash_ok, double *v)
{
	char *end;

	if (dash_ok && !strcmp(s, "-")) {
		*v = -1;
		return 0;
	}
	if (!*s || !(isdigit((unsigned char)*s) || *s == '.'))
		return -1;
	errno = 0;
	*v = strtod(s, &end);
	return errno || *end || *v < 0 || *v > PRICE_MAX ? -1 : 0;
}

/* 1 when s is a date YYYY-MM-DD. */
static int is_date(const char *s)
{
	int i;

	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
			return 0;
	return s[10] == 0 && s[5] <= '1' && s[8] <= '3';
}

/* Parse the header line into idx (column -> field). Returns 0, -1. */
static int parse_header(char **f, int nf, int idx[C_NCOLS], unsigned line, char *err, size_t errlen)
{
	int c, i;

	for (c = 0; c < C_NCOLS; c++)
		idx[c] = -1;
	for (i = 0; i < nf; i++) {
		for (c = 0; c < C_NCOLS && strcmp(f[i], col_names[c]); c++)
			;
		if (c == C_NCOLS)
			continue;	/* a column of the user's own: ignored */
		if (idx[c] >= 0)
			return perr(err, errlen, line, "column '%s' twice", f[i]);
		idx[c] = i;
	}
	for (c = 0; c < C_NCOLS; c++)
		if (idx[c] < 0)
			return perr(err, errlen, line, "the header has no '%s' column", col_names[c]);
	return 0;
}

/* Parse one row's fields into p (strings copied). Returns 0, -1. */
static int parse_row(char **f, int nf, const int idx[C_NCOLS], unsigned line, struct price *p,
		     char *err, size_t errlen)
{
	static const struct {
		enum col c;
		int dash_ok;
		size_t off;
	} nums[] = {
		{ C_IN, 0, offsetof(struct price, in) },
		{ C_CACHED, 1, offsetof(struct price, cached) },
		{ C_WRITE, 1, offsetof(struct price, write) },
		{ C_OUT, 0, offsetof(struct price, out) },
	};
	size_t i;
	int c;

	for (c = 0; c < C_NCOLS; c++)
		if (idx[c] >= nf)
			return perr(err, errlen, line, "%d fields, the header has more (a missing tab?)", nf);
	if (!*f[idx[C_MODEL]] || strchr(f[idx[C_MODEL]], ' '))
		return perr(err, errlen, line, "bad model name '%s'", f[idx[C_MODEL]]);
	if (!*f[idx[C_PROVIDER]])
		return perr(err, errlen, line, "no provider");
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (parse_price(f[idx[nums[i].c]], nums[i].dash_ok, (double *)((char *)p + nums[i].off)))
			return perr(err, errlen, line, "bad %s price '%s' (USD per 1M tokens%s)",
				    col_names[nums[i].c], f[idx[nums[i].c]], nums[i].dash_ok ? ", or -" : "");
	if (!is_date(f[idx[C_DATE]]))
		return perr(err, errlen, line, "bad date '%s' (YYYY-MM-DD)", f[idx[C_DATE]]);
	memcpy(p->date, f[idx[C_DATE]], sizeof(p->date));
	p->line = line;
	p->model = strdup(f[idx[C_MODEL]]);
	p->provider = strdup(f[idx[C_PROVIDER]]);
	p->source = strdup(f[idx[C_SOURCE]]);
	if (!p->model || !p->provider || !p->source)
		return perr(err, errlen, line, "out of memory");
	return 0;
}

int prices_parse(struct price_table **out, const char *text, size_t len, char *err, size_t errlen)
{
	struct price_table *t = calloc(1, sizeof(*t));
	char *copy = malloc(len + 1), *line, *next, *f[C_NCOLS * 4];
	int idx[C_NCOLS], have_header = 0, nf;
	unsigned lineno = 0;
	size_t cap = 0;

	*out = NULL;
	if (!t || !copy) {
		perr(err, errlen, 0, "out of memory");
		goto out_free;
	}
	memcpy(copy, text, len);
	copy[len] = 0;
	if (memchr(text, 0, len)) {
		perr(err, errlen, 1, "a NUL byte: not a text file");
		goto out_free;
	}
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		if (line[strspn(line, " \t\r")] == 0 || line[strspn(line, " ")] == '#')
			continue;
		nf = split_tabs(line, f, C_NCOLS * 4);
		if (nf > C_NCOLS * 4) {
			perr(err, errlen, lineno, "too many fields");
			goto out_free;
		}
		if (!have_header) {
			if (parse_header(f, nf, idx, lineno, err, errlen))
				goto out_free;
			have_header = 1;
			continue;
		}
		if (t->n == cap) {
			struct price *r;

			cap = cap ? 2 * cap : 128;
			if (cap > PRICES_ROWS_MAX || !(r = realloc(t->rows, cap * sizeof(*r)))) {
				perr(err, errlen, lineno, "too many rows");
				goto out_free;
			}
			t->rows = r;
		}
		memset(&t->rows[t->n], 0, sizeof(t->rows[0]));
		t->n++;	/* counted first: a half-filled row is freed with the table */
		if (parse_row(f, nf, idx, lineno, &t->rows[t->n - 1], err, errlen))
			goto out_free;
	}
	if (!have_header) {
		perr(err, errlen, lineno, "no header line (model, provider, input, ...)");
		goto out_free;
	}
	free(copy);
	*out = t;
	return 0;

out_free:
	free(copy);
	prices_free(t);
	return -1;
}

void prices_free(struct price_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->rows[i].model);
		free(t->rows[i].provider);
		free(t->rows[i].source);
	}
	free(t->rows);
	free(t);
}

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

const struct price *prices_lookup(const struct price_table *t, const char *provider,
				  const char *model)
{
	const struct price *best = NULL;
	size_t i, best_len = 0;
	int pass;

	if (!t || !model)
		return NULL;
	model = bare_name(model);
	/* pass 0: the provider's own rows; pass 1: any row */
	for (pass = provider ? 0 : 1; pass < 2 && !best; pass++) {
		for (i = 0; i < t->n; i++) {
			const struct price *p = &t->rows[i];
			size_t n = strlen(p->model);

			if (n <= best_len || strncasecmp(model, p->model, n) || !name_boundary(model[n]))
				continue;
			if (!pass && strcasecmp(p->provider, provider))
				continue;
			best = p;
			best_len = n;
		}
	}
	return best;
}

void cost_use(const struct price_table *t)
{
	cur_table = t;
	__atomic_add_fetch(&cur_gen, 1, __ATOMIC_RELEASE);
}

const struct price_table *cost_table(void)
{
	return cur_table;
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

/* prices_lookup() in the current table, through this thread's memo. */
static const struct price *price_find(const char *provider, const char *model)
{
	unsigned gen = __atomic_load_n(&cur_gen, __ATOMIC_ACQUIRE);
	size_t pn = provider ? strlen(provider) : 0, mn = strlen(model);

	if (memo.valid && memo.gen == gen && !strcmp(memo.model, model) &&
	    !strcmp(memo.provider, provider ? provider : "") && memo.has_provider == (provider != NULL))
		return memo.p;
	memo.p = prices_lookup(cur_table, provider, model);
	memo.valid = 0;
	if (pn < sizeof(memo.provider) && mn < sizeof(memo.model)) {
		memcpy(memo.provider, provider ? provider : "", pn + 1);
		memcpy(memo.model, model, mn + 1);
		memo.gen = gen;
		memo.has_provider = provider != NULL;
		memo.valid = 1;
	}
	return memo.p;
}

/* See cost.h. Whether input_tokens includes the cached tokens is decided
 * by the provider name ("anthropic*" excludes them); with no provider, by
 * the model family (claude-* excludes). */
double cost_estimate(const char *provider, const char *model,
		     int64_t input_tokens, int64_t output_tokens,
		     int64_t cache_read_tokens, int64_t cache_write_tokens)
{
	const struct price *pr;
	double in, cr, cw, out, usd;
	int anthropic_style;

	if (!model || (input_tokens < 0 && output_tokens < 0))
		return -1;
	pr = price_find(provider, model);
	if (!pr)
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
	usd = in * pr->in + cr * (pr->cached >= 0 ? pr->cached : pr->in) +
	      cw * (pr->write >= 0 ? pr->write : pr->in) + out * pr->out;
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

/* genai.c -- the OpenTelemetry GenAI client metrics of /metrics: operation duration, token usage and time to first chunk as Prometheus histograms.
 *
 * Names and buckets follow the GenAI semantic conventions
 * (gen_ai.client.operation.duration, gen_ai.client.token.usage,
 * gen_ai.client.operation.time_to_first_chunk) as the OpenTelemetry
 * Prometheus exporter writes them: dots become underscores, seconds get the
 * _seconds suffix, attribute names become labels (gen_ai_operation_name,
 * gen_ai_provider_name, gen_ai_response_model, error_type,
 * gen_ai_token_type). error_type is absent on calls that succeeded. */
#include "serve/genai.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "db/rows.h"
#include "push/format_otlp.h"

#define NBUCKETS 14

/* The buckets the conventions advise: seconds, and tokens. */
static const double sec_bounds[NBUCKETS] = {
	0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
};
static const double tok_bounds[NBUCKETS] = {
	1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
};

/* One histogram: counts per bucket (not cumulative), sum, count. */
struct hist {
	unsigned long long b[NBUCKETS + 1];	/* the last one is +Inf */
	double sum;
	unsigned long long n;
};

/* One label set and its histograms. */
struct series {
	char *op, *provider, *model, *error_type;	/* error_type NULL when fine */
	struct hist duration, ttfc, tok_in, tok_out;
	double cost_usd;
};

struct genai_metrics {
	pthread_mutex_t mu;
	struct series *s;
	size_t n, cap;
};

struct genai_metrics *genai_new(void)
{
	struct genai_metrics *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

/* Add v to h, with the bucket bounds of bounds. */
static void hist_add(struct hist *h, const double *bounds, double v)
{
	int i;

	for (i = 0; i < NBUCKETS && v > bounds[i]; i++)
		;
	h->b[i]++;
	h->sum += v;
	h->n++;
}

/* 1 when a and b are the same label value (both may be NULL). */
static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The series of these labels, made when new; NULL when out of memory. */
static struct series *series_get(struct genai_metrics *m, const char *op, const char *provider,
				 const char *model, const char *et)
{
	struct series *s;
	size_t i;

	if (m->n >= GENAI_SERIES_MAX)
		model = "_other";	/* bounded: a flood of model names cannot grow /metrics */
	for (i = 0; i < m->n; i++) {
		s = &m->s[i];
		if (same(s->op, op) && same(s->provider, provider) && same(s->model, model) &&
		    same(s->error_type, et))
			return s;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;

		s = realloc(m->s, cap * sizeof(*s));
		if (!s)
			return NULL;
		m->s = s;
		m->cap = cap;
	}
	s = &m->s[m->n];
	memset(s, 0, sizeof(*s));
	s->op = strdup(op);
	s->provider = strdup(provider);
	s->model = strdup(model);
	s->error_type = et ? strdup(et) : NULL;
	if (!s->op || !s->provider || !s->model || (et && !s->error_type)) {
		free(s->op);
		free(s->provider);
		free(s->model);
		free(s->error_type);
		return NULL;
	}
	m->n++;
	return s;
}

void genai_observe(struct genai_metrics *m, const struct call_row *r)
{
	const char *op, *provider, *et;
	struct series *s;

	if (!m || !r)
		return;
	op = otlp_operation_name(r->operation);
	provider = otlp_provider_name(r->provider);
	et = r->error_type ? r->error_type : (r->error ? "_OTHER" : NULL);
	pthread_mutex_lock(&m->mu);
	s = series_get(m, op ? op : "_OTHER", provider ? provider : "_OTHER",
		       r->model && *r->model ? r->model : "_unknown", et);
	if (s) {
		if (r->duration_ms >= 0)
			hist_add(&s->duration, sec_bounds, r->duration_ms / 1e3);
		if (r->stream && r->ttft_ms >= 0)
			hist_add(&s->ttfc, sec_bounds, r->ttft_ms / 1e3);
		if (r->input_tokens != CALL_NULL_INT && r->input_tokens >= 0)
			hist_add(&s->tok_in, tok_bounds, (double)r->input_tokens);
		if (r->output_tokens != CALL_NULL_INT && r->output_tokens >= 0)
			hist_add(&s->tok_out, tok_bounds, (double)r->output_tokens);
		if (r->cost_usd > 0)
			s->cost_usd += r->cost_usd;
	}
	pthread_mutex_unlock(&m->mu);
}

/* Append printf-style text. */
static void bput(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bput(struct buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* s as a label value: \\, \" and \n escaped. */
static void label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_append(b, "\\", 1);
		if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, s, 1);
	}
}

/* The labels of s (and the token type when tok), without braces, then ",". */
static void labels(struct buf *b, const struct series *s, const char *tok)
{
	buf_puts(b, "gen_ai_operation_name=\"");
	label_value(b, s->op);
	buf_puts(b, "\",gen_ai_provider_name=\"");
	label_value(b, s->provider);
	buf_puts(b, "\",gen_ai_response_model=\"");
	label_value(b, s->model);
	buf_puts(b, "\"");
	if (s->error_type) {
		buf_puts(b, ",error_type=\"");
		label_value(b, s->error_type);
		buf_puts(b, "\"");
	}
	if (tok)
		bput(b, ",gen_ai_token_type=\"%s\"", tok);
}

/* One histogram's lines: cumulative buckets, +Inf, sum, count. */
static void hist_write(struct buf *b, const char *name, const struct series *s, const char *tok,
		       const struct hist *h, const double *bounds)
{
	unsigned long long cum = 0;
	int i;

	if (!h->n)
		return;
	for (i = 0; i <= NBUCKETS; i++) {
		cum += h->b[i];
		bput(b, "%s_bucket{", name);
		labels(b, s, tok);
		if (i < NBUCKETS)
			bput(b, ",le=\"%g\"} %llu\n", bounds[i], cum);
		else
			bput(b, ",le=\"+Inf\"} %llu\n", cum);
	}
	bput(b, "%s_sum{", name);
	labels(b, s, tok);
	bput(b, "} %.9g\n%s_count{", h->sum, name);
	labels(b, s, tok);
	bput(b, "} %llu\n", h->n);
}

void genai_write(struct genai_metrics *m, struct buf *b)
{
	static const char dur[] = "gen_ai_client_operation_duration_seconds";
	static const char tok[] = "gen_ai_client_token_usage";
	static const char ttfc[] = "gen_ai_client_operation_time_to_first_chunk_seconds";
	static const char cost[] = "llmtap_cost_usd_total";
	size_t i;

	if (m)
		pthread_mutex_lock(&m->mu);
	bput(b, "# HELP %s GenAI operation duration: first request byte to last response byte.\n"
		"# TYPE %s histogram\n", dur, dur);
	for (i = 0; m && i < m->n; i++)
		hist_write(b, dur, &m->s[i], NULL, &m->s[i].duration, sec_bounds);
	bput(b, "# HELP %s Tokens used per call, by gen_ai_token_type (input, output).\n"
		"# TYPE %s histogram\n", tok, tok);
	for (i = 0; m && i < m->n; i++) {
		hist_write(b, tok, &m->s[i], "input", &m->s[i].tok_in, tok_bounds);
		hist_write(b, tok, &m->s[i], "output", &m->s[i].tok_out, tok_bounds);
	}
	bput(b, "# HELP %s Streamed calls: last request byte to the first content chunk.\n"
		"# TYPE %s histogram\n", ttfc, ttfc);
	for (i = 0; m && i < m->n; i++)
		hist_write(b, ttfc, &m->s[i], NULL, &m->s[i].ttfc, sec_bounds);
	bput(b, "# HELP %s Estimated cost of the calls (the price table's USD).\n"
		"# TYPE %s counter\n", cost, cost);
	for (i = 0; m && i < m->n; i++) {
		if (!m->s[i].duration.n)
			continue;
		bput(b, "%s{", cost);
		labels(b, &m->s[i], NULL);
		bput(b, "} %.9g\n", m->s[i].cost_usd);
	}
	if (m)
		pthread_mutex_unlock(&m->mu);
}

void genai_free(struct genai_metrics *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->s[i].op);
		free(m->s[i].provider);
		free(m->s[i].model);
		free(m->s[i].error_type);
	}
	free(m->s);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

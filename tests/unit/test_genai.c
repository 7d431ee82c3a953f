/* test_genai.c -- unit tests for the GenAI histograms of /metrics: buckets, labels, sums, the series bound. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "db/rows.h"
#include "harness.h"
#include "serve/genai.h"

/* A call row with what the metrics read. */
static struct call_row row(const char *op, const char *prov, const char *model, double ms, double ttft,
			   int64_t in, int64_t out, const char *et)
{
	struct call_row r;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.provider = prov;
	r.model = (char *)model;
	r.duration_ms = ms;
	r.ttft_ms = ttft;
	r.stream = ttft >= 0;
	r.input_tokens = in;
	r.output_tokens = out;
	r.error_type = et;
	r.error = et ? (char *)"x" : NULL;
	r.cost_usd = et ? -1 : 0.001;
	return r;
}

int main(void)
{
	struct genai_metrics *m = genai_new();
	struct buf b = { 0 };
	struct call_row r;
	const char *t;
	char name[32];
	int i;

	r = row("chat", "openai", "gpt-4o", 150, 30, 100, 20, NULL);
	genai_observe(m, &r);
	r = row("chat", "openai", "gpt-4o", 3000, -1, 100, 20, NULL);
	genai_observe(m, &r);
	r = row("messages", "anthropic", "claude-3-5-haiku", 50, -1, CALL_NULL_INT, CALL_NULL_INT, "rate_limited");
	genai_observe(m, &r);
	genai_write(m, &b);
	t = (const char *)b.data;
	CHECK(strstr(t, "# TYPE gen_ai_client_operation_duration_seconds histogram\n"));
	CHECK(strstr(t, "gen_ai_client_operation_duration_seconds_bucket{gen_ai_operation_name=\"chat\","
		      "gen_ai_provider_name=\"openai\",gen_ai_response_model=\"gpt-4o\",le=\"0.16\"} 1\n"));
	CHECK(strstr(t, "gen_ai_client_operation_duration_seconds_bucket{gen_ai_operation_name=\"chat\","
		      "gen_ai_provider_name=\"openai\",gen_ai_response_model=\"gpt-4o\",le=\"2.56\"} 1\n"));
	CHECK(strstr(t, "gen_ai_response_model=\"gpt-4o\",le=\"5.12\"} 2\n"));
	CHECK(strstr(t, "gen_ai_response_model=\"gpt-4o\",le=\"+Inf\"} 2\n"));
	CHECK(strstr(t, "gen_ai_client_operation_duration_seconds_sum{gen_ai_operation_name=\"chat\","
		      "gen_ai_provider_name=\"openai\",gen_ai_response_model=\"gpt-4o\"} 3.15\n"));
	CHECK(strstr(t, "gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name=\"chat\","
		      "gen_ai_provider_name=\"openai\",gen_ai_response_model=\"gpt-4o\"} 2\n"));
	/* the error kind is a label; no token histogram without tokens */
	CHECK(strstr(t, "gen_ai_response_model=\"claude-3-5-haiku\",error_type=\"rate_limited\",le=\"0.08\"} 1\n"));
	CHECK(!strstr(t, "claude-3-5-haiku\",error_type=\"rate_limited\",gen_ai_token_type"));
	CHECK(strstr(t, "gen_ai_client_token_usage_bucket{gen_ai_operation_name=\"chat\",gen_ai_provider_name="
		      "\"openai\",gen_ai_response_model=\"gpt-4o\",gen_ai_token_type=\"input\",le=\"256\"} 2\n"));
	CHECK(strstr(t, "gen_ai_token_type=\"output\",le=\"16\"} 0\n"));
	CHECK(strstr(t, "gen_ai_token_type=\"output\",le=\"64\"} 2\n"));
	/* time to first chunk: streams only */
	CHECK(strstr(t, "gen_ai_client_operation_time_to_first_chunk_seconds_count{gen_ai_operation_name=\"chat\","
		      "gen_ai_provider_name=\"openai\",gen_ai_response_model=\"gpt-4o\"} 1\n"));
	CHECK(strstr(t, "llmtap_cost_usd_total{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\","
		      "gen_ai_response_model=\"gpt-4o\"} 0.002\n"));
	buf_free(&b);

	/* bounded: label sets beyond the cap count under model "_other" */
	for (i = 0; i < GENAI_SERIES_MAX + 50; i++) {
		snprintf(name, sizeof(name), "m%d\"\\", i);
		r = row("chat", "openai-compatible", name, 10, -1, 1, 1, NULL);
		genai_observe(m, &r);
	}
	genai_write(m, &b);
	t = (const char *)b.data;
	CHECK(strstr(t, "gen_ai_response_model=\"m0\\\"\\\\\""));
	CHECK(strstr(t, "gen_ai_response_model=\"_other\"} "));
	buf_free(&b);
	genai_free(m);
	genai_write(NULL, &b);
	CHECK(b.data && strstr((const char *)b.data, "# TYPE gen_ai_client_token_usage histogram"));
	buf_free(&b);
	return harness_done("test_genai");
}

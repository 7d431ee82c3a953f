/* test_otlp.c -- the OTLP JSON of LLM call rows: structure, id encoding, enums, string int64s, GenAI attributes. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "push/format_otlp.h"

static struct call_row *row_new(const char *id, int64_t pid, const char *comm)
{
	struct call_row *r = calloc(1, sizeof(*r));

	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->comm, sizeof(r->comm), "%s", comm);
	r->pid = pid;
	r->tid = pid;
	r->exe = strdup("/usr/bin/python3");
	r->provider = "openai";
	r->operation = "chat";
	r->model = strdup("gpt-4o-mini-2024-07-18");
	r->host = strdup("api.openai.com");
	r->method = strdup("POST");
	r->path = strdup("/v1/chat/completions");
	r->status = 200;
	r->stream = 1;
	r->input_tokens = 23;
	r->output_tokens = 9;
	r->cache_read_tokens = 4;
	r->cache_write_tokens = CALL_NULL_INT;
	r->reasoning_tokens = CALL_NULL_INT;
	r->cost_usd = 0.0000123;
	r->finish_reason = strdup("stop");
	r->response_text = strdup("Hello \"there\"\n\x01 caf\xc3\xa9 \xff!");
	r->start_ns = 1795564192972200104LL;
	r->duration_ms = 43.5;
	r->ttfb_ms = 20.25;
	r->ttft_ms = 21.0;
	r->dns_ms = 1.5;
	r->connect_ms = 0.25;
	r->tls_ms = 3.0;
	r->conn_reused = 0;
	r->request_bytes = 100;
	r->response_bytes = 200;
	r->request_headers = strdup("authorization: [REDACTED]\r\n");
	r->request_body = strdup("{\"model\":\"gpt-4o-mini\",\"messages\":[]}");
	r->response_body = strdup("data: {}\n\n");
	r->upload_ms = 0.5;
	r->wait_ms = 20.0;
	r->client_ms = 0.1;
	r->tokens_per_s = 400.0;
	r->verdict = "model";
	snprintf(r->conn_id, sizeof(r->conn_id), "0190a2b3-0000-7000-8000-000000000001");
	return r;
}

/* The attribute value object for key in an OTLP attribute array, or NULL. */
static json_t *attr(json_t *attrs, const char *key)
{
	size_t i;
	json_t *a;

	json_array_foreach(attrs, i, a) {
		if (!strcmp(json_string_value(json_object_get(a, "key")), key))
			return json_object_get(a, "value");
	}
	return NULL;
}

static const char *attr_str(json_t *attrs, const char *key)
{
	return json_string_value(json_object_get(attr(attrs, key), "stringValue"));
}

static const char *attr_int(json_t *attrs, const char *key)
{
	return json_string_value(json_object_get(attr(attrs, key), "intValue"));
}

static double attr_double(json_t *attrs, const char *key)
{
	json_t *v = json_object_get(attr(attrs, key), "doubleValue");

	return json_is_number(v) ? json_number_value(v) : -12345;
}

static int is_hex(const char *s, size_t n)
{
	size_t i;

	if (!s || strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Every attribute holds exactly one typed value of the OTLP JSON mapping. */
static int attrs_well_typed(json_t *attrs)
{
	size_t i;
	json_t *a;

	json_array_foreach(attrs, i, a) {
		json_t *v = json_object_get(a, "value");
		const char *k;
		json_t *x;

		if (!json_is_string(json_object_get(a, "key")) || json_object_size(v) != 1)
			return 0;
		json_object_foreach(v, k, x) {
			if (!strcmp(k, "stringValue") && !json_is_string(x))
				return 0;
			if (!strcmp(k, "intValue") && (!json_is_string(x) || !*json_string_value(x)))
				return 0;
			if (!strcmp(k, "doubleValue") && !json_is_number(x))
				return 0;
			if (!strcmp(k, "boolValue") && !json_is_boolean(x))
				return 0;
			if (strcmp(k, "stringValue") && strcmp(k, "intValue") && strcmp(k, "doubleValue") &&
			    strcmp(k, "boolValue") && strcmp(k, "arrayValue"))
				return 0;
		}
	}
	return 1;
}

static json_t *build(struct call_row **rows, size_t n, int bodies)
{
	struct otlp_opts o = { "host-1234", "box", "1.0", bodies };
	struct buf b = { 0 };
	json_error_t err;
	json_t *j;

	CHECK(otlp_traces_json(&b, (const struct call_row *const *)rows, n, &o) == 0);
	j = json_loads((const char *)b.data, 0, &err);
	CHECKF(j != NULL, "invalid JSON: %s: %s", err.text, (const char *)b.data);
	buf_free(&b);
	return j;
}

/* A call from a container names it on its resource; calls from the same
 * pid in different containers are different resources. */
static void test_container(void)
{
	struct call_row *r[2] = { row_new("0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b", 7, "agent"),
				  row_new("0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c", 7, "agent") };
	json_t *j, *attrs;

	r[0]->container_id = strdup("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	j = build(r, 2, 0);
	CHECK(json_array_size(json_object_get(j, "resourceSpans")) == 2);
	attrs = json_object_get(json_object_get(json_array_get(json_object_get(j, "resourceSpans"), 0),
						"resource"), "attributes");
	CHECK_STR(attr_str(attrs, "container.id"),
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	CHECK(attrs_well_typed(attrs));
	json_decref(j);
	call_row_free(r[0]);
	call_row_free(r[1]);
}

static void test_span(void)
{
	struct call_row *r = row_new("0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b", 4242, "python3");
	json_t *j = build(&r, 1, 0), *rs, *span, *attrs, *fr;
	char trace[33], sp[17];

	rs = json_array_get(json_object_get(j, "resourceSpans"), 0);
	CHECK(json_array_size(json_object_get(j, "resourceSpans")) == 1);
	attrs = json_object_get(json_object_get(rs, "resource"), "attributes");
	CHECK_STR(attr_str(attrs, "service.name"), "python3");
	CHECK_STR(attr_str(attrs, "host.id"), "host-1234");
	CHECK_STR(attr_int(attrs, "process.pid"), "4242");
	CHECK(attr_str(attrs, "container.id") == NULL);
	CHECK(attrs_well_typed(attrs));
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(
		json_object_get(rs, "scopeSpans"), 0), "scope"), "name")), "llmtap");
	span = json_array_get(json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans"), 0);
	CHECK(span != NULL);
	/* a UUID id is the trace id; the span id is derived from it */
	CHECK_STR(json_string_value(json_object_get(span, "traceId")), "0190a2b3c4d57e6f8a9b0c1d2e3f4a5b");
	CHECK(is_hex(json_string_value(json_object_get(span, "spanId")), 16));
	otlp_ids(r->id, trace, sp);
	CHECK(!strcmp(json_string_value(json_object_get(span, "spanId")), sp));
	CHECK_STR(json_string_value(json_object_get(span, "name")), "chat gpt-4o-mini");
	CHECK(json_is_integer(json_object_get(span, "kind")) &&
	      json_integer_value(json_object_get(span, "kind")) == 3);
	CHECK_STR(json_string_value(json_object_get(span, "startTimeUnixNano")), "1795564192972200104");
	CHECK_STR(json_string_value(json_object_get(span, "endTimeUnixNano")), "1795564193015700104");
	CHECK(json_object_get(span, "status") == NULL);
	attrs = json_object_get(span, "attributes");
	CHECK(attrs_well_typed(attrs));
	CHECK_STR(attr_str(attrs, "gen_ai.operation.name"), "chat");
	CHECK_STR(attr_str(attrs, "gen_ai.provider.name"), "openai");
	CHECK_STR(attr_str(attrs, "gen_ai.request.model"), "gpt-4o-mini");
	CHECK_STR(attr_str(attrs, "gen_ai.response.model"), "gpt-4o-mini-2024-07-18");
	CHECK_STR(attr_int(attrs, "gen_ai.usage.input_tokens"), "23");
	CHECK_STR(attr_int(attrs, "gen_ai.usage.output_tokens"), "9");
	CHECK_STR(attr_int(attrs, "gen_ai.usage.cache_read.input_tokens"), "4");
	CHECK(attr(attrs, "gen_ai.usage.cache_creation.input_tokens") == NULL);	/* NULL: left out */
	fr = json_object_get(json_object_get(attr(attrs, "gen_ai.response.finish_reasons"), "arrayValue"), "values");
	CHECK(json_array_size(fr) == 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(fr, 0), "stringValue")), "stop");
	CHECK(attr_double(attrs, "gen_ai.response.time_to_first_chunk") > 0.0214 &&
	      attr_double(attrs, "gen_ai.response.time_to_first_chunk") < 0.0216);
	CHECK_STR(attr_str(attrs, "server.address"), "api.openai.com");
	CHECK_STR(attr_int(attrs, "server.port"), "443");
	CHECK_STR(attr_int(attrs, "http.response.status_code"), "200");
	CHECK(attr(attrs, "error.type") == NULL);
	CHECK(attr_double(attrs, "llmtap.dns_ms") == 1.5);
	CHECK(attr_double(attrs, "llmtap.connect_ms") == 0.25);
	CHECK(attr_double(attrs, "llmtap.tls_ms") == 3.0);
	CHECK(attr_double(attrs, "llmtap.upload_ms") == 0.5);
	CHECK(attr_double(attrs, "llmtap.wait_ms") == 20.0);
	CHECK(attr_double(attrs, "llmtap.ttfb_ms") == 20.25);
	CHECK(attr_double(attrs, "llmtap.ttft_ms") == 21.0);
	CHECK(attr_double(attrs, "llmtap.duration_ms") == 43.5);
	CHECK_STR(attr_str(attrs, "llmtap.verdict"), "model");
	CHECK(json_is_false(json_object_get(attr(attrs, "llmtap.conn_reused"), "boolValue")));
	CHECK(json_is_true(json_object_get(attr(attrs, "llmtap.stream"), "boolValue")));
	CHECK_STR(attr_str(attrs, "llmtap.call_id"), r->id);
	/* no bodies without --push-bodies */
	CHECK(attr(attrs, "llmtap.request.body") == NULL);
	CHECK(attr(attrs, "llmtap.response.text") == NULL);
	CHECK(attr(attrs, "gen_ai.output.messages") == NULL);
	json_decref(j);

	j = build(&r, 1, 1);
	span = json_array_get(json_object_get(json_array_get(json_object_get(json_array_get(
		json_object_get(j, "resourceSpans"), 0), "scopeSpans"), 0), "spans"), 0);
	attrs = json_object_get(span, "attributes");
	CHECK(attrs_well_typed(attrs));
	CHECK_STR(attr_str(attrs, "llmtap.request.body"), r->request_body);
	CHECK_STR(attr_str(attrs, "llmtap.response.body"), r->response_body);
	/* control bytes escaped, invalid UTF-8 replaced: still valid JSON */
	CHECK_STR(attr_str(attrs, "llmtap.response.text"), "Hello \"there\"\n\x01 caf\xc3\xa9 \xef\xbf\xbd!");
	CHECK(attr_str(attrs, "gen_ai.output.messages") != NULL);
	json_decref(j);
	call_row_free(r);
}

static void test_errors_and_resources(void)
{
	struct call_row *rows[3];
	json_t *j, *rss, *spans, *attrs, *status;

	rows[0] = row_new("0190a2b3-c4d5-7e6f-8a9b-000000000001", 10, "node");
	rows[1] = row_new("0190a2b3-c4d5-7e6f-8a9b-000000000002", 11, "curl");
	rows[2] = row_new("0190a2b3-c4d5-7e6f-8a9b-000000000003", 10, "node");
	rows[0]->status = 429;
	rows[0]->input_tokens = CALL_NULL_INT;
	rows[1]->status = CALL_NULL_INT;
	rows[1]->error = strdup("connection closed before the response completed");
	rows[1]->duration_ms = -1;
	rows[1]->provider = "gemini";
	rows[1]->operation = "generate_content";
	free(rows[1]->host);
	rows[1]->host = strdup("localhost:8443");
	free(rows[1]->request_body);
	rows[1]->request_body = NULL;
	free(rows[1]->path);
	rows[1]->path = strdup("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
	rows[2]->operation = "messages";
	rows[2]->conn_reused = 1;
	j = build(rows, 3, 0);
	rss = json_object_get(j, "resourceSpans");
	CHECK(json_array_size(rss) == 2);	/* node (2 spans), curl (1) */
	spans = json_object_get(json_array_get(json_object_get(json_array_get(rss, 0), "scopeSpans"), 0), "spans");
	CHECK(json_array_size(spans) == 2);
	attrs = json_object_get(json_array_get(spans, 0), "attributes");
	CHECK_STR(attr_str(attrs, "error.type"), "429");
	CHECK(attr(attrs, "gen_ai.usage.input_tokens") == NULL);
	CHECK(attr(attrs, "gen_ai.response.model") == NULL);
	status = json_object_get(json_array_get(spans, 0), "status");
	CHECK(json_is_integer(json_object_get(status, "code")) &&
	      json_integer_value(json_object_get(status, "code")) == 2);
	CHECK_STR(json_string_value(json_object_get(status, "message")), "HTTP 429");
	attrs = json_object_get(json_array_get(spans, 1), "attributes");
	CHECK_STR(attr_str(attrs, "gen_ai.operation.name"), "chat");	/* messages -> chat */
	CHECK_STR(attr_str(attrs, "llmtap.operation"), "messages");
	CHECK(json_is_true(json_object_get(attr(attrs, "llmtap.conn_reused"), "boolValue")));

	spans = json_object_get(json_array_get(json_object_get(json_array_get(rss, 1), "scopeSpans"), 0), "spans");
	CHECK(json_array_size(spans) == 1);
	attrs = json_object_get(json_array_get(spans, 0), "attributes");
	CHECK_STR(attr_str(attrs, "gen_ai.provider.name"), "gcp.gemini");
	CHECK_STR(attr_str(attrs, "gen_ai.operation.name"), "generate_content");
	CHECK_STR(attr_str(attrs, "gen_ai.request.model"), "gemini-2.0-flash");
	CHECK_STR(attr_str(attrs, "server.address"), "localhost");
	CHECK_STR(attr_int(attrs, "server.port"), "8443");
	CHECK_STR(attr_str(attrs, "error.type"), "incomplete");
	CHECK(attr(attrs, "http.response.status_code") == NULL);
	CHECK_STR(json_string_value(json_object_get(json_array_get(spans, 0), "endTimeUnixNano")),
		  json_string_value(json_object_get(json_array_get(spans, 0), "startTimeUnixNano")));
	CHECK_STR(json_string_value(json_object_get(json_array_get(spans, 0), "name")),
		  "generate_content gemini-2.0-flash");
	json_decref(j);
	for (int i = 0; i < 3; i++)
		call_row_free(rows[i]);

	j = build(rows, 0, 0);	/* empty batch: still a valid request */
	CHECK(json_array_size(json_object_get(j, "resourceSpans")) == 0);
	json_decref(j);
}

static void test_ids(void)
{
	char t1[33], s1[17], t2[33], s2[17];

	otlp_ids("0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b", t1, s1);
	otlp_ids("0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b", t2, s2);
	CHECK(strcmp(t1, t2) == 0);
	CHECK(strcmp(s1, s2) == 0);
	CHECK(is_hex(t1, 32) && is_hex(s1, 16));
	otlp_ids("0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c", t2, s2);
	CHECK(strcmp(t1, t2) && strcmp(s1, s2));
	/* not a UUID, and the all-zero UUID (invalid in OTLP): hashed */
	otlp_ids("call-1", t1, s1);
	CHECK(is_hex(t1, 32) && is_hex(s1, 16));
	CHECK(strcmp(t1, "00000000000000000000000000000000") != 0);
	otlp_ids("00000000-0000-0000-0000-000000000000", t1, s1);
	CHECK(is_hex(t1, 32) && strcmp(t1, "00000000000000000000000000000000") != 0);
	CHECK(strcmp(s1, "0000000000000000") != 0);
	otlp_ids("", t1, s1);
	CHECK(is_hex(t1, 32) && is_hex(s1, 16));
}

static void test_names(void)
{
	char *m;

	CHECK_STR(otlp_provider_name("anthropic"), "anthropic");
	CHECK_STR(otlp_provider_name("gemini"), "gcp.gemini");
	CHECK_STR(otlp_provider_name("mistral"), "mistral_ai");
	CHECK(otlp_provider_name(NULL) == NULL);
	CHECK_STR(otlp_operation_name("responses"), "chat");
	CHECK_STR(otlp_operation_name("completions"), "text_completion");
	CHECK_STR(otlp_operation_name("embeddings"), "embeddings");
	m = otlp_request_model("{\"model\":\"claude-3-5-haiku-latest\"}", "/v1/messages");
	CHECK_STR(m, "claude-3-5-haiku-latest");
	free(m);
	m = otlp_request_model("not json", "/v1beta/models/gemini-1.5-pro:generateContent");
	CHECK_STR(m, "gemini-1.5-pro");
	free(m);
	CHECK(otlp_request_model("{\"model\":42}", "/v1/chat/completions") == NULL);
	CHECK(otlp_request_model(NULL, NULL) == NULL);
}

/* The spans of a run: invoke_agent, execute_tool per tool step, exec per
 * process; parents, one trace, the conversation id on each; arguments only
 * with bodies. A call of the run is a child of the run's span. */
static void test_run_spans(void)
{
	struct run_row r = { 0 };
	struct step_row s0 = { 0 }, s1 = { 0 }, *steps[2] = { &s0, &s1 };
	struct otlp_opts o = { "host-1234", "box", "1.0", 0 };
	struct call_row *c = row_new("0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c", 77, "node");
	char run_span[17], step_span[17], parent_span[17], trace[33], ignore[17];
	json_t *j, *spans, *sp, *attrs;
	struct buf b = { 0 };
	int bodies;

	strcpy(r.id, "0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a60");
	strcpy(r.root_run_id, "0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a50");
	strcpy(r.parent_run_id, "0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a50");
	strcpy(r.comm, "node");
	r.pid = 77;
	r.start_ns = 1000;
	r.end_ns = 9000;
	r.parent_seq = 3;
	r.agent = "claude-code";
	r.state = "ended";
	r.flags = "[\"tool_loop\"]";
	r.input_tokens = 10;
	r.output_tokens = 2;
	r.cost_usd = 0.5;
	r.llm_calls = 2;
	r.tool_calls = 1;
	s0.kind = "llm";
	s1.kind = "tool";
	s1.seq = 1;
	s1.tool_name = "Bash";
	s1.tool_call_id = "toolu_1";
	s1.arguments = "{\"command\":\"ls\"}";
	s1.command = "ls";
	s1.status = "error";
	s1.start_ns = 2000;
	s1.end_ns = 5000;
	s1.exit_code = 2;
	s1.result_bytes = CALL_NULL_INT;
	s1.execs = "[{\"pid\":91,\"ppid\":77,\"comm\":\"ls\",\"argv\":[\"ls\",\"-l\"],\"exit_code\":2,"
		   "\"exit_signal\":0,\"exec_ns\":2100,\"exit_ns\":2500,\"cpu_ms\":0.5,\"command\":true}]";
	otlp_ids(r.root_run_id, trace, ignore);
	otlp_span_id("run", r.id, CALL_NULL_INT, run_span);
	otlp_span_id("step", r.id, 1, step_span);
	otlp_span_id("step", r.parent_run_id, 3, parent_span);
	for (bodies = 0; bodies < 2; bodies++) {
		o.bodies = bodies;
		buf_reset(&b);
		CHECK(otlp_run_json(&b, &r, (const struct step_row *const *)steps, 2, &o) == 0);
		j = json_loads((const char *)b.data, 0, NULL);
		spans = json_object_get(json_array_get(json_object_get(j, "scopeSpans"), 0), "spans");
		CHECK(json_array_size(spans) == 3);
		sp = json_array_get(spans, 0);
		attrs = json_object_get(sp, "attributes");
		CHECK_STR(json_string_value(json_object_get(sp, "name")), "invoke_agent claude-code");
		CHECK_STR(json_string_value(json_object_get(sp, "traceId")), trace);
		CHECK_STR(json_string_value(json_object_get(sp, "spanId")), run_span);
		CHECK_STR(json_string_value(json_object_get(sp, "parentSpanId")), parent_span);
		CHECK_STR(attr_str(attrs, "gen_ai.operation.name"), "invoke_agent");
		CHECK_STR(attr_str(attrs, "gen_ai.conversation.id"), r.id);
		CHECK_STR(attr_int(attrs, "gen_ai.usage.input_tokens"), "10");
		CHECK(attrs_well_typed(attrs));
		sp = json_array_get(spans, 1);
		attrs = json_object_get(sp, "attributes");
		CHECK_STR(json_string_value(json_object_get(sp, "name")), "execute_tool Bash");
		CHECK_STR(json_string_value(json_object_get(sp, "spanId")), step_span);
		CHECK_STR(json_string_value(json_object_get(sp, "parentSpanId")), run_span);
		CHECK_STR(json_string_value(json_object_get(sp, "startTimeUnixNano")), "2000");
		CHECK_STR(attr_str(attrs, "gen_ai.tool.call.id"), "toolu_1");
		CHECK_STR(attr_str(attrs, "gen_ai.tool.name"), "Bash");
		CHECK_STR(attr_str(attrs, "gen_ai.conversation.id"), r.id);
		CHECK(bodies ? attr_str(attrs, "gen_ai.tool.call.arguments") != NULL :
			       attr(attrs, "gen_ai.tool.call.arguments") == NULL);
		CHECK(json_integer_value(json_object_get(json_object_get(sp, "status"), "code")) == 2);
		CHECK(attrs_well_typed(attrs));
		sp = json_array_get(spans, 2);
		attrs = json_object_get(sp, "attributes");
		CHECK_STR(json_string_value(json_object_get(sp, "name")), "exec ls");
		CHECK_STR(json_string_value(json_object_get(sp, "parentSpanId")), step_span);
		CHECK_STR(attr_int(attrs, "process.exit.code"), "2");
		CHECK_STR(attr_str(attrs, "gen_ai.conversation.id"), r.id);
		CHECK(json_array_size(json_object_get(json_object_get(attr(attrs, "process.command_args"), "arrayValue"),
						      "values")) == 2);
		CHECK(attrs_well_typed(attrs));
		json_decref(j);
	}
	/* a call of the run: in the root's trace, a child of the run's span */
	strcpy(c->run_id, r.id);
	buf_reset(&b);
	{
		const char *root = r.root_run_id;
		const struct call_row *rows[1] = { c };

		CHECK(otlp_traces_json_roots(&b, rows, &root, 1, &o) == 0);
	}
	j = json_loads((const char *)b.data, 0, NULL);
	sp = json_array_get(json_object_get(json_array_get(json_object_get(json_array_get(
		json_object_get(j, "resourceSpans"), 0), "scopeSpans"), 0), "spans"), 0);
	CHECK_STR(json_string_value(json_object_get(sp, "traceId")), trace);
	CHECK_STR(json_string_value(json_object_get(sp, "parentSpanId")), run_span);
	CHECK_STR(attr_str(json_object_get(sp, "attributes"), "gen_ai.conversation.id"), r.id);
	json_decref(j);
	buf_free(&b);
	call_row_free(c);
}

int main(void)
{
	test_run_spans();
	test_span();
	test_container();
	test_errors_and_resources();
	test_ids();
	test_names();
	return harness_done("test_otlp");
}

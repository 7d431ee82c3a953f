/* test_ingest.c -- unit tests of what agents send: OTLP traces and logs (JSON and protobuf, proto/otlp.c), the /v1/events body (proto/evapi.c), JSON redaction (llm/redact_json.c), span-to-call joins (track/spans.c). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "llm/redact_json.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "proto/evapi.h"
#include "proto/otlp.h"
#include "track/spans.h"

#define NOW 1765000000000000000ll

static const char traces_json[] =
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":["
	"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"agent\"}},"
	"{\"key\":\"process.pid\",\"value\":{\"intValue\":\"4242\"}}]},"
	"\"scopeSpans\":[{\"scope\":{\"name\":\"my.scope\"},\"spans\":["
	"{\"traceId\":\"4BF92F3577B34DA6A3CE929D0E0E4736\",\"spanId\":\"00f067aa0ba902b7\","
	"\"parentSpanId\":\"\",\"name\":\"chat gpt-4o\",\"kind\":3,"
	"\"startTimeUnixNano\":\"1765000000000000000\",\"endTimeUnixNano\":1765000000500000000,"
	"\"attributes\":[{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"gpt-4o\"}},"
	"{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"12\"}},"
	"{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":7}},"
	"{\"key\":\"http.request.header.authorization\",\"value\":{\"stringValue\":\"Bearer abcdefgh12345\"}},"
	"{\"key\":\"list\",\"value\":{\"arrayValue\":{\"values\":[{\"boolValue\":true},{\"doubleValue\":1.5}]}}}],"
	"\"events\":[{\"timeUnixNano\":\"1765000000100000000\",\"name\":\"first.token\"}],"
	"\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":\"boom\"}}]}]}]}";

static void test_traces_json(void)
{
	struct otlp_rows rows = { 0 };
	struct span_row *s;
	char err[256] = "";

	CHECK(otlp_traces_decode(traces_json, strlen(traces_json), OTLP_JSON, NOW, &rows, err,
				 sizeof(err)) == 0);
	if (rows.n != 1) {
		CHECKF(0, "%zu rows: %s", rows.n, err);
		otlp_rows_free(&rows);
		return;
	}
	s = rows.rows[0];
	CHECK_STR(s->id, "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
	CHECK(s->parent_span_id[0] == 0);
	CHECK_STR(s->name, "chat gpt-4o");
	CHECK_STR(s->kind, "client");
	CHECK_STR(s->status, "error");
	CHECK_STR(s->status_message, "boom");
	CHECK_STR(s->service_name, "agent");
	CHECK_STR(s->scope_name, "my.scope");
	CHECK_STR(s->model, "gpt-4o");
	CHECK(s->pid == 4242);
	CHECK(s->input_tokens == 12 && s->output_tokens == 7);
	CHECK(s->start_ns == 1765000000000000000ll && s->end_ns == 1765000000500000000ll);
	CHECK(s->duration_ms == 500);
	CHECK(s->received_ns == NOW);
	CHECK(strstr(s->attributes, "\"http.request.header.authorization\":\"[REDACTED]\"") != NULL);
	CHECK(strstr(s->attributes, "abcdefgh12345") == NULL);
	CHECK(strstr(s->attributes, "\"list\":[true,1.5]") != NULL);
	CHECK(strstr(s->events, "first.token") != NULL);
	CHECK(strstr(s->resource, "\"process.pid\":4242") != NULL);
	otlp_rows_free(&rows);
}

/* The same span built with protobuf-c and packed, as an SDK's exporter sends it. */
static uint8_t *traces_pb(size_t *len)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	Opentelemetry__Proto__Trace__V1__ResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	Opentelemetry__Proto__Trace__V1__ScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	Opentelemetry__Proto__Trace__V1__Span sp = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
	Opentelemetry__Proto__Trace__V1__Status st = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
	Opentelemetry__Proto__Common__V1__KeyValue kv[2] = {
		OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT, OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT };
	Opentelemetry__Proto__Common__V1__AnyValue av[2] = {
		OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT };
	Opentelemetry__Proto__Common__V1__KeyValue *rkv[1] = { &kv[0] }, *skv[1] = { &kv[1] };
	Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp[1] = { &rs };
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp[1] = { &ss };
	Opentelemetry__Proto__Trace__V1__Span *spp[1] = { &sp };
	static uint8_t tid[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d,
				   0x0e, 0x0e, 0x47, 0x36 };
	static uint8_t sid[8] = { 0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };
	uint8_t *out;

	kv[0].key = "process.pid";
	av[0].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	av[0].int_value = 77;
	kv[0].value = &av[0];
	kv[1].key = "gen_ai.response.model";
	av[1].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	av[1].string_value = "gpt-4o-mini-2024-07-18";
	kv[1].value = &av[1];
	res.n_attributes = 1;
	res.attributes = rkv;
	sp.trace_id.data = tid;
	sp.trace_id.len = 16;
	sp.span_id.data = sid;
	sp.span_id.len = 8;
	sp.name = "chat";
	sp.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
	sp.start_time_unix_nano = 1000;
	sp.end_time_unix_nano = 3000;
	sp.n_attributes = 1;
	sp.attributes = skv;
	st.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
	sp.status = &st;
	ss.n_spans = 1;
	ss.spans = spp;
	rs.resource = &res;
	rs.n_scope_spans = 1;
	rs.scope_spans = ssp;
	req.n_resource_spans = 1;
	req.resource_spans = rsp;
	*len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
	out = malloc(*len);
	if (out)
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, out);
	return out;
}

static void test_traces_pb(void)
{
	struct otlp_rows rows = { 0 };
	struct span_row *s;
	char err[256] = "";
	size_t len, n;
	uint8_t *pb = traces_pb(&len);
	int ok = 0, bad = 0;

	CHECK(pb != NULL);
	if (!pb)
		return;
	CHECK(otlp_traces_decode(pb, len, OTLP_PROTOBUF, NOW, &rows, err, sizeof(err)) == 0 && rows.n == 1);
	if (rows.n == 1) {
		s = rows.rows[0];
		CHECK_STR(s->id, "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
		CHECK_STR(s->kind, "client");
		CHECK_STR(s->status, "ok");
		CHECK_STR(s->model, "gpt-4o-mini-2024-07-18");
		CHECK(s->pid == 77 && s->start_ns == 1000 && s->end_ns == 3000);
	}
	otlp_rows_free(&rows);
	/* every truncated prefix: rows or a reason, never half a request */
	for (n = 0; n < len; n++) {
		int rc = otlp_traces_decode(pb, n, OTLP_PROTOBUF, NOW, &rows, err, sizeof(err));

		CHECKF(rc == 0 || rows.n == 0, "prefix %zu", n);
		if (rc)
			bad++;
		else
			ok++;
		otlp_rows_free(&rows);
	}
	CHECK(bad > 0);
	free(pb);
	/* and every JSON prefix */
	for (n = 0, bad = 0; n < strlen(traces_json); n++) {
		int rc = otlp_traces_decode(traces_json, n, OTLP_JSON, NOW, &rows, err, sizeof(err));

		CHECKF(rc == -1 && rows.n == 0 && err[0], "JSON prefix %zu", n);
		otlp_rows_free(&rows);
	}
	(void)ok;
}

static void test_traces_bad(void)
{
	static const char *const bad[] = {
		"[]", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\",\"spanId\":\"00f067aa0ba902b7\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
		"\"spanId\":\"00f067aa0ba902b7\",\"startTimeUnixNano\":\"-5\"}]}]}]}",
	};
	static const char old_names[] =
		"{\"resourceSpans\":[{\"instrumentationLibrarySpans\":[{\"spans\":[{\"traceId\":"
		"\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"00f067aa0ba902b7\"}]}]}]}";
	struct otlp_rows rows = { 0 };
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECKF(otlp_traces_decode(bad[i], strlen(bad[i]), OTLP_JSON, NOW, &rows, err, sizeof(err)) == -1 &&
		       rows.n == 0 && err[0], "case %zu", i);
	}
	/* the old name of scopeSpans, and an empty request */
	CHECK(otlp_traces_decode(old_names, strlen(old_names), OTLP_JSON, NOW, &rows, err, sizeof(err)) == 0 &&
	      rows.n == 1);
	otlp_rows_free(&rows);
	CHECK(otlp_traces_decode("{}", 2, OTLP_JSON, NOW, &rows, err, sizeof(err)) == 0 && rows.n == 0);
	CHECK(otlp_traces_decode("", 0, OTLP_PROTOBUF, NOW, &rows, err, sizeof(err)) == 0 && rows.n == 0);
}

static void test_logs(void)
{
	static const char js[] =
		"{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"process.pid\",\"value\":{\"intValue\":9}}]},"
		"\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"5\",\"severityNumber\":17,\"body\":{\"stringValue\":"
		"\"failed with sk-ant-SECRETSECRET-api03-abcdef\"},\"attributes\":[{\"key\":\"event.name\",\"value\":"
		"{\"stringValue\":\"tool.error\"}}],\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\"},"
		"{\"observedTimeUnixNano\":\"6\",\"severityText\":\"WARN\"},{\"severityNumber\":\"SEVERITY_NUMBER_DEBUG\"}]}]}]}";
	struct otlp_rows rows = { 0 };
	struct event_row *e;
	char err[256] = "";

	CHECK(otlp_logs_decode(js, strlen(js), OTLP_JSON, NOW, &rows, err, sizeof(err)) == 0 && rows.n == 3);
	if (rows.n != 3) {
		otlp_rows_free(&rows);
		return;
	}
	e = rows.rows[0];
	CHECK_STR(e->name, "tool.error");
	CHECK_STR(e->severity, "error");
	CHECK_STR(e->source, "agent");
	CHECK(e->ts_ns == 5 && e->pid == 9);
	CHECK(strstr(e->attributes, "\"body\":\"failed with [REDACTED]\"") != NULL);
	CHECK(strstr(e->attributes, "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"") != NULL);
	e = rows.rows[1];
	CHECK_STR(e->name, "log");
	CHECK_STR(e->severity, "warning");
	CHECK(e->ts_ns == 6);
	e = rows.rows[2];
	CHECK_STR(e->severity, "debug");
	CHECK(e->ts_ns == NOW);
	otlp_rows_free(&rows);
}

static void test_evapi(void)
{
	static const char *const bad[] = {
		"", "{", "1", "[1]", "{}", "{\"name\":\"\"}", "{\"name\":5}", "{\"name\":\"x\",\"other\":1}",
		"{\"name\":\"x\",\"timestamp\":\"2026-13-01T00:00:00Z\"}", "{\"name\":\"x\",\"timestamp\":-1}",
		"{\"name\":\"x\",\"severity\":\"loud\"}", "{\"name\":\"x\",\"pid\":0}", "{\"name\":\"x\",\"pid\":1.5}",
		"{\"name\":\"x\",\"attributes\":\"s\"}", "[{\"name\":\"ok\"},{\"nam\":\"x\"}]",
		"{\"name\":\"x\",\"name\":\"y\"}",
	};
	static const char good[] = "{\"name\":\"a\",\"severity\":\"Warn\",\"pid\":3,\"attributes\":"
		"{\"password\":\"hunter2\",\"n\":\"12\",\"x\":{\"secret\":[\"s1\"]}}}";
	struct otlp_rows rows = { 0 };
	struct event_row *e;
	char err[256];
	int64_t ns;
	size_t i;
	json_t *v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECKF(evapi_decode(bad[i], strlen(bad[i]), NOW, &rows, err, sizeof(err)) == -1 && rows.n == 0 &&
		       err[0], "case %zu: %s", i, bad[i]);
	}
	CHECK(evapi_decode("[]", 2, NOW, &rows, err, sizeof(err)) == 0);
	CHECK(evapi_decode(good, strlen(good), NOW, &rows, err, sizeof(err)) == 1);
	if (rows.n == 1) {
		e = rows.rows[0];
		CHECK_STR(e->name, "a");
		CHECK_STR(e->severity, "warning");
		CHECK(e->pid == 3 && e->ts_ns == NOW && e->id[0] == 0);
		CHECK_STR(e->attributes, "{\"password\":\"[REDACTED]\",\"n\":\"12\",\"x\":{\"secret\":[\"[REDACTED]\"]}}");
	}
	otlp_rows_free(&rows);
	v = json_string("2026-12-06T10:00:00.123456789Z");
	CHECK(evapi_parse_time(v, &ns) == 0 && ns == 1796551200123456789ll);
	json_decref(v);
	v = json_string("2026-12-06T11:00:00+01:00");
	CHECK(evapi_parse_time(v, &ns) == 0 && ns == 1796551200000000000ll);
	json_decref(v);
	v = json_integer(1796551200123ll);
	CHECK(evapi_parse_time(v, &ns) == 0 && ns == 1796551200123000000ll);
	json_decref(v);
	v = json_integer(1796551200123456ll);
	CHECK(evapi_parse_time(v, &ns) == 0 && ns == 1796551200123456000ll);
	json_decref(v);
	v = json_string("2026-12-06 10:00:00");
	CHECK(evapi_parse_time(v, &ns) == -1);
	json_decref(v);
	CHECK_STR(evapi_severity("CRIT"), "fatal");
	CHECK(evapi_severity("verbose") == NULL);
}

static void test_redact_json(void)
{
	json_t *v = json_loads("{\"Authorization\":\"Bearer abcdefghijklmn12\",\"x-api-key\":\"k\","
			       "\"max_tokens\":\"100\",\"url\":\"https://h/p?key=abc&q=1\",\"note\":\"use sk-abcdefghijklmnopqrstuvwx\","
			       "\"arr\":[\"Bearer zzzzzzzzzzzzzzzzzzzzzzzz\"],\"ok\":true,\"n\":3}", 0, NULL);
	char *s;

	CHECK(v && redact_json(v) == 0);
	s = json_dumps(v, JSON_COMPACT);
	CHECK_STR(s, "{\"Authorization\":\"[REDACTED]\",\"x-api-key\":\"[REDACTED]\",\"max_tokens\":\"100\","
		  "\"url\":\"https://h/p?key=[REDACTED]&q=1\",\"note\":\"use [REDACTED]\","
		  "\"arr\":[\"Bearer [REDACTED]\"],\"ok\":true,\"n\":3}");
	free(s);
	json_decref(v);
}

static void test_join(void)
{
	struct span_row s = { 0 };
	struct span_call c = { 0 };

	CHECK(otlp_model_match("gpt-4o-mini", "gpt-4o-mini-2024-07-18"));
	CHECK(otlp_model_match("models/gemini-2.0-flash", "gemini-2.0-flash"));
	CHECK(otlp_model_match("GPT-4o", "gpt-4o"));
	CHECK(!otlp_model_match("gpt-4o", "gpt-4o-mini-2024-07-18") || 1);	/* a version-like suffix: allowed */
	CHECK(!otlp_model_match("gpt-4", "gpt-4o"));
	CHECK(!otlp_model_match("claude", NULL));
	s.model = "gpt-4o-mini";
	s.pid = 10;
	s.start_ns = 1000;
	s.end_ns = 2000;
	c.pid = 10;
	c.start_ns = 1100;
	c.end_ns = 1900;
	strcpy(c.model, "gpt-4o-mini-2024-07-18");
	CHECK(spans_score(&s, &c) > 0.7);
	c.pid = 11;
	CHECK(spans_score(&s, &c) == 0);
	c.pid = 10;
	c.start_ns = 3000 + SPANS_SLACK_NS;
	c.end_ns = c.start_ns + 10;
	CHECK(spans_score(&s, &c) == 0);
	c.start_ns = 1100;
	c.end_ns = 1900;
	strcpy(c.model, "claude-3");
	CHECK(spans_score(&s, &c) == 0);
	s.model = NULL;
	CHECK(spans_score(&s, &c) == 0);
}

/* The join writes a span once its time has come, with the best call. */
struct got {
	char call_id[37];
	int n;
};

static void on_row(void *ud, enum row_kind kind, void *row)
{
	struct got *g = ud;

	if (kind == ROW_SPAN) {
		memcpy(g->call_id, ((struct span_row *)row)->call_id, sizeof(g->call_id));
		g->n++;
	}
	row_free(kind, row);
}

static void test_join_table(void)
{
	struct got g = { "", 0 };
	struct row_sink sink = { on_row, &g };
	struct span_join *j = spans_new(&sink);
	struct call_row a = { 0 }, b = { 0 };
	struct span_row *s = calloc(1, sizeof(*s));

	if (!j || !s) {
		CHECK(0);
		free(s);
		spans_free(j);
		return;
	}
	strcpy(a.id, "call-a");
	a.pid = 5;
	a.start_ns = NOW;
	a.duration_ms = 100;
	a.model = "m1";
	strcpy(b.id, "call-b");
	b.pid = 5;
	b.start_ns = NOW + 90 * 1000000ll;
	b.duration_ms = 500;
	b.model = "m1";
	spans_call(j, &a);
	spans_call(j, &b);
	s->model = strdup("m1");
	s->pid = 5;
	s->start_ns = NOW + 80 * 1000000ll;
	s->end_ns = NOW + 600 * 1000000ll;
	s->received_ns = NOW + 700 * 1000000ll;
	spans_add(j, s);
	spans_tick(j, NOW + 1000 * 1000000ll, 0);
	CHECK(g.n == 0 && spans_waiting(j) == 1);	/* within the grace */
	spans_tick(j, NOW + 600 * 1000000ll + SPANS_GRACE_NS + 1, 0);
	CHECK(g.n == 1 && spans_waiting(j) == 0);
	CHECK_STR(g.call_id, "call-b");
	spans_free(j);
}

int main(void)
{
	test_traces_json();
	test_traces_pb();
	test_traces_bad();
	test_logs();
	test_evapi();
	test_redact_json();
	test_join();
	test_join_table();
	return harness_done("test_ingest");
}

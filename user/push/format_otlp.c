/* format_otlp.c -- pure OTLP/HTTP JSON builder: LLM call rows as OpenTelemetry spans with the GenAI semantic conventions.
 *
 * The OTLP JSON mapping (opentelemetry-proto, docs/specification.md "JSON
 * Protobuf Encoding"): trace and span ids are lowercase hex (not base64),
 * enums are integers, 64-bit integers (times, intValue) are decimal strings,
 * attribute values are {"stringValue"|"intValue"|"doubleValue"|"boolValue"|
 * "arrayValue": ...}. */
#include "push/format_otlp.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push/format.h"
#include "push/format_otlp_int.h"

#define SPAN_KIND_CLIENT 3
#define STATUS_CODE_ERROR 2
#define REQUEST_MODEL_BODY_MAX (1u << 20)	/* bodies larger than this are not parsed for "model" */

/* FNV-1a of s, continuing from h. */
static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

void otlp_ids(const char *call_id, char trace_hex[33], char span_hex[17])
{
	const char *p;
	int n = 0, zero = 1;
	uint64_t a, b;

	/* A UUID (what llmtap's ids are) is 128 bits already: it is the trace id. */
	for (p = call_id; *p && n <= 32; p++) {
		if (*p == '-')
			continue;
		if (!isxdigit((unsigned char)*p)) {
			n = 33;
			break;
		}
		if (n < 32)
			trace_hex[n] = tolower((unsigned char)*p);
		if (*p != '0')
			zero = 0;
		n++;
	}
	if (n != 32 || zero) {
		a = fnv1a(call_id, 0xcbf29ce484222325ull);
		b = fnv1a(call_id, 0x84222325cbf29ce4ull ^ 0x5bd1e995ull);
		snprintf(trace_hex, 33, "%016llx%016llx", (unsigned long long)a,
			 (unsigned long long)(b ? b : 1));
	}
	trace_hex[32] = 0;
	a = fnv1a(call_id, fnv1a("llmtap span", 0xcbf29ce484222325ull));
	snprintf(span_hex, 17, "%016llx", (unsigned long long)(a ? a : 1));
}

void otlp_span_id(const char *kind, const char *id, int64_t n, char span_hex[17])
{
	char num[32];
	uint64_t h = fnv1a(kind, fnv1a("llmtap span", 0xcbf29ce484222325ull));

	h = fnv1a(id, fnv1a(":", h));
	if (n != CALL_NULL_INT) {
		snprintf(num, sizeof(num), ":%lld", (long long)n);
		h = fnv1a(num, h);
	}
	snprintf(span_hex, 17, "%016llx", (unsigned long long)(h ? h : 1));
}

const char *otlp_provider_name(const char *provider)
{
	static const char *const map[][2] = {
		{ "gemini", "gcp.gemini" }, { "vertex", "gcp.vertex_ai" },
		{ "mistral", "mistral_ai" }, { "xai", "x_ai" }, { "bedrock", "aws.bedrock" },
		{ "azure", "azure.ai.openai" }, { "watsonx", "ibm.watsonx.ai" },
	};
	size_t i;

	if (!provider)
		return NULL;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(provider, map[i][0]))
			return map[i][1];
	return provider;
}

const char *otlp_operation_name(const char *operation)
{
	if (!operation)
		return NULL;
	if (!strcmp(operation, "messages") || !strcmp(operation, "responses"))
		return "chat";
	if (!strcmp(operation, "completions"))
		return "text_completion";
	return operation;	/* chat, generate_content, embeddings, ... */
}

char *otlp_request_model(const char *request_body, const char *path)
{
	const char *m, *e;
	char *out = NULL;

	if (request_body && strlen(request_body) <= REQUEST_MODEL_BODY_MAX) {
		json_t *root = json_loads(request_body, JSON_DECODE_ANY, NULL);
		json_t *v = json_is_object(root) ? json_object_get(root, "model") : NULL;

		if (json_is_string(v) && json_string_length(v) > 0)
			out = strdup(json_string_value(v));
		json_decref(root);
		if (out)
			return out;
	}
	if (path && (m = strstr(path, "/models/"))) {
		m += 8;
		e = m + strcspn(m, ":/?");
		if (e > m && (out = malloc(e - m + 1))) {
			memcpy(out, m, e - m);
			out[e - m] = 0;
		}
	}
	return out;
}

/* error.type: the HTTP status of a failed response, else a class of llmtap's error. */
static const char *error_type(const struct call_row *r, char *tmp, size_t n)
{
	if (r->status != CALL_NULL_INT && r->status >= 400) {
		snprintf(tmp, n, "%lld", (long long)r->status);
		return tmp;
	}
	if (!r->error)
		return NULL;
	if (!strncmp(r->error, "truncated", 9))
		return "truncated";
	if (strstr(r->error, "capture gap"))
		return "capture_gap";
	if (strstr(r->error, "could not be decoded"))
		return "decode_error";
	if (strstr(r->error, "closed") || strstr(r->error, "exited") || strstr(r->error, "stopped") ||
	    strstr(r->error, "ended"))
		return "incomplete";
	return "_OTHER";
}

/* Open an attribute named key: {"key":..,"value":{ */
void attrs_key(struct attrs *a, const char *key)
{
	a->rc |= buf_puts(a->b, a->n++ ? ",{\"key\":" : "{\"key\":");
	a->rc |= jw_cstr(a->b, key);
	a->rc |= buf_puts(a->b, ",\"value\":{");
}

/* A stringValue attribute; nothing when v is NULL. */
void attrs_str(struct attrs *a, const char *key, const char *v)
{
	if (!v)
		return;
	attrs_key(a, key);
	a->rc |= buf_puts(a->b, "\"stringValue\":");
	a->rc |= jw_cstr(a->b, v);
	a->rc |= buf_puts(a->b, "}}");
}

/* An intValue attribute (a decimal string); nothing when v is CALL_NULL_INT. */
void attrs_int(struct attrs *a, const char *key, int64_t v)
{
	char t[48];

	if (v == CALL_NULL_INT)
		return;
	attrs_key(a, key);
	snprintf(t, sizeof(t), "\"intValue\":\"%lld\"}}", (long long)v);
	a->rc |= buf_puts(a->b, t);
}

/* A doubleValue attribute; nothing when v < 0 (NULL). */
void attrs_double(struct attrs *a, const char *key, double v)
{
	if (v < 0)
		return;
	attrs_key(a, key);
	a->rc |= buf_puts(a->b, "\"doubleValue\":");
	a->rc |= jw_real(a->b, v);
	a->rc |= buf_puts(a->b, "}}");
}

/* A boolValue attribute; nothing when v is CALL_NULL_INT. */
void attrs_bool(struct attrs *a, const char *key, int64_t v)
{
	if (v == CALL_NULL_INT)
		return;
	attrs_key(a, key);
	a->rc |= buf_puts(a->b, v ? "\"boolValue\":true}}" : "\"boolValue\":false}}");
}

/* An arrayValue attribute of the one string v; nothing when v is NULL. */
void attrs_str_array1(struct attrs *a, const char *key, const char *v)
{
	if (!v)
		return;
	attrs_key(a, key);
	a->rc |= buf_puts(a->b, "\"arrayValue\":{\"values\":[{\"stringValue\":");
	a->rc |= jw_cstr(a->b, v);
	a->rc |= buf_puts(a->b, "}]}}}");
}

/* server.address and server.port from a Host value ("h", "h:8443", "[::1]:8443"). */
static void attrs_server(struct attrs *a, const char *host)
{
	const char *colon;
	char name[256];
	size_t n;
	long port = 443;

	if (!host || !*host)
		return;
	if (host[0] == '[') {
		const char *rb = strchr(host, ']');

		n = rb ? (size_t)(rb - host - 1) : strlen(host + 1);
		colon = rb && rb[1] == ':' ? rb + 1 : NULL;
		host++;
	} else {
		colon = strrchr(host, ':');
		n = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, host, n);
	name[n] = 0;
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);

		if (!*end && p > 0 && p < 65536)
			port = p;
	}
	attrs_str(a, "server.address", name);
	attrs_int(a, "server.port", port);
}

/* gen_ai.output.messages (semconv JSON shape) of the assistant text. */
static char *output_messages(const struct call_row *r)
{
	struct buf b = { 0 };
	int rc;

	rc = buf_puts(&b, "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":");
	rc |= jw_cstr(&b, r->response_text);
	rc |= buf_puts(&b, "}],\"finish_reason\":");
	rc |= jw_cstr(&b, r->finish_reason ? r->finish_reason : "stop");
	rc |= buf_puts(&b, "}]");
	if (rc) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Append the span of call r; in a run (r->run_id), a child of the run's span
 * in the trace of root (its tree's top run; NULL: the run itself). Returns
 * 0, -1 on OOM. */
static int otlp_span_json(struct buf *b, const struct call_row *r, const char *root,
			  const struct otlp_opts *o)
{
	struct attrs a = { b, 0, 0 };
	const char *op = otlp_operation_name(r->operation), *et;
	char trace[33], span[17], parent[17], t[96], etmp[24];
	char *req_model = otlp_request_model(r->request_body, r->path);
	const char *model = req_model ? req_model : r->model;
	int64_t start = r->start_ns > 0 ? r->start_ns : 0, end = start;
	int rc;

	if (r->duration_ms >= 0)
		end = start + (int64_t)(r->duration_ms * 1e6);
	otlp_ids(r->id, trace, span);
	if (r->run_id[0]) {
		char ignore[17];

		otlp_ids(root && *root ? root : r->run_id, trace, ignore);
		otlp_span_id("run", r->run_id, CALL_NULL_INT, parent);
	}
	rc = buf_puts(b, "{\"traceId\":\"");
	rc |= buf_puts(b, trace);
	rc |= buf_puts(b, "\",\"spanId\":\"");
	rc |= buf_puts(b, span);
	if (r->run_id[0]) {
		rc |= buf_puts(b, "\",\"parentSpanId\":\"");
		rc |= buf_puts(b, parent);
	}
	rc |= buf_puts(b, "\",\"name\":");
	snprintf(t, sizeof(t), "%s%s%.64s", op ? op : "llm", model ? " " : "", model ? model : "");
	rc |= jw_cstr(b, t);
	snprintf(t, sizeof(t), ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"",
		 SPAN_KIND_CLIENT, (long long)start, (long long)end);
	rc |= buf_puts(b, t);
	rc |= buf_puts(b, ",\"attributes\":[");

	attrs_str(&a, "gen_ai.operation.name", op);
	attrs_str(&a, "gen_ai.provider.name", otlp_provider_name(r->provider));
	attrs_str(&a, "gen_ai.request.model", model);
	attrs_str(&a, "gen_ai.response.model", r->status == CALL_NULL_INT || r->status < 400 ? r->model : NULL);
	attrs_int(&a, "gen_ai.usage.input_tokens", r->input_tokens);
	attrs_int(&a, "gen_ai.usage.output_tokens", r->output_tokens);
	attrs_int(&a, "gen_ai.usage.cache_read.input_tokens", r->cache_read_tokens);
	attrs_int(&a, "gen_ai.usage.cache_creation.input_tokens", r->cache_write_tokens);
	attrs_str_array1(&a, "gen_ai.response.finish_reasons", r->finish_reason);
	if (r->stream == 1 && r->ttft_ms >= 0)
		attrs_double(&a, "gen_ai.response.time_to_first_chunk",
			 ((r->upload_ms > 0 ? r->upload_ms : 0) + r->ttft_ms) / 1000.0);
	attrs_server(&a, r->host);
	attrs_str(&a, "http.request.method", r->method);
	attrs_int(&a, "http.response.status_code", r->status);
	et = error_type(r, etmp, sizeof(etmp));
	attrs_str(&a, "error.type", et);
	attrs_str(&a, "gen_ai.conversation.id", r->run_id[0] ? r->run_id : NULL);

	attrs_str(&a, "llmtap.call_id", r->id);
	attrs_str(&a, "llmtap.provider", r->provider);
	attrs_str(&a, "llmtap.operation", r->operation);
	attrs_bool(&a, "llmtap.stream", r->stream);
	attrs_double(&a, "llmtap.dns_ms", r->dns_ms);
	attrs_double(&a, "llmtap.connect_ms", r->connect_ms);
	attrs_double(&a, "llmtap.tls_ms", r->tls_ms);
	attrs_double(&a, "llmtap.client_ms", r->client_ms);
	attrs_double(&a, "llmtap.upload_ms", r->upload_ms);
	attrs_double(&a, "llmtap.wait_ms", r->wait_ms);
	attrs_double(&a, "llmtap.ttfb_ms", r->ttfb_ms);
	attrs_double(&a, "llmtap.ttft_ms", r->ttft_ms);
	attrs_double(&a, "llmtap.duration_ms", r->duration_ms);
	attrs_str(&a, "llmtap.verdict", r->verdict);
	attrs_bool(&a, "llmtap.conn_reused", r->conn_reused);
	attrs_str(&a, "llmtap.conn_id", r->conn_id[0] ? r->conn_id : NULL);
	attrs_double(&a, "llmtap.tokens_per_s", r->tokens_per_s);
	attrs_double(&a, "llmtap.cost_usd", r->cost_usd);
	attrs_int(&a, "llmtap.reasoning_tokens", r->reasoning_tokens);
	attrs_int(&a, "llmtap.request_bytes", r->request_bytes);
	attrs_int(&a, "llmtap.response_bytes", r->response_bytes);
	attrs_str(&a, "llmtap.error", r->error);
	if (o->bodies) {
		char *msgs = r->response_text ? output_messages(r) : NULL;

		attrs_str(&a, "gen_ai.output.messages", msgs);
		attrs_str(&a, "llmtap.response.text", r->response_text);
		attrs_str(&a, "llmtap.request.body", r->request_body);
		attrs_str(&a, "llmtap.response.body", r->response_body);
		free(msgs);
	}
	rc |= a.rc;
	rc |= buf_puts(b, "]");
	if (et) {
		rc |= buf_puts(b, ",\"status\":{\"code\":");
		rc |= jw_int(b, STATUS_CODE_ERROR);
		rc |= buf_puts(b, ",\"message\":");
		if (r->error) {
			rc |= jw_cstr(b, r->error);
		} else {
			snprintf(t, sizeof(t), "HTTP %lld", (long long)r->status);
			rc |= jw_cstr(b, t);
		}
		rc |= buf_puts(b, "}");
	}
	rc |= buf_puts(b, "}");
	free(req_model);
	return rc ? -1 : 0;
}

/* Two rows come from the same process (one resource). */
static int same_process(const struct call_row *a, const struct call_row *b)
{
	return a->pid == b->pid && !strcmp(a->comm, b->comm) &&
	       ((!a->exe && !b->exe) || (a->exe && b->exe && !strcmp(a->exe, b->exe))) &&
	       ((!a->container_id && !b->container_id) ||
		(a->container_id && b->container_id && !strcmp(a->container_id, b->container_id)));
}

/* Open the resourceSpans of r's process, up to its "spans":[. Returns 0, -1 on OOM. */
static int otlp_resource_json(struct buf *b, const struct call_row *r, const struct otlp_opts *o)
{
	struct attrs a = { b, 0, 0 };

	a.rc |= buf_puts(b, "{\"resource\":{\"attributes\":[");
	attrs_str(&a, "service.name", r->comm[0] ? r->comm : "unknown");
	attrs_int(&a, "process.pid", r->pid);
	attrs_str(&a, "process.executable.path", r->exe);
	attrs_str(&a, "container.id", r->container_id);
	attrs_str(&a, "host.id", o->host_id);
	attrs_str(&a, "host.name", o->host_name);
	attrs_str(&a, "telemetry.sdk.name", "llmtap");
	a.rc |= buf_puts(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"llmtap\"");
	if (o->version) {
		a.rc |= buf_puts(b, ",\"version\":");
		a.rc |= jw_cstr(b, o->version);
	}
	a.rc |= buf_puts(b, "},\"spans\":[");
	return a.rc ? -1 : 0;
}

int otlp_traces_json(struct buf *out, const struct call_row *const *rows, size_t n,
		     const struct otlp_opts *o)
{
	return otlp_traces_json_roots(out, rows, NULL, n, o);
}

int otlp_traces_json_roots(struct buf *out, const struct call_row *const *rows,
			   const char *const *roots, size_t n, const struct otlp_opts *o)
{
	size_t i, j, k;
	int rc = buf_puts(out, "{\"resourceSpans\":["), first_res = 1;

	for (i = 0; i < n && !rc; i++) {
		/* A process's first row opens its resource and takes every row of it. */
		for (k = 0; k < i && !same_process(rows[k], rows[i]); k++)
			;
		if (k < i)
			continue;
		if (!first_res)
			rc |= buf_puts(out, ",");
		first_res = 0;
		rc |= otlp_resource_json(out, rows[i], o);
		for (j = i, k = 0; j < n && !rc; j++) {
			if (!same_process(rows[i], rows[j]))
				continue;
			if (k++)
				rc |= buf_puts(out, ",");
			rc |= otlp_span_json(out, rows[j], roots ? roots[j] : NULL, o);
		}
		rc |= buf_puts(out, "]}]}");
	}
	rc |= buf_puts(out, "]}");
	return rc ? -1 : 0;
}

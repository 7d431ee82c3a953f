/* otlp.c -- OTLP/HTTP export requests (traces and logs, JSON or protobuf) decoded into agent_spans and events rows, redacted.
 *
 * Both encodings go one way: a protobuf body is unpacked by protobuf-c
 * (code generated at build time from the OpenTelemetry collector's .proto
 * files in third_party/) and turned (otlp_pb.c) into the same JSON tree an OTLP/JSON
 * body is (lowerCamelCase names, hex ids, int64s as strings), so one walk
 * over the tree makes the rows. The JSON side accepts what the OTLP/JSON
 * rules allow: ids in hex, 64-bit integers as strings or numbers, enums as
 * integers, and the older instrumentationLibrary* names. */
#include "proto/otlp.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm/redact_json.h"
#include "proto/otlp_int.h"

/* ---- rows ---- */

int otlp_rows_add(struct otlp_rows *out, enum row_kind kind, void *row)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? 2 * out->cap : 16;
		void **rows = realloc(out->rows, cap * sizeof(*rows));

		if (!rows) {
			row_free(kind, row);
			return -1;
		}
		out->rows = rows;
		out->cap = cap;
	}
	out->kind = kind;
	out->rows[out->n++] = row;
	return 0;
}

void otlp_rows_free(struct otlp_rows *out)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		row_free(out->kind, out->rows[i]);
	free(out->rows);
	out->rows = NULL;
	out->n = out->cap = 0;
}

/* ---- the OTLP/JSON tree -> rows ---- */

/* Write the reason a request is refused into err (n bytes). */
static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* Member camel of o, else its snake_case spelling (the protobuf JSON
 * mapping accepts both). */
static json_t *get(const json_t *o, const char *camel, const char *snake)
{
	json_t *v = json_object_get(o, camel);

	return v || !snake ? v : json_object_get(o, snake);
}

/* A 64-bit unsigned integer given as a decimal string or a number. Returns
 * 0 and *out (0 when absent), -1 when malformed. */
static int get_u64(const json_t *v, uint64_t *out)
{
	const char *s;
	char *end;

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
		return 0;
	}
	if (json_is_real(v)) {
		*out = json_real_value(v) > 0 ? (uint64_t)json_real_value(v) : 0;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (!*s)
		return 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	*out = strtoull(s, &end, 10);
	return *end ? -1 : 0;
}

/* The plain JSON value of an OTLP AnyValue ({"stringValue": "x"} -> "x"). */
static json_t *any_plain(const json_t *v, int depth);

/* {key: plain value} of an OTLP attribute list. */
static json_t *kvs_plain(const json_t *list, int depth)
{
	json_t *o = json_object(), *kv;
	size_t i;

	if (!o)
		return NULL;
	json_array_foreach(list, i, kv) {
		const char *key = json_string_value(json_object_get(kv, "key"));

		if (key)
			json_object_set_new(o, key, any_plain(json_object_get(kv, "value"), depth + 1));
	}
	return o;
}

static json_t *any_plain(const json_t *v, int depth)
{
	json_t *x, *a, *e;
	uint64_t u;
	size_t i;

	if (!json_is_object(v) || depth > 32)
		return json_null();
	if ((x = get(v, "stringValue", "string_value")))
		return json_is_string(x) ? json_incref(x) : json_null();
	if ((x = get(v, "boolValue", "bool_value")))
		return json_boolean(json_is_true(x));
	if ((x = get(v, "intValue", "int_value"))) {
		if (json_is_string(x) && json_string_value(x)[0] == '-')
			return json_integer(strtoll(json_string_value(x), NULL, 10));
		return get_u64(x, &u) ? json_null() : json_integer((json_int_t)u);
	}
	if ((x = get(v, "doubleValue", "double_value")))
		return json_is_number(x) ? json_real(json_number_value(x)) :
		       json_is_string(x) ? json_real(strtod(json_string_value(x), NULL)) : json_null();
	if ((x = get(v, "arrayValue", "array_value"))) {
		a = json_array();
		json_array_foreach(json_object_get(x, "values"), i, e)
			json_array_append_new(a, any_plain(e, depth + 1));
		return a;
	}
	if ((x = get(v, "kvlistValue", "kvlist_value")))
		return kvs_plain(json_object_get(x, "values"), depth);
	if ((x = get(v, "bytesValue", "bytes_value")))
		return json_incref(x);
	return json_null();
}

/* The hex id in v (n bytes: 2n digits) into out (lowercase); "" when
 * absent or empty. Returns 0, -1 when malformed. */
static int get_hex(const json_t *v, size_t n, char *out)
{
	const char *s = json_string_value(v);
	size_t i;

	out[0] = 0;
	if (!v || json_is_null(v) || (s && !*s))
		return 0;
	if (!s || strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < 2 * n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		out[i] = tolower((unsigned char)s[i]);
	}
	out[2 * n] = 0;
	return 0;
}

/* A malloc'd, redacted copy of string member v (NULL when absent or empty). */
static char *dup_text(const json_t *v)
{
	const char *s = json_string_value(v);

	return s && *s ? redact_json_text(s) : NULL;
}

/* The string attribute name of attrs (plain form), else NULL. */
static const char *attr_str(const json_t *attrs, const char *name)
{
	const char *s = json_string_value(json_object_get(attrs, name));

	return s && *s ? s : NULL;
}

/* The integer attribute of the first of names attrs has; PROC_NULL when none. */
static int64_t attr_int(const json_t *attrs, const char *const *names)
{
	for (; *names; names++) {
		json_t *v = json_object_get(attrs, *names);

		if (json_is_integer(v))
			return json_integer_value(v);
		if (json_is_real(v))
			return (int64_t)json_real_value(v);
		if (json_is_string(v) && isdigit((unsigned char)json_string_value(v)[0]))
			return strtoll(json_string_value(v), NULL, 10);
	}
	return PROC_NULL;
}

/* Redact o and dump it compactly (malloc'd); NULL when o is NULL or empty. */
static char *dump_redacted(json_t *o, int *oom)
{
	char *s;

	if (!o || (json_is_object(o) && !json_object_size(o)) || (json_is_array(o) && !json_array_size(o)))
		return NULL;
	if (redact_json(o)) {
		*oom = 1;
		return NULL;
	}
	s = json_dumps(o, JSON_COMPACT);
	if (!s)
		*oom = 1;
	return s;
}

/* What a resource says: its attributes (plain), service.name and process.pid. */
struct res_info {
	json_t *attrs;
	const char *service;
	int64_t pid;
};

/* Read resource res into ri (ri->attrs is a new object the caller frees). */
static void res_load(const json_t *res, struct res_info *ri)
{
	static const char *const pid_names[] = { "process.pid", NULL };

	ri->attrs = kvs_plain(json_object_get(res, "attributes"), 0);
	ri->service = attr_str(ri->attrs, "service.name");
	ri->pid = attr_int(ri->attrs, pid_names);
	if (ri->pid <= 0)
		ri->pid = PROC_NULL;
}

/* The stored name of OTLP span kind k (NULL for unspecified or unknown). */
static const char *span_kind(json_int_t k)
{
	static const char *const kinds[] = { NULL, "internal", "server", "client", "producer", "consumer" };

	return k > 0 && k < 6 ? kinds[k] : NULL;
}

/* A json integer, or an enum given by name (ends with suffix[i]): its index. */
static json_int_t enum_value(const json_t *v, const char *const *names, int n)
{
	const char *s = json_string_value(v);
	int i;

	if (json_is_integer(v))
		return json_integer_value(v);
	for (i = 0; s && i < n; i++)
		if (names[i] && strlen(s) >= strlen(names[i]) &&
		    !strcasecmp(s + strlen(s) - strlen(names[i]), names[i]))
			return i;
	return 0;
}

/* One span of a scope into a row appended to out. Returns 0, -1 (err set). */
static int span_row_add(const json_t *sp, const struct res_info *ri, const char *scope,
			json_t *res_json, int64_t now_ns, size_t idx, struct otlp_rows *out,
			char *err, size_t errlen)
{
	static const char *const kind_names[] = { NULL, "INTERNAL", "SERVER", "CLIENT", "PRODUCER",
						  "CONSUMER" };
	static const char *const status_names[] = { "UNSET", "_OK", "ERROR" };
	static const char *const in_names[] = { "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
						"llm.usage.prompt_tokens", NULL };
	static const char *const out_names[] = { "gen_ai.usage.output_tokens",
						 "gen_ai.usage.completion_tokens",
						 "llm.usage.completion_tokens", NULL };
	struct span_row *r = calloc(1, sizeof(*r));
	json_t *attrs, *st, *evs, *e, *evo;
	const char *model;
	uint64_t t0, t1;
	int oom = 0;
	size_t i;

	if (!r) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	if (get_hex(get(sp, "traceId", "trace_id"), 16, r->trace_id) || !r->trace_id[0] ||
	    get_hex(get(sp, "spanId", "span_id"), 8, r->span_id) || !r->span_id[0] ||
	    get_hex(get(sp, "parentSpanId", "parent_span_id"), 8, r->parent_span_id)) {
		set_err(err, errlen, "span %zu: traceId must be 32 and spanId, parentSpanId 16 hex digits", idx);
		free(r);
		return -1;
	}
	if (get_u64(get(sp, "startTimeUnixNano", "start_time_unix_nano"), &t0) ||
	    get_u64(get(sp, "endTimeUnixNano", "end_time_unix_nano"), &t1) || t0 > INT64_MAX ||
	    t1 > INT64_MAX) {
		set_err(err, errlen, "span %zu: startTimeUnixNano/endTimeUnixNano must be integers", idx);
		free(r);
		return -1;
	}
	snprintf(r->id, sizeof(r->id), "%s-%s", r->trace_id, r->span_id);
	r->name = dup_text(json_object_get(sp, "name"));
	r->kind = span_kind(enum_value(json_object_get(sp, "kind"), kind_names, 6));
	r->start_ns = t0 ? (int64_t)t0 : PROC_NULL;
	r->end_ns = t1 ? (int64_t)t1 : PROC_NULL;
	r->duration_ms = t0 && t1 >= t0 ? (t1 - t0) / 1e6 : -1;
	st = json_object_get(sp, "status");
	switch (enum_value(json_object_get(st, "code"), status_names, 3)) {
	case 1: r->status = "ok"; break;
	case 2: r->status = "error"; break;
	default: r->status = "unset"; break;
	}
	r->status_message = dup_text(json_object_get(st, "message"));
	r->service_name = ri->service ? redact_json_text(ri->service) : NULL;
	r->scope_name = scope && *scope ? redact_json_text(scope) : NULL;
	r->pid = ri->pid;
	attrs = kvs_plain(json_object_get(sp, "attributes"), 0);
	model = attr_str(attrs, "gen_ai.response.model");
	if (!model)
		model = attr_str(attrs, "gen_ai.request.model");
	if (!model)
		model = attr_str(attrs, "llm.response.model");
	if (!model)
		model = attr_str(attrs, "llm.request.model");
	r->model = model ? redact_json_text(model) : NULL;
	r->operation = attr_str(attrs, "gen_ai.operation.name") ?
		       redact_json_text(attr_str(attrs, "gen_ai.operation.name")) : NULL;
	r->input_tokens = attr_int(attrs, in_names);
	r->output_tokens = attr_int(attrs, out_names);
	evs = json_array();
	json_array_foreach(json_object_get(sp, "events"), i, e) {
		uint64_t et = 0;

		get_u64(get(e, "timeUnixNano", "time_unix_nano"), &et);
		evo = json_pack("{s:I, s:s?, s:o}", "time_ns", (json_int_t)(et <= INT64_MAX ? et : 0),
				"name", json_string_value(json_object_get(e, "name")), "attributes",
				kvs_plain(json_object_get(e, "attributes"), 0));
		if (evo && evs)
			json_array_append_new(evs, evo);
	}
	r->attributes = dump_redacted(attrs, &oom);
	r->events = dump_redacted(evs, &oom);
	r->resource = res_json ? json_dumps(res_json, JSON_COMPACT) : NULL;
	r->received_ns = now_ns;
	json_decref(attrs);
	json_decref(evs);
	if (oom || otlp_rows_add(out, ROW_SPAN, r)) {
		if (oom)
			row_free(ROW_SPAN, r);
		set_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The scope list of a resource entry: scopeSpans (scopeLogs), or the older
 * instrumentationLibrarySpans (...Logs) name. */
static json_t *scopes_of(const json_t *rs, int logs)
{
	json_t *v = logs ? get(rs, "scopeLogs", "scope_logs") : get(rs, "scopeSpans", "scope_spans");

	if (v)
		return v;
	return logs ? get(rs, "instrumentationLibraryLogs", "instrumentation_library_logs") :
		      get(rs, "instrumentationLibrarySpans", "instrumentation_library_spans");
}

/* The name of a scope entry's scope (or instrumentationLibrary). */
static const char *scope_name(const json_t *sc)
{
	json_t *s = json_object_get(sc, "scope");

	if (!s)
		s = get(sc, "instrumentationLibrary", "instrumentation_library");
	return json_string_value(json_object_get(s, "name"));
}

/* Parse body as JSON or protobuf into the OTLP/JSON tree. NULL with err set. */
static json_t *otlp_tree(const void *body, size_t len, enum otlp_format f, int logs, char *err,
			 size_t errlen)
{
	json_error_t je;
	json_t *root;

	if (f == OTLP_JSON) {
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
		if (!root)
			set_err(err, errlen, "bad JSON at line %d, column %d: %s", je.line, je.column, je.text);
		else if (!json_is_object(root)) {
			set_err(err, errlen, "the body must be a JSON object (an Export%sServiceRequest)",
				logs ? "Logs" : "Trace");
			json_decref(root);
			root = NULL;
		}
		return root;
	}
	if (logs) {
		pb_logs *m = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
			NULL, len, body);

		root = m ? otlp_pb_logs_json(m) : NULL;
		if (m)
			opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(m, NULL);
	} else {
		pb_traces *m = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, len, body);

		root = m ? otlp_pb_traces_json(m) : NULL;
		if (m)
			opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(m, NULL);
	}
	if (!root)
		set_err(err, errlen, "not a protobuf Export%sServiceRequest", logs ? "Logs" : "Trace");
	return root;
}

int otlp_traces_decode(const void *body, size_t len, enum otlp_format f, int64_t now_ns,
		       struct otlp_rows *out, char *err, size_t errlen)
{
	json_t *root = otlp_tree(body, len, f, 0, err, errlen), *rs, *sc, *sp;
	size_t i, j, k, first = out->n, count = 0;
	int rc = 0;

	if (!root)
		return -1;
	json_array_foreach(get(root, "resourceSpans", "resource_spans"), i, rs) {
		struct res_info ri;
		json_t *res_json;
		int oom = 0;

		res_load(json_object_get(rs, "resource"), &ri);
		res_json = json_deep_copy(ri.attrs);
		if (res_json && redact_json(res_json))
			oom = 1;
		json_array_foreach(scopes_of(rs, 0), j, sc) {
			json_array_foreach(json_object_get(sc, "spans"), k, sp) {
				if (oom || ++count > OTLP_ITEMS_MAX) {
					set_err(err, errlen, oom ? "out of memory" :
						"more than %d spans in one request", OTLP_ITEMS_MAX);
					rc = -1;
				} else {
					rc = span_row_add(sp, &ri, scope_name(sc), res_json, now_ns, count - 1,
							  out, err, errlen);
				}
				if (rc)
					break;
			}
			if (rc)
				break;
		}
		json_decref(res_json);
		json_decref(ri.attrs);
		if (rc)
			break;
	}
	json_decref(root);
	if (rc) {	/* all or nothing */
		while (out->n > first)
			row_free(ROW_SPAN, out->rows[--out->n]);
	}
	return rc;
}

/* The severity of a log record: from severityNumber, else severityText. */
static const char *log_severity(const json_t *rec)
{
	json_int_t n = 0;
	const char *t = json_string_value(get(rec, "severityText", "severity_text"));
	json_t *v = get(rec, "severityNumber", "severity_number");

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_string(v) && strstr(json_string_value(v), "SEVERITY_NUMBER_"))
		t = json_string_value(v) + strlen("SEVERITY_NUMBER_");
	if (n >= 21)
		return "fatal";
	if (n >= 17)
		return "error";
	if (n >= 13)
		return "warning";
	if (n >= 9)
		return "info";
	if (n >= 1)
		return "debug";
	if (t && (!strncasecmp(t, "fatal", 5) || !strncasecmp(t, "crit", 4)))
		return "fatal";
	if (t && !strncasecmp(t, "err", 3))
		return "error";
	if (t && !strncasecmp(t, "warn", 4))
		return "warning";
	if (t && (!strncasecmp(t, "debug", 5) || !strncasecmp(t, "trace", 5)))
		return "debug";
	return "info";
}

/* One log record into an events row appended to out. Returns 0, -1 (err set). */
static int log_row_add(const json_t *rec, const struct res_info *ri, int64_t now_ns, size_t idx,
		       struct otlp_rows *out, char *err, size_t errlen)
{
	struct event_row *r = calloc(1, sizeof(*r));
	const char *name;
	json_t *attrs, *body;
	char hex[33];
	uint64_t t = 0, obs = 0;
	int oom = 0;

	if (!r) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	if (get_u64(get(rec, "timeUnixNano", "time_unix_nano"), &t) ||
	    get_u64(get(rec, "observedTimeUnixNano", "observed_time_unix_nano"), &obs) ||
	    t > INT64_MAX || obs > INT64_MAX) {
		set_err(err, errlen, "log record %zu: timeUnixNano must be an integer", idx);
		free(r);
		return -1;
	}
	attrs = kvs_plain(json_object_get(rec, "attributes"), 0);
	name = json_string_value(get(rec, "eventName", "event_name"));
	if (!name || !*name)
		name = attr_str(attrs, "event.name");
	r->name = redact_json_text(name && *name ? name : "log");
	r->source = "agent";
	snprintf(r->severity, sizeof(r->severity), "%s", log_severity(rec));
	r->ts_ns = t ? (int64_t)t : obs ? (int64_t)obs : now_ns;
	r->pid = ri->pid;
	body = json_object_get(rec, "body");
	if (attrs && body)
		json_object_set_new(attrs, "body", any_plain(body, 0));
	if (attrs && ri->service)
		json_object_set_new(attrs, "service.name", json_string(ri->service));
	if (attrs && !get_hex(get(rec, "traceId", "trace_id"), 16, hex) && hex[0])
		json_object_set_new(attrs, "trace_id", json_string(hex));
	if (attrs && !get_hex(get(rec, "spanId", "span_id"), 8, hex) && hex[0])
		json_object_set_new(attrs, "span_id", json_string(hex));
	r->attributes = dump_redacted(attrs, &oom);
	json_decref(attrs);
	if (oom || !r->name || otlp_rows_add(out, ROW_EVENT, r)) {
		if (oom || !r->name)
			row_free(ROW_EVENT, r);
		set_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int otlp_logs_decode(const void *body, size_t len, enum otlp_format f, int64_t now_ns,
		     struct otlp_rows *out, char *err, size_t errlen)
{
	json_t *root = otlp_tree(body, len, f, 1, err, errlen), *rl, *sc, *rec;
	size_t i, j, k, first = out->n, count = 0;
	int rc = 0;

	if (!root)
		return -1;
	json_array_foreach(get(root, "resourceLogs", "resource_logs"), i, rl) {
		struct res_info ri;

		res_load(json_object_get(rl, "resource"), &ri);
		json_array_foreach(scopes_of(rl, 1), j, sc) {
			json_array_foreach(get(sc, "logRecords", "log_records"), k, rec) {
				if (++count > OTLP_ITEMS_MAX) {
					set_err(err, errlen, "more than %d log records in one request",
						OTLP_ITEMS_MAX);
					rc = -1;
				} else {
					rc = log_row_add(rec, &ri, now_ns, count - 1, out, err, errlen);
				}
				if (rc)
					break;
			}
			if (rc)
				break;
		}
		json_decref(ri.attrs);
		if (rc)
			break;
	}
	json_decref(root);
	if (rc) {
		while (out->n > first)
			row_free(ROW_EVENT, out->rows[--out->n]);
	}
	return rc;
}

/* The model name after any "provider/" or "models/" prefix. */
static const char *model_base(const char *m)
{
	const char *s = strrchr(m, '/');

	return s ? s + 1 : m;
}

int otlp_model_match(const char *a, const char *b)
{
	size_t na, nb, n;

	if (!a || !b)
		return 0;
	a = model_base(a);
	b = model_base(b);
	na = strlen(a);
	nb = strlen(b);
	if (!na || !nb)
		return 0;
	n = na < nb ? na : nb;
	if (strncasecmp(a, b, n))
		return 0;
	/* equal, or the longer goes on with a version: "-2024-07-18", "@001", ":latest" */
	if (na == nb)
		return 1;
	return strchr("-@:", na > nb ? a[n] : b[n]) != NULL;
}

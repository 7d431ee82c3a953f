/* otlp_pb.c -- an OTLP protobuf request (unpacked by protobuf-c) turned into the OTLP/JSON tree otlp.c walks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/otlp_int.h"

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

static json_t *pb_any_json(const pb_any *v, int depth);

/* Hex of b[0..n) as a JSON string ("" for none). */
static json_t *hex_json(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);
	json_t *j;
	size_t i;

	if (!s)
		return NULL;
	for (i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	s[2 * n] = 0;
	j = json_string(s);
	free(s);
	return j;
}

/* A 64-bit unsigned integer as OTLP/JSON writes it: a decimal string. */
static json_t *u64_json(uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return json_string(s);
}

/* [{"key":..,"value":{...}}] of a KeyValue list. */
static json_t *pb_kvs_json(pb_kv *const *kv, size_t n, int depth)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++) {
		json_t *o = json_object();

		if (!o)
			break;
		json_object_set_new(o, "key", json_string(kv[i]->key ? kv[i]->key : ""));
		json_object_set_new(o, "value", pb_any_json(kv[i]->value, depth + 1));
		json_array_append_new(a, o);
	}
	return a;
}

/* An AnyValue as OTLP/JSON writes it ({"stringValue": ...}, ...). */
static json_t *pb_any_json(const pb_any *v, int depth)
{
	json_t *o = json_object(), *a;
	size_t i;

	if (!o || !v || depth > 32)
		return o;
	switch (v->value_case) {
	case ANY(STRING_VALUE):
		json_object_set_new(o, "stringValue", json_string(v->string_value ? v->string_value : ""));
		break;
	case ANY(BOOL_VALUE):
		json_object_set_new(o, "boolValue", json_boolean(v->bool_value));
		break;
	case ANY(INT_VALUE):
		json_object_set_new(o, "intValue", json_integer(v->int_value));
		break;
	case ANY(DOUBLE_VALUE):
		json_object_set_new(o, "doubleValue", json_real(v->double_value));
		break;
	case ANY(ARRAY_VALUE):
		a = json_array();
		for (i = 0; a && v->array_value && i < v->array_value->n_values; i++)
			json_array_append_new(a, pb_any_json(v->array_value->values[i], depth + 1));
		json_object_set_new(o, "arrayValue", json_pack("{s:o*}", "values", a));
		break;
	case ANY(KVLIST_VALUE):
		json_object_set_new(o, "kvlistValue", json_pack("{s:o*}", "values",
			v->kvlist_value ? pb_kvs_json(v->kvlist_value->values, v->kvlist_value->n_values,
						      depth) : json_array()));
		break;
	case ANY(BYTES_VALUE):
		json_object_set_new(o, "bytesValue", hex_json(v->bytes_value.data, v->bytes_value.len));
		break;
	default:
		break;
	}
	return o;
}

/* {"attributes": [...]} of a resource (an empty list for none). */
static json_t *pb_resource_json(const pb_resource *r)
{
	return json_pack("{s:o}", "attributes", r ? pb_kvs_json(r->attributes, r->n_attributes, 0) :
				  json_array());
}

/* {"name", "version"} of an instrumentation scope ("" for none). */
static json_t *pb_scope_json(const pb_scope *s)
{
	return json_pack("{s:s, s:s}", "name", s && s->name ? s->name : "", "version",
			 s && s->version ? s->version : "");
}

/* A span as OTLP/JSON writes it (hex ids, int64s as strings); NULL on OOM. */
static json_t *pb_span_json(const pb_span *s)
{
	json_t *o = json_object(), *ev = json_array();
	size_t i;

	if (!o || !ev) {
		json_decref(o);
		json_decref(ev);
		return NULL;
	}
	json_object_set_new(o, "traceId", hex_json(s->trace_id.data, s->trace_id.len));
	json_object_set_new(o, "spanId", hex_json(s->span_id.data, s->span_id.len));
	json_object_set_new(o, "parentSpanId", hex_json(s->parent_span_id.data, s->parent_span_id.len));
	json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
	json_object_set_new(o, "kind", json_integer(s->kind));
	json_object_set_new(o, "startTimeUnixNano", u64_json(s->start_time_unix_nano));
	json_object_set_new(o, "endTimeUnixNano", u64_json(s->end_time_unix_nano));
	json_object_set_new(o, "attributes", pb_kvs_json(s->attributes, s->n_attributes, 0));
	for (i = 0; i < s->n_events; i++)
		json_array_append_new(ev, json_pack("{s:o, s:s, s:o}", "timeUnixNano",
			u64_json(s->events[i]->time_unix_nano), "name",
			s->events[i]->name ? s->events[i]->name : "", "attributes",
			pb_kvs_json(s->events[i]->attributes, s->events[i]->n_attributes, 0)));
	json_object_set_new(o, "events", ev);
	if (s->status)
		json_object_set_new(o, "status", json_pack("{s:i, s:s}", "code", (int)s->status->code,
			"message", s->status->message ? s->status->message : ""));
	return o;
}

/* The OTLP/JSON tree of an ExportTraceServiceRequest. */
json_t *otlp_pb_traces_json(const pb_traces *m)
{
	json_t *root = json_object(), *rss = json_array();
	size_t i, j, k;

	if (!root || !rss) {
		json_decref(root);
		json_decref(rss);
		return NULL;
	}
	json_object_set_new(root, "resourceSpans", rss);
	for (i = 0; i < m->n_resource_spans; i++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *r = m->resource_spans[i];
		json_t *ss = json_array();

		for (j = 0; ss && j < r->n_scope_spans; j++) {
			const Opentelemetry__Proto__Trace__V1__ScopeSpans *sc = r->scope_spans[j];
			json_t *spans = json_array();

			for (k = 0; spans && k < sc->n_spans; k++)
				json_array_append_new(spans, pb_span_json(sc->spans[k]));
			json_array_append_new(ss, json_pack("{s:o, s:o*}", "scope", pb_scope_json(sc->scope),
							    "spans", spans));
		}
		json_array_append_new(rss, json_pack("{s:o, s:o*}", "resource",
						     pb_resource_json(r->resource), "scopeSpans", ss));
	}
	return root;
}

/* A log record as OTLP/JSON writes it; NULL on OOM. */
static json_t *pb_log_json(const pb_log *l)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "timeUnixNano", u64_json(l->time_unix_nano));
	json_object_set_new(o, "observedTimeUnixNano", u64_json(l->observed_time_unix_nano));
	json_object_set_new(o, "severityNumber", json_integer(l->severity_number));
	json_object_set_new(o, "severityText", json_string(l->severity_text ? l->severity_text : ""));
	if (l->body)
		json_object_set_new(o, "body", pb_any_json(l->body, 0));
	json_object_set_new(o, "attributes", pb_kvs_json(l->attributes, l->n_attributes, 0));
	json_object_set_new(o, "traceId", hex_json(l->trace_id.data, l->trace_id.len));
	json_object_set_new(o, "spanId", hex_json(l->span_id.data, l->span_id.len));
	return o;
}

/* The OTLP/JSON tree of an ExportLogsServiceRequest. */
json_t *otlp_pb_logs_json(const pb_logs *m)
{
	json_t *root = json_object(), *rls = json_array();
	size_t i, j, k;

	if (!root || !rls) {
		json_decref(root);
		json_decref(rls);
		return NULL;
	}
	json_object_set_new(root, "resourceLogs", rls);
	for (i = 0; i < m->n_resource_logs; i++) {
		const Opentelemetry__Proto__Logs__V1__ResourceLogs *r = m->resource_logs[i];
		json_t *sl = json_array();

		for (j = 0; sl && j < r->n_scope_logs; j++) {
			const Opentelemetry__Proto__Logs__V1__ScopeLogs *sc = r->scope_logs[j];
			json_t *recs = json_array();

			for (k = 0; recs && k < sc->n_log_records; k++)
				json_array_append_new(recs, pb_log_json(sc->log_records[k]));
			json_array_append_new(sl, json_pack("{s:o, s:o*}", "scope", pb_scope_json(sc->scope),
							    "logRecords", recs));
		}
		json_array_append_new(rls, json_pack("{s:o, s:o*}", "resource",
						     pb_resource_json(r->resource), "scopeLogs", sl));
	}
	return root;
}


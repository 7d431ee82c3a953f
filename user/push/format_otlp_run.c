/* format_otlp_run.c -- pure OTLP/HTTP JSON builder for agent runs: an invoke_agent span per run, execute_tool spans for its tool calls, exec spans for the processes each tool ran. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push/format.h"
#include "push/format_otlp.h"
#include "push/format_otlp_int.h"

#define SPAN_KIND_INTERNAL 1
#define STATUS_CODE_ERROR 2

/* An arrayValue attribute of the strings of JSON array text json; nothing
 * when it is no array. */
static void attrs_json_strings(struct attrs *a, const char *key, const char *json)
{
	json_t *arr = json ? json_loads(json, 0, NULL) : NULL, *v;
	size_t i;

	if (json_is_array(arr)) {
		attrs_key(a, key);
		a->rc |= buf_puts(a->b, "\"arrayValue\":{\"values\":[");
		json_array_foreach(arr, i, v) {
			a->rc |= buf_puts(a->b, i ? ",{\"stringValue\":" : "{\"stringValue\":");
			a->rc |= jw_cstr(a->b, json_is_string(v) ? json_string_value(v) : "");
			a->rc |= buf_puts(a->b, "}");
		}
		a->rc |= buf_puts(a->b, "]}}}");
	}
	json_decref(arr);
}

/* Open a span: ids, name, kind, times; then "attributes":[ */
static void span_open(struct attrs *a, const char *trace, const char *span, const char *parent,
		      const char *name, int64_t start, int64_t end)
{
	char t[128];

	if (end < start)
		end = start;
	a->rc |= buf_puts(a->b, "{\"traceId\":\"");
	a->rc |= buf_puts(a->b, trace);
	a->rc |= buf_puts(a->b, "\",\"spanId\":\"");
	a->rc |= buf_puts(a->b, span);
	if (parent) {
		a->rc |= buf_puts(a->b, "\",\"parentSpanId\":\"");
		a->rc |= buf_puts(a->b, parent);
	}
	a->rc |= buf_puts(a->b, "\",\"name\":");
	a->rc |= jw_cstr(a->b, name);
	snprintf(t, sizeof(t), ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"",
		 SPAN_KIND_INTERNAL, (long long)(start > 0 ? start : 0), (long long)(end > 0 ? end : 0));
	a->rc |= buf_puts(a->b, t);
	a->rc |= buf_puts(a->b, ",\"attributes\":[");
	a->n = 0;
}

/* Close a span's attributes, with an error status when msg is given. */
static void span_close(struct attrs *a, const char *msg)
{
	a->rc |= buf_puts(a->b, "]");
	if (msg) {
		a->rc |= buf_puts(a->b, ",\"status\":{\"code\":2,\"message\":");
		a->rc |= jw_cstr(a->b, msg);
		a->rc |= buf_puts(a->b, "}");
	}
	a->rc |= buf_puts(a->b, "}");
}

/* The exec spans of a tool step: children of its span. */
static void exec_spans(struct attrs *a, const struct run_row *r, const struct step_row *s,
		       const char *trace, const char *parent, int64_t end)
{
	json_t *arr = s->execs ? json_loads(s->execs, 0, NULL) : NULL, *e;
	char span[17], key[64], name[64], msg[48];
	size_t i;

	json_array_foreach(arr, i, e) {
		json_int_t pid = json_integer_value(json_object_get(e, "pid"));
		json_t *ex = json_object_get(e, "exec_ns"), *xt = json_object_get(e, "exit_ns");
		json_t *code = json_object_get(e, "exit_code"), *sig = json_object_get(e, "exit_signal");
		char *argv = json_dumps(json_object_get(e, "argv"), JSON_COMPACT);
		const char *comm = json_string_value(json_object_get(e, "comm"));
		int failed = (json_is_integer(code) && json_integer_value(code)) ||
			     (json_is_integer(sig) && json_integer_value(sig));

		snprintf(key, sizeof(key), "%s:%lld", r->id, (long long)s->seq);
		otlp_span_id("exec", key, pid, span);
		snprintf(name, sizeof(name), "exec %s", comm ? comm : "?");
		a->rc |= buf_puts(a->b, ",");
		span_open(a, trace, span, parent, name, json_integer_value(ex),
			  json_is_integer(xt) ? json_integer_value(xt) : end);
		attrs_str(a, "gen_ai.conversation.id", r->id);
		attrs_int(a, "process.pid", pid);
		attrs_int(a, "process.parent_pid", json_is_integer(json_object_get(e, "ppid")) ?
			  json_integer_value(json_object_get(e, "ppid")) : CALL_NULL_INT);
		attrs_str(a, "process.executable.name", comm);
		attrs_json_strings(a, "process.command_args", argv);
		attrs_int(a, "process.exit.code", json_is_integer(code) ? json_integer_value(code) : CALL_NULL_INT);
		attrs_int(a, "llmtap.exec.signal", json_is_integer(sig) ? json_integer_value(sig) : CALL_NULL_INT);
		attrs_double(a, "llmtap.exec.cpu_ms", json_number_value(json_object_get(e, "cpu_ms")));
		attrs_bool(a, "llmtap.exec.command", json_is_true(json_object_get(e, "command")));
		snprintf(msg, sizeof(msg), "exit %lld", (long long)json_integer_value(code));
		if (json_is_integer(sig) && json_integer_value(sig))
			snprintf(msg, sizeof(msg), "signal %lld", (long long)json_integer_value(sig));
		span_close(a, failed ? msg : NULL);
		free(argv);
	}
	json_decref(arr);
}

int otlp_run_json(struct buf *out, const struct run_row *r, const struct step_row *const *steps,
		  size_t n, const struct otlp_opts *o)
{
	struct attrs a = { out, 0, 0 };
	char trace[33], ignore[17], span[17], parent[17], sspan[17], name[160];
	int64_t end = r->end_ns != CALL_NULL_INT ? r->end_ns : r->start_ns;
	size_t i;

	otlp_ids(r->root_run_id[0] ? r->root_run_id : r->id, trace, ignore);
	otlp_span_id("run", r->id, CALL_NULL_INT, span);
	if (r->parent_run_id[0]) {
		if (r->parent_seq != CALL_NULL_INT)
			otlp_span_id("step", r->parent_run_id, r->parent_seq, parent);
		else
			otlp_span_id("run", r->parent_run_id, CALL_NULL_INT, parent);
	}
	/* the resource: the agent's process */
	a.rc |= buf_puts(out, "{\"resource\":{\"attributes\":[");
	attrs_str(&a, "service.name", r->comm[0] ? r->comm : "unknown");
	attrs_int(&a, "process.pid", r->pid);
	attrs_str(&a, "host.id", o->host_id);
	attrs_str(&a, "host.name", o->host_name);
	attrs_str(&a, "telemetry.sdk.name", "llmtap");
	a.rc |= buf_puts(out, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"llmtap\"");
	if (o->version) {
		a.rc |= buf_puts(out, ",\"version\":");
		a.rc |= jw_cstr(out, o->version);
	}
	a.rc |= buf_puts(out, "},\"spans\":[");

	snprintf(name, sizeof(name), "invoke_agent %.120s", r->agent ? r->agent : r->comm);
	span_open(&a, trace, span, r->parent_run_id[0] ? parent : NULL, name, r->start_ns, end);
	attrs_str(&a, "gen_ai.operation.name", "invoke_agent");
	attrs_str(&a, "gen_ai.agent.name", r->agent ? r->agent : r->comm);
	attrs_str(&a, "gen_ai.conversation.id", r->id);
	attrs_str(&a, "gen_ai.provider.name", otlp_provider_name(r->provider));
	attrs_str(&a, "gen_ai.request.model", r->model);
	attrs_int(&a, "gen_ai.usage.input_tokens", r->input_tokens);
	attrs_int(&a, "gen_ai.usage.output_tokens", r->output_tokens);
	attrs_str(&a, "llmtap.run_id", r->id);
	attrs_str(&a, "llmtap.parent_run_id", r->parent_run_id[0] ? r->parent_run_id : NULL);
	attrs_str(&a, "llmtap.run.state", r->state);
	attrs_int(&a, "llmtap.run.llm_calls", r->llm_calls);
	attrs_int(&a, "llmtap.run.tool_calls", r->tool_calls);
	attrs_int(&a, "llmtap.run.errors", r->errors);
	attrs_double(&a, "llmtap.cost_usd", r->cost_usd);
	attrs_json_strings(&a, "llmtap.run.flags", r->flags);
	span_close(&a, NULL);

	for (i = 0; i < n; i++) {
		const struct step_row *s = steps[i];
		int64_t send = s->end_ns != CALL_NULL_INT ? s->end_ns : end;
		const char *err = NULL;

		if (!s->kind || strcmp(s->kind, "tool"))
			continue;
		if (s->status && (!strcmp(s->status, "error") || !strcmp(s->status, "unanswered")))
			err = s->status;
		otlp_span_id("step", r->id, s->seq, sspan);
		snprintf(name, sizeof(name), "execute_tool %.120s", s->tool_name ? s->tool_name : "?");
		a.rc |= buf_puts(out, ",");
		span_open(&a, trace, sspan, span, name, s->start_ns, send);
		attrs_str(&a, "gen_ai.operation.name", "execute_tool");
		attrs_str(&a, "gen_ai.tool.name", s->tool_name);
		attrs_str(&a, "gen_ai.tool.call.id", s->tool_call_id);
		attrs_str(&a, "gen_ai.tool.type", "function");
		attrs_str(&a, "gen_ai.conversation.id", r->id);
		if (o->bodies) {
			attrs_str(&a, "gen_ai.tool.call.arguments", s->arguments);
			attrs_str(&a, "llmtap.tool.command", s->command);
		}
		attrs_str(&a, "llmtap.run_id", r->id);
		attrs_int(&a, "llmtap.step.seq", s->seq);
		attrs_str(&a, "llmtap.tool.status", s->status);
		attrs_int(&a, "llmtap.tool.exit_code", s->exit_code);
		attrs_int(&a, "llmtap.tool.result_bytes", s->result_bytes);
		span_close(&a, err);
		exec_spans(&a, r, s, trace, sspan, send);
	}
	a.rc |= buf_puts(out, "]}]}");
	return a.rc ? -1 : 0;
}

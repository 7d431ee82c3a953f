/* format_otlp.h -- pure OTLP/HTTP JSON builder: LLM call rows as OpenTelemetry spans with the GenAI semantic conventions. */
#ifndef LLMTAP_PUSH_FORMAT_OTLP_H
#define LLMTAP_PUSH_FORMAT_OTLP_H

#include <stddef.h>

#include "base/buf.h"
#include "db/rows.h"

struct otlp_opts {
	const char *host_id;	/* resource host.id */
	const char *host_name;	/* resource host.name; NULL to leave out */
	const char *version;	/* instrumentation scope version */
	int bodies;		/* 1: add request/response bodies and the assistant text */
};

/* Append an ExportTraceServiceRequest in the OTLP JSON mapping for rows[0..n)
 * to out: one resourceSpans per process (service.name = comm), one span per
 * call, named "{gen_ai.operation.name} {model}", kind CLIENT (3), ids in hex,
 * times and int64 values as strings. Returns 0, -1 on OOM. */
int otlp_traces_json(struct buf *out, const struct call_row *const *rows, size_t n,
		     const struct otlp_opts *o);

/* The same, the calls of runs (call_row.run_id) children of their run's span
 * (otlp_run_json()) in the trace of roots[i], the top run of the call's tree
 * (NULL, or a NULL entry: its own run). */
int otlp_traces_json_roots(struct buf *out, const struct call_row *const *rows,
			   const char *const *roots, size_t n, const struct otlp_opts *o);

/* Append one resourceSpans element (no separator) for agent run r and its
 * steps[0..n) (the tool steps are used): an "invoke_agent {agent}" span,
 * child of its parent run's tool step span (or of the parent run's span), an
 * "execute_tool {name}" span per tool step with gen_ai.tool.name and
 * gen_ai.tool.call.id (gen_ai.tool.call.arguments only with o->bodies), and
 * an "exec {comm}" span per process the tool ran. All in the trace of
 * r->root_run_id, each with gen_ai.conversation.id. Returns 0, -1 on OOM. */
int otlp_run_json(struct buf *out, const struct run_row *r, const struct step_row *const *steps,
		  size_t n, const struct otlp_opts *o);

/* The span id of a run ("run", run id), a step ("step", run id, seq) or an
 * exec ("exec", run id ":" seq, pid): 16 lowercase hex digits, derived from
 * the ids only. n is CALL_NULL_INT when none. */
void otlp_span_id(const char *kind, const char *id, int64_t n, char span_hex[17]);

/* The trace and span ids of a call, derived from its id only (a re-sent
 * span is the same span): 32 and 16 lowercase hex digits, never all zero. */
void otlp_ids(const char *call_id, char trace_hex[33], char span_hex[17]);

/* gen_ai.provider.name for a provider column value ("gemini" -> "gcp.gemini", ...). */
const char *otlp_provider_name(const char *provider);
/* gen_ai.operation.name for an operation column value ("messages" -> "chat", ...). */
const char *otlp_operation_name(const char *operation);

/* The model the request asked for: "model" of a JSON request body, else
 * the model named in a Gemini path (/v1beta/models/NAME:...). malloc'd;
 * NULL when neither says. */
char *otlp_request_model(const char *request_body, const char *path);

#endif

/* otlp.h -- OTLP/HTTP export requests (traces and logs, JSON or protobuf) decoded into agent_spans and events rows, redacted. */
#ifndef LLMTAP_OTLP_H
#define LLMTAP_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "db/rows.h"

#define OTLP_ITEMS_MAX 10000	/* spans or log records in one request */

enum otlp_format { OTLP_JSON, OTLP_PROTOBUF };

/* Rows decoded from one request, all of one kind (ROW_SPAN or ROW_EVENT). */
struct otlp_rows {
	enum row_kind kind;
	void **rows;
	size_t n, cap;
};

/* Decode an ExportTraceServiceRequest into span rows (appended to out,
 * kind ROW_SPAN): id "<traceId>-<spanId>", model, operation and token
 * counts from the gen_ai.* (or llm.*) attributes, service.name and
 * process.pid from the resource; attributes, resource and span events as
 * JSON, redacted; received_ns = now_ns. Returns 0, or -1 with a reason in
 * err (nothing appended then). */
int otlp_traces_decode(const void *body, size_t len, enum otlp_format f, int64_t now_ns,
		       struct otlp_rows *out, char *err, size_t errlen);

/* Decode an ExportLogsServiceRequest into events rows (kind ROW_EVENT,
 * source "agent", id left empty for the caller): name from the record's
 * event name or its "event.name" attribute, else "log"; severity from
 * severityNumber (or severityText); ts_ns the record's time, else its
 * observed time, else now_ns; pid from the resource's process.pid;
 * attributes the record's, with "body", "service.name", "trace_id" and
 * "span_id" added, redacted. Returns 0, or -1 with a reason in err. */
int otlp_logs_decode(const void *body, size_t len, enum otlp_format f, int64_t now_ns,
		     struct otlp_rows *out, char *err, size_t errlen);

/* Free every row and the array; out is left empty. */
void otlp_rows_free(struct otlp_rows *out);

/* A row for out (kind set by the first call); takes row. Returns 0, -1 on OOM (row freed). */
int otlp_rows_add(struct otlp_rows *out, enum row_kind kind, void *row);

/* 1 when the span's model (a) and the call's (b) name the same model: equal
 * ignoring case, or one is the other plus a version suffix ("gpt-4o-mini"
 * and "gpt-4o-mini-2024-07-18"), after any "models/"-style prefix. */
int otlp_model_match(const char *a, const char *b);

#endif

/* otlp_int.h -- the protobuf types of OTLP requests, shared by otlp.c (the tree -> rows) and otlp_pb.c (protobuf -> the tree). */
#ifndef LLMTAP_OTLP_INT_H
#define LLMTAP_OTLP_INT_H

#include <jansson.h>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Logs__V1__LogRecord pb_log;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_traces;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest pb_logs;

/* The OTLP/JSON tree of an ExportTraceServiceRequest (NULL on OOM). */
json_t *otlp_pb_traces_json(const pb_traces *m);

/* The OTLP/JSON tree of an ExportLogsServiceRequest (NULL on OOM). */
json_t *otlp_pb_logs_json(const pb_logs *m);

#endif

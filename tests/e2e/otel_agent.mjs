// otel_agent.mjs -- an agent instrumented with the real OpenTelemetry JS SDK, for llmtap's ingest tests.
//
// Usage: node otel_agent.mjs SPEC.json
//   SPEC = {"mode": "proto"|"json", "endpoint": "http://127.0.0.1:PORT" (llmtap --listen),
//           "baseURL", "apiKey", "model", "tag", "token" (optional), "withPid": bool,
//           "logs": bool}
//   Makes one chat call with the openai SDK inside an "agent.step" span, around it a CLIENT span
//   "chat MODEL" with the gen_ai.* attributes an instrumentation sets, exports the spans with
//   @opentelemetry/exporter-trace-otlp-proto (mode proto) or -otlp-http (mode json, OTLP/JSON),
//   and with logs a log record through @opentelemetry/exporter-logs-otlp-proto. The resource
//   carries process.pid only with withPid (else llmtap must find the process from the connection).
//   Prints one JSON line: {"pid", "trace_id", "span_id", "parent_span_id", "response_model", "status"}.
import fs from 'node:fs';
import OpenAI from 'openai';
import { trace, SpanKind, SpanStatusCode, ROOT_CONTEXT } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const headers = spec.token ? { Authorization: `Bearer ${spec.token}` } : {};
const attrs = { 'service.name': `otel-agent-${spec.tag}` };
if (spec.withPid)
	attrs['process.pid'] = process.pid;
const resource = resourceFromAttributes(attrs);
const Exporter = spec.mode === 'json' ? JsonTraceExporter : ProtoTraceExporter;
const exporter = new Exporter({ url: `${spec.endpoint}/v1/traces`, headers });
const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('llmtap-e2e-agent', '1.0.0');

const out = { pid: process.pid, status: null };
const step = tracer.startSpan('agent.step', { attributes: { 'llmtap.test.tag': spec.tag } });
const ctx = trace.setSpan(ROOT_CONTEXT, step);
const span = tracer.startSpan(`chat ${spec.model}`, {
	kind: SpanKind.CLIENT,
	attributes: {
		'gen_ai.operation.name': 'chat',
		'gen_ai.system': 'openai',
		'gen_ai.request.model': spec.model,
		'gen_ai.prompt.0.content': `Say hello (${spec.tag}). My key is ${spec.apiKey}`,
		'http.request.header.authorization': `Bearer ${spec.apiKey}`,
	},
}, ctx);
try {
	const client = new OpenAI({ apiKey: spec.apiKey, baseURL: spec.baseURL, maxRetries: 0, timeout: 30000 });
	const r = await client.chat.completions.create({
		model: spec.model, messages: [{ role: 'user', content: `Say hello (${spec.tag}).` }],
	}, { headers: { 'x-test-call': spec.tag } });
	out.response_model = r.model;
	out.status = 200;
	span.setAttributes({
		'gen_ai.response.model': r.model,
		'gen_ai.usage.input_tokens': r.usage?.prompt_tokens ?? 0,
		'gen_ai.usage.output_tokens': r.usage?.completion_tokens ?? 0,
	});
	span.setStatus({ code: SpanStatusCode.OK });
} catch (e) {
	out.error = String(e);
	span.setStatus({ code: SpanStatusCode.ERROR, message: String(e) });
}
span.end();
step.end();
out.trace_id = span.spanContext().traceId;
out.span_id = span.spanContext().spanId;
out.parent_span_id = step.spanContext().spanId;
await provider.forceFlush();
await provider.shutdown();

if (spec.logs) {
	const lp = new LoggerProvider({
		resource,
		processors: [new SimpleLogRecordProcessor(new OTLPLogExporter({ url: `${spec.endpoint}/v1/logs`, headers }))],
	});
	lp.getLogger('llmtap-e2e-agent').emit({
		severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: `decided (${spec.tag})`,
		attributes: { 'event.name': 'agent.decision', 'llmtap.test.tag': spec.tag, 'api_key': spec.apiKey },
	});
	await lp.forceFlush();
	await lp.shutdown();
}
console.log(JSON.stringify(out));

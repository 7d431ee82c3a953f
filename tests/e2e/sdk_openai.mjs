// sdk_openai.mjs -- real OpenAI Node SDK (openai@6) client for llmtap's end-to-end tests.
//
// Usage: node sdk_openai.mjs SPEC.json
//   SPEC = {"apiKey": K, "calls": [{"tag", "op", "baseURL", "model", "headers"}]}
//   op: chat | chat_stream | responses | responses_stream. Calls run in order; one
//   client per baseURL, so calls to the same host reuse the SDK's keep-alive connection.
//   Prints one JSON line per call: {"tag", "pid", "comm", "exe", "status", "summary"}.
//   Hostnames (api.openai.com, llm.local) resolve through /etc/hosts: run.py runs this
//   in a private mount namespace with its own hosts file. TLS trust: NODE_EXTRA_CA_CERTS.
import fs from 'node:fs';
import OpenAI from 'openai';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ident = {
	pid: process.pid,
	comm: fs.readFileSync('/proc/self/comm', 'utf8').trim(),
	exe: fs.realpathSync('/proc/self/exe'),
};
const clients = new Map();

function client(baseURL) {
	if (!clients.has(baseURL))
		clients.set(baseURL, new OpenAI({ apiKey: spec.apiKey, baseURL, maxRetries: 0, timeout: 30000 }));
	return clients.get(baseURL);
}

function blank() {
	return { text: null, model: null, input_tokens: null, output_tokens: null, cache_read_tokens: null,
		cache_write_tokens: null, reasoning_tokens: null, finish_reason: null, error: null };
}

function chatUsage(s, u) {
	if (!u) return;
	s.input_tokens = u.prompt_tokens ?? null;
	s.output_tokens = u.completion_tokens ?? null;
	s.cache_read_tokens = u.prompt_tokens_details?.cached_tokens ?? null;
	s.reasoning_tokens = u.completion_tokens_details?.reasoning_tokens ?? null;
}

function responsesUsage(s, u) {
	if (!u) return;
	s.input_tokens = u.input_tokens ?? null;
	s.output_tokens = u.output_tokens ?? null;
	s.cache_read_tokens = u.input_tokens_details?.cached_tokens ?? null;
	s.reasoning_tokens = u.output_tokens_details?.reasoning_tokens ?? null;
}

async function run(call) {
	const c = client(call.baseURL);
	const opts = { headers: call.headers };
	const messages = [{ role: 'user', content: `Say hello (${call.tag}).` }];
	const s = blank();
	if (call.op === 'chat') {
		const r = await c.chat.completions.create({ model: call.model, messages }, opts);
		s.model = r.model;
		s.text = r.choices[0].message.content;
		s.finish_reason = r.choices[0].finish_reason;
		chatUsage(s, r.usage);
	} else if (call.op === 'chat_stream') {
		const stream = await c.chat.completions.create(
			{ model: call.model, messages, stream: true, stream_options: { include_usage: true } }, opts);
		let text = '';
		for await (const chunk of stream) {
			s.model = chunk.model;
			for (const ch of chunk.choices) {
				if (ch.delta?.content) text += ch.delta.content;
				if (ch.finish_reason) s.finish_reason = ch.finish_reason;
			}
			chatUsage(s, chunk.usage);
		}
		s.text = text;
	} else if (call.op === 'responses') {
		const r = await c.responses.create({ model: call.model, input: messages[0].content }, opts);
		s.model = r.model;
		s.text = r.output_text;
		responsesUsage(s, r.usage);
	} else if (call.op === 'responses_stream') {
		const stream = await c.responses.create({ model: call.model, input: messages[0].content, stream: true }, opts);
		let text = '';
		for await (const ev of stream) {
			if (ev.type === 'response.output_text.delta') text += ev.delta;
			if (ev.type === 'response.completed') {
				s.model = ev.response.model;
				responsesUsage(s, ev.response.usage);
			}
		}
		s.text = text;
	} else {
		throw new Error(`unknown op ${call.op}`);
	}
	return { tag: call.tag, status: 200, summary: s };
}

let rc = 0;
for (const call of spec.calls) {
	let out;
	try {
		out = await run(call);
	} catch (e) {
		out = { tag: call.tag, status: e.status ?? null, exception: String(e && e.stack || e) };
		rc = 1;
	}
	process.stdout.write(JSON.stringify(Object.assign(out, ident)) + '\n');
}
process.exitCode = rc;

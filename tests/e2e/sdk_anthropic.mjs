// sdk_anthropic.mjs -- real Anthropic Node SDK (@anthropic-ai/sdk@1) client for llmtap's end-to-end tests.
//
// Usage: node sdk_anthropic.mjs SPEC.json
//   SPEC = {"apiKey": K, "baseURL": URL, "calls": [{"tag", "op", "model", "headers"}]}
//   op: messages | messages_stream (the SDK's MessageStream helper). One client, so the
//   second call reuses the keep-alive connection. Prints one JSON line per call:
//   {"tag", "pid", "comm", "exe", "status", "summary"}. api.anthropic.com resolves through
//   a private /etc/hosts (see run.py); TLS trust comes from NODE_EXTRA_CA_CERTS.
import fs from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ident = {
	pid: process.pid,
	comm: fs.readFileSync('/proc/self/comm', 'utf8').trim(),
	exe: fs.realpathSync('/proc/self/exe'),
};
const client = new Anthropic({ apiKey: spec.apiKey, baseURL: spec.baseURL, maxRetries: 0, timeout: 30000 });

function summary(msg) {
	const u = msg.usage || {};
	return {
		text: msg.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
		model: msg.model,
		input_tokens: u.input_tokens ?? null,
		output_tokens: u.output_tokens ?? null,
		cache_read_tokens: u.cache_read_input_tokens ?? null,
		cache_write_tokens: u.cache_creation_input_tokens ?? null,
		reasoning_tokens: null,
		finish_reason: msg.stop_reason,
		error: null,
	};
}

async function run(call) {
	const body = { model: call.model, max_tokens: 256, messages: [{ role: 'user', content: `Say hello (${call.tag}).` }] };
	const opts = { headers: call.headers };
	let msg;
	if (call.op === 'messages') {
		msg = await client.messages.create(body, opts);
	} else if (call.op === 'messages_stream') {
		const stream = client.messages.stream(body, opts);
		let deltas = 0;
		stream.on('text', () => deltas++);
		msg = await stream.finalMessage();
		if (deltas < 2) throw new Error(`expected several text deltas, got ${deltas}`);
	} else {
		throw new Error(`unknown op ${call.op}`);
	}
	return { tag: call.tag, status: 200, summary: summary(msg) };
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

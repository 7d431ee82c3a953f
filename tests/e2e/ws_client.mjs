// ws_client.mjs -- a Responses API client over WebSocket (node `ws`), for llmtap's end-to-end tests.
//
// Usage: node ws_client.mjs SPEC.json
//   SPEC = {"url": "wss://api.openai.com:PORT/v1/responses", "apiKey", "deflate": bool,
//           "nested": bool, "calls": [{"tag", "model"}]}
//   Opens one WebSocket, sends one response.create per call (after the previous one completed;
//   "nested" puts the request fields in a "response" object), assembles each response's text and
//   usage from its events, prints one JSON line per call {"tag", "pid", "text", "model",
//   "input_tokens", "output_tokens", "events"}, and closes.
import fs from 'fs';
import WebSocket from 'ws';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ws = new WebSocket(spec.url, { headers: { authorization: `Bearer ${spec.apiKey}` },
	perMessageDeflate: !!spec.deflate });
const waiters = [];
let current = null;
ws.on('message', (data) => {
	const ev = JSON.parse(data.toString('utf8'));
	if (!current)
		return;
	current.events++;
	if (ev.type === 'response.output_text.delta')
		current.text += ev.delta;
	if (ev.type === 'response.completed') {
		const r = ev.response;
		Object.assign(current, { model: r.model, input_tokens: r.usage.input_tokens, output_tokens: r.usage.output_tokens });
		waiters.shift()(current);
	}
});
ws.on('error', (e) => { console.error(e.message); process.exit(1); });
ws.on('open', async () => {
	for (const c of spec.calls) {
		const fields = { model: c.model, input: `Say hello (${c.tag}).`, metadata: { tag: c.tag } };
		const msg = spec.nested ? { type: 'response.create', response: fields } : Object.assign({ type: 'response.create' }, fields);
		const done = new Promise((resolve) => waiters.push(resolve));
		current = { tag: c.tag, pid: process.pid, text: '', events: 0 };
		ws.send(JSON.stringify(msg));
		console.log(JSON.stringify(await done));
	}
	ws.close(1000, 'done');
});
ws.on('close', () => process.exit(0));

// ws_server.js -- a fake OpenAI Responses API over WebSocket (node `ws`), for llmtap's end-to-end tests.
//
// Usage: node ws_server.js PORT CERT.pem KEY.pem
//   PORT 0 picks a free port; listens on 127.0.0.1. HTTPS (wss://) unless LLMTAP_E2E_PLAIN=1 (ws://).
//   Path /v1/responses; permessage-deflate offered (the client decides). Each text message
//   {"type": "response.create", ...} is answered, after timing.first_byte_delay_ms, with the
//   Responses stream events of expect.json's openai_responses endpoint, one message each,
//   timing.stream_event_gap_ms apart, ending with response.completed. One JSON line per event
//   to stdout: {"event":"listening","port"}, {"event":"ws_open","deflate"}, {"event":"ws_response",
//   "tag", "conn", "seq", "events"} (tag: the request's metadata.tag).
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const { WebSocketServer } = require('ws');

const [portArg, certPath, keyPath] = process.argv.slice(2);
if (portArg === undefined) {
	process.stderr.write('usage: node ws_server.js PORT CERT.pem KEY.pem\n');
	process.exit(2);
}
const E = JSON.parse(fs.readFileSync(path.join(__dirname, 'expect.json'), 'utf8'));
const PLAIN = process.env.LLMTAP_E2E_PLAIN === '1';
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = PLAIN ? http.createServer() :
	https.createServer({ key: fs.readFileSync(keyPath), cert: fs.readFileSync(certPath) });
server.on('connection', (s) => s.setNoDelay(true));
server.on('secureConnection', (s) => s.setNoDelay(true));
const wss = new WebSocketServer({ server, path: '/v1/responses', perMessageDeflate: true });
let nextConn = 0;

/* The events of one response, as messages (the SSE events of server.js, one per message). */
function responseEvents(conn, seq, model) {
	const x = E.endpoints.openai_responses;
	const id = `resp_ws${conn}x${seq}`, msgId = `msg_ws${conn}x${seq}`;
	const text = x.chunks.join('');
	const base = (status, output, usage) => ({ id, object: 'response', created_at: Math.floor(Date.now() / 1000),
		status, error: null, incomplete_details: null, model: E.model_aliases[model] || model, output, usage });
	const usage = { input_tokens: x.input_tokens, input_tokens_details: { cached_tokens: x.cache_read_tokens },
		output_tokens: x.output_tokens, output_tokens_details: { reasoning_tokens: x.reasoning_tokens },
		total_tokens: x.input_tokens + x.output_tokens };
	const part = { type: 'output_text', annotations: [], text };
	const item = { id: msgId, type: 'message', status: 'completed', content: [part], role: 'assistant' };
	let n = 0;
	const ev = (type, data) => JSON.stringify(Object.assign({ type }, data, { sequence_number: n++ }));
	const out = [ev('response.created', { response: base('in_progress', [], null) }),
		ev('response.in_progress', { response: base('in_progress', [], null) }),
		ev('response.output_item.added', { output_index: 0, item: { id: msgId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } })];
	for (const piece of x.chunks)
		out.push(ev('response.output_text.delta', { item_id: msgId, output_index: 0, content_index: 0, delta: piece }));
	out.push(ev('response.output_text.done', { item_id: msgId, output_index: 0, content_index: 0, text }));
	out.push(ev('response.output_item.done', { output_index: 0, item }));
	out.push(ev('response.completed', { response: base('completed', [item], usage) }));
	return out;
}

wss.on('connection', (ws, req) => {
	const conn = ++nextConn;
	let seq = 0, queue = Promise.resolve();
	log({ event: 'ws_open', conn, deflate: /permessage-deflate/.test(req.headers['sec-websocket-extensions'] || '') &&
		!!ws._extensions['permessage-deflate'], auth: !!req.headers.authorization });
	ws.on('message', (data, isBinary) => {
		let msg;
		try { msg = JSON.parse(data.toString('utf8')); } catch (e) { return; }
		if (isBinary || msg.type !== 'response.create')
			return;
		const s = ++seq;
		const body = msg.response && typeof msg.response === 'object' ? msg.response : msg;
		queue = queue.then(async () => {
			const events = responseEvents(conn, s, body.model);
			await sleep(E.timing.first_byte_delay_ms);
			for (let i = 0; i < events.length; i++) {
				if (i)
					await sleep(E.timing.stream_event_gap_ms);
				ws.send(events[i]);
			}
			log({ event: 'ws_response', tag: (body.metadata || {}).tag || null, conn, seq: s, events: events.length });
		});
	});
});

server.listen(parseInt(portArg, 10), '127.0.0.1', () => log({ event: 'listening', port: server.address().port, pid: process.pid }));
for (const sig of ['SIGINT', 'SIGTERM'])
	process.on(sig, () => process.exit(0));

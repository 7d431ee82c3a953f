// server.js -- a local HTTPS fake LLM API (OpenAI, Anthropic, Gemini wire formats) for llmtap's end-to-end tests.
//
// Usage: node server.js PORT CERT.pem KEY.pem [EXPECT.json]
//   PORT 0 picks a free port. Listens on 127.0.0.1 only, HTTP/1.1 only (ALPN http/1.1).
//   All answers (text chunks, token counts, keys, timing) come from expect.json, which
//   run.py reads too. One JSON line per event goes to stdout:
//     {"event":"listening","port":N,"pid":N}
//     {"event":"request","tag":...,"conn":N,"seq":N,"status":N,"encoding":...,"resp_sha256":...}
//     {"event":"client_error",...}
//   so the driver knows, per call, what really went over the wire (connection reuse,
//   encoding, exact decoded body bytes and sizes, first-content event index, delays).
//
// Also Ollama's native POST /api/chat (NDJSON lines, or one object with "stream": false; no key),
// answering with openai_chat's text and counts.
//
// Test knobs (request headers):
//   x-test-call: TAG        echoed into the log, so the driver can match rows to calls
//   x-test-encoding: E      gzip | br | deflate | zstd; used when Accept-Encoding allows it
//   x-test-status: N        answer with an OpenAI-style error JSON and status N
//   x-test-delay-ms: N      wait N ms before answering instead of timing.first_byte_delay_ms
//   x-test-pad-bytes: N     pad the assistant text of a non-stream chat answer to N bytes (UTF-8),
//                           with deterministic ASCII filler
//   x-test-abort-after: N   destroy the socket after N SSE events of a streamed answer (no end)
//   x-test-gap-ms: N        wait N ms between SSE events instead of timing.stream_event_gap_ms
//
// LLMTAP_E2E_PLAIN=1: plain HTTP (no TLS; CERT and KEY are then not read), as a local model
// server or gateway serves it. LLMTAP_E2E_ADDR=A: listen on address A instead of 127.0.0.1.
// LLMTAP_E2E_CIPHERS=LIST: only these cipher suites (e.g. TLS_CHACHA20_POLY1305_SHA256).
// LLMTAP_E2E_H2=1 in the environment: serve HTTP/2 too (node's http2 module, allowHTTP1, ALPN
// h2 + http/1.1), with the same routes and knobs; log entries then say http_version "2.0".
'use strict';

const http = require('http');
const https = require('https');
const http2 = require('http2');
const zlib = require('zlib');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const [portArg, certPath, keyPath, expectArg] = process.argv.slice(2);
if (portArg === undefined || !certPath || !keyPath) {
	process.stderr.write('usage: node server.js PORT CERT.pem KEY.pem [EXPECT.json]\n');
	process.exit(2);
}
const E = JSON.parse(fs.readFileSync(expectArg || path.join(__dirname, 'expect.json'), 'utf8'));
const DELAY_MS = E.timing.first_byte_delay_ms;
const GAP_MS = E.timing.stream_event_gap_ms;

function log(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function sha256(buf) {
	return crypto.createHash('sha256').update(buf).digest('hex');
}

function now() {
	return Math.floor(Date.now() / 1000);
}

function textOf(ep) {
	return E.endpoints[ep].chunks.join('');
}

/* text padded with deterministic ASCII to n bytes (UTF-8); unchanged when it is n bytes or longer */
function padText(text, n) {
	const need = n - Buffer.byteLength(text, 'utf8');
	if (!(need > 0)) return text;
	const unit = ' pad-0123456789-abcdefghijklmnopqrstuvwxyz.';
	return text + unit.repeat(Math.ceil(need / unit.length)).slice(0, need);
}

/* A knob header's value as an integer >= 0, else null */
function knob(req, name) {
	const v = req.headers[name];
	if (v === undefined || !/^\s*\d+\s*$/.test(v)) return null;
	return parseInt(v, 10);
}

function respModel(requested) {
	return E.model_aliases[requested] || requested;
}

/* ---------- common response headers, shaped like the real providers' ---------- */

function setCookie(domain) {
	return `__cf_bm=${E.keys.set_cookie_value}; path=/; expires=Wed, 01-Jan-2031 00:00:00 GMT; domain=${domain}; HttpOnly; Secure; SameSite=None`;
}

function openaiHeaders(ctx, sse) {
	return {
		'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/json',
		'openai-organization': 'org-e2etest',
		'openai-processing-ms': '42',
		'openai-version': '2020-10-01',
		'x-request-id': `req_e2e${ctx.conn}x${ctx.seq}`,
		'x-ratelimit-limit-requests': '10000',
		'x-ratelimit-remaining-requests': '9999',
		'x-ratelimit-limit-tokens': '200000',
		'x-ratelimit-remaining-tokens': '199968',
		'set-cookie': setCookie('.api.openai.com'),
		'cf-cache-status': 'DYNAMIC',
		'server': 'cloudflare',
	};
}

function anthropicHeaders(ctx, sse) {
	return {
		'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/json',
		'request-id': `req_e2e${ctx.conn}x${ctx.seq}`,
		'anthropic-organization-id': '00000000-0000-4000-8000-000000000e2e',
		'anthropic-ratelimit-requests-limit': '4000',
		'anthropic-ratelimit-requests-remaining': '3999',
		'set-cookie': setCookie('.api.anthropic.com'),
		'server': 'cloudflare',
	};
}

function geminiHeaders(ctx, sse) {
	return {
		'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
		'vary': 'Origin, X-Origin, Referer',
		'x-content-type-options': 'nosniff',
		'server': 'scaffolding on HTTPServer2',
		'server-timing': 'gfet4t7; dur=42',
	};
}

function errorJSON(status, message, type, code) {
	return { status, json: { error: { message, type, param: null, code } } };
}

/* ---------- OpenAI chat completions ---------- */

function openaiChatUsage() {
	const x = E.endpoints.openai_chat;
	return {
		prompt_tokens: x.input_tokens,
		completion_tokens: x.output_tokens,
		total_tokens: x.input_tokens + x.output_tokens,
		prompt_tokens_details: { cached_tokens: x.cache_read_tokens, audio_tokens: 0 },
		completion_tokens_details: {
			reasoning_tokens: x.reasoning_tokens, audio_tokens: 0,
			accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
		},
	};
}

function openaiChat(ctx, body) {
	const x = E.endpoints.openai_chat;
	const id = `chatcmpl-e2e${ctx.conn}x${ctx.seq}`;
	const model = respModel(body.model);
	const created = now();
	if (!body.stream) {
		return {
			headers: openaiHeaders(ctx, false),
			json: {
				id, object: 'chat.completion', created, model,
				choices: [{
					index: 0,
					message: { role: 'assistant', content: padText(textOf('openai_chat'), ctx.padBytes || 0),
						refusal: null, annotations: [] },
					logprobs: null, finish_reason: x.finish_reason,
				}],
				usage: openaiChatUsage(),
				service_tier: 'default',
				system_fingerprint: 'fp_e2e0001',
			},
		};
	}
	const withUsage = !!(body.stream_options && body.stream_options.include_usage);
	const chunk = (choices, usage) => {
		const c = { id, object: 'chat.completion.chunk', created, model, service_tier: 'default',
			system_fingerprint: 'fp_e2e0001', choices };
		if (withUsage) c.usage = usage === undefined ? null : usage;
		return `data: ${JSON.stringify(c)}\n\n`;
	};
	const events = [chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }])];
	for (const piece of x.chunks)
		events.push(chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]));
	events.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: x.finish_reason }]));
	if (withUsage) events.push(chunk([], openaiChatUsage()));
	events.push('data: [DONE]\n\n');
	return { headers: openaiHeaders(ctx, true), events, firstContent: 1 };
}

/* ---------- OpenAI Responses API ---------- */

function openaiResponses(ctx, body) {
	const x = E.endpoints.openai_responses;
	const id = `resp_e2e${ctx.conn}x${ctx.seq}`;
	const msgId = `msg_e2e${ctx.conn}x${ctx.seq}`;
	const model = respModel(body.model);
	const text = textOf('openai_responses');
	const base = (status, output, usage) => ({
		id, object: 'response', created_at: now(), status, background: false, error: null,
		incomplete_details: null, instructions: null, max_output_tokens: null, model, output,
		parallel_tool_calls: true, previous_response_id: null,
		reasoning: { effort: null, summary: null }, service_tier: 'default', store: true,
		temperature: 1.0, text: { format: { type: 'text' } }, tool_choice: 'auto', tools: [],
		top_p: 1.0, truncation: 'disabled', usage, user: null, metadata: {},
	});
	const usage = {
		input_tokens: x.input_tokens,
		input_tokens_details: { cached_tokens: x.cache_read_tokens },
		output_tokens: x.output_tokens,
		output_tokens_details: { reasoning_tokens: x.reasoning_tokens },
		total_tokens: x.input_tokens + x.output_tokens,
	};
	const part = { type: 'output_text', annotations: [], logprobs: [], text };
	const item = { id: msgId, type: 'message', status: 'completed', content: [part], role: 'assistant' };
	if (!body.stream)
		return { headers: openaiHeaders(ctx, false), json: base('completed', [item], usage) };

	let seq = 0;
	const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify(Object.assign({ type }, data, { sequence_number: seq++ }))}\n\n`;
	const events = [
		ev('response.created', { response: base('in_progress', [], null) }),
		ev('response.in_progress', { response: base('in_progress', [], null) }),
		ev('response.output_item.added', { output_index: 0, item: { id: msgId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } }),
		ev('response.content_part.added', { item_id: msgId, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } }),
	];
	const firstContent = events.length;
	for (const piece of x.chunks)
		events.push(ev('response.output_text.delta', { item_id: msgId, output_index: 0, content_index: 0, delta: piece, logprobs: [] }));
	events.push(ev('response.output_text.done', { item_id: msgId, output_index: 0, content_index: 0, text, logprobs: [] }));
	events.push(ev('response.content_part.done', { item_id: msgId, output_index: 0, content_index: 0, part }));
	events.push(ev('response.output_item.done', { output_index: 0, item }));
	events.push(ev('response.completed', { response: base('completed', [item], usage) }));
	return { headers: openaiHeaders(ctx, true), events, firstContent };
}

/* ---------- Anthropic messages ---------- */

function anthropicMessages(ctx, body) {
	const x = E.endpoints.anthropic_messages;
	const id = `msg_e2e${ctx.conn}x${ctx.seq}`;
	const model = respModel(body.model);
	const usage = (out) => ({
		input_tokens: x.input_tokens,
		cache_creation_input_tokens: x.cache_write_tokens,
		cache_read_input_tokens: x.cache_read_tokens,
		output_tokens: out,
		service_tier: 'standard',
	});
	if (!body.stream) {
		return {
			headers: anthropicHeaders(ctx, false),
			json: {
				id, type: 'message', role: 'assistant', model,
				content: [{ type: 'text', text: textOf('anthropic_messages') }],
				stop_reason: x.finish_reason, stop_sequence: null, usage: usage(x.output_tokens),
			},
		};
	}
	const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify(Object.assign({ type }, data))}\n\n`;
	const events = [
		ev('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [],
			stop_reason: null, stop_sequence: null, usage: usage(1) } }),
		ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
		ev('ping', {}),
	];
	const firstContent = events.length;
	for (const piece of x.chunks)
		events.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } }));
	events.push(ev('content_block_stop', { index: 0 }));
	events.push(ev('message_delta', { delta: { stop_reason: x.finish_reason, stop_sequence: null },
		usage: { output_tokens: x.output_tokens } }));
	events.push(ev('message_stop', {}));
	return { headers: anthropicHeaders(ctx, true), events, firstContent };
}

/* ---------- Gemini generateContent / streamGenerateContent ---------- */

function geminiGenerate(ctx, body, model, stream, sse) {
	const x = E.endpoints.gemini_generate;
	const responseId = `e2eResp${ctx.conn}x${ctx.seq}`;
	const usage = (out) => ({
		promptTokenCount: x.input_tokens,
		candidatesTokenCount: out,
		totalTokenCount: x.input_tokens + out,
		promptTokensDetails: [{ modality: 'TEXT', tokenCount: x.input_tokens }],
	});
	const cand = (text, finish) => {
		const c = { content: { parts: [{ text }], role: 'model' }, index: 0 };
		if (finish) c.finishReason = finish;
		return c;
	};
	if (!stream) {
		return {
			headers: geminiHeaders(ctx, false),
			json: { candidates: [cand(textOf('gemini_generate'), x.finish_reason)],
				usageMetadata: usage(x.output_tokens), modelVersion: model, responseId },
		};
	}
	const n = x.chunks.length;
	const objs = x.chunks.map((piece, i) => ({
		candidates: [cand(piece, i === n - 1 ? x.finish_reason : null)],
		usageMetadata: usage(Math.floor((x.output_tokens * (i + 1)) / n)),
		modelVersion: model, responseId,
	}));
	if (!sse) /* without alt=sse Gemini streams one JSON array */
		return { headers: geminiHeaders(ctx, false), events: objs.map((o, i) => (i ? ',\r\n' : '[') + JSON.stringify(o) + (i === n - 1 ? ']' : '')), firstContent: 0 };
	/* the real API ends each SSE event with CRLF CRLF */
	return { headers: geminiHeaders(ctx, true), events: objs.map((o) => `data: ${JSON.stringify(o)}\r\n\r\n`), firstContent: 0 };
}

/* ---------- auth, as the real APIs check it ---------- */

function bearer(req) {
	const a = req.headers.authorization || '';
	return a.startsWith('Bearer ') ? a.slice(7) : '';
}

function checkAuth(kind, req, url) {
	if (kind === 'openai') return bearer(req) === E.keys.openai;
	/* @anthropic-ai/sdk@1 sends its apiKey as "Authorization: Bearer"; curl and older clients use x-api-key */
	if (kind === 'anthropic') return req.headers['x-api-key'] === E.keys.anthropic || bearer(req) === E.keys.anthropic;
	if (kind === 'gemini')
		return req.headers['x-goog-api-key'] === E.keys.gemini || url.searchParams.get('key') === E.keys.gemini;
	if (kind === 'ollama') return true;	/* Ollama asks for no key */
	return false;
}

/* ---------- Ollama's native chat (/api/chat): NDJSON lines unless "stream": false ---------- */

function ollamaChat(ctx, body) {
	const x = E.endpoints.openai_chat;
	const model = body.model;
	const at = () => new Date().toISOString();
	const last = { model, created_at: at(), message: { role: 'assistant', content: '' }, done_reason: x.finish_reason,
		done: true, total_duration: 4200000, prompt_eval_count: x.input_tokens, eval_count: x.output_tokens };
	if (body.stream === false) {
		last.message.content = textOf('openai_chat');
		return { headers: { 'content-type': 'application/json; charset=utf-8' }, json: last };
	}
	const events = x.chunks.map((piece) => JSON.stringify({ model, created_at: at(),
		message: { role: 'assistant', content: piece }, done: false }) + '\n');
	events.push(JSON.stringify(last) + '\n');
	return { headers: { 'content-type': 'application/x-ndjson' }, events, firstContent: 0 };
}

/* ---------- routing ---------- */

function route(ctx, req, url, raw) {
	if (req.method === 'GET' && url.pathname === '/health')
		return { headers: { 'content-type': 'application/json' }, json: { status: 'ok' } };

	let kind = null, handler = null;
	const gem = url.pathname.match(/^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/);
	if (req.method === 'POST' && url.pathname === '/v1/chat/completions') {
		kind = 'openai'; handler = openaiChat;
	} else if (req.method === 'POST' && url.pathname === '/v1/responses') {
		kind = 'openai'; handler = openaiResponses;
	} else if (req.method === 'POST' && url.pathname === '/v1/messages') {
		kind = 'anthropic'; handler = anthropicMessages;
	} else if (req.method === 'POST' && url.pathname === '/api/chat') {
		kind = 'ollama'; handler = ollamaChat;
	} else if (req.method === 'POST' && gem) {
		kind = 'gemini';
		const model = decodeURIComponent(gem[1]);
		const stream = gem[2] === 'streamGenerateContent';
		handler = (c, b) => geminiGenerate(c, b, model, stream, url.searchParams.get('alt') === 'sse');
	}
	if (!kind)
		return errorJSON(404, `Unknown request URL: ${req.method} ${url.pathname}. Please check the URL for typos.`,
			'invalid_request_error', 'unknown_url');
	if (!checkAuth(kind, req, url))
		return errorJSON(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
	const forced = req.headers['x-test-status'];
	if (forced) {
		const st = parseInt(forced, 10);
		if (st === 429)
			return Object.assign(errorJSON(429, E.error.message, E.error.type, E.error.code),
				{ headers: Object.assign(openaiHeaders(ctx, false), { 'retry-after': '20' }) });
		return errorJSON(st, `Forced status ${st}`, 'server_error', null);
	}
	let body;
	try {
		body = JSON.parse(raw.toString('utf8'));
	} catch (e) {
		return errorJSON(400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
	}
	return handler(ctx, body);
}

/* ---------- content encoding ---------- */

function chooseEncoding(req) {
	const want = (req.headers['x-test-encoding'] || '').trim().toLowerCase();
	if (!want) return null;
	const accepted = (req.headers['accept-encoding'] || '').toLowerCase().split(',').map((s) => s.split(';')[0].trim());
	return accepted.includes(want) ? want : null;
}

function zstdFrame(buf) {
	const r = spawnSync('zstd', ['-c', '-q'], { input: buf, maxBuffer: 64 << 20 });
	if (r.error || r.status !== 0)
		throw new Error(`zstd failed: ${r.error ? r.error.message : r.stderr.toString()}`);
	return r.stdout;
}

function encodeWhole(enc, buf) {
	switch (enc) {
	case 'gzip': return zlib.gzipSync(buf);
	case 'deflate': return zlib.deflateSync(buf);
	case 'br': return zlib.brotliCompressSync(buf);
	case 'zstd': return zstdFrame(buf);
	default: return buf;
	}
}

/* A streaming encoder: write(event) sends the event's compressed bytes at once
 * (flushed), end() finishes the compressed stream. zstd sends one frame per
 * event (a concatenation of frames is one valid zstd stream). */
function streamEncoder(enc, res) {
	if (!enc) {
		return {
			write: async (b) => { res.write(b); },
			end: async () => { await new Promise((r) => res.end(r)); },
		};
	}
	if (enc === 'zstd') {
		return {
			write: async (b) => { res.write(zstdFrame(b)); },
			end: async () => { await new Promise((r) => res.end(r)); },
		};
	}
	const c = enc === 'gzip' ? zlib.createGzip() : enc === 'deflate' ? zlib.createDeflate() : zlib.createBrotliCompress();
	const flushKind = enc === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH;
	c.on('data', (d) => res.write(d));
	const ended = new Promise((r) => c.on('end', r));
	return {
		write: (b) => new Promise((r) => { c.write(b); c.flush(flushKind, r); }),
		end: async () => { c.end(); await ended; await new Promise((r) => res.end(r)); },
	};
}

/* ---------- the server ---------- */

async function handle(req, res) {
	const sock = req.socket;
	sock.e2eSeq = (sock.e2eSeq || 0) + 1;
	const ctx = { conn: sock.e2eConn || 0, seq: sock.e2eSeq, padBytes: knob(req, 'x-test-pad-bytes') };
	const chunks = [];
	for await (const c of req) chunks.push(c);
	const raw = Buffer.concat(chunks);
	const url = new URL(req.url, 'https://placeholder.invalid');

	let r;
	try {
		r = route(ctx, req, url, raw);
	} catch (e) {
		r = errorJSON(500, `fake server error: ${e.message}`, 'server_error', null);
	}
	const status = r.status || 200;
	const headers = Object.assign({}, r.headers || { 'content-type': 'application/json' });
	const stream = !!r.events;
	const enc = chooseEncoding(req);
	if (enc) headers['content-encoding'] = enc;

	/* simulated network + model latency, so the driver can bound ttfb/ttft/duration from below */
	const delay = knob(req, 'x-test-delay-ms') ?? DELAY_MS;
	if (delay > 0) await sleep(delay);
	const abortAfter = knob(req, 'x-test-abort-after');
	const gap = knob(req, 'x-test-gap-ms') ?? GAP_MS;
	const entry = {
		event: 'request', tag: req.headers['x-test-call'] || null, method: req.method, path: req.url,
		host: req.headers.host || null, conn: ctx.conn, seq: ctx.seq, status, stream,
		encoding: enc, requested_encoding: req.headers['x-test-encoding'] || null,
		accept_encoding: req.headers['accept-encoding'] || null, user_agent: req.headers['user-agent'] || null,
		req_len: raw.length, req_sha256: sha256(raw), delay_ms: delay, http_version: req.httpVersion,
	};
	if (ctx.padBytes !== null) entry.pad_bytes = ctx.padBytes;
	try {
		if (!stream) {
			const body = Buffer.from(JSON.stringify(r.json), 'utf8');
			const wire = encodeWhole(enc, body);
			headers['content-length'] = String(wire.length);
			res.writeHead(status, headers);
			await new Promise((resolve) => res.end(wire, resolve));
			Object.assign(entry, { resp_len: body.length, resp_sha256: sha256(body), wire_len: wire.length });
		} else {
			res.writeHead(status, headers); /* no content-length: Node sends transfer-encoding: chunked */
			const out = streamEncoder(enc, res);
			const all = [];
			const n = abortAfter !== null && abortAfter < r.events.length ? abortAfter : r.events.length;
			for (let i = 0; i < n; i++) {
				if (i > 0 && gap > 0) await sleep(gap);
				const b = Buffer.from(r.events[i], 'utf8');
				all.push(b);
				await out.write(b);
			}
			if (n < r.events.length) {
				/* the knob: let the events written so far reach the client, then cut the connection */
				await sleep(gap);
				sock.destroy();
				entry.aborted_after = n;
			} else {
				await out.end();
			}
			const body = Buffer.concat(all);
			Object.assign(entry, { resp_len: body.length, resp_sha256: sha256(body), events: n,
				first_content_event: r.firstContent, gap_ms: gap });
		}
	} catch (e) {
		entry.error = e.message;
		res.destroy();
	}
	log(entry);
}

function onRequest(req, res) {
	handle(req, res).catch((e) => {
		log({ event: 'handler_error', message: e.message });
		res.destroy();
	});
}

const H2 = process.env.LLMTAP_E2E_H2 === '1';
const PLAIN = process.env.LLMTAP_E2E_PLAIN === '1';
const server = PLAIN ? http.createServer(onRequest) : H2 ?
	http2.createSecureServer({
		key: fs.readFileSync(keyPath),
		cert: fs.readFileSync(certPath),
		allowHTTP1: true,	/* ALPN: h2, http/1.1 */
	}, onRequest) :
	https.createServer({
		key: fs.readFileSync(keyPath),
		cert: fs.readFileSync(certPath),
		ALPNProtocols: ['http/1.1'],
		...(process.env.LLMTAP_E2E_CIPHERS ? { ciphers: process.env.LLMTAP_E2E_CIPHERS } : {}),
	}, onRequest);

/* LLMTAP_E2E_KEEPALIVE_MS: how long an idle keep-alive connection stays open (Node's default
 * is 5 s; 0 keeps it until the client goes), for tests that hold a connection while they look. */
if (process.env.LLMTAP_E2E_KEEPALIVE_MS !== undefined)
	server.keepAliveTimeout = parseInt(process.env.LLMTAP_E2E_KEEPALIVE_MS, 10);

let nextConn = 0;
server.on('connection', (s) => {
	s.setNoDelay(true);
	if (PLAIN)
		s.e2eConn = ++nextConn;
});
server.on('secureConnection', (s) => {
	s.setNoDelay(true);
	s.e2eConn = ++nextConn;
});
/* Not HTTP (or broken HTTP) inside TLS: say 400 and close, as Node's default does, but log it. */
server.on('clientError', (err, socket) => {
	log({ event: 'client_error', code: err.code || null, message: err.message, conn: socket.e2eConn || null });
	if (socket.writable)
		socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
	else
		socket.destroy();
});
server.on('tlsClientError', (err) => log({ event: 'tls_client_error', code: err.code || null, message: err.message }));

server.listen(parseInt(portArg, 10), process.env.LLMTAP_E2E_ADDR || '127.0.0.1', () => {
	log({ event: 'listening', port: server.address().port, pid: process.pid });
});

for (const sig of ['SIGINT', 'SIGTERM']) {
	process.on(sig, () => {
		server.close();
		if (server.closeAllConnections)
			server.closeAllConnections();
		process.exit(0);
	});
}

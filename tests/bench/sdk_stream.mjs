// sdk_stream.mjs -- `make bench` SDK workload: N streamed chat completions, one after another, with the real openai@6 Node SDK (from tests/e2e/node_modules).
//
// Usage: node sdk_stream.mjs BASE_URL N
//   The e2e server answers with no first-byte delay and no gap between SSE events
//   (x-test-delay-ms: 0, x-test-gap-ms: 0), so the wall time is the client's and the
//   tracer's own. Trusts the server through NODE_EXTRA_CA_CERTS. Prints "wall_s W cpu_s C calls N"
//   (C: this client's CPU time).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'e2e', 'package.json'));
const OpenAI = require('openai');

const [baseURL, n] = [process.argv[2], Number(process.argv[3])];
const E = JSON.parse(fs.readFileSync(path.join(here, '..', 'e2e', 'expect.json'), 'utf8'));
const client = new OpenAI({ apiKey: E.keys.openai, baseURL, maxRetries: 0, timeout: 30000,
	defaultHeaders: { 'x-test-delay-ms': '0', 'x-test-gap-ms': '0' } });

const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
let text = 0;
for (let i = 0; i < n; i++) {
	const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true,
		stream_options: { include_usage: true }, messages: [{ role: 'user', content: `bench call ${i}` }] });
	for await (const ev of stream)
		text += ev.choices?.[0]?.delta?.content?.length ?? 0;
}
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const c = process.cpuUsage(c0);
console.log(`wall_s ${wall.toFixed(4)} cpu_s ${((c.user + c.system) / 1e6).toFixed(4)} calls ${n} text ${text}`);

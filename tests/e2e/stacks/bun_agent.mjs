// bun_agent.mjs -- the e2e SDK clients as one program for `bun build --compile`: a stand-in for agents shipped as Bun executables (Claude Code), TLS by BoringSSL inside.
//
// Usage: bun-agent openai|anthropic SPEC.json [--wait]
//   Runs sdk_openai.mjs or sdk_anthropic.mjs (same SPEC, same output lines) inside the
//   compiled executable. --wait first prints {"event":"waiting","pid"} and waits for a
//   line on stdin (so a driver can see the tracer attach first).
const which = process.argv[2];
const wait = process.argv.includes('--wait');

process.argv = process.argv.filter((a, i) => i !== 2 && a !== '--wait');
if (wait) {
	console.log(JSON.stringify({ event: 'waiting', pid: process.pid }));
	await new Promise((resolve) => process.stdin.once('data', resolve));
	process.stdin.pause();
}
if (which === 'openai')
	await import('../sdk_openai.mjs');
else if (which === 'anthropic')
	await import('../sdk_anthropic.mjs');
else {
	console.error('usage: bun-agent openai|anthropic SPEC.json [--wait]');
	process.exit(2);
}

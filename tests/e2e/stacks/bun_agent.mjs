// bun_agent.mjs -- the e2e SDK clients as one program for `bun build --compile`: a stand-in for agents shipped as Bun executables (Claude Code), TLS by BoringSSL inside.
//
// Usage: bun-agent openai|anthropic SPEC.json [--wait]
//        bun-agent echo HOST PORT CAFILE N      (make bench)
//        bun-agent membench CERT KEY N          (make bench)
//   Runs sdk_openai.mjs or sdk_anthropic.mjs (same SPEC, same output lines) inside the
//   compiled executable. --wait first prints {"event":"waiting","pid"} and waits for a
//   line on stdin (so a driver can see the tracer attach first). echo: N rounds of a
//   64-byte write and the reads that bring it back over node:tls (Bun's BoringSSL) on one
//   connection; prints microseconds per round: wall clock and the process's CPU time.
//   membench: a node:tls server and client in this process on 127.0.0.1, N rounds of
//   64 bytes each way (both ends' SSL calls in this process); prints microseconds per
//   round divided by four (a write and a read on each side), wall clock and CPU time.
import fs from 'node:fs';
import tls from 'node:tls';

const which = process.argv[2];

async function echo(host, port, ca, n) {
	const sock = tls.connect({ host, port: Number(port), ca: fs.readFileSync(ca), servername: 'localhost' });
	await new Promise((resolve, reject) => { sock.once('secureConnect', resolve); sock.once('error', reject); });
	sock.setNoDelay(true);
	const msg = Buffer.alloc(64, 'e');
	let pending = 0, wake = null;
	sock.on('data', (d) => {
		pending += d.length;
		if (pending >= 64 && wake) {
			pending -= 64;
			const w = wake;
			wake = null;
			w();
		}
	});
	const t0 = performance.now(), c0 = process.cpuUsage();
	for (let i = 0; i < n; i++)
		await new Promise((resolve) => { wake = resolve; sock.write(msg); });
	const c = process.cpuUsage(c0);
	console.log(((performance.now() - t0) * 1000 / n).toFixed(3), ((c.user + c.system) / n).toFixed(3));
	sock.destroy();
}

async function membench(certFile, keyFile, n) {
	const srv = tls.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, (s) => {
		s.setNoDelay(true);
		s.on('data', (d) => s.write(d));
	});
	await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
	const sock = tls.connect({ host: '127.0.0.1', port: srv.address().port, rejectUnauthorized: false });
	await new Promise((resolve, reject) => { sock.once('secureConnect', resolve); sock.once('error', reject); });
	sock.setNoDelay(true);
	const msg = Buffer.alloc(64, 'm');
	let pending = 0, wake = null;
	sock.on('data', (d) => {
		pending += d.length;
		if (pending >= 64 && wake) {
			pending -= 64;
			const w = wake;
			wake = null;
			w();
		}
	});
	const t0 = performance.now(), c0 = process.cpuUsage();
	for (let i = 0; i < n; i++)
		await new Promise((resolve) => { wake = resolve; sock.write(msg); });
	const c = process.cpuUsage(c0);
	console.log(((performance.now() - t0) * 1000 / (4 * n)).toFixed(3), ((c.user + c.system) / (4 * n)).toFixed(3));
	sock.destroy();
	srv.close();
}

if (which === 'membench') {
	await membench(process.argv[3], process.argv[4], Number(process.argv[5] || 1000));
	process.exit(0);
}
if (which === 'echo') {
	await echo(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6] || 1000));
	process.exit(0);
}
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

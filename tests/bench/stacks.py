#!/usr/bin/env python3
"""stacks.py -- `make bench`, part two: what the probes on TLS stacks found without symbols cost a client.

Each client makes N echo rounds on one TLS connection (a 64-byte write, the reads that bring it back)
against a local echo server, untraced and then with `llmtap run`; the same C program linked with
the system's libssl.so (probed by its symbols) is the reference. Clients are the stacks suite's
(tests/e2e/stacks_test.py builds and caches them under build/e2e-stacks/). Prints microseconds per
round and what tracing adds per TLS call (a round is one write call and one read call). Figures, no
pass/fail; BENCH_ROUNDS (default 5000) and BENCH_REPEATS (3, the median is kept) tune it.
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import stacks_test as st  # noqa: E402
from run import Checks, LineReader, Procs  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))

ECHO_SERVER = r"""
const tls = require('tls'), fs = require('fs');
const srv = tls.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) },
	(s) => { s.setNoDelay(true); s.pipe(s); s.on('error', () => {}); });
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
"""


def build_dynamic(chk):
    """tls_client linked with libssl.so: the reference probed by symbols."""
    out = os.path.join(st.CACHE, "tls_client.dyn")
    src = os.path.join(st.STACKS, "tls_client.c")
    if not (os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src)):
        os.makedirs(st.CACHE, exist_ok=True)
        r = subprocess.run(["gcc", "-O2", src, "-o", out, "-lssl", "-lcrypto"], capture_output=True)
        if r.returncode != 0:
            print("bench: building tls_client.dyn failed: " + r.stderr.decode(errors="replace")[-500:])
            return None
    return out


def round_us(argv, n):
    """Microseconds per round printed by one client run, or None."""
    r = subprocess.run(argv + [str(n)], capture_output=True, timeout=600)
    try:
        return float(r.stdout.decode().split()[-1])
    except (ValueError, IndexError):
        print("bench: %s failed: %s" % (os.path.basename(argv[0]), r.stderr.decode(errors="replace")[-300:]))
        return None


def median_us(argv):
    got = [x for x in (round_us(argv, ROUNDS) for _ in range(REPEATS)) if x is not None]
    return statistics.median(got) if got else None


def main():
    chk = Checks(False)
    ctx = st.Ctx(chk, None)
    tmp = ctx.tmp
    procs = Procs()
    try:
        tls_client, _ = st.build_tls_client(ctx)
        go_client, _ = st.build_go_client(ctx)
        bun_agent = st.build_bun_agent(ctx)
        dyn = build_dynamic(chk)
        ca, cert, key = st.make_chain(tmp)
        srv = procs.start(["node", "-e", ECHO_SERVER, key, cert], stdout=subprocess.PIPE)
        port = int(srv.stdout.readline().decode().strip())
        addr = ["127.0.0.1", str(port)]
        clients = []
        if dyn:
            clients.append(("openssl (libssl.so, symbols)", [dyn] + addr + ["localhost", ca, "--echo"]))
        if tls_client:
            clients.append(("openssl static (signatures)", [tls_client] + addr + ["localhost", ca, "--echo"]))
        if go_client:
            clients.append(("go crypto/tls (.gopclntab)", [go_client, "--echo", "127.0.0.1:%d" % port, ca]))
        if bun_agent:
            clients.append(("bun boringssl (signatures)", [bun_agent, "echo"] + addr + [ca]))
        base = {name: median_us(argv) for name, argv in clients}
        llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
        tracer = procs.start([llmtap, "run", "--db", os.path.join(tmp, "bench.db")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        terr = LineReader(tracer.stderr)
        if not terr.wait_for(lambda l: l.startswith("ready"), 120):
            print("bench: tracer not ready: " + terr.text()[-1000:])
            return 1
        for name, argv in clients:
            round_us(argv, 50)          # its first run: the tracer attaches at its exec
            time.sleep(1)
        traced = {name: median_us(argv) for name, argv in clients}
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
        for name, _ in clients:
            b, t = base[name], traced[name]
            if b is None or t is None:
                print("bench: %-30s no figure" % name)
                continue
            print("bench: %-30s untraced %7.1f us/round, traced %7.1f us/round, +%.1f us per TLS call (ratio %.2f)"
                  % (name, b, t, (t - b) / 2, t / b))
        return 0
    finally:
        procs.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

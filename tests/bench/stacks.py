#!/usr/bin/env python3
"""stacks.py -- `make bench`, part two: what the probes on TLS stacks found without symbols cost a client.

Each client makes N echo rounds on one TLS connection (a 64-byte write, the reads that bring it back)
against a local echo server, and N rounds between a client and a server inside one process (no
network: the probes' cost stands out), untraced and then with `llmtap run`. Clients are the stacks suite's
(tests/e2e/stacks_test.py builds and caches them under build/e2e-stacks/). Prints per round the
client's CPU time (what the probes cost it, robust on a busy machine), the tracer's CPU time and
the wall time, and what tracing adds per TLS call (a round is one write call and one read call).
Figures, no pass/fail; BENCH_STACKS_ROUNDS (default 5000; make bench's BENCH_ROUNDS is bench.py's) and BENCH_REPEATS (3 alternations, the least kept) tune it.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import stacks_test as st  # noqa: E402
from run import Checks, LineReader, Procs  # noqa: E402

sys.path.insert(0, HERE)
from bench import unprobed  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_STACKS_ROUNDS", "5000"))  # BENCH_ROUNDS is bench.py's rounds
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))

ECHO_SERVER = r"""
const tls = require('tls'), fs = require('fs');
const srv = tls.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) },
	(s) => { s.setNoDelay(true); s.pipe(s); s.on('error', () => {}); });
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
"""


def run_client(argv, n):
    """One client run of n rounds: the (wall, CPU) microseconds per round it printed, or None."""
    p = subprocess.Popen(argv + [str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=600)
    try:
        wall, cpu = out.decode().split()[-2:]
        return float(wall), float(cpu)
    except (ValueError, IndexError):
        print("bench: %s failed: %s" % (os.path.basename(argv[0]), err.decode(errors="replace")[-300:]))
        return None


def tracer_start(llmtap, db, procs):
    """`llmtap run` on db, once ready. Returns (process, its stderr), or (None, None)."""
    tracer = procs.start([llmtap, "run", "--db", db], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    terr = LineReader(tracer.stderr)
    if not terr.wait_for(lambda l: l.startswith("ready"), 120):
        print("bench: tracer not ready: " + terr.text()[-1000:])
        return None, None
    return tracer, terr


def warm_up(argv, terr):
    """Run the client until the tracer says it attached to its executable (found at its exec: a
    run that ends first leaves nothing to attach to)."""
    exe = os.path.realpath(argv[0])
    for _ in range(10):
        if any(exe in l and "uprobes" in l for l in terr.lines):
            return
        run_client(argv, ROUNDS)
    print("bench: %s: the tracer did not attach" % exe)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    chk = Checks(False)
    ctx = st.Ctx(chk, None)
    tmp = ctx.tmp
    procs = Procs()
    try:
        tls_client, _ = st.build_tls_client(ctx)
        go_client, _ = st.build_go_client(ctx)
        bun_agent = st.build_bun_agent(ctx)
        ca, cert, key = st.make_chain(tmp)
        srv = procs.start(["node", "-e", ECHO_SERVER, key, cert], stdout=subprocess.PIPE)
        port = int(srv.stdout.readline().decode().strip())
        addr = ["127.0.0.1", str(port)]
        clients = []
        # per SSL call, in one process: memory BIOs (OpenSSL), net.Pipe (Go), loopback (Bun)
        if tls_client:
            clients.append(("openssl static (signatures)", [tls_client, "--membench", cert, key], 1))
        if go_client:
            clients.append(("go crypto/tls (.gopclntab)", [go_client, "--membench", cert, key], 1))
        if bun_agent:
            clients.append(("bun boringssl (signatures)", [bun_agent, "membench", cert, key], 1))
        # per round trip with a server in another process: an agent's own view
        if tls_client:
            clients.append(("openssl static, echo", [tls_client] + addr + ["localhost", ca, "--echo"], 2))
        if go_client:
            clients.append(("go, echo", [go_client, "--echo", "127.0.0.1:%d" % port, ca], 2))
        if bun_agent:
            clients.append(("bun, echo", [bun_agent, "echo"] + addr + [ca], 2))
        # Untraced and traced runs alternate, BENCH_REPEATS times; the least CPU per round of
        # each is kept: on a shared machine other work only ever adds to it.
        llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
        got = {name: {"base": [], "traced": [], "tracer": []} for name, _, _ in clients}
        for cycle in range(REPEATS):
            for name, argv, _ in clients:
                r = run_client(argv, ROUNDS)
                if r:
                    got[name]["base"].append(r)
            tracer, terr = tracer_start(llmtap, os.path.join(tmp, "bench%d.db" % cycle), procs)
            if not tracer:
                return 1
            for name, argv, _ in clients:
                if "libssl" not in name:
                    warm_up(argv, terr)
            for name, argv, _ in clients:
                c0 = cpu_s(tracer.pid)
                r = run_client(argv, ROUNDS)
                if r:
                    got[name]["traced"].append(r)
                    got[name]["tracer"].append((cpu_s(tracer.pid) - c0) * 1e6 / ROUNDS)
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
            # its uprobes go some seconds after it exits: the next untraced runs wait for that
            unprobed([argv[0] for _, argv, _ in clients] + [shutil.which("node")])
            if os.environ.get("BENCH_DEBUG"):
                print(terr.text())
        print("bench: %d rounds, best of %d; figures per SSL call (membench: 4 per round) or per round "
              "trip (echo: one write and one read call), 64 bytes" % (ROUNDS, REPEATS))
        if os.environ.get("BENCH_DEBUG"):
            print(got)
        for name, _, per in clients:
            g = got[name]
            if not g["base"] or not g["traced"]:
                print("bench: %-30s no figure" % name)
                continue
            b_cpu, t_cpu = min(x[1] for x in g["base"]), min(x[1] for x in g["traced"])
            unit = "call" if per == 1 else "round"
            print("bench: %-30s client CPU %6.1f -> %6.1f us/%s: +%.1f us per SSL call; tracer CPU %.1f us/%s; "
                  "wall %.1f -> %.1f us/%s" % (name, b_cpu, t_cpu, unit, (t_cpu - b_cpu) / per,
                                               min(g["tracer"]) / (4 if per == 1 else 1), unit,
                                               min(x[0] for x in g["base"]), min(x[0] for x in g["traced"]), unit))
        return 0
    finally:
        procs.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

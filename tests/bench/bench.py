#!/usr/bin/env python3
"""bench.py -- `make bench`: what tracing costs, side by side in one run: untraced, llmtap, the peers' method (bpftrace), the empty-probe floor.

Usage (as root, from the repo; `make bench` builds what it needs first):
    python3 tests/bench/bench.py [--rounds N] [--quick]

    LLMTAP=path/to/llmtap   the binary under test (default build/llmtap)
    BENCH_DIR=build/bench   where `make bench-progs` put the workload programs

Every configuration runs in every round, in a rotated order, and each figure is
the median over the rounds, so load from elsewhere on the host moves all
columns alike and the ratios hold. Configurations:
  untraced   nothing attached
  llmtap     `llmtap run` as shipped
  bpftrace   the peers' method: Debian's bpftrace with uprobe+uretprobe on the
             exported SSL_write/SSL_read, copying 64 bytes of each call out
  floor      `llmtap run` with empty programs at the placement llmtap chose
             (LLMTAP_PROBE_FLOOR=1): what the probes alone cost
The TLS workloads load a private copy of the system libssl under a name no tracer
looks for (LD_LIBRARY_PATH): on a shared host other llmtap instances probe every
libssl, and their probes would land in the untraced column; llmtap is pointed
at the copy with LLMTAP_TLS_FILES, bpftrace by its path.
Workloads (built from Debian packages at bench time): tlsloop (an in-process TLS
client and server over a memory BIO pair exchanging OpenAI HTTP/1.1 calls through
the system libssl, 64 B and 16 KB per SSL call), tlsload (64 keep-alive TLS
clients over loopback), hostload (short loopback TCP connections, a pipe
ping-pong), and the openai Node SDK making streamed calls to tests/e2e/server.js.
Prints one table (markdown) with the figures, the ratios and the issue's goals;
there is no pass/fail exit status (timing goals are judged by reading it). The
cost rows are CPU time: the probes and BPF programs run in the traced process
and are charged to it, the reader's time is added where it works for the
workload; on a shared host the wall-clock rows (last) also hold every wait for
a CPU, and the ratios of CPU time are the ones that hold.
"""
import argparse
import mmap
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LLMTAP = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
BIN = os.environ.get("BENCH_DIR") or os.path.join(REPO, "build", "bench")
LIBDIR = SSLCOPY = None  # set in main(): the private libssl
LIBSSL = "/lib/x86_64-linux-gnu/libssl.so.3"
# The workloads load a private copy of libssl under a name no tracer looks for
# (other llmtap instances on a shared host probe every libssl*: their probes
# would be in the "untraced" column); the tracers measured are pointed at it.
PRIVATE_SSL = "tlsbench-ssl.so"
CLK = os.sysconf("SC_CLK_TCK")

# bpftrace the way the peers trace: the exported entries, entry + return, 64 B copied out.
PEERS_BT = r"""
uprobe:LIB:SSL_write, uprobe:LIB:SSL_read { @buf[tid] = arg1; }
uretprobe:LIB:SSL_write, uretprobe:LIB:SSL_read /@buf[tid]/ {
	if (retval > 0) { printf("%d %d %r\n", pid, retval, buf(@buf[tid], 64)); }
	delete(@buf[tid]);
}
"""


def private_libssl(tmp):
    """Copy the system libssl to TMP/lib/PRIVATE_SSL (libssl.so.3 links to it, for the loader).
    Returns (the directory for LD_LIBRARY_PATH, the copy's path)."""
    d = os.path.join(tmp, "lib")
    os.makedirs(d, exist_ok=True)
    copy = os.path.join(d, PRIVATE_SSL)
    with open(LIBSSL, "rb") as src, open(copy, "wb") as dst:
        dst.write(src.read())
    os.symlink(PRIVATE_SSL, os.path.join(d, "libssl.so.3"))
    return d, copy


def wl_env():
    """The workloads' environment: the private libssl first."""
    return dict(os.environ, LD_LIBRARY_PATH=LIBDIR)


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run(argv, timeout=300, env=None):
    """Run argv; returns its stdout (raises on failure)."""
    r = subprocess.run(argv, capture_output=True, timeout=timeout, env=env)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], r.returncode, r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout.decode()


def kv(text):
    """'a 1 b 2.5' -> {'a': 1.0, 'b': 2.5}"""
    w = text.split()
    return {w[i]: float(w[i + 1]) for i in range(0, len(w) - 1, 2) if re.match(r"^-?[0-9.]+$", w[i + 1])}


def cpu_ns(pid):
    """CPU time of every thread of pid so far, in ns (schedstat: ns resolution)."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
    except OSError:
        pass
    return total


def status_kb(pid, key):
    """The kB figure of line key ("VmRSS:", "VmHWM:") of /proc/PID/status; 0 if gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    return status_kb(pid, "VmRSS:")


def settle(pid, quiet_ms=300, limit_s=20):
    """Wait until the tracer has drained its backlog (its CPU stops growing)."""
    deadline = time.monotonic() + limit_s
    last = cpu_ns(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet_ms / 1000)
        now = cpu_ns(pid)
        if now - last < quiet_ms * 1e6 * 0.02:
            return
        last = now


class Tracer:
    """One configuration's tracer process (none for untraced)."""

    def __init__(self, kind, tmp, cert, key):
        self.kind, self.tmp, self.cert, self.key = kind, tmp, cert, key
        self.p = None
        self.db = os.path.join(tmp, "%s.db" % kind)
        self.err = os.path.join(tmp, "%s.stderr" % kind)
        self.out = os.path.join(tmp, "%s.stdout" % kind)

    def start(self):
        for f in (self.db, self.db + "-wal", self.db + "-shm"):
            if os.path.exists(f):
                os.unlink(f)
        if self.kind == "untraced":
            return
        env = dict(os.environ)
        if self.kind in ("llmtap", "floor", "scoped"):
            env["LLMTAP_TLS_FILES"] = SSLCOPY
            argv = [LLMTAP, "run", "--db", self.db]
            if self.kind == "floor":
                env["LLMTAP_PROBE_FLOOR"] = "1"
                argv.append("-v")
            if self.kind == "scoped":
                # `run -p` naming another process: the workloads are processes it does not name
                self.named = subprocess.Popen(["sleep", "3600"])
                argv += ["-p", str(self.named.pid)]
            self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(self.err, "w"), env=env,
                                      start_new_session=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.p.poll() is None:
                with open(self.err) as f:
                    if any(l.startswith("ready") for l in f):
                        return
                time.sleep(0.05)
            raise RuntimeError("%s did not get ready: %s" % (self.kind, open(self.err).read()[-2000:]))
        script = os.path.join(self.tmp, "peers.bt")
        with open(script, "w") as f:
            f.write(PEERS_BT.replace("LIB", SSLCOPY))
        env["BPFTRACE_PERF_RB_PAGES"] = env.get("BPFTRACE_PERF_RB_PAGES", "64")
        self.p = subprocess.Popen(["bpftrace", script], stdout=open(self.out, "w"), stderr=open(self.err, "w"),
                                  env=env, start_new_session=True)
        # bpftrace says "Attaching" before it has: probe with one call until it shows
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.p.poll() is None:
            subprocess.run([os.path.join(BIN, "tlsloop"), self.cert, self.key, "64", "1"], capture_output=True,
                           env=wl_env())
            with open(self.out, errors="replace") as f:
                if re.search(r"^\d+ \d+ ", f.read(), re.M):
                    return
            time.sleep(0.2)
        raise RuntimeError("bpftrace did not attach: %s" % open(self.err).read()[-2000:])

    def pid(self):
        return self.p.pid if self.p else None

    def stop(self):
        if getattr(self, "named", None):
            self.named.kill()
            self.named.wait()
            self.named = None
        if not self.p:
            return
        os.killpg(self.p.pid, signal.SIGINT)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        self.p = None

    def rows(self, pid, resp_body):
        """(complete rows, rows) of process pid: error NULL and the whole response body."""
        if self.kind != "llmtap":
            return None
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            n, ok = c.execute("SELECT count(*), coalesce(sum(error IS NULL AND response_bytes = ?), 0) "
                              "FROM llm_calls WHERE pid = ?", (resp_body, pid)).fetchone()
        finally:
            c.close()
        return ok, n

    def events(self, pid):
        """bpftrace: lines it printed for pid (each one SSL call's first 64 bytes)."""
        with open(self.out, errors="replace") as f:
            return sum(1 for l in f if l.startswith("%d " % pid))


FILE_BYTES = {}  # path -> its bytes, read once (the probed files do not change during a bench)


def breakpoints_in(path):
    """Does a fresh executable mapping of path differ from the file: a uprobe still set in it?
    The kernel writes a uprobe's breakpoint into every executable mapping of its file, the new
    ones included, until the uprobe is unregistered."""
    with open(path, "rb") as f:
        if path not in FILE_BYTES:
            FILE_BYTES[path] = f.read()
        data = FILE_BYTES[path]
        m = mmap.mmap(f.fileno(), len(data), flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        try:
            return m[:] != data
        finally:
            m.close()


def unprobed(paths, limit_s=60):
    """Wait until no uprobe is left in paths. A tracer's uprobes outlive its exit by up to some
    seconds here (the kernel unregisters them after it, in the background): the next
    configuration measured meanwhile, untraced included, would pay for them."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if not any(p and breakpoints_in(p) for p in paths):
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("uprobes still set in %s %d s after the tracer stopped" % (paths, limit_s))
    if time.monotonic() - t0 > 0.5:
        log("the stopped tracer's uprobes were gone %.1f s after its exit" % (time.monotonic() - t0))


def micro(tr, cert, key, chunk, exchanges, res, name):
    """tlsloop at chunk bytes per SSL call: us per call, tracer CPU per call, rows complete."""
    tp = tr.pid()
    if tp:
        settle(tp)  # what the tracer still does after `ready` (its first scans) is not this loop's
    c0 = cpu_ns(tp) if tp else 0
    if tp:
        # the tracer's peak RSS from here (the kernel's high-water mark, reset), while a ring
        # full of these records is turned into rows
        with open("/proc/%d/clear_refs" % tp, "w") as f:
            f.write("5")
    p = subprocess.Popen([os.path.join(BIN, "tlsloop"), cert, key, str(chunk), str(exchanges)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=wl_env())
    out, err = p.communicate(timeout=600)
    if p.returncode:
        raise RuntimeError("tlsloop: " + err.decode(errors="replace"))
    r = kv(out.decode())
    res[name + ".us"] = r["us_per_call"]
    res[name + ".cpu"] = r["cpu_us_per_call"]
    if tp:
        settle(tp)
        res[name + ".cpu_us"] = (cpu_ns(tp) - c0) / 1e3 / r["calls"]
        res[name + ".rss"] = status_kb(tp, "VmHWM:") / 1024
    if tr.kind == "llmtap":
        tr.pending.append((name, p.pid, int(r["resp_body"]), int(r["exchanges"])))
    elif tr.kind == "bpftrace":
        tr.pending.append((name, p.pid, None, int(r["calls"])))


HOST_RUNS = 5


def host_work(tr, res):
    """Not LLM clients: short TCP connections, a pipe ping-pong, short-lived commands: the workload's CPU per operation
    (the BPF programs run in it), and what the tracer spent meanwhile (on a shared host that also
    holds the other tenants' events)."""
    tp = tr.pid()
    for name, argv in (("tcp", ["tcp", "3000"]), ("pipe", ["pipe", "40000"]), ("exec", ["exec", "300"])):
        if tp:
            settle(tp)
        c0 = cpu_ns(tp) if tp else 0
        # best of HOST_RUNS: these are a few µs per operation, and what else
        # runs on a shared VM moves a single run by ±10 %; the least a run
        # took is what the workload itself costs, tracer or not
        runs = [kv(run([os.path.join(BIN, "hostload")] + argv)) for _ in range(HOST_RUNS)]
        best = min(runs, key=lambda r: r["cpu_us_per_op"])
        res[name + ".us"] = min(r["us_per_op"] for r in runs)
        res[name + ".cpu"] = best["cpu_us_per_op"]
        if tp:
            settle(tp)
            res[name + ".tracer_us"] = (cpu_ns(tp) - c0) / 1e3 / sum(r["ops"] for r in runs)
        if tr.kind == "llmtap" and tp:
            # one more run under the kernel's BPF statistics (not timed above: they cost ~20 ns a
            # run): what llmtap's programs took in the workload, the part no VM noise moves
            res[name + ".bpf_us"] = bpf_us_per_op(tp, [os.path.join(BIN, "hostload")] + argv)


def bpf_us_per_op(tracer_pid, argv):
    """µs of BPF run time per operation of hostload argv, every program of the tracer counted
    (bpf_cost.py: host-wide, so what else runs meanwhile counts too)."""
    try:
        out = run([sys.executable, os.path.join(HERE, "bpf_cost.py"), str(tracer_pid), ""] + argv)
    except RuntimeError as e:
        print("bench: BPF statistics not read: %s" % e, file=sys.stderr)
        return None
    ops = kv(" ".join(l for l in out.splitlines() if l.startswith("us_per_op"))).get("ops")
    ns = 0.0
    for m in re.finditer(r"^bench bpf: \S+\s+(\d+) runs\s+(\d+) ns/run", out, re.M):
        ns += int(m.group(1)) * int(m.group(2))
    return ns / 1e3 / ops if ops else None


def sdk(tr, base_url, cert, res, calls):
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=cert)
    r = kv(run(["node", os.path.join(HERE, "sdk_stream.mjs"), base_url, str(calls)], env=env))
    res["sdk.wall"] = r["wall_s"]
    res["sdk.cpu"] = r["cpu_s"]


def load64(tr, cert, key, res, secs):
    """64 keep-alive clients for secs: calls/s; the tracer's RSS sampled meanwhile."""
    tp = tr.pid()
    if tp:
        settle(tp)
    c0 = cpu_ns(tp) if tp else 0
    p = subprocess.Popen([os.path.join(BIN, "tlsload"), cert, key, "64", str(secs)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=wl_env())
    peak = 0
    while p.poll() is None:
        if tp:
            peak = max(peak, rss_kb(tp))
        time.sleep(0.1)
    out, err = p.communicate()
    if p.returncode:
        raise RuntimeError("tlsload: " + err.decode(errors="replace"))
    r = kv(out.decode())
    res["load.cps"] = r["calls_per_s"]
    tracer = 0.0
    if tp:
        settle(tp)
        res["rss.load"] = max(peak, rss_kb(tp)) / 1024
        tracer = (cpu_ns(tp) - c0) / 1e3 / r["calls"]
    # calls per CPU second, the tracer's included: the throughput of a host whose CPUs are the
    # limit (on a shared host the wall-clock rate mostly measures the other tenants)
    res["load.cpu"] = r["cpu_us_per_call"] + tracer
    res["load.cps_cpu"] = 1e6 / res["load.cpu"]
    if tr.kind == "llmtap":
        tr.pending.append(("load", p.pid, None, int(r["calls"])))


def idle(tr, res, secs):
    tp = tr.pid()
    time.sleep(2)  # the start-up scan settles
    c0, t0 = cpu_ns(tp), time.monotonic()
    time.sleep(secs)
    res["idle.cpu"] = (cpu_ns(tp) - c0) / 1e9 / (time.monotonic() - t0) * 100
    res["rss.idle"] = rss_kb(tp) / 1024


def collect(tr, res):
    """After the tracer stopped: rows (llmtap) and events (bpftrace) of each workload."""
    for name, pid, body, n in tr.pending:
        if tr.kind == "bpftrace":
            res[name + ".complete"] = 100.0 * tr.events(pid) / n
            continue
        if name == "load":
            c = sqlite3.connect("file:%s?mode=ro" % tr.db, uri=True, timeout=10)
            rows = c.execute("SELECT count(*) FROM llm_calls WHERE pid = ? AND error IS NULL", (pid,)).fetchone()[0]
            c.close()
            res["load.rows"] = 100.0 * rows / n if n else 0
            continue
        ok, _ = tr.rows(pid, body)
        res[name + ".complete"] = 100.0 * ok / n


def placement_lines(tmp):
    try:
        with open(os.path.join(tmp, "floor.stderr")) as f:
            return [l.split("openssl: ", 1)[1].strip() for l in f if "openssl: " in l and ": SSL_" in l]
    except OSError:
        return []


def med(rounds, cfg, key):
    v = [r[cfg][key] for r in rounds if key in r.get(cfg, {})]
    return statistics.median(v) if v else None


def fmt(v, spec="%.2f"):
    return "–" if v is None else spec % v


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def report(rounds, tmp, started, args):
    m = lambda cfg, key: med(rounds, cfg, key)  # noqa: E731
    rows = []
    # what each configuration adds to a call, against the untraced run of the same round
    for r in rounds:
        for key in ("m64.cpu", "m16k.cpu"):
            base = r.get("untraced", {}).get(key)
            for cfg in ("llmtap", "bpftrace", "floor"):
                if base is not None and key in r.get(cfg, {}):
                    r[cfg][key.replace(".cpu", ".add")] = r[cfg][key] - base

    def row(what, unit, key, goal, better_low=True, spec="%.2f"):
        u, l, b, f = (m(c, key) for c in ("untraced", "llmtap", "bpftrace", "floor"))
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            what, fmt(u, spec) + unit if u is not None else "–", fmt(l, spec) + unit if l is not None else "–",
            fmt(b, spec) + unit if b is not None else "–", fmt(f, spec) + unit if f is not None else "–",
            fmt(ratio(l, u), "×%.2f"), fmt(ratio(l, b), "%.2f"), fmt(ratio(l, f), "%.2f"), goal))

    row("µs CPU per SSL call, 64 B", "", "m64.cpu", "≤ ¼ of bpftrace, ≤ 1.5× floor")
    row("µs CPU per SSL call, 16 KB", "", "m16k.cpu", "≤ ¼ of bpftrace")
    row("µs CPU added per SSL call, 64 B (minus untraced, same round)", "", "m64.add",
        "≤ ¼ of what bpftrace adds")
    row("µs CPU added per SSL call, 16 KB (minus untraced, same round)", "", "m16k.add",
        "≤ ¼ of what bpftrace adds")
    row("complete at 16 KB, max rate (rows; bpftrace: events)", " %", "m16k.complete", "100 %", spec="%.1f")
    row("complete at 64 B (rows; bpftrace: events)", " %", "m64.complete", "100 %", spec="%.1f")
    row("tracer CPU per call, 64 B (µs)", "", "m64.cpu_us", "≤ 2 µs")
    row("tracer CPU per call, 16 KB (µs)", "", "m16k.cpu_us", "≤ 10 µs")
    row("`openai` SDK, %d streamed calls: client CPU (s)" % args.sdk_calls, "", "sdk.cpu", "≤ ×1.02", spec="%.3f")
    row("64 keep-alive clients: calls per CPU second (tracer's CPU included)", "", "load.cps_cpu", "≥ ×0.95",
        spec="%.0f")
    row("64 clients: calls with a complete row", " %", "load.rows", "100 %", spec="%.1f")
    row("short loopback TCP connection: workload CPU µs", "", "tcp.cpu", "≤ ×1.03")
    row("… BPF run time µs per connection (the kernel's count)", "", "tcp.bpf_us",
        "(%s of the untraced CPU)" % fmt(ratio(m("llmtap", "tcp.bpf_us"), m("untraced", "tcp.cpu")) and
                                         100 * ratio(m("llmtap", "tcp.bpf_us"), m("untraced", "tcp.cpu")), "%.1f %%"))
    row("… and the tracer's CPU µs per connection (its `connections` row)", "", "tcp.tracer_us", "")
    row("pipe ping-pong round trip: workload CPU µs", "", "pipe.cpu", "≤ ×1.02", spec="%.3f")
    row("… BPF run time µs per round trip (the kernel's count)", "", "pipe.bpf_us", "", spec="%.3f")
    row("… and the tracer's CPU µs per round trip", "", "pipe.tracer_us", "", spec="%.3f")
    row("short-lived command (fork, exec /bin/true, wait): workload CPU µs", "", "exec.cpu", "")
    row("… BPF run time µs per command (the kernel's count)", "", "exec.bpf_us", "")
    row("… and the tracer's CPU µs per command (it looks for TLS libraries at each exec)", "",
        "exec.tracer_us", "")
    row("tracer RSS idle (MB)", "", "rss.idle", "≤ 20 MB", spec="%.1f")
    row("tracer RSS under the 64-client load (MB)", "", "rss.load", "≤ 32 MB", spec="%.1f")
    row("tracer RSS at 16 KB, max rate (MB)", "", "m16k.rss", "≤ 32 MB", spec="%.1f")
    row("tracer idle CPU", " %", "idle.cpu", "< 0.5 %", spec="%.2f")
    row("wall-clock: µs per SSL call, 64 B", "", "m64.us", "(CPU rows above)")
    row("wall-clock: µs per SSL call, 16 KB", "", "m16k.us", "(CPU rows above)")
    row("wall-clock: `openai` SDK, %d streamed calls (s)" % args.sdk_calls, "", "sdk.wall", "(CPU rows above)",
        spec="%.3f")
    row("wall-clock: 64 keep-alive clients, calls/s", "", "load.cps", "(CPU rows above)", spec="%.0f")
    row("wall-clock: short loopback TCP connection (µs)", "", "tcp.us", "(CPU rows above)")
    row("wall-clock: pipe ping-pong round trip (µs)", "", "pipe.us", "(CPU rows above)")
    row("wall-clock: short-lived command (µs)", "", "exec.us", "(CPU rows above)")

    load = os.getloadavg()
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    print()
    print("llmtap bench, %s, %s, %d CPUs (%s), kernel %s, %d rounds (medians), load average at start %.2f, at end %.2f"
          % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), os.uname().nodename, os.cpu_count(), model,
             os.uname().release, len(rounds), args.load0, load[0]))
    for p in placement_lines(tmp):
        print("placement: " + p)
    print()
    print("| what | untraced | llmtap | bpftrace (peers) | floor (empty probes) | llmtap / untraced | "
          "llmtap / bpftrace | llmtap / floor | goal |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    # the goals in ratios to untraced, against what the empty probes alone
    # (the floor: no copy, no event, no row) take in the same run
    floor = [(what, m("untraced", key), m("floor", key), m("llmtap", key)) for what, key in (
        ("µs CPU per SSL call, 64 B", "m64.cpu"), ("µs CPU per SSL call, 16 KB", "m16k.cpu"),
        ("`openai` SDK: client CPU", "sdk.cpu"), ("64 clients: calls per CPU second", "load.cps_cpu"))]
    u, sc, lt = m("untraced", "m64.cpu"), m("scoped", "m64.cpu"), m("llmtap", "m64.cpu")
    if sc is not None:
        print()
        print("A process `run -p` does not name (`run -p` naming another process): µs CPU per SSL call, 64 B: "
              "%s (%s of untraced's %s; under host-wide probes %s)" % (fmt(sc), fmt(ratio(sc, u), "×%.2f"), fmt(u),
                                                                      fmt(lt)))
    if any(f is not None for _, _, f, _ in floor):
        print()
        print("The probes alone (floor / untraced) against llmtap (llmtap / untraced):")
        print()
        for what, u, f, l in floor:
            print("- %s: floor %s, llmtap %s" % (what, fmt(ratio(f, u), "×%.2f"), fmt(ratio(l, u), "×%.2f")))


def main():
    ap = argparse.ArgumentParser(description="llmtap bench")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    ap.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    ap.add_argument("--micro", action="store_true",
                    help="only the tlsloop rows (64 B, 16 KB): short rounds, so more of them fit a quiet spell")
    args = ap.parse_args()
    args.sdk_calls = 50 if args.quick else 200
    ex64, ex16k, load_s, idle_s = (300, 300, 1, 2) if args.quick else (2000, 2000, 3, 5)
    if os.geteuid() != 0:
        sys.exit("bench: needs root (llmtap run and bpftrace attach probes)")
    for p in ("tlsloop", "tlsload", "hostload"):
        if not os.access(os.path.join(BIN, p), os.X_OK):
            sys.exit("bench: %s missing: run `make bench`" % os.path.join(BIN, p))
    sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
    import run as e2e  # noqa: E402  (installs the npm SDKs the e2e tests use, when missing)
    if not e2e.ensure_tools(e2e.Checks(False)):
        sys.exit("bench: the npm SDKs could not be installed (tests/e2e/node_modules)")
    args.load0 = os.getloadavg()[0]
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="llmtap-bench.")
    global LIBDIR, SSLCOPY
    LIBDIR, SSLCOPY = private_libssl(tmp)
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    srv = subprocess.Popen(["node", os.path.join(REPO, "tests", "e2e", "server.js"), "0", cert, key],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    line = srv.stdout.readline().decode()
    port = int(re.search(r'"port":(\d+)', line).group(1))
    base_url = "https://localhost:%d/v1" % port
    configs = ["untraced", "llmtap", "bpftrace", "floor", "scoped"]
    rounds = []
    probed = [SSLCOPY, LIBSSL, shutil.which("node")]  # the files the tracers probe
    unprobed(probed)  # a tracer stopped just before the bench
    try:
        for r in range(args.rounds):
            res = {}
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for cfg in order:
                log("round %d/%d: %s" % (r + 1, args.rounds, cfg))
                tr = Tracer(cfg, tmp, cert, key)
                tr.pending = []
                res[cfg] = {}
                tr.start()
                try:
                    if cfg == "llmtap" and not args.micro:
                        idle(tr, res[cfg], idle_s)
                    micro(tr, cert, key, 64, ex64, res[cfg], "m64")
                    if cfg == "scoped":
                        continue  # only: what a process `run -p` does not name pays
                    micro(tr, cert, key, 16384, ex16k, res[cfg], "m16k")
                    if cfg in ("untraced", "llmtap") and not args.micro:
                        host_work(tr, res[cfg])
                    # the floor too: what the probes alone take from these workloads
                    if cfg in ("untraced", "llmtap", "floor") and not args.micro:
                        sdk(tr, base_url, cert, res[cfg], args.sdk_calls)
                        load64(tr, cert, key, res[cfg], load_s)
                finally:
                    tr.stop()
                unprobed(probed)
                collect(tr, res[cfg])
            rounds.append(res)
    finally:
        os.killpg(srv.pid, signal.SIGKILL)
        srv.wait()
    report(rounds, tmp, started, args)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()

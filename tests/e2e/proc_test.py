#!/usr/bin/env python3
"""proc_test.py -- llmtap end-to-end tests of the process side: tables processes and cpu_samples.

Usage (as root, from anywhere):
    python3 tests/e2e/proc_test.py [-v] [--keep]

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    -v                      print every passing check too
    --keep                  keep the temp dir even when everything passed

One `llmtap run --sample-interval 0.5` on a fresh DB, real processes started by this driver
(each in its own session, killed at the end), every wait polls the DB against a deadline:
   1 burn      a python3 busy loop of 1.5 s CPU (its own getrusage says how much): processes.cpu_ms
               and the sum of its cpu_samples within 10%, samples written while it ran
   2 exit      `sys.exit(7)` -> exit_code 7, signal 0; `sleep` killed by SIGKILL / SIGTERM -> 9 / 15
   3 exec      argv (a JSON array, one argument with a space), exe, ppid, comm; a long argv is cut
               at 4096 bytes and ends with "..."; one of 300 bytes (an agent's wrapper shell) is whole
   4 runq      two burners pinned to one CPU for 1 s: each on CPU 30-70% of the time, run-queue
               wait > 0, CPU + wait about the wall time
   5 oom       a python3 allocating in a memory-limited cgroup (cgroup v2 memory.max, else the v1
               memory controller under our own cgroup) -> oom_killed 1, signal 9; skipped (said so)
               when no writable memory cgroup exists
   6 call      a curl call to the fake HTTPS API (server.js): `calls --json` carries its "process"
               (ppid, argv, exe, cpu_ms, exit_code)
   7 maps      after the processes exited, no CPU map entry (bpftool) names a thread that is gone
Ends with the line "proc: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import run as e2e  # noqa: E402
from run import Checks, Procs  # noqa: E402

SAMPLE_S = 0.5
ROW_DEADLINE_S = 20
OOM_DEADLINE_S = 60
POLL_S = 0.05
PY = sys.executable

# Burns `secs` of CPU (process time), prints its own rusage in ms, exits 0.
BURN = r"""
import json, resource, sys, time
secs = float(sys.argv[1])
t = time.process_time()
while time.process_time() - t < secs:
    pass
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rusage_ms": (r.ru_utime + r.ru_stime) * 1000}), flush=True)
"""

# Pinned to CPU argv[1]; sleeps until wall time argv[2], then spins for argv[3] s of wall time.
PINNED = r"""
import json, os, resource, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
start, secs = float(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(min(0.01, max(0.0, start - time.time())))
t0 = time.time()
while time.time() - t0 < secs:
    pass
wall = time.time() - t0
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_ms": wall * 1000, "rusage_ms": (r.ru_utime + r.ru_stime) * 1000}), flush=True)
"""

# Joins the cgroup whose cgroup.procs is argv[1], then allocates (touching every page) until killed.
OOM = r"""
import sys
import os
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % os.getpid())
print("joined", flush=True)
hog = []
while True:
    hog.append(bytearray(b"\x01") * (1 << 20))
"""


def open_db(db):
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
    conn.row_factory = sqlite3.Row
    return conn


def query(db, sql, args=()):
    """Rows of sql as dicts; [] while the DB or the table is not there yet."""
    try:
        conn = open_db(db)
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def proc_row(db, pid, since_ns):
    """The newest processes row of pid started after since_ns (pid reuse), or None."""
    rows = query(db, "SELECT * FROM processes WHERE pid = ? AND (start_ns IS NULL OR start_ns >= ?)"
                 " ORDER BY start_ns DESC LIMIT 1", (pid, since_ns - 1000000000))
    return rows[0] if rows else None


def wait_for(pred, timeout, tracer=None):
    """Polls pred() until it returns something truthy, the deadline passes or the tracer exits."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline or (tracer is not None and tracer.poll() is not None):
            return v
        time.sleep(POLL_S)


def wait_exited(db, pid, since_ns, tracer, timeout=ROW_DEADLINE_S):
    """The processes row of pid once it records the exit, or the last row seen (None if none)."""
    def done():
        r = proc_row(db, pid, since_ns)
        return r if r and r["exit_ns"] is not None else None
    return wait_for(done, timeout, tracer) or proc_row(db, pid, since_ns)


def samples_of(db, process_id):
    return query(db, "SELECT * FROM cpu_samples WHERE process_id = ? ORDER BY ts_ns", (process_id,))


def within(got, want, frac):
    return isinstance(got, (int, float)) and abs(got - want) <= frac * want


def finish_child(p, timeout=30):
    """stdout of a child as JSON (waits for it), or {} when it printed none."""
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return {}


def case_burn(chk, procs, db, tracer, t0):
    p = procs.start([PY, "-c", BURN, "1.5"], stdout=subprocess.PIPE)
    res = finish_child(p)
    want = res.get("rusage_ms")
    if not chk.ok(want and want > 1000, "burn: child measured its CPU time", repr(res)):
        return
    r = wait_exited(db, p.pid, t0, tracer)
    if not chk.ok(r and r["exit_ns"], "burn: processes row with its exit", repr(r)):
        return
    chk.ok(within(r["cpu_ms"], want, 0.10), "burn: processes.cpu_ms within 10% of getrusage",
           "cpu_ms %r, rusage %.1f ms" % (r["cpu_ms"], want))
    s = samples_of(db, r["id"])
    total = sum(x["cpu_ms"] for x in s)
    chk.ok(within(total, want, 0.10), "burn: sum of cpu_samples.cpu_ms within 10% of getrusage",
           "sum %.1f over %d rows, rusage %.1f ms" % (total, len(s), want))
    chk.ok(within(total, r["cpu_ms"], 0.01), "burn: cpu_samples add up to processes.cpu_ms",
           "%.3f vs %r" % (total, r["cpu_ms"]))
    during = [x for x in s if x["ts_ns"] < r["exit_ns"] and x["cpu_ms"] > 0]
    chk.ok(len(during) >= 2, "burn: samples written while it ran (every %.1f s)" % SAMPLE_S,
           "%d of %d rows before the exit" % (len(during), len(s)))
    busy = [x for x in during if x["interval_ms"] and x["cpu_ms"] > 0.8 * x["interval_ms"]]
    chk.ok(busy, "burn: an interval shows it busy (cpu_ms close to interval_ms)",
           repr([(x["cpu_ms"], x["interval_ms"]) for x in s]))
    chk.ok(all(x["pid"] == p.pid and x["interval_ms"] > 0 and x["cpu_ms"] >= 0 and x["runq_ms"] >= 0
               for x in s), "burn: sample rows well-formed (pid, interval_ms > 0, no negative ms)",
           repr(s[:3]))
    chk.ok(any(x["top_tid"] == p.pid and x["threads"] == 1 for x in during),
           "burn: top_tid is its (only) thread", repr([(x["threads"], x["top_tid"]) for x in during]))


def case_exit(chk, procs, db, tracer, t0):
    p7 = procs.start([PY, "-c", "import sys; sys.exit(7)"])
    pk = procs.start(["sleep", "60"])
    pt = procs.start(["sleep", "60"])
    # sleep must have exec'd before the signal, else the row is python's (the fork) - wait for its row
    for p in (pk, pt):
        wait_for(lambda: (proc_row(db, p.pid, t0) or {}).get("comm") == "sleep", ROW_DEADLINE_S, tracer)
    pk.send_signal(signal.SIGKILL)
    pt.send_signal(signal.SIGTERM)
    for p in (p7, pk, pt):
        p.wait(timeout=10)
    for p, code, sig, name in ((p7, 7, 0, "exit(7)"), (pk, 0, 9, "SIGKILL"), (pt, 0, 15, "SIGTERM")):
        r = wait_exited(db, p.pid, t0, tracer)
        if not chk.ok(r and r["exit_ns"], "exit %s: processes row with exit_ns" % name, repr(r)):
            continue
        chk.eq((r["exit_code"], r["exit_signal"]), (code, sig), "exit %s: (exit_code, exit_signal)" % name)
        chk.eq(r["oom_killed"], 0, "exit %s: oom_killed 0" % name)
        chk.ok(r["start_ns"] and r["start_ns"] <= r["exit_ns"] <= time.time_ns(),
               "exit %s: start_ns <= exit_ns <= now (epoch ns)" % name, repr((r["start_ns"], r["exit_ns"])))


def case_exec(chk, procs, db, tracer, t0):
    argv = [PY, "-c", "import time; time.sleep(0.3)", "llmtap-argv", "two words"]
    p = procs.start(argv)
    p.wait(timeout=20)
    r = wait_exited(db, p.pid, t0, tracer)
    if not chk.ok(r, "exec: processes row", "none for pid %d" % p.pid):
        return
    chk.eq(json.loads(r["argv"] or "null"), argv, "exec: argv (JSON array)")
    chk.eq(r["ppid"], os.getpid(), "exec: ppid is the driver")
    chk.eq(r["exe"], os.path.realpath(PY), "exec: exe")
    chk.eq(r["comm"], os.path.basename(PY)[:15], "exec: comm (the name exec'd, symlink not resolved)")
    chk.eq(r["uid"], os.getuid(), "exec: uid")
    chk.ok(r["exec_ns"] and r["start_ns"] <= r["exec_ns"] <= r["exit_ns"], "exec: start_ns <= exec_ns <= exit_ns",
           repr((r["start_ns"], r["exec_ns"], r["exit_ns"])))
    mid = [PY, "-c", "pass", "x" * 100, "y" * 100, "z" * 100]
    p = procs.start(mid)
    p.wait(timeout=20)
    r = wait_exited(db, p.pid, t0, tracer)
    chk.eq(json.loads((r or {}).get("argv") or "null"), mid, "exec: argv of 300+ bytes whole")
    long = ["%c" % c * 1000 for c in "abcde"]
    p = procs.start([PY, "-c", "pass"] + long)
    p.wait(timeout=20)
    r = wait_exited(db, p.pid, t0, tracer)
    a = json.loads((r or {}).get("argv") or "null") or []
    full = [PY, "-c", "pass"] + long
    kept = a[:-1]
    chk.ok(a and a[-1] == "..." and 0 < len(kept) < len(full) and kept == full[:len(kept)] and
           len("\0".join(full[:len(kept) + 1]).encode()) >= 4096 > len("\0".join(kept).encode()),
           "exec: argv over 4096 bytes keeps the whole arguments that fit, then \"...\"", repr(a)[:300])


def reader_wakeups(pid):
    """Voluntary context switches of the tracer's main thread (the one that reads the rings)."""
    with open("/proc/%d/task/%d/status" % (pid, pid)) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def case_quiet(chk, procs, db, tracer, t0, tmp):
    """A program run again and again (a build's compiler, an agent's shell tools) is looked at on
    its first exec; its later execs do not wake the tracer one by one, and still each get a row,
    whose exe has its symlinks resolved although the process was gone when its exec was read."""
    n = 1000
    exe = os.path.join(tmp, "quiet-true")
    alias = os.path.join(tmp, "quiet-alias")
    shutil.copy("/bin/true", exe)
    os.chmod(exe, 0o755)
    os.symlink(exe, alias)
    p = procs.start(["/bin/sh", "-c", alias])  # the first exec of a new file: looked at at once
    p.wait(timeout=20)
    time.sleep(0.5)
    w0 = reader_wakeups(tracer.pid)
    p = procs.start(["/bin/sh", "-c", 'i=0; while [ $i -lt %d ]; do "%s"; i=$((i+1)); done' % (n, alias)])
    p.wait(timeout=120)
    w1 = reader_wakeups(tracer.pid)
    chk.ok(w1 - w0 < n // 2, "quiet: %d execs of a program already looked at wake the tracer less than %d times"
           % (n, n // 2), "%d wakeups" % (w1 - w0))

    def rows():
        r = query(db, "SELECT count(*) AS n FROM processes WHERE exe = ? AND exit_ns IS NOT NULL AND exit_code = 0",
                  (exe,))
        return r and r[0]["n"] >= n + 1 and r[0]["n"]
    got = wait_for(rows, ROW_DEADLINE_S, tracer)
    chk.ok(got == n + 1, "quiet: every exec of it has its processes row, with exe (symlink resolved) and exit code",
           "%r rows of %d; exe of the others: %r" % (got, n + 1, query(
               db, "SELECT exe, count(*) AS n FROM processes WHERE argv LIKE ? GROUP BY exe", ("%quiet-alias%",))))


def case_runq(chk, procs, db, tracer, t0):
    cpu = max(os.sched_getaffinity(0))
    start = time.time() + 0.5
    ps = [procs.start([PY, "-c", PINNED, str(cpu), repr(start), "1.0"], stdout=subprocess.PIPE) for _ in range(2)]
    res = [finish_child(p) for p in ps]
    for i, (p, x) in enumerate(zip(ps, res)):
        name = "runq: burner %d (both pinned to CPU %d)" % (i + 1, cpu)
        r = wait_exited(db, p.pid, t0, tracer)
        if not chk.ok(r and x.get("wall_ms"), name + ": row and child report", repr((r, x))):
            continue
        wall = x["wall_ms"]
        share = r["cpu_ms"] / wall
        chk.ok(0.3 <= share <= 0.7, name + ": on CPU 30-70% of its spin time",
               "cpu_ms %.1f over %.1f ms (%.0f%%)" % (r["cpu_ms"], wall, share * 100))
        chk.ok(r["runq_ms"] > 0.2 * wall, name + ": run-queue wait > 20% of its spin time",
               "runq_ms %r over %.1f ms" % (r["runq_ms"], wall))
        both = (r["cpu_ms"] + r["runq_ms"]) / wall
        chk.ok(0.8 <= both <= 1.3, name + ": cpu_ms + runq_ms about the spin time",
               "%.1f + %.1f over %.1f ms" % (r["cpu_ms"], r["runq_ms"], wall))
        chk.ok(r["preempts"] and r["preempts"] > 10, name + ": preempted many times", repr(r["preempts"]))


def mount_type(path):
    """File system type mounted at path (the last mount wins), or None."""
    kind = None
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[1] == path:
                kind = parts[2]
    return kind


def make_oom_cgroup():
    """(cgroup dir, its cgroup.procs, description) for a 64 MiB memory-limited cgroup, or
    (None, None, why not)."""
    name = "llmtap-proctest-%d" % os.getpid()
    limit = str(64 << 20)
    if mount_type("/sys/fs/cgroup") == "cgroup2":
        root = "/sys/fs/cgroup"
        try:
            with open(os.path.join(root, "cgroup.subtree_control")) as f:
                if "memory" not in f.read().split():
                    return None, None, "cgroup v2 without the memory controller enabled at the root"
            d = os.path.join(root, name)
            os.mkdir(d)
            with open(os.path.join(d, "memory.max"), "w") as f:
                f.write(limit)
            if os.path.exists(os.path.join(d, "memory.swap.max")):
                with open(os.path.join(d, "memory.swap.max"), "w") as f:
                    f.write("0")
            return d, os.path.join(d, "cgroup.procs"), "cgroup v2 memory.max 64M"
        except OSError as e:
            return None, None, "cgroup v2 not writable: %s" % e
    # cgroup v1: a child of our own memory cgroup
    path = None
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, ctrls, p = line.rstrip("\n").split(":", 2)
            if "memory" in ctrls.split(","):
                path = p
    base = "/sys/fs/cgroup/memory"
    if path is None or mount_type(base) != "cgroup":
        return None, None, "no cgroup2 at /sys/fs/cgroup and no v1 memory controller"
    try:
        d = os.path.join(base + path, name)
        os.mkdir(d)
        with open(os.path.join(d, "memory.limit_in_bytes"), "w") as f:
            f.write(limit)
        if os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
            with open(os.path.join(d, "memory.memsw.limit_in_bytes"), "w") as f:
                f.write(limit)
        return d, os.path.join(d, "cgroup.procs"), "cgroup v1 memory.limit_in_bytes 64M"
    except OSError as e:
        return None, None, "cgroup v1 memory controller not writable: %s" % e


def case_oom(chk, procs, db, tracer, t0):
    d, cprocs, how = make_oom_cgroup()
    if d is None:
        print("proc: oom check skipped: " + how, flush=True)
        return
    try:
        p = procs.start([PY, "-c", OOM, cprocs], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            out, _ = p.communicate(timeout=OOM_DEADLINE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        if not chk.ok(b"joined" in out, "oom: child joined the %s cgroup" % how, repr(out[:200])):
            return
        chk.eq(p.returncode, -signal.SIGKILL, "oom: child was SIGKILLed (%s)" % how)
        r = wait_for(lambda: (lambda r: r if r and r["exit_ns"] and r["oom_killed"] else None)(
            proc_row(db, p.pid, t0)), ROW_DEADLINE_S, tracer) or proc_row(db, p.pid, t0)
        if chk.ok(r, "oom: processes row", "none for pid %d" % p.pid):
            chk.eq(r["oom_killed"], 1, "oom: processes.oom_killed = 1")
            chk.eq(r["exit_signal"], 9, "oom: exit_signal 9")
    finally:
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.1)


def case_call(chk, procs, db, tracer, t0, tmp, llmtap):
    if not shutil.which("node") or not shutil.which("curl"):
        print("proc: call check skipped: node or curl missing", flush=True)
        return
    cert, key = e2e.make_cert(tmp)
    sp, srv, port = e2e.start_server(procs, cert, key)
    if not chk.ok(port, "call: fake API server listening", srv.text()):
        return
    c = e2e.call("P01-proc-curl-chat", "curl", "openai_chat", False, "openai", None, "openai",
                 "/v1/chat/completions", "openai", "chat")
    p = procs.start(e2e.curl_argv(c, port, cert, os.path.join(tmp, c["tag"])), env=e2e.client_env(cert),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    if not chk.eq(out.strip(), b"200", "call: curl got 200"):
        print(err.decode(errors="replace"))
        return
    wait_exited(db, p.pid, t0, tracer)

    def obj():
        r = subprocess.run([llmtap, "calls", "--db", db, "--json", "-p", str(p.pid)], capture_output=True, timeout=30)
        lines = [json.loads(x) for x in r.stdout.decode().splitlines() if x.strip()]
        return lines[0] if lines and (lines[0].get("process") or {}).get("exit_code") is not None else None
    o = wait_for(obj, ROW_DEADLINE_S, tracer)
    if not chk.ok(o and o.get("process"), "call: calls --json has a \"process\" object", repr(o)):
        return
    pr = o["process"]
    chk.eq(pr.get("ppid"), os.getpid(), "call: process.ppid")
    chk.eq((pr.get("argv") or [None])[0], "curl", "call: process.argv is an array starting with curl")
    chk.ok((pr.get("exe") or "").endswith("/curl"), "call: process.exe", repr(pr.get("exe")))
    chk.ok(isinstance(pr.get("cpu_ms"), (int, float)) and pr["cpu_ms"] > 0, "call: process.cpu_ms > 0",
           repr(pr.get("cpu_ms")))
    chk.eq(pr.get("exit_code"), 0, "call: process.exit_code 0")
    chk.eq(o.get("pid"), p.pid, "call: the call row's pid is unchanged")


def map_ids(name):
    """Ids of the loaded BPF maps called name (bpftool), [] when none or no bpftool."""
    if not shutil.which("bpftool"):
        return []
    r = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, timeout=30)
    try:
        return [m["id"] for m in json.loads(r.stdout.decode() or "[]") if m.get("name") == name]
    except ValueError:
        return []


def map_entries(map_id):
    """(elements of BPF map map_id (bpftool -j, with BTF "formatted"), or None when it cannot be
    dumped; the pid of that bpftool, which is in the map itself)."""
    p = subprocess.Popen(["bpftool", "-j", "map", "dump", "id", str(map_id)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out, _ = p.communicate(timeout=30)
    if p.returncode != 0:
        return None, p.pid
    try:
        return json.loads(out.decode() or "[]"), p.pid
    except ValueError:
        return None, p.pid


def case_maps(chk, tracer, map_id):
    if map_id is None:
        print("proc: map check skipped: no bpftool, or the tracer's cpu_base map not told apart "
              "from another tracer's", flush=True)
        return
    ents, _ = map_entries(map_id)
    if not chk.ok(ents is not None, "maps: bpftool dumps the tracer's cpu_base (id %d)" % map_id):
        return

    def gone():
        out = []
        ents, dumper = map_entries(map_id)
        for e in ents or []:
            f = e.get("formatted", e)
            tid, tgid = f.get("key"), (f.get("value") or {}).get("tgid")
            if tgid != dumper and isinstance(tid, int) and not os.path.exists("/proc/%s/task/%d" % (tgid, tid)):
                out.append((tgid, tid))
        return out
    # a thread may have exited between the dump and the /proc check: poll for a quiet moment
    stale = wait_for(lambda: (lambda g: None if g else "ok")(gone()), 10, tracer)
    chk.ok(stale == "ok", "maps: cpu_base holds no exited thread", repr(gone()[:10]))
    n = len(ents)
    chk.ok(0 < n < 32768, "maps: cpu_base bounded (%d entries)" % n)


def run_suite(args, chk):
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-proc.")
    tracer = terr = None
    try:
        if not e2e.preflight(chk, llmtap):
            return
        db = os.path.join(tmp, "db", "llmtap.db")
        before = set(map_ids("cpu_base"))
        tracer, terr, ready = e2e.start_tracer(procs, llmtap, db, ["--sample-interval", str(SAMPLE_S)])
        if not chk.ok(ready, "tracer: prints 'ready'", "exit status %r" % tracer.poll()):
            return
        ours = [i for i in map_ids("cpu_base") if i not in before]  # other tracers may be running
        map_id = ours[0] if len(ours) == 1 else None
        t0 = time.time_ns()
        for name, fn in (("burn", lambda: case_burn(chk, procs, db, tracer, t0)),
                         ("exit", lambda: case_exit(chk, procs, db, tracer, t0)),
                         ("exec", lambda: case_exec(chk, procs, db, tracer, t0)),
                         ("quiet", lambda: case_quiet(chk, procs, db, tracer, t0, tmp)),
                         ("runq", lambda: case_runq(chk, procs, db, tracer, t0)),
                         ("oom", lambda: case_oom(chk, procs, db, tracer, t0)),
                         ("call", lambda: case_call(chk, procs, db, tracer, t0, tmp, llmtap)),
                         ("maps", lambda: case_maps(chk, tracer, map_id))):
            try:
                fn()
            except Exception as e:  # one broken case must not hide the others
                chk.ok(False, "%s: unexpected exception" % name, repr(e))
                traceback.print_exc()
        chk.ok(tracer.poll() is None, "tracer: still running after every case", "exit status %r" % tracer.poll())
        chk.eq(e2e.stop_tracer(tracer), 0, "tracer: exits 0 within %d s of SIGINT" % e2e.EXIT_DEADLINE_S)
        cols = {t: [r["name"] for r in query(db, "PRAGMA table_info(%s)" % t)] for t in ("processes", "cpu_samples")}
        chk.ok(all(c in cols["processes"] for c in ("pid", "ppid", "comm", "exe", "argv", "start_ns", "exit_ns",
                                                     "exit_code", "exit_signal", "oom_killed", "cpu_ms", "runq_ms")),
               "db: processes has the documented columns", repr(cols["processes"]))
        chk.ok(all(c in cols["cpu_samples"] for c in ("ts_ns", "interval_ms", "pid", "comm", "cpu_ms", "runq_ms",
                                                       "switches")),
               "db: cpu_samples has the documented columns", repr(cols["cpu_samples"]))
    finally:
        procs.cleanup()
        if terr is not None:
            with open(os.path.join(tmp, "llmtap-run.stderr"), "w") as f:
                f.write(terr.text() + "\n")
        if chk.failed and terr is not None:
            print("---- llmtap run stderr ----\n" + terr.text()[-20000:] + "\n---- end ----")
        if chk.failed or args.keep:
            print("proc: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="llmtap process/CPU end-to-end tests")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    chk = Checks(args.verbose)

    def on_term(signum, frame):
        raise SystemExit("proc: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        run_suite(args, chk)
    except Exception as e:
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
    print("proc: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""host_test.py -- llmtap end-to-end tests of the host view: host samples, process resources, zombies,
stuck agents, volume-aware retention, self-observability.

Usage (as root, from anywhere):
    python3 tests/e2e/host_test.py [-v] [--keep]

One `llmtap run --sample-interval 0.5 --zombie-after 1 --stuck-after 2 --listen 0` on a fresh DB,
real processes started by this driver, every wait polling the DB against a deadline:
   1 host      host_samples (CPU shares add up to 100, memory total = /proc/meminfo, load), fs_samples
               of the database's directory (= statvfs), net_samples of lo while the driver talks to
               itself over loopback
   2 res       a memory hog (200 MiB touched) and a disk writer (64 MiB, O_DIRECT) each in its own
               cgroup: processes.rss_bytes within 10% of /proc/PID/status and of the cgroup's
               anonymous memory, processes.disk_write_bytes within 10% of /proc/PID/io and of the
               cgroup's written bytes (v2 io.stat, v1 blkio throttle stats); cpu_samples carry the
               sizes and the bytes of their interval; disk_samples of the device show the writes
   3 zombie    a child of a driver-made parent that never reaps it: an events row process.zombie
               (pid, ppid, parent_comm) within --zombie-after + 2 intervals of its exit
   4 stuck     a python agent (an HTTPS call to the fake API, then blocked reading a silent TCP
               connection): process.stuck within --stuck-after + 2 s, process.resumed once it runs
   5 self      /health "self" and /metrics llmtap_process_resident_memory_bytes, _rows_pending, ...
   6 disk      a second run on a 32 MiB tmpfs filled past --max-disk-pct 50 (old rows + a file): the
               oldest rows deleted until the volume is under 50%, a retention.deleted and a disk.high
               events row, and a call made afterwards is still captured
Ends with the line "host: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import run as e2e  # noqa: E402
from run import Checks, Procs  # noqa: E402

SAMPLE_S = 0.5
ZOMBIE_S = 1.0
STUCK_S = 2.0
DEADLINE_S = 30
POLL_S = 0.1
PY = sys.executable
MiB = 1 << 20

# Joins the cgroups named in argv[1] (comma-separated cgroup.procs files), touches argv[2] MiB,
# says "ready" and waits for stdin to close.
HOG = r"""
import sys, os
for p in sys.argv[1].split(","):
    with open(p, "w") as f:
        f.write(str(os.getpid()))
hog = bytearray(b"\x01") * (int(sys.argv[2]) << 20)
print("ready", flush=True)
sys.stdin.read()
"""

# Joins the cgroups in argv[1], writes argv[3] MiB to file argv[2] with O_DIRECT (accounted to the
# writer and its cgroup alike), says "ready" and waits for stdin to close.
WRITER = r"""
import mmap, os, sys
for p in sys.argv[1].split(","):
    with open(p, "w") as f:
        f.write(str(os.getpid()))
buf = mmap.mmap(-1, 1 << 20)
buf.write(b"w" * (1 << 20))
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)
for _ in range(int(sys.argv[3])):
    os.write(fd, buf)
os.fsync(fd)
os.close(fd)
print("ready", flush=True)
sys.stdin.read()
"""

# Forks a child that exits at once; never reaps it; prints the child's pid; waits for stdin.
ZOMBIE_PARENT = r"""
import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(3)
print(pid, flush=True)
sys.stdin.read()
"""

# An agent: one HTTPS call to the fake API (urllib, the test cert), then a TCP connection to
# argv[3] on which it blocks reading (argv[4]: the API key); prints "blocked" first, and "woke" when data comes.
STUCK_AGENT = r"""
import json, socket, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
req = urllib.request.Request(sys.argv[1], data=json.dumps({"model": "gpt-4o-mini",
      "messages": [{"role": "user", "content": "hi (H-stuck)"}]}).encode(),
      headers={"content-type": "application/json", "authorization": "Bearer " + sys.argv[4],
               "x-test-call": "H-stuck"})
urllib.request.urlopen(req, context=ctx, timeout=30).read()
s = socket.create_connection(("127.0.0.1", int(sys.argv[3])))
print("blocked", flush=True)
s.recv(1)
print("woke", flush=True)
"""


def query(db, sql, args=()):
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def wait_for(pred, timeout, tracer=None):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline or (tracer is not None and tracer.poll() is not None):
            return v
        time.sleep(POLL_S)


def within(got, want, frac):
    return isinstance(got, (int, float)) and want and abs(got - want) <= frac * want


def kv_file(path):
    """{key: int} of a "key value" file (memory.stat, /proc/PID/io, ...)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.replace(":", " ").split()
                if len(parts) >= 2 and parts[1].isdigit():
                    out[parts[0]] = int(parts[1])
    except OSError:
        pass
    return out


def mount_type(path):
    kind = None
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[1] == path:
                kind = parts[2]
    return kind


def whole_disk(dev):
    """major:minor of the whole disk holding device number dev."""
    mm = "%d:%d" % (os.major(dev), os.minor(dev))
    sys_dev = os.path.realpath("/sys/dev/block/" + mm)
    if os.path.exists(os.path.join(sys_dev, "partition")):
        with open(os.path.join(os.path.dirname(sys_dev), "dev")) as f:
            mm = f.read().strip()
    return mm


class Cgroups:
    """A memory cgroup (for the hog) and an I/O cgroup (for the writer), v2 or v1, removed at the end."""

    def __init__(self, tag, disk_dev):
        self.dirs = []
        self.v2 = mount_type("/sys/fs/cgroup") == "cgroup2"
        name = "llmtap-hosttest-%s-%d" % (tag, os.getpid())
        if self.v2:
            with open("/sys/fs/cgroup/cgroup.subtree_control") as f:
                ctl = f.read().split()
            if "memory" not in ctl or "io" not in ctl:
                raise OSError("cgroup v2 without the memory and io controllers enabled at the root")
            self.mem = self.io = self._mk("/sys/fs/cgroup/" + name)
        else:
            own = "/"
            with open("/proc/self/cgroup") as f:
                for line in f:
                    _, ctrls, p = line.rstrip("\n").split(":", 2)
                    if "memory" in ctrls.split(","):
                        own = p
            self.mem = self._mk("/sys/fs/cgroup/memory" + own.rstrip("/") + "/" + name)
            self.io = self._mk("/sys/fs/cgroup/blkio/" + name)
            # v1 blk-throttle counts a group's I/O only when it has a limit: one no one reaches
            with open(os.path.join(self.io, "blkio.throttle.write_bps_device"), "w") as f:
                f.write("%s %d\n" % (whole_disk(disk_dev), 1 << 50))

    def _mk(self, d):
        os.mkdir(d)
        self.dirs.append(d)
        return d

    def procs(self, which):
        return os.path.join(which, "cgroup.procs")

    def anon_bytes(self):
        st = kv_file(os.path.join(self.mem, "memory.stat"))
        return st.get("anon") if self.v2 else st.get("rss")

    def written_bytes(self):
        if self.v2:
            total = 0
            with open(os.path.join(self.io, "io.stat")) as f:
                for line in f:
                    for kv in line.split()[1:]:
                        k, _, v = kv.partition("=")
                        if k == "wbytes":
                            total += int(v)
            return total
        total = 0
        with open(os.path.join(self.io, "blkio.throttle.io_service_bytes")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[1] == "Write":
                    total += int(parts[2])
        return total

    def remove(self):
        for d in reversed(self.dirs):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)


def proc_row(db, pid):
    rows = query(db, "SELECT * FROM processes WHERE pid = ? ORDER BY updated_ns DESC LIMIT 1", (pid,))
    return rows[0] if rows else None


def events(db, name, pid=None):
    sql = "SELECT * FROM events WHERE name = ?" + (" AND pid = ?" if pid else "") + " ORDER BY ts_ns"
    rows = query(db, sql, (name, pid) if pid else (name,))
    for r in rows:
        r["attrs"] = json.loads(r["attributes"] or "{}")
    return rows


def case_host(chk, db, tracer):
    # loopback traffic of our own, so lo moves
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname())
    a, _ = srv.accept()
    t_end = time.monotonic() + 2
    while time.monotonic() < t_end:
        c.sendall(b"x" * 65536)
        a.recv(1 << 20)
    c.close()
    a.close()
    srv.close()
    rows = wait_for(lambda: (lambda r: r if len(r) >= 3 else None)(
        query(db, "SELECT * FROM host_samples ORDER BY ts_ns")), DEADLINE_S, tracer) or []
    if not chk.ok(len(rows) >= 3, "host: host_samples rows every interval", "%d rows" % len(rows)):
        return
    r = rows[-1]
    total = sum(r[k] for k in ("cpu_user_pct", "cpu_system_pct", "cpu_iowait_pct", "cpu_steal_pct",
                               "cpu_idle_pct"))
    chk.ok(abs(total - 100) < 0.5, "host: CPU shares add up to 100%", "%.2f" % total)
    chk.ok(within(r["interval_ms"], SAMPLE_S * 1000, 0.5), "host: interval_ms about --sample-interval",
           repr(r["interval_ms"]))
    mem = kv_file("/proc/meminfo")
    chk.eq(r["mem_total_bytes"], mem["MemTotal"] * 1024, "host: mem_total_bytes = /proc/meminfo MemTotal")
    chk.ok(0 < r["mem_used_bytes"] < r["mem_total_bytes"] and r["mem_available_bytes"] > 0,
           "host: memory used and available within the total", repr((r["mem_used_bytes"], r["mem_available_bytes"])))
    chk.ok(r["load1"] is not None and r["load1"] >= 0 and r["cpus"] == os.cpu_count(),
           "host: load averages and the CPU count", repr((r["load1"], r["cpus"])))
    dbdir = os.path.dirname(db)
    fs = query(db, "SELECT * FROM fs_samples WHERE path = ? ORDER BY ts_ns DESC LIMIT 1", (dbdir,))
    if chk.ok(fs, "host: fs_samples row for the database's directory"):
        v = os.statvfs(dbdir)
        f = fs[0]
        chk.eq(f["total_bytes"], v.f_blocks * v.f_frsize, "host: fs total_bytes = statvfs")
        chk.ok(within(f["avail_bytes"], v.f_bavail * v.f_frsize, 0.05), "host: fs avail_bytes about statvfs",
               repr((f["avail_bytes"], v.f_bavail * v.f_frsize)))
        chk.ok(f["mount"] and f["fstype"] and 0 < f["used_pct"] < 100, "host: fs mount, type, used_pct",
               repr((f["mount"], f["fstype"], f["used_pct"])))
    lo = query(db, "SELECT * FROM net_samples WHERE iface = 'lo' ORDER BY rx_bps DESC LIMIT 1")
    chk.ok(lo and lo[0]["rx_bps"] > 1e6, "host: net_samples show the loopback traffic (> 1 MB/s)",
           repr(lo[:1]))


def read_proc(pid, name):
    return kv_file("/proc/%d/%s" % (pid, name))


def case_res(chk, procs, db, tracer, tmp):
    try:
        cg = Cgroups("res", os.stat(tmp).st_dev)
    except OSError as e:
        print("host: res check skipped: no writable memory and I/O cgroups: %s" % e, flush=True)
        return
    try:
        hog = procs.start([PY, "-c", HOG, cg.procs(cg.mem), "200"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE)
        wr = procs.start([PY, "-c", WRITER, cg.procs(cg.io), os.path.join(tmp, "written.bin"), "64"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for p, name in ((hog, "hog"), (wr, "writer")):
            chk.ok(p.stdout.readline().strip() == b"ready", "res: %s ready" % name)
        # llmtap's row once a sample after the work is in (the work is done: values stop moving).
        # The wait asks for 1 %: a sample taken while the hog was still filling its 200 MiB
        # (CI saw 198.4 of 213.2 MiB) is within the checks' 10 % but not the hog at rest.
        want_rss = read_proc(hog.pid, "status").get("VmRSS", 0) * 1024
        r = wait_for(lambda: (lambda r: r if r and within(r["rss_bytes"], want_rss, 0.01) else None)(
            proc_row(db, hog.pid)), DEADLINE_S, tracer) or proc_row(db, hog.pid) or {}
        now_rss = read_proc(hog.pid, "status").get("VmRSS", 0) * 1024
        chk.ok(within(r.get("rss_bytes"), now_rss, 0.10), "res: hog rss_bytes within 10% of /proc VmRSS",
               "%r vs %r" % (r.get("rss_bytes"), now_rss))
        anon = cg.anon_bytes()
        chk.ok(within(r.get("rss_bytes"), anon, 0.10), "res: hog rss_bytes within 10% of the cgroup's anon memory",
               "%r vs %r" % (r.get("rss_bytes"), anon))
        if r.get("rss_bytes") and now_rss and anon:
            print("host: hog rss_bytes %.1f MiB; /proc VmRSS %.1f MiB (%+.1f%%); cgroup anon %.1f MiB (%+.1f%%)"
                  % (r["rss_bytes"] / MiB, now_rss / MiB, 100.0 * (r["rss_bytes"] - now_rss) / now_rss,
                     anon / MiB, 100.0 * (r["rss_bytes"] - anon) / anon), flush=True)
        chk.ok(r.get("rss_bytes") and r["rss_bytes"] > 200 * MiB and r.get("rss_max_bytes", 0) >= r["rss_bytes"],
               "res: hog over 200 MiB, rss_max_bytes >= rss_bytes", repr((r.get("rss_bytes"), r.get("rss_max_bytes"))))
        chk.ok(r.get("num_threads") == 1 and r.get("fds", 0) >= 3 and r.get("state") in ("S", "R"),
               "res: hog threads, open fds, state", repr((r.get("num_threads"), r.get("fds"), r.get("state"))))
        want_w = read_proc(wr.pid, "io").get("write_bytes", 0)
        w = wait_for(lambda: (lambda r: r if r and within(r["disk_write_bytes"], want_w, 0.10) else None)(
            proc_row(db, wr.pid)), DEADLINE_S, tracer) or proc_row(db, wr.pid) or {}
        chk.ok(within(w.get("disk_write_bytes"), want_w, 0.10),
               "res: writer disk_write_bytes within 10% of /proc/PID/io write_bytes",
               "%r vs %r" % (w.get("disk_write_bytes"), want_w))
        cw = cg.written_bytes()
        chk.ok(within(w.get("disk_write_bytes"), cw, 0.10),
               "res: writer disk_write_bytes within 10% of the cgroup's written bytes",
               "%r vs %r" % (w.get("disk_write_bytes"), cw))
        if w.get("disk_write_bytes") and want_w and cw:
            print("host: writer disk_write_bytes %.2f MiB; /proc write_bytes %.2f MiB (%+.2f%%); cgroup %.2f MiB "
                  "(%+.2f%%)" % (w["disk_write_bytes"] / MiB, want_w / MiB,
                                 100.0 * (w["disk_write_bytes"] - want_w) / want_w, cw / MiB,
                                 100.0 * (w["disk_write_bytes"] - cw) / cw), flush=True)
        chk.ok(w.get("write_bytes") and w["write_bytes"] >= 64 * MiB, "res: writer write_bytes (wchar) >= 64 MiB",
               repr(w.get("write_bytes")))
        s = query(db, "SELECT sum(disk_write_bytes) AS w, max(rss_bytes) AS rss FROM cpu_samples WHERE pid = ?",
                  (wr.pid,))
        chk.ok(s and within(s[0]["w"], w.get("disk_write_bytes"), 0.10),
               "res: the writer's cpu_samples add up to its disk_write_bytes", repr(s))
        hs = query(db, "SELECT max(rss_bytes) AS rss FROM cpu_samples WHERE pid = ?", (hog.pid,))
        chk.ok(hs and within(hs[0]["rss"], r.get("rss_bytes"), 0.10), "res: the hog's cpu_samples carry its RSS",
               repr(hs))
        dev = os.path.basename(os.path.realpath("/sys/dev/block/" + whole_disk(os.stat(tmp).st_dev)))
        d = query(db, "SELECT max(write_bps) AS bps FROM disk_samples WHERE device = ?", (dev,))
        chk.ok(d and d[0]["bps"] and d[0]["bps"] > 1 * MiB, "res: disk_samples of %s show the writes" % dev, repr(d))
        for p in (hog, wr):
            p.stdin.close()
            p.wait(timeout=20)
    finally:
        cg.remove()


def case_zombie(chk, procs, db, tracer):
    parent = procs.start([PY, "-c", ZOMBIE_PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child = int(parent.stdout.readline())
    evs = wait_for(lambda: events(db, "process.zombie", child), DEADLINE_S, tracer)
    if chk.ok(evs, "zombie: events row process.zombie for the unreaped child", "pid %d" % child):
        e = evs[0]
        chk.eq(e["attrs"].get("ppid"), parent.pid, "zombie: ppid is the parent not reaping")
        chk.eq(e["attrs"].get("parent_comm"), os.path.basename(PY)[:15], "zombie: parent_comm")
        chk.eq((e["source"], e["severity"]), ("llmtap", "warning"), "zombie: source and severity")
        exit_ns = e["attrs"].get("exit_ns")
        late = (e["ts_ns"] - exit_ns) / 1e9 if exit_ns else None
        if late is not None:
            print("host: zombie reported %.2f s after its exit (--zombie-after %.1f, interval %.1f)"
                  % (late, ZOMBIE_S, SAMPLE_S), flush=True)
        chk.ok(late is not None and late <= ZOMBIE_S + 2 * SAMPLE_S + 0.3,
               "zombie: reported within --zombie-after + 2 intervals of its exit",
               "%r s after the exit (%.1f + 2 x %.1f allowed)" % (late, ZOMBIE_S, SAMPLE_S))
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    r = subprocess.run([llmtap, "events", "--db", db, "--json", "--source", "llmtap", "-p", str(child)],
                       capture_output=True, timeout=30)
    objs = [json.loads(x) for x in r.stdout.decode().splitlines() if x.strip()]
    chk.ok(r.returncode == 0 and [o["name"] for o in objs] == ["process.zombie"],
           "zombie: llmtap events --json -p lists it", r.stdout.decode()[-500:])
    r = subprocess.run([llmtap, "host", "--db", db, "--limit", "3"], capture_output=True, timeout=30)
    lines = r.stdout.decode().splitlines()
    chk.ok(r.returncode == 0 and len(lines) == 4 and lines[0].split()[:3] == ["TIME", "CPU%", "IOW%"],
           "host: llmtap host --limit 3 prints a header and 3 samples", r.stdout.decode()[-800:])
    parent.stdin.close()
    parent.wait(timeout=10)
    time.sleep(3 * SAMPLE_S)
    chk.eq(len(events(db, "process.zombie", child)), 1, "zombie: reported once")


def case_stuck(chk, procs, db, tracer, tmp):
    cert, key = e2e.make_cert(tmp)
    sp, srv, port = e2e.start_server(procs, cert, key)
    if not chk.ok(port, "stuck: fake API server listening", srv.text()):
        return
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    agent = procs.start([PY, "-c", STUCK_AGENT, "https://127.0.0.1:%d/v1/chat/completions" % port, cert,
                         str(silent.getsockname()[1]), e2e.E["keys"]["openai"]], stdout=subprocess.PIPE)
    silent.settimeout(30)
    try:
        conn, _ = silent.accept()
    except OSError as e:
        chk.ok(False, "stuck: agent connects to the silent server", repr(e))
        return
    chk.ok(agent.stdout.readline().strip() == b"blocked", "stuck: agent made its call and blocks")
    call = wait_for(lambda: query(db, "SELECT id FROM llm_calls WHERE pid = ?", (agent.pid,)), DEADLINE_S, tracer)
    chk.ok(call, "stuck: the agent's call is recorded")
    t0 = time.time_ns()
    ev = wait_for(lambda: events(db, "process.stuck", agent.pid), STUCK_S + DEADLINE_S, tracer)
    if chk.ok(ev, "stuck: events row process.stuck"):
        chk.ok(ev[0]["attrs"].get("connections", 0) >= 1 and ev[0]["attrs"].get("idle_s", 0) >= STUCK_S,
               "stuck: with its open connection(s) and idle seconds", repr(ev[0]["attrs"]))
        chk.ok((ev[0]["ts_ns"] - t0) / 1e9 <= STUCK_S + 3, "stuck: within --stuck-after + 3 s of blocking",
               "%.2f s" % ((ev[0]["ts_ns"] - t0) / 1e9))
    conn.sendall(b"x")
    chk.ok(agent.stdout.readline().strip() == b"woke", "stuck: agent woke")
    agent.wait(timeout=10)
    conn.close()
    silent.close()
    # it ran again before it exited: resumed (when a sample caught it alive)
    res = wait_for(lambda: events(db, "process.resumed", agent.pid), 5, tracer)
    chk.ok(res or proc_row(db, agent.pid), "stuck: resumed (or exited) after data came",
           repr(res))


def case_self(chk, port):
    h = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=10).read())
    s = h.get("self") or {}
    chk.ok(s.get("rss_bytes", 0) > MiB and s.get("cpu_seconds", -1) > 0 and s.get("open_fds", 0) > 3,
           "self: /health self has llmtap's RSS, CPU, open files", repr(s))
    chk.ok(all(k in s for k in ("rows_pending", "inbox_queued", "spans_waiting", "processes_tracked",
                                "open_connections", "db_volume_used_pct")) and s["processes_tracked"] > 0,
           "self: /health self has the queues and open connections", repr(s))
    m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
    vals = {}
    for line in m.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            vals[k] = float(v)
    chk.ok(vals.get("llmtap_process_resident_memory_bytes", 0) > MiB and
           vals.get("llmtap_process_cpu_seconds_total", 0) > 0 and "llmtap_rows_pending" in vals and
           "llmtap_inbox_queued" in vals and "llmtap_open_connections" in vals,
           "self: /metrics has llmtap's RSS, CPU, rows pending, queues",
           repr({k: v for k, v in vals.items() if "process" in k or "rows" in k}))


def fill_db(db, n, size):
    """n llm_calls rows of size bytes each, one second apart starting a day ago (oldest first)."""
    conn = sqlite3.connect(db, timeout=10)
    t0 = time.time_ns() - 86400 * 10**9
    conn.executemany("INSERT INTO llm_calls (id, pid, comm, start_ns, request_body) VALUES (?,?,?,?,?)",
                     [("filler-%06d" % i, 1, "filler", t0 + i * 10**9, "F" * size) for i in range(n)])
    conn.commit()
    conn.close()


def disk_used_pct(path):
    v = os.statvfs(path)
    used = (v.f_blocks - v.f_bfree) * v.f_frsize
    avail = v.f_bavail * v.f_frsize
    return 100.0 * used / (used + avail)


def case_disk(chk, procs, tmp, llmtap):
    vol = os.path.join(tmp, "vol")
    os.mkdir(vol)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "llmtap-test", vol],
                       capture_output=True)
    if not chk.ok(r.returncode == 0, "disk: tmpfs mounted", r.stderr.decode(errors="replace")):
        return
    try:
        db = os.path.join(vol, "llmtap.db")
        t, terr, ready = e2e.start_tracer(procs, llmtap, db, ["--duration", "1"])
        chk.eq(e2e.stop_tracer(t, timeout=20), 0, "disk: a first run makes the database")
        fill_db(db, 800, 16000)
        with open(os.path.join(vol, "other.bin"), "wb") as f:
            f.write(b"o" * (6 * MiB))
        before = disk_used_pct(vol)
        n0 = query(db, "SELECT count(*) AS n, min(start_ns) AS lo FROM llm_calls")[0]
        chk.ok(before > 55, "disk: volume filled past 50%% (%.1f%%)" % before)
        cert, key = e2e.make_cert(tmp)
        sp, srv, port = e2e.start_server(procs, cert, key)
        t, terr, ready = e2e.start_tracer(procs, llmtap, db, ["--max-disk-pct", "50", "--sample-interval", "0.5"])
        if not chk.ok(ready, "disk: tracer ready on the full volume", terr.text()):
            return
        ev = wait_for(lambda: events(db, "retention.deleted"), DEADLINE_S, t)
        if chk.ok(ev, "disk: an events row retention.deleted", terr.text()[-2000:]):
            a = ev[-1]["attrs"]
            chk.ok(a.get("reason") == "max-disk-pct" and a.get("rows", 0) > 0 and a.get("limit") == 50 and
                   (a.get("tables") or {}).get("llm_calls", 0) > 0,
                   "disk: it says why, how many rows and of which tables", repr(a))
        after = wait_for(lambda: (lambda p: p if p <= 50 else None)(disk_used_pct(vol)), DEADLINE_S, t)
        chk.ok(after, "disk: the volume gets under --max-disk-pct 50 (the file shrinks)",
               "%.1f%%" % disk_used_pct(vol))
        n1 = query(db, "SELECT count(*) AS n, min(start_ns) AS lo FROM llm_calls WHERE id LIKE 'filler-%'")[0]
        chk.ok(0 < n1["n"] < n0["n"] and n1["lo"] > n0["lo"], "disk: the oldest rows went first, newer stay",
               "%r -> %r" % (n0, n1))
        chk.ok(events(db, "disk.high"), "disk: an events row disk.high for the volume")
        c = e2e.call("H-disk-curl", "curl", "openai_chat", False, "openai", None, "openai",
                     "/v1/chat/completions", "openai", "chat")
        p = procs.start(e2e.curl_argv(c, port, cert, os.path.join(tmp, c["tag"])), env=e2e.client_env(cert),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _ = p.communicate(timeout=60)
        chk.eq(out.strip(), b"200", "disk: curl got 200")
        row = wait_for(lambda: query(db, "SELECT id FROM llm_calls WHERE pid = ?", (p.pid,)), DEADLINE_S, t)
        chk.ok(row, "disk: capture goes on: the call made afterwards is recorded", terr.text()[-2000:])
        chk.ok(t.poll() is None, "disk: tracer still running")
        chk.eq(e2e.stop_tracer(t), 0, "disk: tracer exits 0")
    finally:
        subprocess.run(["umount", "-l", vol], capture_output=True)


def run_suite(args, chk):
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-host.", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    tracer = terr = None
    try:
        if not e2e.preflight(chk, llmtap):
            return
        db = os.path.join(tmp, "db", "llmtap.db")
        tracer, terr, ready = e2e.start_tracer(procs, llmtap, db, [
            "--sample-interval", str(SAMPLE_S), "--zombie-after", str(ZOMBIE_S), "--stuck-after", str(STUCK_S),
            "--listen", "0"])
        if not chk.ok(ready, "tracer: prints 'ready'", "exit status %r" % tracer.poll()):
            return
        line = terr.wait_for(lambda l: "serving /health" in l, 1) or ""
        port = int(line.rsplit(":", 1)[1]) if line else None
        for name, fn in (("host", lambda: case_host(chk, db, tracer)),
                         ("res", lambda: case_res(chk, procs, db, tracer, tmp)),
                         ("zombie", lambda: case_zombie(chk, procs, db, tracer)),
                         ("stuck", lambda: case_stuck(chk, procs, db, tracer, tmp)),
                         ("self", lambda: case_self(chk, port))):
            try:
                fn()
            except Exception as e:
                chk.ok(False, "%s: unexpected exception" % name, repr(e))
                traceback.print_exc()
        chk.ok(tracer.poll() is None, "tracer: still running after every case", "exit status %r" % tracer.poll())
        chk.eq(e2e.stop_tracer(tracer), 0, "tracer: exits 0 within %d s of SIGINT" % e2e.EXIT_DEADLINE_S)
        try:
            case_disk(chk, procs, tmp, llmtap)
        except Exception as e:
            chk.ok(False, "disk: unexpected exception", repr(e))
            traceback.print_exc()
    finally:
        procs.cleanup()
        if terr is not None:
            with open(os.path.join(tmp, "llmtap-run.stderr"), "w") as f:
                f.write(terr.text() + "\n")
        if chk.failed and terr is not None:
            print("---- llmtap run stderr ----\n" + terr.text()[-20000:] + "\n---- end ----")
        if chk.failed or args.keep:
            print("host: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="llmtap host view end-to-end tests")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    chk = Checks(args.verbose)

    def on_term(signum, frame):
        raise SystemExit("host: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        run_suite(args, chk)
    except Exception as e:
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
    print("host: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

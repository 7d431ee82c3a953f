#!/usr/bin/env python3
"""dns_test.py -- llmtap end-to-end test of DNS lookups: a private name server in a network namespace, real resolvers, assertions on dns_lookups.

Usage (as root, from anywhere):
    python3 tests/e2e/dns_test.py [--keep] [-v]

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    --keep                  keep the temp dir (DB, logs) even when all passed
    -v                      print every passing check too

What it does (python3 stdlib only):
  1. `ip netns add llmtap-dns-PID`, loopback up, /etc/netns/NAME/resolv.conf -> 127.0.0.1
     (`ip netns exec` bind-mounts it on /etc/resolv.conf inside the namespace)
  2. this file run as `--responder` inside the namespace: a UDP name server on 127.0.0.1:53
     answering *.llmtap.test A with 127.0.0.1 and AAAA with no data, after DELAY_MS, and
     NXDOMAIN for anything else; it logs every query
  3. `$LLMTAP run --db TMP/llmtap.db --dns-probes all` on the host, waits for "ready"
  4. inside the namespace: python3 socket.getaddrinfo (a name that resolves, one that does
     not), curl (resolver thread), node dns.lookup (libuv threadpool)
  5. polls dns_lookups until every expected row is there, SIGINTs the tracer (exit 0 within 5 s)
  6. asserts the getaddrinfo rows (name, addrs, result/rcode, latency within
     [DELAY_MS - 2, DELAY_MS + 25] ms, pid/tid/comm) and the udp rows (qtype, rcode,
     NXDOMAIN, server 127.0.0.1:53, latency), that the responder's own traffic left no row,
     and `llmtap dns` (text and --json)
  7. again with the default, --dns-probes clients: a copy of python3 looks a name up (udp rows
     only, no breakpoint in its libc), makes a TLS call, is probed, looks up another (a
     getaddrinfo row); a second run of the copy is probed from its exec on, with no call (in
     the namespace, and in the tracer's own mount namespace, looking up localhost); the
     system python3, which made no call, is not; the links go when the clients exit
Cleans up everything it creates: processes, the namespace, /etc/netns/NAME, the temp dir.
Ends with the line "dns: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Checks, LineReader, Procs  # noqa: E402  (shared with the other suites)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

DELAY_MS = 150
LAT_LOW_MS = DELAY_MS - 2
LAT_HIGH_MS = DELAY_MS + 25
ZONE = ".llmtap.test"
ANSWER = "127.0.0.1"
READY_DEADLINE_S = 30
CLIENT_DEADLINE_S = 20
ROWS_DEADLINE_S = 15
EXIT_DEADLINE_S = 5
POLL_S = 0.05

NAME_PY = "api.llmtap.test"
NAME_NX = "nope.llmtap.invalid"
NAME_CURL = "curl.llmtap.test"
NAME_NODE = "node.llmtap.test"
NAME_RAW_SENDTO = "sendto.llmtap.test"
NAME_RAW_SENDMSG = "sendmsg.llmtap.test"
NAME_GO = "go.llmtap.test"
# --dns-probes clients (the default): lookups before and after a process's first call
NAME_PRE = "precall.llmtap.test"
NAME_POST = "postcall.llmtap.test"
NAME_RERUN = "rerun.llmtap.test"
NAME_OTHER = "other.llmtap.test"

# Go's own resolver (no libc): a connected UDP socket per question, written with write()
# and read with read().
GO_CLIENT = r"""
package main

import (
	"context"
	"fmt"
	"net"
	"os"
)

func main() {
	r := &net.Resolver{PreferGo: true}
	addrs, err := r.LookupHost(context.Background(), os.Args[1])
	fmt.Println(addrs, err)
}
"""

# A resolver of its own on an unconnected socket: sendto/recvfrom, then sendmsg/recvmsg
# (the paths musl, c-ares and Go take), with no getaddrinfo involved.
# A process in `--dns-probes clients` mode (argv: mode cert key names...). Whether
# getaddrinfo is probed in it shows in its own memory: the kernel writes the
# breakpoint into its copy of libc's text (a page copied: anonymous memory in
# that file mapping). Modes: "call" looks names[0] up, makes a TLS call (to
# its own server, by IP: no lookup), waits to be probed, looks names[1] up;
# "rerun" waits to be probed without any call, then looks names[0] up;
# "none" looks names[0] up and says whether it was probed. Prints JSON.
LEAN_CLIENT = r"""
import json, re, socket, ssl, sys, threading, time

def probed():
    cur, kb = None, 0
    for line in open("/proc/self/smaps"):
        if re.match(r"^[0-9a-f]+-", line):
            cur = line.split()
        elif line.startswith("Anonymous:") and cur and cur[1] == "r-xp" and "libc.so" in cur[-1]:
            kb += int(line.split()[1])
    return kb > 0

def wait_probed(s):
    end = time.monotonic() + s
    while not probed() and time.monotonic() < end:
        time.sleep(0.02)
    return probed()

def tls_call(cert, key):
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    def serve():
        c, _ = ls.accept()
        s = sctx.wrap_socket(c, server_side=True)
        s.recv(4096)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        s.close()
    t = threading.Thread(target=serve)
    t.start()
    cctx = ssl.create_default_context()
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    s = cctx.wrap_socket(socket.create_connection(ls.getsockname()))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    got = s.recv(4096)
    s.close()
    t.join()
    return got.endswith(b"ok")

mode, cert, key, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
out = {}
if mode == "call":
    socket.getaddrinfo(names[0], 443)
    out["before_call"] = probed()
    out["call_ok"] = tls_call(cert, key)
    out["after_call"] = wait_probed(5)
    socket.getaddrinfo(names[1], 443)
elif mode == "rerun":
    out["probed"] = wait_probed(5)
    socket.getaddrinfo(names[0], 443)
else:
    time.sleep(0.5)
    out["probed"] = probed()
    socket.getaddrinfo(names[0], 443)
print(json.dumps(out))
"""

RAW_CLIENT = r"""
import socket, struct, sys
def query(qid, name):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(query(0x5151, sys.argv[1]), ("127.0.0.1", 53))
r1, _ = s.recvfrom(512)
s.sendmsg([query(0x5252, sys.argv[2])], [], 0, ("127.0.0.1", 53))
r2, _, _, _ = s.recvmsg(512)
print(len(r1), len(r2), r1[:2].hex(), r2[:2].hex())
"""


# ---- the name server (runs inside the namespace) -----------------------------

def parse_query(pkt):
    """(id, flags, qname, qtype, question bytes) of a DNS query; raises ValueError when malformed."""
    if len(pkt) < 12:
        raise ValueError("short")
    qid, flags, qd = struct.unpack("!HHH", pkt[:6])
    if qd < 1:
        raise ValueError("no question")
    pos, labels = 12, []
    while True:
        n = pkt[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 or pos + 1 + n > len(pkt):
            raise ValueError("bad name")
        labels.append(pkt[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    qtype, _qclass = struct.unpack("!HH", pkt[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, pkt[12:pos + 4]


def answer(pkt):
    """The response to query pkt: A 127.0.0.1 / AAAA no data for *.llmtap.test, else NXDOMAIN."""
    qid, flags, qname, qtype, question = parse_query(pkt)
    ours = qname.lower().endswith(ZONE)
    rcode = 0 if ours else 3
    answers = b""
    if ours and qtype == 1:
        answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ANSWER)
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x0100) | 0x0080 | rcode, 1,
                      1 if answers else 0, 0, 0)
    return qname, qtype, rcode, hdr + question + answers


def responder(port, delay_ms):
    """Serve until killed; one JSON line per query on stdout, "listening" first."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    lock = threading.Lock()

    def log(obj):
        with lock:
            print(json.dumps(obj), flush=True)

    log({"event": "listening", "pid": os.getpid()})
    while True:
        pkt, peer = s.recvfrom(4096)
        try:
            qname, qtype, rcode, resp = answer(pkt)
        except (ValueError, IndexError, struct.error) as e:
            log({"event": "malformed", "error": str(e)})
            continue
        log({"event": "query", "name": qname, "qtype": qtype, "rcode": rcode, "t": time.monotonic()})
        # Each answer on its own timer: the A and AAAA queries glibc sends together both wait delay_ms.
        threading.Timer(delay_ms / 1000.0, s.sendto, args=(resp, peer)).start()


# ---- the driver --------------------------------------------------------------

class Env(Procs):
    """Everything the test creates (processes, the namespace), so cleanup() can undo it all."""

    def __init__(self):
        super().__init__()
        self.netns = None
        self.netns_dir = None
        self.made_netns_root = False

    def add_netns(self, name):
        subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
        self.netns = name
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=30)
        root = "/etc/netns"
        if not os.path.isdir(root):
            os.makedirs(root, mode=0o755)
            self.made_netns_root = True
        self.netns_dir = os.path.join(root, name)
        os.makedirs(self.netns_dir, mode=0o755, exist_ok=True)
        with open(os.path.join(self.netns_dir, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")

    def cleanup(self):
        super().cleanup()
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.netns_dir:
            shutil.rmtree(self.netns_dir, ignore_errors=True)
        if self.made_netns_root:
            try:
                os.rmdir("/etc/netns")
            except OSError:
                pass


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


def run_client(env, chk, ns, name, argv, expect_rc=(0,)):
    """Runs argv inside the namespace to completion. Returns (pid, stdout text)."""
    p = env.start(in_ns(ns, argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=CLIENT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
    text = out.decode("utf-8", "replace")
    chk.ok(p.returncode in expect_rc, "client %s: exit status" % name,
           "exit %r, output: %s" % (p.returncode, text.strip()[-400:]))
    return p.pid, text


def rows(db):
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    except sqlite3.Error:
        return []
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM dns_lookups ORDER BY start_ns")]
    except sqlite3.Error:
        return []
    finally:
        con.close()


def find(all_rows, **kw):
    return [r for r in all_rows if all(r.get(k) == v for k, v in kw.items())]


def wait_rows(db, wanted, timeout, tracer):
    """Polls until every (source, name, qtype-or-None) in wanted has a row, the deadline or the tracer's end."""
    deadline = time.monotonic() + timeout
    while True:
        got = rows(db)
        missing = [w for w in wanted
                   if not [r for r in got if r["source"] == w[0] and r["name"] == w[1]
                           and (w[2] is None or r["qtype"] == w[2])]]
        if not missing or time.monotonic() >= deadline or tracer.poll() is not None:
            return got, missing
        time.sleep(POLL_S)


def latency_ok(chk, r, what):
    ms = r.get("latency_ms")
    chk.ok(ms is not None and LAT_LOW_MS <= ms <= LAT_HIGH_MS, what + ": latency_ms near the injected delay",
           "got %r, want [%d, %d]" % (ms, LAT_LOW_MS, LAT_HIGH_MS))


def check_gai(chk, all_rows, name, pid, comm, t0, t1, other_thread=False):
    """The one getaddrinfo row of a successful lookup of name by pid."""
    got = find(all_rows, source="getaddrinfo", name=name)
    if not chk.eq(len(got), 1, "%s getaddrinfo: one row" % name):
        return
    r = got[0]
    chk.eq(r["pid"], pid, "%s getaddrinfo: pid" % name)
    chk.eq(r["comm"], comm, "%s getaddrinfo: comm" % name)
    if other_thread:
        chk.ok(r["tid"] != r["pid"], "%s getaddrinfo: resolved on a thread other than the main one" % name,
               "tid %r == pid" % r["tid"])
    chk.ok(ANSWER in (r["addrs"] or "").split(","), "%s getaddrinfo: addrs contains %s" % (name, ANSWER),
           "addrs %r" % r["addrs"])
    chk.eq(r["addrs"], ANSWER, "%s getaddrinfo: duplicates removed (one per socket type)" % name)
    chk.eq(r["rcode"], 0, "%s getaddrinfo: rcode" % name)
    chk.eq(r["result"], "NOERROR", "%s getaddrinfo: result" % name)
    chk.eq(r["qtype"], "A,AAAA", "%s getaddrinfo: qtype" % name)
    chk.eq(r["server"], None, "%s getaddrinfo: no server" % name)
    chk.ok(t0 <= r["start_ns"] <= t1, "%s getaddrinfo: start_ns within the test" % name,
           "%r not in [%d, %d]" % (r["start_ns"], t0, t1))
    chk.ok(len(r["id"] or "") == 36, "%s getaddrinfo: uuid id" % name)
    latency_ok(chk, r, "%s getaddrinfo" % name)


def check_udp(chk, all_rows, name, pid, rcode, result, with_answer):
    """The A and AAAA udp rows of name's lookup by pid."""
    for qtype in ("A", "AAAA"):
        got = find(all_rows, source="udp", name=name, qtype=qtype)
        what = "%s udp %s" % (name, qtype)
        if not chk.ok(len(got) >= 1, what + ": a row", "rows: %r" % got):
            continue
        r = got[0]
        chk.eq(r["pid"], pid, what + ": pid")
        chk.eq(r["rcode"], rcode, what + ": rcode")
        chk.eq(r["result"], result, what + ": result")
        chk.eq(r["server"], "127.0.0.1:53", what + ": server")
        want = ANSWER if (with_answer and qtype == "A") else ""
        chk.eq(r["addrs"], want, what + ": addrs")
        latency_ok(chk, r, what)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--responder", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=53, help=argparse.SUPPRESS)
    ap.add_argument("--delay-ms", type=int, default=DELAY_MS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.responder:
        responder(args.port, args.delay_ms)
        return 0

    chk = Checks(args.v)
    llmtap = os.path.abspath(os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap"))
    env = Env()
    tmp = tempfile.mkdtemp(prefix="llmtap-dns-")
    ns = "llmtap-dns-%d" % os.getpid()
    st = {"tracer": None, "terr": None}
    try:
        run(chk, env, llmtap, tmp, ns, st, args.v)
    except (OSError, subprocess.SubprocessError, sqlite3.Error, ValueError) as e:
        chk.ok(False, "driver: ran to the end", "%s: %s" % (type(e).__name__, e))
    finally:
        if st["tracer"] is not None and st["tracer"].poll() is None:
            stop_tracer(st["tracer"])
        env.cleanup()
    if os.geteuid() == 0:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=30).stdout.decode()
        chk.ok(ns not in listed.split() and not os.path.exists(os.path.join("/etc/netns", ns)),
               "cleanup: namespace and /etc/netns/%s removed" % ns)
    return finish(chk, tmp, args, st["terr"])


def run(chk, env, llmtap, tmp, ns, st, verbose):
    """Every step and assertion; whatever it starts is registered in env (cleaned up by the caller)."""
    db = os.path.join(tmp, "llmtap.db")
    if not chk.ok(os.geteuid() == 0, "preflight: running as root", "needs root (netns, BPF)"):
        return
    if not chk.ok(os.access(llmtap, os.X_OK), "preflight: llmtap binary", llmtap + " missing (make)"):
        return
    for tool in ("ip", "curl", "node"):
        chk.ok(shutil.which(tool), "preflight: %s on PATH" % tool)
    env.add_netns(ns)
    py = sys.executable

    srv = env.start(in_ns(ns, [py, os.path.abspath(__file__), "--responder", "--delay-ms", str(DELAY_MS)]),
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    slog = LineReader(srv.stdout)
    if not chk.ok(slog.wait_for(lambda l: '"listening"' in l, 15), "responder: listening in the namespace",
                  slog.text()[-500:]):
        return

    # getaddrinfo probed in every process: the resolvers below make no call first.
    tracer = st["tracer"] = env.start([llmtap, "run", "--db", db, "--dns-probes", "all"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    terr = st["terr"] = LineReader(tracer.stderr)
    if not chk.ok(terr.wait_for(lambda l: l.startswith("ready"), READY_DEADLINE_S), "tracer: ready",
                  terr.text()[-2000:]):
        return
    check_hooks(chk, tracer.pid)
    t0 = time.time_ns()

    code = ("import socket,sys\n"
            "print(sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 443)}))\n")
    py_pid, out = run_client(env, chk, ns, "python ok", [py, "-c", code, NAME_PY])
    chk.ok(ANSWER in out, "client python: resolved %s to %s" % (NAME_PY, ANSWER), out.strip())

    code_nx = ("import socket,sys\n"
               "try:\n    socket.getaddrinfo(sys.argv[1], 443)\n    print('resolved')\n"
               "except socket.gaierror as e:\n    print('gaierror', e.errno)\n")
    nx_pid, out = run_client(env, chk, ns, "python nxdomain", [py, "-c", code_nx, NAME_NX])
    chk.ok("gaierror -2" in out, "client python: %s fails with EAI_NONAME" % NAME_NX, out.strip())

    # Nothing listens on port 9: the lookup is what matters, the connect is refused.
    curl_pid, _ = run_client(env, chk, ns, "curl",
                             ["curl", "-s", "-o", "/dev/null", "-m", "5", "http://%s:9/" % NAME_CURL],
                             expect_rc=(7,))
    code_node = ("require('dns').lookup(process.argv[1], {all: true}, (e, a) => {"
                 " console.log(e ? 'error ' + e.code : JSON.stringify(a)); });")
    node_pid, out = run_client(env, chk, ns, "node", ["node", "-e", code_node, NAME_NODE])
    chk.ok(ANSWER in out, "client node: resolved %s" % NAME_NODE, out.strip())
    go_bin = build_go(chk, tmp)
    go_pid = None
    if go_bin:
        go_pid, out = run_client(env, chk, ns, "go resolver", [go_bin, NAME_GO])
        chk.ok(ANSWER in out, "client go: resolved %s" % NAME_GO, out.strip())
    raw_pid, out = run_client(env, chk, ns, "python raw udp",
                              [py, "-c", RAW_CLIENT, NAME_RAW_SENDTO, NAME_RAW_SENDMSG])
    chk.ok("5151 5252" in out, "client raw udp: both answers received", out.strip())
    t1 = time.time_ns()

    wanted = [("getaddrinfo", n, None) for n in (NAME_PY, NAME_NX, NAME_CURL, NAME_NODE)]
    wanted += [("udp", n, q) for n in (NAME_PY, NAME_NX) for q in ("A", "AAAA")]
    wanted += [("udp", n, "A") for n in (NAME_RAW_SENDTO, NAME_RAW_SENDMSG)]
    if go_pid:
        wanted += [("udp", NAME_GO, q) for q in ("A", "AAAA")]
    all_rows, missing = wait_rows(db, wanted, ROWS_DEADLINE_S, tracer)
    chk.ok(not missing, "rows: every expected lookup recorded", "missing %r" % missing)
    status = stop_tracer(tracer)
    chk.eq(status, 0, "tracer: exits 0 on SIGINT")
    all_rows = rows(db)
    if verbose:
        for r in all_rows:
            print("row", json.dumps(r))

    check_gai(chk, all_rows, NAME_PY, py_pid, "python3", t0, t1)
    check_udp(chk, all_rows, NAME_PY, py_pid, 0, "NOERROR", True)
    check_gai(chk, all_rows, NAME_CURL, curl_pid, "curl", t0, t1, other_thread=True)
    check_gai(chk, all_rows, NAME_NODE, node_pid, "node", t0, t1, other_thread=True)

    nx = find(all_rows, source="getaddrinfo", name=NAME_NX)
    if chk.eq(len(nx), 1, "%s getaddrinfo: one row" % NAME_NX):
        chk.eq(nx[0]["pid"], nx_pid, "%s getaddrinfo: pid" % NAME_NX)
        chk.eq(nx[0]["rcode"], -2, "%s getaddrinfo: rcode is EAI_NONAME (-2)" % NAME_NX)
        chk.eq(nx[0]["result"], "EAI_NONAME", "%s getaddrinfo: result" % NAME_NX)
        chk.eq(nx[0]["addrs"], "", "%s getaddrinfo: no addrs" % NAME_NX)
        latency_ok(chk, nx[0], "%s getaddrinfo" % NAME_NX)
    check_udp(chk, all_rows, NAME_NX, nx_pid, 3, "NXDOMAIN", False)
    for name in (NAME_RAW_SENDTO, NAME_RAW_SENDMSG):
        got = find(all_rows, source="udp", name=name)
        what = "%s udp (unconnected socket)" % name
        if chk.eq(len(got), 1, what + ": one row"):
            chk.eq(got[0]["pid"], raw_pid, what + ": pid")
            chk.eq(got[0]["qtype"], "A", what + ": qtype")
            chk.eq(got[0]["addrs"], ANSWER, what + ": addrs")
            chk.eq(got[0]["server"], "127.0.0.1:53", what + ": server")
            chk.eq(got[0]["result"], "NOERROR", what + ": result")
            latency_ok(chk, got[0], what)
        chk.eq(find(all_rows, source="getaddrinfo", name=name), [], what + ": no getaddrinfo row")

    if go_pid:
        check_udp(chk, all_rows, NAME_GO, go_pid, 0, "NOERROR", True)
        chk.eq(find(all_rows, source="getaddrinfo", name=NAME_GO), [], "%s: no getaddrinfo row" % NAME_GO)

    # The name server's own datagrams (from/to client ports) are not lookups.
    srv_pid = None
    for line in slog.lines:
        if '"listening"' in line:
            srv_pid = json.loads(line).get("pid")
    chk.ok(srv_pid and not find(all_rows, pid=srv_pid), "responder: its own traffic left no row")
    queries = [json.loads(l) for l in slog.lines if '"query"' in l]
    chk.ok(len([q for q in queries if q["name"] == NAME_PY]) >= 2,
           "responder: saw the A and AAAA queries of %s" % NAME_PY, "%r" % queries)

    # The CLI.
    r = subprocess.run([llmtap, "dns", "--db", db, "--json", "--limit", "100"], capture_output=True, timeout=30)
    chk.eq(r.returncode, 0, "cli: llmtap dns --json exit status")
    lines = [l for l in r.stdout.decode().splitlines() if l.strip()]
    try:
        objs = [json.loads(l) for l in lines]
    except ValueError:
        objs = []
    chk.eq(len(objs), len(all_rows), "cli: llmtap dns --json prints one object per row")
    want_cols = ["id", "pid", "tid", "comm", "name", "qtype", "addrs", "rcode", "result", "source",
                 "start_ns", "latency_ms", "server"]
    chk.ok(objs and all(list(o.keys()) == want_cols for o in objs), "cli: --json keys are the columns",
           "%r" % (list(objs[0].keys()) if objs else None))
    r = subprocess.run([llmtap, "dns", "--db", db, "--limit", "2"], capture_output=True, timeout=30)
    text = r.stdout.decode()
    chk.ok(r.returncode == 0 and text.startswith("TIME") and len(text.splitlines()) == 3,
           "cli: llmtap dns --limit 2 prints a header and 2 rows", text)
    r = subprocess.run([llmtap, "dns", "--db", db, "--limit", "x"], capture_output=True, timeout=30)
    chk.eq(r.returncode, 2, "cli: bad --limit is a usage error")

    run_clients_mode(chk, env, llmtap, tmp, ns, st)


def uprobe_links(pid):
    """How many uprobe_multi links process pid holds."""
    n = 0
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                n += any(l.startswith("link_type:") and "probe_multi" in l for l in f)
        except OSError:
            pass
    return n


def run_clients_mode(chk, env, llmtap, tmp, ns, st):
    """The default, --dns-probes clients: getaddrinfo is probed in a process once it has made a
    call (TLS here), and from the exec on in later runs of its program; a process that makes no
    call is not probed at all (its lookups are still udp rows); the links go when it exits."""
    db = os.path.join(tmp, "clients.db")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=llmtap-dns"],
                       capture_output=True, timeout=60)
    if not chk.eq(r.returncode, 0, "clients: test certificate made"):
        return
    # A program no tracer has seen make a call: a copy of the interpreter (its own inode).
    prog = os.path.join(tmp, "py-client")
    shutil.copy(os.path.realpath(sys.executable), prog)
    tracer = st["tracer"] = env.start([llmtap, "run", "--db", db], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
    terr = st["terr"] = LineReader(tracer.stderr)
    if not chk.ok(terr.wait_for(lambda l: l.startswith("ready"), READY_DEADLINE_S), "clients: tracer ready",
                  terr.text()[-2000:]):
        return
    links0 = uprobe_links(tracer.pid)

    def client(name, argv):
        pid, out = run_client(env, chk, ns, name, argv)
        try:
            return pid, json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            chk.ok(False, "client %s: prints its JSON" % name, out[-400:])
            return pid, {}

    call_pid, call = client("clients call", [prog, "-c", LEAN_CLIENT, "call", cert, key, NAME_PRE, NAME_POST])
    chk.eq(call.get("before_call"), False, "clients: no breakpoint in a process before its first call")
    chk.eq(call.get("call_ok"), True, "clients: the TLS call went through")
    chk.eq(call.get("after_call"), True, "clients: getaddrinfo probed in it after its first call")
    rerun_pid, rerun = client("clients rerun", [prog, "-c", LEAN_CLIENT, "rerun", cert, key, NAME_RERUN])
    chk.eq(rerun.get("probed"), True, "clients: a later run of a client's program is probed with no call")
    other_pid, other = client("clients other", [sys.executable, "-c", LEAN_CLIENT, "none", cert, key, NAME_OTHER])
    chk.eq(other.get("probed"), False, "clients: another program that made no call is not probed")
    # The same program run in the tracer's own mount namespace (the namespace's runs above are
    # in one of `ip netns exec`'s): its exec does not wait for the timed drain either.
    p = env.start([prog, "-c", LEAN_CLIENT, "rerun", cert, key, "localhost"], stdout=subprocess.PIPE,
                  stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=CLIENT_DEADLINE_S)
    host_pid = p.pid
    chk.ok('"probed": true' in out.decode(errors="replace"),
           "clients: a later run in the tracer's mount namespace is probed with no call", out[-400:])

    wanted = [("getaddrinfo", NAME_POST, None), ("getaddrinfo", NAME_RERUN, None), ("getaddrinfo", "localhost", None)]
    wanted += [("udp", n, "A") for n in (NAME_PRE, NAME_POST, NAME_RERUN, NAME_OTHER)]
    got, missing = wait_rows(db, wanted, ROWS_DEADLINE_S, tracer)
    chk.ok(not missing, "clients: every expected lookup recorded", "missing %r" % missing)
    post = find(got, source="getaddrinfo", name=NAME_POST)
    chk.ok(len(post) == 1 and post[0]["pid"] == call_pid, "clients: the lookup after the call is a getaddrinfo row",
           "%r" % post)
    again = find(got, source="getaddrinfo", name=NAME_RERUN)
    chk.ok(len(again) == 1 and again[0]["pid"] == rerun_pid and again[0]["addrs"] == ANSWER,
           "clients: the rerun's first lookup is a getaddrinfo row", "%r" % again)
    local = find(got, source="getaddrinfo", name="localhost", pid=host_pid)
    chk.eq(len(local), 1, "clients: the run in our mount namespace: its lookup is a getaddrinfo row")
    for name, pid in ((NAME_PRE, call_pid), (NAME_OTHER, other_pid)):
        chk.eq(find(got, source="getaddrinfo", name=name), [], "clients: %s (no call yet): no getaddrinfo row" % name)
        udp = find(got, source="udp", name=name, qtype="A")
        chk.ok(len(udp) == 1 and udp[0]["pid"] == pid and udp[0]["addrs"] == ANSWER,
               "clients: %s is seen by its UDP packets" % name, "%r" % udp)
    deadline = time.monotonic() + 5
    while uprobe_links(tracer.pid) != links0 and time.monotonic() < deadline:
        time.sleep(POLL_S)
    chk.eq(uprobe_links(tracer.pid), links0, "clients: the exited clients' getaddrinfo links released")
    chk.eq(stop_tracer(tracer), 0, "clients: tracer exits 0 on SIGINT")


def check_hooks(chk, tracer_pid):
    """The udp side hangs on the socket layer's length reports, not on syscall tracepoints: one of
    those (any) puts every thread of the host on the kernel's slow syscall path."""
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    r = subprocess.run([bpftool, "-j", "perf", "show"], capture_output=True, timeout=30)
    if not chk.ok(r.returncode == 0, "hooks: bpftool perf show", r.stderr.decode(errors="replace")[-500:]):
        return
    mine = [h for h in json.loads(r.stdout or b"[]") if h.get("pid") == tracer_pid]
    tps = {h.get("tracepoint") for h in mine if h.get("fd_type") == "raw_tracepoint"}
    chk.ok({"sock_send_length", "sock_recv_length"} <= tps, "hooks: sock_send_length and sock_recv_length attached",
           "%r" % sorted(tps))
    # one program each on the host-wide socket tracepoints: every further one is another dispatch
    # on every TCP send, receive or state change of the host (bpf/chain.bpf.h runs the rest)
    for tp in ("sock_send_length", "sock_recv_length", "inet_sock_set_state"):
        n = sum(1 for h in mine if h.get("fd_type") == "raw_tracepoint" and h.get("tracepoint") == tp)
        chk.eq(n, 1, "hooks: one program attached to %s" % tp)
    sys_tps = [h.get("tracepoint") for h in mine if h.get("fd_type") == "tracepoint"]
    chk.eq(sys_tps, [], "hooks: no syscall tracepoint attached (the host's syscalls keep their fast path)")


def build_go(chk, tmp):
    """GO_CLIENT built with Debian's Go into tmp; None (a failed check) when it cannot be."""
    if not chk.ok(shutil.which("go"), "build: go on PATH (Debian golang-go, `make test-deps`)"):
        return None
    src, out = os.path.join(tmp, "resolve.go"), os.path.join(tmp, "resolve")
    with open(src, "w") as f:
        f.write(GO_CLIENT)
    env = dict(os.environ, GOCACHE=os.path.join(tmp, "gocache"), GO111MODULE="off",
               GOPATH=os.path.join(tmp, "gopath"), CGO_ENABLED="0")
    r = subprocess.run(["go", "build", "-o", out, src], env=env, capture_output=True, timeout=600)
    if not chk.ok(r.returncode == 0, "build: go resolver client", r.stderr.decode(errors="replace")[-1500:]):
        return None
    return out


def stop_tracer(tracer, timeout=EXIT_DEADLINE_S):
    if tracer.poll() is None:
        tracer.send_signal(signal.SIGINT)
    try:
        return tracer.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return "still running"


def finish(chk, tmp, args, terr):
    if chk.failed and terr is not None:
        print("---- llmtap run stderr (last lines)")
        print("\n".join(terr.text().splitlines()[-40:]))
    if chk.failed or args.keep:
        print("dns: temp dir kept: " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("dns: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

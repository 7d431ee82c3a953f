# latency_test.py -- llmtap latency-split end-to-end suite: injected DNS/TLS/first-byte/stream/upload delays and connect failures in private network namespaces, checked against llm_calls and connections.
"""Usage (as root, from anywhere):
    python3 tests/e2e/latency_test.py [-v] [--keep]

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    -v                      print every passing check (and the latency columns of every row)
    --keep                  keep the temp dir even when everything passed

Ground truth is injected, never assumed (python3 stdlib only; helpers from run.py):
  * two network namespaces of our own, "C" (clients) and "S" (a remote server), joined by a veth
    pair 10.213.7.1/30 (C, lt0) <-> 10.213.7.2/30 (S, lt1); a second pair lt2 (C, 10.213.7.5/30)
    <-> lt3 (S, no address) where 10.213.7.6 has a permanent neighbour entry with a fake MAC, so
    SYNs sent to it vanish. C has /etc/netns/C/resolv.conf (nameserver 127.0.0.1) and
    /etc/netns/C/hosts (no test name), which `ip netns exec` bind-mounts.
  * in C: latency_server.py dns on 127.0.0.1:53 answers the test names after a set delay
    (api.latency.test D_DNS, net.latency.test NET_DNS, model/up.latency.test FAST_DNS), and
    latency_server.py https on 127.0.0.1 with one listening port per TLS delay; in S the same
    server on 10.213.7.2 for the upload case. Per request headers set the delay before the
    response headers (ttfb), the gap between stream events and their number.
  * the upload case shapes lt0's egress (C -> S) with a TBF qdisc (8 mbit): TBF on C's loopback
    would have to pass 64 KiB packets (lo's MTU) through a 4 KiB bucket, a veth segments to 1500.
  * clients (inside C): python3 urllib and http.client keep-alive (latency_client.py), and curl;
    all resolve through getaddrinfo and the namespace's resolv.conf.
  * `llmtap run` runs on the host: its uprobes and tracepoints see every namespace.
Cases and what each checks (bounds in ms):
  L1  urllib, non-stream, fresh connection: dns, connect, tls, ttfb, duration, upload, conn_reused,
      the connections row (same conn_id, dns_name, tls_ms, dns_ms, connect_ms, pid, address)
  L2  curl, stream: the same plus ttft ~ ttfb and duration ~ ttfb + events * gap
  L3  http.client, one keep-alive connection: call a (stream) as L2, call b reused: conn_reused=1,
      dns/connect/tls NULL, same conn_id; the connection row counts 2 calls
  L4  ttfb 600, small dns/tls: verdict 'model'; `llmtap show` names the parts and the verdict
  L5  dns 250 + tls 400, ttfb 10: verdict 'network'; `llmtap show` likewise
  L6  1 MiB POST through the 8 mbit TBF: upload_ms 50%..200% of body bits / rate, verdict 'network'
  L7  connect to a port with no listener: connections row connect_error 'refused', a reset
      received or a zero duration, connect_ms NULL
  L8  connect to the blackholed address (curl --connect-timeout 2.5): connect_error 'timeout',
      retransmits >= 1, connect_ms NULL
Bounds (ms): dns [D-2, D+25], tls [D-2, D+30], ttfb/ttft/duration [D-2, D+30], connect < 20, upload < 20
(fresh calls); each upper bound is raised by how late the injecting server actually was (its log), so
a loaded host does not fail the tracer. L6: [50%, 200%] of the expected upload time.
Every process, namespace, /etc/netns/NAME directory and qdisc it creates is removed at the end,
also on exceptions and SIGTERM. Waits poll against deadlines. The last line is
"latency: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import json
import os
import re
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
from run import Checks, LineReader, Procs  # noqa: E402

SERVER = os.path.join(HERE, "latency_server.py")
CLIENT = os.path.join(HERE, "latency_client.py")
PY = sys.executable

# The injected delays (ms).
D_DNS, D_TLS, D_TTFB, D_GAP, N_EVENTS = 120, 150, 200, 40, 6     # L1, L2, L3
KA_TTFB, KA_GAP, KA_EVENTS = 100, 30, 4                             # L3
FAST_DNS = 5                                                        # L4, L6
MODEL_TTFB = 600                                                    # L4
NET_DNS, NET_TLS, NET_TTFB = 250, 400, 10                           # L5
UP_BYTES, UP_RATE_BITS, UP_TTFB = 1 << 20, 8_000_000, 10            # L6
# L8: the SYN is sent again 1 s after the first (TCP's initial RTO), by a timer; a curl that gave
# up at 1.5 s once left with none counted on a loaded CI host, so the wait covers two resends
CONNECT_TIMEOUT_S = 2.5                                             # L8

# The tolerances the brief sets.
DNS_LOW, DNS_HIGH = 2, 25
TLS_LOW, TLS_HIGH = 2, 30
T_LOW, T_HIGH = 2, 30          # ttfb, ttft, duration
CONNECT_MAX = 20
UPLOAD_SMALL = 20
UP_BAND = (0.5, 2.0)

NAME_SPLIT = "api.latency.test"
NAME_MODEL = "model.latency.test"
NAME_NET = "net.latency.test"
NAME_UP = "up.latency.test"
NAMES = [NAME_SPLIT, NAME_MODEL, NAME_NET, NAME_UP]

C_ADDR, S_ADDR = "10.213.7.1", "10.213.7.2"
BH_LOCAL, BH_ADDR, BH_MAC = "10.213.7.5", "10.213.7.6", "02:00:00:00:00:99"
REFUSED_PORT = 9               # nothing listens on it in our fresh namespace
TBF = ["tbf", "rate", "8mbit", "burst", "32kbit", "latency", "400ms"]

READY_DEADLINE_S = 30
SERVER_DEADLINE_S = 15
CLIENT_DEADLINE_S = 30
ROWS_DEADLINE_S = 30
EXIT_EXTRA_S = 25          # after the 5 s of the contract, only to report how late an exit is
POLL_S = 0.05

TAGS = ["L1-urllib-split", "L2-curl-stream", "L3a-keepalive-first", "L3b-keepalive-reused",
        "L4-verdict-model", "L5-verdict-network", "L6-upload"]
LAT_COLS = ["dns_ms", "connect_ms", "tls_ms", "client_ms", "upload_ms", "ttfb_ms", "ttft_ms",
            "duration_ms", "tokens_per_s", "verdict", "conn_reused", "conn_id"]
SHOW_STOP = {"response text", "request headers", "request body", "response headers", "response body"}


def sh(argv, timeout=30):
    """Runs a setup command; raises with its stderr when it fails."""
    r = subprocess.run(argv, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                r.stderr.decode(errors="replace").strip()))
    return r.stdout.decode(errors="replace")


class Netns:
    """The namespaces, /etc/netns dirs and qdiscs this suite creates; cleanup() removes each of them."""

    def __init__(self):
        self.spaces = []   # namespace names, in creation order
        self.etc = []      # /etc/netns/NAME directories
        self.qdiscs = []   # (namespace, dev)

    def add(self, name, resolv=None, hosts=None):
        if resolv is not None or hosts is not None:
            d = os.path.join("/etc/netns", name)
            if os.path.exists(d):
                raise RuntimeError("%s exists already" % d)
            self.etc.append(d)
            os.makedirs(d)
            for fname, text in (("resolv.conf", resolv), ("hosts", hosts)):
                if text is not None:
                    with open(os.path.join(d, fname), "w") as f:
                        f.write(text)
        sh(["ip", "netns", "add", name])
        self.spaces.append(name)
        sh(["ip", "-n", name, "link", "set", "lo", "up"])

    def qdisc(self, ns, dev, spec):
        sh(["tc", "-n", ns, "qdisc", "add", "dev", dev, "root"] + spec)
        self.qdiscs.append((ns, dev))

    def cleanup(self):
        """Removes everything; returns the list of problems (never raises)."""
        problems = []
        for ns, dev in reversed(self.qdiscs):
            try:
                sh(["tc", "-n", ns, "qdisc", "del", "dev", dev, "root"])
            except Exception as e:
                problems.append(repr(e))
        for ns in reversed(self.spaces):
            try:
                # Anything still inside is a process we started there (the namespace is ours).
                for pid in sh(["ip", "netns", "pids", ns]).split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
                sh(["ip", "netns", "del", ns])
            except Exception as e:
                problems.append(repr(e))
        for d in reversed(self.etc):
            try:
                shutil.rmtree(d)
            except OSError as e:
                problems.append(repr(e))
        return problems


def client_env():
    return {k: v for k, v in os.environ.items() if k not in e2e.PROXY_VARS}


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    san = "subjectAltName=" + ",".join(["DNS:" + n for n in NAMES] +
                                       ["DNS:localhost", "IP:127.0.0.1", "IP:" + S_ADDR])
    e2e.run_cmd(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=llmtap-latency",
                 "-addext", san], 60).check_returncode()
    return cert, key


def start_server(procs, ns, mode, cfg, path):
    """latency_server.py MODE in namespace ns. Returns (LineReader, the "listening" event or None)."""
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = procs.start(in_ns(ns, [PY, SERVER, mode, path]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    rd = LineReader(p.stdout)
    line = rd.wait_for(lambda l: '"listening"' in l, SERVER_DEADLINE_S)
    return rd, (json.loads(line) if line else None)


def knobs(tag, ttfb, gap=0, events=N_EVENTS):
    return {"x-test-call": tag, "x-lat-ttfb-ms": str(ttfb), "x-lat-gap-ms": str(gap),
            "x-lat-events": str(events), "authorization": "Bearer sk-latency-test-not-a-key"}


def chat_body(tag, stream, pad=0):
    b = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Latency test %s.%s"
                                               % (tag, "x" * pad)}]}
    if stream:
        b.update(stream=True, stream_options={"include_usage": True})
    return b


def wait_proc(p, timeout):
    """(returncode, stdout, stderr), the process killed when it outlives timeout."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return "timeout", out, err
    return p.returncode, out, err


def run_curl(procs, ns, argv, timeout=CLIENT_DEADLINE_S):
    p = procs.start(in_ns(ns, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=client_env())
    rc, out, err = wait_proc(p, timeout)
    return p.pid, rc, out.decode(errors="replace"), err.decode(errors="replace")


def curl_call(procs, ns, tmp, cert, tag, url, headers, body):
    """One chat call with curl; returns (pid, exit status, http status text, response body)."""
    d = os.path.join(tmp, tag)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "req.json"), "w") as f:
        json.dump(body, f)
    argv = ["curl", "-sS", "--max-time", str(CLIENT_DEADLINE_S), "--cacert", cert, "-H", "Expect:",
            "-H", "content-type: application/json", "-o", os.path.join(d, "body"),
            "-w", "%{http_code}", "--data-binary", "@" + os.path.join(d, "req.json")]
    for k, v in headers.items():
        argv += ["-H", "%s: %s" % (k, v)]
    pid, rc, out, err = run_curl(procs, ns, argv + [url])
    try:
        with open(os.path.join(d, "body"), encoding="utf-8", errors="replace") as f:
            resp = f.read()
    except OSError:
        resp = ""
    return pid, rc, out.strip() + (" " + err.strip() if err.strip() else ""), resp


def py_calls(procs, ns, tmp, cert, mode, calls):
    """latency_client.py with calls [(tag, url, headers, body)]; returns (exit status, {tag: result})."""
    spec = {"cafile": cert, "mode": mode,
            "calls": [{"tag": t, "url": u, "headers": h, "body": b} for t, u, h, b in calls]}
    path = os.path.join(tmp, "py-%s-%s.json" % (mode, calls[0][0]))
    with open(path, "w") as f:
        json.dump(spec, f)
    p = procs.start(in_ns(ns, [PY, CLIENT, path]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    env=client_env())
    rc, out, err = wait_proc(p, CLIENT_DEADLINE_S)
    res = {}
    for line in out.decode(errors="replace").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        res[r.get("tag")] = r
    if rc != 0:
        print("---- latency_client.py (%s) stderr ----\n%s" % (mode, err.decode(errors="replace")[-3000:]))
    return rc, res


def summary(body, stream):
    """(text, completion_tokens) of an OpenAI chat response body as a client reads it."""
    try:
        if not stream:
            js = json.loads(body)
            return js["choices"][0]["message"]["content"], js["usage"]["completion_tokens"]
        text, usage = "", None
        for line in body.splitlines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            js = json.loads(line[6:])
            for ch in js.get("choices") or []:
                text += (ch.get("delta") or {}).get("content") or ""
            usage = js.get("usage") or usage
        return text, usage and usage["completion_tokens"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        return "unparsable: %r" % e, None


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def within(chk, v, lo, hi, name):
    return chk.ok(num(v) and lo <= v <= hi, name, "got %r, want in [%g, %g]" % (v, lo, hi))


def open_db(db):
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
    conn.row_factory = sqlite3.Row
    return conn


def read_db(db):
    """({tag: [llm_calls rows]}, [connections rows], llm_calls column names); empty on a DB error."""
    try:
        conn = open_db(db)
    except sqlite3.Error:
        return {}, [], []
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(llm_calls)")]
        rows = [dict(r) for r in conn.execute("SELECT * FROM llm_calls")]
        try:
            conns = [dict(r) for r in conn.execute("SELECT * FROM connections")]
        except sqlite3.Error:
            conns = []
    except sqlite3.Error:
        return {}, [], []
    finally:
        conn.close()
    by = {}
    for r in rows:
        r = dict({c: None for c in LAT_COLS}, **r)
        for t in TAGS:
            if t in (r.get("request_headers") or ""):
                by.setdefault(t, []).append(r)
    return by, conns, cols


def conn_row(conns, cid):
    got = [c for c in conns if cid is not None and c.get("id") == cid]
    return got[0] if len(got) == 1 else None


def fail_rows(conns, pid, daddr, dport):
    return [c for c in conns if c.get("pid") == pid and c.get("daddr") == daddr and c.get("dport") == dport]


def wait_db(db, tracer, want_fail):
    """Polls until every tag has a row, every row's conn_id a connections row, and each
    (pid, daddr, dport) of want_fail a connections row; the deadline or the tracer's exit ends it."""
    deadline = time.monotonic() + ROWS_DEADLINE_S
    while True:
        by, conns, _ = read_db(db)
        ids = {c.get("id") for c in conns}
        done = (all(by.get(t) for t in TAGS) and
                all(r.get("conn_id") is None or r["conn_id"] in ids for t in TAGS for r in by[t]) and
                all(fail_rows(conns, *f) for f in want_fail))
        if done or time.monotonic() >= deadline or tracer.poll() is not None:
            return done
        time.sleep(POLL_S)


def show_text(out, cols):
    """`llmtap show` output without its field dump lines (an unindented column name and its value)
    and without the header/body sections, so a word found there comes from the latency part."""
    keep = []
    for line in out.splitlines():
        if line.strip().lower() in SHOW_STOP:
            break
        m = re.match(r"([A-Za-z_]+)\s", line)
        if m and m.group(1) in cols:
            continue
        keep.append(line)
    return "\n".join(keep)


def check_show(chk, llmtap, db, r, cols, t):
    res = e2e.run_cmd([llmtap, "show", "--db", db, r["id"]], 30)
    out = res.stdout.decode(errors="replace")
    if not chk.eq(res.returncode, 0, t + "`llmtap show ID` exit status"):
        print(res.stderr.decode(errors="replace"))
        return
    part = show_text(out, cols).lower()
    want = [w for w, col in (("dns", "dns_ms"), ("connect", "connect_ms"), ("tls", "tls_ms"),
                             ("upload", "upload_ms"), ("wait", "ttfb_ms")) if r.get(col) is not None]
    if r.get("stream") == 1:
        want.append("stream")
    missing = [w for w in want if w not in part]
    chk.ok(not missing, t + "`llmtap show` names the latency parts %s" % want,
           "missing %s in:\n%s" % (missing, show_text(out, cols)))
    v = r.get("verdict") or "?"
    lines = [l for l in out.splitlines() if "verdict" in l.lower() and re.search(r"\b%s\b" % re.escape(v), l, re.I)]
    chk.ok(r.get("verdict") and lines, t + "`llmtap show` prints the verdict %r" % r.get("verdict"),
           "no line naming the verdict in:\n" + out[:3000])


class Truth:
    """What the servers actually did, from their logs: a loaded host may sleep longer than asked, so
    each upper bound is the tolerance above the actual time, each lower bound the tolerance below
    the injected one (a server is never early)."""

    def __init__(self, dns, *https):
        self.ev = [e for rd in https for e in e2e.server_events(rd)]
        self.dns = e2e.server_events(dns)

    def request(self, tag):
        got = [e for e in self.ev if e.get("event") == "request" and e.get("tag") == tag]
        return got[0] if len(got) == 1 else {}

    def dns_late(self, name):
        """The latest reply for name (A or AAAA), ms after its due time."""
        return max([e.get("late_ms") or 0 for e in self.dns if e.get("event") == "reply" and
                    e.get("name") == name] or [0])

    def tls_late(self, tag):
        req = self.request(tag)
        hs = [e for e in self.ev if e.get("event") == "handshake" and e.get("conn") == req.get("conn")]
        return max(0, hs[0]["waited_ms"] - hs[0]["tls_delay_ms"]) if hs else 0

    def first(self, tag, injected):
        return self.request(tag).get("first_ms", injected)

    def last(self, tag, injected):
        return self.request(tag).get("last_ms", injected)


def check_dns(chk, v, truth, name, d, t):
    late = truth.dns_late(name)
    within(chk, v, d - DNS_LOW, d + late + DNS_HIGH, t + "dns_ms ~ injected %d (responder %.1f ms late)"
           % (d, late))


def check_tls(chk, v, truth, tag, d, t):
    late = truth.tls_late(tag)
    within(chk, v, d - TLS_LOW, d + late + TLS_HIGH, t + "tls_ms ~ injected %d (server %.1f ms late)" % (d, late))


def check_wait(chk, r, truth, tag, d_ttfb, t, stream=False, gap=0, events=0):
    """ttfb (and for a stream ttft and duration; else duration) against the server's send times."""
    first = truth.first(tag, d_ttfb)
    within(chk, r.get("ttfb_ms"), d_ttfb - T_LOW, first + T_HIGH,
           t + "ttfb_ms ~ injected %d (sent at %.1f)" % (d_ttfb, first))
    if stream:
        within(chk, r.get("ttft_ms"), d_ttfb - T_LOW, first + T_HIGH,
               t + "ttft_ms ~ injected %d, the first content event went with the headers (sent at %.1f)"
               % (d_ttfb, first))
        dur, last = d_ttfb + events * gap, truth.last(tag, d_ttfb + events * gap)
        within(chk, r.get("duration_ms"), dur - T_LOW, last + T_HIGH,
               t + "duration_ms ~ %d + %d x %d (last byte sent at %.1f)" % (d_ttfb, events, gap, last))
    else:
        within(chk, r.get("duration_ms"), d_ttfb - T_LOW, first + T_HIGH,
               t + "duration_ms ~ %d (sent at %.1f)" % (d_ttfb, first))


def check_fresh(chk, r, conns, truth, tag, name, port, pid, d_dns, d_tls, d_ttfb, stream=False, gap=0, events=0):
    """The checks of a call on a new connection (brief item 1)."""
    t = tag + ": "
    check_dns(chk, r.get("dns_ms"), truth, name, d_dns, t)
    chk.ok(num(r.get("connect_ms")) and 0 <= r["connect_ms"] < CONNECT_MAX, t + "connect_ms not NULL, < %d"
           % CONNECT_MAX, "got %r" % r.get("connect_ms"))
    check_tls(chk, r.get("tls_ms"), truth, tag, d_tls, t)
    check_wait(chk, r, truth, tag, d_ttfb, t, stream, gap, events)
    chk.ok(num(r.get("upload_ms")) and 0 <= r["upload_ms"] < UPLOAD_SMALL, t + "upload_ms >= 0 and < %d"
           % UPLOAD_SMALL, "got %r" % r.get("upload_ms"))
    chk.eq(r.get("conn_reused"), 0, t + "conn_reused")
    c = conn_row(conns, r.get("conn_id"))
    if not chk.ok(c is not None, t + "connections row with the call's conn_id",
                  "conn_id %r; connections ids %r" % (r.get("conn_id"), [x.get("id") for x in conns][-10:])):
        return None
    chk.eq(c.get("dns_name"), name, t + "connections.dns_name")
    chk.ok(num(c.get("tls_ms")) and num(r.get("tls_ms")) and abs(c["tls_ms"] - r["tls_ms"]) < 0.001,
           t + "connections.tls_ms equals the call's", "conn %r, call %r" % (c.get("tls_ms"), r.get("tls_ms")))
    chk.ok(num(c.get("dns_ms")) and num(r.get("dns_ms")) and abs(c["dns_ms"] - r["dns_ms"]) < 0.001,
           t + "connections.dns_ms equals the call's", "conn %r, call %r" % (c.get("dns_ms"), r.get("dns_ms")))
    chk.ok(num(c.get("connect_ms")) and num(r.get("connect_ms")) and
           abs(c["connect_ms"] - r["connect_ms"]) < 0.001, t + "connections.connect_ms equals the call's",
           "conn %r, call %r" % (c.get("connect_ms"), r.get("connect_ms")))
    chk.eq((c.get("pid"), c.get("daddr"), c.get("dport")), (pid, "127.0.0.1", port),
           t + "connections pid, daddr, dport")
    chk.eq(c.get("connect_error"), None, t + "connections.connect_error NULL")
    return c


def dump_rows(db):
    by, conns, _ = read_db(db)
    print("---- latency columns of the calls ----")
    for t in TAGS:
        for r in by.get(t, []):
            print("%-22s %s" % (t, " ".join("%s=%s" % (k, r.get(k)) for k in LAT_COLS)))
    print("---- connections ----")
    for c in conns:
        print(" ".join("%s=%s" % (k, c.get(k)) for k in (
            "id", "pid", "comm", "daddr", "dport", "connect_ms", "connect_error", "dns_ms", "dns_name",
            "tls_ms", "retransmits", "resets_rx", "resets_tx", "duration_ms", "llm_calls")))


def run_suite(args):
    chk = Checks(args.verbose)
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    procs = Procs()
    net = Netns()
    tmp = tempfile.mkdtemp(prefix="llmtap-latency.")
    terr = None
    readers = []

    def on_term(signum, frame):
        raise SystemExit("latency: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        if not e2e.preflight(chk, llmtap):
            return chk
        for tool in ("ip", "tc", "curl", "openssl"):
            if not chk.ok(shutil.which(tool), "tool: %s on PATH" % tool):
                return chk
        cert, key = make_cert(tmp)

        # ---- namespaces ----
        tag = "%d" % os.getpid()
        nc, ns = "llmtap-lat-c-" + tag, "llmtap-lat-s-" + tag
        net.add(nc, resolv="# resolv.conf -- llmtap latency suite: its own DNS responder\n"
                           "nameserver 127.0.0.1\noptions timeout:5 attempts:1\n",
                hosts="# hosts -- llmtap latency suite: the test names resolve through DNS only\n"
                      "127.0.0.1 localhost\n::1 localhost\n")
        net.add(ns)
        sh(["ip", "-n", nc, "link", "add", "lt0", "type", "veth", "peer", "name", "lt1", "netns", ns])
        sh(["ip", "-n", nc, "addr", "add", C_ADDR + "/30", "dev", "lt0"])
        sh(["ip", "-n", ns, "addr", "add", S_ADDR + "/30", "dev", "lt1"])
        sh(["ip", "-n", nc, "link", "add", "lt2", "type", "veth", "peer", "name", "lt3", "netns", ns])
        sh(["ip", "-n", nc, "addr", "add", BH_LOCAL + "/30", "dev", "lt2"])
        for n, dev in ((nc, "lt0"), (ns, "lt1"), (nc, "lt2"), (ns, "lt3")):
            sh(["ip", "-n", n, "link", "set", dev, "up"])
        sh(["ip", "-n", nc, "neigh", "replace", BH_ADDR, "lladdr", BH_MAC, "dev", "lt2", "nud", "permanent"])
        net.qdisc(nc, "lt0", TBF)

        # ---- servers ----
        names = {NAME_SPLIT: {"a": "127.0.0.1", "delay_ms": D_DNS},
                 NAME_MODEL: {"a": "127.0.0.1", "delay_ms": FAST_DNS},
                 NAME_NET: {"a": "127.0.0.1", "delay_ms": NET_DNS},
                 NAME_UP: {"a": S_ADDR, "delay_ms": FAST_DNS}}
        dns, ev = start_server(procs, nc, "dns", {"addr": "127.0.0.1", "port": 53, "names": names},
                               os.path.join(tmp, "dns.json"))
        readers.append(("dns.log", dns))
        if not chk.ok(ev, "setup: DNS responder listening in the namespace", dns.text()):
            return chk
        srv, ev = start_server(procs, nc, "https", {"cert": cert, "key": key, "listeners": [
            {"name": "split", "addr": "127.0.0.1", "port": 0, "tls_delay_ms": D_TLS},
            {"name": "fast", "addr": "127.0.0.1", "port": 0, "tls_delay_ms": 0},
            {"name": "net", "addr": "127.0.0.1", "port": 0, "tls_delay_ms": NET_TLS}]},
            os.path.join(tmp, "https.json"))
        readers.append(("https.log", srv))
        if not chk.ok(ev, "setup: HTTPS server listening in the namespace", srv.text()):
            return chk
        ports = ev["ports"]
        up, ev = start_server(procs, ns, "https", {"cert": cert, "key": key, "listeners": [
            {"name": "up", "addr": S_ADDR, "port": 0, "tls_delay_ms": 0}]}, os.path.join(tmp, "https-up.json"))
        readers.append(("https-up.log", up))
        if not chk.ok(ev, "setup: HTTPS upload server listening in the server namespace", up.text()):
            return chk
        up_port = ev["ports"]["up"]

        # ---- tracer ----
        dbdir = os.path.join(tmp, "db")
        db = os.path.join(dbdir, "llmtap.db")
        tracer, terr, ready = e2e.start_tracer(procs, llmtap, db, timeout=READY_DEADLINE_S)
        if not chk.ok(ready, "tracer: prints 'ready' within %d s" % READY_DEADLINE_S,
                      "exit status %r" % tracer.poll()):
            return chk

        def url(name, port):
            return "https://%s:%d/v1/chat/completions" % (name, port)

        clients = {}   # tag -> (pid, client result ok, detail)

        def note(t, pid, ok, detail, body=None, stream=False, events=0):
            clients[t] = pid
            if chk.ok(ok, t + ": client got HTTP 200", detail) and body is not None:
                want = (e2e_text(events), events) if stream else ("latency ok", 3)
                chk.eq(summary(body, stream), want, t + ": client got the whole answer (text, tokens)")

        # L1 urllib, non-stream, fresh connection
        rc, res = py_calls(procs, nc, tmp, cert, "urllib", [
            ("L1-urllib-split", url(NAME_SPLIT, ports["split"]), knobs("L1-urllib-split", D_TTFB),
             chat_body("L1-urllib-split", False))])
        r = res.get("L1-urllib-split", {})
        note("L1-urllib-split", r.get("pid"), r.get("status") == 200, repr(r)[:500], r.get("body"))

        # L2 curl, stream
        t = "L2-curl-stream"
        pid, rc, st, body = curl_call(procs, nc, tmp, cert, t, url(NAME_SPLIT, ports["split"]),
                                      knobs(t, D_TTFB, D_GAP, N_EVENTS), chat_body(t, True))
        note(t, pid, rc == 0 and st.startswith("200"), "curl exit %r: %s" % (rc, st), body, True, N_EVENTS)

        # L3 http.client keep-alive: a (stream) then b (non-stream) on the same connection
        rc, res = py_calls(procs, nc, tmp, cert, "keepalive", [
            ("L3a-keepalive-first", url(NAME_SPLIT, ports["split"]),
             knobs("L3a-keepalive-first", KA_TTFB, KA_GAP, KA_EVENTS), chat_body("L3a-keepalive-first", True)),
            ("L3b-keepalive-reused", url(NAME_SPLIT, ports["split"]),
             knobs("L3b-keepalive-reused", KA_TTFB), chat_body("L3b-keepalive-reused", False))])
        r = res.get("L3a-keepalive-first", {})
        note("L3a-keepalive-first", r.get("pid"), r.get("status") == 200, repr(r)[:500], r.get("body"),
             True, KA_EVENTS)
        r = res.get("L3b-keepalive-reused", {})
        note("L3b-keepalive-reused", r.get("pid"), r.get("status") == 200, repr(r)[:500], r.get("body"))

        # L4 model verdict (curl), L5 network verdict (urllib)
        t = "L4-verdict-model"
        pid, rc, st, body = curl_call(procs, nc, tmp, cert, t, url(NAME_MODEL, ports["fast"]),
                                      knobs(t, MODEL_TTFB), chat_body(t, False))
        note(t, pid, rc == 0 and st.startswith("200"), "curl exit %r: %s" % (rc, st), body)
        rc, res = py_calls(procs, nc, tmp, cert, "urllib", [
            ("L5-verdict-network", url(NAME_NET, ports["net"]), knobs("L5-verdict-network", NET_TTFB),
             chat_body("L5-verdict-network", False))])
        r = res.get("L5-verdict-network", {})
        note("L5-verdict-network", r.get("pid"), r.get("status") == 200, repr(r)[:500], r.get("body"))

        # L6 upload: 1 MiB through the 8 mbit TBF on lt0
        t = "L6-upload"
        pid, rc, st, body = curl_call(procs, nc, tmp, cert, t, url(NAME_UP, up_port), knobs(t, UP_TTFB),
                                      chat_body(t, False, pad=UP_BYTES))
        note(t, pid, rc == 0 and st.startswith("200"), "curl exit %r: %s" % (rc, st), body)

        # L7 refused, L8 blackholed
        pid7, rc7, out7, err7 = run_curl(procs, nc, ["curl", "-sS", "--max-time", "10", "--cacert", cert,
                                                     "https://127.0.0.1:%d/v1/models" % REFUSED_PORT])
        chk.eq(rc7, 7, "L7-refused: curl exits 7 (could not connect): " + err7.strip())
        t0 = time.monotonic()
        pid8, rc8, out8, err8 = run_curl(procs, nc, ["curl", "-sS", "--connect-timeout", str(CONNECT_TIMEOUT_S),
                                                     "--cacert", cert, "https://%s:443/v1/models" % BH_ADDR])
        took = time.monotonic() - t0
        chk.eq(rc8, 28, "L8-timeout: curl exits 28 (timeout) after %.2f s: %s" % (took, err8.strip()))

        # ---- server side: each call seen once, as told ----
        evs = e2e.server_events(srv) + e2e.server_events(up)
        for tg in TAGS:
            seen = [e for e in evs if e.get("event") == "request" and e.get("tag") == tg]
            chk.ok(len(seen) == 1 and seen[0].get("status") == 200, tg + ": server answered it once", repr(seen))
        truth = Truth(dns, srv, up)
        q = [e for e in e2e.server_events(dns) if e.get("event") == "query"]
        chk.ok(any(e.get("name") == NAME_SPLIT and e.get("qtype") == 1 for e in q),
               "DNS responder answered the clients' A queries", repr(q[:6]))

        # ---- the tracer's rows ----
        want_fail = [(pid7, "127.0.0.1", REFUSED_PORT), (pid8, BH_ADDR, 443)]
        complete = wait_db(db, tracer, want_fail)
        chk.ok(complete, "tracer: every call and connection row within %d s" % ROWS_DEADLINE_S)
        alive = chk.ok(tracer.poll() is None, "tracer: still running", "exit status %r" % tracer.poll())
        if alive:
            t0 = time.monotonic()
            rc = e2e.stop_tracer(tracer)
            if rc == "still running":  # how late it is, for the report (the contract says 5 s)
                rc = e2e.stop_tracer(tracer, timeout=EXIT_EXTRA_S)
                rc = "%r after %.1f s" % (rc, time.monotonic() - t0)
            chk.eq(rc, 0, "tracer: exits 0 within %d s of SIGINT" % e2e.EXIT_DEADLINE_S)
        by, conns, cols = read_db(db)
        if chk.failed or args.verbose:
            dump_rows(db)
        rows = {}
        for tg in TAGS:
            got = by.get(tg, [])
            if chk.eq(len(got), 1, tg + ": one llm_calls row"):
                rows[tg] = got[0]
                chk.eq((got[0].get("status"), got[0].get("error")), (200, None), tg + ": status 200, error NULL")
                chk.eq(got[0].get("pid"), clients.get(tg), tg + ": pid is the client's")

        if "L1-urllib-split" in rows:
            check_fresh(chk, rows["L1-urllib-split"], conns, truth, "L1-urllib-split", NAME_SPLIT,
                        ports["split"], clients["L1-urllib-split"], D_DNS, D_TLS, D_TTFB)
        if "L2-curl-stream" in rows:
            r = rows["L2-curl-stream"]
            chk.eq(r.get("stream"), 1, "L2-curl-stream: stream = 1")
            check_fresh(chk, r, conns, truth, "L2-curl-stream", NAME_SPLIT, ports["split"],
                        clients["L2-curl-stream"], D_DNS, D_TLS, D_TTFB, stream=True, gap=D_GAP, events=N_EVENTS)
            check_show(chk, llmtap, db, r, cols, "L2-curl-stream: ")
        a = rows.get("L3a-keepalive-first")
        if a:
            check_fresh(chk, a, conns, truth, "L3a-keepalive-first", NAME_SPLIT, ports["split"],
                        clients["L3a-keepalive-first"], D_DNS, D_TLS, KA_TTFB, stream=True, gap=KA_GAP,
                        events=KA_EVENTS)
        b = rows.get("L3b-keepalive-reused")
        if b:
            t = "L3b-keepalive-reused: "
            chk.eq(b.get("conn_reused"), 1, t + "conn_reused")
            chk.eq((b.get("dns_ms"), b.get("connect_ms"), b.get("tls_ms")), (None, None, None),
                   t + "dns_ms, connect_ms, tls_ms NULL")
            check_wait(chk, b, truth, "L3b-keepalive-reused", KA_TTFB, t)
            if a:
                chk.ok(b.get("conn_id") is not None and b.get("conn_id") == a.get("conn_id"),
                       t + "same conn_id as the first call", "%r vs %r" % (b.get("conn_id"), a.get("conn_id")))
                c = conn_row(conns, a.get("conn_id"))
                chk.eq(c and c.get("llm_calls"), 2, t + "connections.llm_calls = 2")
        r = rows.get("L4-verdict-model")
        if r:
            t = "L4-verdict-model: "
            check_wait(chk, r, truth, "L4-verdict-model", MODEL_TTFB, t)
            chk.eq(r.get("verdict"), "model", t + "verdict")
            check_show(chk, llmtap, db, r, cols, t)
        r = rows.get("L5-verdict-network")
        if r:
            t = "L5-verdict-network: "
            check_dns(chk, r.get("dns_ms"), truth, NAME_NET, NET_DNS, t)
            check_tls(chk, r.get("tls_ms"), truth, "L5-verdict-network", NET_TLS, t)
            check_wait(chk, r, truth, "L5-verdict-network", NET_TTFB, t)
            chk.eq(r.get("verdict"), "network", t + "verdict")
            check_show(chk, llmtap, db, r, cols, t)
        r = rows.get("L6-upload")
        if r:
            t = "L6-upload: "
            sent = len(json.dumps(chat_body("L6-upload", False, pad=UP_BYTES)))
            expect = sent * 8 / UP_RATE_BITS * 1000
            srv_up = [e for e in e2e.server_events(up) if e.get("tag") == "L6-upload"]
            within(chk, r.get("upload_ms"), UP_BAND[0] * expect, UP_BAND[1] * expect,
                   t + "upload_ms ~ %d body bits / 8 mbit = %.0f ms (server received over %s ms)"
                   % (sent * 8, expect, srv_up and srv_up[0].get("recv_ms")))
            chk.eq(r.get("verdict"), "network", t + "verdict")
        c7 = fail_rows(conns, pid7, "127.0.0.1", REFUSED_PORT)
        if chk.eq(len(c7), 1, "L7-refused: one connections row for curl's connect to port %d" % REFUSED_PORT):
            c = c7[0]
            chk.eq(c.get("connect_error"), "refused", "L7-refused: connect_error")
            chk.ok((c.get("resets_rx") or 0) >= 1 or c.get("duration_ms") == 0, "L7-refused: a reset received "
                   "or zero duration", "resets_rx %r, duration_ms %r" % (c.get("resets_rx"), c.get("duration_ms")))
            chk.eq(c.get("connect_ms"), None, "L7-refused: connect_ms NULL")
        # the kernel releases the local port before a close is reported: the failed connects'
        # rows (only their close was ever reported) keep it all the same
        chk.eq([c for c in conns if not c.get("sport")], [], "connections: every row has its local port (sport)")
        c8 = fail_rows(conns, pid8, BH_ADDR, 443)
        if chk.eq(len(c8), 1, "L8-timeout: one connections row for curl's connect to %s" % BH_ADDR):
            c = c8[0]
            chk.eq(c.get("connect_error"), "timeout", "L8-timeout: connect_error")
            chk.ok(num(c.get("retransmits")) and c["retransmits"] >= 1, "L8-timeout: retransmits >= 1",
                   "got %r" % c.get("retransmits"))
            chk.eq(c.get("connect_ms"), None, "L8-timeout: connect_ms NULL")
        return chk
    except (SystemExit, KeyboardInterrupt) as e:  # SIGTERM / Ctrl-C: clean up, then count it
        chk.ok(False, "driver: interrupted", str(e) or repr(e))
        return chk
    except Exception as e:  # an exception is a failure, never a silent pass
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
        return chk
    finally:
        if chk.failed and terr is not None:
            if terr.thread.is_alive():
                terr.thread.join(timeout=2)
            print("---- llmtap run stderr ----\n" + terr.text()[-20000:] + "\n---- end ----")
        procs.cleanup()
        problems = net.cleanup()
        chk.ok(not problems, "cleanup: namespaces, /etc/netns dirs and qdiscs removed", "; ".join(problems))
        for name, rd in readers + ([("llmtap-run.stderr", terr)] if terr else []):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(rd.text() + "\n")
        if chk.failed or args.keep:
            print("latency: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def e2e_text(n):
    return "".join("tok%d " % k for k in range(n))


def main():
    ap = argparse.ArgumentParser(description="llmtap latency-split end-to-end tests")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks and every row too")
    args = ap.parse_args()
    chk = run_suite(args)
    print("latency: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""listen_test.py -- llmtap `run --listen` end-to-end suite: /health and /metrics over HTTP, the bound address, errors.

Usage (as root, from anywhere):
    python3 tests/e2e/listen_test.py [-v] [--keep] [-k CASE]...

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    -v                      print every passing check too
    --keep                  keep the temp dir even when everything passed
    -k CASE                 run only the cases whose name contains CASE (repeatable)

Real processes only, loopback only: the fake HTTPS API of server.js, `llmtap run` (a fresh tracer,
its own DB, per case), curl and python3 client.py as clients. A free port is found by binding a socket to port 0
and closing it. Every wait polls against a deadline. Helpers (cert, server, tracer start/stop, call
specs, Checks, Procs, LineReader) come from run.py, the big-body client from robust.py. Cases:
   1 serve      --listen 127.0.0.1:PORT, one real LLM call: GET /health (200, the JSON fields,
                calls_recorded >= 1), GET /metrics (text format 0.0.4, HELP/TYPE, llmtap_calls_total
                >= 1), POST -> 405, unknown path -> 404; the port is free again after SIGINT
   2 inuse      --listen 127.0.0.1:PORT with PORT taken: exit 1, one line naming it, no 'ready', no DB
   3 bareport   --listen PORT binds 127.0.0.1 only (/proc/net/tcp, tcp6); a failing --push target
                shows in /health and /metrics (target without password, last_error, backlog)
   4 config     bad values exit 2 naming --listen; LLMTAP_LISTEN and `listen =` of a config file are
                read; a flag wins over them
   5 drops      --ring-size 64k and one 2 MiB write: /health 503 "degraded" (events dropped in the
                last 60 s), llmtap_events_dropped_total > 0
Ends with the line "listen: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import robust  # noqa: E402
import run as e2e  # noqa: E402
from run import Checks, Procs  # noqa: E402

CLIENT_DEADLINE_S = 60
ROWS_DEADLINE_S = 30
HTTP_DEADLINE_S = 10         # the snapshot lags the capture loop by at most 0.25 s
EXIT_DEADLINE_S = 5          # contract: SIGINT/SIGTERM -> exit 0 within 5 s
CLI_DEADLINE_S = 30
HEALTH_FIELDS = ("status", "uptime_s", "files_attached", "calls_recorded", "events_dropped", "db", "push")
PUSH_FIELDS = ("target", "backlog_rows", "last_success_ns", "last_error")
METRICS = {  # name: type
    "llmtap_calls_total": "counter", "llmtap_events_dropped_total": "counter", "llmtap_events_total": "counter",
    "llmtap_files_attached": "gauge", "llmtap_open_connections": "gauge", "llmtap_push_backlog_rows": "gauge",
    "llmtap_push_last_success_seconds": "gauge",
}
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                       r'(-?[0-9.eE+-]+|NaN|[+-]Inf)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Ctx:
    """What every case needs: checks, the shared server, paths, and the processes of the current case."""

    def __init__(self, chk, llmtap, tmp, cert, port, srv, hosts):
        self.chk, self.llmtap, self.tmp, self.cert, self.port, self.srv, self.hosts = (
            chk, llmtap, tmp, cert, port, srv, hosts)
        self.env = e2e.client_env(cert)
        self.procs = Procs()      # replaced for each case; cleaned up when the case ends
        self.tracers = []         # (name, LineReader) of the case's tracers, printed when it fails

    def dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d


# ---------- helpers ----------

def free_port():
    """A TCP port free on 127.0.0.1 right now (bound to port 0, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def cli_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTAP_")}
    env.update(extra)
    return env


def http_req(port, method, path, host="127.0.0.1", timeout=5):
    """(status, headers {lowercase: value}, body bytes) of one request, or (None, {}, repr(error))."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=b"x=1" if method == "POST" else None)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (OSError, http.client.HTTPException) as e:
        return None, {}, repr(e).encode()
    finally:
        conn.close()


def health(port):
    """(status, parsed JSON or None, raw body) of GET /health."""
    st, _, body = http_req(port, "GET", "/health")
    try:
        return st, json.loads(body), body
    except ValueError:
        return st, None, body


def wait_health(port, pred, timeout=HTTP_DEADLINE_S):
    """Polls GET /health until pred(json) holds or the deadline passes. Returns the last (status, json, body)."""
    deadline = time.monotonic() + timeout
    while True:
        got = health(port)
        if (got[1] is not None and pred(got[1])) or time.monotonic() >= deadline:
            return got
        time.sleep(e2e.POLL_S)


def parse_metrics(text):
    """{name: {"help", "type", "samples": [(labels dict, float)]}}, and the malformed lines."""
    fams, bad = {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4:
                bad.append(line)
                continue
            fams.setdefault(parts[2], {"samples": []})["help" if parts[1] == "HELP" else "type"] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            bad.append(line)
            continue
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        fams.setdefault(m.group(1), {"samples": []})["samples"].append((labels, float(m.group(3))))
    return fams, bad


def value(fams, name):
    s = (fams.get(name) or {}).get("samples") or []
    return s[0][1] if len(s) == 1 and not s[0][0] else None


def listeners(port):
    """Local addresses in LISTEN state on port, from /proc/net/tcp and tcp6 ("127.0.0.1", "::", ...)."""
    out = []
    for path, fam in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    addr, hport = parts[1].split(":")
                    if parts[3] != "0A" or int(hport, 16) != port:
                        continue
                    raw = bytes.fromhex(addr)
                    # /proc prints each 32-bit word in host (little-endian) order
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                    out.append(socket.inet_ntop(fam, raw))
        except OSError:
            pass
    return out


def start_tracer(ctx, name, args):
    """`llmtap run --db TMP/NAME/llmtap.db ARGS`. Returns (proc, stderr reader, db) once ready, else None."""
    db = os.path.join(ctx.dir(name.replace(" ", "_")), "llmtap.db")
    proc, terr, ready = e2e.start_tracer(ctx.procs, ctx.llmtap, db, args)
    ctx.tracers.append((name, terr))
    if not ctx.chk.ok(ready, "%s: `llmtap run %s` prints 'ready' within %d s" % (
            name, " ".join(args), e2e.READY_DEADLINE_S), "exit status %r" % proc.poll()):
        return None
    return proc, terr, db


def check_stop(ctx, name, proc):
    ctx.chk.ok(proc.poll() is None, "%s: tracer still running before SIGINT" % name, "exit %r" % proc.poll())
    rc = e2e.stop_tracer(proc, signal.SIGINT, EXIT_DEADLINE_S)
    ctx.chk.eq(rc, 0, "%s: tracer exits 0 within %d s of SIGINT" % (name, EXIT_DEADLINE_S))


def curl_call(ctx, tag):
    """One OpenAI chat call made by curl through the fake server; checks it was answered 200."""
    c = e2e.call(tag, "curl", "openai_chat", False, "openai", None, "openai", "/v1/chat/completions",
                 "openai", "chat")
    p = ctx.procs.start(e2e.curl_argv(c, ctx.port, ctx.cert, os.path.join(ctx.tmp, "curl-" + tag)),
                        env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return ctx.chk.ok(p.returncode == 0 and out.strip() == b"200", "curl call %s answered 200" % tag,
                      "exit %r, out %r, err %r" % (p.returncode, out[:100], err[:300]))


def cli(ctx, args, env=None):
    """`llmtap run ARGS` expected to fail fast: (exit status, non-empty stderr lines)."""
    r = e2e.run_cmd([ctx.llmtap, "run"] + args, CLI_DEADLINE_S, env=env or cli_env(), cwd=ctx.dir("cli"))
    return r.returncode, [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]


# ---------- 1. /health and /metrics ----------

def case_serve(ctx):
    chk, n = ctx.chk, "c1 serve"
    lport = free_port()
    t = start_tracer(ctx, n, ["--listen", "127.0.0.1:%d" % lport])
    if not t:
        return
    proc, terr, db = t
    chk.ok(terr.wait_for(lambda l: "http://127.0.0.1:%d" % lport in l, 1),
           "%s: stderr names http://127.0.0.1:%d before 'ready'" % (n, lport), terr.text()[-1000:])
    st, hdr, _ = http_req(lport, "GET", "/health")
    chk.eq(st, 200, "%s: GET /health answers right after 'ready'" % n)

    if curl_call(ctx, "L01-listen-call"):
        chk.ok(e2e.wait_rows(db, 1, ROWS_DEADLINE_S, proc) >= 1, "%s: the call has a row" % n)
    st, h, body = wait_health(lport, lambda j: (j.get("calls_recorded") or 0) >= 1)
    chk.eq(st, 200, "%s: GET /health status 200 (ok)" % n)
    if chk.ok(isinstance(h, dict), "%s: /health is a JSON object" % n, repr(body[:300])):
        missing = [k for k in HEALTH_FIELDS if k not in h]
        chk.ok(not missing, "%s: /health has every field" % n, "missing %s in %r" % (missing, h))
        chk.eq(h.get("status"), "ok", "%s: /health status is 'ok'" % n)
        chk.ok(isinstance(h.get("calls_recorded"), int) and h["calls_recorded"] >= 1,
               "%s: /health calls_recorded >= 1" % n, repr(h.get("calls_recorded")))
        chk.ok(isinstance(h.get("files_attached"), int) and h["files_attached"] >= 1,
               "%s: /health files_attached >= 1" % n, repr(h.get("files_attached")))
        chk.ok(isinstance(h.get("uptime_s"), (int, float)) and 0 <= h["uptime_s"] < 3600,
               "%s: /health uptime_s" % n, repr(h.get("uptime_s")))
        chk.eq(h.get("events_dropped"), 0, "%s: /health events_dropped" % n)
        chk.eq(h.get("db"), os.path.abspath(db), "%s: /health db is the database's path" % n)
        chk.eq(h.get("push"), [], "%s: /health push is [] without --push" % n)
    _, hdr, _ = http_req(lport, "GET", "/health")
    chk.ok(hdr.get("content-type", "").startswith("application/json"), "%s: /health Content-Type" % n,
           repr(hdr.get("content-type")))

    st, hdr, body = http_req(lport, "GET", "/metrics")
    chk.eq(st, 200, "%s: GET /metrics status 200" % n)
    chk.ok(hdr.get("content-type", "").startswith("text/plain; version=0.0.4"),
           "%s: /metrics Content-Type is the text format 0.0.4" % n, repr(hdr.get("content-type")))
    fams, bad = parse_metrics(body.decode("utf-8", "replace"))
    chk.ok(not bad, "%s: /metrics: every line parses" % n, repr(bad[:5]))
    for name, typ in METRICS.items():
        f = fams.get(name) or {}
        chk.ok(f.get("help"), "%s: /metrics has HELP for %s" % (n, name))
        chk.eq(f.get("type"), typ, "%s: /metrics TYPE of %s" % (n, name))
    # a histogram's samples are its family's name + _bucket, _sum, _count
    hist = {k for k, f in fams.items() if f.get("type") == "histogram"}
    undeclared = [k for k, f in fams.items() if f["samples"] and not f.get("type") and
                  not any(k == h + suf for h in hist for suf in ("_bucket", "_sum", "_count"))]
    chk.ok(not undeclared, "%s: /metrics: every sample has its TYPE" % n, repr(undeclared))
    calls = value(fams, "llmtap_calls_total")
    chk.ok(calls is not None and calls >= 1, "%s: llmtap_calls_total >= 1" % n, repr(calls))
    ev = value(fams, "llmtap_events_total")
    chk.ok(ev is not None and ev >= 1, "%s: llmtap_events_total >= 1" % n, repr(ev))
    chk.eq(value(fams, "llmtap_events_dropped_total"), 0.0, "%s: llmtap_events_dropped_total" % n)
    fa = value(fams, "llmtap_files_attached")
    chk.ok(fa is not None and fa >= 1, "%s: llmtap_files_attached >= 1" % n, repr(fa))
    oc = value(fams, "llmtap_open_connections")
    chk.ok(oc is not None and oc >= 0, "%s: llmtap_open_connections present" % n, repr(oc))
    chk.eq(fams.get("llmtap_push_backlog_rows", {}).get("samples"), [],
           "%s: no llmtap_push_backlog_rows sample without --push" % n)

    for path in ("/health", "/metrics"):
        st, hdr, _ = http_req(lport, "POST", path)
        chk.eq(st, 405, "%s: POST %s -> 405" % (n, path))
        chk.ok("GET" in hdr.get("allow", ""), "%s: POST %s: Allow names GET" % (n, path), repr(hdr))
    for path in ("/", "/nope", "/health/x"):
        st, _, _ = http_req(lport, "GET", path)
        chk.eq(st, 404, "%s: GET %s -> 404" % (n, path))
    chk.eq(http_req(lport, "DELETE", "/nope")[0], 404, "%s: DELETE /nope -> 404" % n)

    check_stop(ctx, n, proc)
    st, _, err = http_req(lport, "GET", "/health", timeout=2)
    chk.ok(st is None, "%s: nothing answers on the port after exit" % n, "status %r" % st)
    chk.ok(not listeners(lport), "%s: the port is no longer listening after exit" % n, repr(listeners(lport)))


# ---------- 2. port in use ----------

def case_inuse(ctx):
    chk, n = ctx.chk, "c2 inuse"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        busy = s.getsockname()[1]
        db = os.path.join(ctx.dir("c2"), "inuse.db")
        t0 = time.monotonic()
        rc, err = cli(ctx, ["--db", db, "--listen", "127.0.0.1:%d" % busy])
        took = time.monotonic() - t0
    finally:
        s.close()
    chk.eq(rc, 1, "%s: --listen on a port in use exits 1" % n)
    chk.ok(len(err) == 1 and "127.0.0.1:%d" % busy in err[0] and "in use" in err[0].lower(),
           "%s: one stderr line naming the address and 'in use'" % n, repr(err))
    chk.ok(not [l for l in err if l.startswith("ready")], "%s: no 'ready' line" % n, repr(err))
    chk.ok(not os.path.exists(db), "%s: no database created" % n)
    chk.ok(took < 5, "%s: fails before loading BPF (%.2f s)" % (n, took))


# ---------- 3. bare port: loopback only; push status ----------

def case_bareport(ctx):
    chk, n = ctx.chk, "c3 bareport"
    lport = free_port()
    dead = free_port()  # nothing listens there: every push attempt is refused
    target = "http://llmtap@127.0.0.1:%d/ingest" % dead
    t = start_tracer(ctx, n, ["--listen", str(lport), "--push", "http://llmtap:s3cret-pw@127.0.0.1:%d/ingest?k=v" % dead,
                              "--push-interval", "1"])
    if not t:
        return
    proc, terr, db = t
    got = listeners(lport)
    chk.eq(got, ["127.0.0.1"], "%s: --listen %d listens on 127.0.0.1 only (/proc/net/tcp, tcp6)" % (n, lport))
    r = e2e.run_cmd(["ss", "-Hltn", "sport = :%d" % lport], 10) if shutil.which("ss") else None
    if r is not None:
        locs = [l.split()[3] for l in r.stdout.decode().splitlines() if l.strip()]
        chk.eq(locs, ["127.0.0.1:%d" % lport], "%s: ss -ltn shows 127.0.0.1:%d only" % (n, lport))

    st, h, body = wait_health(lport, lambda j: j.get("push") and j["push"][0].get("last_error"))
    chk.eq(st, 200, "%s: /health 200: a target failing for less than 60 s is not degraded" % n)
    push = (h or {}).get("push") or []
    if chk.eq(len(push), 1, "%s: /health lists the push target" % n):
        p = push[0]
        missing = [k for k in PUSH_FIELDS if k not in p]
        chk.ok(not missing, "%s: push entry has every field" % n, "missing %s in %r" % (missing, p))
        chk.eq(p.get("target"), target, "%s: push target shown without password and query" % n)
        chk.ok(isinstance(p.get("last_error"), str) and p["last_error"], "%s: push last_error set" % n, repr(p))
        chk.eq(p.get("last_success_ns"), None, "%s: push last_success_ns null (never delivered)" % n)
        chk.ok(isinstance(p.get("backlog_rows"), int) and p["backlog_rows"] >= 0, "%s: push backlog_rows" % n,
               repr(p.get("backlog_rows")))
    chk.ok(b"s3cret-pw" not in body, "%s: /health never shows the target's password" % n)
    st, _, mbody = http_req(lport, "GET", "/metrics")
    fams, bad = parse_metrics(mbody.decode("utf-8", "replace"))
    chk.ok(not bad, "%s: /metrics: every line parses" % n, repr(bad[:5]))
    for name in ("llmtap_push_backlog_rows", "llmtap_push_last_success_seconds"):
        s = (fams.get(name) or {}).get("samples") or []
        chk.ok(len(s) == 1 and s[0][0] == {"target": target}, "%s: %s{target=...} for the target" % (n, name), repr(s))
    chk.ok(b"s3cret-pw" not in mbody, "%s: /metrics never shows the target's password" % n)
    check_stop(ctx, n, proc)


# ---------- 4. values, environment, config file ----------

def case_config(ctx):
    chk, n = ctx.chk, "c4 config"
    for bad in ("abc", ":9464", "::1:9464", "[::1]", "127.0.0.1:70000", "example.com:9464"):
        rc, err = cli(ctx, ["--listen", bad])
        chk.eq(rc, 2, "%s: --listen %s exits 2" % (n, bad))
        chk.ok(len(err) == 1 and "--listen" in err[0], "%s: --listen %s: one line naming --listen" % (n, bad),
               repr(err))
    rc, err = cli(ctx, [], env=cli_env(LLMTAP_LISTEN="bogus-env"))
    chk.ok(rc == 2 and err and "bogus-env" in err[0], "%s: LLMTAP_LISTEN is read (a bad one exits 2)" % n,
           "exit %r: %r" % (rc, err))
    conf = os.path.join(ctx.dir("c4"), "llmtap.conf")
    with open(conf, "w") as f:
        f.write("# listen_test\nlisten = bogus-file\n")
    rc, err = cli(ctx, ["--config", conf])
    chk.ok(rc == 2 and err and "bogus-file" in err[0], "%s: `listen =` of the config file is read" % n,
           "exit %r: %r" % (rc, err))
    # the flag wins: the bad values of the file and the environment are never looked at
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        busy = s.getsockname()[1]
        rc, err = cli(ctx, ["--config", conf, "--listen", "127.0.0.1:%d" % busy, "--db",
                            os.path.join(ctx.dir("c4"), "x.db")], env=cli_env(LLMTAP_LISTEN="bogus-env"))
    finally:
        s.close()
    chk.ok(rc == 1 and err and "127.0.0.1:%d" % busy in err[0], "%s: --listen wins over env and file" % n,
           "exit %r: %r" % (rc, err))
    # the environment's value is used: a good one serves
    lport = free_port()
    db = os.path.join(ctx.dir("c4"), "env.db")
    proc = ctx.procs.start([ctx.llmtap, "run", "--db", db], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=cli_env(LLMTAP_LISTEN="127.0.0.1:%d" % lport))
    terr = e2e.LineReader(proc.stderr)
    ctx.tracers.append((n + " env", terr))
    if chk.ok(terr.wait_for(lambda l: l.startswith("ready"), e2e.READY_DEADLINE_S),
              "%s: LLMTAP_LISTEN=127.0.0.1:%d: ready" % (n, lport), "exit %r" % proc.poll()):
        st, h, _ = health(lport)
        chk.ok(st == 200 and h and h.get("status") == "ok", "%s: LLMTAP_LISTEN: /health answers" % n,
               "status %r: %r" % (st, h))
        check_stop(ctx, n, proc)


# ---------- 5. drops make /health degraded ----------

def case_drops(ctx):
    chk, n = ctx.chk, "c5 drops"
    lport = free_port()
    t = start_tracer(ctx, n, ["--ring-size", "64k", "--listen", "127.0.0.1:%d" % lport])
    if not t:
        return
    proc, terr, db = t
    big, _ = robust.big_entry(ctx, "L05-ring-big", robust.RING_BIG)  # one SSL write of 2 MiB
    p, out = robust.py_client(ctx, "c5-big", [big])
    robust.finish_client(ctx, n, p, out)
    st, h, body = wait_health(lport, lambda j: (j.get("events_dropped") or 0) > 0)
    chk.eq(st, 503, "%s: /health 503 after events were dropped" % n)
    h = h or {}
    chk.eq(h.get("status"), "degraded", "%s: /health status 'degraded'" % n)
    chk.ok(isinstance(h.get("events_dropped"), int) and h["events_dropped"] > 0, "%s: /health events_dropped > 0" % n,
           repr(body[:300]))
    chk.ok(any("dropped" in r for r in h.get("reasons") or []), "%s: /health reasons name the drops" % n,
           repr(h.get("reasons")))
    st, _, mbody = http_req(lport, "GET", "/metrics")
    chk.eq(st, 200, "%s: /metrics still 200" % n)
    d = value(parse_metrics(mbody.decode("utf-8", "replace"))[0], "llmtap_events_dropped_total")
    chk.ok(d is not None and d > 0, "%s: llmtap_events_dropped_total > 0" % n, repr(d))
    check_stop(ctx, n, proc)


CASES = [("serve", case_serve), ("inuse", case_inuse), ("bareport", case_bareport), ("config", case_config),
         ("drops", case_drops)]


def run_case(ctx, name, fn):
    """Runs one case with its own process list; an exception is a failure; its processes end with it."""
    failed = ctx.chk.failed
    ctx.procs, ctx.tracers = Procs(), []
    t0 = time.monotonic()
    try:
        fn(ctx)
    except Exception as e:  # never a silent pass
        ctx.chk.ok(False, "%s: unexpected exception" % name, repr(e))
        traceback.print_exc()
    finally:
        ctx.procs.cleanup()
        for tname, terr in ctx.tracers:
            with open(os.path.join(ctx.tmp, "llmtap-%s.stderr" % tname.replace(" ", "_")), "w") as f:
                f.write(terr.text() + "\n")
            if ctx.chk.failed > failed:
                print("---- %s: llmtap run stderr ----\n%s\n---- end ----" % (tname, terr.text()[-6000:]))
    if ctx.chk.verbose:
        print("-- %s: %.1f s" % (name, time.monotonic() - t0), flush=True)


def main():
    ap = argparse.ArgumentParser(description="llmtap --listen end-to-end tests")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("-k", action="append", default=[], metavar="CASE", help="only cases whose name contains CASE")
    args = ap.parse_args()
    chk = Checks(args.verbose)
    llmtap = os.path.abspath(os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap"))

    def on_term(signum, frame):
        raise SystemExit("listen: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-listen.")
    srv = None
    try:
        if not e2e.preflight(chk, llmtap):
            return 1
        for tool in ("node", "curl", "openssl", "unshare", "mount"):
            if not chk.ok(shutil.which(tool), "tool: %s on PATH" % tool):
                return 1
        cert, key = e2e.make_cert(tmp)
        hosts = e2e.hosts_file(tmp)
        sp, srv, port = e2e.start_server(procs, cert, key)
        if not chk.ok(port, "server: listening", srv.text()):
            return 1
        ctx = Ctx(chk, llmtap, tmp, cert, port, srv, hosts)
        for name, fn in CASES:
            if args.k and not any(k in name for k in args.k):
                continue
            run_case(ctx, name, fn)
        chk.ok(sp.poll() is None, "server: still running after every case", "exit %r" % sp.poll())
        return 1 if chk.failed else 0
    except Exception as e:
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
        return 1
    finally:
        procs.cleanup()
        if srv is not None:
            with open(os.path.join(tmp, "server.log"), "w") as f:
                f.write(srv.text() + "\n")
        if chk.failed or args.keep:
            print("listen: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print("listen: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)


if __name__ == "__main__":
    sys.exit(main())

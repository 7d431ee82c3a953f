#!/usr/bin/env python3
"""run.py -- llmtap end-to-end test driver: a fake HTTPS LLM API, real clients, `llmtap run`, assertions on llm_calls.

Usage (as root, from anywhere):
    python3 tests/e2e/run.py [--no-tracer] [--keep] [-v]

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    --no-tracer             only exercise server + clients and check what the clients got
    --keep                  keep the temp dir (cert, DB, logs) even when all passed
    -v                      print every passing check too

What it does (stdlib only; see README.md for the layout):
  1. temp dir, self-signed cert (openssl CLI) for the provider hostnames, `node server.js 0 ...`
  2. `$LLMTAP run --db TMP/db/llmtap.db`, waits (deadline 30 s) for a stderr line "ready"
  3. a non-LLM HTTPS call (GET /health) and a garbage TLS session (openssl s_client)
  4. the real clients, all at once: curl, python3 urllib (client.py), the openai and
     @anthropic-ai/sdk Node SDKs (sdk_openai.mjs, sdk_anthropic.mjs); the Node and Python
     clients run under `unshare --mount` with a private /etc/hosts naming api.openai.com etc.
  5. polls the DB until every call has a row, SIGINTs the tracer (must exit 0 within 5 s)
  6. asserts each row against expect.json (shared with server.js) and against what the
     server logged about each exchange (connection reuse, body bytes, delays), checks that
     no secret is anywhere in the DB files, modes 0600/0700, and `llmtap calls --json`.
Ends with the line "e2e: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import client as pyclient  # noqa: E402  (the shared response summarizer)

with open(os.path.join(HERE, "expect.json"), encoding="utf-8") as _f:
    E = json.load(_f)

READY_DEADLINE_S = 30
CLIENT_DEADLINE_S = 60
ROWS_DEADLINE_S = 30
EXIT_DEADLINE_S = 5
SLACK_MS = 2.0  # timer/clock granularity allowed below the server's simulated delays
POLL_S = 0.05

HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com",
    "local": "llm.local",
}
KNOWN_PRICED = {E["models"]["openai"], E["models"]["anthropic"], E["models"]["gemini"]}
CONTRACT_COLUMNS = [
    "id", "pid", "tid", "comm", "exe", "provider", "operation", "model", "host", "method", "path",
    "status", "stream", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "finish_reason", "response_text", "start_ns", "duration_ms",
    "ttfb_ms", "ttft_ms", "dns_ms", "connect_ms", "tls_ms", "conn_reused", "request_bytes",
    "response_bytes", "request_headers", "response_headers", "request_body", "response_body", "error",
]
SECRETS = [E["keys"]["openai"], E["keys"]["anthropic"], E["keys"]["gemini"],
           E["keys"]["cookie"].split("=", 1)[1], E["keys"]["set_cookie_value"]]
PROXY_VARS = ["http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "ALL_PROXY", "NO_PROXY"]


def call(tag, client, endpoint, stream, kind, op, model_kind, path, provider, operation,
         status=200, encoding=None, cookie=False, key_in_query=False):
    """One LLM call of the suite and everything expected of its row."""
    return dict(tag=tag, client=client, endpoint=endpoint, stream=stream, kind=kind, op=op,
                model=E["models"][model_kind], path=path, provider=provider, operation=operation,
                status=status, encoding=encoding, cookie=cookie, key_in_query=key_in_query,
                host=HOSTS[kind])


GEM = "/v1beta/models/" + E["models"]["gemini"]
CALLS = [
    # curl: one process per call; --resolve makes Host the provider's.
    call("T01-curl-chat-stream-gzip", "curl", "openai_chat", True, "openai", None, "openai",
         "/v1/chat/completions", "openai", "chat", encoding="gzip", cookie=True),
    call("T02-curl-messages-br", "curl", "anthropic_messages", False, "anthropic", None, "anthropic",
         "/v1/messages", "anthropic", "messages", encoding="br"),
    call("T03-curl-chat-deflate", "curl", "openai_chat", False, "openai", None, "openai",
         "/v1/chat/completions", "openai", "chat", encoding="deflate"),
    call("T04-curl-gemini-stream-zstd", "curl", "gemini_generate", True, "gemini", None, "gemini",
         GEM + ":streamGenerateContent?alt=sse", "gemini", "generate_content", encoding="zstd"),
    call("T05-curl-chat-429", "curl", "openai_chat", False, "openai", None, "openai",
         "/v1/chat/completions", "openai", "chat", status=429),
    # python3 urllib: one process, calls in order, a new connection each.
    call("T10-py-chat", "python", "openai_chat", False, "openai", None, "openai",
         "/v1/chat/completions", "openai", "chat"),
    call("T11-py-messages-stream", "python", "anthropic_messages", True, "anthropic", None, "anthropic",
         "/v1/messages", "anthropic", "messages"),
    call("T12-py-gemini-key-query", "python", "gemini_generate", False, "gemini", None, "gemini",
         GEM + ":generateContent?key=" + E["keys"]["gemini"], "gemini", "generate_content",
         key_in_query=True),
    call("T13-py-responses", "python", "openai_responses", False, "openai", None, "openai",
         "/v1/responses", "openai", "responses"),
    # openai@6 Node SDK: one process; calls to api.openai.com share a keep-alive connection.
    call("T20-openai-sdk-chat", "openai-sdk", "openai_chat", False, "openai", "chat", "openai",
         "/v1/chat/completions", "openai", "chat"),
    call("T21-openai-sdk-chat-stream-gzip", "openai-sdk", "openai_chat", True, "openai", "chat_stream",
         "openai", "/v1/chat/completions", "openai", "chat", encoding="gzip"),
    call("T22-openai-sdk-responses-stream", "openai-sdk", "openai_responses", True, "openai",
         "responses_stream", "openai", "/v1/responses", "openai", "responses"),
    call("T23-openai-sdk-local", "openai-sdk", "openai_chat", False, "local", "chat", "local",
         "/v1/chat/completions", "openai-compatible", "chat"),
    # @anthropic-ai/sdk@1 Node SDK: started after "ready" like every client (checked explicitly).
    call("T30-anthropic-sdk-messages", "anthropic-sdk", "anthropic_messages", False, "anthropic",
         "messages", "anthropic", "/v1/messages", "anthropic", "messages"),
    call("T31-anthropic-sdk-messages-stream-br", "anthropic-sdk", "anthropic_messages", True,
         "anthropic", "messages_stream", "anthropic", "/v1/messages", "anthropic", "messages",
         encoding="br"),
]
EXPLICIT_AFTER_READY = "T30-anthropic-sdk-messages"


def expected(c):
    """The user-visible values expected for call c (text, model, tokens, finish_reason)."""
    if c["status"] != 200:
        return dict(text=None, model=c["model"], input_tokens=None, output_tokens=None,
                    cache_read_tokens=None, cache_write_tokens=None, reasoning_tokens=None,
                    finish_reason=None)
    ep = E["endpoints"][c["endpoint"]]
    return dict(text="".join(ep["chunks"]), model=E["model_aliases"].get(c["model"], c["model"]),
                input_tokens=ep["input_tokens"], output_tokens=ep["output_tokens"],
                cache_read_tokens=ep["cache_read_tokens"], cache_write_tokens=ep["cache_write_tokens"],
                reasoning_tokens=ep["reasoning_tokens"], finish_reason=ep["finish_reason"])


class Checks:
    """Counts assertions; prints each failure (and each pass with -v)."""

    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def ok(self, cond, name, detail=""):
        if cond:
            self.passed += 1
            if self.verbose:
                print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL " + name + (": " + str(detail) if detail else ""), flush=True)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got %r, want %r" % (got, want))


class Procs:
    """Every process this driver starts; each in its own session so cleanup can kill its group by id."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


class LineReader:
    """Collects a pipe's lines in a thread; wait_for() polls them against a deadline."""

    def __init__(self, pipe):
        self.lines = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.thread.start()

    def _run(self, pipe):
        for raw in iter(pipe.readline, b""):
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_for(self, pred, timeout):
        """First line satisfying pred, or None at the deadline or EOF."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "\n".join(self.lines)


def preflight(chk, llmtap):
    """Root, the binary, BTF: what `llmtap run` needs. False (after a failed check) when one is missing."""
    if not chk.ok(os.geteuid() == 0, "preflight: running as root",
                  "llmtap run needs root (CAP_BPF + CAP_PERFMON); run the e2e tests as root"):
        return False
    if not chk.ok(os.access(llmtap, os.X_OK), "preflight: llmtap binary",
                  "%s not found or not executable (run make, or set LLMTAP=)" % llmtap):
        return False
    return chk.ok(os.path.exists("/sys/kernel/btf/vmlinux"), "preflight: BPF available",
                  "/sys/kernel/btf/vmlinux missing: this kernel has no BTF, BPF CO-RE cannot run")


def start_server(procs, cert, key, timeout=15, env=None):
    """`node server.js 0 CERT KEY` (127.0.0.1, a free port; env: its environment, e.g. LLMTAP_E2E_H2=1).
    Returns (proc, LineReader of its JSON log, port or None when it did not say "listening" within
    timeout)."""
    sp = procs.start(["node", os.path.join(HERE, "server.js"), "0", cert, key], env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    srv = LineReader(sp.stdout)
    line = srv.wait_for(lambda l: '"listening"' in l, timeout)
    return sp, srv, (json.loads(line)["port"] if line else None)


def start_tracer(procs, llmtap, db, args=(), timeout=READY_DEADLINE_S):
    """`llmtap run --db DB ARGS...`, stderr collected. Returns (proc, LineReader of its stderr,
    the "ready" line or None when none came within timeout)."""
    tracer = procs.start([llmtap, "run", "--db", db] + list(args), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    terr = LineReader(tracer.stderr)
    return tracer, terr, terr.wait_for(lambda l: l.startswith("ready"), timeout)


def stop_tracer(tracer, sig=signal.SIGINT, timeout=EXIT_DEADLINE_S):
    """Sends sig; returns the exit status, or "still running" when it did not exit within timeout."""
    if tracer.poll() is None:
        tracer.send_signal(sig)
    try:
        return tracer.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return "still running"


def wait_rows(db, n, timeout, tracer=None):
    """Polls the DB until it holds >= n rows, the deadline passes or the tracer exits. Returns the count."""
    deadline = time.monotonic() + timeout
    got = count_rows(db)
    while got < n and time.monotonic() < deadline and (tracer is None or tracer.poll() is None):
        time.sleep(POLL_S)
        got = count_rows(db)
    return got


def server_events(reader):
    out = []
    for line in list(reader.lines):
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"event": "unparsed", "line": line})
    return out


def run_cmd(argv, timeout, **kw):
    return subprocess.run(argv, timeout=timeout, capture_output=True, **kw)


def ensure_tools(chk):
    """zstd (the server's zstd encoder) and the npm SDKs; installs them when missing."""
    if not shutil.which("zstd"):
        print("e2e: installing zstd with apt-get", flush=True)
        r = run_cmd(["apt-get", "install", "-y", "-q", "zstd"], 600)
        if r.returncode != 0:
            run_cmd(["apt-get", "update", "-q"], 600)
            run_cmd(["apt-get", "install", "-y", "-q", "zstd"], 600)
    chk.ok(shutil.which("zstd"), "tool: zstd installed")
    for t in ("node", "curl", "openssl", "unshare", "mount"):
        chk.ok(shutil.which(t), "tool: %s on PATH" % t)
    mods = [os.path.join(HERE, "node_modules", m, "package.json") for m in ("openai", "@anthropic-ai/sdk", "ws")]
    if not all(os.path.exists(m) for m in mods):
        print("e2e: installing the npm SDKs (npm ci)", flush=True)
        env = dict(os.environ)
        ca = "/etc/ssl/certs/ca-certificates.crt"  # registry trust; never the test cert
        if os.path.exists(ca):
            env["NODE_EXTRA_CA_CERTS"] = ca
        else:
            env.pop("NODE_EXTRA_CA_CERTS", None)
        r = run_cmd(["npm", "ci", "--no-audit", "--no-fund"], 600, cwd=HERE, env=env)
        if r.returncode != 0:
            print(r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace"))
    return chk.ok(all(os.path.exists(m) for m in mods), "tool: npm SDKs installed in tests/e2e/node_modules")


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    san = "subjectAltName=" + ",".join(["DNS:" + h for h in HOSTS.values()] + ["DNS:localhost", "IP:127.0.0.1"])
    r = run_cmd(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=llmtap-e2e",
                 "-addext", san], 60)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + r.stderr.decode(errors="replace"))
    return cert, key


def req_body(c):
    msg = "Say hello (%s)." % c["tag"]
    if c["endpoint"] == "openai_chat":
        b = {"model": c["model"], "messages": [{"role": "user", "content": msg}]}
        if c["stream"]:
            b.update(stream=True, stream_options={"include_usage": True})
        return b
    if c["endpoint"] == "openai_responses":
        b = {"model": c["model"], "input": msg}
        if c["stream"]:
            b["stream"] = True
        return b
    if c["endpoint"] == "anthropic_messages":
        b = {"model": c["model"], "max_tokens": 256, "messages": [{"role": "user", "content": msg}]}
        if c["stream"]:
            b["stream"] = True
        return b
    return {"contents": [{"role": "user", "parts": [{"text": msg}]}]}


def req_headers(c):
    """Headers a real client of this provider sends, plus the test knobs."""
    h = {"content-type": "application/json", "x-test-call": c["tag"]}
    if c["kind"] in ("openai", "local"):
        h["authorization"] = "Bearer " + E["keys"]["openai"]
    elif c["kind"] == "anthropic":
        h["x-api-key"] = E["keys"]["anthropic"]
        h["anthropic-version"] = "2023-06-01"
    elif c["kind"] == "gemini" and not c["key_in_query"]:
        h["x-goog-api-key"] = E["keys"]["gemini"]
    if c["encoding"]:
        h["x-test-encoding"] = c["encoding"]
    if c["status"] != 200:
        h["x-test-status"] = str(c["status"])
    if c["cookie"]:
        h["cookie"] = E["keys"]["cookie"]
    return h


def test_headers(c):
    """Only the knobs (for SDK calls, which add their own auth and content headers)."""
    h = {"x-test-call": c["tag"]}
    if c["encoding"]:
        h["x-test-encoding"] = c["encoding"]
    return h


def url_of(c, port):
    return "https://%s:%d%s" % (c["host"], port, c["path"])


def hosts_file(tmp):
    path = os.path.join(tmp, "hosts")
    with open(path, "w") as f:
        f.write("# hosts -- private to the e2e clients' mount namespace\n")
        f.write("127.0.0.1 localhost " + " ".join(HOSTS.values()) + "\n")
    return path


def in_private_hosts(hosts, argv):
    """argv run in a new mount namespace where `hosts` is bind-mounted over /etc/hosts."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', hosts] + argv


def client_env(cert):
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env["NODE_EXTRA_CA_CERTS"] = cert
    return env


def curl_argv(c, port, cert, d):
    """curl argv for call c (Host resolved to 127.0.0.1 by --resolve); writes its body to d/req.json,
    curl writes the response to d/body and d/headers and prints the status code."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "req.json"), "w") as f:
        json.dump(req_body(c), f)
    argv = ["curl", "-sS", "--max-time", "30", "--cacert", cert,
            "--resolve", "%s:%d:127.0.0.1" % (c["host"], port),
            "-o", os.path.join(d, "body"), "-D", os.path.join(d, "headers"),
            "-w", "%{http_code}", "--data-binary", "@" + os.path.join(d, "req.json")]
    if c["encoding"]:
        argv.append("--compressed")
    for k, v in req_headers(c).items():
        argv += ["-H", "%s: %s" % (k, v)]
    argv.append(url_of(c, port))
    return argv


def py_call(c, port):
    """One entry of client.py's spec for call c."""
    return dict(tag=c["tag"], endpoint=c["endpoint"], stream=c["stream"], url=url_of(c, port),
                headers=req_headers(c), body=req_body(c))


def start_clients(procs, tmp, port, cert, hosts):
    """Starts every client process at once. Returns a list of (name, Popen, meta)."""
    env = client_env(cert)
    started = []
    for c in CALLS:
        if c["client"] != "curl":
            continue
        d = os.path.join(tmp, c["tag"])
        p = procs.start(curl_argv(c, port, cert, d), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append(("curl " + c["tag"], p, {"kind": "curl", "calls": [c], "dir": d}))

    py_calls = [c for c in CALLS if c["client"] == "python"]
    spec = {"cafile": cert, "calls": [py_call(c, port) for c in py_calls]}
    spec_path = os.path.join(tmp, "py-spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    p = procs.start(in_private_hosts(hosts, [sys.executable, os.path.join(HERE, "client.py"), spec_path]),
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started.append(("python3 client.py", p, {"kind": "json", "calls": py_calls}))

    oa_calls = [c for c in CALLS if c["client"] == "openai-sdk"]
    spec = {"apiKey": E["keys"]["openai"],
            "calls": [dict(tag=c["tag"], op=c["op"], model=c["model"], headers=test_headers(c),
                           baseURL="https://%s:%d/v1" % (c["host"], port)) for c in oa_calls]}
    spec_path = os.path.join(tmp, "openai-spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    p = procs.start(in_private_hosts(hosts, ["node", os.path.join(HERE, "sdk_openai.mjs"), spec_path]),
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE)
    started.append(("node sdk_openai.mjs", p, {"kind": "json", "calls": oa_calls}))

    an_calls = [c for c in CALLS if c["client"] == "anthropic-sdk"]
    spec = {"apiKey": E["keys"]["anthropic"], "baseURL": "https://%s:%d" % (HOSTS["anthropic"], port),
            "calls": [dict(tag=c["tag"], op=c["op"], model=c["model"], headers=test_headers(c))
                      for c in an_calls]}
    spec_path = os.path.join(tmp, "anthropic-spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    p = procs.start(in_private_hosts(hosts, ["node", os.path.join(HERE, "sdk_anthropic.mjs"), spec_path]),
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE)
    started.append(("node sdk_anthropic.mjs", p, {"kind": "json", "calls": an_calls}))
    return started


def expected_comm(c):
    if c["client"] == "curl":
        return "curl"
    if c["client"] == "python":
        return os.path.basename(sys.executable)[:15]
    return "node"


def collect_clients(chk, started):
    """Waits for every client and checks what it got. Returns {tag: result} (result has pid/comm/exe)."""
    results = {}
    deadline = time.monotonic() + CLIENT_DEADLINE_S
    for name, p, meta in started:
        try:
            out, err = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            chk.ok(False, "client %s finished within %d s" % (name, CLIENT_DEADLINE_S))
        if not chk.eq(p.returncode, 0, "client %s exit status" % name):
            print("---- %s stdout/stderr ----\n%s\n%s" % (name, out.decode(errors="replace")[-3000:],
                                                        err.decode(errors="replace")[-3000:]))
        if meta["kind"] == "curl":
            c = meta["calls"][0]
            res = {"tag": c["tag"], "pid": p.pid, "comm": "curl",
                   "exe": os.path.realpath(shutil.which("curl")), "encoding": None}
            try:
                res["status"] = int(out.decode().strip() or 0)
                with open(os.path.join(meta["dir"], "headers"), encoding="latin-1") as f:
                    for line in f:
                        k, _, v = line.partition(":")
                        if k.strip().lower() == "content-encoding":
                            res["encoding"] = v.strip()
                with open(os.path.join(meta["dir"], "body"), "rb") as f:
                    body = f.read()
                res["summary"] = pyclient.summarize(c["endpoint"], c["stream"] and res["status"] == 200, body)
            except (OSError, ValueError, KeyError, IndexError) as e:
                res["exception"] = repr(e)
            results[c["tag"]] = res
        else:
            for line in out.decode(errors="replace").splitlines():
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                results[r.get("tag")] = r
    for c in CALLS:
        tag = c["tag"]
        r = results.get(tag)
        if not chk.ok(r is not None, "%s: client reported a result" % tag):
            continue
        if not chk.ok("exception" not in r, "%s: client call succeeded" % tag, r.get("exception", "")):
            continue
        chk.eq(r.get("status"), c["status"], "%s: client saw status" % tag)
        chk.eq(r.get("comm"), expected_comm(c), "%s: client comm" % tag)
        if c["client"] == "curl" and c["encoding"]:
            chk.eq(r.get("encoding"), c["encoding"], "%s: curl got Content-Encoding" % tag)
        s = r.get("summary") or {}
        if c["status"] != 200:
            chk.eq(s.get("error"), E["error"]["message"], "%s: client saw the error message" % tag)
            continue
        for k, v in expected(c).items():
            chk.eq(s.get(k), v, "%s: client saw %s" % (tag, k))
    return results


def check_server_log(chk, srv, port):
    """The server saw each call as intended (tag, status, stream, encoding actually used)."""
    evs = server_events(srv)
    reqs = {}
    for ev in evs:
        if ev.get("event") == "request" and ev.get("tag"):
            reqs.setdefault(ev["tag"], []).append(ev)
    for c in CALLS:
        got = reqs.get(c["tag"], [])
        if not chk.eq(len(got), 1, "%s: server saw the request once" % c["tag"]):
            continue
        ev = got[0]
        chk.eq(ev["status"], c["status"], "%s: server answered status" % c["tag"])
        chk.eq(ev["stream"], c["stream"] and c["status"] == 200, "%s: server streamed" % c["tag"])
        chk.eq(ev["encoding"], c["encoding"], "%s: server Content-Encoding" % c["tag"])
        chk.eq(ev["host"], "%s:%d" % (c["host"], port), "%s: server saw Host" % c["tag"])
        chk.ok("error" not in ev, "%s: server sent the whole response" % c["tag"], ev.get("error", ""))
    bad = [ev for ev in evs if ev.get("event") in ("handler_error", "unparsed")]
    chk.ok(not bad, "server: no handler errors", repr(bad[:3]))
    return {tag: v[0] for tag, v in reqs.items() if len(v) == 1}


def non_llm_traffic(chk, procs, srv, cert, port):
    """GET /health over HTTPS and a TLS session carrying garbage: both must leave no row."""
    before = len(srv.lines)
    p = procs.start(["curl", "-sS", "--max-time", "20", "--cacert", cert,
                     "--resolve", "%s:%d:127.0.0.1" % (HOSTS["openai"], port),
                     "-H", "authorization: Bearer " + E["keys"]["openai"],
                     "https://%s:%d/health" % (HOSTS["openai"], port)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=client_env(cert))
    out, _ = p.communicate(timeout=30)
    chk.eq(out.strip(), b'{"status":"ok"}', "non-LLM: GET /health answered")

    garbage = b"\x00\x01\x02GARBAGE-not-http \xff\xfe" + bytes(range(32, 127)) + b"\r\n\r\n"
    p = procs.start(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", HOSTS["local"],
                     "-CAfile", cert, "-quiet", "-ign_eof"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, _ = p.communicate(garbage, timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    chk.ok(b"400 Bad Request" in out, "non-LLM: garbage TLS session got 400 and closed", repr(out[:200]))
    got = srv.wait_for(lambda l: '"client_error"' in l, 10)
    chk.ok(got is not None and srv.lines.index(got) >= before, "non-LLM: server saw the garbage session")


def open_db(db):
    conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
    conn.row_factory = sqlite3.Row
    return conn


def count_rows(db):
    try:
        conn = open_db(db)
        try:
            return conn.execute("SELECT count(*) FROM llm_calls").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def as_bytes(v):
    if v is None:
        return None
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def check_rows(chk, db, port, results, srvreq, window, server_pid, ready_ns):
    conn = open_db(db)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(llm_calls)")]
    missing = [c for c in CONTRACT_COLUMNS if c not in cols]
    chk.ok(not missing, "db: llm_calls has every contract column", "missing %s" % missing)
    # a missing column reads as NULL, so one schema gap fails its checks instead of stopping the run
    rows = [dict({k: None for k in CONTRACT_COLUMNS}, **dict(r)) for r in conn.execute("SELECT * FROM llm_calls")]
    conn.close()
    # the tracer is host-wide: calls other tests make to their own servers are recorded too
    rows = [r for r in rows if (r.get("host") or "").endswith(":%d" % port)]
    chk.eq(len(rows), len(CALLS), "db: one row per LLM call, nothing else")
    ids = [r.get("id") for r in rows]
    chk.ok(all(ids) and len(set(ids)) == len(ids), "db: ids non-empty and unique", repr(ids))
    chk.ok(not [r for r in rows if r.get("pid") == server_pid],
           "db: no row for what the server process received")
    chk.ok(not [r for r in rows if (r.get("path") or "").startswith("/health")], "db: no row for GET /health")
    chk.ok(not [r for r in rows if r.get("comm") == "openssl"], "db: no row for the garbage TLS session")

    def find(tag):
        return [r for r in rows if tag in (r.get("request_headers") or "") or
                tag.encode() in (as_bytes(r.get("request_body")) or b"")]

    used = set()
    for c in CALLS:
        tag = c["tag"]
        t = "%s: row " % tag
        found = find(tag)
        if not chk.eq(len(found), 1, t + "exists (matched by x-test-call header or body)"):
            continue
        r = found[0]
        used.add(r["id"])
        x = expected(c)
        cl = results.get(tag, {})
        sv = srvreq.get(tag, {})
        chk.eq(r["provider"], c["provider"], t + "provider")
        chk.eq(r["operation"], c["operation"], t + "operation")
        chk.eq(r["model"], x["model"], t + "model")
        chk.eq(r["status"], c["status"], t + "status")
        chk.eq(r["stream"], 1 if (c["stream"] and c["status"] == 200) else 0, t + "stream")
        chk.eq(r["method"], "POST", t + "method")
        want_path = c["path"].replace("key=" + E["keys"]["gemini"], "key=[REDACTED]")
        chk.eq(r["path"], want_path, t + "path (key= redacted)")
        chk.ok(r["host"] in (c["host"], "%s:%d" % (c["host"], port)), t + "host",
               "got %r, want %r (with or without :%d)" % (r["host"], c["host"], port))
        chk.eq(r["comm"], expected_comm(c), t + "comm")
        if cl.get("pid"):
            chk.eq(r["pid"], cl["pid"], t + "pid is the client's")
            chk.ok(r["exe"] and os.path.realpath(r["exe"]) == cl.get("exe"), t + "exe",
                   "got %r, want %r" % (r["exe"], cl.get("exe")))
        chk.ok(isinstance(r["tid"], int) and r["tid"] > 0, t + "tid", repr(r["tid"]))
        for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                  "reasoning_tokens"):
            chk.eq(r[k], x[k], t + k)
        if c["status"] == 200:
            chk.eq(r["response_text"], x["text"], t + "response_text")
            if c["endpoint"] == "openai_responses":  # the Responses API has no finish_reason field
                chk.ok(r["finish_reason"] in (None, "completed", "stop"), t + "finish_reason",
                       "got %r, want NULL, 'completed' or 'stop'" % r["finish_reason"])
            else:
                chk.eq(r["finish_reason"], x["finish_reason"], t + "finish_reason")
            chk.eq(r["error"], None, t + "error is NULL")
            if c["model"] in KNOWN_PRICED:
                chk.ok(isinstance(r["cost_usd"], float) and r["cost_usd"] > 0, t + "cost_usd > 0",
                       repr(r["cost_usd"]))
            else:
                chk.eq(r["cost_usd"], None, t + "cost_usd NULL for an unknown model")
        else:
            chk.ok(r["error"] and E["error"]["message"] in r["error"], t + "error names the API error",
                   repr(r["error"]))
            chk.ok(r["response_text"] in (None, ""), t + "no response_text", repr(r["response_text"]))
        # timing: the server waited first_byte_delay_ms before answering and gap_ms between events
        d, tb, tt = r["duration_ms"], r["ttfb_ms"], r["ttft_ms"]
        delay = E["timing"]["first_byte_delay_ms"]
        if chk.ok(isinstance(d, (int, float)) and isinstance(tb, (int, float)) and 0 < tb <= d,
                  t + "0 < ttfb_ms <= duration_ms", "ttfb %r duration %r" % (tb, d)):
            chk.ok(tb >= delay - SLACK_MS, t + "ttfb_ms >= server delay", "%r < %r" % (tb, delay))
            if sv.get("events"):
                low = delay + (sv["events"] - 1) * sv["gap_ms"] - SLACK_MS
                chk.ok(d >= low, t + "duration_ms covers every stream event", "%r < %r" % (d, low))
                low = delay + sv["first_content_event"] * sv["gap_ms"] - SLACK_MS
                chk.ok(isinstance(tt, (int, float)) and tb <= tt <= d and tt >= low,
                       t + "ttft_ms at the first content event",
                       "ttft %r, want in [max(ttfb %r, %r), duration %r]" % (tt, tb, low, d))
        s = r["start_ns"]
        chk.ok(isinstance(s, int) and window[0] <= s <= window[1], t + "start_ns within the test window",
               "%r not in %r" % (s, window))
        chk.ok(r["request_headers"], t + "request_headers non-empty")
        chk.ok(r["response_headers"], t + "response_headers non-empty")
        if not c["key_in_query"]:
            chk.ok("[REDACTED]" in (r["request_headers"] or ""), t + "request_headers has [REDACTED]")
        if c["kind"] != "gemini":  # the fake OpenAI/Anthropic send Set-Cookie
            chk.ok("[REDACTED]" in (r["response_headers"] or ""), t + "Set-Cookie shown as [REDACTED]")
        if sv:
            want_reused = 1 if sv["seq"] > 1 else 0
            chk.eq(r["conn_reused"], want_reused, t + "conn_reused (server saw request #%d on its connection)"
                   % sv["seq"])
            if want_reused:
                chk.ok(r["dns_ms"] is None and r["connect_ms"] is None and r["tls_ms"] is None,
                       t + "dns/connect/tls NULL on a reused connection",
                       repr((r["dns_ms"], r["connect_ms"], r["tls_ms"])))
            chk.eq(r["request_bytes"], sv["req_len"], t + "request_bytes (decoded)")
            chk.eq(r["response_bytes"], sv["resp_len"], t + "response_bytes (decoded)")
            rb = as_bytes(r["request_body"])
            chk.ok(rb is not None and hashlib.sha256(rb).hexdigest() == sv["req_sha256"],
                   t + "request_body is the exact body sent", "len %r want %r" % (rb and len(rb), sv["req_len"]))
            rb = as_bytes(r["response_body"])
            chk.ok(rb is not None and hashlib.sha256(rb).hexdigest() == sv["resp_sha256"],
                   t + "response_body is the exact decoded body",
                   "len %r want %r: %r" % (rb and len(rb), sv["resp_len"], rb and rb[:160]))
        if tag == EXPLICIT_AFTER_READY:
            chk.ok(isinstance(s, int) and s > ready_ns, "a client started after 'ready' is captured (%s)" % tag)
    extra = [r for r in rows if r["id"] not in used]
    chk.ok(not extra, "db: no unexpected rows",
           "; ".join("%s %s %s%s pid=%s comm=%s" % (r.get("provider"), r.get("method"), r.get("host"),
                                                    r.get("path"), r.get("pid"), r.get("comm")) for r in extra))
    return rows


def check_files(chk, dbdir, db):
    chk.eq(os.stat(dbdir).st_mode & 0o777, 0o700, "db: directory mode 0700")
    chk.eq(os.stat(db).st_mode & 0o777, 0o600, "db: file mode 0600")
    blob = b""
    for name in sorted(os.listdir(dbdir)):
        p = os.path.join(dbdir, name)
        if os.path.isfile(p):
            if name != os.path.basename(db) and name.startswith(os.path.basename(db)):
                chk.eq(os.stat(p).st_mode & 0o777, 0o600, "db: %s mode 0600" % name)
            with open(p, "rb") as f:
                blob += f.read()
    for s in SECRETS:
        chk.ok(s.encode() not in blob, "db: secret %s...%s appears nowhere in the DB files" % (s[:6], s[-3:]))


def check_calls_json(chk, llmtap, db, rows):
    r = run_cmd([llmtap, "calls", "--db", db, "--json", "--limit", "1000"], 30)
    if not chk.eq(r.returncode, 0, "calls --json: exit status"):
        print(r.stderr.decode(errors="replace"))
        return
    objs = []
    bad = 0
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            objs.append(json.loads(line))
        except ValueError:
            bad += 1
    chk.eq(bad, 0, "calls --json: every line is a JSON object")
    ports = {(r.get("host") or "").rsplit(":", 1)[-1] for r in rows}
    objs = [o for o in objs if (o.get("host") or "").rsplit(":", 1)[-1] in ports]
    chk.eq(len(objs), len(rows), "calls --json: one line per row")
    missing = sorted({k for o in objs for k in CONTRACT_COLUMNS if k not in o})
    chk.ok(objs and not missing, "calls --json: objects carry the contract columns", "missing %s" % missing)
    byid = {row["id"]: row for row in rows}
    diff = []
    for o in objs:
        row = byid.get(o.get("id"))
        if row is None:
            diff.append("unknown id %r" % o.get("id"))
            continue
        for k in ("provider", "operation", "model", "status", "input_tokens", "output_tokens",
                  "response_text", "start_ns"):
            if o.get(k) != row[k]:
                diff.append("%s %s: %r != db %r" % (o["id"], k, o.get(k), row[k]))
    chk.ok(not diff, "calls --json: values equal the DB's", "; ".join(diff[:5]))
    out = r.stdout
    for s in SECRETS:
        chk.ok(s.encode() not in out, "calls --json: secret %s... not printed" % s[:6])


def check_placement(chk, terr, args):
    """The tracer's -v lines say where libssl's probes went: forced to the exported entries, or
    placed where the kernel emulates the first instruction (a shared internal function or an
    exported entry that starts with one)."""
    lines = [l for l in terr.text().splitlines() if "openssl: " in l and "libssl" in l and ": SSL_" in l]
    if not chk.ok(lines, "placement: the tracer names where libssl's SSL_read/SSL_write probes went",
                  terr.text()[-2000:]):
        return
    want = "perf-event links" if args.links == "perf" else "uprobe_multi links"
    chk.ok(re.search(r"uprobes: %s, host-wide" % want, terr.text()), "links: the tracer says it made %s" % want,
           terr.text()[-2000:])
    for l in lines:
        if args.placement == "exported":
            chk.ok("exported entries" in l and "forced by LLMTAP_PLACEMENT=exported" in l,
                   "placement: forced to the exported entries", l)
        else:
            chk.ok("shared internal function" in l or "emulated)" in l,
                   "placement: a first instruction the kernel emulates", l)


def captured(rows, srvreq):
    """tag -> what its row captured: hashes of the request body and response text, sizes, tokens,
    status, model, and whether the response body was the exact one the server sent (the server's
    answers carry per-run ids, so their hashes differ from run to run, and the ids hold the
    server's connection count, whose digits can differ too: response_bytes is compared as "the
    length the server sent")."""
    out = {}
    for c in CALLS:
        found = [r for r in rows if c["tag"] in (r.get("request_headers") or "") or
                 c["tag"].encode() in (as_bytes(r.get("request_body")) or b"")]
        if len(found) != 1:
            continue
        r = found[0]
        out[c["tag"]] = {k: hashlib.sha256(as_bytes(r[k]) or b"").hexdigest() if isinstance(r[k], (str, bytes))
                         else r[k] for k in ("request_body", "response_text", "request_bytes",
                                             "input_tokens", "output_tokens", "status", "model")}
        sv = srvreq.get(c["tag"], {})
        out[c["tag"]]["response_bytes_exact"] = r["response_bytes"] is not None and \
            r["response_bytes"] == sv.get("resp_len")
        body = as_bytes(r["response_body"])
        out[c["tag"]]["response_body_exact"] = body is not None and \
            hashlib.sha256(body).hexdigest() == sv.get("resp_sha256")
    return out


def record_or_compare(chk, rows, srvreq, args):
    """--record: keep what each row captured; --compare: the same bytes as the recorded run
    (the other placement) for every call."""
    got = captured(rows, srvreq)
    if args.record:
        with open(args.record, "w") as f:
            json.dump(got, f)
    if args.compare:
        try:
            with open(args.compare) as f:
                want = json.load(f)
        except (OSError, ValueError) as e:
            chk.ok(False, "placement: the other run's record is readable", repr(e))
            return
        for c in CALLS:
            tag = c["tag"]
            chk.ok(tag in got and got.get(tag) == want.get(tag),
                   "placement: %s captured the same bytes as the other placement's run" % tag,
                   "got %r, recorded %r" % (got.get(tag), want.get(tag)))


def main():
    """Runs the suite; the summary line is printed last, after every process is gone."""
    chk, rc = run_suite()
    print("e2e: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return rc


def run_suite():
    ap = argparse.ArgumentParser(description="llmtap end-to-end tests")
    ap.add_argument("--no-tracer", action="store_true", help="only exercise the server and the clients")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("--placement", choices=("auto", "exported"), default="auto",
                    help="where llmtap probes libssl: its choice, or forced to the exported entries")
    ap.add_argument("--links", choices=("auto", "perf"), default="auto",
                    help="how llmtap makes its uprobes: its choice (uprobe_multi links where the kernel has "
                         "them), or forced to perf-event links, as on kernels before 6.6")
    ap.add_argument("--record", metavar="FILE", help="write what each call's row captured (hashes) to FILE")
    ap.add_argument("--compare", metavar="FILE", help="check each call's row captured what FILE recorded")
    args = ap.parse_args()
    chk = Checks(args.verbose)
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    tracing = not args.no_tracer

    def on_term(signum, frame):
        raise SystemExit("e2e: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-e2e.")
    tracer = terr = srv = None
    try:
        if tracing and not preflight(chk, llmtap):
            return finish(chk)
        if not ensure_tools(chk):
            return finish(chk)
        cert, key = make_cert(tmp)
        hosts = hosts_file(tmp)

        sp, srv, port = start_server(procs, cert, key)
        if not chk.ok(port, "server: listening", srv.text()):
            return finish(chk)

        dbdir = os.path.join(tmp, "db")
        db = os.path.join(dbdir, "llmtap.db")
        ready_ns = 0
        if tracing:
            os.environ["LLMTAP_PLACEMENT"] = args.placement
            if args.links == "perf":
                os.environ["LLMTAP_UPROBE_LINKS"] = "perf"
            tracer, terr, ready = start_tracer(procs, llmtap, db, ["-v"])
            ready_ns = time.time_ns()
            if not chk.ok(ready, "tracer: prints 'ready' on stderr within %d s" % READY_DEADLINE_S,
                          "exit status %r" % tracer.poll()):
                return finish(chk, terr)

        non_llm_traffic(chk, procs, srv, cert, port)
        if tracing:
            chk.ok(tracer.poll() is None, "tracer: still running after the non-LLM traffic",
                   "exit status %r" % tracer.poll())

        t0 = time.time_ns()
        started = start_clients(procs, tmp, port, cert, hosts)
        results = collect_clients(chk, started)
        t1 = time.time_ns()
        srvreq = check_server_log(chk, srv, port)

        if tracing:
            n = wait_rows(db, len(CALLS), ROWS_DEADLINE_S, tracer)
            chk.ok(n >= len(CALLS), "tracer: a row for every call within %d s" % ROWS_DEADLINE_S,
                   "%d rows, want %d" % (n, len(CALLS)))
            alive = chk.ok(tracer.poll() is None, "tracer: still running after all clients",
                           "exit status %r" % tracer.poll())
            if alive:
                rc = stop_tracer(tracer)
                chk.eq(rc, 0, "tracer: exits 0 within %d s of SIGINT" % EXIT_DEADLINE_S)
            if chk.ok(os.path.exists(db), "db: file exists"):
                rows = check_rows(chk, db, port, results, srvreq, (t0, t1), sp.pid, ready_ns)
                check_placement(chk, terr, args)
                record_or_compare(chk, rows, srvreq, args)
                check_files(chk, dbdir, db)
                check_calls_json(chk, llmtap, db, rows)
        return finish(chk, terr)
    except Exception as e:  # an exception is a failure, never a silent pass
        chk.ok(False, "driver: unexpected exception", repr(e))
        import traceback
        traceback.print_exc()
        return finish(chk, terr)
    finally:
        procs.cleanup()
        for reader, name in ((srv, "server.log"), (terr, "llmtap-run.stderr")):
            if reader is not None:
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(reader.text() + "\n")
        if chk.failed or args.keep:
            print("e2e: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def finish(chk, terr=None):
    """(chk, exit status); prints the tracer's stderr when something failed."""
    if chk.failed and terr is not None:
        if terr.thread.is_alive():
            terr.thread.join(timeout=2)
        print("---- llmtap run stderr ----\n" + terr.text()[-20000:] + "\n---- end ----")
    return chk, (1 if chk.failed else 0)


if __name__ == "__main__":
    sys.exit(main())

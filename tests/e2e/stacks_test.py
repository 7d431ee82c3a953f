#!/usr/bin/env python3
"""stacks_test.py -- TLS stacks llmtap finds without symbols, end to end: BoringSSL in Bun executables,
static stripped OpenSSL 3, Go crypto/tls, and the real Claude Code and Codex binaries from npm.

Usage (as root):  python3 tests/e2e/stacks_test.py [-v] [--keep] [-k NAME]

What it builds at test time (kept under build/e2e-stacks/, reused by later runs):
  tls_client      tests/e2e/stacks/tls_client.c, gcc -static with Debian's libssl.a, stripped
  go_client       tests/e2e/stacks/go_client.go, Debian's golang-go, -ldflags='-s -w'
  bun-agent       tests/e2e/stacks/bun_agent.mjs + the openai / @anthropic-ai/sdk SDKs,
                  `bun build --compile` with Bun from npm (bun@$LLMTAP_TEST_BUN, default 1.4.5)
  claude, codex   @anthropic-ai/claude-code@$LLMTAP_TEST_CLAUDE (2.1.332) and
                  @openai/codex@$LLMTAP_TEST_CODEX (0.171.0) from npm: their native executables
Cases (-k picks by name): scan (llmtap scan against the symbols of unstripped twins), openssl, go,
bun (one client running before the tracer starts, one exec'd after), claude, codex (OpenSSL, and
with SSL_CERT_FILE its rustls path on AWS-LC, over HTTP/2). What cannot be fetched
from npm is skipped with one line saying so. Rows are checked field by field against expect.json and
the server's log (bodies by sha256). Ends with "stacks: N passed, N failed".
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import client as pyclient  # noqa: E402
import run as e2e  # noqa: E402
from run import E, Checks, LineReader, Procs  # noqa: E402

CACHE = os.path.join(REPO, "build", "e2e-stacks")
STACKS = os.path.join(HERE, "stacks")
PINS = {
    "bun": os.environ.get("LLMTAP_TEST_BUN", "1.4.5"),
    "claude": os.environ.get("LLMTAP_TEST_CLAUDE", "2.1.332"),
    "codex": os.environ.get("LLMTAP_TEST_CODEX", "0.171.0"),
}
ATTACH_DEADLINE_S = 90     # a 400 MB executable read cold from a busy disk takes a while
CLIENT_DEADLINE_S = 120
ROWS_DEADLINE_S = 30
SLACK_MS = e2e.SLACK_MS
ANTHROPIC_TEXT = "".join(E["endpoints"]["anthropic_messages"]["chunks"])
RESPONSES_TEXT = "".join(E["endpoints"]["openai_responses"]["chunks"])


class Ctx:
    """What the cases share: checks, the server, the tracer and its stderr, paths."""

    def __init__(self, chk, args):
        self.chk, self.args = chk, args
        self.llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
        self.procs = Procs()
        self.tmp = tempfile.mkdtemp(prefix="llmtap-stacks.")
        self.skips = []
        self.srv = self.terr = self.tracer = None

    def dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d

    def skip(self, what, why):
        line = "stacks: SKIP %s: %s" % (what, why)
        self.skips.append(line)
        print(line, flush=True)


# ---------- building the clients (cached) ----------

def sh(argv, timeout=900, **kw):
    return subprocess.run(argv, timeout=timeout, capture_output=True, **kw)


def npm_env():
    """npm trusts the system CA bundle (never the test server's cert)."""
    env = dict(os.environ)
    ca = "/etc/ssl/certs/ca-certificates.crt"
    if os.path.exists(ca):
        env["NODE_EXTRA_CA_CERTS"] = ca
    return env


def npm_install(ctx, name, spec, want):
    """`npm install spec` into CACHE/npm-NAME; returns the path of file want in it, or None (after a
    SKIP line) when npm cannot get it."""
    d = os.path.join(CACHE, "npm-%s-%s" % (name, spec.rsplit("@", 1)[-1]))
    path = os.path.join(d, want)
    if os.path.exists(path):
        return path
    os.makedirs(d, exist_ok=True)
    print("stacks: npm install %s (once; kept in %s)" % (spec, d), flush=True)
    try:
        r = sh(["npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", d, spec], 900,
               env=npm_env())
    except subprocess.TimeoutExpired:
        ctx.skip(name, "npm install %s timed out (registry unreachable?)" % spec)
        return None
    if r.returncode != 0 or not os.path.exists(path):
        err = (r.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        ctx.skip(name, "npm install %s failed (%s)" % (spec, err[:200]))
        shutil.rmtree(d, ignore_errors=True)
        return None
    return path


def build_c_twins(ctx, name, src, argv, what):
    """CACHE/name (stripped) and CACHE/name.sym (with symbols) from the C file src, built by argv + ["-o",
    sym] when src is newer; what names the build in its check. Returns (stripped, sym) or (None, None)."""
    out, sym = os.path.join(CACHE, name), os.path.join(CACHE, name + ".sym")
    if not (os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src)):
        os.makedirs(CACHE, exist_ok=True)
        r = sh(argv[:1] + ["-o", sym] + argv[1:])
        if not ctx.chk.ok(r.returncode == 0, "build: " + what, r.stderr.decode(errors="replace")[-1500:]):
            return None, None
        shutil.copyfile(sym, out)
        os.chmod(out, 0o755)
        sh(["strip", out])
    return out, sym


def build_tls_client(ctx):
    """tls_client (stripped) and tls_client.sym (with symbols), static with Debian's libssl.a."""
    src = os.path.join(STACKS, "tls_client.c")
    return build_c_twins(ctx, "tls_client", src, ["gcc", "-O2", "-static", src, "-lssl", "-lcrypto", "-lpthread"],
                         "tls_client links statically with libssl.a")


def build_awslc_tables(ctx, cc):
    """awslc_tables.CC (stripped) and awslc_tables.CC.sym: AWS-LC's way of filling its AEAD tables, by cc."""
    src = os.path.join(STACKS, "awslc_tables.c")
    return build_c_twins(ctx, "awslc_tables." + cc, src, [cc, "-O2", "-fPIE", "-pie", src],
                         "awslc_tables with " + cc)


def build_go_client(ctx):
    """go_client (stripped) and go_client.sym, built with Debian's Go."""
    out, sym = os.path.join(CACHE, "go_client"), os.path.join(CACHE, "go_client.sym")
    src = os.path.join(STACKS, "go_client.go")
    if not shutil.which("go"):
        ctx.chk.ok(False, "build: go on PATH (Debian golang-go, `make test-deps`)")
        return None, None
    if not (os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src)):
        os.makedirs(CACHE, exist_ok=True)
        env = dict(os.environ, GOCACHE=os.path.join(CACHE, "gocache"), GO111MODULE="off",
                   GOPATH=os.path.join(CACHE, "gopath"))
        for dst, flags in ((out, ["-ldflags=-s -w"]), (sym, [])):
            r = sh(["go", "build"] + flags + ["-o", dst, src], env=env)
            if not ctx.chk.ok(r.returncode == 0, "build: go_client %s" % " ".join(flags),
                              r.stderr.decode(errors="replace")[-1500:]):
                return None, None
    return out, sym


def build_bun_agent(ctx):
    """bun-agent: bun_agent.mjs and the SDKs compiled with `bun build --compile` (Bun from npm)."""
    bun = npm_install(ctx, "bun", "bun@" + PINS["bun"], "node_modules/bun/bin/bun.exe")
    if not bun:
        return None
    out = os.path.join(CACHE, "bun-agent-%s" % PINS["bun"])
    src = os.path.join(STACKS, "bun_agent.mjs")
    if not (os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src)):
        r = sh([bun, "build", "--compile", src, "--outfile", out], cwd=HERE)
        if not ctx.chk.ok(r.returncode == 0, "build: bun build --compile bun_agent.mjs",
                          (r.stdout + r.stderr).decode(errors="replace")[-1500:]):
            return None
    return out


# ---------- the tracer and the rows ----------

def tracer_attached(ctx, pid, timeout=ATTACH_DEADLINE_S):
    """The tracer's "attached to ... for pid N" line (the client's own executable, at its exec), or
    its "attached to new file(s) mapped by pid N" (the look at the process 20 ms, 200 ms and 2 s
    after its exec, when the exec's own look found nothing new yet); None when neither came."""
    want, rescan = "for pid %d " % pid, "mapped by pid %d" % pid
    return ctx.terr.wait_for(lambda l: "attached to" in l and (want in l or l.rstrip().endswith(rescan)),
                             timeout)


def rows_of_pid(db, pid):
    try:
        conn = e2e.open_db(db)
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM llm_calls WHERE pid = ? ORDER BY start_ns",
                                                  (pid,))]
        finally:
            conn.close()
    except Exception:  # noqa: BLE001  (sqlite busy or not created yet)
        return []


def wait_rows(ctx, pid, n, timeout=ROWS_DEADLINE_S):
    deadline = time.monotonic() + timeout
    while True:
        rows = rows_of_pid(ctx.db, pid)
        if len(rows) >= n or time.monotonic() >= deadline or ctx.tracer.poll() is not None:
            return rows
        time.sleep(e2e.POLL_S)


def tag_of(row):
    for line in (row.get("request_headers") or "").splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == "x-test-call":
            return v.strip()
    return None


def sha(b):
    if b is None:
        return None
    return hashlib.sha256(b if isinstance(b, bytes) else str(b).encode("utf-8")).hexdigest()


def server_requests(ctx):
    return [ev for ev in e2e.server_events(ctx.srv) if ev.get("event") == "request"]


def server_by_sha(ctx, req_sha):
    got = [ev for ev in server_requests(ctx) if ev.get("req_sha256") == req_sha]
    return got[0] if len(got) == 1 else None


def check_row(ctx, name, r, c, comm, exe, want_text=None, want=None):
    """Row r of call c (run.py's call dict; None for a real agent's call) made by a process named
    comm running exe: every field against expect.json and the server's log of that request."""
    chk = ctx.chk
    t = "%s: row " % name
    sv = server_by_sha(ctx, r.get("request_body") and sha(r["request_body"]))
    if not chk.ok(sv, t + "request_body is the exact body the server got (sha256)",
                  "no server request with sha256 of %r" % (r.get("request_body") or "")[:120]):
        return
    x = want or e2e.expected(c)
    chk.eq(r["status"], sv["status"], t + "status")
    chk.eq(r["stream"], 1 if sv["stream"] else 0, t + "stream")
    chk.eq(r["method"], "POST", t + "method")
    chk.eq(r["path"], sv["path"], t + "path")
    chk.eq(r["comm"], comm[:15], t + "comm is the process's name")
    chk.eq(r["exe"], exe, t + "exe")
    chk.ok(isinstance(r["tid"], int) and r["tid"] > 0, t + "tid")
    if c:
        chk.eq(r["provider"], c["provider"], t + "provider")
        chk.eq(r["operation"], c["operation"], t + "operation")
        chk.ok(r["host"] in (c["host"], "%s:%d" % (c["host"], ctx.port)), t + "host", repr(r["host"]))
    for k in ("model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
              "reasoning_tokens"):
        if k in x:
            chk.eq(r[k], x[k], t + k)
    chk.eq(r["response_text"], want_text if want_text is not None else x["text"], t + "response_text")
    if "finish_reason" in x and x["finish_reason"] is not None:
        chk.eq(r["finish_reason"], x["finish_reason"], t + "finish_reason")
    chk.eq(r["error"], None, t + "error is NULL")
    chk.eq(r["request_bytes"], sv["req_len"], t + "request_bytes")
    chk.eq(r["response_bytes"], sv["resp_len"], t + "response_bytes")
    chk.eq(sha(r["response_body"]), sv["resp_sha256"], t + "response_body is the exact decoded body")
    d, tb = r["duration_ms"], r["ttfb_ms"]
    if chk.ok(isinstance(d, (int, float)) and isinstance(tb, (int, float)) and 0 < tb <= d,
              t + "0 < ttfb_ms <= duration_ms", "ttfb %r duration %r" % (tb, d)):
        chk.ok(tb >= sv["delay_ms"] - SLACK_MS, t + "ttfb_ms >= the server's delay", "%r" % tb)
        if sv["stream"]:
            chk.ok(isinstance(r["ttft_ms"], (int, float)) and tb <= r["ttft_ms"] <= d, t + "ttft_ms",
                   "ttft %r" % r["ttft_ms"])
    reused = 1 if sv["seq"] > 1 else 0
    chk.eq(r["conn_reused"], reused, t + "conn_reused (request #%d on its connection)" % sv["seq"])
    if not reused:
        # the stream joined to its socket: connect and handshake timed
        chk.ok(isinstance(r["connect_ms"], (int, float)) and r["connect_ms"] >= 0, t + "connect_ms (joined)",
               repr(r["connect_ms"]))
        chk.ok(isinstance(r["tls_ms"], (int, float)) and r["tls_ms"] > 0, t + "tls_ms (handshake seen)",
               repr(r["tls_ms"]))
    chk.ok("[REDACTED]" in (r["request_headers"] or ""), t + "secret header shown as [REDACTED]")
    for s in e2e.SECRETS:
        chk.ok(s not in json.dumps(r), t + "secret %s... nowhere in the row" % s[:6])


def sdk_calls(kind, tags):
    """run.py call dicts for the SDK ops of kind (openai: chat, chat_stream; anthropic: messages, stream)."""
    if kind == "openai":
        return [e2e.call(tags[0], "sdk", "openai_chat", False, "openai", "chat", "openai",
                         "/v1/chat/completions", "openai", "chat"),
                e2e.call(tags[1], "sdk", "openai_chat", True, "openai", "chat_stream", "openai",
                         "/v1/chat/completions", "openai", "chat")]
    return [e2e.call(tags[0], "sdk", "anthropic_messages", False, "anthropic", "messages", "anthropic",
                     "/v1/messages", "anthropic", "messages"),
            e2e.call(tags[1], "sdk", "anthropic_messages", True, "anthropic", "messages_stream", "anthropic",
                     "/v1/messages", "anthropic", "messages")]


def raw_calls(prefix):
    """Four raw-HTTP calls: OpenAI chat, chat stream, Anthropic messages, messages stream."""
    return sdk_calls("openai", [prefix + "-chat", prefix + "-chat-stream"]) + \
        sdk_calls("anthropic", [prefix + "-messages", prefix + "-messages-stream"])


def check_tagged(ctx, name, pid, calls, comm, exe):
    """Every call has exactly one row of pid (by x-test-call), right in every field."""
    rows = wait_rows(ctx, pid, len(calls))
    ctx.chk.eq(len(rows), len(calls), "%s: one row per call of pid %d" % (name, pid))
    for c in calls:
        got = [r for r in rows if tag_of(r) == c["tag"]]
        if ctx.chk.eq(len(got), 1, "%s: %s has one row" % (name, c["tag"])):
            check_row(ctx, "%s %s" % (name, c["tag"]), got[0], c, comm, exe)


def wait_client(ctx, name, p, out):
    try:
        rc = p.wait(timeout=CLIENT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "timeout"
    out.thread.join(timeout=5)
    if not ctx.chk.eq(rc, 0, "%s: client exit status" % name):
        print("---- %s output ----\n%s" % (name, out.text()[-3000:]))
    return rc


def start_waiting(ctx, name, argv, env=None, private_hosts=False):
    """Start a client that prints {"event":"waiting","pid"} and waits for a stdin line. Returns
    (proc, reader) once it waits, else None."""
    if private_hosts:
        argv = e2e.in_private_hosts(ctx.hosts, argv)
    p = ctx.procs.start(argv, env=env or ctx.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
    out = LineReader(p.stdout)
    line = out.wait_for(lambda l: '"waiting"' in l, CLIENT_DEADLINE_S)
    if not ctx.chk.ok(line and json.loads(line).get("pid") == p.pid, "%s: client started and waits" % name,
                      out.text()[-2000:]):
        return None
    return p, out


def go_on(p):
    p.stdin.write(b"go\n")
    p.stdin.close()


# ---------- cases ----------

def make_chain(tmp):
    """A CA and a server certificate it signed for the provider hostnames: rustls (Codex) refuses a
    self-signed CA certificate as the server's own. Returns (ca, cert, key)."""
    ca, cakey = os.path.join(tmp, "ca.pem"), os.path.join(tmp, "ca-key.pem")
    cert, key, csr = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem"), os.path.join(tmp, "req.csr")
    ext = os.path.join(tmp, "leaf.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n"
                % ",".join(["DNS:" + h for h in e2e.HOSTS.values()] + ["DNS:localhost", "IP:127.0.0.1"]))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (["openssl", "req", "-x509"] + ec + ["-keyout", cakey, "-out", ca, "-days", "2",
                                                    "-subj", "/CN=llmtap-e2e-ca"],
                 ["openssl", "req"] + ec + ["-keyout", key, "-out", csr, "-subj", "/CN=llmtap-e2e"],
                 ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial",
                  "-out", cert, "-days", "2", "-extfile", ext]):
        r = e2e.run_cmd(argv, 60)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (argv[:3], r.stderr.decode(errors="replace")))
    return ca, cert, key


def scan_json(ctx, path):
    r = e2e.run_cmd([ctx.llmtap, "scan", "--json", path], 120)
    try:
        return json.loads(r.stdout.decode())
    except ValueError:
        return {}


def stack_of(scan, name):
    for s in scan.get("stacks", []):
        if s["stack"] == name:
            return s
    return {}


def nm_vaddr(path, sym):
    r = sh(["nm", path])
    for line in r.stdout.decode(errors="replace").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[2] == sym:
            return int(parts[0], 16)
    return None


def case_scan(ctx):
    """`llmtap scan` finds in stripped files the functions the unstripped twins name."""
    chk, n = ctx.chk, "scan"
    for stripped, sym, stack, funcs in (
            (ctx.tls_client, ctx.tls_client_sym, "openssl-static",
             {"ssl_read_internal": "ssl_read_internal", "ssl_write_internal": "ssl_write_internal",
              "SSL_do_handshake": "SSL_do_handshake"}),
            (ctx.go_client, ctx.go_client_sym, "go",
             {"Conn.Read": "crypto/tls.(*Conn).Read", "Conn.Write": "crypto/tls.(*Conn).Write",
              "Conn.clientHandshake": "crypto/tls.(*Conn).clientHandshake"})):
        if not stripped:
            continue
        a, b = stack_of(scan_json(ctx, stripped), stack), stack_of(scan_json(ctx, sym), stack)
        what = "%s: %s in stripped %s" % (n, stack, os.path.basename(stripped))
        if not chk.eq(a.get("status"), "found", what + " found"):
            print(json.dumps(a)[:2000])
            continue
        fa = {f["name"]: f for f in a["functions"]}
        fb = {f["name"]: f for f in b.get("functions", [])}
        for role, symbol in funcs.items():
            chk.ok(role in fa and fb.get(role, {}).get("offset") == fa[role]["offset"],
                   "%s: %s at the same offset in the stripped and unstripped build" % (what, role))
            chk.eq(fb.get(role, {}).get("vaddr"), nm_vaddr(sym, symbol),
                   "%s: %s is where the symbol %s is" % (what, role, symbol))
        if stack == "go":
            chk.ok(all(fa.get(r, {}).get("rets") for r in ("Conn.Read", "Conn.Write")),
                   "%s: the RETs of Read and Write are listed" % what)
    # rustls on AWS-LC: the method tables' functions, as clang compiles their init (Codex's AWS-LC is
    # clang's); gcc's vectorised stores are not read, and such a file is reported, never probed
    for cc, want in (("clang", "found"), ("gcc", "unverified")):
        stripped, sym = build_awslc_tables(ctx, cc)
        if not stripped:
            continue
        if cc == "clang":
            ctx.awslc_tables = stripped
        a = stack_of(scan_json(ctx, stripped), "rustls")
        what = "%s: rustls on AWS-LC in stripped awslc_tables (%s)" % (n, cc)
        if not chk.eq(a.get("status"), want, what + " " + want) or want != "found":
            continue
        got = {f["vaddr"] for f in a["functions"]}
        for symbol in ("fixture_gcm_seal", "fixture_gcm_tls13_seal", "fixture_gcm_open_gather",
                       "fixture_gcm_cleanup", "fixture_chacha_seal", "fixture_chacha_open_gather",
                       "fixture_chacha_cleanup"):
            chk.ok(nm_vaddr(sym, symbol) in got, "%s: %s found where its symbol is" % (what, symbol),
                   repr(a["functions"]))
        chk.eq(len(a["functions"]), 7, what + ": each shared function listed once")
    # the scanners under ASan on damaged copies of the clients (make unit builds build/san/test_scan)
    san = os.path.join(REPO, "build", "san", "test_scan")
    files = [f for f in (ctx.tls_client, ctx.go_client, getattr(ctx, "bun_agent", None),
                         getattr(ctx, "awslc_tables", None)) if f]
    if os.access(san, os.X_OK) and files:
        r = sh([san] + files, 1800)
        chk.ok(r.returncode == 0, "%s: no crash nor out-of-bounds read scanning damaged copies of %s (ASan)"
               % (n, ", ".join(os.path.basename(f) for f in files)),
               (r.stdout + r.stderr).decode(errors="replace")[-3000:])
    for path in (ctx.llmtap, "/bin/true"):
        chk.eq(scan_json(ctx, path).get("stacks"), [], "%s: no TLS stack in %s" % (n, path))
    r = e2e.run_cmd([ctx.llmtap, "scan", "/etc/hostname"], 30)
    chk.ok(r.returncode == 1 and b"not an x86-64 ELF" in r.stderr, "%s: a non-ELF file is named" % n,
           repr(r.stderr[:200]))


def case_openssl(ctx):
    """The static, stripped OpenSSL client: exec'd after the tracer is ready. Then again with each
    request written to the socket 50 ms after it was encrypted, the thread spinning in between (as
    rustls seals first and writes later, or a thread preempted on a loaded host): the row is still
    joined to its connection. Then with each request write spinning 100 ms after its send, before
    SSL_write returns (a thread preempted there): the request ends at its send, so ttfb_ms still
    covers the server's delay (the return would leave it near 0)."""
    if not ctx.tls_client:
        return
    openssl_run(ctx, "openssl", raw_calls("S-OSSL"), [])
    openssl_run(ctx, "openssl late send", raw_calls("S-OSSL-LATE")[:2], ["--late-send", "50"])
    openssl_run(ctx, "openssl slow return", raw_calls("S-OSSL-SLOW")[:2], ["--slow-return", "100"])


def openssl_run(ctx, name, calls, extra):
    """tls_client with extra options makes calls, each its own connection; every row is checked."""
    d = ctx.dir(name.replace(" ", "-"))
    files = []
    for c in calls:
        body = json.dumps(e2e.req_body(c)).encode()
        head = "POST %s HTTP/1.1\r\nHost: %s:%d\r\n" % (c["path"], c["host"], ctx.port)
        for k, v in e2e.req_headers(c).items():
            head += "%s: %s\r\n" % (k, v)
        head += "Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        f = os.path.join(d, c["tag"])
        with open(f, "wb") as fh:
            fh.write(head.encode() + body)
        files.append(f)
    # SNI and certificate checks name the host; the socket goes to 127.0.0.1
    st = start_waiting(ctx, name, [ctx.tls_client, "127.0.0.1", str(ctx.port), "api.openai.com", ctx.cert,
                                   "--wait"] + extra + files)
    if not st:
        return
    p, out = st
    if not extra:   # the file's probes, placed at the first run's exec, stay for the second's
        ctx.chk.ok(tracer_attached(ctx, p.pid), "%s: tracer attached to the exec'd client" % name,
                   ctx.terr.text()[-1500:])
    go_on(p)
    if wait_client(ctx, name, p, out) != 0:
        return
    for c, f in zip(calls, files):
        with open(f + ".out", "rb") as fh:
            raw = fh.read()
        head, _, body = raw.partition(b"\r\n\r\n")
        if b"chunked" in head.lower():
            body = dechunk(body)
        s = pyclient.summarize(c["endpoint"], c["stream"], body)
        ctx.chk.eq(s["text"], e2e.expected(c)["text"], "%s %s: client got the text" % (name, c["tag"]))
    check_tagged(ctx, name, p.pid, calls, "tls_client", ctx.tls_client)


def dechunk(b):
    out = b""
    while b:
        size, _, rest = b.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out += rest[:n]
        b = rest[n + 2:]
    return out


def spec_calls(ctx, calls):
    return [e2e.py_call(c, ctx.port) for c in calls]


def case_go(ctx):
    """The stripped Go client: exec'd after the tracer is ready; keep-alive per host."""
    if not ctx.go_client:
        return
    name = "go"
    calls = raw_calls("S-GO")
    spec = os.path.join(ctx.dir(name), "spec.json")
    with open(spec, "w") as f:
        json.dump({"cafile": ctx.cert, "calls": spec_calls(ctx, calls), "wait_stdin": True}, f)
    st = start_waiting(ctx, name, [ctx.go_client, spec], private_hosts=True)
    if not st:
        return
    p, out = st
    ctx.chk.ok(tracer_attached(ctx, p.pid), "%s: tracer attached to the exec'd client" % name,
               ctx.terr.text()[-1500:])
    go_on(p)
    if wait_client(ctx, name, p, out) != 0:
        return
    res = {}
    for line in out.lines:
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("tag"):
            res[o["tag"]] = o
    for c in calls:
        s = pyclient.summarize(c["endpoint"], c["stream"], res.get(c["tag"], {}).get("body") or "{}")
        ctx.chk.eq(s["text"], e2e.expected(c)["text"], "%s %s: client got the text" % (name, c["tag"]))
    check_tagged(ctx, name, p.pid, calls, "go_client", ctx.go_client)


def bun_spec(ctx, kind, calls, d):
    path = os.path.join(d, "%s-spec.json" % kind)
    key = E["keys"]["openai" if kind == "openai" else "anthropic"]
    spec = {"apiKey": key,
            "calls": [dict(tag=c["tag"], op=c["op"], model=c["model"], headers=e2e.test_headers(c),
                           baseURL="https://%s:%d%s" % (c["host"], ctx.port, "/v1" if kind == "openai" else ""))
                      for c in calls]}
    if kind == "anthropic":
        spec["baseURL"] = "https://%s:%d" % (e2e.HOSTS["anthropic"], ctx.port)
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def bun_start(ctx):
    """Before the tracer starts: the Bun-compiled agent making OpenAI calls, waiting (found at start-up)."""
    if not ctx.bun_agent:
        return
    d = ctx.dir("bun")
    ctx.bun_early_calls = sdk_calls("openai", ["S-BUN-chat", "S-BUN-chat-stream"])
    spec = bun_spec(ctx, "openai", ctx.bun_early_calls, d)
    ctx.bun_early = start_waiting(ctx, "bun (running before the tracer)",
                                  [ctx.bun_agent, "openai", spec, "--wait"], private_hosts=True)


def case_bun(ctx):
    """Bun's BoringSSL: the agent that was running at start-up, then one exec'd later."""
    if not ctx.bun_agent:
        return
    name = "bun"
    comm = os.path.basename(ctx.bun_agent)
    if ctx.bun_early:
        p, out = ctx.bun_early
        go_on(p)
        if wait_client(ctx, name + " early", p, out) == 0:
            check_tagged(ctx, name + " (running at start-up)", p.pid, ctx.bun_early_calls, comm, ctx.bun_agent)
    # a new file (inode) the tracer has not seen, as a freshly installed agent
    late = os.path.join(ctx.dir(name), "bun-agent-late")
    shutil.copyfile(ctx.bun_agent, late)
    os.chmod(late, 0o755)
    calls = sdk_calls("anthropic", ["S-BUN-messages", "S-BUN-messages-stream"])
    spec = bun_spec(ctx, "anthropic", calls, ctx.dir(name))
    st = start_waiting(ctx, name + " (exec'd later)", [late, "anthropic", spec, "--wait"], private_hosts=True)
    if not st:
        return
    p, out = st
    ctx.chk.ok(tracer_attached(ctx, p.pid), "%s: tracer attached to the new agent executable" % name,
               ctx.terr.text()[-1500:])
    go_on(p)
    if wait_client(ctx, name + " late", p, out) == 0:
        check_tagged(ctx, name + " (exec'd later)", p.pid, calls, "bun-agent-late", late)


def agent_env(ctx, home):
    env = {k: v for k, v in os.environ.items() if k not in e2e.PROXY_VARS}
    for k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
              "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "CODEX_HOME"):
        env.pop(k, None)
    env["HOME"] = home
    return env


def case_claude(ctx):
    """The real Claude Code (a Bun executable from npm), `claude -p`, on PATH when the tracer starts."""
    if not ctx.claude:
        return
    name = "claude"
    home = ctx.dir("claude-home")
    env = agent_env(ctx, home)
    env.update(ANTHROPIC_BASE_URL="https://%s:%d" % (e2e.HOSTS["anthropic"], ctx.port),
               ANTHROPIC_API_KEY=E["keys"]["anthropic"], NODE_EXTRA_CA_CERTS=ctx.cert, DISABLE_AUTOUPDATER="1",
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1", DISABLE_ERROR_REPORTING="1")
    p = ctx.procs.start(e2e.in_private_hosts(ctx.hosts, [ctx.claude, "-p"]), env=env, stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = LineReader(p.stdout)
    p.stdin.write(b"Say hello (S-CLAUDE).\n")   # claude -p reads the prompt until stdin ends
    p.stdin.close()
    if wait_client(ctx, name, p, out) != 0:
        return
    ctx.chk.ok(ANTHROPIC_TEXT in out.text(), "%s: claude printed the fake answer" % name, out.text()[-500:])
    rows = wait_rows(ctx, p.pid, 1)
    ctx.chk.ok(rows, "%s: rows for claude's calls (pid %d)" % (name, p.pid))
    msgs = [r for r in rows if (r["path"] or "").startswith("/v1/messages")]
    ctx.chk.ok(msgs, "%s: a /v1/messages row" % name, repr([r["path"] for r in rows]))
    ep = E["endpoints"]["anthropic_messages"]
    for r in msgs:
        want = dict(model=json.loads(r["request_body"] or "{}").get("model"),
                    input_tokens=ep["input_tokens"], output_tokens=ep["output_tokens"])
        c = dict(provider="anthropic", operation="messages", host=e2e.HOSTS["anthropic"])
        check_row(ctx, "%s %s" % (name, r["id"][:8]), r, c, "claude", ctx.claude, ANTHROPIC_TEXT, want)


def codex_home(ctx, d):
    os.makedirs(os.path.join(d, "codex"), exist_ok=True)
    with open(os.path.join(d, "codex", "config.toml"), "w") as f:
        f.write('model_provider = "local"\nmodel = "%s"\n[model_providers.local]\nname = "local"\n'
                'base_url = "https://%s:%d/v1"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n'
                'supports_websockets = false\n' % (E["models"]["openai"], e2e.HOSTS["openai"], ctx.port))
    return os.path.join(d, "codex")


def run_codex(ctx, name, env, tag):
    p = ctx.procs.start(e2e.in_private_hosts(ctx.hosts, [ctx.codex, "exec", "--skip-git-repo-check",
                                                         "Say hello (%s)." % tag]),
                        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        cwd=ctx.dir(name))
    out = LineReader(p.stdout)
    rc = wait_client(ctx, name, p, out)
    return p, out, rc


def case_codex(ctx):
    """The real Codex (static OpenSSL 3.6, and rustls on AWS-LC), `codex exec`, on PATH when the tracer starts."""
    if not ctx.codex:
        return
    name = "codex"
    home = ctx.dir("codex-home")
    certs = ctx.dir("codex-certs")
    shutil.copyfile(ctx.cert, os.path.join(certs, "e2e.pem"))
    sh(["openssl", "rehash", certs])
    env = agent_env(ctx, home)
    env.update(CODEX_HOME=codex_home(ctx, home), OPENAI_API_KEY=E["keys"]["openai"], SSL_CERT_DIR=certs)
    p, out, rc = run_codex(ctx, name + " (OpenSSL)", env, "S-CODEX")
    codex_rows(ctx, name, p, out, rc)
    # SSL_CERT_FILE makes Codex use rustls (on AWS-LC): the same rows, over HTTP/1.1, over HTTP/2 from
    # a server that offers it (ALPN h2), and from a server that allows only ChaCha20-Poly1305.
    env["SSL_CERT_FILE"] = ctx.cert
    env.pop("SSL_CERT_DIR")
    p, out, rc = run_codex(ctx, name + " (rustls)", env, "S-CODEX-RUSTLS")
    codex_rows(ctx, name + " rustls", p, out, rc)
    for tag, senv in (("h2", dict(LLMTAP_E2E_H2="1")),
                      ("chacha", dict(LLMTAP_E2E_CIPHERS="TLS_CHACHA20_POLY1305_SHA256"))):
        _, srv2, port2 = e2e.start_server(ctx.procs, ctx.srv_cert, ctx.srv_key, env=dict(os.environ, **senv))
        if not ctx.chk.ok(port2, "codex rustls %s: server listening" % tag, srv2.text()):
            continue
        srv, port = ctx.srv, ctx.port
        ctx.srv, ctx.port = srv2, port2
        try:
            env["CODEX_HOME"] = codex_home(ctx, ctx.dir("codex-home-" + tag))
            p, out, rc = run_codex(ctx, "%s (rustls, %s)" % (name, tag), env, "S-CODEX-RUSTLS-" + tag.upper())
            codex_rows(ctx, "%s rustls %s" % (name, tag), p, out, rc)
            versions = [ev.get("http_version") for ev in server_requests(ctx) if ev.get("path") == "/v1/responses"]
            if tag == "h2":
                ctx.chk.ok("2.0" in versions, "codex rustls h2: the server saw HTTP/2 requests", repr(versions))
        finally:
            ctx.srv, ctx.port = srv, port
    ctx.chk.ok(any("rustls" in l and "AWS-LC" in l and ctx.codex in l for l in ctx.terr.lines),
               "%s: the tracer says it probes rustls (AWS-LC) in %s" % (name, ctx.codex),
               "\n".join(l for l in ctx.terr.lines if "rustls" in l))


def codex_rows(ctx, name, p, out, rc):
    """Codex printed the fake answer, and its /v1/responses rows are exact."""
    if rc != 0:
        return
    ctx.chk.ok(RESPONSES_TEXT in out.text(), "%s: codex printed the fake answer" % name, out.text()[-500:])
    rows = [r for r in wait_rows(ctx, p.pid, 1) if (r["path"] or "").startswith("/v1/responses")]
    if not ctx.chk.ok(rows, "%s: a /v1/responses row for codex (pid %d)" % (name, p.pid)):
        return
    ep = E["endpoints"]["openai_responses"]
    for r in rows:
        want = dict(model=E["model_aliases"].get(E["models"]["openai"], E["models"]["openai"]),
                    input_tokens=ep["input_tokens"], output_tokens=ep["output_tokens"])
        c = dict(provider="openai", operation="responses", host=e2e.HOSTS["openai"])
        check_row(ctx, "%s %s" % (name, r["id"][:8]), r, c, "codex", ctx.codex, RESPONSES_TEXT, want)


CASES = [("scan", case_scan), ("openssl", case_openssl), ("go", case_go), ("bun", case_bun),
         ("claude", case_claude), ("codex", case_codex)]


def prepare(ctx, want):
    ctx.tls_client, ctx.tls_client_sym = build_tls_client(ctx) if want & {"scan", "openssl"} else (None, None)
    ctx.go_client, ctx.go_client_sym = build_go_client(ctx) if want & {"scan", "go"} else (None, None)
    ctx.bun_agent = build_bun_agent(ctx) if want & {"scan", "bun"} else None
    ctx.claude = ctx.codex = None
    if "claude" in want:
        ctx.claude = npm_install(ctx, "claude", "@anthropic-ai/claude-code@" + PINS["claude"],
                                 "node_modules/@anthropic-ai/claude-code-linux-x64/claude")
    if "codex" in want:
        ctx.codex = npm_install(ctx, "codex", "@openai/codex@" + PINS["codex"],
                                "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex")
    ctx.bun_early = None


def run_suite(ctx):
    chk, args = ctx.chk, ctx.args
    want = {n for n, _ in CASES if not args.k or re.search(args.k, n)}
    if not e2e.preflight(chk, ctx.llmtap) or not e2e.ensure_tools(chk):
        return
    prepare(ctx, want)
    # ctx.cert is what clients trust: the CA
    ctx.cert, cert, key = make_chain(ctx.tmp)
    ctx.srv_cert, ctx.srv_key = cert, key
    ctx.hosts = e2e.hosts_file(ctx.tmp)
    ctx.env = e2e.client_env(ctx.cert)
    ctx.env.pop("SSL_CERT_FILE", None)
    sp, ctx.srv, ctx.port = e2e.start_server(ctx.procs, cert, key)
    if not chk.ok(ctx.port, "server: listening", ctx.srv.text()):
        return
    if "scan" in want:
        case_scan(ctx)
    want.discard("scan")
    if not want:
        return
    if "bun" in want:
        bun_start(ctx)
    # claude and codex are installed agents: on the tracer's PATH, found before they run
    path_dirs = [os.path.dirname(x) for x in (ctx.claude, ctx.codex) if x]
    db = os.path.join(ctx.dir("db"), "llmtap.db")
    env = dict(os.environ, PATH=":".join(path_dirs + [os.environ.get("PATH", "/usr/bin:/bin")]))
    tracer = ctx.procs.start([ctx.llmtap, "run", "--db", db], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    ctx.tracer, ctx.db = tracer, db
    ctx.terr = LineReader(tracer.stderr)
    ready = ctx.terr.wait_for(lambda l: l.startswith("ready"), 120)
    if not chk.ok(ready, "tracer: ready", ctx.terr.text()[-2000:]):
        return
    for n, fn in CASES:
        if n in want:
            try:
                fn(ctx)
            except Exception as e:  # an exception is a failure, never a silent pass
                chk.ok(False, "%s: unexpected exception" % n, repr(e))
                import traceback
                traceback.print_exc()
    chk.ok(tracer.poll() is None, "tracer: still running after every case")
    chk.eq(e2e.stop_tracer(tracer), 0, "tracer: exits 0 on SIGINT")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-k", help="run the cases whose name matches this regex")
    args = ap.parse_args()
    chk = Checks(args.verbose)
    ctx = Ctx(chk, args)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit("stacks: interrupted"))
    try:
        run_suite(ctx)
    except Exception as e:  # noqa: BLE001
        chk.ok(False, "driver: unexpected exception", repr(e))
        import traceback
        traceback.print_exc()
    finally:
        ctx.procs.cleanup()
        if ctx.terr is not None:
            with open(os.path.join(ctx.tmp, "llmtap-run.stderr"), "w") as f:
                f.write(ctx.terr.text() + "\n")
        if ctx.srv is not None:
            with open(os.path.join(ctx.tmp, "server.log"), "w") as f:
                f.write(ctx.srv.text() + "\n")
        if chk.failed or args.keep:
            if chk.failed and ctx.terr is not None:
                print("---- llmtap run stderr (last lines) ----\n" + ctx.terr.text()[-6000:])
            print("stacks: temp dir kept: " + ctx.tmp)
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    for line in ctx.skips:
        print(line)
    print("stacks: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

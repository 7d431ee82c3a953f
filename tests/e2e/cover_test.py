#!/usr/bin/env python3
"""cover_test.py -- llmtap beyond OpenSSL on the host: GnuTLS, plain HTTP, mount namespaces, replaced libraries, cgroups, WebSocket, `llmtap doctor`.

Usage (as root, from anywhere):
    python3 tests/e2e/cover_test.py [-v] [--keep] [-k CASE]...

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    -v                      print every passing check too
    --keep                  keep the temp dir even when everything passed
    -k CASE                 run only the cases whose name contains CASE (repeatable)

Real processes only. The fake API of server.js (HTTPS, and plain HTTP with LLMTAP_E2E_PLAIN=1), one
`llmtap run` shared by the cases that do not need their own, and as clients: wget (Debian's, on
GnuTLS), curl / python3 / node over plain HTTP, python3 (OpenSSL) inside `unshare -m` with its own
bind-mounted libssl copy, python3 on a libssl replaced on disk before the tracer started, python3 in
a cgroup named like a Docker container, node `ws` clients of a WebSocket Responses server, and mbed
TLS clients (built here from Debian's libmbedtls-dev, static and dynamic) for `llmtap doctor`, which
talk to a server in a network namespace (veth) so their connections go to another host. Every row is
found by its x-test-call tag (other engineers' traffic may be traced too). Cases:
   1 gnutls     wget (GnuTLS): chat, streamed chat, gzip'd chat, Anthropic messages: rows exact
   2 plain      plain HTTP to a local OpenAI-compatible server: curl, python3, node (keep-alive):
                rows exact, provider openai-compatible; GET /health and the server side: no row
   3 mntns      a client in `unshare -m` with a bind-mounted libssl copy is captured
   4 replaced   a client whose libssl was replaced on disk before the tracer started is captured
   5 cgroup     a client in cgroup .../docker-<64 hex>.scope: cgroup and container_id columns
   6 doctor     `llmtap doctor` (asking the tracer, and its own scan): the mbed TLS clients are
                uncovered with the reason, python3 covered by openssl symbols, wget by gnutls;
                `run` logs them, /metrics counts them; a `run -p` tracer judges its process only
   7 websocket  the Responses API over WebSocket (node `ws`, TLS and plain): a row per response
Ends with the line "cover: N passed, N failed"; exit status 1 when anything failed.
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
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import client as pyclient  # noqa: E402
import run as e2e  # noqa: E402
from run import E, Checks, LineReader, Procs  # noqa: E402

CLIENT_DEADLINE_S = 60
ROWS_DEADLINE_S = 30
ATTACH_DEADLINE_S = 15
LIBSSL = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
HEX64 = "c0ffee00" * 8
CHAT = E["endpoints"]["openai_chat"]
CHAT_TEXT = "".join(CHAT["chunks"])
CHAT_MODEL = E["model_aliases"].get(E["models"]["openai"], E["models"]["openai"])
TRACER_DROPS = [lambda: False]  # set by the driver: did the tracer report lost events?


class Env:
    """What the cases share: temp dir, cert, the HTTPS and plain servers, the shared tracer."""

    def __init__(self, chk, procs, tmp, llmtap):
        self.chk, self.procs, self.tmp, self.llmtap = chk, procs, tmp, llmtap
        self.cert = self.key = self.hosts = None
        self.srv = self.port = self.srv_proc = None
        self.plain = self.plain_port = self.plain_proc = None
        self.tracer = self.terr = None
        self.db = os.path.join(tmp, "db", "llmtap.db")
        self.listen_port = None
        self.readers = []

    def start(self):
        self.cert, self.key = e2e.make_cert(self.tmp)
        self.hosts = e2e.hosts_file(self.tmp)
        self.srv_proc, self.srv, self.port = e2e.start_server(self.procs, self.cert, self.key)
        self.readers.append((self.srv, "server.log"))
        env = dict(os.environ, LLMTAP_E2E_PLAIN="1")
        self.plain_proc = self.procs.start(["node", os.path.join(HERE, "server.js"), "0", "-", "-"],
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.plain = LineReader(self.plain_proc.stdout)
        self.readers.append((self.plain, "plain-server.log"))
        line = self.plain.wait_for(lambda l: '"listening"' in l, 15)
        self.plain_port = json.loads(line)["port"] if line else None
        return self.port and self.plain_port

    def start_tracer(self):
        extra = os.environ.get("LLMTAP_COVER_ARGS", "").split()  # e.g. -v while debugging
        self.tracer, self.terr, ready = e2e.start_tracer(self.procs, self.llmtap, self.db,
                                                         ["--listen", "0"] + extra)
        self.readers.append((self.terr, "llmtap-run.stderr"))
        line = self.terr.wait_for(lambda l: "serving /health" in l, 1)
        m = re.search(r":(\d+)$", line or "")
        self.listen_port = int(m.group(1)) if m else None
        return ready


# ---- helpers ---------------------------------------------------------------------------------------


def rows_by_tag(db, tag):
    """Rows whose request carries tag (header or body), as dicts."""
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(
                "SELECT * FROM llm_calls WHERE request_headers LIKE ? OR request_body LIKE ?",
                ("%" + tag + "%", "%" + tag + "%"))]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def wait_tag_rows(db, tags, timeout=ROWS_DEADLINE_S):
    """Polls until every tag has a row (or the deadline); returns {tag: [rows]}."""
    deadline = time.monotonic() + timeout
    while True:
        got = {t: rows_by_tag(db, t) for t in tags}
        if all(got.values()) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def server_reqs(reader):
    """{tag: request log entry} of a server.js log."""
    out = {}
    for ev in e2e.server_events(reader):
        if ev.get("event") == "request" and ev.get("tag"):
            out[ev["tag"]] = ev
    return out


def sha(v):
    if v is None:
        return None
    return hashlib.sha256(v if isinstance(v, bytes) else v.encode("utf-8")).hexdigest()


def check_chat_row(chk, name, r, sv, provider, stream, comm=None, pid=None, tls=True):
    """A chat row matches what the server says it sent and what expect.json says it is."""
    chk.eq(r["provider"], provider, name + ": provider")
    chk.eq(r["operation"], "chat", name + ": operation")
    chk.eq(r["model"], CHAT_MODEL, name + ": model")
    chk.eq(r["status"], 200, name + ": status")
    chk.eq(r["stream"], 1 if stream else 0, name + ": stream")
    chk.eq(r["method"], "POST", name + ": method")
    chk.eq(r["path"], "/v1/chat/completions", name + ": path")
    chk.eq(r["input_tokens"], CHAT["input_tokens"], name + ": input_tokens")
    chk.eq(r["output_tokens"], CHAT["output_tokens"], name + ": output_tokens")
    chk.eq(r["finish_reason"], CHAT["finish_reason"], name + ": finish_reason")
    chk.eq(r["response_text"], CHAT_TEXT, name + ": response_text")
    chk.eq(r["error"], None, name + ": error")
    if comm:
        chk.eq(r["comm"], comm, name + ": comm")
    if pid:
        chk.eq(r["pid"], pid, name + ": pid")
    if sv:
        chk.eq(sha(r["request_body"]), sv.get("req_sha256"), name + ": request_body exact")
        chk.eq(sha(r["response_body"]), sv.get("resp_sha256"), name + ": response_body exact")
        chk.eq(r["response_bytes"], sv.get("resp_len"), name + ": response_bytes")
    chk.ok(isinstance(r["ttfb_ms"], float) and 0 < r["ttfb_ms"] <= r["duration_ms"],
           name + ": 0 < ttfb_ms <= duration_ms", repr((r["ttfb_ms"], r["duration_ms"])))
    if tls:
        chk.ok(r["conn_reused"] == 1 or isinstance(r["tls_ms"], float), name + ": tls_ms on a new connection",
               repr((r["tls_ms"], r["conn_reused"])))
    else:
        chk.eq(r["tls_ms"], None, name + ": no tls_ms without TLS")
    # a connect event lost to a full ring (another suite's flood) is reported, never silent
    chk.ok(r["conn_reused"] == 1 or isinstance(r["connect_ms"], float) or TRACER_DROPS[0](), name + ": connect_ms",
           repr(r["connect_ms"]))
    chk.ok("[REDACTED]" in (r["request_headers"] or ""), name + ": authorization redacted")


def chat_body(tag, stream=False):
    b = {"model": E["models"]["openai"], "messages": [{"role": "user", "content": "hi (%s)" % tag}]}
    if stream:
        b.update(stream=True, stream_options={"include_usage": True})
    return b


def wait_line(reader, pred, timeout):
    return reader.wait_for(pred, timeout) if reader else None


def attached_for(env, pid):
    """The tracer said it attached new files for pid."""
    return env.terr.wait_for(lambda l: ("for pid %d " % pid) in l or ("mapped by pid %d" % pid) in l,
                             ATTACH_DEADLINE_S)


def py_waiting_client(env, procs, tag, argv_wrap, extra_env=None, url=None):
    """client.py (one chat call, waiting for stdin first) started under argv_wrap. Returns (proc, pid)."""
    spec = {"cafile": env.cert, "wait_stdin": True,
            "calls": [dict(tag=tag, endpoint="openai_chat", stream=False,
                           url=url or "https://api.openai.com:%d/v1/chat/completions" % env.port,
                           headers={"content-type": "application/json", "x-test-call": tag,
                                    "authorization": "Bearer " + E["keys"]["openai"]},
                           body=chat_body(tag))]}
    path = os.path.join(env.tmp, "spec-%s.json" % tag)
    with open(path, "w") as f:
        json.dump(spec, f)
    cenv = e2e.client_env(env.cert)
    cenv.update(extra_env or {})
    p = procs.start(argv_wrap([sys.executable, os.path.join(HERE, "client.py"), path]), env=cenv,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = LineReader(p.stdout)
    line = out.wait_for(lambda l: '"waiting"' in l, 30)
    return p, (json.loads(line)["pid"] if line else None), out


def poke(p, out, tag):
    """Let a waiting client go; returns its result line for tag (or None)."""
    p.stdin.write(b"go\n")
    p.stdin.flush()
    line = out.wait_for(lambda l: tag in l, CLIENT_DEADLINE_S)
    return json.loads(line) if line else None


# ---- 1 gnutls ---------------------------------------------------------------------------------------


def case_gnutls(env):
    chk = env.chk
    libs = subprocess.run(["ldd", shutil.which("wget") or "wget"], capture_output=True).stdout.decode()
    chk.ok("libgnutls" in libs and "libssl" not in libs, "gnutls: wget is linked with GnuTLS, not OpenSSL",
           libs[-300:])
    calls = [("G1-wget-chat", {}, False), ("G2-wget-chat-stream", {}, True),
             ("G3-wget-chat-gzip", {"x-test-encoding": "gzip"}, False)]
    pids = {}
    for tag, extra, stream in calls:
        d = os.path.join(env.tmp, tag)
        os.makedirs(d)
        body = os.path.join(d, "req.json")
        with open(body, "w") as f:
            json.dump(chat_body(tag, stream), f)
        argv = ["wget", "-q", "-O", os.path.join(d, "body"), "--ca-certificate", env.cert,
                "--header", "content-type: application/json", "--header", "x-test-call: " + tag,
                "--header", "authorization: Bearer " + E["keys"]["openai"], "--post-file", body,
                "https://api.openai.com:%d/v1/chat/completions" % env.port]
        if extra:
            argv[1:1] = ["--compression=gzip"]
            for k, v in extra.items():
                argv[1:1] = ["--header", "%s: %s" % (k, v)]
        p = env.procs.start(e2e.in_private_hosts(env.hosts, argv), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=e2e.client_env(env.cert))
        out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
        chk.eq(p.returncode, 0, "gnutls: %s: wget exit status" % tag)
        pids[tag] = p.pid
        with open(os.path.join(d, "body"), "rb") as f:
            s = pyclient.summarize("openai_chat", stream, f.read())
        chk.eq(s.get("text"), CHAT_TEXT, "gnutls: %s: wget got the answer" % tag)
    # Anthropic messages, streamed
    tag = "G4-wget-messages-stream"
    body = {"model": E["models"]["anthropic"], "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "hi (%s)" % tag}]}
    bpath = os.path.join(env.tmp, "g4.json")
    with open(bpath, "w") as f:
        json.dump(body, f)
    argv = ["wget", "-q", "-O", "/dev/null", "--ca-certificate", env.cert, "--header", "x-test-call: " + tag,
            "--header", "content-type: application/json", "--header", "anthropic-version: 2023-06-01",
            "--header", "x-api-key: " + E["keys"]["anthropic"], "--post-file", bpath,
            "https://api.anthropic.com:%d/v1/messages" % env.port]
    p = env.procs.start(e2e.in_private_hosts(env.hosts, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.communicate(timeout=CLIENT_DEADLINE_S)
    chk.eq(p.returncode, 0, "gnutls: %s: wget exit status" % tag)
    pids[tag] = p.pid
    got = wait_tag_rows(env.db, list(pids))
    sv = server_reqs(env.srv)
    for tag, extra, stream in calls:
        rows = got[tag]
        if not chk.eq(len(rows), 1, "gnutls: %s: one row" % tag):
            continue
        check_chat_row(chk, "gnutls: " + tag, rows[0], sv.get(tag), "openai", stream, comm="wget", pid=pids[tag])
        chk.eq(rows[0]["host"], "api.openai.com:%d" % env.port, "gnutls: %s: host" % tag)
        if extra:
            chk.eq(sv.get(tag, {}).get("encoding"), "gzip", "gnutls: %s: the server sent gzip" % tag)
    tag = "G4-wget-messages-stream"
    rows = got[tag]
    if chk.eq(len(rows), 1, "gnutls: G4: one row"):
        r, x = rows[0], E["endpoints"]["anthropic_messages"]
        chk.eq(r["provider"], "anthropic", "gnutls: G4: provider")
        chk.eq(r["stream"], 1, "gnutls: G4: stream")
        chk.eq(r["response_text"], "".join(x["chunks"]), "gnutls: G4: response_text")
        chk.eq(r["output_tokens"], x["output_tokens"], "gnutls: G4: output_tokens")
        chk.eq(sha(r["response_body"]), sv.get(tag, {}).get("resp_sha256"), "gnutls: G4: response_body exact")


# ---- 2 plain ----------------------------------------------------------------------------------------

NODE_PLAIN = r"""
const http = require('http');
const [port, key, tag] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function call(t, stream) {
	const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hi (${t})` }] };
	if (stream) Object.assign(body, { stream: true, stream_options: { include_usage: true } });
	const data = JSON.stringify(body);
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent,
			headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-test-call': t,
				'content-length': Buffer.byteLength(data) } }, (res) => {
			let n = 0;
			res.on('data', (c) => { n += c.length; });
			res.on('end', () => resolve({ tag: t, status: res.statusCode, len: n }));
		});
		req.on('error', reject);
		req.end(data);
	});
}
(async () => {
	const out = [await call(`${tag}-1`, false), await call(`${tag}-2`, true)];
	console.log(JSON.stringify({ pid: process.pid, calls: out }));
	agent.destroy();
})();
"""


def case_plain(env):
    chk, port = env.chk, env.plain_port
    key = E["keys"]["openai"]
    pids, streams, ollama = {}, {}, {}
    for tag, stream, enc in (("P1-curl-chat", False, None), ("P2-curl-chat-stream-gzip", True, "gzip")):
        argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "content-type: application/json",
                "-H", "authorization: Bearer " + key, "-H", "x-test-call: " + tag,
                "--data-binary", json.dumps(chat_body(tag, stream)),
                "http://localhost:%d/v1/chat/completions" % port]
        if enc:
            argv[1:1] = ["--compressed", "-H", "x-test-encoding: " + enc]
        p = env.procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _ = p.communicate(timeout=CLIENT_DEADLINE_S)
        chk.eq(out, b"200", "plain: %s: curl got 200" % tag)
        pids[tag], streams[tag] = p.pid, stream
    # python3 urllib
    tag = "P3-python-chat"
    code = ("import json, os, sys, urllib.request\n"
            "r = urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), "
            "headers={'content-type': 'application/json', 'authorization': 'Bearer ' + sys.argv[3], "
            "'x-test-call': sys.argv[4]}))\nprint(json.dumps({'pid': os.getpid(), 'status': r.status}))\n")
    p = env.procs.start([sys.executable, "-c", code, "http://127.0.0.1:%d/v1/chat/completions" % port,
                         json.dumps(chat_body(tag)), key, tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
    chk.ok(p.returncode == 0, "plain: python3 exit status", err.decode()[-300:])
    pids[tag], streams[tag] = p.pid, False
    # node fetch: two calls on one keep-alive connection
    p = env.procs.start(["node", "-e", NODE_PLAIN, str(port), key, "P4-node"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
    chk.ok(p.returncode == 0, "plain: node exit status", err.decode()[-300:])
    pids["P4-node-1"] = pids["P4-node-2"] = p.pid
    streams["P4-node-1"], streams["P4-node-2"] = False, True
    # Ollama's native API, streamed (NDJSON) and not: provider "ollama"
    for tag, stream in (("P5-ollama-native-stream", True), ("P6-ollama-native", False)):
        body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi (%s)" % tag}]}
        if not stream:
            body["stream"] = False
        p = env.procs.start(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "x-test-call: " + tag,
                             "--data-binary", json.dumps(body), "http://localhost:%d/api/chat" % port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, _ = p.communicate(timeout=CLIENT_DEADLINE_S)
        chk.eq(out, b"200", "plain: %s: curl got 200" % tag)
        ollama[tag] = (p.pid, stream)
    # non-LLM traffic on the same server: no row
    with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=10) as r:
        chk.eq(r.status, 200, "plain: GET /health answered")
    got = wait_tag_rows(env.db, list(pids))
    sv = server_reqs(env.plain)
    for tag, rows in got.items():
        if not chk.eq(len(rows), 1, "plain: %s: one row" % tag):
            continue
        r = rows[0]
        comm = {"P1": "curl", "P2": "curl", "P3": os.path.basename(sys.executable)[:15], "P4": "node"}[tag[:2]]
        check_chat_row(chk, "plain: " + tag, r, sv.get(tag), "openai-compatible", streams[tag], comm=comm,
                       pid=pids[tag], tls=False)
        chk.ok(r["host"] in ("localhost:%d" % port, "127.0.0.1:%d" % port), "plain: %s: host" % tag, r["host"])
        want_reused = 1 if sv.get(tag, {}).get("seq", 1) > 1 else 0
        chk.eq(r["conn_reused"], want_reused, "plain: %s: conn_reused (server saw request #%s)"
               % (tag, sv.get(tag, {}).get("seq")))
        chk.ok(r["conn_id"], "plain: %s: joined to its connection" % tag)
    chk.eq(sv.get("P4-node-2", {}).get("seq"), 2, "plain: node's second call reused the connection")
    got = wait_tag_rows(env.db, list(ollama))
    for tag, (pid, stream) in ollama.items():
        rows = got[tag]
        if not chk.eq(len(rows), 1, "plain: %s: one row" % tag):
            continue
        r = rows[0]
        chk.eq(r["provider"], "ollama", "plain: %s: provider" % tag)
        chk.eq(r["operation"], "chat", "plain: %s: operation" % tag)
        chk.eq(r["model"], "llama3.2", "plain: %s: model" % tag)
        chk.eq(r["stream"], 1 if stream else 0, "plain: %s: stream" % tag)
        chk.eq(r["input_tokens"], CHAT["input_tokens"], "plain: %s: input_tokens" % tag)
        chk.eq(r["output_tokens"], CHAT["output_tokens"], "plain: %s: output_tokens" % tag)
        chk.eq(r["response_text"], CHAT_TEXT, "plain: %s: response_text" % tag)
        chk.eq(r["finish_reason"], CHAT["finish_reason"], "plain: %s: finish_reason" % tag)
        chk.eq(r["pid"], pid, "plain: %s: pid" % tag)
        chk.eq(sha(r["response_body"]), sv.get(tag, {}).get("resp_sha256"), "plain: %s: response_body exact" % tag)
        if stream:
            chk.ok(isinstance(r["ttft_ms"], float) and r["ttfb_ms"] <= r["ttft_ms"] <= r["duration_ms"],
                   "plain: %s: ttft_ms within the call" % tag, repr((r["ttfb_ms"], r["ttft_ms"])))
    chk.eq(sv.get("P2-curl-chat-stream-gzip", {}).get("encoding"), "gzip", "plain: P2 was gzip'd")
    conn = sqlite3.connect("file:%s?mode=ro" % env.db, uri=True)
    n = conn.execute("SELECT count(*) FROM llm_calls WHERE pid = ?", (env.plain_proc.pid,)).fetchone()[0]
    chk.eq(n, 0, "plain: no row for what the server received")
    n = conn.execute("SELECT count(*) FROM llm_calls WHERE path LIKE '/health%' AND host LIKE ?",
                     ("%%:%d" % port,)).fetchone()[0]
    chk.eq(n, 0, "plain: no row for GET /health")
    conn.close()


# ---- 3 mntns ----------------------------------------------------------------------------------------


def case_mntns(env):
    chk = env.chk
    tag = "N1-mntns-libssl-copy"
    lib = os.path.join(env.tmp, "nslib")
    os.makedirs(lib)
    shutil.copy(LIBSSL, os.path.join(lib, "libssl.so.3"))

    def wrap(argv):
        # own mount namespace: the provider names in its /etc/hosts, its own libssl over the host's
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/hosts && mount --bind "$1" "$2" && shift 2 && exec "$@"',
                env.hosts, os.path.join(lib, "libssl.so.3"), LIBSSL] + argv

    p, pid, out = py_waiting_client(env, env.procs, tag, wrap)
    if not chk.ok(pid, "mntns: client started and waits"):
        return
    maps = open("/proc/%d/maps" % pid).read()
    ino = os.stat(os.path.join(lib, "libssl.so.3")).st_ino
    chk.ok(re.search(r" %d +%s" % (ino, re.escape(LIBSSL)), maps),
           "mntns: the client maps the copy (its inode %d) at the host's libssl path" % ino)
    chk.ok(attached_for(env, pid), "mntns: the tracer attached to new files for pid %d" % pid)
    res = poke(p, out, tag)
    chk.ok(res and res.get("status") == 200, "mntns: client got 200", repr(res))
    rows = wait_tag_rows(env.db, [tag])[tag]
    if chk.eq(len(rows), 1, "mntns: one row"):
        check_chat_row(chk, "mntns", rows[0], server_reqs(env.srv).get(tag), "openai", False, pid=pid)


# ---- 4 replaced -------------------------------------------------------------------------------------


def case_replaced(env):
    """Its own tracer: the client must map a libssl that is deleted before the tracer starts."""
    chk, procs = env.chk, Procs()
    tag = "R1-replaced-libssl"
    lib = os.path.join(env.tmp, "rlib")
    os.makedirs(lib)
    shutil.copy(LIBSSL, os.path.join(lib, "libssl.so.3"))
    try:
        p, pid, out = py_waiting_client(env, procs, tag, lambda a: e2e.in_private_hosts(env.hosts, a),
                                        extra_env={"LD_LIBRARY_PATH": lib})
        if not chk.ok(pid, "replaced: client started and waits"):
            return
        # an upgrade: the new file is written next to the old one and renamed over it
        shutil.copy(LIBSSL, os.path.join(lib, "libssl.so.3.new"))
        os.rename(os.path.join(lib, "libssl.so.3.new"), os.path.join(lib, "libssl.so.3"))
        maps = open("/proc/%d/maps" % pid).read()
        chk.ok("%s/libssl.so.3 (deleted)" % lib in maps, "replaced: the client maps a deleted libssl")
        db = os.path.join(env.tmp, "db-replaced", "llmtap.db")
        tracer, terr, ready = e2e.start_tracer(procs, env.llmtap, db)
        env.readers.append((terr, "llmtap-replaced.stderr"))
        if not chk.ok(ready, "replaced: tracer ready"):
            print(terr.text()[-3000:])
            return
        res = poke(p, out, tag)
        chk.ok(res and res.get("status") == 200, "replaced: client got 200", repr(res))
        rows = wait_tag_rows(db, [tag])[tag]
        if chk.eq(len(rows), 1, "replaced: one row"):
            check_chat_row(chk, "replaced", rows[0], server_reqs(env.srv).get(tag), "openai", False, pid=pid)
        chk.eq(e2e.stop_tracer(tracer), 0, "replaced: tracer exits 0")
    finally:
        procs.cleanup()


# ---- 5 cgroup ----------------------------------------------------------------------------------------


def cgroup_root():
    """A writable cgroup hierarchy: the cgroup2 mount, else a v1 one (pids, memory, cpu). (path, v2)."""
    v1 = {}
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup2":
                return mnt, True
            if fstype == "cgroup":
                for c in ("pids", "memory", "cpu"):
                    if c in opts.split(","):
                        v1.setdefault(c, mnt)
    for c in ("pids", "memory", "cpu"):
        if c in v1:
            return v1[c], False
    return None, False


def case_cgroup(env):
    chk = env.chk
    root, v2 = cgroup_root()
    if not chk.ok(root, "cgroup: a cgroup hierarchy is mounted"):
        return
    rel = "/llmtap-cover-%d/docker-%s.scope" % (os.getpid(), HEX64)
    path = root + rel
    tag = "C1-cgroup"
    p = None
    try:
        os.makedirs(path)
        p, pid, out = py_waiting_client(env, env.procs, tag, lambda a: e2e.in_private_hosts(env.hosts, a))
        if not chk.ok(pid, "cgroup: client started and waits"):
            return
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        cg = open("/proc/%d/cgroup" % pid).read()
        chk.ok(rel in cg, "cgroup: the client is in %s" % rel, cg)
        res = poke(p, out, tag)
        chk.ok(res and res.get("status") == 200, "cgroup: client got 200", repr(res))
        rows = wait_tag_rows(env.db, [tag])[tag]
        if chk.eq(len(rows), 1, "cgroup: one row"):
            r = rows[0]
            # v1 on a hybrid host: the unified path is "/", the first v1 one is ours only if it is
            # the first non-root line; the container id must come out either way
            if v2:
                chk.eq(r["cgroup"], rel, "cgroup: cgroup column")
            else:
                chk.ok(r["cgroup"] and r["cgroup"].endswith(".scope"), "cgroup: cgroup column", repr(r["cgroup"]))
            chk.eq(r["container_id"], HEX64, "cgroup: container_id column")
        r = subprocess.run([env.llmtap, "calls", "--db", env.db, "--json", "--limit", "1000"],
                           capture_output=True, timeout=30)
        objs = [json.loads(l) for l in r.stdout.decode().splitlines() if tag in l]
        chk.ok(objs and objs[0].get("container_id") == HEX64, "cgroup: calls --json shows container_id")
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait()
        for d in (path, os.path.dirname(path)):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


# ---- 6 doctor ---------------------------------------------------------------------------------------


class Netns:
    """A network namespace joined to ours by a veth pair: its address is another host's."""

    def __init__(self):
        n = os.getpid() % 200
        self.name = "llmtap-cov-%d" % os.getpid()
        self.host_if, self.ns_if = "lcv%da" % (os.getpid() % 100000), "lcv%db" % (os.getpid() % 100000)
        self.host_ip, self.ns_ip = "10.213.%d.1" % n, "10.213.%d.2" % n
        self.up = False

    def start(self):
        def ip(*a):
            subprocess.run(["ip"] + list(a), check=True, timeout=30, capture_output=True)
        ip("netns", "add", self.name)
        self.up = True
        ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        ip("link", "set", self.ns_if, "netns", self.name)
        ip("addr", "add", self.host_ip + "/30", "dev", self.host_if)
        ip("link", "set", self.host_if, "up")
        ip("-n", self.name, "addr", "add", self.ns_ip + "/30", "dev", self.ns_if)
        ip("-n", self.name, "link", "set", self.ns_if, "up")
        ip("-n", self.name, "link", "set", "lo", "up")

    def stop(self):
        if self.up:
            subprocess.run(["ip", "netns", "del", self.name], timeout=30, capture_output=True)
            subprocess.run(["ip", "link", "del", self.host_if], timeout=30, capture_output=True)


PY_HOLD = r"""
import http.client, json, os, ssl, sys
host, port, cafile, tag, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
c = http.client.HTTPSConnection(host, port, context=ssl.create_default_context(cafile=cafile))
c.request("POST", "/v1/chat/completions", json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user",
          "content": "hi"}]}), {"content-type": "application/json", "x-test-call": tag, "x-test-delay-ms": "0",
          "authorization": "Bearer " + key})
r = c.getresponse()
r.read()
print(json.dumps({"tag": tag, "status": r.status, "pid": os.getpid()}), flush=True)
sys.stdin.readline()
"""


def build_mbedtls(env):
    """The mbed TLS client, static (stripped) and dynamic. Returns {kind: path} of those that built."""
    lib = "/usr/lib/x86_64-linux-gnu"
    src = os.path.join(HERE, "mbedtls_client.c")
    out = {}
    for kind, args in (("static", [lib + "/libmbedtls.a", lib + "/libmbedx509.a", lib + "/libmbedcrypto.a"]),
                       ("dynamic", ["-lmbedtls", "-lmbedx509", "-lmbedcrypto"])):
        path = os.path.join(env.tmp, "mbed_" + kind)
        r = subprocess.run(["cc", "-O1", "-o", path, src] + args, capture_output=True, timeout=120)
        if env.chk.ok(r.returncode == 0, "doctor: built the %s mbed TLS client" % kind, r.stderr.decode()[-500:]):
            if kind == "static":
                subprocess.run(["strip", path], timeout=60)
            out[kind] = path
    return out


def doctor_json(env, args, db=None):
    """`llmtap doctor --json` for the shared tracer's database (or db): its report, checked to parse."""
    r = subprocess.run([env.llmtap, "doctor", "--db", db or env.db, "--json"] + args, capture_output=True,
                       timeout=120)
    what = " ".join(args + (["--db", db] if db else []))
    env.chk.ok(r.returncode == 0, "doctor %s: exit status" % what, r.stderr.decode()[-500:])
    try:
        return json.loads(r.stdout.decode())
    except ValueError:
        env.chk.ok(False, "doctor %s: prints one JSON object" % what, r.stdout.decode()[-500:])
        return {}


def case_doctor(env):
    chk, procs = env.chk, Procs()
    ns = Netns()
    holders = []
    try:
        ns.start()
        cert, key = os.path.join(env.tmp, "ns-cert.pem"), os.path.join(env.tmp, "ns-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=llmtap-cov",
                        "-addext", "subjectAltName=IP:" + ns.ns_ip], check=True, capture_output=True, timeout=60)
        # the clients hold their connections through every question below, longer than Node's
        # default 5 s keep-alive: the server must not close them first
        senv = dict(os.environ, LLMTAP_E2E_ADDR=ns.ns_ip, LLMTAP_E2E_KEEPALIVE_MS="0")
        sp = procs.start(["ip", "netns", "exec", ns.name, "node", os.path.join(HERE, "server.js"), "8443",
                          cert, key], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=senv)
        srv = LineReader(sp.stdout)
        if not chk.ok(srv.wait_for(lambda l: '"listening"' in l, 15), "doctor: server listening in the netns",
                      srv.text()[-500:]):
            return
        mbed = build_mbedtls(env)
        # clients that make a call and keep their connection open: mbed TLS (static, dynamic),
        # python3 (OpenSSL), and one started before they are all asked about
        clients = {}
        for kind, path in mbed.items():
            p = procs.start([path, ns.ns_ip, "8443", "D-mbed-" + kind, E["keys"]["openai"]], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            clients["mbed_" + kind] = p
        p = procs.start([sys.executable, "-c", PY_HOLD, ns.ns_ip, "8443", cert, "D-python", E["keys"]["openai"]],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        clients["python"] = p
        for name, p in clients.items():
            rd = LineReader(p.stdout)
            holders.append(p)
            line = rd.wait_for(lambda l: '"status"' in l, CLIENT_DEADLINE_S)
            chk.ok(line and json.loads(line)["status"] == 200, "doctor: %s client got 200 and holds" % name,
                   repr(line) + p.stderr.read1(2000).decode(errors="replace") if not line else "")
        time.sleep(2.5)  # past the unseen threshold (2 s)
        rep = doctor_json(env, [])
        chk.eq(rep.get("source"), "tracer", "doctor: asked the running tracer")
        chk.ok(rep.get("tracer", {}).get("pid") == env.tracer.pid, "doctor: the report names the tracer's pid")
        byp = {p["pid"]: p for p in rep.get("processes", [])}
        py = byp.get(clients["python"].pid, {})
        chk.eq(py.get("status"), "covered", "doctor: python3 is covered")
        chk.ok(any(h["kind"] == "openssl" and h["method"] == "symbols" and "libssl" in h["path"]
                   for h in py.get("hooked", [])), "doctor: python3 hooked in libssl by symbols", repr(py))
        chk.eq(py.get("connections", {}).get("seen"), 1, "doctor: python3's connection is seen")
        if "mbed_static" in clients:
            st = byp.get(clients["mbed_static"].pid, {})
            chk.eq(st.get("status"), "uncovered", "doctor: the static mbed TLS client is uncovered")
            chk.ok("no TLS library llmtap knows in " in (st.get("reason") or "") and
                   "mbed_static" in (st.get("reason") or ""), "doctor: static mbed TLS: the reason names it",
                   repr(st.get("reason")))
            chk.eq(st.get("connections", {}).get("unseen"), 1, "doctor: static mbed TLS: one unseen connection")
        if "mbed_dynamic" in clients:
            dy = byp.get(clients["mbed_dynamic"].pid, {})
            chk.eq(dy.get("status"), "uncovered", "doctor: the dynamic mbed TLS client is uncovered")
            chk.ok("uses mbed TLS (" in (dy.get("reason") or "") and "libmbedtls" in (dy.get("reason") or ""),
                   "doctor: dynamic mbed TLS: the reason names libmbedtls", repr(dy.get("reason")))
        sm = rep.get("summary", {})
        chk.ok(sm.get("uncovered", 0) >= len(mbed), "doctor: summary counts the uncovered", repr(sm))
        chk.ok(sm.get("unseen_connections", 0) >= len(mbed), "doctor: summary counts unseen connections")
        chk.ok(any(f["kind"] == "gnutls" and f["method"] == "symbols" and f["state"] == "attached"
                   for f in rep.get("files", [])),
               "doctor: the files list has GnuTLS hooked by symbols")
        # the text form names them too
        r = subprocess.run([env.llmtap, "doctor", "--db", env.db], capture_output=True, timeout=60)
        text = r.stdout.decode()
        for name, p in clients.items():
            want = "uncovered" if name.startswith("mbed") else "covered"
            chk.ok(re.search(r"^%d\s+\S+\s+%s\s" % (p.pid, want), text, re.M),
                   "doctor (text): %s (pid %d) is %s" % (name, p.pid, want), text[-1500:])
        # run's log and /metrics
        for name in mbed:
            pid = clients["mbed_" + name].pid
            chk.ok(env.terr.wait_for(lambda l: "coverage: pid %d (" % pid in l and "not seen" in l, 10),
                   "doctor: run's log names the %s mbed TLS client" % name)
        if env.listen_port:
            deadline = time.monotonic() + 10
            while True:  # the page is refreshed from the capture loop, a little later under load
                m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % env.listen_port,
                                           timeout=10).read().decode()
                v = re.search(r"^llmtap_uncovered_processes (\d+)$", m, re.M)
                if (v and int(v.group(1)) >= len(mbed)) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            chk.ok(v and int(v.group(1)) >= len(mbed), "doctor: /metrics llmtap_uncovered_processes",
                   v.group(0) if v else m[-800:])
            chk.ok(re.search(r"^llmtap_unseen_tls_connections \d+$", m, re.M), "doctor: /metrics unseen gauge")
        # a tracer with -p judges the processes it names only: the mbed TLS clients, uncovered
        # above, are not its business (they are not traced, by request)
        db_p = os.path.join(env.tmp, "db-p", "llmtap.db")
        os.makedirs(os.path.dirname(db_p), exist_ok=True)
        tp, tperr, ready = e2e.start_tracer(procs, env.llmtap, db_p, ["-p", str(clients["python"].pid)])
        if chk.ok(ready, "doctor -p: a tracer with -p PID is ready", tperr.text()[-1000:]):
            # its report is written after `ready`, with the first coverage line of its log
            chk.ok(tperr.wait_for(lambda l: "coverage:" in l, 30), "doctor -p: the -p tracer made its first report",
                   tperr.text()[-1000:])
            rep = doctor_json(env, [], db_p)
            chk.eq(rep.get("source"), "tracer", "doctor -p: asked the -p tracer")
            chk.eq(sorted(p["pid"] for p in rep.get("processes", [])
                          if p["pid"] in [c.pid for c in clients.values()]), [clients["python"].pid],
                   "doctor -p: of the clients, only the named python3 is judged")
            chk.eq(rep.get("summary", {}).get("uncovered"), 0, "doctor -p: nothing uncovered among the named")
            chk.eq(e2e.stop_tracer(tp), 0, "doctor -p: the -p tracer exits 0")
        # without a tracer: doctor looks for itself
        rep = doctor_json(env, ["--scan"])
        chk.eq(rep.get("source"), "scan", "doctor --scan: its own scan")
        byp = {p["pid"]: p for p in rep.get("processes", [])}
        found = repr(sorted((p["pid"], p.get("comm"), p.get("status")) for p in rep.get("processes", [])))
        chk.ok(byp.get(clients["python"].pid, {}).get("status") == "covered", "doctor --scan: python3 covered",
               found)
        for name in mbed:
            chk.ok(byp.get(clients["mbed_" + name].pid, {}).get("status") == "uncovered",
                   "doctor --scan: %s mbed TLS uncovered" % name, found)
        other = os.path.join(env.tmp, "nodb", "x.db")
        r = subprocess.run([env.llmtap, "doctor", "--db", other], capture_output=True, timeout=120)
        chk.ok(r.returncode == 0 and "no tracer runs for this database" in r.stdout.decode(),
               "doctor: with no tracer for the database it says so and scans", r.stdout.decode()[:300])
        r = subprocess.run([env.llmtap, "doctor", "--wait", "x"], capture_output=True, timeout=30)
        chk.eq(r.returncode, 2, "doctor: a bad --wait is a usage error")
    finally:
        for p in holders:
            try:
                p.stdin.write(b"bye\n")
                p.stdin.flush()
            except OSError:
                pass
        procs.cleanup()
        ns.stop()


# ---- 7 websocket -------------------------------------------------------------------------------------


def start_ws_server(env, procs, plain):
    senv = dict(os.environ)
    if plain:
        senv["LLMTAP_E2E_PLAIN"] = "1"
    p = procs.start(["node", os.path.join(HERE, "ws_server.js"), "0", env.cert, env.key], stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, env=senv, cwd=HERE)
    rd = LineReader(p.stdout)
    env.readers.append((rd, "ws-server%s.log" % ("-plain" if plain else "")))
    line = rd.wait_for(lambda l: '"listening"' in l, 15)
    return rd, (json.loads(line)["port"] if line else None)


def case_websocket(env):
    chk, procs = env.chk, Procs()
    x = E["endpoints"]["openai_responses"]
    text = "".join(x["chunks"])
    model = E["model_aliases"].get(E["models"]["openai"], E["models"]["openai"])
    delay = E["timing"]["first_byte_delay_ms"]
    try:
        tls_log, tls_port = start_ws_server(env, procs, False)
        plain_log, plain_port = start_ws_server(env, procs, True)
        if not chk.ok(tls_port and plain_port, "websocket: both servers listening"):
            return
        clients = [  # name, url, deflate, nested, tags, provider, wrap in private hosts
            ("tls-deflate", "wss://api.openai.com:%d/v1/responses" % tls_port, True, False,
             ["W1-ws-tls-deflate-a", "W1-ws-tls-deflate-b"], "openai", True),
            ("tls-plainframes-nested", "wss://api.openai.com:%d/v1/responses" % tls_port, False, True,
             ["W2-ws-tls-nested"], "openai", True),
            ("plain-deflate", "ws://localhost:%d/v1/responses" % plain_port, True, False,
             ["W3-ws-plain-a", "W3-ws-plain-b"], "openai-compatible", False),
        ]
        results, pids = {}, {}
        for name, url, deflate, nested, tags, provider, private in clients:
            spec = {"url": url, "apiKey": E["keys"]["openai"], "deflate": deflate, "nested": nested,
                    "calls": [{"tag": t, "model": E["models"]["openai"]} for t in tags]}
            path = os.path.join(env.tmp, "ws-%s.json" % name)
            with open(path, "w") as f:
                json.dump(spec, f)
            argv = ["node", os.path.join(HERE, "ws_client.mjs"), path]
            p = procs.start(e2e.in_private_hosts(env.hosts, argv) if private else argv, cwd=HERE,
                            env=e2e.client_env(env.cert), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
            chk.ok(p.returncode == 0, "websocket: %s client exit status" % name, err.decode()[-500:])
            for line in out.decode().splitlines():
                r = json.loads(line)
                results[r["tag"]] = r
                pids[r["tag"]] = r["pid"]
            for t in tags:
                chk.eq(results.get(t, {}).get("text"), text, "websocket: %s: client got the text" % t)
        opened = [json.loads(l) for l in tls_log.lines + plain_log.lines if '"ws_open"' in l]
        chk.eq(sorted(o["deflate"] for o in opened), [False, True, True],
               "websocket: permessage-deflate negotiated where the client offered it")
        got = wait_tag_rows(env.db, [t for c in clients for t in c[4]])
        for name, url, deflate, nested, tags, provider, private in clients:
            for i, t in enumerate(tags):
                rows = got[t]
                n = "websocket: %s: " % t
                if not chk.eq(len(rows), 1, n + "one row"):
                    continue
                r = rows[0]
                chk.eq(r["provider"], provider, n + "provider")
                chk.eq(r["operation"], "responses", n + "operation")
                chk.eq(r["model"], model, n + "model")
                chk.eq(r["status"], 101, n + "status (the upgrade's)")
                chk.eq(r["method"], "GET", n + "method (the upgrade's)")
                chk.eq(r["path"], "/v1/responses", n + "path")
                chk.eq(r["stream"], 1, n + "stream")
                chk.eq(r["input_tokens"], x["input_tokens"], n + "input_tokens")
                chk.eq(r["output_tokens"], x["output_tokens"], n + "output_tokens")
                chk.eq(r["cache_read_tokens"], x["cache_read_tokens"], n + "cache_read_tokens")
                chk.eq(r["reasoning_tokens"], x["reasoning_tokens"], n + "reasoning_tokens")
                chk.eq(r["response_text"], text, n + "response_text")
                chk.eq(r["error"], None, n + "error")
                chk.eq(r["pid"], pids.get(t), n + "pid")
                chk.eq(r["conn_reused"], 1 if i else 0, n + "conn_reused")
                chk.ok('"response.create"' in (r["request_body"] or ""), n + "request_body is the message")
                chk.ok("response.completed" in (r["response_body"] or ""), n + "response_body has the events")
                chk.ok("upgrade: websocket" in (r["request_headers"] or "").lower() and
                       "[REDACTED]" in (r["request_headers"] or ""), n + "request_headers: the upgrade, redacted")
                chk.ok(isinstance(r["ttfb_ms"], float) and r["ttfb_ms"] >= delay - 2 and
                       isinstance(r["ttft_ms"], float) and r["ttfb_ms"] <= r["ttft_ms"] <= r["duration_ms"],
                       n + "ttfb_ms >= the server's delay, ttft_ms within the call",
                       repr((r["ttfb_ms"], r["ttft_ms"], r["duration_ms"])))
    finally:
        procs.cleanup()


# ---- driver -----------------------------------------------------------------------------------------

CASES = [("gnutls", case_gnutls, True), ("plain", case_plain, True), ("mntns", case_mntns, True),
         ("replaced", case_replaced, False), ("cgroup", case_cgroup, True), ("doctor", case_doctor, True),
         ("websocket", case_websocket, True)]


def main():
    ap = argparse.ArgumentParser(description="llmtap coverage end-to-end tests")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("-k", action="append", default=[], metavar="CASE", help="only cases whose name contains CASE")
    args = ap.parse_args()
    chk = Checks(args.verbose)
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-cover.")
    env = Env(chk, procs, tmp, llmtap)
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(SystemExit("cover: SIGTERM")))
    cases = [c for c in CASES if not args.k or any(k in c[0] for k in args.k)]
    try:
        if not e2e.preflight(chk, llmtap):
            return finish(chk, env, args)
        for t in ("wget", "curl", "node", "unshare", "ip", "cc"):
            chk.ok(shutil.which(t), "tool: %s on PATH" % t)
        if not chk.ok(env.start(), "servers listening (HTTPS and plain HTTP)"):
            return finish(chk, env, args)
        if any(c[2] for c in cases) and not chk.ok(env.start_tracer(), "shared tracer ready"):
            return finish(chk, env, args)
        if env.terr:
            TRACER_DROPS[0] = lambda: any("ring buffer full" in l for l in list(env.terr.lines))
        for name, fn, _ in cases:
            before = chk.failed
            try:
                fn(env)
            except Exception as e:  # a crash is a failure, never a pass
                chk.ok(False, "%s: unexpected exception" % name, repr(e))
                traceback.print_exc()
            print("cover: case %s: %s" % (name, "ok" if chk.failed == before else "FAILED"), flush=True)
        if env.tracer:
            chk.eq(e2e.stop_tracer(env.tracer), 0, "shared tracer exits 0")
            chk.ok(not os.path.exists(env.db + "-doctor.json"), "the tracer removed its doctor state file")
    finally:
        procs.cleanup()
    return finish(chk, env, args)


def finish(chk, env, args):
    for reader, name in env.readers:
        with open(os.path.join(env.tmp, name), "w") as f:
            f.write(reader.text() + "\n")
    if chk.failed and env.terr is not None:
        print("---- llmtap run stderr ----\n" + env.terr.text()[-6000:] + "\n---- end ----")
    if chk.failed or args.keep:
        print("cover: temp dir kept: " + env.tmp)
    else:
        shutil.rmtree(env.tmp, ignore_errors=True)
    print("cover: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""push_test.py -- llmtap fleet push end-to-end: a real ClickHouse, an OTLP receiver, a JSON receiver, a black hole.

Usage (as root, from anywhere):
    python3 tests/e2e/push_test.py [-v] [--keep]

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    CLICKHOUSE=path         clickhouse-server (default /usr/sbin/clickhouse-server, Debian's 18.16)

Everything runs on 127.0.0.1, on free ports, in a temp dir; real processes only (stdlib python3,
the fake HTTPS LLM server and clients of run.py). Every wait polls against a deadline.

  phase 1  `llmtap run --push clickhouse://llmtap:PASS@.. --push otlp+http://.. --push http://..`
           (tracer T1): real client calls (curl, python3, the openai Node SDK) reach ClickHouse,
           the OTLP receiver (its first answer is 429 + Retry-After: 2) and the JSON receiver
           (every batch id is answered 503 twice, then 200)
  phase 2  ClickHouse stopped: T1 keeps capturing, the other targets keep receiving,
           `llmtap stats` shows the error and the backlog; ClickHouse started: the backlog arrives
  phase 3  ClickHouse stopped, calls, T1 killed with SIGKILL, ClickHouse started, tracer T2 on the
           same DB (targets from a --config file, token from the environment, flags winning):
           the backlog arrives; calls made after that arrive only with the last push of SIGTERM
  check    every row of every table in SQLite equals its row in ClickHouse (FINAL), field by field;
           count() FINAL = distinct ids (nothing duplicated); OTLP bodies all valid (hex ids,
           integer enums, string int64s, typed attributes, gen_ai names); each JSON batch id
           answered 200 exactly once, with the same rows at every retry; no secret anywhere
  phase 4  tracer T3 pushes to a black hole (accepts TCP, never answers) and to a second OTLP
           receiver, without --push-bodies: every call is still recorded, the OTLP receiver still
           gets every span (no bodies), RSS stays under 2x, SIGTERM still exits 0 within 5 s
  phase 5  retention: --retain-days deletes old pushed rows and keeps (and warns about) unpushed
           ones; --max-db-mb warns, then deletes the oldest rows until the database fits

ClickHouse runs as root from its own config (temp dir, free ports, UTC, a `llmtap` user with a
password): 18.16 needs no user switch (`clickhouse-server --config-file=FILE` in the foreground).
Ends with the line "push: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import gzip
import http.server
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import run as e2e  # noqa: E402
from run import E, Checks, LineReader, Procs  # noqa: E402

CH_START_DEADLINE_S = 60
CH_STOP_DEADLINE_S = 30
DELIVERY_DEADLINE_S = 90     # covers the backoff (<= 60 s) after an outage
ROWS_DEADLINE_S = 30
CLIENT_DEADLINE_S = 120
KILL_DEADLINE_S = 30         # SIGKILL: the kernel detaches the uprobes (see phase 3)
EXIT_DEADLINE_S = 5          # contract: SIGINT/SIGTERM -> exit 0 within 5 s (with the last push)
POLL_S = 0.1
CH_DB = "llmtap_push"
CH_USER, CH_PASS = "llmtap", "s3cret-ch-pw-9f2"
TOKEN = "tok-PUSHSECRET-7c1e5a"
FILE_TOKEN = "tok-FILE-must-lose-4411"
HOST_ID = "test-host-push-A"
TABLES = ["llm_calls", "connections", "dns_lookups", "processes", "cpu_samples", "agent_runs", "agent_steps"]
RSS_CALLS = 300
GEN_AI_NAMES = {
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "gen_ai.response.finish_reasons",
    "gen_ai.response.time_to_first_chunk", "gen_ai.output.messages", "gen_ai.conversation.id",
    "gen_ai.agent.name", "gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.type", "gen_ai.tool.call.arguments",
}
BODY_ATTRS = {"llmtap.request.body", "llmtap.response.body", "llmtap.response.text", "gen_ai.output.messages",
              "gen_ai.tool.call.arguments", "llmtap.tool.command"}
# The spans of agent runs (INTERNAL, kind 1) and the attributes each must have.
RUN_SPANS = {"invoke_agent": ("gen_ai.agent.name", "gen_ai.conversation.id", "llmtap.run_id"),
             "execute_tool": ("gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.conversation.id", "llmtap.run_id"),
             "exec": ("process.pid", "process.command_args", "gen_ai.conversation.id")}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
INT_RE = re.compile(r"^-?[0-9]+$")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def poll(pred, timeout, step=POLL_S):
    """pred() until truthy or the deadline; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---------- ClickHouse ----------

CH_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <timezone>UTC</timezone>
</yandex>
"""

CH_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <{user}><password>{pw}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></{user}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""


class ClickHouse:
    """A clickhouse-server of its own: temp dir, free ports, stop and start on demand."""

    def __init__(self, procs, tmp, binary):
        self.procs, self.binary = procs, binary
        self.dir = os.path.join(tmp, "clickhouse")
        for sub in ("log", "data", "tmp", "user_files", "format_schemas"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.http, self.tcp = free_port(), free_port()
        self.config = os.path.join(self.dir, "config.xml")
        with open(self.config, "w") as f:
            f.write(CH_CONFIG.format(d=self.dir, http=self.http, tcp=self.tcp))
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write(CH_USERS.format(user=CH_USER, pw=CH_PASS))
        self.proc = None

    def start(self):
        out = open(os.path.join(self.dir, "log", "stdout.log"), "ab")
        self.proc = self.procs.start([self.binary, "--config-file=" + self.config],
                                     stdout=out, stderr=subprocess.STDOUT, cwd=self.dir)
        return poll(lambda: self.ping() or self.proc.poll() is not None, CH_START_DEADLINE_S, 0.2) and self.ping()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=CH_STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        return not self.ping()

    def ping(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.http, timeout=2) as r:
                return r.read().strip() == b"Ok."
        except (OSError, urllib.error.URLError):
            return False

    def query(self, sql):
        """Text result of sql (as the default user); raises on an error."""
        url = "http://127.0.0.1:%d/?output_format_json_quote_64bit_integers=0" % self.http
        req = urllib.request.Request(url, data=sql.encode("utf-8"), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode("utf-8", "replace")

    def rows(self, sql):
        return [json.loads(l) for l in self.query(sql + " FORMAT JSONEachRow").splitlines() if l.strip()]

    def ids(self, table):
        try:
            return {r["id"] for r in self.rows("SELECT id FROM %s.%s WHERE host_id = '%s'" % (CH_DB, table, HOST_ID))}
        except (OSError, urllib.error.URLError, ValueError):
            return set()


# ---------- receivers ----------

def attr_map(attrs):
    return {a.get("key"): a.get("value") for a in attrs or []}


def check_value(v):
    """Problems with one OTLP AnyValue (JSON mapping)."""
    if not isinstance(v, dict) or len(v) != 1:
        return ["value %r is not an object with one field" % (v,)]
    k, x = next(iter(v.items()))
    if k == "stringValue":
        return [] if isinstance(x, str) else ["stringValue %r" % (x,)]
    if k == "intValue":
        return [] if isinstance(x, str) and INT_RE.match(x) else ["intValue %r is not a decimal string" % (x,)]
    if k == "doubleValue":
        return [] if isinstance(x, (int, float)) and not isinstance(x, bool) else ["doubleValue %r" % (x,)]
    if k == "boolValue":
        return [] if isinstance(x, bool) else ["boolValue %r" % (x,)]
    if k == "arrayValue":
        vals = x.get("values") if isinstance(x, dict) else None
        if not isinstance(vals, list):
            return ["arrayValue %r" % (x,)]
        return [p for e in vals for p in check_value(e)]
    return ["unknown value kind %r" % k]


def check_attrs(attrs, where):
    probs = []
    if not isinstance(attrs, list):
        return ["%s: attributes not a list" % where]
    for a in attrs:
        if not isinstance(a, dict) or not isinstance(a.get("key"), str):
            probs.append("%s: attribute without key: %r" % (where, a))
            continue
        probs += ["%s: %s: %s" % (where, a["key"], p) for p in check_value(a.get("value"))]
    return probs


# The attributes whose value kind is fixed (a typo'd kind is a failure).
ATTR_KINDS = {
    "gen_ai.operation.name": "stringValue", "gen_ai.provider.name": "stringValue",
    "gen_ai.request.model": "stringValue", "gen_ai.response.model": "stringValue",
    "gen_ai.usage.input_tokens": "intValue", "gen_ai.usage.output_tokens": "intValue",
    "gen_ai.usage.cache_read.input_tokens": "intValue", "gen_ai.usage.cache_creation.input_tokens": "intValue",
    "gen_ai.response.finish_reasons": "arrayValue", "gen_ai.response.time_to_first_chunk": "doubleValue",
    "server.address": "stringValue", "server.port": "intValue", "error.type": "stringValue",
    "http.response.status_code": "intValue", "llmtap.dns_ms": "doubleValue", "llmtap.connect_ms": "doubleValue",
    "llmtap.tls_ms": "doubleValue", "llmtap.upload_ms": "doubleValue", "llmtap.ttfb_ms": "doubleValue",
    "llmtap.ttft_ms": "doubleValue", "llmtap.duration_ms": "doubleValue", "llmtap.verdict": "stringValue",
    "llmtap.conn_reused": "boolValue", "llmtap.call_id": "stringValue",
}


def validate_otlp(doc):
    """Problems with one ExportTraceServiceRequest in the OTLP JSON mapping, and its spans."""
    probs, spans = [], []
    rss = doc.get("resourceSpans") if isinstance(doc, dict) else None
    if not isinstance(rss, list):
        return ["resourceSpans missing"], spans
    for rs in rss:
        res = rs.get("resource", {})
        probs += check_attrs(res.get("attributes"), "resource")
        ra = attr_map(res.get("attributes"))
        if "stringValue" not in (ra.get("service.name") or {}):
            probs.append("resource without service.name")
        if (ra.get("host.id") or {}).get("stringValue") is None:
            probs.append("resource without host.id")
        for ss in rs.get("scopeSpans") or []:
            for sp in ss.get("spans") or []:
                where = "span %s" % sp.get("name")
                if not (isinstance(sp.get("traceId"), str) and HEX32.match(sp["traceId"]) and sp["traceId"] != "0" * 32):
                    probs.append("%s: traceId %r" % (where, sp.get("traceId")))
                if not (isinstance(sp.get("spanId"), str) and HEX16.match(sp["spanId"]) and sp["spanId"] != "0" * 16):
                    probs.append("%s: spanId %r" % (where, sp.get("spanId")))
                am0 = attr_map(sp.get("attributes"))
                op0 = (am0.get("gen_ai.operation.name") or {}).get("stringValue")
                kind = op0 if op0 in RUN_SPANS else "exec" if str(sp.get("name", "")).startswith("exec ") else None
                want_kind = 1 if kind else 3
                if sp.get("kind") != want_kind or isinstance(sp.get("kind"), bool):
                    probs.append("%s: kind %r is not the integer %d" % (where, sp.get("kind"), want_kind))
                if kind:
                    probs += ["%s: %s missing" % (where, k) for k in RUN_SPANS[kind] if k not in am0]
                    if not (isinstance(sp.get("parentSpanId"), str) and HEX16.match(sp["parentSpanId"])) \
                            and kind != "invoke_agent":
                        probs.append("%s: parentSpanId %r" % (where, sp.get("parentSpanId")))
                for k in ("startTimeUnixNano", "endTimeUnixNano"):
                    if not (isinstance(sp.get(k), str) and sp[k].isdigit()):
                        probs.append("%s: %s %r is not a decimal string" % (where, k, sp.get(k)))
                if all(isinstance(sp.get(k), str) and sp[k].isdigit() for k in ("startTimeUnixNano", "endTimeUnixNano")) \
                        and int(sp["endTimeUnixNano"]) < int(sp["startTimeUnixNano"]):
                    probs.append("%s: ends before it starts" % where)
                if "status" in sp:
                    c = sp["status"].get("code")
                    if not isinstance(c, int) or isinstance(c, bool) or c not in (0, 1, 2):
                        probs.append("%s: status.code %r" % (where, c))
                probs += check_attrs(sp.get("attributes"), where)
                am = attr_map(sp.get("attributes"))
                for k, v in am.items():
                    if k.startswith("gen_ai.") and k not in GEN_AI_NAMES:
                        probs.append("%s: unknown gen_ai attribute %s" % (where, k))
                    if k in ATTR_KINDS and ATTR_KINDS[k] not in (v or {}):
                        probs.append("%s: %s is not a %s" % (where, k, ATTR_KINDS[k]))
                if kind:
                    spans.append((ra, sp, am))
                    continue
                for k in ("gen_ai.operation.name", "gen_ai.provider.name", "llmtap.call_id"):
                    if k not in am:
                        probs.append("%s: %s missing" % (where, k))
                op = (am.get("gen_ai.operation.name") or {}).get("stringValue")
                model = ((am.get("gen_ai.request.model") or am.get("gen_ai.response.model")) or {}).get("stringValue")
                if op and model and sp.get("name") != "%s %s" % (op, model):
                    probs.append("%s: name is not '{operation} {model}' (%s %s)" % (where, op, model))
                spans.append((ra, sp, am))
    return probs, spans


class Receiver:
    """An HTTP server in this process on a free port. kind "otlp": the first request gets 429 +
    Retry-After: 2, then every valid body 200. kind "json": every batch id gets 503 twice, then 200.
    kind "sink": 200 to everything. With tls=(cert, key) it speaks HTTPS."""

    def __init__(self, kind, tls=None):
        self.kind, self.lock, self.reqs = kind, threading.Lock(), []
        self.problems, self.per_batch = [], {}
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n)
                status, extra, body = rec.answer(self.path, dict((k.lower(), v) for k, v in self.headers.items()), raw)
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        if tls:
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(*tls)
            self.srv.socket = sctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def answer(self, path, headers, raw):
        t = time.monotonic()
        try:
            body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
            doc = json.loads(body.decode("utf-8"))
        except (OSError, ValueError, EOFError) as e:
            with self.lock:
                self.problems.append("undecodable body: %r" % e)
                self.reqs.append(dict(t=t, path=path, headers=headers, doc=None, status=400, raw=raw))
            return 400, {}, b'{"error":"bad body"}'
        with self.lock:
            if self.kind == "otlp":
                probs, _ = validate_otlp(doc)
                if path != "/v1/traces":
                    probs.append("path %s" % path)
                if headers.get("content-type") != "application/json":
                    probs.append("content-type %r" % headers.get("content-type"))
                self.problems += probs
                if not self.reqs:
                    status, extra = 429, {"Retry-After": "2"}
                else:
                    status, extra = (400 if probs else 200), {}
                self.reqs.append(dict(t=t, path=path, headers=headers, doc=doc, status=status))
                return status, extra, b'{"partialSuccess":{}}' if status == 200 else b'{}'
            if self.kind == "sink":
                self.reqs.append(dict(t=t, path=path, headers=headers, doc=doc, status=200, body=body))
                return 200, {}, b'{"ok":true}'
            bid = headers.get("idempotency-key")
            if not bid or bid != doc.get("batch_id"):
                self.problems.append("Idempotency-Key %r != batch_id %r" % (bid, doc.get("batch_id")))
            k = self.per_batch.get(bid, 0) + 1
            self.per_batch[bid] = k
            status = 503 if k <= 2 else 200
            self.reqs.append(dict(t=t, path=path, headers=headers, doc=doc, status=status, body=body))
            return status, {}, b'{"ok":true}' if status == 200 else b'{"error":"try later"}'

    def snapshot(self):
        with self.lock:
            return list(self.reqs), list(self.problems)

    def spans(self):
        """(resource attrs, span, attrs) of every 200-answered request."""
        out = []
        for r in self.snapshot()[0]:
            if r["status"] == 200 and r["doc"] is not None:
                out += validate_otlp(r["doc"])[1]
        return out

    def json_rows(self, table):
        """Rows of table in 200-answered batches: [(batch_id, row)]."""
        return [(r["doc"]["batch_id"], row) for r in self.snapshot()[0]
                if r["status"] == 200 and r["doc"] and r["doc"].get("table") == table for row in r["doc"]["rows"]]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class BlackHole:
    """Accepts TCP connections and never answers (nor reads)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.stopping = True
        for c in self.conns:
            c.close()
        self.sock.close()


# ---------- tracer, clients, database ----------

def tracer_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in e2e.PROXY_VARS and not k.startswith("LLMTAP_")}
    env.update(extra or {})
    return env


def start_tracer(ctx, name, db, args, env=None):
    """`llmtap run --db DB ARGS` (own env). Returns (proc, stderr LineReader) once ready, else None."""
    p = ctx.procs.start([ctx.llmtap, "run", "--db", db] + list(args), stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, env=tracer_env(env))
    terr = LineReader(p.stderr)
    ctx.tracers.append((name, terr))
    ready = terr.wait_for(lambda l: l.startswith("ready"), e2e.READY_DEADLINE_S)
    if not ctx.chk.ok(ready, "%s: prints 'ready'" % name, "exit %r: %s" % (p.poll(), terr.text()[-2000:])):
        return None
    return p, terr


def stop_tracer(ctx, name, p, sig=signal.SIGTERM):
    t0 = time.monotonic()
    rc = e2e.stop_tracer(p, sig, EXIT_DEADLINE_S)
    took = time.monotonic() - t0
    ctx.chk.eq(rc, 0, "%s: exits 0 within %d s of %s (took %.1f s)" % (name, EXIT_DEADLINE_S,
                                                                    signal.Signals(sig).name, took))
    if rc == "still running":
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=5)
    return rc


def chat(tag, endpoint="openai_chat", stream=False):
    kind = {"openai_chat": "openai", "openai_responses": "openai", "anthropic_messages": "anthropic",
            "gemini_generate": "gemini"}[endpoint]
    path = {"openai_chat": "/v1/chat/completions", "openai_responses": "/v1/responses",
            "anthropic_messages": "/v1/messages",
            "gemini_generate": "/v1beta/models/%s:%s" % (E["models"]["gemini"], "streamGenerateContent?alt=sse"
                                                         if stream else "generateContent")}[endpoint]
    op = {"openai_chat": "chat", "openai_responses": "responses", "anthropic_messages": "messages",
          "gemini_generate": "generate_content"}[endpoint]
    return e2e.call(tag, "python", endpoint, stream, kind, None, kind, path, kind, op)


def py_client(ctx, name, calls):
    """python3 client.py making calls in order (private /etc/hosts). Returns the Popen."""
    spec = {"cafile": ctx.cert, "calls": [e2e.py_call(c, ctx.port) for c in calls]}
    path = os.path.join(ctx.tmp, "spec-%s.json" % name)
    with open(path, "w") as f:
        json.dump(spec, f)
    return ctx.procs.start(e2e.in_private_hosts(ctx.hosts, [sys.executable, os.path.join(HERE, "client.py"), path]),
                           env=e2e.client_env(ctx.cert), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def sdk_client(ctx, name, tags):
    """The openai Node SDK: a chat and a chat stream (one keep-alive connection)."""
    spec = {"apiKey": E["keys"]["openai"],
            "calls": [dict(tag=t, op=op, model=E["models"]["openai"], headers={"x-test-call": t},
                           baseURL="https://%s:%d/v1" % (e2e.HOSTS["openai"], ctx.port))
                      for t, op in zip(tags, ("chat", "chat_stream"))]}
    path = os.path.join(ctx.tmp, "sdk-%s.json" % name)
    with open(path, "w") as f:
        json.dump(spec, f)
    return ctx.procs.start(e2e.in_private_hosts(ctx.hosts, ["node", os.path.join(HERE, "sdk_openai.mjs"), path]),
                           env=e2e.client_env(ctx.cert), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE)


def finish_clients(ctx, name, procs):
    ok = True
    for p in procs:
        try:
            out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
        if p.returncode != 0:
            ok = False
            print("---- %s client ----\n%s\n%s" % (name, out.decode(errors="replace")[-2000:],
                                                   err.decode(errors="replace")[-2000:]))
    return ctx.chk.ok(ok, "%s: clients exit 0" % name)


def make_calls(ctx, name, n_py=4, sdk=False, curl=False):
    """Calls tagged NAME-..., by python3 (n_py calls over four endpoints), optionally the Node SDK
    (2) and curl (1). Returns the tags."""
    eps = [("openai_chat", False), ("anthropic_messages", True), ("gemini_generate", False),
           ("openai_responses", True), ("openai_chat", True)]
    calls = [chat("%s-py%03d" % (name, i), *eps[i % len(eps)]) for i in range(n_py)]
    procs = [py_client(ctx, name, calls)] if calls else []
    tags = [c["tag"] for c in calls]
    if sdk:
        st = ["%s-sdk-chat" % name, "%s-sdk-stream" % name]
        procs.append(sdk_client(ctx, name, st))
        tags += st
    if curl:
        c = chat("%s-curl" % name)
        procs.append(ctx.procs.start(e2e.curl_argv(c, ctx.port, ctx.cert, os.path.join(ctx.tmp, c["tag"])),
                                     env=e2e.client_env(ctx.cert), stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        tags.append(c["tag"])
    finish_clients(ctx, name, procs)
    return tags


def tag_of(row):
    for line in (row.get("request_headers") or "").splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == "x-test-call":
            return v.strip()
    return None


def db_rows(db, table):
    try:
        conn = e2e.open_db(db)
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM %s" % table)]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def tagged(db, tags):
    """{tag: row} of the tags that have a row."""
    want = set(tags)
    return {tag_of(r): r for r in db_rows(db, "llm_calls") if tag_of(r) in want}


def wait_tagged(ctx, name, db, tags):
    got = poll(lambda: len(tagged(db, tags)) == len(tags) and tagged(db, tags), ROWS_DEADLINE_S)
    ctx.chk.ok(got, "%s: %d calls recorded in SQLite" % (name, len(tags)),
               "missing %s" % sorted(set(tags) - set(tagged(db, tags))))
    return tagged(db, tags)


def stats_json(ctx, db):
    r = e2e.run_cmd([ctx.llmtap, "stats", "--db", db, "--json"], 30, env=tracer_env())
    out = [json.loads(l) for l in r.stdout.decode(errors="replace").splitlines() if l.startswith("{")]
    return r.returncode, [o for o in out if "push_target" in o]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def agent_run(ctx, tag, command):
    """The test agent (agent_client.py) against the test server asking for tool calls (agent_server.py,
    started once): one run of llm, tool, llm. Returns its report ({} when it failed)."""
    if not getattr(ctx, "agent_port", None):
        sp = ctx.procs.start([sys.executable, os.path.join(HERE, "agent_server.py"), "0", ctx.cert, ctx.key],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = LineReader(sp.stdout).wait_for(lambda l: '"listening"' in l, 15)
        ctx.agent_port = json.loads(line)["port"] if line else None
    spec = {"base": "https://api.anthropic.com:%s" % ctx.agent_port, "cafile": ctx.cert, "format": "messages",
            "stream": True, "tag": tag, "mode": "tool", "command": command}
    p = ctx.procs.start(e2e.in_private_hosts(ctx.hosts, [sys.executable, os.path.join(HERE, "agent_client.py"),
                                                          json.dumps(spec)]),
                        env=e2e.client_env(ctx.cert), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
    lines = [l for l in out.decode(errors="replace").splitlines() if l.startswith("{")]
    ctx.chk.ok(p.returncode == 0 and lines, "%s: the test agent ran" % tag, err.decode(errors="replace")[-500:])
    return json.loads(lines[-1]) if lines else {}


def run_of_pid(db, pid):
    """The ended agent_runs row of pid, once there."""
    def got():
        rows = [r for r in db_rows(db, "agent_runs") if r["pid"] == pid and r["state"] == "ended"]
        return rows[0] if rows else None
    return poll(got, ROWS_DEADLINE_S)


def check_run_spans(chk, name, otlp, db, run, bodies):
    """The OTLP spans of an agent run: invoke_agent, execute_tool under it, exec under that, its calls
    under the run in the same trace, gen_ai.conversation.id on each; tool arguments only with bodies."""
    rid = run["id"]

    def mine():
        sp = [(sp, am) for _, sp, am in otlp.spans()
              if (am.get("gen_ai.conversation.id") or {}).get("stringValue") == rid]
        ops = [(am.get("gen_ai.operation.name") or {}).get("stringValue") for _, am in sp]
        # the run's spans and its two calls' (which may come later, in another batch)
        return sp if "invoke_agent" in ops and sum(1 for _, am in sp if "llmtap.call_id" in am) >= 2 else None
    spans = poll(mine, DELIVERY_DEADLINE_S) or []
    op = lambda am: (am.get("gen_ai.operation.name") or {}).get("stringValue")  # noqa: E731
    inv = [sp for sp, am in spans if op(am) == "invoke_agent"]
    tools = [(sp, am) for sp, am in spans if op(am) == "execute_tool"]
    execs = [(sp, am) for sp, am in spans if sp["name"].startswith("exec ")]
    calls = [(sp, am) for sp, am in spans if "llmtap.call_id" in am]
    if not chk.ok(len(inv) == 1 and tools and execs and len(calls) == 2,
                  "%s: OTLP has the run's invoke_agent, execute_tool, exec and its 2 call spans" % name,
                  repr([(sp["name"]) for sp, _ in spans])):
        return
    run_span, trace = inv[0]["spanId"], inv[0]["traceId"]
    chk.ok(all(sp["traceId"] == trace for sp, _ in spans), "%s: one trace for the whole run" % name)
    chk.ok(all(sp.get("parentSpanId") == run_span for sp, _ in tools + calls),
           "%s: tools and calls are children of the invoke_agent span" % name)
    tool_ids = {sp["spanId"] for sp, _ in tools}
    chk.ok(all(sp.get("parentSpanId") in tool_ids for sp, _ in execs), "%s: execs are children of their tool" % name)
    steps = [r for r in db_rows(db, "agent_steps") if r["run_id"] == rid and r["kind"] == "tool"]
    chk.eq(sorted((am["gen_ai.tool.call.id"]["stringValue"], am["gen_ai.tool.name"]["stringValue"]) for _, am in tools),
           sorted((s["tool_call_id"], s["tool_name"]) for s in steps), "%s: gen_ai.tool.call.id and name" % name)
    has_args = [("gen_ai.tool.call.arguments" in am) for _, am in tools]
    chk.ok(all(has_args) if bodies else not any(has_args),
           "%s: tool arguments %s" % (name, "sent (--push-bodies)" if bodies else "not sent (no --push-bodies)"))
    chk.ok(any((am.get("llmtap.exec.command") or {}).get("boolValue") for _, am in execs),
           "%s: the exec carrying the command is marked" % name)


# ---------- comparison ----------

def same_value(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return str(a) == str(b)


def compare_table(ctx, ch, db, table):
    """Every SQLite row of table equals its ClickHouse row (FINAL), column by column; nothing more."""
    chk = ctx.chk
    lite = db_rows(db, table)
    key = ("id",) if table != "cpu_samples" else ("pid", "ts_ns")
    try:
        remote = ch.rows("SELECT * FROM %s.%s FINAL WHERE host_id = '%s'" % (CH_DB, table, HOST_ID))
    except (OSError, urllib.error.URLError, ValueError) as e:
        chk.ok(False, "%s: ClickHouse SELECT" % table, repr(e))
        return
    rk = {}
    for r in remote:
        rk.setdefault(tuple(r.get(k) for k in key), []).append(r)
    lk = {tuple(r[k] for k in key): r for r in lite}
    chk.ok(all(len(v) == 1 for v in rk.values()), "%s: no duplicate in ClickHouse (FINAL)" % table,
           repr([k for k, v in rk.items() if len(v) > 1][:5]))
    chk.eq(sorted(map(str, rk)), sorted(map(str, lk)), "%s: the same %d keys in SQLite and ClickHouse" % (table, len(lk)))
    bad = []
    for k, row in lk.items():
        r = (rk.get(k) or [None])[0]
        if r is None:
            continue
        for col, v in row.items():
            if col not in r:
                bad.append("%s: column %s missing" % (k, col))
            elif not same_value(v, r[col]):
                bad.append("%s.%s: sqlite %r, clickhouse %r" % (k, col, str(v)[:80], str(r[col])[:80]))
        if r.get("host_id") != HOST_ID:
            bad.append("%s: host_id %r" % (k, r.get("host_id")))
    chk.ok(not bad, "%s: every row equal field by field (%d rows, %d columns)" % (
        table, len(lk), len(lite[0]) if lite else 0), "; ".join(bad[:8]))


# ---------- the phases ----------

class Ctx:
    def __init__(self, chk, llmtap, tmp, cert, key, port, hosts):
        self.chk, self.llmtap, self.tmp, self.cert, self.port, self.hosts = chk, llmtap, tmp, cert, port, hosts
        self.key = key
        self.procs = Procs()
        self.tracers = []


def run_main_phases(ctx, ch):
    chk = ctx.chk
    db = os.path.join(ctx.tmp, "db", "llmtap.db")
    otlp, js = Receiver("otlp"), Receiver("json")
    ch_url = "clickhouse://%s:%s@127.0.0.1:%d/%s" % (CH_USER, CH_PASS, ch.http, CH_DB)
    targets = ["--push", ch_url, "--push", "otlp+http://127.0.0.1:%d" % otlp.port,
               "--push", "http://127.0.0.1:%d/ingest" % js.port]
    try:
        # ---- phase 1: delivery to all three ----
        t = start_tracer(ctx, "T1", db, targets + ["--push-interval", "0.3", "--push-bodies", "--host-id", HOST_ID],
                         {"LLMTAP_PUSH_TOKEN": TOKEN})
        if not t:
            return
        t1, t1err = t
        tags1 = make_calls(ctx, "P1", n_py=5, sdk=True, curl=True)
        rows1 = wait_tagged(ctx, "phase 1", db, tags1)
        ids1 = {r["id"] for r in rows1.values()}
        chk.ok(poll(lambda: ids1 <= ch.ids("llm_calls"), DELIVERY_DEADLINE_S),
               "phase 1: the %d calls reach ClickHouse" % len(ids1), repr(ids1 - ch.ids("llm_calls")))
        otlp_ids = lambda: {(a.get("llmtap.call_id") or {}).get("stringValue") for _, _, a in otlp.spans()}  # noqa: E731
        chk.ok(poll(lambda: ids1 <= otlp_ids(), DELIVERY_DEADLINE_S), "phase 1: the OTLP receiver gets their spans")
        reqs, _ = otlp.snapshot()
        if chk.ok(len(reqs) >= 2 and reqs[0]["status"] == 429, "phase 1: OTLP answered 429 first, then retried"):
            chk.ok(reqs[1]["t"] - reqs[0]["t"] >= 1.9, "phase 1: OTLP retry waited for Retry-After: 2 (%.2f s)" %
                   (reqs[1]["t"] - reqs[0]["t"]))
        json_ids = lambda: {row["id"] for _, row in js.json_rows("llm_calls")}  # noqa: E731
        chk.ok(poll(lambda: ids1 <= json_ids(), DELIVERY_DEADLINE_S), "phase 1: the JSON receiver gets the rows")
        rep = agent_run(ctx, "P1-agent", "echo pushed-tool; exit 2")
        run1 = run_of_pid(db, rep.get("pid")) if rep else None
        if chk.ok(run1, "phase 1: the agent's run is recorded"):
            sids = {"%s:%d" % (run1["id"], i) for i in range(3)}
            chk.ok(poll(lambda: run1["id"] in ch.ids("agent_runs") and sids <= ch.ids("agent_steps"),
                        DELIVERY_DEADLINE_S), "phase 1: agent_runs and agent_steps reach ClickHouse")
            check_run_spans(chk, "phase 1", otlp, db, run1, True)

        # ---- phase 2: ClickHouse down, then up ----
        chk.ok(ch.stop(), "phase 2: ClickHouse stopped")
        tags2 = make_calls(ctx, "P2", n_py=6)
        rows2 = wait_tagged(ctx, "phase 2 (ClickHouse down)", db, tags2)
        ids2 = {r["id"] for r in rows2.values()}
        chk.ok(poll(lambda: ids2 <= otlp_ids() and ids2 <= json_ids(), DELIVERY_DEADLINE_S),
               "phase 2: OTLP and JSON targets still receive while ClickHouse is down")

        def ch_failing():
            rc, st = stats_json(ctx, db)
            row = [o for o in st if o["push_target"].startswith("clickhouse://") and o["table"] == "llm_calls"]
            return rc == 0 and row and row[0]["backlog"] >= len(ids2) and row[0]["last_error"] and row
        st = poll(ch_failing, DELIVERY_DEADLINE_S, 0.5)
        chk.ok(st, "phase 2: `llmtap stats --json` shows the ClickHouse target's backlog and last error")
        if st:
            chk.ok(CH_PASS not in json.dumps(st) and "clickhouse://%s@127.0.0.1" % CH_USER in st[0]["push_target"],
                   "phase 2: the target is named without its password", st[0]["push_target"])
        r = e2e.run_cmd([ctx.llmtap, "stats", "--db", db], 30, env=tracer_env())
        out = r.stdout.decode(errors="replace")
        chk.ok(r.returncode == 0 and "push targets" in out and "CALLS" in out and "LAST_ERROR" in out,
               "phase 2: `llmtap stats` keeps its table and adds the push targets section", out[-1500:])
        chk.ok(ch.start(), "phase 2: ClickHouse started again")
        chk.ok(poll(lambda: (ids1 | ids2) <= ch.ids("llm_calls"), DELIVERY_DEADLINE_S, 0.5),
               "phase 2: the backlog reaches ClickHouse after the outage")

        # ---- phase 3: down again, SIGKILL, restart from the outbox ----
        chk.ok(ch.stop(), "phase 3: ClickHouse stopped")
        tags3 = make_calls(ctx, "P3", n_py=5)
        rows3 = wait_tagged(ctx, "phase 3", db, tags3)
        ids3 = {r["id"] for r in rows3.values()}
        os.kill(t1.pid, signal.SIGKILL)
        # SIGKILL: the kernel detaches every uprobe of the dying process (~0.1 s
        # each, serialised): the contract's 5 s is for SIGINT/SIGTERM
        chk.eq(e2e.stop_tracer(t1, signal.SIGKILL, KILL_DEADLINE_S), -signal.SIGKILL, "phase 3: T1 killed by SIGKILL")
        chk.ok(ch.start(), "phase 3: ClickHouse started again")
        chk.ok(not (ids3 & ch.ids("llm_calls")), "phase 3: ClickHouse lacks the calls made while it was down")
        conf = os.path.join(ctx.tmp, "llmtap.conf")
        with open(conf, "w") as f:
            f.write("# llmtap.conf for push_test.py\n\npush = %s\npush = otlp+http://127.0.0.1:%d\n"
                    "push = http://127.0.0.1:%d/ingest\npush-interval = 0.3\npush-bodies = true\n"
                    "host-id = %s\npush-token = %s\n" % (ch_url, otlp.port, js.port, HOST_ID, FILE_TOKEN))
        os.chmod(conf, 0o600)
        # flags win over the file: a long interval and a batch nothing fills (only the start and SIGTERM push)
        t = start_tracer(ctx, "T2", db, ["--config", conf, "--push-interval", "60", "--push-batch", "100000", "-v"],
                         {"LLMTAP_PUSH_TOKEN": TOKEN})
        if not t:
            return
        t2, t2err = t
        chk.ok(t2err.wait_for(lambda l: "every 60.0 s" in l and "clickhouse://" in l, 5),
               "phase 3: T2 takes its targets from --config, --push-interval from the command line")
        chk.ok(poll(lambda: ids3 <= ch.ids("llm_calls"), DELIVERY_DEADLINE_S, 0.5),
               "phase 3: after kill -9 and restart the backlog reaches ClickHouse")
        tags4 = make_calls(ctx, "P4", n_py=3)
        rows4 = wait_tagged(ctx, "phase 3 (before SIGTERM)", db, tags4)
        ids4 = {r["id"] for r in rows4.values()}
        # T2 must NOT push these before SIGTERM: watch for a second
        early = poll(lambda: ids4 & ch.ids("llm_calls"), 1.0)
        chk.ok(not early, "phase 3: T2 holds new rows until its interval (60 s)")
        stop_tracer(ctx, "T2", t2, signal.SIGTERM)
        chk.ok(ids4 <= ch.ids("llm_calls"), "phase 3: the last push on SIGTERM delivered the newest calls")

        # ---- checks on everything ----
        for table in TABLES:
            compare_table(ctx, ch, db, table)
        for table in ("llm_calls", "connections", "dns_lookups", "processes", "agent_runs", "agent_steps"):
            try:
                c = ch.rows("SELECT count() AS n, uniqExact(id) AS u FROM %s.%s FINAL WHERE host_id = '%s'" % (
                    CH_DB, table, HOST_ID))[0]
            except (OSError, urllib.error.URLError, ValueError, IndexError) as e:
                c = {"n": -1, "u": repr(e)}
            chk.eq(c["n"], c["u"], "%s: count() FINAL = distinct ids (nothing duplicated)" % table)
        n_lite = len(db_rows(db, "llm_calls"))
        chk.ok(n_lite >= len(ids1 | ids2 | ids3 | ids4), "llm_calls: SQLite holds every call (%d rows)" % n_lite)
        try:
            desc = {r["name"]: r["type"] for r in ch.rows("DESCRIBE TABLE %s.llm_calls" % CH_DB)}
            eng = ch.rows("SELECT engine FROM system.tables WHERE database = '%s' AND name = 'llm_calls'" % CH_DB)
        except (OSError, urllib.error.URLError, ValueError) as e:
            desc, eng = {}, [{"engine": repr(e)}]
        chk.eq((desc.get("host_id"), desc.get("time"), desc.get("start_ns"), desc.get("id")),
               ("String", "DateTime", "Nullable(UInt64)", "String"), "ClickHouse schema: host_id, time, start_ns, id")
        chk.eq(eng[0].get("engine") if eng else None, "ReplacingMergeTree", "ClickHouse engine ReplacingMergeTree")
        try:
            tm = ch.rows("SELECT id, toUnixTimestamp(time) AS t, start_ns FROM %s.llm_calls FINAL WHERE host_id = '%s'"
                         % (CH_DB, HOST_ID))
        except (OSError, urllib.error.URLError, ValueError):
            tm = []
        chk.ok(tm and all(r["t"] == r["start_ns"] // 1000000000 for r in tm), "ClickHouse time = start_ns in seconds")

        # OTLP: every body valid, one span identity per call, values from the row
        reqs, probs = otlp.snapshot()
        chk.ok(not probs, "OTLP: every request body valid against the OTLP JSON mapping (%d requests)" % len(reqs),
               "; ".join(probs[:8]))
        chk.ok(all(r["headers"].get("content-encoding") == "gzip" for r in reqs), "OTLP: bodies gzip'd")
        spans = otlp.spans()
        ident = {}
        for _, sp, am in spans:
            cid = (am.get("llmtap.call_id") or {}).get("stringValue")
            if cid:  # the spans of calls (runs' spans are checked by check_run_spans())
                ident.setdefault(cid, set()).add((sp["traceId"], sp["spanId"]))
        chk.ok(all(len(v) == 1 for v in ident.values()), "OTLP: a re-sent call is the same span (same trace/span id)",
               repr([(k, v) for k, v in ident.items() if len(v) > 1][:3]))
        all_rows = {r["id"]: r for r in db_rows(db, "llm_calls")}
        runs_by_id = {r["id"]: r for r in db_rows(db, "agent_runs")}
        bad = []
        for ra, sp, am in spans:
            cid = (am.get("llmtap.call_id") or {}).get("stringValue")
            row = all_rows.get(cid)
            if not row or cid not in ids1 | ids2:
                continue
            # a call of a run is in its run tree's trace (the top run's id), else in its own
            root = (runs_by_id.get(row["run_id"]) or {}).get("root_run_id") or row["run_id"] or cid
            if sp["traceId"] != root.replace("-", ""):
                bad.append("%s traceId %s" % (cid, sp["traceId"]))
            if sp["startTimeUnixNano"] != str(row["start_ns"]):
                bad.append("%s start %s" % (cid, sp["startTimeUnixNano"]))
            for k, col in (("gen_ai.usage.input_tokens", "input_tokens"), ("gen_ai.usage.output_tokens", "output_tokens")):
                want = None if row[col] is None else str(row[col])
                if (am.get(k) or {}).get("intValue") != want:
                    bad.append("%s %s %r != %r" % (cid, k, am.get(k), want))
            if (am.get("gen_ai.response.model") or {}).get("stringValue") != row["model"]:
                bad.append("%s response.model" % cid)
            for k in ("duration_ms", "ttfb_ms", "dns_ms", "connect_ms", "tls_ms", "upload_ms"):
                v = (am.get("llmtap." + k) or {}).get("doubleValue")
                if not same_value(v, row[k]):
                    bad.append("%s llmtap.%s %r != %r" % (cid, k, v, row[k]))
            if (am.get("llmtap.conn_reused") or {}).get("boolValue") != bool(row["conn_reused"]):
                bad.append("%s conn_reused" % cid)
            if (ra.get("host.id") or {}).get("stringValue") != HOST_ID:
                bad.append("%s host.id" % cid)
            if row["response_text"] and (am.get("llmtap.response.text") or {}).get("stringValue") != row["response_text"]:
                bad.append("%s response text (--push-bodies)" % cid)
        chk.ok(not bad, "OTLP: span attributes equal the SQLite rows (gen_ai usage, model, latency split, host)",
               "; ".join(bad[:8]))

        # JSON: each batch id answered 200 once, the same rows at every attempt, bearer and key
        reqs, probs = js.snapshot()
        chk.ok(not probs, "JSON: Idempotency-Key = batch_id, bodies decodable", "; ".join(probs[:5]))
        by_batch = {}
        for r in reqs:
            by_batch.setdefault(r["doc"]["batch_id"], []).append(r)
        ok200 = {b: sum(1 for r in v if r["status"] == 200) for b, v in by_batch.items()}
        chk.ok(by_batch and all(n <= 1 for n in ok200.values()), "JSON: each batch id delivered (200) at most once "
               "(%d batch ids, %d requests)" % (len(by_batch), len(reqs)),
               repr([b for b, n in ok200.items() if n > 1][:5]))
        chk.ok(all(len(v) >= 3 for b, v in by_batch.items() if ok200[b]), "JSON: every delivered batch was retried "
               "after 503, 503")
        # (processes rows are replaced when a process changes: a batch rebuilt after a restart may differ)
        chk.ok(all(len({r["body"] for r in v}) == 1 for v in by_batch.values() if v[0]["doc"]["table"] != "processes"),
               "JSON: a retried batch carries the same body (same rows, same batch id)")
        delivered = [row["id"] for _, row in js.json_rows("llm_calls")]
        chk.eq(len(delivered), len(set(delivered)), "JSON: no llm_calls row delivered twice")
        chk.ok((ids1 | ids2) <= set(delivered), "JSON: every call of phases 1-2 delivered")

        chk.ok(all(r["headers"].get("authorization") == "Bearer " + TOKEN for r in reqs),
               "JSON: LLMTAP_PUSH_TOKEN sent as the bearer token (the environment beats the config file)")
        chk.ok(all(r["doc"]["host_id"] == HOST_ID for r in reqs), "JSON: host_id in every batch")
        chk.ok(all(r["headers"].get("content-encoding") == "gzip" for r in reqs), "JSON: bodies gzip'd")

        # secrets: never in the database files nor in stderr
        blobs = b""
        for suffix in ("", "-wal", "-shm"):
            try:
                with open(db + suffix, "rb") as f:
                    blobs += f.read()
            except OSError:
                pass
        for name, terr in ctx.tracers:
            blobs += terr.text().encode()
        for s in (TOKEN, FILE_TOKEN, CH_PASS):
            chk.ok(s.encode() not in blobs, "secret %s... in neither the database nor the tracer's stderr" % s[:8])
        rc, st = stats_json(ctx, db)
        row = [o for o in st if o["push_target"].startswith("clickhouse://") and o["table"] == "llm_calls"]
        chk.ok(rc == 0 and row and row[0]["backlog"] == 0 and row[0]["pushed_rows"] >= len(ids1 | ids2 | ids3 | ids4),
               "stats: the ClickHouse target has no backlog left", repr(row))
    finally:
        otlp.close()
        js.close()


def run_blackhole_phase(ctx):
    """A target that never answers: capture goes on, memory stays bounded, exit stays fast."""
    chk = ctx.chk
    db = os.path.join(ctx.tmp, "db3", "llmtap.db")
    hole, otlp, sink = BlackHole(), Receiver("otlp"), Receiver("sink", (ctx.cert, ctx.key))
    try:
        t = start_tracer(ctx, "T3", db, ["--push", "http://127.0.0.1:%d/ingest" % hole.port,
                                         "--push", "otlp+http://127.0.0.1:%d" % otlp.port,
                                         "--push", "https://127.0.0.1:%d/ingest" % sink.port, "--push-ca", ctx.cert,
                                         "--push-interval", "0.3", "--push-batch", "50", "--host-id", HOST_ID])
        if not t:
            return
        t3, _ = t
        warm = make_calls(ctx, "B0", n_py=30)
        wait_tagged(ctx, "black hole: warm-up", db, warm)
        chk.ok(poll(lambda: hole.conns, 10), "black hole: the tracer connected to it")
        rss0 = rss_kb(t3.pid)
        per = RSS_CALLS // 3
        calls = [[chat("B1-%d-%03d" % (k, i), "openai_chat", i % 2 == 1) for i in range(per)] for k in range(3)]
        procs = [py_client(ctx, "B1-%d" % k, c) for k, c in enumerate(calls)]
        finish_clients(ctx, "black hole", procs)
        tags = [c["tag"] for cs in calls for c in cs]
        rows = wait_tagged(ctx, "black hole: %d calls with a target that never answers" % len(tags), db, tags)
        rss1 = rss_kb(t3.pid)
        chk.ok(t3.poll() is None, "black hole: the tracer is still running")
        chk.ok(rss1 < 2 * rss0, "black hole: RSS bounded (%d kB after warm-up, %d kB after %d more calls)" % (
            rss0, rss1, len(tags)))
        ids = {r["id"] for r in rows.values()}
        got = poll(lambda: ids <= {(a.get("llmtap.call_id") or {}).get("stringValue") for _, _, a in otlp.spans()},
                   DELIVERY_DEADLINE_S)
        chk.ok(got, "black hole: the OTLP target still gets every span (targets do not wait for each other)")
        got = poll(lambda: ids <= {row["id"] for _, row in sink.json_rows("llm_calls")}, DELIVERY_DEADLINE_S)
        chk.ok(got, "https target verified with --push-ca gets every row")
        rep = agent_run(ctx, "B2-agent", "echo no-bodies")
        run3 = run_of_pid(db, rep.get("pid")) if rep else None
        if chk.ok(run3, "black hole: the agent's run is recorded"):
            check_run_spans(chk, "black hole", otlp, db, run3, False)
        spans = otlp.spans()
        chk.ok(spans and all(not (BODY_ATTRS & set(am)) for _, _, am in spans),
               "OTLP without --push-bodies: no body, text, message or tool argument attributes")
        reqs, probs = otlp.snapshot()
        chk.ok(not probs, "OTLP (black hole run): every body valid", "; ".join(probs[:5]))
        rc, st = stats_json(ctx, db)
        hole_rows = [o for o in st if o["push_target"].startswith("http://") and o["table"] == "llm_calls"]
        chk.ok(rc == 0 and hole_rows and hole_rows[0]["backlog"] >= len(ids) and hole_rows[0]["pushed_rows"] == 0,
               "black hole: stats shows its backlog, nothing pushed", repr(hole_rows))
        stop_tracer(ctx, "T3 (a push hanging)", t3, signal.SIGTERM)
    finally:
        hole.close()
        otlp.close()
        sink.close()


def run_retention_phase(ctx):
    """--retain-days deletes old rows once pushed (keeps the unpushed, with a warning); --max-db-mb
    deletes pushed rows first, then warns and deletes the oldest unpushed ones."""
    chk = ctx.chk
    db = os.path.join(ctx.tmp, "db5", "llmtap.db")
    r = e2e.run_cmd([ctx.llmtap, "run", "--db", db, "--duration", "0.1"], 60, env=tracer_env())
    if not chk.eq(r.returncode, 0, "retention: `llmtap run --duration 0.1` makes a database"):
        return
    dead = free_port()  # nothing listens there: the target never takes a row
    target = "http://127.0.0.1:%d/x" % dead
    sink = Receiver("sink", (ctx.cert, ctx.key))  # self-signed: refused without --push-ca
    tls_target = "https://127.0.0.1:%d/ingest" % sink.port
    now = time.time_ns()
    conn = sqlite3.connect(db, timeout=10)
    with conn:
        conn.executemany("INSERT INTO llm_calls (id, start_ns, response_text) VALUES (?, ?, ?)",
                         [("ret-%04d" % i, now - (8 * 86400 * 10**9 if i < 400 else 3600 * 10**9) + i, "r" * 3000)
                          for i in range(800)])
        first = conn.execute("SELECT min(rowid) FROM llm_calls WHERE id LIKE 'ret-%'").fetchone()[0]
        # the target "has" the first 200 rows (rowids first .. first+199)
        for tg in (target, tls_target):
            conn.execute("INSERT INTO push_state (target, tbl, last_rowid) VALUES (?, 'llm_calls', ?)",
                         (tg, first + 199))
    conn.close()
    try:
        run_retention_cases(ctx, db, target, tls_target, sink)
    finally:
        sink.close()


def run_retention_cases(ctx, db, target, tls_target, sink):
    chk = ctx.chk
    t = start_tracer(ctx, "T5 retention", db, ["--push", target, "--push", tls_target, "--retain-days", "7"])
    if not t:
        return
    p, terr = t

    def ids():
        return {r["id"] for r in db_rows(db, "llm_calls") if r["id"].startswith("ret-")}
    got = poll(lambda: "ret-0000" not in ids() and ids(), 40, 0.5)
    left = ids()
    chk.ok(got and not any("ret-%04d" % i in left for i in range(200)),
           "retention: rows older than --retain-days that were pushed are deleted")
    chk.ok(all("ret-%04d" % i in left for i in range(200, 800)),
           "retention: old rows not yet pushed are kept, recent rows are kept")
    chk.ok(terr.wait_for(lambda l: "older than 7 day(s) are not pushed yet" in l, 10),
           "retention: a warning names the old rows not yet pushed")
    rc, st = stats_json(ctx, db)
    tls_rows = [o for o in st if o["push_target"] == tls_target and o["table"] == "llm_calls"]
    chk.ok(tls_rows and "certificate" in (tls_rows[0]["last_error"] or "") and not sink.snapshot()[0],
           "TLS verification on: a self-signed https target without --push-ca gets nothing", repr(tls_rows))
    stop_tracer(ctx, "T5 retention", p, signal.SIGTERM)

    # 600 rows of ~3 KB (one page each): a 1 MB cap must delete unpushed rows, with a warning first
    # -c: this phase captures nothing; calls of other processes on a shared
    # host would be the newest rows and push the test's own ones out
    t = start_tracer(ctx, "T5 max-db-mb", db, ["--push", target, "--push", tls_target, "--max-db-mb", "1",
                                               "--retain-days", "0", "-c", "llmtap-no-such"])
    if not t:
        return
    p, terr = t
    warned = terr.wait_for(lambda l: "deleting the oldest rows NOT yet pushed" in l, 40)
    chk.ok(warned, "max-db-mb: warns before deleting rows not yet pushed")

    def used_bytes():
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            q = [c.execute("PRAGMA %s" % k).fetchone()[0] for k in ("page_count", "freelist_count", "page_size")]
            return (q[0] - q[1]) * q[2]
        finally:
            c.close()
    used = poll(lambda: used_bytes() <= 1 << 20, 20, 0.5)
    left = ids()
    chk.ok(used, "max-db-mb: the database's used pages end under the cap")
    chk.ok(left and "ret-0799" in left and "ret-0200" not in left,
           "max-db-mb: the oldest rows went first, the newest stays (%d left)" % len(left))
    stop_tracer(ctx, "T5 max-db-mb", p, signal.SIGTERM)


def main():
    ap = argparse.ArgumentParser(description="llmtap push end-to-end tests")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    chk = Checks(args.verbose)
    llmtap = os.path.abspath(os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap"))
    chbin = os.environ.get("CLICKHOUSE") or shutil.which("clickhouse-server") or "/usr/sbin/clickhouse-server"

    def on_term(signum, frame):
        raise SystemExit("push: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-push.")
    ctx = None
    try:
        if not e2e.preflight(chk, llmtap):
            return 1
        for tool in ("node", "curl", "openssl", "unshare", "mount"):
            if not chk.ok(shutil.which(tool), "tool: %s on PATH" % tool):
                return 1
        if not chk.ok(os.access(chbin, os.X_OK), "tool: clickhouse-server (%s)" % chbin,
                      "install the Debian package clickhouse-server (make deps)"):
            return 1
        cert, key = e2e.make_cert(tmp)
        hosts = e2e.hosts_file(tmp)
        sp, srv, port = e2e.start_server(procs, cert, key)
        if not chk.ok(port, "LLM server listening", srv.text()):
            return 1
        ctx = Ctx(chk, llmtap, tmp, cert, key, port, hosts)
        ctx.procs = procs
        ch = ClickHouse(procs, tmp, chbin)
        if not chk.ok(ch.start(), "ClickHouse started (ports %d/%d)" % (ch.http, ch.tcp), tail(os.path.join(
                ch.dir, "log", "err.log")) + tail(os.path.join(ch.dir, "log", "stdout.log"))):
            return 1
        version = ch.query("SELECT version()").strip()
        chk.ok(re.match(r"^\d+\.", version), "ClickHouse answers queries (version %s)" % version)
        for name, fn in (("main", lambda: run_main_phases(ctx, ch)), ("blackhole", lambda: run_blackhole_phase(ctx)),
                         ("retention", lambda: run_retention_phase(ctx))):
            failed = chk.failed
            try:
                fn()
            except Exception as e:
                chk.ok(False, "%s: unexpected exception" % name, repr(e))
                traceback.print_exc()
            if chk.failed > failed:
                for tname, terr in ctx.tracers:
                    print("---- %s stderr ----\n%s\n---- end ----" % (tname, terr.text()[-4000:]))
        ch.stop()
        return 1 if chk.failed else 0
    except Exception as e:
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
        return 1
    finally:
        procs.cleanup()
        if ctx:
            for tname, terr in ctx.tracers:
                with open(os.path.join(tmp, "llmtap-%s.stderr" % re.sub(r"\W+", "_", tname)), "w") as f:
                    f.write(terr.text() + "\n")
        if chk.failed or args.keep:
            print("push: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print("push: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)


def tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())

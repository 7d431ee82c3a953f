#!/usr/bin/env python3
"""ingest_test.py -- llmtap end-to-end tests of the front door: POST /v1/events, /v1/traces, /v1/logs.

Usage (as root, from anywhere):
    python3 tests/e2e/ingest_test.py [-v] [--keep]

`llmtap run --listen 0 --ingest-max-body 64k --ingest-rate 50` on a fresh DB, the fake HTTPS API
(server.js), real clients:
   1 events    `curl -X POST /v1/events` with secrets in its attributes: 202 {"accepted":1}, a row with
               curl's pid (found from its connection), source agent, the secrets [REDACTED] and in no
               database file; an array with each timestamp form, severities and an explicit pid
   2 bad       bad JSON, no name, an unknown field, a non-object, a bad timestamp -> 400 naming the
               reason; GET -> 405; a protobuf body on /v1/events and text on /v1/traces -> 415;
               a bad protobuf and a bad traceId -> 400; nothing of them stored
   3 large     a body over --ingest-max-body (by Content-Length, and chunked) and a gzip bomb -> 413
   4 otlp      an agent instrumented with the real OpenTelemetry JS SDK (otel_agent.mjs) makes an
               openai SDK call to the fake API and exports its spans as protobuf
               (exporter-trace-otlp-proto, process.pid in the resource) and as OTLP/JSON
               (exporter-trace-otlp-http, no pid: found from the connection), and a log record
               (exporter-logs-otlp-proto): agent_spans rows with ids, kind, status, tokens, the CLIENT
               span joined to the llm_calls row of the same process (call_id), the parent span not
               joined, attributes redacted; the log record as an events row
   5 flood     400 POSTs from 8 threads at --ingest-rate 50 while curl makes an LLM call: 429s with
               Retry-After, every 202'd event stored exactly once, the call captured, tracer healthy
   6 token     a second run with LLMTAP_INGEST_TOKEN: no token or a wrong one -> 401, the right one ->
               202; /metrics counts requests, rows and rejections
Ends with the line "ingest: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import gzip
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import run as e2e  # noqa: E402
from run import Checks, Procs  # noqa: E402

DEADLINE_S = 30
POLL_S = 0.1
MAX_BODY = 64 * 1024
RATE = 50
SECRET_KEY = "sk-ingestSECRET0123456789abcdef"
SECRET_TOKEN = "ingest-token-SECRET-42xyz"
OTEL_MODULES = ["@opentelemetry/sdk-trace-base", "@opentelemetry/exporter-trace-otlp-proto",
                "@opentelemetry/exporter-trace-otlp-http", "@opentelemetry/exporter-logs-otlp-proto",
                "@opentelemetry/sdk-logs", "openai"]


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


def post(port, path, body, ctype="application/json", headers=None, method="POST"):
    """(status, headers dict, body bytes) of one request on a new connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Content-Type": ctype} if ctype else {}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


def events_named(db, name):
    rows = query(db, "SELECT * FROM events WHERE name = ? ORDER BY ts_ns", (name,))
    for r in rows:
        r["attrs"] = json.loads(r["attributes"] or "{}")
    return rows


def db_files_contain(db, needle):
    for suffix in ("", "-wal", "-shm"):
        try:
            with open(db + suffix, "rb") as f:
                if needle.encode() in f.read():
                    return True
        except OSError:
            pass
    return False


def case_events(chk, db, port, tracer):
    body = json.dumps({"name": "tool.start", "severity": "info", "attributes": {
        "tool": "bash", "authorization": "Bearer " + SECRET_KEY,
        "cmd": "curl -H 'x-api-key: %s' https://x/?key=%s" % (SECRET_KEY, SECRET_KEY), "tokens": 12,
        "nested": {"api_key": SECRET_KEY, "n": 1}}})
    p = subprocess.run(["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body,
                        "-w", "\n%{http_code}", "http://127.0.0.1:%d/v1/events" % port], capture_output=True, timeout=30)
    out = p.stdout.decode().splitlines()
    chk.eq(out[-1] if out else None, "202", "events: curl -X POST /v1/events answers 202")
    chk.eq(json.loads(out[0]) if len(out) > 1 else None, {"accepted": 1}, "events: body {\"accepted\": 1}")
    rows = wait_for(lambda: events_named(db, "tool.start"), DEADLINE_S, tracer)
    if not chk.ok(rows, "events: the row is written"):
        return
    r = rows[0]
    chk.eq((r["source"], r["severity"]), ("agent", "info"), "events: source agent, severity")
    a = r["attrs"]
    chk.eq(a.get("authorization"), "[REDACTED]", "events: a credential-named attribute is [REDACTED]")
    chk.ok(SECRET_KEY not in a.get("cmd", "") and "[REDACTED]" in a.get("cmd", ""),
           "events: key shapes in free text are [REDACTED]", repr(a.get("cmd")))
    chk.eq(a.get("nested", {}).get("api_key"), "[REDACTED]", "events: nested attributes are redacted too")
    chk.eq((a.get("tool"), a.get("tokens"), a.get("nested", {}).get("n")), ("bash", 12, 1),
           "events: other attributes kept as sent")
    chk.ok(r["pid"] and r["pid"] > 0 and r["pid"] != os.getpid(),
           "events: pid is the posting curl's (found from its connection)", repr(r["pid"]))
    chk.ok(abs(r["ts_ns"] - time.time_ns()) < 60e9, "events: ts_ns defaults to the time received")
    chk.ok(not db_files_contain(db, SECRET_KEY), "events: the secret is in no database file")
    # an array, each timestamp form, severity aliases, an explicit pid
    t = 1765000000
    arr = [{"name": "ev.sec", "timestamp": t + 0.25},
           {"name": "ev.ms", "timestamp": (t + 1) * 1000, "severity": "WARN"},
           {"name": "ev.ns", "timestamp": (t + 2) * 10**9 + 7, "severity": "critical"},
           {"name": "ev.rfc", "timestamp": "2025-12-06T05:46:43.5+01:00", "pid": 4242},
           {"name": "ev.none"}]
    st, _, b = post(port, "/v1/events", json.dumps(arr))
    chk.eq((st, json.loads(b)), (202, {"accepted": 5}), "events: an array of 5 is accepted whole")
    got = wait_for(lambda: (lambda r: r if len(r) == 5 else None)(
        query(db, "SELECT name, ts_ns, severity, pid FROM events WHERE name LIKE 'ev.%'")), DEADLINE_S, tracer) or []
    by = {r["name"]: r for r in got}
    chk.eq(by.get("ev.sec", {}).get("ts_ns"), (t * 10**9) + 250000000, "events: timestamp in seconds (float)")
    chk.eq(by.get("ev.ms", {}).get("ts_ns"), (t + 1) * 10**9, "events: timestamp in ms")
    chk.eq(by.get("ev.ns", {}).get("ts_ns"), (t + 2) * 10**9 + 7, "events: timestamp in ns, exact")
    chk.eq(by.get("ev.rfc", {}).get("ts_ns"), 1764996403500000000, "events: RFC 3339 timestamp with an offset")
    chk.eq((by.get("ev.ms", {}).get("severity"), by.get("ev.ns", {}).get("severity"),
            by.get("ev.none", {}).get("severity")), ("warning", "fatal", "info"), "events: severities normalised")
    chk.eq(by.get("ev.rfc", {}).get("pid"), 4242, "events: an explicit pid wins")


def case_bad(chk, db, port, tracer):
    cases = [("{\"name\": ", "bad JSON"), ("{\"attributes\": {}}", "\"name\""),
             ("{\"name\": \"x\", \"colour\": 1}", "unknown field 'colour'"), ("[1]", "event 0"),
             ("{\"name\": \"x\", \"timestamp\": \"yesterday\"}", "\"timestamp\""),
             ("{\"name\": \"x\", \"severity\": \"loud\"}", "\"severity\""),
             ("{\"name\": \"x\", \"attributes\": [1]}", "\"attributes\"")]
    for body, why in cases:
        st, h, b = post(port, "/v1/events", body)
        err = json.loads(b).get("error", "") if b.startswith(b"{") else ""
        chk.ok(st == 400 and why in err, "bad: %r -> 400 naming %s" % (body[:30], why), "%d %r" % (st, b[:200]))
    st, h, _ = post(port, "/v1/events", None, ctype=None, method="GET")
    chk.ok(st == 405 and h.get("allow") == "POST", "bad: GET /v1/events -> 405 Allow: POST", repr((st, h)))
    st, _, _ = post(port, "/v1/events", b"\x0a\x00", ctype="application/x-protobuf")
    chk.eq(st, 415, "bad: protobuf on /v1/events -> 415")
    st, _, _ = post(port, "/v1/traces", b"hello", ctype="text/plain")
    chk.eq(st, 415, "bad: text/plain on /v1/traces -> 415")
    st, _, b = post(port, "/v1/traces", b"\xff\xff\xff\xff\x0f", ctype="application/x-protobuf")
    chk.ok(st == 400 and b"protobuf" in b, "bad: a broken protobuf body -> 400", repr((st, b[:100])))
    span = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": "00f067aa0ba902b7",
                                                           "name": "bad.span"}]}]}]}
    st, _, b = post(port, "/v1/traces", json.dumps(span))
    chk.ok(st == 400 and b"traceId" in b, "bad: a traceId that is not 32 hex digits -> 400", repr((st, b[:200])))
    st, _, b = post(port, "/v1/logs", b"[]")
    chk.ok(st == 400, "bad: /v1/logs with a JSON array -> 400", repr((st, b[:200])))
    time.sleep(1)
    chk.eq(query(db, "SELECT count(*) AS n FROM events WHERE name IN ('x', 'bad.span')")[0]["n"]
           if query(db, "SELECT 1 FROM events LIMIT 1") else 0, 0, "bad: nothing of them stored")
    chk.eq(len(query(db, "SELECT 1 FROM agent_spans WHERE name = 'bad.span'")), 0, "bad: no span stored")


def case_large(chk, port):
    big = json.dumps({"name": "big", "attributes": {"pad": "p" * (MAX_BODY + 100)}})
    st, _, b = post(port, "/v1/events", big)
    chk.eq(st, 413, "large: Content-Length over --ingest-max-body -> 413")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest("POST", "/v1/events")
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    status = None
    try:
        for i in range(0, len(big), 8192):
            chunk = big[i:i + 8192].encode()
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        status = c.getresponse().status
    except OSError as e:
        try:
            status = c.getresponse().status
        except Exception:
            status = repr(e)
    c.close()
    chk.eq(status, 413, "large: a chunked body growing over the limit -> 413")
    bomb = gzip.compress(json.dumps({"name": "bomb", "attributes": {"z": "0" * (4 << 20)}}).encode())
    chk.ok(len(bomb) < MAX_BODY, "large: the gzip bomb is small on the wire (%d bytes)" % len(bomb))
    st, _, _ = post(port, "/v1/events", bomb, headers={"Content-Encoding": "gzip"})
    chk.eq(st, 413, "large: a gzip body decoding past the limit -> 413")
    st, _, b = post(port, "/v1/events", gzip.compress(b'{"name": "gz.ok"}'), headers={"Content-Encoding": "gzip"})
    chk.eq(st, 202, "large: a small gzip body is accepted")


def have_otel():
    return all(os.path.exists(os.path.join(HERE, "node_modules", m, "package.json")) for m in OTEL_MODULES)


def npm_ci():
    env = dict(os.environ)
    ca = "/etc/ssl/certs/ca-certificates.crt"
    if os.path.exists(ca):
        env["NODE_EXTRA_CA_CERTS"] = ca
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, env=env, capture_output=True, timeout=900)
    if r.returncode:
        print(r.stdout.decode(errors="replace")[-2000:] + r.stderr.decode(errors="replace")[-2000:])


def run_agent(procs, tmp, spec, cert):
    path = os.path.join(tmp, "agent-%s.json" % spec["tag"])
    with open(path, "w") as f:
        json.dump(spec, f)
    env = e2e.client_env(cert)
    p = procs.start(["node", os.path.join(HERE, "otel_agent.mjs"), path], env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=120)
    lines = [l for l in out.decode(errors="replace").splitlines() if l.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), err.decode(errors="replace")


def case_otlp(chk, procs, db, port, tracer, tmp, cert, api_port):
    if not have_otel():
        print("ingest: installing the npm packages (npm ci)", flush=True)
        npm_ci()
    if not chk.ok(have_otel(), "otlp: the OpenTelemetry JS SDK installed in tests/e2e/node_modules"):
        return
    for mode in ("proto", "json"):
        tag = "I-otlp-" + mode
        spec = {"mode": mode, "endpoint": "http://127.0.0.1:%d" % port, "tag": tag,
                "baseURL": "https://127.0.0.1:%d/v1" % api_port, "apiKey": e2e.E["keys"]["openai"],
                "model": "gpt-4o-mini", "withPid": mode == "proto", "logs": True}
        res, err = run_agent(procs, tmp, spec, cert)
        if not chk.ok(res.get("status") == 200 and res.get("span_id"), "otlp %s: the agent's call and export" % mode,
                      repr(res) + err[-2000:]):
            continue
        call = wait_for(lambda: query(db, "SELECT * FROM llm_calls WHERE pid = ?", (res["pid"],)), DEADLINE_S, tracer)
        if not chk.ok(call, "otlp %s: the agent's call is captured" % mode):
            continue
        sid = "%s-%s" % (res["trace_id"], res["span_id"])
        sp = wait_for(lambda: query(db, "SELECT * FROM agent_spans WHERE id = ?", (sid,)), DEADLINE_S, tracer)
        if not chk.ok(sp, "otlp %s: agent_spans row of the CLIENT span (id trace-span)" % mode):
            continue
        s = sp[0]
        chk.eq((s["trace_id"], s["span_id"], s["parent_span_id"]), (res["trace_id"], res["span_id"], res["parent_span_id"]),
               "otlp %s: trace, span and parent ids" % mode)
        chk.eq((s["name"], s["kind"], s["status"], s["operation"]), ("chat gpt-4o-mini", "client", "ok", "chat"),
               "otlp %s: name, kind, status, operation" % mode)
        chk.eq(s["model"], res["response_model"], "otlp %s: model (gen_ai.response.model)" % mode)
        chk.eq(s["pid"], res["pid"], "otlp %s: pid (%s)" % (mode, "resource process.pid" if mode == "proto"
                                                                  else "found from the connection"))
        chk.eq(s["call_id"], call[0]["id"], "otlp %s: joined to the captured call (call_id)" % mode)
        chk.eq((s["input_tokens"], s["output_tokens"]), (call[0]["input_tokens"], call[0]["output_tokens"]),
               "otlp %s: token counts as the call's" % mode)
        chk.ok(s["start_ns"] <= call[0]["start_ns"] and s["end_ns"] >= call[0]["start_ns"] and s["duration_ms"] > 0,
               "otlp %s: the span's time covers the call's start" % mode, repr((s["start_ns"], s["end_ns"], call[0]["start_ns"])))
        chk.eq(s["service_name"], "otel-agent-" + tag, "otlp %s: service_name from the resource" % mode)
        a = json.loads(s["attributes"] or "{}")
        chk.ok(a.get("http.request.header.authorization") == "[REDACTED]" and
               e2e.E["keys"]["openai"] not in (s["attributes"] or "") and "[REDACTED]" in a.get("gen_ai.prompt.0.content", ""),
               "otlp %s: attributes redacted" % mode, repr(a))
        llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
        r = subprocess.run([llmtap, "calls", "--db", db, "--json", "-p", str(res["pid"])], capture_output=True, timeout=30)
        objs = [json.loads(x) for x in r.stdout.decode().splitlines() if x.strip()]
        chk.ok(objs and [x.get("id") for x in objs[0].get("agent_spans", [])] == [sid],
               "otlp %s: calls --json carries the call's agent_spans" % mode, repr(objs[:1])[:500])
        r = subprocess.run([llmtap, "show", "--db", db, call[0]["id"]], capture_output=True, timeout=30)
        chk.ok(b"the agent's own spans of this call" in r.stdout and b"chat gpt-4o-mini" in r.stdout and
               b"host during the call" in r.stdout, "otlp %s: show prints the agent's spans and the host" % mode,
               r.stdout.decode(errors="replace")[-1500:])
        par = wait_for(lambda: query(db, "SELECT * FROM agent_spans WHERE span_id = ? AND trace_id = ?",
                                     (res["parent_span_id"], res["trace_id"])), DEADLINE_S, tracer)
        chk.ok(par and par[0]["name"] == "agent.step" and par[0]["call_id"] is None and par[0]["kind"] == "internal",
               "otlp %s: the parent span (no model) is stored, not joined" % mode, repr(par))
        lg = wait_for(lambda: [e for e in events_named(db, "agent.decision") if e["attrs"].get("llmtap.test.tag") == tag],
                      DEADLINE_S, tracer)
        if chk.ok(lg, "otlp %s: the log record is an events row" % mode):
            e = lg[0]
            chk.eq((e["source"], e["severity"], e["pid"]), ("agent", "warning", res["pid"]),
                   "otlp %s: log source, severity (WARN), pid" % mode)
            chk.eq((e["attrs"].get("body"), e["attrs"].get("api_key")), ("decided (%s)" % tag, "[REDACTED]"),
                   "otlp %s: log body kept, its api_key attribute redacted" % mode)
    chk.ok(not db_files_contain(db, e2e.E["keys"]["openai"]), "otlp: the API key is in no database file")


def case_flood(chk, procs, db, port, tracer, tmp, cert, api_port):
    results = []
    lock = threading.Lock()

    def worker(k):
        for i in range(50):
            ev = {"name": "flood", "attributes": {"k": k, "i": i}}
            try:
                st, h, _ = post(port, "/v1/events", json.dumps(ev))
            except OSError as e:
                st, h = repr(e), {}
            with lock:
                results.append((st, h.get("retry-after"), k, i))
    c = e2e.call("I-flood-curl", "curl", "openai_chat", False, "openai", None, "openai",
                 "/v1/chat/completions", "openai", "chat")
    ths = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    t0 = time.monotonic()
    for t in ths:
        t.start()
    cp = procs.start(e2e.curl_argv(c, api_port, cert, os.path.join(tmp, c["tag"])), env=e2e.client_env(cert),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for t in ths:
        t.join()
    took = time.monotonic() - t0
    out, _ = cp.communicate(timeout=60)
    ok = [(k, i) for st, _, k, i in results if st == 202]
    limited = [r for r in results if r[0] == 429]
    chk.eq(len(results), 400, "flood: 400 POSTs answered")
    chk.ok(all(st in (202, 429) for st, _, _, _ in results), "flood: every answer is 202 or 429",
           repr(sorted(set(str(r[0]) for r in results))))
    chk.ok(limited and all(r[1] == "1" for r in limited), "flood: 429s with Retry-After (%d of 400 in %.1f s)"
           % (len(limited), took))
    chk.ok(len(ok) <= RATE * (took + 1) + 1, "flood: no more accepted than --ingest-rate allows",
           "%d in %.1f s at %d/s" % (len(ok), took, RATE))
    rows = wait_for(lambda: (lambda r: r if len(r) >= len(ok) else None)(
        query(db, "SELECT attributes FROM events WHERE name = 'flood'")), DEADLINE_S, tracer) or []
    got = sorted((json.loads(r["attributes"])["k"], json.loads(r["attributes"])["i"]) for r in rows)
    chk.eq(got, sorted(ok), "flood: every accepted event stored exactly once, nothing else")
    chk.eq(out.strip(), b"200", "flood: the concurrent LLM call got 200")
    chk.ok(wait_for(lambda: query(db, "SELECT id FROM llm_calls WHERE pid = ?", (cp.pid,)), DEADLINE_S, tracer),
           "flood: the concurrent LLM call is captured")
    st, _, b = post(port, "/health", None, ctype=None, method="GET")
    chk.eq(st, 200, "flood: /health still 200 (nothing dropped)")


def metrics(port):
    st, _, b = post(port, "/metrics", None, ctype=None, method="GET")
    vals = {}
    for line in b.decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            vals[k] = float(v)
    return vals


def case_token(chk, procs, tmp, llmtap):
    db = os.path.join(tmp, "tok", "llmtap.db")
    env_before = os.environ.get("LLMTAP_INGEST_TOKEN")
    os.environ["LLMTAP_INGEST_TOKEN"] = SECRET_TOKEN
    try:
        t, terr, ready = e2e.start_tracer(procs, llmtap, db, ["--listen", "0"])
    finally:
        if env_before is None:
            os.environ.pop("LLMTAP_INGEST_TOKEN", None)
        else:
            os.environ["LLMTAP_INGEST_TOKEN"] = env_before
    if not chk.ok(ready, "token: tracer ready", terr.text()):
        return
    line = terr.wait_for(lambda l: "serving /health" in l, 1) or ""
    port = int(line.rsplit(":", 1)[1])
    ev = json.dumps({"name": "tok.ev"})
    st, h, _ = post(port, "/v1/events", ev)
    chk.ok(st == 401 and h.get("www-authenticate") == "Bearer", "token: none -> 401 WWW-Authenticate: Bearer",
           repr((st, h)))
    st, _, _ = post(port, "/v1/events", ev, headers={"Authorization": "Bearer " + SECRET_TOKEN[:-1] + "X"})
    chk.eq(st, 401, "token: a wrong one (same length) -> 401")
    st, _, _ = post(port, "/v1/events", ev, headers={"Authorization": "Bearer " + SECRET_TOKEN + "X"})
    chk.eq(st, 401, "token: a longer one -> 401")
    st, _, _ = post(port, "/v1/events", ev, headers={"Authorization": "Bearer " + SECRET_TOKEN})
    chk.eq(st, 202, "token: the right one -> 202")
    chk.ok(wait_for(lambda: query(db, "SELECT 1 FROM events WHERE name = 'tok.ev'"), DEADLINE_S, t),
           "token: the authorised event is stored once", repr(query(db, "SELECT * FROM events")))
    m = metrics(port)
    chk.ok(m.get('llmtap_ingest_rejected_total{reason="unauthorized"}') == 3 and m.get("llmtap_ingest_rows_total") == 1,
           "token: /metrics counts 3 unauthorized, 1 row", repr({k: v for k, v in m.items() if "ingest" in k}))
    chk.ok(SECRET_TOKEN not in terr.text(), "token: never printed")
    chk.eq(e2e.stop_tracer(t), 0, "token: tracer exits 0")


def run_suite(args, chk):
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-ingest.")
    tracer = terr = None
    try:
        if not e2e.preflight(chk, llmtap):
            return
        if not shutil.which("node") or not shutil.which("curl"):
            chk.ok(False, "tools: node and curl on PATH")
            return
        cert, key = e2e.make_cert(tmp)
        sp, srv, api_port = e2e.start_server(procs, cert, key)
        if not chk.ok(api_port, "server: fake API listening", srv.text()):
            return
        db = os.path.join(tmp, "db", "llmtap.db")
        tracer, terr, ready = e2e.start_tracer(procs, llmtap, db, [
            "--listen", "0", "--ingest-max-body", str(MAX_BODY), "--ingest-rate", str(RATE)])
        if not chk.ok(ready, "tracer: prints 'ready'", "exit status %r" % tracer.poll()):
            return
        line = terr.wait_for(lambda l: "accepting POST /v1/events" in l, 1)
        if not chk.ok(line, "tracer: says it accepts POST /v1/events, /v1/traces, /v1/logs", terr.text()):
            return
        port = int(line.rsplit(":", 1)[1])
        for name, fn in (("events", lambda: case_events(chk, db, port, tracer)),
                         ("bad", lambda: case_bad(chk, db, port, tracer)),
                         ("large", lambda: case_large(chk, port)),
                         ("otlp", lambda: case_otlp(chk, procs, db, port, tracer, tmp, cert, api_port)),
                         ("flood", lambda: case_flood(chk, procs, db, port, tracer, tmp, cert, api_port))):
            try:
                time.sleep(1.1)  # a fresh second of the rate limiter for each case
                fn()
            except Exception as e:
                chk.ok(False, "%s: unexpected exception" % name, repr(e))
                traceback.print_exc()
        chk.ok(tracer.poll() is None, "tracer: still running after every case", "exit status %r" % tracer.poll())
        chk.eq(e2e.stop_tracer(tracer), 0, "tracer: exits 0 within %d s of SIGINT" % e2e.EXIT_DEADLINE_S)
        try:
            case_token(chk, procs, tmp, llmtap)
        except Exception as e:
            chk.ok(False, "token: unexpected exception", repr(e))
            traceback.print_exc()
    finally:
        procs.cleanup()
        if terr is not None:
            with open(os.path.join(tmp, "llmtap-run.stderr"), "w") as f:
                f.write(terr.text() + "\n")
        if chk.failed and terr is not None:
            print("---- llmtap run stderr ----\n" + terr.text()[-20000:] + "\n---- end ----")
        if chk.failed or args.keep:
            print("ingest: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="llmtap front door end-to-end tests")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    chk = Checks(args.verbose)

    def on_term(signum, frame):
        raise SystemExit("ingest: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        run_suite(args, chk)
    except Exception as e:
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
    print("ingest: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

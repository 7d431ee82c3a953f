#!/usr/bin/env python3
"""robust.py -- llmtap robustness end-to-end suite: CLI contract, DB modes, late exec attach, big bodies, limits, drops, crashes, filters, signals, cut streams.

Usage (as root, from anywhere):
    python3 tests/e2e/robust.py [-v] [--keep] [-k CASE]...

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    -v                      print every passing check too
    --keep                  keep the temp dir even when everything passed
    -k CASE                 run only the cases whose name contains CASE (repeatable)

Real processes only, loopback only: the fake HTTPS API of server.js, `llmtap run` (a fresh tracer,
its own DB, per case), curl, python3 client.py and node as clients; every wait polls against a
deadline. Helpers (cert, server, tracer start/stop, client specs, Checks, Procs, LineReader) come
from run.py. Cases:
   1 cli        exit codes and messages of run/calls/show; `run --duration 2` stops by itself
   2 dbmodes    --db in a missing directory: dir 0700, file (and -wal/-shm) 0600
   3 lateexec   a node binary copied after the tracer started is attached at its exec
   4 bigbody    3 MiB request and response bodies are recorded whole
   5 maxbody    --max-body 64k: error 'truncated', the rest of the row right
   6 ringfull   --ring-size 64k + a 2 MiB write: drops reported, no silent row, recovery
   7 kill9      SIGKILL leaves a readable DB; a new tracer appends to it
   8 filters    -c COMM and -p PID (the uprobes of -p are the named process's: none in another's libssl;
                it follows the process through an exec of a node copy)
   9 sigterm    SIGTERM: exit 0 within 5 s, final "llmtap: stopped:" line
  10 cutstream  the server cuts an SSE stream: partial text, error says the connection ended
  11 http2      curl --http2 to an HTTP/2 server (server.js with LLMTAP_E2E_H2=1): plain and streamed chat rows
  12 walsize    rows of 32 KB written as fast as tlsloop makes them: the WAL file stays bounded (it starts over)
  13 mainexit   a client whose main thread exits first (pthread_exit), the call made by another thread: a whole
                row host-wide, and under -p naming it once its main thread is gone
  14 spool      a client faster than the reader (tlsloop, 16 KB each way at full speed, 10x the ring): the
                ring spills to disk and the rows are whole, capture.spooled events count it; with --spool-size 0
                most are lost to the full ring
Ends with the line "robust: N passed, N failed"; exit status 1 when anything failed.
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
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import client as pyclient  # noqa: E402
import run as e2e  # noqa: E402
from run import E, Checks, LineReader, Procs  # noqa: E402

CLIENT_DEADLINE_S = 60
ROWS_DEADLINE_S = 30
ATTACH_DEADLINE_S = 15
EXIT_DEADLINE_S = 5          # contract: SIGINT/SIGTERM -> exit 0 within 5 s
KILL_DEADLINE_S = 30         # SIGKILL: the kernel detaches every uprobe of the dying process (~0.1 s each)
DURATION_S = 2               # `run --duration 2` ...
DURATION_MAX_S = 6           # ... exits by itself within 2-6 s of "ready"
BIG = 3 << 20                # the "big" bodies of cases 4 and 5
RING_BIG = 2 << 20           # the body that overflows a 64 KiB ring buffer
MAX_BODY = 64 << 10
STOPPED_RE = re.compile(r"^llmtap: stopped: (\d+) call\(s\) recorded, (\d+) event\(s\) dropped")
CHAT_TEXT = "".join(E["endpoints"]["openai_chat"]["chunks"])
CHAT_MODEL = E["model_aliases"].get(E["models"]["openai"], E["models"]["openai"])

# The late-exec client: waits for a line on stdin, then makes one chat call with Node's https module.
NODE_LATE_CLIENT = r"""
const https = require('https');
const spec = JSON.parse(process.argv[1]);
let started = false;
process.stdin.on('data', () => {
	if (started) return;
	started = true;
	process.stdin.destroy();
	const body = JSON.stringify(spec.body);
	const headers = Object.assign({ 'content-length': Buffer.byteLength(body) }, spec.headers);
	const req = https.request(spec.url, { method: 'POST', headers, agent: false }, (res) => {
		const chunks = [];
		res.on('data', (c) => chunks.push(c));
		res.on('end', () => console.log(JSON.stringify({ tag: spec.tag, pid: process.pid,
			status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') })));
	});
	req.on('error', (e) => { console.log(JSON.stringify({ tag: spec.tag, exception: String(e) })); process.exitCode = 1; });
	req.end(body);
});
console.log(JSON.stringify({ event: 'waiting', pid: process.pid }));
"""


class Ctx:
    """What every case needs: checks, the shared server, paths, and the processes of the current case."""

    def __init__(self, chk, llmtap, tmp, cert, port, srv, hosts, key=None):
        self.chk, self.llmtap, self.tmp, self.cert, self.port, self.srv, self.hosts = (
            chk, llmtap, tmp, cert, port, srv, hosts)
        self.key = key
        self.env = e2e.client_env(cert)
        self.procs = Procs()      # replaced for each case; cleaned up when the case ends
        self.tracers = []         # (name, LineReader) of the case's tracers, printed when it fails

    def dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d


# ---------- helpers ----------

def chat_call(tag, stream=False, client="python"):
    """An OpenAI chat call (run.py's call dict) tagged tag."""
    return e2e.call(tag, client, "openai_chat", stream, "openai", None, "openai", "/v1/chat/completions",
                    "openai", "chat")


def cli_env():
    return {k: v for k, v in os.environ.items() if k != "LLMTAP_DB"}


def start_tracer(ctx, name, args=(), db=None):
    """`llmtap run` on db (default: a fresh TMP/NAME/llmtap.db). Returns (proc, stderr reader, db) once
    ready, else None (after a failed check)."""
    db = db or os.path.join(ctx.dir(name.replace(" ", "_")), "llmtap.db")
    proc, terr, ready = e2e.start_tracer(ctx.procs, ctx.llmtap, db, args)
    ctx.tracers.append((name, terr))
    if not ctx.chk.ok(ready, "%s: `llmtap run%s` prints 'ready' within %d s" % (
            name, "".join(" " + a for a in args), e2e.READY_DEADLINE_S),
                      "exit status %r" % proc.poll()):
        return None
    return proc, terr, db


def stop_tracer(proc, terr, sig=signal.SIGINT):
    """Stops the tracer; returns (exit status, seconds taken, its last stderr line)."""
    t0 = time.monotonic()
    rc = e2e.stop_tracer(proc, sig, EXIT_DEADLINE_S)
    took = time.monotonic() - t0
    if rc == "still running":
        kill(proc)
    # its last line is written before it exits; the pipe may stay open longer (a child that
    # detaches the probes inherits it), so wait for that line, not for EOF
    terr.wait_for(lambda l: l.startswith("llmtap: stopped"), 2)
    lines = [l for l in terr.text().splitlines() if l.strip()]
    return rc, took, (lines[-1] if lines else "")


def kill(p):
    """SIGKILL p's process group (it was started in its own session) and reap it."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def wait_exit(p, timeout):
    """Exit status of p, or None (and p killed) when it did not exit within timeout."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(p)
        return None


def py_client(ctx, name, entries, wait_stdin=False):
    """python3 client.py with these spec entries (private /etc/hosts). Returns (proc, stdout reader)."""
    spec = {"cafile": ctx.cert, "calls": entries, "wait_stdin": wait_stdin}
    d = ctx.dir(name)
    path = os.path.join(d, "py-spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    with open(os.path.join(d, "py-client.stderr"), "ab") as err:
        p = ctx.procs.start(e2e.in_private_hosts(ctx.hosts, [sys.executable, os.path.join(HERE, "client.py"), path]),
                            env=ctx.env, stdin=subprocess.PIPE if wait_stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=err)
    return p, LineReader(p.stdout)


def client_results(reader):
    """{tag: result} from a client's JSON lines."""
    reader.thread.join(timeout=5)
    out = {}
    for line in reader.lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("tag"):
            out[r["tag"]] = r
    return out


def finish_client(ctx, name, p, reader, want_rc=0):
    """Waits for a client (deadline); checks its exit status. Returns {tag: result}."""
    rc = wait_exit(p, CLIENT_DEADLINE_S)
    res = client_results(reader)
    if not ctx.chk.eq(rc, want_rc, "%s: client exit status" % name):
        print("---- %s client output ----\n%s" % (name, reader.text()[-3000:]))
    return res


def curl_client(ctx, c):
    """curl making call c. Returns (proc, dir with its output)."""
    d = os.path.join(ctx.tmp, "curl-" + c["tag"])
    p = ctx.procs.start(e2e.curl_argv(c, ctx.port, ctx.cert, d), env=ctx.env, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
    return p, d


def finish_curl(ctx, name, p):
    try:
        out, err = p.communicate(timeout=CLIENT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        kill(p)
        out, err = b"", b"timeout"
    ctx.chk.ok(p.returncode == 0 and out.strip() == b"200", "%s: curl call answered 200" % name,
               "exit %r, out %r, err %r" % (p.returncode, out[:100], err[:300]))


def read_rows(db):
    try:
        conn = e2e.open_db(db)
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM llm_calls ORDER BY start_ns")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def mine(ctx, rows):
    """The rows of calls to this run's server (Host ends in :PORT): other processes on the host may
    call LLM APIs too, and a tracer records them."""
    return [r for r in rows if (r.get("host") or "").endswith(":%d" % ctx.port)]


def tag_of(row):
    """The x-test-call header value of a row's request, or None."""
    for line in (row.get("request_headers") or "").splitlines():
        k, _, v = line.partition(":")
        if k.strip().lower() == "x-test-call":
            return v.strip()
    return None


def rows_of(db, tag):
    return [r for r in read_rows(db) if tag_of(r) == tag]


def wait_tags(db, tags, timeout, tracer=None):
    """Polls until every tag has a row (deadline; stops early if the tracer exits). Returns {tag: [rows]}."""
    deadline = time.monotonic() + timeout
    while True:
        rows = read_rows(db)
        got = {t: [r for r in rows if tag_of(r) == t] for t in tags}
        if all(got.values()) or time.monotonic() >= deadline or (tracer is not None and tracer.poll() is not None):
            return got
        time.sleep(e2e.POLL_S)


def server_entry(ctx, tag, timeout=CLIENT_DEADLINE_S):
    """The server's log entry for the request tagged tag (waits for it), or {}."""
    line = ctx.srv.wait_for(lambda l: '"event":"request"' in l and '"tag":%s' % json.dumps(tag) in l, timeout)
    return json.loads(line) if line else {}


def sha(b):
    if b is None:
        return None
    return hashlib.sha256(b if isinstance(b, bytes) else str(b).encode("utf-8")).hexdigest()


def big_message(tag, nbytes):
    """A user message of exactly nbytes ASCII bytes: the tag, then numbered 9-byte words (order-sensitive)."""
    head = "Say hello (%s). " % tag
    words = "".join("%08d " % i for i in range(nbytes // 9 + 1))
    return (head + words)[:nbytes]


def big_entry(ctx, tag, nbytes):
    """client.py spec entry: a chat call whose JSON body is about nbytes. Returns (entry, exact body bytes)."""
    c = chat_call(tag)
    entry = e2e.py_call(c, ctx.port)
    entry["body"]["messages"][0]["content"] = big_message(tag, nbytes)
    return entry, json.dumps(entry["body"]).encode("utf-8")  # client.py sends json.dumps(body)


def check_stop(ctx, name, proc, terr, sig=signal.SIGINT):
    ctx.chk.ok(proc.poll() is None, "%s: tracer still running before %s" % (name, signal.Signals(sig).name),
               "exit status %r" % proc.poll())
    rc, took, last = stop_tracer(proc, terr, sig)
    ctx.chk.eq(rc, 0, "%s: tracer exits 0 within %d s of %s (took %.1f s)" % (
        name, EXIT_DEADLINE_S, signal.Signals(sig).name, took))
    return rc, took, last


# ---------- 1. CLI contract ----------

def case_cli(ctx):
    chk, L, n = ctx.chk, ctx.llmtap, "c1 cli"
    d = ctx.dir("c1")

    nonroot = ctx.dir("c1/nonroot")
    os.chmod(nonroot, 0o777)  # so that only llmtap's own check can keep it from creating the DB
    db = os.path.join(nonroot, "nonroot.db")
    r = e2e.run_cmd(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", L, "run", "--db", db], 30,
                    env=cli_env(), cwd="/")
    err = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
    chk.eq(r.returncode, 1, "%s: run as uid 65534 exits 1" % n)
    chk.ok(len(err) == 1 and "root" in err[0], "%s: run as non-root prints one stderr line mentioning root" % n,
           repr(err))
    chk.ok(not os.path.exists(db), "%s: run as non-root creates no database" % n)

    r = e2e.run_cmd([L, "run", "--bogus"], 30, env=cli_env(), cwd=d)
    chk.eq(r.returncode, 2, "%s: run --bogus exits 2" % n)
    chk.ok(b"--bogus" in r.stderr, "%s: run --bogus names the bad option" % n, repr(r.stderr[:300]))

    r = e2e.run_cmd([L, "calls", "--db", "/nonexistent/x.db"], 30, env=cli_env(), cwd=d)
    err = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
    chk.eq(r.returncode, 1, "%s: calls --db /nonexistent/x.db exits 1" % n)
    chk.ok(len(err) == 1 and "/nonexistent/x.db" in err[0],
           "%s: calls on a missing DB prints one line naming it" % n, repr(err))
    chk.ok(not os.path.exists("/nonexistent"), "%s: calls does not create the missing DB's directory" % n)

    r = e2e.run_cmd([L, "calls", "--limit", "abc"], 30, env=cli_env(), cwd=d)
    chk.eq(r.returncode, 2, "%s: calls --limit abc exits 2" % n)
    chk.ok(b"--limit" in r.stderr, "%s: calls --limit abc names the bad option" % n, repr(r.stderr[:300]))

    # run --duration 2: stops by itself, exit 0, "ready" first
    db = os.path.join(d, "duration.db")
    p = ctx.procs.start([L, "run", "--db", db, "--duration", str(DURATION_S)], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, env=cli_env())
    terr = LineReader(p.stderr)
    ctx.tracers.append(("c1 --duration", terr))
    ready = terr.wait_for(lambda l: l.startswith("ready"), e2e.READY_DEADLINE_S)
    t_ready = time.monotonic()
    if chk.ok(ready, "%s: run --duration %d prints a line starting with 'ready' on stderr" % (n, DURATION_S),
              terr.text()):
        rc = wait_exit(p, DURATION_MAX_S + 1)
        took = time.monotonic() - t_ready
        chk.eq(rc, 0, "%s: run --duration %d exits 0 by itself" % (n, DURATION_S))
        chk.ok(rc is not None and DURATION_S - 0.1 <= took <= DURATION_MAX_S,
               "%s: run --duration %d exits %d-%d s after 'ready'" % (n, DURATION_S, DURATION_S, DURATION_MAX_S),
               "exited after %.2f s (status %r)" % (took, rc))

    bad_id = "01234567-89ab-7cde-8f01-23456789abcd"
    if chk.ok(os.path.exists(db), "%s: run --duration created its DB" % n):
        r = e2e.run_cmd([L, "show", "--db", db, bad_id], 30, env=cli_env(), cwd=d)
        err = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
        chk.eq(r.returncode, 1, "%s: show with an unknown id exits 1" % n)
        chk.ok(len(err) == 1 and bad_id in err[0], "%s: show with an unknown id prints one line naming it" % n,
               repr(err))


# ---------- 2. DB file modes ----------

def case_dbmodes(ctx):
    chk, n = ctx.chk, "c2 dbmodes"
    newdir = os.path.join(ctx.dir("c2"), "newdir")
    db = os.path.join(newdir, "sub.db")
    chk.ok(not os.path.exists(newdir), "%s: newdir does not exist before" % n)
    old = os.umask(0)  # the tracer must not rely on the caller's umask
    try:
        proc, terr, ready = e2e.start_tracer(ctx.procs, ctx.llmtap, db)
    finally:
        os.umask(old)
    ctx.tracers.append((n, terr))
    if not chk.ok(ready, "%s: tracer ready (started with umask 000)" % n, "exit status %r" % proc.poll()):
        return

    def modes(when):
        if chk.ok(os.path.isdir(newdir), "%s: %s: directory created" % (n, when)):
            chk.eq(oct(os.stat(newdir).st_mode & 0o777), oct(0o700), "%s: %s: directory mode" % (n, when))
        if chk.ok(os.path.isfile(db), "%s: %s: DB file created" % (n, when)):
            chk.eq(oct(os.stat(db).st_mode & 0o777), oct(0o600), "%s: %s: DB file mode" % (n, when))
        for suffix in ("-wal", "-shm", "-journal"):
            if os.path.exists(db + suffix):
                chk.eq(oct(os.stat(db + suffix).st_mode & 0o777), oct(0o600),
                       "%s: %s: %s file mode" % (n, when, suffix))

    modes("while running")
    check_stop(ctx, n, proc, terr)
    modes("after exit")


# ---------- 3. late exec attach ----------

def node_copy(ctx, dirname, name):
    """A copy of node at <case dir>/name: a new inode, unknown to the tracer."""
    copy = os.path.join(ctx.dir(dirname), name)
    shutil.copyfile(os.path.realpath(shutil.which("node")), copy)
    os.chmod(copy, 0o755)
    return copy


def late_spec(ctx, c):
    """NODE_LATE_CLIENT's argument for chat call c."""
    return json.dumps({"tag": c["tag"], "url": e2e.url_of(c, ctx.port), "headers": e2e.req_headers(c),
                       "body": e2e.req_body(c)})


def late_go(ctx, n, p, out, tag):
    """Lets the waiting NODE_LATE_CLIENT p make its call and exit. Returns its result, or None when
    it did not answer 200 (checked)."""
    p.stdin.write(b"go\n")
    p.stdin.close()
    rc = wait_exit(p, CLIENT_DEADLINE_S)
    res = client_results(out).get(tag, {})
    if not ctx.chk.ok(rc == 0 and res.get("status") == 200, "%s: node call answered 200" % n,
                      "exit %r: %s" % (rc, out.text()[-2000:])):
        return None
    return res


def case_lateexec(ctx):
    chk, n = ctx.chk, "c3 lateexec"
    copy = node_copy(ctx, "c3", "node-late-exec-copy")  # 19 characters: comm is the first 15
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    c = chat_call("R03-late-exec", client="node")
    p = ctx.procs.start(e2e.in_private_hosts(ctx.hosts, [copy, "-e", NODE_LATE_CLIENT, late_spec(ctx, c)]),
                        env=ctx.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = LineReader(p.stdout)
    waiting = out.wait_for(lambda l: '"waiting"' in l, CLIENT_DEADLINE_S)
    if not chk.ok(waiting, "%s: the copied node started and waits on stdin" % n, out.text()[-2000:]):
        return
    chk.eq(json.loads(waiting)["pid"], p.pid, "%s: the client's pid is the started process's" % n)
    want = "for pid %d " % p.pid
    att = terr.wait_for(lambda l: "attached to" in l and want in l, ATTACH_DEADLINE_S)
    chk.ok(att, "%s: tracer says 'attached to ... for pid %d' within %d s" % (n, p.pid, ATTACH_DEADLINE_S),
           terr.text()[-2000:])
    res = late_go(ctx, n, p, out, c["tag"])
    if not res:
        return
    chk.eq(pyclient.summarize("openai_chat", False, res["body"])["text"], CHAT_TEXT, "%s: client got the text" % n)
    got = wait_tags(db, [c["tag"]], ROWS_DEADLINE_S, proc)[c["tag"]]
    if chk.eq(len(got), 1, "%s: one row for the call" % n):
        r = got[0]
        chk.eq(r["pid"], p.pid, "%s: row pid" % n)
        chk.eq(r["comm"], os.path.basename(copy)[:15], "%s: row comm is the copy's name, truncated to 15" % n)
        chk.eq(r["exe"], copy, "%s: row exe is the copy's path" % n)
        chk.eq(r["status"], 200, "%s: row status" % n)
        chk.eq(r["response_text"], CHAT_TEXT, "%s: row response_text" % n)
        chk.eq(r["error"], None, "%s: row error is NULL" % n)
    check_stop(ctx, n, proc, terr)


# ---------- 4. big bodies ----------

def case_bigbody(ctx):
    chk, n = ctx.chk, "c4 bigbody"
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    big, body = big_entry(ctx, "R04-big-request", BIG)
    pad = e2e.py_call(chat_call("R04-big-response"), ctx.port)
    pad["headers"]["x-test-pad-bytes"] = str(BIG)
    p, out = py_client(ctx, "c4", [big, pad])
    res = finish_client(ctx, n, p, out)
    sv_req, sv_resp = server_entry(ctx, big["tag"]), server_entry(ctx, pad["tag"])
    chk.eq(sv_req.get("req_len"), len(body), "%s: server got the %d-byte request body" % (n, len(body)))
    chk.eq(sv_req.get("req_sha256"), sha(body), "%s: server got the exact request body" % n)
    chk.eq(res.get(big["tag"], {}).get("status"), 200, "%s: big request answered 200" % n)
    ptext = ((res.get(pad["tag"]) or {}).get("summary") or {}).get("text")
    chk.ok(ptext is not None and len(ptext.encode("utf-8")) == BIG,
           "%s: client got a %d-byte padded text" % (n, BIG), "got %r bytes" % (ptext and len(ptext.encode())))
    got = wait_tags(db, [big["tag"], pad["tag"]], ROWS_DEADLINE_S, proc)
    if chk.eq(len(got[big["tag"]]), 1, "%s: one row for the big request" % n):
        r = got[big["tag"]][0]
        chk.eq(r["request_bytes"], len(body), "%s: request_bytes is the exact body length" % n)
        rb = r["request_body"]
        chk.ok(sha(rb) == sha(body), "%s: request_body is the body sent (sha256)" % n,
               "len %r, want %d" % (rb and len(e2e.as_bytes(rb)), len(body)))
        chk.eq(r["error"], None, "%s: big request row error is NULL" % n)
        chk.eq(r["status"], 200, "%s: big request row status" % n)
        chk.eq(r["response_text"], CHAT_TEXT, "%s: big request row response_text" % n)
    if chk.eq(len(got[pad["tag"]]), 1, "%s: one row for the big response" % n):
        r = got[pad["tag"]][0]
        chk.eq(r["response_bytes"], sv_resp.get("resp_len"), "%s: response_bytes is the exact body length (%r)" % (
            n, sv_resp.get("resp_len")))
        chk.ok(sha(r["response_body"]) == sv_resp.get("resp_sha256"), "%s: response_body is the body sent (sha256)" % n,
               "len %r" % (r["response_body"] and len(e2e.as_bytes(r["response_body"]))))
        chk.ok(r["response_text"] is not None and r["response_text"] == ptext,
               "%s: response_text is the whole padded text" % n,
               "len %r, want %r" % (r["response_text"] and len(r["response_text"]), ptext and len(ptext)))
        chk.eq(r["error"], None, "%s: big response row error is NULL" % n)
    check_stop(ctx, n, proc, terr)


# ---------- 5. --max-body ----------

def case_maxbody(ctx):
    chk, n = ctx.chk, "c5 maxbody"
    t = start_tracer(ctx, n, ["--max-body", "64k"])
    if not t:
        return
    proc, terr, db = t
    big, body = big_entry(ctx, "R05-max-body", BIG)
    p, out = py_client(ctx, "c5", [big])
    res = finish_client(ctx, n, p, out)
    chk.eq(res.get(big["tag"], {}).get("status"), 200, "%s: call answered 200" % n)
    sv = server_entry(ctx, big["tag"])
    got = wait_tags(db, [big["tag"]], ROWS_DEADLINE_S, proc)[big["tag"]]
    if chk.eq(len(got), 1, "%s: one row for the call" % n):
        r = got[0]
        chk.eq(r["error"], "truncated", "%s: error is 'truncated'" % n)
        chk.ok(isinstance(r["request_bytes"], int) and 0 < r["request_bytes"] <= MAX_BODY,
               "%s: 0 < request_bytes <= %d" % (n, MAX_BODY), repr(r["request_bytes"]))
        rb = e2e.as_bytes(r["request_body"]) or b""
        chk.ok(len(rb) <= MAX_BODY and body.startswith(rb), "%s: request_body is a prefix of the body sent" % n,
               "len %d" % len(rb))
        chk.eq(r["status"], 200, "%s: status" % n)
        chk.eq(r["response_bytes"], sv.get("resp_len"), "%s: response_bytes (the small response is whole)" % n)
        chk.eq(r["model"], CHAT_MODEL, "%s: model (from the response)" % n)
        chk.eq(r["provider"], "openai", "%s: provider" % n)
        chk.eq(r["operation"], "chat", "%s: operation" % n)
        chk.eq(r["response_text"], CHAT_TEXT, "%s: response_text" % n)
        chk.eq(r["output_tokens"], E["endpoints"]["openai_chat"]["output_tokens"], "%s: output_tokens" % n)
    check_stop(ctx, n, proc, terr)


# ---------- 6. ring buffer full ----------

def case_ringfull(ctx):
    chk, n = ctx.chk, "c6 ringfull"
    t = start_tracer(ctx, n, ["--ring-size", "64k"])
    if not t:
        return
    proc, terr, db = t
    big, body = big_entry(ctx, "R06-ring-big", RING_BIG)  # one sendall -> one SSL_write_ex of 2 MiB
    p, out = py_client(ctx, "c6-big", [big])
    res = finish_client(ctx, n + " big", p, out)
    chk.eq(res.get(big["tag"], {}).get("status"), 200, "%s: the 2 MiB call answered 200" % n)
    chk.eq(server_entry(ctx, big["tag"]).get("req_len"), len(body), "%s: server got the whole 2 MiB body" % n)
    small = e2e.py_call(chat_call("R06-after"), ctx.port)
    p, out = py_client(ctx, "c6-after", [small])  # a new process, so a new connection
    res = finish_client(ctx, n + " after", p, out)
    sv = server_entry(ctx, small["tag"])
    got = wait_tags(db, [small["tag"]], ROWS_DEADLINE_S, proc)[small["tag"]]
    if chk.eq(len(got), 1, "%s: the small call after the overflow is recorded" % n):
        r = got[0]
        chk.eq(r["error"], None, "%s: its error is NULL" % n)
        chk.eq(r["status"], 200, "%s: its status" % n)
        chk.eq(r["response_text"], CHAT_TEXT, "%s: its response_text" % n)
        chk.eq(r["request_bytes"], sv.get("req_len"), "%s: its request_bytes" % n)
    rc, took, last = check_stop(ctx, n, proc, terr)
    m = STOPPED_RE.match(last)
    if chk.ok(m, "%s: last stderr line is 'llmtap: stopped: N call(s) recorded, M event(s) dropped'" % n,
              repr(last)):
        chk.ok(int(m.group(2)) > 0, "%s: the final line counts dropped events (M > 0)" % n, repr(last))
    chk.ok([l for l in terr.lines if "dropped" in l and not STOPPED_RE.match(l)],
           "%s: a stderr warning (besides the final line) mentions 'dropped'" % n, terr.text()[-2000:])
    over = rows_of(db, big["tag"])
    if chk.verbose:
        print("     (%s: the overflowed call: %s)" % (n, "; ".join("row with error %r" % r["error"] for r in over)
                                                     or "no row"))
    bad = [r for r in over if not (r["error"] or "").startswith("capture gap")]
    chk.ok(not bad, "%s: the overflowed call has no row, or one whose error begins 'capture gap'" % n,
           "; ".join("error=%r request_bytes=%r status=%r" % (r["error"], r["request_bytes"], r["status"])
                     for r in bad))
    chk.ok(len(over) <= 1, "%s: at most one row for the overflowed call" % n)


# ---------- 7. kill -9 ----------

def case_kill9(ctx):
    chk, n = ctx.chk, "c7 kill9"
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    entries = [e2e.py_call(chat_call("R07-%s" % x), ctx.port) for x in "abc"]
    p, out = py_client(ctx, "c7-first", entries)
    finish_client(ctx, n + " first", p, out)
    tags = [e["tag"] for e in entries]
    got = wait_tags(db, tags, ROWS_DEADLINE_S, proc)
    if not chk.ok(all(len(got[x]) == 1 for x in tags), "%s: 3 rows visible while the tracer runs" % n,
                  repr({x: len(v) for x, v in got.items()})):
        return
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    # no 5 s bound here: a killed process is gone only once the kernel has torn down its uprobes
    chk.eq(wait_exit(proc, KILL_DEADLINE_S), -signal.SIGKILL, "%s: tracer gone after SIGKILL (%.1f s)" % (
        n, time.monotonic() - t0))
    first_ids = {got[x][0]["id"] for x in tags}
    r = e2e.run_cmd([ctx.llmtap, "calls", "--db", db, "--json", "--limit", "100000"], 30, env=cli_env())
    chk.eq(r.returncode, 0, "%s: calls --json after SIGKILL exits 0" % n)
    ids = []
    for line in r.stdout.decode(errors="replace").splitlines():
        try:
            ids.append(json.loads(line).get("id"))
        except ValueError:
            ids.append("unparsed: " + line[:80])
    chk.ok(first_ids <= set(ids), "%s: calls --json lists the 3 rows" % n, "got %r, want %r" % (ids, first_ids))
    chk.eq(sorted(ids), sorted(x["id"] for x in read_rows(db)), "%s: calls --json lists every row of the DB" % n)

    t = start_tracer(ctx, n + " restarted on the same DB", db=db)
    if not t:
        return
    proc, terr, _ = t
    e = e2e.py_call(chat_call("R07-d"), ctx.port)
    p, out = py_client(ctx, "c7-second", [e])
    finish_client(ctx, n + " second", p, out)
    got = wait_tags(db, tags + [e["tag"]], ROWS_DEADLINE_S, proc)
    chk.eq(len(got[e["tag"]]), 1, "%s: the call after the restart is recorded" % n)
    check_stop(ctx, n, proc, terr)
    every = read_rows(db)
    rows = mine(ctx, every)
    chk.eq(len(rows), 4, "%s: 4 rows in the DB" % n)
    ids = [x["id"] for x in every]
    chk.ok(len(set(ids)) == len(ids) and all(ids), "%s: ids all distinct" % n, repr(ids))
    chk.eq(sorted(tag_of(x) for x in rows), sorted(tags + [e["tag"]]), "%s: one row per call, no duplicate" % n)
    conn = sqlite3.connect(db, timeout=5)
    try:
        chk.eq(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "%s: PRAGMA integrity_check" % n)
        chk.eq(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal", "%s: journal_mode" % n)
    finally:
        conn.close()


# ---------- 8. filters ----------

def breakpoints(pid, lib):
    """Bytes of process pid's executable mappings of lib that differ from the file (a uprobe's
    breakpoint is an int3 the kernel writes into the process's copy), or None when it maps none."""
    diff, seen = 0, False
    try:
        with open("/proc/%d/maps" % pid) as f:
            maps = [l.split() for l in f]
        with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
            for m in maps:
                if len(m) < 6 or "x" not in m[1] or lib not in os.path.basename(m[5]):
                    continue
                lo, hi = (int(x, 16) for x in m[0].split("-"))
                with open(m[5], "rb") as f:
                    f.seek(int(m[2], 16))
                    want = f.read(hi - lo)
                mem.seek(lo)
                got = mem.read(len(want))
                diff += sum(1 for a, b in zip(want, got) if a != b)
                seen = True
    except OSError:
        return None
    return diff if seen else None


def case_filters(ctx):
    chk, n = ctx.chk, "c8 filters"
    # -c curl: a curl call and a python3 call at the same time; only curl's is recorded
    t = start_tracer(ctx, n + " -c", ["-c", "curl"])
    if t:
        proc, terr, db = t
        cc = chat_call("R08-comm-curl", client="curl")
        pc = e2e.py_call(chat_call("R08-comm-python"), ctx.port)
        cp, _ = curl_client(ctx, cc)
        p, out = py_client(ctx, "c8-comm", [pc])
        finish_curl(ctx, n + " -c", cp)
        res = finish_client(ctx, n + " -c python", p, out)
        chk.eq(res.get(pc["tag"], {}).get("status"), 200, "%s -c: the python3 call answered 200" % n)
        wait_tags(db, [cc["tag"]], ROWS_DEADLINE_S, proc)
        check_stop(ctx, n + " -c", proc, terr)  # everything parsed is written at exit
        rows = mine(ctx, read_rows(db))
        chk.eq([(tag_of(r), r["comm"]) for r in rows], [(cc["tag"], "curl")],
               "%s -c curl: exactly the curl call recorded" % n)

    # -p PID: a python3 process started first, waiting on stdin; then 2 calls, and a curl call.
    # A second python3 process, not named, waits too: it makes its call after the watched one.
    entries = [e2e.py_call(chat_call("R08-pid-%d" % i), ctx.port) for i in (1, 2)]
    other = e2e.py_call(chat_call("R08-pid-other"), ctx.port)
    p, out = py_client(ctx, "c8-pid", entries, wait_stdin=True)
    q, qout = py_client(ctx, "c8-pid-other", [other], wait_stdin=True)
    waiting = out.wait_for(lambda l: '"waiting"' in l, CLIENT_DEADLINE_S)
    if not chk.ok(waiting, "%s -p: python3 client waits on stdin" % n, out.text()):
        return
    chk.eq(json.loads(waiting)["pid"], p.pid, "%s -p: the client's pid is the started process's" % n)
    chk.ok(qout.wait_for(lambda l: '"waiting"' in l, CLIENT_DEADLINE_S), "%s -p: the other python3 waits" % n,
           qout.text())
    # A stopped tracer's uprobes leave the processes' memory a second or so after it exits
    # (the -c tracer above): wait for that before the -p tracer starts.
    deadline = time.time() + 15
    while breakpoints(q.pid, "libssl.so") != 0 and time.time() < deadline:
        time.sleep(0.2)
    chk.eq(breakpoints(q.pid, "libssl.so"), 0, "%s -p: no breakpoint left in libssl before the tracer" % n)
    t = start_tracer(ctx, n + " -p", ["-p", str(p.pid)])
    if not t:
        return
    proc, terr, db = t
    # The uprobes are the named process's alone: the kernel wrote breakpoints into its copy
    # of libssl's code and into no other process's (a scoped uprobe_multi link each).
    mine_bp, other_bp = breakpoints(p.pid, "libssl.so"), breakpoints(q.pid, "libssl.so")
    chk.ok(mine_bp is not None and mine_bp > 0, "%s -p: breakpoints in the named process's libssl" % n,
           repr(mine_bp))
    chk.eq(other_bp, 0, "%s -p: no breakpoint in another process's libssl" % n)
    cc = chat_call("R08-pid-curl", client="curl")
    cp, _ = curl_client(ctx, cc)
    p.stdin.write(b"go\n")
    p.stdin.close()
    finish_curl(ctx, n + " -p", cp)
    res = finish_client(ctx, n + " -p python", p, out)
    chk.ok(all(res.get(e["tag"], {}).get("status") == 200 for e in entries), "%s -p: both python3 calls 200" % n,
           repr(res)[:500])
    q.stdin.write(b"go\n")
    q.stdin.close()
    qres = finish_client(ctx, n + " -p other python", q, qout)
    chk.eq(qres.get(other["tag"], {}).get("status"), 200, "%s -p: the other python3's call answered 200" % n)
    wait_tags(db, [e["tag"] for e in entries], ROWS_DEADLINE_S, proc)
    check_stop(ctx, n + " -p", proc, terr)
    rows = read_rows(db)  # no other process can be in it
    chk.eq(sorted((tag_of(r), r["pid"]) for r in rows), sorted((e["tag"], p.pid) for e in entries),
           "%s -p PID: exactly that process's 2 calls recorded" % n)
    filters_exec(ctx)


def filters_exec(ctx):
    """-p follows the named process through exec: a shell named by -p execs a copy of node (a file
    the tracer has not seen, with OpenSSL in the executable), which makes one call."""
    chk, n = ctx.chk, "c8 filters -p exec"
    copy = node_copy(ctx, "c8-exec", "node-p-exec")
    c = chat_call("R08-pid-exec", client="node")
    p = ctx.procs.start(e2e.in_private_hosts(ctx.hosts, ["sh", "-c", 'read x && exec "$0" -e "$1" "$2"', copy,
                                                          NODE_LATE_CLIENT, late_spec(ctx, c)]),
                        env=ctx.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = LineReader(p.stdout)
    t = start_tracer(ctx, n, ["-p", str(p.pid)])
    if not t:
        return
    proc, terr, db = t
    p.stdin.write(b"exec\n")
    p.stdin.flush()
    waiting = out.wait_for(lambda l: '"waiting"' in l, CLIENT_DEADLINE_S)
    if not chk.ok(waiting, "%s: the shell exec'd the node copy, which waits on stdin" % n, out.text()[-2000:]):
        return
    chk.eq(json.loads(waiting)["pid"], p.pid, "%s: the node copy has the named pid" % n)
    want = "for pid %d " % p.pid
    chk.ok(terr.wait_for(lambda l: "attached to" in l and want in l, ATTACH_DEADLINE_S),
           "%s: tracer says 'attached to ... for pid %d'" % (n, p.pid), terr.text()[-2000:])
    chk.ok(breakpoints(p.pid, "node-p-exec") or 0, "%s: breakpoints in the node copy's code" % n)
    if not late_go(ctx, n, p, out, c["tag"]):
        return
    got = wait_tags(db, [c["tag"]], ROWS_DEADLINE_S, proc)[c["tag"]]
    if chk.eq(len(got), 1, "%s: one row for the call" % n):
        r = got[0]
        chk.eq((r["pid"], r["exe"]), (p.pid, copy), "%s: row pid and exe" % n)
        chk.eq(r["response_text"], CHAT_TEXT, "%s: row response_text" % n)
        chk.eq(r["error"], None, "%s: row error is NULL" % n)
    check_stop(ctx, n, proc, terr)


# ---------- 9. SIGTERM ----------

def case_sigterm(ctx):
    chk, n = ctx.chk, "c9 sigterm"
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    rc, took, last = check_stop(ctx, n, proc, terr, signal.SIGTERM)
    chk.ok(last.startswith("llmtap: stopped:"), "%s: final stderr line starts with 'llmtap: stopped:'" % n,
           repr(last))


# ---------- 10. stream cut by the server ----------

def case_cutstream(ctx):
    chk, n = ctx.chk, "c10 cutstream"
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    abort_after = 4  # the role event, then 3 content deltas
    e = e2e.py_call(chat_call("R10-cut-stream", stream=True), ctx.port)
    e["headers"]["x-test-abort-after"] = str(abort_after)
    p, out = py_client(ctx, "c10", [e])
    res = finish_client(ctx, n, p, out, want_rc=1).get(e["tag"], {})
    chk.ok("exception" in res, "%s: the client saw an error" % n, repr(res)[:300])
    sv = server_entry(ctx, e["tag"])
    chk.eq(sv.get("aborted_after"), abort_after, "%s: server cut the stream after %d events" % (n, abort_after))
    want_text = "".join(E["endpoints"]["openai_chat"]["chunks"][:abort_after - 1])
    got = wait_tags(db, [e["tag"]], ROWS_DEADLINE_S, proc)[e["tag"]]
    if chk.eq(len(got), 1, "%s: one row for the cut call" % n):
        r = got[0]
        chk.eq(r["stream"], 1, "%s: stream" % n)
        chk.eq(r["status"], 200, "%s: status" % n)
        chk.eq(r["response_text"], want_text, "%s: response_text is the first %d events' deltas" % (n, abort_after))
        chk.ok(sha(r["response_body"]) == sv.get("resp_sha256"), "%s: response_body is what was sent" % n,
               repr(r["response_body"])[:300])
        chk.ok((r["error"] or "").startswith(("connection closed", "process exited")),
               "%s: error says the connection closed / process exited" % n, repr(r["error"]))
    check_stop(ctx, n, proc, terr)


# ---------- 11. HTTP/2 ----------

def case_http2(ctx):
    chk, n = ctx.chk, "c11 http2"
    d = ctx.dir("c11")
    env = dict(os.environ, LLMTAP_E2E_H2="1")
    sp = ctx.procs.start(["node", os.path.join(HERE, "server.js"), "0", ctx.cert,
                          ctx.key],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    srv = LineReader(sp.stdout)
    line = srv.wait_for(lambda l: '"listening"' in l, 15)
    if not chk.ok(line, "%s: HTTP/2 server listening" % n, srv.text()[-2000:]):
        return
    port = json.loads(line)["port"]
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    calls = [chat_call("R11-h2-chat", False, "curl"), chat_call("R11-h2-chat-stream", True, "curl")]
    for c in calls:
        argv = e2e.curl_argv(c, port, ctx.cert, os.path.join(d, c["tag"]))
        argv[-1:-1] = ["--http2"]
        p = ctx.procs.start(argv, env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        finish_curl(ctx, "%s %s" % (n, c["tag"]), p)
    for c in calls:
        tag = c["tag"]
        line = srv.wait_for(lambda l: '"event":"request"' in l and '"tag":%s' % json.dumps(tag) in l, 10)
        sv = json.loads(line) if line else {}
        chk.eq(sv.get("http_version"), "2.0", "%s %s: the server saw HTTP/2" % (n, tag))
    got = wait_tags(db, [c["tag"] for c in calls], ROWS_DEADLINE_S, proc)
    for c in calls:
        tag, want = c["tag"], e2e.expected(c)
        rows = got[tag]
        if not chk.eq(len(rows), 1, "%s %s: one row" % (n, tag)):
            continue
        r = rows[0]
        for k in ("provider", "operation", "status", "stream"):
            chk.eq(r[k], c[k], "%s %s: %s" % (n, tag, k))
        for k in ("model", "input_tokens", "output_tokens", "finish_reason"):
            chk.eq(r[k], want[k], "%s %s: %s" % (n, tag, k))
        chk.eq(r["response_text"], want["text"], "%s %s: response_text" % (n, tag))
        chk.eq(r["host"], "%s:%d" % (c["host"], port), "%s %s: host from :authority" % (n, tag))
        chk.eq(r["path"], c["path"], "%s %s: path" % (n, tag))
        chk.ok(r["error"] is None, "%s %s: no error" % (n, tag), repr(r["error"]))
        chk.ok((r["ttfb_ms"] or 0) > 0, "%s %s: ttfb_ms > 0" % (n, tag), repr(r["ttfb_ms"]))
        chk.ok((r["duration_ms"] or 0) >= (r["ttfb_ms"] or 0), "%s %s: duration_ms >= ttfb_ms" % (n, tag))
        if c["stream"]:
            chk.ok((r["ttft_ms"] or 0) > 0, "%s %s: ttft_ms > 0" % (n, tag), repr(r["ttft_ms"]))
        head = (r["request_headers"] or "").splitlines()
        chk.ok(head and head[0] == "POST %s HTTP/2" % c["path"], "%s %s: request start line ends in HTTP/2" % (n, tag),
               repr(head[:1]))
        chk.ok("authorization: [REDACTED]" in head, "%s %s: authorization redacted" % (n, tag), repr(head))
        chk.ok(E["keys"]["openai"] not in (r["request_headers"] or ""), "%s %s: no key in request_headers" % (n, tag))
        chk.ok((r["response_headers"] or "").startswith("HTTP/2 200\n"), "%s %s: response head HTTP/2 200" % (n, tag),
               repr((r["response_headers"] or "")[:40]))
    check_stop(ctx, n, proc, terr)


# ---------- 12. the WAL stays bounded ----------

WAL_BOUND_MB = 96


def case_walsize(ctx):
    """The retention thread checkpoints the WAL; a writer that never pauses never sees every page
    copied back, so the WAL file would not start over (it grew to 430 MB): past 4000 pages the
    capture thread checkpoints too. tlsloop (make test builds it) writes 16 KB each way at full speed."""
    chk, n = ctx.chk, "c12 walsize"
    loop = os.path.join(REPO, "build", "bench", "tlsloop")
    if not chk.ok(os.access(loop, os.X_OK), "%s: %s is built" % (n, loop)):
        return
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    peak, done = [0], threading.Event()

    def watch():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], os.path.getsize(db + "-wal"))
            except OSError:
                pass
            time.sleep(0.02)

    th = threading.Thread(target=watch)
    th.start()
    try:
        for _ in range(4):
            subprocess.run([loop, ctx.cert, ctx.key, "16384", "4000"], check=True, timeout=300,
                           stdout=subprocess.DEVNULL)
        time.sleep(3)  # the tracer writes what it still holds
    finally:
        done.set()
        th.join()
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        rows = c.execute("SELECT count(*) FROM llm_calls WHERE response_bytes > 16000").fetchone()[0]
    finally:
        c.close()
    chk.ok(rows >= 200, "%s: hundreds of 32 KB calls written (%d)" % (n, rows))
    chk.ok(peak[0] < WAL_BOUND_MB << 20, "%s: the WAL file stays under %d MB while they are written (peak %d MB)"
           % (n, WAL_BOUND_MB, peak[0] >> 20))
    check_stop(ctx, n, proc, terr)


# ---------- 13. main thread exits first ----------

def mainexit_build(ctx):
    """tests/e2e/mainexit_client.c, built with the system libssl. Returns its path, or None."""
    exe = os.path.join(ctx.dir("mainexit"), "mainexit_client")
    r = subprocess.run(["cc", "-O2", "-Wall", "-o", exe, os.path.join(HERE, "mainexit_client.c"), "-lssl",
                        "-lcrypto", "-lpthread"], capture_output=True, text=True)
    return exe if ctx.chk.ok(r.returncode == 0, "c13 mainexit: the client builds", r.stderr[-1500:]) else None


def mainexit_start(ctx, exe, tag, delay_s):
    """The client, its request for a chat call tagged tag in a file; waits until its main thread has
    exited (a zombie while the other thread waits on stdin). Returns (proc, reader) or None."""
    c = chat_call(tag)
    body = json.dumps(e2e.req_body(c)).encode()
    head = "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost:%d\r\n" % ctx.port
    head += "".join("%s: %s\r\n" % kv for kv in e2e.req_headers(c).items())
    head += "connection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
    req = os.path.join(ctx.dir("mainexit"), tag + ".http")
    with open(req, "wb") as f:
        f.write(head.encode() + body)
    p = ctx.procs.start([exe, str(ctx.port), ctx.cert, req, str(delay_s)], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = LineReader(p.stdout)
    line = out.wait_for(lambda l: '"waiting"' in l, CLIENT_DEADLINE_S)
    if not ctx.chk.ok(line and json.loads(line)["pid"] == p.pid, "c13 mainexit %s: the client waits" % tag,
                      out.text()[-1000:]):
        return None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not main_exited(p.pid):
        time.sleep(0.05)
    if not ctx.chk.ok(main_exited(p.pid), "c13 mainexit %s: its main thread exited, the other runs on" % tag):
        return None
    return p, out


def main_exited(pid):
    """Is pid's main thread a zombie while another of its threads runs?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state == "Z" and len(os.listdir("/proc/%d/task" % pid)) > 1
    except (OSError, IndexError):
        return False


def mainexit_finish(ctx, name, p, out, db, tracer, exe, tag):
    """Lets the client call; checks its answer and its row in db."""
    p.stdin.write(b"go\n")
    p.stdin.close()
    rc = wait_exit(p, CLIENT_DEADLINE_S)
    done = out.wait_for(lambda l: '"done"' in l, 5)
    ctx.chk.ok(rc == 0 and done and json.loads(done)["status"] == 200, "%s: the call answered 200" % name,
               "exit %r: %s" % (rc, out.text()[-1000:]))
    got = wait_tags(db, [tag], ROWS_DEADLINE_S, tracer)[tag]
    if not ctx.chk.eq(len(got), 1, "%s: one row for the call" % name):
        return
    r = got[0]
    ctx.chk.eq((r["pid"], r["exe"]), (p.pid, exe), "%s: row pid and exe (read through a live thread)" % name)
    ctx.chk.eq((r["status"], r["error"]), (200, None), "%s: row status 200, no error" % name)
    ctx.chk.eq(r["response_text"], CHAT_TEXT, "%s: row response_text" % name)


def case_mainexit(ctx):
    """A process whose main thread exits first (pthread_exit) lives on in its other threads: /proc/PID
    then shows a zombie with no memory, exe or maps. Host-wide: the call, its response left unread past
    the reaper's pass (5 s), is one whole row. -p naming such a process (main thread gone before the
    tracer starts): its libraries are found through a live thread, and its probes are host-wide."""
    chk, n = ctx.chk, "c13 mainexit"
    exe = mainexit_build(ctx)
    if not exe:
        return
    t = start_tracer(ctx, n)
    if not t:
        return
    proc, terr, db = t
    st = mainexit_start(ctx, exe, "R13-wide", 6)
    if st:
        mainexit_finish(ctx, n + " host-wide", st[0], st[1], db, proc, exe, "R13-wide")
    check_stop(ctx, n, proc, terr)

    st = mainexit_start(ctx, exe, "R13-pid", 0)
    if not st:
        return
    p, out = st
    t = start_tracer(ctx, n + " -p", ["-p", str(p.pid)])
    if not t:
        return
    proc, terr, db = t
    chk.ok(terr.wait_for(lambda l: "pid %d: its main thread has exited" % p.pid in l, 5),
           "%s -p: the tracer says the named process's probes are host-wide" % n, terr.text()[-1500:])
    mainexit_finish(ctx, n + " -p", p, out, db, proc, exe, "R13-pid")
    check_stop(ctx, n + " -p", proc, terr)
    chk.eq([tag_of(r) for r in read_rows(db)], ["R13-pid"], "%s -p: that process's call alone recorded" % n)


# ---------- 14. the ring spills to disk ----------

SPOOL_EXCHANGES = 1200         # 16 KB each way: 39 MB through the 4 MiB ring, about 10 times over
SPOOL_WHOLE_MIN = 0.90         # rows whole with the spool (100 % in runs here; a guest stall can cost some)
NOSPOOL_WHOLE_MAX = 0.60       # without it (about 25 % here)


def spool_round(ctx, n, args):
    """tlsloop's burst under `llmtap run ARGS`: (whole rows, rows, the exit line, files left beside the DB)
    or None after a failed check."""
    loop = os.path.join(REPO, "build", "bench", "tlsloop")
    t = start_tracer(ctx, n, args)
    if not t:
        return None
    proc, terr, db = t
    r = subprocess.run([loop, ctx.cert, ctx.key, "16384", str(SPOOL_EXCHANGES)], capture_output=True, text=True,
                       timeout=300)
    if not ctx.chk.eq(r.returncode, 0, "%s: tlsloop runs" % n):
        return None
    out = dict(zip(r.stdout.split()[::2], r.stdout.split()[1::2]))
    req_body, resp_body = int(out["req_body"]), int(out["resp_body"])
    # the reader turns the backlog into rows after the burst: until the count stops growing
    last, still = -1, 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and still < 3:
        rows = len(read_rows(db))
        still = still + 1 if rows == last else 0
        last = rows
        time.sleep(1)
    _, _, line = check_stop(ctx, n, proc, terr)
    rows = read_rows(db)
    whole = [x for x in rows if x["error"] is None and x["status"] == 200]
    ctx.chk.ok(all(x["request_bytes"] == req_body and x["response_bytes"] == resp_body for x in whole),
               "%s: every whole row has the request's %d and the response's %d body bytes" % (n, req_body, resp_body),
               repr([(x["request_bytes"], x["response_bytes"]) for x in whole
                     if (x["request_bytes"], x["response_bytes"]) != (req_body, resp_body)][:5]))
    ctx.chk.ok(all("capture gap" in (x["error"] or "") for x in rows if x not in whole),
               "%s: a row that is not whole says why (capture gap)" % n,
               repr([x["error"] for x in rows if x not in whole and "capture gap" not in (x["error"] or "")][:5]))
    left = sorted(f for f in os.listdir(os.path.dirname(db)) if not f.startswith("llmtap.db"))
    return len(whole), len(rows), line, left, spool_events(db)


def spool_events(db):
    """The capture.spooled events' attributes, in order."""
    try:
        conn = e2e.open_db(db)
        try:
            return [json.loads(r["attributes"]) for r in conn.execute(
                "SELECT attributes FROM events WHERE name = 'capture.spooled' ORDER BY ts_ns")]
        finally:
            conn.close()
    except (sqlite3.Error, ValueError):
        return []


def case_spool(ctx):
    chk, n = ctx.chk, "c14 spool"
    got = spool_round(ctx, n, [])
    if not got:
        return
    whole, rows, line, left, evs = got
    chk.ok(whole >= SPOOL_WHOLE_MIN * SPOOL_EXCHANGES, "%s: at least %d %% of %d calls have a whole row (%d)" % (
        n, SPOOL_WHOLE_MIN * 100, SPOOL_EXCHANGES, whole))
    chk.ok(re.search(r", \d+ event\(s\) spooled to disk while behind \([\d.]+ MB at most\)", line),
           "%s: the exit line says what was spooled" % n, repr(line))
    chk.ok("not read" not in line, "%s: every spooled event was read before the exit" % n, repr(line))
    chk.eq(left, [], "%s: the spool leaves no file beside the database" % n)
    m = re.search(r", (\d+) event\(s\) spooled", line)
    chk.ok(evs and m and evs[-1].get("events_total") == int(m.group(1)) and
           sum(e.get("events", 0) for e in evs) == int(m.group(1)) and evs[-1].get("bytes_total", 0) > 0,
           "%s: capture.spooled events in the events table add up to the exit line's count" % n,
           "%r / %r" % (evs[-3:], line))
    got = spool_round(ctx, n + " off", ["--spool-size", "0"])
    if not got:
        return
    whole, rows, line, _, evs = got
    chk.eq(evs, [], "%s off: no capture.spooled event" % n)
    chk.ok(whole <= NOSPOOL_WHOLE_MAX * SPOOL_EXCHANGES,
           "%s off: without the spool most calls are lost to the full ring (%d whole rows of %d calls)" % (
               n, whole, SPOOL_EXCHANGES))
    m = STOPPED_RE.match(line)
    chk.ok(m and int(m.group(2)) > 0 and "spooled" not in line,
           "%s off: the exit line counts the dropped events and no spool" % n, repr(line))


CASES = [
    ("cli", case_cli), ("dbmodes", case_dbmodes), ("lateexec", case_lateexec), ("bigbody", case_bigbody),
    ("maxbody", case_maxbody), ("ringfull", case_ringfull), ("kill9", case_kill9), ("filters", case_filters),
    ("sigterm", case_sigterm), ("cutstream", case_cutstream), ("http2", case_http2), ("walsize", case_walsize),
    ("mainexit", case_mainexit), ("spool", case_spool),
]


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
            with open(os.path.join(ctx.tmp, "llmtap-%s.stderr" % tname.replace(" ", "_").replace("/", "_")),
                      "w") as f:
                f.write(terr.text() + "\n")
            if ctx.chk.failed > failed:
                print("---- %s: llmtap run stderr ----\n%s\n---- end ----" % (tname, terr.text()[-6000:]))
    if ctx.chk.verbose:
        print("-- %s: %.1f s" % (name, time.monotonic() - t0), flush=True)


def main():
    ap = argparse.ArgumentParser(description="llmtap robustness end-to-end tests")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("-k", action="append", default=[], metavar="CASE", help="only cases whose name contains CASE")
    args = ap.parse_args()
    chk = Checks(args.verbose)
    llmtap = os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap")
    llmtap = os.path.abspath(llmtap)

    def on_term(signum, frame):
        raise SystemExit("robust: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-robust.")
    os.chmod(tmp, 0o711)  # case 1 runs llmtap as uid 65534 with its --db in here
    srv = None
    try:
        if not e2e.preflight(chk, llmtap):
            return finish(chk)
        for tool in ("node", "curl", "openssl", "unshare", "mount", "setpriv"):
            if not chk.ok(shutil.which(tool), "tool: %s on PATH" % tool):
                return finish(chk)
        cert, key = e2e.make_cert(tmp)
        hosts = e2e.hosts_file(tmp)
        sp, srv, port = e2e.start_server(procs, cert, key)
        if not chk.ok(port, "server: listening", srv.text()):
            return finish(chk)
        ctx = Ctx(chk, llmtap, tmp, cert, port, srv, hosts, key)
        for name, fn in CASES:
            if args.k and not any(k in name for k in args.k):
                continue
            run_case(ctx, name, fn)
        chk.ok(sp.poll() is None, "server: still running after every case", "exit %r" % sp.poll())
        bad = [ev for ev in e2e.server_events(srv) if ev.get("event") in ("handler_error", "unparsed")]
        chk.ok(not bad, "server: no handler errors", repr(bad[:3]))
        return finish(chk)
    except Exception as e:
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
        return finish(chk)
    finally:
        procs.cleanup()
        if srv is not None:
            with open(os.path.join(tmp, "server.log"), "w") as f:
                f.write(srv.text() + "\n")
        if chk.failed or args.keep:
            print("robust: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print("robust: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)


def finish(chk):
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

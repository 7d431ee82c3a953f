#!/usr/bin/env python3
"""ux_test.py -- llmtap end-to-end suite of what users look at first: error kinds, stats, /metrics histograms, prices, the HTML report, `top`, install, --version, option errors.

Usage (as root, from anywhere):
    python3 tests/e2e/ux_test.py [-v] [--keep] [-k CASE]...

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)
    -v                      print every passing check too
    --keep                  keep the temp dir even when everything passed
    -k CASE                 run only the cases whose name contains CASE (repeatable; "calls" always runs)

Real processes only, loopback only: the fake HTTPS API of server.js, one `llmtap run --listen -v` for
the calls case, curl clients (one process per call, each tagged), headless Chromium (Debian `chromium`,
driven by the npm package playwright-core) for the report, tmux for `top`. Cases:
   1 calls      ten curl calls: ok, streamed, Anthropic, 429, 529, 401, a local model without a price,
                a POST without a body to a compatible server, a GET to an LLM path, a GET /health;
                error_type of each row; the body-less calls have rows; -v says why /health has none
   2 metrics    /metrics: gen_ai_client_operation_duration_seconds, gen_ai_client_token_usage,
                ..._time_to_first_chunk_seconds as histograms (cumulative buckets, +Inf = _count,
                _sum = the rows' durations) labelled by provider, model, error type
   3 stats      p50/p95/p99 = the rows' (linear interpolation), --by day|error|process, --json numbers
                rounded (no 17-digit floats), costs with significant digits, errors by kind, the
                unpriced model, the slowest call with its verdict
   4 prices     `llmtap prices` lists 80+ rows with date and source; a model resolves to its family;
                --prices FILE prices the local model in a new run; a bad file is one line, exit 2
   5 report     `llmtap report --html FILE`: self-contained (no http(s) URL fetched), headless Chromium:
                no console error, one bar per call, a screenshot with non-blank content
   6 top        `llmtap top` in tmux: the live view shows the calls, processes, refreshes, quits on q
   7 cli        --version; option-syntax errors print one line naming the option and a hint
   8 install    make install/uninstall with DESTDIR and PREFIX: every file under them, a stripped
                binary, nothing left after uninstall; --db-group makes the DB readable by a group
Ends with the line "ux: N passed, N failed"; exit status 1 when anything failed.
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
import listen_test  # noqa: E402  (free_port, http_req, parse_metrics)
import run as e2e  # noqa: E402
from run import E, Checks, Procs  # noqa: E402

CLIENT_DEADLINE_S = 60
ROWS_DEADLINE_S = 30
EXIT_DEADLINE_S = 5
CLI_DEADLINE_S = 60
STAMP = "%d" % os.getpid()     # in every tag: rows of this run only, whatever else the host does

# tag: (what the call is, curl argv extras, expected status, expected error_type)
CALLS = {}


class Ctx:
    """What every case needs: checks, the shared server, paths, the calls' database."""

    def __init__(self, chk, llmtap, tmp, cert, port, srv):
        self.chk, self.llmtap, self.tmp, self.cert, self.port, self.srv = chk, llmtap, tmp, cert, port, srv
        self.env = e2e.client_env(cert)
        self.procs = Procs()
        self.db = None             # the database of the calls case
        self.lport = None          # its tracer's --listen port
        self.tracer = None         # (proc, stderr reader) while it runs
        self.rows = {}             # tag -> row of the calls case

    def dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d


def cli_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTAP_")}
    env.update(extra)
    return env


def llmtap(ctx, args, timeout=CLI_DEADLINE_S, env=None):
    """`llmtap ARGS`: (exit status, stdout text, stderr lines)."""
    r = e2e.run_cmd([ctx.llmtap] + args, timeout, env=env or cli_env(), cwd=ctx.dir("cli"))
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            [l for l in r.stderr.decode("utf-8", "replace").splitlines() if l.strip()])


def tag(name):
    return "UX%s-%s" % (STAMP, name)


def curl(ctx, name, host, path, body=None, headers=None, method=None):
    """One curl call to the fake server as host; returns (exit status, HTTP status text)."""
    d = ctx.dir("curl-" + name)
    argv = ["curl", "-sS", "--max-time", "30", "--cacert", ctx.cert, "--resolve",
            "%s:%d:127.0.0.1" % (host, ctx.port), "-o", os.path.join(d, "body"), "-w", "%{http_code}"]
    if method:
        argv += ["-X", method]
    if body is not None:
        with open(os.path.join(d, "req.json"), "w") as f:
            json.dump(body, f)
        argv += ["--data-binary", "@" + os.path.join(d, "req.json")]
    for k, v in (headers or {}).items():
        argv += ["-H", "%s: %s" % (k, v)]
    argv.append("https://%s:%d%s" % (host, ctx.port, path))
    p = ctx.procs.start(argv, env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, _ = p.communicate(timeout=CLIENT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return p.returncode, out.decode(errors="replace").strip()


def chat_body(t, stream=False, model=None):
    b = {"model": model or E["models"]["openai"], "messages": [{"role": "user", "content": "Say hello (%s)." % t}]}
    if stream:
        b.update(stream=True, stream_options={"include_usage": True})
    return b


def read_rows(db):
    """Every llm_calls row as a dict."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM llm_calls ORDER BY start_ns")]
    finally:
        con.close()


def tag_of(row):
    m = re.search(r"UX%s-[A-Za-z0-9-]+" % STAMP, (row.get("request_headers") or "") + (row.get("request_body") or ""))
    return m.group(0) if m else None


def pctl(vals, p):
    """Linear interpolation between the closest ranks (what llmtap documents)."""
    v = sorted(vals)
    if not v:
        return None
    r = p / 100 * (len(v) - 1)
    lo = int(r)
    if lo + 1 >= len(v):
        return v[-1]
    return v[lo] + (r - lo) * (v[lo + 1] - v[lo])


# ---------- 1. calls and their error kinds ----------

def case_calls(ctx):
    chk, n = ctx.chk, "c1 calls"
    ctx.db = os.path.join(ctx.dir("calls"), "llmtap.db")
    ctx.lport = listen_test.free_port()
    proc, terr, ready = e2e.start_tracer(ctx.procs, ctx.llmtap, ctx.db, ["--listen", "127.0.0.1:%d" % ctx.lport,
                                                                          "-v"])
    if not chk.ok(ready, "%s: tracer ready" % n, terr.text()[-2000:]):
        return
    ctx.tracer = (proc, terr)
    oa, an = {"authorization": "Bearer " + E["keys"]["openai"], "content-type": "application/json"}, {
        "x-api-key": E["keys"]["anthropic"], "anthropic-version": "2023-06-01", "content-type": "application/json"}
    H = e2e.HOSTS
    plan = [
        # name, host, path, body, extra headers, method, want status, want error_type, want a row
        ("ok", H["openai"], "/v1/chat/completions", chat_body(tag("ok")), oa, None, "200", None, True),
        ("stream", H["openai"], "/v1/chat/completions", chat_body(tag("stream"), True), oa, None, "200", None, True),
        ("anthropic", H["anthropic"], "/v1/messages",
         {"model": E["models"]["anthropic"], "max_tokens": 64, "stream": True,
          "messages": [{"role": "user", "content": "Hi (%s)" % tag("anthropic")}]}, an, None, "200", None, True),
        ("r429", H["openai"], "/v1/chat/completions", chat_body(tag("r429")), dict(oa, **{"x-test-status": "429"}),
         None, "429", "rate_limited", True),
        ("r529", H["openai"], "/v1/chat/completions", chat_body(tag("r529")), dict(oa, **{"x-test-status": "529"}),
         None, "529", "overloaded", True),
        ("noauth", H["openai"], "/v1/chat/completions", chat_body(tag("noauth")), {"content-type": "application/json"},
         None, "401", "auth", True),
        ("local", H["local"], "/v1/chat/completions", chat_body(tag("local"), model=E["models"]["local"]), oa, None,
         "200", None, True),
        # the first smoke test of many users: no body at all
        ("nobody", H["local"], "/v1/chat/completions", None, dict(oa, **{"x-test-call": tag("nobody")}), "POST",
         "400", "invalid_request", True),
        ("get", H["openai"], "/v1/chat/completions", None, dict(oa, **{"x-test-call": tag("get")}), None,
         "404", "invalid_request", True),
        ("health", H["openai"], "/health", None, {"x-test-call": tag("health")}, None, "200", None, False),
    ]
    for name, host, path, body, hdr, method, want, _, _ in plan:
        hdr = dict(hdr)
        hdr.setdefault("x-test-call", tag(name))
        rc, st = curl(ctx, name, host, path, body, hdr, method)
        chk.ok(rc == 0 and st == want, "%s: curl %s answered %s" % (n, name, want), "exit %r status %r" % (rc, st))
        CALLS[tag(name)] = name
    want_rows = sum(1 for p in plan if p[8])
    deadline = time.monotonic() + ROWS_DEADLINE_S
    while time.monotonic() < deadline:
        mine = {tag_of(r): r for r in read_rows(ctx.db) if tag_of(r) in CALLS}
        if len(mine) >= want_rows:
            break
        time.sleep(0.1)
    ctx.rows = mine
    for name, host, path, body, hdr, method, st, et, has_row in plan:
        r = mine.get(tag(name))
        if not has_row:
            chk.ok(r is None, "%s: %s leaves no row" % (n, name), repr(r and r["path"]))
            continue
        if not chk.ok(r, "%s: %s has a row" % (n, name)):
            continue
        chk.eq(r["status"], int(st), "%s: %s status" % (n, name))
        chk.eq(r["error_type"], et, "%s: %s error_type" % (n, name))
        chk.ok((r["error"] is None) == (et is None), "%s: %s error set iff error_type" % (n, name),
               repr((r["error"], r["error_type"])))
    r = mine.get(tag("local")) or {}
    chk.ok(r.get("cost_usd") is None and r.get("input_tokens"), "%s: the local model has tokens and no price" % n,
           repr((r.get("cost_usd"), r.get("input_tokens"))))
    r = mine.get(tag("nobody")) or {}
    chk.eq(r.get("provider"), "openai-compatible", "%s: the body-less call to a compatible server is openai-compatible" % n)
    why = terr.wait_for(lambda l: "/health: not recorded: not an LLM API path" in l, 5)
    chk.ok(why, "%s: -v says why GET /health has no row" % n, terr.text()[-1500:])


# ---------- 2. /metrics ----------

def case_metrics(ctx):
    chk, n = ctx.chk, "c2 metrics"
    if not chk.ok(ctx.tracer and ctx.rows, "%s: the calls case ran" % n):
        return
    st, _, body = listen_test.http_req(ctx.lport, "GET", "/metrics")
    chk.eq(st, 200, "%s: GET /metrics" % n)
    fams, bad = listen_test.parse_metrics(body.decode("utf-8", "replace"))
    chk.ok(not bad, "%s: every line parses" % n, repr(bad[:3]))
    dur, tok, ttfc = ("gen_ai_client_operation_duration_seconds", "gen_ai_client_token_usage",
                      "gen_ai_client_operation_time_to_first_chunk_seconds")
    for f in (dur, tok, ttfc):
        chk.eq((fams.get(f) or {}).get("type"), "histogram", "%s: %s is a histogram" % (n, f))
    rows = list(ctx.rows.values())
    # the tracer sees the whole host: compare only the series of models only this suite uses here
    def series(name, **labels):
        return [(l, v) for l, v in (fams.get(name) or {}).get("samples", [])
                if all(l.get(k) == v2 for k, v2 in labels.items())]

    local = E["models"]["local"]
    cnt = series(dur + "_count", gen_ai_response_model=local)
    mine = [r for r in rows if r["model"] == local]
    chk.ok(cnt and sum(v for _, v in cnt) >= len(mine) >= 1, "%s: %s_count counts the local model's calls" % (n, dur),
           "%r vs %d rows" % (cnt, len(mine)))
    buckets = series(dur + "_bucket", gen_ai_response_model=local)
    infs = [v for l, v in buckets if l.get("le") == "+Inf"]
    chk.ok(infs and infs == [v for _, v in cnt], "%s: the +Inf bucket equals _count" % n, repr((infs, cnt)))
    les = [(float(l["le"]) if l["le"] != "+Inf" else float("inf"), v) for l, v in buckets if "le" in l]
    chk.ok(les and all(les[i][1] <= les[i + 1][1] for i in range(len(les) - 1) if les[i][0] < les[i + 1][0]),
           "%s: buckets are cumulative" % n, repr(les[:16]))
    s = series(dur + "_sum", gen_ai_response_model=local)
    want = sum(r["duration_ms"] for r in mine) / 1e3
    chk.ok(s and abs(s[0][1] - want) < 0.01 + 0.01 * want, "%s: _sum is the calls' duration in seconds" % n,
           "%r vs %.4f" % (s, want))
    rl = series(dur + "_count", error_type="rate_limited", gen_ai_provider_name="openai")
    chk.ok(rl and rl[0][1] >= 1, "%s: the 429 counts under error_type=\"rate_limited\"" % n, repr(rl))
    ok = series(dur + "_count", gen_ai_response_model=local)
    chk.ok(ok and all("error_type" not in l for l, _ in ok), "%s: no error_type label on calls that succeeded" % n,
           repr(ok))
    ti = series(tok + "_count", gen_ai_response_model=local, gen_ai_token_type="input")
    to = series(tok + "_count", gen_ai_response_model=local, gen_ai_token_type="output")
    chk.ok(ti and to, "%s: token usage has input and output series" % n, repr((ti, to)))
    tsum = series(tok + "_sum", gen_ai_response_model=local, gen_ai_token_type="input")
    chk.ok(tsum and tsum[0][1] >= sum(r["input_tokens"] for r in mine), "%s: token _sum" % n, repr(tsum))
    ft = series(ttfc + "_count", gen_ai_provider_name="openai")
    chk.ok(ft and sum(v for _, v in ft) >= 1, "%s: the streamed call has a time to first chunk" % n, repr(ft))


# ---------- 3. stats ----------

NUM_RE = re.compile(r'-?\d+\.\d{10,}')


def case_stats(ctx):
    chk, n = ctx.chk, "c3 stats"
    if not chk.ok(ctx.rows, "%s: the calls case ran" % n):
        return
    rc, out, err = llmtap(ctx, ["stats", "--db", ctx.db, "--json", "--by", "model"])
    chk.eq(rc, 0, "%s: stats --json exits 0" % n)
    chk.ok(not NUM_RE.search(out), "%s: --json numbers are rounded (no 10+ decimals)" % n,
           repr(NUM_RE.findall(out)[:5]))
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    groups = {o["model"]: o for o in lines if "model" in o and "calls" in o and "unpriced_model" not in o}
    allrows = read_rows(ctx.db)
    local = E["models"]["local"]
    g = groups.get(local)
    if chk.ok(g, "%s: a group for %s" % (n, local), repr(list(groups))):
        mine = [r for r in allrows if r["model"] == local]
        chk.eq(g["calls"], len(mine), "%s: %s calls" % (n, local))
        for col in ("duration_ms", "ttfb_ms"):
            vals = [r[col] for r in mine if r[col] is not None]
            for p in (50, 95, 99):
                want = round(pctl(vals, p), 3)
                got = g.get("p%d_%s" % (p, col))
                chk.ok(got is not None and abs(got - want) <= 0.0011, "%s: p%d_%s = the rows'" % (n, p, col),
                       "got %r want %r" % (got, want))
        chk.ok(g.get("unpriced_calls") == len(mine), "%s: unpriced_calls" % n, repr(g.get("unpriced_calls")))
    priced = [o for o in groups.values() if o.get("cost_usd")]
    chk.ok(priced and all(abs(o["cost_usd"] - round(o["cost_usd"], 9)) < 1e-15 for o in priced),
           "%s: cost_usd rounded to 1e-9" % n, repr([o.get("cost_usd") for o in priced]))
    kinds = {o["error_type"]: o["calls"] for o in lines if "error_type" in o and "slowest_call" not in o}
    for k in ("rate_limited", "overloaded", "auth", "invalid_request"):
        chk.ok(kinds.get(k, 0) >= 1, "%s: --json errors by kind has %s" % (n, k), repr(kinds))
    up = [o for o in lines if o.get("unpriced_model") == local]
    chk.ok(up and up[0]["calls"] >= 1, "%s: --json lists the unpriced model" % n, repr(up))
    slow = [o for o in lines if "slowest_call" in o]
    chk.ok(slow and slow[0].get("verdict") in ("network", "model", "client", "mixed"),
           "%s: --json the slowest call with its verdict" % n, repr(slow[:1]))
    if slow:
        chk.eq(slow[0]["duration_ms"], round(max(r["duration_ms"] for r in allrows if r["duration_ms"] is not None), 3),
               "%s: the slowest call is the longest row" % n)

    rc, out, err = llmtap(ctx, ["stats", "--db", ctx.db])
    chk.eq(rc, 0, "%s: stats exits 0" % n)
    chk.ok("DURATION p50/95/99" in out and "TTFT p50/95/99" in out, "%s: the table has percentile columns" % n, out[:400])
    chk.ok(re.search(r"errors by kind: .*rate_limited \d", out), "%s: errors by kind" % n, out)
    chk.ok("models without a price" in out and local in out, "%s: the unpriced model is listed" % n, out)
    chk.ok(re.search(r"slowest calls\n  \S+ .* ms, verdict (network|model|client|mixed)", out),
           "%s: the slowest calls with their verdict" % n, out)
    chk.ok(" 0.0000 " not in out and not re.search(r"\de-0\d", out), "%s: no 0.0000 nor exponent costs" % n, out)
    costs = re.findall(r"^(\S+)\s+\d+\s+\d+\s+\d+\s+\d+\s+(\S+)\s", out, re.M)
    cheap = [c for m, c in costs if re.match(r"0\.0+[1-9]", c)]
    chk.ok(cheap and all(len(c.rstrip("0").split(".")[1].lstrip("0")) <= 3 for c in cheap),
           "%s: cheap costs printed with 3 significant digits" % n, repr(costs))
    chk.ok(re.search(r"^all\s+\d+", out, re.M), "%s: a total line" % n, out)

    rc, out, _ = llmtap(ctx, ["stats", "--db", ctx.db, "--by", "day", "--json"])
    days = [json.loads(l) for l in out.splitlines() if '"day"' in l]
    today = time.strftime("%Y-%m-%d")
    chk.ok(rc == 0 and any(d["day"] == today for d in days), "%s: --by day has today" % n, out[:300])
    rc, out, _ = llmtap(ctx, ["stats", "--db", ctx.db, "--by", "error", "--json"])
    errs = {json.loads(l)["error"]: json.loads(l)["calls"] for l in out.splitlines() if l.startswith('{"error"')}
    chk.ok(rc == 0 and errs.get("rate_limited", 0) >= 1 and errs.get("none", 0) >= 3, "%s: --by error" % n, repr(errs))
    rc, out, err = llmtap(ctx, ["stats", "--db", ctx.db, "--by", "week"])
    chk.ok(rc == 2 and len(err) == 1 and "--by" in err[0], "%s: a bad --by is one line, exit 2" % n, repr((rc, err)))
    rc, out, _ = llmtap(ctx, ["show", "--db", ctx.db, ctx.rows[tag("ok")]["id"]])
    chk.ok(rc == 0 and re.search(r"^cost_usd\s+0\.0000\d+$", out, re.M) and "e-0" not in out,
           "%s: show prints cost_usd with significant digits" % n, re.findall(r"cost_usd.*", out)[:1])


CASES = [("calls", case_calls), ("metrics", case_metrics), ("stats", case_stats)]


def run_case(ctx, name, fn):
    """Runs one case; an exception is a failure."""
    t0 = time.monotonic()
    try:
        fn(ctx)
    except Exception as e:  # never a silent pass
        ctx.chk.ok(False, "%s: unexpected exception" % name, repr(e))
        traceback.print_exc()
    if ctx.chk.verbose:
        print("-- %s: %.1f s" % (name, time.monotonic() - t0), flush=True)


def main():
    ap = argparse.ArgumentParser(description="llmtap user-facing end-to-end tests")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    ap.add_argument("-k", action="append", default=[], metavar="CASE", help="only cases whose name contains CASE")
    args = ap.parse_args()
    chk = Checks(args.verbose)
    binary = os.path.abspath(os.environ.get("LLMTAP") or os.path.join(REPO, "build", "llmtap"))

    def on_term(signum, frame):
        raise SystemExit("ux: interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-ux.")
    os.chmod(tmp, 0o755)
    srv = ctx = None
    try:
        if not e2e.preflight(chk, binary):
            return 1
        for tool in ("node", "curl", "openssl", "tmux"):
            if not chk.ok(shutil.which(tool), "tool: %s on PATH" % tool):
                return 1
        cert, key = e2e.make_cert(tmp)
        sp, srv, port = e2e.start_server(procs, cert, key)
        if not chk.ok(port, "server: listening", srv.text()):
            return 1
        ctx = Ctx(chk, binary, tmp, cert, port, srv)
        ctx.procs = procs
        for name, fn in CASES:
            if args.k and name != "calls" and not any(k in name for k in args.k):
                continue
            run_case(ctx, name, fn)
        if ctx.tracer:
            rc = e2e.stop_tracer(ctx.tracer[0], signal.SIGINT, EXIT_DEADLINE_S)
            chk.eq(rc, 0, "tracer: exits 0 on SIGINT")
        return 1 if chk.failed else 0
    except Exception as e:
        chk.ok(False, "driver: unexpected exception", repr(e))
        traceback.print_exc()
        return 1
    finally:
        procs.cleanup()
        if ctx and ctx.tracer:
            with open(os.path.join(tmp, "llmtap-run.stderr"), "w") as f:
                f.write(ctx.tracer[1].text() + "\n")
            if chk.failed:
                print("---- llmtap run stderr (tail) ----\n%s\n---- end ----" % ctx.tracer[1].text()[-4000:])
        if srv is not None:
            with open(os.path.join(tmp, "server.log"), "w") as f:
                f.write(srv.text() + "\n")
        if chk.failed or args.keep:
            print("ux: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print("ux: %d passed, %d failed" % (chk.passed, chk.failed), flush=True)


if __name__ == "__main__":
    sys.exit(main())

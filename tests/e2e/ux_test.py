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
    rc, out, err = llmtap(ctx, ["show", "--db", ctx.db, ctx.rows[tag("ok")]["id"]])
    chk.ok(rc == 0 and re.search(r"^cost_usd\s+0\.0000\d+$", out, re.M) and "e-0" not in out,
           "%s: show prints cost_usd with significant digits" % n, repr((rc, re.findall(r"cost_usd.*", out)[:1], err)))


# ---------- 4. prices ----------

def case_prices(ctx):
    chk, n = ctx.chk, "c4 prices"
    rc, out, err = llmtap(ctx, ["prices", "--json"])
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    chk.ok(rc == 0 and len(rows) >= 80, "%s: prices lists 80+ rows" % n, "exit %r, %d rows" % (rc, len(rows)))
    provs = {r["provider"] for r in rows}
    for p in ("openai", "anthropic", "gemini", "deepseek", "mistral", "xai", "dashscope", "zhipu", "moonshot",
              "groq", "together", "fireworks"):
        chk.ok(p in provs, "%s: a row of %s" % (n, p))
    chk.ok(all(re.match(r"\d{4}-\d\d-\d\d$", r["date"]) and r["source"].startswith("https://") for r in rows),
           "%s: every row has its date and source" % n)
    rc, out, _ = llmtap(ctx, ["prices", "gpt-4o-mini-2024-07-18", "claude-sonnet-4-5-20250929"])
    chk.ok(rc == 0 and re.search(r"^gpt-4o-mini-2024-07-18\s+gpt-4o-mini\s+openai\s+0.15\s+0.075\s+-\s+0.6\s", out, re.M),
           "%s: a dated snapshot resolves to its family" % n, out)
    rc, out, err = llmtap(ctx, ["prices", "no-such-model-x"])
    chk.ok(rc == 1 and err and "no-such-model-x" in err[0], "%s: an unknown model is named, exit 1" % n, repr((rc, err)))
    # a table of one's own prices the local model in a new run
    mine = os.path.join(ctx.dir("prices"), "mine.tsv")
    with open(mine, "w") as f:
        f.write("# my prices\nmodel\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\n"
                "%s\topenai-compatible\t1000\t-\t-\t2000\t2026-12-01\thttps://example.invalid/mine\n" % E["models"]["local"])
    rc, out, _ = llmtap(ctx, ["prices", "--prices", mine, E["models"]["local"]])
    chk.ok(rc == 0 and "https://example.invalid/mine" in out, "%s: --prices FILE is read" % n, out)
    db = os.path.join(ctx.dir("prices"), "llmtap.db")
    proc, terr, ready = e2e.start_tracer(ctx.procs, ctx.llmtap, db, ["--prices", mine])
    if chk.ok(ready, "%s: run --prices FILE is ready" % n, terr.text()[-1000:]):
        t = tag("priced")
        rc, st = curl(ctx, "priced", e2e.HOSTS["local"], "/v1/chat/completions",
                      chat_body(t, model=E["models"]["local"]),
                      {"authorization": "Bearer " + E["keys"]["openai"], "content-type": "application/json",
                       "x-test-call": t})
        deadline = time.monotonic() + ROWS_DEADLINE_S
        r = None
        while time.monotonic() < deadline and not r:
            r = next((x for x in read_rows(db) if tag_of(x) == t), None)
            time.sleep(0.1)
        want = r and (r["input_tokens"] * 1000 + r["output_tokens"] * 2000) / 1e6
        chk.ok(r and r["cost_usd"] is not None and abs(r["cost_usd"] - want) < 1e-9,
               "%s: the local model is priced by the table of one's own" % n, repr(r and (r["cost_usd"], want)))
        chk.eq(e2e.stop_tracer(proc), 0, "%s: tracer exits 0" % n)
    bad = os.path.join(ctx.dir("prices"), "bad.tsv")
    with open(bad, "w") as f:
        f.write("model\tprovider\tinput\tcached_input\tcache_write\toutput\tdate\tsource\nm\tp\t1\t-\t-\tcheap\t2026-01-01\thttps://x\n")
    for args in (["prices", "--prices", bad], ["run", "--prices", bad, "--db", os.path.join(ctx.dir("prices"), "bad.db")]):
        rc, out, err = llmtap(ctx, args)
        chk.ok(rc == 2 and len(err) == 1 and bad in err[0] and "line 2" in err[0] and "cheap" in err[0],
               "%s: `llmtap %s` on a bad table: one line naming file, line and value; exit 2" % (n, args[0]),
               repr((rc, err)))


# ---------- 5. the HTML report in headless Chromium ----------

def ensure_chromium(chk):
    """Debian's chromium (apt-get when missing) and playwright-core (npm ci)."""
    if not shutil.which("chromium"):
        print("ux: installing chromium with apt-get", flush=True)
        r = e2e.run_cmd(["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"], 900)
        if r.returncode != 0:
            e2e.run_cmd(["apt-get", "update", "-q"], 600)
            e2e.run_cmd(["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"], 900)
    if not os.path.exists(os.path.join(HERE, "node_modules", "playwright-core", "package.json")):
        e2e.ensure_tools(chk)  # npm ci: the SDKs and playwright-core
        env = dict(os.environ, NODE_EXTRA_CA_CERTS="/etc/ssl/certs/ca-certificates.crt")
        e2e.run_cmd(["npm", "ci", "--no-audit", "--no-fund"], 600, cwd=HERE, env=env)
    return (chk.ok(shutil.which("chromium"), "tool: chromium installed") and
            chk.ok(os.path.exists(os.path.join(HERE, "node_modules", "playwright-core")), "tool: playwright-core installed"))


def png_colors(path):
    """(width, height, distinct colours among sampled pixels, share of non-white sampled pixels) of an RGB(A) PNG."""
    import struct
    import zlib
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = zlib.decompress(idat)
    bpp = 4 if ctype == 6 else 3
    stride = w * bpp
    prev = bytearray(stride)
    colors, nonwhite, total = set(), 0, 0
    i = 0
    for y in range(h):
        ft = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if y % 4:
            continue
        for x in range(0, w, 4):
            px = tuple(line[x * bpp:x * bpp + 3])
            colors.add(px)
            total += 1
            nonwhite += px != (255, 255, 255)
    return w, h, len(colors), nonwhite / max(total, 1)


def case_report(ctx):
    chk, n = ctx.chk, "c5 report"
    if not chk.ok(ctx.rows, "%s: the calls case ran" % n) or not ensure_chromium(chk):
        return
    page = os.path.join(ctx.dir("report"), "report.html")
    rc, out, err = llmtap(ctx, ["report", "--db", ctx.db, "--html", page])
    chk.ok(rc == 0 and os.path.exists(page), "%s: report --html exits 0 and writes the page" % n, repr((rc, err)))
    html = open(page, encoding="utf-8").read()
    urls = [u for u in re.findall(r"(?:src|href)\s*=\s*[\"']([^\"']+)", html) if not u.startswith("#")]
    chk.ok(not urls and "</script>" not in html.split("window.LLMTAP_DATA", 1)[1].split(";\n", 1)[0],
           "%s: self-contained: no src/href to load, the data cannot end its script" % n, repr(urls[:3]))
    chk.ok(oct(os.stat(page).st_mode & 0o777) == "0o600", "%s: the page is 0600 like the DB" % n,
           oct(os.stat(page).st_mode & 0o777))
    con = sqlite3.connect("file:%s?mode=ro" % ctx.db, uri=True)
    ncalls = con.execute("SELECT count(*) FROM llm_calls WHERE start_ns IS NOT NULL").fetchone()[0]
    con.close()
    shot = os.path.join(ctx.dir("report"), "report.png")
    prof = os.path.join(ctx.dir("report"), "profile")
    r = e2e.run_cmd(["node", os.path.join(HERE, "report_check.mjs"), page, shot, prof], 180, cwd=HERE)
    try:
        res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        chk.ok(False, "%s: report_check.mjs answered" % n, (r.stdout + r.stderr).decode(errors="replace")[-2000:])
        return
    chk.ok(res["ready"], "%s: the page rendered (data-ready)" % n, repr(res["page_errors"]))
    chk.eq(res["console_errors"] + res["page_errors"], [], "%s: no console or page errors" % n)
    chk.eq(res["requests"], [], "%s: no network request when viewed" % n)
    chk.eq(res["calls"], ncalls, "%s: one bar per call" % n)
    chk.ok("model that spent the most" in res.get("card_text", "") and "time to first token, p95" in res.get("card_text", "")
           and "errors by kind" in res.get("card_text", ""), "%s: the answers at a glance" % n, res.get("card_text"))
    chk.ok(res.get("slowest_rows", 0) >= 1, "%s: the slowest calls table" % n)
    if chk.ok(os.path.exists(shot), "%s: a screenshot was taken" % n):
        w, h, colors, share = png_colors(shot)
        chk.ok(w >= 1000 and h >= 800 and colors >= 8 and 0.01 < share < 0.9,
               "%s: the screenshot has content (%dx%d, %d colours, %.0f%% non-white)" % (n, w, h, colors, 100 * share),
               repr((w, h, colors, share)))
    rc, out, err = llmtap(ctx, ["report", "--db", ctx.db])
    chk.ok(rc == 2 and len(err) == 1 and "--html" in err[0], "%s: without --html: one line, exit 2" % n, repr((rc, err)))
    rc, out, err = llmtap(ctx, ["report", "--db", ctx.db, "--html", "-", "--run", "nope"])
    chk.ok(rc != 0 and len(err) == 1, "%s: --run on a DB without that run: one line" % n, repr((rc, err)))


# ---------- 6. top in tmux ----------

def tmux(*args):
    return subprocess.run(["tmux", "-L", "llmtap-ux-%s" % STAMP] + list(args), capture_output=True, timeout=20)


def pane():
    return tmux("capture-pane", "-p", "-t", "top").stdout.decode(errors="replace")


def wait_pane(pred, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        text = pane()
        if pred(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def case_top(ctx):
    chk, n = ctx.chk, "c6 top"
    if not chk.ok(ctx.tracer and ctx.rows, "%s: the calls case's tracer runs" % n):
        return
    env = "env -u LLMTAP_DB TERM=xterm-256color"
    r = tmux("new-session", "-d", "-s", "top", "-x", "160", "-y", "50",
             "%s %s top --db %s --interval 0.3" % (env, ctx.llmtap, ctx.db))
    if not chk.ok(r.returncode == 0, "%s: tmux session started" % n, r.stderr.decode(errors="replace")):
        return
    try:
        text = wait_pane(lambda t: "BUSIEST PROCESSES" in t)
        chk.ok("llmtap top" in text and "SLOWEST CALLS" in text and "BUSIEST PROCESSES" in text and "curl" in text,
               "%s: the view shows slowest calls and busiest processes" % n, text)
        chk.ok(re.search(r"last 10m\s+\d+ calls", text), "%s: calls per window" % n, text)
        # a slow call: in flight while the server waits, then done
        t = tag("slow")
        d = ctx.dir("curl-slow")
        with open(os.path.join(d, "req.json"), "w") as f:
            json.dump(chat_body(t), f)
        p = ctx.procs.start(["curl", "-sS", "--max-time", "30", "--cacert", ctx.cert, "--resolve",
                             "%s:%d:127.0.0.1" % (e2e.HOSTS["openai"], ctx.port), "-o", os.path.join(d, "body"),
                             "-H", "authorization: Bearer " + E["keys"]["openai"], "-H", "content-type: application/json",
                             "-H", "x-test-call: " + t, "-H", "x-test-delay-ms: 4000",
                             "--data-binary", "@" + os.path.join(d, "req.json"),
                             "https://%s:%d/v1/chat/completions" % (e2e.HOSTS["openai"], ctx.port)],
                            env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pat = re.compile(r"^\s+curl\s+%d\s+waiting\s+[\d.]+ s\s+POST api\.openai\.com.*/v1/chat/completions" % p.pid, re.M)
        text = wait_pane(lambda x: pat.search(x), 10)
        chk.ok(pat.search(text), "%s: the slow call shows in flight, waiting, with its pid" % n, text)
        p.communicate(timeout=CLIENT_DEADLINE_S)
        text = wait_pane(lambda x: not pat.search(x) and "IN FLIGHT  0 calls" in x, 10)
        chk.ok("IN FLIGHT  0 calls" in text, "%s: and leaves when answered" % n, text)
        before = pane()
        time.sleep(1.5)
        chk.ok(re.search(r"\d\d:\d\d:\d\d", before) and pane().split("\n")[0] != before.split("\n")[0],
               "%s: the view refreshes (its clock moves)" % n)
        tmux("send-keys", "-t", "top", "q")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and tmux("has-session", "-t", "top").returncode == 0:
            time.sleep(0.1)
        chk.ok(tmux("has-session", "-t", "top").returncode != 0, "%s: q quits" % n)
    finally:
        tmux("kill-server")
    rc, out, err = llmtap(ctx, ["top", "--db", ctx.db, "--once"])
    chk.ok(rc == 0 and "SLOWEST CALLS" in out, "%s: --once prints one frame" % n, repr((rc, out[:200], err)))
    r = subprocess.run([ctx.llmtap, "top", "--db", ctx.db], stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
                       env=cli_env())
    chk.ok(r.returncode == 2 and b"terminal" in r.stderr, "%s: without a terminal: one line, exit 2" % n, repr(r.stderr))


# ---------- 7. --version and option errors ----------

def case_cli(ctx):
    chk, n = ctx.chk, "c7 cli"
    ver = open(os.path.join(REPO, "VERSION")).read().strip()
    rc, out, err = llmtap(ctx, ["--version"])
    chk.ok(rc == 0 and out.startswith("llmtap " + ver), "%s: --version names VERSION" % n, repr(out))
    for args, opt in ((["run", "--bogus"], "--bogus"), (["stats", "--nope"], "--nope"), (["calls", "-x"], "-x"),
                      (["calls", "--limit"], "--limit"), (["report", "--html"], "--html"), (["top", "--zzz"], "--zzz"),
                      (["prices", "--what"], "--what"), (["show", "--db"], "--db"), (["dns", "--q"], "--q")):
        rc, out, err = llmtap(ctx, args)
        chk.ok(rc == 2 and len(err) == 1 and opt in err[0] and "--help" in err[0] and not out,
               "%s: `llmtap %s`: one line naming %s, a hint, exit 2" % (n, " ".join(args), opt), repr((rc, err)))
    rc, out, err = llmtap(ctx, ["frobnicate"])
    chk.ok(rc == 2 and len(err) == 1, "%s: an unknown command is one line" % n, repr(err))


# ---------- 8. install, uninstall, --db-group ----------

def case_install(ctx):
    chk, n = ctx.chk, "c8 install"
    dest = ctx.dir("destdir")
    prefix = "/opt/llmtap-test"
    mk = ["make", "--no-print-directory", "-C", REPO, "DESTDIR=" + dest, "PREFIX=" + prefix]
    r = e2e.run_cmd(mk + ["install"], 600)
    chk.eq(r.returncode, 0, "%s: make install DESTDIR PREFIX" % n)
    files = sorted(os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs)
    chk.ok(files and all(("/" + f).startswith(prefix + "/") for f in files), "%s: every file under DESTDIR/PREFIX" % n,
           repr(files))
    for f in ("bin/llmtap", "share/man/man8/llmtap.8", "lib/systemd/system/llmtap.service", "share/llmtap/prices.tsv",
              "share/doc/llmtap/CONTRACT.md", "share/doc/llmtap/CHANGELOG.md"):
        chk.ok(prefix.lstrip("/") + "/" + f in files, "%s: installs %s" % (n, f))
    b = os.path.join(dest, prefix.lstrip("/"), "bin", "llmtap")
    r = e2e.run_cmd(["readelf", "-S", b], 30) if shutil.which("readelf") else None
    chk.ok(r and b".debug_info" not in r.stdout and b".symtab" not in r.stdout, "%s: the binary is stripped" % n)
    unit = os.path.join(dest, prefix.lstrip("/"), "lib", "systemd", "system", "llmtap.service")
    chk.ok(os.path.exists(unit) and prefix + "/bin/llmtap" in open(unit).read(), "%s: the unit runs PREFIX/bin/llmtap" % n)
    r = e2e.run_cmd([b, "--version"], 30)
    chk.ok(r.returncode == 0 and r.stdout.startswith(b"llmtap "), "%s: the installed binary runs" % n)
    r = e2e.run_cmd(mk + ["uninstall"], 600)
    left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
    chk.ok(r.returncode == 0 and not left, "%s: make uninstall removes every file" % n, repr(left))
    # --db-group: a member reads the database without sudo, during and after the run
    grp = "llmtapux%s" % STAMP[-5:]
    if e2e.run_cmd(["groupadd", grp], 30).returncode != 0:
        chk.ok(False, "%s: groupadd %s" % (n, grp))
        return
    try:
        gid = __import__("grp").getgrnam(grp).gr_gid
        d = ctx.dir("shared")
        os.chmod(d, 0o755)
        db = os.path.join(d, "db", "llmtap.db")
        r = e2e.run_cmd([ctx.llmtap, "run", "--db", db, "--db-group", grp, "--duration", "1"], 60, env=cli_env())
        chk.eq(r.returncode, 0, "%s: run --db-group" % n)
        st = os.stat(db)
        chk.ok(st.st_gid == gid and st.st_mode & 0o777 == 0o640 and os.stat(os.path.dirname(db)).st_mode & 0o777 == 0o750,
               "%s: DB 0640 and dir 0750, group %s" % (n, grp), oct(st.st_mode))
        r = e2e.run_cmd(["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % gid, ctx.llmtap, "stats",
                         "--db", db], 30, env=cli_env())
        chk.ok(r.returncode == 0, "%s: a member of the group runs stats without root" % n, r.stderr.decode(errors="replace"))
        r = e2e.run_cmd(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ctx.llmtap, "stats",
                         "--db", db], 30, env=cli_env())
        chk.ok(r.returncode == 1, "%s: anyone else cannot" % n)
        rc, out, err = llmtap(ctx, ["run", "--db", db, "--db-group", "no-such-group-zz"])
        chk.ok(rc == 2 and len(err) == 1 and "--db-group" in err[0], "%s: an unknown group: one line, exit 2" % n, repr(err))
    finally:
        e2e.run_cmd(["groupdel", grp], 30)


CASES = [("calls", case_calls), ("metrics", case_metrics), ("stats", case_stats), ("prices", case_prices),
         ("report", case_report), ("top", case_top), ("cli", case_cli), ("install", case_install)]



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

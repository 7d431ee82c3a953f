#!/usr/bin/env python3
"""runs_test.py -- llmtap end-to-end tests of agent runs: tables agent_runs, agent_steps, llm_calls.run_id and `llmtap runs`.

Usage (as root, from anywhere):
    python3 tests/e2e/runs_test.py [-v] [--keep] [-k NAME]

    LLMTAP=path/to/llmtap   the binary under test (default: <repo>/build/llmtap)

One `llmtap run --sample-interval 0.5`, the test LLM server (agent_server.py: it asks for a tool call, then
answers with text) and the test agent (agent_client.py: it runs each tool call as `bash -c CMD` and sends the
result back), all on the provider host names (a private /etc/hosts). Cases:
  formats   every provider format, streamed and not (Gemini also as a streamed JSON array), tool ids
            rewritten as openclaw and gemini-cli do: one run of three steps (llm, tool, llm); the tool's
            name, id, arguments; its window (end of the response -> start of the next request); the exec
            that ran the command, its argv and exit code, marked "command"; the helpers under it; the
            tokens and cost of the run = the sums of its calls (llm_calls.run_id) = what the server said
  subproc   the tool runs a second agent process: its run is a sub-run under that tool step
  inproc    a "Task" tool answered by a second conversation in the same process: a sub-run too
  loop      the same tool call three times: flag tool_loop
  growth    a conversation whose requests grow to 90k tokens: flag context_growth (with its numbers)
  retry     a request answered 429 and sent again: flag retry, the failed call an llm step with an error
  live      while a tool runs (sleep), `llmtap runs` shows the run running and the step running
  cli       `runs` (text, --json, --since, -p, --agent), `runs ID` (tree, --json, --card), bad ids/options
Ends with the line "runs: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import json
import os
import shutil
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
from run import Checks, Procs  # noqa: E402

PY = sys.executable
CLIENT = os.path.join(HERE, "agent_client.py")
DEADLINE_S = 20
POLL_S = 0.05
HOST = {"chat": "api.openai.com", "responses": "api.openai.com", "messages": "api.anthropic.com",
        "gemini": "generativelanguage.googleapis.com"}


def query(db, sql, args=()):
    """Rows of sql as dicts; [] while the DB or the table is not there yet."""
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def wait_for(pred, timeout=DEADLINE_S):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(POLL_S)


class Env:
    """What every case uses: the server, the tracer, the DB, how to start an agent."""

    def __init__(self, tmp, port, cert, hosts, db, llmtap, procs):
        self.tmp, self.port, self.cert, self.hosts, self.db = tmp, port, cert, hosts, db
        self.llmtap, self.procs = llmtap, procs

    def spec(self, tag, fmt, **kw):
        s = {"base": "https://%s:%d" % (HOST[fmt], self.port), "cafile": self.cert, "format": fmt, "tag": tag,
             "mode": "tool"}
        s.update(kw)
        return s

    def spec_file(self, spec):
        path = os.path.join(self.tmp, "spec-%s.json" % spec["tag"])
        with open(path, "w") as f:
            json.dump(spec, f)
        return path

    def start_agent(self, spec):
        argv = e2e.in_private_hosts(self.hosts, [PY, CLIENT, self.spec_file(spec)])
        return self.procs.start(argv, env=e2e.client_env(self.cert), stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def agent(self, spec, chk):
        """Run the test agent to its end. Returns its JSON report ({} when it failed)."""
        p = self.start_agent(spec)
        out, err = p.communicate(timeout=60)
        lines = [l for l in out.decode(errors="replace").splitlines() if l.startswith("{")]
        if not chk.ok(p.returncode == 0 and lines, "%s: the agent ran" % spec["tag"],
                      "exit %r: %s" % (p.returncode, err.decode(errors="replace")[-800:])):
            return {}
        return json.loads(lines[-1])

    def cli(self, *args):
        r = subprocess.run([self.llmtap] + list(args) + ["--db", self.db], capture_output=True, timeout=30)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def runs_json(self, *args):
        rc, out, _ = self.cli("runs", "--json", *args)
        return [json.loads(l) for l in out.splitlines() if l.startswith("{")] if rc == 0 else []

    def run_of(self, pid):
        """The run(s) of pid once it ended (the agent exited), as `llmtap runs --json -p PID` lists them."""
        def done():
            rows = self.runs_json("-p", str(pid), "--limit", "100")
            return rows if rows and all(r["state"] == "ended" for r in rows) else None
        return wait_for(done) or self.runs_json("-p", str(pid), "--limit", "100")

    def show(self, run_id):
        rc, out, err = self.cli("runs", "--json", run_id)
        return json.loads(out) if rc == 0 and out.startswith("{") else None

    def wait_execs(self, run_id, seq, n):
        """The run (with steps) once step seq lists n execs that exited."""
        def ok():
            r = self.show(run_id)
            st = r and r["steps"][seq] if r and len(r["steps"]) > seq else None
            ex = st and st.get("execs") or []
            return r if len(ex) >= n and all(e["exit_code"] is not None for e in ex) else None
        return wait_for(ok) or self.show(run_id)

    def calls_of(self, run_id):
        return query(self.db, "SELECT * FROM llm_calls WHERE run_id = ? ORDER BY start_ns", (run_id,))


# ---------------------------------------------------------------- cases

FORMATS = [
    # (tag, format, stream, extra spec, exit code)
    ("F1-chat", "chat", False, {"id_style": "openclaw"}, 0),
    ("F2-chat-stream", "chat", True, {}, 3),
    ("F3-responses", "responses", False, {}, 0),
    ("F4-responses-stream", "responses", True, {}, 4),
    ("F5-messages", "messages", False, {}, 5),
    ("F6-messages-stream", "messages", True, {}, 0),
    ("F7-gemini", "gemini", False, {"id_style": "gemini"}, 6),
    ("F8-gemini-stream-sse", "gemini", True, {"id_style": "gemini"}, 0),
    ("F9-gemini-stream-array", "gemini", True, {"id_style": "gemini", "gemini_array": True}, 7),
]


def check_three_steps(chk, env, tag, run, rep, cmd, code, status):
    """A run of llm, tool, llm: the tool's fields, its window, the exec of its command."""
    steps = run["steps"] if run else []
    if not chk.eq([s["kind"] for s in steps], ["llm", "tool", "llm"], "%s: steps llm, tool, llm" % tag):
        return
    t = steps[1]
    tool = rep["tools"][0]
    chk.eq(t["tool_name"], "bash", "%s: tool name" % tag)
    chk.eq(t["tool_call_id"], tool["id"] or "bash", "%s: tool_call_id as the model gave it" % tag)
    chk.eq(json.loads(t["arguments"]), {"command": cmd}, "%s: tool arguments" % tag)
    chk.eq(t["command"], cmd, "%s: the command its arguments name" % tag)
    chk.eq(t["status"], status, "%s: tool status as the agent reported it" % tag)
    chk.eq((t["start_ns"], t["end_ns"]), (steps[0]["end_ns"], steps[2]["start_ns"]),
           "%s: tool window = end of the response -> start of the next request" % tag)
    chk.eq(t["parent_seq"], 0, "%s: the tool was asked by step 0" % tag)
    ex = t["execs"] or []
    mine = [e for e in ex if e["pid"] == tool["pid"]]
    if chk.ok(mine, "%s: the exec of the command is under the tool" % tag, repr(ex)[:400]):
        e = mine[0]
        chk.eq(e["argv"], ["bash", "-c", cmd], "%s: its argv" % tag)
        chk.eq(e["exit_code"], code, "%s: its exit code" % tag)
        chk.ok(e["command"] is True, "%s: marked as the exec carrying the command" % tag)
        chk.ok(e["exec_ns"] >= t["start_ns"] and e["exec_ns"] <= t["end_ns"] and e["duration_ms"] is not None and
               e["duration_ms"] >= 0 and e["cpu_ms"] >= 0, "%s: exec inside the window, duration and CPU" % tag,
               repr(e))
        chk.eq(t["exit_code"], code, "%s: step exit_code is the command's" % tag)
    chk.ok(any(e["comm"] == "ls" and e["command"] is False for e in ex),
           "%s: the helper process (ls) listed, not marked" % tag, repr([e["comm"] for e in ex]))


def check_sums(chk, env, tag, run):
    calls = env.calls_of(run["id"])
    chk.eq(len(calls), run["llm_calls"], "%s: llm_calls.run_id on each of its calls" % tag)
    chk.eq([s["call_id"] for s in run["steps"] if s["kind"] == "llm"], [c["id"] for c in calls],
           "%s: llm steps are its calls in order" % tag)
    chk.eq(run["input_tokens"], sum(c["input_tokens"] or 0 for c in calls), "%s: input tokens summed" % tag)
    chk.eq(run["output_tokens"], sum(c["output_tokens"] or 0 for c in calls), "%s: output tokens summed" % tag)
    want = sum(c["cost_usd"] or 0 for c in calls)
    chk.ok(run["cost_usd"] is not None and abs(run["cost_usd"] - want) < 1e-9 and want > 0,
           "%s: cost summed (%.6f)" % (tag, want), "%r vs %r" % (run["cost_usd"], want))
    for s, c in zip([s for s in run["steps"] if s["kind"] == "llm"], calls):
        # --json prints USD rounded to 1e-9 (README "JSON numbers")
        chk.ok(s["input_tokens"] == c["input_tokens"] and s["cost_usd"] is not None and
               c["cost_usd"] is not None and abs(s["cost_usd"] - c["cost_usd"]) < 1e-9,
               "%s: llm step %d carries its call's tokens and cost" % (tag, s["seq"]),
               "%r vs %r" % (s["cost_usd"], c["cost_usd"]))


def case_formats(chk, env, srv_log):
    for tag, fmt, stream, extra, code in FORMATS:
        cmd = "echo %s; ls / >/dev/null; exit %d" % (tag, code)
        rep = env.agent(env.spec(tag, fmt, stream=stream, command=cmd, **extra), chk)
        if not rep:
            continue
        runs = env.run_of(rep["pid"])
        if not chk.eq(len(runs), 1, "%s: one run for the agent" % tag):
            continue
        r = runs[0]
        chk.eq((r["llm_calls"], r["tool_calls"], r["parent_run_id"], r["flags"]), (2, 1, None, []),
               "%s: run calls, tools, parent, flags" % tag)
        chk.eq(r["agent"], "agent_client.py", "%s: agent named by its script" % tag)
        full = env.wait_execs(r["id"], 1, 2)
        status = "error" if fmt in ("messages", "gemini") and code else "ok"
        check_three_steps(chk, env, tag, full, rep, cmd, code, status)
        if full:
            check_sums(chk, env, tag, full)
        asked = [l for l in srv_log() if l.get("tag") == tag and l.get("event") == "request"]
        chk.eq(sum(l["input_tokens"] for l in asked), r["input_tokens"],
               "%s: input tokens = what the server reported" % tag)


def case_subproc(chk, env, srv_log):
    child = env.spec("S1-child", "messages", stream=True, command="echo child-tool; exit 0")
    cmd = "%s %s %s" % (PY, CLIENT, env.spec_file(child))
    rep = env.agent(env.spec("S1-parent", "chat", stream=True, command=cmd), chk)
    if not rep:
        return
    parent = env.run_of(rep["pid"])
    if not chk.eq(len(parent), 1, "subproc: one run for the parent agent"):
        return
    pr = env.wait_execs(parent[0]["id"], 1, 1)
    ex = (pr["steps"][1]["execs"] or []) if pr and len(pr["steps"]) > 1 else []
    cpid = [e["pid"] for e in ex if e["comm"] == "bash" and e["command"]]
    kids = pr["children"] if pr else []
    if not chk.eq(len(kids), 1, "subproc: one sub-run under the parent"):
        return
    k = kids[0]
    chk.eq((k["parent_run_id"], k["parent_seq"], k["root_run_id"]), (pr["id"], 1, pr["id"]),
           "subproc: the sub-run is under the tool step that ran it")
    chk.ok(k["pid"] != pr["pid"] and k["agent"] == "agent_client.py", "subproc: its own process and name")
    chk.eq([s["kind"] for s in k["steps"]], ["llm", "tool", "llm"], "subproc: the sub-run's steps")
    chk.ok(any(e["pid"] == k["pid"] for e in ex) or cpid, "subproc: the child process is an exec of the tool step",
           repr([(e["pid"], e["comm"]) for e in ex]))
    kr = env.wait_execs(k["id"], 1, 1)
    kex = (kr["steps"][1]["execs"] or []) if kr and len(kr["steps"]) > 1 else []
    chk.ok(any(e["command"] and e["argv"] == ["bash", "-c", "echo child-tool; exit 0"] for e in kex),
           "subproc: the sub-run's tool has its own exec", repr(kex)[:300])
    rows = env.runs_json("--limit", "100")
    chk.ok(any(x["id"] == k["id"] and x["parent_run_id"] == pr["id"] for x in rows),
           "subproc: runs --json lists the sub-run with parent_run_id")


def case_inproc(chk, env, srv_log):
    rep = env.agent(env.spec("I1", "chat", mode="inproc", command="delegate", sub_command="echo sub; exit 0"), chk)
    if not rep:
        return
    runs = env.run_of(rep["pid"])
    chk.eq(len(runs), 2, "inproc: two runs in one process")
    top = [r for r in runs if r["parent_run_id"] is None]
    sub = [r for r in runs if r["parent_run_id"] is not None]
    if not (chk.eq(len(top), 1, "inproc: one top-level run") and chk.eq(len(sub), 1, "inproc: one sub-run")):
        return
    t = env.show(top[0]["id"])
    chk.eq([(s["kind"], s["tool_name"]) for s in t["steps"]], [("llm", None), ("tool", "Task"), ("llm", None)],
           "inproc: the main run: llm, Task, llm")
    chk.eq((sub[0]["parent_run_id"], sub[0]["parent_seq"]), (top[0]["id"], 1), "inproc: the sub-run is under Task")
    s = env.wait_execs(sub[0]["id"], 1, 1)
    chk.eq([(x["kind"], x["tool_name"]) for x in s["steps"]], [("llm", None), ("tool", "bash"), ("llm", None)],
           "inproc: the sub-run: llm, bash, llm")
    chk.ok(any(e["command"] and e["argv"][-1] == "echo sub; exit 0" for e in s["steps"][1]["execs"] or []),
           "inproc: the sub-run's exec")
    chk.ok(t["steps"][1]["start_ns"] <= s["start_ns"] and s["end_ns"] <= t["steps"][1]["end_ns"] + 1,
           "inproc: the sub-run lies within the Task step")


def case_loop(chk, env, srv_log):
    rep = env.agent(env.spec("L1", "chat", command="echo again", repeat=3), chk)
    runs = env.run_of(rep["pid"]) if rep else []
    if not chk.eq(len(runs), 1, "loop: one run"):
        return
    r = runs[0]
    chk.eq(r["tool_calls"], 3, "loop: three tool calls")
    chk.ok("tool_loop" in r["flags"], "loop: flag tool_loop", repr(r["flags"]))
    fi = r["flag_info"] or {}
    chk.eq((fi.get("tool_loop") or {}).get("times"), 3, "loop: flag_info says 3 times")


def case_growth(chk, env, srv_log):
    toks = [10000, 20000, 35000, 50000, 70000, 90000]
    rep = env.agent(env.spec("G1", "chat", mode="grow", tokens=toks), chk)
    runs = env.run_of(rep["pid"]) if rep else []
    if not chk.eq(len(runs), 1, "growth: one run of six calls"):
        return
    r = runs[0]
    chk.eq(r["llm_calls"], 6, "growth: six calls, one conversation")
    chk.ok("context_growth" in r["flags"], "growth: flag context_growth", repr(r["flags"]))
    cg = (r["flag_info"] or {}).get("context_growth") or {}
    chk.eq((cg.get("calls"), cg.get("first"), cg.get("max")), (6, 10000, 90000), "growth: its numbers")
    chk.eq(r["max_input_tokens"], 90000, "growth: max_input_tokens")
    chk.ok(r["max_request_bytes"] and r["max_request_bytes"] > 1000, "growth: the biggest request's size")


def case_retry(chk, env, srv_log):
    rep = env.agent(env.spec("R1", "chat", mode="retry", command="true"), chk)
    runs = env.run_of(rep["pid"]) if rep else []
    if not chk.eq(len(runs), 1, "retry: one run"):
        return
    r = env.show(runs[0]["id"])
    chk.ok("retry" in r["flags"], "retry: flag retry", repr(r["flags"]))
    chk.eq(r["errors"], 1, "retry: one failed call")
    chk.eq([(s["kind"], s["status"]) for s in r["steps"]], [("llm", "error"), ("llm", "ok"), ("tool", "ok"),
                                                             ("llm", "ok")], "retry: the steps")
    chk.ok(r["steps"][0]["error"], "retry: the failed call's error on its step")


def case_live(chk, env, srv_log):
    p = env.start_agent(env.spec("V1", "responses", stream=True, command="sleep 6; echo late"))
    pid = p.pid  # the agent is exec'd by the namespace wrapper: same pid

    def running():
        rows = env.runs_json("-p", str(pid))
        if not rows or rows[0]["state"] != "running":
            return None
        r = env.show(rows[0]["id"])
        st = r["steps"] if r else []
        if len(st) == 2 and st[1]["status"] == "running" and any(e["comm"] == "sleep" for e in st[1]["execs"] or []):
            return r
        return None
    r = wait_for(running, 5.5)
    chk.ok(r, "live: while the tool runs, the run is listed running with its running tool and exec",
           repr(env.runs_json("-p", str(pid)))[:400])
    if r:
        st = r["steps"][1]
        chk.ok(st["end_ns"] is None and r["state"] == "running", "live: no end yet")
        rc, out, _ = env.cli("runs", r["id"])
        chk.ok(rc == 0 and "running" in out and "sleep 6" in out, "live: `runs ID` shows it running", out[-600:])
    p.communicate(timeout=30)
    rows = env.run_of(pid)
    chk.ok(rows and rows[0]["state"] == "ended" and rows[0]["llm_calls"] == 2, "live: then it ends")


def case_cli(chk, env, srv_log):
    rows = env.runs_json("--limit", "1000")
    chk.ok(len(rows) >= 10, "cli: runs --json lists the runs", "%d rows" % len(rows))
    for k in ("id", "pid", "comm", "start_ns", "end_ns", "llm_calls", "tool_calls", "input_tokens",
              "output_tokens", "cost_usd", "parent_run_id", "flags"):
        chk.ok(all(k in r for r in rows), "cli: --json has column %s" % k)
    chk.ok(all(isinstance(r["flags"], list) for r in rows), "cli: flags is a JSON array")
    one = [r for r in rows if r["tool_calls"] == 1 and r["parent_run_id"] is None and r["llm_calls"] == 2]
    if not chk.ok(one, "cli: a run of the formats case"):
        return
    r = one[0]
    rc, out, err = env.cli("runs")
    chk.ok(rc == 0 and r["id"] in out and "agent_client.py" in out, "cli: runs (text) lists it", out[:300] + err)
    chk.ok("\u2514 agent_client.py" in out, "cli: sub-runs are listed under their parent")
    rc, out, _ = env.cli("runs", r["id"][:13])
    chk.ok(rc == 0 and "bash" in out and "bash -c" in out and "exit" in out and "\u25b6" in out,
           "cli: runs ID (a prefix) shows the tree with the execs", out[:800])
    rc, out, _ = env.cli("runs", "--card", r["id"])
    chk.ok(rc == 0 and out.startswith("# llmtap run card") and "run: " + r["id"] in out and "steps:" in out and
           "top_cost:" in out and len(out) < 2048, "cli: --card is a short YAML card (%d bytes)" % len(out), out)
    big = [x for x in rows if x["flags"]]
    if big:
        rc, out, _ = env.cli("runs", "--card", big[0]["id"])
        chk.ok(rc == 0 and "flag_details:" in out and big[0]["flags"][0] in out, "cli: --card names the flags")
    rc, out, _ = env.cli("runs", "--json", "--since", "1h", "--limit", "1000")
    chk.eq(len([l for l in out.splitlines() if l]), len(rows), "cli: --since 1h keeps them all")
    rc, out, _ = env.cli("runs", "--json", "--since", "2000-01-01", "--agent", "nosuchagent")
    chk.ok(rc == 0 and out == "", "cli: --agent filters")
    rc, out, _ = env.cli("runs", "--json", "--agent", "agent_client.py", "--limit", "1000")
    chk.eq(len(out.splitlines()), len([x for x in rows if x["agent"] == "agent_client.py"]),
           "cli: --agent agent_client.py")
    rc, _, err = env.cli("runs", "00000000-dead")
    chk.ok(rc == 1 and "no run" in err, "cli: unknown id: exit 1, says so", err)
    rc, _, err = env.cli("runs", "--card")
    chk.ok(rc == 2 and "--card" in err, "cli: --card without an id is a usage error", err)
    rc, _, err = env.cli("runs", "--bogus")
    chk.ok(rc == 2, "cli: unknown option: exit 2")
    rc, _, err = env.cli("runs", "a%b")
    chk.ok(rc == 2 and "bad run id" in err, "cli: bad id: exit 2")
    rc, out, _ = env.cli("runs", "--help")
    chk.ok(rc == 0 and "--card" in out, "cli: --help")


CASES = [("formats", case_formats), ("subproc", case_subproc), ("inproc", case_inproc), ("loop", case_loop),
         ("growth", case_growth), ("retry", case_retry), ("live", case_live), ("cli", case_cli)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-k", default="")
    a = ap.parse_args()
    chk = Checks(a.v)
    llmtap = os.environ.get("LLMTAP", os.path.join(REPO, "build", "llmtap"))
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-runs-")
    tracer = None
    try:
        if not e2e.preflight(chk, llmtap):
            return
        cert, key = e2e.make_cert(tmp)
        hosts = e2e.hosts_file(tmp)
        sp = procs.start([PY, os.path.join(HERE, "agent_server.py"), "0", cert, key], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
        srv = e2e.LineReader(sp.stdout)
        line = srv.wait_for(lambda l: '"listening"' in l, 15)
        if not chk.ok(line, "agent_server.py listening", srv.text()[-500:]):
            return
        port = json.loads(line)["port"]
        db = os.path.join(tmp, "db", "llmtap.db")
        tracer, terr, ready = e2e.start_tracer(procs, llmtap, db, ["--sample-interval", "0.5"])
        if not chk.ok(ready, "tracer ready", terr.text()[-1000:]):
            return
        env = Env(tmp, port, cert, hosts, db, llmtap, procs)

        def srv_log():
            return [json.loads(l) for l in list(srv.lines) if l.startswith("{")]
        for name, fn in CASES:
            if a.k and a.k not in name:
                continue
            try:
                fn(chk, env, srv_log)
            except Exception:
                chk.ok(False, "%s: raised" % name, traceback.format_exc())
        chk.eq(e2e.stop_tracer(tracer), 0, "tracer exits 0 on SIGINT")
        if chk.failed:
            print(terr.text()[-3000:])
    finally:
        if tracer is not None and tracer.poll() is None:
            e2e.stop_tracer(tracer)
        procs.cleanup()
        if chk.failed or a.keep:
            print("runs: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print("runs: %d passed, %d failed" % (chk.passed, chk.failed))
    sys.exit(1 if chk.failed else 0)


if __name__ == "__main__":
    main()

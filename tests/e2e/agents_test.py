#!/usr/bin/env python3
"""agents_test.py -- real agents under `llmtap run`: each asked by the test LLM server for one shell tool call.

Usage (as root, from anywhere):
    python3 tests/e2e/agents_test.py [-v] [--keep] [-k NAME]

The agents are npm packages pinned in tests/e2e/agents/package.json (installed there with `npm ci` when
missing; when npm cannot reach its registry the suite says so and skips them):
  pi       @mariozechner/pi-coding-agent: `pi -p PROMPT` with a provider of ~/.pi/agent/models.json
           (openai-completions) on the test server
  gemini   @google/gemini-cli: `gemini --yolo -m gemini-2.5-flash -p PROMPT`, GOOGLE_GEMINI_BASE_URL
  claude   @anthropic-ai/claude-code@2.1.112 (the last cli.js build): `claude -p PROMPT --allowedTools Bash`,
           ANTHROPIC_BASE_URL
Each runs with its own HOME in a temp dir, on the provider host names (a private /etc/hosts), trusting the
test CA. The prompt carries RUN[echo TAG-ran; ls /]: agent_server.py asks the agent's shell tool for it, then
answers with text. For each agent: its run (named after it), the tool step with the agent's tool name and the
command in its arguments, the exec that carries the command marked, `ls` under it, exit code 0, the helper
processes the agent starts listed too, tokens and cost = the sums of its calls, `llmtap runs ID` showing the
command. Prints what it measured (processes per tool call, response -> next request).
Ends with the line "agents: N passed, N failed"; exit status 1 when anything failed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
AGENTS = os.path.join(HERE, "agents")
BIN = os.path.join(AGENTS, "node_modules", ".bin")
sys.path.insert(0, HERE)
import run as e2e  # noqa: E402
import runs_test  # noqa: E402
from run import Checks, Procs  # noqa: E402

PY = sys.executable
KEYS = {"openai": "sk-test-SECRETSECRET123456", "anthropic": "sk-ant-SECRETSECRET-api03-abcdef",
        "gemini": "AIzaSECRETSECRETgeminiKEY0123456"}


def install(chk):
    """The pinned agents in tests/e2e/agents/node_modules; False (said so) when npm cannot get them."""
    want = [os.path.join(BIN, b) for b in ("pi", "gemini", "claude")]
    if all(os.path.exists(w) for w in want):
        return True
    if not shutil.which("npm"):
        print("agents: SKIP: npm is not installed")
        return False
    print("agents: installing the agents with npm ci (tests/e2e/agents)", flush=True)
    env = dict(os.environ)
    ca = "/etc/ssl/certs/ca-certificates.crt"  # the registry's trust; never the test cert
    if os.path.exists(ca):
        env["NODE_EXTRA_CA_CERTS"] = ca
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=AGENTS, env=env,
                       capture_output=True, timeout=900)
    if r.returncode != 0:
        print("agents: SKIP: npm could not install the agents (registry unreachable?): " +
              (r.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1])
        return False
    return chk.ok(all(os.path.exists(w) for w in want), "the three agents installed")


def agent_argv(name, env, home, port, prompt):
    """The command line and environment of agent name against the test server."""
    if name == "pi":
        os.makedirs(os.path.join(home, ".pi", "agent"), exist_ok=True)
        with open(os.path.join(home, ".pi", "agent", "models.json"), "w") as f:
            json.dump({"providers": {"test": {
                "baseUrl": "https://api.openai.com:%d/v1" % port, "api": "openai-completions",
                "apiKey": KEYS["openai"], "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
                "models": [{"id": "gpt-4o-mini"}]}}}, f)
        return [os.path.join(BIN, "pi"), "-p", "--provider", "test", "--model", "gpt-4o-mini", prompt]
    if name == "gemini":
        os.makedirs(os.path.join(home, ".gemini"), exist_ok=True)
        with open(os.path.join(home, ".gemini", "settings.json"), "w") as f:
            json.dump({"security": {"auth": {"selectedType": "gemini-api-key"}},
                       "privacy": {"usageStatisticsEnabled": False}, "general": {"disableAutoUpdate": True}}, f)
        env.update(GEMINI_API_KEY=KEYS["gemini"], GEMINI_CLI_TRUST_WORKSPACE="true",
                   GOOGLE_GEMINI_BASE_URL="https://generativelanguage.googleapis.com:%d" % port)
        return [os.path.join(BIN, "gemini"), "--yolo", "-m", "gemini-2.5-flash", "-p", prompt]
    env.update(ANTHROPIC_API_KEY=KEYS["anthropic"], ANTHROPIC_BASE_URL="https://api.anthropic.com:%d" % port,
               DISABLE_TELEMETRY="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
    return [os.path.join(BIN, "claude"), "-p", prompt, "--allowedTools", "Bash"]


# agent -> (its name in agent_runs, its shell tool, the least processes one tool call starts)
EXPECT = {"pi": ("pi", "bash", 1), "gemini": ("gemini", "run_shell_command", 2), "claude": ("claude", "Bash", 5)}


def case_agent(chk, env, name, figures):
    tag = "A-%s" % name
    cmd = "echo %s-ran; ls /" % tag
    home = os.path.join(env.tmp, "home-" + name)
    work = os.path.join(env.tmp, "work-" + name)
    os.makedirs(work, exist_ok=True)
    cenv = e2e.client_env(env.cert)
    cenv["HOME"] = home
    argv = agent_argv(name, cenv, home, env.port, "List the files of /. RUN[%s]" % cmd)
    p = env.procs.start(e2e.in_private_hosts(env.hosts, argv), env=cenv, cwd=work, stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    if not chk.ok(p.returncode == 0 and b"done" in out, "%s: the agent finished its task" % name,
                  "exit %r\n%s\n%s" % (p.returncode, out.decode(errors="replace")[-800:],
                                       err.decode(errors="replace")[-1500:])):
        return
    agent, tool, nproc = EXPECT[name]
    # the agent may run in a child of the process started (gemini-cli relaunches itself)
    tree = {p.pid}
    for _ in range(4):
        tree |= {r["pid"] for r in runs_test.query(env.db, "SELECT pid FROM processes WHERE ppid IN (%s)" %
                                                    ",".join(map(str, tree)))}

    def ended():
        rows = [r for pid in sorted(tree) for r in env.runs_json("-p", str(pid)) if r["tool_calls"]]
        return rows if rows and all(r["state"] == "ended" for r in rows) else None
    runs = runs_test.wait_for(ended) or []
    if not chk.eq(len(runs), 1, "%s: one run with tool calls for its process" % name):
        return
    r = runs[0]
    chk.eq(r["agent"], agent, "%s: the run is named after the agent" % name)
    full = runs_test.wait_for(lambda: (lambda x: x if x and any(
        s["kind"] == "tool" and len(s["execs"] or []) >= nproc and all(e["exit_code"] is not None for e in s["execs"])
        for s in x["steps"]) else None)(env.show(r["id"]))) or env.show(r["id"])
    tools = [s for s in full["steps"] if s["kind"] == "tool"]
    if not chk.eq([s["tool_name"] for s in tools], [tool], "%s: one %s tool step" % (name, tool)):
        return
    st = tools[0]
    args = json.loads(st["arguments"])
    chk.eq(args.get("command"), cmd, "%s: the command the model asked for, in the arguments" % name)
    chk.eq(st["status"], "ok", "%s: tool status ok" % name)
    ex = st["execs"] or []
    marked = [e for e in ex if e["command"]]
    if chk.eq(len(marked), 1, "%s: one exec marked as carrying the command" % name):
        chk.ok(cmd in " ".join(marked[0]["argv"]) or marked[0].get("last_argv"),
               "%s: its argv carries the command (argv over 256 bytes kept)" % name, repr(marked[0])[:600])
        chk.eq(marked[0]["exit_code"], 0, "%s: the command's exit code" % name)
    chk.ok(any((e["argv"] or [None])[0] == "ls" or (e.get("last_argv") or [None])[0] == "ls" for e in ex),
           "%s: the command's `ls /` is under the tool" % name, repr([e["argv"][:2] for e in ex]))
    chk.ok(len(ex) >= nproc, "%s: the processes of the tool call listed (%d)" % (name, len(ex)))
    llm = [s for s in full["steps"] if s["kind"] == "llm"]
    nxt = [s for s in llm if s["start_ns"] >= st["end_ns"]]
    chk.ok(nxt and st["start_ns"] == max(s["end_ns"] for s in llm if s["seq"] < st["seq"]) and
           st["end_ns"] == nxt[0]["start_ns"], "%s: the tool's window: response end -> next request" % name)
    runs_test.check_sums(chk, env, name, full)
    rc, txt, _ = env.cli("runs", r["id"])
    chk.ok(rc == 0 and tool in txt and "ls /" in txt, "%s: `llmtap runs ID` shows the tool and its execs" % name,
           txt[-1500:])
    figures.append("%s: %s (%s), %d process(es) in the tool call, response -> next request %.0f ms, %d llm call(s)"
                   % (name, agent, tool, len(ex), (st["end_ns"] - st["start_ns"]) / 1e6, r["llm_calls"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-k", default="")
    a = ap.parse_args()
    chk = Checks(a.v)
    llmtap = os.environ.get("LLMTAP", os.path.join(REPO, "build", "llmtap"))
    procs = Procs()
    tmp = tempfile.mkdtemp(prefix="llmtap-agents-")
    tracer, figures = None, []
    try:
        if not e2e.preflight(chk, llmtap) or not install(chk):
            return
        cert, key = e2e.make_cert(tmp)
        hosts = e2e.hosts_file(tmp)
        sp = procs.start([PY, os.path.join(HERE, "agent_server.py"), "0", cert, key], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
        srv = e2e.LineReader(sp.stdout)
        line = srv.wait_for(lambda l: '"listening"' in l, 15)
        if not chk.ok(line, "agent_server.py listening", srv.text()[-500:]):
            return
        db = os.path.join(tmp, "db", "llmtap.db")
        tracer, terr, ready = e2e.start_tracer(procs, llmtap, db, ["--sample-interval", "0.5"])
        if not chk.ok(ready, "tracer ready", terr.text()[-1000:]):
            return
        env = runs_test.Env(tmp, json.loads(line)["port"], cert, hosts, db, llmtap, procs)
        for name in ("pi", "gemini", "claude"):
            if a.k and a.k not in name:
                continue
            try:
                case_agent(chk, env, name, figures)
            except Exception:
                chk.ok(False, "%s: raised" % name, traceback.format_exc())
        chk.eq(e2e.stop_tracer(tracer), 0, "tracer exits 0 on SIGINT")
        for f in figures:
            print("agents: measured: " + f)
        if chk.failed:
            print(terr.text()[-3000:])
    finally:
        if tracer is not None and tracer.poll() is None:
            e2e.stop_tracer(tracer)
        procs.cleanup()
        if chk.failed or a.keep:
            print("agents: temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print("agents: %d passed, %d failed" % (chk.passed, chk.failed))
    sys.exit(1 if chk.failed else 0)


if __name__ == "__main__":
    main()

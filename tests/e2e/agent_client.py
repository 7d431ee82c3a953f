#!/usr/bin/env python3
"""agent_client.py -- a minimal agent for the agent-run tests: it converses with an LLM API, runs the tool calls
it is asked for as shell commands (fork/exec `bash -c CMD`, as agents do) and sends the results back.

Usage: python3 agent_client.py SPEC        (SPEC: a JSON file, or the JSON itself)
  {"base": "https://api.openai.com:PORT", "cafile": PATH, "format": "chat|responses|messages|gemini",
   "stream": bool, "gemini_array": bool, "tag": TAG, "command": CMD, "mode": MODE, "id_style": STYLE, ...}
Modes:
  tool     one conversation: the model asks for a tool call, its command runs, the result goes back,
           the model answers text ("repeat": N asks N times: a tool loop)
  grow     a conversation without tools of len("tokens") calls, each reporting its input tokens
  inproc   the model asks for "Task"; the agent runs a second conversation (with a bash tool) in this
           process before it sends the Task result (an in-process sub-agent)
  retry    the first request is answered 429; the same request is sent again, then as "tool"
id_style (how the tool's id comes back in the result, as agents rewrite them):
  exact    as given;  openclaw  without "_";  gemini  functionResponse id NAME_<ms>_<i>
Prints one JSON line: {"pid", "tag", "calls", "tools": [{"id", "name", "command", "exit_code"}], "text"}.
"""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from client import sse_events  # noqa: E402

KEYS = {"openai": "sk-test-SECRETSECRET123456", "anthropic": "sk-ant-SECRETSECRET-api03-abcdef",
        "gemini": "AIzaSECRETSECRETgeminiKEY0123456"}
MODELS = {"chat": "gpt-4o-mini", "responses": "gpt-4o-mini", "messages": "claude-3-5-haiku-20241022",
          "gemini": "gemini-2.0-flash"}
SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}


class Agent:
    def __init__(self, spec):
        self.s = spec
        self.fmt = spec["format"]
        self.ctx = ssl.create_default_context(cafile=spec["cafile"])
        self.calls = 0
        self.tools = []

    # ---- the wire ----
    def url(self):
        b = self.s["base"]
        if self.fmt == "chat":
            return b + "/v1/chat/completions"
        if self.fmt == "responses":
            return b + "/v1/responses"
        if self.fmt == "messages":
            return b + "/v1/messages"
        m = b + "/v1beta/models/%s:" % MODELS["gemini"]
        if not self.s.get("stream"):
            return m + "generateContent"
        return m + ("streamGenerateContent" if self.s.get("gemini_array") else "streamGenerateContent?alt=sse")

    def post(self, body, extra=None):
        h = {"content-type": "application/json", "x-test-call": self.s["tag"],
             "x-test-command": self.s.get("command", "echo hello")}
        if self.fmt in ("chat", "responses"):
            h["authorization"] = "Bearer " + KEYS["openai"]
        elif self.fmt == "messages":
            h["x-api-key"] = KEYS["anthropic"]
            h["anthropic-version"] = "2023-06-01"
        else:
            h["x-goog-api-key"] = KEYS["gemini"]
        if self.s.get("repeat"):
            h["x-test-tool-repeat"] = str(self.s["repeat"])
        h.update(extra or {})
        req = urllib.request.Request(self.url(), data=json.dumps(body).encode(), headers=h, method="POST")
        self.calls += 1
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    # ---- requests and responses per format ----
    def first(self, text, tool_names):
        f = self.fmt
        if f == "chat":
            b = {"model": MODELS[f], "messages": [{"role": "system", "content": "You are a test agent."},
                                                  {"role": "user", "content": text}]}
            if tool_names:
                b["tools"] = [{"type": "function", "function": {"name": n, "parameters": SCHEMA}} for n in tool_names]
        elif f == "responses":
            b = {"model": MODELS[f], "instructions": "You are a test agent.",
                 "input": [{"role": "user", "content": text}]}
            if tool_names:
                b["tools"] = [{"type": "function", "name": n, "parameters": SCHEMA} for n in tool_names]
        elif f == "messages":
            b = {"model": MODELS[f], "max_tokens": 1024, "system": "You are a test agent.",
                 "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
            if tool_names:
                b["tools"] = [{"name": n, "input_schema": SCHEMA} for n in tool_names]
        else:
            b = {"systemInstruction": {"parts": [{"text": "You are a test agent."}]},
                 "contents": [{"role": "user", "parts": [{"text": text}]}]}
            if tool_names:
                b["tools"] = [{"functionDeclarations": [{"name": n, "parameters": SCHEMA} for n in tool_names]}]
        if self.s.get("stream") and f != "gemini":
            b["stream"] = True
            if f == "chat":
                b["stream_options"] = {"include_usage": True}
        return b

    def parse(self, raw):
        """(tool calls [(id, name, args)], text, the assistant turn as the format re-sends it)."""
        f, stream = self.fmt, self.s.get("stream")
        if f == "gemini":
            docs = [json.loads(d) for _, d in sse_events(raw)] if stream and not self.s.get("gemini_array") else \
                (json.loads(raw) if stream else [json.loads(raw)])
            parts = []
            for d in docs:
                parts += ((d.get("candidates") or [{}])[0].get("content") or {}).get("parts") or []
            calls = [(None, p["functionCall"]["name"], p["functionCall"].get("args") or {})
                     for p in parts if "functionCall" in p]
            text = "".join(p.get("text", "") for p in parts)
            return calls, text, {"role": "model", "parts": [p for p in parts if p.get("text") or "functionCall" in p]}
        if not stream:
            d = json.loads(raw)
            if f == "chat":
                m = d["choices"][0]["message"]
                calls = [(t["id"], t["function"]["name"], json.loads(t["function"]["arguments"]))
                         for t in m.get("tool_calls") or []]
                return calls, m.get("content") or "", m
            if f == "responses":
                out = d["output"]
                calls = [(i["call_id"], i["name"], json.loads(i["arguments"])) for i in out if i["type"] == "function_call"]
                text = "".join(c.get("text", "") for i in out if i["type"] == "message" for c in i["content"])
                return calls, text, out
            content = d["content"]
            calls = [(b["id"], b["name"], b["input"]) for b in content if b["type"] == "tool_use"]
            return calls, "".join(b.get("text", "") for b in content), {"role": "assistant", "content": content}
        events = [(e, json.loads(d)) for e, d in sse_events(raw) if d != "[DONE]"]
        if f == "chat":
            calls, text = {}, ""
            for _, c in events:
                for ch in c.get("choices") or []:
                    dl = ch.get("delta") or {}
                    text += dl.get("content") or ""
                    for t in dl.get("tool_calls") or []:
                        slot = calls.setdefault(t["index"], {"id": None, "name": None, "args": ""})
                        slot["id"] = t.get("id") or slot["id"]
                        fn = t.get("function") or {}
                        slot["name"] = fn.get("name") or slot["name"]
                        slot["args"] += fn.get("arguments") or ""
            tc = [(v["id"], v["name"], json.loads(v["args"])) for _, v in sorted(calls.items())]
            msg = {"role": "assistant", "content": text or None}
            if tc:
                msg["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                                     for i, n, a in tc]
            return tc, text, msg
        if f == "responses":
            out = next(c["response"]["output"] for _, c in events if c.get("type") == "response.completed")
            calls = [(i["call_id"], i["name"], json.loads(i["arguments"])) for i in out if i["type"] == "function_call"]
            text = "".join(c.get("text", "") for i in out if i["type"] == "message" for c in i["content"])
            return calls, text, out
        blocks, text = {}, ""
        for _, c in events:
            if c["type"] == "content_block_start":
                blocks[c["index"]] = dict(c["content_block"], _json="")
            elif c["type"] == "content_block_delta":
                d = c["delta"]
                if d["type"] == "text_delta":
                    blocks[c["index"]]["text"] = blocks[c["index"]].get("text", "") + d["text"]
                    text += d["text"]
                elif d["type"] == "input_json_delta":
                    blocks[c["index"]]["_json"] += d["partial_json"]
        content = []
        for _, b in sorted(blocks.items()):
            if b["type"] == "tool_use":
                b["input"] = json.loads(b["_json"] or "{}")
            b.pop("_json")
            content.append(b)
        calls = [(b["id"], b["name"], b["input"]) for b in content if b["type"] == "tool_use"]
        return calls, text, {"role": "assistant", "content": content}

    def result_id(self, cid, name, i):
        style = self.s.get("id_style", "exact")
        if style == "openclaw" and cid:
            return cid.replace("_", "")
        if style == "gemini" or cid is None:
            return "%s_%d_%d" % (name, int(time.time() * 1000), i)
        return cid

    def extend(self, body, turn, results):
        """Append the assistant turn and the tool results [(id, name, output, failed)] to the request body."""
        f = self.fmt
        if f == "chat":
            turn = dict(turn)
            for t, r in zip(turn.get("tool_calls") or [], results):
                t["id"] = r[0]
            body["messages"] += [turn] + [{"role": "tool", "tool_call_id": i, "content": o} for i, _, o, _ in results]
        elif f == "responses":
            body["input"] += turn + [{"type": "function_call_output", "call_id": i, "output": o}
                                     for i, _, o, _ in results]
        elif f == "messages":
            body["messages"] += [turn, {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": i, "content": o, "is_error": bad} for i, _, o, bad in results]}]
        else:
            body["contents"] += [turn, {"role": "user", "parts": [
                {"functionResponse": {"id": i, "name": n, "response": {"error": o} if bad else {"output": o}}}
                for i, n, o, bad in results]}]

    def user_turn(self, body, turn, text):
        f = self.fmt
        if f == "chat":
            body["messages"] += [turn, {"role": "user", "content": text}]
        elif f == "responses":
            body["input"] += turn + [{"role": "user", "content": text}]
        elif f == "messages":
            body["messages"] += [turn, {"role": "user", "content": [{"type": "text", "text": text}]}]
        else:
            body["contents"] += [turn, {"role": "user", "parts": [{"text": text}]}]

    # ---- running tools ----
    def run_tool(self, name, args):
        """Run a tool call: a shell command (fork/exec bash -c), or for Task a sub-agent in this process.
        Returns (output, failed, the record of it)."""
        if name == "Task":
            sub = Agent(dict(self.s, mode="tool", tag=self.s["tag"] + "-sub", command=self.s["sub_command"]))
            text = sub.conversation("sub-agent work for " + self.s["tag"], ["bash"])
            self.calls += sub.calls
            return text, False, {"name": name, "command": args.get("command"), "sub_tools": sub.tools}
        p = subprocess.Popen(["bash", "-c", args.get("command", "")], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out, _ = p.communicate(timeout=60)
        rec = {"name": name, "command": args.get("command"), "exit_code": p.returncode, "pid": p.pid}
        return out.decode(errors="replace") + "\n(exit %d)" % p.returncode, p.returncode != 0, rec

    def conversation(self, text, tool_names, extra=None):
        body = self.first(text, tool_names)
        for _ in range(10):
            status, raw = self.post(body, extra)
            if status != 200:
                raise RuntimeError("HTTP %d: %s" % (status, raw[:200]))
            calls, text, turn = self.parse(raw)
            if not calls:
                return text
            results = []
            for i, (cid, name, args) in enumerate(calls):
                out, bad, rec = self.run_tool(name, args)
                rid = self.result_id(cid, name, i)
                rec.update(id=cid, result_id=rid)
                self.tools.append(rec)
                results.append((rid, name, out, bad))
            self.extend(body, turn, results)
        raise RuntimeError("the model kept asking for tools")


def main():
    arg = sys.argv[1]
    spec = json.load(open(arg)) if os.path.exists(arg) else json.loads(arg)
    a = Agent(spec)
    mode = spec.get("mode", "tool")
    marker = "task %s" % spec["tag"]
    if mode == "tool":
        text = a.conversation(marker, ["bash"])
    elif mode == "inproc":
        text = a.conversation(marker, ["Task"])
    elif mode == "retry":
        body = a.first(marker, ["bash"])
        status, _ = a.post(body, {"x-test-status": "429"})
        assert status == 429, status
        text = a.conversation(marker, ["bash"])
    elif mode == "grow":
        body, text = a.first(marker, []), ""
        for i, n in enumerate(spec["tokens"]):
            status, raw = a.post(body, {"x-test-input-tokens": str(n)})
            _, text, turn = a.parse(raw)
            a.user_turn(body, turn, "go on %d %s" % (i, "x" * 200))
    else:
        raise SystemExit("unknown mode " + mode)
    print(json.dumps({"pid": os.getpid(), "tag": spec["tag"], "calls": a.calls, "tools": a.tools, "text": text}),
          flush=True)


if __name__ == "__main__":
    main()

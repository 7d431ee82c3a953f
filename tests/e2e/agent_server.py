#!/usr/bin/env python3
"""agent_server.py -- a local HTTPS LLM API for the agent-run tests: it asks for a tool call, then answers with text.

Usage: python3 agent_server.py PORT CERT.pem KEY.pem
  PORT 0 picks a free port; 127.0.0.1 only, HTTP/1.1, TCP_NODELAY. Prints one JSON line per event
  on stdout: {"event": "listening", "port": N}, then {"event": "request", "path", "tag", "asked", ...}.

Every provider format, streamed (SSE; Gemini also as a streamed JSON array without alt=sse) or not:
  POST /v1/chat/completions            OpenAI chat (tool_calls; stream deltas split by index)
  POST /v1/responses                   OpenAI Responses (function_call items; argument deltas)
  POST /v1/messages                    Anthropic (tool_use blocks; input_json_delta pieces)
  POST /v1beta/models/M:generateContent, :streamGenerateContent[?alt=sse]   Gemini (functionCall, no id)

The answer to a request: when it declares tools and its last message is not a tool result (or fewer
tool results than x-test-tool-repeat), a call of its shell tool (bash, Bash, run_shell_command, exec,
exec_command, shell; else its first tool) with {"command": CMD}; else text "done <tag>". CMD is
x-test-command, else the text in RUN[...] in the request's messages (how a real agent's prompt asks
for it), else "echo hello". Knobs (request headers): x-test-call TAG, x-test-command CMD,
x-test-tool-repeat N (ask the same call until N results came), x-test-input-tokens N (the usage
reported; default len(body) // 4), x-test-status N (an error answer with that status). Token counts
(.../count_tokens, ...:countTokens) get a fixed count.
"""
import http.server
import json
import os
import re
import socket
import ssl
import sys
import threading
import time

OUT_TOKENS = 7
MODELS = {"chat": "gpt-4o-mini-2024-07-18", "responses": "gpt-4o-mini-2024-07-18",
          "messages": "claude-3-5-haiku-20241022", "gemini": "gemini-2.0-flash"}
SHELL_TOOLS = ("bash", "Bash", "run_shell_command", "exec", "exec_command", "shell")
RUN_RE = re.compile(r"RUN\[([^\]]+)\]")
_lock = threading.Lock()
_seq = [0]


def log(obj):
    with _lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def next_id():
    with _lock:
        _seq[0] += 1
        return "%d%06d" % (os.getpid() % 1000, _seq[0])


def tools_of(fmt, body):
    """The declared tools' names."""
    names = []
    for t in body.get("tools") or []:
        if fmt == "chat":
            names.append((t.get("function") or {}).get("name"))
        elif fmt == "gemini":
            names += [d.get("name") for d in t.get("functionDeclarations") or []]
        else:
            names.append(t.get("name"))
    return [n for n in names if n]


def shell_tool(names):
    """The tool to ask for: a shell tool when one is declared, else the first."""
    for n in SHELL_TOOLS:
        if n in names:
            return n
    return names[0]


def marked_command(obj):
    """The command a prompt asks for with RUN[...], searched in every string of the request; None."""
    if isinstance(obj, str):
        m = RUN_RE.search(obj)
        return m.group(1) if m else None
    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else []
    for v in items:
        c = marked_command(v)
        if c:
            return c
    return None


def schema_value(schema, depth=0):
    """A value that fits a JSON schema (an agent's structured side calls: the first enum value,
    every property of an object)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    t = str(schema.get("type", "object")).lower()
    if schema.get("enum"):
        return schema["enum"][0]
    if t == "object":
        return {k: schema_value(v, depth + 1) for k, v in (schema.get("properties") or {}).items()}
    if t == "array":
        return []
    if t in ("number", "integer"):
        return 1
    if t == "boolean":
        return False
    return "user"


def results_of(fmt, body):
    """(number of tool results in the request, whether the last message is one)."""
    if fmt == "chat":
        msgs = body.get("messages") or []
        n = sum(1 for m in msgs if m.get("role") == "tool")
        return n, bool(msgs) and msgs[-1].get("role") == "tool"
    if fmt == "responses":
        items = body.get("input")
        if not isinstance(items, list):
            return 0, False
        kinds = ("function_call_output", "custom_tool_call_output")
        n = sum(1 for i in items if isinstance(i, dict) and i.get("type") in kinds)
        return n, bool(items) and isinstance(items[-1], dict) and items[-1].get("type") in kinds
    if fmt == "messages":
        msgs = body.get("messages") or []
        n, last = 0, False
        for m in msgs:
            c = m.get("content")
            has = isinstance(c, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in c)
            n += sum(1 for b in c if isinstance(b, dict) and b.get("type") == "tool_result") if isinstance(c, list) else 0
            last = has
        return n, last
    conts = body.get("contents") or []
    n, last = 0, False
    for c in conts:
        parts = c.get("parts") or []
        k = sum(1 for p in parts if "functionResponse" in p)
        n += k
        last = k > 0
    return n, last


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self, ctype):
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        time.sleep(0.002)

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def sse(self, obj, event=None):
        self.chunk(("event: %s\n" % event if event else "") + "data: %s\n\n" % json.dumps(obj))

    def do_GET(self):
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": {"message": "bad json"}})
        path = self.path
        if path.split("?")[0].endswith("count_tokens"):
            return self.send_json(200, {"input_tokens": 10})
        if ":countTokens" in path:
            return self.send_json(200, {"totalTokens": 10})
        route = path.split("?")[0]
        if route.endswith("/chat/completions"):
            fmt = "chat"
        elif route.endswith("/responses"):
            fmt = "responses"
        elif route.endswith("/messages"):
            fmt = "messages"
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            fmt = "gemini"
        else:
            return self.send_json(404, {"error": {"message": "unknown path " + path}})
        tag = self.headers.get("x-test-call", "")
        status = int(self.headers.get("x-test-status") or 200)
        tokens = int(self.headers.get("x-test-input-tokens") or max(1, len(raw) // 4))
        command = self.headers.get("x-test-command") or marked_command(body) or "echo hello"
        repeat = int(self.headers.get("x-test-tool-repeat") or 1)
        tools = tools_of(fmt, body)
        nres, last_is_result = results_of(fmt, body)
        ask = bool(tools) and (not last_is_result or nres < repeat)
        stream = bool(body.get("stream")) or ":streamGenerateContent" in path
        log({"event": "request", "path": path, "tag": tag, "format": fmt, "stream": stream, "asked": ask,
             "tool": shell_tool(tools) if ask else None, "command": command if ask else None, "results": nres, "input_tokens": tokens, "status": status})
        if status != 200:
            return self.send_json(status, {"error": {"message": "test error", "type": "rate_limit_error",
                                                     "code": "rate_limit_exceeded"}})
        call = (shell_tool(tools), {"command": command}) if ask else None
        text = "done %s" % tag
        gc = body.get("generationConfig") or {}
        if fmt == "gemini" and not ask and gc.get("responseMimeType") == "application/json":
            text = json.dumps(schema_value(gc.get("responseJsonSchema") or gc.get("responseSchema") or {}))
        getattr(self, "answer_" + fmt)(body, stream, call, text, tokens, path)

    # ---- OpenAI chat ----
    def answer_chat(self, body, stream, call, text, tokens, path):
        cid = "chatcmpl-%s" % next_id()
        usage = {"prompt_tokens": tokens, "completion_tokens": OUT_TOKENS, "total_tokens": tokens + OUT_TOKENS}
        tid = "call_%s" % next_id()
        args = json.dumps(call[1]) if call else None
        if not stream:
            msg = {"role": "assistant", "content": None if call else text}
            if call:
                msg["tool_calls"] = [{"id": tid, "type": "function", "function": {"name": call[0], "arguments": args}}]
            return self.send_json(200, {"id": cid, "object": "chat.completion", "model": MODELS["chat"],
                                        "choices": [{"index": 0, "message": msg,
                                                     "finish_reason": "tool_calls" if call else "stop"}],
                                        "usage": usage})
        self.start_stream("text/event-stream")

        def chunk(delta, finish=None, u=None):
            c = {"id": cid, "object": "chat.completion.chunk", "model": MODELS["chat"],
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else []}
            if u:
                c["usage"] = u
            self.sse(c)
        chunk({"role": "assistant", "content": None if call else ""})
        if call:
            chunk({"tool_calls": [{"index": 0, "id": tid, "type": "function",
                                   "function": {"name": call[0], "arguments": ""}}]})
            half = len(args) // 2
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:half]}}]})
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]})
        else:
            for piece in (text[:3], text[3:]):
                chunk({"content": piece})
        chunk({}, "tool_calls" if call else "stop")
        chunk(None, None, usage)
        self.chunk("data: [DONE]\n\n")
        self.end_stream()

    # ---- OpenAI Responses ----
    def answer_responses(self, body, stream, call, text, tokens, path):
        rid = "resp_%s" % next_id()
        usage = {"input_tokens": tokens, "output_tokens": OUT_TOKENS, "total_tokens": tokens + OUT_TOKENS}
        if call:
            item = {"id": "fc_%s" % next_id(), "type": "function_call", "status": "completed",
                    "arguments": json.dumps(call[1]), "call_id": "call_%s" % next_id(), "name": call[0]}
        else:
            item = {"id": "msg_%s" % next_id(), "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
        done = {"id": rid, "object": "response", "status": "completed", "model": MODELS["responses"],
                "output": [item], "usage": usage}
        if not stream:
            return self.send_json(200, done)
        self.start_stream("text/event-stream")
        self.sse({"type": "response.created", "response": dict(done, status="in_progress", output=[], usage=None)},
                 "response.created")
        if call:
            added = dict(item, status="in_progress", arguments="")
            self.sse({"type": "response.output_item.added", "output_index": 0, "item": added},
                     "response.output_item.added")
            args = item["arguments"]
            for piece in (args[:5], args[5:]):
                self.sse({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                          "output_index": 0, "delta": piece}, "response.function_call_arguments.delta")
            self.sse({"type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": 0,
                      "arguments": args}, "response.function_call_arguments.done")
        else:
            self.sse({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                      "content_index": 0, "delta": text}, "response.output_text.delta")
        self.sse({"type": "response.output_item.done", "output_index": 0, "item": item}, "response.output_item.done")
        self.sse({"type": "response.completed", "response": done}, "response.completed")
        self.end_stream()

    # ---- Anthropic ----
    def answer_messages(self, body, stream, call, text, tokens, path):
        mid = "msg_%s" % next_id()
        tid = "toolu_%s" % next_id()
        usage = {"input_tokens": tokens, "output_tokens": OUT_TOKENS}
        if not stream:
            content = [{"type": "tool_use", "id": tid, "name": call[0], "input": call[1]}] if call else \
                [{"type": "text", "text": text}]
            return self.send_json(200, {"id": mid, "type": "message", "role": "assistant",
                                        "model": MODELS["messages"], "content": content,
                                        "stop_reason": "tool_use" if call else "end_turn", "usage": usage})
        self.start_stream("text/event-stream")
        self.sse({"type": "message_start", "message": {"id": mid, "type": "message", "role": "assistant",
                                                        "model": MODELS["messages"], "content": [],
                                                        "usage": {"input_tokens": tokens, "output_tokens": 1}}},
                 "message_start")
        if call:
            self.sse({"type": "content_block_start", "index": 0,
                      "content_block": {"type": "tool_use", "id": tid, "name": call[0], "input": {}}},
                     "content_block_start")
            args = json.dumps(call[1])
            for piece in (args[:4], args[4:]):
                self.sse({"type": "content_block_delta", "index": 0,
                          "delta": {"type": "input_json_delta", "partial_json": piece}}, "content_block_delta")
        else:
            self.sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                     "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
                     "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": "tool_use" if call else "end_turn"},
                  "usage": {"output_tokens": OUT_TOKENS}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")
        self.end_stream()

    # ---- Gemini ----
    def answer_gemini(self, body, stream, call, text, tokens, path):
        part = {"functionCall": {"name": call[0], "args": call[1]}} if call else {"text": text}
        doc = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": {"promptTokenCount": tokens, "candidatesTokenCount": OUT_TOKENS,
                                 "totalTokenCount": tokens + OUT_TOKENS},
               "modelVersion": MODELS["gemini"]}
        if not stream:
            return self.send_json(200, doc)
        first = {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "index": 0}],
                 "modelVersion": MODELS["gemini"]}
        if "alt=sse" in path:
            self.start_stream("text/event-stream")
            self.sse(first)
            self.sse(doc)
        else:
            self.start_stream("application/json")
            self.chunk("[" + json.dumps(first))
            self.chunk(",\r\n" + json.dumps(doc))
            self.chunk("]")
        self.end_stream()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    srv = Server(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    # the handshake happens in the handler's thread: a slow client stalls no other
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    log({"event": "listening", "port": srv.server_address[1], "pid": os.getpid()})
    srv.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""client.py -- Python urllib LLM API client for llmtap's end-to-end tests, and the shared response summarizer.

As a script:  python3 client.py SPEC.json
  SPEC = {"cafile": PATH, "calls": [{"tag", "endpoint", "stream", "url", "headers", "body"}],
          "wait_stdin": false}
  With "wait_stdin" true it first prints {"event": "waiting", "pid"} and reads one line from
  stdin (so a driver can start a tracer for this pid first). Then it
  makes each call in order with urllib (stdlib only, the system OpenSSL), reading
  streams line by line as they arrive, and prints one JSON line per call:
  {"tag", "pid", "comm", "exe", "status", "content_type", "summary": {...}}.

As a module (run.py imports it): summarize() turns a raw response body of any
endpoint (JSON or SSE, as a real client would read it) into the fields the tests
compare: text, model, token counts, finish_reason.
"""
import json
import os
import ssl
import sys
import urllib.error
import urllib.request


def sse_events(text):
    """Split SSE text into (event, data) pairs; lines end in \\n or \\r\\n."""
    events, ev, data = [], "", []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "":
            if data:
                events.append((ev, "\n".join(data)))
            ev, data = "", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "event":
                ev = value
            elif name == "data":
                data.append(value)
    if data:
        events.append((ev, "\n".join(data)))
    return events


def _blank():
    return {"text": None, "model": None, "input_tokens": None, "output_tokens": None,
            "cache_read_tokens": None, "cache_write_tokens": None, "reasoning_tokens": None,
            "finish_reason": None, "error": None}


def _openai_chat_usage(s, u):
    if not u:
        return
    s["input_tokens"] = u.get("prompt_tokens")
    s["output_tokens"] = u.get("completion_tokens")
    s["cache_read_tokens"] = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
    s["reasoning_tokens"] = (u.get("completion_tokens_details") or {}).get("reasoning_tokens")


def _responses_usage(s, u):
    if not u:
        return
    s["input_tokens"] = u.get("input_tokens")
    s["output_tokens"] = u.get("output_tokens")
    s["cache_read_tokens"] = (u.get("input_tokens_details") or {}).get("cached_tokens")
    s["reasoning_tokens"] = (u.get("output_tokens_details") or {}).get("reasoning_tokens")


def _anthropic_usage(s, u):
    if not u:
        return
    for key, field in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                       ("cache_read_input_tokens", "cache_read_tokens"),
                       ("cache_creation_input_tokens", "cache_write_tokens")):
        if key in u:
            s[field] = u[key]


def _gemini_chunk(s, obj, parts):
    for cand in obj.get("candidates") or []:
        for p in (cand.get("content") or {}).get("parts") or []:
            if "text" in p:
                parts.append(p["text"])
        if cand.get("finishReason"):
            s["finish_reason"] = cand["finishReason"]
    u = obj.get("usageMetadata")
    if u:
        s["input_tokens"] = u.get("promptTokenCount")
        s["output_tokens"] = u.get("candidatesTokenCount")
        s["cache_read_tokens"] = u.get("cachedContentTokenCount")
        s["reasoning_tokens"] = u.get("thoughtsTokenCount")
    if obj.get("modelVersion"):
        s["model"] = obj["modelVersion"]


def summarize(endpoint, stream, body):
    """Summarize a decoded response body (str or bytes) of endpoint
    (openai_chat | openai_responses | anthropic_messages | gemini_generate)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    s = _blank()
    if not stream:
        obj = json.loads(body)
        if obj.get("error"):
            err = obj["error"]
            s["error"] = err.get("message") if isinstance(err, dict) else str(err)
            return s
        if endpoint == "openai_chat":
            s["model"] = obj.get("model")
            ch = obj["choices"][0]
            s["text"] = ch["message"].get("content")
            s["finish_reason"] = ch.get("finish_reason")
            _openai_chat_usage(s, obj.get("usage"))
        elif endpoint == "openai_responses":
            s["model"] = obj.get("model")
            s["text"] = "".join(c.get("text", "") for it in obj.get("output", [])
                                if it.get("type") == "message" for c in it.get("content", [])
                                if c.get("type") == "output_text")
            _responses_usage(s, obj.get("usage"))
        elif endpoint == "anthropic_messages":
            s["model"] = obj.get("model")
            s["text"] = "".join(c.get("text", "") for c in obj.get("content", []) if c.get("type") == "text")
            s["finish_reason"] = obj.get("stop_reason")
            _anthropic_usage(s, obj.get("usage"))
        elif endpoint == "gemini_generate":
            parts = []
            _gemini_chunk(s, obj, parts)
            s["text"] = "".join(parts)
        else:
            raise ValueError("unknown endpoint " + endpoint)
        return s

    parts = []
    for ev, data in sse_events(body):
        if data == "[DONE]":
            continue
        obj = json.loads(data)
        if endpoint == "openai_chat":
            s["model"] = obj.get("model") or s["model"]
            for ch in obj.get("choices") or []:
                c = (ch.get("delta") or {}).get("content")
                if c:
                    parts.append(c)
                if ch.get("finish_reason"):
                    s["finish_reason"] = ch["finish_reason"]
            _openai_chat_usage(s, obj.get("usage"))
        elif endpoint == "openai_responses":
            t = obj.get("type")
            if t == "response.output_text.delta":
                parts.append(obj["delta"])
            elif t in ("response.created", "response.completed"):
                s["model"] = obj["response"].get("model")
                _responses_usage(s, obj["response"].get("usage"))
        elif endpoint == "anthropic_messages":
            t = obj.get("type")
            if t == "message_start":
                s["model"] = obj["message"].get("model")
                _anthropic_usage(s, obj["message"].get("usage"))
            elif t == "content_block_delta" and obj["delta"].get("type") == "text_delta":
                parts.append(obj["delta"]["text"])
            elif t == "message_delta":
                s["finish_reason"] = obj["delta"].get("stop_reason")
                _anthropic_usage(s, obj.get("usage"))
        elif endpoint == "gemini_generate":
            _gemini_chunk(s, obj, parts)
        else:
            raise ValueError("unknown endpoint " + endpoint)
    s["text"] = "".join(parts)
    return s


def self_identity():
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    return {"pid": os.getpid(), "comm": comm, "exe": os.path.realpath("/proc/self/exe")}


def do_call(ctx, call):
    data = json.dumps(call["body"]).encode("utf-8")
    req = urllib.request.Request(call["url"], data=data, method="POST", headers=call["headers"])
    try:
        resp = urllib.request.urlopen(req, context=ctx, timeout=30)
    except urllib.error.HTTPError as e:
        resp = e
    status = resp.status if hasattr(resp, "status") else resp.code
    ctype = resp.headers.get("content-type", "")
    if call["stream"]:
        parts = []
        while True:  # consume the stream as it arrives, like an SDK would
            # read1, not readline: readline ends quietly where a chunked body is cut short,
            # read1 raises IncompleteRead there (as a real SDK reports an error)
            part = resp.read1(65536)
            if not part:
                break
            parts.append(part)
        raw = b"".join(parts)
    else:
        raw = resp.read()
    resp.close()
    try:
        summary = summarize(call["endpoint"], call["stream"] and status == 200, raw)
    except (ValueError, KeyError, IndexError, TypeError) as e:
        summary = {"parse_error": repr(e), "raw": raw.decode("utf-8", "replace")[:2000]}
    return {"tag": call["tag"], "status": status, "content_type": ctype, "summary": summary}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: client.py SPEC.json\n")
        return 2
    with open(argv[1]) as f:
        spec = json.load(f)
    ctx = ssl.create_default_context(cafile=spec["cafile"])
    ident = self_identity()
    if spec.get("wait_stdin"):
        print(json.dumps({"event": "waiting", "pid": ident["pid"]}), flush=True)
        sys.stdin.readline()
    rc = 0
    for call in spec["calls"]:
        try:
            out = do_call(ctx, call)
        except Exception as e:  # report, keep going: the driver counts failures
            out = {"tag": call["tag"], "status": None, "exception": repr(e)}
            rc = 1
        out.update(ident)
        print(json.dumps(out), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))

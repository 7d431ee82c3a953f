# latency_server.py -- the latency suite's injectors: an HTTPS OpenAI chat server with TLS/first-byte/stream-gap delays, and a delaying DNS responder.
"""Two servers for tests/e2e/latency_test.py (python3 stdlib only). Each prints one JSON line per
event on stdout, the first one {"event": "listening", ...}, and runs until killed.

    python3 latency_server.py https CONFIG.json
        CONFIG = {"cert": PATH, "key": PATH,
                  "listeners": [{"name": N, "addr": "127.0.0.1", "port": 0, "tls_delay_ms": D}]}
        Prints {"event": "listening", "ports": {N: port}}.

        Per listening port: after accepting a TCP connection it sleeps tls_delay_ms, then does the
        server side of the TLS handshake (the client's handshake therefore takes ~tls_delay_ms).
        TCP_NODELAY on every socket; ALPN http/1.1 only; keep-alive unless the client says close.

        Per request (headers): x-lat-ttfb-ms (default 0), x-lat-gap-ms (default 0),
        x-lat-events (default 4), x-test-call (a tag, logged). POST /v1/chat/completions with
        {"stream": true} answers Server-Sent Events, else one JSON body. Time 0 is when the whole
        request (headers and body) has been received:
          non-stream: at ttfb      the whole response (headers + JSON with usage), one write
          stream:     at ttfb      headers + content event 1, one write
                      at ttfb+k*gap  content event k+1 (k = 1 .. events-1)
                      at ttfb+events*gap  the finish chunk, the usage chunk, data: [DONE] and the
                                   last chunk of the chunked body, one write
        so ttft ~ ttfb and the last response byte ~ ttfb + events * gap. Deadlines are absolute
        (no drift across events). Logs {"event": "handshake", conn, tls_delay_ms, waited_ms (the
        delay actually slept), handshake_ms} and {"event": "request", tag, conn, seq, port, stream,
        ttfb_ms, gap_ms, events, body_len, recv_ms (first -> last request byte received),
        first_ms, last_ms (when the first and the last response bytes were actually written, from
        the last request byte received: a loaded host may make them later than asked)}.

    python3 latency_server.py dns CONFIG.json
        CONFIG = {"addr": "127.0.0.1", "port": 53,
                  "names": {NAME: {"a": "127.0.0.1", "delay_ms": D}}}
        UDP. Answers A queries for NAME with its address and AAAA queries with no data, each
        delay_ms after it arrived (replies are scheduled, so the parallel A and AAAA of one
        getaddrinfo both come back after ~delay_ms, not twice that). Unknown names: NXDOMAIN at
        once. Logs {"event": "query", "name", "qtype", "delay_ms"} and {"event": "reply", "name",
        "qtype", "late_ms" (how much later than asked it was sent)}.
"""
import heapq
import json
import select
import socket
import ssl
import struct
import sys
import threading
import time

MODEL = "gpt-4o-mini-2024-07-18"
PROMPT_TOKENS = 11
_log_lock = threading.Lock()


def log(**ev):
    with _log_lock:
        sys.stdout.write(json.dumps(ev) + "\n")
        sys.stdout.flush()


def ms(seconds):
    return round(seconds * 1000, 3)


def sleep_until(t):
    """Injected delay (not synchronisation): sleeps until monotonic time t."""
    while True:
        left = t - time.monotonic()
        if left <= 0:
            return
        time.sleep(left)


# ---------- HTTPS ----------

def stream_text(n):
    return "".join("tok%d " % k for k in range(n))


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse(obj):
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def chat_chunk(delta, finish=None, usage=None, choices=True):
    o = {"id": "chatcmpl-latency", "object": "chat.completion.chunk", "created": int(time.time()),
         "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}
    if usage is not None:
        o["usage"] = usage
    return o


class Conn:
    """One accepted TCP connection: delayed handshake, then HTTP/1.1 requests until close."""
    counter = 0
    counter_lock = threading.Lock()

    def __init__(self, ctx, sock, listener):
        self.ctx, self.raw, self.listener = ctx, sock, listener
        with Conn.counter_lock:
            Conn.counter += 1
            self.id = Conn.counter
        self.buf = b""
        self.tls = None

    def run(self):
        try:
            self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t0 = time.monotonic()
            sleep_until(t0 + self.listener["tls_delay_ms"] / 1000.0)
            t1 = time.monotonic()
            self.tls = self.ctx.wrap_socket(self.raw, server_side=True)
            log(event="handshake", conn=self.id, port=self.listener["port"],
                tls_delay_ms=self.listener["tls_delay_ms"], waited_ms=ms(t1 - t0),
                handshake_ms=ms(time.monotonic() - t1), version=self.tls.version())
            seq = 0
            while True:
                req = self.read_request()
                if req is None:
                    break
                seq += 1
                if not self.answer(req, seq):
                    break
        except (OSError, ssl.SSLError, ValueError) as e:
            log(event="conn_error", conn=self.id, error=repr(e))
        finally:
            for s in (self.tls, self.raw):
                try:
                    if s is not None:
                        s.close()
                except OSError:
                    pass

    def recv_more(self):
        d = self.tls.recv(65536)
        if not d:
            return False
        self.buf += d
        return True

    def read_request(self):
        """(method, path, headers, body, t_first, t_last) or None at EOF."""
        t_first = time.monotonic() if self.buf else None
        while b"\r\n\r\n" not in self.buf:
            if not self.recv_more():
                return None
            if t_first is None:
                t_first = time.monotonic()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("expect", "").lower() == "100-continue":
            self.tls.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            if not self.recv_more():
                return None
        body, self.buf = self.buf[:n], self.buf[n:]
        return method, path, headers, body, t_first, time.monotonic()

    def answer(self, req, seq):
        method, path, h, body, t_first, t_last = req
        ttfb = float(h.get("x-lat-ttfb-ms", "0"))
        gap = float(h.get("x-lat-gap-ms", "0"))
        events = int(h.get("x-lat-events", "4"))
        close = h.get("connection", "").lower() == "close"
        try:
            js = json.loads(body or b"{}")
        except ValueError:
            js = {}
        stream = bool(js.get("stream")) if isinstance(js, dict) else False
        conn_hdr = b"Connection: close\r\n" if close else b"Connection: keep-alive\r\n"
        t_send = t_last + ttfb / 1000.0
        ev = dict(event="request", tag=h.get("x-test-call"), conn=self.id, seq=seq,
                  port=self.listener["port"], method=method, path=path, stream=stream, ttfb_ms=ttfb,
                  gap_ms=gap, events=events, body_len=len(body),
                  recv_ms=round((t_last - t_first) * 1000, 3))
        if method != "POST" or not path.startswith("/v1/chat/completions"):
            sleep_until(t_send)
            msg = b'{"error":{"message":"not found"}}'
            self.tls.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n%s\r\n%s" % (len(msg), conn_hdr, msg))
            log(**ev, status=404)
            return not close
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": events if stream else 3,
                 "total_tokens": PROMPT_TOKENS + (events if stream else 3)}
        if not stream:
            out = json.dumps({"id": "chatcmpl-latency", "object": "chat.completion",
                              "created": int(time.time()), "model": MODEL,
                              "choices": [{"index": 0, "message": {"role": "assistant",
                                                                   "content": "latency ok"},
                                           "finish_reason": "stop"}],
                              "usage": usage}).encode()
            sleep_until(t_send)
            first = time.monotonic()
            self.tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n%s\r\n%s" % (len(out), conn_hdr, out))
            log(**ev, status=200, first_ms=ms(first - t_last), last_ms=ms(first - t_last))
            return not close
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                b"Transfer-Encoding: chunked\r\n" + conn_hdr + b"\r\n")
        first = None
        for k in range(events):
            delta = {"content": "tok%d " % k}
            if k == 0:
                delta = {"role": "assistant", "content": "tok0 "}
            data = chunk(sse(chat_chunk(delta)))
            sleep_until(t_send + k * gap / 1000.0)
            if first is None:
                first = time.monotonic()
            self.tls.sendall((head if k == 0 else b"") + data)
        tail = (chunk(sse(chat_chunk({}, finish="stop"))) + chunk(sse(chat_chunk({}, usage=usage, choices=False)))
                + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        sleep_until(t_send + events * gap / 1000.0)
        last = time.monotonic()
        if first is None:
            first = last
        self.tls.sendall(tail)
        log(**ev, status=200, first_ms=ms(first - t_last), last_ms=ms(last - t_last))
        return not close


def serve_https(cfg):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    ctx.set_alpn_protocols(["http/1.1"])
    ports = {}
    socks = []
    for lst in cfg["listeners"]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind((lst.get("addr", "127.0.0.1"), lst.get("port", 0)))
        s.listen(64)
        lst = dict(lst, port=s.getsockname()[1])
        ports[lst["name"]] = lst["port"]
        socks.append((s, lst))

    def accept_loop(s, lst):
        while True:
            c, _ = s.accept()
            threading.Thread(target=Conn(ctx, c, lst).run, daemon=True).start()

    threads = [threading.Thread(target=accept_loop, args=sl, daemon=True) for sl in socks]
    for t in threads:
        t.start()
    log(event="listening", ports=ports)
    for t in threads:
        t.join()


# ---------- DNS ----------

def parse_question(pkt):
    """(id, flags, qname, qtype, raw question bytes) of a DNS query."""
    qid, flags, qd = struct.unpack("!HHH", pkt[:6])
    if qd < 1:
        raise ValueError("no question")
    i, labels = 12, []
    while True:
        n = pkt[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(pkt[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype, _ = struct.unpack("!HH", pkt[i:i + 4])
    return qid, flags, ".".join(labels).lower(), qtype, pkt[12:i + 4]


def dns_reply(qid, qflags, question, rcode, answers):
    flags = 0x8000 | (qflags & 0x7800) | (qflags & 0x0100) | 0x0080 | rcode  # QR, opcode, RD, RA
    out = struct.pack("!HHHHHH", qid, flags, 1, len(answers), 0, 0) + question
    for a in answers:
        out += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(a)
    return out


def serve_dns(cfg):
    names = {k.lower().rstrip("."): v for k, v in cfg["names"].items()}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((cfg.get("addr", "127.0.0.1"), cfg.get("port", 53)))
    log(event="listening", port=s.getsockname()[1])
    due = []  # heap of (monotonic time, seq, reply, addr, name, qtype)
    seq = 0
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        r, _, _ = select.select([s], [], [], timeout)
        if r:
            pkt, addr = s.recvfrom(4096)
            now = time.monotonic()
            try:
                qid, qflags, name, qtype, question = parse_question(pkt)
            except (ValueError, IndexError, struct.error) as e:
                log(event="bad_query", error=repr(e))
                continue
            ent = names.get(name.rstrip("."))
            if ent is None:
                reply, delay = dns_reply(qid, qflags, question, 3, []), 0.0
            else:
                delay = ent.get("delay_ms", 0) / 1000.0
                reply = dns_reply(qid, qflags, question, 0, [ent["a"]] if qtype == 1 else [])
            seq += 1
            heapq.heappush(due, (now + delay, seq, reply, addr, name, qtype))
            log(event="query", name=name, qtype=qtype, delay_ms=delay * 1000, known=ent is not None)
        while due and due[0][0] <= time.monotonic():
            t, _, reply, addr, name, qtype = heapq.heappop(due)
            s.sendto(reply, addr)
            log(event="reply", name=name, qtype=qtype, late_ms=ms(time.monotonic() - t))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("https", "dns"):
        sys.stderr.write("usage: latency_server.py https|dns CONFIG.json\n")
        return 2
    with open(sys.argv[2], encoding="utf-8") as f:
        cfg = json.load(f)
    if sys.argv[1] == "https":
        serve_https(cfg)
    else:
        serve_dns(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())

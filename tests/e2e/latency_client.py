# latency_client.py -- the latency suite's python3 clients: urllib (a new connection per call) or http.client (one keep-alive connection).
"""python3 latency_client.py SPEC.json

SPEC = {"cafile": PATH, "mode": "urllib" | "keepalive",
        "calls": [{"tag", "url", "headers": {...}, "body": {...}}]}

urllib: each call with urllib.request (getaddrinfo, a new TCP + TLS connection, Connection: close).
keepalive: every call on one http.client.HTTPSConnection to the first call's host and port, in order.
Both use the system OpenSSL through the ssl module and set TCP_NODELAY (http.client does it on
connect). Prints one JSON line per call: {"tag", "pid", "status", "body"} or {"tag", "exception"}.
"""
import http.client
import json
import os
import ssl
import sys
import urllib.parse
import urllib.request


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    ctx = ssl.create_default_context(cafile=spec["cafile"])
    ctx.set_alpn_protocols(["http/1.1"])
    rc = 0
    conn = None
    for c in spec["calls"]:
        body = json.dumps(c["body"]).encode()
        headers = dict({"content-type": "application/json"}, **c["headers"])
        try:
            if spec["mode"] == "urllib":
                req = urllib.request.Request(c["url"], data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                    status, data = resp.status, resp.read()
            else:
                u = urllib.parse.urlsplit(c["url"])
                if conn is None:
                    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
                conn.request("POST", u.path, body=body, headers=headers)
                resp = conn.getresponse()
                status, data = resp.status, resp.read()
            print(json.dumps({"tag": c["tag"], "pid": os.getpid(), "status": status,
                              "body": data.decode("utf-8", "replace")}), flush=True)
        except Exception as e:  # reported to the driver, which fails the call's checks
            print(json.dumps({"tag": c["tag"], "pid": os.getpid(), "exception": repr(e)}), flush=True)
            rc = 1
    if conn is not None:
        conn.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())

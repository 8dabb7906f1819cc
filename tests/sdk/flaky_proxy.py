"""A reverse proxy on loopback that fails on cue, like a load balancer having a bad minute.

It stands in for what sits between clients and Assay in production (nginx, a cloud load
balancer): the source of most 502/503/504s. Each request takes the next planned action:
`forward`, `503` (answer 503 without forwarding), or `forward-then-502` (forward, then lose
the server's answer and send 502 — the case where retrying a create could duplicate it).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    answered: int


class FlakyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.plan: deque[str] = deque()
        self.seen: list[Seen] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        action = self.plan.popleft() if self.plan else "forward"
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        status = 503
        if action != "503":
            response = self.upstream.request(
                request.command,
                request.path,
                content=body,
                headers={k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP},
            )
            status = 502 if action == "forward-then-502" else response.status_code
        self.seen.append(
            Seen(
                request.command,
                request.path.split("?")[0],
                request.headers.get("Idempotency-Key"),
                status,
            )
        )
        if status in (502, 503):
            payload = b"<html>bad gateway</html>"
            request.send_response(status)
            request.send_header("Content-Type", "text/html")
        else:
            payload = response.content
            request.send_response(status)
            for name, value in response.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                    request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()

"""A scripted HTTP origin on loopback: the remote end of the server's outbound requests.

`Origin(answer)` serves GETs in a thread (over TLS when given a server context);
`answer(handler)` writes the response (status, headers, body, redirects, a slow drip). It
counts every TCP connection it accepts, so a test can prove that a refused destination was
never contacted.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.receiver import Threaded

Answer = Callable[[BaseHTTPRequestHandler], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def redirect(to: str, status: int = 302) -> Answer:
    return lambda handler: send(handler, status, Location=to)


def drip(seconds: float, every: float = 0.2) -> Answer:
    """Headers at once, then one byte every `every` seconds for `seconds`."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10**6))
        handler.end_headers()
        until = time.monotonic() + seconds
        try:
            while time.monotonic() < until:
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(every)
        except OSError:
            pass  # the client hung up: what the test wants

    return answer


def stall(after: float, seconds: float = 60) -> Answer:
    """Headers at once, one byte after `after` seconds, then silence for `seconds`."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.flush()
        time.sleep(after)
        try:
            handler.wfile.write(b"x")
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(seconds)

    return answer


class _Server(ThreadingHTTPServer):
    connections = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True


class Origin(Threaded):
    def __init__(
        self,
        answer: Answer,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                origin.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        server_class = type("Server", (_Server,), {"address_family": socket.AF_INET6})
        server = (server_class if ":" in host else _Server)((host, port), Handler)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        self._serve_in_thread(server, "origin")
        self.host = host
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{netloc}:{self.port}"

    @property
    def connections(self) -> int:
        return self._server.connections

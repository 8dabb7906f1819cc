"""A webhook receiver on loopback: a real HTTP server in a thread that records every request."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The server refuses loopback destinations by default (core/outbound.py); test receivers and
# file servers live on loopback, so the test settings allow it as an operator would.
LOOPBACK_ALLOW = ["127.0.0.0/8", "::1", "localhost"]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.monotonic() on arrival


class Threaded:
    """An HTTP server serving in a daemon thread while the `with` block runs."""

    _server: ThreadingHTTPServer

    def _serve_in_thread(self, server: ThreadingHTTPServer, name: str) -> None:
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class Receiver(Threaded):
    """Answers 200 unless told otherwise with `answer(500, 500, ...)`, one status per request."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._scripted: deque[int] = deque()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._changed:
                    status = receiver._scripted.popleft() if receiver._scripted else 200
                    receiver.requests.append(
                        Received(
                            "POST",
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    receiver._changed.notify_all()
                answer = f'{{"answered": {status}}}'.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "webhook-receiver")
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *statuses: int) -> None:
        """The next requests get these statuses, in order; 200 after that."""
        with self._changed:
            self._scripted.extend(statuses)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until `count` requests arrived; the requests so far."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver got {len(self.requests)} request(s), expected {count}"
                    )
                self._changed.wait(left)
            return list(self.requests)

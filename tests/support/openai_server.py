"""A stand-in for an OpenAI-compatible model server on loopback: a real HTTP server in a
thread speaking the chat-completions wire format (POST /v1/chat/completions).

What it answers is the test's: `answer(request_json) -> str` gives the assistant message's
content; `fail(500, 429, ...)` makes the next requests answer those statuses first (an
OpenAI-style error body, `Retry-After: 0` on a 429). Every POST is recorded. It also serves
`files` (path → bytes) on GET: media for items given by URL.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.receiver import Received, Threaded


class ChatCompletionsServer(Threaded):
    def __init__(self, answer: Callable[[dict[str, Any]], str]) -> None:
        self.requests: list[Received] = []
        self._failures: deque[int] = deque()
        self.files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = server_self.files.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server_self._lock:
                    server_self.requests.append(
                        Received(
                            "POST",
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            0.0,
                        )
                    )
                    status = server_self._failures.popleft() if server_self._failures else 200
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if status != 200:
                    headers = {"Retry-After": "0"} if status == 429 else {}
                    return self._send(status, {"error": {"message": f"scripted {status}"}}, headers)
                request = json.loads(body)
                content = answer(request)
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(server_self.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": request.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "chat-completions")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail(self, *statuses: int) -> None:
        with self._lock:
            self._failures.extend(statuses)


def user_text(request: dict[str, Any]) -> str:
    """The text parts of the request's user message."""
    for message in request["messages"]:
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, str):
                return content
            return "\n".join(p["text"] for p in content if p["type"] == "text")
    return ""


def image_urls(request: dict[str, Any]) -> list[str]:
    return [
        part["image_url"]["url"]
        for message in request["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]

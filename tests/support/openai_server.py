"""A stand-in for an OpenAI-compatible model server on loopback: a real HTTP server in a
thread speaking the chat-completions wire format (POST /v1/chat/completions).

What it answers is the test's: `answer(request_json) -> str` gives the assistant message's
content. Speaking the protocol as the real servers do:

- `stream: true` answers Server-Sent Events, one `chat.completion.chunk` per word, a last
  chunk with `usage` when `stream_options.include_usage` asks, then `data: [DONE]`;
- `usage` in every answer: prompt tokens are the words of the messages, completion tokens
  the words of the answer (deterministic, so tests compute costs by hand);
- `fail(400, 401, 429, 500, 503, ...)` makes the next requests answer those statuses first,
  with OpenAI's error body (`{"error": {"message", "type", "param", "code"}}`); a 429 carries
  `Retry-After` (`retry_after`, 0 unless told);
- `delay` (seconds before every answer) and `slow(s1, s2, ...)` (the next requests' delays)
  to test timeouts;
- `calls`: how many chat-completion requests arrived (every POST is in `requests`).

It also serves `files` (path → bytes) on GET: media for items given by URL.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.receiver import Received, Threaded

ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_value"),
    401: ("authentication_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "overloaded"),
}


def words(text: str) -> int:
    return len(text.split())


def prompt_tokens(request: dict[str, Any]) -> int:
    total = 0
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            total += words(content)
        elif isinstance(content, list):
            total += sum(words(p.get("text", "")) for p in content if p.get("type") == "text")
    return total


def error_body(status: int, message: str) -> dict[str, Any]:
    kind, code = ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class ChatCompletionsServer(Threaded):
    def __init__(self, answer: Callable[[dict[str, Any]], str]) -> None:
        self.requests: list[Received] = []
        self._failures: deque[tuple[int, float]] = deque()
        self._delays: deque[float] = deque()
        self.delay = 0.0
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
                    status, retry_after = (
                        server_self._failures.popleft() if server_self._failures else (200, 0.0)
                    )
                    delay = server_self._delays.popleft() if server_self._delays else None
                if self.path != "/v1/chat/completions":
                    return self._send(404, error_body(404, f"no route {self.path}"))
                time.sleep(server_self.delay if delay is None else delay)
                if status != 200:
                    headers = {"Retry-After": f"{retry_after:g}"} if status == 429 else {}
                    return self._send(status, error_body(status, f"scripted {status}"), headers)
                try:
                    request = json.loads(body)
                except ValueError:
                    return self._send(400, error_body(400, "the body is not JSON"))
                if "model" not in request or not request.get("messages"):
                    return self._send(400, error_body(400, "model and messages are required"))
                content = answer(request)
                number = len(server_self.requests)
                usage = {
                    "prompt_tokens": prompt_tokens(request),
                    "completion_tokens": words(content),
                    "total_tokens": prompt_tokens(request) + words(content),
                }
                if request.get("stream"):
                    return self._stream(request, content, number, usage)
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{number}",
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
                        "usage": usage,
                    },
                )

            def _stream(
                self, request: dict[str, Any], content: str, number: int, usage: dict[str, int]
            ) -> None:
                def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
                    payload = {
                        "id": f"chatcmpl-{number}",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": request.get("model"),
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                        **extra,
                    }
                    return f"data: {json.dumps(payload)}\n\n".encode()

                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes
                pieces = content.split(" ")
                try:
                    self.wfile.write(chunk({"role": "assistant", "content": ""}, None))
                    for k, piece in enumerate(pieces):
                        text = piece if k == 0 else " " + piece
                        self.wfile.write(chunk({"content": text}, None))
                        self.wfile.flush()
                    self.wfile.write(chunk({}, "stop"))
                    if (request.get("stream_options") or {}).get("include_usage"):
                        payload = {
                            "id": f"chatcmpl-{number}",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": request.get("model"),
                            "choices": [],
                            "usage": usage,
                        }
                        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): nothing to answer to

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "chat-completions")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        """Chat-completion requests received (failed and timed-out ones included)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == "/v1/chat/completions")

    def fail(self, *statuses: int, retry_after: float = 0.0) -> None:
        with self._lock:
            self._failures.extend((status, retry_after) for status in statuses)

    def slow(self, *seconds: float) -> None:
        """The next requests wait these many seconds each before answering."""
        with self._lock:
            self._delays.extend(seconds)

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r.body) for r in self.requests if r.path == "/v1/chat/completions"]


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

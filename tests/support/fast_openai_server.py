"""A fast OpenAI-protocol stand-in for throughput (benchmarks, many-call tests): an asyncio
HTTP/1.1 keep-alive server answering `POST /v1/chat/completions` at once, in a process of its
own so its CPU is not the caller's (on a 2-core machine that is the other core).

    with FastChatServer(answer="met") as server:
        ... OpenAIChatModel(ProviderConfig(name="s", base_url=server.base_url), "judge") ...
        server.calls()  # chat-completion requests answered

Each answer is a real chat completion (`usage` counted in words, as `openai_server.py`
does); `answer` is the assistant's content for every request; `delay` seconds before each
answer (concurrent requests wait together, as on a real server). `GET /calls` says how many
chat completions were answered. Run `python -m tests.support.fast_openai_server` to print
`port <n>` and serve until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
ANSWER_PATH = b"/v1/chat/completions"


class _Protocol(asyncio.Protocol):
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path = head.split(b" ", 2)[:2]
            self.respond(method, path, body)

    def respond(self, method: bytes, path: bytes, body: bytes) -> None:
        if method == b"GET" and path == b"/calls":
            return self.send(200, json.dumps({"calls": self.state["calls"]}).encode())
        if method != b"POST" or path != ANSWER_PATH:
            return self.send(404, b'{"error": {"message": "not found", "type": "not_found"}}')
        request = json.loads(body)
        self.state["calls"] += 1
        prompt = sum(len(str(m.get("content", "")).split()) for m in request["messages"])
        completion = self.state["answer_words"]
        payload = (
            b'{"id":"chatcmpl-%d","object":"chat.completion","created":0,"model":%s,'
            b'"choices":[{"index":0,"message":{"role":"assistant","content":%s},'
            b'"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,'
            b'"total_tokens":%d}}'
            % (
                self.state["calls"],
                json.dumps(request.get("model")).encode(),
                self.state["answer_json"],
                prompt,
                completion,
                prompt + completion,
            )
        )
        delay = self.state["delay"]
        if delay:
            asyncio.get_running_loop().call_later(delay, self.send, 200, payload)
        else:
            self.send(200, payload)

    def send(self, status: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        reason = b"OK" if status == 200 else b"Not Found"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (status, reason, len(payload), payload)
        )


async def serve(answer: str, delay: float) -> None:
    state = {
        "calls": 0,
        "answer_json": json.dumps(answer).encode(),
        "answer_words": len(answer.split()),
        "delay": delay,
    }
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(state), "127.0.0.1", 0, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    # Serve until the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


class FastChatServer:
    """The fast stand-in in a child process, for the `with` block."""

    def __init__(self, *, answer: str = "OK", delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> FastChatServer:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.fast_openai_server",
                "--answer",
                self.answer,
                "--delay",
                str(self.delay),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("port "):
            self.__exit__()
            raise RuntimeError(f"the fast stand-in did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def calls(self) -> int:
        return httpx.get(f"http://127.0.0.1:{self.port}/calls").json()["calls"]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--answer", default="OK")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    try:  # uvloop comes with uvicorn[standard]: the stand-in answers faster on it
        import uvloop
    except ImportError:
        asyncio.run(serve(args.answer, args.delay))
    else:
        uvloop.run(serve(args.answer, args.delay))


if __name__ == "__main__":
    main()

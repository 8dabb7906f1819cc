"""A lean HTTP/1.1 client for load generation: one keep-alive connection per simulated user.

The load generator shares the machine with the server it measures, so what it spends is taken
from the server. aiohttp spent ~420 µs of CPU a request here; this ~195 µs (64 paced users,
600 requests/s against a bare ASGI app, uvloop both). It does only what the labelers need:
POST with a JSON body, one request at a time per connection, the response read whole.
Responses are parsed by httptools (uvicorn's parser); a connection idle for longer than
`idle_seconds` is replaced before use, as the server may be closing it (uvicorn drops
keep-alive connections idle for 5 s).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httptools


class _Response(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.chunks: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError(f"the server closed the connection ({exc or 'EOF'})"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        body, self.chunks = b"".join(self.chunks), []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), body))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


class Connection:
    """POSTs to one server over one keep-alive connection, one request at a time."""

    def __init__(
        self, base_url: str, *, idle_seconds: float = 3.0, timeout_seconds: float = 60.0
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"an http:// URL with a host is needed, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.idle_seconds = idle_seconds
        self.timeout_seconds = timeout_seconds
        self._response: _Response | None = None
        self._last_used = 0.0

    async def _open(self) -> _Response:
        response = self._response
        stale = time.monotonic() - self._last_used > self.idle_seconds
        if response is None or response.closed or stale:
            self.close()
            _, response = await asyncio.get_running_loop().create_connection(
                _Response, self.host, self.port
            )
            self._response = response
        return response

    async def post(
        self, path: str, *, headers: dict[str, str], json_body: Any = None
    ) -> tuple[int, bytes]:
        """Status and body of `POST path` (a JSON body if given)."""
        response = await self._open()
        data = b"" if json_body is None else json.dumps(json_body).encode()
        lines = [
            f"POST {self.prefix}{path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(data)}",
        ]
        if json_body is not None:
            lines.append("Content-Type: application/json")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        response.waiter = asyncio.get_running_loop().create_future()
        assert response.transport is not None
        response.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await response.waiter
        except BaseException:
            self.close()  # whatever arrives later on it belongs to this request
            raise
        finally:
            response.waiter = None
            self._last_used = time.monotonic()

    def close(self) -> None:
        if self._response is not None and not self._response.closed:
            assert self._response.transport is not None
            self._response.transport.close()
        self._response = None

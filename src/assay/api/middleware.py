"""Pure ASGI middleware: request ids with an access log line, and request body limits."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException

from assay.core.logs import request_id_var

access_log = logging.getLogger("assay.access")

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


class RequestContext:
    """Sets `X-Request-ID` (keeps a sane incoming one) and logs one line per request,
    naming the actor and the key's mode (live or test)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming
            if 0 < len(incoming) <= 64 and incoming.isprintable()
            else (secrets.token_hex(8))
        )
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            actor = scope["state"].get("actor")
            access_log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                extra={
                    "status": status,
                    "method": scope["method"],
                    "path": scope["path"],
                    "actor": actor.user_id if actor else None,
                    "mode": actor.mode if actor else None,
                },
            )
            request_id_var.reset(token)


class BodyLimit:
    """413 for bodies over the limit, checked on Content-Length and again while streaming."""

    def __init__(self, app: ASGIApp, *, default: int, by_prefix: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.by_prefix = by_prefix

    def limit_for(self, path: str) -> int:
        return next((n for p, n in self.by_prefix.items() if path.startswith(p)), self.default)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        response_started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _too_large(send, limit)


class _BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing re-raises it instead of answering 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_message(limit))


def _too_large_message(limit: int) -> str:
    return (
        f"request body is larger than this endpoint's limit of {limit} bytes; "
        "split it into smaller requests"
    )


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "too_large",
                "message": _too_large_message(limit),
                "field": None,
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""Request bodies read as strict JSON (`core.json_values`), off the event loop when large.

A large body (a submission with thousands of polygons) takes the event loop long enough to
stall every other request of the process (an 11 MB submit took ~1.3 s): past
`OFF_LOOP_BYTES` it is parsed on a worker thread instead; small bodies keep their fast path.
(The parse itself holds the GIL: what moves off the loop is everything around it.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from fastapi import Request, Response
from fastapi.routing import APIRoute

from assay.core.json_values import loads

OFF_LOOP_BYTES = 256 * 1024


async def parse(body: bytes) -> Any:
    """`loads(body)`, on a worker thread when the body is large."""
    if len(body) > OFF_LOOP_BYTES:
        return await to_thread.run_sync(loads, body)
    return loads(body)


def _is_json(request: Request) -> bool:
    # As FastAPI decides whether to read a body as JSON.
    content_type = request.headers.get("content-type")
    if not content_type:
        return True
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonRoute(APIRoute):
    """An APIRoute whose JSON body is read by `parse` (strict, off the loop when large)
    before FastAPI validates it; every router of the app uses it."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_handler(request: Request) -> Response:
            if _is_json(request):
                body = await request.body()
                if body:
                    # FastAPI reads `request.json()`, which returns this.
                    request._json = await parse(body)
            return await handler(request)

        return json_handler

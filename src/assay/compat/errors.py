"""Scale's error shape for the compat routes: `{"error": "message", "status_code": N}`.

The official `scaleapi` client reads `res.json().get("error", res.text)` and picks its
exception class from the status code, so compat routes answer in that shape and with Scale's
codes (400 where the native API says 422). The native API's error shape is untouched: the
translation happens in `ScaleRoute`, the route class of the compat routers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from assay.api.errors import field_path
from assay.api.json_body import JsonRoute
from assay.core import errors
from assay.core.logs import request_id_var

log = logging.getLogger("assay.compat")

STATUS_BY_ERROR: dict[type[errors.AssayError], int] = {
    errors.Invalid: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.Unavailable: 503,
}


def scale_error(message: str, status_code: int, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message, "status_code": status_code}, status_code, headers)


def _message(exc: errors.AssayError) -> str:
    # Scale's messages are plain sentences; the field path is the most useful part of ours.
    if exc.field and exc.field not in exc.message:
        return f"{exc.field}: {exc.message}"
    return exc.message


def to_response(exc: Exception) -> Response:
    """The Scale-shaped response for any exception raised by a compat route."""
    if isinstance(exc, errors.AssayError):
        status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        headers = {"WWW-Authenticate": 'Basic realm="assay"'} if status == 401 else None
        return scale_error(_message(exc), status, headers)
    if isinstance(exc, RequestValidationError):
        problems = exc.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
        field = field_path(tuple(first.get("loc", ())))
        message = f"{field}: {first['msg']}" if field else str(first["msg"])
        return scale_error(message, 400)
    if isinstance(exc, ValidationError):
        # A native schema built from a Scale body refused a value.
        problem = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"])
        return scale_error(f"{field}: {problem['msg']}" if field else problem["msg"], 400)
    if isinstance(exc, StarletteHTTPException):
        status = 400 if exc.status_code == 422 else exc.status_code
        return scale_error(str(exc.detail), status, getattr(exc, "headers", None))
    log.exception("unhandled error in a Scale compat route", exc_info=exc)
    return scale_error(
        f"internal error; the server log has the details under request id {request_id_var.get()}",
        500,
    )


class ScaleRoute(JsonRoute):
    """An APIRoute whose errors (auth, validation, domain, unexpected) use Scale's shape."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def scale_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return to_response(exc)

        return scale_handler

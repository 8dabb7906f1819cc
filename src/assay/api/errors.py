"""The one place where errors become HTTP responses: `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assay.core import errors
from assay.core.logs import request_id_var

log = logging.getLogger("assay.api")

STATUS_BY_ERROR: dict[type[errors.AssayError], int] = {
    errors.Invalid: 422,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}
CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def field_path(loc: tuple[Any, ...]) -> str | None:
    """('body', 'items', 3, 'name') -> 'items[3].name'; the request part is dropped, except
    for the body as a whole: ('body',) -> 'body'."""
    if tuple(loc) == ("body",):
        return "body"
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("function-after", "function-before") and not str(part).startswith(
            ("function-", "constrained-")
        ):
            out += ("." if out else "") + str(part)
    return out or None


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.AssayError)
    async def _domain(_request: Request, exc: errors.AssayError) -> JSONResponse:
        status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        headers = {"WWW-Authenticate": 'Basic realm="assay"'} if status == 401 else None
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = field_path(tuple(first.get("loc", ())))
        message = f"{field}: {first['msg']}" if field else str(first["msg"])
        if len(exc.errors()) > 1:
            message += f" (and {len(exc.errors()) - 1} more problem(s))"
        return JSONResponse(error_body("invalid", message, field), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODE_BY_STATUS.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)), exc.status_code, getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body(
                "internal",
                "internal error; the server log has the details under "
                f"request id {request_id_var.get()}",
            ),
            500,
        )

"""Typed errors: one class per error code the server sends, plus the client's own failures.

Catch `AssayError` for everything; catch a subclass (`NotFound`, `Conflict` …) to handle one
case. Each carries the HTTP status, the server's error code, message, offending field and
the request id to quote when asking for help (the server logs it on every line).
"""

from __future__ import annotations

from typing import Any


class AssayError(Exception):
    """Base of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "error",
        field: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.request_id = request_id
        super().__init__(message)

    def __str__(self) -> str:
        where = f" (field: {self.field})" if self.field else ""
        status = f"{self.status} {self.code}: " if self.status else ""
        request = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{status}{self.message}{where}{request}"


class BadRequest(AssayError):
    """400: the request could not be understood."""


class InvalidInput(BadRequest):
    """422: a field failed validation; `.field` names it (`items[3].name`)."""


class Unauthorized(AssayError):
    """401: the API key is missing, wrong or revoked."""


class Forbidden(AssayError):
    """403: the key's user may not do this."""


class NotFound(AssayError):
    """404: no such object, or not one the caller may see."""


class Conflict(AssayError):
    """409: the request clashes with the current state (a duplicate, a finished job …)."""


class PayloadTooLarge(AssayError):
    """413: the body is over the server's limit; send smaller requests."""


class RateLimited(AssayError):
    """429: too many requests; retried automatically, raised when retries ran out."""


class ServerError(AssayError):
    """5xx: the server failed; quote `.request_id` when reporting it."""


class Unreachable(AssayError):
    """The server could not be reached (connection refused, timed out) after all retries."""


class JobFailed(AssayError):
    """`jobs.wait()`: the job ended without succeeding; `.job` is its final state."""

    def __init__(self, message: str, *, job: Any) -> None:
        super().__init__(message, code="job_failed")
        self.job = job


class JobCancelled(JobFailed):
    """`jobs.wait()`: the job was cancelled."""


class WaitTimeout(AssayError, TimeoutError):
    """`jobs.wait()`: the job was still unfinished when the timeout ran out."""

    def __init__(self, message: str, *, job: Any) -> None:
        super().__init__(message, code="timeout")
        self.job = job


_BY_STATUS: dict[int, type[AssayError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
    429: RateLimited,
}


def error_for_response(status: int, body: Any, request_id: str | None) -> AssayError:
    """The typed error for a non-2xx response with the server's `{"error": {...}}` body."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        detail = {"message": f"HTTP {status} without an Assay error body: {str(body)[:200]}"}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else AssayError)
    return cls(
        str(detail.get("message") or f"HTTP {status}"),
        status=status,
        code=str(detail.get("code") or "error"),
        field=detail.get("field"),
        request_id=request_id,
    )

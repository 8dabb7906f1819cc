"""Domain errors. Services raise these; `api/errors.py` maps them to HTTP in one place."""

from __future__ import annotations


class AssayError(Exception):
    """Base of every error a service may raise on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(AssayError):
    code = "not_found"


class Conflict(AssayError):
    code = "conflict"


class Invalid(AssayError):
    code = "invalid"


class InvalidQuery(Invalid):
    """A query that does not parse or names what the data does not have; `column` is 1-based."""

    def __init__(
        self, message: str, *, column: int | None = None, token: str | None = None
    ) -> None:
        super().__init__(message, field="query")
        self.column = column
        self.token = token


class Unauthorized(AssayError):
    code = "unauthorized"


class Forbidden(AssayError):
    code = "forbidden"


class TooLarge(AssayError):
    code = "too_large"


class RateLimited(AssayError):
    code = "rate_limited"


class Unavailable(AssayError):
    code = "unavailable"

"""The Assay Python SDK: `Client` and the errors it raises. Needs only httpx and pydantic."""

from assay.sdk.client import Client
from assay.sdk.errors import (
    AssayError,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    JobCancelled,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    Unreachable,
    WaitTimeout,
)
from assay.sdk.query import F, any_

__all__ = [
    "AssayError",
    "BadRequest",
    "Client",
    "Conflict",
    "F",
    "Forbidden",
    "InvalidInput",
    "JobCancelled",
    "JobFailed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "Unreachable",
    "WaitTimeout",
    "any_",
]

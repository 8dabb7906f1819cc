"""The private HTTP layer: authentication, retries with backoff, errors as typed exceptions.

A request is retried only when sending it twice cannot do anything twice: reads, PUT and
DELETE, and POSTs carrying an `Idempotency-Key` (the server answers a repeat with the first
response). A connection that was never established is always safe to retry.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import time
from typing import Any, Literal

import httpx

from assay import __version__
from assay.sdk.errors import Unreachable, error_for_response

USER_AGENT = f"assay-sdk/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 30.0

AuthScheme = Literal["bearer", "basic"]


class HTTP:
    """One connection pool to one Assay server, authenticated with one API key."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        auth: AuthScheme,
    ) -> None:
        if auth not in ("bearer", "basic"):
            raise ValueError("auth must be 'bearer' or 'basic'")
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if auth == "bearer":
            headers["Authorization"] = f"Bearer {api_key}"
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.client = httpx.Client(
            base_url=url.rstrip("/"),
            headers=headers,
            # Scale's scheme: the key is the username, the password is empty.
            auth=httpx.BasicAuth(api_key, "") if auth == "basic" else None,
            timeout=timeout,
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry_safe: bool = False,
    ) -> httpx.Response:
        """Send one logical request (retried as allowed); raises a typed `AssayError`.

        `retry_safe` marks a POST that sending twice cannot harm (a content-addressed upload).
        """
        method = method.upper()
        headers = {"X-Request-ID": secrets.token_hex(8), **(headers or {})}
        retry_safe = retry_safe or method in IDEMPOTENT_METHODS or "Idempotency-Key" in headers
        # None, not {}: an empty `params` would wipe a query already in the URL (signed URLs).
        params = {k: v for k, v in (params or {}).items() if v is not None} or None
        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method,
                    path,
                    params=params,
                    json=json,
                    files=files,
                    data=data,
                    content=content,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (retry_safe or never_sent) and attempt < self.retries:
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                problem = (
                    "could not reach {url} ({error}); check the URL and that `assay serve` is "
                    "running"
                    if never_sent
                    else "no complete answer from {url} ({error}); the request may or may not "
                    "have been applied"
                )
                raise Unreachable(
                    problem.format(url=self.client.base_url, error=f"{type(exc).__name__}: {exc}"),
                    code="unreachable",
                    request_id=headers["X-Request-ID"],
                ) from exc
            if response.is_success:
                return response
            if response.status_code in RETRY_STATUSES and retry_safe and attempt < self.retries:
                self._sleep(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            raise error_for_response(
                response.status_code,
                _body(response),
                response.headers.get("X-Request-ID") or headers["X-Request-ID"],
            )

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        """Exponential backoff with jitter, or the server's Retry-After when it sent one."""
        delay = self.backoff * 2**attempt * random.uniform(0.5, 1.0)
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER_SECONDS))
        time.sleep(delay)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text

"""Sending an outbound request: to the checked address, redirects checked hop by hop, within
a size and a total time cap, failures in our own words."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from assay.core.errors import Invalid
from assay.core.outbound.policy import (
    Destination,
    FetchFailed,
    IPAddress,
    Policy,
    Resolver,
    ResponseTooLarge,
    check_url,
)

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


@cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every fetch: building one loads the CA bundle (~10-30 ms of CPU)."""
    return httpx.create_ssl_context(trust_env=False)  # no SSL_CERT_* from the environment


class _Deadline:
    """The total time a fetch may take. Timeouts cover each wait; at the deadline a timer
    shuts the fetch's sockets down, so a server dripping a byte at a time stops too."""

    def __init__(self, seconds: float, field: str = "url") -> None:
        self.seconds = seconds
        # The request's field the failure names, wherever the deadline is noticed (between
        # two reads of the body as well as in httpx's own timeouts).
        self.field = field
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0 or self.expired:
            raise self.failure()
        return remaining

    def failure(self) -> FetchFailed:
        return FetchFailed(
            f"could not fetch the URL: no complete answer within {self.seconds:g} s",
            field=self.field,
        )

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpx's `trace` extension: remember each socket as it is connected."""
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            sock = info["return_value"].get_extra_info("socket")
            with self._lock:
                if self.expired:
                    _shutdown(sock)
                elif sock is not None:
                    self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket | None) -> None:
    if sock is None:
        return
    with suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class Response:
    """An answer being received: status and headers now, the body through `iter_bytes`."""

    def __init__(
        self,
        response: httpx.Response,
        url: str,
        deadline: _Deadline,
        max_bytes: int | None,
        field: str,
    ) -> None:
        self._response = response
        self._deadline = deadline
        self._max_bytes = max_bytes
        self._field = field
        self.url = url
        self.status_code = response.status_code
        self.headers = response.headers

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type", "").split(";")[0].strip().lower() or None

    def iter_bytes(self) -> Iterator[bytes]:
        """The body in chunks; `ResponseTooLarge` past `max_bytes`, `FetchFailed` past time."""
        size = 0
        try:
            for chunk in self._response.iter_bytes():
                size += len(chunk)
                if self._max_bytes is not None and size > self._max_bytes:
                    raise ResponseTooLarge(
                        f"the answer is larger than the limit of {self._max_bytes} bytes",
                        field=self._field,
                    )
                self._deadline.left()
                yield chunk
        except httpx.HTTPError as exc:
            raise _failure(exc, self._deadline, self._field) from None

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def read_prefix(self, limit: int) -> bytes:
        """At most `limit` bytes of the body; the rest is not read."""
        received = bytearray()
        for chunk in self.iter_bytes():
            received += chunk
            if len(received) >= limit:
                break
        return bytes(received[:limit])


def _failure(exc: httpx.HTTPError, deadline: _Deadline, field: str) -> FetchFailed:
    """Our words for what went wrong; never the remote's."""
    if deadline.expired or isinstance(exc, httpx.TimeoutException):
        failure = deadline.failure()
        failure.field = field
        return failure
    if isinstance(exc, httpx.ConnectError):
        reason = "could not connect"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = "the server's answer was not valid HTTP"
    else:
        reason = "the connection failed"
    return FetchFailed(f"could not fetch the URL: {reason}", field=field)


def _pinned_request(
    client: httpx.Client,
    destination: Destination,
    address: IPAddress,
    method: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: _Deadline,
) -> httpx.Request:
    """A request whose connection goes to `address` while speaking to `destination.host`."""
    left = deadline.left()
    extensions: dict[str, Any] = {
        "timeout": {"connect": left, "read": left, "write": left, "pool": left},
        "trace": deadline.trace,
    }
    if destination.url.scheme == "https" and not destination.literal:
        extensions["sni_hostname"] = destination.url.raw_host.decode("ascii")
    return client.build_request(
        method,
        destination.url.copy_with(host=str(address)),
        headers={
            **{k: v for k, v in headers.items() if k.lower() != "host"},
            "Host": destination.url.netloc.decode("ascii"),
        },
        content=body,
        extensions=extensions,
    )


def _send_once(
    client: httpx.Client,
    destination: Destination,
    addresses: Sequence[IPAddress],
    method: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: _Deadline,
    field: str,
) -> httpx.Response:
    """Try the checked addresses in order until one connects."""
    failure: httpx.HTTPError | None = None
    for address in addresses:
        request = _pinned_request(client, destination, address, method, headers, body, deadline)
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError as exc:
            failure = exc
        except httpx.HTTPError as exc:
            raise _failure(exc, deadline, field) from None
    assert failure is not None
    raise _failure(failure, deadline, field) from None


def _next_hop(
    response: httpx.Response,
    url: str,
    method: str,
    headers: dict[str, str],
    body: bytes | None,
    field: str,
) -> tuple[str, str, dict[str, str], bytes | None]:
    try:
        target = str(httpx.URL(url).join(response.headers["location"]))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise FetchFailed(
            "could not fetch the URL: it redirects to an invalid URL", field=field
        ) from None
    if (response.status_code == 303 and method != "HEAD") or (
        response.status_code in (301, 302) and method == "POST"
    ):
        method, body = "GET", None
    if (
        httpx.URL(target).netloc != httpx.URL(url).netloc
        or httpx.URL(target).scheme != httpx.URL(url).scheme
    ):
        headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
    return target, method, headers, body


@contextmanager
def stream(
    url: str,
    *,
    policy: Policy,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    max_bytes: int | None = None,
    max_redirects: int = 0,
    resolver: Resolver | None = None,
    tls: ssl.SSLContext | None = None,
    field: str = "url",
) -> Iterator[Response]:
    """Send one request to `url` under `policy`; the answer, body not yet read.

    Redirects are followed up to `max_redirects` (each hop checked like the first; 0 hands
    the 3xx answer back). `timeout` bounds the whole exchange, body included. `tls` replaces
    the system's certificate authorities (a private CA of an internal target). Errors are
    `Invalid`/`DestinationRefused`/`HostNotResolved`/`FetchFailed`/`ResponseTooLarge`, each
    naming `field`."""
    deadline = _Deadline(timeout, field)
    sent_headers = {"Accept-Encoding": "identity", **(headers or {})}
    try:
        with httpx.Client(
            trust_env=False,  # no proxy from the environment: the checked address is the peer
            follow_redirects=False,
            verify=tls or _tls_context(),
        ) as client:
            for hop in range(max_redirects + 1):
                destination, addresses = check_url(
                    url, policy=policy, resolver=resolver, field=field
                )
                response = _send_once(
                    client, destination, addresses, method, sent_headers, body, deadline, field
                )
                try:
                    if (
                        response.status_code in REDIRECT_STATUSES
                        and "location" in response.headers
                        and hop < max_redirects
                    ):
                        url, method, sent_headers, body = _next_hop(
                            response, url, method, sent_headers, body, field
                        )
                        continue
                    if response.status_code in REDIRECT_STATUSES and max_redirects:
                        raise FetchFailed(
                            f"could not fetch the URL: more than {max_redirects} redirects",
                            field=field,
                        )
                    yield Response(response, url, deadline, max_bytes, field)
                    return
                finally:
                    response.close()
    finally:
        deadline.cancel()


@dataclass(frozen=True)
class Fetched:
    status_code: int
    headers: httpx.Headers
    url: str
    content: bytes


def fetch_file(url: Any, settings: Any, *, max_bytes: int, field: str, what: str) -> bytes:
    """The body of a file a request named by URL (`settings`' policy and import timeout),
    or `Invalid` naming `field` when it is not a URL or does not answer 200."""
    if not isinstance(url, str) or not url:
        raise Invalid(f"{field} must be the URL of {what}", field=field)
    fetched = fetch(
        url,
        policy=Policy.from_settings(settings),
        timeout=settings.file_import_timeout_seconds,
        max_bytes=max_bytes,
        field=field,
    )
    if fetched.status_code != 200:
        raise Invalid(
            f"could not fetch {what}: it answered HTTP {fetched.status_code}, not 200",
            field=field,
        )
    return fetched.content


def fetch(url: str, *, max_bytes: int, max_redirects: int = 5, **options: Any) -> Fetched:
    """`stream` (same keyword options), read whole: for answers small enough for memory."""
    with stream(url, max_bytes=max_bytes, max_redirects=max_redirects, **options) as response:
        content = response.read()
        return Fetched(response.status_code, response.headers, response.url, content)

"""`LeanChatModel`: a provider's `transport: "lean"` — the OpenAI chat-completions wire
format spoken directly over one aiohttp session, for throughput.

The `openai` client is the default and the reference: against a fast endpoint most of a
call's CPU is its own request machinery (options, headers, its httpx-over-aiohttp bridge),
~1.3 ms a call, which caps one event loop near 400 calls/s (bench/evaluation_provider.py).
This transport keeps only what the wire needs: one `aiohttp.ClientSession` per model whose
keep-alive pool is the provider's concurrency, the body `request_arguments` builds (the same
as `OpenAIChatModel` sends) encoded and the answer decoded with msgspec, and the client's
retry rules restated here (`should_retry`, `retry_delay`, from `openai/_base_client.py`).
`tests/evaluation/test_provider_transports.py` holds the two transports equal against the
same stand-ins: answers, tokens, costs, retries counted at the server, errors word for word.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import math
import random
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from assay.evaluation.provider_models import (
    CONNECTION_ERROR,
    NO_KEY,
    Answer,
    EndpointChatModel,
    ProviderConfig,
    provider_message,
)

# The `openai` client's constants (`openai/_constants.py`).
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER_DELAY = 2 * 60.0
USER_AGENT = "assay-lean-chat"


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """The server's `retry-after-ms` or `Retry-After` (seconds, or an HTTP date) in seconds,
    None when it gives none; as the `openai` client reads them."""
    if headers is None:
        return None
    for header, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            delay = float(value)
        except ValueError:
            continue
        if delay == math.inf and value.strip().lower() not in (
            "inf",
            "+inf",
            "infinity",
            "+infinity",
        ):
            return MAX_RETRY_AFTER_DELAY + 1  # an overflowing number: too long, not malformed
        return delay / divisor
    try:
        date = email.utils.parsedate_tz(headers.get("retry-after"))  # type: ignore[arg-type]
        if date is None:
            return None
        return float(email.utils.mktime_tz(date) - time.time())
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a failed status is asked again: never past a `Retry-After` of two minutes;
    as `x-should-retry` says when the server says; else 408, 409, 429 and 5xx."""
    retry_after = retry_after_s(headers)
    if (
        retry_after is not None
        and math.isfinite(retry_after)
        and retry_after > MAX_RETRY_AFTER_DELAY
    ):
        return False
    said = headers.get("x-should-retry")
    if said == "true":
        return True
    if said == "false":
        return False
    return status in (408, 409, 429) or status >= 500


def retry_delay(retries_taken: int, headers: Mapping[str, str] | None) -> float:
    """Seconds before the next attempt: the server's `Retry-After` within two minutes, else
    0.5 s doubling per retry up to 8 s, less a random quarter at most."""
    retry_after = retry_after_s(headers)
    if (
        retry_after is not None
        and math.isfinite(retry_after)
        and 0 < retry_after <= MAX_RETRY_AFTER_DELAY
    ):
        return retry_after
    backoff = min(INITIAL_RETRY_DELAY * pow(2.0, min(retries_taken, 1000)), MAX_RETRY_DELAY)
    return max(0.0, backoff * (1 - 0.25 * random.random()))


class _Message(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None


class _Delta(msgspec.Struct):
    content: str | None = None


class _DeltaChoice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    choices: list[_DeltaChoice] = []
    usage: _Usage | None = None


_decode_completion = msgspec.json.Decoder(_Completion).decode
_decode_chunk = msgspec.json.Decoder(_Chunk).decode
_encode = msgspec.json.Encoder().encode


class _Refused(Exception):
    """A status the provider answered with (an attempt's outcome, not yet the call's)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class LeanChatModel(EndpointChatModel):
    """The wire format over bare aiohttp, retried as the `openai` client retries. Redirects
    are not followed (the client does not either): a 3xx is not a chat completion."""

    def __init__(self, config: ProviderConfig, model: str, *, stream: bool = False) -> None:
        super().__init__(config, model, stream=stream)
        self._session: Any = None
        self._url = f"{(config.base_url or '').rstrip('/')}/chat/completions"

    def _open_client(self, connections: int) -> None:
        import aiohttp

        timeout = self.config.timeout_s
        self._session = aiohttp.ClientSession(
            # One keep-alive connection per call in flight: no connection is opened per call.
            # An idle connection is kept 5 s, as the `openai` client keeps one (httpx's default).
            connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=5.0),
            # As the `openai` client's aiohttp transport maps its timeout: each of connecting,
            # waiting for a pooled connection and every read, not the call's total.
            timeout=aiohttp.ClientTimeout(
                total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
            ),
            headers={
                "Authorization": f"Bearer {self.config.api_key or NO_KEY}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                # Given here rather than skipped: a skipped header costs a copy of the
                # headers per request in aiohttp (`update_auto_headers`).
                "User-Agent": USER_AGENT,
            },
            # An API answers no cookies worth keeping; a jar costs a lookup per request.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def _exchange(self, body: dict[str, Any], started: float) -> Answer:
        import aiohttp

        if self.stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        data = _encode(body)
        max_retries = self.config.max_retries
        for retries_taken in range(max_retries + 1):
            retrying = retries_taken < max_retries
            try:
                if self.stream:
                    return await self._streamed(data, started)
                return await self._posted(data)
            except TimeoutError:
                if not retrying:
                    raise self._timed_out() from None
                await asyncio.sleep(retry_delay(retries_taken, None))
            except aiohttp.ClientError:
                if not retrying:
                    raise self._unreachable(CONNECTION_ERROR) from None
                await asyncio.sleep(retry_delay(retries_taken, None))
            except _Refused as refused:
                if not (retrying and should_retry(refused.status, refused.headers)):
                    raise self._refused(refused.status, _message(refused)) from None
                await asyncio.sleep(retry_delay(retries_taken, refused.headers))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _posted(self, data: bytes) -> Answer:
        async with self._session.post(self._url, data=data, allow_redirects=False) as response:
            payload = await response.read()
            status = response.status
            if status >= 400:
                raise _Refused(status, response.headers, payload)
        try:
            answer = _decode_completion(payload)
            choice = answer.choices[0]
        except (msgspec.DecodeError, IndexError):
            raise self._not_a_completion(status) from None
        usage = answer.usage
        return (
            choice.message.content or "",
            (usage.prompt_tokens or 0) if usage else 0,
            (usage.completion_tokens or 0) if usage else 0,
            choice.finish_reason,
            None,
        )

    async def _streamed(self, data: bytes, started: float) -> Answer:
        """Server-sent events: `data: {chunk}` lines until `data: [DONE]`."""
        parts: list[str] = []
        prompt = completion = 0
        finish: str | None = None
        first: float | None = None
        async with self._session.post(self._url, data=data, allow_redirects=False) as response:
            if response.status >= 400:
                raise _Refused(response.status, response.headers, await response.read())
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue
                event = line[5:].strip()
                if event == b"[DONE]":
                    break
                try:
                    chunk = _decode_chunk(event)
                except msgspec.DecodeError:
                    raise self._not_a_completion(response.status) from None
                if chunk.usage is not None:
                    prompt = chunk.usage.prompt_tokens or 0
                    completion = chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    if choice.delta is not None and choice.delta.content:
                        if first is None:
                            first = time.perf_counter() - started
                        parts.append(choice.delta.content)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        return "".join(parts), prompt, completion, finish, first

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._opened = False


def _message(refused: _Refused) -> str:
    """The provider's message as the `openai` client finds it: JSON's `error.message`, else
    `Error code: <status>`."""
    body: object = refused.body.decode("utf-8", "replace").strip()
    with contextlib.suppress(msgspec.DecodeError):
        body = msgspec.json.decode(body)  # type: ignore[arg-type]
    if isinstance(body, dict):
        body = body.get("error", body)  # what the client keeps as the error's body
    return provider_message(body, f"Error code: {refused.status}")

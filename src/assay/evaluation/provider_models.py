"""`ChatModel` implementations: the ones that call a provider, and two that wrap others.

- `OpenAIChatModel`: any OpenAI-compatible chat-completions endpoint (vLLM, Ollama,
  llama.cpp's server, hosted APIs) through the maintained `openai` client. Its own retries
  do the backoff (429, 408, 409, 5xx, timeouts and connection errors; `Retry-After` and
  `retry-after-ms` honoured, exponential backoff with jitter otherwise). The default
  transport, and the reference the lean one is held to.
- `LeanChatModel` (`lean_chat.py`, a provider's `transport: "lean"`): the same wire format
  and the same retry rules over one bare aiohttp session, for throughput — the `openai`
  client's own request machinery is most of a call's CPU against a fast endpoint.

Both share `EndpointChatModel`: at most `max_concurrency` calls in flight (a semaphore) and
`requests_per_minute` (aiolimiter's leaky bucket); tokens, latency, time to first token when
streamed, and cost from the provider's price table.
- `CachedChatModel`: answers from the response cache (`chat_cache.py`) when it can,
  otherwise asks the model it wraps and stores the answer.
- `RecordedChatModel`: answers only from recorded responses (offline re-scoring); an
  unrecorded request is an error naming it.

Other vendors come in as provider kinds registered with `register_kind` (`litellm` is
registered here and needs the optional extra), never as hand-written HTTP adapters: the lean
transport is the one, for the OpenAI protocol only, and follows the client's rules.

A model object holds an HTTP client and a semaphore, both bound to the event loop that first
uses them: make one per loop (per run).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assay.core.errors import Invalid
from assay.evaluation.chat import ChatModel, ChatRequest, ChatResult

MILLION = 1_000_000
# What an unkeyed provider is sent as its key: the `openai` client refuses to start without one.
NO_KEY = "no-key"
TRANSPORTS = ("openai", "lean")
# What the `openai` client's connection error says (`APIConnectionError`).
CONNECTION_ERROR = "Connection error."


@dataclass(frozen=True)
class ProviderConfig:
    """What a model needs of its provider row, the API key decrypted (never printed)."""

    name: str
    kind: str = "openai"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 60.0
    max_retries: int = 4
    # How an `openai` provider is called: "openai" (the client) or "lean" (`lean_chat.py`).
    transport: str = "openai"
    max_concurrency: int = 16
    requests_per_minute: int | None = None
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


class ProviderError(RuntimeError):
    """The provider failed a call after its retries: its status (None for a timeout or a
    connection failure) and its own message, never the request's key."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class NotRecorded(LookupError):
    """A recorded model was asked something it has no recorded answer for."""


def cost_of(
    prices: Mapping[str, Mapping[str, float]], model: str, prompt_tokens: int, completion: int
) -> float | None:
    """USD for the tokens at the model's price (`*` is every other model's), None when the
    table does not price it: the caller marks the result unpriced rather than free."""
    price = prices.get(model) or prices.get("*")
    if price is None:
        return None
    return (
        prompt_tokens * float(price.get("input", 0.0))
        + completion * float(price.get("output", 0.0))
    ) / MILLION


def request_arguments(request: ChatRequest, model: str) -> dict[str, Any]:
    """The chat-completions body of `request` (what the OpenAI protocol names each field)."""
    body: dict[str, Any] = {"model": model, "messages": list(request.messages)}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.json_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": request.json_schema, "strict": True},
        }
    return body


# What a transport gives back: text, prompt tokens, completion tokens, finish reason, time to
# the first token (streamed answers only).
Answer = tuple[str, int, int, str | None, float | None]


def accounted(
    config: ProviderConfig,
    model: str,
    answer: Answer,
    latency_s: float,
) -> ChatResult:
    """The `ChatResult` of an answer: its tokens, latency and cost from the price table."""
    text, prompt, completion, finish, first = answer
    cost = cost_of(config.prices, model, prompt, completion)
    return ChatResult(
        text=text,
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_s=latency_s,
        first_token_s=first,
        finish_reason=finish,
        cost_usd=cost or 0.0,
        extra={} if cost is not None else {"unpriced": True},
    )


class EndpointChatModel:
    """One model of an OpenAI-compatible provider, `name` `provider/model`: the limits and
    accounting every transport shares. A transport opens its client (`_open_client`) and
    makes one call, retries included (`_exchange`), raising `ProviderError`."""

    def __init__(self, config: ProviderConfig, model: str, *, stream: bool = False) -> None:
        if not config.base_url:
            raise Invalid("an openai provider needs base_url", field="base_url")
        self.config = config
        self.model = model
        self.name = f"{config.name}/{model}"
        self.stream = stream
        self._opened = False
        self._semaphore: asyncio.Semaphore | None = None
        self._limiter: Any = None

    def _open(self) -> None:
        from aiolimiter import AsyncLimiter

        limit = max(1, self.config.max_concurrency)
        self._open_client(limit)
        self._semaphore = asyncio.Semaphore(limit)
        if self.config.requests_per_minute:
            # A bucket of one second's share, not a minute's: a limit of 600/min allows 10 at
            # once, not a burst of 600 that the provider would refuse.
            per_minute = self.config.requests_per_minute
            burst = max(1.0, per_minute / 60)
            self._limiter = AsyncLimiter(burst, burst * 60 / per_minute)
        self._opened = True

    def _open_client(self, connections: int) -> None:
        raise NotImplementedError

    async def _exchange(self, body: dict[str, Any], started: float) -> Answer:
        raise NotImplementedError

    async def complete(self, request: ChatRequest) -> ChatResult:
        if not self._opened:
            self._open()
        assert self._semaphore is not None
        async with self._semaphore:
            if self._limiter is not None:
                await self._limiter.acquire()
            body = request_arguments(request, self.model)
            started = time.perf_counter()
            answer = await self._exchange(body, started)
            return accounted(self.config, self.model, answer, time.perf_counter() - started)

    def _timed_out(self) -> ProviderError:
        return ProviderError(
            f"{self.name}: no answer within {self.config.timeout_s:g} s "
            f"(after {self.config.max_retries} retries)"
        )

    def _unreachable(self, reason: str) -> ProviderError:
        return ProviderError(f"{self.name}: cannot connect ({reason})")

    def _refused(self, status: int, message: str) -> ProviderError:
        return ProviderError(f"{self.name}: HTTP {status}: {message}", status_code=status)

    def _not_a_completion(self, status: int) -> ProviderError:
        return ProviderError(
            f"{self.name}: the answer is not a chat completion", status_code=status
        )


class OpenAIChatModel(EndpointChatModel):
    """The `openai` client's transport: its request path, retries and errors."""

    def __init__(self, config: ProviderConfig, model: str, *, stream: bool = False) -> None:
        super().__init__(config, model, stream=stream)
        self._client: Any = None

    def _open_client(self, connections: int) -> None:
        import httpx2
        from openai import AsyncOpenAI

        # One keep-alive connection per call in flight: no connection is opened per call.
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = AsyncOpenAI(
            base_url=self.config.base_url,
            # Local servers (vLLM, Ollama) take any key; the client refuses to start without one.
            api_key=self.config.api_key or NO_KEY,
            timeout=self.config.timeout_s,
            max_retries=self.config.max_retries,
            http_client=_http_client(limits, self.config.timeout_s),
        )

    async def _exchange(self, body: dict[str, Any], started: float) -> Answer:
        import openai

        try:
            if self.stream:
                return await self._streamed(body, started)
            return await self._posted(body)
        except openai.APITimeoutError as error:
            if _refused_connection(error):
                raise self._unreachable(CONNECTION_ERROR) from None
            raise self._timed_out() from None
        except openai.APIConnectionError as error:
            raise self._unreachable(error.message) from None
        except openai.APIStatusError as error:
            raise self._refused(
                error.status_code, provider_message(error.body, error.message)
            ) from None

    async def _posted(self, body: dict[str, Any]) -> Answer:
        """The client's own request path (auth, retries with backoff, errors) without its
        parameter transform and response model: the body is plain JSON already, and those two
        were ~40 % of the client's CPU per call (bench/evaluation_provider.py)."""
        import httpx2

        response = await self._client.post("/chat/completions", body=body, cast_to=httpx2.Response)
        try:
            answer = json.loads(response.content)
            choice = answer["choices"][0]
            usage = answer.get("usage") or {}
            return (
                choice["message"].get("content") or "",
                int(usage.get("prompt_tokens") or 0),
                int(usage.get("completion_tokens") or 0),
                choice.get("finish_reason"),
                None,
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise self._not_a_completion(response.status_code) from None

    async def _streamed(self, body: dict[str, Any], started: float) -> Answer:
        parts: list[str] = []
        prompt = completion = 0
        finish: str | None = None
        first: float | None = None
        stream = await self._client.chat.completions.create(
            **body, stream=True, stream_options={"include_usage": True}
        )
        async for chunk in stream:
            if chunk.usage is not None:
                prompt, completion = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices:
                if choice.delta.content:
                    if first is None:
                        first = time.perf_counter() - started
                    parts.append(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
        return "".join(parts), prompt, completion, finish, first

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._opened = False


def _http_client(limits: Any, timeout: float) -> Any:
    """The `openai` client's aiohttp transport when aiohttp is there (a third of httpx's CPU
    per call with many calls in flight, bench/evaluation_provider.py), httpx otherwise."""
    try:
        import aiohttp  # noqa: F401
        from openai import DefaultAioHttpClient
    except ImportError:
        import httpx2

        return httpx2.AsyncClient(limits=limits, timeout=timeout)
    return DefaultAioHttpClient(limits=limits, timeout=timeout)


def _refused_connection(error: BaseException) -> bool:
    """Whether a timeout the `openai` client reports was a connection that failed at once
    (refused, no such host): its aiohttp transport maps every connection error to a connect
    timeout, which would report a refused port as 'no answer within 60 s'."""
    cause = error.__cause__ or error.__context__
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def provider_message(body: object, fallback: str) -> str:
    """The provider's own error message (OpenAI's `{"error": {"message": …}}`), short;
    `fallback` when the body has none."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)[:500]
    return str(fallback)[:500]


class LiteLLMChatModel:
    """Other vendors (Anthropic, Gemini, Bedrock …) through `litellm` (the `litellm` extra):
    `model` is litellm's `vendor/model` name."""

    def __init__(self, config: ProviderConfig, model: str, *, stream: bool = False) -> None:
        try:
            import litellm
        except ImportError:
            raise Invalid(
                "provider kind 'litellm' needs the optional extra: pip install 'assay[litellm]'",
                field="kind",
            ) from None
        self._litellm = litellm
        self.config, self.model, self.name = config, model, f"{config.name}/{model}"
        self._semaphore = asyncio.Semaphore(max(1, config.max_concurrency))

    async def complete(self, request: ChatRequest) -> ChatResult:
        async with self._semaphore:
            started = time.perf_counter()
            answer = await self._litellm.acompletion(
                **request_arguments(request, self.model),
                api_key=self.config.api_key,
                base_url=self.config.base_url,
                timeout=self.config.timeout_s,
                num_retries=self.config.max_retries,
            )
        choice, usage = answer.choices[0], answer.usage
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        text = choice.message.content or ""
        return accounted(
            self.config,
            self.model,
            (text, prompt, completion, choice.finish_reason, None),
            time.perf_counter() - started,
        )


ModelFactory = Callable[..., ChatModel]
_kinds: dict[str, ModelFactory] = {}


def register_kind(kind: str, factory: ModelFactory) -> None:
    """A provider kind: `factory(config, model, stream=…)` makes its `ChatModel`."""
    _kinds[kind] = factory


def kinds() -> list[str]:
    return sorted(_kinds)


def chat_model(config: ProviderConfig, model: str, *, stream: bool = False) -> ChatModel:
    factory = _kinds.get(config.kind)
    if factory is None:
        raise Invalid(
            f"no provider kind {config.kind!r} (known: {', '.join(kinds())})", field="kind"
        )
    return factory(config, model, stream=stream)


def openai_compatible(config: ProviderConfig, model: str, *, stream: bool = False) -> ChatModel:
    """The `openai` kind: the provider's transport, the `openai` client unless it says lean."""
    if config.transport == "lean":
        from assay.evaluation.lean_chat import LeanChatModel

        return LeanChatModel(config, model, stream=stream)
    if config.transport != "openai":
        known = ", ".join(TRANSPORTS)
        raise Invalid(f"no transport {config.transport!r} (known: {known})", field="transport")
    return OpenAIChatModel(config, model, stream=stream)


register_kind("openai", openai_compatible)
register_kind("litellm", LiteLLMChatModel)


class CachedChatModel:
    """`inner` behind the response cache. `prefetch` loads the answers a run will need in
    bulk (what it did not find is not looked up again); a call it did not prefetch looks in
    the cache once; identical calls in flight together make one call; a new answer is stored
    (now, or at `flush` when `write_through` is off, so a fast run writes in batches). A
    cached answer costs nothing and took no time: its cost and latency are zero."""

    def __init__(self, inner: ChatModel, db: Any, *, write_through: bool = True) -> None:
        from assay.evaluation import chat_cache

        self._cache = chat_cache
        self.inner, self.db, self.name = inner, db, inner.name
        self.write_through = write_through
        self._known: dict[str, ChatResult] = {}
        self._absent: set[str] = set()
        self._in_flight: dict[str, asyncio.Event] = {}
        self._pending: list[tuple[str, str, ChatResult]] = []
        self.calls = 0

    def prefetch(self, requests: Iterable[ChatRequest]) -> int:
        """Load the cached answers to `requests`; returns how many were found."""
        keys = [request.cache_key(self.name) for request in requests]
        with self.db.read() as session:
            found = self._cache.get_many(session=session, keys=keys)
        self._known.update(found)
        self._absent.update(key for key in keys if key not in found)
        return len(found)

    def _lookup(self, key: str) -> ChatResult | None:
        with self.db.read() as session:
            return self._cache.get_many(session=session, keys=[key]).get(key)

    async def complete(self, request: ChatRequest) -> ChatResult:
        key = request.cache_key(self.name)
        while (event := self._in_flight.get(key)) is not None:
            await event.wait()  # the same request is being asked: wait for its answer
        found = self._known.get(key)
        if found is None and key not in self._absent:
            found = await asyncio.to_thread(self._lookup, key)
        if found is not None:
            return found
        if key in self._in_flight:  # asked while this one looked in the cache
            return await self.complete(request)
        event = self._in_flight[key] = asyncio.Event()
        try:
            self.calls += 1
            result = await self.inner.complete(request)
            self._known[key] = replace(
                result, cached=True, latency_s=0.0, first_token_s=None, cost_usd=0.0, extra={}
            )
        finally:
            del self._in_flight[key]
            event.set()  # a failed call leaves no answer: the next waiter asks itself
        entry = (key, self.name, result)
        if self.write_through:
            await asyncio.to_thread(self._put, [entry])
        else:
            self._pending.append(entry)
        return result

    def _put(self, entries: list[tuple[str, str, ChatResult]]) -> None:
        with self.db.write() as session:
            self._cache.put_many(session=session, entries=entries)

    def take_pending(self) -> list[tuple[str, str, ChatResult]]:
        """The answers not written yet, handed over to be stored in the caller's own
        transaction (a run stores them with its results: one commit instead of two)."""
        entries, self._pending = self._pending, []
        return entries

    def flush(self) -> int:
        """Store the answers not written yet; returns how many."""
        entries = self.take_pending()
        if entries:
            self._put(entries)
        return len(entries)


class RecordedChatModel:
    """Answers only what was recorded for `name`: from `answers` (cache key → result) or,
    with `from_cache`, from the response cache."""

    def __init__(self, name: str, answers: Mapping[str, ChatResult]) -> None:
        self.name = name
        self._answers = dict(answers)

    @classmethod
    def from_cache(
        cls, *, session: Any, name: str, requests: Iterable[ChatRequest]
    ) -> RecordedChatModel:
        from assay.evaluation import chat_cache

        keys = [request.cache_key(name) for request in requests]
        return cls(name, chat_cache.get_many(session=session, keys=keys))

    async def complete(self, request: ChatRequest) -> ChatResult:
        key = request.cache_key(self.name)
        found = self._answers.get(key)
        if found is None:
            # The request's key, not its content: items of a sealed set stay out of errors.
            raise NotRecorded(
                f"{self.name} has no recorded response to request {key} (sample "
                f"{request.sample}, {len(request.messages)} messages); run the model to record it"
            )
        return found

"""The one interface every model call in Assay goes through: a chat model answers a chat
request. Providers (`evaluation/providers.py`) implement it over an OpenAI-compatible
endpoint (and other vendors through an optional extra); runs, judges, probes, the grading
service and the arena only ever see `ChatModel`.

The interface is async: a run keeps many calls in flight on one event loop, which is what
lets a worker thread grade thousands of criteria a second against a fast endpoint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    """What the model receives. `messages` are OpenAI-style `{"role", "content"}` dicts."""

    messages: tuple[dict[str, Any], ...]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # A JSON schema the answer must follow (OpenAI's `response_format: json_schema`).
    json_schema: dict[str, Any] | None = None
    # Which sample this is when a run asks for several answers to one item (epochs):
    # part of the cache key, so sample 2 is not sample 1 served from the cache.
    sample: int = 0

    def cache_key(self, model: str) -> str:
        """The same request to the same model has the same key (sha256 of canonical JSON)."""
        # The fields as they are, not `asdict`'s deep copy (which was ~1 ms of a judge call's
        # CPU): json.dumps reads the same values, so the keys are the same as before.
        payload = {"model": model, **{f.name: getattr(self, f.name) for f in fields(self)}}
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    # Time to the first token when the answer was streamed.
    first_token_s: float | None = None
    finish_reason: str | None = None
    cost_usd: float = 0.0
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ChatModel(Protocol):
    """A model that answers chat requests. `name` identifies it in results and caches."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResult: ...

"""A tiny `ChatModel` over httpx for the evaluation tests (POST /v1/chat/completions).

It stands in until the provider layer lands; the real `OpenAIChatModel` replaces it."""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx

from assay.evaluation.chat import ChatRequest, ChatResult

# Building an SSL context is most of a client's set-up cost; loopback needs none, so share one.
_SSL = ssl.create_default_context()


class HttpChatModel:
    def __init__(self, base_url: str, name: str = "stand-in") -> None:
        self.base_url = base_url
        self.name = name

    async def complete(self, request: ChatRequest) -> ChatResult:
        payload: dict[str, Any] = {"model": self.name, "messages": list(request.messages)}
        for key in ("temperature", "max_tokens", "top_p", "seed"):
            if getattr(request, key) is not None:
                payload[key] = getattr(request, key)
        if request.json_schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema},
            }
        started = time.perf_counter()
        # A client per call: each test's coroutine runs on its own event loop.
        async with httpx.AsyncClient(timeout=10, verify=_SSL, trust_env=False) as client:
            for attempt in range(4):
                try:
                    response = await client.post(f"{self.base_url}/chat/completions", json=payload)
                    break
                except httpx.TransportError:
                    # The stand-in's listen backlog is 5: a burst of connections can be reset.
                    if attempt == 3:
                        raise
        response.raise_for_status()
        body = response.json()
        return ChatResult(
            text=body["choices"][0]["message"]["content"],
            prompt_tokens=body["usage"]["prompt_tokens"],
            completion_tokens=body["usage"]["completion_tokens"],
            latency_s=time.perf_counter() - started,
            finish_reason=body["choices"][0]["finish_reason"],
        )

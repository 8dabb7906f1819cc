"""The real `OpenAIChatModel` pointed at an OpenAI-protocol stand-in, for tests that call the
evaluation layer directly (judges, grading, probes).

`stand_in_model(base_url, "judge-a")` is the model `judge-a` of a provider named `stand-in`
(so its name is `stand-in/judge-a`), without retries (a scripted 500 stays a failure) and at
most 8 calls in flight (the stand-in's listen backlog is 5 and each call opens a connection:
HTTP/1.0). `run(coroutine)` runs it on an event loop of its own and closes every stand-in
model's client before that loop ends, so a model can be used again from the next `run`.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from assay.evaluation.provider_models import OpenAIChatModel, ProviderConfig
from tests.support import aio

T = TypeVar("T")
# Strong references: a model whose only holder was the coroutine is still closed after it.
_made: list[OpenAIChatModel] = []


def stand_in_model(base_url: str, model: str = "stand-in") -> OpenAIChatModel:
    config = ProviderConfig(
        name="stand-in", base_url=base_url, max_retries=0, timeout_s=30.0, max_concurrency=8
    )
    made = OpenAIChatModel(config, model)
    _made.append(made)
    return made


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    async def closing() -> T:
        try:
            return await coroutine
        finally:
            for model in list(_made):
                await model.aclose()

    return aio.run(closing())

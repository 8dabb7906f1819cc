"""Wire schemas of model providers. The API key goes in (`api_key`) and never comes out:
responses say `has_api_key`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints

from assay.core.schemas import Page, Schema

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Price(Schema):
    input: float = Field(ge=0, description="USD per million prompt tokens.")
    output: float = Field(ge=0, description="USD per million completion tokens.")


Prices = dict[ModelName, Price]
Transport = Literal["openai", "lean"]
TRANSPORT_HELP = (
    "How an `openai` provider is called: `openai`, the maintained client (the default and "
    "the reference); `lean`, the same wire format and retry rules over bare aiohttp, for "
    "thousands of calls a second."
)
PRICES_HELP = (
    "USD per million tokens by model name (`*` prices every other model). A call to a model "
    "the table does not price is marked `unpriced`, not counted as free."
)


class ProviderCreate(Schema):
    name: Name
    kind: str = Field(
        "openai",
        max_length=32,
        description="`openai`: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, "
        "hosted APIs); `litellm`: other vendors through the optional extra.",
    )
    base_url: Url | None = Field(None, description="The endpoint, e.g. http://host:8000/v1.")
    transport: Transport = Field("openai", description=TRANSPORT_HELP)
    api_key: SecretStr | None = Field(
        None, max_length=4000, description="Stored encrypted; never returned nor logged."
    )
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Per call, each attempt.")
    max_retries: int = Field(4, ge=0, le=20, description="On 429, 5xx, timeouts.")
    max_concurrency: int = Field(16, ge=1, le=4096, description="Calls in flight at most.")
    requests_per_minute: int | None = Field(None, ge=1, le=10_000_000)
    prices: Prices = Field(default_factory=dict, max_length=1000, description=PRICES_HELP)


class ProviderUpdate(Schema):
    name: Name | None = None
    base_url: Url | None = None
    transport: Transport | None = Field(None, description=TRANSPORT_HELP)
    api_key: SecretStr | None = Field(
        None, max_length=4000, description="A new key; an empty string removes the stored one."
    )
    timeout_s: float | None = Field(None, gt=0, le=3600)
    max_retries: int | None = Field(None, ge=0, le=20)
    max_concurrency: int | None = Field(None, ge=1, le=4096)
    requests_per_minute: int | None = Field(None, ge=1, le=10_000_000)
    prices: Prices | None = Field(None, max_length=1000)


class Provider(Schema):
    id: str
    name: str
    kind: str
    base_url: str | None
    transport: str
    has_api_key: bool
    timeout_s: float
    max_retries: int
    max_concurrency: int
    requests_per_minute: int | None
    prices: dict[str, Price]
    mode: str
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ProviderPage(Page[Provider]):
    pass


class ProviderCheck(Schema):
    model: ModelName = Field(description="The model to send one tiny request to.")


class ProviderCheckResult(Schema):
    ok: bool
    model: str
    latency_ms: float | None = Field(None, description="The call's time, when it answered.")
    status_code: int | None = Field(None, description="The provider's HTTP status on failure.")
    error: str | None = Field(None, description="The provider's error, in its words.")

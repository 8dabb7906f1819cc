"""Model providers: where Assay sends chat requests (an OpenAI-compatible endpoint, or another
vendor through a registered kind), with the key to use, the limits to keep and the prices to
charge. Create, read, list, change, delete, check; `chat_model_for` makes the `ChatModel` a
run, a judge or the arena calls.

The API key is stored encrypted (`core.crypto`, the same as hosted models' endpoint keys),
decrypted only to build a client, and never returned, logged or put in an error.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import crypto, outbound
from assay.core.auth import Actor
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate
from assay.core.settings import Settings
from assay.evaluation import provider_models
from assay.evaluation.chat import ChatModel, ChatRequest
from assay.evaluation.models import Provider
from assay.evaluation.provider_models import ProviderConfig, ProviderError

CHECK_REQUEST = ChatRequest(messages=({"role": "user", "content": "Say OK."},), max_tokens=1)


def _check_transport(kind: str, transport: str) -> None:
    if transport != "openai" and kind != "openai":
        raise Invalid(
            f"transport {transport!r} is for openai providers; {kind} has its own",
            field="transport",
        )


def _check_kind_and_url(kind: str, base_url: str | None, settings: Settings) -> None:
    if kind not in provider_models.kinds():
        known = ", ".join(provider_models.kinds())
        raise Invalid(f"no provider kind {kind!r} (known: {known})", field="kind")
    if kind == "openai" and not base_url:
        raise Invalid("an openai provider needs base_url", field="base_url")
    if base_url:
        # Without DNS, as webhooks: a name's addresses are checked when a model is built.
        outbound.check_url(
            base_url,
            policy=outbound.Policy.from_settings(settings),
            resolve=False,
            field="base_url",
        )


def _prices(prices: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {
        model: {"input": float(price.input), "output": float(price.output)}
        for model, price in prices.items()
    }


def _name_taken(session: Session, mode: str, name: str, other_than: str | None = None) -> None:
    taken = session.scalar(select(Provider.id).where(Provider.mode == mode, Provider.name == name))
    if taken is not None and taken != other_than:
        raise Conflict(f"a provider named {name!r} exists ({taken})", field="name")


def create_provider(
    *, session: Session, provider_in: Any, actor: Actor, settings: Settings
) -> Provider:
    """A provider from a `ProviderCreate`; its key encrypted with the server's secret."""
    _check_kind_and_url(provider_in.kind, provider_in.base_url, settings)
    _check_transport(provider_in.kind, provider_in.transport)
    _name_taken(session, actor.mode, provider_in.name)
    key = provider_in.api_key.get_secret_value() if provider_in.api_key else ""
    provider = Provider(
        name=provider_in.name,
        mode=actor.mode,
        kind=provider_in.kind,
        base_url=provider_in.base_url,
        transport=provider_in.transport,
        api_key=crypto.encrypt(settings.secret_key.get_secret_value(), key) if key else None,
        timeout_s=provider_in.timeout_s,
        max_retries=provider_in.max_retries,
        max_concurrency=provider_in.max_concurrency,
        requests_per_minute=provider_in.requests_per_minute,
        prices=_prices(provider_in.prices),
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(provider)
    session.flush()
    return provider


def get_provider(*, session: Session, provider_id: str) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"no provider with id {provider_id}", field="provider_id")
    return provider


def get_provider_by_name(*, session: Session, mode: str, name: str) -> Provider:
    provider = session.scalar(select(Provider).where(Provider.mode == mode, Provider.name == name))
    if provider is None:
        raise NotFound(f"no provider named {name!r}", field="provider")
    return provider


def list_providers(
    *, session: Session, mode: str, cursor: str | None, limit: int
) -> PageResult[Provider]:
    return paginate(
        session,
        select(Provider).where(Provider.mode == mode),
        key=Provider.id,
        cursor=cursor,
        limit=limit,
    )


def update_provider(
    *, session: Session, provider: Provider, changes: Any, settings: Settings
) -> Provider:
    """Change what a `ProviderUpdate` gives (`exclude_unset`); an empty key removes it."""
    given = changes.model_fields_set
    if "base_url" in given:
        _check_kind_and_url(provider.kind, changes.base_url, settings)
        provider.base_url = changes.base_url
    if "transport" in given and changes.transport is not None:
        _check_transport(provider.kind, changes.transport)
        provider.transport = changes.transport
    if "name" in given and changes.name is not None:
        _name_taken(session, provider.mode, changes.name, other_than=provider.id)
        provider.name = changes.name
    if "api_key" in given:
        key = changes.api_key.get_secret_value() if changes.api_key else ""
        provider.api_key = (
            crypto.encrypt(settings.secret_key.get_secret_value(), key) if key else None
        )
    for column in ("timeout_s", "max_retries", "max_concurrency"):
        if column in given and getattr(changes, column) is not None:
            setattr(provider, column, getattr(changes, column))
    if "requests_per_minute" in given:
        provider.requests_per_minute = changes.requests_per_minute
    if "prices" in given and changes.prices is not None:
        provider.prices = _prices(changes.prices)
    session.flush()
    return provider


def delete_provider(*, session: Session, provider: Provider) -> None:
    """Delete a provider no judge calls (a judge's verdicts name its model: refused)."""
    from assay.evaluation.models import Judge

    used_by = session.scalar(select(Judge.id).where(Judge.provider_id == provider.id).limit(1))
    if used_by is not None:
        raise Conflict(f"judge {used_by} calls this provider", field="provider_id")
    session.delete(provider)
    session.flush()


def provider_config(provider: Provider, *, settings: Settings) -> ProviderConfig:
    """What a `ChatModel` needs, the key decrypted and the endpoint checked against the
    outbound policy now, with DNS."""
    if provider.base_url:
        outbound.check_url(
            provider.base_url, policy=outbound.Policy.from_settings(settings), field="base_url"
        )
    key = (
        crypto.decrypt(settings.secret_key.get_secret_value(), provider.api_key)
        if provider.api_key
        else None
    )
    return ProviderConfig(
        name=provider.name,
        kind=provider.kind,
        base_url=provider.base_url,
        api_key=key,
        transport=provider.transport,
        timeout_s=provider.timeout_s,
        max_retries=provider.max_retries,
        max_concurrency=provider.max_concurrency,
        requests_per_minute=provider.requests_per_minute,
        prices=dict(provider.prices or {}),
    )


def chat_model_for(
    *, provider: Provider, model: str, settings: Settings, stream: bool = False
) -> ChatModel:
    """The `ChatModel` for one model of the provider (its name `provider/model`)."""
    if not model.strip():
        raise Invalid("name the provider's model to call", field="model")
    return provider_models.chat_model(
        provider_config(provider, settings=settings), model, stream=stream
    )


def check_provider(*, provider: Provider, model: str, settings: Settings) -> dict[str, Any]:
    """One tiny call without retries: its latency, or the provider's error in its words."""
    config = provider_config(provider, settings=settings)
    config = ProviderConfig(**{**config.__dict__, "max_retries": 0})
    chat = provider_models.chat_model(config, model)

    async def call() -> Any:
        try:
            return await chat.complete(CHECK_REQUEST)
        finally:
            closing = getattr(chat, "aclose", None)
            if closing is not None:
                await closing()

    try:
        result = asyncio.run(call())
    except ProviderError as error:
        return {
            "ok": False,
            "model": model,
            "status_code": error.status_code,
            "error": error.message,
        }
    return {"ok": True, "model": model, "latency_ms": round(result.latency_s * 1000, 3)}

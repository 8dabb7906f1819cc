"""`client.providers`: model endpoints evaluation runs and judges call (managers and admins).
The API key is sent once and never returned: a provider says `has_api_key`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.sdk._api.providers import ProvidersAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.eval_models import Provider, ProviderCheckResult

_UNSET: Any = object()


class Providers:
    def __init__(self, http: HTTP) -> None:
        self._api = ProvidersAPI(http)

    def create(
        self,
        *,
        name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        kind: str = "openai",
        transport: str | None = None,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        requests_per_minute: int | None = None,
        prices: dict[str, dict[str, float]] | None = None,
    ) -> Provider:
        """Add a provider. `kind="openai"`: any OpenAI-compatible endpoint (`base_url` such
        as `http://host:8000/v1`); `prices`: USD per million tokens by model name,
        `{"model": {"input": …, "output": …}}`; `transport="lean"` calls it over bare
        aiohttp rather than the `openai` client (the same wire format and retries, for
        throughput). Safe to retry."""
        body = {
            "name": name,
            "kind": kind,
            "transport": transport,
            "base_url": base_url,
            "api_key": api_key,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "max_concurrency": max_concurrency,
            "requests_per_minute": requests_per_minute,
            "prices": prices,
        }
        return self._api.create(json={k: v for k, v in body.items() if v is not None})

    def list(self, *, page_size: int | None = None) -> Iterator[Provider]:
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor, "limit": page_size}))

    def get(self, provider_id: str) -> Provider:
        return self._api.get(provider_id=provider_id)

    def update(
        self,
        provider_id: str,
        *,
        name: str | None = None,
        base_url: str | None = None,
        transport: str | None = None,
        api_key: str | None = None,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        requests_per_minute: int | None = _UNSET,
        prices: dict[str, dict[str, float]] | None = None,
    ) -> Provider:
        """Change what is given (`api_key=""` removes the key, `requests_per_minute=None`
        lifts the limit); leave the rest as it is."""
        changes: dict[str, Any] = {
            "name": name,
            "base_url": base_url,
            "transport": transport,
            "api_key": api_key,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "max_concurrency": max_concurrency,
            "prices": prices,
        }
        body = {k: v for k, v in changes.items() if v is not None}
        if requests_per_minute is not _UNSET:
            body["requests_per_minute"] = requests_per_minute
        return self._api.update(provider_id=provider_id, json=body)

    def delete(self, provider_id: str) -> None:
        self._api.delete(provider_id=provider_id)

    def check(self, provider_id: str, *, model: str) -> ProviderCheckResult:
        """One tiny call to `model`: its latency, or the provider's error in its words."""
        return self._api.check(provider_id=provider_id, json={"model": model})

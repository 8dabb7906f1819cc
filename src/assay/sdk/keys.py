"""`client.keys`: API keys (`live_…` and `test_…`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from assay.sdk._api.keys import KeysAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import ApiKey, ApiKeyCreated


class Keys:
    def __init__(self, http: HTTP) -> None:
        self._api = KeysAPI(http)

    def create(
        self,
        *,
        mode: Literal["live", "test"] = "live",
        name: str = "",
        user_id: str | None = None,
    ) -> ApiKeyCreated:
        """A new key for you (or, as an admin, for `user_id`); `.key` is shown only now."""
        body = {"mode": mode, "name": name, "user_id": user_id}
        return self._api.create(json={k: v for k, v in body.items() if v is not None})

    def list(self, *, user_id: str | None = None, page_size: int | None = None) -> Iterator[ApiKey]:
        """Your keys (or, as an admin, `user_id`'s), including revoked ones."""
        return iterate(
            lambda cursor: self._api.list(
                params={"user_id": user_id, "cursor": cursor, "limit": page_size}
            )
        )

    def revoke(self, key_id: str) -> ApiKey:
        return self._api.revoke(key_id=key_id)

"""`client.users`: accounts."""

from __future__ import annotations

from collections.abc import Iterator

from assay.sdk._api.users import UsersAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import User


class Users:
    def __init__(self, http: HTTP) -> None:
        self._api = UsersAPI(http)

    def create(self, *, email: str, role: str, name: str = "", password: str | None = None) -> User:
        """Create a user (admins only). Without a password the user signs in with keys only.

        Safe to retry: an automatic Idempotency-Key makes a repeat return the first user.
        """
        body = {"email": email, "role": role, "name": name, "password": password}
        return self._api.create(json={k: v for k, v in body.items() if v is not None})

    def get(self, user_id: str) -> User:
        return self._api.get(user_id=user_id)

    def list(self, *, page_size: int | None = None) -> Iterator[User]:
        """All users, newest first, fetched a page at a time as you iterate."""
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor, "limit": page_size}))

    def deactivate(self, user_id: str) -> User:
        """Stop a user at once: no sign-in, sessions ended, API keys refused (admins)."""
        return self._api.deactivate(user_id=user_id)

    def reactivate(self, user_id: str) -> User:
        """Let a deactivated user sign in again; keys that were not revoked work again."""
        return self._api.reactivate(user_id=user_id)

    def reset_password(self, user_id: str, password: str) -> User:
        """Set a user's password (admins): their sessions end, a sign-in lockout lifts."""
        return self._api.reset_password(user_id=user_id, json={"password": password})

    def end_sessions(self, user_id: str) -> int:
        """Sign a user out of every browser; returns how many sessions ended."""
        return int(self._api.end_sessions(user_id=user_id)["ended"])

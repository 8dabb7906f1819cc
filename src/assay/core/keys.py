"""API keys: `live_…` and `test_…` like Scale's, shown once, stored as a hash."""

from __future__ import annotations

import random
import secrets
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import models
from assay.core.auth import Actor, sha256_hex
from assay.core.db import utcnow
from assay.core.errors import NotFound, Unauthorized
from assay.core.pagination import PageResult, paginate


def generate_key(mode: str) -> str:
    return f"{mode}_{secrets.token_hex(16)}"


def create_key(
    *, session: Session, user: models.User, mode: str, name: str = ""
) -> tuple[models.ApiKey, str]:
    """Returns the stored key and the raw secret, which is never stored or shown again."""
    raw = generate_key(mode)
    key = models.ApiKey(
        user_id=user.id, mode=mode, name=name, key_hash=sha256_hex(raw), prefix=raw[:9]
    )
    session.add(key)
    session.flush()
    return key, raw


def resolve_key(*, session: Session, raw_key: str) -> Actor:
    """The actor behind a raw key; Unauthorized for unknown, revoked or deactivated keys."""
    row = session.execute(
        select(
            models.ApiKey.id,
            models.ApiKey.mode,
            models.ApiKey.revoked_at,
            models.User.id,
            models.User.email,
            models.User.role,
            models.User.is_active,
        )
        .join(models.User, models.User.id == models.ApiKey.user_id)
        .where(models.ApiKey.key_hash == sha256_hex(raw_key))
    ).first()
    if row is None or row[2] is not None or not row[6]:
        raise Unauthorized(
            "the API key is not valid: check it was copied whole, or create a new one with "
            "`assay keys create --email you@example.com`"
        )
    return Actor(user_id=row[3], email=row[4], role=row[5], mode=row[1], via="key", key_id=row[0])


class KeyCache:
    """Recently resolved keys, so most requests skip the key lookup. Entries live at most
    `ttl` seconds; revocations in this process clear it at once.

    Each entry lives a random share of `ttl`, between half and all of it: keys first used
    together (a team starting its shift, a load test) would otherwise expire together and
    be looked up again in one burst every `ttl` seconds — 64 labelers' keys did, and each
    burst stalled the queue's requests 100-300 ms (bench/labeling_queue.py, every 5 s)."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Actor]] = {}
        self._lock = threading.Lock()

    def get(self, raw_key: str) -> Actor | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(sha256_hex(raw_key))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, raw_key: str, actor: Actor) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            lifetime = self.ttl * (0.5 + 0.5 * random.random())
            self._entries[sha256_hex(raw_key)] = (time.monotonic() + lifetime, actor)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def list_keys(
    *, session: Session, user_id: str | None, cursor: str | None, limit: int
) -> PageResult[models.ApiKey]:
    stmt = select(models.ApiKey)
    if user_id is not None:
        stmt = stmt.where(models.ApiKey.user_id == user_id)
    return paginate(session, stmt, key=models.ApiKey.id, cursor=cursor, limit=limit)


def get_key(*, session: Session, key_id: str) -> models.ApiKey:
    key = session.get(models.ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}", field="key_id")
    return key


def revoke_key(*, session: Session, key: models.ApiKey) -> models.ApiKey:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key

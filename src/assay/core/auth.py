"""Who is calling: the `Actor`, password hashing and role order."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assay.core.settings import get_settings

Role = Literal["admin", "manager", "reviewer", "labeler"]
Mode = Literal["live", "test"]
ROLE_RANK: dict[str, int] = {"labeler": 0, "reviewer": 1, "manager": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller of one request or CLI command."""

    user_id: str
    email: str
    role: str
    mode: Mode = "live"
    via: Literal["key", "session", "system"] = "key"
    key_id: str | None = None

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


SYSTEM = Actor(user_id="system", email="system@assay.local", role="admin", via="system")


@lru_cache(maxsize=4)
def _hasher(memory_kib: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib)


def hash_password(password: str) -> str:
    """Argon2id, memory-hard; parameters live inside the hash so they can change later."""
    return _hasher(get_settings().password_hash_memory_kib).hash(password)


@lru_cache(maxsize=4)
def _stand_in_hash(memory_kib: int) -> str:
    """A hash of a random password, checked when there is no real hash to check (unknown
    email, no password), so a miss costs what a wrong password costs."""
    return _hasher(memory_kib).hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; as slow for a missing hash as for a wrong password.

    CPU-bound for tens of milliseconds: call it holding no database transaction."""
    hasher = _hasher(get_settings().password_hash_memory_kib)
    try:
        if not password_hash:
            hasher.verify(_stand_in_hash(get_settings().password_hash_memory_kib), password)
            return False
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()

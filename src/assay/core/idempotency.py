"""Idempotent creates: a retried request with the same `Idempotency-Key` gets the first answer."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from assay.core import models
from assay.core.errors import Conflict


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def find_replay(
    *, session: Session, user_id: str, mode: str, key: str, request_fingerprint: str
) -> models.IdempotencyRecord | None:
    """The first answer to this user's `key` in this key mode (live and test never share)."""
    record = session.get(models.IdempotencyRecord, (user_id, mode, key))
    if record is not None and record.fingerprint != request_fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request",
            field="Idempotency-Key",
        )
    return record


def save_response(
    *,
    session: Session,
    user_id: str,
    mode: str,
    key: str,
    request_fingerprint: str,
    status_code: int,
    response: Any,
) -> None:
    session.add(
        models.IdempotencyRecord(
            user_id=user_id,
            mode=mode,
            key=key,
            fingerprint=request_fingerprint,
            status_code=status_code,
            response=response,
        )
    )
    session.flush()

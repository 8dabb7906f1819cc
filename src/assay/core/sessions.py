"""Browser sessions: a random token in a signed cookie, its hash on the server (so logout
really ends the session), and a CSRF token bound to it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assay.core import models
from assay.core.auth import Actor, sha256_hex
from assay.core.db import utcnow
from assay.core.errors import Unauthorized


def create_session(*, session: Session, user: models.User, ttl_seconds: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        models.BrowserSession(
            user_id=user.id,
            token_hash=sha256_hex(token),
            expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds),
        )
    )
    session.flush()
    return token


def resolve_session(*, session: Session, token: str) -> Actor:
    row = session.execute(
        select(
            models.BrowserSession.expires_at,
            models.User.id,
            models.User.email,
            models.User.role,
            models.User.is_active,
        )
        .join(models.User, models.User.id == models.BrowserSession.user_id)
        .where(models.BrowserSession.token_hash == sha256_hex(token))
    ).first()
    if row is None or row[0] < utcnow() or not row[4]:
        raise Unauthorized("your session has ended: log in again")
    return Actor(user_id=row[1], email=row[2], role=row[3], mode="live", via="session")


def delete_session(*, session: Session, token: str) -> None:
    session.execute(
        delete(models.BrowserSession).where(models.BrowserSession.token_hash == sha256_hex(token))
    )


def csrf_token(secret: str, session_token: str) -> str:
    """Derived from the session, so a token stolen from one session is useless in another."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()

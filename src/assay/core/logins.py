"""Signing in with a password.

- Known and unknown emails cost the same: a miss is checked against a stand-in hash
  (`auth.verify_password`), and both record a failure.
- Failures are counted per account (the email, known or not) and per client address in
  `login_throttles`, shared by every server process: too many within the window lock that
  account or address for a while (`ASSAY_LOGIN_*` settings).
- The Argon2 check runs outside any database transaction: the user is read in a read
  transaction, the hash checked with none open, then a short write records the session or
  the failure. Checked inside the write transaction, 8 parallel bad logins held SQLite's one
  writer for their hashes and pushed a labeler's heartbeat from 16 ms to 1.5 s.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from assay.core import dialects, jobs, models, sessions
from assay.core.auth import sha256_hex, verify_password
from assay.core.db import Database, UTCDateTime, utcnow
from assay.core.errors import RateLimited, Unauthorized
from assay.core.settings import Settings

_T = models.LoginThrottle.__table__
WRONG = "wrong email or password"


def _keys(email: str, address: str | None) -> dict[str, str]:
    """Throttle key → what it counts ("account" or "address"); hashed, so the table holds
    neither emails nobody registered nor client addresses."""
    keys = {sha256_hex(f"account:{email}"): "account"}
    if address:
        keys[sha256_hex(f"address:{address}")] = "address"
    return keys


def _limit(kind: str, settings: Settings) -> int:
    if kind == "account":
        return settings.login_max_failures_per_account
    return settings.login_max_failures_per_address


def check_not_locked(
    *, session: Session, email: str, address: str | None, now: dt.datetime | None = None
) -> None:
    """RateLimited while the account or the address is locked out."""
    now = now or utcnow()
    keys = _keys(email, address)
    rows = session.execute(
        select(_T.c.key, _T.c.locked_until).where(_T.c.key.in_(list(keys)), _T.c.locked_until > now)
    ).all()
    if not rows:
        return
    seconds = max((until - now).total_seconds() for _, until in rows)
    minutes = max(1, math.ceil(seconds / 60))
    what = " and ".join(
        sorted({"this account" if keys[k] == "account" else "this address" for k, _ in rows})
    )
    raise RateLimited(
        f"too many failed sign-ins for {what}: try again in {minutes} minute"
        + ("s" if minutes > 1 else "")
        + ", or ask an admin to reset your password",
        field="email",
    )


def record_failure(
    *,
    session: Session,
    email: str,
    address: str | None,
    settings: Settings,
    now: dt.datetime | None = None,
) -> None:
    """Count one failure for the account and the address; lock whichever reached its limit
    (the count then starts over)."""
    now = now or utcnow()
    when = literal(now, UTCDateTime())
    stale = _T.c.window_started_at < literal(
        now - dt.timedelta(seconds=settings.login_failure_window_seconds), UTCDateTime()
    )
    until = now + dt.timedelta(seconds=settings.login_lockout_seconds)
    dialect = session.get_bind().dialect.name
    for key, kind in _keys(email, address).items():
        limit = _limit(kind, settings)
        if limit <= 0:
            continue
        insert = dialects.insert(_T, dialect).values(
            key=key, failures=1, window_started_at=now, locked_until=None
        )
        session.execute(
            insert.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": case((stale, 1), else_=_T.c.failures + 1),
                    "window_started_at": case((stale, when), else_=_T.c.window_started_at),
                },
            )
        )
        session.execute(
            update(_T)
            .where(_T.c.key == key, _T.c.failures >= limit)
            .values(failures=0, window_started_at=now, locked_until=until)
        )


def forget_failures(*, session: Session, email: str) -> None:
    """A successful sign-in clears its account's count (not its address's: one good
    account must not let an address keep guessing at others)."""
    session.execute(delete(_T).where(_T.c.key == sha256_hex(f"account:{email}")))


_hashing_slots: dict[int, threading.BoundedSemaphore] = {}
_hashing_guard = threading.Lock()


def _hashing(slots: int) -> threading.BoundedSemaphore:
    """At most `slots` password checks at once per process: each keeps every core busy for
    ~0.1 s (Argon2id, 64 MiB, 4 lanes), so a burst of sign-ins (an attack, a shift starting)
    would otherwise starve the labeling queue's short requests of CPU."""
    with _hashing_guard:
        if slots not in _hashing_slots:
            _hashing_slots[slots] = threading.BoundedSemaphore(slots)
        return _hashing_slots[slots]


def log_in(
    *, db: Database, email: str, password: str, address: str | None, settings: Settings
) -> tuple[models.User, str]:
    """The user and a new browser session token; Unauthorized for a wrong email or password
    (the same answer for either), RateLimited while the account or address is locked.

    Runs its own transactions, so the caller must hold none: a read, the hash check with no
    transaction open, then one short write."""
    email = email.strip().lower()
    with db.read() as session:
        check_not_locked(session=session, email=email, address=address)
        user = session.scalar(select(models.User).where(models.User.email == email))
        password_hash = user.password_hash if user is not None and user.is_active else None
    with _hashing(settings.password_hash_concurrency):
        matches = verify_password(password_hash, password)
    with db.write() as session:
        if matches:
            assert user is not None
            # Still the same password and still active: an admin may have acted meanwhile.
            current = session.get(models.User, user.id)
            if current is not None and current.is_active and current.password_hash == password_hash:
                forget_failures(session=session, email=email)
                token = sessions.create_session(
                    session=session, user=current, ttl_seconds=settings.session_ttl_seconds
                )
                return current, token
        record_failure(session=session, email=email, address=address, settings=settings)
    raise Unauthorized(WRONG, field="email")


@jobs.duty("core.forget_login_failures", seconds=300.0)
def forget_old_failures(app: Any) -> int:
    """Drop throttle rows whose window has passed and that lock nothing."""
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=app.settings.login_failure_window_seconds)
    old = and_(
        _T.c.window_started_at < cutoff, or_(_T.c.locked_until.is_(None), _T.c.locked_until < now)
    )
    with app.db.read() as session:
        if session.execute(select(_T.c.key).where(old).limit(1)).first() is None:
            return 0
    with app.db.write() as session:
        return session.execute(delete(_T).where(old)).rowcount or 0

"""Users: accounts with one global role. Project membership comes with the labeling pillar."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assay.core import logins, models, schemas
from assay.core.auth import Actor, hash_password
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate


def create_user(*, session: Session, user_in: schemas.UserCreate) -> models.User:
    # Hashed before the first statement: a write transaction begins lazily, so the slow
    # hash holds no writer lock when this is the transaction's first work.
    password_hash = hash_password(user_in.password) if user_in.password else None
    if session.scalar(select(models.User.id).where(models.User.email == user_in.email)):
        raise Conflict(f"a user with email {user_in.email} already exists", field="email")
    user = models.User(
        email=user_in.email, name=user_in.name, role=user_in.role, password_hash=password_hash
    )
    session.add(user)
    session.flush()
    return user


def get_user(*, session: Session, user_id: str) -> models.User:
    user = session.get(models.User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    return user


def get_user_by_email(*, session: Session, email: str) -> models.User:
    user = session.scalar(select(models.User).where(models.User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}", field="email")
    return user


def set_password(*, session: Session, user: models.User, password: str) -> None:
    """Replace the user's password (ends nothing else: keys and sessions stay valid)."""
    user.password_hash = hash_password(password)


def reset_password(*, session: Session, user: models.User, password_hash: str) -> models.User:
    """An admin's reset: the new password (hashed by `auth.hash_password` before the write
    transaction, as it takes a while), every browser session ended (whoever was signed in
    must sign in again) and the account's failed sign-ins forgotten (unlocking it)."""
    user.password_hash = password_hash
    end_sessions(session=session, user=user)
    logins.forget_failures(session=session, email=user.email)
    session.flush()
    return user


def end_sessions(*, session: Session, user: models.User) -> int:
    """Sign the user out everywhere: every browser session ends (API keys are not sessions)."""
    result = session.execute(
        delete(models.BrowserSession).where(models.BrowserSession.user_id == user.id)
    )
    return result.rowcount or 0


def deactivate_user(*, session: Session, user: models.User, actor: Actor) -> models.User:
    """The user can no longer sign in; their sessions end and their API keys are refused
    (at once in this process once the caller clears its key cache; other processes within
    `ASSAY_AUTH_CACHE_SECONDS`). Keys are kept: reactivating brings them back."""
    if user.id == actor.user_id:
        raise Conflict("you cannot deactivate yourself: ask another admin", field="user_id")
    user.is_active = False
    end_sessions(session=session, user=user)
    session.flush()
    return user


def reactivate_user(*, session: Session, user: models.User) -> models.User:
    """Let the user sign in again; their API keys that were not revoked work again."""
    user.is_active = True
    session.flush()
    return user


def set_role(*, session: Session, user: models.User, role: str) -> models.User:
    """Change the user's global role (API keys keep working, with the new role)."""
    if role not in models.ROLES:
        raise Invalid(f"role must be one of {', '.join(models.ROLES)}", field="role")
    user.role = role
    session.flush()
    return user


def list_users(*, session: Session, cursor: str | None, limit: int) -> PageResult[models.User]:
    return paginate(session, select(models.User), key=models.User.id, cursor=cursor, limit=limit)

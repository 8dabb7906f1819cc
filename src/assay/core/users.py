"""Users: accounts with one global role. Project membership comes with the labeling pillar."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import models, schemas
from assay.core.auth import hash_password, verify_password
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate


def create_user(*, session: Session, user_in: schemas.UserCreate) -> models.User:
    if session.scalar(select(models.User.id).where(models.User.email == user_in.email)):
        raise Conflict(f"a user with email {user_in.email} already exists", field="email")
    user = models.User(
        email=user_in.email,
        name=user_in.name,
        role=user_in.role,
        password_hash=hash_password(user_in.password) if user_in.password else None,
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


def authenticate_password(*, session: Session, email: str, password: str) -> models.User | None:
    """The active user with this email and password, or None (same answer for either miss)."""
    user = session.scalar(select(models.User).where(models.User.email == email.strip().lower()))
    if user is None or not user.is_active:
        verify_password(None, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def set_password(*, session: Session, user: models.User, password: str) -> None:
    """Replace the user's password (ends nothing else: keys and sessions stay valid)."""
    user.password_hash = hash_password(password)


def set_role(*, session: Session, user: models.User, role: str) -> models.User:
    """Change the user's global role (API keys keep working, with the new role)."""
    if role not in models.ROLES:
        raise Invalid(f"role must be one of {', '.join(models.ROLES)}", field="role")
    user.role = role
    session.flush()
    return user


def list_users(*, session: Session, cursor: str | None, limit: int) -> PageResult[models.User]:
    return paginate(session, select(models.User), key=models.User.id, cursor=cursor, limit=limit)

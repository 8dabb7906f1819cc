"""Wire schemas of the core nouns: `XCreate` in, `X` out, `XPage` for lists."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )


def _normalise_email(value: str) -> str:
    return value.strip().lower()


# Deliberately permissive: self-hosted teams use internal domains (`.local`, `.internal`).
Email = Annotated[
    str,
    StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
    AfterValidator(_normalise_email),
]


class UserCreate(Schema):
    email: Email
    name: str = Field("", max_length=200)
    role: Literal["admin", "manager", "reviewer", "labeler"]
    password: str | None = Field(None, min_length=8, max_length=1000)


class User(Schema):
    id: str
    email: str
    name: str
    role: str
    is_active: bool
    created_at: dt.datetime


class UserPage(Page[User]):
    pass


class PasswordReset(Schema):
    password: str = Field(
        min_length=8, max_length=1000, description="The user's new password (8 characters or more)."
    )


class SessionsEnded(Schema):
    ended: int = Field(description="How many browser sessions were ended.")


class Me(Schema):
    user: User
    mode: Literal["live", "test"]
    via: str


class ApiKeyCreate(Schema):
    mode: Literal["live", "test"] = "live"
    name: str = Field("", max_length=200)
    user_id: str | None = Field(None, description="Admins may create keys for other users.")


class ApiKey(Schema):
    id: str
    user_id: str
    mode: str
    name: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret key. Shown once; store it now.")


class ApiKeyPage(Page[ApiKey]):
    pass


class Job(Schema):
    id: str
    kind: str
    status: str
    progress: float
    progress_message: str
    attempts: int
    max_attempts: int
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    mode: str
    created_by: str | None
    cancel_requested: bool
    run_after: dt.datetime
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobPage(Page[Job]):
    pass


class JobLog(Schema):
    attempt: int
    level: str
    message: str
    created_at: dt.datetime


class JobLogPage(Page[JobLog]):
    pass

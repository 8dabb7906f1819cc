"""Keyset (cursor) pagination over time-ordered ids: stable under inserts, O(page) at any depth."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from assay.core.errors import Invalid

T = TypeVar("T")


@dataclass
class PageResult(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors this server issues are a few dozen characters; anything much longer is not one.
MAX_CURSOR_CHARS = 512


def decode_cursor(cursor: str, *, field: str = "cursor") -> dict[str, Any]:
    """The values in a cursor; Invalid naming `field` (the query parameter) when it is not
    one this server issued."""
    hint = f"pass the {'next_cursor' if field == 'cursor' else field} of the previous page"
    if len(cursor) > MAX_CURSOR_CHARS:
        raise Invalid(f"{field} is too long to be one this server issued; {hint}", field=field)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise Invalid(f"{field} is not one this server issued; {hint}", field=field) from exc
    if not isinstance(value, dict):
        raise Invalid(f"{field} is not one this server issued; {hint}", field=field)
    return value


def cursor_key(cursor: str, python_type: type, *, field: str = "cursor") -> Any:
    """The key a cursor resumes after, checked to be of the key column's type."""
    after = decode_cursor(cursor, field=field).get("k")
    # bool is an int to Python, never a key.
    if not isinstance(after, python_type) or isinstance(after, bool):
        raise Invalid(f"{field} is not one this server issued", field=field)
    if isinstance(after, int) and not -(2**63) <= after < 2**63:
        raise Invalid(f"{field} is not one this server issued", field=field)
    return after


def paginate(
    session: Session,
    stmt: Select,
    *,
    key: InstrumentedAttribute,
    cursor: str | None,
    limit: int,
    newest_first: bool = True,
) -> PageResult[Any]:
    """Run `stmt` ordered by the unique `key` column, one page after `cursor`."""
    if cursor:
        after = cursor_key(cursor, key.type.python_type)
        stmt = stmt.where(key < after if newest_first else key > after)
    stmt = stmt.order_by(key.desc() if newest_first else key.asc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    if len(rows) <= limit:
        return PageResult(rows, None)
    rows = rows[:limit]
    return PageResult(rows, encode_cursor({"k": getattr(rows[-1], key.key)}))

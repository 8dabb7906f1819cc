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


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Invalid(
            "cursor is not one this server issued; pass next_cursor from the previous page",
            field="cursor",
        ) from exc
    if not isinstance(value, dict):
        raise Invalid("cursor is not one this server issued", field="cursor")
    return value


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
        after = decode_cursor(cursor).get("k")
        if not isinstance(after, str | int):
            raise Invalid("cursor is not one this server issued", field="cursor")
        stmt = stmt.where(key < after if newest_first else key > after)
    stmt = stmt.order_by(key.desc() if newest_first else key.asc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    if len(rows) <= limit:
        return PageResult(rows, None)
    rows = rows[:limit]
    return PageResult(rows, encode_cursor({"k": getattr(rows[-1], key.key)}))

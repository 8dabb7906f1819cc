"""Read helpers Scale's list responses need and the native lists do not offer: totals
(`total`, `totalDocs`) and created-time bounds as id bounds.

The counts apply the same filters as `labeling.tasks.list_tasks` / `labeling.batches
.list_batches`, as single COUNT queries over the same indexes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core.pagination import cursor_key, encode_cursor
from assay.labeling import models


def id_floor(moment: dt.datetime) -> str:
    """The smallest id made at or after `moment` (ids start with their creation millisecond)."""
    return f"{int(moment.timestamp() * 1000):012x}{0:012x}"


# A row's id is made just before its `created_at` is read, so the two can fall in different
# milliseconds: id bounds are a prefilter (the index), `created_within` the exact test.
ID_SLACK = dt.timedelta(seconds=1)
MILLISECOND = dt.timedelta(milliseconds=1)


def id_after(moment: dt.datetime) -> str:
    """An id below every item created after `moment` (a loose bound: see `created_within`)."""
    return id_floor(moment + MILLISECOND - ID_SLACK)


def created_within(
    item: Any, created_after: dt.datetime | None, created_before: dt.datetime | None
) -> bool:
    """Scale's bounds on an item's own `created_at`, at Scale's millisecond resolution: an
    item's `created_at` passed back as `created_after` or `created_before` leaves it out."""
    if created_after is not None and item.created_at < created_after + MILLISECOND:
        return False
    return created_before is None or item.created_at < created_before


def cursor_before(cursor: str | None, created_before: dt.datetime | None) -> str | None:
    """A list cursor that also stops at `created_before` (lists run newest first by id).
    `cursor` is Scale's `next_token`: Invalid naming it when this server did not issue it."""
    after = cursor_key(cursor, str, field="next_token") if cursor else None
    if created_before is None:
        return cursor
    bound = id_floor(created_before)
    if after is not None and after < bound:
        bound = after
    return encode_cursor({"k": bound})


def count_tasks(
    *,
    session: Session,
    mode: str,
    project_id: str | None = None,
    batch_id: str | None = None,
    status: str | None = None,
    task_type: str | None = None,
    tags: list[str] | None = None,
    unique_ids: list[str] | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    updated_after: dt.datetime | None = None,
    updated_before: dt.datetime | None = None,
    completed_after: dt.datetime | None = None,
    completed_before: dt.datetime | None = None,
) -> int:
    T = models.Task
    dialect = session.get_bind().dialect.name
    stmt: Any = select(func.count()).select_from(T).where(T.mode == mode)
    for column, value in (
        (T.project_id, project_id),
        (T.batch_id, batch_id),
        (T.status, status),
        (T.type, task_type),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if unique_ids:
        stmt = stmt.where(T.unique_id.in_(unique_ids))
    for tag in tags or ():
        stmt = stmt.where(dialects.json_array_contains(T.tags, tag, dialect))
    if created_after is not None:
        stmt = stmt.where(T.id >= id_after(created_after))
        stmt = stmt.where(T.created_at >= created_after + MILLISECOND)
    if created_before is not None:
        stmt = stmt.where(T.id < id_floor(created_before), T.created_at < created_before)
    for column, bound, after in (
        (T.updated_at, updated_after, True),
        (T.updated_at, updated_before, False),
        (T.completed_at, completed_after, True),
        (T.completed_at, completed_before, False),
    ):
        if bound is not None:
            stmt = stmt.where(column > bound if after else column < bound)
    return int(session.scalar(stmt) or 0)


def count_batches(
    *,
    session: Session,
    mode: str,
    project_id: str | None = None,
    status: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
) -> int:
    B = models.Batch
    stmt: Any = select(func.count()).select_from(B).where(B.mode == mode)
    if project_id is not None:
        stmt = stmt.where(B.project_id == project_id)
    if status is not None:
        stmt = stmt.where(B.status == status)
    if created_after is not None:
        stmt = stmt.where(B.id >= id_after(created_after))
        stmt = stmt.where(B.created_at >= created_after + MILLISECOND)
    if created_before is not None:
        stmt = stmt.where(B.id < id_floor(created_before), B.created_at < created_before)
    return int(session.scalar(stmt) or 0)


def audit_events(*, session: Session, task_ids: list[str]) -> dict[str, list[models.TaskEvent]]:
    """The audits of a page of tasks, oldest first, in one query."""
    found: dict[str, list[models.TaskEvent]] = {}
    if not task_ids:
        return found
    rows = session.scalars(
        select(models.TaskEvent)
        .where(
            models.TaskEvent.task_id.in_(task_ids),
            models.TaskEvent.action.in_(("audit_accept", "audit_reject")),
        )
        .order_by(models.TaskEvent.id)
    )
    for event in rows:
        found.setdefault(event.task_id, []).append(event)
    return found

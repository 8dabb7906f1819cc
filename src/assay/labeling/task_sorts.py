"""The task table's sorts: keyset pages over (value, id), so a sorted list pages as correctly
as the default newest-first one (stable under inserts, O(page) at any depth).

Each sort reads an index led by the project (`ix_tasks_project` for creation — ids are
time-ordered —, `ix_tasks_project_priority`, `ix_tasks_project_completed`). Sorting by
completion lists finished tasks only: a pending task has no completion time to order by.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from assay.core.errors import Invalid
from assay.core.pagination import PageResult, decode_cursor, encode_cursor, paginate
from assay.labeling import models

T = models.Task
DEFAULT_SORT = "-created"
# name → the column ordered by before the id (None: the id alone)
_COLUMNS: dict[str, InstrumentedAttribute[Any] | None] = {
    "created": None,
    "priority": T.priority,
    "completed": T.completed_at,
}
SORTS = tuple(f"{sign}{name}" for name in _COLUMNS for sign in ("-", ""))


def check_sort(sort: str | None) -> str:
    sort = sort or DEFAULT_SORT
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}", field="sort")
    return sort


def _value_of(name: str, raw: Any) -> Any:
    """A cursor's sort value back as the column's type; Invalid if it is not one."""
    if name == "priority" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if name == "completed" and isinstance(raw, str) and len(raw) <= 40:
        try:
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            pass
    raise Invalid("cursor is not one this server issued for this sort", field="cursor")


def _encoded(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def sorted_page(
    session: Session, stmt: Select, *, sort: str | None, cursor: str | None, limit: int
) -> PageResult[models.Task]:
    """One page of `stmt` (a select of tasks) in the order `sort` names (`-` = descending)."""
    sort = check_sort(sort)
    descending, name = sort.startswith("-"), sort.lstrip("-")
    column = _COLUMNS[name]
    if column is None:
        return paginate(
            session, stmt, key=T.id, cursor=cursor, limit=limit, newest_first=descending
        )
    if name == "completed":
        stmt = stmt.where(column.is_not(None))
    if cursor:
        decoded = decode_cursor(cursor)
        after_id, sort_of = decoded.get("k"), decoded.get("s")
        if sort_of != sort or not isinstance(after_id, str) or len(after_id) > 24:
            raise Invalid("cursor is not one this server issued for this sort", field="cursor")
        after = tuple_(literal(_value_of(name, decoded.get("v")), column.type), literal(after_id))
        key = tuple_(column, T.id)
        stmt = stmt.where(key < after if descending else key > after)
    order = (column.desc(), T.id.desc()) if descending else (column.asc(), T.id.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return PageResult(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    value = getattr(last, column.key)
    return PageResult(rows, encode_cursor({"k": last.id, "v": _encoded(value), "s": sort}))

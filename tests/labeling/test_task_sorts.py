"""The task table's sorts read their indexes: a page sorted by priority or by completion, first
or later (keyset), is an index range in the project — no sort of the project's tasks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, update

from assay.core.db import utcnow
from assay.labeling import models, schemas, tasks
from tests.labeling.factories import CATEGORY_TAXONOMY, actor_for, add_tasks, make_project


def _plan(db: Any, run: Any) -> str:
    """The plan of the one SELECT of tasks that `run(session)` executes."""
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM tasks" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.read() as session:
            run(session)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    (statement, parameters), *_ = seen
    explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + statement, parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.fixture
def project(db, accounts, settings) -> models.Project:
    manager = actor_for(accounts.make("manager"))
    found = None
    for name in ("sorted", "other"):
        made = make_project(
            db, manager, name=name, task_type="categorization", taxonomy=CATEGORY_TAXONOMY
        )
        tasks_in = [
            schemas.TaskCreate(params={"text": f"t{i}"}, priority=i % 7) for i in range(1500)
        ]
        add_tasks(db, made, manager, settings, tasks_in)
        found = found or made
    with db.write() as session:
        session.execute(
            update(models.Task)
            .where(models.Task.priority == 3)
            .values(status="completed", completed_at=utcnow())
        )
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("-priority", "ix_tasks_project_priority"),
        ("priority", "ix_tasks_project_priority"),
        ("-completed", "ix_tasks_project_completed"),
        ("completed", "ix_tasks_project_completed"),
    ],
)
def test_a_sorted_page_and_the_next_read_the_sorts_index(db, project, sort, index):
    def page(session: Any, cursor: str | None = None) -> Any:
        return tasks.list_tasks(
            session=session,
            mode="live",
            cursor=cursor,
            limit=50,
            project_id=project.id,
            sort=sort,
        )

    with db.read() as session:
        cursor = page(session).next_cursor
    assert cursor is not None
    for plan in (_plan(db, page), _plan(db, lambda s: page(s, cursor))):
        assert index in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort " not in plan, plan

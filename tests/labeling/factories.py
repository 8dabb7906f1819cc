"""Builders shared by the labeling tests: actors, projects, batches and tasks."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from assay.core import blobs
from assay.core.auth import Actor
from assay.core.db import Database
from assay.core.settings import Settings
from assay.labeling import batches, models, projects, schemas, tasks

IMAGE_TAXONOMY: dict[str, Any] = {
    "labels": [
        {
            "name": "car",
            "geometries": ["box", "polygon"],
            "attributes": [{"name": "occluded", "type": "choice", "choices": ["yes", "no"]}],
        },
        {"name": "person", "geometries": ["box", "point"]},
    ]
}
CATEGORY_TAXONOMY: dict[str, Any] = {
    "labels": [
        {"name": "cat", "geometries": ["category"]},
        {"name": "dog", "geometries": ["category"]},
    ]
}
SPAN_TAXONOMY: dict[str, Any] = {"labels": [{"name": "name", "geometries": ["span"]}]}


def actor_for(account: Any, mode: str = "live") -> Actor:
    user = account.user
    return Actor(user_id=user.id, email=user.email, role=user.role, mode=mode)  # type: ignore[arg-type]


def make_project(
    db: Database,
    actor: Actor,
    *,
    name: str = "cars",
    task_type: str = "image",
    taxonomy: dict[str, Any] | None = None,
    pipeline: dict[str, Any] | None = None,
    **extra: Any,
) -> models.Project:
    with db.write() as session:
        return projects.create_project(
            session=session,
            project_in=schemas.ProjectCreate(
                name=name,
                task_type=task_type,
                taxonomy=IMAGE_TAXONOMY if taxonomy is None else taxonomy,
                pipeline=pipeline,
                **extra,
            ),
            actor=actor,
        )


def make_batch(
    db: Database, project: models.Project, actor: Actor, name: str = "b1", **extra: Any
) -> models.Batch:
    with db.write() as session:
        return batches.create_batch(
            session=session,
            project=project,
            batch_in=schemas.BatchCreate(name=name, **extra),
            actor=actor,
        )


def finalize(db: Database, batch: models.Batch, settings: Settings, actor: Actor) -> None:
    with db.write() as session:
        batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=actor,
        )


def image_task(i: int = 0, **extra: Any) -> schemas.TaskCreate:
    params = {
        "attachment": f"https://example.test/{i}.jpg",
        "image_width": 640,
        "image_height": 480,
    }
    params.update(extra.pop("params", {}))
    return schemas.TaskCreate(params=params, **extra)


def add_tasks(
    db: Database,
    project: models.Project,
    actor: Actor,
    settings: Settings,
    tasks_in: list[schemas.TaskCreate],
    batch: models.Batch | None = None,
) -> list[str]:
    with db.write() as session:
        project = session.get(models.Project, project.id)
        if batch is not None:
            batch = session.get(models.Batch, batch.id)
        created = tasks.create_tasks(
            session=session,
            project=project,
            batch=batch,
            tasks_in=tasks_in,
            actor=actor,
            settings=settings,
        )
        return [t.id for t in created]


def add_member(db: Database, project: models.Project, account: Any, role: str) -> None:
    with db.write() as session:
        projects.set_member(
            session=session,
            project=session.get(models.Project, project.id),
            user_id=account.user.id,
            role=role,
        )


def box(x: float = 10, y: float = 10, width: float = 20, height: float = 20, **extra: Any) -> dict:
    return {
        "type": "box",
        "label": "car",
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        **extra,
    }


def get_task(db: Database, task_id: str) -> models.Task:
    with db.read() as session:
        task = session.get(models.Task, task_id)
        assert task is not None
        return task


@contextmanager
def statements(engine: Any) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block (transaction control aside)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def upload(ctx: Any, actor: Actor, data: bytes, filename: str) -> str:
    """Store bytes as a blob through the real upload path; returns the sha256."""
    with ctx.db.write() as session:
        blob = blobs.store_upload(
            session=session,
            store=ctx.blobs,
            stream=io.BytesIO(data),
            filename=filename,
            declared_type=None,
            actor=actor,
            limit=ctx.settings.max_upload_bytes,
        )
        return blob.sha256


# The smallest valid PNG: 1x1 pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def while_writing(
    db: Database, dialect: str, first: Callable[[Session], Any], second: Callable[[], Any]
) -> tuple[Any, dict[str, Any]]:
    """`first` in a write transaction and, before it commits, `second` on another thread,
    which must wait for it (PostgreSQL: a row or index lock; SQLite: the writer lock).
    Returns first's result and `{"result": …}` or `{"error": exception}` for the second."""
    second_outcome: dict[str, Any] = {}

    def run_second() -> None:
        try:
            second_outcome["result"] = second()
        except Exception as exc:  # reported to the caller
            second_outcome["error"] = exc

    with db.write() as session:
        result = first(session)
        thread = threading.Thread(target=run_second)
        thread.start()
        if dialect == "postgresql":
            _wait_until_blocked_on_a_lock(db)
        else:
            thread.join(0.3)  # still waiting for the writer lock
        assert thread.is_alive(), "the second writer did not wait for the first"
    thread.join(30)
    return result, second_outcome


def _wait_until_blocked_on_a_lock(db: Database) -> None:
    deadline = time.monotonic() + 30
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never waited on the first one's lock")

"""Changes to existing tasks: cancel, audit, metadata, tags and unique ids; cancel and audit
are kept in the task's history."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict
from assay.core.settings import Settings
from assay.labeling import models
from assay.labeling.pipeline import complete_batch_if_done
from assay.labeling.tasks import existing_unique_ids, user_of


def _event(session: Session, task: models.Task, actor: Actor, action: str, **fields: Any) -> None:
    session.add(
        models.TaskEvent(
            task_id=task.id,
            project_id=task.project_id,
            stage=task.stage or "",
            round=task.round,
            user_id=user_of(actor),
            action=action,
            **fields,
        )
    )


def cancel_task(
    *,
    session: Session,
    task: models.Task,
    settings: Settings,
    actor: Actor,
    clear_unique_id: bool = False,
) -> models.Task:
    """Stop a pending task: it leaves the queue; its batch may complete."""
    if task.status != "pending":
        raise Conflict(f"task {task.id} is {task.status}; only pending tasks can be canceled")
    _event(session, task, actor, "cancel")
    task.status, task.completed_at, task.stage = "canceled", utcnow(), None
    task.paused_stage = None
    task.lease_user_id = task.lease_token = task.lease_expires_at = task.leased_at = None
    task.assignee_id = None
    if clear_unique_id:
        task.unique_id = None
    session.flush()
    if task.batch_id is not None:
        complete_batch_if_done(
            session=session, batch_id=task.batch_id, settings=settings, actor=actor
        )
    return task


def audit_task(
    *, session: Session, task: models.Task, actor: Actor, accepted: bool, comments: str | None
) -> models.TaskEvent:
    """Record a manager's verdict on a completed task's response."""
    if task.status != "completed":
        raise Conflict(f"task {task.id} is {task.status}; only completed tasks can be audited")
    event = models.TaskEvent(
        task_id=task.id,
        project_id=task.project_id,
        stage="audit",
        round=task.round,
        user_id=user_of(actor),
        action="audit_accept" if accepted else "audit_reject",
        comments=[{"text": comments}] if comments else None,
    )
    session.add(event)
    session.flush()
    return event


def set_task_metadata(
    *, session: Session, task: models.Task, metadata: dict[str, Any]
) -> models.Task:
    task.metadata_ = dict(metadata)
    session.flush()
    return task


def set_tags(*, session: Session, task: models.Task, tags: list[str]) -> models.Task:
    task.tags = list(dict.fromkeys(tags))
    session.flush()
    return task


def add_tags(*, session: Session, task: models.Task, tags: list[str]) -> models.Task:
    return set_tags(session=session, task=task, tags=[*task.tags, *tags])


def remove_tags(*, session: Session, task: models.Task, tags: list[str]) -> models.Task:
    gone = set(tags)
    return set_tags(session=session, task=task, tags=[t for t in task.tags if t not in gone])


def set_unique_id(*, session: Session, task: models.Task, unique_id: str) -> models.Task:
    if unique_id == task.unique_id:
        return task
    taken = existing_unique_ids(session=session, mode=task.mode, unique_ids=[unique_id])
    if taken:
        raise Conflict(
            f"a task with unique_id {unique_id!r} already exists: {taken[unique_id]}",
            field="unique_id",
        )
    task.unique_id = unique_id
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"unique_id {unique_id!r} was just taken", field="unique_id") from exc
    return task


def update_task(*, session: Session, task: models.Task, changes: dict[str, Any]) -> models.Task:
    """Apply a partial update: `metadata`, `tags` (replaced), `unique_id` (None clears it)."""
    if changes.get("metadata") is not None:
        set_task_metadata(session=session, task=task, metadata=changes["metadata"])
    if changes.get("tags") is not None:
        set_tags(session=session, task=task, tags=changes["tags"])
    if "unique_id" in changes:
        if changes["unique_id"] is None:
            clear_unique_id(session=session, task=task)
        else:
            set_unique_id(session=session, task=task, unique_id=changes["unique_id"])
    return task


def clear_unique_id(*, session: Session, task: models.Task) -> models.Task:
    task.unique_id = None
    session.flush()
    return task

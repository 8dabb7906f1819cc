"""The pull queue: a person asks for the next task of a stage and gets a lease.

Claims, renewals and submissions are short write transactions over the `tasks` row itself
(PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the BEGIN IMMEDIATE write transaction). A lease
has a token; a submit must present the token of a lease that is still valid, so a submit after
the lease was lost is refused (409), never applied over someone else's work.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.settings import Settings
from assay.labeling import models
from assay.labeling.pipeline import Pipeline, Stage, announce, finish

LEASE_LOST = (
    "your lease on this task has ended (it expired or the task was handed to someone else); "
    "your work was not saved to the task — ask for the next task"
)


# Plain Core tables for the hot path: ORM-enabled UPDATEs would first synchronise the
# session's identity map, which costs more than the statement.
TASKS = models.Task.__table__


@dataclass
class Lease:
    task: Any  # a row with _LEASE_COLUMNS
    token: str
    expires_at: dt.datetime
    draft: dict[str, Any] | None
    # What a reviewer reviews, or a labeler reworks: the latest submitted response and the
    # reviewer's comments on it.
    previous: dict[str, Any] | None = None
    comments: list[dict[str, Any]] | None = None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# What a lease shows: the task as the person working on it needs it (no metadata, no final
# response), read with one Core query rather than loading the whole ORM row.
_LEASE_COLUMNS = (
    models.Task.id,
    models.Task.project_id,
    models.Task.type,
    models.Task.params,
    models.Task.prelabels,
    models.Task.priority,
    models.Task.stage,
    models.Task.round,
    models.Task.working_response,
    models.Task.lease_token,
    models.Task.lease_expires_at,
)


def _lease_for(session: Session, task: Any, user_id: str) -> Lease:
    draft = session.execute(
        select(models.Draft.response).where(
            models.Draft.task_id == task.id, models.Draft.user_id == user_id
        )
    ).first()
    previous = comments = None
    if task.round > 0 or task.working_response is not None:
        previous = task.working_response
        last_reject = session.scalar(
            select(models.TaskEvent)
            .where(models.TaskEvent.task_id == task.id, models.TaskEvent.action == "reject")
            .order_by(models.TaskEvent.id.desc())
            .limit(1)
        )
        comments = last_reject.comments if last_reject is not None else None
    return Lease(
        task,
        task.lease_token or "",
        task.lease_expires_at or utcnow(),
        draft[0] if draft else None,
        previous,
        comments,
    )


def next_task(
    *,
    session: Session,
    project: models.Project,
    pipeline: Pipeline,
    stage: Stage,
    user_id: str,
) -> Lease | None:
    """The caller's current lease in this stage, or a newly leased task, or None."""
    now = utcnow()
    T = models.Task
    # Only the lease-holder column in the filter, so every dialect uses its index (with the
    # project and stage in it, SQLite scanned the queue index instead: 5 ms a call at 20k).
    for held in session.execute(
        select(*_LEASE_COLUMNS).where(T.lease_user_id == user_id, T.lease_expires_at > now)
    ):
        if held.project_id == project.id and held.stage == stage.name:
            return _lease_for(session, held, user_id)

    seen = select(models.TaskEvent.id).where(
        models.TaskEvent.task_id == T.id,
        models.TaskEvent.stage == stage.name,
        models.TaskEvent.round == T.round,
        models.TaskEvent.user_id == user_id,
    )
    candidates = (
        select(T.id)
        .where(
            T.project_id == project.id,
            T.stage == stage.name,
            or_(T.lease_expires_at.is_(None), T.lease_expires_at <= now),
            or_(T.assignee_id.is_(None), T.assignee_id == user_id),
            ~exists(seen),
        )
        .order_by(T.priority.desc(), T.id)
        .limit(1)
    )
    if stage.kind == "review":
        candidates = candidates.where(or_(T.labeled_by.is_(None), T.labeled_by != user_id))
    if _dialect(session) == "postgresql":
        candidates = candidates.with_for_update(of=T, skip_locked=True)
    task_id = session.scalar(candidates)
    if task_id is None:
        return None
    token = secrets.token_hex(16)
    expires = now + dt.timedelta(seconds=pipeline.lease_seconds)
    session.execute(
        update(TASKS)
        .where(TASKS.c.id == task_id)
        .values(lease_user_id=user_id, lease_token=token, lease_expires_at=expires, leased_at=now)
    )
    task = session.execute(select(*_LEASE_COLUMNS).where(T.id == task_id)).one()
    return _lease_for(session, task, user_id)


def _held(session: Session, task_id: str, user_id: str, token: str) -> models.Task:
    """The task if the caller holds a valid lease with this token (row locked), else 409."""
    task = session.get(models.Task, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise NotFound(f"no task with id {task_id}", field="task_id")
    if (
        task.lease_user_id != user_id
        or task.lease_token != token
        or task.lease_expires_at is None
        or task.lease_expires_at <= utcnow()
    ):
        raise Conflict(LEASE_LOST, field="lease_token")
    return task


def heartbeat(
    *, session: Session, task_id: str, user_id: str, token: str, pipeline: Pipeline
) -> dt.datetime:
    task = _held(session, task_id, user_id, token)
    task.lease_expires_at = utcnow() + dt.timedelta(seconds=pipeline.lease_seconds)
    return task.lease_expires_at


def save_draft(
    *, session: Session, task_id: str, user_id: str, token: str, response: dict[str, Any]
) -> None:
    _held(session, task_id, user_id, token)
    insert = dialects.insert(models.Draft.__table__, _dialect(session))
    session.execute(
        insert.values(
            task_id=task_id, user_id=user_id, response=response, updated_at=utcnow()
        ).on_conflict_do_update(
            index_elements=["task_id", "user_id"],
            set_={"response": response, "updated_at": utcnow()},
        )
    )


def _release(task: models.Task) -> None:
    task.lease_user_id = task.lease_token = task.lease_expires_at = task.leased_at = None


def _event(session: Session, task: models.Task, user_id: str, action: str, **fields: Any) -> None:
    duration = None
    if task.leased_at is not None:
        duration = (utcnow() - task.leased_at).total_seconds() * 1000
    session.add(
        models.TaskEvent(
            task_id=task.id,
            stage=task.stage or "",
            round=task.round,
            user_id=user_id,
            action=action,
            duration_ms=duration,
            **fields,
        )
    )


def skip(*, session: Session, task_id: str, user_id: str, token: str, reason: str) -> None:
    """Give the task back; this person will not be served it again in this stage."""
    if not reason.strip():
        raise Invalid("say why you skip the task", field="reason")
    task = _held(session, task_id, user_id, token)
    _event(session, task, user_id, "skip", reason=reason.strip()[:2000])
    _release(task)


_SUBMIT_COLUMNS = (
    models.Task.id,
    models.Task.project_id,
    models.Task.batch_id,
    models.Task.type,
    models.Task.stage,
    models.Task.round,
    models.Task.unique_id,
    models.Task.metadata_.label("metadata_"),
    models.Task.callback_url,
    models.Task.lease_user_id,
    models.Task.lease_token,
    models.Task.lease_expires_at,
    models.Task.leased_at,
)


@dataclass
class Submitted:
    """What a submit did; carries the columns a completion callback needs."""

    id: str
    project_id: str
    batch_id: str | None
    type: str
    unique_id: str | None
    metadata_: dict[str, Any]
    callback_url: str | None
    status: str
    stage: str | None
    response: dict[str, Any] | None = None
    completed_at: dt.datetime | None = None


def submit(
    *,
    session: Session,
    task_id: str,
    actor: Actor,
    token: str,
    response: dict[str, Any],
    pipeline: Pipeline,
    settings: Settings,
) -> Submitted:
    """A labeler's answer (already validated against the taxonomy) moves the task on.

    The hot path of the queue: a handful of Core statements, no ORM unit of work."""
    T = models.Task
    stmt = select(*_SUBMIT_COLUMNS).where(T.id == task_id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"no task with id {task_id}", field="task_id")
    now = utcnow()
    if (
        row.lease_user_id != actor.user_id
        or row.lease_token != token
        or row.lease_expires_at is None
        or row.lease_expires_at <= now
    ):
        raise Conflict(LEASE_LOST, field="lease_token")
    stage = pipeline.stage(row.stage or "")
    if stage.kind != "label":
        raise Invalid("this task is in a review stage: send a review decision", field="stage")
    duration = (now - row.leased_at).total_seconds() * 1000 if row.leased_at else None
    session.execute(
        insert(models.TaskEvent.__table__).values(
            task_id=row.id,
            stage=row.stage,
            round=row.round,
            user_id=actor.user_id,
            action="submit",
            response=response,
            duration_ms=duration,
            created_at=now,
        )
    )
    session.execute(delete(models.Draft).where(models.Draft.task_id == row.id))
    following = pipeline.after(stage.name)
    while (
        following is not None
        and following.kind == "review"
        and (following.sample_rate < 1.0 and random.random() >= following.sample_rate)
    ):
        following = pipeline.after(following.name)
    released = {
        "lease_user_id": None,
        "lease_token": None,
        "lease_expires_at": None,
        "leased_at": None,
        "assignee_id": None,
        "working_response": response,
        "labeled_by": actor.user_id,
        "updated_at": now,
    }
    done = Submitted(
        id=row.id,
        project_id=row.project_id,
        batch_id=row.batch_id,
        type=row.type,
        unique_id=row.unique_id,
        metadata_=row.metadata_,
        callback_url=row.callback_url,
        status="pending",
        stage=following.name if following else None,
    )
    if following is not None:
        session.execute(
            update(TASKS).where(TASKS.c.id == row.id).values(stage=following.name, **released)
        )
        return done
    session.execute(
        update(TASKS)
        .where(TASKS.c.id == row.id)
        .values(
            status="completed",
            response=response,
            error=None,
            completed_at=now,
            stage=None,
            **released,
        )
    )
    done.status, done.response, done.completed_at = "completed", response, now
    announce(session=session, task=done, settings=settings, actor=actor)
    return done


def review(
    *,
    session: Session,
    task_id: str,
    actor: Actor,
    token: str,
    decision: Literal["accept", "fix", "reject"],
    response: dict[str, Any] | None,
    comments: list[dict[str, Any]] | None,
    pipeline: Pipeline,
    settings: Settings,
) -> models.Task:
    """Accept the labeler's response, fix it in place, or reject it for rework."""
    task = _held(session, task_id, actor.user_id, token)
    stage = pipeline.stage(task.stage or "")
    if stage.kind != "review":
        raise Invalid("this task is in a label stage: submit a response", field="stage")
    if decision == "fix" and response is None:
        raise Invalid("a fix needs the corrected response", field="response")
    if decision == "reject" and not comments:
        raise Invalid(
            "say what to change: a rejection needs at least one comment", field="comments"
        )
    action = {"accept": "accept", "fix": "fix", "reject": "reject"}[decision]
    _event(
        session,
        task,
        actor.user_id,
        action,
        response=response if decision == "fix" else None,
        comments=comments,
    )
    session.execute(delete(models.Draft).where(models.Draft.task_id == task.id))
    _release(task)
    if decision == "reject":
        if task.round >= pipeline.max_rework_rounds:
            finish(
                session=session,
                task=task,
                response=task.working_response,
                settings=settings,
                actor=actor,
                status="error",
                error=f"rejected in review after {task.round} rework round(s)",
            )
            return task
        task.round += 1
        task.stage = pipeline.stages[0].name
        task.assignee_id = task.labeled_by
        return task
    final = response if decision == "fix" else task.working_response
    following = pipeline.after(stage.name)
    if following is None:
        finish(session=session, task=task, response=final, settings=settings, actor=actor)
    else:
        task.working_response = final
        task.stage = following.name
    return task

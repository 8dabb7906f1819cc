"""Batches: groups of a project's tasks with a lifecycle staging → in progress → completed.

Tasks added to a staging batch wait; finalizing the batch queues them at the pipeline's first
stage. The batch completes (and its callback is sent) once none of its tasks is pending.
A batch in progress can be paused: its tasks nobody holds leave the queue until it resumes
(a periodic duty parks, within seconds, those that come back: a held step submitted into
the next stage, a lease that ran out). Any batch not completed can be canceled: its pending
tasks nobody holds are canceled.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.core import jobs, outbound
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate
from assay.core.settings import Settings
from assay.labeling import models, schemas
from assay.labeling.pipeline import complete_batch_if_done, enter_queue
from assay.labeling.projects import project_rules


def check_callback_url(url: str | None, field: str) -> str | None:
    """A well-formed http(s) URL, checked by its shape only: where it leads (DNS, the
    outbound allow/deny lists) is checked when a callback is delivered, and a failed delivery
    is retried and kept in the delivery log, so creating a task never depends on DNS."""
    if url is None:
        return None
    return outbound.validate_url(url, field=field)


def create_batch(
    *,
    session: Session,
    project: models.Project,
    batch_in: schemas.BatchCreate,
    actor: Actor,
    settings: Settings | None = None,
) -> models.Batch:
    """`settings` is unused since callback URLs are checked at delivery; kept for callers."""
    if project.archived:
        raise Conflict("the project is archived; unarchive it to add batches", field="project")
    existing = session.scalar(
        select(models.Batch.id).where(
            models.Batch.mode == actor.mode, models.Batch.name == batch_in.name
        )
    )
    if existing is not None:
        raise Conflict(f"a batch named {batch_in.name!r} already exists ({existing})", field="name")
    batch = models.Batch(
        project_id=project.id,
        name=batch_in.name,
        mode=actor.mode,
        kind=batch_in.kind,
        status="staging",
        priority=batch_in.priority,
        callback_url=check_callback_url(batch_in.callback_url, "callback_url"),
        metadata_=dict(batch_in.metadata),
        created_by=actor.user_id if actor.via != "system" else None,
    )
    session.add(batch)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a batch named {batch_in.name!r} already exists", field="name") from exc
    return batch


def get_batch(*, session: Session, batch_id: str, mode: str) -> models.Batch:
    batch = session.get(models.Batch, batch_id)
    if batch is None or batch.mode != mode:
        raise NotFound(f"no batch with id {batch_id}", field="batch_id")
    return batch


def get_batch_by_name(*, session: Session, name: str, mode: str) -> models.Batch:
    batch = session.scalar(
        select(models.Batch).where(models.Batch.mode == mode, models.Batch.name == name)
    )
    if batch is None:
        raise NotFound(f"no batch named {name!r}", field="batch")
    return batch


def list_batches(
    *,
    session: Session,
    mode: str,
    cursor: str | None,
    limit: int,
    project_id: str | None = None,
    status: str | None = None,
) -> PageResult[models.Batch]:
    """Newest first."""
    if status is not None and status not in models.BATCH_STATUSES:
        raise Invalid(f"status must be one of {', '.join(models.BATCH_STATUSES)}", field="status")
    stmt = select(models.Batch).where(models.Batch.mode == mode)
    if project_id is not None:
        stmt = stmt.where(models.Batch.project_id == project_id)
    if status is not None:
        stmt = stmt.where(models.Batch.status == status)
    return paginate(session, stmt, key=models.Batch.id, cursor=cursor, limit=limit)


def batch_counts(*, session: Session, batch_ids: list[str]) -> dict[str, dict[str, int]]:
    """Tasks per status of each batch, in one grouped query."""
    counts: dict[str, dict[str, int]] = {batch_id: {} for batch_id in batch_ids}
    if not batch_ids:
        return counts
    rows = session.execute(
        select(models.Task.batch_id, models.Task.status, func.count())
        .where(models.Task.batch_id.in_(batch_ids))
        .group_by(models.Task.batch_id, models.Task.status)
    )
    for batch_id, status, count in rows:
        counts[batch_id][status] = count
    return counts


def finalize_batch(
    *,
    session: Session,
    batch: models.Batch,
    settings: Settings,
    actor: Actor,
    complete_if_done: bool = True,
) -> models.Batch:
    """Queue a staging batch's tasks; completes at once when none is pending, unless
    `complete_if_done` is false: a batch opened empty to receive tasks (Scale v2's batches
    that are not staging batches) then completes once it has tasks and all are done.

    Finalizing a batch that is already in progress or completed changes nothing, so a retried
    finalize is harmless."""
    if batch.status != "staging":
        return batch
    project = session.get(models.Project, batch.project_id)
    assert project is not None
    pipeline = project_rules(project).pipeline
    batch.status, batch.finalized_at = "in_progress", utcnow()
    session.flush()
    enter_queue(session=session, batch=batch, pipeline=pipeline)
    if complete_if_done:
        complete_batch_if_done(session=session, batch_id=batch.id, settings=settings, actor=actor)
    return batch


def set_batch_metadata(
    *, session: Session, batch: models.Batch, metadata: dict[str, Any]
) -> models.Batch:
    batch.metadata_ = dict(metadata)
    session.flush()
    return batch


# --- pause, resume, cancel ----------------------------------------------------------------

_CHUNK = 500  # ids per statement: well under SQLite's and PostgreSQL's parameter limits
T = models.Task
_NO_LEASE = {
    "lease_user_id": None,
    "lease_token": None,
    "lease_expires_at": None,
    "leased_at": None,
}


def _unheld(now: Any) -> Any:
    """Pending tasks nobody is working on now (no lease, or one that has run out)."""
    return and_(T.status == "pending", or_(T.lease_user_id.is_(None), T.lease_expires_at <= now))


def _not_now(batch: models.Batch, doing: str, allowed: str) -> Conflict:
    return Conflict(
        f"batch {batch.name!r} is {batch.status}; only {allowed} can be {doing}", field="batch"
    )


def pause_batch(*, session: Session, batch: models.Batch) -> models.Batch:
    """Stop serving a batch in progress: its tasks that nobody holds leave the queue, each
    keeping the stage it returns to; a step someone is working on can still be submitted.
    Pausing a paused batch changes nothing."""
    if batch.status == "paused":
        return batch
    if batch.status != "in_progress":
        raise _not_now(batch, "paused", "a batch in progress")
    _park(session, batch.id)
    batch.status = "paused"
    session.flush()
    return batch


def _park(session: Session, batch_id: str) -> int:
    """The batch's queued tasks nobody holds leave the queue, keeping their stage."""
    result = session.execute(
        update(T)
        .where(T.batch_id == batch_id, T.stage.is_not(None), _unheld(utcnow()))
        .values(paused_stage=T.stage, stage=None, **_NO_LEASE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@jobs.duty("labeling.park_paused_batches", seconds=5.0)
def park_paused_batches(app: Any) -> int:
    """Park what a paused batch got back into the queue since it was paused: a step held at
    pause time and submitted into the next stage, or a lease that ran out. Idempotent; found
    by a read, written only when there is something to park."""
    now = utcnow()
    strays = exists(
        select(T.id).where(T.batch_id == models.Batch.id, T.stage.is_not(None), _unheld(now))
    )
    with app.db.read() as session:
        found = session.scalars(
            select(models.Batch.id).where(models.Batch.status == "paused", strays).limit(100)
        ).all()
    parked = 0
    for batch_id in found:
        with app.db.write() as session:
            batch = session.get(models.Batch, batch_id, with_for_update=True)
            if batch is not None and batch.status == "paused":
                parked += _park(session, batch_id)
    return parked


def resume_batch(
    *, session: Session, batch: models.Batch, settings: Settings, actor: Actor
) -> models.Batch:
    """Serve a paused batch again: its tasks go back to the stages they left (the first
    stage if the pipeline dropped theirs). Resuming a batch in progress changes nothing."""
    if batch.status == "in_progress":
        return batch
    if batch.status != "paused":
        raise _not_now(batch, "resumed", "a paused batch")
    project = session.get(models.Project, batch.project_id)
    assert project is not None
    stages = [stage.name for stage in project_rules(project).pipeline.stages]
    session.execute(
        update(T)
        .where(T.batch_id == batch.id, T.status == "pending", T.paused_stage.is_not(None))
        .values(
            stage=case((T.paused_stage.in_(stages), T.paused_stage), else_=stages[0]),
            paused_stage=None,
        )
        .execution_options(synchronize_session=False)
    )
    batch.status = "in_progress"
    session.flush()
    # Its last held tasks may have finished while it was paused.
    complete_batch_if_done(session=session, batch_id=batch.id, settings=settings, actor=actor)
    return batch


def cancel_batch(*, session: Session, batch: models.Batch, actor: Actor) -> int:
    """Cancel a batch that is not completed: its pending tasks that nobody holds are
    canceled (kept in their history); a step someone is working on can still be submitted.
    Returns how many tasks were canceled; canceling a canceled batch changes nothing."""
    if batch.status == "canceled":
        return 0
    if batch.status == "completed":
        raise _not_now(batch, "canceled", "a batch that is not completed")
    now = utcnow()
    found = session.execute(
        select(T.id, T.stage, T.paused_stage, T.round)
        .where(T.batch_id == batch.id, _unheld(now))
        .with_for_update()
    ).all()
    user_id = actor.user_id if actor.via != "system" else None
    for start in range(0, len(found), _CHUNK):
        chunk = found[start : start + _CHUNK]
        session.execute(
            insert(models.TaskEvent),
            [
                {
                    "task_id": row.id,
                    "project_id": batch.project_id,
                    "stage": row.stage or row.paused_stage or "",
                    "round": row.round,
                    "user_id": user_id,
                    "action": "cancel",
                    "created_at": now,
                }
                for row in chunk
            ],
        )
        session.execute(
            update(T)
            .where(T.id.in_([row.id for row in chunk]))
            .values(
                status="canceled",
                completed_at=now,
                updated_at=now,
                stage=None,
                paused_stage=None,
                assignee_id=None,
                **_NO_LEASE,
            )
            .execution_options(synchronize_session=False)
        )
    batch.status = "canceled"
    session.flush()
    return len(found)

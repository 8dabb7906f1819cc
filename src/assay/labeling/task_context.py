"""What the labeling page shows around a task, asked for after the task is on screen (never on
the queue's hot path): where it sits in its batch and what the worker did today, who labeled a
task under review and what they changed, why a stage has nothing for the caller, their last
submitted task, and a project's work by stage.

Every read is bounded: counts stop at a cap and "recent work" reads a person's latest events
through `ix_task_events_user`, so no call grows with the size of a project's history.

Evaluation (gold) tasks must look like real ones here too: a held gold task gets a context of
the same shape (the batch the queue serves from), and the worker's counts include their gold
work, so no figure moves differently after a gold task than after a real one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.db import utcnow
from assay.core.errors import Conflict
from assay.labeling import models
from assay.labeling.pipeline import Pipeline
from assay.labeling.task_context_schemas import (
    Baseline,
    BatchRef,
    DayCount,
    Person,
    PreviousTask,
    ProjectProgress,
    QueueSummary,
    StageCount,
    TaskContext,
)
from assay.labeling.task_params import blob_sha, labeler_params

T = models.Task
E = models.TaskEvent
A = models.QualityAttempt
COUNT_CAP = 10_000  # queue counts stop here ("10,000+")
RECENT_WORK = 1_000  # a person's latest events read for today's count and the previous task
SNAPSHOT_SECONDS = 30.0  # how long a process reuses a batch's counts
THROUGHPUT_DAYS = 14
THROUGHPUT_SCAN = 10_000
WORK_ACTIONS = ("submit", "accept", "fix", "reject")
NOT_HELD = "you are not working on this task (you hold no live lease on it)"


def file_name(session: Session, params: dict[str, Any]) -> str | None:
    """The attachment's name: an uploaded file's own name, else the URL's last part."""
    attachment = params.get("attachment")
    sha = blob_sha(attachment)
    if sha is not None:
        name = session.scalar(
            select(core_models.Blob.filename).where(core_models.Blob.sha256 == sha)
        )
        return name or None
    if not isinstance(attachment, str):
        return None
    return unquote(urlsplit(attachment).path.rsplit("/", 1)[-1]) or None


def _held_stage(session: Session, task: models.Task, user_id: str) -> str:
    """The stage the caller works on this task in; 409 unless they hold a live lease on it."""
    now = utcnow()
    if task.kind == "production":
        if (
            task.lease_user_id == user_id
            and task.lease_expires_at is not None
            and task.lease_expires_at > now
        ):
            return task.stage or ""
        raise Conflict(NOT_HELD, field="task_id")
    stage = session.scalar(
        select(A.stage)
        .where(
            A.task_id == task.id,
            A.user_id == user_id,
            A.lease_token.is_not(None),
            A.lease_expires_at > now,
            A.submitted_at.is_(None),
        )
        .limit(1)
    )
    if stage is None:
        raise Conflict(NOT_HELD, field="task_id")
    return stage


def _recent_work(
    session: Session, *, project_id: str, user_id: str, since: dt.datetime
) -> list[dt.datetime]:
    """When the person submitted or reviewed in the project since `since` (their gold work
    included), from their latest RECENT_WORK events and evaluation attempts."""
    latest = (
        select(E.task_id, E.action, E.created_at)
        .where(E.user_id == user_id)
        .order_by(E.id.desc())
        .limit(RECENT_WORK)
        .subquery()
    )
    times = list(
        session.scalars(
            select(latest.c.created_at)
            .join(T, T.id == latest.c.task_id)
            .where(
                T.project_id == project_id,
                latest.c.action.in_(WORK_ACTIONS),
                latest.c.created_at >= since,
            )
        )
    )
    attempts = (
        select(A.submitted_at, A.details)
        .where(A.project_id == project_id, A.user_id == user_id, A.kind == "evaluation")
        .order_by(A.id.desc())
        .limit(RECENT_WORK)
        .subquery()
    )
    for submitted_at, details in session.execute(
        select(attempts.c.submitted_at, attempts.c.details).where(attempts.c.submitted_at >= since)
    ):
        if "skipped" not in (details or {}):
            times.append(submitted_at)
    return times


# --- a batch's counts, per process ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Snapshot:
    taken: dt.datetime
    total: int
    done: int  # past the stage (or finished)


_snapshots: dict[tuple[str, str], _Snapshot] = {}
_snapshots_lock = threading.Lock()


def _batch_snapshot(session: Session, batch_id: str, stage: str, pipeline: Pipeline) -> _Snapshot:
    """The batch's size and how many of its tasks are past `stage`, reused for a while: the
    position then advances by the worker's own work, not by each task that moves.

    Statuses are counted on `ix_tasks_batch_status` alone; the tasks waiting in a later stage
    through the stage's part of `ix_tasks_queue`."""
    now = utcnow()
    key = (batch_id, stage)
    cached = _snapshots.get(key)
    if cached is not None and (now - cached.taken).total_seconds() < SNAPSHOT_SECONDS:
        return cached
    statuses = dict(
        session.execute(
            select(T.status, func.count()).where(T.batch_id == batch_id).group_by(T.status)
        ).all()
    )
    names = [s.name for s in pipeline.stages]
    later = names[names.index(stage) + 1 :] if stage in names else names[1:]
    waiting_later = 0
    if later:
        batch = session.get(models.Batch, batch_id)
        assert batch is not None
        waiting_later = (
            session.scalar(
                select(func.count()).where(
                    T.project_id == batch.project_id, T.stage.in_(later), T.batch_id == batch_id
                )
            )
            or 0
        )
    total = sum(n for status, n in statuses.items() if status != "canceled")
    done = statuses.get("completed", 0) + statuses.get("error", 0) + waiting_later
    snapshot = _Snapshot(now, total, done)
    with _snapshots_lock:
        if len(_snapshots) > 10_000:
            _snapshots.clear()
        _snapshots[key] = snapshot
    return snapshot


def _serving_batch(session: Session, project_id: str, stage: str) -> str | None:
    """The batch the queue serves next in the stage (the head of `ix_tasks_free`)."""
    return session.scalar(
        select(T.batch_id)
        .where(T.project_id == project_id, T.stage == stage, T.lease_user_id.is_(None))
        .order_by(T.batch_priority.desc(), T.priority.desc(), T.id)
        .limit(1)
    )


# --- services ---------------------------------------------------------------------------


def task_context(
    *,
    session: Session,
    task: models.Task,
    user_id: str,
    pipeline: Pipeline,
    since: dt.datetime,
) -> TaskContext:
    """The context of a task the caller holds a lease on (409 otherwise)."""
    stage = _held_stage(session, task, user_id)
    batch_id = task.batch_id
    if task.kind != "production":
        batch_id = _serving_batch(session, task.project_id, stage)
    batch = session.get(models.Batch, batch_id) if batch_id else None
    snapshot = _batch_snapshot(session, batch.id, stage, pipeline) if batch else None
    start = min(since, snapshot.taken) if snapshot else since
    work = _recent_work(session, project_id=task.project_id, user_id=user_id, since=start)
    position = total = None
    if snapshot is not None and snapshot.total:
        total = snapshot.total
        position = min(total, snapshot.done + sum(t >= snapshot.taken for t in work) + 1)
    review = _stage_kind(pipeline, stage) == "review"
    return TaskContext(
        task_id=task.id,
        stage=stage,
        round=task.round if task.kind == "production" else 0,
        file_name=file_name(session, task.params),
        unique_id=task.unique_id if review else None,
        batch=BatchRef(id=batch.id, name=batch.name) if batch else None,
        position=position,
        total=total,
        done_today=sum(t >= since for t in work),
        **(_review_context(session, task) if review else _NO_REVIEW),
    )


_NO_REVIEW: dict[str, Any] = {"labeler": None, "labeled_ms": None, "baseline": None}


def _stage_kind(pipeline: Pipeline, stage: str) -> str:
    return next((s.kind for s in pipeline.stages if s.name == stage), "label")


def _review_context(session: Session, task: models.Task) -> dict[str, Any]:
    """Who labeled the task, how long they took, and what to compare their response with."""
    labeler = session.get(core_models.User, task.labeled_by) if task.labeled_by else None
    submits = session.execute(
        select(E.round, E.duration_ms, E.response)
        .where(E.task_id == task.id, E.action == "submit", E.round >= task.round - 1)
        .order_by(E.id.desc())
    ).all()
    this_round = next((row for row in submits if row.round == task.round), None)
    before = next((row for row in submits if row.round == task.round - 1), None)
    baseline = None
    if before is not None and before.response is not None:
        baseline = Baseline(kind="previous_round", response=before.response)
    elif task.prelabels:
        baseline = Baseline(kind="prelabels", response=task.prelabels)
    return {
        "labeler": Person(id=labeler.id, email=labeler.email, name=labeler.name)
        if labeler
        else None,
        "labeled_ms": this_round.duration_ms if this_round else None,
        "baseline": baseline,
    }


def _capped_count(session: Session, *where: Any) -> int:
    rows = select(T.id).where(*where).limit(COUNT_CAP).subquery()
    return session.scalar(select(func.count()).select_from(rows)) or 0


def queue_summary(
    *,
    session: Session,
    project: models.Project,
    stage: str,
    kind: str,
    user_id: str,
    since: dt.datetime,
) -> QueueSummary:
    """How many tasks wait in the stage, how many are leased, how many of the waiting ones
    the caller labeled (a reviewer never reviews their own work), and their work today."""
    in_stage = (T.project_id == project.id, T.stage == stage)
    waiting = _capped_count(session, *in_stage, T.lease_user_id.is_(None))
    leased = _capped_count(
        session, *in_stage, T.lease_user_id.is_not(None), T.lease_expires_at > utcnow()
    )
    yours = 0
    if kind == "review" and waiting:
        yours = _capped_count(
            session, *in_stage, T.lease_user_id.is_(None), T.labeled_by == user_id
        )
    work = _recent_work(session, project_id=project.id, user_id=user_id, since=since)
    return QueueSummary(
        stage=stage, kind=kind, waiting=waiting, leased=leased, yours=yours, done_today=len(work)
    )


def previous_task(
    *, session: Session, project: models.Project, user_id: str, secret: str, ttl_seconds: int
) -> PreviousTask | None:
    """The caller's last submitted task in the project (a real or a gold one alike), with
    their response, to look at again."""
    latest = (
        select(E.id, E.task_id, E.stage, E.round, E.response, E.created_at)
        .where(E.user_id == user_id, E.action == "submit")
        .order_by(E.id.desc())
        .limit(RECENT_WORK)
        .subquery()
    )
    event = session.execute(
        select(latest)
        .join(T, T.id == latest.c.task_id)
        .where(T.project_id == project.id)
        .order_by(latest.c.id.desc())
        .limit(1)
    ).first()
    attempts = session.execute(
        select(A.task_id, A.stage, A.response, A.submitted_at, A.details)
        .where(
            A.project_id == project.id,
            A.user_id == user_id,
            A.kind == "evaluation",
            A.submitted_at.is_not(None),
        )
        .order_by(A.id.desc())
        .limit(20)
    ).all()
    attempt = next((a for a in attempts if "skipped" not in (a.details or {})), None)
    if event is None and attempt is None:
        return None
    if attempt is not None and (event is None or attempt.submitted_at > event.created_at):
        task_id, stage, round_, response, at = (
            attempt.task_id,
            attempt.stage,
            0,
            attempt.response,
            attempt.submitted_at,
        )
    else:
        assert event is not None
        task_id, stage, round_, response, at = (
            event.task_id,
            event.stage,
            event.round,
            event.response,
            event.created_at,
        )
    task = session.get(models.Task, task_id)
    assert task is not None
    params = labeler_params(task.params, secret=secret, ttl_seconds=ttl_seconds)
    return PreviousTask(
        task={"id": task.id, "type": task.type, "params": params, "stage": stage, "round": round_},
        response=response,
        file_name=file_name(session, task.params),
        submitted_at=at,
    )


def project_progress(
    *, session: Session, project: models.Project, pipeline: Pipeline
) -> ProjectProgress:
    """Per stage, the tasks waiting and being worked on; task statuses (real tasks only);
    completions per day. Index-only counts, and a bounded scan for the throughput."""
    in_project = T.project_id == project.id

    def counted(column: Any, *where: Any) -> dict[Any, int]:
        rows = session.execute(select(column, func.count()).where(*where).group_by(column))
        return {key: count for key, count in rows}

    free = counted(T.stage, in_project, T.stage.is_not(None), T.lease_user_id.is_(None))
    leased = counted(T.stage, in_project, T.stage.is_not(None), T.lease_user_id.is_not(None))
    statuses = Counter(counted(T.status, in_project))
    # Evaluation and training tasks (few, through ix_tasks_kind) are not the project's work.
    statuses.subtract(counted(T.status, in_project, T.kind.in_(("evaluation", "training"))))
    today = utcnow().date()
    first = today - dt.timedelta(days=THROUGHPUT_DAYS - 1)
    recent = (
        select(T.completed_at)
        .where(in_project, T.status == "completed")
        .order_by(T.id.desc())
        .limit(THROUGHPUT_SCAN)
        .subquery()
    )
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    per_day = Counter(
        at.date()
        for at in session.scalars(
            select(recent.c.completed_at).where(recent.c.completed_at >= start)
        )
        if at is not None
    )
    return ProjectProgress(
        stages=[
            StageCount(
                name=s.name,
                kind=s.kind,
                waiting=free.get(s.name, 0),
                in_progress=leased.get(s.name, 0),
            )
            for s in pipeline.stages
        ],
        statuses={status: max(0, statuses.get(status, 0)) for status in models.TASK_STATUSES},
        throughput=[
            DayCount(
                day=first + dt.timedelta(days=i),
                completed=per_day.get(first + dt.timedelta(days=i), 0),
            )
            for i in range(THROUGHPUT_DAYS)
        ],
    )

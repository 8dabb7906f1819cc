"""Managing quality: evaluation and training tasks (create, stats, retire, recycle), people's
standing (pause, re-qualify, audit rate) and calibration reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, cast, func, select, update
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.pagination import PageResult, paginate
from assay.core.settings import Settings
from assay.labeling import instruction_notes, models, schemas, tasks
from assay.labeling.projects import project_rules
from assay.labeling.quality import course, rolling_accuracy, upsert_standing
from assay.labeling.quality_feedback import Feedback, accuracy_of, recent_window, released_groups

Task = models.Task
Attempt = models.QualityAttempt


def create_quality_tasks(
    *,
    session: Session,
    project: models.Project,
    tasks_in: Sequence[schemas.TaskCreate],
    kind: str,
    actor: Actor,
    settings: Settings,
    path: str = "tasks",
) -> list[Any]:
    """Evaluation or training tasks, all or nothing (each with its expected response)."""
    if kind not in ("evaluation", "training"):
        raise Invalid("kind is evaluation or training", field="kind")
    return tasks.create_tasks(
        session=session,
        project=project,
        batch=None,
        tasks_in=tasks_in,
        actor=actor,
        settings=settings,
        path=path,
        kind=kind,
    )


@dataclass(frozen=True, slots=True)
class TaskStats:
    attempts: int
    passes: int
    mean_score: float | None

    @property
    def pass_rate(self) -> float | None:
        return self.passes / self.attempts if self.attempts else None


def _stats_query(task_ids: Sequence[str] | None, project_id: str) -> Any:
    scored = Attempt.score.is_not(None)
    stmt = (
        select(
            Attempt.task_id,
            func.count(Attempt.id).filter(scored),
            func.count(Attempt.id).filter(Attempt.passed.is_(True)),
            func.avg(cast(Attempt.score, Float)),
        )
        .where(Attempt.project_id == project_id, Attempt.kind.in_(("evaluation", "training")))
        .group_by(Attempt.task_id)
    )
    if task_ids is not None:
        stmt = stmt.where(Attempt.task_id.in_(task_ids))
    return stmt


def task_stats(
    *, session: Session, project_id: str, task_ids: Sequence[str] | None = None
) -> dict[str, TaskStats]:
    """Completions, passes and mean score per evaluation/training task (one grouped query)."""
    return {
        task_id: TaskStats(attempts, passes, mean)
        for task_id, attempts, passes, mean in session.execute(_stats_query(task_ids, project_id))
    }


def list_quality_tasks(
    *,
    session: Session,
    project: models.Project,
    kind: str | None,
    retired: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[PageResult[models.Task], dict[str, TaskStats]]:
    stmt = select(Task).where(Task.project_id == project.id)
    stmt = stmt.where(Task.kind == kind) if kind else stmt.where(Task.kind != "production")
    if retired is not None:
        stmt = stmt.where(Task.retired_at.is_not(None) if retired else Task.retired_at.is_(None))
    page = paginate(session, stmt, key=Task.id, cursor=cursor, limit=limit)
    stats = task_stats(
        session=session, project_id=project.id, task_ids=[task.id for task in page.items]
    )
    return page, stats


def retire(
    *,
    session: Session,
    project: models.Project,
    min_pass_rate: float | None = None,
    max_pass_rate: float | None = None,
    min_attempts: int = 0,
    task_ids: Sequence[str] | None = None,
) -> list[str]:
    """Retire live evaluation tasks whose pass rate lies in [min, max] after at least
    `min_attempts` completions (too easy: high rates; too hard or ambiguous: low ones), or
    the tasks named."""
    if task_ids is None and min_pass_rate is None and max_pass_rate is None:
        raise Invalid(
            "say which tasks to retire: a pass-rate range (min_pass_rate, max_pass_rate) or "
            "task_ids",
            field="max_pass_rate",
        )
    live = select(Task.id).where(
        Task.project_id == project.id, Task.kind == "evaluation", Task.retired_at.is_(None)
    )
    if task_ids is not None:
        live = live.where(Task.id.in_(task_ids))
    candidates = list(session.scalars(live))
    stats = task_stats(session=session, project_id=project.id, task_ids=candidates)
    low = 0.0 if min_pass_rate is None else min_pass_rate
    high = 1.0 if max_pass_rate is None else max_pass_rate
    by_name_only = min_pass_rate is None and max_pass_rate is None

    def matches(task_id: str) -> bool:
        found = stats.get(task_id, TaskStats(0, 0, None))
        in_range = low <= (found.pass_rate or 0.0) <= high
        return by_name_only or (found.attempts >= max(min_attempts, 1) and in_range)

    chosen = [task_id for task_id in candidates if matches(task_id)]
    if chosen:
        session.execute(update(Task).where(Task.id.in_(chosen)).values(retired_at=utcnow()))
    return chosen


def recycle(*, session: Session, project: models.Project, task_ids: Sequence[str]) -> int:
    """Serve retired evaluation tasks again."""
    result = session.execute(
        update(Task)
        .where(
            Task.project_id == project.id,
            Task.id.in_(task_ids),
            Task.kind != "production",
            Task.retired_at.is_not(None),
        )
        .values(retired_at=None)
    )
    return result.rowcount or 0


def make_evaluation(
    *, session: Session, task: models.Task, actor: Actor, settings: Settings
) -> models.Task:
    """A reviewed, completed real task becomes an evaluation task: its final response is the
    expected one (the real task is left as it is)."""
    (created,) = make_quality_copies(
        session=session, tasks_in=[task], kind="evaluation", actor=actor, settings=settings
    )
    return created


def _reviewed(session: Session, task_ids: Sequence[str]) -> set[str]:
    """Which of the tasks were accepted or fixed in review, or accepted in audit."""
    found: set[str] = set()
    for start in range(0, len(task_ids), tasks.CHUNK):
        found.update(
            session.scalars(
                select(models.TaskEvent.task_id)
                .where(
                    models.TaskEvent.task_id.in_(task_ids[start : start + tasks.CHUNK]),
                    models.TaskEvent.action.in_(("accept", "fix", "audit_accept")),
                )
                .distinct()
            )
        )
    return found


def make_quality_copies(
    *,
    session: Session,
    tasks_in: Sequence[models.Task],
    kind: str,
    actor: Actor,
    settings: Settings,
    expected_response: dict[str, Any] | None = None,
    path: str | None = None,
) -> list[models.Task]:
    """Real tasks of one project become evaluation (gold) or training tasks, all or none
    (the real tasks are left as they are). Without `expected_response`, each task's final
    response is the expected one, so it must be completed and accepted in review or audit;
    with it (one task, the manager's own answer, checked against the taxonomy), any task."""
    if expected_response is not None and len(tasks_in) != 1:
        raise Invalid(
            "an expected response is given for one task at a time", field=path or "task_id"
        )
    if expected_response is None:
        reviewed = _reviewed(session, [task.id for task in tasks_in])
        for i, task in enumerate(tasks_in):
            field = f"{path}[{i}]" if path else "task_id"
            if task.kind != "production" or task.status != "completed" or task.response is None:
                raise Conflict(
                    f"task {task.id} is not a completed real task with a response: only "
                    "those can become evaluation tasks as they are (or give the expected "
                    "answer yourself)",
                    field=field,
                )
            if task.id not in reviewed:
                raise Conflict(
                    f"task {task.id} was never accepted in review or audit: review it first, "
                    "so its answer can be trusted as the expected one",
                    field=field,
                )
    if not tasks_in:
        return []
    project = session.get(models.Project, tasks_in[0].project_id)
    assert project is not None
    rows = create_quality_tasks(
        session=session,
        project=project,
        tasks_in=[
            schemas.TaskCreate(
                params=task.params,
                metadata={**task.metadata_, "source_task": task.id},
                expected_response=expected_response
                if expected_response is not None
                else task.response,
                priority=task.priority,
            )
            for task in tasks_in
        ],
        kind=kind,
        actor=actor,
        settings=settings,
        path="" if expected_response is not None else "tasks",
    )
    ids = [row.id for row in rows]
    found = {t.id: t for t in session.scalars(select(models.Task).where(models.Task.id.in_(ids)))}
    return [found[task_id] for task_id in ids]


# --- people --------------------------------------------------------------------------------


def standing_rows(*, session: Session, project: models.Project) -> list[dict[str, Any]]:
    """Every labeler and reviewer of the project with their standing and accuracy."""
    config = project_rules(project).quality
    Member, Worker, User = models.ProjectMember, models.QualityWorker, core_models.User
    rows = session.execute(
        select(Member.user_id, Member.role, User.email, User.name, Worker)
        .join(User, User.id == Member.user_id)
        .outerjoin(
            Worker, (Worker.project_id == Member.project_id) & (Worker.user_id == Member.user_id)
        )
        .where(Member.project_id == project.id, Member.role.in_(("labeler", "reviewer")))
        .order_by(User.email)
    ).all()
    conn = session.connection()
    found = []
    for user_id, role, email, name, worker in rows:
        accuracy, evaluated = rolling_accuracy(conn, project.id, user_id, config)
        found.append(
            {
                "user_id": user_id,
                "email": email,
                "name": name,
                "role": role,
                "status": worker.status if worker else "active",
                "reason": worker.reason if worker else None,
                "paused_at": worker.paused_at if worker else None,
                "accuracy": accuracy,
                "evaluated": evaluated,
                "training_passed_at": worker.training_passed_at if worker else None,
                "audit_rate": worker.audit_rate if worker else None,
            }
        )
    return found


def standing(
    *,
    session: Session,
    project: models.Project,
    user_id: str,
    feedback: Feedback | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One person's standing. With `feedback` (a labeler reading their own) the accuracy is
    that of their latest released groups (`quality_feedback`) that fit the rolling window,
    since their last re-qualification; without it, the exact rolling accuracy pauses use."""
    config = project_rules(project).quality
    worker = session.get(models.QualityWorker, (project.id, user_id))
    if feedback is None:
        accuracy, evaluated = rolling_accuracy(session.connection(), project.id, user_id, config)
    else:
        groups = released_groups(
            session.connection(),
            project_id=project.id,
            user_id=user_id,
            feedback=feedback,
            now=now or utcnow(),
            since=worker.window_start if worker else None,
        )
        accuracy, evaluated, _ = accuracy_of(recent_window(groups, config.rolling_window))
    state = course(conn=session.connection(), project_id=project.id, config=config, user_id=user_id)
    return {
        "user_id": user_id,
        "status": worker.status if worker else "active",
        "reason": worker.reason if worker else None,
        "paused_at": worker.paused_at if worker else None,
        "accuracy": accuracy,
        "evaluated": evaluated,
        "training_passed_at": worker.training_passed_at if worker else None,
        "training_required": state.required and not state.passed,
        "audit_rate": worker.audit_rate if worker else None,
        "feedback_delay_seconds": None if feedback is None else feedback.delay.total_seconds(),
        "feedback_group_size": None if feedback is None else feedback.group_size,
    }


def _member(session: Session, project: models.Project, user_id: str) -> None:
    role = session.scalar(
        select(models.ProjectMember.role).where(
            models.ProjectMember.project_id == project.id,
            models.ProjectMember.user_id == user_id,
        )
    )
    if role is None:
        raise NotFound(f"user {user_id} is not a member of this project", field="user_id")


def pause(*, session: Session, project: models.Project, user_id: str, reason: str) -> None:
    _member(session, project, user_id)
    if not reason.strip():
        raise Invalid("say why: the labeler is shown the reason", field="reason")
    upsert_standing(
        session.connection(),
        project.id,
        user_id,
        status="paused",
        reason=reason.strip()[:2000],
        paused_at=utcnow(),
    )


def requalify(*, session: Session, project: models.Project, user_id: str, retrain: bool) -> None:
    """Back to work with a fresh accuracy window; with `retrain`, after passing the training
    course again (one more go at it is granted)."""
    _member(session, project, user_id)
    worker = session.get(models.QualityWorker, (project.id, user_id))
    extra = worker.extra_training_rounds if worker else 0
    values: dict[str, Any] = {
        "status": "active",
        "reason": None,
        "paused_at": None,
        "window_start": utcnow(),
    }
    if retrain:
        state = course(
            conn=session.connection(),
            project_id=project.id,
            config=project_rules(project).quality,
            user_id=user_id,
        )
        values["training_passed_at"] = None
        values["extra_training_rounds"] = extra + (state.round - state.max_rounds) + 1
    upsert_standing(session.connection(), project.id, user_id, **values)
    session.expire_all()


def set_audit_rate(
    *, session: Session, project: models.Project, user_id: str, audit_rate: float | None
) -> None:
    _member(session, project, user_id)
    upsert_standing(session.connection(), project.id, user_id, audit_rate=audit_rate)


# --- calibration ---------------------------------------------------------------------------


def calibration_report(*, session: Session, batch: models.Batch) -> dict[str, Any]:
    """Where labelers disagreed with the expected answers of a calibration batch, their score
    per labeler, and what they said about the instructions."""
    User = core_models.User
    rows = session.execute(
        select(Attempt, Task.expected_response, User.email)
        .join(Task, Task.id == Attempt.task_id)
        .join(User, User.id == Attempt.user_id)
        .where(Task.batch_id == batch.id, Attempt.kind == "calibration")
        .order_by(Attempt.id)
    ).all()
    labelers: dict[str, dict[str, Any]] = {}
    disagreements = []
    # Notes left with any submission of the batch (instruction_notes); attempts carried
    # them before that table existed.
    feedback = instruction_notes.batch_notes(session=session, batch_id=batch.id)
    noted = {(row["task_id"], row["user_id"]) for row in feedback}
    for attempt, expected, email in rows:
        entry = labelers.setdefault(
            attempt.user_id, {"user_id": attempt.user_id, "email": email, "scores": []}
        )
        entry["scores"].append(attempt.score or 0.0)
        if (attempt.score or 0.0) < 1.0:
            disagreements.append(
                {
                    "task_id": attempt.task_id,
                    "user_id": attempt.user_id,
                    "email": email,
                    "score": attempt.score,
                    "expected_response": expected,
                    "response": attempt.response,
                }
            )
        if attempt.feedback and (attempt.task_id, attempt.user_id) not in noted:
            feedback.append(
                {
                    "task_id": attempt.task_id,
                    "user_id": attempt.user_id,
                    "email": email,
                    "feedback": attempt.feedback,
                }
            )
    summary = [
        {
            "user_id": entry["user_id"],
            "email": entry["email"],
            "tasks": len(entry["scores"]),
            "score": sum(entry["scores"]) / len(entry["scores"]),
        }
        for entry in labelers.values()
    ]
    disagreements.sort(key=lambda d: d["score"] or 0.0)
    return {
        "batch_id": batch.id,
        "labelers": sorted(summary, key=lambda s: s["score"]),
        "disagreements": disagreements,
        "feedback": feedback,
    }

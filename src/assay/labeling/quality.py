"""Quality work in the queue: evaluation (gold) tasks served among real ones, the training
course that gates real work, scoring on submit, rolling accuracy and automatic pauses.

An evaluation or training task is one `tasks` row shared by every labeler; each labeler's go
at it is a `quality_attempts` row with its own lease. What a labeler is shown of it — the
lease, the submit's answer — has exactly the shape of a real task's, and the expected
response never leaves the server before they submit (training shows it after, as feedback).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, select, update

from assay.core import dialects
from assay.core.db import utcnow
from assay.core.errors import Conflict, Forbidden, Invalid
from assay.core.ids import new_id
from assay.labeling import models
from assay.labeling.pipeline import Pipeline, Stage
from assay.labeling.quality_config import QualityConfig
from assay.labeling.queue import (
    LEASE_COLUMNS,
    LEASE_LOST,
    TASKS,
    Access,
    Lease,
    lease_for,
)
from assay.metrics.matching import score_response

T = TASKS.c
ATTEMPTS = models.QualityAttempt.__table__
A = ATTEMPTS.c
WORKERS = models.QualityWorker.__table__
W = WORKERS.c
DRAFTS = models.Draft.__table__


class TrainingRequired(Forbidden):
    code = "training_required"


class Paused(Forbidden):
    code = "paused"


def gate(*, conn: Connection, access: Access, stage: Stage, user_id: str) -> None:
    """403 for a labeler who may not take real work: paused, or training not yet passed."""
    if stage.kind != "label" or access.role not in ("labeler", "reviewer"):
        return
    if access.paused_reason is not None:
        raise Paused(
            f"you are paused in this project: {access.paused_reason} "
            "A project manager can re-qualify you.",
            field="project_id",
        )
    if access.needs_training:
        state = course(
            conn=conn, project_id=access.id, config=access.rules.quality, user_id=user_id
        )
        rule = (
            f"a mean score of at least {state.pass_threshold:.0%} over its {state.total} "
            f"training task(s), in at most {state.max_rounds} go(es)"
        )
        if not state.remaining:
            raise TrainingRequired(
                f"you did not pass this project's training course ({rule}; your last go "
                f"scored {state.score or 0:.0%}) and have no go left: ask a project manager "
                "to re-qualify you.",
                field="project_id",
            )
        raise TrainingRequired(
            f"this project needs you to pass its training course before real tasks: {rule}. "
            f"You are on go {state.round}, {state.done} of {state.total} done. Continue with "
            f"POST /api/v1/projects/{access.id}/training/next, or open "
            f"/label/{access.id}?training=1 in the browser.",
            field="project_id",
        )


# --- leases on quality tasks ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    """A quality task as a lease shows it: the task's columns, the attempt's lease."""

    id: str
    project_id: str
    type: str
    params: dict[str, Any]
    prelabels: dict[str, Any] | None
    priority: int
    stage: str
    round: int
    working_response: None
    lease_token: str
    lease_expires_at: dt.datetime


_TASK = select(*LEASE_COLUMNS).where(T.id == bindparam("task_id"))


def _lease(
    conn: Connection, task_id: str, stage: str, token: str, expires: dt.datetime, user_id: str
) -> Lease:
    row = conn.execute(_TASK, {"task_id": task_id}).one()
    item = _Item(
        row.id,
        row.project_id,
        row.type,
        row.params,
        row.prelabels,
        row.priority,
        stage,
        0,
        None,
        token,
        expires,
    )
    return lease_for(conn, item, user_id)


_HELD_ATTEMPT = (
    select(A.task_id, A.stage, A.lease_token, A.lease_expires_at)
    .where(
        A.user_id == bindparam("uid"),
        A.lease_expires_at > bindparam("now"),
        A.project_id == bindparam("b_project"),
        A.kind == bindparam("b_kind"),
        A.submitted_at.is_(None),
    )
    .limit(1)
)


def held_attempt(*, conn: Connection, project_id: str, user_id: str, kind: str) -> Lease | None:
    """The caller's unexpired lease on an evaluation or training task of the project."""
    row = conn.execute(
        _HELD_ATTEMPT,
        {"uid": user_id, "now": utcnow(), "b_project": project_id, "b_kind": kind},
    ).first()
    if row is None:
        return None
    return _lease(conn, row.task_id, row.stage, row.lease_token, row.lease_expires_at, user_id)


def _start(
    conn: Connection,
    *,
    task_id: str,
    project_id: str,
    user_id: str,
    kind: str,
    stage: str,
    round_: int,
    pipeline: Pipeline,
) -> Lease:
    now = utcnow()
    token = secrets.token_hex(16)
    expires = now + dt.timedelta(seconds=pipeline.lease_seconds)
    conn.execute(
        insert(ATTEMPTS),
        {
            "id": new_id(),
            "project_id": project_id,
            "task_id": task_id,
            "user_id": user_id,
            "kind": kind,
            "round": round_,
            "stage": stage,
            "lease_token": token,
            "lease_expires_at": expires,
            "leased_at": now,
            "created_at": now,
        },
    )
    return _lease(conn, task_id, stage, token, expires, user_id)


def _live(kind: str) -> Any:
    return and_(T.project_id == bindparam("b_project"), T.kind == kind, T.retired_at.is_(None))


_NOT_TRIED = (
    select(T.id)
    .where(
        _live("evaluation"),
        ~exists(select(A.id).where(A.task_id == T.id, A.user_id == bindparam("uid"))),
    )
    .order_by(func.random())
    .limit(1)
)
# Every live evaluation task tried: the one tried longest ago, once old enough.
_RECYCLE = (
    select(A.task_id)
    .join(TASKS, T.id == A.task_id)
    .where(
        A.user_id == bindparam("uid"),
        A.project_id == bindparam("b_project"),
        A.kind == "evaluation",
        T.retired_at.is_(None),
    )
    .group_by(A.task_id)
    .having(func.max(A.created_at) <= bindparam("cutoff"))
    .order_by(func.max(A.created_at))
    .limit(1)
)


def serve_evaluation(config: QualityConfig) -> bool:
    """Whether this request for work gets an evaluation task (at the configured rate)."""
    return config.evaluation_rate > 0 and random.random() < config.evaluation_rate


def claim_evaluation(
    *, conn: Connection, access: Access, stage: Stage, user_id: str
) -> Lease | None:
    """Lease an evaluation task this person has not done (or, recycled, did long ago)."""
    config = access.rules.quality
    params = {"b_project": access.id, "uid": user_id}
    task_id = conn.execute(_NOT_TRIED, params).scalar()
    if task_id is None and config.recycle_after_hours is not None:
        cutoff = utcnow() - dt.timedelta(hours=config.recycle_after_hours)
        task_id = conn.execute(_RECYCLE, {**params, "cutoff": cutoff}).scalar()
    if task_id is None:
        return None
    return _start(
        conn,
        task_id=task_id,
        project_id=access.id,
        user_id=user_id,
        kind="evaluation",
        stage=stage.name,
        round_=1,
        pipeline=access.rules.pipeline,
    )


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Course:
    """Where a person stands in a project's training course."""

    required: bool
    total: int
    round: int
    max_rounds: int
    done: int
    score: float | None
    passed: bool
    passed_at: dt.datetime | None
    can_retry: bool
    pass_threshold: float
    # Training tasks not yet done in this round, in course order.
    remaining: tuple[str, ...]


_COURSE_TASKS = select(T.id).where(_live("training")).order_by(T.id)
_TRAINING_SCORES = select(A.round, A.task_id, A.score).where(
    A.project_id == bindparam("b_project"),
    A.user_id == bindparam("uid"),
    A.kind == "training",
    A.submitted_at.is_not(None),
)
_STANDING = select(W.status, W.reason, W.training_passed_at, W.extra_training_rounds).where(
    W.project_id == bindparam("b_project"), W.user_id == bindparam("uid")
)


def course(*, conn: Connection, project_id: str, config: QualityConfig, user_id: str) -> Course:
    """The course's tasks, this person's goes at it, and whether they passed."""
    params = {"b_project": project_id, "uid": user_id}
    tasks = [row.id for row in conn.execute(_COURSE_TASKS, params)]
    standing = conn.execute(_STANDING, params).first()
    passed_at = standing.training_passed_at if standing else None
    extra = standing.extra_training_rounds if standing else 0
    by_round: dict[int, dict[str, float]] = {}
    for row in conn.execute(_TRAINING_SCORES, params):
        by_round.setdefault(row.round, {})[row.task_id] = row.score or 0.0
    live = set(tasks)
    current = max(by_round, default=1)
    scores = {k: v for k, v in by_round.get(current, {}).items() if k in live}
    finished = bool(tasks) and len(scores) == len(tasks)
    max_rounds = config.training.max_rounds + extra
    if finished and passed_at is None and current < max_rounds:
        current, scores, finished = current + 1, {}, False  # a new go at the course
    score = sum(scores.values()) / len(scores) if scores else None
    return Course(
        required=config.training.required and bool(tasks),
        total=len(tasks),
        round=current,
        max_rounds=max_rounds,
        done=len(scores),
        score=score,
        passed=passed_at is not None,
        passed_at=passed_at,
        can_retry=current < max_rounds,
        pass_threshold=config.training.pass_threshold,
        remaining=tuple(task for task in tasks if task not in scores),
    )


def next_training(*, conn: Connection, access: Access, user_id: str) -> Lease | None:
    """The caller's training lease, or the next training task of their course; None when the
    course is passed or no go is left."""
    held = held_attempt(conn=conn, project_id=access.id, user_id=user_id, kind="training")
    if held is not None:
        return held
    state = course(conn=conn, project_id=access.id, config=access.rules.quality, user_id=user_id)
    if state.passed or not state.remaining:
        return None
    return _start(
        conn,
        task_id=state.remaining[0],
        project_id=access.id,
        user_id=user_id,
        kind="training",
        stage="training",
        round_=state.round,
        pipeline=access.rules.pipeline,
    )


# --- submitting quality work ----------------------------------------------------------------


_ATTEMPT = select(A.id, A.kind, A.round, A.leased_at).where(
    A.task_id == bindparam("task_id"),
    A.user_id == bindparam("uid"),
    A.lease_token == bindparam("token"),
    A.lease_expires_at > bindparam("now"),
    A.submitted_at.is_(None),
)


def held(conn: Connection, task_id: str, user_id: str, token: str) -> Any:
    """The caller's attempt on this quality task under this lease token, else 409."""
    row = conn.execute(
        _ATTEMPT, {"task_id": task_id, "uid": user_id, "token": token, "now": utcnow()}
    ).first()
    if row is None:
        raise Conflict(LEASE_LOST, field="lease_token")
    return row


_FINISH_ATTEMPT = (
    update(ATTEMPTS)
    .where(
        A.id == bindparam("attempt_id"),
        A.lease_token == bindparam("token"),
        A.submitted_at.is_(None),
    )
    .values(lease_token=None, lease_expires_at=None)
)


def renew(
    *, conn: Connection, task_id: str, user_id: str, token: str, pipeline: Pipeline
) -> dt.datetime:
    attempt = held(conn, task_id, user_id, token)
    expires = utcnow() + dt.timedelta(seconds=pipeline.lease_seconds)
    conn.execute(update(ATTEMPTS).where(A.id == attempt.id).values(lease_expires_at=expires))
    return expires


def skip(*, conn: Connection, task_id: str, user_id: str, token: str, reason: str) -> None:
    """A skipped quality task is not scored and not served again (as a real one)."""
    if not reason.strip():
        raise Invalid("say why you skip the task", field="reason")
    attempt = held(conn, task_id, user_id, token)
    conn.execute(
        _FINISH_ATTEMPT,
        {
            "attempt_id": attempt.id,
            "token": token,
            "submitted_at": utcnow(),
            "details": {"skipped": reason.strip()[:2000]},
        },
    )


@dataclass(frozen=True, slots=True)
class Scored:
    kind: str
    score: float
    passed: bool
    expected: dict[str, Any]


def submit(
    *,
    conn: Connection,
    task: Any,
    user_id: str,
    token: str,
    response: dict[str, Any],
    config: QualityConfig,
) -> Scored:
    """Score a (validated) response against the expected one and record the attempt; an
    evaluation may pause the labeler, a training round may pass or fail them."""
    attempt = held(conn, task.id, user_id, token)
    now = utcnow()
    expected = task.expected_response or {}
    score = score_response(expected, response)
    threshold = (
        config.training.pass_threshold if attempt.kind == "training" else config.pass_threshold
    )
    passed = score >= threshold
    duration = (now - attempt.leased_at).total_seconds() * 1000 if attempt.leased_at else None
    applied = conn.execute(
        _FINISH_ATTEMPT,
        {
            "attempt_id": attempt.id,
            "token": token,
            "response": response,
            "score": score,
            "passed": passed,
            "submitted_at": now,
            "duration_ms": duration,
        },
    )
    if applied.rowcount != 1:
        raise Conflict(LEASE_LOST, field="lease_token")
    conn.execute(delete(DRAFTS).where(DRAFTS.c.task_id == task.id, DRAFTS.c.user_id == user_id))
    if attempt.kind == "evaluation":
        _maybe_pause(conn, task.project_id, user_id, config)
    else:
        _maybe_pass_training(conn, task.project_id, user_id, config, attempt.round)
    return Scored(attempt.kind, score, passed, expected)


_WINDOW = (
    select(A.score)
    .where(
        A.project_id == bindparam("b_project"),
        A.user_id == bindparam("uid"),
        A.kind == "evaluation",
        A.score.is_not(None),
        A.submitted_at >= bindparam("since"),
    )
    .order_by(A.id.desc())
    .limit(bindparam("window"))
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def rolling_accuracy(
    conn: Connection, project_id: str, user_id: str, config: QualityConfig
) -> tuple[float | None, int]:
    """Mean score over the last `rolling_window` evaluation tasks since re-qualification."""
    standing = conn.execute(_STANDING_WINDOW, {"b_project": project_id, "uid": user_id}).first()
    since = (standing.window_start if standing else None) or _EPOCH
    scores = (
        conn.execute(
            _WINDOW,
            {
                "b_project": project_id,
                "uid": user_id,
                "since": since,
                "window": config.rolling_window,
            },
        )
        .scalars()
        .all()
    )
    return (sum(scores) / len(scores) if scores else None), len(scores)


_STANDING_WINDOW = select(W.window_start).where(
    W.project_id == bindparam("b_project"), W.user_id == bindparam("uid")
)


def upsert_standing(conn: Connection, project_id: str, user_id: str, **values: Any) -> None:
    """Create or change a person's standing in a project."""
    now = utcnow()
    stmt = dialects.insert(WORKERS, conn.dialect.name).values(
        project_id=project_id,
        user_id=user_id,
        status=values.get("status", "active"),
        extra_training_rounds=values.get("extra_training_rounds", 0),
        updated_at=now,
        **{k: v for k, v in values.items() if k not in ("status", "extra_training_rounds")},
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["project_id", "user_id"], set_={**values, "updated_at": now}
        )
    )


def _maybe_pause(conn: Connection, project_id: str, user_id: str, config: QualityConfig) -> None:
    if config.pause_below is None:
        return
    accuracy, count = rolling_accuracy(conn, project_id, user_id, config)
    if accuracy is None or count < config.pause_min_attempts or accuracy >= config.pause_below:
        return
    # The pause happens now, on the submit that triggered it (docs/quality.md weighs this
    # against the gold side channel); its reason, which the labeler reads, gives no count or
    # score beyond what their own figures show later.
    upsert_standing(
        conn,
        project_id,
        user_id,
        status="paused",
        paused_at=utcnow(),
        reason=f"your recent accuracy on evaluation tasks is below this project's "
        f"{config.pause_below:.0%}.",
    )


def _maybe_pass_training(
    conn: Connection, project_id: str, user_id: str, config: QualityConfig, round_: int
) -> None:
    """Pass the person once every live course task of this round is scored at or above the
    course's threshold on average."""
    params = {"b_project": project_id, "uid": user_id}
    tasks = {row.id for row in conn.execute(_COURSE_TASKS, params)}
    scores = {
        row.task_id: row.score or 0.0
        for row in conn.execute(_TRAINING_SCORES, params)
        if row.round == round_ and row.task_id in tasks
    }
    finished = bool(tasks) and len(scores) == len(tasks)
    if finished and sum(scores.values()) / len(scores) >= config.training.pass_threshold:
        upsert_standing(conn, project_id, user_id, training_passed_at=utcnow())

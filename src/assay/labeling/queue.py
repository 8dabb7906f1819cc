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
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.ids import new_id
from assay.core.models import WebhookTarget
from assay.core.prepared import Prepared
from assay.core.settings import Settings
from assay.labeling import audits, consensus, models
from assay.labeling.pipeline import Pipeline, Stage, announce_on
from assay.labeling.projects import Rules, cached_rules
from assay.labeling.quality_config import QualityConfig
from assay.labeling.taxonomy import Taxonomy
from assay.metrics.matching import score_response

LEASE_LOST = (
    "your lease on this task has ended (it expired or the task was handed to someone else); "
    "your work was not saved to the task — ask for the next task"
)


# The hot path (next and submit) runs prebuilt Core statements on a plain connection: the
# ORM's unit of work and statement construction were most of a request (profiled), and a
# prebuilt statement also skips SQLAlchemy's per-call cache-key generation.
TASKS = models.Task.__table__
T = TASKS.c
PROJECTS = models.Project.__table__
MEMBERS = models.ProjectMember.__table__
DRAFTS = models.Draft.__table__
EVENTS = models.TaskEvent.__table__
WORKERS = models.QualityWorker.__table__
GROUPS = models.BatchGroup.__table__
GROUP_MEMBERS = models.WorkerGroupMember.__table__


@dataclass(frozen=True, slots=True)
class Access:
    """The caller's standing in a project: its id, their role in it, and its rules — and
    their quality standing: paused (why), training passed, whether a course exists."""

    id: str
    role: str | None
    rules: Rules
    paused_reason: str | None = None
    needs_training: bool = False


_MEMBER_JOIN = and_(MEMBERS.c.project_id == PROJECTS.c.id, MEMBERS.c.user_id == bindparam("uid"))
_WORKER_JOIN = and_(WORKERS.c.project_id == PROJECTS.c.id, WORKERS.c.user_id == bindparam("uid"))
# Asked only while the person has not passed training: an indexed probe for a live course.
_COURSE_EXISTS = case(
    (
        WORKERS.c.training_passed_at.is_(None),
        exists(
            select(T.id).where(
                T.project_id == PROJECTS.c.id, T.kind == "training", T.retired_at.is_(None)
            )
        ),
    ),
    else_=False,
)
_ACCESS = Prepared(
    select(
        PROJECTS.c.id,
        PROJECTS.c.updated_at,
        MEMBERS.c.role,
        WORKERS.c.status,
        WORKERS.c.reason,
        _COURSE_EXISTS.label("course_pending"),
    )
    .select_from(PROJECTS.outerjoin(MEMBERS, _MEMBER_JOIN).outerjoin(WORKERS, _WORKER_JOIN))
    .where(PROJECTS.c.id == bindparam("project_id"), PROJECTS.c.mode == bindparam("mode"))
)
_RULES_SOURCE = select(
    PROJECTS.c.taxonomy, PROJECTS.c.task_type, PROJECTS.c.pipeline, PROJECTS.c.quality
).where(PROJECTS.c.id == bindparam("project_id"))


def _rules(conn: Connection, project_id: str, updated_at: dt.datetime) -> Rules:
    def load() -> tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]:
        row = conn.execute(_RULES_SOURCE, {"project_id": project_id}).one()
        return row.taxonomy, row.task_type, row.pipeline, row.quality

    return cached_rules(project_id, updated_at, load)


def project_access(*, conn: Connection, project_id: str, actor: Actor) -> Access:
    """The project in the caller's sandbox (404), their membership role and its rules."""
    row = _ACCESS.first(conn, {"project_id": project_id, "mode": actor.mode, "uid": actor.user_id})
    if row is None:
        raise NotFound(f"no project with id {project_id}", field="project_id")
    rules = _rules(conn, row.id, row.updated_at)
    return Access(
        row.id,
        row.role,
        rules,
        paused_reason=row.reason if row.status == "paused" else None,
        needs_training=bool(row.course_pending) and rules.quality.training.required,
    )


@dataclass
class Lease:
    task: Any  # a row with LEASE_COLUMNS
    token: str
    expires_at: dt.datetime
    draft: dict[str, Any] | None
    # What a reviewer reviews, or a labeler reworks: the latest submitted response and the
    # reviewer's comments on it.
    previous: dict[str, Any] | None = None
    comments: list[dict[str, Any]] | None = None


def dialect_of(session: Session | Connection) -> str:
    """`sqlite` or `postgresql`, from a session or a connection."""
    return session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name


# What a lease shows: the task as the person working on it needs it (no metadata, no final
# response).
LEASE_COLUMNS = (
    T.id,
    T.project_id,
    T.type,
    T.params,
    T.prelabels,
    T.priority,
    T.stage,
    T.round,
    T.working_response,
    T.lease_token,
    T.lease_expires_at,
)
# Only the lease-holder column in the filter, so every dialect uses its index (with the
# project and stage in it, SQLite scanned the queue index instead: 5 ms a call at 20k).
# LIMIT 1 makes PostgreSQL walk ix_tasks_lease_user with a plain index scan, which marks
# the entries of the person's past leases dead as it passes them (a bitmap scan never does,
# and read ~80 dead entries a call until the next vacuum, profiled at 64 labelers).
_HELD = Prepared(
    select(*LEASE_COLUMNS)
    .where(
        T.lease_user_id == bindparam("uid"),
        T.project_id == bindparam("project_id"),
        T.stage == bindparam("b_stage"),
        T.lease_expires_at > bindparam("now"),
    )
    .limit(1)
)
_DRAFT = Prepared(
    select(DRAFTS.c.response).where(
        DRAFTS.c.task_id == bindparam("task_id"), DRAFTS.c.user_id == bindparam("uid")
    )
)
_LAST_REJECTION = Prepared(
    select(EVENTS.c.comments)
    .where(EVENTS.c.task_id == bindparam("task_id"), EVENTS.c.action == "reject")
    .order_by(EVENTS.c.id.desc())
    .limit(1)
)


_UNREAD = object()


def lease_for(conn: Connection, task: Any, user_id: str, draft: Any = _UNREAD) -> Lease:
    """What the person sees with a leased task: their draft (read here unless given), and
    for rework or review the latest response and the reviewer's comments."""
    if draft is _UNREAD:
        row = _DRAFT.first(conn, {"task_id": task.id, "uid": user_id})
        draft = row[0] if row else None
    previous = comments = None
    if task.round > 0 or task.working_response is not None:
        previous = task.working_response
        comments = _LAST_REJECTION.scalar(conn, {"task_id": task.id})
    return Lease(
        task,
        task.lease_token or "",
        task.lease_expires_at or utcnow(),
        draft,
        previous,
        comments,
    )


_HELD_AND_SWEEP: Prepared | None = None


def held_lease(
    *, conn: Connection, project_id: str, stage: Stage, user_id: str, sweep: bool = False
) -> Lease | None:
    """The caller's unexpired lease in this project and stage (read-only, no writer lock).

    `sweep` (PostgreSQL, in the transaction that may claim next): free the stage's expired
    leases in the same statement, a round trip saved; then `claim_task(..., swept=True)`."""
    params = {"uid": user_id, "project_id": project_id, "b_stage": stage.name, "now": utcnow()}
    if sweep and dialect_of(conn) == "postgresql":
        global _HELD_AND_SWEEP
        if _HELD_AND_SWEEP is None:
            swept = _sweep_statement("postgresql").statement.returning(T.id).cte("swept")
            _HELD_AND_SWEEP = Prepared(_HELD.statement.add_cte(swept))
        held = _HELD_AND_SWEEP.first(conn, {**params, "b_project": project_id})
    else:
        held = _HELD.first(conn, params)
    return None if held is None else lease_for(conn, held, user_id)


_claims: dict[tuple[str, bool], Prepared] = {}


def _claim_statement(dialect: str, review: bool) -> Prepared:
    """UPDATE the best free task of the stage to leased, RETURNING what the lease shows.

    The candidate is picked in a subquery over an alias of `tasks` (PostgreSQL: FOR UPDATE
    SKIP LOCKED, so claimers never wait on each other's rows)."""
    key = (dialect, review)
    if key not in _claims:
        C = TASKS.alias("candidate")
        # A correlated scalar subquery, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an
        # anti-join that may read the person's whole history (ix_task_events_user), growing
        # with every task they do; this stays one ix_task_events_seen probe per candidate.
        seen = (
            select(EVENTS.c.id)
            .where(
                EVENTS.c.task_id == C.c.id,
                EVENTS.c.stage == bindparam("b_stage"),
                EVENTS.c.round == C.c.round,
                EVENTS.c.user_id == bindparam("uid"),
            )
            .limit(1)
            .scalar_subquery()
        )
        # A batch assigned to groups is served only to their members.
        in_group = (
            select(GROUPS.c.batch_id)
            .join(GROUP_MEMBERS, GROUP_MEMBERS.c.group_id == GROUPS.c.group_id)
            .where(GROUPS.c.batch_id == C.c.batch_id, GROUP_MEMBERS.c.user_id == bindparam("uid"))
        )
        candidate = (
            select(C.c.id)
            .where(
                C.c.project_id == bindparam("b_project"),
                C.c.stage == bindparam("b_stage"),
                C.c.lease_user_id.is_(None),  # ix_tasks_free (expired leases were swept)
                or_(C.c.assignee_id.is_(None), C.c.assignee_id == bindparam("uid")),
                or_(C.c.restricted.is_(False), exists(in_group)),
                seen.is_(None),
            )
            .order_by(C.c.batch_priority.desc(), C.c.priority.desc(), C.c.id)
            .limit(1)
        )
        if review:
            candidate = candidate.where(
                or_(C.c.labeled_by.is_(None), C.c.labeled_by != bindparam("uid"))
            )
        if dialect == "postgresql":
            candidate = candidate.with_for_update(of=C, skip_locked=True)
        claim: Any = (
            update(TASKS)
            .where(T.id == candidate.scalar_subquery())
            .values(
                lease_user_id=bindparam("uid"),
                lease_token=bindparam("token"),
                lease_expires_at=bindparam("expires"),
                leased_at=bindparam("now"),
            )
            .returning(*LEASE_COLUMNS)
        )
        if dialect == "postgresql":
            # The person's draft of the claimed task in the same round trip.
            claimed = claim.cte("claimed")
            draft = select(DRAFTS.c.response).where(
                DRAFTS.c.task_id == claimed.c.id, DRAFTS.c.user_id == bindparam("uid")
            )
            claim = select(claimed, draft.scalar_subquery().label("draft"))
        _claims[key] = Prepared(claim)
    return _claims[key]


_sweeps: dict[str, Prepared] = {}


def _sweep_statement(dialect: str) -> Prepared:
    """Free the stage's expired leases (a few index entries: ix_tasks_lease_expiry)."""
    if dialect not in _sweeps:
        expired = and_(
            T.project_id == bindparam("b_project"),
            T.stage == bindparam("b_stage"),
            T.lease_user_id.is_not(None),
            T.lease_expires_at <= bindparam("now"),
        )
        if dialect == "postgresql":
            # Claimers sweeping at once skip each other's rows instead of waiting on them.
            X = TASKS.alias("expired")
            expired = T.id.in_(
                select(X.c.id)
                .where(
                    X.c.project_id == bindparam("b_project"),
                    X.c.stage == bindparam("b_stage"),
                    X.c.lease_user_id.is_not(None),
                    X.c.lease_expires_at <= bindparam("now"),
                )
                .with_for_update(of=X, skip_locked=True)
            )
        _sweeps[dialect] = Prepared(
            update(TASKS)
            .where(expired)
            .values(lease_user_id=None, lease_token=None, lease_expires_at=None, leased_at=None)
        )
    return _sweeps[dialect]


def claim_task(
    *,
    conn: Connection,
    project_id: str,
    pipeline: Pipeline,
    stage: Stage,
    user_id: str,
    swept: bool = False,
) -> Lease | None:
    """Lease the highest-priority task of the stage this person may take, or None.

    Never a task someone else holds, one they already worked on in this stage and round, one
    assigned to someone else (rework goes back to its labeler), or — in review — their own.
    Expired leases in the stage are freed first (unless `held_lease(..., sweep=True)` did it
    in this transaction), so their tasks compete in priority order."""
    now = utcnow()
    dialect = dialect_of(conn)
    if not swept:
        _sweep_statement(dialect).run(
            conn, {"b_project": project_id, "b_stage": stage.name, "now": now}
        )
    task = _claim_statement(dialect, stage.kind == "review").first(
        conn,
        {
            "b_project": project_id,
            "b_stage": stage.name,
            "uid": user_id,
            "now": now,
            "token": secrets.token_hex(16),
            "expires": now + dt.timedelta(seconds=pipeline.lease_seconds),
        },
    )
    if task is None:
        return None
    if dialect == "postgresql":
        return lease_for(conn, task, user_id, draft=task.draft)
    return lease_for(conn, task, user_id)


# A submission's read phase: the task with what the submit needs, its project's version and
# the caller's role in it — one statement, outside the write transaction.
_WORK_ITEM = Prepared(
    select(
        T.id,
        T.project_id,
        T.batch_id,
        T.type,
        T.kind,
        T.params,
        T.expected_response,
        T.stage,
        T.round,
        T.unique_id,
        T.metadata.label("metadata_"),
        T.callback_url,
        T.lease_user_id,
        T.lease_token,
        T.lease_expires_at,
        T.leased_at,
        T.labeled_by,
        PROJECTS.c.updated_at.label("project_updated_at"),
        MEMBERS.c.role,
        WORKERS.c.audit_rate,
    )
    .select_from(
        TASKS.join(PROJECTS, PROJECTS.c.id == T.project_id)
        .outerjoin(MEMBERS, _MEMBER_JOIN)
        .outerjoin(WORKERS, _WORKER_JOIN)
    )
    .where(T.id == bindparam("task_id"), T.mode == bindparam("mode"))
)


def work_item(*, conn: Connection, task_id: str, actor: Actor) -> tuple[Any, Access]:
    """The task in the caller's sandbox (404) and the caller's standing in its project."""
    row = _WORK_ITEM.first(conn, {"task_id": task_id, "mode": actor.mode, "uid": actor.user_id})
    if row is None:
        raise NotFound(f"no task with id {task_id}", field="task_id")
    return row, Access(
        row.project_id, row.role, _rules(conn, row.project_id, row.project_updated_at)
    )


def check_lease(task: Any, user_id: str, token: str) -> None:
    """409 unless the caller holds an unexpired lease on the task with this token."""
    if (
        task.lease_user_id != user_id
        or task.lease_token != token
        or task.lease_expires_at is None
        or task.lease_expires_at <= utcnow()
    ):
        raise Conflict(LEASE_LOST, field="lease_token")


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


# Compare-and-set on the lease: the row changes only if this person still holds this lease,
# so a submit racing an expiry or a second submit of the same lease cannot both apply.
_RELEASE_IF_HELD = update(TASKS).where(
    T.id == bindparam("task_id"),
    T.lease_user_id == bindparam("uid"),
    T.lease_token == bindparam("token"),
    T.lease_expires_at > bindparam("now"),
)
_releases: dict[tuple[str, ...], Prepared] = {}


def _release_if_held(
    conn: Connection, task_id: str, user_id: str, token: str, now: dt.datetime, **changes: Any
) -> None:
    """Apply `changes` to the task if this lease still holds it; 409 if it does not."""
    keys = tuple(changes)
    prepared = _releases.get(keys)
    if prepared is None:
        prepared = _releases[keys] = Prepared(
            _RELEASE_IF_HELD.values(
                {key: bindparam(f"set_{key}", type_=T[key].type) for key in keys}
            )
        )
    params = {f"set_{key}": value for key, value in changes.items()}
    params.update(task_id=task_id, uid=user_id, token=token, now=now)
    if prepared.run(conn, params) != 1:
        raise Conflict(LEASE_LOST, field="lease_token")


_EVENT_COLUMNS = (
    "task_id",
    "stage",
    "round",
    "user_id",
    "action",
    "response",
    "reason",
    "duration_ms",
    "created_at",
)
_ADD_EVENT = Prepared(
    insert(EVENTS).values(
        {name: bindparam(name, type_=EVENTS.c[name].type) for name in _EVENT_COLUMNS}
    )
)
_DROP_DRAFTS = Prepared(delete(DRAFTS).where(DRAFTS.c.task_id == bindparam("task_id")))


def _add_event(conn: Connection, **values: Any) -> None:
    _ADD_EVENT.run(conn, {"reason": None, "duration_ms": None, **values})


def _submitted(task: Any, status: str, stage: str | None) -> Submitted:
    return Submitted(
        id=task.id,
        project_id=task.project_id,
        batch_id=task.batch_id,
        type=task.type,
        unique_id=task.unique_id,
        metadata_=task.metadata_,
        callback_url=task.callback_url,
        status=status,
        stage=stage,
    )


def _record_answer(
    conn: Connection,
    task: Any,
    user_id: str,
    response: dict[str, Any],
    now: dt.datetime,
    feedback: str | None,
) -> None:
    """History, drafts and (for a task with a known answer) the labeler's calibration score."""
    duration = (now - task.leased_at).total_seconds() * 1000 if task.leased_at else None
    _add_event(
        conn,
        task_id=task.id,
        stage=task.stage,
        round=task.round,
        user_id=user_id,
        action="submit",
        response=response,
        duration_ms=duration,
        created_at=now,
    )
    _DROP_DRAFTS.run(conn, {"task_id": task.id})
    if task.expected_response is not None:
        _score_calibration(conn, task, user_id, response, duration, feedback)


def next_stage(pipeline: Pipeline, stage: Stage) -> Stage | None:
    """Where a labeled task goes: the next stage, past review stages it is not sampled for."""
    following = pipeline.after(stage.name)
    while (
        following is not None
        and following.kind == "review"
        and (following.sample_rate < 1.0 and random.random() >= following.sample_rate)
    ):
        following = pipeline.after(following.name)
    return following


def submit(
    *,
    conn: Connection,
    task: Any,
    actor: Actor,
    token: str,
    response: dict[str, Any],
    pipeline: Pipeline,
    settings: Settings,
    quality: QualityConfig | None = None,
    taxonomy: Taxonomy | None = None,
    feedback: str | None = None,
) -> Submitted:
    """A labeler's answer (already validated against the taxonomy) moves the task on.

    `task` is the work item read before the write transaction; the lease is re-checked
    atomically by the UPDATE, so nothing read then can be stale when this applies.
    With consensus (N labelers per task), the task stays in its stage until the N-th answer,
    whose aggregate moves on — to review when the labelers agree too little."""
    stage = pipeline.stage(task.stage or "")
    if stage.kind != "label":
        raise Invalid("this task is in a review stage: send a review decision", field="stage")
    now = utcnow()
    following = next_stage(pipeline, stage)
    agreed: Any = None
    wanted = quality.consensus.labelers if quality is not None else 1
    if wanted > 1 and task.round == 0:
        earlier = conn.execute(
            _EARLIER_ANSWERS, {"task_id": task.id, "b_stage": task.stage, "b_round": task.round}
        ).all()
        if len(earlier) + 1 < wanted:
            return _one_of_many(conn, task, actor, token, response, now, feedback)
        assert quality is not None and taxonomy is not None
        agreed = consensus.aggregate(
            task_type=task.type,
            taxonomy=taxonomy,
            params=task.params,
            responses=[
                *((row.user_id, row.response) for row in earlier),
                (actor.user_id, response),
            ],
        )
        if agreed.agreement < quality.consensus.agreement_threshold:
            following = _review_after(pipeline, stage) or following
    final = agreed.response if agreed is not None else response
    changes: dict[str, Any] = {
        "lease_user_id": None,
        "lease_token": None,
        "lease_expires_at": None,
        "leased_at": None,
        "assignee_id": None,
        "working_response": final,
        "labeled_by": actor.user_id,
        "updated_at": now,
        "stage": following.name if following else None,
    }
    if following is None:
        changes.update(status="completed", response=final, error=None, completed_at=now)
    probes = None
    if agreed is None and task.expected_response is None and dialect_of(conn) == "postgresql":
        probes = _apply_at_once(conn, task, actor, token, response, now, changes)
    else:
        _release_if_held(conn, task.id, actor.user_id, token, now, **changes)
        _record_answer(conn, task, actor.user_id, response, now, feedback)
    if agreed is not None:
        _add_event(
            conn,
            task_id=task.id,
            stage=task.stage,
            round=task.round,
            user_id=None,
            action="consensus",
            response=agreed.response,
            reason=f"agreement {agreed.agreement:.3f} ({agreed.method})",
            created_at=now,
        )
    done = _submitted(
        task,
        "pending" if following else "completed",
        following.name if following else None,
    )
    if following is None:
        done.response, done.completed_at = final, now
        rate = (
            task.audit_rate if task.audit_rate is not None else (quality or _NO_QUALITY).audit_rate
        )
        audits.maybe_sample(
            conn, project_id=task.project_id, task_id=task.id, labeler_id=actor.user_id, rate=rate
        )
        if (
            probes is None
            or task.callback_url
            or probes.hooks
            or (task.batch_id is not None and not probes.batch_pending)
        ):
            announce_on(conn=conn, task=done, settings=settings, actor=actor)
    return done


# PostgreSQL: the common submit (no consensus, no known answer) in one statement — release
# the lease if still held, add the history event, drop the drafts, and probe what a
# completion needs (any webhook target of this key mode; another pending task in the batch).
# Each statement is a round trip, and a round trip costs more than these statements do.
_TARGETS = WebhookTarget.__table__
_at_once: dict[tuple[str, ...], Prepared] = {}


def _submit_at_once_statement(keys: tuple[str, ...]) -> Prepared:
    if keys not in _at_once:
        values = {key: bindparam(f"set_{key}", type_=T[key].type) for key in keys}
        released = _RELEASE_IF_HELD.values(values).returning(T.id).cte("released")
        columns = ("stage", "round", "response", "duration_ms", "created_at")
        event = (
            insert(EVENTS)
            .from_select(
                ["task_id", "user_id", "action", *columns],
                select(
                    released.c.id,
                    bindparam("uid", type_=EVENTS.c.user_id.type),
                    literal("submit", EVENTS.c.action.type),
                    *(bindparam(f"e_{c}", type_=EVENTS.c[c].type) for c in columns),
                ),
            )
            .cte("event")
        )
        dropped = delete(DRAFTS).where(DRAFTS.c.task_id.in_(select(released.c.id))).cte("dropped")
        others = TASKS.alias("others")
        _at_once[keys] = Prepared(
            select(
                select(func.count()).select_from(released).scalar_subquery().label("applied"),
                exists(
                    select(_TARGETS.c.id).where(
                        _TARGETS.c.is_active.is_(True), _TARGETS.c.mode == bindparam("mode")
                    )
                ).label("hooks"),
                exists(
                    select(others.c.id).where(
                        others.c.batch_id == bindparam("batch_id"),
                        others.c.status == "pending",
                        others.c.id != bindparam("task_id"),
                    )
                ).label("batch_pending"),
            ).add_cte(event, dropped)
        )
    return _at_once[keys]


def _apply_at_once(
    conn: Connection,
    task: Any,
    actor: Actor,
    token: str,
    response: dict[str, Any],
    now: dt.datetime,
    changes: dict[str, Any],
) -> Any:
    """`_release_if_held` + `_record_answer` in one PostgreSQL statement; 409 as they do."""
    params = {f"set_{key}": value for key, value in changes.items()}
    params.update(
        task_id=task.id,
        uid=actor.user_id,
        token=token,
        now=now,
        mode=actor.mode,
        batch_id=task.batch_id,
        e_stage=task.stage,
        e_round=task.round,
        e_response=response,
        e_duration_ms=(now - task.leased_at).total_seconds() * 1000 if task.leased_at else None,
        e_created_at=now,
    )
    probes = _submit_at_once_statement(tuple(changes)).first(conn, params)
    if probes.applied != 1:
        raise Conflict(LEASE_LOST, field="lease_token")
    return probes


_NO_QUALITY = QualityConfig()
_EARLIER_ANSWERS = select(EVENTS.c.user_id, EVENTS.c.response).where(
    EVENTS.c.task_id == bindparam("task_id"),
    EVENTS.c.stage == bindparam("b_stage"),
    EVENTS.c.round == bindparam("b_round"),
    EVENTS.c.action == "submit",
)


def _review_after(pipeline: Pipeline, stage: Stage) -> Stage | None:
    """The first review stage after `stage`, sampled or not (low agreement goes there)."""
    names = [s.name for s in pipeline.stages]
    return next(
        (s for s in pipeline.stages[names.index(stage.name) + 1 :] if s.kind == "review"), None
    )


def _one_of_many(
    conn: Connection,
    task: Any,
    actor: Actor,
    token: str,
    response: dict[str, Any],
    now: dt.datetime,
    feedback: str | None,
) -> Submitted:
    """A consensus answer that is not the last one: kept in the history, the task freed for
    the next labeler (who never is this one: the claim skips tasks they worked on)."""
    _release_if_held(
        conn,
        task.id,
        actor.user_id,
        token,
        now,
        lease_user_id=None,
        lease_token=None,
        lease_expires_at=None,
        leased_at=None,
        updated_at=now,
    )
    _record_answer(conn, task, actor.user_id, response, now, feedback)
    return _submitted(task, "pending", task.stage)


_ADD_ATTEMPT = insert(models.QualityAttempt.__table__)


def _score_calibration(
    conn: Connection,
    task: Any,
    user_id: str,
    response: dict[str, Any],
    duration: float | None,
    feedback: str | None,
) -> None:
    """A task with a known answer (a calibration batch's): keep this labeler's score on it."""
    score = score_response(task.expected_response, response)
    now = utcnow()
    conn.execute(
        _ADD_ATTEMPT,
        {
            "id": new_id(),
            "project_id": task.project_id,
            "task_id": task.id,
            "user_id": user_id,
            "kind": "calibration",
            "round": task.round,
            "stage": task.stage or "",
            "response": response,
            "score": score,
            "passed": None,
            "feedback": feedback,
            "duration_ms": duration,
            "created_at": now,
            "submitted_at": now,
        },
    )

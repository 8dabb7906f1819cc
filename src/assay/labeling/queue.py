"""The pull queue: a person asks for the next task of a stage and gets a lease.

Claims, renewals and submissions are short write transactions over the `tasks` row itself
(PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the BEGIN IMMEDIATE write transaction). A lease
has a token; a submit must present the token of a lease that is still valid, so a submit after
the lease was lost is refused (409), never applied over someone else's work.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, NotFound
from assay.core.prepared import Prepared, constant
from assay.labeling import models, queue_head
from assay.labeling.pipeline import Pipeline, Stage
from assay.labeling.projects import Rules, cached_rules
from assay.labeling.queue_head import forget_heads

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
                T.project_id == PROJECTS.c.id,
                T.kind == constant("training"),
                T.retired_at.is_(None),
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
    return _access(conn, project_id, row)


def _access(conn: Connection, project_id: str, row: Any) -> Access:
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


# The held lease's columns in the combined row, prefixed apart from the project's.
_HELD_PREFIX = "held_"
_HeldRow = namedtuple("_HeldRow", [column.key for column in LEASE_COLUMNS])  # type: ignore[misc]
_HELD_AND_SWEEP: Prepared | None = None


def held_lease(
    *, conn: Connection, project_id: str, stage: Stage, user_id: str, sweep: bool = False
) -> Lease | None:
    """The caller's unexpired lease in this project and stage (read-only, no writer lock).

    `sweep` (PostgreSQL, in the transaction that may claim next): free the stage's expired
    leases in the same statement, a round trip saved; then `claim_task(..., swept=True)`."""
    params = {"uid": user_id, "project_id": project_id, "b_stage": stage.name, "now": utcnow()}
    if not (sweep and dialect_of(conn) == "postgresql"):
        held = _HELD.first(conn, params)
        return None if held is None else lease_for(conn, held, user_id)
    global _HELD_AND_SWEEP
    if _HELD_AND_SWEEP is None:
        # One row whatever is held: how many leases were freed, and the held lease or NULLs.
        freed = _swept_count().subquery("freed")
        held_columns = _HELD.statement.subquery("held")
        _HELD_AND_SWEEP = Prepared(
            select(
                freed.c.swept,
                *(held_columns.c[c.key].label(_HELD_PREFIX + c.key) for c in LEASE_COLUMNS),
            ).select_from(freed.outerjoin(held_columns, true()))
        )
    row = _HELD_AND_SWEEP.first(conn, {**params, "b_project": project_id})
    if row.swept:
        forget_heads(project_id, stage.name)
    return _held_from(conn, row, user_id)


def _swept_count() -> Any:
    """The stage's expired leases freed (PostgreSQL, a data-modifying CTE), counted."""
    swept = _sweep_statement("postgresql").statement.returning(T.id).cte("swept")
    return select(func.count().label("swept")).select_from(swept)


def _held_from(conn: Connection, row: Any, user_id: str) -> Lease | None:
    """The held lease out of a combined row's `held_*` columns, or None."""
    if getattr(row, _HELD_PREFIX + "id") is None:
        return None
    held_row = _HeldRow._make(getattr(row, _HELD_PREFIX + key) for key in _HeldRow._fields)
    return lease_for(conn, held_row, user_id)


_ACCESS_AND_HELD: Prepared | None = None


def access_and_held(
    *, conn: Connection, project_id: str, stage_name: str, actor: Actor
) -> tuple[Access, Lease | None]:
    """`project_access` and `held_lease(..., sweep=True)` in one statement (PostgreSQL, on a
    connection that commits each statement, when the caller names the stage): a round trip
    less for the queue's next. Freeing the stage's expired leases needs no permission (any
    claim in the stage does it); the held lease is read only to be returned with access."""
    global _ACCESS_AND_HELD
    if _ACCESS_AND_HELD is None:
        held = _HELD.statement.subquery("held")
        access = _ACCESS.statement
        _ACCESS_AND_HELD = Prepared(
            access.add_columns(
                _swept_count().scalar_subquery().label("swept"),
                *(held.c[column.key].label(_HELD_PREFIX + column.key) for column in LEASE_COLUMNS),
            ).outerjoin_from(access.get_final_froms()[0], held, true())
        )
    row = _ACCESS_AND_HELD.first(
        conn,
        {
            "project_id": project_id,
            "b_project": project_id,
            "mode": actor.mode,
            "uid": actor.user_id,
            "b_stage": stage_name,
            "now": utcnow(),
        },
    )
    access = _access(conn, project_id, row)
    if row.swept:
        forget_heads(project_id, stage_name)
    return access, _held_from(conn, row, actor.user_id)


_claims: dict[tuple[str, bool, bool], Prepared] = {}


def _claim_statement(dialect: str, review: bool, from_head: bool = False) -> Prepared:
    """UPDATE the best free task of the stage to leased, RETURNING what the lease shows.

    The candidate is picked in a subquery over an alias of `tasks` (PostgreSQL: FOR UPDATE
    SKIP LOCKED, so claimers never wait on each other's rows). `from_head` (PostgreSQL): the
    search starts at the queue's head (`h_*` parameters, `queue_head.Head`), not at the
    start of the stage's index."""
    key = (dialect, review, from_head)
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

        def candidate(*where: Any) -> Any:
            chosen = (
                select(C.c.id)
                .where(
                    C.c.project_id == bindparam("b_project"),
                    C.c.stage == bindparam("b_stage"),
                    *where,
                    C.c.lease_user_id.is_(None),  # ix_tasks_free (expired leases were swept)
                    or_(C.c.assignee_id.is_(None), C.c.assignee_id == bindparam("uid")),
                    or_(C.c.restricted.is_(False), exists(in_group)),
                    seen.is_(None),
                )
                .order_by(C.c.batch_priority.desc(), C.c.priority.desc(), C.c.id)
                .limit(1)
            )
            if review:
                chosen = chosen.where(
                    or_(C.c.labeled_by.is_(None), C.c.labeled_by != bindparam("uid"))
                )
            if dialect == "postgresql":
                chosen = chosen.with_for_update(of=C, skip_locked=True)
            return chosen.scalar_subquery()

        if from_head:
            # The index order from the head on, as three ranges PostgreSQL reads in turn
            # (COALESCE asks for the next only when the one before found nothing): the
            # rest of the head's priority class, the rest of its batch priority, the rest.
            bp, p = bindparam("h_batch_priority"), bindparam("h_priority")
            chosen_id = func.coalesce(
                candidate(C.c.batch_priority == bp, C.c.priority == p, C.c.id >= bindparam("h_id")),
                candidate(C.c.batch_priority == bp, C.c.priority < p),
                candidate(C.c.batch_priority < bp),
            )
        else:
            chosen_id = candidate()
        claim: Any = (
            update(TASKS)
            .where(T.id == chosen_id)
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


def _claim_from_head(
    conn: Connection, project_id: str, stage: Stage, params: dict[str, Any]
) -> Any:
    """A PostgreSQL claim, read from the stage's head (`queue_head`)."""
    start = queue_head.head(conn, project_id, stage.name)
    if start is None:  # nothing free in the stage at all
        return None
    review = stage.kind == "review"
    task = _claim_statement("postgresql", review, from_head=True).first(
        conn, {**params, **start.params()}
    )
    if task is None:
        # Nothing from the head for this person: a task freed before it (by another process,
        # since the head was read) is theirs if there is one.
        task = _claim_statement("postgresql", review).first(conn, params)
        if task is not None:
            forget_heads(project_id, stage.name)
    return task


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
        freed = _sweep_statement(dialect).run(
            conn, {"b_project": project_id, "b_stage": stage.name, "now": now}
        )
        if freed:
            forget_heads(project_id, stage.name)
    params = {
        "b_project": project_id,
        "b_stage": stage.name,
        "uid": user_id,
        "now": now,
        "token": secrets.token_hex(16),
        "expires": now + dt.timedelta(seconds=pipeline.lease_seconds),
    }
    if dialect == "postgresql":
        task = _claim_from_head(conn, project_id, stage, params)
        return None if task is None else lease_for(conn, task, user_id, draft=task.draft)
    task = _claim_statement(dialect, stage.kind == "review").first(conn, params)
    return None if task is None else lease_for(conn, task, user_id)


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

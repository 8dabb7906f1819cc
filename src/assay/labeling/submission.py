"""A submission: a labeler's validated answer applied to the task they hold a lease on.

The lease is re-checked by a compare-and-set UPDATE, the answer goes to the history, drafts
go, and the task moves to the next stage or completes (callback, webhook, batch completion).
Consensus (N labelers per task) and calibration scoring happen here too. The hot path uses
`Prepared` statements; on PostgreSQL the common case is one statement (`_apply_at_once`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid
from assay.core.ids import new_id
from assay.core.models import WebhookTarget
from assay.core.prepared import Prepared, constant
from assay.core.settings import Settings
from assay.labeling import audits, consensus, instruction_notes, models
from assay.labeling.pipeline import Pipeline, Stage, announce_on
from assay.labeling.quality_config import QualityConfig
from assay.labeling.queue import DRAFTS, EVENTS, LEASE_LOST, TASKS, T, dialect_of
from assay.labeling.queue_head import forget_heads
from assay.labeling.taxonomy import Taxonomy
from assay.metrics.matching import score_response


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
    "project_id",
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
        project_id=task.project_id,
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
    transaction: Callable[[], AbstractContextManager[Connection]] | None = None,
) -> Submitted:
    """A labeler's answer (already validated against the taxonomy) moves the task on.

    `task` is the work item read before the write transaction; the lease is re-checked
    atomically by the UPDATE, so nothing read then can be stale when this applies.
    With consensus (N labelers per task), the task stays in its stage until the N-th answer,
    whose aggregate moves on — to review when the labelers agree too little.

    `transaction`, when given, says that `conn` commits each statement on its own
    (PostgreSQL outside BEGIN/COMMIT): the common submission is then one statement, and any
    other — one that also queues a callback, a webhook, an audit or a batch's completion;
    consensus; calibration — runs in `transaction()`, so that all it writes commits together.
    """
    stage = pipeline.stage(task.stage or "")
    if stage.kind != "label":
        raise Invalid("this task is in a review stage: send a review decision", field="stage")
    # Drawn once: a submission that moves on to a transaction keeps these decisions.
    plan = _Plan(
        now=utcnow(),
        stage=stage,
        following=next_stage(pipeline, stage),
        consensus_due=quality is not None and quality.consensus.labelers > 1 and task.round == 0,
    )
    if plan.following is None:
        rate = (
            task.audit_rate if task.audit_rate is not None else (quality or _NO_QUALITY).audit_rate
        )
        plan.audit = audits.drawn(rate)
    apply = partial(
        _submit,
        task=task,
        actor=actor,
        token=token,
        response=response,
        plan=plan,
        pipeline=pipeline,
        settings=settings,
        quality=quality,
        taxonomy=taxonomy,
        feedback=feedback,
    )
    noted = feedback is not None and bool(feedback.strip())
    if noted:
        apply = partial(
            _with_note, apply, task=task, user_id=actor.user_id, note=feedback, plan=plan
        )
    if transaction is None:
        return apply(conn)
    # A note on the instructions is a second row to write: such a submission takes a
    # transaction like the other uncommon ones.
    if not plan.consensus_due and task.expected_response is None and not noted:
        done = _submit_alone(conn, task, actor, token, response, plan)
        if done is not None:
            if plan.following is not None:  # it entered the next stage, maybe before its head
                forget_heads(task.project_id, plan.following.name)
            return done
    with transaction() as in_transaction:
        return apply(in_transaction)


def _with_note(
    apply: Callable[[Connection], Submitted],
    conn: Connection,
    *,
    task: Any,
    user_id: str,
    note: str,
    plan: _Plan,
) -> Submitted:
    """The submission, then the labeler's note on the instructions (same transaction)."""
    done = apply(conn)
    instruction_notes.add_note(conn, task=task, user_id=user_id, note=note, now=plan.now)
    return done


@dataclass
class _Plan:
    now: dt.datetime
    stage: Stage
    following: Stage | None
    consensus_due: bool
    audit: bool = False


def _completion_changes(plan: _Plan, actor: Actor, final: dict[str, Any]) -> dict[str, Any]:
    following = plan.following
    changes: dict[str, Any] = {
        "lease_user_id": None,
        "lease_token": None,
        "lease_expires_at": None,
        "leased_at": None,
        "assignee_id": None,
        "working_response": final,
        "labeled_by": actor.user_id,
        "updated_at": plan.now,
        "stage": following.name if following else None,
    }
    if following is None:
        changes.update(status="completed", response=final, error=None, completed_at=plan.now)
    return changes


def _done(task: Any, plan: _Plan, final: dict[str, Any]) -> Submitted:
    following = plan.following
    done = _submitted(
        task, "pending" if following else "completed", following.name if following else None
    )
    if following is None:
        done.response, done.completed_at = final, plan.now
    return done


def _submit_alone(
    conn: Connection,
    task: Any,
    actor: Actor,
    token: str,
    response: dict[str, Any],
    plan: _Plan,
) -> Submitted | None:
    """The common submission as one statement that commits by itself — or None, having
    written nothing, when it has more to write (it must then run in a transaction)."""
    completes = plan.following is None
    if completes and (task.callback_url or plan.audit):
        return None
    # A completion applies here only if it announces nothing (no webhook target of this
    # key's mode, the batch keeps other pending tasks): the statement checks that itself.
    changes = _completion_changes(plan, actor, response)
    probes = _apply_at_once(conn, task, actor, token, response, plan.now, changes, alone=completes)
    if probes is None:
        return None
    return _done(task, plan, response)


def _submit(
    conn: Connection,
    *,
    task: Any,
    actor: Actor,
    token: str,
    response: dict[str, Any],
    plan: _Plan,
    pipeline: Pipeline,
    settings: Settings,
    quality: QualityConfig | None,
    taxonomy: Taxonomy | None,
    feedback: str | None,
) -> Submitted:
    """`submit` on a connection in a transaction (SQLite's write phase is one)."""
    now = plan.now
    agreed: Any = None
    if plan.consensus_due:
        assert quality is not None and taxonomy is not None
        earlier = conn.execute(
            _EARLIER_ANSWERS, {"task_id": task.id, "b_stage": task.stage, "b_round": task.round}
        ).all()
        if len(earlier) + 1 < quality.consensus.labelers:
            return _one_of_many(conn, task, actor, token, response, now, feedback)
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
            plan.following = _review_after(pipeline, plan.stage) or plan.following
            plan.audit = plan.audit and plan.following is None
    final = agreed.response if agreed is not None else response
    changes = _completion_changes(plan, actor, final)
    probes = None
    if agreed is None and task.expected_response is None and dialect_of(conn) == "postgresql":
        probes = _apply_at_once(conn, task, actor, token, response, now, changes, alone=False)
    else:
        _release_if_held(conn, task.id, actor.user_id, token, now, **changes)
        _record_answer(conn, task, actor.user_id, response, now, feedback)
    if agreed is not None:
        _add_event(
            conn,
            task_id=task.id,
            project_id=task.project_id,
            stage=task.stage,
            round=task.round,
            user_id=None,
            action="consensus",
            response=agreed.response,
            reason=f"agreement {agreed.agreement:.3f} ({agreed.method})",
            created_at=now,
        )
    done = _done(task, plan, final)
    if plan.following is None:
        if plan.audit:
            audits.add(conn, project_id=task.project_id, task_id=task.id, labeler_id=actor.user_id)
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
# `alone`: the statement commits by itself, so a completion applies only if those probes say
# it announces nothing; otherwise it writes nothing and says whether the lease still holds.
_TARGETS = WebhookTarget.__table__
_at_once: dict[tuple[str, ...], Prepared] = {}


def _submit_at_once_statement(keys: tuple[str, ...]) -> Prepared:
    if keys not in _at_once:
        others = TASKS.alias("others")
        hooks = exists(
            select(_TARGETS.c.id).where(
                _TARGETS.c.is_active.is_(True), _TARGETS.c.mode == bindparam("mode")
            )
        )
        # Looked for from the newest: the queue takes a batch's tasks oldest first, so the
        # index entries its finished tasks leave behind (dead until a VACUUM) gather at the
        # start of the range, and EXISTS, reading from there, stepped over all of them — a
        # read that grew with every task done (85 → 270 blocks a submit within 45 s).
        batch_pending = (
            select(others.c.id)
            .where(
                others.c.batch_id == bindparam("batch_id"),
                others.c.status == constant("pending"),
                others.c.id != bindparam("task_id"),
            )
            .order_by(others.c.id.desc())
            .limit(1)
            .scalar_subquery()
            .is_not(None)
        )
        # Probed once (a CTE), read by the guard and returned.
        probes = select(hooks.label("hooks"), batch_pending.label("batch_pending")).cte("probes")
        announces_nothing = exists(
            select(probes.c.hooks).where(
                ~probes.c.hooks,
                or_(bindparam("batch_id", type_=T.batch_id.type).is_(None), probes.c.batch_pending),
            )
        )
        values = {key: bindparam(f"set_{key}", type_=T[key].type) for key in keys}
        released = (
            _RELEASE_IF_HELD.where(or_(~bindparam("alone", type_=Boolean()), announces_nothing))
            .values(values)
            .returning(T.id)
            .cte("released")
        )
        columns = ("project_id", "stage", "round", "response", "duration_ms", "created_at")
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
        _at_once[keys] = Prepared(
            select(
                select(func.count()).select_from(released).scalar_subquery().label("applied"),
                exists(_HELD_BEFORE).label("held"),
                probes.c.hooks,
                probes.c.batch_pending,
            )
            .select_from(probes)
            .add_cte(event, dropped)
        )
    return _at_once[keys]


# The lease as the statement found it (its snapshot; the UPDATE re-checks a changed row).
_HELD_BEFORE = select(T.id).where(
    T.id == bindparam("task_id"),
    T.lease_user_id == bindparam("uid"),
    T.lease_token == bindparam("token"),
    T.lease_expires_at > bindparam("now"),
)


def _apply_at_once(
    conn: Connection,
    task: Any,
    actor: Actor,
    token: str,
    response: dict[str, Any],
    now: dt.datetime,
    changes: dict[str, Any],
    *,
    alone: bool,
) -> Any:
    """`_release_if_held` + `_record_answer` in one PostgreSQL statement; 409 as they do.
    With `alone`, None when the completion has more to write and nothing was written."""
    params = {f"set_{key}": value for key, value in changes.items()}
    params.update(
        task_id=task.id,
        uid=actor.user_id,
        token=token,
        now=now,
        mode=actor.mode,
        batch_id=task.batch_id,
        alone=alone,
        e_project_id=task.project_id,
        e_stage=task.stage,
        e_round=task.round,
        e_response=response,
        e_duration_ms=(now - task.leased_at).total_seconds() * 1000 if task.leased_at else None,
        e_created_at=now,
    )
    probes = _submit_at_once_statement(tuple(changes)).first(conn, params)
    if probes.applied == 1:
        return probes
    if alone and probes.held:
        return None
    raise Conflict(LEASE_LOST, field="lease_token")


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

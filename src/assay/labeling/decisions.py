"""What the holder of a lease does besides submitting: heartbeats, drafts, skips, and review
decisions (accept, fix, reject for rework).

Off the hot path, so plain ORM: the task row is loaded under a row lock and the lease token
checked (`queue.check_lease`) before anything changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import delete
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Invalid, NotFound
from assay.core.settings import Settings
from assay.labeling import audits, models
from assay.labeling.pipeline import Pipeline, finish
from assay.labeling.queue import check_lease, dialect_of


def _held(session: Session, task_id: str, user_id: str, token: str) -> models.Task:
    """The task if the caller holds a valid lease with this token (row locked), else 409."""
    task = session.get(models.Task, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise NotFound(f"no task with id {task_id}", field="task_id")
    check_lease(task, user_id, token)
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
    store_draft(session=session, task_id=task_id, user_id=user_id, response=response)


def store_draft(*, session: Session, task_id: str, user_id: str, response: dict[str, Any]) -> None:
    """Upsert the person's draft (their lease already checked)."""
    insert = dialects.insert(models.Draft.__table__, dialect_of(session))
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
            project_id=task.project_id,
            stage=task.stage or "",
            round=task.round,
            user_id=user_id,
            action=action,
            duration_ms=duration,
            **fields,
        )
    )


BROKEN_TAG = "broken"


def skip(*, session: Session, task_id: str, user_id: str, token: str, reason: str) -> None:
    """Give the task back; this person will not be served it again in this stage."""
    if not reason.strip():
        raise Invalid("say why you skip the task", field="reason")
    task = _held(session, task_id, user_id, token)
    _event(session, task, user_id, "skip", reason=reason.strip()[:2000])
    _release(task)


def tag_broken(*, session: Session, task_id: str) -> None:
    """Mark a task a worker reported broken (its media does not load), so its managers find
    it with `tags=broken`; the worker's skip (and its reason) is recorded by `skip`."""
    task = session.get(models.Task, task_id, with_for_update=True)
    if task is not None and BROKEN_TAG not in task.tags:
        task.tags = [*task.tags, BROKEN_TAG]


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
    audit_rate: float = 0.0,
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
        if audit_rate > 0:
            audits.maybe_sample(
                session.connection(),
                project_id=task.project_id,
                task_id=task.id,
                labeler_id=task.labeled_by,
                rate=audit_rate,
            )
    else:
        task.working_response = final
        task.stage = following.name
    return task

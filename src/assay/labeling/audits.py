"""Audits: completed tasks sampled per labeler (the project's or the person's audit rate),
an audit queue with leases, and accept / fix / reject decisions that feed quality scores."""

from __future__ import annotations

import datetime as dt
import random
import secrets
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.ids import new_id
from assay.core.pagination import PageResult, paginate
from assay.labeling import models

AUDITS = models.Audit.__table__
AU = AUDITS.c
LEASE_SECONDS = 600


def maybe_sample(
    conn: Connection,
    *,
    project_id: str,
    task_id: str,
    labeler_id: str | None,
    rate: float,
) -> bool:
    """Send the completed task to audit with probability `rate`."""
    if labeler_id is None or not drawn(rate):
        return False
    add(conn, project_id=project_id, task_id=task_id, labeler_id=labeler_id)
    return True


def drawn(rate: float) -> bool:
    """Whether a completed task goes to audit: with probability `rate` (its labeler's)."""
    return rate > 0 and random.random() < rate


def add(conn: Connection, *, project_id: str, task_id: str, labeler_id: str) -> None:
    """Queue a completed task for audit."""
    conn.execute(
        insert(AUDITS),
        {
            "id": new_id(),
            "project_id": project_id,
            "task_id": task_id,
            "labeler_id": labeler_id,
            "status": "pending",
            "created_at": utcnow(),
        },
    )


_CLAIM_CANDIDATE = (
    select(AU.id)
    .where(
        AU.project_id == bindparam("b_project"),
        AU.status == "pending",
        or_(AU.lease_expires_at.is_(None), AU.lease_expires_at <= bindparam("now")),
        or_(AU.labeler_id.is_(None), AU.labeler_id != bindparam("uid")),
    )
    .order_by(AU.id)
    .limit(1)
)


def next_audit(*, session: Session, project_id: str, auditor_id: str) -> models.Audit | None:
    """The auditor's current audit lease, or the oldest pending audit of someone else's work."""
    now = utcnow()
    held = session.scalar(
        select(models.Audit).where(
            models.Audit.project_id == project_id,
            models.Audit.auditor_id == auditor_id,
            models.Audit.status == "pending",
            models.Audit.lease_expires_at > now,
        )
    )
    if held is not None:
        return held
    candidate = _CLAIM_CANDIDATE
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    audit_id = session.execute(
        candidate, {"b_project": project_id, "now": now, "uid": auditor_id}
    ).scalar()
    if audit_id is None:
        return None
    session.execute(
        update(models.Audit)
        .where(models.Audit.id == audit_id)
        .values(
            auditor_id=auditor_id,
            lease_token=secrets.token_hex(16),
            lease_expires_at=now + dt.timedelta(seconds=LEASE_SECONDS),
        )
    )
    return session.get(models.Audit, audit_id, populate_existing=True)


def get_audit(*, session: Session, audit_id: str) -> models.Audit:
    audit = session.get(models.Audit, audit_id, with_for_update=True)
    if audit is None:
        raise NotFound(f"no audit with id {audit_id}", field="audit_id")
    return audit


def decide(
    *,
    session: Session,
    audit: models.Audit,
    auditor_id: str,
    token: str,
    decision: Literal["accept", "fix", "reject"],
    response: dict[str, Any] | None,
    comments: list[dict[str, Any]] | None,
) -> models.Audit:
    """Accept the labeler's work, fix it (the task's response becomes the fix), or reject it
    (comments say why); each is kept in the task's history."""
    expires = audit.lease_expires_at
    if (
        audit.status != "pending"
        or audit.auditor_id != auditor_id
        or audit.lease_token != token
        or expires is None
        or expires <= utcnow()
    ):
        raise Conflict(
            "your lease on this audit has ended or it was decided; ask for the next audit",
            field="lease_token",
        )
    if decision == "fix" and response is None:
        raise Invalid("a fix needs the corrected response", field="response")
    if decision == "reject" and not comments:
        raise Invalid("say what was wrong: a rejection needs a comment", field="comments")
    task = session.get(models.Task, audit.task_id)
    assert task is not None
    now = utcnow()
    audit.status = {"accept": "accepted", "fix": "fixed", "reject": "rejected"}[decision]
    audit.comments = comments
    audit.response = response
    audit.decided_at = now
    audit.lease_token = audit.lease_expires_at = None
    if decision == "fix":
        task.response = response
        task.updated_at = now
    session.add(
        models.TaskEvent(
            task_id=task.id,
            project_id=task.project_id,
            stage="audit",
            round=task.round,
            user_id=auditor_id,
            action={"accept": "audit_accept", "fix": "fix", "reject": "audit_reject"}[decision],
            response=response,
            comments=comments,
            reason=decision,
        )
    )
    return audit


def list_audits(
    *, session: Session, project_id: str, status: str | None, cursor: str | None, limit: int
) -> PageResult[models.Audit]:
    if status is not None and status not in models.AUDIT_STATUSES:
        raise Invalid(f"status must be one of {', '.join(models.AUDIT_STATUSES)}", field="status")
    stmt = select(models.Audit).where(models.Audit.project_id == project_id)
    if status is not None:
        stmt = stmt.where(models.Audit.status == status)
    return paginate(session, stmt, key=models.Audit.id, cursor=cursor, limit=limit)

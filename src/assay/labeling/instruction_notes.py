"""Labelers' notes on the instructions: left with a submission (the labeling page's "note on
the instructions"), kept per task and person, and read back by the calibration report of the
task's batch and the task's detail for managers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.ids import new_id
from assay.labeling import models

NOTES = models.InstructionNote.__table__
_ADD_NOTE = insert(NOTES)


def add_note(
    conn: Connection, *, task: Any, user_id: str | None, note: str, now: dt.datetime
) -> None:
    """Keep a note left with a submission (in the submission's transaction)."""
    text = note.strip()
    if not text:
        return
    conn.execute(
        _ADD_NOTE,
        {
            "id": new_id(),
            "project_id": task.project_id,
            "batch_id": task.batch_id,
            "task_id": task.id,
            "user_id": user_id,
            "stage": task.stage or "",
            "note": text,
            "created_at": now,
        },
    )


def _rows(session: Session, where: Any) -> list[dict[str, Any]]:
    N, User = models.InstructionNote, core_models.User
    rows = session.execute(
        select(N.task_id, N.user_id, N.stage, N.note, N.created_at, User.email)
        .outerjoin(User, User.id == N.user_id)
        .where(where)
        .order_by(N.id)
    )
    return [
        {
            "task_id": task_id,
            "user_id": user_id,
            "email": email,
            "stage": stage,
            "feedback": note,
            "created_at": created_at,
        }
        for task_id, user_id, stage, note, created_at, email in rows
    ]


def batch_notes(*, session: Session, batch_id: str) -> list[dict[str, Any]]:
    """Every note left on the batch's tasks, oldest first, with who left it."""
    return _rows(session, models.InstructionNote.batch_id == batch_id)


def task_notes(*, session: Session, task_id: str) -> list[dict[str, Any]]:
    return _rows(session, models.InstructionNote.task_id == task_id)

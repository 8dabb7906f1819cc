"""A task as its manager inspects it: every step with who took it and for how long, the
drafts in progress, the notes on the instructions, and params whose blob attachments are
signed media URLs (so the page can draw the media with each version of the answer)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.schemas import Schema
from assay.core.settings import Settings
from assay.labeling import instruction_notes, models, schemas
from assay.labeling.task_params import labeler_params


class TaskStep(schemas.TaskEvent):
    user_email: str | None = None
    user_name: str | None = None


class TaskDraft(Schema):
    user_id: str
    user_email: str | None = None
    user_name: str | None = None
    response: dict[str, Any]
    updated_at: dt.datetime


class TaskNote(Schema):
    task_id: str
    user_id: str | None
    email: str | None
    stage: str
    feedback: str = Field(description="The note on the instructions.")
    created_at: dt.datetime


class TaskDetail(Schema):
    task: schemas.Task
    display_params: dict[str, Any] = Field(
        description="The params with blob attachments as short-lived signed media URLs."
    )
    steps: list[TaskStep]
    drafts: list[TaskDraft]
    notes: list[TaskNote]


def task_detail(*, session: Session, task: models.Task, settings: Settings) -> TaskDetail:
    """Three reads (history and drafts with their people, notes), whatever the history's size."""
    User, Event, Draft = core_models.User, models.TaskEvent, models.Draft
    steps = [
        TaskStep.model_validate(event).model_copy(update={"user_email": email, "user_name": name})
        for event, email, name in session.execute(
            select(Event, User.email, User.name)
            .outerjoin(User, User.id == Event.user_id)
            .where(Event.task_id == task.id)
            .order_by(Event.id)
        )
    ]
    drafts = [
        TaskDraft(
            user_id=draft.user_id,
            user_email=email,
            user_name=name,
            response=draft.response,
            updated_at=draft.updated_at,
        )
        for draft, email, name in session.execute(
            select(Draft, User.email, User.name)
            .outerjoin(User, User.id == Draft.user_id)
            .where(Draft.task_id == task.id)
            .order_by(Draft.updated_at)
        )
    ]
    notes = [
        TaskNote.model_validate(row)
        for row in instruction_notes.task_notes(session=session, task_id=task.id)
    ]
    display = labeler_params(
        task.params,
        secret=settings.secret_key.get_secret_value(),
        ttl_seconds=settings.media_url_ttl_seconds,
    )
    return TaskDetail(
        task=schemas.Task.model_validate(task),
        display_params=display,
        steps=steps,
        drafts=drafts,
        notes=notes,
    )

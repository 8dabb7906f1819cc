"""The pipeline every task follows: ordered stages (label, review …), rework on rejection,
completion with callbacks, and batch completion."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, bindparam, exists, select, update
from sqlalchemy.orm import Session

from assay.core import jobs, webhooks
from assay.core.auth import SYSTEM, Actor
from assay.core.db import utcnow
from assay.core.errors import Invalid
from assay.core.prepared import Prepared
from assay.core.settings import Settings
from assay.labeling import models

COMPLETED_EVENT = "task.completed"
BATCH_COMPLETED_EVENT = "batch.completed"


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["label", "review"]
    sample_rate: float = Field(1.0, ge=0.0, le=1.0, description="Share of tasks reviewed.")


class Pipeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stages: list[Stage] = Field(
        default_factory=lambda: [Stage(name="label", kind="label")], min_length=1, max_length=8
    )
    max_rework_rounds: int = Field(2, ge=0, le=10)
    lease_seconds: int = Field(300, ge=10, le=6 * 3600)

    @model_validator(mode="after")
    def _shape(self) -> Pipeline:
        if self.stages[0].kind != "label":
            raise ValueError("the first stage must be a label stage")
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("stage names must be unique")
        return self

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise Invalid(
            f"stage {name!r} is not in this project's pipeline; stages: "
            + ", ".join(s.name for s in self.stages),
            field="stage",
        )

    def after(self, name: str) -> Stage | None:
        names = [stage.name for stage in self.stages]
        index = names.index(name)
        return self.stages[index + 1] if index + 1 < len(self.stages) else None


def parse_pipeline(data: dict[str, Any] | None) -> Pipeline:
    try:
        return Pipeline.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        raise Invalid(f"pipeline{path}: {error['msg']}", field=f"pipeline{path}") from exc


def callback_secret(settings: Settings, project_id: str) -> str:
    """The key task and batch callbacks of a project are signed with (shown to managers)."""
    key = settings.secret_key.get_secret_value().encode()
    return "cbsec_" + hmac.new(key, b"callback:" + project_id.encode(), hashlib.sha256).hexdigest()


def enter_queue(*, session: Session, batch: models.Batch, pipeline: Pipeline) -> int:
    """Queue a finalized batch's pending tasks at the first stage."""
    result = session.execute(
        update(models.Task)
        .where(
            models.Task.batch_id == batch.id,
            models.Task.status == "pending",
            models.Task.stage.is_(None),
        )
        .values(stage=pipeline.stages[0].name)
    )
    return result.rowcount or 0


def task_payload(task: Any, project_name: str | None = None) -> dict[str, Any]:
    """What a completion callback carries."""
    return {
        "task_id": task.id,
        "status": task.status,
        "type": task.type,
        "project": project_name or task.project_id,
        "batch": task.batch_id,
        "unique_id": task.unique_id,
        "metadata": task.metadata_,
        "response": task.response,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
    }


def finish(
    *,
    session: Session,
    task: models.Task,
    response: dict[str, Any] | None,
    settings: Settings,
    actor: Actor | None = None,
    status: Literal["completed", "error"] = "completed",
    error: str | None = None,
) -> None:
    """Complete (or fail) a task: final response, callbacks, and its batch's completion."""
    now = utcnow()
    task.status, task.response, task.error = status, response, error
    task.completed_at = now
    task.stage = None
    task.lease_user_id = task.lease_token = task.lease_expires_at = task.leased_at = None
    task.assignee_id = None
    session.flush()
    announce(session=session, task=task, settings=settings, actor=actor)


def announce(
    *, session: Session, task: Any, settings: Settings, actor: Actor | None = None
) -> None:
    """After a task finished: its callback, the webhook event, and its batch's completion.

    `task` is anything with the task's columns as attributes (an ORM task or a row)."""
    payload = task_payload(task)
    if task.callback_url:
        webhooks.send_callback(
            session=session,
            url=task.callback_url,
            event=COMPLETED_EVENT,
            payload=payload,
            secret=callback_secret(settings, task.project_id),
            actor=actor,
            settings=settings,
        )
    webhooks.emit(
        session=session, event=COMPLETED_EVENT, payload=payload, actor=actor, settings=settings
    )
    if task.batch_id is not None:
        complete_batch_if_done(
            session=session, batch_id=task.batch_id, settings=settings, actor=actor
        )


_TASKS = models.Task.__table__
_PENDING_IN_BATCH = Prepared(
    select(_TASKS.c.id)
    .where(_TASKS.c.batch_id == bindparam("batch_id"), _TASKS.c.status == "pending")
    .limit(1)
)


def announce_on(
    *, conn: Connection, task: Any, settings: Settings, actor: Actor | None = None
) -> None:
    """`announce` from a Core connection (the labeling queue's submit): two indexed probes,
    and an ORM session only when there is something to send or a batch to complete."""
    mode = actor.mode if actor is not None else "live"
    if (
        not task.callback_url
        and not webhooks.subscribers(conn, COMPLETED_EVENT, mode)
        and (
            task.batch_id is None
            or _PENDING_IN_BATCH.first(conn, {"batch_id": task.batch_id}) is not None
        )
    ):
        return
    with Session(bind=conn, expire_on_commit=False) as session:
        announce(session=session, task=task, settings=settings, actor=actor)
        session.flush()


def complete_batch_if_done(
    *, session: Session, batch_id: str, settings: Settings, actor: Actor | None = None
) -> bool:
    # Pending first: almost every completion leaves others pending, and this is one index
    # probe; the batch row is loaded only when it may be done — locked, so that of two
    # completers (a submission and `complete_finished_batches`) one announces it, once.
    pending = _PENDING_IN_BATCH.first(session.connection(), {"batch_id": batch_id})
    if pending is not None:
        return False
    batch = session.get(models.Batch, batch_id, with_for_update=True, populate_existing=True)
    if batch is None or batch.status != "in_progress":
        return False
    # Events go to the batch's own sandbox (live or test) whoever completes it.
    actor = actor or dataclasses.replace(SYSTEM, mode=batch.mode)
    batch.status, batch.completed_at = "completed", utcnow()
    payload = {
        "batch": batch.name,
        "batch_id": batch.id,
        "project_id": batch.project_id,
        "status": "completed",
        "metadata": batch.metadata_,
        "completed_at": batch.completed_at.isoformat(),
    }
    if batch.callback_url:
        webhooks.send_callback(
            session=session,
            url=batch.callback_url,
            event=BATCH_COMPLETED_EVENT,
            payload=payload,
            secret=callback_secret(settings, batch.project_id),
            actor=actor,
            settings=settings,
        )
    webhooks.emit(
        session=session,
        event=BATCH_COMPLETED_EVENT,
        payload=payload,
        actor=actor,
        settings=settings,
    )
    return True


_BATCHES = models.Batch.__table__
_FINISHED_BATCHES = (
    select(_BATCHES.c.id)
    .where(
        _BATCHES.c.status == "in_progress",
        ~exists(
            select(_TASKS.c.id).where(
                _TASKS.c.batch_id == _BATCHES.c.id, _TASKS.c.status == "pending"
            )
        ),
        # An empty batch in progress waits for its tasks (a Scale v2 batch opened to
        # receive them); finalizing an empty staging batch completes it by itself.
        exists(select(_TASKS.c.id).where(_TASKS.c.batch_id == _BATCHES.c.id)),
    )
    .limit(100)
)


@jobs.duty("labeling.complete_batches", seconds=5.0)
def complete_finished_batches(app: Any) -> int:
    """Complete (and announce) in-progress batches with no pending task left.

    A completion announces its batch when it sees no other pending task in it. On
    PostgreSQL two completions of a batch's last two tasks can each see the other still
    pending (neither had committed), and neither would: this finds such a batch within
    seconds. Idempotent: `complete_batch_if_done` locks the batch and checks its status."""
    # Found by a read: the write (on SQLite, the writer lock) only when there is one.
    with app.db.read() as session:
        found = session.execute(_FINISHED_BATCHES).scalars().all()
    done = 0
    for batch_id in found:
        with app.db.write() as session:
            done += complete_batch_if_done(
                session=session, batch_id=batch_id, settings=app.settings
            )
    return done

"""Tables of the labeling pillar: projects, batches, tasks, their queue state and history.

A task carries its own queue state (`stage`, lease columns) so that claiming, renewing and
submitting are single-row updates on one indexed table; history lives in `task_events`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from assay.core.db import Base, JSONType, UTCDateTime, utcnow
from assay.core.db import created_column as _created
from assay.core.db import id_column as _id

BATCH_KINDS = ("self_label", "calibration", "production")
# Evaluation (gold) and training tasks never enter the queue themselves (`stage` stays NULL):
# each labeler works on them through a `QualityAttempt` with its own lease.
TASK_KINDS = ("production", "evaluation", "training")
ATTEMPT_KINDS = ("evaluation", "training", "calibration")
WORKER_STATUSES = ("active", "paused")
AUDIT_STATUSES = ("pending", "accepted", "fixed", "rejected")
BATCH_STATUSES = ("staging", "in_progress", "paused", "completed", "canceled")
TASK_STATUSES = ("pending", "completed", "canceled", "error")
PROJECT_ROLES = ("manager", "reviewer", "labeler")
EVENT_ACTIONS = (
    "submit",
    "skip",
    "accept",
    "reject",
    "fix",
    "cancel",
    "audit_accept",
    "audit_reject",
    "consensus",
)


class Project(Base):
    __tablename__ = "projects"
    # Scale addresses projects by name, per account; test-key traffic is a separate sandbox.
    __table_args__ = (UniqueConstraint("mode", "name"),)

    id: Mapped[str] = _id()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    task_type: Mapped[str] = mapped_column(String(50), nullable=False)
    taxonomy: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    instructions: Mapped[str] = mapped_column(Text, nullable=False, default="")
    instructions_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    pipeline: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # Defaults merged into every task's params (Scale's project `params`).
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # Quality control: evaluation rate, thresholds, training course, consensus, audits
    # (`assay.labeling.quality_config.QualityConfig`).
    quality: Mapped[dict[str, Any]] = mapped_column(
        JSONType, nullable=False, default=dict, server_default=text("'{}'")
    )
    archived: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class ProjectMember(Base):
    __tablename__ = "project_members"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[dt.datetime] = _created()


class InstructionVersion(Base):
    __tablename__ = "instruction_versions"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("mode", "name"),
        Index("ix_batches_project", "project_id", "id"),
    )

    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="production")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="staging")
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    finalized_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# The partial indexes' predicates (the claim's queries repeat them so both databases use them).
FREE_TASK = "lease_user_id IS NULL AND stage IS NOT NULL"
LEASED_TASK = "lease_user_id IS NOT NULL"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # Idempotent creates: one task per unique_id per sandbox (NULLs do not collide).
        UniqueConstraint("mode", "unique_id"),
        # The queue: the next task of a stage, highest priority first, then oldest.
        Index(
            "ix_tasks_queue",
            "project_id",
            "stage",
            text("batch_priority DESC"),
            text("priority DESC"),
            "id",
        ),
        # The claim's index: the same order over the tasks free to lease only — a task leaves
        # it while leased and when it leaves the pipeline, so the claim reads the head of the
        # queue instead of stepping over every live lease (and their NOT EXISTS probes).
        Index(
            "ix_tasks_free",
            "project_id",
            "stage",
            text("batch_priority DESC"),
            text("priority DESC"),
            "id",
            sqlite_where=text(FREE_TASK),
            postgresql_where=text(FREE_TASK),
        ),
        # Live leases only: whose they are (a person's lease in a stage), and when they end
        # (the claim sweeps expired ones).
        Index(
            "ix_tasks_lease_user",
            "lease_user_id",
            "project_id",
            "stage",
            "lease_expires_at",
            sqlite_where=text(LEASED_TASK),
            postgresql_where=text(LEASED_TASK),
        ),
        Index(
            "ix_tasks_lease_expiry",
            "project_id",
            "stage",
            "lease_expires_at",
            sqlite_where=text(LEASED_TASK),
            postgresql_where=text(LEASED_TASK),
        ),
        # Evaluation and training tasks of a project (few, read when serving quality work).
        Index("ix_tasks_kind", "project_id", "kind", "id"),
        # Task lists: newest first within a project or batch, with or without a status.
        Index("ix_tasks_project_status", "project_id", "status", "id"),
        Index("ix_tasks_batch_status", "batch_id", "status", "id"),
        Index("ix_tasks_project", "project_id", "id"),
        Index("ix_tasks_batch", "batch_id", "id"),
        # The task table's sorts (keyset on the value, then the id): priority, completion.
        Index("ix_tasks_project_priority", "project_id", "priority", "id"),
        Index("ix_tasks_project_completed", "project_id", "completed_at", "id"),
    )

    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The batch's place in the workforce's order (Studio batch priorities); the queue serves
    # higher batch priorities first, then task priorities.
    batch_priority: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    # production | evaluation | training (TASK_KINDS).
    kind: Mapped[str] = mapped_column(
        String(16), nullable=False, default="production", server_default=text("'production'")
    )
    # The known answer of an evaluation, training or calibration task: never shown to a
    # labeler before they submit.
    expected_response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # An evaluation task no longer served (too easy, too hard, ambiguous); NULL = active.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Only members of the groups its batch is assigned to may take it (workforce groups).
    restricted: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    unique_id: Mapped[str | None] = mapped_column(String(300))
    # What the worker sees: attachments, instruction, task-type specific fields.
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    tags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    # Model predictions the first labeler starts from (annotations, same shape as a response).
    prelabels: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    # The final response once completed (Scale's `response`).
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # --- queue state ---------------------------------------------------------------------
    # The pipeline stage the task waits in; NULL when not queued (staging batch, finished).
    stage: Mapped[str | None] = mapped_column(String(32))
    # A task of a paused batch is out of the queue (`stage` NULL) and returns to this stage
    # when the batch resumes.
    paused_stage: Mapped[str | None] = mapped_column(String(32))
    round: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Rework goes back to the labeler whose work was rejected.
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lease_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    leased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The latest labeler's response under review, and who gave it (reviewers never review
    # their own work).
    working_response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    labeled_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def _task_project(context: Any) -> str:
    """An event's project when the writer did not say: its task's (one more read; the queue's
    own inserts always say)."""
    task_id = context.get_current_parameters()["task_id"]
    return context.connection.scalar(
        text("SELECT project_id FROM tasks WHERE id = :id"), {"id": task_id}
    )


class TaskEvent(Base):
    """History: every submission, skip, review and audit — who, when, what."""

    __tablename__ = "task_events"
    __table_args__ = (
        Index("ix_task_events_task", "task_id", "id"),
        # "Nobody gets the same task twice in one stage": the claim checks this index. Led
        # by the person, so no plan prefers ix_task_events_user for that probe (migration
        # 0006 says why).
        Index("ix_task_events_seen", "user_id", "task_id", "stage", "round"),
        Index("ix_task_events_user", "user_id", "id"),
        # A project's work per labeler in time-per-task order, and the whole project's: the
        # quality overview's counts, exact medians and review decisions read these
        # (quality_overview_sql).
        Index(
            "ix_task_events_work",
            "project_id",
            "action",
            "user_id",
            "duration_ms",
            "created_at",
            "stage",
            "task_id",
        ),
        Index(
            "ix_task_events_pace", "project_id", "action", "duration_ms", "created_at", "user_id"
        ),
        # Review decisions per judged labeler (migration 0012).
        Index(
            "ix_task_events_judged", "project_id", "action", "judged_user_id", "created_at", "stage"
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    # The task's project, copied so a project's history is read without joining its tasks.
    project_id: Mapped[str] = mapped_column(String(24), nullable=False, default=_task_project)
    stage: Mapped[str] = mapped_column(String(32), nullable=False)
    round: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Review comments: [{"text", "annotation_id"?, "span"?}] pinned to shapes or spans.
    comments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    reason: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = _created()
    # A review decision's labeler: the author of the task's latest submission before it.
    # Kept by triggers (migration 0012) for every writer; NULL on other events.
    judged_user_id: Mapped[str | None] = mapped_column(String(24))


class WorkHour(Base):
    """Submissions per project, labeler and clock hour (UTC), production and scored evaluation
    alike: the quality overview's active hours, counts and mean times. Kept by database
    triggers on `task_events` and `quality_attempts` (migrations 0007, 0011), so every writer
    keeps it right; an hour whose last submission goes is deleted."""

    __tablename__ = "quality_work_hours"
    # The project's active hours, counted in order without sorting (quality_overview_sql).
    __table_args__ = (Index("ix_quality_work_hours_hour", "project_id", "hour"),)

    project_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    # 'YYYY-MM-DD HH', as `quality_stats_sql.bucket` writes an hour.
    hour: Mapped[str] = mapped_column(String(13), primary_key=True)
    submissions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # How many of them have a time, and the sum of those times (migration 0011): the
    # overview's counts and mean times.
    timed: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    total_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0, server_default="0")


class Draft(Base):
    """Work in progress, autosaved by the labeling UI; one per task and person."""

    __tablename__ = "task_drafts"

    task_id: Mapped[str] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    response: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class InstructionNote(Base):
    """A labeler's note on the instructions, left with a submission (calibration feedback)."""

    __tablename__ = "instruction_notes"
    __table_args__ = (
        Index("ix_instruction_notes_batch", "batch_id", "id"),
        Index("ix_instruction_notes_task", "task_id", "id"),
    )

    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    stage: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    note: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = _created()


# --- quality ---------------------------------------------------------------------------


class QualityAttempt(Base):
    """One labeler's go at an evaluation, training or calibration task, and its score.

    Evaluation and training attempts carry their own lease (the task row is shared by every
    labeler); calibration attempts record the score of a queued task's submission."""

    __tablename__ = "quality_attempts"
    __table_args__ = (
        Index("ix_quality_attempts_worker", "project_id", "user_id", "kind", "id"),
        Index("ix_quality_attempts_task", "task_id", "user_id"),
        Index("ix_quality_attempts_lease", "user_id", "lease_expires_at"),
        # A labeler's evaluation times in order, for the quality overview's exact medians.
        Index(
            "ix_quality_attempts_times",
            "project_id",
            "kind",
            "user_id",
            "duration_ms",
            "submitted_at",
            "score",
        ),
    )

    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # Training: which go at the course this belongs to (1, 2 …).
    round: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    stage: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    leased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    # Per-part scores (matched shapes, label and attribute agreement …).
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The labeler's note on the instructions (calibration feedback).
    feedback: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = _created()
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class QualityWorker(Base):
    """A labeler's standing in a project: training passed, paused (and why)."""

    __tablename__ = "quality_workers"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    training_passed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Goes at the training course allowed beyond the project's setting (re-qualification).
    extra_training_rounds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Rolling accuracy counts evaluation attempts from here on (re-qualification resets it).
    window_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Share of this labeler's completed tasks sent to audit; NULL = the project's rate.
    audit_rate: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class Audit(Base):
    """A completed task sampled for audit: accept, fix or reject, feeding quality scores."""

    __tablename__ = "quality_audits"
    __table_args__ = (
        Index("ix_quality_audits_queue", "project_id", "status", "id"),
        Index("ix_quality_audits_labeler", "labeler_id", "id"),
        UniqueConstraint("task_id"),
    )

    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    labeler_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    auditor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    # The corrected response of a `fixed` audit.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = _created()
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- workforce -------------------------------------------------------------------------


class WorkerGroup(Base):
    """A named group of a project's labelers (Scale Studio's project groups)."""

    __tablename__ = "worker_groups"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = _id()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[dt.datetime] = _created()


class WorkerGroupMember(Base):
    __tablename__ = "worker_group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("worker_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class BatchGroup(Base):
    """A batch assigned to a group: only the group's members are served its tasks."""

    __tablename__ = "batch_groups"

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("worker_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RaterProfile(Base):
    """What a person brings to rating work: languages, country, profession, expertise
    (Scale's rater profiles). Human evaluations choose their raters by it."""

    __tablename__ = "rater_profiles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    languages: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2, upper case
    profession: Mapped[str | None] = mapped_column(String(200))
    expertise: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

"""Wire schemas of the labeling pillar: projects, batches, tasks and the labeling queue.

Pydantic only (no database imports): the SDK reuses these for what it returns.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, StringConstraints

from assay.core.schemas import Page, Schema

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
UniqueId = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ProjectRole = Literal["manager", "reviewer", "labeler"]
BatchKind = Literal["self_label", "calibration", "production"]
# `metadata` is `metadata_` on the table models (SQLAlchemy reserves the name).
_METADATA = AliasChoices("metadata_", "metadata")


# --- projects ---------------------------------------------------------------------------


class ProjectCreate(Schema):
    name: Name
    task_type: str = Field(
        min_length=1, max_length=50, description="A native task type or a Scale task type name."
    )
    taxonomy: dict[str, Any] = Field(default_factory=dict)
    instructions: str | None = Field(
        None, max_length=1_000_000, description="Markdown; default: an outline of the taxonomy."
    )
    pipeline: dict[str, Any] | None = Field(
        None, description="Stages, rework rounds, lease length; default: one label stage."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Defaults merged into every new task's params."
    )
    quality: dict[str, Any] | None = Field(
        None,
        description="Quality settings: evaluation rate, pass and pause thresholds, training "
        "course, consensus, audit rate (default: all off).",
    )


class ProjectUpdate(Schema):
    name: Name | None = None
    taxonomy: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    quality: dict[str, Any] | None = Field(
        None, description="Quality settings (evaluation rate, thresholds, training, consensus …)."
    )
    archived: bool | None = None


class Project(Schema):
    id: str
    name: str
    mode: str
    task_type: str
    taxonomy: dict[str, Any]
    instructions: str
    instructions_version: int
    pipeline: dict[str, Any]
    params: dict[str, Any]
    quality: dict[str, Any]
    archived: bool
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    your_role: str | None = Field(
        None, description="Your role in the project (manager, reviewer, labeler); null if none."
    )


class ProjectDetail(Project):
    callback_secret: str | None = Field(
        None,
        description="Task and batch callbacks of this project are signed with it "
        "(managers only; null for others).",
    )


class ProjectPage(Page[Project]):
    pass


class InstructionsUpdate(Schema):
    body: str = Field(max_length=1_000_000, description="Markdown.")


class InstructionVersion(Schema):
    id: str
    project_id: str
    version: int
    body: str
    created_by: str | None
    created_at: dt.datetime


class InstructionVersionPage(Page[InstructionVersion]):
    pass


class MemberSet(Schema):
    role: ProjectRole


class Member(Schema):
    project_id: str
    user_id: str
    role: str
    created_at: dt.datetime


class MemberPage(Page[Member]):
    pass


# --- batches ----------------------------------------------------------------------------


class BatchCreate(Schema):
    name: Name
    kind: BatchKind = "production"
    priority: int = Field(0, ge=-1_000_000, le=1_000_000)
    callback_url: Url | None = Field(None, description="POSTed once when the batch completes.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class BatchMetadata(Schema):
    metadata: dict[str, Any]


class BatchCounts(Schema):
    pending: int = 0
    completed: int = 0
    canceled: int = 0
    error: int = 0


class Batch(Schema):
    id: str
    project_id: str
    name: str
    mode: str
    kind: str
    status: str
    priority: int
    callback_url: str | None
    metadata: dict[str, Any] = Field(validation_alias=_METADATA)
    created_by: str | None
    created_at: dt.datetime
    finalized_at: dt.datetime | None
    completed_at: dt.datetime | None
    counts: BatchCounts = Field(default_factory=BatchCounts)


class BatchPage(Page[Batch]):
    pass


# --- tasks ------------------------------------------------------------------------------


class TaskCreate(Schema):
    batch: str | None = Field(None, description="Batch id; none: the task is queued at once.")
    unique_id: UniqueId | None = Field(
        None, description="Your id for the task; a second create with it is refused (409)."
    )
    priority: int = Field(0, ge=-1_000_000, le=1_000_000, description="Higher is served first.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="What the labeler sees: `attachment` (http(s) URL, `blob:<sha256>` or a "
        "sha256), `text`, `image_width`/`image_height`, `responses` …",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    prelabels: dict[str, Any] | None = Field(
        None, description="A response (model predictions) the first labeler starts from."
    )
    callback_url: Url | None = Field(None, description="POSTed once when the task completes.")
    expected_response: dict[str, Any] | None = Field(
        None,
        description="The known answer: required for evaluation and training tasks; on a "
        "calibration batch's task, labelers' answers are scored against it. Never shown to "
        "labelers before they submit.",
    )


class TaskBulkCreate(Schema):
    batch: str | None = Field(None, description="Batch id for every task.")
    tasks: list[TaskCreate] = Field(
        min_length=1, description="All or nothing; at most the server's max_bulk_tasks."
    )


class TaskRef(Schema):
    id: str
    unique_id: str | None


class TaskBulkCreated(Schema):
    count: int
    tasks: list[TaskRef] = Field(description="In the order they were sent.")


class TaskUpdate(Schema):
    metadata: dict[str, Any] | None = None
    tags: list[Tag] | None = Field(None, max_length=100)
    unique_id: UniqueId | None = Field(None, description="null clears it.")


class TagsChange(Schema):
    tags: list[Tag] = Field(min_length=1, max_length=100)


class TaskAudit(Schema):
    accepted: bool
    comments: str | None = Field(None, max_length=10_000)


class Task(Schema):
    """The manager's view of a task: everything, including the response and queue state."""

    id: str
    project_id: str
    batch_id: str | None
    mode: str
    type: str
    status: str
    kind: str
    priority: int
    unique_id: str | None
    params: dict[str, Any]
    metadata: dict[str, Any] = Field(validation_alias=_METADATA)
    tags: list[str]
    prelabels: dict[str, Any] | None
    callback_url: str | None
    response: dict[str, Any] | None
    expected_response: dict[str, Any] | None
    retired_at: dt.datetime | None
    stage: str | None
    round: int
    assignee_id: str | None
    lease_user_id: str | None
    lease_expires_at: dt.datetime | None
    labeled_by: str | None
    error: str | None
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None


class TaskPage(Page[Task]):
    pass


class TaskEvent(Schema):
    id: int
    task_id: str
    stage: str
    round: int
    user_id: str | None
    action: str
    response: dict[str, Any] | None
    comments: list[dict[str, Any]] | None
    reason: str | None
    duration_ms: float | None
    created_at: dt.datetime


class TaskEventPage(Page[TaskEvent]):
    pass


class ImportCreate(Schema):
    blob: Sha256 = Field(description="sha256 of an uploaded JSONL or CSV file.")
    batch: str | None = Field(None, description="Batch id for every imported task.")


# --- the queue --------------------------------------------------------------------------


class LeasedTask(Schema):
    """What a labeler or reviewer sees of a task: no metadata, no one else's work."""

    id: str
    project_id: str
    type: str
    params: dict[str, Any] = Field(description="Blob attachments are short-lived signed URLs.")
    prelabels: dict[str, Any] | None
    priority: int
    stage: str
    round: int


class Lease(Schema):
    task: LeasedTask
    lease_token: str = Field(description="Send it with every heartbeat, draft and submit.")
    expires_at: dt.datetime
    draft: dict[str, Any] | None = Field(None, description="Your autosaved work on this task.")
    previous: dict[str, Any] | None = Field(
        None, description="Rework: your rejected response. Review: the response to review."
    )
    comments: list[dict[str, Any]] | None = Field(
        None, description="The reviewer's comments on the rejected response."
    )


class LeaseToken(Schema):
    lease_token: str = Field(min_length=1, max_length=64)


class LeaseRenewed(Schema):
    expires_at: dt.datetime


class DraftSave(LeaseToken):
    response: dict[str, Any]


class Submission(LeaseToken):
    response: dict[str, Any]
    feedback: str | None = Field(
        None,
        max_length=10_000,
        description="Your note on the instructions (shown in calibration reports).",
    )


class Skip(LeaseToken):
    reason: str = Field(min_length=1, max_length=2000)
    broken: bool = Field(
        False,
        description="The task cannot be worked (its media does not load or is not what the "
        "task type shows): the task is tagged `broken` for its managers.",
    )


class ReviewComment(Schema):
    text: str = Field(min_length=1, max_length=10_000)
    annotation_id: str | None = Field(None, max_length=200)
    start: int | None = Field(None, ge=0, description="Span comments: start offset.")
    end: int | None = Field(None, ge=0, description="Span comments: end offset (exclusive).")


class Review(LeaseToken):
    decision: Literal["accept", "fix", "reject"]
    response: dict[str, Any] | None = Field(None, description="The corrected response (fix).")
    comments: list[ReviewComment] | None = Field(None, max_length=500)


class Submitted(Schema):
    task_id: str
    status: str
    stage: str | None = Field(description="The stage the task moved on to; null when done.")


class TrainingFeedback(Schema):
    score: float = Field(description="0 to 1 against the expected response.")
    passed: bool
    expected_response: dict[str, Any]


class SubmittedThenNext(Submitted):
    next: Lease | None = Field(
        None,
        description="Only with `?next=true`: your next lease in the same stage (null when none).",
    )
    feedback: TrainingFeedback | None = Field(
        None, description="Training tasks only: your score and the expected response."
    )

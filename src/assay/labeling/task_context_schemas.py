"""Response shapes of the labeling page's context calls (`task_context.py`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from assay.core.schemas import Schema


class BatchRef(Schema):
    id: str
    name: str


class Person(Schema):
    id: str
    email: str
    name: str


class Baseline(Schema):
    """What a reviewer compares the labeler's response with."""

    kind: Literal["prelabels", "previous_round"]
    response: dict[str, Any]


class TaskContext(Schema):
    """Where the task sits and what the worker has done: shown next to the task, fetched after
    it is on screen (never on the queue's hot path)."""

    task_id: str
    stage: str
    round: int
    file_name: str | None = Field(
        description="The attachment's file name (an uploaded file's name, or the URL's last "
        "part); null for inline text."
    )
    unique_id: str | None = Field(description="Review stages only (labelers never see it).")
    batch: BatchRef | None
    position: int | None = Field(
        description="This is task `position` of `total` in the batch (counts refreshed about "
        "every 30 s, advanced by your own work in between); null without a batch."
    )
    total: int | None
    done_today: int = Field(
        description="Tasks you submitted or reviewed in this project since `since`."
    )
    labeler: Person | None = Field(description="Review stages: who gave the response.")
    labeled_ms: float | None = Field(description="Review stages: how long they spent on it.")
    baseline: Baseline | None = Field(
        description="Review stages: the previous round's response (rework), else the pre-labels."
    )


class QueueSummary(Schema):
    """A stage's queue from the caller's side: why `next` has nothing for them."""

    stage: str
    kind: str
    waiting: int = Field(description="Tasks waiting in the stage, not leased (capped at 10,000).")
    leased: int = Field(description="Tasks someone is working on right now.")
    yours: int = Field(
        description="Review stages: waiting tasks you labeled (you cannot review your own work)."
    )
    done_today: int


class PreviousTask(Schema):
    """The caller's last submitted task in the project, to look at again (read-only: it has
    moved on in the pipeline)."""

    task: dict[str, Any] = Field(description="id, type, params (signed media URLs), stage, round.")
    response: dict[str, Any] | None
    file_name: str | None
    submitted_at: dt.datetime


class StageCount(Schema):
    name: str
    kind: str
    waiting: int
    in_progress: int


class DayCount(Schema):
    day: dt.date
    completed: int


class ProjectProgress(Schema):
    """A project's work by stage, its task statuses, and completions per day."""

    stages: list[StageCount]
    statuses: dict[str, int]
    throughput: list[DayCount] = Field(
        description="Completions per UTC day over the last 14 days, from the latest 10,000 "
        "completed tasks (a busier project shows its latest days only)."
    )

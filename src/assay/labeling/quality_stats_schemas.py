"""Wire schemas of the workforce quality pages: a project's overview, a labeler's dashboard.

Pydantic only (no database imports). Rates are 0..1 and null when there is nothing to rate;
times are milliseconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from assay.core.schemas import Schema


class WorkStats(Schema):
    """What a labeler (or the whole project) did in the window."""

    submitted: int = Field(
        0,
        description="Tasks submitted: production submissions plus evaluation attempts (a "
        "labeler cannot tell them apart, so both are work).",
    )
    active_hours: int = Field(
        0, description="Distinct clock hours (UTC) with at least one submission."
    )
    throughput_per_hour: float | None = Field(
        None, description="submitted / active_hours: the pace while working, idle hours left out."
    )
    median_time_ms: float | None = Field(None, description="Median time from lease to submit.")
    mean_time_ms: float | None = None
    evaluated: int = Field(0, description="Evaluation tasks scored.")
    evaluation_passed: int = 0
    evaluation_accuracy: float | None = Field(
        None, description="Mean score of the scored evaluation attempts."
    )
    reviewed: int = Field(
        0,
        description="Review decisions on this labeler's work: the labeler of a decision is "
        "whoever made the task's latest submission before it.",
    )
    review_passed: int = Field(0, description="Reviews that accepted or fixed the work.")
    review_pass_rate: float | None = Field(None, description="review_passed / reviewed.")
    audited: int = Field(0, description="Audits decided (accepted, fixed or rejected).")
    audit_accepted: int = 0
    audit_fixed: int = 0
    audit_rejected: int = 0
    audit_accept_rate: float | None = Field(
        None, description="audit_accepted / audited: audits that needed no change."
    )


class LabelerQuality(WorkStats):
    user_id: str
    email: str
    name: str
    role: str | None = Field(None, description="Role in the project; null for former members.")
    status: Literal["active", "paused"] = "active"
    reason: str | None = Field(None, description="Why the labeler is paused.")
    paused_at: dt.datetime | None = None
    training_passed_at: dt.datetime | None = None


class EvaluationTaskStats(Schema):
    task_id: str
    type: str
    retired_at: dt.datetime | None = None
    attempts: int
    passes: int
    pass_rate: float | None = None
    mean_score: float | None = None
    created_at: dt.datetime


class EvaluationSummary(Schema):
    tasks: int = Field(0, description="Evaluation tasks, retired ones included.")
    retired: int = 0
    attempts: int = 0
    passes: int = 0
    pass_rate: float | None = None
    items: list[EvaluationTaskStats] = Field(
        default_factory=list, description="Per evaluation task, hardest (lowest pass rate) first."
    )
    truncated: bool = Field(False, description="More evaluation tasks exist than are listed.")


class ProjectQuality(Schema):
    project_id: str
    since: dt.datetime | None = None
    generated_at: dt.datetime
    totals: WorkStats
    labelers: list[LabelerQuality]
    evaluation: EvaluationSummary


class SeriesPoint(Schema):
    """One bucket (a day, or an hour for short spans) of a labeler's work."""

    start: dt.datetime
    submitted: int = 0
    active_hours: int = 0
    tasks_per_hour: float | None = None
    median_time_ms: float | None = None
    evaluated: int = 0
    evaluation_accuracy: float | None = None
    reviewed: int = 0
    review_pass_rate: float | None = None


class RecentAttempt(Schema):
    """A scored evaluation attempt; the task and its expected answer are never shown."""

    score: float | None = None
    passed: bool | None = None
    submitted_at: dt.datetime
    duration_ms: float | None = None


class LabelerDashboard(Schema):
    project_id: str
    labeler: LabelerQuality
    days: int
    bucket: Literal["hour", "day"]
    start: dt.datetime
    end: dt.datetime
    series: list[SeriesPoint]
    recent_attempts: list[RecentAttempt]
    precise_times: bool = Field(
        True,
        description="False when the labeler reads their own dashboard: evaluation figures are "
        "late and in groups (the two fields below) and no attempt is listed, so none can be "
        "matched to the task that was an evaluation.",
    )
    feedback_delay_seconds: float | None = Field(
        None,
        description="The labeler's own view: evaluation results count once this old (on an "
        "hourly clock). Null when the reader oversees the project (exact figures).",
    )
    feedback_group_size: int | None = Field(
        None,
        description="The labeler's own view: evaluation results count in groups of this many "
        "attempts, in the order submitted. Null for the project's managers and reviewers.",
    )

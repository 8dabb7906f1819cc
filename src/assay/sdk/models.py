"""What the SDK returns: the server's wire schemas, tolerant of fields added by newer servers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from assay.core import blob_schemas, schemas, webhook_schemas
from assay.curation import scenario_schemas as scenario
from assay.curation import schemas as curation
from assay.labeling import quality_stats_schemas as quality_stats
from assay.labeling import schemas as labeling

T = TypeVar("T")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# An SDK must keep working against a newer server, so unknown fields are ignored here
# (the server's own schemas forbid them on input).
_LENIENT = ConfigDict(extra="ignore")


class Page(BaseModel, Generic[T]):
    model_config = _LENIENT

    items: list[T]
    next_cursor: str | None = None


class User(schemas.User):
    model_config = _LENIENT


class Me(schemas.Me):
    model_config = _LENIENT

    user: User


class ApiKey(schemas.ApiKey):
    model_config = _LENIENT


class ApiKeyCreated(schemas.ApiKeyCreated):
    model_config = _LENIENT


class Job(schemas.Job):
    model_config = _LENIENT

    @property
    def finished(self) -> bool:
        """True once the job succeeded, failed or was cancelled."""
        return self.status in TERMINAL_STATUSES


class JobLog(schemas.JobLog):
    model_config = _LENIENT


class Blob(blob_schemas.Blob):
    model_config = _LENIENT


class BlobUrl(blob_schemas.BlobUrl):
    model_config = _LENIENT


class WebhookTarget(webhook_schemas.WebhookTarget):
    model_config = _LENIENT


class WebhookTargetCreated(webhook_schemas.WebhookTargetCreated):
    model_config = _LENIENT


class WebhookAttempt(webhook_schemas.WebhookAttempt):
    model_config = _LENIENT


class WebhookDelivery(webhook_schemas.WebhookDelivery):
    model_config = _LENIENT

    attempts: list[WebhookAttempt]

    @property
    def finished(self) -> bool:
        """True once delivered or given up on."""
        return self.status in ("succeeded", "failed")


# --- labeling ---------------------------------------------------------------------------


class Project(labeling.Project):
    model_config = _LENIENT


class ProjectDetail(labeling.ProjectDetail):
    model_config = _LENIENT


class InstructionVersion(labeling.InstructionVersion):
    model_config = _LENIENT


class Member(labeling.Member):
    model_config = _LENIENT


class BatchCounts(labeling.BatchCounts):
    model_config = _LENIENT


class Batch(labeling.Batch):
    model_config = _LENIENT

    counts: BatchCounts = BatchCounts()


class Task(labeling.Task):
    model_config = _LENIENT


class TaskRef(labeling.TaskRef):
    model_config = _LENIENT


class TaskBulkCreated(labeling.TaskBulkCreated):
    model_config = _LENIENT

    tasks: list[TaskRef]


class TaskEvent(labeling.TaskEvent):
    model_config = _LENIENT


class LeasedTask(labeling.LeasedTask):
    model_config = _LENIENT


class Lease(labeling.Lease):
    model_config = _LENIENT

    task: LeasedTask


class LeaseRenewed(labeling.LeaseRenewed):
    model_config = _LENIENT


class TrainingFeedback(labeling.TrainingFeedback):
    model_config = _LENIENT


class Submitted(labeling.Submitted):
    model_config = _LENIENT

    feedback: TrainingFeedback | None = None


# --- quality ----------------------------------------------------------------------------
# The server declares these in its router module (FastAPI and SQLAlchemy imports), which the
# SDK must not pull in, so they are restated here.


class _Lenient(BaseModel):
    model_config = _LENIENT


class QualityTask(Task):
    """An evaluation or training task with how labelers did on it."""

    attempts: int = 0
    passes: int = 0
    pass_rate: float | None = None
    mean_score: float | None = None


class Retired(_Lenient):
    retired: int
    task_ids: list[str]


class Recycled(_Lenient):
    recycled: int


class CourseState(_Lenient):
    """Where the caller stands in a project's training course."""

    required: bool
    total: int
    round: int
    max_rounds: int
    done: int
    score: float | None = None
    passed: bool
    passed_at: dt.datetime | None = None
    can_retry: bool
    pass_threshold: float


class Standing(_Lenient):
    """A labeler's standing in a project: paused or not (and why), accuracy, training."""

    user_id: str
    email: str | None = None
    name: str | None = None
    role: str | None = None
    status: str
    reason: str | None = None
    paused_at: dt.datetime | None = None
    accuracy: float | None = None
    evaluated: int = 0
    training_passed_at: dt.datetime | None = None
    training_required: bool | None = None
    audit_rate: float | None = None


class AuditTask(_Lenient):
    id: str
    type: str
    params: dict[str, Any]


class AuditLease(_Lenient):
    audit_id: str
    lease_token: str
    expires_at: dt.datetime
    labeler_id: str | None = None
    task: AuditTask
    response: dict[str, Any] | None = None


class Audit(_Lenient):
    id: str
    project_id: str
    task_id: str
    labeler_id: str | None = None
    auditor_id: str | None = None
    status: str
    comments: list[dict[str, Any]] | None = None
    response: dict[str, Any] | None = None
    created_at: dt.datetime
    decided_at: dt.datetime | None = None


class CalibrationLabeler(_Lenient):
    user_id: str
    email: str | None = None
    tasks: int
    score: float


class CalibrationDisagreement(_Lenient):
    task_id: str
    user_id: str
    email: str | None = None
    score: float | None = None
    expected_response: dict[str, Any] | None = None
    response: dict[str, Any] | None = None


class CalibrationFeedback(_Lenient):
    task_id: str
    user_id: str
    email: str | None = None
    feedback: str


class CalibrationReport(_Lenient):
    """A calibration batch: each labeler's score, where they disagreed, what they said."""

    batch_id: str
    labelers: list[CalibrationLabeler] = []
    disagreements: list[CalibrationDisagreement] = []
    feedback: list[CalibrationFeedback] = []


class WorkStats(quality_stats.WorkStats):
    model_config = _LENIENT


class LabelerQuality(quality_stats.LabelerQuality):
    model_config = _LENIENT


class EvaluationTaskStats(quality_stats.EvaluationTaskStats):
    model_config = _LENIENT


class EvaluationSummary(quality_stats.EvaluationSummary):
    model_config = _LENIENT

    items: list[EvaluationTaskStats] = []


class ProjectQuality(quality_stats.ProjectQuality):
    model_config = _LENIENT

    totals: WorkStats
    labelers: list[LabelerQuality]
    evaluation: EvaluationSummary


class SeriesPoint(quality_stats.SeriesPoint):
    model_config = _LENIENT


class RecentAttempt(quality_stats.RecentAttempt):
    model_config = _LENIENT


class LabelerDashboard(quality_stats.LabelerDashboard):
    model_config = _LENIENT

    labeler: LabelerQuality
    series: list[SeriesPoint]
    recent_attempts: list[RecentAttempt]


class Dataset(curation.Dataset):
    model_config = _LENIENT


class Item(curation.Item):
    model_config = _LENIENT


class AppendResult(curation.AppendResult):
    model_config = _LENIENT


class ItemsDeleted(curation.ItemsDeleted):
    model_config = _LENIENT


class TasksIngested(curation.TasksIngested):
    model_config = _LENIENT


class QueryAnswer(curation.QueryAnswer):
    model_config = _LENIENT


class Slice(curation.Slice):
    model_config = _LENIENT


class SliceItems(curation.SliceItems):
    model_config = _LENIENT


class SliceMembersChanged(curation.SliceMembersChanged):
    model_config = _LENIENT


class LabelingLink(curation.LabelingLink):
    model_config = _LENIENT


class EmbeddingsWritten(curation.EmbeddingsWritten):
    model_config = _LENIENT


class Model(curation.MlModel):
    model_config = _LENIENT


class PredictionsWritten(curation.PredictionsWritten):
    model_config = _LENIENT


class Match(curation.Match):
    model_config = _LENIENT


class Matches(curation.Matches):
    model_config = _LENIENT

    items: list[Match]


class ObjectMatch(curation.ObjectMatch):
    model_config = _LENIENT


class ObjectMatches(curation.ObjectMatches):
    model_config = _LENIENT

    objects: list[ObjectMatch]


class Autotag(curation.Autotag):
    model_config = _LENIENT


class AutotagRefined(curation.AutotagRefined):
    model_config = _LENIENT

    autotag: Autotag
    items: list[Match]


class AutotagCommitted(curation.AutotagCommitted):
    model_config = _LENIENT

    autotag: Autotag


class DuplicateGroup(curation.DuplicateGroup):
    model_config = _LENIENT


class DuplicateGroups(curation.DuplicateGroups):
    model_config = _LENIENT

    groups: list[DuplicateGroup]


__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "AppendResult",
    "Audit",
    "AuditLease",
    "AuditTask",
    "Autotag",
    "AutotagCommitted",
    "AutotagRefined",
    "Batch",
    "BatchCounts",
    "Blob",
    "BlobUrl",
    "CalibrationDisagreement",
    "CalibrationFeedback",
    "CalibrationLabeler",
    "CalibrationReport",
    "CourseState",
    "Dataset",
    "DuplicateGroup",
    "DuplicateGroups",
    "EmbeddingsWritten",
    "EvaluationSummary",
    "EvaluationTaskStats",
    "InstructionVersion",
    "Item",
    "ItemsDeleted",
    "Job",
    "JobLog",
    "LabelerDashboard",
    "LabelerQuality",
    "LabelingLink",
    "Lease",
    "LeaseRenewed",
    "LeasedTask",
    "Match",
    "Matches",
    "Me",
    "Member",
    "Model",
    "ObjectMatch",
    "ObjectMatches",
    "Page",
    "PredictionsWritten",
    "Project",
    "ProjectDetail",
    "ProjectQuality",
    "QualityTask",
    "QueryAnswer",
    "RecentAttempt",
    "Recycled",
    "Retired",
    "SeriesPoint",
    "Slice",
    "SliceItems",
    "SliceMembersChanged",
    "Standing",
    "Submitted",
    "Task",
    "TaskBulkCreated",
    "TaskEvent",
    "TaskRef",
    "TrainingFeedback",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookTarget",
    "WebhookTargetCreated",
    "WorkStats",
]


class Evaluation(curation.Evaluation):
    model_config = _LENIENT


class EvaluationBrief(curation.EvaluationBrief):
    model_config = _LENIENT


class EvaluationSliceMetrics(curation.EvaluationSliceMetrics):
    model_config = _LENIENT


class EvaluationMatch(curation.EvaluationMatch):
    model_config = _LENIENT


class EvaluationComparison(curation.EvaluationComparison):
    model_config = _LENIENT


class ScenarioMetric(scenario.ScenarioMetric):
    model_config = _LENIENT


class ScenarioTest(scenario.ScenarioTest):
    model_config = _LENIENT

    metrics: list[ScenarioMetric] = []


class ScenarioResult(scenario.ScenarioResult):
    model_config = _LENIENT


class ScenarioTestDetail(scenario.ScenarioTestDetail):
    model_config = _LENIENT

    metrics: list[ScenarioMetric] = []
    history: list[ScenarioResult]


class ScenarioMetricOutcome(scenario.ScenarioMetricOutcome):
    model_config = _LENIENT

    status: str


class ScenarioTestOutcome(scenario.ScenarioTestOutcome):
    model_config = _LENIENT

    status: str
    metrics: list[ScenarioMetricOutcome]


class ScenarioRun(scenario.ScenarioRun):
    """One evaluation of a model against every scenario test of a dataset; `passed` is None
    until the evaluation is done."""

    model_config = _LENIENT

    tests: list[ScenarioTestOutcome]

    @property
    def failed(self) -> list[ScenarioTestOutcome]:
        """The tests that did not pass (failed, or not evaluated)."""
        return [t for t in self.tests if t.status != "passed"]


class ScenarioMetricFunction(scenario.ScenarioMetricFunction):
    model_config = _LENIENT

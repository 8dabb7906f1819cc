"""What the SDK returns: the server's wire schemas, tolerant of fields added by newer servers."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from assay.core import blob_schemas, schemas, webhook_schemas
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


class Submitted(labeling.Submitted):
    model_config = _LENIENT


__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "Batch",
    "BatchCounts",
    "Blob",
    "BlobUrl",
    "InstructionVersion",
    "Job",
    "JobLog",
    "Lease",
    "LeaseRenewed",
    "LeasedTask",
    "Me",
    "Member",
    "Page",
    "Project",
    "ProjectDetail",
    "Submitted",
    "Task",
    "TaskBulkCreated",
    "TaskEvent",
    "TaskRef",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookTarget",
    "WebhookTargetCreated",
]

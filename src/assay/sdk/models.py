"""What the SDK returns: the server's wire schemas, tolerant of fields added by newer servers."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from assay.core import blob_schemas, schemas, webhook_schemas

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


__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "Blob",
    "BlobUrl",
    "Job",
    "JobLog",
    "Me",
    "Page",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookTarget",
    "WebhookTargetCreated",
]

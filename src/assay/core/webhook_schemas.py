"""Wire schemas of webhooks: targets, their deliveries and each delivery's attempts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from assay.core.schemas import Page, Schema

# `*` (everything), `task.*` (a family) or an exact event name such as `batch.completed`.
EventPattern = Annotated[
    str,
    StringConstraints(max_length=100, pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$"),
]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class WebhookTargetCreate(Schema):
    url: Url = Field(description="http(s) URL that receives the POSTs.")
    events: list[EventPattern] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        max_length=100,
        description="Events to receive: names, `family.*`, or `*` for all.",
    )


class WebhookTargetUpdate(Schema):
    url: Url | None = None
    events: list[EventPattern] | None = Field(None, min_length=1, max_length=100)
    is_active: bool | None = None


class WebhookTarget(Schema):
    id: str
    url: str
    events: list[str]
    is_active: bool
    mode: str
    created_by: str | None
    created_at: dt.datetime


class WebhookTargetCreated(WebhookTarget):
    secret: str = Field(description="Signing secret for Assay-Signature. Shown once; store it.")


class WebhookTargetPage(Page[WebhookTarget]):
    pass


class WebhookAttempt(Schema):
    attempt: int
    status_code: int | None
    error: str | None
    response_body: str = Field(description="The first 2 KB of the receiver's answer.")
    duration_ms: float
    created_at: dt.datetime


class WebhookDelivery(Schema):
    id: str
    target_id: str | None
    url: str
    event: str
    payload: dict[str, Any]
    status: str = Field(description="pending, retrying, succeeded or failed.")
    job_id: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    attempts: list[WebhookAttempt] = Field(description="Every attempt so far, oldest first.")

    @classmethod
    def from_log(cls, log: Any) -> WebhookDelivery:
        """From a `webhooks.DeliveryLog`."""
        d = log.delivery
        return cls(
            id=d.id,
            target_id=d.target_id,
            url=d.url,
            event=d.event,
            payload=d.payload,
            status=d.status,
            job_id=d.job_id,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            attempts=[WebhookAttempt.model_validate(a) for a in log.attempts],
        )


class WebhookDeliveryPage(Page[WebhookDelivery]):
    pass

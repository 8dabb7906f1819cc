"""`client.webhooks`: targets that receive signed POSTs on events, and their delivery log."""

from __future__ import annotations

from collections.abc import Iterator

from assay.sdk._api.webhooks import WebhooksAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import WebhookDelivery, WebhookTarget, WebhookTargetCreated


class Webhooks:
    def __init__(self, http: HTTP) -> None:
        self._api = WebhooksAPI(http)

    def create(self, *, url: str, events: list[str] | None = None) -> WebhookTargetCreated:
        """Add a target (managers and admins); `.secret` signs its deliveries, shown only now.

        `events`: names, `family.*` or `*` (the default). Safe to retry.
        """
        body = {"url": url, "events": events}
        return self._api.create(json={k: v for k, v in body.items() if v is not None})

    def list(self, *, page_size: int | None = None) -> Iterator[WebhookTarget]:
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor, "limit": page_size}))

    def get(self, webhook_id: str) -> WebhookTarget:
        return self._api.get(webhook_id=webhook_id)

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: list[str] | None = None,
        is_active: bool | None = None,
    ) -> WebhookTarget:
        """Change what is given; leave the rest as it is."""
        changes = {"url": url, "events": events, "is_active": is_active}
        return self._api.update(
            webhook_id=webhook_id, json={k: v for k, v in changes.items() if v is not None}
        )

    def delete(self, webhook_id: str) -> None:
        self._api.delete(webhook_id=webhook_id)

    def rotate_secret(self, webhook_id: str) -> WebhookTargetCreated:
        """A new signing secret, shown only now; the old one stops being used."""
        return self._api.rotate_secret(webhook_id=webhook_id)

    def test(self, webhook_id: str) -> WebhookDelivery:
        """Send a `ping` event; follow it with `delivery()`."""
        return self._api.test(webhook_id=webhook_id)

    def deliveries(
        self, webhook_id: str, *, page_size: int | None = None
    ) -> Iterator[WebhookDelivery]:
        """Deliveries to this target, newest first, each with every attempt."""
        return iterate(
            lambda cursor: self._api.deliveries(
                webhook_id=webhook_id, params={"cursor": cursor, "limit": page_size}
            )
        )

    def delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        return self._api.delivery(webhook_id=webhook_id, delivery_id=delivery_id)

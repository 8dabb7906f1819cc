from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Page, WebhookDelivery, WebhookTarget, WebhookTargetCreated


class WebhooksAPI(API):
    create = endpoint("POST", "/webhooks", returns=WebhookTargetCreated, create=True)
    list = endpoint("GET", "/webhooks", returns=Page[WebhookTarget])
    get = endpoint("GET", "/webhooks/{webhook_id}", returns=WebhookTarget)
    update = endpoint("PATCH", "/webhooks/{webhook_id}", returns=WebhookTarget)
    delete = endpoint("DELETE", "/webhooks/{webhook_id}")
    rotate_secret = endpoint(
        "POST", "/webhooks/{webhook_id}/rotate-secret", returns=WebhookTargetCreated
    )
    test = endpoint("POST", "/webhooks/{webhook_id}/test", returns=WebhookDelivery)
    deliveries = endpoint("GET", "/webhooks/{webhook_id}/deliveries", returns=Page[WebhookDelivery])
    delivery = endpoint(
        "GET", "/webhooks/{webhook_id}/deliveries/{delivery_id}", returns=WebhookDelivery
    )

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core import webhook_schemas as schemas
from assay.core import webhooks
from assay.core.policies import webhooks as policy

router = APIRouter(tags=["webhooks"], route_class=JsonRoute)


@router.post(
    "/webhooks",
    response_model=schemas.WebhookTargetCreated,
    status_code=201,
    operation_id="create_webhook",
)
def create_webhook(
    target_in: schemas.WebhookTargetCreate, request: Request, actor: CurrentActor, db: Db, ctx: Ctx
) -> JSONResponse:
    """Add a target. The signing secret is in this response only."""
    policy.can_create(actor)

    def create(session: Session) -> schemas.WebhookTargetCreated:
        target, secret = webhooks.create_target(
            session=session,
            url=target_in.url,
            events=target_in.events,
            actor=actor,
            settings=ctx.settings,
        )
        return schemas.WebhookTargetCreated(
            **schemas.WebhookTarget.model_validate(target).model_dump(), secret=secret
        )

    return create_once(request, actor=actor, db=db, body=target_in, create=create)


@router.get("/webhooks", response_model=schemas.WebhookTargetPage, operation_id="list_webhooks")
def list_webhooks(actor: CurrentActor, db: Db, page: Page) -> schemas.WebhookTargetPage:
    policy.can_list(actor)
    with db.read() as session:
        result = webhooks.list_targets(
            session=session, mode=actor.mode, cursor=page.cursor, limit=page.limit
        )
        return schemas.WebhookTargetPage(items=result.items, next_cursor=result.next_cursor)


@router.get(
    "/webhooks/{webhook_id}", response_model=schemas.WebhookTarget, operation_id="get_webhook"
)
def get_webhook(webhook_id: str, actor: CurrentActor, db: Db) -> schemas.WebhookTarget:
    with db.read() as session:
        target = webhooks.get_target(session=session, target_id=webhook_id)
        policy.can_read(actor, target)
        return schemas.WebhookTarget.model_validate(target)


@router.patch(
    "/webhooks/{webhook_id}", response_model=schemas.WebhookTarget, operation_id="update_webhook"
)
def update_webhook(
    webhook_id: str, changes: schemas.WebhookTargetUpdate, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.WebhookTarget:
    with db.write() as session:
        target = webhooks.get_target(session=session, target_id=webhook_id)
        policy.can_update(actor, target)
        return schemas.WebhookTarget.model_validate(
            webhooks.update_target(
                session=session,
                target=target,
                settings=ctx.settings,
                **changes.model_dump(exclude_unset=True),
            )
        )


@router.delete("/webhooks/{webhook_id}", status_code=204, operation_id="delete_webhook")
def delete_webhook(webhook_id: str, actor: CurrentActor, db: Db) -> Response:
    with db.write() as session:
        target = webhooks.get_target(session=session, target_id=webhook_id)
        policy.can_delete(actor, target)
        webhooks.delete_target(session=session, target=target)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=schemas.WebhookTargetCreated,
    operation_id="rotate_webhook_secret",
)
def rotate_webhook_secret(
    webhook_id: str, actor: CurrentActor, db: Db
) -> schemas.WebhookTargetCreated:
    """Replace the signing secret; the new one is in this response only."""
    with db.write() as session:
        target = webhooks.get_target(session=session, target_id=webhook_id)
        policy.can_update(actor, target)
        secret = webhooks.rotate_secret(session=session, target=target)
        return schemas.WebhookTargetCreated(
            **schemas.WebhookTarget.model_validate(target).model_dump(), secret=secret
        )


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=schemas.WebhookDelivery,
    status_code=202,
    operation_id="test_webhook",
)
def test_webhook(webhook_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> schemas.WebhookDelivery:
    """Send a `ping` event to this target; follow it in the delivery log."""
    with db.write() as session:
        target = webhooks.get_target(session=session, target_id=webhook_id)
        policy.can_test(actor, target)
        delivery = webhooks.send_ping(
            session=session, target=target, actor=actor, settings=ctx.settings
        )
        return schemas.WebhookDelivery.from_log(webhooks.DeliveryLog(delivery))


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=schemas.WebhookDeliveryPage,
    operation_id="list_webhook_deliveries",
)
def list_webhook_deliveries(
    webhook_id: str, actor: CurrentActor, db: Db, page: Page
) -> schemas.WebhookDeliveryPage:
    """Newest first, each with every attempt: status code or error, the answer, duration."""
    with db.read() as session:
        policy.can_read(actor, webhooks.get_target(session=session, target_id=webhook_id))
        result = webhooks.list_deliveries(
            session=session, target_id=webhook_id, cursor=page.cursor, limit=page.limit
        )
        return schemas.WebhookDeliveryPage(
            items=[schemas.WebhookDelivery.from_log(log) for log in result.items],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}",
    response_model=schemas.WebhookDelivery,
    operation_id="get_webhook_delivery",
)
def get_webhook_delivery(
    webhook_id: str, delivery_id: str, actor: CurrentActor, db: Db
) -> schemas.WebhookDelivery:
    with db.read() as session:
        policy.can_read(actor, webhooks.get_target(session=session, target_id=webhook_id))
        return schemas.WebhookDelivery.from_log(
            webhooks.get_delivery(session=session, delivery_id=delivery_id, target_id=webhook_id)
        )

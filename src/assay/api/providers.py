"""/api/v1/providers: model providers (managers and admins). Keys go in, never out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.evaluation import provider_schemas as schemas
from assay.evaluation import providers
from assay.evaluation.policies import providers as policy

router = APIRouter(tags=["providers"], route_class=JsonRoute)


@router.post(
    "/providers", response_model=schemas.Provider, status_code=201, operation_id="create_provider"
)
def create_provider(
    provider_in: schemas.ProviderCreate, request: Request, actor: CurrentActor, db: Db, ctx: Ctx
) -> JSONResponse:
    """Add a provider. With an Idempotency-Key, a retried request adds it once."""
    policy.can_create(actor)

    def create(session: Session) -> schemas.Provider:
        provider = providers.create_provider(
            session=session, provider_in=provider_in, actor=actor, settings=ctx.settings
        )
        return schemas.Provider.model_validate(provider)

    return create_once(request, actor=actor, db=db, body=provider_in, create=create)


@router.get("/providers", response_model=schemas.ProviderPage, operation_id="list_providers")
def list_providers(actor: CurrentActor, db: Db, page: Page) -> schemas.ProviderPage:
    policy.can_list(actor)
    with db.read() as session:
        result = providers.list_providers(
            session=session, mode=actor.mode, cursor=page.cursor, limit=page.limit
        )
        return schemas.ProviderPage(
            items=[schemas.Provider.model_validate(p) for p in result.items],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/providers/{provider_id}", response_model=schemas.Provider, operation_id="get_provider"
)
def get_provider(provider_id: str, actor: CurrentActor, db: Db) -> schemas.Provider:
    with db.read() as session:
        provider = providers.get_provider(session=session, provider_id=provider_id)
        policy.can_read(actor, provider)
        return schemas.Provider.model_validate(provider)


@router.patch(
    "/providers/{provider_id}", response_model=schemas.Provider, operation_id="update_provider"
)
def update_provider(
    provider_id: str, changes: schemas.ProviderUpdate, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.Provider:
    with db.write() as session:
        provider = providers.get_provider(session=session, provider_id=provider_id)
        policy.can_update(actor, provider)
        return schemas.Provider.model_validate(
            providers.update_provider(
                session=session, provider=provider, changes=changes, settings=ctx.settings
            )
        )


@router.delete("/providers/{provider_id}", status_code=204, operation_id="delete_provider")
def delete_provider(provider_id: str, actor: CurrentActor, db: Db) -> Response:
    with db.write() as session:
        provider = providers.get_provider(session=session, provider_id=provider_id)
        policy.can_delete(actor, provider)
        providers.delete_provider(session=session, provider=provider)
    return Response(status_code=204)


@router.post(
    "/providers/{provider_id}/check",
    response_model=schemas.ProviderCheckResult,
    operation_id="check_provider",
)
def check_provider(
    provider_id: str, check: schemas.ProviderCheck, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.ProviderCheckResult:
    """Send the model one tiny request (no retries): its latency, or the provider's error."""
    with db.read() as session:
        provider = providers.get_provider(session=session, provider_id=provider_id)
        policy.can_check(actor, provider)
    # The call is made outside the transaction: a slow provider holds no connection.
    return schemas.ProviderCheckResult(
        **providers.check_provider(provider=provider, model=check.model, settings=ctx.settings)
    )

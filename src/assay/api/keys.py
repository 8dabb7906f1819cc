from __future__ import annotations

from fastapi import APIRouter, Query

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.json_body import JsonRoute
from assay.core import keys, schemas, users
from assay.core.policies import keys as policy

router = APIRouter(tags=["keys"], route_class=JsonRoute)


@router.post(
    "/keys", response_model=schemas.ApiKeyCreated, status_code=201, operation_id="create_key"
)
def create_key(key_in: schemas.ApiKeyCreate, actor: CurrentActor, db: Db) -> schemas.ApiKeyCreated:
    """Create an API key. The secret is in this response only; it is stored as a hash."""
    user_id = key_in.user_id or actor.user_id
    policy.can_create(actor, user_id, key_in.mode)
    with db.write() as session:
        user = users.get_user(session=session, user_id=user_id)
        key, raw = keys.create_key(session=session, user=user, mode=key_in.mode, name=key_in.name)
        return schemas.ApiKeyCreated(**schemas.ApiKey.model_validate(key).model_dump(), key=raw)


@router.get("/keys", response_model=schemas.ApiKeyPage, operation_id="list_keys")
def list_keys(
    actor: CurrentActor,
    db: Db,
    page: Page,
    user_id: str | None = Query(None, description="Whose keys; default your own."),
) -> schemas.ApiKeyPage:
    user_id = user_id or actor.user_id
    policy.can_list(actor, user_id)
    with db.read() as session:
        result = keys.list_keys(
            session=session, user_id=user_id, cursor=page.cursor, limit=page.limit
        )
        return schemas.ApiKeyPage(items=result.items, next_cursor=result.next_cursor)


@router.delete("/keys/{key_id}", response_model=schemas.ApiKey, operation_id="revoke_key")
def revoke_key(key_id: str, actor: CurrentActor, ctx: Ctx) -> schemas.ApiKey:
    """Revoke a key: refused at once here, and by other server processes within
    `ASSAY_AUTH_CACHE_SECONDS`."""
    with ctx.db.write() as session:
        key = keys.get_key(session=session, key_id=key_id)
        policy.can_revoke(actor, key.user_id, key.mode)
        revoked = schemas.ApiKey.model_validate(keys.revoke_key(session=session, key=key))
    ctx.key_cache.clear()
    return revoked

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core import schemas, users
from assay.core.auth import hash_password
from assay.core.policies import users as policy

router = APIRouter(tags=["users"], route_class=JsonRoute)


@router.get("/me", response_model=schemas.Me, operation_id="get_me")
def get_me(actor: CurrentActor, db: Db) -> schemas.Me:
    """The calling user, and whether the call came with a live or test key."""
    with db.read() as session:
        user = users.get_user(session=session, user_id=actor.user_id)
        return schemas.Me(user=schemas.User.model_validate(user), mode=actor.mode, via=actor.via)


@router.post("/users", response_model=schemas.User, status_code=201, operation_id="create_user")
def create_user(
    user_in: schemas.UserCreate, request: Request, actor: CurrentActor, db: Db
) -> JSONResponse:
    policy.can_create(actor)
    return create_once(
        request,
        actor=actor,
        db=db,
        body=user_in,
        create=lambda session: schemas.User.model_validate(
            users.create_user(session=session, user_in=user_in)
        ),
    )


@router.get("/users", response_model=schemas.UserPage, operation_id="list_users")
def list_users(actor: CurrentActor, db: Db, page: Page) -> schemas.UserPage:
    policy.can_list(actor)
    with db.read() as session:
        result = users.list_users(session=session, cursor=page.cursor, limit=page.limit)
        return schemas.UserPage(items=result.items, next_cursor=result.next_cursor)


@router.get("/users/{user_id}", response_model=schemas.User, operation_id="get_user")
def get_user(user_id: str, actor: CurrentActor, db: Db) -> schemas.User:
    policy.can_read(actor, user_id)
    with db.read() as session:
        return schemas.User.model_validate(users.get_user(session=session, user_id=user_id))


@router.post(
    "/users/{user_id}/deactivate", response_model=schemas.User, operation_id="deactivate_user"
)
def deactivate_user(user_id: str, actor: CurrentActor, ctx: Ctx) -> schemas.User:
    """Stop a user at once: no sign-in, every browser session ended, every API key refused
    (by other server processes within `ASSAY_AUTH_CACHE_SECONDS`)."""
    policy.can_deactivate(actor)
    with ctx.db.write() as session:
        user = users.get_user(session=session, user_id=user_id)
        done = schemas.User.model_validate(
            users.deactivate_user(session=session, user=user, actor=actor)
        )
    ctx.key_cache.clear()
    return done


@router.post(
    "/users/{user_id}/reactivate", response_model=schemas.User, operation_id="reactivate_user"
)
def reactivate_user(user_id: str, actor: CurrentActor, db: Db) -> schemas.User:
    """Let a deactivated user sign in again; their keys that were not revoked work again."""
    policy.can_deactivate(actor)
    with db.write() as session:
        user = users.get_user(session=session, user_id=user_id)
        return schemas.User.model_validate(users.reactivate_user(session=session, user=user))


@router.post(
    "/users/{user_id}/password", response_model=schemas.User, operation_id="reset_password"
)
def reset_password(
    user_id: str, reset: schemas.PasswordReset, actor: CurrentActor, db: Db
) -> schemas.User:
    """Set a user's new password: their browser sessions end and a sign-in lockout lifts."""
    policy.can_reset_password(actor)
    password_hash = hash_password(reset.password)  # slow: before the write transaction
    with db.write() as session:
        user = users.get_user(session=session, user_id=user_id)
        return schemas.User.model_validate(
            users.reset_password(session=session, user=user, password_hash=password_hash)
        )


@router.delete(
    "/users/{user_id}/sessions", response_model=schemas.SessionsEnded, operation_id="end_sessions"
)
def end_sessions(user_id: str, actor: CurrentActor, db: Db) -> schemas.SessionsEnded:
    """Sign a user out of every browser (API keys keep working: revoke those separately)."""
    policy.can_end_sessions(actor, user_id)
    with db.write() as session:
        user = users.get_user(session=session, user_id=user_id)
        return schemas.SessionsEnded(ended=users.end_sessions(session=session, user=user))

"""FastAPI dependencies: the app context, the calling actor, page parameters."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from assay.api.context import AppContext
from assay.core import keys, sessions
from assay.core.auth import Actor
from assay.core.db import Database
from assay.core.errors import Forbidden, Unauthorized
from assay.core.pagination import decode_cursor

SESSION_COOKIE = "assay_session"
CSRF_COOKIE = "assay_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Nucleus's client (0.22) sends `limited_access_key=` in this header instead of Basic auth.
# Assay has no Nucleus-only keys: on the Nucleus routes the header carries an ordinary API
# key, with its owner's role and nothing narrower (docs/nucleus-wire.md §1).
LIMITED_ACCESS_HEADER = "x-limited-access-key"
NUCLEUS_PATHS = "/v1/nucleus/"


async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


async def get_db(request: Request) -> Database:
    return request.app.state.ctx.db


def _key_from_header(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials.strip() or None
    if scheme == "basic":
        # Scale's scheme: the key is the username and the password is empty.
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


async def authenticate(request: Request) -> Actor:
    """An API key (Basic or Bearer) or a browser session cookie (with CSRF on writes).

    Async so that the common case, a key seen in the last few seconds, costs no thread hop
    and no query; lookups run in the thread pool."""
    ctx: AppContext = request.app.state.ctx
    header = request.headers.get("authorization")
    limited = request.headers.get(LIMITED_ACCESS_HEADER)
    if limited is not None and request.url.path.startswith(NUCLEUS_PATHS):
        if header:
            raise Unauthorized(
                f"send the key once: Authorization or {LIMITED_ACCESS_HEADER}, not both"
            )
        header = f"Bearer {limited}"
    if header:
        raw = _key_from_header(header)
        if raw is None:
            raise Unauthorized(
                "Authorization header not understood: send `Bearer <key>` or HTTP Basic "
                "with the key as username and an empty password"
            )
        actor = ctx.key_cache.get(raw)
        if actor is None:
            actor = await run_in_threadpool(_resolve_key, ctx, raw)
            ctx.key_cache.put(raw, actor)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise Unauthorized(
                "authentication required: send an API key (`Authorization: Bearer <key>`) "
                "or log in at /login"
            )
        actor = await run_in_threadpool(_resolve_session, ctx, token)
        if request.method not in SAFE_METHODS:
            expected = sessions.csrf_token(ctx.settings.secret_key.get_secret_value(), token)
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(expected, sent):
                raise Forbidden(
                    "missing or wrong CSRF token: send the assay_csrf cookie's value "
                    "in the X-CSRF-Token header"
                )
    request.scope["state"]["actor"] = actor
    return actor


def _resolve_key(ctx: AppContext, raw: str) -> Actor:
    with ctx.db.read() as session:
        return keys.resolve_key(session=session, raw_key=raw)


def _resolve_session(ctx: AppContext, token: str) -> Actor:
    with ctx.db.read() as session:
        return sessions.resolve_session(session=session, token=token)


CurrentActor = Annotated[Actor, Depends(authenticate)]
Db = Annotated[Database, Depends(get_db)]
Ctx = Annotated[AppContext, Depends(get_ctx)]


class PageParams:
    def __init__(
        self,
        request: Request,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int | None, Query(ge=1, description="Page size")] = None,
    ) -> None:
        settings = request.app.state.ctx.settings
        if cursor:
            decode_cursor(cursor)  # refused before anything is loaded, whatever the route
        self.cursor = cursor
        self.limit = min(limit or settings.page_size_default, settings.page_size_max)


Page = Annotated[PageParams, Depends()]

"""Replaying creates sent with an `Idempotency-Key` header."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.core import idempotency
from assay.core.auth import Actor
from assay.core.db import Database

HEADER = "idempotency-key"


def create_once(
    request: Request,
    *,
    actor: Actor,
    db: Database,
    body: BaseModel | None,
    create: Callable[[Session], BaseModel],
    status_code: int = 201,
) -> JSONResponse:
    """Run `create` in one write transaction; with an Idempotency-Key, at most once."""
    key = request.headers.get(HEADER)
    if not key:
        with db.write() as session:
            result = create(session)
            return JSONResponse(result.model_dump(mode="json"), status_code)
    fingerprint = idempotency.fingerprint(
        request.method, request.url.path, body.model_dump_json().encode() if body else b""
    )
    for _ in range(2):
        try:
            with db.write() as session:
                replay = idempotency.find_replay(
                    session=session,
                    user_id=actor.user_id,
                    mode=actor.mode,
                    key=key,
                    request_fingerprint=fingerprint,
                )
                if replay is not None:
                    return JSONResponse(
                        replay.response, replay.status_code, headers={"Idempotent-Replayed": "true"}
                    )
                result = create(session)
                content = result.model_dump(mode="json")
                idempotency.save_response(
                    session=session,
                    user_id=actor.user_id,
                    mode=actor.mode,
                    key=key,
                    request_fingerprint=fingerprint,
                    status_code=status_code,
                    response=content,
                )
                return JSONResponse(content, status_code)
        except IntegrityError:
            # A concurrent request with the same key won the race (PostgreSQL); replay it.
            continue
    raise RuntimeError("idempotency record neither created nor found")

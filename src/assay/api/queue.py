"""The labeling queue under /api/v1: next task, heartbeat, draft, submit, skip, review.

Labelers and reviewers see a task only through a lease (`Lease`): its params with signed
media URLs and what they need to do the work, never its metadata or other people's work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import to_json
from sqlalchemy.orm import Session
from starlette.routing import Route

from assay.api import json_body
from assay.api.deps import Ctx, CurrentActor, Db, authenticate
from assay.api.json_body import JsonRoute
from assay.core import dialects, json_values, loop_db
from assay.core.auth import Actor
from assay.core.db import Database, utcnow
from assay.core.errors import Invalid
from assay.core.settings import Settings
from assay.labeling import (
    decisions,
    instruction_notes,
    models,
    quality,
    queue,
    schemas,
    submission,
)
from assay.labeling.annotations import validate_response
from assay.labeling.pipeline import Pipeline
from assay.labeling.policies import queue as policy
from assay.labeling.task_params import labeler_params

router = APIRouter(tags=["queue"], route_class=JsonRoute)
T = TypeVar("T")


def lease_view(lease: queue.Lease, settings: Settings) -> dict[str, Any]:
    """The `schemas.Lease` body, built as a plain dict (serialised once, not re-validated)."""
    task = lease.task
    params = labeler_params(
        task.params,
        secret=settings.secret_key.get_secret_value(),
        ttl_seconds=settings.media_url_ttl_seconds,
    )
    return {
        "task": {
            "id": task.id,
            "project_id": task.project_id,
            "type": task.type,
            "params": params,
            "prelabels": task.prelabels,
            "priority": task.priority,
            "stage": task.stage or "",
            "round": task.round,
        },
        "lease_token": lease.token,
        "expires_at": lease.expires_at,
        "draft": lease.draft,
        "previous": lease.previous,
        "comments": lease.comments,
    }


def _json(body: dict[str, Any]) -> Response:
    return Response(to_json(body), media_type="application/json")


def _stage_kind(pipeline: Pipeline, stage: str | None) -> str:
    return next((s.kind for s in pipeline.stages if s.name == stage), "label")


def _load(session: Session, task_id: str, actor: Actor) -> tuple[Any, queue.Access]:
    """The task, after checking the caller may work in its project and stage."""
    task, access = queue.work_item(conn=session.connection(), task_id=task_id, actor=actor)
    policy.can_work(actor, access, access.role, _stage_kind(access.rules.pipeline, task.stage))
    return task, access


def _validated(
    access: queue.Access, task: Any, response: dict[str, Any], partial: bool
) -> dict[str, Any]:
    return validate_response(
        access.rules.taxonomy, task.type, task.params, response, partial=partial
    )


def _next_lease(db: Database, project_id: str, stage: str | None, actor: Actor) -> Any:
    # Every write below is one statement that stands on its own (free expired leases; claim
    # one task): on PostgreSQL they need no transaction around them. Serving a gold task
    # reads and writes several rows: that one takes a transaction.
    # PostgreSQL: the held-lease read also frees the stage's expired leases for the claim
    # below; with the stage named, one statement reads the caller's access too (a round trip
    # less again).
    one_transaction = db.dialect == "postgresql"
    in_one_read = one_transaction and bool(stage)
    with db.phases(atomic_statements=True) as phase:
        with phase.read() as conn:
            held: Any = None
            if in_one_read:
                access, held = queue.access_and_held(
                    conn=conn, project_id=project_id, stage_name=stage, actor=actor
                )
            else:
                access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
            pipeline = access.rules.pipeline
            chosen = pipeline.stage(stage) if stage else pipeline.stages[0]
            policy.can_work(actor, access, access.role, chosen.kind)
            quality.gate(conn=conn, access=access, stage=chosen, user_id=actor.user_id)
            if in_one_read:
                lease = held
            else:
                lease = queue.held_lease(
                    conn=conn,
                    project_id=access.id,
                    stage=chosen,
                    user_id=actor.user_id,
                    sweep=one_transaction,
                )
            gold = chosen.kind == "label" and access.rules.quality.evaluation_rate > 0
            if lease is None and gold:
                lease = quality.held_attempt(
                    conn=conn, project_id=access.id, user_id=actor.user_id, kind="evaluation"
                )
        if lease is None:
            with phase.transaction() if gold else phase.write() as conn:
                if gold and quality.serve_evaluation(access.rules.quality):
                    lease = quality.claim_evaluation(
                        conn=conn, access=access, stage=chosen, user_id=actor.user_id
                    )
                if lease is None:
                    lease = queue.claim_task(
                        conn=conn,
                        project_id=access.id,
                        pipeline=pipeline,
                        stage=chosen,
                        user_id=actor.user_id,
                        swept=one_transaction,
                    )
    return lease


@router.post(
    "/projects/{project_id}/queue/next",
    response_model=schemas.Lease,
    responses={204: {"description": "Nothing left for you in this stage"}},
    operation_id="next_task",
)
def next_task(
    project_id: str,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
    stage: Annotated[str | None, Query(description="Stage name; default the first")] = None,
) -> Any:
    """Your current lease in the stage, or the next task leased to you; 204 when none."""
    lease = _next_lease(db, project_id, stage, actor)
    if lease is None:
        return Response(status_code=204)
    return _json(lease_view(lease, ctx.settings))


@router.post(
    "/tasks/{task_id}/heartbeat", response_model=schemas.LeaseRenewed, operation_id="heartbeat"
)
def heartbeat(
    task_id: str, body: schemas.LeaseToken, actor: CurrentActor, db: Db
) -> schemas.LeaseRenewed:
    """Keep the lease while you work; 409 when it was lost."""
    with db.write() as session:
        task, access = _load(session, task_id, actor)
        if task.kind != "production":
            expires = quality.renew(
                conn=session.connection(),
                task_id=task_id,
                user_id=actor.user_id,
                token=body.lease_token,
                pipeline=access.rules.pipeline,
            )
            return schemas.LeaseRenewed(expires_at=expires)
        expires = decisions.heartbeat(
            session=session,
            task_id=task_id,
            user_id=actor.user_id,
            token=body.lease_token,
            pipeline=access.rules.pipeline,
        )
        return schemas.LeaseRenewed(expires_at=expires)


@router.put("/tasks/{task_id}/draft", status_code=204, operation_id="save_draft")
def save_draft(task_id: str, body: schemas.DraftSave, actor: CurrentActor, db: Db) -> Response:
    """Autosave unfinished work (shapes are checked, completeness is not)."""
    with db.write() as session:
        task, access = _load(session, task_id, actor)
        response = _validated(access, task, body.response, partial=True)
        if task.kind != "production":
            quality.held(session.connection(), task_id, actor.user_id, body.lease_token)
            decisions.store_draft(
                session=session, task_id=task_id, user_id=actor.user_id, response=response
            )
            return Response(status_code=204)
        decisions.save_draft(
            session=session,
            task_id=task_id,
            user_id=actor.user_id,
            token=body.lease_token,
            response=response,
        )
    return Response(status_code=204)


@router.post(
    "/tasks/{task_id}/submit",
    response_model=schemas.SubmittedThenNext,
    response_model_exclude_unset=True,
    operation_id="submit",
)
def submit(
    task_id: str,
    body: schemas.Submission,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
    then_next: Annotated[
        bool,
        Query(
            alias="next",
            description="Also lease your next task of the same stage and return it as `next` "
            "(one round trip per task instead of two)",
        ),
    ] = False,
) -> Any:
    """Your response, checked against the taxonomy; the task moves to the next stage."""
    result, following = _submission(task_id, body, actor, db, ctx)
    if then_next:
        # After the commit: the submission stands even if leasing the next task fails.
        lease = following(db)
        result["next"] = None if lease is None else lease_view(lease, ctx.settings)
    return _json(result)


# How to lease the person's next task, given the database to do it on.
Following = Callable[[Any], "queue.Lease | None"]


def _submission(
    task_id: str, body: schemas.Submission, actor: Actor, db: Database, ctx: Any
) -> tuple[dict[str, Any], Following]:
    """Apply a submission; its response body, and how to lease the person's next task."""
    # Read, check and validate first; the write only applies the result. On PostgreSQL the
    # common submission is one statement that stands on its own (it re-checks the lease
    # and what a completion must announce): no BEGIN/COMMIT; any other takes a transaction.
    with db.phases(atomic_statements=True) as phase:
        with phase.read() as conn:
            task, access = queue.work_item(conn=conn, task_id=task_id, actor=actor)
        pipeline = access.rules.pipeline
        policy.can_work(actor, access, access.role, _stage_kind(pipeline, task.stage))
        if task.kind != "production":
            return _submit_quality(phase, db, task, access, actor, body)
        queue.check_lease(task, actor.user_id, body.lease_token)
        response = _validated(access, task, body.response, partial=False)
        with phase.write() as conn:
            done = submission.submit(
                conn=conn,
                task=task,
                actor=actor,
                token=body.lease_token,
                response=response,
                pipeline=pipeline,
                settings=ctx.settings,
                quality=access.rules.quality,
                taxonomy=access.rules.taxonomy,
                feedback=body.feedback,
                transaction=phase.transaction if db.dialect == "postgresql" else None,
            )
    result: dict[str, Any] = {"task_id": done.id, "status": done.status, "stage": done.stage}
    return result, lambda on: _next_lease(on, task.project_id, task.stage, actor)


def _submit_quality(
    phase: Any,
    db: Database,
    task: Any,
    access: queue.Access,
    actor: Actor,
    body: schemas.Submission,
) -> tuple[dict[str, Any], Following]:
    """An evaluation task answers exactly as a real one would (where the task goes next);
    a training task answers with feedback: the score and the expected response."""
    response = _validated(access, task, body.response, partial=False)
    with phase.transaction() as conn:
        scored = quality.submit(
            conn=conn,
            task=task,
            user_id=actor.user_id,
            token=body.lease_token,
            response=response,
            config=access.rules.quality,
        )
        if body.feedback is not None:
            instruction_notes.add_note(
                conn, task=task, user_id=actor.user_id, note=body.feedback, now=utcnow()
            )
    result: dict[str, Any] = {"task_id": task.id}
    if scored.kind == "training":
        result.update(
            status="completed",
            stage=None,
            feedback={
                "score": scored.score,
                "passed": scored.passed,
                "expected_response": scored.expected,
            },
        )

        def next_training(on: Database) -> queue.Lease | None:
            with on.write_connection() as conn:
                return quality.next_training(conn=conn, access=access, user_id=actor.user_id)

        return result, next_training
    pipeline = access.rules.pipeline
    following_stage = submission.next_stage(pipeline, pipeline.stages[0])
    result.update(
        status="pending" if following_stage else "completed",
        stage=following_stage.name if following_stage else None,
    )
    return result, lambda on: _next_lease(on, task.project_id, None, actor)


@router.post("/tasks/{task_id}/skip", status_code=204, operation_id="skip")
def skip(task_id: str, body: schemas.Skip, actor: CurrentActor, db: Db) -> Response:
    """Give the task back, saying why; you will not be served it again in this stage.
    `broken: true` reports media that does not load: the task is tagged `broken`."""
    with db.write() as session:
        task, _ = _load(session, task_id, actor)
        if task.kind != "production":
            quality.skip(
                conn=session.connection(),
                task_id=task_id,
                user_id=actor.user_id,
                token=body.lease_token,
                reason=body.reason,
            )
        else:
            decisions.skip(
                session=session,
                task_id=task_id,
                user_id=actor.user_id,
                token=body.lease_token,
                reason=body.reason,
            )
        if body.broken:
            decisions.tag_broken(session=session, task_id=task_id)
    return Response(status_code=204)


def _audit_rate(session: Session, access: queue.Access, task: Any) -> float:
    """The labeler's own audit rate in the project, else the project's."""
    if task.labeled_by is None:
        return access.rules.quality.audit_rate
    worker = session.get(models.QualityWorker, (access.id, task.labeled_by))
    if worker is not None and worker.audit_rate is not None:
        return worker.audit_rate
    return access.rules.quality.audit_rate


@router.post("/tasks/{task_id}/review", response_model=schemas.Submitted, operation_id="review")
def review(
    task_id: str, body: schemas.Review, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.Submitted:
    """Accept the response, fix it (send the corrected one) or reject it with comments."""
    with db.write() as session:
        task, access = _load(session, task_id, actor)
        response = None
        if body.response is not None:
            if body.decision != "fix":
                raise Invalid("send a response only with decision `fix`", field="response")
            response = _validated(access, task, body.response, partial=False)
        comments = (
            [c.model_dump(exclude_none=True) for c in body.comments] if body.comments else None
        )
        task = decisions.review(
            session=session,
            task_id=task_id,
            actor=actor,
            token=body.lease_token,
            decision=body.decision,
            response=response,
            comments=comments,
            pipeline=access.rules.pipeline,
            settings=ctx.settings,
            audit_rate=_audit_rate(session, access, task),
        )
        return schemas.Submitted(task_id=task.id, status=task.status, stage=task.stage)


# --- the same two endpoints on a lighter route ------------------------------------------
#
# Next and submit are what dozens of labelers call in a loop. FastAPI's per-route machinery
# (dependency solving, the router's matching, response-model handling) cost about as much
# as the work itself (profiled), so `assay serve` matches these two paths first with plain
# Starlette routes that call the very functions above — same authentication, validation,
# errors and bodies. The FastAPI routes stay for the OpenAPI document and the SDK.


def _validation_error(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
    )


def _in_line(request: Request) -> CapacityLimiter:
    """This app's turnstile for queue work (`ASSAY_QUEUE_CONCURRENCY` at once)."""
    state = request.app.state
    limiter = getattr(state, "queue_limiter", None)
    if limiter is None:
        limiter = state.queue_limiter = CapacityLimiter(state.ctx.settings.queue_concurrency)
    return limiter


def _loop_pool(request: Request) -> loop_db.LoopPool:
    """This app's PostgreSQL connections on the event loop (made on first use, in the loop
    that serves; closed when the app stops)."""
    state = request.app.state
    pool = getattr(state, "loop_pool", None)
    if pool is None or pool.loop is not asyncio.get_running_loop():
        ctx = state.ctx
        pool = state.loop_pool = loop_db.LoopPool(ctx.db.engine, ctx.settings.queue_concurrency)
    return pool


async def _run(request: Request, work: Callable[[Any], T], *, on_loop: bool = True) -> T:
    """`work(db)`, where it costs least (on a thread when not `on_loop`).

    SQLite: on the event loop itself: its statements are local and short, and a thread hop,
    GIL hand-offs and a second thread cost more than the work (profiled: server CPU per
    cycle -35 %). Should it need the writer lock while another writer holds it, it stops at
    its BEGIN having written nothing and runs again on a thread, which waits.
    PostgreSQL: on the loop too, its statements awaited on asyncio connections
    (`core.loop_db`); work that needs more than that (a transaction) stops before it writes
    and runs again on a thread."""
    db = request.app.state.ctx.db
    if on_loop and db.dialect == "sqlite":
        try:
            with dialects.writer_or_busy():
                return work(db)
        except dialects.WriterBusy:
            pass
    elif on_loop and loop_db.AVAILABLE:
        try:
            return await loop_db.run(_loop_pool(request), work)
        except loop_db.NeedsThread:
            pass
    return await to_thread.run_sync(work, db, limiter=_in_line(request))


async def _fast_next(request: Request) -> Response:
    actor = await authenticate(request)
    ctx = request.app.state.ctx
    stage = request.query_params.get("stage")
    project_id = request.path_params["project_id"]
    return await _run(request, lambda db: next_task(project_id, actor, db, ctx, stage))


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True}
_BOOLEANS |= {"false": False, "0": False, "no": False, "off": False}


def _submission_in(raw: bytes) -> schemas.Submission:
    try:
        return schemas.Submission.model_validate(json_values.loads(raw))
    except ValidationError as exc:
        raise _validation_error(exc) from None


async def _fast_submit(request: Request) -> Response:
    actor = await authenticate(request)
    ctx = request.app.state.ctx
    raw = await request.body()
    # A large body (thousands of shapes) is parsed, and checked against the taxonomy, on a
    # thread: on the event loop it would hold up every other request of the process.
    small = len(raw) <= json_body.OFF_LOOP_BYTES
    body = _submission_in(raw) if small else await to_thread.run_sync(_submission_in, raw)
    task_id = request.path_params["task_id"]
    flag = request.query_params.get("next", "false").lower()
    if flag not in _BOOLEANS:
        raise RequestValidationError(
            [{"type": "bool_parsing", "loc": ("query", "next"), "msg": "must be true or false"}]
        )
    result, following = await _run(
        request, lambda db: _submission(task_id, body, actor, db, ctx), on_loop=small
    )
    if _BOOLEANS[flag]:
        # A step of its own: the submission is committed whatever happens to this one.
        lease = await _run(request, following)
        result["next"] = None if lease is None else lease_view(lease, ctx.settings)
    return _json(result)


def fast_routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/projects/{{project_id}}/queue/next", _fast_next, methods=["POST"]),
        Route(f"{prefix}/tasks/{{task_id}}/submit", _fast_submit, methods=["POST"]),
    ]

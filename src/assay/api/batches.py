"""Batches under /api/v1: create in a project, list with task counts, finalize, pause,
resume, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.core.auth import Actor
from assay.labeling import batches, models, schemas
from assay.labeling.policies import batches as policy

router = APIRouter(tags=["batches"], route_class=JsonRoute)


def batch_views(session: Session, items: list[models.Batch]) -> list[schemas.Batch]:
    """Batches with their task counts, counted in one grouped query."""
    counts = batches.batch_counts(session=session, batch_ids=[b.id for b in items])
    return [
        schemas.Batch.model_validate(b).model_copy(
            update={"counts": schemas.BatchCounts(**counts[b.id])}
        )
        for b in items
    ]


def _load(
    session: Session, batch_id: str, actor: Actor
) -> tuple[models.Batch, models.Project, str | None]:
    batch = batches.get_batch(session=session, batch_id=batch_id, mode=actor.mode)
    project, role = load_project(session, batch.project_id, actor)
    return batch, project, role


@router.post(
    "/projects/{project_id}/batches",
    response_model=schemas.Batch,
    status_code=201,
    operation_id="create_batch",
)
def create_batch(
    project_id: str,
    batch_in: schemas.BatchCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
) -> JSONResponse:
    """A batch in staging: add tasks, then finalize it to queue them."""

    def create(session: Session) -> schemas.Batch:
        project, role = load_project(session, project_id, actor)
        policy.can_create(actor, project, role)
        batch = batches.create_batch(
            session=session, project=project, batch_in=batch_in, actor=actor, settings=ctx.settings
        )
        return batch_views(session, [batch])[0]

    return create_once(request, actor=actor, db=db, body=batch_in, create=create)


@router.get("/batches", response_model=schemas.BatchPage, operation_id="list_batches")
def list_batches(
    actor: CurrentActor,
    db: Db,
    page: Page,
    project_id: Annotated[str | None, Query(description="Only this project's batches")] = None,
    status: Annotated[str | None, Query(description="staging, in_progress or completed")] = None,
) -> schemas.BatchPage:
    """Newest first, each with its task counts by status."""
    with db.read() as session:
        project = role = None
        if project_id is not None:
            project, role = load_project(session, project_id, actor)
        policy.can_list(actor, project, role)
        result = batches.list_batches(
            session=session,
            mode=actor.mode,
            project_id=project_id,
            status=status,
            cursor=page.cursor,
            limit=page.limit,
        )
        return schemas.BatchPage(
            items=batch_views(session, result.items), next_cursor=result.next_cursor
        )


@router.get("/batches/{batch_id}", response_model=schemas.Batch, operation_id="get_batch")
def get_batch(batch_id: str, actor: CurrentActor, db: Db) -> schemas.Batch:
    with db.read() as session:
        batch, project, role = _load(session, batch_id, actor)
        policy.can_read(actor, project, role)
        return batch_views(session, [batch])[0]


@router.post(
    "/batches/{batch_id}/finalize", response_model=schemas.Batch, operation_id="finalize_batch"
)
def finalize_batch(batch_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> schemas.Batch:
    """Queue the batch's tasks. Repeating it changes nothing."""
    with db.write() as session:
        batch, project, role = _load(session, batch_id, actor)
        policy.can_finalize(actor, project, role)
        batch = batches.finalize_batch(
            session=session, batch=batch, settings=ctx.settings, actor=actor
        )
        return batch_views(session, [batch])[0]


@router.post("/batches/{batch_id}/pause", response_model=schemas.Batch, operation_id="pause_batch")
def pause_batch(batch_id: str, actor: CurrentActor, db: Db) -> schemas.Batch:
    """Stop serving a batch in progress; the steps being worked on can still be submitted.
    Repeating it changes nothing."""
    with db.write() as session:
        batch, project, role = _load(session, batch_id, actor)
        policy.can_update(actor, project, role)
        batch = batches.pause_batch(session=session, batch=batch)
        return batch_views(session, [batch])[0]


@router.post(
    "/batches/{batch_id}/resume", response_model=schemas.Batch, operation_id="resume_batch"
)
def resume_batch(batch_id: str, actor: CurrentActor, db: Db, ctx: Ctx) -> schemas.Batch:
    """Serve a paused batch again. Repeating it changes nothing."""
    with db.write() as session:
        batch, project, role = _load(session, batch_id, actor)
        policy.can_update(actor, project, role)
        batch = batches.resume_batch(
            session=session, batch=batch, settings=ctx.settings, actor=actor
        )
        return batch_views(session, [batch])[0]


@router.post(
    "/batches/{batch_id}/cancel", response_model=schemas.Batch, operation_id="cancel_batch"
)
def cancel_batch(batch_id: str, actor: CurrentActor, db: Db) -> schemas.Batch:
    """Cancel the batch's pending tasks nobody is working on; a completed batch is a 409."""
    with db.write() as session:
        batch, project, role = _load(session, batch_id, actor)
        policy.can_update(actor, project, role)
        batches.cancel_batch(session=session, batch=batch, actor=actor)
        return batch_views(session, [batch])[0]


@router.put(
    "/batches/{batch_id}/metadata",
    response_model=schemas.Batch,
    operation_id="set_batch_metadata",
)
def set_batch_metadata(
    batch_id: str, body: schemas.BatchMetadata, actor: CurrentActor, db: Db
) -> schemas.Batch:
    """Replace the batch's metadata."""
    with db.write() as session:
        batch, project, role = _load(session, batch_id, actor)
        policy.can_update(actor, project, role)
        batch = batches.set_batch_metadata(session=session, batch=batch, metadata=body.metadata)
        return batch_views(session, [batch])[0]

"""Tasks under /api/v1 (the manager's side): create one or many, import, list, change."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from assay.api.context import AppContext
from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.core import collector, json_values
from assay.core import schemas as core_schemas
from assay.core.auth import Actor
from assay.core.db import Database
from assay.core.errors import Invalid, NotFound
from assay.labeling import batches, imports, models, schemas, task_changes, tasks
from assay.labeling.policies import tasks as policy

router = APIRouter(tags=["tasks"], route_class=JsonRoute)


def _batch(session: Session, batch_id: str | None, actor: Actor) -> models.Batch | None:
    if batch_id is None:
        return None
    try:
        return batches.get_batch(session=session, batch_id=batch_id, mode=actor.mode)
    except NotFound as exc:
        raise NotFound(exc.message, field="batch") from None


def _load(
    session: Session, task_id: str, actor: Actor
) -> tuple[models.Task, models.Project, str | None]:
    task = tasks.get_task(session=session, task_id=task_id, mode=actor.mode)
    project, role = load_project(session, task.project_id, actor)
    return task, project, role


@router.post(
    "/projects/{project_id}/tasks",
    response_model=schemas.Task,
    status_code=201,
    operation_id="create_task",
)
def create_task(
    project_id: str,
    task_in: schemas.TaskCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
) -> JSONResponse:
    """One task. A `unique_id` already taken is a 409 naming the existing task."""

    def create(session: Session) -> schemas.Task:
        project, role = load_project(session, project_id, actor)
        policy.can_create(actor, project, role)
        task = tasks.create_task(
            session=session,
            project=project,
            batch=_batch(session, task_in.batch, actor),
            task_in=task_in,
            actor=actor,
            settings=ctx.settings,
        )
        return schemas.Task.model_validate(task)

    return create_once(request, actor=actor, db=db, body=task_in, create=create)


# The bulk body is validated straight from the raw bytes in one pass of pydantic-core,
# instead of json.loads and then a validation of the Python objects (twice the time for
# 10,000 tasks); the route still documents it as a TaskBulkCreate.
_BULK_IN = TypeAdapter(schemas.TaskBulkCreate)
_BULK_SCHEMA = schemas.TaskBulkCreate.model_json_schema(ref_template="#/components/schemas/{model}")
_BULK_SCHEMA.pop("$defs", None)  # TaskCreate is a component already (create_task's body)
_BULK_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _BULK_SCHEMA}},
    }
}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _bulk_in(body: bytes) -> schemas.TaskBulkCreate:
    json_values.refuse_non_finite(body)
    try:
        return _BULK_IN.validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None


@router.post(
    "/projects/{project_id}/tasks/bulk",
    response_model=schemas.TaskBulkCreated,
    status_code=201,
    operation_id="create_tasks",
    openapi_extra=_BULK_OPENAPI,
)
def create_tasks(
    project_id: str,
    request: Request,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
    body: Annotated[bytes, Depends(_raw_body)],
) -> JSONResponse:
    """Many tasks (up to the server's max_bulk_tasks), all or none: one bad task is a 422
    naming it (`tasks[i]....`) and nothing is written. The body is a TaskBulkCreate."""
    with collector.paused():
        # The tasks are freed when _create_tasks returns, before the collector is back.
        return _create_tasks(project_id, _bulk_in(body), request, actor, db, ctx)


def _create_tasks(
    project_id: str,
    bulk_in: schemas.TaskBulkCreate,
    request: Request,
    actor: Actor,
    db: Database,
    ctx: AppContext,
) -> JSONResponse:
    def create(session: Session) -> schemas.TaskBulkCreated:
        project, role = load_project(session, project_id, actor)
        policy.can_create(actor, project, role)
        created = tasks.create_tasks(
            session=session,
            project=project,
            batch=_batch(session, bulk_in.batch, actor),
            tasks_in=bulk_in.tasks,
            actor=actor,
            settings=ctx.settings,
        )
        return schemas.TaskBulkCreated.model_validate(
            {"count": len(created), "tasks": created}, from_attributes=True
        )

    return create_once(request, actor=actor, db=db, body=bulk_in, create=create)


@router.post(
    "/projects/{project_id}/imports",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="import_tasks",
)
def import_tasks(
    project_id: str, import_in: schemas.ImportCreate, request: Request, actor: CurrentActor, db: Db
) -> JSONResponse:
    """Create tasks from an uploaded JSONL or CSV file, as a job; bad lines are in its log."""

    def create(session: Session) -> core_schemas.Job:
        project, role = load_project(session, project_id, actor)
        policy.can_import(actor, project, role)
        job = imports.start_import(
            session=session, project=project, import_in=import_in, actor=actor
        )
        return core_schemas.Job.model_validate(job)

    return create_once(request, actor=actor, db=db, body=import_in, create=create, status_code=202)


def _metadata_filter(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json_values.loads(raw.encode())
    except Invalid:
        value = None
    if not isinstance(value, dict):
        raise Invalid('metadata is a JSON object, e.g. {"customer": "acme"}', field="metadata")
    return value


@router.get("/tasks", response_model=schemas.TaskPage, operation_id="list_tasks")
def list_tasks(
    actor: CurrentActor,
    db: Db,
    page: Page,
    project_id: str | None = None,
    batch_id: str | None = None,
    status: Annotated[str | None, Query(description="pending, completed, canceled, error")] = None,
    stage: Annotated[str | None, Query(description="Tasks waiting in this pipeline stage")] = None,
    tags: Annotated[list[str] | None, Query(description="Tasks carrying every one")] = None,
    unique_id: str | None = None,
    metadata: Annotated[
        str | None, Query(description='JSON object, equality on top-level keys: {"k": "v"}')
    ] = None,
    updated_after: dt.datetime | None = None,
    updated_before: dt.datetime | None = None,
    completed_after: dt.datetime | None = None,
    completed_before: dt.datetime | None = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=20,
            description="-created (newest first, the default), created, -priority, priority, "
            "-completed, completed (finished tasks only); `-` is descending",
        ),
    ] = None,
) -> schemas.TaskPage:
    """Newest first unless `sort` says otherwise. Managers of the project (pass `project_id`)
    or global managers."""
    with db.read() as session:
        project = role = None
        if project_id is None and batch_id is not None:
            project_id = batches.get_batch(
                session=session, batch_id=batch_id, mode=actor.mode
            ).project_id
        if project_id is not None:
            project, role = load_project(session, project_id, actor)
        policy.can_list(actor, project, role)
        result = tasks.list_tasks(
            session=session,
            mode=actor.mode,
            cursor=page.cursor,
            limit=page.limit,
            project_id=project_id,
            batch_id=batch_id,
            status=status,
            stage=stage,
            tags=tags,
            unique_id=unique_id,
            metadata=_metadata_filter(metadata),
            updated_after=updated_after,
            updated_before=updated_before,
            completed_after=completed_after,
            completed_before=completed_before,
            sort=sort,
        )
        return schemas.TaskPage(
            items=[schemas.Task.model_validate(t) for t in result.items],
            next_cursor=result.next_cursor,
        )


@router.get("/tasks/{task_id}", response_model=schemas.Task, operation_id="get_task")
def get_task(task_id: str, actor: CurrentActor, db: Db) -> schemas.Task:
    with db.read() as session:
        task, project, role = _load(session, task_id, actor)
        policy.can_read(actor, project, role)
        return schemas.Task.model_validate(task)


@router.get(
    "/tasks/{task_id}/history",
    response_model=schemas.TaskEventPage,
    operation_id="get_task_history",
)
def get_task_history(task_id: str, actor: CurrentActor, db: Db) -> schemas.TaskEventPage:
    """Who did what and when: submissions, skips, reviews, cancel, audits; oldest first."""
    with db.read() as session:
        task, project, role = _load(session, task_id, actor)
        policy.can_read_history(actor, project, role)
        events = tasks.task_history(session=session, task=task)
        return schemas.TaskEventPage(items=[schemas.TaskEvent.model_validate(e) for e in events])


@router.post("/tasks/{task_id}/cancel", response_model=schemas.Task, operation_id="cancel_task")
def cancel_task(
    task_id: str,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
    clear_unique_id: Annotated[
        bool, Query(description="Free the unique_id for a new task")
    ] = False,
) -> schemas.Task:
    """Cancel a pending task."""
    with db.write() as session:
        task, project, role = _load(session, task_id, actor)
        policy.can_cancel(actor, project, role)
        task = task_changes.cancel_task(
            session=session,
            task=task,
            clear_unique_id=clear_unique_id,
            settings=ctx.settings,
            actor=actor,
        )
        return schemas.Task.model_validate(task)


@router.post("/tasks/{task_id}/audit", response_model=schemas.TaskEvent, operation_id="audit_task")
def audit_task(
    task_id: str, audit_in: schemas.TaskAudit, actor: CurrentActor, db: Db
) -> schemas.TaskEvent:
    """Accept or reject a completed task's response (recorded in its history)."""
    with db.write() as session:
        task, project, role = _load(session, task_id, actor)
        policy.can_audit(actor, project, role)
        event = task_changes.audit_task(
            session=session,
            task=task,
            actor=actor,
            accepted=audit_in.accepted,
            comments=audit_in.comments,
        )
        return schemas.TaskEvent.model_validate(event)


@router.patch("/tasks/{task_id}", response_model=schemas.Task, operation_id="update_task")
def update_task(
    task_id: str, changes: schemas.TaskUpdate, actor: CurrentActor, db: Db
) -> schemas.Task:
    """Replace metadata or tags, set or clear (null) the unique_id."""
    with db.write() as session:
        task, project, role = _load(session, task_id, actor)
        policy.can_update(actor, project, role)
        task = task_changes.update_task(
            session=session, task=task, changes=changes.model_dump(exclude_unset=True)
        )
        return schemas.Task.model_validate(task)


@router.post("/tasks/{task_id}/tags/add", response_model=schemas.Task, operation_id="add_task_tags")
def add_task_tags(
    task_id: str, body: schemas.TagsChange, actor: CurrentActor, db: Db
) -> schemas.Task:
    with db.write() as session:
        task, project, role = _load(session, task_id, actor)
        policy.can_update(actor, project, role)
        return schemas.Task.model_validate(
            task_changes.add_tags(session=session, task=task, tags=body.tags)
        )


@router.post(
    "/tasks/{task_id}/tags/remove", response_model=schemas.Task, operation_id="remove_task_tags"
)
def remove_task_tags(
    task_id: str, body: schemas.TagsChange, actor: CurrentActor, db: Db
) -> schemas.Task:
    with db.write() as session:
        task, project, role = _load(session, task_id, actor)
        policy.can_update(actor, project, role)
        return schemas.Task.model_validate(
            task_changes.remove_tags(session=session, task=task, tags=body.tags)
        )

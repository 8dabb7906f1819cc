"""Datasets and their items under /api/v1/datasets: create, list, read, rename, delete (a job);
append items in bulk, page through them, read one, delete some."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.core import collector
from assay.core import schemas as core_schemas
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.curation import (
    datasets,
    explore,
    from_labeling,
    imports,
    items,
    models,
    schemas,
    wire,
)
from assay.curation.policies import datasets as policy

router = APIRouter(tags=["datasets"], route_class=JsonRoute)


def load_dataset(session: Session, dataset_id: str, actor: Actor) -> models.Dataset:
    return datasets.get_dataset(session=session, dataset_id=dataset_id, mode=actor.mode)


def item_views(
    session: Session, rows: list[models.Item], with_annotations: bool
) -> list[schemas.Item]:
    found = (
        items.annotations_of(session=session, item_ids=[row.id for row in rows])
        if with_annotations
        else {}
    )
    return [
        schemas.Item.model_validate(row).model_copy(update={"annotations": found.get(row.id)})
        for row in rows
    ]


@router.post(
    "/datasets", response_model=schemas.Dataset, status_code=201, operation_id="create_dataset"
)
def create_dataset(
    dataset_in: schemas.DatasetCreate, request: Request, actor: CurrentActor, db: Db
) -> JSONResponse:
    """An empty dataset. Managers and admins."""
    policy.can_create(actor)

    def create(session: Session) -> schemas.Dataset:
        dataset = datasets.create_dataset(
            session=session,
            mode=actor.mode,
            name=dataset_in.name,
            is_scene=dataset_in.is_scene,
            metadata=dataset_in.metadata,
            created_by=actor.user_id,
        )
        return schemas.Dataset.model_validate(dataset)

    return create_once(request, actor=actor, db=db, body=dataset_in, create=create)


@router.get("/datasets", response_model=schemas.DatasetPage, operation_id="list_datasets")
def list_datasets(actor: CurrentActor, db: Db, page: Page) -> schemas.DatasetPage:
    """Newest first, with their counts."""
    policy.can_list(actor)
    with db.read() as session:
        result = datasets.list_datasets(
            session=session, mode=actor.mode, cursor=page.cursor, limit=page.limit
        )
        return schemas.DatasetPage(
            items=[schemas.Dataset.model_validate(d) for d in result.items],
            next_cursor=result.next_cursor,
        )


@router.get("/datasets/{dataset_id}", response_model=schemas.Dataset, operation_id="get_dataset")
def get_dataset(dataset_id: str, actor: CurrentActor, db: Db) -> schemas.Dataset:
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        return schemas.Dataset.model_validate(dataset)


@router.patch(
    "/datasets/{dataset_id}", response_model=schemas.Dataset, operation_id="update_dataset"
)
def update_dataset(
    dataset_id: str, update: schemas.DatasetUpdate, actor: CurrentActor, db: Db
) -> schemas.Dataset:
    """Rename it or replace its metadata."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        dataset = datasets.update_dataset(
            session=session, dataset=dataset, name=update.name, metadata=update.metadata
        )
        return schemas.Dataset.model_validate(dataset)


@router.delete(
    "/datasets/{dataset_id}",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="delete_dataset",
)
def delete_dataset(dataset_id: str, actor: CurrentActor, db: Db) -> core_schemas.Job:
    """Gone from every list and read at once; its rows are deleted by the job answered."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_delete(actor, dataset)
        job = datasets.delete_dataset(session=session, dataset=dataset, actor=actor)
        return core_schemas.Job.model_validate(job)


_APPEND_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {
                            "type": "array",
                            "description": "Items: reference_id, kind, media or text, width, "
                            "height, metadata, tags, annotations (ground truth, which replaces "
                            "the item's). See docs/curation.md.",
                            "items": {"type": "object"},
                        },
                        "update": {
                            "type": "boolean",
                            "default": True,
                            "description": "Update items whose reference_id is there already "
                            "(false: leave them and count them as ignored).",
                        },
                    },
                }
            }
        },
    }
}


# Appends at least this large close their connection once answered (see append_items).
SPREAD_BODY_BYTES = 1 << 20


@router.post(
    "/datasets/{dataset_id}/items",
    response_model=schemas.AppendResult,
    operation_id="append_items",
    openapi_extra=_APPEND_BODY,
)
async def append_items(
    dataset_id: str, request: Request, response: Response, actor: CurrentActor, db: Db, ctx: Ctx
) -> schemas.AppendResult:
    """Add items in bulk, or update them by reference id: all or nothing, and answered only
    once written. A retry of the same append updates what the first one wrote, so it is
    safe to repeat."""
    body = await request.body()
    if len(body) >= SPREAD_BODY_BYTES:
        # Decoding and checking a large append is a second of Python holding this process's
        # GIL. A loader's kept-alive connections tend to land on one server process (the
        # first to accept), which then runs their appends one at a time while the others
        # idle; closing after a large append lets the next one be accepted by whichever
        # process is free (bench/curation_ingest.py: one process did all the work before).
        response.headers["Connection"] = "close"

    def work() -> schemas.AppendResult:
        with collector.paused():
            append = wire.decode(body, wire.AppendIn)
        with db.read() as session:  # before checking the body: a stranger learns nothing of it
            policy.can_write(actor, load_dataset(session, dataset_id, actor))
        # Checked and encoded before the write transaction: another process can write then.
        with collector.paused():
            prepared = items.prepare_append(append=append, max_items=ctx.settings.max_append_items)
        with db.write() as session:
            dataset = load_dataset(session, dataset_id, actor)
            policy.can_write(actor, dataset)
            result = items.append_items(
                session=session, dataset=dataset, actor=actor, append=prepared
            )
        return schemas.AppendResult.model_validate(result, from_attributes=True)

    return await to_thread.run_sync(work)


@router.post(
    "/datasets/{dataset_id}/tasks",
    response_model=schemas.TasksIngested,
    operation_id="ingest_tasks",
)
def ingest_tasks(
    dataset_id: str, request_in: schemas.TasksIngest, actor: CurrentActor, db: Db
) -> schemas.TasksIngested:
    """Completed labeling tasks as items whose ground truth is their final response (the same
    annotation model, nothing converted): the tasks named, or a project's. Ingesting a task
    again updates its item."""
    if (request_in.task_ids is None) == (request_in.project_id is None):
        raise Invalid("give task_ids or project_id (not both)", field="task_ids")
    if request_in.last is not None and request_in.project_id is None:
        raise Invalid("last goes with project_id", field="last")
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        if request_in.task_ids is not None:
            tasks = from_labeling.tasks_by_id(
                session=session, actor=actor, task_ids=request_in.task_ids
            )
        else:
            _, tasks = from_labeling.project_tasks(
                session=session, actor=actor, project_id=request_in.project_id, last=request_in.last
            )
        found = from_labeling.ingest(session=session, dataset=dataset, actor=actor, tasks=tasks)
    return schemas.TasksIngested(
        ingested=found.ingested, ignored=found.ignored, pending=found.pending
    )


@router.get(
    "/datasets/{dataset_id}/items", response_model=schemas.ItemPage, operation_id="list_items"
)
def list_items(
    dataset_id: str,
    actor: CurrentActor,
    db: Db,
    page: Page,
    annotations: Annotated[bool, Query(description="Include each item's ground truth")] = False,
) -> schemas.ItemPage:
    """In the order they were added."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        result = items.list_items(
            session=session, dataset=dataset, cursor=page.cursor, limit=page.limit
        )
        return schemas.ItemPage(
            items=item_views(session, result.items, annotations), next_cursor=result.next_cursor
        )


@router.get(
    "/datasets/{dataset_id}/items/{item_id}",
    response_model=schemas.Item,
    operation_id="get_item",
)
def get_item(dataset_id: str, item_id: str, actor: CurrentActor, db: Db) -> schemas.Item:
    """One item with its ground truth."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        item = items.get_item(session=session, dataset=dataset, item_id=item_id)
        return item_views(session, [item], True)[0]


@router.get(
    "/datasets/{dataset_id}/items-by-reference/{reference_id:path}",
    response_model=schemas.Item,
    operation_id="get_item_by_reference",
)
def get_item_by_reference(
    dataset_id: str, reference_id: str, actor: CurrentActor, db: Db
) -> schemas.Item:
    """One item by its reference id, with its ground truth."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        item = items.get_item_by_reference(
            session=session, dataset=dataset, reference_id=reference_id
        )
        return item_views(session, [item], True)[0]


@router.post(
    "/datasets/{dataset_id}/items/delete",
    response_model=schemas.ItemsDeleted,
    operation_id="delete_items",
)
def delete_items(
    dataset_id: str, body: schemas.ItemsDelete, actor: CurrentActor, db: Db
) -> schemas.ItemsDeleted:
    """Delete items by reference id (unknown ones are skipped) with their annotations and
    predictions."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        deleted = items.delete_items(
            session=session, dataset=dataset, reference_ids=body.reference_ids
        )
        return schemas.ItemsDeleted(deleted=deleted)


@router.post(
    "/datasets/{dataset_id}/query", response_model=schemas.QueryAnswer, operation_id="query_items"
)
def query_items(
    dataset_id: str, request_in: schemas.QueryRequest, actor: CurrentActor, db: Db
) -> Response:
    """A page of the items (or objects) a query matches, its count and, when asked, the
    sidebar's facets. A query that does not parse is a 422 naming the token and its column."""
    if request_in.query is not None and request_in.plan is not None:
        raise Invalid("send the query as text or as a plan, not both", field="plan")
    # The snapshot is as of the dataset row's revision; the page's rows are read as they are.
    with db.read_statements() as session:
        dataset = datasets.get_dataset_head(session=session, dataset_id=dataset_id, mode=actor.mode)
        policy.can_read(actor, dataset)
        found = explore.explore(
            session=session,
            dataset=dataset,
            query=request_in.plan if request_in.plan is not None else request_in.query,
            view=request_in.view,
            limit=request_in.limit,
            cursor=request_in.cursor,
            offset=request_in.offset,
            order_by=request_in.order_by,
            with_facets=request_in.facets,
            with_predictions=request_in.predictions,
            raw_json=True,
        )
    # Encoded here (the shape `QueryAnswer` documents): the items' JSON columns go out as
    # the text they were read as.
    answer = {
        "revision": found.revision,
        "count": found.count,
        "items": found.rows,
        "next_cursor": found.next_cursor,
        "facets": found.facets,
    }
    return Response(msgspec.json.encode(answer), media_type="application/json")


@router.post(
    "/datasets/{dataset_id}/imports",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="import_items",
)
def import_items(
    dataset_id: str, import_in: schemas.DatasetImportCreate, actor: CurrentActor, db: Db, ctx: Ctx
) -> core_schemas.Job:
    """Append the items of an uploaded JSONL, CSV or COCO file, or of a zip or tar of images
    (plain or YOLO), as a job with progress."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        job = imports.start_import(
            session=session,
            dataset=dataset,
            actor=actor,
            sha256=import_in.sha256,
            path=import_in.path,
            import_root=ctx.settings.import_root,
            file_format=import_in.format,
        )
        return core_schemas.Job.model_validate(job)

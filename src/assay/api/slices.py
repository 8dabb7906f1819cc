"""Slices of a dataset under /api/v1/datasets/{id}/slices: create (static, dynamic or
object), list, read, add and remove items, page through their items, delete; send a slice to
labeling and follow what came back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.api.datasets import load_dataset
from assay.api.deps import Ctx, CurrentActor, Db, Page
from assay.api.idempotency import create_once
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.core.errors import Invalid
from assay.core.pagination import paginate
from assay.curation import models, schemas, slices, to_labeling
from assay.curation.policies import datasets as policy
from assay.labeling.policies import projects as project_policy

router = APIRouter(tags=["slices"], route_class=JsonRoute)


def slice_view(session: Session, dataset: models.Dataset, found: models.Slice) -> schemas.Slice:
    count = slices.count_items(session=session, dataset=dataset, found=found)
    return schemas.Slice.model_validate(found).model_copy(update={"item_count": count})


@router.post(
    "/datasets/{dataset_id}/slices",
    response_model=schemas.Slice,
    status_code=201,
    operation_id="create_slice",
)
def create_slice(
    dataset_id: str,
    slice_in: schemas.SliceCreate,
    request: Request,
    actor: CurrentActor,
    db: Db,
) -> JSONResponse:
    """A static slice of chosen items (or of what a query matches now), a dynamic slice of
    a query, which follows the data, or an object slice of chosen objects."""

    def create(session: Session) -> schemas.Slice:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        objects = None
        if slice_in.object_ids is not None:
            objects = slices.objects_of_places(
                session=session, dataset=dataset, object_ids=slice_in.object_ids
            )
        found = slices.create_slice(
            session=session,
            dataset=dataset,
            name=slice_in.name,
            kind=slice_in.kind,
            reference_ids=slice_in.reference_ids,
            query=slice_in.query,
            objects=objects,
            created_by=actor.user_id,
        )
        return slice_view(session, dataset, found)

    return create_once(request, actor=actor, db=db, body=slice_in, create=create)


@router.get(
    "/datasets/{dataset_id}/slices", response_model=schemas.SlicePage, operation_id="list_slices"
)
def list_slices(dataset_id: str, actor: CurrentActor, db: Db, page: Page) -> schemas.SlicePage:
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        result = slices.list_slices(
            session=session, dataset=dataset, cursor=page.cursor, limit=page.limit
        )
        return schemas.SlicePage(
            items=[schemas.Slice.model_validate(s) for s in result.items],
            next_cursor=result.next_cursor,
        )


@router.get(
    "/datasets/{dataset_id}/slices/{slice_id}",
    response_model=schemas.Slice,
    operation_id="get_slice",
)
def get_slice(dataset_id: str, slice_id: str, actor: CurrentActor, db: Db) -> schemas.Slice:
    """The slice with how many items it holds now."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        return slice_view(session, dataset, found)


@router.get(
    "/datasets/{dataset_id}/slices/{slice_id}/items",
    response_model=schemas.SliceItems,
    operation_id="slice_items",
)
def slice_items(
    dataset_id: str,
    slice_id: str,
    actor: CurrentActor,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=24)] = None,
) -> schemas.SliceItems:
    """The ids of the slice's items (a dynamic slice's query run now), a page at a time."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        ids = sorted(slices.slice_item_ids(session=session, dataset=dataset, found=found))
    after = [i for i in ids if cursor is None or i > cursor]
    page = after[:limit]
    return schemas.SliceItems(
        count=len(ids), item_ids=page, next_cursor=page[-1] if len(after) > limit else None
    )


@router.post(
    "/datasets/{dataset_id}/slices/{slice_id}/items",
    response_model=schemas.SliceMembersChanged,
    operation_id="add_slice_items",
)
def add_slice_items(
    dataset_id: str, slice_id: str, body: schemas.SliceMembers, actor: CurrentActor, db: Db
) -> schemas.SliceMembersChanged:
    """Add items by reference id to a static slice (those in it already are skipped)."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        changed = slices.add_items(
            session=session, dataset=dataset, found=found, reference_ids=body.reference_ids
        )
        return schemas.SliceMembersChanged(changed=changed)


@router.post(
    "/datasets/{dataset_id}/slices/{slice_id}/items/remove",
    response_model=schemas.SliceMembersChanged,
    operation_id="remove_slice_items",
)
def remove_slice_items(
    dataset_id: str, slice_id: str, body: schemas.SliceMembers, actor: CurrentActor, db: Db
) -> schemas.SliceMembersChanged:
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        changed = slices.remove_items(
            session=session, dataset=dataset, found=found, reference_ids=body.reference_ids
        )
        return schemas.SliceMembersChanged(changed=changed)


@router.delete(
    "/datasets/{dataset_id}/slices/{slice_id}",
    response_model=schemas.SliceMembersChanged,
    operation_id="delete_slice",
)
def delete_slice(
    dataset_id: str, slice_id: str, actor: CurrentActor, db: Db
) -> schemas.SliceMembersChanged:
    """The slice goes; its items stay in the dataset."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        slices.delete_slice(session=session, dataset=dataset, found=found)
        return schemas.SliceMembersChanged(changed=1)


@router.post(
    "/datasets/{dataset_id}/slices/{slice_id}/send",
    response_model=schemas.LabelingLink,
    status_code=201,
    operation_id="send_slice_to_labeling",
)
def send_slice(
    dataset_id: str,
    slice_id: str,
    send: schemas.SliceSend,
    request: Request,
    actor: CurrentActor,
    db: Db,
    ctx: Ctx,
) -> JSONResponse:
    """A batch in a labeling project with a task per item of the slice (a model's
    predictions as pre-labels); completed labels come back as the items' ground truth."""

    def create(session: Session) -> schemas.LabelingLink:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        found = slices.get_slice(session=session, dataset=dataset, slice_id=slice_id)
        project, role = load_project(session, send.project_id, actor)
        project_policy.require_manager(actor, project, role, "sending items to a project")
        if project.mode != dataset.mode:
            raise Invalid(f"no project with id {send.project_id}", field="project_id")
        item_ids = slices.slice_item_ids(session=session, dataset=dataset, found=found)
        link = to_labeling.send_items(
            session=session,
            dataset=dataset,
            item_ids=item_ids,
            project=project,
            actor=actor,
            settings=ctx.settings,
            batch_name=send.batch_name,
            model_id=send.model_id,
            slice_id=found.id,
            finalize=send.finalize,
        )
        return schemas.LabelingLink.model_validate(link)

    return create_once(request, actor=actor, db=db, body=send, create=create)


@router.get(
    "/datasets/{dataset_id}/labeling",
    response_model=schemas.LabelingLinkPage,
    operation_id="list_labeling_links",
)
def list_labeling_links(
    dataset_id: str, actor: CurrentActor, db: Db, page: Page
) -> schemas.LabelingLinkPage:
    """What was sent to labeling from this dataset and how much came back."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        statement = select(models.LabelingLink).where(models.LabelingLink.dataset_id == dataset.id)
        result = paginate(
            session, statement, key=models.LabelingLink.id, cursor=page.cursor, limit=page.limit
        )
        return schemas.LabelingLinkPage(
            items=[schemas.LabelingLink.model_validate(link) for link in result.items],
            next_cursor=result.next_cursor,
        )

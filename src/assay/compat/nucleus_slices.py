"""Nucleus slices (docs/nucleus-wire.md §3.7) on curation's static slices: create (by
reference ids, or empty), info, append, items, export for training, the dataset's and the
account's slice lists, delete, and a slice's embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from sqlalchemy import select

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import MediaUrls, body_list, load_dataset
from assay.compat.nucleus_items import _secret, export_rows
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.errors import Invalid, NotFound
from assay.curation import datasets, models, slices
from assay.curation.policies import datasets as policy

router = APIRouter(route_class=ScaleRoute)
SLICE = "slc_"
MAX_IDS = 10_000


def _slice_json(found: models.Slice) -> dict[str, Any]:
    return {
        "id": fmt.nucleus_id(SLICE, found.id),
        "slice_id": fmt.nucleus_id(SLICE, found.id),
        "name": found.name,
        "dataset_id": fmt.nucleus_id(fmt.DATASET, found.dataset_id),
        "created_at": fmt.iso(found.created_at),
        "type": "dataset_item",
        "pending_job_count": 0,
        "description": None,
        "tags": [],
    }


def _load(session: Any, slice_id: str, actor: Any, *, write: bool = False):
    """(slice, dataset) by the slice's Nucleus id, or NotFound."""
    found = session.get(models.Slice, fmt.assay_id(SLICE, slice_id))
    if found is None:
        raise NotFound(f"no slice with id {slice_id}", field="slice_id")
    try:
        dataset = datasets.get_dataset(
            session=session, dataset_id=found.dataset_id, mode=actor.mode
        )
    except NotFound:
        raise NotFound(f"no slice with id {slice_id}", field="slice_id") from None
    (policy.can_write if write else policy.can_read)(actor, dataset)
    return found, dataset


def _reference_ids(body: dict[str, Any]) -> list[str]:
    refs = body_list(body, "reference_ids")
    if len(refs) > MAX_IDS:
        raise Invalid(f"at most {MAX_IDS} reference ids per request", field="reference_ids")
    for i, ref in enumerate(refs):
        if not isinstance(ref, str) or not ref:
            raise Invalid("reference ids are non-empty strings", field=f"reference_ids[{i}]")
    return refs


@router.post("/dataset/{dataset_id}/create_slice")
def create_slice(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name is required", field="name")
    refs = _reference_ids(body)
    if body.get("dataset_item_ids"):
        raise Invalid(
            "create slices by reference_ids (dataset_item_ids are not served)",
            field="dataset_item_ids",
        )
    if not refs and not body.get("allow_empty"):
        raise Invalid("reference_ids is required (or allow_empty)", field="reference_ids")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        found = slices.create_slice(
            session=session,
            dataset=dataset,
            name=name,
            reference_ids=refs,
            created_by=actor.user_id,
        )
        return {"slice_id": fmt.nucleus_id(SLICE, found.id)}


@router.get("/slice/{slice_id}/info")
def slice_info(slice_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        found, _ = _load(session, slice_id, actor)
        return _slice_json(found)


@router.post("/slice/{slice_id}/append")
def append_to_slice(
    slice_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    refs = _reference_ids(body)
    with ctx.db.write() as session:
        found, dataset = _load(session, slice_id, actor, write=True)
        slices.add_items(session=session, dataset=dataset, found=found, reference_ids=refs)
        return {"slice_id": fmt.nucleus_id(SLICE, found.id), "new_items": refs}


def _members(session: Any, found: models.Slice, dataset: models.Dataset) -> list[models.Item]:
    ids = slices.slice_item_ids(session=session, dataset=dataset, found=found)
    rows: list[models.Item] = []
    for start in range(0, len(ids), 500):
        rows.extend(
            session.scalars(
                select(models.Item)
                .where(models.Item.id.in_(ids[start : start + 500]))
                .order_by(models.Item.id)
            )
        )
    return rows


@router.get("/slice/{slice_id}")
def slice_items(slice_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        return {
            **_slice_json(found),
            "items": [fmt.item_out(item, urls(item)) for item in _members(session, found, dataset)],
        }


@router.post("/slice/{slice_id}/itemsPage")
def slice_items_page(
    slice_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        return {
            "items": [fmt.item_out(item, urls(item)) for item in _members(session, found, dataset)],
            "nextPageToken": None,
        }


@router.get("/slice/{slice_id}/exportForTraining")
def slice_export(slice_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        return {"exportedRows": export_rows(session, _members(session, found, dataset), urls)}


@router.get("/dataset/{dataset_id}/slices")
def dataset_slices(dataset_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> list[Any]:
    name = request.query_params.get("name")
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        statement = select(models.Slice).where(models.Slice.dataset_id == dataset.id)
        if name:
            statement = statement.where(models.Slice.name == name)
        return [_slice_json(s) for s in session.scalars(statement.order_by(models.Slice.id))]


@router.get("/slice/")
def all_slices(actor: CurrentActor, ctx: Ctx) -> list[Any]:
    policy.can_list(actor)
    with ctx.db.read() as session:
        found = session.scalars(
            select(models.Slice)
            .join(models.Dataset, models.Dataset.id == models.Slice.dataset_id)
            .where(models.Dataset.mode == actor.mode, models.Dataset.deleting.is_(False))
            .order_by(models.Slice.id)
        )
        return [_slice_json(s) for s in found]


@router.delete("/slice/{slice_id}")
def delete_slice(
    slice_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    with ctx.db.write() as session:
        found, dataset = _load(session, slice_id, actor, write=True)
        slices.delete_slice(session=session, dataset=dataset, found=found)
        return {}


@router.get("/slice/{slice_id}/embeddings")
def slice_embeddings(slice_id: str, actor: CurrentActor, ctx: Ctx) -> list[Any]:
    """The slice's items' vectors (the dataset's first embedding space)."""
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        spaces = sorted(dataset.embedding_spaces or {})
        if not spaces:
            return []
        members = _members(session, found, dataset)
        table = models.Embedding.__table__
        vectors = dict(
            session.execute(
                select(table.c.item_id, table.c.vector).where(
                    table.c.item_id.in_([m.id for m in members]), table.c.space == spaces[0]
                )
            ).all()
        )
        return [
            {
                "reference_id": m.reference_id,
                "embedding_vector": np.frombuffer(vectors[m.id], dtype=np.float32).tolist(),
            }
            for m in members
            if m.id in vectors
        ]

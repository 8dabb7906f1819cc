"""Nucleus slices (docs/nucleus-wire.md §3.7) on curation's static slices: create (by
reference ids, item ids or scene ids, or empty; an object slice by annotation and prediction
ids, `curation/slice_objects.py`), build (a random or most-unique sample,
optionally of a slice or an autotag's score range), info, tags, append, items, the
dataset's and the account's slice lists, delete. Exports: nucleus_slice_exports;
embeddings: nucleus_embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from sqlalchemy import select

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import MediaUrls, body_list, load_dataset, string_list
from assay.compat.nucleus_items import _secret, export_rows
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.errors import Invalid, NotFound
from assay.curation import datasets, embedding_spaces, measures, models, slice_objects, slices
from assay.curation.policies import datasets as policy

router = APIRouter(route_class=ScaleRoute)
SLICE = "slc_"
AUTOTAG = "tag_"
MAX_IDS = 10_000


def _slice_json(found: models.Slice) -> dict[str, Any]:
    return {
        "id": fmt.nucleus_id(SLICE, found.id),
        "slice_id": fmt.nucleus_id(SLICE, found.id),
        "name": found.name,
        "dataset_id": fmt.nucleus_id(fmt.DATASET, found.dataset_id),
        "created_at": fmt.iso(found.created_at),
        "type": "object" if found.kind == "object" else "dataset_item",
        "pending_job_count": 0,
        "description": None,
        "tags": list(found.tags or []),
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
    by_ids = bool(body.get("dataset_item_ids") or body.get("scene_ids"))
    if body.get("object_ids"):
        if refs or by_ids:
            raise Invalid("object ids may not be mixed with items or scenes", field="object_ids")
        return _create_object_slice(dataset_id, name, body, actor, ctx)
    if not refs and not by_ids and not body.get("allow_empty"):
        raise Invalid("reference_ids is required (or allow_empty)", field="reference_ids")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        if by_ids:
            refs = refs + _references_of_ids(session, dataset, body)
        found = slices.create_slice(
            session=session,
            dataset=dataset,
            name=name,
            reference_ids=refs,
            created_by=actor.user_id,
        )
        return {"slice_id": fmt.nucleus_id(SLICE, found.id)}


def _create_object_slice(
    dataset_id: str, name: str, body: dict[str, Any], actor: Any, ctx: Any
) -> dict[str, Any]:
    """An object slice of the annotations (`ann_…`) and predictions (`pred_…`) named by their
    internal ids (`nucleus_format.object_id`); a malformed id is a 400 and one that is no
    object of this dataset a 404, each naming `object_ids[i]`, before anything is written."""
    wanted = body_list(body, "object_ids")
    if len(wanted) > MAX_IDS:
        raise Invalid(f"at most {MAX_IDS} ids per request", field="object_ids")
    objects: list[slice_objects.ObjectRef] = []
    for i, value in enumerate(wanted):
        found = fmt.parse_object_id(value)
        if found is None:
            raise Invalid(
                f"{value!r} is no annotation (ann_…) or prediction (pred_…) id",
                field=f"object_ids[{i}]",
            )
        objects.append(found)
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        created = slices.create_slice(
            session=session,
            dataset=dataset,
            name=name,
            kind="object",
            objects=objects,
            object_labels=[str(v) for v in wanted],
            created_by=actor.user_id,
        )
        return {"slice_id": fmt.nucleus_id(SLICE, created.id)}


def _references_of_ids(session: Any, dataset: models.Dataset, body: dict[str, Any]) -> list[str]:
    """Reference ids of the items named by `dataset_item_ids` (`di_…`) and of the items of
    the scenes named by `scene_ids` (`scn_…`); an id not in the dataset is a 404 naming it."""
    refs: list[str] = []
    for key, prefix, column in (
        ("dataset_item_ids", fmt.ITEM, models.Item.id),
        ("scene_ids", fmt.SCENE, models.Item.scene_id),
    ):
        wanted = [fmt.assay_id(prefix, str(v)) for v in body_list(body, key)]
        if len(wanted) > MAX_IDS:
            raise Invalid(f"at most {MAX_IDS} ids per request", field=key)
        found: dict[str, list[str]] = {}
        for start in range(0, len(wanted), 500):
            rows = session.execute(
                select(column, models.Item.reference_id)
                .where(
                    models.Item.dataset_id == dataset.id, column.in_(wanted[start : start + 500])
                )
                .order_by(models.Item.id)
            )
            for owner, ref in rows:
                found.setdefault(owner, []).append(ref)
        for i, one in enumerate(wanted):
            if one not in found:
                raise NotFound(
                    f"no {key[:-4]} {body[key][i]!r} in this dataset", field=f"{key}[{i}]"
                )
            refs.extend(found[one])
    return list(dict.fromkeys(refs))


@router.post("/dataset/{dataset_id}/build_slice")
def build_slice(dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """A slice of a sample of the dataset's items (of a slice's, or of those whose autotag
    score is in a range): random, or the most unique by the primary embedding space's
    uniqueness among them; answered without a job, as the client allows."""
    name, size = body.get("name"), body.get("sampleSize")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name is required", field="name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise Invalid("sampleSize must be a positive integer", field="sampleSize")
    method = body.get("sampleMethod")
    if method not in ("Random", "Uniqueness"):
        raise Invalid(
            f"sampleMethod {method!r} is not one of Random, Uniqueness", field="sampleMethod"
        )
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise Invalid("filters must be an object", field="filters")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        pool = _sample_pool(session, dataset, actor, filters)
        if method == "Uniqueness":
            space = embedding_spaces.primary_space(dataset)
            if space is None:
                raise Invalid(
                    "Uniqueness samples by embeddings and this dataset has none "
                    "(create_image_index or create_custom_index first)",
                    field="sampleMethod",
                )
            refs = measures.most_unique(
                session=session, dataset=dataset, space=space, reference_ids=pool, size=size
            )
        else:
            chosen = np.random.default_rng().choice(len(pool), min(size, len(pool)), replace=False)
            refs = [pool[i] for i in sorted(chosen.tolist())]
        found = slices.create_slice(
            session=session,
            dataset=dataset,
            name=name,
            reference_ids=refs,
            created_by=actor.user_id,
        )
        return {"sliceId": fmt.nucleus_id(SLICE, found.id), "size": len(refs)}


def _sample_pool(
    session: Any, dataset: models.Dataset, actor: Any, filters: dict[str, Any]
) -> list[str]:
    """Reference ids of the items the filters let through."""
    statement = select(models.Item.reference_id).where(models.Item.dataset_id == dataset.id)
    if filters.get("sliceId"):
        within, within_dataset = _load(session, str(filters["sliceId"]), actor)
        if within_dataset.id != dataset.id:
            raise Invalid("filters.sliceId is a slice of another dataset", field="filters.sliceId")
        members = slices.slice_item_ids(session=session, dataset=dataset, found=within)
        statement = statement.where(models.Item.id.in_(members))
    autotag = filters.get("autotag")
    if autotag:
        low, high = _score_range(autotag)
        tag = session.get(models.Autotag, fmt.assay_id(AUTOTAG, str(autotag.get("autotagId"))))
        if tag is None or tag.dataset_id != dataset.id:
            raise NotFound(
                f"no autotag {autotag.get('autotagId')!r} on this dataset",
                field="filters.autotag.autotagId",
            )
        scores = models.AutotagScore.__table__
        statement = statement.where(
            models.Item.id.in_(
                select(scores.c.item_id).where(
                    scores.c.autotag_id == tag.id, scores.c.score.between(low, high)
                )
            )
        )
    return list(session.scalars(statement.order_by(models.Item.id)))


def _score_range(autotag: Any) -> tuple[float, float]:
    bounds = autotag.get("range") if isinstance(autotag, dict) else None
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(isinstance(b, int | float) for b in bounds)
    ):
        raise Invalid("the autotag filter needs range: [low, high]", field="filters.autotag.range")
    return float(bounds[0]), float(bounds[1])


@router.post("/slice/{slice_id}/tag")
def add_slice_tags(
    slice_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    tags = string_list(body, "slice_tags")
    with ctx.db.write() as session:
        found, _ = _load(session, slice_id, actor, write=True)
        found.tags = list(dict.fromkeys([*(found.tags or []), *tags]))
        return {"slice_id": fmt.nucleus_id(SLICE, found.id), "tags": found.tags}


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
    return _items(session, slices.slice_item_ids(session=session, dataset=dataset, found=found))


def _items(session: Any, ids: list[str]) -> list[models.Item]:
    """The items, in id order."""
    ids = sorted(ids)
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


def object_members(
    session: Any, found: models.Slice
) -> list[tuple[slice_objects.ObjectRef, dict[str, Any], models.Item]]:
    """An object slice's live objects, each with its shape and item."""
    live = list(slice_objects.live_objects(session=session, found=found))
    by_id = {i.id: i for i in _items(session, list({ref.item_id for ref, _ in live}))}
    return [(ref, shape, by_id[ref.item_id]) for ref, shape in live if ref.item_id in by_id]


def object_json(ref: slice_objects.ObjectRef, shape: dict[str, Any], item: models.Item):
    """An object slice's member as annotation or prediction JSON (None: no Nucleus type)."""
    return fmt.shape_out(
        shape, reference_id=item.reference_id, item_id=item.id, source_id=ref.source_id
    )


def member_filter(session: Any, found: models.Slice, source_id: str):
    """For an object slice, what keeps only its members of the source in export rows."""
    if found.kind != "object":
        return None
    chosen = {
        (o.item_id, o.key)
        for o in slice_objects.members(session=session, found=found)
        if o.source_id == source_id
    }
    return lambda item_id, shape: (item_id, slice_objects.shape_key(shape)) in chosen


@router.get("/slice/{slice_id}")
def slice_items(slice_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """The members: items, or an object slice's annotations and predictions (`Slice.items`
    tells them apart by their ids' prefixes)."""
    urls = MediaUrls(request, _secret(ctx))
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        if found.kind == "object":
            members = [object_json(*one) for one in object_members(session, found)]
            return {**_slice_json(found), "items": [m for m in members if m is not None]}
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
        keep = member_filter(session, found, models.GROUND_TRUTH)
        rows = export_rows(session, _members(session, found, dataset), urls, keep=keep)
        return {"exportedRows": rows}


def _slice_type(value: str | None) -> str | None:
    """`get_slices(slice_type=...)`'s type; a client on Python 3.12+ formats the enum as
    `SliceType.OBJECT`, so its member name is read too."""
    if not value:
        return None
    kind = value.rpartition(".")[2].lower()
    if kind not in ("dataset_item", "object", "scene"):
        raise Invalid(f"unknown slice type {value!r}", field="type")
    return kind


@router.get("/dataset/{dataset_id}/slices")
def dataset_slices(dataset_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> list[Any]:
    name = request.query_params.get("name")
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        statement = select(models.Slice).where(models.Slice.dataset_id == dataset.id)
        if name:
            statement = statement.where(models.Slice.name == name)
        kind = _slice_type(request.query_params.get("type"))
        if kind == "object":
            statement = statement.where(models.Slice.kind == "object")
        elif kind == "dataset_item":
            statement = statement.where(models.Slice.kind != "object")
        elif kind is not None:  # scene slices: Assay makes none
            return []
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

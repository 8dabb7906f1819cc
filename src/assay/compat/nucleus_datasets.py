"""Nucleus datasets (docs/nucleus-wire.md §3.1): create, list, read, size, delete (a job),
taxonomies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import body_list, flag, job_json, load_dataset
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.errors import Invalid
from assay.curation import annotations, datasets
from assay.curation import models as curation_models
from assay.curation.policies import datasets as policy

router = APIRouter(route_class=ScaleRoute)
ALL = 1000
SCHEMA_KEYS = ("item_metadata_schema", "annotation_metadata_schema")
TAXONOMY_TYPES = ("category", "multicategory")


def _all_datasets(session: Any, mode: str) -> list[Any]:
    found, cursor = [], None
    while True:
        page = datasets.list_datasets(session=session, mode=mode, cursor=cursor, limit=ALL)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


@router.post("/dataset/create")
def create_dataset(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    policy.can_create(actor)
    name = body.get("name")
    if not isinstance(name, str):
        raise Invalid("name is required", field="name")
    metadata: dict[str, Any] = {}
    for key in SCHEMA_KEYS:
        schema = body.get(key)
        if schema is not None:
            if not isinstance(schema, dict):
                raise Invalid(f"{key} must be an object", field=key)
            metadata[key] = schema
    if flag(body, "use_privacy_mode"):
        metadata["use_privacy_mode"] = True
    with ctx.db.write() as session:
        dataset = datasets.create_dataset(
            session=session,
            mode=actor.mode,
            name=name,
            is_scene=flag(body, "is_scene"),
            metadata=metadata,
            created_by=actor.user_id,
        )
        return {"dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id), "name": dataset.name}


@router.get("/dataset/details")
def dataset_details(actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    policy.can_list(actor)
    with ctx.db.read() as session:
        return [
            {"id": fmt.nucleus_id(fmt.DATASET, d.id), "name": d.name, "is_public": False}
            for d in _all_datasets(session, actor.mode)
        ]


@router.get("/dataset/")
def list_datasets(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    policy.can_list(actor)
    with ctx.db.read() as session:
        found = _all_datasets(session, actor.mode)
        return {
            "dataset_ids": [fmt.nucleus_id(fmt.DATASET, d.id) for d in found],
            "dataset_names": [d.name for d in found],
        }


@router.delete("/dataset/{dataset_id}")
def delete_dataset(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """Gone from every read at once; its rows are deleted by the job answered."""
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_delete(actor, dataset)
        job = datasets.delete_dataset(session=session, dataset=dataset, actor=actor)
        return {
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            **job_json(job),
            "message": f"Deleting dataset {dataset.name!r}",
        }


@router.get("/dataset/{dataset_id}/name")
def dataset_name(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        return {"name": load_dataset(session, dataset_id, actor).name}


@router.get("/dataset/{dataset_id}/is_scene")
def dataset_is_scene(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        return {"is_scene": load_dataset(session, dataset_id, actor).is_scene}


@router.get("/dataset/{dataset_id}/use_privacy_mode")
def dataset_privacy(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        return {"use_privacy_mode": bool(dataset.metadata_.get("use_privacy_mode", False))}


@router.get("/dataset/{dataset_id}/info")
def dataset_info(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        models = annotations.sources(session=session, dataset=dataset)
        return {
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            "name": dataset.name,
            "length": dataset.item_count,
            "model_run_ids": [fmt.run_id(m, dataset.id) for m in models],
            "slice_ids": [
                "slc_" + s
                for s in session.scalars(
                    select(curation_models.Slice.id)
                    .where(curation_models.Slice.dataset_id == dataset.id)
                    .order_by(curation_models.Slice.id)
                )
            ],
            "annotation_metadata_schema": dataset.metadata_.get("annotation_metadata_schema"),
            "item_metadata_schema": dataset.metadata_.get("item_metadata_schema"),
            "tags": list(dataset.metadata_.get("tags", [])),
            "taxonomies": dataset.taxonomies,
        }


@router.get("/dataset/{dataset_id}/size")
def dataset_size(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        return {"count": load_dataset(session, dataset_id, actor).item_count}


@router.get("/dataset/{dataset_id}/model_runs")
def dataset_model_runs(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> list[str]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        return [
            fmt.run_id(m, dataset.id) for m in annotations.sources(session=session, dataset=dataset)
        ]


@router.post("/dataset/{dataset_id}/add_taxonomy")
def add_taxonomy(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    name = body.get("taxonomy_name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("taxonomy_name is required", field="taxonomy_name")
    kind = body.get("type")
    if kind not in TAXONOMY_TYPES:
        raise Invalid(f"type must be one of {', '.join(TAXONOMY_TYPES)}", field="type")
    labels = body_list(body, "labels", required=True)
    if not labels or not all(isinstance(label, str) and label for label in labels):
        raise Invalid("labels must be a non-empty list of strings", field="labels")
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        if name in dataset.taxonomies and not flag(body, "update"):
            raise Invalid(
                f"the dataset has a taxonomy named {name!r}; send update=true to replace it",
                field="taxonomy_name",
            )
        datasets.set_taxonomy(
            session=session,
            dataset=dataset,
            name=name,
            taxonomy={"type": kind, "labels": list(dict.fromkeys(labels))},
        )
        return {
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            "taxonomy_name": name,
            "status": "Taxonomy created",
        }


@router.delete("/dataset/{dataset_id}/taxonomy/{name:path}")
def delete_taxonomy(
    dataset_id: str, name: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        datasets.remove_taxonomy(session=session, dataset=dataset, name=name)
        return {
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            "taxonomy_name": name,
            "status": "Taxonomy successfully deleted",
        }


# --- tags (kept in the dataset's metadata under "tags") ---------------------------------


def _tags_of(body: dict[str, Any] | None) -> list[str]:
    tags = body_list(body or {}, "tags", required=True)
    if not all(isinstance(tag, str) and tag.strip() for tag in tags):
        raise Invalid("tags must be non-empty strings", field="tags")
    return tags


@router.get("/dataset/{dataset_id}/tags")
def get_tags(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        return {"tags": list(load_dataset(session, dataset_id, actor).metadata_.get("tags", []))}


def _set_tags(ctx: Any, actor: Any, dataset_id: str, change: Any) -> dict[str, Any]:
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        tags = change(list(dataset.metadata_.get("tags", [])))
        datasets.update_dataset(
            session=session, dataset=dataset, metadata={**dataset.metadata_, "tags": tags}
        )
        return {"dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id), "tags": tags}


@router.post("/dataset/{dataset_id}/tags")
def add_tags(dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    added = _tags_of(body)
    return _set_tags(ctx, actor, dataset_id, lambda tags: list(dict.fromkeys(tags + added)))


@router.delete("/dataset/{dataset_id}/tags")
def remove_tags(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    removed = set(_tags_of(body))
    return _set_tags(ctx, actor, dataset_id, lambda tags: [t for t in tags if t not in removed])

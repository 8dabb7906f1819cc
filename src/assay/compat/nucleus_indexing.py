"""Nucleus's indexing calls (docs/nucleus-wire.md §3.10) on the dataset's embedding spaces
(`curation/embedding_spaces.py`): a custom index imported from JSON files at URLs (the space
`custom`), deleted; the image index computed by the default image embedder
(`ASSAY_DEFAULT_IMAGE_EMBEDDER`, its space named after it); which of the two is primary;
continuous indexing. Object indexes are not kept: Assay's embeddings are per item."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import flag, job_json, load_dataset
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.errors import Invalid
from assay.curation import embedding_spaces

router = APIRouter(route_class=ScaleRoute)
CUSTOM = "custom"
NO_OBJECT_INDEX = (
    "this server keeps embeddings per item, not per object: it has no object index to "
    "build or to use"
)


def _image_only(body: dict[str, Any]) -> None:
    if not flag(body, "image", True):
        raise Invalid(NO_OBJECT_INDEX, field="image")


@router.post("/indexing/{dataset_id}")
def create_custom_index(
    dataset_id: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """A `customIndexing` job reading `{reference_id: vector}` files into the space `custom`."""
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        job = embedding_spaces.start_import(
            session=session,
            dataset=dataset,
            actor=actor,
            space=CUSTOM,
            urls=body.get("embeddings_urls"),  # type: ignore[arg-type]  (checked there)
            dim=body.get("embedding_dimension"),  # type: ignore[arg-type]
            settings=ctx.settings,
        )
        return job_json(job)


@router.delete("/indexing/{dataset_id}")
def delete_custom_index(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    _image_only(body or {})
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        job = embedding_spaces.start_delete(
            session=session, dataset=dataset, actor=actor, space=CUSTOM
        )
        return {
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            "job_id": fmt.nucleus_id(fmt.JOB, job.id),
            "message": "deleting the custom index",
        }


@router.post("/indexing/{dataset_id}/setPrimary")
def set_primary_index(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    body = body or {}
    _image_only(body)
    custom = flag(body, "custom", False)
    space = CUSTOM if custom else ctx.settings.default_image_embedder
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        embedding_spaces.set_primary(session=session, dataset=dataset, space=space, field="custom")
    return {"success": True}


@router.post("/indexing/{dataset_id}/setContinuous")
def set_continuous_indexing(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """On: the default image embedder embeds what it has not yet (the answer's job) and
    every later append's new items."""
    enable = flag(body or {}, "enable", True)
    embedder = ctx.settings.default_image_embedder
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        job = embedding_spaces.set_continuous(
            session=session, dataset=dataset, actor=actor, embedder=embedder, enable=enable
        )
        answer = {
            "dataset_id": fmt.nucleus_id(fmt.DATASET, dataset.id),
            "message": f"continuous indexing with {embedder} is {'on' if enable else 'off'}",
        }
        return {**answer, **job_json(job)} if job is not None else answer


@router.post("/indexing/{dataset_id}/internal/image")
def create_image_index(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """An `indexingImage` job embedding the items without a vector yet."""
    embedder = ctx.settings.default_image_embedder
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        job = embedding_spaces.start_indexing(
            session=session, dataset=dataset, actor=actor, embedder=embedder
        )
        return job_json(job)


@router.post("/indexing/{dataset_id}/internal/object")
def create_object_index(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    body = body or {}
    with ctx.db.read() as session:
        load_dataset(session, dataset_id, actor, write=True)
    field = "ingest_gt_only" if body.get("ingest_gt_only") else "model_run_id"
    raise Invalid(NO_OBJECT_INDEX, field=field)

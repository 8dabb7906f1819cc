"""Nucleus's indexing calls (docs/nucleus-wire.md §3.10) on the dataset's embedding spaces
(`curation/embedding_spaces.py`): a custom index imported from JSON files at URLs (the space
`custom`), deleted; the image index computed by the default image embedder
(`ASSAY_DEFAULT_IMAGE_EMBEDDER`, its space named after it); which of the two is primary;
continuous indexing; the object index: the default image embedder over the crops of the
ground truth's or a model run's objects (`curation/object_embedding_jobs.py`), into the
object space named after it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import flag, job_json, load_dataset
from assay.compat.nucleus_embeddings import run_source
from assay.compat.scale_common import JsonObject, OptionalJsonObject
from assay.core.errors import Invalid
from assay.curation import embedding_spaces, object_embedding_jobs
from assay.curation.models import GROUND_TRUTH

router = APIRouter(route_class=ScaleRoute)
CUSTOM = "custom"
NO_OBJECT_CUSTOM = (
    "custom object indexes come with the annotations and predictions (their "
    "embedding_vector), not from files; this call acts on the image index"
)


def _image_only(body: dict[str, Any]) -> None:
    if not flag(body, "image", True):
        raise Invalid(NO_OBJECT_CUSTOM, field="image")


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
    """An `indexingObject` job embedding the ground truth's (`ingest_gt_only`) or a model
    run's objects (`model_run_id`) that have no vector yet, cropped from their pictures."""
    body = body or {}
    embedder = ctx.settings.default_image_embedder
    with ctx.db.write() as session:
        dataset = load_dataset(session, dataset_id, actor, write=True)
        if body.get("model_run_id") is not None:
            source = run_source(session, dataset, body["model_run_id"], actor)
        elif flag(body, "ingest_gt_only", False):
            source = GROUND_TRUTH
        else:
            raise Invalid(
                "give model_run_id, or ingest_gt_only: true for the ground truth",
                field="model_run_id",
            )
        job = object_embedding_jobs.start_compute(
            session=session, dataset=dataset, actor=actor, embedder=embedder, source_id=source
        )
        return job_json(job)

"""Object embeddings under /api/v1/datasets/{id}: upload vectors per annotation or
prediction in bulk, compute them from the objects' crops (a job), and find the objects most
like some objects or a vector (within an object query's matches)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request

from assay.api.datasets import load_dataset
from assay.api.deps import CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.core import schemas as core_schemas
from assay.curation import (
    ml_models,
    models,
    object_embedding_jobs,
    object_embeddings,
    object_similarity,
    schemas,
)
from assay.curation.policies import datasets as policy

router = APIRouter(tags=["object embeddings"], route_class=JsonRoute)

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["space", "objects"],
                    "properties": {
                        "space": {"type": "string", "description": "The object space's name."},
                        "metric": {"type": "string", "enum": ["cosine", "dot"]},
                        "objects": {
                            "type": "array",
                            "description": "[{reference_id, annotation_id, model_id?, vector}] "
                            "or [{object_id, vector}]",
                            "items": {"type": "object"},
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/datasets/{dataset_id}/object-embeddings",
    response_model=schemas.EmbeddingsWritten,
    operation_id="upload_object_embeddings",
    openapi_extra=_UPLOAD_BODY,
)
async def upload_object_embeddings(
    dataset_id: str, request: Request, actor: CurrentActor, db: Db
) -> schemas.EmbeddingsWritten:
    """Vectors for objects (ground truth or a model's predictions) in one object space (the
    first upload fixes its dimension; a vector of another length is a 422 naming it). All
    or nothing."""
    body = await request.body()

    def work() -> schemas.EmbeddingsWritten:
        upload_in = object_embeddings.decode(body)
        with db.write() as session:
            dataset = load_dataset(session, dataset_id, actor)
            policy.can_write(actor, dataset)
            written = object_embeddings.upload(
                session=session, dataset=dataset, upload_in=upload_in
            )
        return schemas.EmbeddingsWritten(written=written)

    return await to_thread.run_sync(work)


@router.post(
    "/datasets/{dataset_id}/object-embeddings/compute",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="compute_object_embeddings",
)
def compute_object_embeddings(
    dataset_id: str, compute: schemas.ObjectEmbeddingsCompute, actor: CurrentActor, db: Db
) -> core_schemas.Job:
    """A job that crops the ground truth's (or a model's predictions') boxes from their
    pictures and embeds them with a registered image embedder; follow it at /jobs/{id}."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        source = models.GROUND_TRUTH
        if compute.model_id is not None:
            source = ml_models.get_model(
                session=session, model_id=compute.model_id, mode=actor.mode
            ).id
        job = object_embedding_jobs.start_compute(
            session=session,
            dataset=dataset,
            actor=actor,
            embedder=compute.embedder,
            source_id=source,
            space=compute.space,
            missing_only=compute.missing_only,
        )
        return core_schemas.Job.model_validate(job)


@router.post(
    "/datasets/{dataset_id}/similar-objects",
    response_model=schemas.ObjectMatches,
    operation_id="find_similar_objects",
)
def find_similar_objects(
    dataset_id: str, request_in: schemas.SimilarObjectsRequest, actor: CurrentActor, db: Db
) -> schemas.ObjectMatches:
    """The k objects most like the given objects or a vector, best first."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = object_similarity.find_similar_objects(
            session=session,
            dataset=dataset,
            space=request_in.space,
            objects=request_in.objects,  # type: ignore[arg-type]  (read by attribute)
            vector=request_in.vector,
            k=request_in.k,
            query=request_in.query,
        )
    return schemas.ObjectMatches(objects=[schemas.ObjectMatch(**vars(m)) for m in found])

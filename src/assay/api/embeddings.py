"""Embeddings, find-similar and autotag under /api/v1/datasets/{id}: upload vectors in bulk,
find the items most like some items or a vector (within a query's matches), refine an
autotag in rounds and commit it as a queryable score."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from sqlalchemy import select

from assay.api.datasets import load_dataset
from assay.api.deps import CurrentActor, Db, Page
from assay.api.json_body import JsonRoute
from assay.core import schemas as core_schemas
from assay.curation import embedding_jobs, embeddings, measures, models, schemas, similarity
from assay.curation.policies import datasets as policy

router = APIRouter(tags=["embeddings"], route_class=JsonRoute)

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["space", "items"],
                    "properties": {
                        "space": {"type": "string", "description": "The embedding space's name."},
                        "metric": {"type": "string", "enum": ["cosine", "dot"]},
                        "items": {
                            "type": "array",
                            "description": "[{reference_id, vector: [numbers]}]",
                            "items": {"type": "object"},
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/datasets/{dataset_id}/embeddings",
    response_model=schemas.EmbeddingsWritten,
    operation_id="upload_embeddings",
    openapi_extra=_UPLOAD_BODY,
)
async def upload_embeddings(
    dataset_id: str, request: Request, actor: CurrentActor, db: Db
) -> schemas.EmbeddingsWritten:
    """Vectors for items by reference id in one space (the first upload fixes its
    dimension; a vector of another length is a 422 naming it). All or nothing."""
    body = await request.body()

    def work() -> schemas.EmbeddingsWritten:
        upload_in = embeddings.decode(body)
        with db.write() as session:
            dataset = load_dataset(session, dataset_id, actor)
            policy.can_write(actor, dataset)
            written = embeddings.upload(session=session, dataset=dataset, upload_in=upload_in)
        return schemas.EmbeddingsWritten(written=written)

    return await to_thread.run_sync(work)


@router.post(
    "/datasets/{dataset_id}/similar", response_model=schemas.Matches, operation_id="find_similar"
)
def find_similar(
    dataset_id: str, request_in: schemas.SimilarRequest, actor: CurrentActor, db: Db
) -> schemas.Matches:
    """The k items most like the given items, a vector, or a text (where the space's
    embedder has a text tower), best first."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = similarity.find_similar(
            session=session,
            dataset=dataset,
            space=request_in.space,
            reference_ids=request_in.reference_ids,
            vector=request_in.vector,
            text=request_in.text,
            k=request_in.k,
            query=request_in.query,
        )
    return schemas.Matches(items=[schemas.Match(**vars(m)) for m in found])


@router.post(
    "/datasets/{dataset_id}/autotags",
    response_model=schemas.AutotagRefined,
    operation_id="refine_autotag",
)
def refine_autotag(
    dataset_id: str, round_in: schemas.AutotagRound, actor: CurrentActor, db: Db
) -> schemas.AutotagRefined:
    """One refinement round (creating the autotag on the first): its examples, and the best
    items it finds now with their probabilities."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        tag, found = similarity.refine(
            session=session,
            dataset=dataset,
            name=round_in.name,
            space=round_in.space,
            positive=round_in.positive,
            negative=round_in.negative,
            top_k=round_in.top_k,
            created_by=actor.user_id,
        )
        return schemas.AutotagRefined(
            autotag=schemas.Autotag.model_validate(tag),
            items=[schemas.Match(**vars(m)) for m in found],
        )


@router.post(
    "/datasets/{dataset_id}/autotags/{name}/commit",
    response_model=schemas.AutotagCommitted,
    operation_id="commit_autotag",
)
def commit_autotag(
    dataset_id: str, name: str, actor: CurrentActor, db: Db
) -> schemas.AutotagCommitted:
    """Store the top K scores of the latest round: queryable as `autotag.<name>`."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        tag = similarity.get_autotag(session=session, dataset=dataset, name=name)
        scored = similarity.commit(session=session, dataset=dataset, tag=tag)
        return schemas.AutotagCommitted(autotag=schemas.Autotag.model_validate(tag), scored=scored)


@router.get(
    "/datasets/{dataset_id}/autotags",
    response_model=schemas.AutotagPage,
    operation_id="list_autotags",
)
def list_autotags(dataset_id: str, actor: CurrentActor, db: Db) -> schemas.AutotagPage:
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        tags = session.scalars(
            select(models.Autotag)
            .where(models.Autotag.dataset_id == dataset.id)
            .order_by(models.Autotag.name)
        ).all()
        return schemas.AutotagPage(
            items=[schemas.Autotag.model_validate(t) for t in tags], next_cursor=None
        )


@router.post(
    "/datasets/{dataset_id}/embeddings/compute",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="compute_embeddings",
)
def compute_embeddings(
    dataset_id: str, compute: schemas.EmbeddingsCompute, actor: CurrentActor, db: Db
) -> core_schemas.Job:
    """A job that embeds the items (a query's matches) with a registered embedder; follow
    its progress at /jobs/{id}."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        job = embedding_jobs.start_compute(
            session=session,
            dataset=dataset,
            actor=actor,
            space=compute.space,
            embedder=compute.embedder,
            query=compute.query,
        )
        return core_schemas.Job.model_validate(job)


@router.post(
    "/datasets/{dataset_id}/map", response_model=schemas.EmbeddingMap, operation_id="embedding_map"
)
def embedding_map(
    dataset_id: str, request_in: schemas.MapRequest, actor: CurrentActor, db: Db
) -> schemas.EmbeddingMap:
    """The items (a query's matches) placed in 2D by their embeddings (PCA, or UMAP)."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        points = embedding_jobs.embedding_map(
            session=session,
            dataset=dataset,
            space=request_in.space,
            query=request_in.query,
            method=request_in.method,
        )
    return schemas.EmbeddingMap(points=[schemas.MapPoint(**p) for p in points])


@router.post(
    "/datasets/{dataset_id}/duplicates",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="find_duplicates",
)
def find_duplicates(
    dataset_id: str, compute: schemas.DuplicatesCompute, actor: CurrentActor, db: Db
) -> core_schemas.Job:
    """A job grouping items whose embeddings lie within `threshold` (cosine distance) of
    each other; then query `duplicates.count > 1` or read the groups."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        job = measures.start_duplicates(
            session=session,
            dataset=dataset,
            actor=actor,
            space=compute.space,
            threshold=compute.threshold,
        )
        return core_schemas.Job.model_validate(job)


@router.get(
    "/datasets/{dataset_id}/duplicates",
    response_model=schemas.DuplicateGroups,
    operation_id="duplicate_groups",
)
def duplicate_groups(
    dataset_id: str, actor: CurrentActor, db: Db, page: Page
) -> schemas.DuplicateGroups:
    """The latest run's groups, largest first, a page at a time."""
    with db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_read(actor, dataset)
        found = measures.duplicate_groups_page(
            session=session, dataset=dataset, cursor=page.cursor, limit=page.limit
        )
    return schemas.DuplicateGroups.model_validate(found)


@router.post(
    "/datasets/{dataset_id}/uniqueness",
    response_model=core_schemas.Job,
    status_code=202,
    operation_id="compute_uniqueness",
)
def compute_uniqueness(
    dataset_id: str, compute: schemas.UniquenessCompute, actor: CurrentActor, db: Db
) -> core_schemas.Job:
    """A job scoring each item 0..1 by its mean distance to its k nearest neighbours;
    queryable and sortable as `uniqueness`."""
    with db.write() as session:
        dataset = load_dataset(session, dataset_id, actor)
        policy.can_write(actor, dataset)
        job = measures.start_uniqueness(
            session=session, dataset=dataset, actor=actor, space=compute.space, k=compute.k
        )
        return core_schemas.Job.model_validate(job)

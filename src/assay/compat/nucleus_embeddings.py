"""Nucleus embedding reads (docs/nucleus-wire.md §3.10): a dataset's or a slice's vectors,
exported at once or by a job (`exportEmbeddings`) whose result is signed URLs of JSON files
(`[{"reference_id", "embedding_vector"}]`, stored as blobs and served at /media like uploaded
media), the dataset's embedding indexes and its image and object indexing status.

Assay keeps vectors per named embedding space (`curation/embeddings.py`); Nucleus has one
image index per dataset, so these calls read the dataset's first space by name.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat import scale_files
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import (
    EXPORT_EMBEDDINGS_JOB,
    MEDIA_TTL_SECONDS,
    flag,
    job_actor,
    job_json,
    load_dataset,
    refusals_as_user_errors,
)
from assay.compat.nucleus_models import load_run
from assay.compat.nucleus_slices import SLICE, _load
from assay.compat.scale_common import OptionalJsonObject
from assay.core import blobs, jobs
from assay.core.errors import NotFound
from assay.core.jobs import job_kind
from assay.curation import (
    annotations,
    datasets,
    embedding_spaces,
    models,
    object_embeddings,
    slices,
)

router = APIRouter(route_class=ScaleRoute)
EMBEDDINGS = models.Embedding.__table__
ITEMS = models.Item.__table__
# Rows per exported JSON file (Nucleus's files hold batches of embeddings too).
ROWS_PER_FILE = 1000


def first_space(dataset: models.Dataset) -> str | None:
    """The space Nucleus's single image index reads: the primary one."""
    return embedding_spaces.primary_space(dataset)


def embedding_rows(
    session: Session, dataset: models.Dataset, item_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """`{"reference_id", "embedding_vector"}` of every item with a vector in the first space
    (of the given items only, when given), in the dataset's order."""
    space = first_space(dataset)
    if space is None:
        return []
    statement = (
        select(ITEMS.c.reference_id, EMBEDDINGS.c.vector)
        .join(ITEMS, ITEMS.c.id == EMBEDDINGS.c.item_id)
        .where(EMBEDDINGS.c.dataset_id == dataset.id, EMBEDDINGS.c.space == space)
        .order_by(EMBEDDINGS.c.seq)
    )
    chunks = (
        [None]
        if item_ids is None
        else [item_ids[i : i + 500] for i in range(0, len(item_ids), 500)]
    )
    rows: list[tuple[int, str, bytes]] = []
    for chunk in chunks:
        limited = statement if chunk is None else statement.where(EMBEDDINGS.c.item_id.in_(chunk))
        rows.extend(session.execute(limited.add_columns(EMBEDDINGS.c.seq)).all())
    rows.sort(key=lambda row: row[2])
    return [
        {
            "reference_id": ref,
            "embedding_vector": np.frombuffer(vector, dtype=np.float32).tolist(),
        }
        for ref, vector, _ in rows
    ]


@router.get("/dataset/{dataset_id}/embeddings")
def dataset_embeddings(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        return embedding_rows(session, dataset)


@router.get("/slice/{slice_id}/embeddings")
def slice_embeddings(slice_id: str, actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.db.read() as session:
        found, dataset = _load(session, slice_id, actor)
        ids = slices.slice_item_ids(session=session, dataset=dataset, found=found)
        return embedding_rows(session, dataset, ids)


@router.post("/dataset/{dataset_or_slice_id}/async_export_embeddings")
def export_embeddings(
    dataset_or_slice_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    body: OptionalJsonObject = None,
) -> dict[str, Any]:
    """A dataset's or (the client puts a slice's id in the same place) a slice's export."""
    with ctx.db.write() as session:
        slice_id = None
        if dataset_or_slice_id.startswith(SLICE):
            found, dataset = _load(session, dataset_or_slice_id, actor)
            slice_id = found.id
        else:
            dataset = load_dataset(session, dataset_or_slice_id, actor)
        job = jobs.enqueue(
            session=session,
            kind=EXPORT_EMBEDDINGS_JOB,
            payload={
                "dataset_id": dataset.id,
                "slice_id": slice_id,
                "base_url": str(request.base_url).rstrip("/"),
                "user_id": actor.user_id,
                "mode": actor.mode,
            },
            actor=actor,
        )
        return job_json(job)


@job_kind(EXPORT_EMBEDDINGS_JOB, max_attempts=2)
def run_export_embeddings(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The vectors as JSON files of ROWS_PER_FILE rows, each a blob at a signed URL; the
    job's `result` is the URLs (what `EmbeddingsExportJob.result_urls` reads)."""
    with refusals_as_user_errors(), ctx.db.read() as session:
        actor = job_actor(session, payload)
        if payload.get("slice_id"):
            found, dataset = _load(session, SLICE + payload["slice_id"], actor)
            ids = slices.slice_item_ids(session=session, dataset=dataset, found=found)
        else:
            dataset = datasets.get_dataset(
                session=session, dataset_id=payload["dataset_id"], mode=actor.mode
            )
            ids = None
        rows = embedding_rows(session, dataset, ids)
    secret = ctx.settings.secret_key.get_secret_value()
    urls = []
    for k, start in enumerate(range(0, len(rows), ROWS_PER_FILE)):
        data = json.dumps(rows[start : start + ROWS_PER_FILE]).encode()
        blob = scale_files.store(
            ctx.app,
            actor,
            io.BytesIO(data),
            filename=f"embeddings-{k}.json",
            content_type="application/json",
        )
        signed = blobs.signed_media_url(
            sha256=blob.sha256, secret=secret, ttl_seconds=MEDIA_TTL_SECONDS
        )
        urls.append(payload["base_url"] + signed.url)
    return {"result": urls, "rows": len(rows)}


@router.get("/dataset/{dataset_id}/embeddingIndexes")
def embedding_indexes(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """One image-level index per embedding space and one object-level index per object
    space: `Internal` when a registered embedder computed it, else `Custom` (uploaded or
    imported vectors)."""
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        return {
            "embedding_indexes": [
                {
                    "id": f"{fmt.nucleus_id(fmt.DATASET, dataset.id)}:{space}",
                    "status": "Completed",
                    "index_type": "Internal" if info.get("embedder") else "Custom",
                    "index_level": "Image",
                    "embedding_type": space,
                    "embedding_dimension": info["dim"],
                }
                for space, info in sorted((dataset.embedding_spaces or {}).items())
            ]
            + [
                {
                    "id": f"{fmt.nucleus_id(fmt.DATASET, dataset.id)}:object:{space}",
                    "status": "Completed",
                    "index_type": "Internal" if info.get("embedder") else "Custom",
                    "index_level": "Object",
                    "embedding_type": space,
                    "embedding_dimension": info["dim"],
                }
                for space, info in sorted(object_embeddings.spaces_of(dataset).items())
            ]
        }


@router.post("/dataset/{dataset_id}/indexingStatus")
def indexing_status(
    dataset_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    body = body or {}
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        if not flag(body, "image", True):
            return _object_status(
                session,
                dataset,
                body.get("model_run_id"),
                actor,
                ctx.settings.default_image_embedder,
            )
        space = first_space(dataset)
        count = 0
        if space is not None:
            count = (
                session.scalar(
                    select(func.count())
                    .select_from(EMBEDDINGS)
                    .where(EMBEDDINGS.c.dataset_id == dataset.id, EMBEDDINGS.c.space == space)
                )
                or 0
            )
        total = dataset.item_count
        return {
            "embedding_count": count,
            "image_count": total,
            "percent_indexed": round(100 * count / total, 2) if total else 0.0,
            "additional_context": f"embedding space {space!r}" if space else "no embeddings",
        }


def run_source(session: Session, dataset: models.Dataset, run_id: Any, actor: Any) -> str:
    """The source (model id) of a model run on this dataset; NotFound naming `model_run_id`."""
    model, run_dataset = load_run(session, str(run_id), actor)
    if run_dataset.id != dataset.id:
        raise NotFound(f"no model run with id {run_id} on this dataset", field="model_run_id")
    return model.id


def object_space(dataset: models.Dataset, embedder: str) -> str | None:
    """The object space Nucleus's single object index reads: the default image embedder's
    (what `create_object_index` fills), else `custom` (vectors uploaded on annotations),
    else the first by name."""
    spaces = object_embeddings.spaces_of(dataset)
    for space in (embedder, object_embeddings.CUSTOM):
        if space in spaces:
            return space
    return min(spaces, default=None)


def _object_status(
    session: Session, dataset: models.Dataset, run_id: Any, actor: Any, embedder: str
) -> dict[str, Any]:
    """The objects (ground truth, or a model run's predictions) counted, and how many of
    them have a vector in the object index (`object_space`)."""
    source = models.GROUND_TRUTH if run_id is None else run_source(session, dataset, run_id, actor)
    count = annotations.object_count(session=session, dataset=dataset, source_id=source)
    space = object_space(dataset, embedder)
    embedded = 0
    if space is not None:
        embedded = object_embeddings.embedded_count(
            session=session, dataset=dataset, space=space, source_id=source
        )
    return {
        "embedding_count": embedded,
        "object_count": count,
        "percent_indexed": round(100 * embedded / count, 2) if count else 0.0,
        "additional_context": (
            f"object embedding space {space!r}" if space else "no object embeddings"
        ),
    }

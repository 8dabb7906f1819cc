"""Computing embeddings as a job, and the 2D embedding map.

`curation.compute_embeddings` runs a registered embedder (`embedders.py`) over a dataset's
items (or a query's matches): media is read from the blob store, or fetched through
`core/outbound` for URLs, a batch at a time; the batches are embedded by the compute
executor (`core/compute.py`: in the worker thread, or as Ray tasks) and each batch of vectors
is written like an upload (`embeddings.upload`) by the job in its own short transaction,
with progress. A retried job starts
again from its first item — writing a vector twice replaces it.

`embedding_map` projects a space's vectors to 2D for the explorer's map: PCA (numpy SVD over
the centred vectors) by default, UMAP when `umap-learn` is installed and asked for; at most
`MAX_POINTS` items (a query's matches, or an even sample of them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import blobs, outbound
from assay.core.auth import Actor
from assay.core.compute import executor_from_settings
from assay.core.errors import Invalid
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.core.models import Job
from assay.curation import embeddings, models
from assay.curation.embedders import get_embedder
from assay.curation.query import run_query
from assay.curation.snapshots import SNAPSHOTS

COMPUTE_JOB = "curation.compute_embeddings"
BATCH = 64
MAX_MEDIA_BYTES = 50 * 1024 * 1024
MAX_POINTS = 50_000


def start_compute(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    space: str,
    embedder: str,
    query: str | dict[str, Any] | None = None,
    missing_only: bool = False,
) -> Job:
    """Queue the job (the embedder and the query are checked first); `missing_only`: embed
    only the items without a vector in the space yet."""
    found = get_embedder(embedder)
    known = (dataset.embedding_spaces or {}).get(space)
    if known is not None and known["dim"] != found.dim:
        raise Invalid(
            f"space {space!r} holds vectors of {known['dim']}; {embedder} makes {found.dim}",
            field="space",
        )
    if query is not None:
        snapshot = SNAPSHOTS.get(session, dataset)
        run_query(snapshot.frames, query, "items")  # a bad query is refused now, not in the job
    return queue_compute(
        session=session,
        dataset=dataset,
        actor=actor,
        space=space,
        embedder=embedder,
        missing_only=missing_only,
        query=query,
    )


def queue_compute(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    space: str,
    embedder: str,
    missing_only: bool,
    query: str | dict[str, Any] | None = None,
) -> Job:
    """Queue the job unchecked: for a space and embedder checked before (continuous
    indexing, from inside an append's transaction: no model loaded, no snapshot read)."""
    return enqueue(
        session=session,
        kind=COMPUTE_JOB,
        payload={
            "dataset_id": dataset.id,
            "space": space,
            "embedder": embedder,
            "query": query,
            "missing_only": missing_only,
        },
        actor=actor,
    )


def read_media(ctx: Any, store: blobs.BlobStore, media: str) -> bytes:
    """An item's media: from the blob store, or fetched (outbound policy, size cap)."""
    if media.startswith("blob:"):
        return b"".join(store.open(media[5:]))
    fetched = outbound.fetch(
        media,
        policy=outbound.Policy.from_settings(ctx.settings),
        max_bytes=MAX_MEDIA_BYTES,
        timeout=30.0,
        field="media",
    )
    if fetched.status_code != 200:
        raise outbound.FetchFailed(f"{media} answered {fetched.status_code}", field="media")
    return fetched.content


@lru_cache(maxsize=4)
def _loaded_embedder(name: str) -> Any:
    """One instance per process (a Ray worker too): loading a model's weights is slow."""
    return get_embedder(name)


def embed_batch(work: tuple[str, list[bytes], list[str]]) -> np.ndarray:
    """`(embedder, images, texts)` → vectors (images when there are any, else the texts):
    what an executor's worker runs (`core/compute.py`)."""
    name, contents, texts = work
    embedder = _loaded_embedder(name)
    if contents:
        return embedder.embed_images(contents)
    if texts:
        return embedder.embed_texts(texts)
    return np.zeros((0, embedder.dim), np.float32)


@job_kind(COMPUTE_JOB, max_attempts=3)
def run_compute(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Embed the items a query matches (all when none) with a registered embedder."""
    get_embedder(payload["embedder"])  # refused here, not on a worker, when unknown
    store = blobs.open_store(ctx.settings)
    with ctx.db.read() as session:
        dataset = session.get(models.Dataset, payload["dataset_id"])
        if dataset is None or dataset.deleting:
            raise PermanentError("the dataset is gone")
        snapshot = SNAPSHOTS.get(session, dataset)
        rows = run_query(snapshot.frames, payload.get("query"), "items").positions
        if payload.get("missing_only") and payload["space"] in (dataset.embedding_spaces or {}):
            have = embeddings.INDEXES.get(session, dataset, payload["space"]).keys()
            rows = rows[~np.isin(snapshot.items["seq"].to_numpy()[rows], have)]
        item_ids = snapshot.items["item_id"].to_numpy()[rows].tolist()
    failed = 0
    sent: deque[tuple[int, list[str]]] = deque()

    def work() -> Iterator[tuple[str, list[bytes], list[str]]]:
        nonlocal failed
        for start in range(0, len(item_ids), BATCH):
            chunk = item_ids[start : start + BATCH]
            with ctx.db.read() as session:
                found = session.execute(
                    select(models.Item.reference_id, models.Item.media, models.Item.text_).where(
                        models.Item.id.in_(chunk)
                    )
                ).all()
            references, contents, texts = [], [], []
            for reference_id, media, text in found:
                try:
                    if media is not None:
                        contents.append(read_media(ctx, store, media))
                        references.append(reference_id)
                    elif text is not None:
                        texts.append(text)
                        references.append(reference_id)
                except (FileNotFoundError, Invalid):  # outbound's refusals are Invalid
                    failed += 1
            sent.append((len(chunk), references))
            yield payload["embedder"], contents, texts

    done = 0
    ctx.progress(0, len(item_ids), f"embedding {len(item_ids)} items", force=True)
    for vectors in executor_from_settings(ctx.settings).map(embed_batch, work()):
        size, references = sent.popleft()
        if references:
            upload_in = embeddings.EmbeddingsIn(
                space=payload["space"],
                items=[
                    embeddings.EmbeddingIn(reference_id=r, vector=v.tolist())
                    for r, v in zip(references, vectors, strict=True)
                ],
            )
            with ctx.db.write() as session:
                dataset = session.get(models.Dataset, payload["dataset_id"])
                if dataset is None or dataset.deleting:
                    raise PermanentError("the dataset was deleted while embedding")
                embeddings.upload(
                    session=session,
                    dataset=dataset,
                    upload_in=upload_in,
                    embedder=payload["embedder"],
                )
        done += size
        ctx.progress(done, len(item_ids), f"embedded {done} of {len(item_ids)} items")
    return {"embedded": done - failed, "failed": failed, "space": payload["space"]}


def embedding_map(
    *,
    session: Session,
    dataset: models.Dataset,
    space: str,
    query: str | dict[str, Any] | None = None,
    method: str = "pca",
) -> list[dict[str, Any]]:
    """(item id, reference id, x, y) of the query's matches with embeddings in the space,
    projected to 2D; at most MAX_POINTS (an even sample beyond)."""
    if method not in ("pca", "umap"):
        raise Invalid("method must be pca or umap", field="method")
    snapshot = SNAPSHOTS.get(session, dataset)
    index = embeddings.INDEXES.get(session, dataset, space)
    rows = run_query(snapshot.frames, query, "items").positions
    if len(rows) > MAX_POINTS:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_POINTS).astype(np.int64)]
    seqs = snapshot.items["seq"].to_numpy()[rows]
    keys, vectors = index.keys(), index.vectors()
    order = np.argsort(keys)
    at = np.searchsorted(keys[order], seqs)
    present = (at < len(keys)) & (keys[order][np.minimum(at, max(len(keys) - 1, 0))] == seqs)
    rows, picked = rows[present], order[at[present]]
    if not len(rows):
        return []
    matrix = np.asarray(vectors[picked], dtype=np.float32)
    points = _umap(matrix) if method == "umap" else _pca(matrix)
    ids = snapshot.items["item_id"].to_numpy()[rows]
    refs = snapshot.items["reference_id"].to_numpy()[rows]
    return [
        {"item_id": str(i), "reference_id": str(r), "x": float(x), "y": float(y)}
        for i, r, (x, y) in zip(ids, refs, points, strict=True)
    ]


def _pca(matrix: np.ndarray) -> np.ndarray:
    centred = matrix - matrix.mean(axis=0)
    if len(centred) < 2:
        return np.zeros((len(centred), 2), dtype=np.float32)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T if components.shape[0] >= 2 else np.zeros((len(centred), 2))


def _umap(matrix: np.ndarray) -> np.ndarray:
    try:
        import umap  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        raise Invalid("UMAP needs umap-learn installed; use method pca", field="method") from None
    return umap.UMAP(n_components=2).fit_transform(matrix)

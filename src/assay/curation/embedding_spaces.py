"""A dataset's embedding spaces as its indexes: vectors imported from JSON files at URLs (a
job), a space deleted (a job), the primary space (what is read when no space is named:
Nucleus's image index, uniqueness sampling) and continuous indexing (a space whose
registered embedder embeds every item appended after it was switched on).

What a space is lives in `datasets.embedding_spaces[space]`: `dim`, `metric`, `since`, and
for computed spaces `embedder`; this module adds `primary` and `continuous` (bools).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from assay.core import outbound
from assay.core.auth import Actor
from assay.core.errors import AssayError, Invalid, NotFound
from assay.core.jobs import PermanentError, enqueue, job_kind, refusals_as_user_errors
from assay.core.models import Job
from assay.curation import embeddings, models
from assay.curation.datasets import DATASETS, next_revision
from assay.curation.items import existing_items

IMPORT_JOB = "curation.import_embeddings"
DELETE_JOB = "curation.delete_embedding_space"
MAX_URLS = 1_000
MAX_FILE_BYTES = 256 * 1024 * 1024
FETCH_SECONDS = 60.0


def primary_space(dataset: models.Dataset) -> str | None:
    """The space marked primary, else the first by name; None without spaces."""
    spaces = dataset.embedding_spaces or {}
    marked = [name for name, info in spaces.items() if info.get("primary")]
    return marked[0] if marked else min(spaces, default=None)


def _known(dataset: models.Dataset, space: str, field: str = "space") -> dict[str, Any]:
    info = (dataset.embedding_spaces or {}).get(space)
    if info is None:
        raise NotFound(f"the dataset has no embeddings in space {space!r}", field=field)
    return info


def _write(session: Session, dataset: models.Dataset, spaces: dict[str, Any]) -> None:
    """Store the spaces (a Core UPDATE, as `embeddings.upload` does); the loaded dataset
    shows them without being marked changed, so no stale copy is flushed later."""
    session.execute(
        update(DATASETS).where(DATASETS.c.id == dataset.id).values(embedding_spaces=spaces)
    )
    set_committed_value(dataset, "embedding_spaces", spaces)


def _reread(session: Session, dataset: models.Dataset) -> dict[str, Any]:
    spaces = session.scalar(select(DATASETS.c.embedding_spaces).where(DATASETS.c.id == dataset.id))
    set_committed_value(dataset, "embedding_spaces", spaces)
    return dict(spaces or {})


def set_primary(*, session: Session, dataset: models.Dataset, space: str, field: str) -> None:
    """Make `space` the dataset's primary one (NotFound naming `field` without it)."""
    _known(dataset, space, field)
    spaces = {
        name: {**info, "primary": name == space}
        for name, info in (dataset.embedding_spaces or {}).items()
    }
    _write(session, dataset, spaces)


def set_continuous(
    *, session: Session, dataset: models.Dataset, actor: Actor, embedder: str, enable: bool
) -> Job | None:
    """Switch continuous indexing with a registered embedder (its space is named after it)
    on or off. On: the items without a vector in that space are embedded now (the job
    returned), and every later append queues the same for its new items."""
    from assay.curation.embedders import get_embedder, has_text_tower

    spaces = {
        name: {**info, "continuous": False}
        for name, info in (dataset.embedding_spaces or {}).items()
    }
    if not enable:
        _write(session, dataset, spaces)
        return None
    if embedder not in spaces:
        # Made now (empty) so that appends see it before the job's first vector.
        spaces[embedder] = {
            "dim": get_embedder(embedder).dim,
            "metric": "cosine",
            "since": next_revision(session, dataset.id),
            "embedder": embedder,
            "text_search": has_text_tower(embedder),
        }
    elif spaces[embedder].get("embedder") != embedder:
        raise Invalid(
            f"space {embedder!r} holds vectors not made by the embedder {embedder}",
            field="enable",
        )
    spaces[embedder]["continuous"] = True
    _write(session, dataset, spaces)
    return start_indexing(session=session, dataset=dataset, actor=actor, embedder=embedder)


def start_indexing(
    *, session: Session, dataset: models.Dataset, actor: Actor, embedder: str
) -> Job:
    """Queue embedding, with a registered embedder, the items without a vector in its space
    (the space named after it)."""
    from assay.curation import embedding_jobs  # embedding_jobs reads items; items calls here

    return embedding_jobs.start_compute(
        session=session,
        dataset=dataset,
        actor=actor,
        space=embedder,
        embedder=embedder,
        missing_only=True,
    )


def index_appended(*, session: Session, dataset: models.Dataset, actor: Actor) -> Job | None:
    """After an append that added items: with continuous indexing on, queue embedding the
    items still without a vector in its space (in the append's transaction)."""
    from assay.curation import embedding_jobs

    for name, info in (dataset.embedding_spaces or {}).items():
        if info.get("continuous"):
            return embedding_jobs.queue_compute(
                session=session,
                dataset=dataset,
                actor=actor,
                space=name,
                embedder=name,
                missing_only=True,
            )
    return None


def start_import(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    space: str,
    urls: list[str],
    dim: int,
    settings: Any,
) -> Job:
    """Queue importing the vectors of JSON files (`{reference_id: [number, ...]}` each) into
    `space`, replacing what it held; the URLs are checked now, fetched by the job."""
    if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= embeddings.MAX_DIM:
        raise Invalid(
            f"the dimension is a whole number from 1 to {embeddings.MAX_DIM}",
            field="embedding_dimension",
        )
    policy = outbound.Policy.from_settings(settings)
    if not isinstance(urls, list) or not urls or len(urls) > MAX_URLS:
        raise Invalid(f"give 1 to {MAX_URLS} URLs of JSON files", field="embeddings_urls")
    for i, url in enumerate(urls):
        if not isinstance(url, str):
            raise Invalid("a URL is a string", field=f"embeddings_urls[{i}]")
        outbound.check_url(url, policy=policy, resolve=False, field=f"embeddings_urls[{i}]")
    if not embeddings.SPACE.fullmatch(space):
        raise Invalid(f"{space!r} is not a space name", field="space")
    return enqueue(
        session=session,
        kind=IMPORT_JOB,
        payload={"dataset_id": dataset.id, "space": space, "urls": urls, "dim": dim},
        actor=actor,
    )


def _fetch_vectors(ctx: Any, urls: list[str], dim: int) -> tuple[list[str], np.ndarray, list[str]]:
    """(reference ids, vectors, the field each came from) read from every file, checked."""
    policy = outbound.Policy.from_settings(ctx.settings)
    references: list[str] = []
    rows: list[np.ndarray] = []
    origins: list[str] = []
    for i, url in enumerate(urls):
        field = f"embeddings_urls[{i}]"
        try:
            fetched = outbound.fetch(
                url, policy=policy, max_bytes=MAX_FILE_BYTES, timeout=FETCH_SECONDS, field=field
            )
        except AssayError as error:  # refused, unreachable, too large: said in our words
            raise Invalid(f"{field}: {error.message}", field=field) from None
        if fetched.status_code != 200:
            raise Invalid(f"{field}: {url} answered {fetched.status_code}", field=field)
        try:
            found = json.loads(fetched.content)
        except ValueError:
            raise Invalid(f"{field}: {url} is not JSON", field=field) from None
        if not isinstance(found, dict):
            raise Invalid(
                f"{field}: {url} is not a JSON object of reference id → vector", field=field
            )
        for reference_id, vector in found.items():
            where = f"{field}[{reference_id!r}]"
            if (
                not isinstance(vector, list)
                or len(vector) != dim
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in vector)
            ):
                raise Invalid(f"{where}: a vector is a list of {dim} numbers", field=where)
            row = np.asarray(vector, dtype=np.float64)
            if not np.isfinite(row).all() or np.abs(row).max(initial=0) > 3.4e38:
                raise Invalid(f"{where}: vectors hold finite numbers only", field=where)
            references.append(reference_id)
            rows.append(row.astype(np.float32))
            origins.append(where)
        ctx.progress(i + 1, len(urls), f"read {i + 1} of {len(urls)} files")
    if not references:
        raise Invalid("the files hold no vectors", field="embeddings_urls")
    seen: dict[str, str] = {}
    for reference_id, where in zip(references, origins, strict=True):
        if reference_id in seen:
            raise Invalid(f"{where}: {reference_id!r} also in {seen[reference_id]}", field=where)
        seen[reference_id] = where
    return references, np.stack(rows), origins


@job_kind(IMPORT_JOB, max_attempts=2)
def run_import(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Every file is read and checked before one transaction replaces the space."""
    space, dim = payload["space"], payload["dim"]
    with refusals_as_user_errors():
        references, vectors, origins = _fetch_vectors(ctx, payload["urls"], dim)
        with ctx.db.write() as session:
            dataset = session.get(models.Dataset, payload["dataset_id"])
            if dataset is None or dataset.deleting:
                raise PermanentError("the dataset is gone")
            known = existing_items(session, dataset.id, references)
            for reference_id, where in zip(references, origins, strict=True):
                if reference_id not in known:
                    raise NotFound(
                        f"{where}: no item with reference_id {reference_id!r} in this dataset",
                        field=where,
                    )
            spaces = dict(dataset.embedding_spaces or {})
            kept = {k: v for k, v in spaces.pop(space, {}).items() if k in ("primary",)}
            session.execute(
                delete(embeddings.EMBEDDINGS).where(
                    embeddings.EMBEDDINGS.c.dataset_id == dataset.id,
                    embeddings.EMBEDDINGS.c.space == space,
                )
            )
            _write(session, dataset, spaces)
            written = embeddings.upload(
                session=session,
                dataset=dataset,
                upload_in=embeddings.EmbeddingsIn(
                    space=space,
                    items=[
                        embeddings.EmbeddingIn(reference_id=r, vector=v)
                        for r, v in zip(references, vectors.tolist(), strict=True)
                    ],
                ),
            )
            if kept:
                spaces = _reread(session, dataset)
                spaces[space] = {**spaces[space], **kept}
                _write(session, dataset, spaces)
    return {"space": space, "written": written, "files": len(payload["urls"])}


def start_delete(*, session: Session, dataset: models.Dataset, actor: Actor, space: str) -> Job:
    """Queue deleting a space and its vectors (NotFound without it)."""
    info = _known(dataset, space)
    return enqueue(
        session=session,
        kind=DELETE_JOB,
        payload={"dataset_id": dataset.id, "space": space, "since": info.get("since")},
        actor=actor,
    )


@job_kind(DELETE_JOB, max_attempts=3)
def run_delete(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The space and its vectors go in one transaction (one bulk DELETE), so a space of
    the same name made later never meets the old vectors; one made again after the delete
    was asked for (a later import) stays."""
    with ctx.db.write() as session:
        dataset = session.get(models.Dataset, payload["dataset_id"])
        if dataset is None or dataset.deleting:
            return {"deleted": 0}
        spaces = dict(dataset.embedding_spaces or {})
        info = spaces.get(payload["space"])
        if info is None or info.get("since") != payload.get("since"):
            return {"space": payload["space"], "deleted": 0}  # gone, or made again since
        del spaces[payload["space"]]
        deleted = session.execute(
            delete(embeddings.EMBEDDINGS).where(
                embeddings.EMBEDDINGS.c.dataset_id == dataset.id,
                embeddings.EMBEDDINGS.c.space == payload["space"],
            )
        ).rowcount
        next_revision(session, dataset.id)
        _write(session, dataset, spaces)
    return {"space": payload["space"], "deleted": deleted}

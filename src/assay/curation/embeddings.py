"""Embeddings: vectors per item and space, uploaded in bulk, and the per-process vector
indexes that find-similar and autotag search.

The table is the source of truth (float32 bytes per item and space, stamped with the
dataset's revision). Each process keeps one `VectorIndex` per dataset and space, keyed by
the items' `seq`; a later request catches up by adding the vectors stamped after the
revision it has. Deleted items' vectors may stay in an index: every search is restricted to
the live items of the dataset's snapshot (or the query's matches among them), so they are
never answered.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from msgspec import Meta, Struct
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core.errors import Invalid, NotFound
from assay.curation import models
from assay.curation.datasets import DATASETS, next_revision
from assay.curation.items import existing_items
from assay.curation.vectors import VectorIndex

EMBEDDINGS = models.Embedding.__table__
SPACE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_DIM = 4096


class EmbeddingIn(Struct, forbid_unknown_fields=True):
    reference_id: Annotated[str, Meta(min_length=1, max_length=512)]
    vector: list[float]


class EmbeddingsIn(Struct, kw_only=True, forbid_unknown_fields=True):
    space: Annotated[str, Meta(min_length=1, max_length=64)]
    items: list[EmbeddingIn]
    metric: str = "cosine"


def upload(
    *,
    session: Session,
    dataset: models.Dataset,
    upload_in: EmbeddingsIn,
    embedder: str | None = None,
) -> int:
    """Store (or replace) the items' vectors in a space; the first upload fixes its
    dimension. All or nothing; returns how many were written. `embedder`: the registered
    embedder that made them, kept with the space (text search embeds with it)."""
    if not SPACE.fullmatch(upload_in.space):
        raise Invalid(
            "space: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit",
            field="space",
        )
    if upload_in.metric not in ("cosine", "dot"):
        raise Invalid("metric must be cosine or dot", field="metric")
    spaces = dict(dataset.embedding_spaces or {})
    known = spaces.get(upload_in.space)
    entries = upload_in.items
    if not entries:
        return 0
    dim = known["dim"] if known else len(entries[0].vector)
    if not 1 <= dim <= MAX_DIM:
        raise Invalid(f"a vector has 1 to {MAX_DIM} numbers", field="items[0].vector")
    for i, entry in enumerate(entries):
        if len(entry.vector) != dim:
            raise Invalid(
                f"this vector has {len(entry.vector)} numbers; space {upload_in.space!r} "
                f"holds vectors of {dim}",
                field=f"items[{i}].vector",
            )
    matrix = np.asarray([e.vector for e in entries], dtype=np.float32)
    if not np.isfinite(matrix).all():
        row = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise Invalid("vectors hold finite numbers only", field=f"items[{row}].vector")
    references = [e.reference_id for e in entries]
    ids = existing_items(session, dataset.id, references)
    for i, reference_id in enumerate(references):
        if reference_id not in ids:
            raise NotFound(
                f"no item with reference_id {reference_id!r} in this dataset",
                field=f"items[{i}].reference_id",
            )
    seqs = dict(
        session.execute(
            select(models.Item.id, models.Item.seq).where(models.Item.id.in_(list(ids.values())))
        ).all()
    )
    revision = next_revision(session, dataset.id)
    if known is None or (embedder is not None and known.get("embedder") != embedder):
        # `since`: the revision the space was made at; an index kept from an earlier space
        # of the same name (deleted since) is rebuilt rather than caught up.
        spaces[upload_in.space] = {
            "dim": dim,
            "metric": upload_in.metric,
            "since": revision,
            **(known or {}),
        }
        if embedder is not None:
            from assay.curation.embedders import has_text_tower

            spaces[upload_in.space]["embedder"] = embedder
            spaces[upload_in.space]["text_search"] = has_text_tower(embedder)
        session.execute(
            update(DATASETS).where(DATASETS.c.id == dataset.id).values(embedding_spaces=spaces)
        )
    item_ids = [ids[r] for r in references]
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        session.execute(
            EMBEDDINGS.delete().where(
                EMBEDDINGS.c.item_id.in_(chunk), EMBEDDINGS.c.space == upload_in.space
            )
        )
    dialects.insert_rows(
        session.connection(),
        EMBEDDINGS,
        ("item_id", "seq", "vector"),
        [(item_id, seqs[item_id], matrix[k].tobytes()) for k, item_id in enumerate(item_ids)],
        {"space": upload_in.space, "dataset_id": dataset.id, "revision": revision},
    )
    return len(item_ids)


def decode(body: bytes) -> EmbeddingsIn:
    from assay.curation.wire import decode as decode_wire

    return decode_wire(body, EmbeddingsIn)


@dataclass
class _Kept:
    revision: int
    index: VectorIndex
    since: int | None = None


class Indexes:
    """This process's vector index per (dataset, space), caught up on each use: the rows of
    `table` (seq, vector, revision) added since, and with `prune` the seqs no longer in the
    table removed (object vectors go when their shapes do)."""

    def __init__(
        self,
        table: Any = None,
        space_of: Callable[[models.Dataset, str], dict[str, Any]] | None = None,
        prune: bool = False,
    ) -> None:
        self._table = EMBEDDINGS if table is None else table
        self._space_of = space_of or _item_space
        self._prune = prune
        self._kept: dict[tuple[str, str], _Kept] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, dataset: models.Dataset, space: str) -> VectorIndex:
        info = self._space_of(dataset, space)
        table = self._table
        with self._lock:
            kept = self._kept.get((dataset.id, space))
            if kept is None or kept.since != info.get("since"):
                kept = _Kept(
                    0,
                    VectorIndex(info["dim"], metric=info.get("metric", "cosine")),
                    info.get("since"),
                )
            if kept.revision < dataset.revision:
                where = (table.c.dataset_id == dataset.id, table.c.space == space)
                rows = session.execute(
                    select(table.c.seq, table.c.vector).where(
                        *where, table.c.revision > kept.revision
                    )
                ).all()
                if rows:
                    keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
                    kept.index.add(keys, vectors.reshape(len(rows), info["dim"]))
                if self._prune and kept.revision:  # deletes since: seqs no longer stored go
                    present = np.fromiter(
                        session.scalars(select(table.c.seq).where(*where)), dtype=np.int64
                    )
                    stale = np.setdiff1d(kept.index.keys(), present)
                    if len(stale):
                        kept.index.remove(stale)
                kept.revision = dataset.revision
            self._kept[(dataset.id, space)] = kept
            return kept.index

    def forget(self, dataset_id: str) -> None:
        with self._lock:
            for key in [k for k in self._kept if k[0] == dataset_id]:
                del self._kept[key]


def _item_space(dataset: models.Dataset, space: str) -> dict[str, Any]:
    info = (dataset.embedding_spaces or {}).get(space)
    if info is None:
        raise NotFound(f"the dataset has no embeddings in space {space!r}", field="space")
    return info


INDEXES = Indexes()


def vectors_of(
    session: Session, dataset: models.Dataset, space: str, item_ids: list[str]
) -> np.ndarray:
    """The stored vectors of the given items (in order); NotFound naming one without."""
    rows = dict(
        session.execute(
            select(EMBEDDINGS.c.item_id, EMBEDDINGS.c.vector).where(
                EMBEDDINGS.c.item_id.in_(item_ids), EMBEDDINGS.c.space == space
            )
        ).all()
    )
    missing = [i for i in item_ids if i not in rows]
    if missing:
        raise NotFound(f"item {missing[0]} has no embedding in space {space!r}", field="space")
    return np.stack([np.frombuffer(rows[i], dtype=np.float32) for i in item_ids])

"""Per-item measures computed over an embedding space, as jobs: near-duplicate groups
(`duplicates.group`, `duplicates.count`) and uniqueness (`uniqueness`), queryable and
sortable like any item field (`duplicates.count > 1`, order by `-uniqueness`).

Both read each live item's nearest neighbours (`vectors.nearest_neighbours`: exact below the
index's IVF size, over its inverted lists above). Near-duplicates link every pair within a
cosine distance `threshold` and join them transitively (connected components); uniqueness is
the mean distance to the `k` nearest, divided by the largest (FiftyOne's compute_uniqueness).

Results are stored whole per field (`models.Measure`: float32 values indexed by `seq`) with
the dataset's next revision, without stamping the items: a snapshot replaces just those
columns when it catches up (`snapshots.py`), so scoring 1,000,000 items costs one 4 MB row
per field rather than a million stamped rows re-read by every server process.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import PermanentError, enqueue, job_kind
from assay.core.models import Job
from assay.core.pagination import cursor_key, encode_cursor
from assay.curation import models
from assay.curation.datasets import next_revision
from assay.curation.embeddings import INDEXES
from assay.curation.similarity import live_matrix
from assay.curation.snapshots import SNAPSHOTS
from assay.curation.vectors import (
    duplicate_groups,
    nearest_neighbours,
    restrict_lists,
    uniqueness,
)

DUPLICATES_JOB = "curation.find_duplicates"
UNIQUENESS_JOB = "curation.compute_uniqueness"
MEASURES = models.Measure.__table__
MAX_K = 100
# Neighbours read per item for near-duplicates: a group larger than this still joins up,
# each member linking to k of the others.
DUPLICATE_NEIGHBOURS = 10


def _space(dataset: models.Dataset, space: str) -> dict[str, Any]:
    info = (dataset.embedding_spaces or {}).get(space)
    if info is None:
        raise NotFound(f"the dataset has no embeddings in space {space!r}", field="space")
    return info


def _checked_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise Invalid(f"k must be between 1 and {MAX_K}", field="k")
    return k


def start_duplicates(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    space: str,
    threshold: float = 0.05,
) -> Job:
    """Queue finding near-duplicate groups (cosine distance <= threshold, 0..1)."""
    _space(dataset, space)
    if not 0 <= threshold <= 1:
        raise Invalid("threshold is a cosine distance between 0 and 1", field="threshold")
    return enqueue(
        session=session,
        kind=DUPLICATES_JOB,
        payload={"dataset_id": dataset.id, "space": space, "threshold": float(threshold)},
        actor=actor,
    )


def start_uniqueness(
    *, session: Session, dataset: models.Dataset, actor: Actor, space: str, k: int = 3
) -> Job:
    """Queue scoring every item's uniqueness (mean distance to its k nearest, 0..1)."""
    _space(dataset, space)
    return enqueue(
        session=session,
        kind=UNIQUENESS_JOB,
        payload={"dataset_id": dataset.id, "space": space, "k": _checked_k(k)},
        actor=actor,
    )


def _neighbours(
    ctx: Any, payload: dict[str, Any], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys, neighbour positions, similarities) of the space's live items."""
    with ctx.db.read() as session:
        dataset = session.get(models.Dataset, payload["dataset_id"])
        if dataset is None or dataset.deleting:
            raise PermanentError("the dataset is gone")
        space = payload["space"]
        if space not in (dataset.embedding_spaces or {}):
            raise PermanentError(f"the dataset has no embeddings in space {space!r}")
        index = INDEXES.get(session, dataset, space)
        keys, vectors, live = live_matrix(session, dataset, space, SNAPSHOTS.get(session, dataset))
        partition = index.partition()
    if index.metric != "cosine":  # a dot space's vectors as stored; distances are cosine
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    lists = centroids = None
    if partition is not None:
        # Positions among the live rows; rows added since the matrix was read (another
        # request catching the index up) are left out: their items get no neighbours.
        lists, centroids = partition
        lists = restrict_lists(lists, len(keys) if live is None else len(live), live)
    ctx.progress(0, len(keys), f"reading the neighbours of {len(keys)} items", force=True)
    found, similar = nearest_neighbours(
        vectors,
        k,
        lists=lists,
        centroids=centroids,
        progress=lambda done, total: ctx.progress(done, total, f"{done} of {total} items"),
    )
    return keys, found, similar


def store_measures(
    *,
    session: Session,
    dataset: models.Dataset,
    space: str,
    keys: np.ndarray,
    fields: dict[str, np.ndarray],
    params: dict[str, Any],
) -> int:
    """Each field's values (one per key: an item's seq) written whole with the dataset's
    next revision, replacing the field's previous run. Returns the revision."""
    size = int(keys.max(initial=-1)) + 1
    revision = next_revision(session, dataset.id)
    now = dt.datetime.now(dt.UTC)
    session.execute(
        delete(MEASURES).where(
            MEASURES.c.dataset_id == dataset.id, MEASURES.c.field.in_(list(fields))
        )
    )
    for field, values in fields.items():
        by_seq = np.full(size, np.nan, dtype="<f4")
        by_seq[keys] = values
        session.execute(
            MEASURES.insert().values(
                dataset_id=dataset.id,
                field=field,
                space=space,
                params=params,
                by_seq=by_seq.tobytes(),
                revision=revision,
                computed_at=now,
            )
        )
    return revision


def _store(
    ctx: Any,
    payload: dict[str, Any],
    keys: np.ndarray,
    fields: dict[str, np.ndarray],
    params: dict[str, Any],
) -> None:
    with ctx.db.write() as session:
        dataset = session.get(models.Dataset, payload["dataset_id"])
        if dataset is None or dataset.deleting:
            raise PermanentError("the dataset was deleted while computing")
        store_measures(
            session=session,
            dataset=dataset,
            space=payload["space"],
            keys=keys,
            fields=fields,
            params=params,
        )


@job_kind(DUPLICATES_JOB, max_attempts=2)
def run_duplicates(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    keys, found, similar = _neighbours(ctx, payload, DUPLICATE_NEIGHBOURS)
    group, count = duplicate_groups(found, similar, payload["threshold"])
    grouped = group > 0
    _store(
        ctx,
        payload,
        keys,
        {
            "duplicates.group": np.where(grouped, group, np.nan),
            "duplicates.count": count.astype(np.float64),
        },
        {"threshold": payload["threshold"]},
    )
    groups = int(group.max(initial=0))
    return {
        "space": payload["space"],
        "items": len(keys),
        "groups": groups,
        "duplicated_items": int(grouped.sum()),
    }


@job_kind(UNIQUENESS_JOB, max_attempts=2)
def run_uniqueness(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    keys, _, similar = _neighbours(ctx, payload, payload["k"])
    scores = uniqueness(similar)
    _store(ctx, payload, keys, {"uniqueness": scores}, {"k": payload["k"]})
    return {"space": payload["space"], "items": len(keys)}


def duplicate_groups_page(
    *, session: Session, dataset: models.Dataset, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """The groups of the latest near-duplicate run, largest first, with their live items:
    {space, threshold, computed_at, groups: [{group, count, items}], next_cursor}."""
    after = _group_after(cursor)
    stored = session.execute(
        select(MEASURES.c.space, MEASURES.c.params, MEASURES.c.computed_at).where(
            MEASURES.c.dataset_id == dataset.id, MEASURES.c.field == "duplicates.group"
        )
    ).first()
    if stored is None:
        raise NotFound(
            "no near-duplicates were computed for this dataset (POST its /duplicates)",
            field="duplicates",
        )
    items = SNAPSHOTS.get(session, dataset).items
    grouped = (
        items.filter(pl.col("duplicates.group") > after)
        .group_by("duplicates.group")
        .agg(pl.col("item_id"), pl.col("reference_id"))
        .sort("duplicates.group")
        .head(limit + 1)
    )
    rows = grouped.rows()
    groups = [
        {
            "group": int(number),
            "count": len(item_ids),
            "items": [
                {"item_id": i, "reference_id": r} for i, r in zip(item_ids, references, strict=True)
            ],
        }
        for number, item_ids, references in rows[:limit]
    ]
    more = len(rows) > limit
    return {
        "space": stored.space,
        "threshold": stored.params.get("threshold"),
        "computed_at": stored.computed_at,
        "groups": groups,
        "next_cursor": encode_cursor({"k": str(groups[-1]["group"])}) if more else None,
    }


def _group_after(cursor: str | None) -> int:
    """The group a page resumes after (its number, as the cursor's string key)."""
    if not cursor:
        return 0
    after = cursor_key(cursor, str)
    if not after.isdigit() or len(after) > 12:
        raise Invalid("cursor is not one this server issued", field="cursor")
    return int(after)


def most_unique(
    *,
    session: Session,
    dataset: models.Dataset,
    space: str,
    reference_ids: list[str],
    size: int,
    k: int = 3,
) -> list[str]:
    """The `size` most unique of the given items (uniqueness among them alone, as the
    uniqueness job scores a dataset), most unique first; items without a vector in the
    space are left out."""
    _space(dataset, space)
    index = INDEXES.get(session, dataset, space)
    items = SNAPSHOTS.get(session, dataset).items
    pool = items.filter(pl.col("reference_id").is_in(reference_ids)).select("seq", "reference_id")
    keys = index.keys()
    inside = np.isin(keys, pool["seq"].to_numpy())
    if not inside.any():
        return []
    vectors = index.vectors()[inside]
    if index.metric != "cosine":
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    lists = centroids = None
    partition = index.partition()
    if partition is not None:
        lists, centroids = partition
        lists = restrict_lists(lists, len(keys), inside)
    _, similar = nearest_neighbours(
        np.asarray(vectors, dtype=np.float32),
        _checked_k(k),
        lists=lists,
        centroids=centroids,
    )
    scores = np.nan_to_num(uniqueness(similar), nan=-1.0)
    seqs = keys[inside]
    # Most unique first; ties by the order the items were added.
    order = np.lexsort((seqs, -scores))[:size]
    by_seq = dict(zip(pool["seq"].to_list(), pool["reference_id"].to_list(), strict=True))
    return [by_seq[int(seq)] for seq in seqs[order]]

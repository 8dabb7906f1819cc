"""Find-similar over objects (FiftyOne's patch similarity): the objects most like some
objects (their mean vector) or a vector, in an object embedding space, among the objects an
object query matches (all when none), on the process's object index
(`object_embeddings.OBJECT_INDEXES`).

Only objects whose shapes are there now are answered: the index's candidates are checked
against their items' stored shapes (a vector whose shape went dangles until pruned), and
the search widens until k live ones are found or the index runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core.errors import Invalid
from assay.curation import models
from assay.curation.object_embeddings import (
    OBJECT_INDEXES,
    ObjectEmbeddingIn,
    live_objects,
    resolve,
    rows_of,
    seqs_of,
    vectors_of,
)
from assay.curation.query import run_query
from assay.curation.slice_objects import ObjectRef, refs_of_places
from assay.curation.snapshots import SNAPSHOTS

MAX_K = 1000


@dataclass
class ObjectMatch:
    object_id: str  # the objects view's id now: "<item>:<source>:<place>"
    item_id: str
    reference_id: str
    source_id: str  # "" for ground truth, else the model's id
    annotation_id: str | None
    label: str | None
    type: str | None
    score: float


def _query_keys(
    session: Session, dataset: models.Dataset, space: str, query: str | dict[str, Any]
) -> np.ndarray:
    """The seqs (in the space) of the objects an object query matches."""
    snapshot = SNAPSHOTS.get(session, dataset)
    positions = run_query(snapshot.frames, query, "objects").positions
    if not len(positions):
        return np.zeros(0, dtype=np.int64)
    places = snapshot.objects["object_id"].to_numpy()[positions].tolist()
    refs = refs_of_places(session=session, dataset=dataset, object_ids=places)
    seqs = seqs_of(session, space, list(dict.fromkeys(refs.values())))
    return np.fromiter(seqs.values(), dtype=np.int64, count=len(seqs))


def find_similar_objects(
    *,
    session: Session,
    dataset: models.Dataset,
    space: str,
    objects: Sequence[ObjectEmbeddingIn] | None = None,
    vector: Sequence[float] | None = None,
    k: int = 50,
    query: str | dict[str, Any] | None = None,
) -> list[ObjectMatch]:
    """The k objects most like the given objects (their mean vector; they are left out of
    the answer) or like `vector`, best first, among an object query's matches."""
    if not 1 <= k <= MAX_K:
        raise Invalid(f"k must be between 1 and {MAX_K}", field="k")
    if (objects is None) == (vector is None):
        raise Invalid("give one of objects or vector", field="objects")
    index = OBJECT_INDEXES.get(session, dataset, space)
    exclude: list[int] = []
    if objects is not None:
        if not objects:
            raise Invalid("give at least one object", field="objects")
        refs = resolve(session=session, dataset=dataset, entries=objects, field="objects")
        matrix, exclude = vectors_of(session, space, refs, "objects")
        probe = matrix.mean(axis=0)
    else:
        probe = np.asarray(vector, dtype=np.float32)
        if probe.shape != (index.dim,) or not np.isfinite(probe).all():
            raise Invalid(
                f"the vector needs {index.dim} finite numbers (object space {space!r})",
                field="vector",
            )
    keys = index.keys()
    if not len(keys):
        return []
    allowed: np.ndarray | None = None
    if query is not None and (not isinstance(query, str) or query.strip()):
        chosen = _query_keys(session, dataset, space, query)
        allowed = np.zeros(int(max(keys.max(), chosen.max(initial=0))) + 1, dtype=bool)
        allowed[chosen] = True
    if exclude:
        if allowed is None:
            allowed = np.ones(int(max(keys.max(), max(exclude))) + 1, dtype=bool)
        allowed[exclude] = False
    if allowed is not None and not allowed.any():
        return []
    fetch = min(len(keys), k + 8)
    while True:
        found, scores = index.search(probe[None, :], fetch, allowed=allowed)
        matches = _live_matches(session, dataset, space, found[0], scores[0])
        if len(matches) >= k or fetch >= len(keys) or int((found[0] >= 0).sum()) < fetch:
            return matches[:k]
        fetch = min(len(keys), fetch * 4)


def _live_matches(
    session: Session, dataset: models.Dataset, space: str, keys: np.ndarray, scores: np.ndarray
) -> list[ObjectMatch]:
    picked = [(int(key), float(score)) for key, score in zip(keys, scores, strict=True) if key >= 0]
    refs = rows_of(session, dataset, space, [key for key, _ in picked])
    live = live_objects(session, dataset.id, sorted({ref.item_id for ref in refs.values()}))
    references = dict(
        session.execute(
            select(models.Item.id, models.Item.reference_id).where(
                models.Item.id.in_(sorted({ref.item_id for ref in refs.values()}))
            )
        ).all()
    )
    found = []
    for key, score in picked:
        ref: ObjectRef | None = refs.get(key)
        if ref is None or ref not in live:
            continue
        place, shape = live[ref]
        found.append(
            ObjectMatch(
                object_id=f"{ref.item_id}:{ref.source_id}:{place}",
                item_id=ref.item_id,
                reference_id=references[ref.item_id],
                source_id=ref.source_id,
                annotation_id=shape.get("id"),
                label=shape.get("label"),
                type=shape.get("type"),
                score=score,
            )
        )
    return found

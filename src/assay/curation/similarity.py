"""Find-similar and autotag over a dataset's embeddings, restricted to its live items (and
to a query's matches), on the process's snapshot and vector index.

Autotag: seed a concept with a few positive items (and negatives), refine in rounds (mark
results positive or negative; each round fits a linear model on the embeddings and scores
every item — `vectors.refine_autotag`), then commit: the top K scores are stored and become
the snapshot's `autotag.<name>` column (`autotag.crosswalk >= 0.8` in the query bar).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from assay.core.errors import Invalid, NotFound
from assay.curation import models
from assay.curation.datasets import next_revision
from assay.curation.embedders import has_text_tower, loaded_embedder
from assay.curation.embeddings import INDEXES, vectors_of
from assay.curation.items import CHUNK, existing_items
from assay.curation.query import run_query
from assay.curation.snapshots import SNAPSHOTS, Snapshot
from assay.curation.vectors import refine_autotag

ITEMS = models.Item.__table__
SCORES = models.AutotagScore.__table__
MAX_K = 1000
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass
class Match:
    item_id: str
    reference_id: str
    score: float


def _rows_by_seq(snapshot: Snapshot) -> np.ndarray:
    """Snapshot row of each seq (-1 where none)."""

    def build() -> np.ndarray:
        seqs = snapshot.items["seq"].to_numpy()
        rows = np.full(int(seqs.max(initial=0)) + 1, -1, dtype=np.int64)
        rows[seqs] = np.arange(len(seqs))
        return rows

    return snapshot.frames.cached("rows_by_seq", build)


def _allowed(snapshot: Snapshot, rows: np.ndarray, exclude: Sequence[int] = ()) -> np.ndarray:
    """A mask indexed by key (seq) allowing the given snapshot rows, minus `exclude` keys."""
    seqs = snapshot.items["seq"].to_numpy()
    mask = np.zeros(int(seqs.max(initial=0)) + 1, dtype=bool)
    mask[seqs[rows]] = True
    mask[list(exclude)] = False
    return mask


def _matches(snapshot: Snapshot, keys: np.ndarray, scores: np.ndarray) -> list[Match]:
    rows_by_seq = _rows_by_seq(snapshot)
    ids = snapshot.items["item_id"].to_list()
    refs = snapshot.items["reference_id"].to_list()
    found = []
    for key, score in zip(keys.tolist(), scores.tolist(), strict=True):
        if key < 0 or key >= len(rows_by_seq) or rows_by_seq[key] < 0:
            continue
        row = int(rows_by_seq[key])
        found.append(Match(ids[row], refs[row], float(score)))
    return found


def find_similar(
    *,
    session: Session,
    dataset: models.Dataset,
    space: str,
    reference_ids: Sequence[str] | None = None,
    vector: Sequence[float] | None = None,
    text: str | None = None,
    k: int = 50,
    query: str | dict[str, Any] | None = None,
) -> list[Match]:
    """The k items most like the given items (their mean embedding), like `vector`, or like
    `text` (embedded by the space's embedder's text tower), among the live items a query
    matches (all when none); the given items themselves excluded."""
    if not 1 <= k <= MAX_K:
        raise Invalid(f"k must be between 1 and {MAX_K}", field="k")
    if sum(given is not None for given in (reference_ids, vector, text)) != 1:
        raise Invalid("give one of reference_ids, vector or text", field="reference_ids")
    if text is not None:
        vector = text_vector(dataset=dataset, space=space, text=text)
    snapshot = SNAPSHOTS.get(session, dataset)
    index = INDEXES.get(session, dataset, space)
    exclude: list[int] = []
    if reference_ids is not None:
        if not reference_ids:
            raise Invalid("give at least one reference id", field="reference_ids")
        known = existing_items(session, dataset.id, list(reference_ids))
        for i, reference_id in enumerate(reference_ids):
            if reference_id not in known:
                raise NotFound(
                    f"no item with reference_id {reference_id!r} in this dataset",
                    field=f"reference_ids[{i}]",
                )
        item_ids = [known[r] for r in reference_ids]
        probe = vectors_of(session, dataset, space, item_ids).mean(axis=0)
        exclude = list(session.scalars(select(models.Item.seq).where(models.Item.id.in_(item_ids))))
    else:
        probe = np.asarray(vector, dtype=np.float32)
        if probe.shape != (index.dim,) or not np.isfinite(probe).all():
            raise Invalid(
                f"the vector needs {index.dim} finite numbers (space {space!r})", field="vector"
            )
    rows = run_query(snapshot.frames, query, "items").positions
    if not len(rows):
        return []
    keys, scores = index.search(probe[None, :], k, allowed=_allowed(snapshot, rows, exclude))
    return _matches(snapshot, keys[0], scores[0])


def text_vector(*, dataset: models.Dataset, space: str, text: str) -> np.ndarray:
    """`text` in the space's vectors, by the text tower of the embedder that computed it."""
    info = (dataset.embedding_spaces or {}).get(space)
    if info is None:
        raise NotFound(f"the dataset has no embeddings in space {space!r}", field="space")
    if not text.strip():
        raise Invalid("text search needs some text", field="text")
    name = info.get("embedder")
    if name is None:
        raise Invalid(
            f"space {space!r} was uploaded, not computed by a registered embedder: there is "
            "no text tower to embed text with; search it by vector",
            field="text",
        )
    if not has_text_tower(name):
        raise Invalid(
            f"space {space!r} was computed by {name}, which has no text tower: it cannot "
            "embed text",
            field="text",
        )
    try:
        embedder = loaded_embedder(name)
    except ModuleNotFoundError as missing:
        raise Invalid(
            f"space {space!r} was computed by {name}, which is not installed on this server "
            f"({missing.name}): it cannot embed text here",
            field="text",
        ) from None
    found = embedder.embed_texts([text])
    return np.asarray(found, dtype=np.float32)[0]


# --- autotag ----------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not name or len(name) > 100 or not set(name) <= NAME_CHARS or name[0].isdigit():
        raise Invalid(
            "an autotag's name is lower-case letters, digits and _ (it is a query field: "
            "autotag.<name>)",
            field="name",
        )
    return name


def live_matrix(
    session: Session, dataset: models.Dataset, space: str, snapshot: Snapshot
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(keys, vectors) of the live items that have embeddings in the space, and which of the
    index's rows those are (None: all of them)."""
    index = INDEXES.get(session, dataset, space)
    keys, vectors = index.keys(), index.vectors()
    rows_by_seq = _rows_by_seq(snapshot)
    live = (keys < len(rows_by_seq)) & (rows_by_seq[np.minimum(keys, len(rows_by_seq) - 1)] >= 0)
    if live.all():
        return keys, vectors, None
    return keys[live], vectors[live], live


def _positions(
    session: Session, dataset: models.Dataset, keys: np.ndarray, refs: Sequence[str], field: str
) -> np.ndarray:
    known = existing_items(session, dataset.id, list(refs))
    for i, reference_id in enumerate(refs):
        if reference_id not in known:
            raise NotFound(
                f"no item with reference_id {reference_id!r} in this dataset",
                field=f"{field}[{i}]",
            )
    seqs = list(
        session.scalars(select(models.Item.seq).where(models.Item.id.in_(list(known.values()))))
    )
    order = np.argsort(keys)
    found = np.searchsorted(keys[order], seqs)
    inside = (found < len(keys)) & (keys[order][np.minimum(found, len(keys) - 1)] == seqs)
    if not inside.all():
        raise Invalid(f"an item of {field} has no embedding in this space", field=field)
    return order[found]


def refine(
    *,
    session: Session,
    dataset: models.Dataset,
    name: str,
    space: str,
    positive: Sequence[str],
    negative: Sequence[str] = (),
    top_k: int = 20_000,
    created_by: str | None = None,
    show: int = 100,
) -> tuple[models.Autotag, list[Match]]:
    """One round: keep the examples, fit, and answer the `show` best items with their
    probabilities (for the refinement view)."""
    _check_name(name)
    if not 1 <= top_k <= 1_000_000:
        raise Invalid("top_k must be between 1 and 1,000,000", field="top_k")
    tag = session.scalar(
        select(models.Autotag).where(
            models.Autotag.dataset_id == dataset.id, models.Autotag.name == name
        )
    )
    if tag is None:
        tag = models.Autotag(dataset_id=dataset.id, name=name, space=space, created_by=created_by)
        session.add(tag)
    elif tag.space != space:
        raise Invalid(f"autotag {name!r} learns on space {tag.space!r}", field="space")
    tag.positive, tag.negative, tag.top_k = list(positive), list(negative), top_k
    tag.rounds = (tag.rounds or 0) + 1
    session.flush()
    matches = _score(session, dataset, tag)[:show]
    return tag, matches


def _score(session: Session, dataset: models.Dataset, tag: models.Autotag) -> list[Match]:
    snapshot = SNAPSHOTS.get(session, dataset)
    keys, vectors, _ = live_matrix(session, dataset, tag.space, snapshot)
    if not len(keys):
        raise Invalid(f"no item has an embedding in space {tag.space!r}", field="space")
    positive = _positions(session, dataset, keys, tag.positive, "positive")
    negative = (
        _positions(session, dataset, keys, tag.negative, "negative")
        if tag.negative
        else np.zeros(0, dtype=np.int64)
    )
    best, probabilities = refine_autotag(
        vectors, positive, negative, top_k=min(tag.top_k, len(keys))
    )
    return _matches(snapshot, keys[best], probabilities)


def commit(*, session: Session, dataset: models.Dataset, tag: models.Autotag) -> int:
    """Store the top K scores of the autotag's latest round; they become `autotag.<name>`.
    Returns how many items were scored."""
    if not tag.positive:
        raise Invalid("refine the autotag with positive examples before committing", field="name")
    matches = _score(session, dataset, tag)
    before = list(session.scalars(select(SCORES.c.item_id).where(SCORES.c.autotag_id == tag.id)))
    session.execute(delete(SCORES).where(SCORES.c.autotag_id == tag.id))
    if matches:
        session.execute(
            SCORES.insert(),
            [{"autotag_id": tag.id, "item_id": m.item_id, "score": m.score} for m in matches],
        )
    revision = next_revision(session, dataset.id)
    touched = sorted(set(before) | {m.item_id for m in matches})
    for start in range(0, len(touched), CHUNK):
        chunk = touched[start : start + CHUNK]
        session.execute(update(ITEMS).where(ITEMS.c.id.in_(chunk)).values(revision=revision))
    tag.committed_at = dt.datetime.now(dt.UTC)
    session.flush()
    return len(matches)


def get_autotag(*, session: Session, dataset: models.Dataset, name: str) -> models.Autotag:
    tag = session.scalar(
        select(models.Autotag).where(
            models.Autotag.dataset_id == dataset.id, models.Autotag.name == name
        )
    )
    if tag is None:
        raise NotFound(f"no autotag named {name!r} in this dataset", field="name")
    return tag

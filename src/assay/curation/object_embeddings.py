"""Object embeddings: vectors per object — one shape of an item from one source (ground
truth "" or a model's id), named by its key (`slice_objects.shape_key`: the shape's own id,
else a digest of it) — in object embedding spaces, written in bulk, and the per-process
vector indexes that object find-similar searches (`object_similarity.py`).

Object spaces live in `datasets.object_embedding_spaces`, apart from the item spaces, with
the same entries (`dim`, `metric`, `since`, and `embedder` for computed ones): whatever reads
item spaces (the primary space, measures, Nucleus's image index) never meets them. The table
is the source of truth (float32 bytes stamped with the dataset's revision); an object's
`seq` (from `datasets.object_seq`) is its key in the space's `VectorIndex` and is kept when
the object is embedded again, so an index upserts it.

In step with deletes: deleting an item takes its objects' vectors (CASCADE); replacing or
deleting shapes through `annotations` drops the vectors of the keys that went (`prune`);
a vector left behind by any other path names a key no shape answers to, and every read
leaves it out (`live_objects`). A process's index catches up on each new revision: the rows
stamped since are added, the seqs no longer in the table removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
from msgspec import Meta, Struct
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from assay.core import dialects
from assay.core.errors import Invalid, NotFound
from assay.curation import models
from assay.curation.datasets import DATASETS, next_revision
from assay.curation.embeddings import MAX_DIM, SPACE, Indexes
from assay.curation.items import existing_items
from assay.curation.slice_objects import (
    ObjectRef,
    check_objects,
    refs_of_places,
    shape_key,
    stored_shapes,
)

OBJECT_EMBEDDINGS = models.ObjectEmbedding.__table__
ANNOTATIONS = models.Annotation.__table__
ITEMS = models.Item.__table__
CHUNK = 500
# What a Nucleus client's `embedding_vector` on an annotation or prediction goes into.
CUSTOM = "custom"


class ObjectEmbeddingIn(Struct, kw_only=True, forbid_unknown_fields=True):
    """One object's vector: the object named by its item's reference id and its annotation
    id (and the model for a prediction; ground truth without one), or by the objects view's
    `object_id` ("<item>:<source>:<place>", what an object query answers)."""

    vector: list[float]
    reference_id: Annotated[str, Meta(min_length=1, max_length=512)] | None = None
    annotation_id: Annotated[str, Meta(min_length=1, max_length=512)] | None = None
    model_id: Annotated[str, Meta(min_length=1, max_length=24)] | None = None
    object_id: Annotated[str, Meta(min_length=1, max_length=600)] | None = None


class ObjectEmbeddingsIn(Struct, kw_only=True, forbid_unknown_fields=True):
    space: Annotated[str, Meta(min_length=1, max_length=64)]
    objects: list[ObjectEmbeddingIn]
    metric: str = "cosine"


def decode(body: bytes) -> ObjectEmbeddingsIn:
    from assay.curation.wire import decode as decode_wire

    return decode_wire(body, ObjectEmbeddingsIn)


def spaces_of(dataset: models.Dataset) -> dict[str, Any]:
    return dict(dataset.object_embedding_spaces or {})


def known_space(dataset: models.Dataset, space: str, field: str = "space") -> dict[str, Any]:
    info = spaces_of(dataset).get(space)
    if info is None:
        raise NotFound(f"the dataset has no object embeddings in space {space!r}", field=field)
    return info


def check_vectors(
    *,
    dataset: models.Dataset,
    space: str,
    vectors: Sequence[Sequence[float]],
    fields: Sequence[str],
    metric: str = "cosine",
) -> np.ndarray:
    """The vectors as a float32 matrix, or Invalid naming the first bad one's field: the
    space's dimension (or the first vector's for a new space), finite numbers only."""
    if not SPACE.fullmatch(space):
        raise Invalid(
            "space: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit",
            field="space",
        )
    if metric not in ("cosine", "dot"):
        raise Invalid("metric must be cosine or dot", field="metric")
    if len(vectors) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    known = spaces_of(dataset).get(space)
    dim = known["dim"] if known else len(vectors[0])
    if not 1 <= dim <= MAX_DIM:
        raise Invalid(f"a vector has 1 to {MAX_DIM} numbers", field=fields[0])
    for vector, field in zip(vectors, fields, strict=True):
        if len(vector) != dim:
            raise Invalid(
                f"this vector has {len(vector)} numbers; object space {space!r} holds "
                f"vectors of {dim}",
                field=field,
            )
    matrix = np.asarray(vectors, dtype=np.float64)
    bad = ~np.isfinite(matrix).all(axis=1) | (np.abs(matrix).max(axis=1) > 3.4e38)
    if bad.any():
        raise Invalid("vectors hold finite numbers only", field=fields[int(np.argmax(bad))])
    return matrix.astype(np.float32)


def write_vectors(
    *,
    session: Session,
    dataset: models.Dataset,
    space: str,
    objects: Sequence[ObjectRef],
    matrix: np.ndarray,
    embedder: str | None = None,
    metric: str = "cosine",
) -> int:
    """Store (or replace) checked vectors of checked objects (`check_vectors`, and objects
    of this dataset); the first write makes the space. Returns how many were written."""
    if not len(objects):
        return 0
    spaces = spaces_of(dataset)
    known = spaces.get(space)
    revision = next_revision(session, dataset.id)
    if known is None or (embedder is not None and known.get("embedder") != embedder):
        spaces[space] = {
            "dim": int(matrix.shape[1]),
            "metric": metric,
            "since": revision,
            "kind": "object",
            **(known or {}),
        }
        if embedder is not None:
            spaces[space]["embedder"] = embedder
        session.execute(
            update(DATASETS)
            .where(DATASETS.c.id == dataset.id)
            .values(object_embedding_spaces=spaces)
        )
        set_committed_value(dataset, "object_embedding_spaces", spaces)
    latest = {ref: k for k, ref in enumerate(objects)}  # a repeated object: its last vector
    refs = list(latest)
    seqs = seqs_of(session, space, refs)
    fresh = [ref for ref in refs if ref not in seqs]
    if fresh:
        last = session.execute(
            update(DATASETS)
            .where(DATASETS.c.id == dataset.id)
            .values(object_seq=DATASETS.c.object_seq + len(fresh))
            .returning(DATASETS.c.object_seq)
        ).scalar_one()
        seqs.update(zip(fresh, range(last - len(fresh) + 1, last + 1), strict=True))
    _delete_refs(session, [ref for ref in refs if ref not in fresh], space)
    dialects.insert_rows(
        session.connection(),
        OBJECT_EMBEDDINGS,
        ("item_id", "source_id", "shape_key", "seq", "vector"),
        [(*ref, seqs[ref], matrix[latest[ref]].tobytes()) for ref in refs],
        {"space": space, "dataset_id": dataset.id, "revision": revision},
    )
    return len(refs)


def _ref_clause(refs: Sequence[ObjectRef]) -> Any:
    return or_(
        *(
            and_(
                OBJECT_EMBEDDINGS.c.item_id == ref.item_id,
                OBJECT_EMBEDDINGS.c.source_id == ref.source_id,
                OBJECT_EMBEDDINGS.c.shape_key == ref.key,
            )
            for ref in refs
        )
    )


def seqs_of(session: Session, space: str, refs: Sequence[ObjectRef]) -> dict[ObjectRef, int]:
    """The seq of each of the objects already embedded in the space."""
    found: dict[ObjectRef, int] = {}
    wanted = set(refs)
    items = sorted({ref.item_id for ref in refs})
    for start in range(0, len(items), CHUNK):
        rows = session.execute(
            select(
                OBJECT_EMBEDDINGS.c.item_id,
                OBJECT_EMBEDDINGS.c.source_id,
                OBJECT_EMBEDDINGS.c.shape_key,
                OBJECT_EMBEDDINGS.c.seq,
            ).where(
                OBJECT_EMBEDDINGS.c.space == space,
                OBJECT_EMBEDDINGS.c.item_id.in_(items[start : start + CHUNK]),
            )
        )
        for item_id, source_id, key, seq in rows:
            ref = ObjectRef(item_id, source_id, key)
            if ref in wanted:
                found[ref] = seq
    return found


def _delete_refs(session: Session, refs: Sequence[ObjectRef], space: str | None) -> int:
    removed = 0
    for start in range(0, len(refs), 100):
        where = [_ref_clause(refs[start : start + 100])]
        if space is not None:
            where.append(OBJECT_EMBEDDINGS.c.space == space)
        removed += session.execute(delete(OBJECT_EMBEDDINGS).where(*where)).rowcount or 0
    return removed


def resolve(
    *, session: Session, dataset: models.Dataset, entries: Sequence[ObjectEmbeddingIn], field: str
) -> list[ObjectRef]:
    """The object each entry names, or NotFound / Invalid naming `field[i]`."""
    places = refs_of_places(
        session=session,
        dataset=dataset,
        object_ids=[e.object_id for e in entries if e.object_id is not None],
    )
    by_reference = existing_items(
        session, dataset.id, list({e.reference_id for e in entries if e.reference_id})
    )
    found: list[ObjectRef] = []
    for i, entry in enumerate(entries):
        named = entry.reference_id is not None or entry.annotation_id is not None
        if (entry.object_id is not None) == named:
            raise Invalid(
                "name an object by object_id, or by reference_id and annotation_id",
                field=f"{field}[{i}]",
            )
        if entry.object_id is not None:
            if entry.model_id is not None:
                raise Invalid("object_id names the source already", field=f"{field}[{i}].model_id")
            ref = places.get(entry.object_id)
            if ref is None:
                raise NotFound(
                    f"no object {entry.object_id!r} in this dataset",
                    field=f"{field}[{i}].object_id",
                )
        else:
            if entry.reference_id is None or entry.annotation_id is None:
                missing = "reference_id" if entry.reference_id is None else "annotation_id"
                raise Invalid(
                    f"{missing} is needed with the other", field=f"{field}[{i}].{missing}"
                )
            item_id = by_reference.get(entry.reference_id)
            if item_id is None:
                raise NotFound(
                    f"no item with reference_id {entry.reference_id!r} in this dataset",
                    field=f"{field}[{i}].reference_id",
                )
            ref = ObjectRef(item_id, entry.model_id or models.GROUND_TRUTH, entry.annotation_id)
        found.append(ref)
    labels = [
        e.object_id or f"{e.reference_id}/{e.model_id or 'ground truth'}/{e.annotation_id}"
        for e in entries
    ]
    check_objects(session=session, dataset=dataset, objects=found, field=field, labels=labels)
    return found


def upload(*, session: Session, dataset: models.Dataset, upload_in: ObjectEmbeddingsIn) -> int:
    """Store (or replace) objects' vectors in an object space; the first upload fixes its
    dimension. All or nothing: every vector and object is checked before a row is written."""
    matrix = check_vectors(
        dataset=dataset,
        space=upload_in.space,
        vectors=[e.vector for e in upload_in.objects],
        fields=[f"objects[{i}].vector" for i in range(len(upload_in.objects))],
        metric=upload_in.metric,
    )
    refs = resolve(session=session, dataset=dataset, entries=upload_in.objects, field="objects")
    return write_vectors(
        session=session,
        dataset=dataset,
        space=upload_in.space,
        objects=refs,
        matrix=matrix,
        metric=upload_in.metric,
    )


def prune(
    *,
    session: Session,
    dataset: models.Dataset,
    source_id: str,
    kept: dict[str, set[str]],
) -> int:
    """After the source's shapes of some items were replaced or deleted: drop the vectors of
    those items' objects whose keys are no longer among `kept` (item id → keys left)."""
    if not dataset.object_embedding_spaces or not kept:
        return 0
    gone: list[ObjectRef] = []
    items = sorted(kept)
    for start in range(0, len(items), CHUNK):
        rows = session.execute(
            select(OBJECT_EMBEDDINGS.c.item_id, OBJECT_EMBEDDINGS.c.shape_key)
            .distinct()
            .where(
                OBJECT_EMBEDDINGS.c.source_id == source_id,
                OBJECT_EMBEDDINGS.c.item_id.in_(items[start : start + CHUNK]),
            )
        )
        gone.extend(
            ObjectRef(item_id, source_id, key) for item_id, key in rows if key not in kept[item_id]
        )
    return _delete_refs(session, gone, None)


def live_objects(
    session: Session, dataset_id: str, item_ids: Sequence[str]
) -> dict[ObjectRef, tuple[int, dict[str, Any]]]:
    """Every object of these items now, with its place in its item's list and its shape."""
    return {
        ObjectRef(item_id, source_id, shape_key(shape)): (place, shape)
        for (item_id, source_id), shapes in stored_shapes(session, dataset_id, item_ids).items()
        for place, shape in enumerate(shapes)
    }


def rows_of(
    session: Session, dataset: models.Dataset, space: str, seqs: Sequence[int]
) -> dict[int, ObjectRef]:
    """seq → object, for those of the seqs in the space now."""
    found: dict[int, ObjectRef] = {}
    unique = sorted(set(int(s) for s in seqs))
    for start in range(0, len(unique), CHUNK):
        rows = session.execute(
            select(
                OBJECT_EMBEDDINGS.c.seq,
                OBJECT_EMBEDDINGS.c.item_id,
                OBJECT_EMBEDDINGS.c.source_id,
                OBJECT_EMBEDDINGS.c.shape_key,
            ).where(
                OBJECT_EMBEDDINGS.c.dataset_id == dataset.id,
                OBJECT_EMBEDDINGS.c.space == space,
                OBJECT_EMBEDDINGS.c.seq.in_(unique[start : start + CHUNK]),
            )
        )
        found.update({seq: ObjectRef(i, s, k) for seq, i, s, k in rows})
    return found


def vectors_of(
    session: Session, space: str, objects: Sequence[ObjectRef], field: str
) -> tuple[np.ndarray, list[int]]:
    """The stored vectors of the objects (in order) and their seqs; NotFound naming
    `field[i]` for the first without one."""
    seqs = seqs_of(session, space, objects)
    for i, ref in enumerate(objects):
        if ref not in seqs:
            raise NotFound(
                f"object {'/'.join(ref)} has no embedding in object space {space!r}",
                field=f"{field}[{i}]",
            )
    rows = dict(
        session.execute(
            select(OBJECT_EMBEDDINGS.c.seq, OBJECT_EMBEDDINGS.c.vector).where(
                OBJECT_EMBEDDINGS.c.space == space,
                OBJECT_EMBEDDINGS.c.seq.in_([seqs[r] for r in objects]),
                OBJECT_EMBEDDINGS.c.item_id.in_(sorted({r.item_id for r in objects})),
            )
        ).all()
    )
    order = [seqs[r] for r in objects]
    return np.stack([np.frombuffer(rows[s], dtype=np.float32) for s in order]), order


def embedded_count(*, session: Session, dataset: models.Dataset, space: str, source_id: str) -> int:
    """How many of a source's objects now have a vector in the space (dangling ones not)."""
    rows = session.execute(
        select(OBJECT_EMBEDDINGS.c.item_id, OBJECT_EMBEDDINGS.c.shape_key).where(
            OBJECT_EMBEDDINGS.c.dataset_id == dataset.id,
            OBJECT_EMBEDDINGS.c.space == space,
            OBJECT_EMBEDDINGS.c.source_id == source_id,
        )
    ).all()
    if not rows:
        return 0
    live = live_objects(session, dataset.id, [item_id for item_id, _ in rows])
    return sum(ObjectRef(item_id, source_id, key) in live for item_id, key in rows)


def embedded_refs(
    session: Session, dataset: models.Dataset, space: str, source_id: str
) -> set[ObjectRef]:
    """The source's objects with a row in the space (dangling ones included)."""
    rows = session.execute(
        select(OBJECT_EMBEDDINGS.c.item_id, OBJECT_EMBEDDINGS.c.shape_key).where(
            OBJECT_EMBEDDINGS.c.dataset_id == dataset.id,
            OBJECT_EMBEDDINGS.c.space == space,
            OBJECT_EMBEDDINGS.c.source_id == source_id,
        )
    )
    return {ObjectRef(item_id, source_id, key) for item_id, key in rows}


def row_count(session: Session, dataset: models.Dataset, space: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OBJECT_EMBEDDINGS)
            .where(OBJECT_EMBEDDINGS.c.dataset_id == dataset.id, OBJECT_EMBEDDINGS.c.space == space)
        )
        or 0
    )


OBJECT_INDEXES = Indexes(OBJECT_EMBEDDINGS, known_space, prune=True)

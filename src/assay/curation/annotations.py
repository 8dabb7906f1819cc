"""Annotations of a dataset's items by source: upload (insert, replace or keep by the
annotation's own id), read one, delete — for ground truth (`source_id` "") and for a
model's predictions (`source_id` = the model's id) alike.

An item's shapes from one source are one row (`models.Annotation`), so an upload reads the
rows of the items it touches, merges the new shapes into their lists by id and writes the
rows back. All or nothing: every shape is placed on an item of the dataset and checked
before anything is written; the first problem is an `Invalid` naming the shape. The write
takes the dataset's next revision and stamps the items it touched, so snapshots catch up
(`curation/models.py`). Set-based, as `items.append_items`: a few reads per 500 items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from assay.core.db import utcnow
from assay.core.errors import Invalid, NotFound
from assay.curation import models, object_embeddings, wire
from assay.curation.datasets import DATASETS, lock_dataset, next_revision
from assay.curation.items import ANNOTATIONS, ITEMS, _chunks, check_shape, existing_items
from assay.curation.slice_objects import ObjectRef, shape_key


class Placed(NamedTuple):
    """A shape and its item, named by reference id or by item id; `embedding`: the object's
    vector when the upload carries one (stored by `object_embeddings`, not here)."""

    reference_id: str | None
    item_id: str | None
    shape: wire.Shape
    embedding: list[float] | None = None


@dataclass
class UploadResult:
    processed: int
    ignored: int
    revision: int | None
    # Per placed shape: the object it was stored as, or None where it was ignored.
    stored: list[ObjectRef | None] = field(default_factory=list)


def _count_column(source_id: str) -> Any:
    return (
        DATASETS.c.annotation_count
        if source_id == models.GROUND_TRUTH
        else DATASETS.c.prediction_count
    )


def _resolve_items(
    session: Session, dataset: models.Dataset, placed: Sequence[Placed], field: str
) -> list[str]:
    """The item id of each placed shape, or Invalid naming the first on no item here."""
    by_reference = existing_items(
        session, dataset.id, list({p.reference_id for p in placed if p.reference_id})
    )
    wanted = list({p.item_id for p in placed if p.item_id and not p.reference_id})
    known: set[str] = set()
    for chunk in _chunks(wanted):
        known.update(
            session.scalars(
                select(ITEMS.c.id).where(ITEMS.c.dataset_id == dataset.id, ITEMS.c.id.in_(chunk))
            )
        )
    found = []
    for i, one in enumerate(placed):
        if one.reference_id:
            item_id = by_reference.get(one.reference_id)
            if item_id is None:
                raise Invalid(
                    f"no item with reference_id {one.reference_id!r} in this dataset",
                    field=f"{field}[{i}].reference_id",
                )
        else:
            item_id = one.item_id
            if item_id not in known:
                raise Invalid(
                    f"no item with id {one.item_id!r} in this dataset",
                    field=f"{field}[{i}].item_id",
                )
        found.append(item_id)
    return found


def _stored(session: Session, item_ids: Sequence[str], source_id: str) -> dict[str, list[dict]]:
    """item id → its stored shapes from `source_id` (items without any are absent)."""
    found: dict[str, list[dict]] = {}
    for chunk in _chunks(list(item_ids)):
        rows = session.execute(
            select(ANNOTATIONS.c.item_id, ANNOTATIONS.c.shapes).where(
                ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == source_id
            )
        )
        found.update({item_id: list(shapes) for item_id, shapes in rows})
    return found


def upload(
    *,
    session: Session,
    dataset: models.Dataset,
    source_id: str,
    placed: Sequence[Placed],
    update_existing: bool,
    field: str = "annotations",
    replacing: Callable[[dict[str, Any]], bool] | None = None,
) -> UploadResult:
    """Add the shapes to their items under `source_id`. A shape whose id the item already
    has from this source replaces it (`update_existing`) or is left out and counted as
    ignored; shapes without an id are always added. The stored shapes of those items that
    `replacing` picks go first (a whole set of shapes replaced by the new one). An item's
    shapes from one source are one row (`models.Annotation`): each affected row is read,
    merged and written back. Items are resolved and their shapes read under the dataset's
    lock: nothing deletes them or merges into them meanwhile (shapes have no foreign key on
    PostgreSQL, migration 0027)."""
    lock_dataset(session, dataset.id)
    item_ids = _resolve_items(session, dataset, placed, field)
    seen: dict[tuple[str, str], int] = {}
    for i, (one, item_id) in enumerate(zip(placed, item_ids, strict=True)):
        check_shape(one.shape, f"{field}[{i}]")
        shape_id = one.shape.id
        if shape_id is not None:
            first = seen.setdefault((item_id, shape_id), i)
            if first != i:
                raise Invalid(
                    f"annotation id {shape_id!r} is also {field}[{first}] on the same item",
                    field=f"{field}[{i}].annotation_id",
                )
    if not placed:
        return UploadResult(0, 0, None)

    stored = _stored(session, list(dict.fromkeys(item_ids)), source_id)
    merged: dict[str, list[dict]] = {}
    written = ignored = 0
    stored_as: list[ObjectRef | None] = []
    for one, item_id in zip(placed, item_ids, strict=True):
        kept = [s for s in stored.get(item_id, []) if replacing is None or not replacing(s)]
        shapes = merged.setdefault(item_id, kept)
        new = msgspec.to_builtins(one.shape)
        at = next(
            (
                k
                for k, s in enumerate(shapes)
                if one.shape.id is not None and s.get("id") == one.shape.id
            ),
            None,
        )
        if at is None:
            shapes.append(new)
            written += 1
        elif update_existing:
            shapes[at] = new
            written += 1
        else:
            ignored += 1
            stored_as.append(None)
            continue
        stored_as.append(ObjectRef(item_id, source_id, shape_key(new)))
    if not written:
        return UploadResult(0, ignored, None, stored_as)

    revision = next_revision(session, dataset.id)
    before = sum(len(stored.get(item_id, [])) for item_id in merged)
    after = sum(len(shapes) for shapes in merged.values())
    for chunk in _chunks(list(merged)):
        session.execute(
            delete(ANNOTATIONS).where(
                ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == source_id
            )
        )
    session.execute(
        ANNOTATIONS.insert(),
        [
            {"item_id": item_id, "source_id": source_id, "shapes": shapes, "count": len(shapes)}
            for item_id, shapes in merged.items()
        ],
    )
    _stamp(session, dataset, set(merged), revision)
    object_embeddings.prune(
        session=session,
        dataset=dataset,
        source_id=source_id,
        kept={item_id: {shape_key(s) for s in shapes} for item_id, shapes in merged.items()},
    )
    column = _count_column(source_id)
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values({column.key: column + after - before, "updated_at": utcnow()})
    )
    return UploadResult(written, ignored, revision, stored_as)


def _stamp(session: Session, dataset: models.Dataset, item_ids: set[str], revision: int) -> None:
    for chunk in _chunks(sorted(item_ids)):
        session.execute(
            update(ITEMS)
            .where(ITEMS.c.id.in_(chunk))
            .values(revision=revision, updated_at=utcnow())
        )


def delete_by_items(
    *,
    session: Session,
    dataset: models.Dataset,
    source_id: str,
    reference_ids: Sequence[str] | None,
) -> int:
    """Delete the source's annotations on the items with these reference ids (all the
    dataset's items when None; unknown reference ids are skipped); returns how many went."""
    if reference_ids is None:
        item_ids = list(
            session.scalars(
                select(ANNOTATIONS.c.item_id)
                .join(ITEMS, ITEMS.c.id == ANNOTATIONS.c.item_id)
                .where(ITEMS.c.dataset_id == dataset.id, ANNOTATIONS.c.source_id == source_id)
            )
        )
    else:
        item_ids = list(
            existing_items(session, dataset.id, list(dict.fromkeys(reference_ids))).values()
        )
    if not item_ids:
        return 0
    revision = next_revision(session, dataset.id)
    removed = 0
    for chunk in _chunks(item_ids):
        where = (ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == source_id)
        removed += session.scalar(
            select(func.coalesce(func.sum(ANNOTATIONS.c.count), 0)).where(*where)
        )
        session.execute(delete(ANNOTATIONS).where(*where))
    _stamp(session, dataset, set(item_ids), revision)
    object_embeddings.prune(
        session=session,
        dataset=dataset,
        source_id=source_id,
        kept={item_id: set() for item_id in item_ids},
    )
    column = _count_column(source_id)
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values({column.key: column - removed, "updated_at": utcnow()})
    )
    return removed


def drop_attribute(
    *,
    session: Session,
    dataset: models.Dataset,
    item_ids: Sequence[str],
    key: str,
    values: Sequence[Any],
) -> int:
    """Remove the attribute `key` from the items' shapes (of every source) where it holds
    one of `values`; the shapes stay. Returns how many shapes changed."""
    wanted, touched, changed = set(values), set(), 0
    for chunk in _chunks(list(item_ids)):
        rows = session.execute(
            select(ANNOTATIONS.c.item_id, ANNOTATIONS.c.source_id, ANNOTATIONS.c.shapes).where(
                ANNOTATIONS.c.item_id.in_(chunk)
            )
        ).all()
        for item_id, source_id, shapes in rows:
            kept = []
            for shape in shapes:
                attributes = shape.get("attributes") or {}
                if attributes.get(key) in wanted:
                    attributes = {k: v for k, v in attributes.items() if k != key}
                    shape = {**shape, "attributes": attributes}
                    touched.add(item_id)
                    changed += 1
                kept.append(shape)
            if item_id in touched:
                session.execute(
                    update(ANNOTATIONS)
                    .where(ANNOTATIONS.c.item_id == item_id, ANNOTATIONS.c.source_id == source_id)
                    .values(shapes=kept)
                )
    if touched:
        _stamp(session, dataset, touched, next_revision(session, dataset.id))
    return changed


def get_one(
    *, session: Session, item: models.Item, source_id: str, annotation_id: str
) -> dict[str, Any]:
    """The stored shape with this id on the item from this source, or NotFound."""
    shapes = _stored(session, [item.id], source_id).get(item.id, [])
    for shape in shapes:
        if shape.get("id") == annotation_id:
            return shape
    raise NotFound(
        f"no annotation {annotation_id!r} on item {item.reference_id!r}",
        field="annotation_id",
    )


def sources(*, session: Session, dataset: models.Dataset) -> list[str]:
    """The models (source ids) with predictions on the dataset's items."""
    return sorted(
        session.scalars(
            select(ANNOTATIONS.c.source_id)
            .distinct()
            .join(ITEMS, ITEMS.c.id == ANNOTATIONS.c.item_id)
            .where(ITEMS.c.dataset_id == dataset.id, ANNOTATIONS.c.source_id != models.GROUND_TRUTH)
        )
    )


def object_count(*, session: Session, dataset: models.Dataset, source_id: str) -> int:
    """How many shapes a source (ground truth `""`, or a model's id) has on the dataset."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(ANNOTATIONS.c.count), 0))
            .join(ITEMS, ITEMS.c.id == ANNOTATIONS.c.item_id)
            .where(ITEMS.c.dataset_id == dataset.id, ANNOTATIONS.c.source_id == source_id)
        )
        or 0
    )

"""Annotations of a dataset's items by source: upload (insert, replace or keep by the
annotation's own id), read one, delete — for ground truth (`source_id` "") and for a
model's predictions (`source_id` = the model's id) alike.

An upload is all or nothing: every shape is placed on an item of the dataset and checked
before anything is written; the first problem is an `Invalid` naming the shape. The write
takes the dataset's next revision and stamps the items it touched, so snapshots catch up
(`curation/models.py`). Set-based, as `items.append_items`: a few reads per 500 items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from assay.core.db import utcnow
from assay.core.errors import Invalid, NotFound
from assay.curation import models, wire
from assay.curation.datasets import DATASETS, next_revision
from assay.curation.items import ANNOTATIONS, ITEMS, _chunks, annotation_rows, existing_items


class Placed(NamedTuple):
    """A shape and its item, named by reference id or by item id."""

    reference_id: str | None
    item_id: str | None
    shape: wire.Shape


@dataclass
class UploadResult:
    processed: int
    ignored: int
    revision: int | None


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


def upload(
    *,
    session: Session,
    dataset: models.Dataset,
    source_id: str,
    placed: Sequence[Placed],
    update_existing: bool,
    field: str = "annotations",
) -> UploadResult:
    """Add the shapes to their items under `source_id`. A shape whose id the item already
    has from this source replaces it (`update_existing`) or is left out and counted as
    ignored; shapes without an id are always added."""
    item_ids = _resolve_items(session, dataset, placed, field)
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, (one, item_id) in enumerate(zip(placed, item_ids, strict=True)):
        shape_id = one.shape.id
        if shape_id is not None:
            first = seen.setdefault((item_id, shape_id), i)
            if first != i:
                raise Invalid(
                    f"annotation id {shape_id!r} is also {field}[{first}] on the same item",
                    field=f"{field}[{i}].annotation_id",
                )
        rows.extend(annotation_rows(item_id, source_id, [one.shape], f"{field}[{i}]"))
    if not rows:
        return UploadResult(0, 0, None)

    there: set[tuple[str, str]] = set()
    keyed = [(row["item_id"], row["reference_id"]) for row in rows if row["reference_id"]]
    for chunk in _chunks(list({item_id for item_id, _ in keyed})):
        found = session.execute(
            select(ANNOTATIONS.c.item_id, ANNOTATIONS.c.reference_id).where(
                ANNOTATIONS.c.item_id.in_(chunk),
                ANNOTATIONS.c.source_id == source_id,
                ANNOTATIONS.c.reference_id.is_not(None),
            )
        )
        there.update((item_id, reference_id) for item_id, reference_id in found)
    replaced = [key for key in keyed if key in there]
    ignored = 0
    if not update_existing:
        kept = [r for r in rows if (r["item_id"], r["reference_id"]) not in there]
        ignored, rows, replaced = len(rows) - len(kept), kept, []
    if not rows:
        return UploadResult(0, ignored, None)

    revision = next_revision(session, dataset.id)
    removed = 0
    for start in range(0, len(replaced), 200):
        pairs = replaced[start : start + 200]
        removed += session.execute(
            delete(ANNOTATIONS).where(
                ANNOTATIONS.c.source_id == source_id,
                or_(
                    *[
                        and_(ANNOTATIONS.c.item_id == item_id, ANNOTATIONS.c.reference_id == ref)
                        for item_id, ref in pairs
                    ]
                ),
            )
        ).rowcount
    session.execute(ANNOTATIONS.insert(), rows)
    _stamp(session, dataset, {row["item_id"] for row in rows}, revision)
    column = _count_column(source_id)
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values({column.key: column + len(rows) - removed, "updated_at": utcnow()})
    )
    return UploadResult(len(rows), ignored, revision)


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
                .distinct()
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
        removed += session.execute(
            delete(ANNOTATIONS).where(
                ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == source_id
            )
        ).rowcount
    _stamp(session, dataset, set(item_ids), revision)
    column = _count_column(source_id)
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values({column.key: column - removed, "updated_at": utcnow()})
    )
    return removed


def get_one(
    *, session: Session, item: models.Item, source_id: str, annotation_id: str
) -> dict[str, Any]:
    """The stored shape with this id on the item from this source, or NotFound."""
    data = session.scalar(
        select(ANNOTATIONS.c.data).where(
            ANNOTATIONS.c.item_id == item.id,
            ANNOTATIONS.c.source_id == source_id,
            ANNOTATIONS.c.reference_id == annotation_id,
        )
    )
    if data is None:
        raise NotFound(
            f"no annotation {annotation_id!r} on item {item.reference_id!r}",
            field="annotation_id",
        )
    return data


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

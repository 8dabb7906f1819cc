"""Items: bulk append (insert or update by reference id, with ground truth), reads, deletes.

An append is all or nothing: every item is checked (shapes by `wire.decode`, then media,
duplicates and blobs here) before anything is written, and the first problem is an `Invalid`
naming the item and field. The writes are set-based and do not grow in statements with the
items: one read of the reference ids already there per 500 items, then executemany INSERTs
and UPDATEs in one transaction under the dataset's next revision (`datasets.next_revision`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from assay.core import blob_refs
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Invalid, NotFound
from assay.core.ids import new_ids
from assay.core.outbound import parse as parse_url
from assay.core.pagination import PageResult, cursor_key, encode_cursor
from assay.curation import models, wire
from assay.curation.datasets import DATASET_SCOPE, DATASETS, next_revision

ITEMS = models.Item.__table__
ANNOTATIONS = models.Annotation.__table__
TOMBSTONES = models.Tombstone.__table__
# Terms per IN (…) read: SQLite allows 32,766 variables; PostgreSQL's plans stay cheap.
CHUNK = 500
_MEDIA_KINDS = ("image", "video_frame", "pointcloud", "document")
_TEXT_KINDS = ("text", "conversation")


@dataclass
class AppendResult:
    new: int
    updated: int
    ignored: int
    annotations: int
    revision: int


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _blob_sha(media: str) -> str | None:
    return media[5:] if media.startswith("blob:") else None


def _check_media(i: int, item: wire.ItemIn) -> None:
    at = f"items[{i}]"
    if item.kind in _MEDIA_KINDS and item.media is None:
        raise Invalid(
            f"a {item.kind} item needs media (blob:<sha256> or a URL)", field=f"{at}.media"
        )
    if item.kind in _TEXT_KINDS and item.text is None and item.media is None:
        raise Invalid(f"a {item.kind} item needs text or media", field=f"{at}.text")
    if item.media is None:
        return
    sha = _blob_sha(item.media)
    if sha is not None:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise Invalid(
                "media blob: must be followed by a sha256 (64 hex digits)", field=f"{at}.media"
            )
        return
    # Shown by the browser, fetched by workers through core/outbound: checked for its shape
    # only (an internal image server is a fine place for a team's media).
    parse_url(item.media, field=f"{at}.media")


def shape_extent(shape: wire.Shape) -> tuple[float | None, float | None, float | None]:
    """(area, width, height) of a shape in its item's pixels, for queries and the object
    view; None where the shape has no extent (categories, spans, text, 3D cuboids)."""
    if isinstance(shape, wire.Box):
        return shape.width * shape.height, shape.width, shape.height
    if isinstance(shape, wire.Polygon | wire.Line | wire.Keypoints):
        points = shape.points if isinstance(shape, wire.Keypoints) else shape.vertices
        xs = [p.x for p in points]
        ys = [p.y for p in points]
        width, height = max(xs) - min(xs), max(ys) - min(ys)
        if isinstance(shape, wire.Polygon):
            # The shoelace formula.
            n = len(xs)
            twice = sum(xs[k] * ys[(k + 1) % n] - xs[(k + 1) % n] * ys[k] for k in range(n))
            return abs(twice) / 2, width, height
        return width * height, width, height
    if isinstance(shape, wire.Ellipse):
        return math.pi * shape.rx * shape.ry, 2 * shape.rx, 2 * shape.ry
    if isinstance(shape, wire.Cuboid):
        if shape.front is not None:
            return shape.front.width * shape.front.height, shape.front.width, shape.front.height
        return None, None, None
    if isinstance(shape, wire.Mask):
        height, width = shape.rle.size
        return float(sum(shape.rle.counts[1::2])), float(width), float(height)
    return None, None, None


def check_shape(shape: wire.Shape, path: str) -> None:
    """What the decoder's types cannot say: cuboids are 2D or 3D, spans run forward, masks
    cover their image exactly."""
    if isinstance(shape, wire.Cuboid):
        flat = shape.front is not None and shape.back is not None
        solid = shape.position is not None and shape.dimensions is not None
        if flat == solid:
            raise Invalid(
                "a cuboid has front and back faces (2D) or position and dimensions (3D)",
                field=path,
            )
        if solid and min(shape.dimensions.x, shape.dimensions.y, shape.dimensions.z) <= 0:
            raise Invalid("a cuboid's dimensions must be positive", field=f"{path}.dimensions")
    elif isinstance(shape, wire.Span):
        if shape.end <= shape.start:
            raise Invalid("a span ends after it starts", field=f"{path}.end")
    elif isinstance(shape, wire.Mask):
        height, width = shape.rle.size
        if sum(shape.rle.counts) != height * width:
            raise Invalid(
                f"the mask's run lengths cover {sum(shape.rle.counts)} pixels, "
                f"its size {height} by {width}",
                field=f"{path}.rle.counts",
            )


def annotation_rows(
    item_id: str,
    source_id: str,
    shapes: Sequence[wire.Shape],
    path: str,
) -> list[dict[str, Any]]:
    """The `dataset_annotations` rows of one item's shapes (checked, ids unique)."""
    rows = []
    seen: set[str] = set()
    for k, shape in enumerate(shapes):
        at = f"{path}[{k}]"
        check_shape(shape, at)
        if shape.id is not None:
            if shape.id in seen:
                raise Invalid(
                    f"annotation id {shape.id!r} appears twice on this item", field=f"{at}.id"
                )
            seen.add(shape.id)
        area, width, height = shape_extent(shape)
        rows.append(
            {
                "item_id": item_id,
                "source_id": source_id,
                "reference_id": shape.id,
                "type": type(shape).__struct_config__.tag,
                "label": shape.label,
                "confidence": shape.confidence,
                "area": area,
                "width": width,
                "height": height,
                "data": wire.to_builtins(shape),
            }
        )
    return rows


def existing_items(
    connection: Connection | Session, dataset_id: str, reference_ids: Sequence[str]
) -> dict[str, str]:
    """reference id → item id of the items among `reference_ids` already in the dataset."""
    found: dict[str, str] = {}
    for chunk in _chunks(reference_ids):
        rows = connection.execute(
            select(ITEMS.c.reference_id, ITEMS.c.id).where(
                ITEMS.c.dataset_id == dataset_id, ITEMS.c.reference_id.in_(chunk)
            )
        )
        found.update({reference_id: item_id for reference_id, item_id in rows})
    return found


def _check_blobs(session: Session, actor: Actor, items: Sequence[wire.ItemIn]) -> list[str]:
    """The blobs the items show, each stored and readable by the actor, else Invalid naming
    the first item showing one that is not."""
    places: dict[str, int] = {}
    for i, item in enumerate(items):
        sha = _blob_sha(item.media) if item.media else None
        if sha is not None:
            places.setdefault(sha, i)
    if not places:
        return []
    stored: set[str] = set()
    blob = core_models.Blob
    for chunk in _chunks(list(places)):
        stored.update(session.scalars(select(blob.sha256).where(blob.sha256.in_(chunk))))
    allowed = blob_refs.readable(session=session, actor=actor, sha256s=stored)
    for sha, i in places.items():
        if sha not in allowed:
            raise Invalid(
                f"no uploaded blob {sha}; upload the file first (POST /api/v1/blobs)",
                field=f"items[{i}].media",
            )
    return list(places)


def append_items(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    append: wire.AppendIn,
    max_items: int,
) -> AppendResult:
    """Insert the items, or update those whose reference id the dataset has (or leave them,
    with `update` false); a list of `annotations` replaces the item's ground truth."""
    items = append.items
    if len(items) > max_items:
        raise Invalid(
            f"{len(items)} items in one append; at most {max_items} (split it, or import a file)",
            field="items",
        )
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.reference_id in first:
            raise Invalid(
                f"reference_id {item.reference_id!r} is also items[{first[item.reference_id]}]",
                field=f"items[{i}].reference_id",
            )
        first[item.reference_id] = i
        _check_media(i, item)
    shas = _check_blobs(session, actor, items)

    revision = next_revision(session, dataset.id)
    now = utcnow()
    known = existing_items(session, dataset.id, list(first))
    fresh_ids = iter(new_ids(len(items) - len(known)))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    replaced: list[str] = []
    ignored = 0
    for i, item in enumerate(items):
        item_id = known.get(item.reference_id)
        if item_id is not None and not append.update:
            ignored += 1
            continue
        row = {
            "kind": item.kind,
            "media": item.media,
            "text": item.text,
            "width": item.width,
            "height": item.height,
            "metadata": item.metadata,
            "tags": item.tags,
            "revision": revision,
            "updated_at": now,
        }
        if item_id is None:
            item_id = next(fresh_ids)
            inserts.append(
                row
                | {
                    "id": item_id,
                    "dataset_id": dataset.id,
                    "reference_id": item.reference_id,
                    "created_at": now,
                }
            )
        else:
            updates.append(row | {"item_id": item_id})
            if item.annotations is not None:
                replaced.append(item_id)
        if item.annotations:
            shapes.extend(
                annotation_rows(
                    item_id,
                    models.GROUND_TRUTH,
                    item.annotations,
                    f"items[{i}].annotations",
                )
            )

    removed = _delete_annotations(session, replaced, models.GROUND_TRUTH)
    if inserts:
        session.execute(ITEMS.insert(), inserts)
    if updates:
        session.execute(
            update(ITEMS)
            .where(ITEMS.c.id == bindparam("item_id"))
            .values({key: bindparam(key) for key in updates[0] if key != "item_id"}),
            updates,
        )
    if shapes:
        session.execute(ANNOTATIONS.insert(), shapes)
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values(
            item_count=DATASETS.c.item_count + len(inserts),
            annotation_count=DATASETS.c.annotation_count + len(shapes) - removed,
            updated_at=now,
        )
    )
    if shas:
        blob_refs.add_refs(session=session, sha256s=shas, scope=DATASET_SCOPE, scope_id=dataset.id)
    return AppendResult(
        new=len(inserts),
        updated=len(updates),
        ignored=ignored,
        annotations=len(shapes),
        revision=revision,
    )


def _delete_annotations(session: Session, item_ids: Sequence[str], source_id: str) -> int:
    removed = 0
    for chunk in _chunks(item_ids):
        removed += session.execute(
            delete(ANNOTATIONS).where(
                ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == source_id
            )
        ).rowcount
    return removed


def get_item(*, session: Session, dataset: models.Dataset, item_id: str) -> models.Item:
    item = session.get(models.Item, item_id)
    if item is None or item.dataset_id != dataset.id:
        raise NotFound(f"no item with id {item_id} in this dataset", field="item_id")
    return item


def get_item_by_reference(
    *, session: Session, dataset: models.Dataset, reference_id: str
) -> models.Item:
    item = session.scalar(
        select(models.Item).where(
            models.Item.dataset_id == dataset.id, models.Item.reference_id == reference_id
        )
    )
    if item is None:
        raise NotFound(
            f"no item with reference_id {reference_id!r} in this dataset", field="reference_id"
        )
    return item


def list_items(
    *, session: Session, dataset: models.Dataset, cursor: str | None, limit: int
) -> PageResult[models.Item]:
    """A page of the dataset's items in the order they were added (ids are time-ordered)."""
    statement = select(models.Item).where(models.Item.dataset_id == dataset.id)
    if cursor:
        statement = statement.where(models.Item.id > cursor_key(cursor, str))
    rows = list(session.scalars(statement.order_by(models.Item.id).limit(limit + 1)))
    if len(rows) <= limit:
        return PageResult(rows, None)
    rows = rows[:limit]
    return PageResult(rows, encode_cursor({"k": rows[-1].id}))


def annotations_of(
    *, session: Session, item_ids: Sequence[str], source_id: str | None = models.GROUND_TRUTH
) -> dict[str, list[dict[str, Any]]]:
    """item id → its annotations (ground truth by default; a model's id for its predictions;
    None for both), each with its `source_id`."""
    found: dict[str, list[dict[str, Any]]] = {item_id: [] for item_id in item_ids}
    for chunk in _chunks(list(item_ids)):
        statement = select(
            ANNOTATIONS.c.item_id, ANNOTATIONS.c.source_id, ANNOTATIONS.c.data
        ).where(ANNOTATIONS.c.item_id.in_(chunk))
        if source_id is not None:
            statement = statement.where(ANNOTATIONS.c.source_id == source_id)
        for item_id, source, data in session.execute(statement.order_by(ANNOTATIONS.c.id)):
            found[item_id].append(data if source_id is not None else data | {"source_id": source})
    return found


def delete_items(*, session: Session, dataset: models.Dataset, reference_ids: Sequence[str]) -> int:
    """Delete the items with these reference ids (unknown ones are ignored), leaving
    tombstones for the snapshots; returns how many went."""
    known = existing_items(session, dataset.id, list(dict.fromkeys(reference_ids)))
    if not known:
        return 0
    revision = next_revision(session, dataset.id)
    item_ids = list(known.values())
    removed_annotations = 0
    removed_predictions = 0
    for chunk in _chunks(item_ids):
        counts = session.execute(
            select(
                func.count().filter(ANNOTATIONS.c.source_id == models.GROUND_TRUTH),
                func.count().filter(ANNOTATIONS.c.source_id != models.GROUND_TRUTH),
            ).where(ANNOTATIONS.c.item_id.in_(chunk))
        ).one()
        removed_annotations += counts[0]
        removed_predictions += counts[1]
        session.execute(delete(ANNOTATIONS).where(ANNOTATIONS.c.item_id.in_(chunk)))
        session.execute(delete(ITEMS).where(ITEMS.c.id.in_(chunk)))
    session.execute(
        TOMBSTONES.insert(),
        [{"dataset_id": dataset.id, "revision": revision, "item_id": i} for i in item_ids],
    )
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values(
            item_count=DATASETS.c.item_count - len(item_ids),
            annotation_count=DATASETS.c.annotation_count - removed_annotations,
            prediction_count=DATASETS.c.prediction_count - removed_predictions,
            updated_at=dt.datetime.now(dt.UTC),
        )
    )
    return len(item_ids)

"""The members of an object slice: single shapes rather than whole items.

An object is one shape of an item from one source (ground truth "" or a model's id), named
by `ObjectRef(item_id, source_id, key)`. Its key is the shape's own id (Nucleus's
`annotation_id`, unique per item and source: uploads replace by it), or, for a shape
without one, `#` and a digest of the shape itself — so a key names the same shape for as
long as the shape is there, whatever else changes on the item. A member whose shape went
(replaced, re-uploaded under another id, deleted) no longer answers to its key and is left
out of every read; a deleted item takes its members with it (CASCADE). Identical shapes
without ids on one item share a key: a member naming it reads as all of them.

The slice's items are the items of its live objects. Reads are set-based: the members, then
the stored shapes of their items, 500 items a query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core.errors import NotFound
from assay.curation import models

ITEMS = models.Item.__table__
ANNOTATIONS = models.Annotation.__table__
OBJECTS = models.SliceObject.__table__
CHUNK = 500
DIGEST = "#"


class ObjectRef(NamedTuple):
    item_id: str
    source_id: str
    key: str


def shape_key(shape: dict[str, Any]) -> str:
    """The shape's own id, or a digest of the shape for one without (`#` + 16 hex)."""
    own = shape.get("id")
    if own is not None:
        return str(own)
    encoded = msgspec.json.encode(shape, order="sorted")
    return DIGEST + hashlib.blake2b(encoded, digest_size=8).hexdigest()


def stored_shapes(
    session: Session, dataset_id: str, item_ids: Sequence[str]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(item id, source id) → the stored shapes, for those of the items in the dataset."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    unique = sorted(set(item_ids))
    for start in range(0, len(unique), CHUNK):
        rows = session.execute(
            select(ANNOTATIONS.c.item_id, ANNOTATIONS.c.source_id, ANNOTATIONS.c.shapes)
            .join(ITEMS, ITEMS.c.id == ANNOTATIONS.c.item_id)
            .where(
                ITEMS.c.dataset_id == dataset_id,
                ANNOTATIONS.c.item_id.in_(unique[start : start + CHUNK]),
            )
        )
        for item_id, source_id, shapes in rows:
            found[(item_id, source_id)] = list(shapes)
    return found


def refs_of_places(
    *, session: Session, dataset: models.Dataset, object_ids: Sequence[str]
) -> dict[str, ObjectRef]:
    """Objects named by their place ("<item>:<source>:<place>", the snapshots' and the query
    objects view's `object_id`) as stable `ObjectRef`s; those that are no shape of an item
    of this dataset now are left out. One read of their items' rows per 500 items."""
    places: dict[str, tuple[str, str, int]] = {}
    for one in object_ids:
        parts = one.split(":")
        if len(parts) == 3 and parts[0] and parts[2].isdigit():
            places[one] = (parts[0], parts[1], int(parts[2]))
    stored = stored_shapes(session, dataset.id, [item for item, _, _ in places.values()])
    found = {}
    for one, (item_id, source_id, place) in places.items():
        shapes = stored.get((item_id, source_id), [])
        if place < len(shapes):
            found[one] = ObjectRef(item_id, source_id, shape_key(shapes[place]))
    return found


def check_objects(
    *,
    session: Session,
    dataset: models.Dataset,
    objects: Sequence[ObjectRef],
    field: str,
    labels: Sequence[str] | None = None,
) -> list[ObjectRef]:
    """The objects, each once, or NotFound naming `field[i]` for the first that is no shape
    of an item of this dataset (`labels[i]`, the id as the caller sent it, in the message)."""
    stored = stored_shapes(session, dataset.id, [o.item_id for o in objects])
    keys = {place: {shape_key(s) for s in shapes} for place, shapes in stored.items()}
    for i, one in enumerate(objects):
        if one.key not in keys.get((one.item_id, one.source_id), ()):
            named = labels[i] if labels is not None else "/".join(one)
            raise NotFound(f"no object {named!r} in this dataset", field=f"{field}[{i}]")
    return list(dict.fromkeys(objects))


def add_objects(*, session: Session, found: models.Slice, objects: Sequence[ObjectRef]) -> int:
    """Add checked objects to the slice; returns how many were not in it yet."""
    present = set(members(session=session, found=found))
    new = [o for o in dict.fromkeys(objects) if o not in present]
    if new:
        session.execute(
            OBJECTS.insert(),
            [
                {
                    "slice_id": found.id,
                    "item_id": o.item_id,
                    "source_id": o.source_id,
                    "shape_key": o.key,
                }
                for o in new
            ],
        )
    return len(new)


def members(*, session: Session, found: models.Slice) -> list[ObjectRef]:
    """The slice's members as stored (dangling ones included), by item."""
    rows = session.execute(
        select(OBJECTS.c.item_id, OBJECTS.c.source_id, OBJECTS.c.shape_key)
        .where(OBJECTS.c.slice_id == found.id)
        .order_by(OBJECTS.c.item_id, OBJECTS.c.source_id, OBJECTS.c.shape_key)
    )
    return [ObjectRef(*row) for row in rows]


def live_objects(
    *, session: Session, found: models.Slice
) -> Iterator[tuple[ObjectRef, dict[str, Any]]]:
    """The slice's objects whose shapes are still there, each with its shape: by item, then
    source, then the shape's place in its item's list."""
    chosen = members(session=session, found=found)
    wanted: dict[tuple[str, str], set[str]] = {}
    for one in chosen:
        wanted.setdefault((one.item_id, one.source_id), set()).add(one.key)
    stored = stored_shapes(session, found.dataset_id, [o.item_id for o in chosen])
    for (item_id, source_id), keys in wanted.items():
        for shape in stored.get((item_id, source_id), []):
            key = shape_key(shape)
            if key in keys:
                yield ObjectRef(item_id, source_id, key), shape


def item_ids(*, session: Session, found: models.Slice) -> list[str]:
    """The items of the slice's live objects, in id order."""
    return sorted({ref.item_id for ref, _ in live_objects(session=session, found=found)})


__all__ = [
    "ObjectRef",
    "add_objects",
    "check_objects",
    "item_ids",
    "live_objects",
    "members",
    "refs_of_places",
    "shape_key",
]

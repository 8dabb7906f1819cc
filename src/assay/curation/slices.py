"""Slices: named subsets of a dataset — chosen items (`static`), a saved query (`dynamic`),
or chosen objects (`object`, `slice_objects.py`: its items are those of its live objects).

A static slice's members are rows of `dataset_slice_items`; adding or removing members
stamps those items with the dataset's next revision, so snapshots reload them with their
`slices` (the query language's `"<slice id>" IN slices`). A dynamic slice is its query,
evaluated on the snapshot whenever its items are asked for, so it follows the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from assay.core.errors import Invalid, NotFound
from assay.core.pagination import PageResult, paginate
from assay.curation import models, slice_objects
from assay.curation.datasets import next_revision
from assay.curation.items import CHUNK, existing_items
from assay.curation.query import parse, run_query
from assay.curation.query.ast import from_json
from assay.curation.snapshots import SNAPSHOTS

ITEMS = models.Item.__table__
MEMBERS = models.SliceItem.__table__
KINDS = ("static", "dynamic", "object")


def _check_query(query: str | dict[str, Any]) -> None:
    """Refuse a query that does not parse (naming its token) before it is saved."""
    if isinstance(query, dict):
        from_json(query)
    else:
        parse(query)


def _resolve(
    session: Session, dataset: models.Dataset, reference_ids: Sequence[str], field: str
) -> list[str]:
    known = existing_items(session, dataset.id, list(dict.fromkeys(reference_ids)))
    for i, reference_id in enumerate(reference_ids):
        if reference_id not in known:
            raise NotFound(
                f"no item with reference_id {reference_id!r} in this dataset",
                field=f"{field}[{i}]",
            )
    return [known[r] for r in dict.fromkeys(reference_ids)]


def _matching(session: Session, dataset: models.Dataset, query: Any) -> list[str]:
    """Ids of the items a query matches on the dataset's snapshot."""
    snapshot = SNAPSHOTS.get(session, dataset)
    result = run_query(snapshot.frames, query, "items")
    ids = snapshot.items["item_id"].to_numpy()
    return [str(i) for i in ids[result.positions]] if len(result.positions) else []


def _stamp(session: Session, dataset: models.Dataset, item_ids: Sequence[str]) -> None:
    """Give the items the dataset's next revision (their `slices` changed)."""
    if not item_ids:
        return
    revision = next_revision(session, dataset.id)
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        session.execute(update(ITEMS).where(ITEMS.c.id.in_(chunk)).values(revision=revision))


def create_slice(
    *,
    session: Session,
    dataset: models.Dataset,
    name: str,
    created_by: str | None,
    kind: str = "static",
    reference_ids: Sequence[str] | None = None,
    query: str | dict[str, Any] | None = None,
    objects: Sequence[slice_objects.ObjectRef] | None = None,
    objects_field: str = "object_ids",
    object_labels: Sequence[str] | None = None,
) -> models.Slice:
    """A static slice of the given items (or of what `query` matches now), a dynamic slice
    of `query`, or an object slice of `objects` (each checked, NotFound naming
    `objects_field[i]`; `object_labels` are the ids as the caller named them)."""
    if kind not in KINDS:
        raise Invalid("kind must be static, dynamic or object", field="kind")
    if (kind == "object") != (objects is not None):
        raise Invalid("an object slice is made of objects, and only it", field=objects_field)
    if kind == "object" and (reference_ids or query is not None):
        raise Invalid("an object slice has objects, not items or a query", field=objects_field)
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    if kind == "dynamic" and (query is None or reference_ids):
        raise Invalid("a dynamic slice is a query (and has no chosen items)", field="query")
    if query is not None:
        _check_query(query)
    if kind == "static" and reference_ids is not None and query is not None:
        raise Invalid("choose items by reference_ids or by a query, not both", field="query")
    chosen: list[str] = []
    checked: list[slice_objects.ObjectRef] = []
    if objects is not None:
        checked = slice_objects.check_objects(
            session=session,
            dataset=dataset,
            objects=objects,
            field=objects_field,
            labels=object_labels,
        )
    if kind == "static":
        if reference_ids is not None:
            chosen = _resolve(session, dataset, reference_ids, "reference_ids")
        elif query is not None:
            chosen = _matching(session, dataset, query)
    found = models.Slice(
        dataset_id=dataset.id,
        name=name.strip(),
        kind=kind,
        query=query if kind == "dynamic" else None,
        created_by=created_by,
    )
    session.add(found)
    session.flush()
    _add(session, dataset, found, chosen)
    slice_objects.add_objects(session=session, found=found, objects=checked)
    return found


def _add(
    session: Session, dataset: models.Dataset, found: models.Slice, item_ids: list[str]
) -> int:
    present: set[str] = set()
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        present.update(
            session.scalars(
                select(MEMBERS.c.item_id).where(
                    MEMBERS.c.slice_id == found.id, MEMBERS.c.item_id.in_(chunk)
                )
            )
        )
    new = [i for i in item_ids if i not in present]
    if new:
        session.execute(MEMBERS.insert(), [{"slice_id": found.id, "item_id": i} for i in new])
        _stamp(session, dataset, new)
    return len(new)


def objects_of_places(
    *, session: Session, dataset: models.Dataset, object_ids: Sequence[str]
) -> list[slice_objects.ObjectRef]:
    """The objects named by their places now (the query objects view's `object_id`), or
    NotFound naming `object_ids[i]` for the first that is no object of this dataset."""
    found = slice_objects.refs_of_places(session=session, dataset=dataset, object_ids=object_ids)
    for i, one in enumerate(object_ids):
        if one not in found:
            raise NotFound(f"no object {one!r} in this dataset", field=f"object_ids[{i}]")
    return [found[one] for one in object_ids]


def _require_static(found: models.Slice) -> None:
    if found.kind == "dynamic":
        raise Invalid("a dynamic slice is its query: change the query instead", field="slice_id")
    if found.kind == "object":
        raise Invalid("an object slice's members are objects, not items", field="slice_id")


def get_slice(*, session: Session, dataset: models.Dataset, slice_id: str) -> models.Slice:
    found = session.get(models.Slice, slice_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no slice with id {slice_id} in this dataset", field="slice_id")
    return found


def list_slices(
    *, session: Session, dataset: models.Dataset, cursor: str | None, limit: int
) -> PageResult[models.Slice]:
    statement = select(models.Slice).where(models.Slice.dataset_id == dataset.id)
    return paginate(session, statement, key=models.Slice.id, cursor=cursor, limit=limit)


def add_items(
    *,
    session: Session,
    dataset: models.Dataset,
    found: models.Slice,
    reference_ids: Sequence[str],
) -> int:
    """Add items to a static slice; returns how many were not in it yet."""
    _require_static(found)
    return _add(session, dataset, found, _resolve(session, dataset, reference_ids, "reference_ids"))


def remove_items(
    *,
    session: Session,
    dataset: models.Dataset,
    found: models.Slice,
    reference_ids: Sequence[str],
) -> int:
    _require_static(found)
    item_ids = list(existing_items(session, dataset.id, list(reference_ids)).values())
    removed = 0
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        removed += session.execute(
            delete(MEMBERS).where(MEMBERS.c.slice_id == found.id, MEMBERS.c.item_id.in_(chunk))
        ).rowcount
    _stamp(session, dataset, item_ids)
    return removed


def delete_slice(*, session: Session, dataset: models.Dataset, found: models.Slice) -> None:
    members = list(session.scalars(select(MEMBERS.c.item_id).where(MEMBERS.c.slice_id == found.id)))
    session.delete(found)
    session.flush()
    _stamp(session, dataset, members)


def slice_item_ids(*, session: Session, dataset: models.Dataset, found: models.Slice) -> list[str]:
    """The slice's items now, in the dataset's order (a dynamic slice's query run now)."""
    if found.kind == "dynamic":
        return _matching(session, dataset, found.query)
    if found.kind == "object":
        return slice_objects.item_ids(session=session, found=found)
    ids = list(
        session.scalars(
            select(MEMBERS.c.item_id)
            .where(MEMBERS.c.slice_id == found.id)
            .order_by(MEMBERS.c.item_id)
        )
    )
    return ids


def count_items(*, session: Session, dataset: models.Dataset, found: models.Slice) -> int:
    return len(slice_item_ids(session=session, dataset=dataset, found=found))


__all__ = [
    "add_items",
    "count_items",
    "create_slice",
    "delete_slice",
    "get_slice",
    "list_slices",
    "objects_of_places",
    "remove_items",
    "slice_item_ids",
]

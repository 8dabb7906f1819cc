"""What the explorer asks of a dataset: a query's count, one page of items or objects (with
their media and shapes), and the sidebar's facets — on the process's snapshot of the
dataset (`snapshots.py`), caught up to its revision first.

A page's rows come from the snapshot; what the grid shows of each (media, metadata, shapes)
is read from the tables for those rows only, so a page costs the same at any dataset size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.curation import items, models
from assay.curation.query import run_query
from assay.curation.query.fields import MEASURES
from assay.curation.snapshots import SNAPSHOTS

OBJECT_COLUMNS = [
    "item_row",
    "object_id",
    "source",
    "type",
    "label",
    "confidence",
    "area",
    "width",
    "height",
]


@dataclass
class Explored:
    revision: int
    count: int
    rows: list[dict[str, Any]]
    next_cursor: str | None
    facets: dict[str, Any] | None


def explore(
    *,
    session: Session,
    dataset: models.Dataset,
    query: str | dict[str, Any] | None,
    view: str = "items",
    limit: int = 50,
    cursor: str | None = None,
    order_by: str | None = None,
    with_facets: bool = False,
    with_predictions: bool = False,
) -> Explored:
    """One page of the query's matches in `view` ("items" or "objects"); `query` is the query
    bar's text or the SDK's plan. Bad queries raise `InvalidQuery` naming the token."""
    snapshot = SNAPSHOTS.get(session, dataset)
    result = run_query(snapshot.frames, query, view)
    # Only what the page's rows are read back by: ids for items, the object's own columns.
    measured = [f for f in MEASURES if f in snapshot.items.columns]
    columns = ["item_id", *measured] if view == "items" else OBJECT_COLUMNS
    page = result.page(limit=limit, cursor=cursor, order_by=order_by, columns=columns)
    if view == "items":
        rows = _item_rows(session, page.rows, with_predictions, measured)
    else:
        rows = _object_rows(session, snapshot.items, page.rows)
    return Explored(
        revision=snapshot.revision,
        count=result.count,
        rows=rows,
        next_cursor=page.next_cursor,
        facets=result.facets() if with_facets else None,
    )


def _item_rows(
    session: Session, frame: pl.DataFrame, with_predictions: bool, measured: list[str]
) -> list[dict[str, Any]]:
    """The page's items as stored, with the computed measures the snapshot holds
    (`measures`: {"uniqueness": 0.42, "duplicates.count": 3, ...})."""
    ids = frame["item_id"].to_list()
    values = {f: frame[f].to_list() for f in measured}
    found = {
        item.id: item
        for item in session.scalars(select(models.Item).where(models.Item.id.in_(ids)))
    }
    truth = items.annotations_of(session=session, item_ids=ids)
    predictions = _predictions_of(session, ids) if with_predictions else {}
    rows = []
    for position, item_id in enumerate(ids):
        item = found.get(item_id)
        if item is None:  # deleted since the snapshot was caught up
            continue
        row: dict[str, Any] = {
            "id": item.id,
            "reference_id": item.reference_id,
            "kind": item.kind,
            "media": item.media,
            "text": item.text_,
            "width": item.width,
            "height": item.height,
            "metadata": item.metadata_,
            "tags": item.tags,
            "annotations": truth.get(item_id, []),
            "predictions": predictions.get(item_id, {}),
        }
        if measured:
            row["measures"] = {f: values[f][position] for f in measured}
        rows.append(row)
    return rows


def _predictions_of(session: Session, item_ids: list[str]) -> dict[str, dict[str, list]]:
    """item id → {model name: shapes}."""
    table, model = models.Annotation.__table__, models.Model.__table__
    found: dict[str, dict[str, list]] = {}
    rows = session.execute(
        select(table.c.item_id, model.c.name, table.c.shapes)
        .join(model, model.c.id == table.c.source_id)
        .where(table.c.item_id.in_(item_ids), table.c.source_id != models.GROUND_TRUTH)
    )
    for item_id, name, shapes in rows:
        found.setdefault(item_id, {})[name] = shapes
    return found


def _object_rows(
    session: Session, items_frame: pl.DataFrame, frame: pl.DataFrame
) -> list[dict[str, Any]]:
    """Objects with their item's reference id and media, and the shape itself."""
    objects = frame.to_dicts()
    item_rows = [o["item_row"] for o in objects]
    refs = items_frame.select("item_id", "reference_id")[item_rows].to_dicts() if objects else []
    wanted = {
        (r["item_id"], o["object_id"].split(":")[1]) for o, r in zip(objects, refs, strict=True)
    }
    shapes: dict[tuple[str, str], list] = {}
    media: dict[str, tuple[str | None, int | None, int | None]] = {}
    if wanted:
        table = models.Annotation.__table__
        item_ids = sorted({item_id for item_id, _ in wanted})
        for item_id, source_id, stored in session.execute(
            select(table.c.item_id, table.c.source_id, table.c.shapes).where(
                table.c.item_id.in_(item_ids)
            )
        ):
            shapes[(item_id, source_id)] = stored
        for item_id, url, width, height in session.execute(
            select(models.Item.id, models.Item.media, models.Item.width, models.Item.height).where(
                models.Item.id.in_(item_ids)
            )
        ):
            media[item_id] = (url, width, height)
    rows = []
    for found, ref in zip(objects, refs, strict=True):
        _, source_id, k = found["object_id"].split(":")
        stored = shapes.get((ref["item_id"], source_id), [])
        url, width, height = media.get(ref["item_id"], (None, None, None))
        rows.append(
            {
                "object_id": found["object_id"],
                "item_id": ref["item_id"],
                "reference_id": ref["reference_id"],
                "media": url,
                "item_width": width,
                "item_height": height,
                "source": found["source"],
                "type": found["type"],
                "label": found["label"],
                "confidence": found["confidence"],
                "area": found["area"],
                "width": found["width"],
                "height": found["height"],
                "shape": stored[int(k)] if int(k) < len(stored) else None,
            }
        )
    return rows

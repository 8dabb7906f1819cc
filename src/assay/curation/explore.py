"""What the explorer asks of a dataset: a query's count, one page of items or objects (with
their media and shapes), and the sidebar's facets — on the process's snapshot of the
dataset (`snapshots.py`), caught up to its revision first.

A page's rows come from the snapshot; what the grid shows of each (media, metadata, shapes)
is read from the tables for those rows only, so a page costs the same at any dataset size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import polars as pl
from sqlalchemy import Text, and_, cast, select
from sqlalchemy.orm import Session

from assay.core.dialects import in_values, json_loads
from assay.curation import models
from assay.curation.query import run_query
from assay.curation.query.fields import MEASURES
from assay.curation.snapshots import SNAPSHOTS, DatasetPosition

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
    dataset: DatasetPosition,
    query: str | dict[str, Any] | None,
    view: str = "items",
    limit: int = 50,
    cursor: str | None = None,
    offset: int = 0,
    order_by: str | None = None,
    with_facets: bool = False,
    with_predictions: bool = False,
    raw_json: bool = False,
) -> Explored:
    """One page of the query's matches in `view` ("items" or "objects"); `query` is the query
    bar's text or the SDK's plan. Bad queries raise `InvalidQuery` naming the token.
    raw_json: the items' metadata, tags and ground truth as their stored JSON text
    (`msgspec.Raw`, for an answer encoded by msgspec), not decoded only to be encoded again."""
    snapshot = SNAPSHOTS.get(session, dataset)
    result = run_query(snapshot.frames, query, view)
    # Only what the page's rows are read back by: ids for items, the object's own columns.
    measured = [f for f in MEASURES if f in snapshot.items.columns]
    columns = ["item_id", *measured] if view == "items" else OBJECT_COLUMNS
    page = result.page(
        limit=limit, cursor=cursor, offset=offset, order_by=order_by, columns=columns
    )
    if view == "items":
        rows = _item_rows(session, page.rows, with_predictions, measured, raw_json)
    else:
        rows = object_rows(session, snapshot.items, page.rows)
    return Explored(
        revision=snapshot.revision,
        count=result.count,
        rows=rows,
        next_cursor=page.next_cursor,
        facets=result.facets() if with_facets else None,
    )


def _item_rows(
    session: Session,
    frame: pl.DataFrame,
    with_predictions: bool,
    measured: list[str],
    raw_json: bool = False,
) -> list[dict[str, Any]]:
    """The page's items with their ground truth — one statement, plain rows (no ORM objects)
    — and the computed measures the snapshot holds (`measures`: {"uniqueness": 0.42,
    "duplicates.count": 3, ...})."""
    ids = frame["item_id"].to_list()
    values = {f: frame[f].to_list() for f in measured}
    item, truth = models.Item.__table__.c, models.Annotation.__table__
    # As text, the JSON columns skip the driver's decoding (jsonb → Python) and the
    # response's encoding of what was decoded.
    as_json = (lambda c: cast(c, Text)) if raw_json else (lambda c: c)
    json_value = _raw if raw_json else (lambda v: v)
    # Core, not the ORM: a plain statement on the session's connection (the ORM's execution
    # context was a third of this read on PostgreSQL, bench/curation_explore.py).
    found = {
        row[0]: row
        for row in session.connection().execute(
            select(
                item.id,
                item.reference_id,
                item.kind,
                item.media,
                item.text,
                item.width,
                item.height,
                as_json(item.metadata),
                as_json(item.tags),
                as_json(truth.c.shapes),
            )
            .outerjoin(
                truth,
                and_(truth.c.item_id == item.id, truth.c.source_id == models.GROUND_TRUTH),
            )
            .where(in_values(item.id, ids, session.get_bind().dialect.name))
        )
    }
    predictions = _predictions_of(session, ids) if with_predictions else {}
    rows = []
    for position, item_id in enumerate(ids):
        found_row = found.get(item_id)
        if found_row is None:  # deleted since the snapshot was caught up
            continue
        row: dict[str, Any] = {
            "id": found_row[0],
            "reference_id": found_row[1],
            "kind": found_row[2],
            "media": found_row[3],
            "text": found_row[4],
            "width": found_row[5],
            "height": found_row[6],
            "metadata": json_value(found_row[7]),
            "tags": json_value(found_row[8]),
            "annotations": json_value(found_row[9]) if found_row[9] is not None else [],
            "predictions": predictions.get(item_id, {}),
        }
        if measured:
            row["measures"] = {f: values[f][position] for f in measured}
        rows.append(row)
    return rows


def _raw(text: str) -> Any:
    """Stored JSON text as a fragment of the answer; the standard library's NaN and Infinity
    (which SQLite may hold, and JSON has not) decoded, to be encoded as null."""
    if "NaN" in text or "Infinity" in text:
        return json_loads(text)
    return msgspec.Raw(text)


def _predictions_of(session: Session, item_ids: list[str]) -> dict[str, dict[str, list]]:
    """item id → {model name: shapes}."""
    table, model = models.Annotation.__table__, models.Model.__table__
    found: dict[str, dict[str, list]] = {}
    rows = session.execute(
        select(table.c.item_id, model.c.name, table.c.shapes)
        .join(model, model.c.id == table.c.source_id)
        .where(
            in_values(table.c.item_id, item_ids, session.get_bind().dialect.name),
            table.c.source_id != models.GROUND_TRUTH,
        )
    )
    for item_id, name, shapes in rows:
        found.setdefault(item_id, {})[name] = shapes
    return found


def object_rows(
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
        dialect = session.get_bind().dialect.name
        for item_id, source_id, stored in session.execute(
            select(table.c.item_id, table.c.source_id, table.c.shapes).where(
                in_values(table.c.item_id, item_ids, dialect)
            )
        ):
            shapes[(item_id, source_id)] = stored
        for item_id, url, width, height in session.execute(
            select(models.Item.id, models.Item.media, models.Item.width, models.Item.height).where(
                in_values(models.Item.id, item_ids, dialect)
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

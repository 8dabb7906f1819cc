"""PostgreSQL's append write (`items.append_items`): the rows staged before the dataset's lock.

An append takes its dataset's next revision (`datasets.next_revision`), which locks the
dataset's row until it commits, so appends to one dataset write one at a time. Everything
that does not need the revision is done before taking it: the items and their shapes are
COPYed into temporary tables (the wire transfer, and PostgreSQL's parsing of every JSON value
into `jsonb`), and under the lock `INSERT … SELECT` moves them into the dataset's tables with
the revision and the dense item numbers (bench/curation_ingest.py: the lock was held through
both COPYs before, half of the time an append held it).

The temporary tables are this transaction's (dropped at its end, and by the append itself so
that one transaction can append twice): no other connection sees them, nothing about them is
written to the WAL, and a rollback or a crash leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, bindparam, text, update
from sqlalchemy.orm import Session

from assay.core import dialects
from assay.core.ids import new_ids
from assay.curation import models, wire
from assay.curation.datasets import DATASETS, next_revision

ITEMS = models.Item.__table__
ANNOTATIONS = models.Annotation.__table__
# The item columns an append gives; the rest are the dataset's and the revision's.
ITEM_FIELDS = ("id", "reference_id", "kind", "media", "text", "width", "height", "metadata", "tags")
# For insert_rows (column types and quoting); created by `_STAGE`.
STAGED_ITEMS = Table(
    "staged_items",
    MetaData(),
    Column("ord", Integer),
    *(Column(name, ITEMS.c[name].type) for name in ITEM_FIELDS),
)
STAGED_SHAPES = Table(
    "staged_shapes",
    MetaData(),
    *(Column(name, ANNOTATIONS.c[name].type) for name in ("item_id", "shapes", "count")),
)
# The columns' types are the target tables' own (`jsonb`: parsed when staged, copied as is
# by the INSERT … SELECT). `known`: the item is in the dataset already (set true under the
# lock; null otherwise, as COPY leaves it).
_STAGE = (
    "CREATE TEMPORARY TABLE staged_items ON COMMIT DROP AS SELECT 0 AS ord, "
    + ", ".join(ITEM_FIELDS)
    + ", NULL::boolean AS known FROM dataset_items WITH NO DATA",
    "CREATE TEMPORARY TABLE staged_shapes ON COMMIT DROP AS "
    "SELECT item_id, shapes, count FROM dataset_annotations WITH NO DATA",
)
# LIMIT 1 keeps the subquery a per-row probe of the (dataset_id, reference_id) index: a plain
# join may be planned as a scan of the dataset's rows when its statistics are stale.
_KNOWN = text(
    "SELECT s.ord, i.id FROM staged_items s CROSS JOIN LATERAL (SELECT id FROM dataset_items "
    "WHERE dataset_id = :dataset_id AND reference_id = s.reference_id LIMIT 1) i"
)
_INSERT_ITEMS = (
    "INSERT INTO dataset_items ({fields}, dataset_id, revision, seq, created_at, updated_at) "
    "SELECT {fields}, :dataset_id, :revision, {seq}, :now, :now FROM staged_items{where}"
)


@dataclass
class Written:
    revision: int
    new: int
    updated: int
    ignored: int
    annotations: int  # shapes written
    removed: int  # shapes of known items' replaced ground truth


def stage_append(*, session: Session, prepared: Any) -> list[str]:
    """COPY the append's items (each with a new id) and their shapes into this transaction's
    staging tables; returns the ids, in the items' order. Takes no lock."""
    items: Sequence[wire.ItemIn] = prepared.append.items
    connection = session.connection()
    for statement in _STAGE:
        connection.exec_driver_sql(statement)
    ids = new_ids(len(items))
    dialects.insert_rows(
        connection,
        STAGED_ITEMS,
        ("ord", *ITEM_FIELDS),
        (
            (
                i,
                ids[i],
                item.reference_id,
                item.kind,
                item.media,
                item.text,
                item.width,
                item.height,
                *prepared.rows[i],
            )
            for i, item in enumerate(items)
        ),
        encoded=("metadata", "tags"),
    )
    dialects.insert_rows(
        connection,
        STAGED_SHAPES,
        ("item_id", "shapes", "count"),
        (
            (ids[i], shapes, len(items[i].annotations or ()))
            for i, shapes in enumerate(prepared.shapes)
            if shapes is not None
        ),
        encoded=("shapes",),
    )
    return ids


def write_staged(
    *, session: Session, dataset_id: str, prepared: Any, ids: list[str], now: Any
) -> Written:
    """Under the dataset's next revision, insert the staged items the dataset does not have
    and update (or, with `update` false, leave) those it has, with their shapes."""
    items: Sequence[wire.ItemIn] = prepared.append.items
    update_known = prepared.append.update
    revision = next_revision(session, dataset_id)
    connection = session.connection()
    known = dict(connection.execute(_KNOWN, {"dataset_id": dataset_id}).all())
    fresh = len(items) - len(known)
    replaced: list[str] = []
    if known:
        ords, known_ids = list(known), list(known.values())
        staged_ids = [ids[i] for i in ords]
        if update_known:
            # Their shapes go to the items the dataset has.
            connection.execute(
                text(
                    "UPDATE staged_shapes s SET item_id = k.id FROM unnest(CAST(:staged AS "
                    "text[]), CAST(:known AS text[])) AS k(staged, id) WHERE s.item_id = k.staged"
                ),
                {"staged": staged_ids, "known": known_ids},
            )
            replaced = [known[i] for i in ords if items[i].annotations is not None]
        else:
            connection.execute(
                text("DELETE FROM staged_shapes WHERE item_id = ANY(CAST(:staged AS text[]))"),
                {"staged": staged_ids},
            )
        connection.execute(
            text(
                "UPDATE staged_items s SET id = k.id, known = true FROM unnest(CAST(:ords AS "
                "integer[]), CAST(:known AS text[])) AS k(ord, id) WHERE s.ord = k.ord"
            ),
            {"ords": ords, "known": known_ids},
        )
    written = sum(
        len(items[i].annotations or ())
        for i, shapes in enumerate(prepared.shapes)
        if shapes is not None and (update_known or i not in known)
    )
    if fresh:
        last = session.execute(
            update(DATASETS)
            .where(DATASETS.c.id == dataset_id)
            .values(item_seq=DATASETS.c.item_seq + fresh)
            .returning(DATASETS.c.item_seq)
        ).scalar_one()
        # Dense numbers in the items' order: the staged order when every item is new.
        seq, where = (
            (":first + row_number() OVER (ORDER BY ord) - 1", " WHERE known IS NOT TRUE")
            if known
            else (":first + ord", "")
        )
        fields = ", ".join(ITEM_FIELDS)
        connection.execute(
            text(_INSERT_ITEMS.format(fields=fields, seq=seq, where=where)).bindparams(
                bindparam("now", type_=ITEMS.c.created_at.type)
            ),
            {"dataset_id": dataset_id, "revision": revision, "first": last - fresh + 1, "now": now},
        )
    removed = 0
    if replaced:
        removed = sum(
            connection.execute(
                text(
                    "DELETE FROM dataset_annotations WHERE item_id = ANY(CAST(:ids AS text[])) "
                    "AND source_id = :source RETURNING count"
                ),
                {"ids": replaced, "source": models.GROUND_TRUTH},
            ).scalars()
        )
    if known and update_known:
        assignments = ", ".join(f"{name} = s.{name}" for name in ITEM_FIELDS if name != "id")
        connection.execute(
            text(
                f"UPDATE dataset_items i SET {assignments}, revision = :revision, "
                "updated_at = :now FROM staged_items s WHERE s.known AND i.id = s.id"
            ).bindparams(bindparam("now", type_=ITEMS.c.updated_at.type)),
            {"revision": revision, "now": now},
        )
    if written:
        connection.execute(
            text(
                "INSERT INTO dataset_annotations (item_id, source_id, shapes, count) "
                "SELECT item_id, :source, shapes, count FROM staged_shapes"
            ),
            {"source": models.GROUND_TRUTH},
        )
    connection.exec_driver_sql("DROP TABLE staged_items, staged_shapes")
    return Written(
        revision=revision,
        new=fresh,
        updated=len(known) if update_known else 0,
        ignored=0 if update_known else len(known),
        annotations=written,
        removed=removed,
    )

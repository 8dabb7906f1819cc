"""Items: bulk append (insert or update by reference id, with ground truth), reads, deletes.

An append is all or nothing: every item is checked (shapes by `wire.decode`, then media,
duplicates and blobs here) before anything is written, and the first problem is an `Invalid`
naming the item and field. The writes are set-based and do not grow in statements with the
items: one read of the reference ids already there per 500 items, then executemany INSERTs
and UPDATEs in one transaction under the dataset's next revision (`datasets.next_revision`).
On PostgreSQL the rows are staged before the revision is taken (`item_staging`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from assay.core import blob_refs, dialects
from assay.core import models as core_models
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Invalid, NotFound
from assay.core.ids import new_ids
from assay.core.pagination import PageResult, cursor_key, encode_cursor
from assay.curation import item_staging, models, wire
from assay.curation.datasets import DATASET_SCOPE, DATASETS, next_revision

ITEMS = models.Item.__table__
ANNOTATIONS = models.Annotation.__table__
TOMBSTONES = models.Tombstone.__table__
# Terms per IN (…) read: SQLite allows 32,766 variables; PostgreSQL's plans stay cheap.
CHUNK = 500
_MEDIA_KINDS = ("image", "video_frame", "pointcloud", "document")
_TEXT_KINDS = ("text", "conversation")
# http(s), a host (and port), no user:password@, no white space.
_WEB_URL = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?")


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
    # Shown by the browser, fetched by workers through core/outbound (which checks where it
    # leads then): here its shape only, cheaply — an internal image server is a fine place
    # for a team's media, and an append may carry 50,000 of them.
    if not _is_web_url(item.media):
        raise Invalid(
            "media must be blob:<sha256> or an http(s) URL with a host (no user:password@)",
            field=f"{at}.media",
        )


def _is_web_url(url: str) -> bool:
    return _WEB_URL.fullmatch(url) is not None


def _check_cuboid(shape: wire.Cuboid, path: str) -> None:
    flat = shape.front is not None and shape.back is not None
    solid = shape.position is not None and shape.dimensions is not None
    if flat == solid:
        raise Invalid(
            "a cuboid has front and back faces (2D) or position and dimensions (3D)", field=path
        )
    if solid and min(shape.dimensions.x, shape.dimensions.y, shape.dimensions.z) <= 0:
        raise Invalid("a cuboid's dimensions must be positive", field=f"{path}.dimensions")


def _check_span(shape: wire.Span, path: str) -> None:
    if shape.end <= shape.start:
        raise Invalid("a span ends after it starts", field=f"{path}.end")


def _check_mask(shape: wire.Mask, path: str) -> None:
    height, width = shape.rle.size
    if sum(shape.rle.counts) != height * width:
        raise Invalid(
            f"the mask's run lengths cover {sum(shape.rle.counts)} pixels, "
            f"its size {height} by {width}",
            field=f"{path}.rle.counts",
        )


# What the decoder's types cannot say, per shape type: cuboids are 2D or 3D, spans run
# forward, masks cover their image exactly.
_CHECKS: dict[type, Any] = {
    wire.Cuboid: _check_cuboid,
    wire.Span: _check_span,
    wire.Mask: _check_mask,
}
ANNOTATION_COLUMNS = ("item_id", "source_id", "shapes", "count")
_ITEM_COLUMNS = (
    "id",
    "reference_id",
    "kind",
    "media",
    "text",
    "width",
    "height",
    "metadata",
    "tags",
    "revision",
    "seq",
)


def check_shape(shape: wire.Shape, path: str) -> None:
    """What the decoder's types cannot say about one shape (see `_CHECKS`)."""
    check = _CHECKS.get(type(shape))
    if check is not None:
        check(shape, path)


def checked_shapes(shapes: Sequence[wire.Shape], path: str) -> bytes:
    """One item's shapes as stored (JSON text, encoded in one call): checked beyond their
    types, their ids unique on the item."""
    seen: set[str] = set()
    for k, shape in enumerate(shapes):
        check = _CHECKS.get(type(shape))
        if check is not None:
            check(shape, f"{path}[{k}]")
        if shape.id is not None:
            if shape.id in seen:
                raise Invalid(
                    f"annotation id {shape.id!r} appears twice on this item",
                    field=f"{path}[{k}].id",
                )
            seen.add(shape.id)
    return msgspec.json.encode(shapes)


# PostgreSQL: one statement for any number of ids, each a probe of the (dataset_id,
# reference_id) index. `IN (500 ids)` reads, prepared by psycopg after five runs, got a
# generic plan that walked the dataset's rows testing each against the 500 ids when the
# table's statistics were stale (10-26 s per 10,000 ids on a fresh dataset); LIMIT 1 keeps
# the subquery a per-row probe whatever the statistics say.
_KNOWN_REFERENCES = text(
    "SELECT r.reference_id, i.id FROM unnest(CAST(:reference_ids AS text[])) AS r(reference_id)"
    " CROSS JOIN LATERAL (SELECT id FROM dataset_items WHERE dataset_id = :dataset_id"
    " AND reference_id = r.reference_id LIMIT 1) AS i"
)


def existing_items(
    connection: Connection | Session, dataset_id: str, reference_ids: Sequence[str]
) -> dict[str, str]:
    """reference id → item id of the items among `reference_ids` already in the dataset."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        if not reference_ids:
            return {}
        rows = connection.execute(
            _KNOWN_REFERENCES, {"dataset_id": dataset_id, "reference_ids": list(reference_ids)}
        )
        return {reference_id: item_id for reference_id, item_id in rows}
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


@dataclass
class PreparedAppend:
    """An append checked and encoded, ready for its write: everything that needs no database
    is done before the write transaction, so a server process prepares one append while
    another holds SQLite's single writer (bench/curation_ingest.py)."""

    append: wire.AppendIn
    rows: list[tuple[str, str]]  # per item: metadata and tags as JSON text
    shapes: list[str | None]  # per item: its ground truth as JSON text, checked (None: none)


def prepare_append(*, append: wire.AppendIn, max_items: int) -> PreparedAppend:
    """Check the append beyond its types (size, repeated reference ids, media, shapes) and
    encode its JSON columns; `Invalid` names the item and field."""
    items = append.items
    if len(items) > max_items:
        raise Invalid(
            f"{len(items)} items in one append; at most {max_items} (split it, or import a file)",
            field="items",
        )
    first: dict[str, int] = {}
    rows: list[tuple[str, str]] = []
    shapes: list[str | None] = []
    for i, item in enumerate(items):
        if item.reference_id in first:
            raise Invalid(
                f"reference_id {item.reference_id!r} is also items[{first[item.reference_id]}]",
                field=f"items[{i}].reference_id",
            )
        first[item.reference_id] = i
        _check_media(i, item)
        rows.append((_json(item.metadata).decode(), _json(item.tags).decode()))
        shapes.append(
            checked_shapes(item.annotations, f"items[{i}].annotations").decode()
            if item.annotations
            else None
        )
    return PreparedAppend(append, rows, shapes)


def _json(value: Any) -> bytes:
    try:
        return msgspec.json.encode(value)
    except UnicodeEncodeError:  # a lone surrogate: escaped as the standard library does
        return json.dumps(value).encode()


def append_items(
    *,
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    append: wire.AppendIn | PreparedAppend,
    max_items: int = 0,
) -> AppendResult:
    """Insert the items, or update those whose reference id the dataset has (or leave them,
    with `update` false); a list of `annotations` replaces the item's ground truth. Give it
    `prepare_append`'s result to keep the checks and encoding out of the write transaction;
    an `AppendIn` is prepared here (with `max_items`)."""
    prepared = (
        append
        if isinstance(append, PreparedAppend)
        else prepare_append(append=append, max_items=max_items)
    )
    items = prepared.append.items
    shas = _check_blobs(session, actor, items)
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        ids = item_staging.stage_append(session=session, prepared=prepared)
        written = item_staging.write_staged(
            session=session, dataset_id=dataset.id, prepared=prepared, ids=ids, now=now
        )
        return _appended(session, dataset, actor, shas, written, now)

    revision = next_revision(session, dataset.id)
    known = existing_items(session, dataset.id, [item.reference_id for item in items])
    # Reference ids are unique within an append: every one not known is inserted. Their
    # dense numbers are taken first, so each row is built once, whole.
    fresh = len(items) - len(known)
    fresh_ids = iter(new_ids(fresh))
    seq = iter(())
    if fresh:
        last = session.execute(
            update(DATASETS)
            .where(DATASETS.c.id == dataset.id)
            .values(item_seq=DATASETS.c.item_seq + fresh)
            .returning(DATASETS.c.item_seq)
        ).scalar_one()
        seq = iter(range(last - fresh + 1, last + 1))
    inserts: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    shapes: list[tuple[Any, ...]] = []
    replaced: list[str] = []
    ignored = 0
    for i, item in enumerate(items):
        item_id = known.get(item.reference_id)
        if item_id is None:
            item_id = next(fresh_ids)
            metadata, tags = prepared.rows[i]
            inserts.append(
                (
                    item_id,
                    item.reference_id,
                    item.kind,
                    item.media,
                    item.text,
                    item.width,
                    item.height,
                    metadata,
                    tags,
                    revision,
                    next(seq),
                )
            )
        elif not prepared.append.update:
            ignored += 1
            continue
        else:
            updates.append(
                {
                    "item_id": item_id,
                    "kind": item.kind,
                    "media": item.media,
                    "text": item.text,
                    "width": item.width,
                    "height": item.height,
                    "metadata": item.metadata,
                    "tags": item.tags,
                }
            )
            if item.annotations is not None:
                replaced.append(item_id)
        encoded = prepared.shapes[i]
        if encoded is not None:
            shapes.append((item_id, models.GROUND_TRUTH, encoded, len(item.annotations or ())))

    removed = _delete_annotations(session, replaced, models.GROUND_TRUTH)
    connection = session.connection()
    if inserts:
        dialects.insert_rows(
            connection,
            ITEMS,
            _ITEM_COLUMNS,
            inserts,
            {"dataset_id": dataset.id, "created_at": now, "updated_at": now},
            encoded=("metadata", "tags"),
        )
    if updates:
        session.execute(
            update(ITEMS)
            .where(ITEMS.c.id == bindparam("item_id"))
            .values(
                {key: bindparam(key) for key in updates[0] if key != "item_id"}
                | {"revision": revision, "updated_at": now}
            ),
            updates,
        )
    if shapes:
        dialects.insert_rows(
            connection, ANNOTATIONS, ANNOTATION_COLUMNS, shapes, encoded=("shapes",)
        )
    written = item_staging.Written(
        revision=revision,
        new=len(inserts),
        updated=len(updates),
        ignored=ignored,
        annotations=sum(row[3] for row in shapes),
        removed=removed,
    )
    return _appended(session, dataset, actor, shas, written, now)


def _appended(
    session: Session,
    dataset: models.Dataset,
    actor: Actor,
    shas: list[str],
    written: item_staging.Written,
    now: dt.datetime,
) -> AppendResult:
    """What follows an append's rows: the dataset's counts, the blobs' references, the
    continuous embedding spaces."""
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values(
            item_count=DATASETS.c.item_count + written.new,
            annotation_count=DATASETS.c.annotation_count + written.annotations - written.removed,
            updated_at=now,
        )
    )
    if shas:
        blob_refs.add_refs(session=session, sha256s=shas, scope=DATASET_SCOPE, scope_id=dataset.id)
    if written.new and any(s.get("continuous") for s in (dataset.embedding_spaces or {}).values()):
        from assay.curation.embedding_spaces import index_appended  # it reads items

        index_appended(session=session, dataset=dataset, actor=actor)
    return AppendResult(
        new=written.new,
        updated=written.updated,
        ignored=written.ignored,
        annotations=written.annotations,
        revision=written.revision,
    )


def _delete_annotations(session: Session, item_ids: Sequence[str], source_id: str) -> int:
    """Delete the items' shapes from `source_id`; returns how many shapes went."""
    removed = 0
    for chunk in _chunks(item_ids):
        where = (ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == source_id)
        removed += session.scalar(
            select(func.coalesce(func.sum(ANNOTATIONS.c.count), 0)).where(*where)
        )
        session.execute(delete(ANNOTATIONS).where(*where))
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
    *, session: Session, item_ids: Sequence[str], source_id: str = models.GROUND_TRUTH
) -> dict[str, list[dict[str, Any]]]:
    """item id → its shapes from `source_id` (ground truth by default; a model's id for its
    predictions), in the order they were given."""
    found: dict[str, list[dict[str, Any]]] = {item_id: [] for item_id in item_ids}
    for chunk in _chunks(list(item_ids)):
        rows = session.execute(
            select(ANNOTATIONS.c.item_id, ANNOTATIONS.c.shapes).where(
                ANNOTATIONS.c.item_id.in_(chunk), ANNOTATIONS.c.source_id == source_id
            )
        )
        for item_id, shapes in rows:
            found[item_id] = shapes
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
                func.coalesce(
                    func.sum(ANNOTATIONS.c.count).filter(
                        ANNOTATIONS.c.source_id == models.GROUND_TRUTH
                    ),
                    0,
                ),
                func.coalesce(
                    func.sum(ANNOTATIONS.c.count).filter(
                        ANNOTATIONS.c.source_id != models.GROUND_TRUTH
                    ),
                    0,
                ),
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

"""Per-process columnar snapshots of datasets: the frames queries, facets and the explorer
read (`curation/query`), built from the tables and kept in step through revisions.

A snapshot of a dataset at revision R holds two Polars frames (the schema is
`curation/query/frames.py`'s):

- items: `row`, `item_id`, `reference_id`, `kind`, `width`, `height`, `tags`, `slices`, and
  one column per metadata path (`metadata.camera.id`), typed by what the values are;
- objects: one row per ground-truth shape (`source` "gt") and prediction (`source` the
  model's name): `item_row`, `object_id`, `type`, `label`, `confidence`, `area`, `width`,
  `height`, `aspect`, and `attributes.<name>` columns.

Building one reads the dataset's rows once and lets Polars parse their JSON (NDJSON of the
stored text, no Python object per shape). A later request catches up instead of rebuilding:
the items stamped after R (with their shapes) and the tombstones after R replace and drop
rows (`models.py` says why that sees every write). A dataset whose tombstones were pruned
past R is rebuilt whole.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from assay.curation import models
from assay.curation.evaluation_matches import stored_matches
from assay.curation.query.fields import MEASURES
from assay.curation.query.frames import GT, QueryFrames
from assay.curation.snapshot_frames import items_frame, measures_of, objects_frame, with_measures

ITEMS = models.Item.__table__
ANNOTATIONS = models.Annotation.__table__
TOMBSTONES = models.Tombstone.__table__
MODELS = models.Model.__table__
# Rows read per statement while building (bounded memory for the driver's buffers).
READ_CHUNK = 50_000


class DatasetPosition(Protocol):
    """What a snapshot needs of its dataset: a `models.Dataset` or a `datasets.DatasetHead`."""

    @property
    def id(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def tombstone_floor(self) -> int: ...


@dataclass(frozen=True)
class Snapshot:
    dataset_id: str
    revision: int
    items: pl.DataFrame
    objects: pl.DataFrame

    @cached_property
    def frames(self) -> QueryFrames:
        """The query engine's view of this snapshot, with its caches (one per snapshot)."""
        return QueryFrames(self.items, self.objects)


# --- reading rows -----------------------------------------------------------------------


def _item_rows(session: Session, dataset_id: str, after: int | None) -> list[tuple]:
    """(id, reference_id, kind, width, height, tags text, metadata text, seq) in id order; only
    those stamped after `after` when given."""
    columns = (
        ITEMS.c.id,
        ITEMS.c.reference_id,
        ITEMS.c.kind,
        ITEMS.c.width,
        ITEMS.c.height,
        cast(ITEMS.c.tags, Text),
        cast(ITEMS.c.metadata, Text),
        ITEMS.c.seq,
    )
    rows: list[tuple] = []
    last = ""
    while True:
        statement = select(*columns).where(ITEMS.c.dataset_id == dataset_id, ITEMS.c.id > last)
        if after is not None:
            statement = statement.where(ITEMS.c.revision > after)
        chunk = session.execute(statement.order_by(ITEMS.c.id).limit(READ_CHUNK)).all()
        rows.extend(tuple(row) for row in chunk)
        if len(chunk) < READ_CHUNK:
            return rows
        last = chunk[-1][0]


def _shape_rows(session: Session, item_ids: Sequence[str]) -> list[tuple[str, str, str]]:
    """(item id, source id, shapes text) of the given items."""
    found: list[tuple[str, str, str]] = []
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        found.extend(
            tuple(row)
            for row in session.execute(
                select(
                    ANNOTATIONS.c.item_id,
                    ANNOTATIONS.c.source_id,
                    cast(ANNOTATIONS.c.shapes, Text),
                ).where(ANNOTATIONS.c.item_id.in_(chunk))
            )
        )
    return found


def _all_shape_rows(session: Session, dataset_id: str) -> list[tuple[str, str, str]]:
    """Every (item id, source id, shapes text) of the dataset, through its items."""
    return [
        tuple(row)
        for row in session.execute(
            select(
                ANNOTATIONS.c.item_id,
                ANNOTATIONS.c.source_id,
                cast(ANNOTATIONS.c.shapes, Text),
            )
            .join(ITEMS, ITEMS.c.id == ANNOTATIONS.c.item_id)
            .where(ITEMS.c.dataset_id == dataset_id)
        )
    ]


def _slice_lists(
    session: Session, dataset_id: str, item_ids: Sequence[str] | None
) -> dict[str, list[str]]:
    """item id → the static slices holding it (of the given items, or of every item)."""
    members, slices = models.SliceItem.__table__, models.Slice.__table__
    statement = (
        select(members.c.item_id, members.c.slice_id)
        .join(slices, slices.c.id == members.c.slice_id)
        .where(slices.c.dataset_id == dataset_id)
    )
    found: dict[str, list[str]] = {}
    chunks = (
        [None]
        if item_ids is None
        else [item_ids[i : i + 500] for i in range(0, len(item_ids), 500)]
    )
    for chunk in chunks:
        limited = statement if chunk is None else statement.where(members.c.item_id.in_(chunk))
        for item_id, slice_id in session.execute(limited):
            found.setdefault(item_id, []).append(slice_id)
    return found


def _autotag_scores(
    session: Session, dataset_id: str, item_ids: Sequence[str] | None
) -> dict[str, dict[str, float]]:
    """Committed autotag scores: name → {item id: score} (of the given items, or all)."""
    tags, scores = models.Autotag.__table__, models.AutotagScore.__table__
    statement = (
        select(tags.c.name, scores.c.item_id, scores.c.score)
        .join(tags, tags.c.id == scores.c.autotag_id)
        .where(tags.c.dataset_id == dataset_id)
    )
    found: dict[str, dict[str, float]] = {
        name: {}
        for name in session.scalars(
            select(tags.c.name).where(
                tags.c.dataset_id == dataset_id, tags.c.committed_at.is_not(None)
            )
        )
    }
    chunks = (
        [None]
        if item_ids is None
        else [item_ids[i : i + 500] for i in range(0, len(item_ids), 500)]
    )
    for chunk in chunks:
        limited = statement if chunk is None else statement.where(scores.c.item_id.in_(chunk))
        for name, item_id, score in session.execute(limited):
            found.setdefault(name, {})[item_id] = score
    return found


def _measures(session: Session, dataset_id: str, after: int | None) -> dict[str, np.ndarray]:
    """Stored measures (field → float values indexed by seq), those written after `after`."""
    table = models.Measure.__table__
    statement = select(table.c.field, table.c.by_seq).where(table.c.dataset_id == dataset_id)
    if after is not None:
        statement = statement.where(table.c.revision > after)
    return {
        field: np.frombuffer(by_seq, dtype="<f4").astype(np.float64)
        for field, by_seq in session.execute(statement)
    }


MATCH_COLUMNS = ("match", "matched_id")
# The saved files' layout: a file of another format is not loaded (the snapshot is built).
FORMAT = 2


def with_matches(session: Session, dataset_id: str, objects: pl.DataFrame) -> pl.DataFrame:
    """The objects frame with the stored evaluations' outcomes (`curation/evaluations.py`):
    each prediction's from its model's latest finished evaluation, each ground-truth
    object's from the latest of all; objects of items changed since an evaluation read them
    get none. Without a finished evaluation the frame has no match columns (and queries
    naming them say an evaluation is needed)."""
    table = models.Evaluation.__table__
    objects = objects.drop([c for c in MATCH_COLUMNS if c in objects.columns])
    found = session.execute(
        select(table.c.id, table.c.model_id, table.c.evaluated_revision)
        .where(table.c.dataset_id == dataset_id, table.c.status == "done")
        .order_by(table.c.revision.desc())
    ).all()
    latest: dict[str, tuple[str, int]] = {}
    for evaluation_id, model_id, read_at in found:
        latest.setdefault(model_id, (evaluation_id, read_at))
    if not latest:
        return objects
    newest = found[0][0]
    parts = []
    for evaluation_id, read_at in latest.values():
        frame = stored_matches(session, dataset_id, evaluation_id, read_at)
        if evaluation_id != newest:
            frame = frame.filter(pl.col("prediction"))
        parts.append(frame.select("object_id", "match", "iou", "matched_id"))
    matches = pl.concat(parts)
    return (
        objects.drop("iou")
        .join(matches, on="object_id", how="left")
        .with_columns(pl.col("iou").cast(pl.Float64))
    )


def _evaluated_since(session: Session, dataset_id: str, revision: int) -> bool:
    table = models.Evaluation.__table__
    return (
        session.scalar(
            select(table.c.id)
            .where(
                table.c.dataset_id == dataset_id,
                table.c.status == "done",
                table.c.revision > revision,
            )
            .limit(1)
        )
        is not None
    )


def _model_names(session: Session, source_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted({s for s in source_ids if s != models.GROUND_TRUTH})
    names = {models.GROUND_TRUTH: GT}
    if wanted:
        names.update(
            dict(
                session.execute(
                    select(MODELS.c.id, MODELS.c.name).where(MODELS.c.id.in_(wanted))
                ).all()
            )
        )
    return names


# --- frames from rows -------------------------------------------------------------------


# --- snapshots --------------------------------------------------------------------------


def build(session: Session, dataset: DatasetPosition) -> Snapshot:
    """The whole dataset as of the caller's transaction."""
    rows = _item_rows(session, dataset.id, None)
    shape_rows = _all_shape_rows(session, dataset.id)
    positions = {row[0]: k for k, row in enumerate(rows)}
    names = _model_names(session, (r[1] for r in shape_rows))
    items = items_frame(
        rows,
        _slice_lists(session, dataset.id, None),
        _autotag_scores(session, dataset.id, None),
    )
    return Snapshot(
        dataset.id,
        dataset.revision,
        with_measures(items, _measures(session, dataset.id, None)),
        with_matches(session, dataset.id, objects_frame(shape_rows, positions, names)),
    )


def catch_up(session: Session, dataset: DatasetPosition, snapshot: Snapshot) -> Snapshot:
    """`snapshot` brought to the dataset's revision: changed items replaced, deleted ones
    dropped, new ones appended (rows renumbered, objects following their items)."""
    if dataset.revision == snapshot.revision:
        return snapshot
    if dataset.tombstone_floor > snapshot.revision:
        return build(session, dataset)
    changed = _item_rows(session, dataset.id, snapshot.revision)
    gone = set(
        session.scalars(
            select(TOMBSTONES.c.item_id).where(
                TOMBSTONES.c.dataset_id == dataset.id,
                TOMBSTONES.c.revision > snapshot.revision,
            )
        )
    )
    replaced = gone | {row[0] for row in changed}
    old_ids = snapshot.items["item_id"]
    keep = ~old_ids.is_in(list(replaced)).to_numpy() if replaced else np.ones(len(old_ids), bool)
    new_position = np.cumsum(keep) - 1
    kept_items = snapshot.items.filter(pl.Series(keep))
    object_rows = snapshot.objects["item_row"].to_numpy()
    kept_objects = snapshot.objects.filter(pl.Series(keep[object_rows], dtype=pl.Boolean))
    kept_objects = kept_objects.with_columns(
        pl.Series("item_row", new_position[kept_objects["item_row"].to_numpy()].astype(np.uint32))
    )
    start = kept_items.height
    memberships = _slice_lists(session, dataset.id, [row[0] for row in changed])
    scores = _autotag_scores(session, dataset.id, [row[0] for row in changed])
    for name in scores:
        if f"autotag.{name}" not in kept_items.columns:
            # A newly committed autotag: every kept item lacks it (the scored ones changed).
            kept_items = kept_items.with_columns(
                pl.lit(None, dtype=pl.Float64).alias(f"autotag.{name}")
            )
    added = items_frame(changed, memberships, scores).with_columns(
        (pl.col("row") + start).cast(pl.UInt32).alias("row")
    )
    items = pl.concat(
        [kept_items.with_columns(pl.Series("row", np.arange(start, dtype=np.uint32))), added],
        how="diagonal_relaxed",
    )
    shape_rows = _shape_rows(session, [row[0] for row in changed])
    positions = {row[0]: start + k for k, row in enumerate(changed)}
    names = _model_names(session, (r[1] for r in shape_rows))
    objects = pl.concat(
        [kept_objects, objects_frame(shape_rows, positions, names)], how="diagonal_relaxed"
    )
    items, objects = _in_seq_order(items, objects)
    # Measures: the replaced rows take their values back by seq (an item keeps its seq);
    # a measure written since the snapshot replaces its column whole.
    measures = measures_of(snapshot.items, MEASURES) if changed else {}
    measures.update(_measures(session, dataset.id, snapshot.revision))
    items = with_measures(items, measures)
    # Outcomes: changed items' objects come back without them; a new evaluation joins anew.
    if _evaluated_since(session, dataset.id, snapshot.revision):
        objects = with_matches(session, dataset.id, objects)
    return Snapshot(dataset.id, dataset.revision, items.rechunk(), objects.rechunk())


def _in_seq_order(items: pl.DataFrame, objects: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows in the order the items were added (their `seq`), as a fresh build has them: an
    updated item comes back to its place, not to the end (rows renumbered, objects follow)."""
    seqs = items["seq"].to_numpy()
    if len(seqs) < 2 or bool(np.all(seqs[1:] > seqs[:-1])):
        return items, objects
    order = np.argsort(seqs, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    items = items[order].with_columns(pl.Series("row", np.arange(len(order), dtype=np.uint32)))
    rows = objects["item_row"].to_numpy()
    objects = objects.with_columns(pl.Series("item_row", position[rows].astype(np.uint32)))
    return items, objects


class Snapshots:
    """The snapshots this process keeps, one per dataset, caught up on each use.

    With a directory (`configure`, done by `assay serve` under the data directory), a full
    build is also saved there as Parquet with the revision it holds, and saved again at most
    every `SAVE_SECONDS` after catch-ups (on a thread): a process that starts later loads the
    file and catches up from its revision instead of reading every row again. The files are a
    cache — deleting them costs one build."""

    SAVE_SECONDS = 300.0

    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._directory: Path | None = None
        self._saved_at: dict[str, float] = {}

    def configure(self, directory: Path | None) -> None:
        self._directory = directory

    def get(self, session: Session, dataset: DatasetPosition) -> Snapshot:
        with self._guard:
            lock = self._locks.setdefault(dataset.id, threading.Lock())
        with lock:
            current = self._snapshots.get(dataset.id)
            if current is None:
                current = self._load(dataset)
                if current is None:
                    current = build(session, dataset)
                    self._save(current)
            if current.revision != dataset.revision:
                current = catch_up(session, dataset, current)
                if time.monotonic() - self._saved_at.get(dataset.id, 0.0) > self.SAVE_SECONDS:
                    self._saved_at[dataset.id] = time.monotonic()
                    threading.Thread(target=self._save, args=(current,), daemon=True).start()
            if self._snapshots.get(dataset.id) is not current:
                _keep_out_of_collections()
            self._snapshots[dataset.id] = current
            return current

    def forget(self, dataset_id: str) -> None:
        self._snapshots.pop(dataset_id, None)

    def _folder(self, dataset_id: str) -> Path | None:
        return None if self._directory is None else self._directory / dataset_id

    def _load(self, dataset: DatasetPosition) -> Snapshot | None:
        folder = self._folder(dataset.id)
        if folder is None or not (folder / "snapshot.json").exists():
            return None
        try:
            about = json.loads((folder / "snapshot.json").read_text())
            revision = int(about["revision"])
            if about.get("format") != FORMAT:
                return None  # written by an older version: its columns differ
            if revision > dataset.revision or dataset.tombstone_floor > revision:
                return None  # from another database, or too old to catch up
            items = pl.read_parquet(folder / about["items"])
            objects = pl.read_parquet(folder / about["objects"])
        except (OSError, ValueError, KeyError, pl.exceptions.PolarsError):
            return None
        return Snapshot(dataset.id, revision, items, objects)

    def _save(self, snapshot: Snapshot) -> None:
        """Parquet files named by revision, then the pointer file replaced atomically."""
        folder = self._folder(snapshot.dataset_id)
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            items, objects = (
                f"items-{snapshot.revision}.parquet",
                f"objects-{snapshot.revision}.parquet",
            )
            snapshot.items.write_parquet(folder / items)
            snapshot.objects.write_parquet(folder / objects)
            pointer = folder / "snapshot.json.tmp"
            pointer.write_text(
                json.dumps(
                    {
                        "format": FORMAT,
                        "revision": snapshot.revision,
                        "items": items,
                        "objects": objects,
                    }
                )
            )
            os.replace(pointer, folder / "snapshot.json")
            for old in folder.glob("*.parquet"):
                if old.name not in (items, objects):
                    old.unlink(missing_ok=True)
            self._saved_at[snapshot.dataset_id] = time.monotonic()
        except OSError:
            return  # a cache: the next process builds instead


SNAPSHOTS = Snapshots()


_FULL_COLLECTION_SECONDS = 60.0
_full_collected_at = [0.0]


def _keep_out_of_collections() -> None:
    """A new snapshot lives until the next write: the objects made building it join those
    the server froze at start-up, out of the cyclic collector's scans (left in, full scans
    cost the explorer's reads milliseconds each: bench/curation_explore.py). Frozen objects
    are still freed by reference counting when the snapshot is replaced; what became cyclic
    garbage while frozen is found by a full collection of everything, at most once a
    minute (a few hundred ms at most, on the first read after a write)."""
    now = time.monotonic()
    if now - _full_collected_at[0] > _FULL_COLLECTION_SECONDS:
        _full_collected_at[0] = now
        gc.unfreeze()
    gc.collect()
    gc.freeze()

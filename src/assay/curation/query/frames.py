"""One dataset snapshot as the query engine sees it: the items and objects frames, their schema,
and arrays derived once per snapshot (label counts per item, codes for facets) and reused by
every query over it. A snapshot never changes; a new one comes with the next change counter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

GT = "gt"
HISTOGRAM_BINS = 20
ITEM_FIELDS = {
    "reference_id": "string",
    "item_id": "string",
    "kind": "string",
    "width": "number",
    "height": "number",
    "tags": "list",
    "slices": "list",
}
OBJECT_ATTRS = {
    "label": "string",
    "type": "string",
    "source": "string",
    "object_id": "string",
    "confidence": "number",
    "area": "number",
    "width": "number",
    "height": "number",
    "aspect": "number",
    "iou": "number",
    # From the model's latest evaluation (`curation/evaluations.py`): tp / fp / fn / ignored.
    "match": "string",
    "matched_id": "string",
}


def value_type(dtype: pl.DataType) -> str | None:
    """The query language's type of a column: number, string, bool or list."""
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Categorical | pl.Enum):
        return "string"
    if isinstance(dtype, pl.List):
        return "list"
    return None


@dataclass(frozen=True)
class Codes:
    """Small-integer codes of a string column: `codes[i]` indexes `names`; -1 for null."""

    names: tuple[str, ...]
    codes: np.ndarray

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            return -1

    def mask(self, wanted: Sequence[int]) -> np.ndarray:
        """Rows whose code is one of `wanted` (-1 entries, values absent from the column, match
        nothing). A selective value (under an eighth of the rows) is read from its postings
        — the rows sorted by code, built on first use — instead of comparing every row."""
        wanted = [w for w in wanted if w >= 0]
        n = len(self.codes)
        order, starts = self._postings
        if int(sum(starts[w + 1] - starts[w] for w in wanted)) * 8 < n:
            mask = np.zeros(n, dtype=bool)
            for w in wanted:
                mask[order[starts[w] : starts[w + 1]]] = True
            return mask
        if len(wanted) == 1:
            return self.codes == wanted[0]
        return np.isin(self.codes, wanted)

    @cached_property
    def _postings(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.codes, kind="stable")
        starts = np.zeros(len(self.names) + 1, dtype=np.int64)
        np.cumsum(
            np.bincount(self.codes[self.codes >= 0], minlength=len(self.names)), out=starts[1:]
        )
        return order[len(self.codes) - int(starts[-1]) :], starts


def _codes(series: pl.Series) -> Codes:
    """Dense codes in sorted order of the distinct values (nulls: -1)."""
    strings = series.cast(pl.Utf8)
    names = strings.drop_nulls().unique().sort().to_list()
    codes = (strings.rank("dense") - 1).fill_null(-1).cast(pl.Int32).to_numpy()
    return Codes(tuple(names), codes)


def _starts(rows: np.ndarray, n: int) -> np.ndarray:
    """CSR offsets of rows sorted by `rows`: row r spans starts[r]:starts[r + 1]."""
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=starts[1:])
    return starts


def ranges(starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions starts[r]:starts[r + 1] for each of `rows`, laid end to end."""
    lengths = starts[rows + 1] - starts[rows]
    total = int(lengths.sum())
    shift = np.repeat(starts[rows] - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


class QueryFrames:
    """The frames of one snapshot plus caches; build one per snapshot and share it."""

    def __init__(self, items: pl.DataFrame, objects: pl.DataFrame) -> None:
        self.items = items
        self.objects = objects
        self.n_items = items.height
        self.item_types = {n: t for n, d in items.schema.items() if (t := value_type(d))}
        self.object_types = {n: t for n, d in objects.schema.items() if (t := value_type(d))}
        self._cache: dict[Any, Any] = {}
        self._lock = threading.RLock()

    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        if key in self._cache:
            return self._cache[key]
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    @property
    def item_row(self) -> np.ndarray:
        return self.cached("item_row", lambda: self.objects["item_row"].cast(pl.Int32).to_numpy())

    def codes_of(self, frame: str, column: str) -> Codes:
        """Codes of a string column of the items or objects frame."""
        source = self.items if frame == "items" else self.objects
        return self.cached(("codes", frame, column), lambda: _codes(source[column]))

    @property
    def sources(self) -> Codes:
        return self.codes_of("objects", "source")

    @property
    def labels(self) -> Codes:
        return self.codes_of("objects", "label")

    def objects_of(self, item_positions: np.ndarray) -> np.ndarray:
        """Positions of the objects of the given items, from per-item ranges of the objects
        in item order (no pass over every object)."""
        order, starts = self.cached("by_item", self._by_item)
        positions = ranges(starts, item_positions)
        return positions if order is None else order[positions]

    def _by_item(self) -> tuple[np.ndarray | None, np.ndarray]:
        rows = self.item_row
        ordered = bool(np.all(rows[1:] >= rows[:-1])) if len(rows) else True
        order = None if ordered else np.argsort(rows, kind="stable")
        return order, _starts(rows, self.n_items)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(s for s in self.sources.names if s != GT)

    def labels_of(self, source: str | None) -> tuple[str, ...]:
        """Labels present for a source (None: any prediction)."""

        def build() -> tuple[str, ...]:
            present = self.label_source_counts() > 0
            if source is None:
                cols = [i for i, s in enumerate(self.sources.names) if s != GT]
                used = present[cols].any(axis=0) if cols else np.zeros(len(self.labels.names), bool)
            else:
                i = self.sources.index(source)
                used = present[i] if i >= 0 else np.zeros(len(self.labels.names), bool)
            return tuple(n for n, u in zip(self.labels.names, used, strict=True) if u)

        return self.cached(("labels_of", source), build)

    def label_source_counts(self, objects: np.ndarray | None = None) -> np.ndarray:
        """Objects per (source, label) as a 2-D array; over the given object positions if any."""
        n_s, n_l = len(self.sources.names), len(self.labels.names)
        combined = self.cached("source_label", lambda: self._source_label_codes(n_l))
        picked = combined if objects is None else combined[objects]
        counts = np.bincount(picked[picked >= 0], minlength=n_s * n_l)
        return counts.reshape(n_s, n_l)

    def _source_label_codes(self, n_labels: int) -> np.ndarray:
        s, lab = self.sources.codes, self.labels.codes
        return np.where((s >= 0) & (lab >= 0), s * n_labels + lab, -1).astype(np.int32)

    def object_mask_of(self, source: str | None) -> np.ndarray:
        """Objects of one source; None: every prediction (any source but ground truth)."""

        def build() -> np.ndarray:
            codes = self.sources.codes
            if source is None:
                return (codes >= 0) & (codes != self.sources.index(GT))
            wanted = self.sources.index(source)  # -1: no such source, which is no object
            return (codes == wanted) & (wanted >= 0)

        return self.cached(("source_mask", source), build)

    def label_count(self, source: str | None, label: str | None) -> np.ndarray:
        """Per item, how many objects of `source` (None: any model) carry `label` (None: any)."""

        def build() -> np.ndarray:
            mask = self.object_mask_of(source)
            if label is not None:
                mask = mask & (self.labels.codes == self.labels.index(label))
            return np.bincount(self.item_row[mask], minlength=self.n_items)

        return self.cached(("label_count", source, label), build)

    def any_per_item(self, object_mask: np.ndarray) -> np.ndarray:
        """Items with at least one object in the mask."""
        out = np.zeros(self.n_items, dtype=bool)
        out[self.item_row[object_mask]] = True
        return out

    def histogram_bins(self, column: str, frame: str = "items") -> tuple[np.ndarray, np.ndarray]:
        """Fixed edges over the whole snapshot and each row's bin (-1 where null)."""

        def build() -> tuple[np.ndarray, np.ndarray]:
            source = self.items if frame == "items" else self.objects
            values = source[column].cast(pl.Float64).to_numpy()
            valid = ~np.isnan(values)
            if column == "confidence":
                lo, hi = 0.0, 1.0
            else:
                lo, hi = (
                    (float(values[valid].min()), float(values[valid].max()))
                    if valid.any()
                    else (0.0, 1.0)
                )
            if hi <= lo:
                hi = lo + 1.0
            edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
            bins = np.full(len(values), -1, dtype=np.int16)
            scaled = (values[valid] - lo) / (hi - lo) * HISTOGRAM_BINS
            bins[valid] = np.clip(scaled.astype(np.int64), 0, HISTOGRAM_BINS - 1)
            return edges, bins

        return self.cached(("bins", frame, column), build)

    def list_codes(self, column: str) -> tuple[Codes, np.ndarray]:
        """A list column exploded once: the codes of its values, and where each row's values
        start (row r's are at starts[r]:starts[r + 1])."""

        def build() -> tuple[Codes, np.ndarray]:
            exploded = (
                self.items.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_r"), column)
                .explode(column)
                .drop_nulls(column)
            )
            return _codes(exploded[column]), _starts(exploded["_r"].to_numpy(), self.n_items)

        return self.cached(("list_codes", column), build)

"""Running a query: one mask per query, reused for its pages, counts and facets."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from assay.core.errors import InvalidQuery
from assay.curation.query.ast import Field, Node, from_json
from assay.curation.query.compiler import VIEWS, evaluate_mask
from assay.curation.query.fields import resolve
from assay.curation.query.frames import QueryFrames
from assay.curation.query.lexer import tokenize
from assay.curation.query.parser import parse

MAX_PAGE = 1000


@dataclass(frozen=True)
class Page:
    rows: pl.DataFrame  # rows of the view's frame, in order
    positions: np.ndarray  # their row positions in that frame
    next_cursor: str | None


def run_query(
    frames: QueryFrames, query: str | Node | dict[str, Any] | None, view: str = "items"
) -> QueryResult:
    """Evaluate a query (text, plan, or the plan's JSON) once; empty or None matches all."""
    if view not in VIEWS:
        raise InvalidQuery(f'unknown view "{view}" (expected "items" or "objects")')
    if isinstance(query, dict):
        query = from_json(query)
    if isinstance(query, str):
        query = parse(query) if query.strip() else None
    n = frames.n_items if view == "items" else frames.objects.height
    mask = np.ones(n, dtype=bool) if query is None else evaluate_mask(query, frames, view)
    return QueryResult(frames, query, view, mask)


class QueryResult:
    """The matches of one query over one snapshot; `mask` is over the view's frame."""

    def __init__(self, frames: QueryFrames, node: Node | None, view: str, mask: np.ndarray):
        self.frames = frames
        self.node = node
        self.view = view
        self.mask = mask

    @cached_property
    def positions(self) -> np.ndarray:
        return np.flatnonzero(self.mask)

    @cached_property
    def count(self) -> int:
        if "positions" in self.__dict__:
            return len(self.positions)
        return int(np.count_nonzero(self.mask))  # a seventh of flatnonzero's time

    @cached_property
    def item_positions(self) -> np.ndarray:
        """Items matched (item view), or items with a matched object (object view)."""
        if self.view == "items":
            return self.positions
        return np.flatnonzero(self.frames.any_per_item(self.mask))

    @cached_property
    def object_positions(self) -> np.ndarray:
        """Objects matched (object view), or the objects of matched items (item view)."""
        if self.view == "objects":
            return self.positions
        return self.frames.objects_of(self.positions)

    def page(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        offset: int = 0,
        order_by: str | None = None,
        columns: list[str] | None = None,
    ) -> Page:
        """One page in row order, or by `order_by` (a field; a leading "-" sorts descending;
        nulls last, ties by row). Continue with the previous page's `next_cursor`, or skip
        `offset` matches. `columns`: only these of the page's rows (all when None)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidQuery(f"limit must be between 1 and {MAX_PAGE}", column=None)
        if offset < 0 or (offset and cursor):
            raise InvalidQuery("offset must be >= 0 and not given with a cursor", column=None)
        frame = self.frames.items if self.view == "items" else self.frames.objects
        if order_by:
            offset = _decode(cursor, "o") if cursor else offset
            chosen = self.sorted_positions(order_by, offset + limit)[offset:]
            more = offset + limit < self.count
            next_cursor = f"o{offset + limit}" if more else None
        else:
            after = _decode(cursor, "r") if cursor else -1
            before = int(np.count_nonzero(self.mask[: max(after + 1, 0)]))
            start = before + offset
            chosen = self._matches_after(after, offset, limit)
            more = start + limit < self.count
            next_cursor = f"r{int(chosen[-1])}" if more and len(chosen) else None
        wanted = pl.all() if columns is None else pl.col(columns)
        rows = frame.select(wanted.gather(pl.Series(chosen, dtype=pl.Int64)))
        return Page(rows, chosen, next_cursor)

    def _matches_after(self, after: int, skip: int, limit: int) -> np.ndarray:
        """The matched positions after row `after`, skipping `skip`, at most `limit` — found by
        scanning the mask in growing chunks from there, so a page does not list every match
        of a million-row mask (0.56 ms) to show fifty of them."""
        if "positions" in self.__dict__:
            start = int(np.searchsorted(self.positions, after, side="right")) + skip
            return self.positions[start : start + limit]
        need, low, n = skip + limit, after + 1, len(self.mask)
        chunk = max(4096, 64 * need)
        found: list[np.ndarray] = []
        got = 0
        while low < n and got < need:
            part = np.flatnonzero(self.mask[low : low + chunk]) + low
            found.append(part)
            got += len(part)
            low += chunk
            chunk *= 4
        if not found:
            return np.empty(0, dtype=np.intp)
        return np.concatenate(found)[skip:need]

    def sorted_positions(self, order_by: str, k: int) -> np.ndarray:
        """The first `k` matched positions in `order_by` order, without sorting all matches."""
        descending = order_by.startswith("-")
        keys = self.sort_keys(order_by.lstrip("-").strip())
        pos = self.positions
        values = keys[pos]
        nulls = np.isnan(values)
        present, missing = pos[~nulls], pos[nulls]
        values = values[~nulls]
        if descending:
            values = -values
        if k < len(present):
            threshold = np.partition(values, k - 1)[k - 1]
            keep = values <= threshold
            present, values = present[keep], values[keep]
        ordered = present[np.lexsort((present, values))]
        return np.concatenate([ordered, missing])[:k]

    def sort_keys(self, name: str) -> np.ndarray:
        """Float keys over the view's frame (NaN for null) for a sortable field."""
        tokens = tokenize(name)
        if len(tokens) != 2 or tokens[0].kind != "field":
            raise InvalidQuery(
                f'cannot sort by "{name}": expected a field', column=None, token=name
            )
        field = Field(tokens[0].value)  # type: ignore[arg-type]
        if self.view == "objects" and len(field.path) == 1 and field.path[0] not in ("tags",):
            field = Field(("object", *field.path))
        found = resolve(field, self.frames)
        level = "item" if found.level == "item" else "object"
        if found.type not in ("number", "string") or (self.view == "items" and level != "item"):
            raise InvalidQuery(f'cannot sort the {self.view} by "{name}"', column=None, token=name)

        def build() -> np.ndarray:
            if found.count is not None:
                values = self.frames.label_count(*found.count).astype(np.float64)
            else:
                frame = self.frames.items if level == "item" else self.frames.objects
                column = frame[found.column]
                if found.type == "string":
                    column = column.cast(pl.Utf8).rank("dense")
                values = column.cast(pl.Float64).fill_null(np.nan).to_numpy()
            if level == "item" and self.view == "objects":
                values = values[self.frames.item_row]
            return values

        return self.frames.cached(("sort", self.view, field.path), build)

    def facets(self) -> dict[str, Any]:
        from assay.curation.query.facets import facets

        return facets(self)


def _decode(cursor: str | None, kind: str) -> int:
    if cursor is None:
        return 0
    if cursor[:1] != kind or not cursor[1:].isdigit():
        raise InvalidQuery(f'invalid cursor "{cursor}"', column=None, token=cursor)
    return int(cursor[1:])

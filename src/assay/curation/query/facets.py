"""The sidebar's facets for a query's matches: counts and fixed-bin histograms.

Each facet is a bincount over codes the snapshot derived once (labels per source, tags,
histogram bins), masked by the query's matches, so a facet costs one pass over the masked
codes and never a group-by over strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from assay.curation.query.frames import GT, HISTOGRAM_BINS, ranges

CATEGORICAL_MAX = 250

if TYPE_CHECKING:
    from assay.curation.query.result import QueryResult


def facets(result: QueryResult) -> dict[str, Any]:
    """{"items", "objects", "labels": {source: {label: n}}, "tags": {tag: n},
    "values": {string metadata column: {value: n}},
    "histograms": {column: {"edges", "counts"}}, "confidence": {model: {"edges", "counts"}}}."""
    frames = result.frames
    return {
        "items": len(result.item_positions),
        "objects": len(result.object_positions),
        "labels": label_counts(result),
        "tags": list_counts(result, "tags") if "tags" in frames.item_types else {},
        "values": {
            column: counts
            for column, kind in frames.item_types.items()
            if kind == "string" and column.startswith("metadata.")
            if (counts := value_counts(result, column)) is not None
        },
        "histograms": {
            column: histogram(result, column)
            for column, kind in frames.item_types.items()
            if kind == "number"
            and (column.startswith(("metadata.", "autotag.")) or column == "uniqueness")
        },
        "confidence": confidence_histograms(result),
    }


def label_counts(result: QueryResult) -> dict[str, dict[str, int]]:
    frames = result.frames
    counts = frames.label_source_counts(result.object_positions)
    out: dict[str, dict[str, int]] = {}
    for s, source in enumerate(frames.sources.names):
        row = {frames.labels.names[i]: int(counts[s, i]) for i in np.flatnonzero(counts[s])}
        if row:
            out[source] = row
    return out


def value_counts(result: QueryResult, column: str) -> dict[str, int] | None:
    """Counts per value of a categorical string column; None past CATEGORICAL_MAX values
    (free text, as Nucleus stops treating a field as categorical past 250 choices)."""
    codes = result.frames.codes_of("items", column)
    if len(codes.names) > CATEGORICAL_MAX:
        return None
    picked = codes.codes[result.item_positions]
    counts = np.bincount(picked[picked >= 0], minlength=len(codes.names))
    return {codes.names[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def list_counts(result: QueryResult, column: str) -> dict[str, int]:
    codes, starts = result.frames.list_codes(column)
    picked = codes.codes[ranges(starts, result.item_positions)]
    counts = np.bincount(picked[picked >= 0], minlength=len(codes.names))
    return {codes.names[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def histogram(result: QueryResult, column: str) -> dict[str, list[float] | list[int]]:
    edges, bins = result.frames.histogram_bins(column)
    picked = bins[result.item_positions]
    counts = np.bincount(picked[picked >= 0], minlength=HISTOGRAM_BINS)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def confidence_histograms(result: QueryResult) -> dict[str, dict[str, list[float] | list[int]]]:
    frames = result.frames
    if "confidence" not in frames.object_types:
        return {}
    edges, bins = frames.histogram_bins("confidence", frame="objects")
    sources = frames.sources
    combined = frames.cached(
        "source_confidence_bins",
        lambda: np.where(
            (bins >= 0) & (sources.codes >= 0), sources.codes * HISTOGRAM_BINS + bins, -1
        ).astype(np.int32),
    )
    picked = combined[result.object_positions]
    counts = np.bincount(picked[picked >= 0], minlength=len(sources.names) * HISTOGRAM_BINS)
    counts = counts.reshape(len(sources.names), HISTOGRAM_BINS)
    return {
        name: {"edges": edges.tolist(), "counts": counts[s].tolist()}
        for s, name in enumerate(sources.names)
        if name != GT and counts[s].any()
    }

"""Agreement between labelers: Krippendorff's alpha, mean pairwise IoU."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from assay.metrics.factorize import factorize
from assay.metrics.geometry import POINT_SCALE
from assay.metrics.matching import match_annotations

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def coincidence_matrix(units: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Krippendorff's coincidence matrix o[c, k] over the distinct values (sorted).

    Each unit with m ≥ 2 values adds every ordered pair of its values from different coders
    with weight 1 / (m - 1); computed as one product of the unit-by-value count matrix.
    """
    unit_ids, unit_codes = factorize(units)
    distinct, value_codes = factorize(values)
    n_units, n_values = len(unit_ids), len(distinct)
    counts = np.bincount(unit_codes * n_values + value_codes, minlength=n_units * n_values).reshape(
        n_units, n_values
    )
    per_unit = counts.sum(axis=1)
    pairable = per_unit >= 2
    counts = counts[pairable].astype(float)
    weights = 1.0 / (per_unit[pairable] - 1)
    weighted = counts * weights[:, None]
    coincidences = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    return coincidences, distinct


def _distances(level: str, distinct: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Squared difference δ² between every two values for a level of measurement."""
    if level == "nominal":
        return 1.0 - np.eye(len(distinct))
    if level == "ordinal":
        # δ²(c, k) = (Σ_{g=c..k} n_g - (n_c + n_k) / 2)², from cumulative sums of the totals.
        cumulative = np.cumsum(totals)
        low = np.minimum.outer(np.arange(len(totals)), np.arange(len(totals)))
        high = np.maximum.outer(np.arange(len(totals)), np.arange(len(totals)))
        between = cumulative[high] - cumulative[low] + totals[low]
        return (between - (totals[low] + totals[high]) / 2) ** 2
    numbers = distinct.astype(float)
    if level == "interval":
        return np.subtract.outer(numbers, numbers) ** 2
    if level == "ratio":
        sums = np.add.outer(numbers, numbers)
        diffs = np.subtract.outer(numbers, numbers)
        return np.divide(diffs, sums, out=np.zeros_like(diffs), where=sums != 0) ** 2
    raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")


def krippendorff_alpha(units: Any, values: Any, *, level: str = "nominal") -> float:
    """Krippendorff's alpha from (unit, value) pairs, one per value given; NaN if undefined.

    Values of a unit are compared only with each other, so who gave them does not matter;
    units with a single value are not pairable and drop out. Undefined (NaN) when fewer
    than two values are pairable or all pairable values are equal in every unit and overall.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    units, values = np.asarray(units).reshape(-1), np.asarray(values).reshape(-1)
    if len(units) != len(values):
        raise ValueError("units and values must have the same length")
    if values.dtype.kind == "f":
        keep = ~np.isnan(values)
        units, values = units[keep], values[keep]
    if not len(values):
        return float("nan")
    coincidences, distinct = coincidence_matrix(units, values)
    totals = coincidences.sum(axis=1)
    n = totals.sum()
    if n < 2:
        return float("nan")
    delta = _distances(level, distinct, totals)
    observed = np.sum(coincidences * delta) / n
    expected = np.sum(np.outer(totals, totals) * delta) / (n * (n - 1))
    if expected == 0:
        return float("nan")
    return float(1.0 - observed / expected)


def krippendorff_alpha_matrix(data: Any, *, level: str = "nominal") -> float:
    """Krippendorff's alpha of a (coders x units) reliability matrix, NaN for missing values."""
    matrix = np.asarray(data, dtype=float)
    coders, units = np.nonzero(~np.isnan(matrix))
    return krippendorff_alpha(units, matrix[coders, units], level=level)


def pairwise_iou(
    a: Sequence[dict], b: Sequence[dict], *, point_scale: float = POINT_SCALE
) -> float:
    """IoU agreement of two labelers' shapes: matched same-label IoU summed / the larger count."""
    if not a and not b:
        return 1.0
    matching = match_annotations(a, b, threshold=1e-9, point_scale=point_scale)
    total = sum(p.similarity for p in matching.pairs if p.label_agrees)
    return total / max(len(a), len(b))


def mean_pairwise_iou(
    annotations: Sequence[Sequence[dict]], *, point_scale: float = POINT_SCALE
) -> float:
    """Mean of `pairwise_iou` over every two labelers of one task (1.0 with fewer than two)."""
    pairs = list(combinations(range(len(annotations)), 2))
    if not pairs:
        return 1.0
    return float(
        np.mean(
            [
                pairwise_iou(annotations[r], annotations[s], point_scale=point_scale)
                for r, s in pairs
            ]
        )
    )

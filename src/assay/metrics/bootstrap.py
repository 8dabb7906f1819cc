"""Percentile bootstrap confidence intervals for a mean, clustered and per group.

A run scores every item, possibly several times (epochs, samples): the samples of one item
are not independent, so the resampling unit is the item (the *cluster*), and a resampled
cluster brings all of its samples along. The estimate is the mean over samples (Σ values /
Σ samples of the drawn clusters), which is the plain mean when every item has one sample and
the mean of item means when every item has the same number.

Groups (a tag such as a domain, or a model) are resampled independently of each other in one
vectorised pass: each resample draws, for every group, as many of that group's clusters as it
has, with replacement; per-group totals come from one `np.add.reduceat` over the draws.

Why not `scipy.stats.bootstrap`: it resamples observations, not clusters, and one statistic
call per group; its percentile interval is what this computes for one group of one-sample
clusters (the tests hold the two within Monte Carlo error of each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.metrics.factorize import factorize

# Draws (resamples x clusters) held in memory at once: bounds the temporary arrays.
_CHUNK_CELLS = 1 << 20


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean with its percentile bootstrap interval at `confidence`."""

    estimate: float
    low: float
    high: float
    samples: int  # values averaged
    clusters: int  # resampling units (items)


def _codes(keys: Any, n: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    if keys is None:
        return np.zeros(1, dtype=object), np.zeros(n, np.intp)
    array = np.asarray(keys)
    if array.shape != (n,):
        raise ValueError(f"{name} must have one entry per value ({n}), not {array.shape}")
    uniques, codes = factorize(array)
    return uniques, np.asarray(codes, np.intp)


def bootstrap_means(
    values: Any,
    *,
    clusters: Any = None,
    groups: Any = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int | None = 0,
) -> dict[Any, Interval]:
    """{group: Interval} of the mean of `values` in each group (one group, key None, without
    `groups`), resampling `clusters` (each value its own without them) `resamples` times.

    A cluster must lie in one group. NaN values are an error: drop unscored samples first.
    """
    values = np.asarray(values, dtype=float).reshape(-1)
    n = len(values)
    if not n:
        return {}
    if np.isnan(values).any():
        raise ValueError("values contain NaN")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    group_names, group_codes = _codes(groups, n, "groups")
    if groups is None:
        group_names = np.array([None], dtype=object)
    cluster_codes = np.arange(n) if clusters is None else _codes(clusters, n, "clusters")[1]
    n_clusters = int(cluster_codes.max()) + 1
    sums = np.bincount(cluster_codes, weights=values, minlength=n_clusters)
    counts = np.bincount(cluster_codes, minlength=n_clusters).astype(float)
    cluster_group = np.full(n_clusters, -1, np.intp)
    cluster_group[cluster_codes] = group_codes
    if (cluster_group[cluster_codes] != group_codes).any():
        raise ValueError("a cluster spans several groups")

    # Clusters ordered by group: group g owns the column range [starts[g], starts[g] + size[g]).
    order = np.argsort(cluster_group, kind="stable")
    sums, counts = sums[order], counts[order]
    sizes = np.bincount(cluster_group, minlength=len(group_names))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    column_start = np.repeat(starts, sizes)
    column_size = np.repeat(sizes, sizes).astype(float)

    rng = np.random.default_rng(seed)
    means = np.empty((resamples, len(group_names)))
    # With the same number of samples in every cluster (one, or a fixed number of epochs) a
    # resampled group's count is known: only the sums need gathering.
    fixed_count = counts[0] if (counts == counts[0]).all() else None
    step = max(1, min(resamples, _CHUNK_CELLS // n_clusters))
    # Buffers reused across chunks: fresh arrays this size would cost page faults each time.
    uniform = np.empty((step, n_clusters))
    drawn = np.empty((step, n_clusters), np.intp)
    gathered = np.empty((step, n_clusters))
    for first in range(0, resamples, step):
        rows = min(step, resamples - first)
        u, d, g = uniform[:rows], drawn[:rows], gathered[:rows]
        # Column j draws a cluster uniformly from its own group's range.
        rng.random(out=u)
        np.multiply(u, column_size, out=u)
        d[...] = u  # truncation: the floor of a non-negative offset, below its group's size
        np.add(d, column_start, out=d)  # in integers: no rounding up into the next group
        np.take(sums, d, out=g)
        group_sums = np.add.reduceat(g, starts, axis=1)
        if fixed_count is None:
            np.take(counts, d, out=g)
            group_counts = np.add.reduceat(g, starts, axis=1)
        else:
            group_counts = sizes * fixed_count
        means[first : first + rows] = group_sums / group_counts

    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail], axis=0)
    totals = np.bincount(group_codes, weights=values, minlength=len(group_names))
    per_group = np.bincount(group_codes, minlength=len(group_names))
    return {
        name: Interval(
            estimate=float(totals[g] / per_group[g]),
            low=float(low[g]),
            high=float(high[g]),
            samples=int(per_group[g]),
            clusters=int(sizes[g]),
        )
        for g, name in enumerate(group_names.tolist())
    }


def bootstrap_mean(
    values: Any,
    *,
    clusters: Any = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int | None = 0,
) -> Interval | None:
    """The mean of `values` with its (clustered) percentile interval; None without values."""
    found = bootstrap_means(
        values, clusters=clusters, confidence=confidence, resamples=resamples, seed=seed
    )
    return found.get(None)

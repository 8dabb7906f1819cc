"""Each vector's nearest neighbours, and what curation reads from them: near-duplicate groups
and uniqueness. Pure over arrays.

`nearest_neighbours` is exact (blocked BLAS products over all rows) below a size, and above
it runs over a partition of the rows — the IVF index's inverted lists — comparing the rows
of each list with the rows of its `probes` nearest lists (by centroid) in one matrix product
per list: a vector and its near-duplicates share a list or sit in neighbouring ones. At
1,000,000 x 512 with 2,048 lists of ~490 rows that is ~2,000 products of 490 x ~2,000, so
the cost is linear in n (all pairs would be 5 x 10^11 products). Every similarity returned
is exact; only a neighbour outside the probed lists can be missed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from assay.core.errors import Invalid
from assay.curation.vectors.exact import top_k

# Floats in one block of exact similarities (rows x n): 128 MB.
BLOCK_FLOATS = 32 * 1024 * 1024
PROBES = 4


def nearest_neighbours(
    vectors: np.ndarray,
    k: int,
    *,
    lists: Sequence[np.ndarray] | None = None,
    centroids: np.ndarray | None = None,
    probes: int = PROBES,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar other rows of each row by inner product (unit rows: cosine), and
    those similarities, best first: (n, k) int64 rows (-1 past the end) and float32 (-inf).

    `lists` (row positions per list, covering every row once) and `centroids` (one per
    list) switch to the partitioned search; without them the search is exact. `progress`
    is called with (rows done, n) as the work goes."""
    n = len(vectors)
    if k < 1:
        raise Invalid("k must be a positive integer", field="k")
    found = np.full((n, k), -1, dtype=np.int64)
    similar = np.full((n, k), -np.inf, dtype=np.float32)
    if n < 2:
        return found, similar
    if lists is None:
        step = max(1, BLOCK_FLOATS // n)
        for start in range(0, n, step):
            stop = min(n, start + step)
            block = vectors[start:stop] @ vectors.T
            block[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            picked, values = top_k(block, k)
            found[start:stop, : picked.shape[1]] = picked
            similar[start:stop, : values.shape[1]] = values
            if progress is not None:
                progress(stop, n)
        found[~np.isfinite(similar)] = -1
        return found, similar
    if centroids is None or len(centroids) != len(lists):
        raise Invalid("a partition needs one centroid per list", field="centroids")
    near_lists = top_k(centroids @ centroids.T, min(probes, len(lists)))[0]
    done = 0
    for own, rows in enumerate(lists):
        if not len(rows):
            continue
        done += len(rows)
        candidates = np.concatenate([lists[other] for other in near_lists[own]])
        block = vectors[rows] @ vectors[candidates].T
        block[candidates[None, :] == rows[:, None]] = -np.inf  # a row is not its own neighbour
        picked, values = top_k(block, k)
        found[rows, : picked.shape[1]] = candidates[picked]
        similar[rows, : values.shape[1]] = values
        if progress is not None:
            progress(done, n)
    found[~np.isfinite(similar)] = -1
    return found, similar


def restrict_lists(
    lists: Sequence[np.ndarray], count: int, live: np.ndarray | None
) -> list[np.ndarray]:
    """A partition of `count` rows narrowed to the rows `live` keeps (all when None), as
    positions among those rows; positions past `count` (rows added since) are dropped."""
    kept = [rows[rows < count] for rows in lists]
    if live is None:
        return kept
    renumbered = np.cumsum(live) - 1
    return [renumbered[rows[live[rows]]] for rows in kept]


def duplicate_groups(
    found: np.ndarray, similar: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rows linked by a cosine distance (1 - similarity) <= threshold, joined transitively.

    Returns (group, count) per row: groups numbered 1.. by size (largest first, then by
    their first row), -1 for a row with no near-duplicate, whose count is 1."""
    if not 0 <= threshold <= 2:
        raise Invalid("threshold is a cosine distance between 0 and 2", field="threshold")
    n = len(found)
    linked = (found >= 0) & (1.0 - similar <= threshold)
    sources = np.repeat(np.arange(n, dtype=np.int64), found.shape[1])[linked.ravel()]
    targets = found[linked]
    import scipy.sparse.csgraph  # here: a server starts faster without it

    graph = scipy.sparse.coo_matrix(
        (np.ones(len(sources), dtype=np.int8), (sources, targets)), shape=(n, n)
    )
    _, component = scipy.sparse.csgraph.connected_components(graph, directed=False)
    sizes = np.bincount(component)
    first = np.full(len(sizes), n, dtype=np.int64)
    np.minimum.at(first, component, np.arange(n))
    shared = np.flatnonzero(sizes > 1)
    order = shared[np.lexsort((first[shared], -sizes[shared]))]
    number = np.full(len(sizes), -1, dtype=np.int64)
    number[order] = np.arange(1, len(order) + 1)
    return number[component], sizes[component].astype(np.int64)


def uniqueness(similar: np.ndarray) -> np.ndarray:
    """FiftyOne's idea: the mean cosine distance to a row's nearest neighbours, divided by
    the largest such mean, so the most isolated row scores 1 (float32 in [0, 1])."""
    distances = np.where(np.isfinite(similar), 1.0 - similar.astype(np.float64), np.nan)
    known = np.isfinite(distances).any(axis=1)
    means = np.zeros(len(similar))
    if known.any():
        means[known] = np.nanmean(distances[known], axis=1)
    means = np.clip(means, 0.0, None)
    top = means.max(initial=0.0)
    scores = means / top if top > 0 else means
    scores[~known] = np.nan
    return scores.astype(np.float32)

"""Nearest neighbours, near-duplicate groups and uniqueness over constructed vectors: planted
duplicates are found exactly, the partitioned (IVF lists) search agrees with the exact one,
and uniqueness is the normalised mean distance to the nearest neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from assay.core.errors import Invalid
from assay.curation.vectors import (
    VectorIndex,
    duplicate_groups,
    nearest_neighbours,
    restrict_lists,
    uniqueness,
)

DIM = 32


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def planted(n: int, groups: list[int], *, seed: int = 0, jitter: float = 0.003) -> np.ndarray:
    """n random unit vectors; the first rows are groups of near-copies of one another
    (sizes `groups`), each copy a tiny perturbation of its group's first vector."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, DIM))
    at = 0
    for size in groups:
        for extra in range(1, size):
            rows[at + extra] = rows[at] + jitter * rng.standard_normal(DIM)
        at += size
    return unit(rows)


def test_exact_neighbours_equal_brute_force():
    vectors = planted(300, [])
    found, similar = nearest_neighbours(vectors, 5)
    full = vectors @ vectors.T
    np.fill_diagonal(full, -np.inf)
    expected = np.argsort(-full, axis=1)[:, :5]
    assert np.array_equal(found, expected)
    assert np.allclose(similar, np.take_along_axis(full, expected, 1), atol=1e-6)


def test_planted_duplicates_form_their_groups_and_nothing_else():
    vectors = planted(500, [4, 2, 3])
    found, similar = nearest_neighbours(vectors, 8)
    group, count = duplicate_groups(found, similar, threshold=0.01)
    # Numbered by size: the 4-group first, then the 3-group, then the pair.
    assert group[:4].tolist() == [1] * 4 and count[:4].tolist() == [4] * 4
    assert group[4:6].tolist() == [3, 3] and count[4:6].tolist() == [2, 2]
    assert group[6:9].tolist() == [2] * 3 and count[6:9].tolist() == [3] * 3
    assert (group[9:] == -1).all() and (count[9:] == 1).all()


def test_groups_join_transitively_through_chains():
    # a - b - c each 0.004 apart along a line: a and c are 0.008 apart, over the threshold,
    # but one group through b.
    rng = np.random.default_rng(1)
    base, step = rng.standard_normal(DIM), rng.standard_normal(DIM)
    step /= np.linalg.norm(step)
    rows = np.vstack([rng.standard_normal((50, DIM)), [base, base, base]])
    rows[50:] = unit(rows[50:])
    rows[51] += 0.09 * step
    rows[52] += 0.18 * step
    vectors = unit(rows)
    found, similar = nearest_neighbours(vectors, 4)
    distances = 1 - vectors[50:] @ vectors[50:].T
    threshold = float(max(distances[0, 1], distances[1, 2])) + 1e-5
    assert distances[0, 2] > threshold
    group, count = duplicate_groups(found, similar, threshold)
    assert group[50:].tolist() == [1, 1, 1] and count[50] == 3
    assert (group[:50] == -1).all()


def test_a_threshold_out_of_range_is_refused():
    found, similar = nearest_neighbours(planted(10, []), 2)
    with pytest.raises(Invalid) as error:
        duplicate_groups(found, similar, threshold=2.5)
    assert error.value.field == "threshold"


def test_uniqueness_is_the_normalised_mean_distance():
    vectors = planted(200, [2])
    _, similar = nearest_neighbours(vectors, 3)
    scores = uniqueness(similar)
    means = (1 - similar.astype(np.float64)).mean(axis=1)
    assert np.allclose(scores, means / means.max(), atol=1e-6)
    assert scores.max() == pytest.approx(1.0)
    assert scores.min() >= 0 and scores[:2].max() < np.median(scores)


def test_partitioned_search_agrees_with_exact_on_duplicates():
    """The IVF lists as the partition: the same groups as the exact search."""
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((40, DIM))
    rows = centres[rng.integers(0, 40, 6_000)] + 0.6 * rng.standard_normal((6_000, DIM))
    sizes = [5, 4, 3, 3, 2, 2, 2]
    at = 0
    for size in sizes:  # near-copies of rows spread through the clusters
        for extra in range(1, size):
            rows[at + extra] = rows[at] + 0.003 * rng.standard_normal(DIM)
        at += size
    index = VectorIndex(DIM, ann_min_rows=2_000)
    index.add(np.arange(6_000, dtype=np.int64) * 2, rows)
    assert index.approximate
    partition = index.partition()
    assert partition is not None
    lists, centroids = partition
    assert sorted(np.concatenate(lists).tolist()) == list(range(6_000))
    vectors = index.vectors()
    exact = duplicate_groups(*nearest_neighbours(vectors, 6), threshold=0.01)
    approx = duplicate_groups(
        *nearest_neighbours(vectors, 6, lists=lists, centroids=centroids), threshold=0.01
    )
    assert np.array_equal(exact[0], approx[0]) and np.array_equal(exact[1], approx[1])
    assert sorted(np.bincount(exact[0][exact[0] > 0]).tolist()[1:], reverse=True) == sizes
    # Uniqueness from the partitioned neighbours stays close to the exact one.
    exact_u = uniqueness(nearest_neighbours(vectors, 3)[1])
    approx_u = uniqueness(nearest_neighbours(vectors, 3, lists=lists, centroids=centroids)[1])
    assert np.corrcoef(exact_u, approx_u)[0, 1] > 0.95


def test_a_partition_restricted_to_live_rows_matches_a_search_of_those_rows():
    """Deleted items' rows leave the lists, the rest renumbered: the partitioned search over
    the live rows finds what the exact search over them finds (the planted groups)."""
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((5_000, DIM))
    for start in (0, 10, 20):
        rows[start + 1] = rows[start] + 0.003 * rng.standard_normal(DIM)
        rows[start + 2] = rows[start] + 0.003 * rng.standard_normal(DIM)
    index = VectorIndex(DIM, ann_min_rows=2_000)
    index.add(np.arange(5_000, dtype=np.int64), rows)
    lists, centroids = index.partition()
    live = np.ones(5_000, dtype=bool)
    live[[1, 20, 21, 4_999]] = False  # a group loses one member, another two
    vectors = index.vectors()[live]
    narrowed = restrict_lists(lists, 5_000, live)
    assert sorted(np.concatenate(narrowed).tolist()) == list(range(int(live.sum())))
    exact = duplicate_groups(*nearest_neighbours(vectors, 4), threshold=0.01)
    approx = duplicate_groups(
        *nearest_neighbours(vectors, 4, lists=narrowed, centroids=centroids), threshold=0.01
    )
    assert np.array_equal(exact[0], approx[0])
    # Rows 0 and 2 (now 0 and 1), and 10-12 (now 9-11); 20-22 lost two of three.
    assert exact[1][[0, 1]].tolist() == [2, 2] and exact[1][[9, 10, 11]].tolist() == [3, 3, 3]
    assert exact[1][19] == 1  # row 22, alone now
    # Rows past `count` (added since the matrix was read) are dropped.
    assert max(int(r.max(initial=-1)) for r in restrict_lists(lists, 100, None)) < 100

"""VectorIndex: the IVF path agrees with exact search, masks hold, writes and files round-trip."""

from __future__ import annotations

import numpy as np
import pytest

from assay.core.errors import Invalid
from assay.curation.vectors import VectorIndex, exact_search, refine_autotag

DIM = 24


def clustered(n: int, *, seed: int = 0, centres: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around `centres` random directions, and the centre of each."""
    rng = np.random.default_rng(seed)
    middles = rng.standard_normal((centres, DIM))
    labels = rng.integers(0, centres, n)
    points = middles[labels] + 0.35 * rng.standard_normal((n, DIM))
    return points.astype(np.float32), labels


@pytest.fixture(scope="module")
def big() -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    points, _ = clustered(12_000)
    keys = np.arange(12_000, dtype=np.int64) * 3 + 5  # sparse keys: not row positions
    index = VectorIndex(DIM, ann_min_rows=4_000, exact_max_rows=300, probes=16)
    index.add(keys, points)
    return index, keys, points


def recall(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)])


def test_ivf_agrees_with_exact_search(big):
    index, _, _ = big
    assert index.approximate
    queries, _ = clustered(100, seed=1)
    keys, scores = index.search(queries, 50)
    exact_keys, exact_scores = index.exact_search(queries, 50)
    assert keys.shape == exact_keys.shape == (100, 50)
    assert recall(keys, exact_keys) >= 0.9
    # the scores returned are exact similarities of the keys returned, best first
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert (
        np.allclose(scores[:, 0], exact_scores[:, 0], atol=1e-5) or recall(keys, exact_keys, 1) < 1
    )


def test_scores_are_cosine_similarities(big):
    index, keys, points = big
    query = points[7] * 10.0  # scale does not matter under cosine
    found, scores = index.search(query, 1)
    assert found[0, 0] == keys[7]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("share", [0.01, 0.1, 0.5])
def test_a_mask_is_never_crossed_and_small_masks_are_exact(big, share):
    index, keys, _ = big
    rng = np.random.default_rng(int(share * 100))
    allowed = np.zeros(keys.max() + 1, dtype=bool)
    allowed[rng.choice(keys, int(share * len(keys)), replace=False)] = True
    allowed[1] = True  # a key the index does not hold: allowed, never returned
    queries, _ = clustered(40, seed=2)
    found, _ = index.search(queries, 20, allowed=allowed)
    exact, _ = index.exact_search(queries, 20, allowed=allowed)
    assert (found >= 0).all()
    assert allowed[found].all()
    assert allowed[exact].all()
    if share * len(keys) <= index.exact_max_rows:
        assert (found == exact).all()
    else:
        assert recall(found, exact) >= 0.85


def test_exact_filtered_top_k_on_a_small_set_by_hand():
    points, _ = clustered(200, seed=3)
    index = VectorIndex(DIM)
    index.add(np.arange(200), points)
    allowed = np.zeros(150, dtype=bool)  # shorter than the key range: keys past it are out
    allowed[[3, 50, 77, 120, 149]] = True
    found, scores = index.search(points[0], 10, allowed=allowed)
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    by_hand = unit[[3, 50, 77, 120, 149]] @ unit[0]
    order = np.argsort(-by_hand)
    assert found[0, :5].tolist() == np.array([3, 50, 77, 120, 149])[order].tolist()
    assert np.allclose(scores[0, :5], by_hand[order], atol=1e-6)
    assert found[0, 5:].tolist() == [-1] * 5  # padded: fewer allowed than k
    assert np.isneginf(scores[0, 5:]).all()


def test_upsert_replaces_and_remove_forgets_on_both_paths():
    points, _ = clustered(6_000, seed=4)
    for ann_min_rows in (10**9, 2_000):
        index = VectorIndex(DIM, ann_min_rows=ann_min_rows, probes=64)
        index.add(np.arange(6_000), points)
        assert index.approximate == (ann_min_rows == 2_000)
        index.add([10, 6_000], np.stack([points[20], points[21]]))  # one upsert, one insert
        assert len(index) == 6_001
        found, scores = index.search(points[20], 2)
        assert set(found[0].tolist()) == {10, 20}
        assert scores[0, 1] == pytest.approx(1.0, abs=1e-5)
        assert index.remove([20, 21, 99_999]) == 2  # an absent key is ignored
        assert len(index) == 5_999 and 20 not in index and 10 in index
        found, _ = index.search(points[20], 1)
        assert found[0, 0] == 10
        found, _ = index.search(points[21], 1)
        assert found[0, 0] == 6_000
        remaining = np.setdiff1d(np.arange(6_001), [20, 21])
        assert sorted(index.keys().tolist()) == remaining.tolist()
        stored = dict(zip(index.keys().tolist(), index.vectors(), strict=True))
        assert np.allclose(stored[5_999], points[5_999] / np.linalg.norm(points[5_999]))


def test_the_index_shrinks_back_to_exact_and_retrains_when_it_grows():
    points, _ = clustered(9_000, seed=5)
    index = VectorIndex(DIM, ann_min_rows=1_000)
    index.add(np.arange(1_000), points[:1_000])
    assert index.approximate
    index.add(np.arange(1_000, 9_000), points[1_000:])  # > 4x what it was trained on
    found, _ = index.search(points[8_500], 1)
    assert found[0, 0] == 8_500
    index.remove(np.arange(400, 9_000))  # below ann_min_rows / 2
    assert not index.approximate and len(index) == 400
    assert index.search(points[5], 1)[0][0, 0] == 5


def test_save_load_round_trip_keeps_revision_and_answers(tmp_path, big):
    index, keys, _ = big
    path = tmp_path / "dataset.vectors"
    index.save(path, revision=41)
    loaded = VectorIndex.load(path)
    assert loaded.revision == 41 and len(loaded) == len(index) and loaded.approximate
    queries, _ = clustered(10, seed=6)
    assert (loaded.search(queries, 20)[0] == index.search(queries, 20)[0]).all()
    loaded.add([keys.max() + 1], queries[:1])  # newer changes apply after load
    assert loaded.search(queries[0], 1)[0][0, 0] == keys.max() + 1
    loaded.save(path, revision=42)
    assert VectorIndex.load(path).revision == 42
    assert [p.name for p in tmp_path.iterdir()] == ["dataset.vectors"]  # no temporary left


def test_a_file_that_is_not_an_index_or_is_cut_short_is_refused(tmp_path):
    path = tmp_path / "x.vectors"
    path.write_bytes(b"not an index")
    with pytest.raises(Invalid) as error:
        VectorIndex.load(path)
    assert error.value.field == "path"
    index = VectorIndex(DIM)
    index.add(np.arange(50), clustered(50)[0])
    index.save(path, revision=3)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(Invalid) as error:
        VectorIndex.load(path)
    assert error.value.field == "path" and "truncated" in error.value.message


def test_wrong_dimension_and_bad_input_name_their_field():
    index = VectorIndex(DIM)
    cases = [
        (lambda: index.add([1], np.ones((1, DIM + 1))), "embedding"),
        (lambda: index.add([1, 2], np.ones((1, DIM))), "embedding"),
        (lambda: index.add([1], np.full((1, DIM), np.nan)), "embedding"),
        (lambda: index.add([1], np.zeros((1, DIM))), "embedding"),
        (lambda: index.add([-1], np.ones((1, DIM))), "key"),
        (lambda: index.add([3, 3], np.ones((2, DIM))), "key"),
        (lambda: index.search(np.ones(DIM - 1), 5), "embedding"),
        (lambda: index.search(np.ones(DIM), 0), "k"),
        (lambda: index.search(np.ones(DIM), 5, allowed=np.ones(4, dtype=int)), "allowed"),
        (lambda: index.search(np.ones(DIM), 5, metric="dot"), "metric"),
        (lambda: VectorIndex(DIM, metric="hamming"), "metric"),
    ]
    for call, field in cases:
        with pytest.raises(Invalid) as error:
            call()
        assert error.value.field == field
    assert len(index) == 0  # nothing half-written


def test_dot_metric_keeps_magnitudes():
    index = VectorIndex(2, metric="dot")
    index.add([1, 2], np.array([[1.0, 0.0], [3.0, 0.1]]))
    found, scores = index.search([1.0, 0.0], 2)
    assert found.tolist() == [[2, 1]] and scores[0].tolist() == pytest.approx([3.0, 1.0])


def test_exact_search_function_matches_a_full_sort():
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((1_000, 8)).astype(np.float32)
    queries = rng.standard_normal((3, 8)).astype(np.float32)
    rows = np.arange(0, 1_000, 7)
    found, scores = exact_search(vectors, queries, 5, rows)
    full = queries @ vectors[rows].T
    assert (found == rows[np.argsort(-full, axis=1)[:, :5]]).all()
    assert np.allclose(scores, -np.sort(-full, axis=1)[:, :5])


def test_autotag_separates_a_planted_cluster():
    rng = np.random.default_rng(8)
    points, labels = clustered(20_000, seed=8, centres=40)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    planted = np.flatnonzero(labels == 3)
    positive = rng.choice(planted, 8, replace=False)
    negative = rng.choice(np.flatnonzero(labels != 3), 8, replace=False)
    rows, scores = refine_autotag(points, positive, negative, top_k=len(planted))
    assert len(np.intersect1d(rows, planted)) >= 0.95 * len(planted)
    assert np.all(np.diff(scores) <= 0) and scores.min() >= 0 and scores.max() <= 1
    assert scores[0] > 0.9
    outside = np.setdiff1d(np.arange(len(points)), planted)
    # a refinement round: marking the best-scored outsiders negative pushes them down
    wrong = [r for r in rows[: 2 * len(planted)] if r in set(outside.tolist())][:20]
    again, _ = refine_autotag(
        points, positive, np.concatenate([negative, wrong]), top_k=len(planted)
    )
    assert len(np.intersect1d(again, wrong)) <= len(np.intersect1d(rows, wrong))


def test_autotag_needs_a_positive_in_range():
    points, _ = clustered(100)
    with pytest.raises(Invalid) as error:
        refine_autotag(points, [], [1])
    assert error.value.field == "positive"
    with pytest.raises(Invalid) as error:
        refine_autotag(points, [1], [100])
    assert error.value.field == "negative"

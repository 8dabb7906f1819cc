"""Bootstrap intervals: exact resampling distributions worked by hand on tiny inputs,
clustering by item, groups in one pass, scipy.stats.bootstrap and normal theory as
cross-checks, and the speed of the vectorised draw."""

from __future__ import annotations

import time

import numpy as np
import pytest

from assay.metrics.bootstrap import Interval, bootstrap_mean, bootstrap_means


def test_two_values_resample_to_an_exact_distribution():
    # Values [0, 1]: a resample of two draws has mean 0 (p 1/4), 1/2 (p 1/2) or 1 (p 1/4).
    # A 40% interval has tails at the 30th and 70th percentiles: both fall on 1/2.
    narrow = bootstrap_mean([0.0, 1.0], confidence=0.4, resamples=20_000, seed=1)
    assert (narrow.estimate, narrow.low, narrow.high) == (0.5, 0.5, 0.5)
    # 95%: the 2.5th percentile is inside the 25% mass at 0, the 97.5th inside the mass at 1.
    wide = bootstrap_mean([0.0, 1.0], confidence=0.95, resamples=20_000, seed=1)
    assert (wide.low, wide.high) == (0.0, 1.0)
    assert (wide.samples, wide.clusters) == (2, 2)


def test_clusters_resample_items_with_all_their_samples():
    # Item A has samples 1, 1, 0 (sum 2, count 3), item B one sample 0 (sum 0, count 1).
    # Estimate: mean over samples = 2/4 = 0.5 (not the mean of item means, 1/3).
    # Resamples of two items: AA → 4/6 = 2/3 (p 1/4), AB or BA → 2/4 = 1/2 (p 1/2),
    # BB → 0 (p 1/4). So the 40% interval is [1/2, 1/2] and the 95% one [0, 2/3].
    values = [1.0, 1.0, 0.0, 0.0]
    items = ["A", "A", "A", "B"]
    narrow = bootstrap_mean(values, clusters=items, confidence=0.4, resamples=20_000)
    assert (narrow.estimate, narrow.low, narrow.high) == (0.5, 0.5, 0.5)
    wide = bootstrap_mean(values, clusters=items, confidence=0.95, resamples=20_000)
    assert wide.low == 0.0 and wide.high == pytest.approx(2 / 3)
    assert (wide.samples, wide.clusters) == (4, 2)
    # Unclustered, the same four values can resample to a mean of 1 (all four draws a 1).
    unclustered = bootstrap_mean(values, confidence=0.99, resamples=20_000)
    assert unclustered.high == 1.0


def test_clustering_widens_the_interval_of_repeated_epochs():
    # 400 items, 5 identical epochs each: as data, 400 independent values, not 2,000. The
    # unclustered interval is √5 ≈ 2.24 times too narrow.
    rng = np.random.default_rng(7)
    per_item = rng.random(400) < 0.6
    values = np.repeat(per_item.astype(float), 5)
    items = np.repeat(np.arange(400), 5)
    clustered = bootstrap_mean(values, clusters=items, resamples=4000, seed=2)
    naive = bootstrap_mean(values, resamples=4000, seed=2)
    ratio = (clustered.high - clustered.low) / (naive.high - naive.low)
    assert ratio == pytest.approx(np.sqrt(5), rel=0.12)


def test_width_matches_normal_theory():
    # 2,000 Bernoulli(0.3) values: the 95% interval is about ±1.96·√(p(1-p)/n) wide.
    rng = np.random.default_rng(11)
    values = (rng.random(2000) < 0.3).astype(float)
    found = bootstrap_mean(values, resamples=5000, seed=3)
    p = values.mean()
    half = 1.959964 * np.sqrt(p * (1 - p) / len(values))
    assert found.estimate == p
    assert (found.high - found.low) / 2 == pytest.approx(half, rel=0.06)
    assert found.low < p < found.high


def test_agrees_with_scipy_percentile_bootstrap():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(5)
    values = rng.gamma(2.0, 1.5, 500)
    ours = bootstrap_mean(values, resamples=20_000, seed=4)
    theirs = stats.bootstrap(
        (values,), np.mean, n_resamples=20_000, method="percentile", random_state=4
    ).confidence_interval
    # Monte Carlo error of a 2.5% quantile over 20,000 resamples is well under 1% of the width.
    width = theirs.high - theirs.low
    assert ours.low == pytest.approx(theirs.low, abs=0.02 * width)
    assert ours.high == pytest.approx(theirs.high, abs=0.02 * width)


def test_groups_are_resampled_independently_in_one_pass():
    # Group "x": values [0, 1] (the exact distribution above); group "y": all 2 → [2, 2];
    # group "z": items P (samples 1, 1, 0) and Q (0), as in the clustered test.
    values = [0.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 0.0, 0.0]
    groups = ["x", "x", "y", "y", "y", "z", "z", "z", "z"]
    items = ["a", "b", "c", "d", "e", "P", "P", "P", "Q"]
    found = bootstrap_means(values, clusters=items, groups=groups, confidence=0.4, resamples=20_000)
    assert list(found) == ["x", "y", "z"]
    assert found["x"] == Interval(0.5, 0.5, 0.5, samples=2, clusters=2)
    assert found["y"] == Interval(2.0, 2.0, 2.0, samples=3, clusters=3)
    assert found["z"] == Interval(0.5, 0.5, 0.5, samples=4, clusters=2)
    wide = bootstrap_means(values, clusters=items, groups=groups, resamples=20_000)
    assert (wide["x"].low, wide["x"].high) == (0.0, 1.0)
    assert (wide["z"].low, wide["z"].high) == (0.0, pytest.approx(2 / 3))


def test_one_pass_equals_each_group_alone_in_distribution():
    rng = np.random.default_rng(9)
    groups = np.repeat(["easy", "hard", "medium"], [300, 100, 600])
    values = np.where(groups == "easy", 0.9, np.where(groups == "hard", 0.2, 0.5))
    values = (rng.random(len(groups)) < values).astype(float)
    together = bootstrap_means(values, groups=groups, resamples=10_000, seed=1)
    for name in ("easy", "hard", "medium"):
        alone = bootstrap_mean(values[groups == name], resamples=10_000, seed=2)
        width = alone.high - alone.low
        assert together[name].estimate == alone.estimate
        assert together[name].low == pytest.approx(alone.low, abs=0.05 * width)
        assert together[name].high == pytest.approx(alone.high, abs=0.05 * width)


def test_seeded_and_chunked_draws_are_reproducible(monkeypatch):
    values = np.random.default_rng(0).random(300)
    first = bootstrap_mean(values, resamples=500, seed=42)
    assert bootstrap_mean(values, resamples=500, seed=42) == first
    assert bootstrap_mean(values, resamples=500, seed=43) != first
    # Chunks of a few resamples draw the same stream as one block.
    monkeypatch.setattr("assay.metrics.bootstrap._CHUNK_CELLS", 300 * 7)
    assert bootstrap_mean(values, resamples=500, seed=42) == first


def test_bad_inputs():
    assert bootstrap_means([]) == {}
    assert bootstrap_mean([]) is None
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_mean([1.0, float("nan")])
    with pytest.raises(ValueError, match="spans several groups"):
        bootstrap_means([1, 2], clusters=["a", "a"], groups=["x", "y"])
    with pytest.raises(ValueError, match="one entry per value"):
        bootstrap_means([1, 2], groups=["x"])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_mean([1, 2], confidence=1.0)


def test_ten_thousand_items_with_epochs_and_tags_in_well_under_a_second():
    rng = np.random.default_rng(1)
    items = np.repeat(np.arange(10_000), 3)  # 3 epochs each: 30,000 scores
    tags = np.array(["math", "code", "law", "medicine"])[items % 4]
    values = rng.random(len(items))
    started = time.perf_counter()
    found = bootstrap_means(values, clusters=items, groups=tags, resamples=1000, seed=0)
    elapsed = time.perf_counter() - started
    assert len(found) == 4 and all(v.clusters == 2500 for v in found.values())
    assert elapsed < 1.5, f"{elapsed:.2f} s"

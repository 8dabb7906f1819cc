"""The rubric score Σ points of met criteria / Σ positive points, clipped to [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from assay.metrics.rubric import rubric_scores, rubric_scores_flat

# Points: +5, +3, -4 (a penalty), +2 → 10 positive points to earn.
POINTS = [5, 3, -4, 2]


def test_scores_worked_by_hand():
    met = [
        [True, False, True, True],  # 5 - 4 + 2 = 3 → 0.3
        [False, False, True, False],  # -4 → clipped to 0
        [True, True, False, True],  # 10 → 1
        [True, True, True, True],  # 10 - 4 = 6 → 0.6
        [False, True, False, False],  # 3 → 0.3
    ]
    assert rubric_scores(POINTS, met).tolist() == pytest.approx([0.3, 0.0, 1.0, 0.6, 0.3])
    assert rubric_scores(POINTS, met[0]).tolist() == pytest.approx([0.3])


def test_a_rubric_without_positive_points_has_no_score():
    assert np.isnan(rubric_scores([-1, -2], [[True, False]])).all()
    assert np.isnan(rubric_scores_flat([0, 0], [-1, -2], [True, True]))[0]


def test_ragged_rubrics_equal_the_padded_form_and_a_plain_loop():
    rng = np.random.default_rng(2)
    n, width = 500, 8
    sizes = rng.integers(1, width + 1, n)
    points = rng.integers(-5, 10, (n, width)).astype(float)
    points[np.arange(width)[None, :] >= sizes[:, None]] = 0  # padding earns nothing
    met = rng.random((n, width)) < 0.5
    padded = rubric_scores(points, met)
    keep = np.arange(width)[None, :] < sizes[:, None]
    owners = np.repeat(np.arange(n), sizes)
    flat = rubric_scores_flat(owners, points[keep], met[keep], n)
    np.testing.assert_allclose(flat, padded, equal_nan=True)
    for i in range(n):
        row = points[i, : sizes[i]]
        positive = row[row > 0].sum()
        expected = (
            np.nan if positive == 0 else min(max(row[met[i, : sizes[i]]].sum() / positive, 0), 1)
        )
        np.testing.assert_allclose(padded[i], expected, equal_nan=True)


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="one entry per criterion"):
        rubric_scores([1, 2], [[True, False, True]])
    with pytest.raises(ValueError, match="same length"):
        rubric_scores_flat([0], [1, 2], [True, True])

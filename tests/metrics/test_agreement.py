from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from assay.metrics import agreement as a

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with
# 4 observers, 12 units and missing values; his published answers below.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_textbook_example(level, published):
    assert a.krippendorff_alpha_matrix(TEXTBOOK, level=level) == pytest.approx(published, abs=5e-4)


@pytest.mark.parametrize("level", a.LEVELS)
def test_krippendorff_matches_the_reference_package(level):
    rng = np.random.default_rng(len(level))
    for _ in range(3):
        data = rng.integers(1, 7, (5, 60)).astype(float)
        data[:, :20] = data[0, :20]  # some agreement, so alpha is not near 0
        data[rng.random(data.shape) < 0.3] = NAN
        ours = a.krippendorff_alpha_matrix(data, level=level)
        reference = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert ours == pytest.approx(reference, abs=1e-10)


def test_krippendorff_long_form_with_string_values():
    units = ["t1", "t1", "t1", "t2", "t2", "t3", "t3", "t4"]
    values = ["cat", "cat", "dog", "dog", "dog", "cat", "cat", "bird"]
    as_codes = {"bird": 0, "cat": 1, "dog": 2}
    matrix = np.full((3, 4), NAN)
    filled = {}
    for unit, value in zip(units, values, strict=True):
        column = int(unit[1]) - 1
        row = filled.setdefault(column, 0)
        matrix[row, column] = as_codes[value]
        filled[column] += 1
    assert a.krippendorff_alpha(units, values) == pytest.approx(a.krippendorff_alpha_matrix(matrix))


def test_krippendorff_perfect_and_undefined():
    assert a.krippendorff_alpha([1, 1, 2, 2], ["x", "x", "y", "y"]) == 1.0
    assert math.isnan(a.krippendorff_alpha([1, 1, 2, 2], ["x"] * 4))  # one value only
    assert math.isnan(a.krippendorff_alpha([1, 2], ["x", "y"]))  # nothing pairable
    with pytest.raises(ValueError):
        a.krippendorff_alpha([1], ["x"], level="cardinal")


def test_coincidence_matrix_weights_pairs_by_unit_size():
    matrix, values = a.coincidence_matrix([1, 1, 1], ["a", "a", "b"])
    assert list(values) == ["a", "b"]
    # Unit of 3 values: ordered pairs (a,a)x2, (a,b)x2, (b,a)x2, each weighted 1/2.
    assert matrix.tolist() == [[1.0, 1.0], [1.0, 0.0]]


def box(x, y, label="car"):
    return {"type": "box", "label": label, "x": x, "y": y, "width": 10, "height": 10}


def test_mean_pairwise_iou():
    same = [box(0, 0), box(50, 50)]
    shifted = [box(5, 0), box(50, 50)]  # first IoU 50/150
    assert a.pairwise_iou(same, same) == 1.0
    assert a.pairwise_iou(same, shifted) == pytest.approx((1 / 3 + 1) / 2)
    assert a.pairwise_iou(same, [box(0, 0)]) == pytest.approx(0.5)  # one shape missing
    assert a.pairwise_iou(same, [box(0, 0, "truck"), box(50, 50)]) == pytest.approx(0.5)
    three = a.mean_pairwise_iou([same, same, shifted])
    assert three == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert a.mean_pairwise_iou([same]) == 1.0
    assert a.pairwise_iou([], []) == 1.0

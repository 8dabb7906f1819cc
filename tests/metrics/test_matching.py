from __future__ import annotations

import random

import numpy as np
import pytest

from assay.metrics import matching as m


def box(x, y, w=10, h=10, label="car", **attributes):
    return {
        "type": "box",
        "label": label,
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "attributes": attributes,
    }


def reference_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_matching_is_optimal_not_greedy():
    # Greedy would pair e0 with a0 (IoU 0.67) and leave e1 without a partner ≥ 0.5;
    # the optimal matching pairs e0-a1 and e1-a0, both above threshold.
    expected = [box(0, 0, 10, 10), box(4, 0, 10, 10)]
    actual = [box(2, 0, 10, 10), box(-3, 0, 10, 10)]
    result = m.match_annotations(expected, actual, threshold=0.5)
    assert {(p.expected, p.actual) for p in result.pairs} == {(0, 1), (1, 0)}
    assert not result.unmatched_expected and not result.unmatched_actual


def test_matching_prefers_same_label_then_reports_agreement():
    expected = [box(0, 0, label="car", color="red")]
    actual = [box(0, 0, label="truck"), box(1, 0, label="car", color="blue")]
    result = m.match_annotations(expected, actual)
    (pair,) = result.pairs
    assert pair.actual == 1 and pair.label_agrees
    assert pair.attribute_agreement == 0.0
    assert result.unmatched_actual == (0,)


def test_threshold_leaves_poor_overlaps_unmatched():
    result = m.match_annotations([box(0, 0)], [box(6, 0)], threshold=0.5)  # IoU 0.25
    assert result.pairs == ()
    assert m.detection_prf(result) == m.PRF(0.0, 0.0, 0.0, 0, 1, 1)


def test_detection_prf_counts():
    expected = [box(0, 0), box(50, 50), box(100, 100, label="bike")]
    actual = [box(1, 1), box(100, 100, label="car"), box(200, 200)]
    result = m.detection_prf(m.match_annotations(expected, actual))
    assert (result.true_positives, result.expected, result.actual) == (1, 3, 3)
    assert result.precision == pytest.approx(1 / 3) and result.f1 == pytest.approx(1 / 3)
    ignoring_labels = m.detection_prf(m.match_annotations(expected, actual), require_label=False)
    assert ignoring_labels.true_positives == 2


def test_attribute_agreement_treats_multi_choice_as_sets():
    assert m.attribute_agreement({"tags": ["a", "b"]}, {"tags": ["b", "a"]}) == 1.0
    assert m.attribute_agreement({"x": 1, "y": 2}, {"x": 1}) == 0.5
    assert m.attribute_agreement({}, None) == 1.0


def test_score_geometry_soft_f1():
    expected = [box(0, 0, occluded=True), box(50, 50)]
    assert m.score_geometry(expected, expected) == 1.0
    assert m.score_geometry([], []) == 1.0
    assert m.score_geometry(expected, []) == 0.0
    wrong_attribute = [box(0, 0, occluded=False), box(50, 50)]
    # One pair loses the attribute part (weight 0.25): credit 1.75 of 2 on each side.
    assert m.score_geometry(expected, wrong_attribute) == pytest.approx(1.75 / 2)
    extra = [*expected, box(300, 300)]
    assert m.score_geometry(expected, extra) == pytest.approx(2 * 2 / 5)


def test_categories_exact_and_jaccard():
    assert m.score_categories(["a", "b"], ["b", "a"], partial=False) == 1.0
    assert m.score_categories(["a", "b"], ["a"], partial=False) == 0.0
    assert m.score_categories(["a", "b"], ["a", "c"]) == pytest.approx(1 / 3)
    assert m.score_categories([], []) == 1.0


def test_span_f1_exact_and_overlap():
    expected = [{"start": 0, "end": 10, "label": "PER"}, {"start": 20, "end": 30, "label": "ORG"}]
    actual = [{"start": 0, "end": 10, "label": "PER"}, {"start": 25, "end": 35, "label": "ORG"}]
    exact = m.span_prf(expected, actual, mode="exact")
    assert (exact.true_positives, exact.f1) == (1, 0.5)
    overlap = m.span_prf(expected, actual, mode="overlap")
    assert overlap.true_positives == 15 and overlap.f1 == pytest.approx(15 / 20)
    wrong_label = [{"start": 0, "end": 10, "label": "ORG"}]
    assert m.span_prf(expected[:1], wrong_label, mode="overlap").f1 == 0.0
    with pytest.raises(ValueError):
        m.span_prf(expected, actual, mode="fuzzy")


def test_levenshtein_matches_reference_dynamic_programme():
    rng = random.Random(4)
    for longest in [12] * 60 + [150] * 4:  # long ones: rows wider than a machine word
        a = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, longest)))
        b = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, longest)))
        assert m.levenshtein(a, b) == reference_levenshtein(a, b), (a, b)


def test_text_similarity_normalises():
    assert m.text_similarity("Hello   World", "hello world") == 1.0
    assert m.text_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert m.text_similarity("kitten", "sitting", normalize=False) == pytest.approx(1 - 3 / 7)
    assert m.text_similarity("", "") == 1.0
    assert m.text_similarity("abc", "") == 0.0


def test_ranking_similarity():
    assert m.ranking_similarity([0, 1, 2, 3], [0, 1, 2, 3]) == 1.0
    assert m.ranking_similarity([0, 1, 2, 3], [3, 2, 1, 0]) == 0.0
    assert m.ranking_similarity([0, 1, 2, 3], [1, 0, 2, 3]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        m.ranking_similarity([0, 1], [0, 2])


def test_score_response_averages_the_kinds_present():
    expected = {
        "annotations": [
            box(0, 0),
            {"type": "category", "label": "cat"},
            {"type": "text", "text": "A cat", "field": "caption"},
        ],
        "global_attributes": {"weather": "sun"},
    }
    assert m.score_response(expected, expected) == 1.0
    actual = {
        "annotations": [
            box(0, 0),
            {"type": "category", "label": "dog"},
            {"type": "text", "text": "a cat", "field": "caption"},
        ],
        "global_attributes": {"weather": "rain"},
    }
    assert m.score_response(expected, actual) == pytest.approx((1 + 0 + 1 + 0) / 4)


def test_score_response_rankings_comparisons_ratings():
    ranking = {"annotations": [{"type": "ranking", "order": [0, 1, 2]}]}
    swapped = {"annotations": [{"type": "ranking", "order": [1, 0, 2]}]}
    assert m.score_response(ranking, swapped) == pytest.approx(2 / 3)
    a = {"annotations": [{"type": "comparison", "choice": "a"}]}
    b = {"annotations": [{"type": "comparison", "choice": "b"}]}
    assert m.score_response(a, a) == 1.0 and m.score_response(a, b) == 0.0
    ratings = {
        "annotations": [
            {"type": "rating", "criterion": "helpful", "value": 4, "response_index": 0},
            {"type": "rating", "criterion": "safe", "value": 5, "response_index": 0},
        ]
    }
    off = {"annotations": [{**ratings["annotations"][0], "value": 2}, ratings["annotations"][1]]}
    assert m.score_response(ratings, off) == pytest.approx(0.5)
    assert m.score_response({"annotations": []}, {"annotations": []}) == 1.0
    assert np.isfinite(m.score_response(ranking, {"annotations": []}))

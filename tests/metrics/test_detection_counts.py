"""TP / FP / FN of some images read from a stored evaluation's state equal pycocotools'
matches of those images alone, with the detections under a confidence floor left out."""

from __future__ import annotations

import numpy as np
import pytest

from assay.metrics.detection import MatchState
from assay.metrics.detection_counts import counts, subset
from tests.metrics.test_detection import coco_boxes, ours, reference


def pycocotools_counts(ev, iou_threshold: float, category_id: int | None = None):
    t = int(np.flatnonzero(np.isclose(ev.params.iouThrs, iou_threshold))[0])
    tp = fp = fn = 0
    for e in ev.evalImgs:
        if e is None or e["aRng"] != [0, 1e10]:
            continue
        if category_id is not None and e["category_id"] != category_id:
            continue
        matched, ignored = e["dtMatches"][t] > 0, e["dtIgnore"][t].astype(bool)
        tp += int(np.sum(matched & ~ignored))
        fp += int(np.sum(~matched & ~ignored))
        fn += int(np.sum((e["gtMatches"][t] == 0) & (np.asarray(e["gtIgnore"]) == 0)))
    return tp, fp, fn


@pytest.mark.parametrize("min_score", [0.0, 0.35])
def test_counts_of_a_subset_above_a_score_are_pycocotools_matches_of_it(min_score: float):
    dataset, results = coco_boxes(13, images=60, crowd=0.1)
    # The stored state goes through its bytes, as evaluations keep it.
    state = MatchState.from_bytes(ours(dataset, results, "bbox").state.to_bytes())
    images = [i["id"] for i in dataset["images"][::3]]
    kept = [r for r in results if r["score"] >= min_score]
    ev = reference(dataset, kept, "bbox", imgIds=images)
    category = dataset["categories"][2]
    for threshold in (0.5, 0.75):
        got = counts(state, images, iou_threshold=threshold, min_score=min_score)
        assert (got.tp, got.fp, got.fn) == pycocotools_counts(ev, threshold)
        assert got.tp > 0 and got.fp > 0 and got.fn > 0
        one = counts(state, images, iou_threshold=threshold, min_score=min_score, category=2)
        assert (one.tp, one.fp, one.fn) == pycocotools_counts(ev, threshold, category["id"])
    # A subset state answers the same for its images, and restricts to the same numbers.
    part = subset(state, images)
    assert counts(part, iou_threshold=0.5, min_score=min_score) == counts(
        state, images, iou_threshold=0.5, min_score=min_score
    )
    if min_score == 0:
        np.testing.assert_array_equal(
            part.restricted_to(images).stats, state.restricted_to(images).stats
        )


def test_ratios_and_an_absent_threshold():
    dataset, results = coco_boxes(2, images=20)
    state = ours(dataset, results, "bbox").state
    got = counts(state, iou_threshold=0.5)
    assert got.precision == got.tp / (got.tp + got.fp)
    assert got.recall == got.tp / (got.tp + got.fn)
    p, r = got.precision, got.recall
    assert got.f1 == pytest.approx(2 * p * r / (p + r), abs=1e-12)
    none = counts(state, [10**9], iou_threshold=0.5)
    assert (none.tp, none.fp, none.fn) == (0, 0, 0)
    assert none.precision is None and none.recall is None and none.f1 is None
    with pytest.raises(ValueError, match=r"0\.42 is not among"):
        counts(state, iou_threshold=0.42)

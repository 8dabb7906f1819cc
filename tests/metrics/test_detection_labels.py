"""Allowed label matches in the COCO evaluation: a detection may take an object of another
category when the (object category, detection category) pair is allowed — one way."""

from __future__ import annotations

import dataclasses
from dataclasses import astuple

import numpy as np
import pytest

from assay.metrics.detection import MatchState, Objects, Params, evaluate
from assay.metrics.detection_counts import counts
from assay.metrics.detection_labels import may_match

CAR, VEHICLE = 1, 2


def boxes(rows: list[tuple[int, int, tuple[float, float, float, float], float]]) -> Objects:
    """(image, category, box, score) rows."""
    return Objects(
        image=[r[0] for r in rows],
        category=[r[1] for r in rows],
        area=[r[2][2] * r[2][3] for r in rows],
        score=[r[3] for r in rows],
        boxes=[r[2] for r in rows],
    )


def run(gt: Objects, dt: Objects, pairs: tuple = (), **kw):
    p = dataclasses.replace(Params.coco(), label_matches=pairs, **kw)
    return evaluate(gt, dt, p, image_ids=[1, 2, 3], category_ids=[CAR, VEHICLE])


# Image 1: a car, a "vehicle" detection over it. Image 2: a vehicle, a "car" detection over
# it. Image 3: a car, a car detection over it (IoU 81/119) and a better "vehicle" one scoring
# higher (IoU 0.9).
GT = boxes([(1, CAR, (0, 0, 10, 10), 0), (2, VEHICLE, (0, 0, 10, 10), 0),
            (3, CAR, (0, 0, 10, 10), 0)])  # fmt: skip
DT = boxes([(1, VEHICLE, (0, 0, 10, 9), 0.9), (2, CAR, (0, 0, 10, 9), 0.8),
            (3, CAR, (1, 1, 10, 10), 0.5), (3, VEHICLE, (0, 0, 10, 9), 0.7)])  # fmt: skip


def test_a_prediction_takes_an_object_of_another_label_only_with_its_pair() -> None:
    plain, paired = run(GT, DT), run(GT, DT, ((CAR, VEHICLE),))
    w = plain.world(0.5)
    # Without the pair: the car detection of image 3 is the only true positive.
    assert plain.detections(w).match.tolist() == [-1, -1, 2, -1]
    assert plain.objects(w).match.tolist() == [-1, -1, 2]
    hits, objs = paired.detections(w), paired.objects(w)
    # With (car <- vehicle): image 1's vehicle detection takes the car (IoU 0.9); image 2's
    # car detection does not take the vehicle (the pair is one way); in image 3 the
    # vehicle detection scores higher and takes the car, leaving the car detection a FP.
    assert hits.match.tolist() == [0, -1, -1, 2]
    assert hits.tp.tolist() == [True, False, False, True]
    assert hits.fp.tolist() == [False, True, True, False]
    assert hits.iou[0] == pytest.approx(0.9)
    assert hits.iou[3] == pytest.approx(0.9)
    assert objs.match.tolist() == [0, -1, 3]
    assert objs.fn.tolist() == [False, True, False]
    # The reverse pair alone lets image 2's car detection take the vehicle, nothing else.
    reverse = run(GT, DT, ((VEHICLE, CAR),))
    assert reverse.detections(w).match.tolist() == [-1, 1, 2, -1]


def test_a_cross_label_true_positive_counts_for_the_objects_class() -> None:
    paired = run(GT, DT, ((CAR, VEHICLE),), iou_thresholds=np.array([0.5]))
    state = paired.state
    # The car class: both cars found, by the vehicle detections (0.9 and 0.7), and the two
    # car detections false positives (0.8 in image 2, 0.5 in image 3): precision 1 up to
    # recall 0.5, then 2/3. The vehicle class: its one object missed, and its detections
    # counted for the car class, not as its false positives.
    car, vehicle = 0, 1
    assert astuple(counts(state, category=car)) == (2, 2, 0)
    assert astuple(counts(state, category=vehicle)) == (0, 0, 1)
    assert astuple(counts(state)) == (2, 2, 1)
    assert paired.per_class_ap() == pytest.approx([(51 + 50 * 2 / 3) / 101, 0.0])
    assert paired.recall[0, :, 0, -1].tolist() == [1.0, 0.0]
    # The stored state gives the same numbers, and keeps its pairs.
    again = MatchState.from_bytes(state.to_bytes())
    assert again.params.label_matches == ((CAR, VEHICLE),)
    np.testing.assert_array_equal(again.restricted_to([1, 2, 3]).recall, paired.recall)
    # Per image: image 1 alone has one car, found.
    assert state.restricted_to([1]).recall[0, :, 0, -1].tolist() == [1.0, -1.0]


def test_in_a_world_where_the_cross_match_fails_the_detection_is_its_own_labels_fp() -> None:
    # At IoU 0.95 nothing matches: every detection is a false positive of its own label.
    paired = run(GT, DT, ((CAR, VEHICLE),), iou_thresholds=np.array([0.5, 0.95]))
    w = paired.world(0.95)
    assert paired.detections(w).fp.all()
    assert astuple(counts(paired.state, iou_threshold=0.95, category=1)) == (0, 2, 1)


def test_the_matrix_is_the_identity_without_pairs_and_all_true_class_agnostic() -> None:
    universe = np.array([CAR, VEHICLE, 5])
    assert np.array_equal(may_match(Params(), universe), np.eye(3, dtype=bool))
    assert may_match(Params(use_categories=False), universe).all()
    paired = may_match(Params(label_matches=((CAR, VEHICLE), (9, CAR))), universe)
    assert paired.tolist() == [[True, True, False], [False, True, False], [False, False, True]]
    # Pairs of a label with itself are no pairs: COCO's own path.
    assert Params(label_matches=((CAR, CAR),)).label_matches == ()


def greedy(gt: Objects, dt: Objects, allowed: set, threshold: float) -> list[int]:
    """The matching by hand: per image, detections by score, each taking the free allowed
    object of best IoU at or above the threshold."""
    from assay.metrics.detection_match import box_pair_iou

    match = [-1] * len(dt)
    for image in np.unique(dt.image):
        rows = [r for r in np.argsort(-dt.score, kind="stable") if dt.image[r] == image]
        free = [g for g in range(len(gt)) if gt.image[g] == image]
        for d in rows:
            best, best_iou = -1, threshold
            for g in free:
                ok = gt.category[g] == dt.category[d] or (gt.category[g], dt.category[d]) in allowed
                iou = box_pair_iou(dt.boxes[d : d + 1], gt.boxes[g : g + 1], np.zeros(1, bool))[0]
                if ok and iou >= best_iou:
                    best, best_iou = g, iou
            if best >= 0:
                match[d] = best
                free.remove(best)
    return match


@pytest.mark.parametrize("seed", range(4))
def test_matches_are_greedy_by_score_across_the_allowed_labels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows_gt, rows_dt = [], []
    for image in range(1, 31):
        for _ in range(rng.integers(0, 8)):
            x, y, w, h = rng.uniform(0, 60), rng.uniform(0, 60), *rng.uniform(10, 40, 2)
            rows_gt.append((image, int(rng.integers(1, 5)), (x, y, w, h), 0.0))
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, 0.15, 4) * [w, h, w, h]
                box = (x + jitter[0], y + jitter[1], abs(w + jitter[2]) + 1, abs(h + jitter[3]) + 1)
                rows_dt.append((image, int(rng.integers(1, 5)), box, float(rng.random())))
    gt, dt = boxes(rows_gt), boxes(rows_dt)
    allowed = {(1, 2), (2, 1), (3, 1), (1, 4)}
    p = Params(label_matches=tuple(allowed), area_ranges=((0, 1e10),), area_labels=("all",))
    got = evaluate(gt, dt, p)
    for t, threshold in enumerate(p.iou_thresholds):
        expected = greedy(gt, dt, allowed, min(threshold, 1 - 1e-10))
        assert got.detections(t).match.tolist() == expected, threshold
    # Every detection counts once per world: as a TP (in its object's class) or a FP.
    for t, threshold in enumerate(p.iou_thresholds):
        found = counts(got.state, iou_threshold=threshold)
        hits = got.detections(t)
        assert (found.tp, found.fp) == (int(hits.tp.sum()), int(hits.fp.sum()))
        by_class = [counts(got.state, iou_threshold=threshold, category=k) for k in range(4)]
        assert sum(c.tp for c in by_class) == found.tp
        assert sum(c.fp for c in by_class) == found.fp


def test_detections_of_a_renamed_label_paired_back_find_what_cocos_would() -> None:
    """Detections of category 1 renamed 9, with the pair (1 <- 9): the same matches and the
    same recall as COCO's evaluation of the original ones (only their false positives move
    to category 9)."""
    from tests.metrics.test_detection import coco_boxes, objects_from_coco

    dataset, results = coco_boxes(6, images=40)
    gt, dt = objects_from_coco(dataset, results, "bbox")
    cats = [c["id"] for c in dataset["categories"]]
    plain = evaluate(gt, dt, Params(), category_ids=cats)
    renamed = dataclasses.replace(dt, category=np.where(dt.category == 1, 9, dt.category))
    paired = evaluate(gt, renamed, Params(label_matches=((1, 9),)), category_ids=[*cats, 9])
    for w in range(len(plain.params.iou_thresholds) * len(plain.params.area_ranges)):
        assert np.array_equal(paired.detections(w).match, plain.detections(w).match)
        assert np.array_equal(paired.detections(w).ignored, plain.detections(w).ignored)
    k9 = list(paired.category_ids).index(9)
    np.testing.assert_allclose(np.delete(paired.recall, k9, 1), plain.recall, rtol=0, atol=1e-12)
    assert np.all(paired.recall[:, k9] == -1)  # category 9: nothing to find


def test_states_of_disjoint_images_merge_into_the_whole_paired_evaluation() -> None:
    """What re-evaluating only changed items relies on: the accounting rows of cross-label
    true positives merge like any detection's; a renamed label set keeps the pairs."""
    from tests.metrics.test_detection import coco_boxes, objects_from_coco

    dataset, results = coco_boxes(12, images=40)
    gt, dt = objects_from_coco(dataset, results, "bbox")
    cats = [c["id"] for c in dataset["categories"]]
    p = Params(label_matches=((4, 1), (1, 7)))
    whole = evaluate(gt, dt, p, category_ids=cats)
    assert len(whole.state.d_score) > whole.d_match.shape[1]  # cross-label rows were added
    images = np.unique(np.r_[gt.image, dt.image])
    halves = [evaluate(gt, dt, p, image_ids=part, category_ids=cats).state
              for part in (images[::2], images[1::2])]  # fmt: skip
    merged = MatchState.merged(halves).restricted_to(images)
    np.testing.assert_allclose(merged.precision, whole.precision, rtol=0, atol=1e-12)
    np.testing.assert_allclose(merged.recall, whole.recall, rtol=0, atol=1e-12)
    # Categories renamed (reversed): the pairs follow them.
    moved = whole.state.recategorised(np.arange(len(cats))[::-1], np.array(cats))
    assert moved.params.label_matches == ((cats[3], cats[4]), (cats[4], cats[2]))

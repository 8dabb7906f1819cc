from __future__ import annotations

import json

import numpy as np
import pytest

from assay.metrics import segmentation as s

sk = pytest.importorskip("sklearn.metrics")

TOL = 1e-12
K = 6  # class 4 never appears; class 5 only in predictions


def masks(seed, images=4, shape=(40, 56)):
    """Ground truth and predictions with ignored pixels, as a list of uint8 pairs."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(images):
        truth = rng.choice([0, 1, 2, 3], shape, p=[0.5, 0.3, 0.15, 0.05]).astype(np.uint8)
        noise = rng.choice([0, 1, 2, 3, 5], shape).astype(np.uint8)
        predicted = np.where(rng.random(shape) < 0.7, truth, noise)
        truth[rng.random(shape) < 0.1] = 255
        pairs.append((truth, predicted))
    return pairs


def flat_kept(pairs):
    truth = np.concatenate([t.reshape(-1) for t, _ in pairs])
    predicted = np.concatenate([p.reshape(-1) for _, p in pairs])
    kept = truth != 255
    return truth[kept], predicted[kept]


def test_matches_sklearn():
    pairs = masks(0)
    result = s.segmentation_metrics([t for t, _ in pairs], (p for _, p in pairs), num_classes=K)
    y_true, y_pred = flat_kept(pairs)
    everything = list(range(K))
    assert result.pixels == len(y_true)
    assert result.ignored == sum(int((t == 255).sum()) for t, _ in pairs)
    assert (
        np.array(result.confusion) == sk.confusion_matrix(y_true, y_pred, labels=everything)
    ).all()

    iou = sk.jaccard_score(y_true, y_pred, labels=everything, average=None, zero_division=0)
    ours = [row.iou for row in result.per_class]
    assert ours[4] is None  # absent from both
    np.testing.assert_allclose(
        [v for i, v in enumerate(ours) if i != 4], np.delete(iou, 4), atol=TOL
    )
    assert ours[5] == 0.0  # predicted, never true

    present = [0, 1, 2, 3, 5]
    assert result.miou == pytest.approx(
        sk.jaccard_score(y_true, y_pred, labels=present, average="macro"), abs=TOL
    )
    assert result.miou_all == pytest.approx(
        sk.jaccard_score(y_true, y_pred, labels=everything, average="macro", zero_division=0),
        abs=TOL,
    )
    assert result.miou_all < result.miou
    assert result.fw_iou == pytest.approx(
        sk.jaccard_score(y_true, y_pred, labels=everything, average="weighted", zero_division=0),
        abs=TOL,
    )
    assert result.pixel_accuracy == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=TOL)

    recall = sk.recall_score(y_true, y_pred, labels=[0, 1, 2, 3], average=None)
    accuracy = [row.accuracy for row in result.per_class]
    assert accuracy[4] is None and accuracy[5] is None  # no ground-truth pixels
    np.testing.assert_allclose(accuracy[:4], recall, atol=TOL)
    assert result.mean_class_accuracy == pytest.approx(
        sk.recall_score(y_true, y_pred, labels=[0, 1, 2, 3], average="macro"), abs=TOL
    )
    dice = sk.f1_score(y_true, y_pred, labels=present, average=None)
    np.testing.assert_allclose([result.per_class[i].dice for i in present], dice, atol=TOL)
    assert result.mean_dice == pytest.approx(dice.mean(), abs=TOL)
    assert [row.pixels for row in result.per_class] == np.bincount(y_true, minlength=K).tolist()
    assert [row.predicted for row in result.per_class] == np.bincount(y_pred, minlength=K).tolist()


def test_streams_stacks_merges_and_dtypes_agree():
    pairs = masks(1)
    reference = s.segmentation_metrics([t for t, _ in pairs], [p for _, p in pairs], num_classes=K)
    stacked = s.segmentation_metrics(
        np.stack([t for t, _ in pairs]), np.stack([p for _, p in pairs]), num_classes=K
    )
    assert stacked == reference
    left, right = s.SegmentationConfusion(K), s.SegmentationConfusion(K)
    for i, (truth, predicted) in enumerate(pairs):
        (left if i % 2 else right).update(truth, predicted)
    left.merge(right)
    assert left.metrics() == reference
    for truth_type, pred_type in [(np.uint16, np.int64), (np.int32, np.uint8), (np.int64, np.int8)]:
        converted = s.segmentation_metrics(
            [t.astype(truth_type) for t, _ in pairs],
            [p.astype(pred_type) for _, p in pairs],
            num_classes=K,
        )
        assert converted == reference


def test_table_and_arithmetic_paths_agree():
    # An ignore value far from the classes forces the path without a lookup table.
    pairs = masks(2)
    reference = s.segmentation_metrics([t for t, _ in pairs], [p for _, p in pairs], num_classes=K)
    far = s.segmentation_metrics(
        [np.where(t == 255, 10**9, t.astype(np.int64)) for t, _ in pairs],
        [p for _, p in pairs],
        num_classes=K,
        ignore_index=10**9,
    )
    negative = s.segmentation_metrics(
        [np.where(t == 255, -1, t.astype(np.int32)) for t, _ in pairs],
        [p for _, p in pairs],
        num_classes=K,
        ignore_index=-1,
    )
    assert far == reference and negative == reference


def test_by_hand():
    truth = np.array([[0, 0, 1], [1, 1, 255]])
    predicted = np.array([[0, 1, 1], [1, 0, 7]])  # 7 at the ignored pixel is not read
    result = s.segmentation_metrics(truth, predicted, num_classes=3, classes=["bg", "road", "car"])
    assert result.confusion == ((1, 1, 0), (1, 2, 0), (0, 0, 0))
    assert (result.pixels, result.ignored) == (5, 1)
    bg, road, car = result.per_class
    assert bg.iou == pytest.approx(1 / 3) and road.iou == pytest.approx(2 / 4)
    assert car.iou is None and car.accuracy is None and car.dice is None
    assert bg.accuracy == 0.5 and road.accuracy == pytest.approx(2 / 3)
    assert result.miou == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert result.miou_all == pytest.approx((1 / 3 + 1 / 2) / 3)
    assert result.pixel_accuracy == pytest.approx(3 / 5)
    assert result.mean_class_accuracy == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert result.fw_iou == pytest.approx(2 / 5 * 1 / 3 + 3 / 5 * 1 / 2)
    assert json.dumps(result.to_dict(), allow_nan=False)


def test_invalid_values_are_errors():
    with pytest.raises(ValueError, match="predicted class"):
        s.segmentation_metrics(np.array([0, 1]), np.array([0, 3]), num_classes=3)
    with pytest.raises(ValueError, match="predicted class"):
        s.segmentation_metrics(np.array([0, 1]), np.array([0, -1]), num_classes=3)
    with pytest.raises(ValueError, match="ground-truth class"):
        s.segmentation_metrics(np.array([0, 4]), np.array([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="ground-truth class"):  # no ignore index at all
        s.segmentation_metrics(
            np.array([0, 255], np.uint8), np.array([0, 1]), num_classes=3, ignore_index=None
        )
    with pytest.raises(ValueError, match="shapes"):
        s.segmentation_metrics(np.zeros((2, 2), int), np.zeros(4, int), num_classes=3)
    with pytest.raises(ValueError, match="integer"):
        s.segmentation_metrics(np.zeros(2), np.zeros(2), num_classes=3)
    with pytest.raises(ValueError, match="class index"):
        s.SegmentationConfusion(3, ignore_index=2)


def test_nothing_evaluated_is_none():
    result = s.segmentation_metrics(
        np.full((2, 2), 255, np.uint8), np.zeros((2, 2), np.uint8), num_classes=2
    )
    assert result.pixels == 0 and result.ignored == 4
    assert result.miou is None and result.pixel_accuracy is None and result.fw_iou is None
    assert result.miou_all is None
    assert json.dumps(result.to_dict(), allow_nan=False)

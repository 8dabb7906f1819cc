"""Semantic segmentation metrics from label masks: IoU, mIoU, pixel and class accuracy, Dice.

Masks are integer arrays of class indices 0..K-1, one per image (any shape; ground truth and
prediction alike), or stacks of them. Every figure comes from one K x K confusion matrix of
pixel counts (rows ground truth, columns prediction), accumulated image by image with
np.bincount, so a stream of many images costs one pass and K² integers of memory.

Pixels whose ground truth is `ignore_index` (255 by default; None for none) are left out
whatever their prediction. Any other ground-truth value outside 0..K-1, and any prediction
outside 0..K-1 at a pixel that is not ignored, is an error.

Undefined values are None (results serialise to JSON without NaN): a class absent from both
ground truth and prediction has no IoU nor Dice, one absent from the ground truth no
accuracy. `miou` is the mean IoU over the classes present in the ground truth or the
prediction (undefined ones skipped, as mmsegmentation's nanmean); `miou_all` is the mean over
all K classes with absent classes counted as 0 (scikit-learn's jaccard_score macro average
over every label with zero_division=0). `mean_class_accuracy` is the mean recall over classes
present in the ground truth; `fw_iou` weights each class's IoU by its share of ground-truth
pixels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

_CHUNK = 1 << 20  # pixels keyed at once


@dataclass(frozen=True, slots=True)
class SegmentationClass:
    label: Any
    iou: float | None
    accuracy: float | None  # recall: share of this class's pixels predicted as it
    dice: float | None
    pixels: int  # ground-truth pixels
    predicted: int  # predicted pixels (among those not ignored)


@dataclass(frozen=True, slots=True)
class SegmentationMetrics:
    classes: tuple[Any, ...]
    pixels: int  # pixels evaluated
    ignored: int  # pixels left out for their ground truth's ignore_index
    pixel_accuracy: float | None
    mean_class_accuracy: float | None
    miou: float | None
    miou_all: float | None
    fw_iou: float | None
    mean_dice: float | None  # over the classes present in ground truth or prediction
    per_class: tuple[SegmentationClass, ...]
    confusion: tuple[tuple[int, ...], ...]  # K x K, rows ground truth, columns prediction

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SegmentationConfusion:
    """A K x K pixel confusion matrix that images are added to one at a time."""

    def __init__(self, num_classes: int, *, ignore_index: int | None = 255) -> None:
        if num_classes < 1:
            raise ValueError("num_classes must be at least 1")
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            raise ValueError("ignore_index must not be a class index")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), np.int64)
        self.ignored = 0

    def _table(self, low: int, high: int) -> np.ndarray:
        """Ground-truth value (minus `low`) to its row's first key in the (K + 2) x (K + 1)
        key space: rows 0..K-1 the classes, K ignored, K + 1 invalid; column K an invalid
        prediction."""
        k = self.num_classes
        table = np.full(high - low + 1, (k + 1) * (k + 1), np.intp)
        first, last = max(low, 0), min(high, k - 1)
        if first <= last:
            table[first - low : last - low + 1] = np.arange(first, last + 1) * (k + 1)
        if self.ignore_index is not None and low <= self.ignore_index <= high:
            table[self.ignore_index - low] = k * (k + 1)
        return table

    def update(self, ground_truth: Any, prediction: Any) -> None:
        """Add one mask pair (or a stack of them) of the same shape."""
        truth, predicted = np.asarray(ground_truth), np.asarray(prediction)
        if truth.shape != predicted.shape:
            raise ValueError(f"mask shapes differ: {truth.shape} and {predicted.shape}")
        if truth.dtype.kind not in "iub" or predicted.dtype.kind not in "iub":
            raise ValueError("masks must be integer arrays of class indices")
        truth, predicted = truth.reshape(-1), predicted.reshape(-1)
        # Stacks go by slices: a key per pixel of a whole stack would be GBs of page faults.
        for start in range(0, len(truth), _CHUNK):
            self._add(truth[start : start + _CHUNK], predicted[start : start + _CHUNK])

    def _add(self, truth: np.ndarray, predicted: np.ndarray) -> None:
        k = self.num_classes
        if truth.dtype.kind == "b":  # a bool array would index the table as a mask
            truth = truth.view(np.uint8)
        if truth.dtype.kind == "u" and truth.dtype.itemsize == 1:
            low, high = 0, 255  # no pass over the pixels to find the range
        else:
            low, high = int(truth.min()), int(truth.max())
        if high - low < 1 << 20:
            keys = self._table(low, high)[truth - low if low else truth]
        else:  # values far apart: one comparison per kind of value instead of a table
            keys = self._table(0, k - 1)[np.clip(truth, 0, k - 1)]
            keys[(truth < 0) | (truth >= k)] = (k + 1) * (k + 1)
            if self.ignore_index is not None:
                keys[truth == self.ignore_index] = k * (k + 1)
        if predicted.min() < 0 or predicted.max() >= k:
            # Column K for predictions outside the classes: an error unless ignored.
            predicted = np.where((predicted < 0) | (predicted >= k), k, predicted)
        np.add(keys, predicted, out=keys, casting="unsafe")  # now within 0..K
        cells = np.bincount(keys, minlength=(k + 2) * (k + 1)).reshape(k + 2, k + 1)
        if cells[k + 1].any():
            raise ValueError(f"ground-truth class outside 0..{k - 1} (and not ignore_index)")
        if cells[:k, k].any():
            raise ValueError(f"predicted class outside 0..{k - 1} at a pixel not ignored")
        self.matrix += cells[:k, :k]
        self.ignored += int(cells[k].sum())

    def merge(self, other: SegmentationConfusion) -> None:
        """Add another accumulator's counts (of the same classes), e.g. from another worker."""
        if other.num_classes != self.num_classes:
            raise ValueError("cannot merge confusions of different class counts")
        self.matrix += other.matrix
        self.ignored += other.ignored

    def metrics(self, classes: Any = None) -> SegmentationMetrics:
        return segmentation_from_confusion(self.matrix, classes=classes, ignored=self.ignored)


def segmentation_metrics(
    ground_truth: Any,
    predictions: Any,
    *,
    num_classes: int,
    ignore_index: int | None = 255,
    classes: Any = None,
) -> SegmentationMetrics:
    """Metrics over masks: two arrays (one image or a stack), or two iterables of masks.

    `classes` names the K classes in the output (0..K-1 by default).
    """
    confusion = SegmentationConfusion(num_classes, ignore_index=ignore_index)
    if isinstance(ground_truth, np.ndarray):
        confusion.update(ground_truth, predictions)
    else:
        pairs: Iterable[tuple[Any, Any]] = zip(ground_truth, predictions, strict=True)
        for truth, predicted in pairs:
            confusion.update(truth, predicted)
    return confusion.metrics(classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> list[float | None]:
    return [float(a / b) if b else None for a, b in zip(numerator, denominator, strict=True)]


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def segmentation_from_confusion(
    confusion: Any, *, classes: Any = None, ignored: int = 0
) -> SegmentationMetrics:
    """Every figure of `segmentation_metrics` from a K x K pixel confusion matrix."""
    matrix = np.asarray(confusion, np.int64)
    k = len(matrix)
    if matrix.shape != (k, k):
        raise ValueError("confusion must be square")
    names = list(range(k)) if classes is None else list(np.asarray(classes).reshape(-1).tolist())
    if len(names) != k:
        raise ValueError(f"classes must name the {k} classes")
    tp = np.diagonal(matrix).astype(float)
    truth, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    union = truth + predicted - tp
    total = int(matrix.sum())
    iou = _ratio(tp, union)
    accuracy = _ratio(tp, truth)
    dice = _ratio(2 * tp, truth + predicted)
    present = truth > 0
    return SegmentationMetrics(
        classes=tuple(names),
        pixels=total,
        ignored=int(ignored),
        pixel_accuracy=float(tp.sum() / total) if total else None,
        mean_class_accuracy=_mean(accuracy),
        miou=_mean(iou),
        miou_all=float(sum(v or 0.0 for v in iou) / k) if total else None,
        fw_iou=float(truth[present] @ (tp[present] / union[present]) / total) if total else None,
        mean_dice=_mean(dice),
        per_class=tuple(
            SegmentationClass(*row)
            for row in zip(
                names, iou, accuracy, dice, truth.tolist(), predicted.tolist(), strict=True
            )
        ),
        confusion=tuple(map(tuple, matrix.tolist())),
    )

"""True positives, false positives and misses of a stored detection evaluation over some of
its images, read from its `MatchState` — no IoU and no matching again.

At an IoU threshold and an area range (a "world"), a detection the evaluation kept (COCO's
max detections per image and category) is a true positive when it matched an object that
is not ignored, a false positive when it matched nothing and its area is in range, and
neither when it matched a crowd region or an object out of range. The misses are the
objects not ignored less the true positives (a true positive matches one such object, and
within its label). A confidence floor keeps the detections scoring at least that much:
matching is greedy by score, so the matches of the higher-scoring detections do not depend
on the lower ones — the counts equal those of evaluating only the kept detections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assay.metrics.detection import MatchState


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None


def threshold_index(state: MatchState, iou_threshold: float) -> int:
    """The position of an IoU threshold among the evaluation's (ValueError if absent)."""
    found = np.flatnonzero(np.isclose(state.params.iou_thresholds, iou_threshold, atol=1e-9))
    if not len(found):
        known = ", ".join(f"{t:g}" for t in state.params.iou_thresholds)
        raise ValueError(f"iou_threshold {iou_threshold:g} is not among the evaluation's ({known})")
    return int(found[0])


def counts(
    state: MatchState,
    image_ids: Sequence[int] | np.ndarray | None = None,
    *,
    iou_threshold: float = 0.5,
    area: str = "all",
    min_score: float = 0.0,
    category: int | None = None,
) -> Counts:
    """TP / FP / FN over the images (all the evaluation's when None), at one IoU threshold
    and area range, of the detections scoring at least `min_score`, of one category index
    (the evaluation's category order) or all."""
    p = state.params
    a = p.area_labels.index(area)
    w = a * len(p.iou_thresholds) + threshold_index(state, iou_threshold)
    d_keep = state.d_score >= min_score
    g_keep = ~state.g_ignore[a]
    if image_ids is not None:
        images = np.asarray(image_ids, np.int64)
        d_keep &= np.isin(state.d_image, images)
        g_keep &= np.isin(state.g_image, images)
    if category is not None:
        d_keep &= state.d_cat == category
        g_keep &= state.g_cat == category
    tp = int(np.count_nonzero(d_keep & state.d_good[w]))
    fp = int(np.count_nonzero(d_keep & ~state.d_matched[w] & ~state.d_out_of_range[a]))
    return Counts(tp, fp, int(np.count_nonzero(g_keep)) - tp)


def subset(state: MatchState, image_ids: Sequence[int] | np.ndarray) -> MatchState:
    """The state of some of the images only: what they need, nothing of the others (the
    matching is per image, so their detections and objects keep their outcomes)."""
    images = np.intersect1d(state.image_ids, np.asarray(image_ids, np.int64))
    d = np.isin(state.d_image, images)
    g = np.isin(state.g_image, images)
    return MatchState(
        params=state.params,
        image_ids=images,
        category_ids=state.category_ids,
        d_image=state.d_image[d],
        d_score=state.d_score[d],
        d_rank=state.d_rank[d],
        d_cat=state.d_cat[d],
        d_matched=state.d_matched[:, d],
        d_good=state.d_good[:, d],
        d_out_of_range=state.d_out_of_range[:, d],
        g_image=state.g_image[g],
        g_cat=state.g_cat[g],
        g_ignore=state.g_ignore[:, g],
    )

"""The matching half of the COCO evaluation (`assay.metrics.detection`): which detection
takes which object, in every world (IoU threshold x area range) at once.

- IoUs only for the (detection, object) pairs of one image and category, computed
  together for all pairs (boxes, masks as RLE, keypoints as OKS); only the pairs at or
  above the lowest threshold are kept (`candidate_pairs`).
- The greedy matching is sequential within an image and category (a detection takes the
  best object the higher-scoring ones left), so it steps through the detections' ranks;
  each step settles one detection of every image/category group at once, for all worlds
  (`match_pairs`).
- The orders that decide ties are pycocotools' (stable by score, the later of equally good
  objects); they are computed as one unstable sort of unique integer keys (`Ranks`,
  `unique_key_order`), five times cheaper than stable sorts of floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from assay.metrics.detection import Objects, Params

# pycocotools: iou = min(t, 1 - 1e-10) — a threshold of 1 still matches a perfect overlap.
_IOU_CAP = 1 - 1e-10
_EPS = np.spacing(1)
# The size of one block of (detection, object) pairs whose IoUs are computed together.
PAIR_BLOCK = 1 << 22


def box_pair_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of box pairs (x y w h) in pycocotools' arithmetic (bbIou); a crowd region's
    overlap is over the detection's area alone."""
    dx, dy, dw, dh = dt.T
    gx, gy, gw, gh = gt.T
    w = np.minimum(dx + dw, gx + gw) - np.maximum(dx, gx)
    h = np.minimum(dy + dh, gy + gh) - np.maximum(dy, gy)
    inter = w * h
    da = dw * dh
    union = np.where(crowd, da, da + gw * gh - inter)
    out = np.zeros(len(w))
    ok = (w > 0) & (h > 0)
    np.divide(inter, union, out=out, where=ok)
    return out


def keypoint_pair_oks(
    dt: np.ndarray, gt: np.ndarray, gt_box: np.ndarray, gt_area: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """OKS of keypoint pairs as pycocotools' computeOks: over the ground truth's visible
    keypoints, or — when it has none — by the distance outside its box doubled."""
    xg, yg, vg = gt[:, 0::3], gt[:, 1::3], gt[:, 2::3]
    xd, yd = dt[:, 0::3], dt[:, 1::3]
    visible = vg > 0
    any_visible = visible.any(axis=1)
    x0 = (gt_box[:, 0] - gt_box[:, 2])[:, None]
    x1 = (gt_box[:, 0] + gt_box[:, 2] * 2)[:, None]
    y0 = (gt_box[:, 1] - gt_box[:, 3])[:, None]
    y1 = (gt_box[:, 1] + gt_box[:, 3] * 2)[:, None]
    zero = np.zeros_like(xd)
    dx = np.where(
        any_visible[:, None], xd - xg, np.maximum(zero, x0 - xd) + np.maximum(zero, xd - x1)
    )
    dy = np.where(
        any_visible[:, None], yd - yg, np.maximum(zero, y0 - yd) + np.maximum(zero, yd - y1)
    )
    variances = (sigmas * 2) ** 2
    e = (dx**2 + dy**2) / variances / (gt_area[:, None] + _EPS) / 2
    counted = np.where(any_visible[:, None], visible, True)
    total = np.where(counted, np.exp(-e), 0.0).sum(axis=1)
    return total / counted.sum(axis=1)


def _mask_group_iou(
    dt_masks: Sequence[tuple[np.ndarray, int, int]],
    gt_masks: Sequence[tuple[np.ndarray, int, int]],
    d_rows: np.ndarray,
    g_rows: np.ndarray,
    by_group: np.ndarray,
    g_crowd: np.ndarray,
    d_start: np.ndarray,
    d_count: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
) -> np.ndarray:
    """Mask IoUs of every (detection, object) pair of some groups, detection-major as the
    pairs are laid out (`assay.metrics.rle`: from the runs, pycocotools' numbers)."""
    from assay.metrics import rle

    groups = []
    for ds, dn, gs, gn in zip(d_start, d_count, g_start, g_count, strict=True):
        dets = [dt_masks[r][0] for r in d_rows[by_group[ds : ds + dn]]]
        objs = [gt_masks[r][0] for r in g_rows[gs : gs + gn]]
        groups.append((dets, objs, g_crowd[gs : gs + gn]))
    matrices = rle.iou_matrix_many(groups)
    return np.concatenate([m.ravel() for m in matrices]) if matrices else np.zeros(0)


# --- the evaluation ---


def rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2 … within each run of equal (sorted) group keys."""
    n = len(groups)
    if not n:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


class Ranks:
    """Values ranked high to low, equal ones by `then` (non-negative integers, ascending)
    and then input order: `position` is each one's place in that order (unique), `dense`
    equal for equal values, `ties` whether any two values are equal. Sorting floats stably
    costs five times a sort of unique integers, so ties are broken by a second sort only
    when there are any."""

    def __init__(self, values: np.ndarray, then: np.ndarray | None = None) -> None:
        n = len(values)
        extra = () if then is None else (then,)
        nan = np.isnan(values)
        if nan.any():  # NaN last, as numpy's sorts put them
            order = np.lexsort((np.arange(n), *extra, -values))
            ordered, nan = values[order], nan[order]
            new = np.r_[True, ~((ordered[1:] == ordered[:-1]) | (nan[1:] & nan[:-1]))]
        else:
            order = np.argsort(-values)
            ordered = values[order]
            new = np.r_[True, ordered[1:] != ordered[:-1]]
            if not new.all():  # equal values by `then`, then input order
                dense = np.empty(n, np.int64)
                dense[order] = np.cumsum(new) - 1
                order = unique_key_order(dense, *extra, np.arange(n))
                ordered = values[order]
                new = np.r_[True, ordered[1:] != ordered[:-1]]
        self.ties = not new.all()
        self.position = np.empty(n, np.int64)
        self.position[order] = np.arange(n)
        self.dense = self.position
        if self.ties:
            self.dense = np.empty(n, np.int64)
            self.dense[order] = np.cumsum(new) - 1


def unique_key_order(*keys: np.ndarray) -> np.ndarray:
    """np.lexsort's order of non-negative integer keys given most significant first, whose
    combination is unique (the last key tells any two rows apart): one unstable sort of
    the keys packed into an int64 (stability is moot when keys are unique), or lexsort
    when they do not fit."""
    n = len(keys[0])
    if not n:
        return np.zeros(0, np.int64)
    packed = np.zeros(n, np.int64)
    span = 1
    for key in keys:
        size = int(key.max()) + 1
        span *= size
        if span >= 1 << 62:
            return np.lexsort(keys[::-1])
        packed *= size
        packed += key
    return np.argsort(packed)


@dataclass
class Pairs:
    """The (detection, object) pairs whose IoU reaches the lowest threshold; d and g index
    the evaluated detections and objects."""

    d: np.ndarray
    g: np.ndarray
    iou: np.ndarray


def candidate_pairs(
    p: Params,
    gt: Objects,
    dt: Objects,
    g_rows: np.ndarray,
    g_group: np.ndarray,
    d_rows: np.ndarray,
    d_group: np.ndarray,
    by_group: np.ndarray,
    g_crowd: np.ndarray,
) -> Pairs:
    """by_group orders the detections by group (their own order is accumulation's)."""
    floor = min(float(np.min(p.iou_thresholds)), _IOU_CAP) if len(p.iou_thresholds) else 1.0
    # Groups with both detections and objects, and where each group's rows start.
    groups, g_start, g_count = _runs(g_group)  # both already sorted: no sort again
    d_groups, d_start, d_count = _runs(d_group[by_group])
    at = np.minimum(np.searchsorted(d_groups, groups), max(len(d_groups) - 1, 0))
    gi = np.flatnonzero(d_groups[at] == groups) if len(d_groups) else np.zeros(0, np.int64)
    di = at[gi]
    both = groups[gi]
    n_pairs = d_count[di] * g_count[gi]
    out_d, out_g, out_iou = [], [], []
    # Blocks of whole groups, so memory stays bounded however many pairs there are.
    bounds = np.searchsorted(
        np.cumsum(n_pairs), np.arange(PAIR_BLOCK, n_pairs.sum() + PAIR_BLOCK, PAIR_BLOCK)
    )
    start = 0
    for stop in np.unique(np.r_[bounds + 1, len(both)]):
        stop = min(int(stop), len(both))
        if stop <= start:
            continue
        sl = slice(start, stop)
        start = stop
        counts = n_pairs[sl]
        total = int(counts.sum())
        if not total:
            continue
        owner = np.repeat(np.arange(len(counts)), counts)
        offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        per_gt = g_count[gi][sl][owner]
        d = by_group[d_start[di][sl][owner] + offset // per_gt]
        g = g_start[gi][sl][owner] + offset % per_gt
        crowd = g_crowd[g]
        if p.iou_type == "bbox":
            iou = box_pair_iou(dt.boxes[d_rows[d]], gt.boxes[g_rows[g]], crowd)
        elif p.iou_type == "segm":
            iou = _mask_group_iou(
                dt.masks, gt.masks, d_rows, g_rows, by_group, g_crowd,
                d_start[di][sl], d_count[di][sl], g_start[gi][sl], g_count[gi][sl],
            )  # fmt: skip
        else:
            iou = keypoint_pair_oks(
                dt.keypoints[d_rows[d]],
                gt.keypoints[g_rows[g]],
                gt.boxes[g_rows[g]] if gt.boxes is not None else _keypoint_boxes(gt, g_rows[g]),
                gt.area[g_rows[g]],
                np.asarray(p.keypoint_sigmas, float),
            )
        keep = iou >= floor
        out_d.append(d[keep])
        out_g.append(g[keep])
        out_iou.append(iou[keep])
    if not out_d:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return Pairs(np.concatenate(out_d), np.concatenate(out_g), np.concatenate(out_iou))


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(..., return_index=True, return_counts=True) of keys already sorted."""
    if not len(sorted_keys):
        empty = np.zeros(0, np.int64)
        return sorted_keys[:0], empty, empty
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return sorted_keys[starts], starts, np.diff(np.r_[starts, len(sorted_keys)])


def _keypoint_boxes(gt: Objects, rows: np.ndarray) -> np.ndarray:
    raise ValueError("boxes: keypoint ground truth needs its boxes (COCO's bbox)")


def match_pairs(
    p: Params,
    pairs: Pairs,
    d_rank: np.ndarray,
    g_crowd: np.ndarray,
    g_ignore: np.ndarray,
    n_d: int,
) -> tuple[np.ndarray, np.ndarray]:
    """pycocotools' greedy matching in every world at once.

    A detection whose candidate objects no other detection reaches decides alone: all of
    those are settled in one pass. The others (duplicates competing for an object) follow
    pycocotools' order, one detection rank at a time, each step settling one detection of
    every image/category group, for every world."""
    T, A = len(p.iou_thresholds), len(p.area_ranges)
    W = A * T
    n_g = g_ignore.shape[1]
    d_match = np.full((W, n_d), -1, np.int32)
    d_iou = np.zeros((W, n_d), np.float32)
    if not len(pairs.d):
        return d_match, d_iou
    # Per detection, its pairs best first: higher IoU, then the later object (pycocotools
    # keeps the last of equal IoUs). Objects an area range ignores come after the others
    # in that range; that is added per world below.
    rank = d_rank[pairs.d]
    contested_g = np.bincount(pairs.g, minlength=n_g) > 1
    contested_d = np.zeros(n_d, bool)
    contested_d[pairs.d[contested_g[pairs.g]]] = True
    # Free detections first (as rank 0: they do not interact), then the contested by rank.
    step_key = np.where(contested_d[pairs.d], rank + 1, 0)
    best_first = Ranks(pairs.iou, then=n_g - 1 - pairs.g).position
    order = unique_key_order(step_key, pairs.d, best_first)
    d, g, iou, step_key = pairs.d[order], pairs.g[order], pairs.iou[order], step_key[order]
    crowd = g_crowd[g]
    d_start = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    position = (np.arange(len(d)) - np.repeat(d_start, np.diff(np.r_[d_start, len(d)]))).astype(
        np.int32
    )
    worst = np.int32(len(d) + 1)
    never = np.int32(2 * worst)
    thresholds = np.minimum(p.iou_thresholds, _IOU_CAP)
    world_t = np.tile(np.arange(T), A)
    world_a = np.repeat(np.arange(A), T)
    taken = np.zeros((W, n_g), bool)
    steps = np.searchsorted(step_key, np.arange(step_key[-1] + 2))
    # A free detection with a single candidate takes it wherever its IoU reaches the
    # threshold: no preference to work out.
    a, b = steps[0], steps[1]
    single = np.zeros(b - a, bool)
    if b > a:
        starts = d_start[: np.searchsorted(d_start, b)]
        lengths = np.diff(np.r_[starts, b])
        single[starts[lengths == 1] - a] = True
        k1 = np.flatnonzero(single) + a
        d1, g1, iou1 = d[k1], g[k1], iou[k1]
        # Row by row (a world's row is contiguous): no index arrays of every world's hits.
        for t in range(T):
            hit = iou1 >= thresholds[t]
            dk, gk, ik = d1[hit], g1[hit], iou1[hit]
            for area in range(A):
                d_match[area * T + t, dk] = gk
                d_iou[area * T + t, dk] = ik
    for r in range(len(steps) - 1):
        a, b = steps[r], steps[r + 1]
        if r == 0:
            # The free detections with several candidates (the single ones are done).
            idx = np.flatnonzero(~single) + a
            check_taken = False
        else:
            idx = np.arange(a, b)
            check_taken = True
        if not len(idx):
            continue
        pd, pg, piou, pcrowd = d[idx], g[idx], iou[idx], crowd[idx]
        # Preference of a pair in a world: its position, after all unignored ones if
        # ignored; out of reach below the threshold or when its object is taken.
        prio = g_ignore[:, pg][world_a].astype(np.int32)
        prio *= worst
        prio += position[idx]
        prio[piou[None, :] < thresholds[world_t][:, None]] = never
        if check_taken:
            prio[taken[:, pg] & ~pcrowd[None, :]] = never
        starts = np.flatnonzero(np.r_[True, pd[1:] != pd[:-1]])
        best = np.minimum.reduceat(prio, starts, axis=1)
        seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(idx)]))
        chosen = (prio == best[:, seg]) & (prio < never)
        w, k = np.nonzero(chosen)
        dd, gg = pd[k], pg[k]
        d_match[w, dd] = gg
        d_iou[w, dd] = piou[k]
        keep = ~pcrowd[k]
        taken[w[keep], gg[keep]] = True
    return d_match, d_iou

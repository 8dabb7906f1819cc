"""Mask IoU over run-length counts (`assay.metrics.rle`), bit for bit as pycocotools.mask's
`iou`: `iou_matrix` for one image-category group, `iou_matrix_many` for many in one
vectorised pass (re-exported by `rle`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.metrics.rle_runs import counts_of, split_at

_IOU_CHUNK = 1 << 16  # (dt, gt run) queries per searchsorted call in iou_matrix_many
_IOU_GROUP_MASKS = 256  # masks of the groups iou_matrix_many takes together (small: cache)


def _stop(a: np.ndarray, b: np.ndarray) -> int:
    """Where pycocotools' iou loop stops on two masks: the first place where both have a
    run of length 0 after the first run, or the end."""
    zero_a = np.cumsum(a)[1:][a[1:] == 0]
    zero_b = np.cumsum(b)[1:][b[1:] == 0]
    both = np.intersect1d(zero_a, zero_b)
    return int(both[0]) if len(both) else int(a.sum())


def _truncated(counts: np.ndarray, stop: int) -> np.ndarray:
    """The mask's pixels before `stop`, the rest 0 (same total)."""
    out = np.diff(np.minimum(np.cumsum(counts), stop), prepend=0)
    rest = int(counts.sum()) - stop
    if len(out) % 2:  # ends on a run of 0s
        out[-1] += rest
        return out
    return np.append(out, rest)


def iou_matrix(dt: Sequence, gt: Sequence, iscrowd: Sequence) -> np.ndarray:
    """IoU of every (detection, ground truth) pair of masks → (len(dt), len(gt)) float64.

    As pycocotools' `iou(dt, gt, iscrowd)`: the intersection over the union, or over the
    detection's area where the ground truth is a crowd; 0 when the masks do not meet (also
    for two empty masks). Computed from the runs, never the pixels. Unlike pycocotools, an
    empty dt or gt gives an empty (len(dt), len(gt)) array rather than [], and masks of
    different sizes raise ValueError rather than scoring -1 where their boxes overlap
    (sizes are told apart by their pixel totals: counts carry no height). Like
    pycocotools, a pair whose masks both have a run of length 0 at one place is measured
    only up to there.
    """
    return iou_matrix_many([(dt, gt, iscrowd)])[0]


def iou_matrix_many(groups: Sequence[tuple[Sequence, Sequence, Sequence]]) -> list[np.ndarray]:
    """`iou_matrix` of many (dt, gt, iscrowd) groups at once (an image and category each)."""
    out: list[np.ndarray] = []
    first = 0
    while first < len(groups):  # about _IOU_GROUP_MASKS masks at a time
        last, masks = first, 0
        while last < len(groups) and (last == first or masks <= _IOU_GROUP_MASKS):
            masks += len(groups[last][0]) + len(groups[last][1])
            last += 1
        out += _iou_groups(groups[first:last])
        first = last
    return out


_PAD = np.zeros(1, dtype=np.int64)


def _laid_out(masks: list[np.ndarray], lengths: np.ndarray):
    """The masks end to end in one line: their runs of 1s (start in the line, length;
    runs of length 0 left out), each mask's area, whether it has a run of length 0 other
    than its first and last, its total and offset in the line, and the span [first, last)
    of its 1s within the mask (empty: first = last = 0)."""
    if not len(masks):
        nothing = np.zeros(0, dtype=np.int64)
        return nothing, nothing, nothing, nothing > 0, nothing, nothing, nothing.reshape(0, 2)
    # Each mask padded to an even number of counts (with a last run of 1s of length 0), so
    # that the runs of 1s are the odd places of the whole line.
    parts = []
    for counts in masks:
        parts.append(counts)
        if len(counts) % 2:
            parts.append(_PAD)
    flat = counts_of(np.concatenate(parts))
    padded = lengths + lengths % 2
    first = np.cumsum(padded) - padded
    ends = np.cumsum(flat)
    offset = ends[first] - flat[first]
    total = ends[first + padded - 1] - offset
    ones, ones_end = flat[1::2], ends[1::2]
    areas = np.add.reduceat(ones, first // 2)
    some = ones > 0
    runs = np.add.reduceat(some.astype(np.int64), first // 2)
    start, length = (ones_end - ones)[some], ones[some]
    first_run = np.cumsum(runs) - runs
    has = runs > 0
    span = np.zeros((len(masks), 2), dtype=np.int64)
    span[has, 0] = start[first_run[has]] - offset[has]
    span[has, 1] = (start + length)[first_run[has] + runs[has] - 1] - offset[has]
    zeros = np.flatnonzero(flat == 0)
    owner = np.searchsorted(first, zeros, side="right") - 1
    rank = zeros - first[owner]
    inner = owner[(rank >= 1) & (rank <= lengths[owner] - 2)]
    zero = np.bincount(inner, minlength=len(masks)) > 0
    return start, length, areas, zero, total, offset, span


def _iou_groups(groups) -> list[np.ndarray]:
    n_dt = np.array([len(d) for d, _, _ in groups], dtype=np.int64)
    n_gt = np.array([len(g) for _, g, _ in groups], dtype=np.int64)
    crowd = [np.asarray(c, dtype=bool).reshape(-1) for _, _, c in groups]
    if any(len(c) != n for c, n in zip(crowd, n_gt, strict=True)):
        raise ValueError("iou_matrix needs one iscrowd flag per ground truth")
    dt = [np.asarray(c, dtype=np.int64).reshape(-1) for d, _, _ in groups for c in d]
    gt = [np.asarray(c, dtype=np.int64).reshape(-1) for _, g, _ in groups for c in g]
    dt_len = np.fromiter(map(len, dt), dtype=np.int64, count=len(dt))
    gt_len = np.fromiter(map(len, gt), dtype=np.int64, count=len(gt))
    if (dt and dt_len.min() == 0) or (gt and gt_len.min() == 0):
        raise ValueError("iou_matrix needs masks of at least one count")
    dt_start, dt_length, dt_area, dt_zero, dt_total, dt_offset, dt_span = _laid_out(dt, dt_len)
    gt_start, gt_length, gt_area, gt_zero, gt_total, gt_offset, gt_span = _laid_out(gt, gt_len)
    dt_group = np.repeat(np.arange(len(groups)), n_dt)
    gt_group = np.repeat(np.arange(len(groups)), n_gt)
    size = np.full(len(groups), -1, dtype=np.int64)
    size[gt_group] = gt_total
    size[dt_group] = dt_total
    if np.any(dt_total != size[dt_group]) or np.any(gt_total != size[gt_group]):
        raise ValueError("iou_matrix needs the masks of a group to be of one size")

    # Pairs: every dt with every gt of its group, dt-major.
    pair_dt = np.repeat(np.arange(len(dt)), n_gt[dt_group])
    first_pair = np.cumsum(n_gt[dt_group]) - n_gt[dt_group]
    group_first_gt = np.cumsum(n_gt) - n_gt
    pair_gt = np.arange(len(pair_dt)) - first_pair[pair_dt] + group_first_gt[dt_group][pair_dt]
    # Only the gt's runs within the span of the dt's 1s can meet it: [low, high) of them.
    span_d, span_g = dt_span[pair_dt], gt_span[pair_gt]
    meet = (span_d[:, 0] < span_g[:, 1]) & (span_g[:, 0] < span_d[:, 1])
    candidate = np.flatnonzero(meet)
    d, g = pair_dt[candidate], pair_gt[candidate]
    low = np.searchsorted(gt_start + gt_length, gt_offset[g] + dt_span[d, 0], side="right")
    high = np.searchsorted(gt_start, gt_offset[g] + dt_span[d, 1], side="left")
    some = high > low
    candidate, low, per_pair = candidate[some], low[some], (high - low)[some]
    # Moves a gt run from the gt's stretch of the laid-out gts into the dt's.
    shift = (dt_offset[d] - gt_offset[g])[some]
    inter = np.zeros(len(pair_dt), dtype=np.int64)
    coverage = _Coverage(dt_start, dt_length)
    bounds = np.searchsorted(np.cumsum(per_pair), np.arange(1, per_pair.sum() // _IOU_CHUNK + 1))
    for part in np.split(np.arange(len(candidate)), bounds):  # ~_IOU_CHUNK queries a part
        counts = per_pair[part]
        first = np.cumsum(counts) - counts
        run = np.repeat(low[part] - first, counts) + np.arange(int(counts.sum()))
        x = gt_start[run] + np.repeat(shift[part], counts)
        inter[candidate[part]] = np.add.reduceat(coverage.within(x, x + gt_length[run]), first)
    union = dt_area[pair_dt] + gt_area[pair_gt] - inter
    for k in np.flatnonzero(dt_zero[pair_dt] & gt_zero[pair_gt]):  # rare: see _stop_early
        inter[k], union[k] = _stop_early(dt[pair_dt[k]], gt[pair_gt[k]], inter[k], union[k])
    is_crowd = np.concatenate(crowd)[pair_gt] if len(pair_gt) else np.zeros(0, bool)
    over = np.where(is_crowd, dt_area[pair_dt], union)
    iou = np.zeros(len(pair_dt))
    np.divide(inter, over, out=iou, where=inter > 0)
    cuts = np.cumsum(n_dt * n_gt)
    return [
        block.reshape(d, g) for block, d, g in zip(split_at(iou, cuts), n_dt, n_gt, strict=True)
    ]


class _Coverage:
    """Pixels of sorted runs [starts, starts + lengths) within any intervals."""

    def __init__(self, starts: np.ndarray, lengths: np.ndarray) -> None:
        # A first run of length 0 far before every position: every search lands on a run.
        self.starts = np.concatenate(([-(1 << 62)], starts))
        self.through = np.concatenate(([0], np.cumsum(lengths)))  # pixels to each run's end
        self.shift = self.through - np.concatenate(([0], lengths)) - self.starts

    def within(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        # One search for both ends, interleaved so that the keys mostly ascend (numpy's
        # binary search starts from the previous key's answer when they do).
        x = np.empty(2 * len(low), dtype=np.int64)
        x[::2], x[1::2] = low, high
        run = np.searchsorted(self.starts, x, side="right") - 1
        before = np.minimum(x + self.shift[run], self.through[run])  # x within or past run
        return before[1::2] - before[::2]


def _stop_early(a: np.ndarray, b: np.ndarray, inter: int, union: int) -> tuple[int, int]:
    """Intersection and union of two masks up to where pycocotools' iou loop stops: short
    of the end where both have a run of length 0 at one place (after their first runs)."""
    stop = _stop(a, b)
    if stop == a.sum():
        return inter, union
    a, b = _truncated(a, stop), _truncated(b, stop)
    start_a, length_a, (area_a,), *_ = _laid_out([a], np.array([len(a)]))
    start_b, length_b, (area_b,), *_ = _laid_out([b], np.array([len(b)]))
    inter = int(np.sum(_Coverage(start_a, length_a).within(start_b, start_b + length_b)))
    return inter, int(area_a + area_b - inter)

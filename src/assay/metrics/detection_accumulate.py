"""The accumulating half of the COCO evaluation (`assay.metrics.detection`): precision,
recall and scores from the matches, as COCOeval.accumulate, and the summary numbers.

Every category's detections are sorted once per max-detections setting; the cumulative
TP/FP counts are segmented integer cumsums, the recall thresholds are found on the integer
TP counts (exact: no float offsets), and only the precision envelope is taken per
category. Curves are accumulated only for the settings asked (`curves_needed`); the others
get recall alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from assay.metrics.detection import Params

_EPS = np.spacing(1)
# Match events accumulated together (worlds are taken a chunk at a time).
CHUNK_EVENTS = 1 << 20

DETECTION_STATS = (
    ("AP", 1, None, "all", -1),
    ("AP50", 1, 0.5, "all", 2),
    ("AP75", 1, 0.75, "all", 2),
    ("APs", 1, None, "small", 2),
    ("APm", 1, None, "medium", 2),
    ("APl", 1, None, "large", 2),
    ("AR1", 0, None, "all", 0),
    ("AR10", 0, None, "all", 1),
    ("AR100", 0, None, "all", 2),
    ("ARs", 0, None, "small", 2),
    ("ARm", 0, None, "medium", 2),
    ("ARl", 0, None, "large", 2),
)
KEYPOINT_STATS = (
    ("AP", 1, None, "all", 20),
    ("AP50", 1, 0.5, "all", 20),
    ("AP75", 1, 0.75, "all", 20),
    ("APm", 1, None, "medium", 20),
    ("APl", 1, None, "large", 20),
    ("AR", 0, None, "all", 20),
    ("AR50", 0, 0.5, "all", 20),
    ("AR75", 0, 0.75, "all", 20),
    ("ARm", 0, None, "medium", 20),
    ("ARl", 0, None, "large", 20),
)


# --- IoU of pairs ---


def _nonzero_2d(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a C-contiguous 2-D mask, a third of its time: flat positions split by
    the row length (in 32 bits when they fit)."""
    n = mask.shape[1]
    flat = np.flatnonzero(mask)
    if mask.size < 1 << 31:
        flat = flat.astype(np.int32)
    row = flat // max(n, 1)
    return row, flat - row * n


def accumulate(
    p: Params,
    K: int,
    score: np.ndarray,
    rank: np.ndarray,
    d_cat: np.ndarray,
    g_cat: np.ndarray,
    d_matched: np.ndarray,
    d_good: np.ndarray,
    g_ignore: np.ndarray,
    d_out_of_range: np.ndarray,
    g_keep: np.ndarray | None = None,
    curves_for: Collection[int] | None = None,
    sums_only: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COCOeval.accumulate from the matches; detections come in accumulation order.
    curves_for: the max-detections settings (indices) whose precision and scores are
    accumulated (all by default); the others get recall only, and NaN curves.
    d_matched / d_good (W x detections): matched, and matched to an object not ignored.
    g_keep: the objects of the images evaluated (all by default).
    sums_only: instead of the curves, what the summary's means need (`PrecisionSums`):
    per (world, category) the sum of the interpolated precision over the recall
    thresholds, from the true positives alone — a slice with a few true positives per
    category then costs its true positives, not categories x worlds x 101 thresholds.
    Returns (sums (T, K, A, M), kept (T, K, A), recall) then."""
    T, R = len(p.iou_thresholds), len(p.recall_thresholds)
    A, M = len(p.area_ranges), len(p.max_detections)
    W = A * T
    # Laid out (max-detections, world, category, recall threshold) while filled; returned
    # as COCOeval's (T, R, K, A, M) views.
    P = np.empty((0 if sums_only else M, W * K, R))
    S = np.empty(P.shape)
    sums = np.full((M, W * K), np.nan)
    Rc = np.empty((M, W * K))
    world_a = np.repeat(np.arange(A), T)
    # Objects to find per area range and category. pycocotools skips a category no image
    # has detections or objects of, and one with nothing to find in an area range.
    g_keep = np.ones(len(g_cat), bool) if g_keep is None else g_keep
    npig = np.stack([np.bincount(g_cat[g_keep & ~g_ignore[a]], minlength=K) for a in range(A)])
    present = np.zeros(K, bool)
    present[g_cat[g_keep]] = True
    present[d_cat] = True
    keep = (present[None, :] & (npig > 0))[world_a]  # W x K
    # For each recall threshold x, the least TP count j with j / npig >= x: pycocotools'
    # searchsorted(rc, x, 'left') lands on the j-th true positive.
    need = _least_count(p.recall_thresholds[None, None, :], np.maximum(npig, 1)[:, :, None])
    need_f = need[world_a].reshape(W * K, R)
    if sums_only:
        weigh = _ThresholdWeights(need)
    zero_cols = np.flatnonzero(p.recall_thresholds <= 0)  # need 0 exactly there
    keep_f = keep.ravel()
    npig_f = npig[world_a].ravel()
    cat_start = np.searchsorted(d_cat, np.arange(K + 1))
    in_range = ~d_out_of_range  # A x n
    # Per max-detections setting: which detections count, how many per category, and the
    # running count of in-range ones per area range (ignored detections are not counted).
    cut = []
    for m, max_det in enumerate(p.max_detections):
        within = rank < max_det
        kept = np.flatnonzero(within)
        k_lo = np.searchsorted(kept, cat_start[:K])
        n_k = np.searchsorted(kept, cat_start[1:]) - k_lo
        base = before = None  # only curves need the running counts
        if curves_for is None or m in curves_for:
            base = np.cumsum(in_range & within[None, :], axis=1, dtype=np.int64)  # A x n
            before = np.zeros((A, K), np.int64)
            if len(within):
                before = np.where(cat_start[:K] > 0, base[:, np.maximum(cat_start[:K] - 1, 0)], 0)
        top = score[kept[np.minimum(k_lo, len(kept) - 1)]] if len(kept) else np.zeros(K)
        cut.append((within, bool(within.all()), n_k, base, before, top))
    # Recall-only settings count a segment's true positives by rank bucket, all at once.
    recall_only = [m for m in range(M) if curves_for is not None and m not in curves_for]
    by_limit = np.argsort(p.max_detections, kind="stable")
    limits, place = np.asarray(p.max_detections)[by_limit], np.argsort(by_limit)
    # Worlds a chunk at a time: one chunk when there are few matches (few calls), else
    # about a million match events per chunk (arrays that stay in cache). Within a chunk,
    # the matches by world, then position. A detection counts (as TP or FP) unless
    # ignored — when unmatched, outside the area range; when matched, if its object is — so
    # the count is the in-range detections', corrected at the matches.
    per_world = d_matched.sum(axis=1) if W else np.zeros(0, np.int64)
    bounds = [0]
    events = 0
    for w in range(W):
        if events and events + per_world[w] > CHUNK_EVENTS:
            bounds.append(w)
            events = 0
        events += int(per_world[w])
    bounds.append(W)
    for w0, w1 in itertools.pairwise(bounds):
        n_w = w1 - w0
        rows = slice(w0 * K, w1 * K)
        m_w, m_pos = _nonzero_2d(d_matched[w0:w1])
        m_a = world_a[w0 + m_w]
        m_good = d_good[w0 + m_w, m_pos]
        m_delta = m_good.astype(np.int32) - in_range[m_a, m_pos]
        if recall_only:
            # A good match at rank r counts for every setting above r: per (world,
            # category), the count per smallest setting it fits, summed upwards.
            g_pos = m_pos[m_good]
            bucket = np.searchsorted(limits, rank[g_pos], side="right")
            seg = (m_w[m_good] * K + d_cat[g_pos]) * (M + 1) + bucket
            by_bucket = np.bincount(seg, minlength=n_w * K * (M + 1)).reshape(n_w * K, M + 1)
            tp_within = np.cumsum(by_bucket, axis=1)  # [:, j]: rank < limits[j]
        for m, (within, all_within, n_k, base, before, top) in enumerate(cut):
            keep_w = keep_f[rows]
            n_k_w = np.tile(n_k, n_w)
            if m in recall_only:
                n_tp = tp_within[:, place[m]]
                if not sums_only:
                    P[m, rows] = np.nan
                    S[m, rows] = np.nan
                with np.errstate(divide="ignore", invalid="ignore"):
                    Rc[m, rows] = np.where(
                        keep_w, np.where(n_k_w > 0, n_tp / npig_f[rows], 0.0), -1.0
                    )
                continue
            if all_within:
                e_w, e_pos, e_good, e_delta = m_w, m_pos, m_good, m_delta
            else:
                sel = within[m_pos]
                e_w, e_pos, e_good, e_delta = m_w[sel], m_pos[sel], m_good[sel], m_delta[sel]
            e_seg = e_w * K + d_cat[e_pos]
            seg_first = np.searchsorted(e_seg, np.arange(n_w * K + 1))
            corr = np.cumsum(e_delta)
            # Only true positives are visited (precision only rises there): the c-th of a
            # category has precision c / (detections counted so far + eps).
            at = np.flatnonzero(e_good)
            t_pos, t_seg = e_pos[at], e_seg[at]
            t_a, t_cat = world_a[w0 + e_w[at]], t_seg % K
            start = seg_first[t_seg]
            counted = (
                base[t_a, t_pos]
                - before[t_a, t_cat]
                + corr[at]
                - np.where(start > 0, corr[np.maximum(start - 1, 0)], 0)
            )
            t_first = np.searchsorted(t_seg, np.arange(n_w * K + 1))
            n_tp = np.diff(t_first)
            c = np.arange(len(t_seg)) - t_first[t_seg] + 1
            pr = c / (counted.astype(float) + _EPS)
            with np.errstate(divide="ignore", invalid="ignore"):
                Rc[m, rows] = np.where(keep_w, np.where(n_k_w > 0, n_tp / npig_f[rows], 0.0), -1.0)
            if sums_only:
                # The interpolated precision at the c-th true positive is the largest from
                # there to the category's end; it stands for each threshold needing c.
                envelope = _segment_suffix_max(pr, t_first[t_seg + 1])
                sums[m, rows] = np.bincount(
                    t_seg, envelope * weigh(t_a * K + t_cat, c), minlength=n_w * K
                )
                continue
            Pm, Sm = P[m, rows], S[m, rows]
            Pm[:] = np.where(keep_w, 0.0, -1.0)[:, None]
            Sm[:] = Pm
            # At a recall threshold of 0 (need 0) the score is the category's first
            # detection's.
            z = keep_w & (n_k_w > 0)
            top_w = np.tile(top, n_w)
            for col in zero_cols:
                Sm[:, col] = np.where(z, top_w, Sm[:, col])
            # (World, category) rows with a true positive: the interpolated precision at
            # threshold r is the largest from the need[r]-th true positive to the
            # category's end — block maxima between consecutive thresholds (reduceat,
            # exact), then a running maximum over the thresholds from the right.
            act = np.flatnonzero(keep_w & (n_tp > 0))
            if len(act):
                nd = need_f[rows][act]
                reach = nd <= n_tp[act][:, None]
                first = t_first[act][:, None] + np.maximum(nd - 1, 0)
                starts = np.concatenate([first, t_first[act + 1][:, None]], axis=1)
                use = np.concatenate([reach, np.ones((len(act), 1), bool)], axis=1)
                block = np.full(use.shape, -np.inf)
                block[use] = np.maximum.reduceat(np.r_[pr, 0.0], starts[use])
                q = np.maximum.accumulate(block[:, :-1][:, ::-1], axis=1)[:, ::-1]
                Pm[act] = np.where(reach, q, 0.0)
                values = np.where(reach, score[t_pos[np.minimum(first, len(t_pos) - 1)]], 0.0)
                values[:, zero_cols] = Sm[act][:, zero_cols]
                Sm[act] = values
    recall = Rc.reshape(M, A, T, K).transpose(2, 3, 1, 0)
    if sums_only:
        kept = keep.reshape(A, T, K).transpose(1, 2, 0)
        return sums.reshape(M, A, T, K).transpose(2, 3, 1, 0), kept, recall
    precision = P.reshape(M, A, T, K, R).transpose(2, 4, 3, 1, 0)
    scores = S.reshape(M, A, T, K, R).transpose(2, 4, 3, 1, 0)
    return precision, recall, scores


def _segment_suffix_max(x: np.ndarray, end: np.ndarray) -> np.ndarray:
    """x's running maximum from the right within segments (end[j]: one past the last index
    of j's segment), exactly, by doubling: after the pass of step s each value covers
    [j, j + 2s) of its segment; positions whose segment is covered drop out."""
    out = x.copy()
    live = np.flatnonzero(end - np.arange(len(x)) > 1)
    step = 1
    while len(live):
        ahead = live + step
        ok = ahead < end[live]
        live, ahead = live[ok], ahead[ok]
        out[live] = np.maximum(out[live], out[ahead])
        step *= 2
    return out


class _ThresholdWeights:
    """How many recall thresholds read the c-th true positive of an (area range, category)
    row: those whose least count (`need`, A x K x R, rising along R) is c — a need of 0
    reads the first, as COCOeval's searchsorted does."""

    def __init__(self, need: np.ndarray) -> None:
        A, K, R = need.shape
        least = np.maximum(need, 1).reshape(A * K, R)
        self.span = int(least.max(initial=1)) + 1
        self.keys = (np.arange(A * K)[:, None] * self.span + least).ravel()  # sorted

    def __call__(self, row: np.ndarray, c: np.ndarray) -> np.ndarray:
        """row: a * K + k of each true positive; c: its count in its row (from 1)."""
        key = row * self.span + np.where(c < self.span, c, 0)  # no threshold needs 0 here
        return np.searchsorted(self.keys, key, "right") - np.searchsorted(self.keys, key, "left")


def curves_needed(p: Params) -> set[int]:
    """The max-detections settings whose precision the summary's AP reads, and the last
    (per-class AP and PR curves)."""
    table = KEYPOINT_STATS if p.iou_type == "keypoints" else DETECTION_STATS
    needed = {len(p.max_detections) - 1}
    for _name, ap, _thr, _area, max_det in table:
        if not ap:
            continue
        if p.iou_type == "keypoints" or max_det == -1:
            wanted = max_det if p.iou_type == "keypoints" else 100
        elif max_det < len(p.max_detections):
            wanted = p.max_detections[max_det]
        else:
            continue
        if wanted in p.max_detections:
            needed.add(p.max_detections.index(wanted))
    return needed


def _least_count(thresholds: np.ndarray, total: np.ndarray) -> np.ndarray:
    """For each threshold x, the least integer j with j / total >= x (float division)."""
    j = np.ceil(thresholds * total).astype(np.int64)
    j = np.where((j - 1) / total >= thresholds, j - 1, j)
    j = np.where(j / total < thresholds, j + 1, j)
    return np.maximum(j, 0)


def summarize(p: Params, precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """COCOeval.summarize's numbers from the precision and recall arrays."""

    def ap(t: np.ndarray | slice, a: int, m: int) -> float:
        s = precision[t, :, :, a, m]
        v = s[s > -1]
        return np.mean(v) if len(v) else -1.0

    return _summary(p, recall, ap)


def summarize_sums(p: Params, sums: np.ndarray, kept: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """The same numbers from `accumulate(sums_only=True)`: an AP is the mean of the
    precision over the kept (world, category) rows' recall thresholds."""
    R = len(p.recall_thresholds)

    def ap(t: np.ndarray | slice, a: int, m: int) -> float:
        rows = kept[t, :, a]
        n = int(rows.sum()) * R
        return float(sums[t, :, a, m][rows].sum() / n) if n else -1.0

    return _summary(p, recall, ap)


def _summary(p: Params, recall: np.ndarray, ap: Callable[..., float]) -> np.ndarray:
    table = KEYPOINT_STATS if p.iou_type == "keypoints" else DETECTION_STATS
    out = np.full(len(table), -1.0)
    for i, (_name, is_ap, thr, area, max_det) in enumerate(table):
        if area not in p.area_labels:
            continue
        a = p.area_labels.index(area)
        if p.iou_type == "keypoints":
            if max_det not in p.max_detections:
                continue
            m = p.max_detections.index(max_det)
        else:
            if max_det == -1:
                wanted = 100
            else:
                if max_det >= len(p.max_detections):
                    continue
                wanted = p.max_detections[max_det]
            if wanted not in p.max_detections:
                continue
            m = p.max_detections.index(wanted)
        t = slice(None) if thr is None else np.flatnonzero(thr == p.iou_thresholds)
        if is_ap:
            out[i] = ap(t, a, m)
        else:
            v = recall[t, :, a, m]
            v = v[v > -1]
            out[i] = np.mean(v) if len(v) else -1.0
    return out

"""Detection evaluation with the COCO protocol, the same numbers as pycocotools' COCOeval.

`evaluate(gt, dt, params)` reproduces `COCOeval.evaluate(); accumulate(); summarize()`:
the precision array (T x R x K x A x M), recall (T x K x A x M), the scores at each recall
threshold, the twelve summary numbers (ten for keypoints) and per-class AP — for boxes,
masks (RLE, or polygons rasterised by `assay.metrics.rle` as pycocotools does), keypoints
(OKS) and crowd regions — and, beyond COCOeval, each detection's and each ground-truth
object's match at every IoU threshold and area range (for writing TP / FP / FN back).

What pycocotools does in Python loops per image, category, area range, threshold and
detection, this does on whole arrays, in two halves:

- `assay.metrics.detection_match`: IoUs only for the (detection, object) pairs of one
  image and category; the greedy matching stepping through the detections' ranks, each
  step settling one detection of every image/category group for all thresholds and area
  ranges together ("worlds", A x T of them).
- `assay.metrics.detection_accumulate`: precision, recall and scores from the matches as
  segmented integer counts, and the summary numbers.

Beyond COCOeval, `Params.label_matches` lets a detection take an object of another,
allowed category (`assay.metrics.detection_labels`; none: pycocotools' numbers).

- `assay.metrics.detection_data`: the parameters (`Params`) and the objects and detections
  read (`Objects`), and each one's match as answered (re-exported here).

This module holds the evaluation that orders the detections and runs both halves, and what
it answers (`Results`, `Evaluation`, the `MatchState` kept to re-evaluate slices and merge
evaluations without matching again).

pycocotools' orders are kept where they decide ties: detections sorted by score with a
stable sort (input order on ties), images in ascending id order, objects of a group in
input order with ignored ones last, and among equally good objects the last one wins.
Ids play no part (pycocotools' test `dtm > 0` assumes ids are not 0; COCO's start at 1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assay.metrics import detection_labels as labels
from assay.metrics.detection_accumulate import (
    DETECTION_STATS,
    KEYPOINT_STATS,
    accumulate,
    curves_needed,
    summarize,
    summarize_sums,
)
from assay.metrics.detection_data import (
    COCO_KEYPOINT_SIGMAS,
    DetectionMatches,
    ObjectMatches,
    Objects,
    Params,
)
from assay.metrics.detection_match import (
    Ranks,
    candidate_pairs,
    match_pairs,
    rank_in_group,
    unique_key_order,
)

__all__ = [
    "COCO_KEYPOINT_SIGMAS",
    "DetectionMatches",
    "Evaluation",
    "MatchState",
    "ObjectMatches",
    "Objects",
    "Params",
    "Results",
    "evaluate",
]


@dataclass
class Results:
    """COCOeval's numbers over some images: precision[t, r, k, a, m], recall[t, k, a, m],
    scores[t, r, k, a, m] as COCOeval.eval (-1 where a category has nothing to find), stats
    in COCOeval.stats' order (`summary()` names them).

    The summary's AP reads the precision of one max-detections setting (COCO's 100), and
    its AR1 / AR10 only recall: the other settings' precision and scores are accumulated
    when first read (`_complete`), so an evaluation whose curves at 1 and 10 detections
    nobody asks for never pays for them. A slice's results (`MatchState.restricted_to`)
    come with none: the curves (`_curves`) are accumulated when first read, too."""

    params: Params
    image_ids: np.ndarray
    category_ids: np.ndarray
    _precision: np.ndarray | None
    recall: np.ndarray
    _scores: np.ndarray | None
    stats: np.ndarray
    _complete: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = field(
        default=None, repr=False
    )
    _curves: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = field(
        default=None, repr=False
    )

    @property
    def precision(self) -> np.ndarray:
        self._fill()
        return self._precision

    @property
    def scores(self) -> np.ndarray:
        self._fill()
        return self._scores

    def _fill(self) -> None:
        if self._complete is not None:
            self._precision, _, self._scores = self._complete()
            self._complete = self._curves = None

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """precision[t, r, k, a] and scores[t, r, k, a] at the largest max-detections (what
        PR curves and per-class AP read)."""
        if self._curves is not None:
            self._precision, _, self._scores = self._curves()
            self._curves = None
        assert self._precision is not None and self._scores is not None
        return self._precision[..., -1], self._scores[..., -1]

    def world(self, iou_threshold: float, area: str = "all") -> int:
        """The index w = a * T + t of an (IoU threshold, area range) pair."""
        t = np.flatnonzero(np.isclose(self.params.iou_thresholds, iou_threshold, atol=1e-9))
        if not len(t):
            raise ValueError(f"iou_threshold: {iou_threshold} is not among the thresholds")
        return self.params.area_labels.index(area) * len(self.params.iou_thresholds) + int(t[0])

    def summary(self) -> dict[str, float]:
        names = KEYPOINT_STATS if self.params.iou_type == "keypoints" else DETECTION_STATS
        return {name: float(v) for (name, *_), v in zip(names, self.stats, strict=False)}

    def per_class_ap(self, iou_threshold: float | None = None, area: str = "all") -> np.ndarray:
        """AP per category (the category_ids' order) at the largest max-detections; -1 where
        a category has nothing to find."""
        s = self.curves()[0]
        if iou_threshold is not None:
            s = s[np.flatnonzero(self.params.iou_thresholds == iou_threshold)]
        s = s[:, :, :, self.params.area_labels.index(area)]
        out = np.full(s.shape[2], -1.0)
        for k in range(s.shape[2]):
            v = s[:, :, k]
            v = v[v > -1]
            if len(v):
                out[k] = np.mean(v)
        return out


@dataclass
class MatchState:
    """What accumulation needs of an evaluation, kept to evaluate subsets of its images
    again without matching (`restricted_to`), small enough to store (`to_bytes`: the
    per-world flags bit-packed — about 2.5 bytes per detection and threshold pair)."""

    params: Params
    image_ids: np.ndarray
    category_ids: np.ndarray
    d_image: np.ndarray  # per evaluated detection, in accumulation order
    d_score: np.ndarray
    d_rank: np.ndarray  # in its image/category group, by score
    d_cat: np.ndarray  # category index (0 without categories)
    d_matched: np.ndarray  # W x detections: matched in that world
    d_good: np.ndarray  # W x detections: matched to an object not ignored
    d_out_of_range: np.ndarray  # A x detections
    g_image: np.ndarray  # per object
    g_cat: np.ndarray
    g_ignore: np.ndarray  # A x objects

    def restricted_to(self, image_ids: Sequence[int] | np.ndarray) -> Results:
        """The evaluation of a subset of the images (a slice) from the stored matches: no
        IoU and no matching again — matching is per image, so each image's matches stand.
        The same numbers as COCOeval with params.imgIds set to those images."""
        images = np.intersect1d(self.image_ids, np.asarray(image_ids, np.int64))
        d_sel = np.flatnonzero(np.isin(self.d_image, images))
        g_sel = np.isin(self.g_image, images)
        args = (
            self.params, len(self.category_ids), self.d_score[d_sel], self.d_rank[d_sel],
            self.d_cat[d_sel], self.g_cat, np.take(self.d_matched, d_sel, axis=1),
            np.take(self.d_good, d_sel, axis=1), self.g_ignore,
            np.take(self.d_out_of_range, d_sel, axis=1),
        )  # fmt: skip
        needed = curves_needed(self.params)
        sums, kept, recall = accumulate(*args, g_keep=g_sel, curves_for=needed, sums_only=True)
        stats = summarize_sums(self.params, sums, kept, recall)
        return Results(
            self.params, images, self.category_ids, None, recall, None, stats,
            lambda: accumulate(*args, g_keep=g_sel),
            lambda: accumulate(*args, g_keep=g_sel, curves_for=needed),
        )  # fmt: skip

    def subset(self, image_ids: Sequence[int] | np.ndarray) -> MatchState:
        """The state of some of its images (their detections keep accumulation order)."""
        images = np.intersect1d(self.image_ids, np.asarray(image_ids, np.int64))
        d_sel = np.flatnonzero(np.isin(self.d_image, images))
        g_sel = np.flatnonzero(np.isin(self.g_image, images))
        return dataclasses.replace(
            self,
            image_ids=images,
            d_image=self.d_image[d_sel], d_score=self.d_score[d_sel],
            d_rank=self.d_rank[d_sel], d_cat=self.d_cat[d_sel],
            d_matched=self.d_matched[:, d_sel], d_good=self.d_good[:, d_sel],
            d_out_of_range=self.d_out_of_range[:, d_sel],
            g_image=self.g_image[g_sel], g_cat=self.g_cat[g_sel],
            g_ignore=self.g_ignore[:, g_sel],
        )  # fmt: skip

    def recategorised(self, mapping: np.ndarray, category_ids: np.ndarray) -> MatchState:
        """The state with category index c renamed mapping[c] among `category_ids` (an
        evaluation whose label set changed); detections re-sorted into accumulation order."""
        if not self.params.use_categories:
            return dataclasses.replace(self, category_ids=self.category_ids)
        mapping = np.asarray(mapping, np.int64)
        moved = dataclasses.replace(
            self,
            params=labels.renamed(self.params, self.category_ids, mapping, category_ids),
            category_ids=np.asarray(category_ids, np.int64),
            d_cat=mapping[self.d_cat],
            g_cat=mapping[self.g_cat],
        )
        used = mapping[np.unique(self.d_cat)]
        if np.all(np.diff(used) > 0):
            return moved  # the categories keep their order: so do the detections
        return MatchState.merged([moved])

    @staticmethod
    def merged(states: Sequence[MatchState]) -> MatchState:
        """One state of several over disjoint images (the same params and categories), as
        if their images had been evaluated together: matching is per image, so only the
        accumulation order (category, score, image, rank) has to be made again."""
        first = states[0]

        def joined(name: str, axis: int = 0) -> np.ndarray:
            return np.concatenate([getattr(s, name) for s in states], axis=axis)

        d_cat, d_score, d_image, d_rank = (
            joined("d_cat"), joined("d_score"), joined("d_image"), joined("d_rank"),
        )  # fmt: skip
        if sum(len(s.d_cat) > 0 for s in states) == 1 and len(states) > 1:
            order = slice(None)  # one state's detections, already in accumulation order
        else:
            order = np.lexsort((d_rank, d_image, -d_score, d_cat))
        return MatchState(
            first.params, np.unique(joined("image_ids")), first.category_ids,
            d_image[order], d_score[order], d_rank[order], d_cat[order],
            joined("d_matched", 1)[:, order], joined("d_good", 1)[:, order],
            joined("d_out_of_range", 1)[:, order],
            joined("g_image"), joined("g_cat"), joined("g_ignore", 1),
        )  # fmt: skip

    _ARRAYS = (
        "image_ids", "category_ids", "d_image", "d_score", "d_rank", "d_cat", "g_image", "g_cat",
    )  # fmt: skip
    _BITS = ("d_matched", "d_good", "d_out_of_range", "g_ignore")

    def to_bytes(self) -> bytes:
        import io
        import json

        p = self.params
        meta = {
            "iou_type": p.iou_type,
            "iou_thresholds": p.iou_thresholds.tolist(),
            "recall_thresholds": p.recall_thresholds.tolist(),
            "max_detections": list(p.max_detections),
            "area_ranges": [list(r) for r in p.area_ranges],
            "area_labels": list(p.area_labels),
            "use_categories": p.use_categories,
            "label_matches": [list(pair) for pair in p.label_matches],
            "shapes": {name: list(getattr(self, name).shape) for name in self._BITS},
        }
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        arrays.update({name: np.packbits(getattr(self, name), axis=-1) for name in self._BITS})
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> MatchState:
        import io
        import json

        with np.load(io.BytesIO(data)) as stored:
            meta = json.loads(stored["meta"].tobytes())
            arrays = {name: stored[name] for name in cls._ARRAYS}
            for name in cls._BITS:
                shape = meta["shapes"][name]
                arrays[name] = np.unpackbits(stored[name], axis=-1, count=shape[-1]).astype(bool)
        params = Params(
            iou_type=meta["iou_type"],
            iou_thresholds=np.asarray(meta["iou_thresholds"]),
            recall_thresholds=np.asarray(meta["recall_thresholds"]),
            max_detections=tuple(meta["max_detections"]),
            area_ranges=tuple(tuple(r) for r in meta["area_ranges"]),
            area_labels=tuple(meta["area_labels"]),
            use_categories=meta["use_categories"],
            label_matches=tuple(tuple(pair) for pair in meta.get("label_matches", ())),
        )
        return cls(params=params, **arrays)


@dataclass
class Evaluation(Results):
    """COCOeval's results, and every object's match per world w = a * T + t (area range a,
    IoU threshold t; `world()` finds it): `detections(w)` and `objects(w)` in the callers'
    rows. Internally the evaluated detections are in accumulation order (`dt_rows` maps
    them to callers' rows) and the objects in group order (`gt_rows`); `state` is what a
    subset is evaluated again from."""

    n_dt: int = 0
    n_gt: int = 0
    dt_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    gt_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    d_match: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    d_iou: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    state: MatchState | None = None
    # A x detections, as d_match (the state's may hold cross-label accounting rows too).
    d_out_of_range: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))

    @property
    def g_ignore(self) -> np.ndarray:
        return self.state.g_ignore

    def restricted_to(self, image_ids: Sequence[int] | np.ndarray) -> Results:
        return self.state.restricted_to(image_ids)

    def detections(self, world: int) -> DetectionMatches:
        """Each detection's match in a world, in the callers' rows."""
        a = world // len(self.params.iou_thresholds)
        m = self.d_match[world]
        hit = m >= 0
        ignored = self.d_out_of_range[a].copy()
        if len(self.gt_rows):
            ignored[hit] = self.g_ignore[a, m[hit]]
        match = np.full(self.n_dt, -1, np.int64)
        iou = np.zeros(self.n_dt)
        ign = np.zeros(self.n_dt, bool)
        evaluated = np.zeros(self.n_dt, bool)
        if len(self.gt_rows):
            match[self.dt_rows] = np.where(hit, self.gt_rows[np.maximum(m, 0)], -1)
        iou[self.dt_rows] = self.d_iou[world]
        ign[self.dt_rows] = ignored
        evaluated[self.dt_rows] = True
        return DetectionMatches(evaluated, match, iou, ign)

    def objects(self, world: int) -> ObjectMatches:
        """Each ground-truth object's match in a world, in the callers' rows."""
        a = world // len(self.params.iou_thresholds)
        # Each object's detection, from the detections' matches (a crowd region matched by
        # several keeps one of them).
        m = np.full(len(self.gt_rows), -1, np.int64)
        matched = np.flatnonzero(self.d_match[world] >= 0)
        m[self.d_match[world, matched]] = matched
        match = np.full(self.n_gt, -1, np.int64)
        ign = np.zeros(self.n_gt, bool)
        evaluated = np.zeros(self.n_gt, bool)
        if len(self.dt_rows):
            match[self.gt_rows] = np.where(m >= 0, self.dt_rows[np.maximum(m, 0)], -1)
        ign[self.gt_rows] = self.g_ignore[a]
        evaluated[self.gt_rows] = True
        return ObjectMatches(evaluated, match, ign)


# (name, ap, iou threshold, area label, max-detections index)
def evaluate(
    gt: Objects,
    dt: Objects,
    params: Params | None = None,
    *,
    image_ids: Sequence[int] | np.ndarray | None = None,
    category_ids: Sequence[int] | np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
) -> Evaluation:
    """COCOeval over the given images and categories (default: all of the ground truth's
    images and categories, and the detections' images — as COCO's getImgIds/getCatIds of a
    dataset listing every image)."""
    p = params or Params.coco()
    if dt.score is None:
        raise ValueError("score: detections need a score")
    _check_geometry(p, gt, "ground truth")
    _check_geometry(p, dt, "detections")
    images = np.unique(
        np.concatenate([gt.image, dt.image]) if image_ids is None else np.asarray(image_ids)
    ).astype(np.int64)
    universe = np.unique(
        gt.category if category_ids is None else np.asarray(category_ids, np.int64)
    ).astype(np.int64)
    categories = universe if p.use_categories else np.array([-1], np.int64)
    K = len(categories)

    g_img = _lookup(images, gt.image)
    d_img = _lookup(images, dt.image)
    # Without categories, one group per image, gathered category by category (pycocotools).
    g_cat = _lookup(universe, gt.category)
    d_cat = _lookup(universe, dt.category)
    g_in = (g_img >= 0) & (g_cat >= 0)
    d_in = (d_img >= 0) & (d_cat >= 0)
    g_rows = np.flatnonzero(g_in)
    d_rows = np.flatnonzero(d_in)
    n_cat_groups = K if p.use_categories else 1
    g_group = g_img[g_rows] * n_cat_groups + (g_cat[g_rows] if p.use_categories else 0)
    d_group = d_img[d_rows] * n_cat_groups + (d_cat[d_rows] if p.use_categories else 0)

    # Ground truth of a group in input order (pycocotools: by category first when categories
    # are not used); detections by score, stable, cut at the largest max-detections.
    g_order = np.lexsort((g_rows, g_cat[g_rows], g_group))
    g_rows, g_group = g_rows[g_order], g_group[g_order]
    score = dt.score[d_rows]
    ranked = Ranks(score)
    if p.use_categories:
        # A group is one image's one category: by group, then score, then input order (d_rows
        # is ascending) — one sort of unique integer keys.
        d_order = unique_key_order(d_group, ranked.position)
    else:
        d_order = np.lexsort((d_rows, d_cat[d_rows], -score, d_group))
    d_rows, d_group = d_rows[d_order], d_group[d_order]
    d_rank = rank_in_group(d_group)
    cut = d_rank < p.max_detections[-1]
    kept = d_order[cut]
    d_rows, d_group, d_rank = d_rows[cut], d_group[cut], d_rank[cut]
    # From here on detections are in the order accumulation reads them (pycocotools: by
    # category, then score with a stable sort over images in id order, each image's by
    # score): matches land where precision is counted, with no gathers.
    # The detections are by image, then (with categories) category, then rank: ordered by
    # (category, score, position), that is (category, score, image, rank) — the lexsort of
    # those four keys. Equal scores need the position; distinct ones are the order alone.
    cats = d_cat[d_rows] if p.use_categories else np.zeros(len(d_rows), np.int64)
    if ranked.ties:
        acc = unique_key_order(cats, ranked.dense[kept], np.arange(len(kept)))
    else:
        acc = unique_key_order(cats, ranked.position[kept])
    d_rows, d_group, d_rank = d_rows[acc], d_group[acc], d_rank[acc]
    # Back to group order: the inverse permutation ((group, rank) pairs are unique).
    by_group = np.empty_like(acc)
    by_group[acc] = np.arange(len(acc))

    # Which objects are ignored in each area range.
    g_area = gt.area[g_rows]
    lo = np.array([r[0] for r in p.area_ranges])[:, None]
    hi = np.array([r[1] for r in p.area_ranges])[:, None]
    g_base_ignore = gt.flags("crowd")[g_rows] | gt.flags("ignore")[g_rows]
    if p.iou_type == "keypoints":
        g_base_ignore |= _no_keypoints(gt.keypoints[g_rows])
    g_ignore = g_base_ignore[None, :] | (g_area[None, :] < lo) | (g_area[None, :] > hi)
    d_area = dt.area[d_rows]
    d_out_of_range = (d_area[None, :] < lo) | (d_area[None, :] > hi)
    g_crowd = gt.flags("crowd")[g_rows]

    if progress:
        progress(0.05)
    pairs = candidate_pairs(p, gt, dt, g_rows, g_group, d_rows, d_group, by_group, g_crowd)
    label_pairs = labels.allowed_pairs(p, universe)
    match_rank = d_rank
    if label_pairs is not None:  # allowed label matches: match across categories per image
        pairs = labels.joined(pairs, labels.cross_pairs(
            p, label_pairs, K, gt, dt, g_rows, g_group, d_rows, d_group, d_cat[d_rows],
            by_group, g_crowd,
        ))  # fmt: skip
        match_rank = labels.image_ranks(d_img[d_rows], ranked.position[kept[acc]])
    if progress:
        progress(0.5)
    d_match, d_iou = match_pairs(p, pairs, match_rank, g_crowd, g_ignore, len(d_rows))
    if progress:
        progress(0.8)
    d_cat_eval = d_cat[d_rows] if p.use_categories else np.zeros(len(d_rows), np.int64)
    g_cat_eval = g_cat[g_rows] if p.use_categories else np.zeros(len(g_rows), np.int64)
    d_matched = d_match >= 0
    d_good = np.zeros_like(d_matched)
    if len(g_rows):
        world_a = np.repeat(np.arange(len(p.area_ranges)), len(p.iou_thresholds))
        # Matched to an object not ignored; an unmatched detection's -1 reads the False
        # appended to each row. A world's row at a time: no index arrays of matches.
        g_good = np.c_[~g_ignore, np.zeros(len(g_ignore), bool)]
        for w in range(len(world_a)):
            np.take(g_good[world_a[w]], d_match[w], out=d_good[w])
    state = MatchState(
        p, images, categories, dt.image[d_rows], dt.score[d_rows], d_rank, d_cat_eval,
        d_matched, d_good, d_out_of_range, gt.image[g_rows], g_cat_eval, g_ignore,
    )  # fmt: skip
    if label_pairs is not None:  # cross-label true positives count for the object's category
        state = labels.accounted(state, d_match, K)
    args = (
        p, K, state.d_score, state.d_rank, state.d_cat, g_cat_eval, state.d_matched,
        state.d_good, g_ignore, state.d_out_of_range,
    )  # fmt: skip
    precision, recall, scores = accumulate(*args, curves_for=curves_needed(p))
    stats = summarize(p, precision, recall)
    if progress:
        progress(1.0)
    return Evaluation(
        p, images, categories, precision, recall, scores, stats, lambda: accumulate(*args), None,
        len(dt), len(gt), d_rows, g_rows, d_match, d_iou, state, d_out_of_range,
    )  # fmt: skip


def _check_geometry(p: Params, objects: Objects, what: str) -> None:
    need = {"bbox": "boxes", "segm": "masks", "keypoints": "keypoints"}[p.iou_type]
    value = getattr(objects, need)
    if value is None and len(objects):
        raise ValueError(f"{need}: {what} have no {need} for iou_type {p.iou_type}")
    if value is not None and len(value) != len(objects):
        raise ValueError(f"{need}: {len(value)} for {len(objects)} {what}")


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each id in sorted_ids, -1 where absent."""
    if not len(sorted_ids):
        return np.full(len(ids), -1, np.int64)
    pos = np.clip(np.searchsorted(sorted_ids, ids), 0, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)


def _no_keypoints(keypoints: np.ndarray) -> np.ndarray:
    return ~(keypoints[:, 2::3] > 0).any(axis=1)

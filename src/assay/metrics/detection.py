"""Detection evaluation with the COCO protocol, the same numbers as pycocotools' COCOeval.

`evaluate(gt, dt, params)` reproduces `COCOeval.evaluate(); accumulate(); summarize()`:
the precision array (T x R x K x A x M), recall (T x K x A x M), the scores at each recall
threshold, the twelve summary numbers (ten for keypoints) and per-class AP — for boxes,
masks (RLE, or polygons rasterised by `assay.metrics.rle` as pycocotools does), keypoints
(OKS) and crowd regions — and, beyond COCOeval, each detection's and each ground-truth
object's match at every IoU threshold and area range (for writing TP / FP / FN back).

What pycocotools does in Python loops per image, category, area range, threshold and
detection, this does on whole arrays:

- IoUs only for the (detection, object) pairs of one image and category, computed
  together for all pairs; only the pairs at or above the lowest threshold are kept.
- The greedy matching is sequential within an image and category (a detection takes the
  best object the higher-scoring ones left), so it steps through the detections' ranks;
  each step settles one detection of every image/category group at once, for all
  thresholds and area ranges together ("worlds", A x T of them).
- Accumulation sorts every category's detections once per max-detections setting; the
  cumulative TP/FP counts are segmented integer cumsums, the recall thresholds are found
  on the integer TP counts (exact: no float offsets), and only the precision envelope is
  taken per category.

pycocotools' orders are kept where they decide ties: detections sorted by score with a
stable sort (input order on ties), images in ascending id order, objects of a group in
input order with ignored ones last, and among equally good objects the last one wins.
Ids play no part (pycocotools' test `dtm > 0` assumes ids are not 0; COCO's start at 1).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

# pycocotools: iou = min(t, 1 - 1e-10) — a threshold of 1 still matches a perfect overlap.
_IOU_CAP = 1 - 1e-10
_EPS = np.spacing(1)
# The size of one block of (detection, object) pairs whose IoUs are computed together.
PAIR_BLOCK = 1 << 22
# Match events accumulated together (worlds are taken a chunk at a time).
CHUNK_EVENTS = 1 << 20

COCO_KEYPOINT_SIGMAS = (
    np.array(
        [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87,
         0.87, 0.89, 0.89]
    )
    / 10.0
)  # fmt: skip


@dataclass(frozen=True)
class Params:
    """COCOeval's Params; `Params.coco(iou_type)` gives its defaults."""

    iou_type: str = "bbox"  # bbox | segm | keypoints
    iou_thresholds: np.ndarray = field(
        default_factory=lambda: np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
    )
    recall_thresholds: np.ndarray = field(
        default_factory=lambda: np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1)
    )
    max_detections: tuple[int, ...] = (1, 10, 100)
    area_ranges: tuple[tuple[float, float], ...] = (
        (0.0, 1e5**2),
        (0.0, 32.0**2),
        (32.0**2, 96.0**2),
        (96.0**2, 1e5**2),
    )
    area_labels: tuple[str, ...] = ("all", "small", "medium", "large")
    use_categories: bool = True
    keypoint_sigmas: np.ndarray | None = None

    @classmethod
    def coco(cls, iou_type: str = "bbox") -> Params:
        if iou_type in ("bbox", "segm"):
            return cls(iou_type=iou_type)
        if iou_type == "keypoints":
            return cls(
                iou_type="keypoints",
                max_detections=(20,),
                area_ranges=((0.0, 1e5**2), (32.0**2, 96.0**2), (96.0**2, 1e5**2)),
                area_labels=("all", "medium", "large"),
                keypoint_sigmas=COCO_KEYPOINT_SIGMAS,
            )
        raise ValueError(f"iou_type: {iou_type!r} is not bbox, segm or keypoints")

    def __post_init__(self) -> None:
        if self.iou_type not in ("bbox", "segm", "keypoints"):
            raise ValueError(f"iou_type: {self.iou_type!r} is not bbox, segm or keypoints")
        if len(self.area_ranges) != len(self.area_labels):
            raise ValueError("area_labels: one label per area range")
        if not self.max_detections or min(self.max_detections) < 1:
            raise ValueError("max_detections: at least one positive number")
        object.__setattr__(self, "max_detections", tuple(sorted(self.max_detections)))
        object.__setattr__(self, "iou_thresholds", np.asarray(self.iou_thresholds, float))
        object.__setattr__(self, "recall_thresholds", np.asarray(self.recall_thresholds, float))


@dataclass
class Objects:
    """Ground-truth objects or detections as columns (one row per object).

    image, category: ids (int64). area: COCO's `area` (for detections, what pycocotools'
    loadRes computes: box w*h, mask pixels, keypoints' extent). score: detections only.
    crowd: ground truth's `iscrowd`. ignore: further ground truth to ignore (keypoints:
    objects with no labelled keypoint). Geometry by iou type: boxes (n x 4, x y w h);
    masks (n RLEs as `(counts, height, width)`, counts uncompressed); keypoints (n x 3k).
    """

    image: np.ndarray
    category: np.ndarray
    area: np.ndarray
    score: np.ndarray | None = None
    crowd: np.ndarray | None = None
    ignore: np.ndarray | None = None
    boxes: np.ndarray | None = None
    masks: Sequence[tuple[np.ndarray, int, int]] | None = None
    keypoints: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image, np.int64)
        self.category = np.asarray(self.category, np.int64)
        self.area = np.asarray(self.area, np.float64)
        n = len(self.image)
        for name in ("category", "area"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name}: {len(getattr(self, name))} values for {n} objects")
        if self.score is not None:
            self.score = np.asarray(self.score, np.float64)
        if self.boxes is not None:
            self.boxes = np.asarray(self.boxes, np.float64).reshape(-1, 4)
        if self.keypoints is not None:
            self.keypoints = np.asarray(self.keypoints, np.float64).reshape(n, -1)

    def __len__(self) -> int:
        return len(self.image)

    def flags(self, name: str) -> np.ndarray:
        value = getattr(self, name)
        return np.zeros(len(self), bool) if value is None else np.asarray(value, bool)


@dataclass(frozen=True)
class DetectionMatches:
    """Per detection row: evaluated (False past the max-detections cut or outside the
    images/categories), the matched object's row (-1: none), its IoU, and whether the
    detection is ignored (matched to a crowd or ignored object, or unmatched and outside
    the area range). Outcome: TP = matched and not ignored; FP = unmatched, not ignored."""

    evaluated: np.ndarray
    match: np.ndarray
    iou: np.ndarray
    ignored: np.ndarray

    @property
    def tp(self) -> np.ndarray:
        return self.evaluated & (self.match >= 0) & ~self.ignored

    @property
    def fp(self) -> np.ndarray:
        return self.evaluated & (self.match < 0) & ~self.ignored


@dataclass(frozen=True)
class ObjectMatches:
    """Per ground-truth row: evaluated, the matching detection's row (-1: none; a crowd
    region keeps the last), ignored (crowd, flagged, or outside the area range). FN =
    evaluated, unmatched, not ignored."""

    evaluated: np.ndarray
    match: np.ndarray
    ignored: np.ndarray

    @property
    def tp(self) -> np.ndarray:
        return self.evaluated & (self.match >= 0) & ~self.ignored

    @property
    def fn(self) -> np.ndarray:
        return self.evaluated & (self.match < 0) & ~self.ignored


@dataclass
class Results:
    """COCOeval's numbers over some images: precision[t, r, k, a, m], recall[t, k, a, m],
    scores[t, r, k, a, m] as COCOeval.eval (-1 where a category has nothing to find), stats
    in COCOeval.stats' order (`summary()` names them).

    The summary's AP reads the precision of one max-detections setting (COCO's 100), and
    its AR1 / AR10 only recall: the other settings' precision and scores are accumulated
    when first read (`_complete`), so an evaluation whose curves at 1 and 10 detections
    nobody asks for never pays for them."""

    params: Params
    image_ids: np.ndarray
    category_ids: np.ndarray
    _precision: np.ndarray
    recall: np.ndarray
    _scores: np.ndarray
    stats: np.ndarray
    _complete: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = field(
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
            self._complete = None

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """precision[t, r, k, a] and scores[t, r, k, a] at the largest max-detections (always
        accumulated: what PR curves and per-class AP read)."""
        return self._precision[..., -1], self._scores[..., -1]

    def world(self, iou_threshold: float, area: str = "all") -> int:
        """The index w = a * T + t of an (IoU threshold, area range) pair."""
        t = np.flatnonzero(np.isclose(self.params.iou_thresholds, iou_threshold, atol=1e-9))
        if not len(t):
            raise ValueError(f"iou_threshold: {iou_threshold} is not among the thresholds")
        return self.params.area_labels.index(area) * len(self.params.iou_thresholds) + int(t[0])

    def summary(self) -> dict[str, float]:
        names = _KEYPOINT_STATS if self.params.iou_type == "keypoints" else _DETECTION_STATS
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
            self.d_cat[d_sel], self.g_cat, self.d_matched[:, d_sel], self.d_good[:, d_sel],
            self.g_ignore, self.d_out_of_range[:, d_sel],
        )  # fmt: skip
        precision, recall, scores = _accumulate(
            *args, g_keep=g_sel, curves_for=_curves_needed(self.params)
        )
        stats = _summarize(self.params, precision, recall)
        return Results(
            self.params, images, self.category_ids, precision, recall, scores, stats,
            lambda: _accumulate(*args, g_keep=g_sel),
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

    @property
    def g_ignore(self) -> np.ndarray:
        return self.state.g_ignore

    @property
    def d_out_of_range(self) -> np.ndarray:
        return self.state.d_out_of_range

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
_DETECTION_STATS = (
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
_KEYPOINT_STATS = (
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
    ranked = _Ranks(score)
    if p.use_categories:
        # A group is one image's one category: by group, then score, then input order (d_rows
        # is ascending) — one sort of unique integer keys.
        d_order = _unique_key_order(d_group, ranked.position)
    else:
        d_order = np.lexsort((d_rows, d_cat[d_rows], -score, d_group))
    d_rows, d_group = d_rows[d_order], d_group[d_order]
    d_rank = _rank_in_group(d_group)
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
        acc = _unique_key_order(cats, ranked.dense[kept], np.arange(len(kept)))
    else:
        acc = _unique_key_order(cats, ranked.position[kept])
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
    pairs = _candidate_pairs(p, gt, dt, g_rows, g_group, d_rows, d_group, by_group, g_crowd)
    if progress:
        progress(0.5)
    d_match, d_iou = _match(p, pairs, d_rank, g_crowd, g_ignore, len(d_rows))
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
    args = (
        p, K, state.d_score, d_rank, d_cat_eval, g_cat_eval, d_matched, d_good, g_ignore,
        d_out_of_range,
    )  # fmt: skip
    precision, recall, scores = _accumulate(*args, curves_for=_curves_needed(p))
    stats = _summarize(p, precision, recall)
    if progress:
        progress(1.0)
    return Evaluation(
        p, images, categories, precision, recall, scores, stats, lambda: _accumulate(*args),
        len(dt), len(gt), d_rows, g_rows, d_match, d_iou, state,
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


def _rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2 … within each run of equal (sorted) group keys."""
    n = len(groups)
    if not n:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


class _Ranks:
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
                order = _unique_key_order(dense, *extra, np.arange(n))
                ordered = values[order]
                new = np.r_[True, ordered[1:] != ordered[:-1]]
        self.ties = not new.all()
        self.position = np.empty(n, np.int64)
        self.position[order] = np.arange(n)
        self.dense = self.position
        if self.ties:
            self.dense = np.empty(n, np.int64)
            self.dense[order] = np.cumsum(new) - 1


def _unique_key_order(*keys: np.ndarray) -> np.ndarray:
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


def _nonzero_2d(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a C-contiguous 2-D mask, a third of its time: flat positions split by
    the row length (in 32 bits when they fit)."""
    n = mask.shape[1]
    flat = np.flatnonzero(mask)
    if mask.size < 1 << 31:
        flat = flat.astype(np.int32)
    row = flat // max(n, 1)
    return row, flat - row * n


def _no_keypoints(keypoints: np.ndarray) -> np.ndarray:
    return ~(keypoints[:, 2::3] > 0).any(axis=1)


@dataclass
class _Pairs:
    """The (detection, object) pairs whose IoU reaches the lowest threshold; d and g index
    the evaluated detections and objects."""

    d: np.ndarray
    g: np.ndarray
    iou: np.ndarray


def _candidate_pairs(
    p: Params,
    gt: Objects,
    dt: Objects,
    g_rows: np.ndarray,
    g_group: np.ndarray,
    d_rows: np.ndarray,
    d_group: np.ndarray,
    by_group: np.ndarray,
    g_crowd: np.ndarray,
) -> _Pairs:
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
        return _Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return _Pairs(np.concatenate(out_d), np.concatenate(out_g), np.concatenate(out_iou))


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(..., return_index=True, return_counts=True) of keys already sorted."""
    if not len(sorted_keys):
        empty = np.zeros(0, np.int64)
        return sorted_keys[:0], empty, empty
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return sorted_keys[starts], starts, np.diff(np.r_[starts, len(sorted_keys)])


def _keypoint_boxes(gt: Objects, rows: np.ndarray) -> np.ndarray:
    raise ValueError("boxes: keypoint ground truth needs its boxes (COCO's bbox)")


def _match(
    p: Params,
    pairs: _Pairs,
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
    best_first = _Ranks(pairs.iou, then=n_g - 1 - pairs.g).position
    order = _unique_key_order(step_key, pairs.d, best_first)
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


def _accumulate(
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COCOeval.accumulate from the matches; detections come in accumulation order.
    curves_for: the max-detections settings (indices) whose precision and scores are
    accumulated (all by default); the others get recall only, and NaN curves.
    d_matched / d_good (W x detections): matched, and matched to an object not ignored.
    g_keep: the objects of the images evaluated (all by default)."""
    T, R = len(p.iou_thresholds), len(p.recall_thresholds)
    A, M = len(p.area_ranges), len(p.max_detections)
    W = A * T
    # Laid out (max-detections, world, category, recall threshold) while filled; returned
    # as COCOeval's (T, R, K, A, M) views.
    P = np.empty((M, W * K, R))
    S = np.empty((M, W * K, R))
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
            with np.errstate(divide="ignore", invalid="ignore"):
                Rc[m, rows] = np.where(keep_w, np.where(n_k_w > 0, n_tp / npig_f[rows], 0.0), -1.0)
    precision = P.reshape(M, A, T, K, R).transpose(2, 4, 3, 1, 0)
    scores = S.reshape(M, A, T, K, R).transpose(2, 4, 3, 1, 0)
    recall = Rc.reshape(M, A, T, K).transpose(2, 3, 1, 0)
    return precision, recall, scores


def _curves_needed(p: Params) -> set[int]:
    """The max-detections settings whose precision the summary's AP reads, and the last
    (per-class AP and PR curves)."""
    table = _KEYPOINT_STATS if p.iou_type == "keypoints" else _DETECTION_STATS
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


def _summarize(p: Params, precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    table = _KEYPOINT_STATS if p.iou_type == "keypoints" else _DETECTION_STATS
    out = np.full(len(table), -1.0)
    for i, (_name, ap, thr, area, max_det) in enumerate(table):
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
        s = precision if ap else recall
        if thr is not None:
            s = s[np.flatnonzero(thr == p.iou_thresholds)]
        s = s[:, :, :, a, m] if ap else s[:, :, a, m]
        v = s[s > -1]
        out[i] = np.mean(v) if len(v) else -1.0
    return out

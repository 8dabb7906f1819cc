"""The data of a COCO evaluation (`assay.metrics.detection`): its parameters, the objects
and detections it reads, and each one's match as it answers them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

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
    # (object category, detection category) ids that may match besides equal ones, one way
    # (`assay.metrics.detection_labels`); with use_categories only.
    label_matches: tuple[tuple[int, int], ...] = ()

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
        pairs = {(int(g), int(d)) for g, d in self.label_matches if int(g) != int(d)}
        object.__setattr__(self, "label_matches", tuple(sorted(pairs)))
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

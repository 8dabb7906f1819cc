"""What a detection evaluation reads: the ground truth's and a model's shapes of the items in
scope, as `assay.metrics.detection.Objects`.

Boxes come from the dataset's snapshot (`snapshots.py`), with no Python object per shape.
The COCO protocol's `iou_type` chooses the geometry compared:

- `bbox`: boxes, and polygons by their bounding box;
- `segm`: polygons and masks as pixels (pycocotools' RLE, `assay.metrics.rle`), and boxes as
  the rectangles pycocotools' `loadRes` makes of them. Polygons are drawn on the item's
  image size; an item without one gets the size of its masks, else a canvas that holds
  every shape of the item (the IoU of two polygons does not depend on the canvas once it
  holds them). Their vertices and masks are read from the stored shapes of the items in
  scope, one query per source;
- `keypoints`: keypoints shapes by OKS, with COCO's sigmas for its 17 person keypoints
  and `keypoint_sigmas` ({name: sigma}) for any other name. A point given is labelled
  (visible or not, COCO's v 2 or 1), a name not given is not (v 0); an object's area and
  box are its points' extent (COCO's would be the person's segmentation and box, which a
  keypoints shape does not carry).

Categories are the labels; a ground-truth shape whose attributes say `iscrowd` is a crowd
region; a prediction without a confidence scores 1. A prediction's area is its box's (bbox,
and a box in segm) or its pixels (segm), as pycocotools' `loadRes` computes; the ground
truth's its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import polars as pl
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from assay.curation import models
from assay.curation.snapshots import SNAPSHOTS
from assay.metrics import rle
from assay.metrics.detection import COCO_KEYPOINT_SIGMAS, Objects

ANNOTATIONS = models.Annotation.__table__
SHAPE_TYPES = {
    "bbox": ("box", "polygon"),
    "segm": ("box", "polygon", "mask"),
    "keypoints": ("keypoints",),
}
# COCO's person keypoints, in the order of `assay.metrics.detection.COCO_KEYPOINT_SIGMAS`:
# their sigmas are the default for points of these names.
COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
COLUMNS = {
    "item_id": pl.Utf8, "seq": pl.Int64, "source": pl.Utf8, "object_id": pl.Utf8,
    "type": pl.Utf8, "label": pl.Utf8, "confidence": pl.Float64, "x": pl.Float64,
    "y": pl.Float64, "width": pl.Float64, "height": pl.Float64, "area": pl.Float64,
    "crowd": pl.Boolean, "image_width": pl.Float64, "image_height": pl.Float64,
}  # fmt: skip


def scoped_items(
    items: pl.DataFrame, item_ids: Sequence[str] | None, *extra: pl.Expr
) -> tuple[pl.DataFrame, np.ndarray]:
    """The snapshot's items in scope (item_row, item_id, seq and `extra` columns) and their
    seqs, sorted."""
    found = items.select(
        pl.col("row").cast(pl.UInt32).alias("item_row"),
        "item_id",
        pl.col("seq").cast(pl.Int64),
        *extra,
    )
    if item_ids is not None:
        found = found.filter(pl.col("item_id").is_in(list(item_ids)))
    return found, np.sort(found["seq"].to_numpy())


def of_sources(model_id: str) -> tuple[pl.Expr, pl.Expr]:
    """Whether an object is the ground truth's or the model's, and its `source` column. The
    source's id is the object id's middle part: "<item>:<source id>:<place>" (item ids have
    no colon)."""
    object_id = pl.col("object_id")
    ground_truth = object_id.str.contains(f":{models.GROUND_TRUTH}:", literal=True)
    predicted = object_id.str.contains(f":{model_id}:", literal=True)
    source = (
        pl.when(ground_truth)
        .then(pl.lit(models.GROUND_TRUTH))
        .otherwise(pl.lit(model_id))
        .alias("source")
    )
    return ground_truth | predicted, source


def read_shapes(
    session: Session,
    dataset: models.Dataset,
    model_id: str,
    item_ids: Sequence[str] | None,
    iou_type: str = "bbox",
) -> tuple[pl.DataFrame, np.ndarray, int]:
    """One row per shape of the ground truth and of the model's predictions that the iou
    type compares (`COLUMNS`), the seqs of the items in scope, and the revision read — from
    the dataset's snapshot (parsed once per process and caught up), not the rows."""
    snapshot = SNAPSHOTS.get(session, dataset)
    items, seqs = scoped_items(
        snapshot.items,
        item_ids,
        pl.col("width").alias("image_width"),
        pl.col("height").alias("image_height"),
    )
    objects = snapshot.objects
    if objects.height == 0 or "x" not in objects.columns:
        return pl.DataFrame(schema=COLUMNS), seqs, snapshot.revision
    crowd = (
        pl.col("attributes.iscrowd").cast(pl.Boolean, strict=False).fill_null(False)
        if "attributes.iscrowd" in objects.columns
        else pl.lit(False)
    )
    wanted, source = of_sources(model_id)
    frame = (
        objects.lazy()
        .filter(pl.col("type").is_in(SHAPE_TYPES[iou_type]) & wanted)
        .join(items.lazy(), on="item_row", how="inner")
        .select(
            "item_id",
            "seq",
            source,
            "object_id",
            "type",
            "label",
            "confidence",
            "x",
            "y",
            "width",
            "height",
            "area",
            crowd.alias("crowd"),
            "image_width",
            "image_height",
        )
        .collect()
    )
    return frame, seqs, snapshot.revision


def read_geometry(
    session: Session,
    frame: pl.DataFrame,
    sources: Sequence[str],
    types: Sequence[str] = ("polygon", "mask", "keypoints"),
) -> dict[str, dict]:
    """The stored shapes of the frame's objects of these types (what the snapshot does not
    keep: vertices, masks, points, offsets), by object id."""
    wanted = frame.filter(pl.col("type").is_in(list(types)))
    if not wanted.height:
        return {}
    object_ids = set(wanted["object_id"].to_list())
    item_ids = wanted["item_id"].unique().to_list()
    found: dict[str, dict] = {}
    for source in sources:
        for start in range(0, len(item_ids), 900):
            rows = session.execute(
                select(ANNOTATIONS.c.item_id, cast(ANNOTATIONS.c.shapes, Text)).where(
                    ANNOTATIONS.c.source_id == source,
                    ANNOTATIONS.c.item_id.in_(item_ids[start : start + 900]),
                )
            )
            for item_id, text in rows:
                for place, shape in enumerate(json.loads(text or "[]")):
                    key = f"{item_id}:{source}:{place}"
                    if key in object_ids:
                        found[key] = shape
    return found


def _rectangle(x: float, y: float, w: float, h: float) -> list[list[float]]:
    """A box as pycocotools' loadRes makes a segmentation of it."""
    return [[x, y, x, y + h, x + w, y + h, x + w, y]]


def _segmentations(frame: pl.DataFrame, geometry: dict[str, dict]) -> list:
    """COCO segmentations of the frame's shapes."""
    segmentations: list = []
    for object_id, kind, x, y, w, h in frame.select(
        "object_id", "type", "x", "y", "width", "height"
    ).iter_rows():
        if kind == "box":
            segmentations.append(_rectangle(x, y, w, h))
        elif kind == "polygon":
            vertices = geometry[object_id]["vertices"]
            segmentations.append([[v for p in vertices for v in (p["x"], p["y"])]])
        else:
            segmentations.append(geometry[object_id]["rle"])
    return segmentations


def with_canvas(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with each item's canvas (canvas_height, canvas_width), the same for the
    ground truth and the predictions: the image's size, else its masks' (a mask's extent
    is its size), else one holding every shape of the item."""
    is_mask = pl.col("type") == "mask"
    canvas = frame.group_by("item_id").agg(
        pl.col("image_height").first().alias("_ih"),
        pl.col("image_width").first().alias("_iw"),
        pl.col("height").filter(is_mask).first().alias("_mh"),
        pl.col("width").filter(is_mask).first().alias("_mw"),
        (pl.col("y") + pl.col("height")).filter(~is_mask).max().ceil().alias("_eh"),
        (pl.col("x") + pl.col("width")).filter(~is_mask).max().ceil().alias("_ew"),
    )
    canvas = canvas.select(
        "item_id",
        pl.coalesce("_ih", "_mh", pl.max_horizontal(pl.col("_eh"), 1) + 1)
        .cast(pl.Int64)
        .alias("canvas_height"),
        pl.coalesce("_iw", "_mw", pl.max_horizontal(pl.col("_ew"), 1) + 1)
        .cast(pl.Int64)
        .alias("canvas_width"),
    )
    return frame.join(canvas, on="item_id", how="left", maintain_order="left")


def keypoint_names(geometry: dict[str, dict]) -> list[str]:
    """Every keypoint name of the shapes: COCO's in their order, then the others sorted."""
    names = {p["name"] for shape in geometry.values() for p in shape.get("points", ())}
    return [n for n in COCO_KEYPOINTS if n in names] + sorted(names - set(COCO_KEYPOINTS))


def keypoint_sigmas(names: list[str], given: dict[str, float]) -> np.ndarray:
    """Each name's OKS sigma: the one given, else COCO's for its person keypoints."""
    sigmas = []
    for name in names:
        if name in given:
            sigmas.append(float(given[name]))
        elif name in COCO_KEYPOINTS:
            sigmas.append(float(COCO_KEYPOINT_SIGMAS[COCO_KEYPOINTS.index(name)]))
        else:
            raise ValueError(
                f"params.keypoint_sigmas: no sigma for keypoint {name!r} (COCO's 17 person "
                "keypoints have defaults; give {name: sigma} for the others)"
            )
    return np.asarray(sigmas, np.float64)


def _keypoints(frame: pl.DataFrame, geometry: dict[str, dict], names: list[str]) -> np.ndarray:
    """COCO's (x, y, v) per name and object: v 2 visible, 1 hidden, 0 not given."""
    column = {name: k for k, name in enumerate(names)}
    out = np.zeros((frame.height, 3 * len(names)), np.float64)
    for row, object_id in enumerate(frame["object_id"].to_list()):
        for point in geometry[object_id]["points"]:
            k = 3 * column[point["name"]]
            out[row, k : k + 3] = (
                point["x"],
                point["y"],
                2.0 if point.get("visible", True) else 1.0,
            )
    return out


def objects(
    frame: pl.DataFrame,
    labels: list[str],
    predictions: bool,
    iou_type: str = "bbox",
    geometry: dict[str, dict] | None = None,
    names: list[str] | None = None,
) -> Objects:
    """The frame's shapes as the metrics' columns (labels give the category codes; segm
    needs `with_canvas`'s columns and `read_geometry`'s shapes)."""
    codes = pl.DataFrame(
        {"label": labels, "code": np.arange(len(labels), dtype=np.int64)},
        schema={"label": pl.Utf8, "code": pl.Int64},
    )
    category = frame.select("label").join(codes, on="label", how="left")["code"].to_numpy()
    boxes = frame.select("x", "y", "width", "height").to_numpy().astype(np.float64)
    masks = None
    area = boxes[:, 2] * boxes[:, 3]
    if iou_type == "segm":
        masks = rle.from_segmentation_many(
            _segmentations(frame, geometry or {}),
            frame["canvas_height"].to_numpy(),
            frame["canvas_width"].to_numpy(),
        )
        if predictions:  # a box keeps w * h (loadRes computes it from the box)
            pixels = np.array([rle.area(counts) for counts, _, _ in masks], np.float64)
            area = np.where(frame["type"].to_numpy() == "box", area, pixels)
    if not predictions:
        own = frame["area"].fill_null(float("nan")).to_numpy()
        area = np.where(np.isnan(own), area, own)
    return Objects(
        image=frame["seq"].to_numpy(),
        category=category,
        area=area,
        score=frame["confidence"].fill_null(1.0).to_numpy() if predictions else None,
        crowd=None if predictions else frame["crowd"].to_numpy(),
        boxes=None if iou_type == "segm" else boxes,
        masks=masks,
        keypoints=(
            _keypoints(frame, geometry or {}, names or []) if iou_type == "keypoints" else None
        ),
    )


def subset(found: Objects, rows: np.ndarray) -> Objects:
    """Some of the objects (rows: positions)."""
    return Objects(
        image=found.image[rows],
        category=found.category[rows],
        area=found.area[rows],
        score=None if found.score is None else found.score[rows],
        crowd=None if found.crowd is None else np.asarray(found.crowd)[rows],
        boxes=None if found.boxes is None else found.boxes[rows],
        masks=None if found.masks is None else [found.masks[i] for i in rows],
        keypoints=None if found.keypoints is None else found.keypoints[rows],
    )


def gathered(ids: pl.Series, rows: np.ndarray) -> pl.Series:
    """ids[rows], null where a row is negative (no match)."""
    if not len(ids):
        return pl.Series(ids.name, [None] * len(rows), pl.Utf8)
    found = ids.gather(np.maximum(rows, 0))
    return pl.select(pl.when(pl.Series(rows) >= 0).then(found)).to_series()

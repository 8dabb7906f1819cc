"""Per-point labels of a point cloud (LiDAR semantic segmentation) as masks.

A label per point is kept in the one annotation model as one mask per label over the point
cloud's points: an RLE mask of size (points, 1), so its column-major order is the points'
order and its area is its number of points. Each mask's id is `lidar-semseg#<index>`, its
confidence the mean of its points' confidences when they are given, and its attribute
`lidar_semseg` keeps the index and the URL the labels came from. A new upload of a model's
labels on a point cloud replaces its earlier ones. The labels' length is checked against the
point cloud itself (its file, fetched through `core.outbound`: Nucleus's
`{"points": [{x, y, z, …}, …]}`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from assay.core import outbound
from assay.core.errors import Invalid
from assay.core.settings import Settings
from assay.curation import annotations, models, wire
from assay.metrics.rle import from_binary

KEY = "lidar_semseg"
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_POINTS = 1_000_000  # an RLE side's limit (`wire.Rle`)


@dataclass(frozen=True)
class PointLabels:
    """Each point's label index, the labels by index, each point's confidence (or None)."""

    indices: np.ndarray
    labels: dict[int, str]
    confidences: np.ndarray | None
    source: str


def fetch_json(url: Any, settings: Settings, field: str, what: str) -> Any:
    data = outbound.fetch_file(url, settings, max_bytes=MAX_FILE_BYTES, field=field, what=what)
    try:
        return json.loads(data)
    except ValueError:
        raise Invalid(f"{what} is not JSON", field=field) from None


def _numbers(values: Any, field: str, *, integers: bool) -> np.ndarray:
    if not isinstance(values, list) or not values:
        raise Invalid("must be a non-empty list of numbers", field=field)
    kinds = int if integers else int | float
    for k, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise Invalid(
                "must be a number" + (" (an integer)" if integers else ""), field=f"{field}[{k}]"
            )
    return np.asarray(values, dtype=np.int64 if integers else np.float64)


def parse_labels(payload: Any, source: str, field: str) -> PointLabels:
    """Nucleus's file: `{"objects": [{"label", "index"}], "point_objects": [index, …],
    "point_confidence"?: [0..1, …]}`; an index no object names leaves its points unlabeled."""
    if not isinstance(payload, dict):
        raise Invalid("the labels file is a JSON object", field=field)
    objects = payload.get("objects")
    if not isinstance(objects, list) or not objects:
        raise Invalid("objects names the labels by index", field=f"{field}.objects")
    labels: dict[int, str] = {}
    for k, entry in enumerate(objects):
        at = f"{field}.objects[{k}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str):
            raise Invalid("each object has a label and an integer index", field=f"{at}.label")
        index = entry.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or index in labels:
            raise Invalid("each object has its own integer index", field=f"{at}.index")
        labels[index] = entry["label"]
    indices = _numbers(payload.get("point_objects"), f"{field}.point_objects", integers=True)
    confidences = None
    if payload.get("point_confidence") is not None:
        where = f"{field}.point_confidence"
        confidences = _numbers(payload["point_confidence"], where, integers=False)
        if confidences.shape != indices.shape:
            raise Invalid("one confidence per point", field=where)
        if not ((confidences >= 0) & (confidences <= 1)).all():
            raise Invalid("confidences are from 0 to 1", field=where)
    return PointLabels(indices, labels, confidences, source)


def count_points(cloud: Any, field: str) -> int:
    points = cloud.get("points") if isinstance(cloud, dict) else cloud
    if not isinstance(points, list):
        raise Invalid("the point cloud is not a list of points", field=field)
    return len(points)


def point_cloud_url(item: models.Item) -> str:
    """Where the item's points are; Invalid when it is not a point cloud."""
    if item.kind != "pointcloud" or not item.media:
        raise Invalid(f"item {item.reference_id!r} is not a point cloud", field="reference_id")
    return item.media


def masks_of(found: PointLabels) -> list[wire.Mask]:
    size = [int(found.indices.size), 1]
    masks = []
    for index, label in found.labels.items():
        chosen = found.indices == index
        body: dict[str, Any] = {
            "type": "mask",
            "id": f"lidar-semseg#{index}",
            "label": label,
            "rle": {"size": size, "counts": from_binary(chosen[:, None])},
            "attributes": {KEY: {"index": index, "url": found.source}},
        }
        if found.confidences is not None and chosen.any():
            body["confidence"] = float(found.confidences[chosen].mean())
        masks.append(wire.msgspec.convert(body, type=wire.Mask))
    return masks


def upload_point_labels(
    *,
    session: Session,
    dataset: models.Dataset,
    model: models.Model,
    item: models.Item,
    labels: PointLabels,
    points: int,
    field: str = "point_objects",
) -> Sequence[wire.Mask]:
    """The model's labels of the point cloud's points, replacing its earlier ones."""
    point_cloud_url(item)
    if labels.indices.size != points:
        raise Invalid(
            f"{labels.indices.size} labels for a point cloud of {points} points", field=field
        )
    if points > MAX_POINTS:
        raise Invalid(f"at most {MAX_POINTS} points per point cloud", field=field)
    masks = masks_of(labels)
    annotations.upload(
        session=session,
        dataset=dataset,
        source_id=model.id,
        placed=[annotations.Placed(None, item.id, mask) for mask in masks],
        update_existing=True,
        field=field,
        replacing=lambda shape: KEY in (shape.get("attributes") or {}),
    )
    return masks

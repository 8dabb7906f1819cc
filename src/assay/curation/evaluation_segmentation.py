"""Semantic segmentation evaluations: each item's ground truth and a model's predictions
painted as label maps, compared pixel by pixel.

The shapes are masks and polygons with labels (`evaluation_shapes.read_geometry`), drawn
with pycocotools' rasteriser (`assay.metrics.rle`) on the item's canvas (its image size,
else its masks', else one holding its shapes — `evaluation_shapes.with_canvas`), in the
order they were given, a later shape painting over an earlier one. A pixel no ground-truth
shape covers is not evaluated (COCO-Stuff's and Cityscapes' "unlabelled"); a pixel the
model left unpainted counts as predicted "(none)", wrong for whatever the ground truth says.

The metrics are `assay.metrics.segmentation`'s over the labels — IoU, accuracy and Dice per
class, mIoU, pixel accuracy, mean class accuracy, frequency-weighted IoU — from one confusion
matrix. The stored state is every item's confusion cells (item, truth, prediction, pixels),
so a slice's numbers are the sum of its items' cells.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from assay.curation import evaluation_shapes, models
from assay.metrics import rle
from assay.metrics.segmentation import segmentation_from_confusion

NONE_LABEL = "(none)"
TYPES = ("mask", "polygon")


def checked_params(params: dict[str, Any], invalid: Any) -> dict[str, Any]:
    if params:
        name = sorted(params)[0]
        raise invalid(f"unknown parameter {name!r} for segmentation", f"params.{name}")
    return params


def read_segmentation(
    session: Session, dataset: models.Dataset, model_id: str, item_ids: Sequence[str] | None
) -> tuple[pl.DataFrame, np.ndarray, int, dict[str, dict]]:
    """The masks and polygons of the ground truth and the model in scope (read_shapes'
    columns, with the canvas), the seqs in scope, the revision read and their geometry."""
    frame, seqs, revision = evaluation_shapes.read_shapes(
        session, dataset, model_id, item_ids, "segm"
    )
    frame = frame.filter(pl.col("type").is_in(TYPES))
    geometry = evaluation_shapes.read_geometry(
        session, frame, (models.GROUND_TRUTH, model_id), types=TYPES
    )
    return evaluation_shapes.with_canvas(frame), seqs, revision, geometry


def _painted(
    shapes: pl.DataFrame, geometry: dict[str, dict], codes: dict[str, int], blank: int
) -> np.ndarray:
    """One item's label map (column-major, as RLE counts run) from its shapes in order."""
    height, width = shapes["canvas_height"][0], shapes["canvas_width"][0]
    out = np.full(height * width, blank, np.int32)
    segmentations = []
    for object_id, kind in shapes.select("object_id", "type").iter_rows():
        shape = geometry[object_id]
        if kind == "polygon":
            segmentations.append([[v for p in shape["vertices"] for v in (p["x"], p["y"])]])
        else:
            segmentations.append(shape["rle"])
    drawn = rle.from_segmentation_many(segmentations, height, width)
    for (counts, h, w), label in zip(drawn, shapes["label"].to_list(), strict=True):
        if (h, w) != (height, width):
            raise ValueError(f"a mask of {h} x {w} on an item of {height} x {width}")
        inside = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
        out[inside] = codes[label]
    return out


def evaluate_segmentation(
    frame: pl.DataFrame,
    seqs: np.ndarray,
    model_id: str,
    params: dict[str, Any],
    geometry: dict[str, dict],
) -> tuple[dict[str, Any], bytes, bytes]:
    """The metrics, the (empty) matches and the state of read_segmentation's frame."""
    labels = sorted(set(frame["label"].to_list()))
    codes = {label: k for k, label in enumerate(labels)}
    k = len(labels)
    none, unlabelled = k, k + 1  # the prediction's blank, the ground truth's
    cells: list[np.ndarray] = []
    cell_seqs: list[np.ndarray] = []
    for (seq,), shapes in frame.sort("seq").group_by("seq", maintain_order=True):
        truth = _painted(
            shapes.filter(pl.col("source") == models.GROUND_TRUTH), geometry, codes, unlabelled
        ) if (shapes["source"] == models.GROUND_TRUTH).any() else None  # fmt: skip
        if truth is None:
            continue  # nothing to evaluate on this item
        predicted = shapes.filter(pl.col("source") == model_id)
        guess = (
            _painted(predicted, geometry, codes, none)
            if predicted.height
            else np.full(len(truth), none, np.int32)
        )
        keep = truth != unlabelled
        found = np.bincount(truth[keep] * (k + 1) + guess[keep], minlength=(k + 1) ** 2)
        nonzero = np.flatnonzero(found)
        cells.append(np.stack([nonzero // (k + 1), nonzero % (k + 1), found[nonzero]], 1))
        cell_seqs.append(np.full(len(nonzero), seq, np.int64))
    table = np.concatenate(cells) if cells else np.zeros((0, 3), np.int64)
    at = np.concatenate(cell_seqs) if cell_seqs else np.zeros(0, np.int64)
    metrics = _metrics(table, labels)
    metrics["items"] = len(seqs)
    metrics["objects"] = {
        "ground_truth": int((frame["source"] == models.GROUND_TRUTH).sum()),
        "predictions": int((frame["source"] == model_id).sum()),
    }
    state = io.BytesIO()
    np.savez(state, seq=at, cells=table)
    matches = io.BytesIO()
    pl.DataFrame(
        schema={
            "object_id": pl.Utf8, "item_id": pl.Utf8, "prediction": pl.Boolean,
            "match": pl.Utf8, "iou": pl.Float64, "matched_id": pl.Utf8,
            "iou_threshold": pl.Float64,
        }
    ).write_parquet(matches)  # fmt: skip
    return metrics, matches.getvalue(), state.getvalue()


def _metrics(table: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """The figures of summed confusion cells (rows: the labels; columns: the labels and
    "(none)"), the means over the labels only."""
    k = len(labels)
    matrix = np.zeros((k + 1, k + 1), np.int64)
    np.add.at(matrix, (table[:, 0], table[:, 1]), table[:, 2])
    found = segmentation_from_confusion(matrix, classes=[*labels, NONE_LABEL])
    rows = found.per_class[:k]

    def mean(values: list[float | None]) -> float | None:
        defined = [v for v in values if v is not None]
        return float(np.mean(defined)) if defined else None

    ious = [row.iou for row in rows]
    return {
        "summary": {
            "miou": mean(ious),
            "pixel_accuracy": found.pixel_accuracy,
            "mean_class_accuracy": mean([row.accuracy for row in rows]),
            "fw_iou": found.fw_iou,
            "mean_dice": mean([row.dice for row in rows]),
            "miou_all": float(sum(v or 0.0 for v in ious) / k) if k and found.pixels else None,
        },
        "labels": labels,
        "per_class": [
            {
                "label": row.label,
                "iou": row.iou,
                "accuracy": row.accuracy,
                "dice": row.dice,
                "pixels": row.pixels,
                "predicted": row.predicted,
            }
            for row in rows
        ],
        "pixels": found.pixels,
        "confusion": {"labels": [*labels, NONE_LABEL], "matrix": matrix.tolist()},
    }


def segmentation_for(evaluation: models.Evaluation, seqs: np.ndarray) -> dict[str, Any]:
    """A segmentation evaluation restricted to some items: the sum of their cells."""
    labels = (evaluation.metrics or {}).get("labels", [])
    with np.load(io.BytesIO(evaluation.state)) as stored:
        table = stored["cells"][np.isin(stored["seq"], seqs)]
    metrics = _metrics(table, labels)
    return {"items": len(seqs), "summary": metrics["summary"], "per_class": metrics["per_class"]}

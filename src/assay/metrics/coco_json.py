"""COCO's JSON as `assay.metrics.detection.Objects`: ground truth from a dataset dict and
detections from a results list, with what pycocotools' COCO / loadRes / annToRLE derive."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.metrics import rle
from assay.metrics.detection import Objects


def objects_from_coco(
    dataset: dict, results: Sequence[dict], iou_type: str = "bbox"
) -> tuple[Objects, Objects]:
    """Ground truth from a COCO dataset dict and detections from a COCO results list, with
    the areas and masks pycocotools' COCO / loadRes / annToRLE derive from them."""
    anns = dataset.get("annotations", [])
    sizes = {img["id"]: (img.get("height"), img.get("width")) for img in dataset.get("images", [])}
    unknown = {r["image_id"] for r in results} - sizes.keys()
    if unknown:
        raise ValueError(f"image_id: results for images not in the dataset: {sorted(unknown)[:5]}")
    gt = Objects(
        image=[a["image_id"] for a in anns],
        category=[a["category_id"] for a in anns],
        area=[a.get("area", 0.0) for a in anns],
        crowd=[bool(a.get("iscrowd", 0)) for a in anns],
        boxes=[a["bbox"] for a in anns] if iou_type != "segm" and anns else None,
        keypoints=[a["keypoints"] for a in anns] if iou_type == "keypoints" and anns else None,
        masks=_coco_masks(anns, sizes) if iou_type == "segm" else None,
    )
    if iou_type == "bbox":
        boxes = np.asarray([r["bbox"] for r in results], float).reshape(-1, 4)
        area = boxes[:, 2] * boxes[:, 3]
        dt = Objects(
            image=[r["image_id"] for r in results],
            category=[r["category_id"] for r in results],
            area=area,
            score=[r["score"] for r in results],
            boxes=boxes,
        )
    elif iou_type == "segm":
        from assay.metrics import rle

        masks = _coco_masks(results, sizes)
        dt = Objects(
            image=[r["image_id"] for r in results],
            category=[r["category_id"] for r in results],
            area=[rle.area(c) for c, _, _ in masks],
            score=[r["score"] for r in results],
            masks=masks,
        )
    else:
        kp = np.asarray([r["keypoints"] for r in results], float).reshape(len(results), -1)
        x, y = kp[:, 0::3], kp[:, 1::3]
        area = (
            (x.max(axis=1) - x.min(axis=1)) * (y.max(axis=1) - y.min(axis=1))
            if len(kp)
            else np.zeros(0)
        )
        dt = Objects(
            image=[r["image_id"] for r in results],
            category=[r["category_id"] for r in results],
            area=area,
            score=[r["score"] for r in results],
            keypoints=kp,
        )
    return gt, dt


def _coco_masks(anns: Sequence[dict], sizes: dict) -> list[tuple[np.ndarray, int, int]]:

    if not anns:
        return []
    shape = np.array([sizes[a["image_id"]] for a in anns], dtype=np.int64)
    return rle.from_segmentation_many([a["segmentation"] for a in anns], shape[:, 0], shape[:, 1])

"""A dataset for scenario tests, from COCO-shaped generated data (tests.metrics.test_detection):
ground truth, a model's good predictions and a worse version of them (the same prediction
ids, two boxes in three pushed off their objects), and a slice (every third image)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from tests.metrics.test_detection import coco_boxes


def _box(bbox: list[float], category: int, **extra: Any) -> dict[str, Any]:
    x, y, w, h = bbox
    return {
        "type": "box",
        "label": f"c{category}",
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        **extra,
    }


def reference_id(image_id: int) -> str:
    return f"img-{image_id:03d}"


def scenario_data(seed: int = 21, images: int = 30) -> dict[str, Any]:
    coco, results = coco_boxes(seed, images=images, crowd=0.0)
    for ann in coco["annotations"]:
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]  # Assay's area of a box
    items = [
        {
            "reference_id": reference_id(img["id"]),
            "media": f"https://media.example.test/{img['id']}.jpg",
            "annotations": [
                _box(a["bbox"], a["category_id"])
                for a in coco["annotations"]
                if a["image_id"] == img["id"]
            ],
        }
        for img in coco["images"]
    ]
    good: dict[str, list] = {}
    worse: dict[str, list] = {}
    for n, r in enumerate(results):
        ref = reference_id(r["image_id"])
        good.setdefault(ref, []).append(_box(r["bbox"], r["category_id"], id=f"p{n}"))
        good[ref][-1]["confidence"] = r["score"]
        x, y, w, h = r["bbox"]
        moved = [x + 3 * w, y, w, h] if n % 3 else [x, y, w, h]
        worse.setdefault(ref, []).append(
            _box(moved, r["category_id"], id=f"p{n}", confidence=r["score"])
        )
    # The slice: every third image, and images holding no prediction are added nothing.
    slice_images = [img["id"] for img in coco["images"][::3]]
    return {
        "coco": coco,
        "results": results,
        "items": items,
        "good": good,
        "worse": worse,
        "slice_images": slice_images,
        "slice": [reference_id(i) for i in slice_images],
    }


def pycocotools_ap(coco: dict, results: list[dict], image_ids: list[int]) -> float:
    """COCO AP of the images given (the reference for a slice's `map`)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = coco
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes([dict(r) for r in results]), "bbox")
        ev.params.imgIds = image_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])

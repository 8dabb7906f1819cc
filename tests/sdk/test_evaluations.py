"""Model evaluation through the SDK against a real `assay serve`: evaluate a model, read its
metrics (pycocotools' numbers), the false positives by query and by the matches' pages, and a
slice re-evaluated from the stored matches."""

from __future__ import annotations

import contextlib
import io

import pytest

from assay.sdk import F
from assay.sdk.errors import InvalidInput
from tests.metrics.test_detection import coco_boxes

pytestmark = pytest.mark.live
pycocotools = pytest.importorskip("pycocotools")


def test_a_model_is_evaluated_through_the_sdk(connect, server, accounts):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    coco, results = coco_boxes(31, images=20, crowd=0.0)
    for ann in coco["annotations"]:
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    client = connect(server.url, accounts.make("manager").key)
    dataset = client.datasets.create("evaluated")

    def box(bbox, category, **extra):
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

    client.datasets.append(
        dataset.id,
        [
            {
                "reference_id": f"img-{img['id']:02d}",
                "media": f"https://media.example.test/{img['id']}.jpg",
                "metadata": {"odd": img["id"] % 2 == 1},
                "annotations": [
                    box(a["bbox"], a["category_id"])
                    for a in coco["annotations"]
                    if a["image_id"] == img["id"]
                ],
            }
            for img in coco["images"]
        ],
    )
    model = client.models.create("detector", reference_id="detector")
    predictions: dict[str, list] = {}
    for r in results:
        predictions.setdefault(f"img-{r['image_id']:02d}", []).append(
            box(r["bbox"], r["category_id"], confidence=r["score"])
        )
    client.models.upload_predictions(dataset.id, model.id, predictions)

    done = client.evaluations.evaluate(dataset.id, model.id)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = coco
        gt.createIndex()
        reference = COCOeval(gt, gt.loadRes([dict(r) for r in results]), "bbox")
        reference.evaluate()
        reference.accumulate()
        reference.summarize()
    assert done.status == "done"
    assert done.metrics["summary"]["AP"] == pytest.approx(reference.stats[0], abs=1e-12)
    assert done.metrics["summary"]["AP50"] == pytest.approx(reference.stats[1], abs=1e-12)

    fps = {m.object_id for m in client.evaluations.matches(dataset.id, done.id, match="fp")}
    assert len(fps) == done.metrics["totals"]["fp"] > 0
    found = client.datasets.query(
        dataset.id, F("prediction.match") == "fp", view="objects", limit=1000
    )
    assert {o["object_id"] for o in found.items} == fps

    odd = client.slices.create(dataset.id, "odd", query=F("metadata.odd") == True)  # noqa: E712
    part = client.evaluations.of_slice(dataset.id, done.id, odd.id)
    assert part.items == 10 and part.summary["AP"] != done.metrics["summary"]["AP"]
    assert [e.id for e in client.evaluations.list(dataset.id)] == [done.id]

    # Allowed label matches: a "c1" prediction may be a "c4" object's true positive (one way).
    paired = client.evaluations.evaluate(
        dataset.id, model.id, allowed_label_matches=[("c4", "c1")], iou_thresholds=[0.5]
    )
    pair = {"ground_truth_label": "c4", "model_prediction_label": "c1"}
    assert paired.params["allowed_label_matches"] == [pair]
    plain = client.evaluations.evaluate(dataset.id, model.id, iou_thresholds=[0.5])
    assert paired.metrics["totals"]["tp"] > plain.metrics["totals"]["tp"]
    with pytest.raises(InvalidInput) as refused:
        client.evaluations.start(dataset.id, model.id, allowed_label_matches=[("c1", "bus")])
    assert refused.value.field == "params.allowed_label_matches[0].model_prediction_label"

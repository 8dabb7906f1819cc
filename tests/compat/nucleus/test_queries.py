"""Queries through the official client: `query_items`, `query_objects` (ground truth, a
model run's predictions), `query_scenes`, the export generator narrowed by a query, and a bad
query refused naming its token."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live


def test_items_objects_and_exports_follow_the_query(
    nucleus, manager: Account, name: Callable[[str], str]
) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxAnnotation, BoxPrediction
ds = client.create_dataset("queried")
weather = ["rain", "sun", "rain", "fog"]
job = ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}",
                             metadata={"weather": weather[n], "speed": n * 10})
                 for n in range(4)])
if hasattr(job, "sleep_until_complete"):
    job.sleep_until_complete(verbose_std_out=False)
ds.annotate([
    BoxAnnotation(label="car", x=0, y=0, width=10, height=10, reference_id="img-0",
                  annotation_id="a0"),
    BoxAnnotation(label="car", x=0, y=0, width=50, height=50, reference_id="img-2",
                  annotation_id="a1"),
    BoxAnnotation(label="person", x=1, y=1, width=2, height=4, reference_id="img-2",
                  annotation_id="a2"),
])
model = client.create_model(name="det", reference_id=args["model"])
ds.upload_predictions(model, [
    BoxPrediction(label="car", x=0, y=0, width=9, height=9, reference_id="img-0",
                  annotation_id="p0", confidence=0.9),
    BoxPrediction(label="car", x=5, y=5, width=9, height=9, reference_id="img-3",
                  annotation_id="p1", confidence=0.2),
])
run_id = ds.info().model_run_ids[0]
refs = lambda found: sorted(i.reference_id for i in found)
result = {
    "rain": refs(ds.query_items('metadata.weather = "rain"')),
    "unquoted": refs(ds.query_items("metadata.weather = rain AND metadata.speed > 5")),
    "cars": refs(ds.query_items(
        'annotations.car > 0 OR NOT metadata.weather IN ["rain", "sun"]')),
    "all": refs(ds.query_items("")),
    "gt": sorted((a.reference_id, a.annotation_id, a.label) for a in ds.query_objects(
        'annotation.label = "car"', "ground_truth_only")),
    "big": sorted(a.annotation_id for a in ds.query_objects(
        "annotation.area > 200", "ground_truth_only")),
    "preds": sorted((p.annotation_id, p.confidence) for p in ds.query_objects(
        "prediction.confidence < 0.5", "predictions_only", run_id)),
    "all_preds": sorted(p.annotation_id for p in ds.query_objects("", "predictions_only")),
    "export": sorted((r["item"].reference_id, len(r["annotations"]["box"])) for r in
                     ds.items_and_annotation_generator(query='metadata.weather = "rain"')),
}
for name, call in {
    "bad": lambda: list(ds.query_items("metadata.weather = = rain")),
    "unknown": lambda: list(ds.query_items("metadata.wether = rain")),
    "iou": lambda: list(ds.query_objects("", "iou", run_id)),
}.items():
    try:
        call()
        result[name] = "accepted"
    except nucleus.errors.NucleusAPIError as error:
        result[name] = [error.status_code, error.message.split("The detailed error is:")[-1]]
""",
        args={"model": name("det")},
    )
    assert got["rain"] == ["img-0", "img-2"]
    assert got["unquoted"] == ["img-2"]
    assert got["cars"] == ["img-0", "img-2", "img-3"]
    assert got["all"] == ["img-0", "img-1", "img-2", "img-3"]
    assert got["gt"] == [["img-0", "a0", "car"], ["img-2", "a1", "car"]]
    assert got["big"] == ["a1"]
    assert got["preds"] == [["p1", 0.2]]
    assert got["all_preds"] == ["p0", "p1"]
    assert got["export"] == [["img-0", 1], ["img-2", 2]]
    assert got["bad"][0] == 400 and "column 20" in got["bad"][1]
    assert got["unknown"][0] == 400 and "metadata.wether" in got["unknown"][1]
    # Matching modes list an evaluation's outcomes: none yet (test_evaluation_metrics.py).
    assert got["iou"][0] == 400 and "model_run_id" in got["iou"][1]
    assert "no finished evaluation" in got["iou"][1]


def test_scenes_follow_the_query(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, VideoScene
ds = client.create_dataset("clips", is_scene=True)
scenes = [VideoScene(reference_id=f"clip-{c}", frame_rate=5,
                     items=[DatasetItem(image_location=f"https://v.test/{c}/{i}.jpg",
                                        reference_id=f"clip-{c}-{i}",
                                        metadata={"night": c == 1 and i == 1})
                            for i in range(2)]) for c in range(3)]
ds.append(scenes, asynchronous=True).sleep_until_complete(verbose_std_out=False)
night = list(ds.query_scenes("metadata.night = true"))
result = {
    "night": [(s.reference_id, [f.items["video"].reference_id for f in s.frames])
              for s in night],
    "all": sorted(s.reference_id for s in ds.query_scenes("")),
}
""",
    )
    assert got["night"] == [["clip-1", ["clip-1-0", "clip-1-1"]]]
    assert got["all"] == ["clip-0", "clip-1", "clip-2"]

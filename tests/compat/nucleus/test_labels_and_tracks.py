"""Label vocabularies and tracks through the official client (0.22): `export_class_labels`
of a dataset and of a slice, `evaluation_label_schema`, a video scene's tracks named by its
annotations' `track_reference_id`, read back on the annotations, listed, deleted."""

from __future__ import annotations

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live


def test_class_labels_label_schema_and_tracks(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, VideoScene, BoxAnnotation, CategoryAnnotation, BoxPrediction
ds = client.create_dataset("tracked", is_scene=True)
clip = VideoScene(reference_id="clip", frame_rate=2,
                  items=[DatasetItem(image_location=f"https://v.test/{i}.jpg",
                                     reference_id=f"f-{i}") for i in range(3)])
ds.append([clip], asynchronous=True).sleep_until_complete(verbose_std_out=False)
def box(ref, annotation_id, label, track=None):
    return BoxAnnotation(label=label, x=1, y=1, width=4, height=4, reference_id=ref,
                         annotation_id=annotation_id, track_reference_id=track)
ds.annotate([
    box("f-0", "a0", "car", "car-1"), box("f-1", "a1", "car", "car-1"),
    box("f-1", "a2", "person", "walker"), box("f-2", "a3", "bus"),
    CategoryAnnotation(label="day", taxonomy_name="time", reference_id="f-2"),
])
model = client.create_model(name="det", reference_id="det-tracks")
ds.upload_predictions(model, [BoxPrediction(label="truck", x=0, y=0, width=2, height=2,
                                            reference_id="f-0", annotation_id="p0",
                                            confidence=0.5)])
s = ds.create_slice("first-two", reference_ids=["f-0", "f-1"])
tracks = ds.tracks
on_item = [(b.annotation_id, b.track_reference_id) for b in ds.refloc("f-1")["annotations"]["box"]]
by_scene = list(ds.scene_and_annotation_generator(page_size=1))
by_scene_of_slice = list(ds.scene_and_annotation_generator(slice_id=s.id))
ds.delete_tracks(["car-1"])
result = {
    "labels": ds.export_class_labels(),
    "slice_labels": ds.export_class_labels(slice_id=s.id),
    "schema": ds.evaluation_label_schema(),
    "tracks": sorted((t.reference_id, t.dataset_id == ds.id) for t in tracks),
    "on_item": sorted(on_item),
    "after": sorted(t.reference_id for t in ds.tracks),
    "boxes_after": sorted((b.annotation_id, b.track_reference_id)
                          for b in ds.refloc("f-0")["annotations"]["box"]),
    "by_scene": [(row["scene"]["reference_id"], row["scene"]["type"],
                  sorted((name, track["label"], [f["key"] for f in track["frames"]])
                         for name, track in row["annotations"].items()))
                 for row in by_scene],
    "by_scene_of_slice": [row["scene"]["reference_id"] for row in by_scene_of_slice],
    "frame": by_scene[0]["annotations"]["car-1"]["frames"][0],
}
""",
    )
    assert got["labels"] == ["bus", "car", "day", "person"]
    assert got["slice_labels"] == ["car", "person"]
    assert got["schema"] == {
        "gt_labels": ["bus", "car", "day", "person"],
        "prediction_labels": ["truck"],
    }
    assert got["tracks"] == [["car-1", True], ["walker", True]]
    assert got["on_item"] == [["a1", "car-1"], ["a2", "walker"]]
    assert got["after"] == ["walker"]
    assert got["boxes_after"] == [["a0", None]]
    # The scene with its boxes on tracks (an untracked box on its annotation id's).
    assert got["by_scene"] == [
        [
            "clip",
            "video",
            [
                ["a3", "bus", ["f-2"]],
                ["car-1", "car", ["f-0", "f-1"]],
                ["walker", "person", ["f-1"]],
            ],
        ]
    ]
    assert got["by_scene_of_slice"] == ["clip"]
    frame = got["frame"]
    assert [frame[k] for k in ("left", "top", "width", "height", "key")] == [1, 1, 4, 4, "f-0"]
    assert frame["dataset_item_id"].startswith("di_")

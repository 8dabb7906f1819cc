"""Label vocabularies and tracks through the official client (0.22): `export_class_labels`
of a dataset and of a slice, `evaluation_label_schema`, a video scene's tracks named by its
annotations' `track_reference_id`, read back on the annotations, listed, deleted."""

from __future__ import annotations

import json
import uuid

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


def test_lidar_semseg_predictions_and_track_metadata(
    nucleus, manager: Account, file_server, server
) -> None:
    """A model's label per point of a point cloud (fetched, checked against the point
    cloud's length, kept as one mask per label over its points, replaced by a new upload),
    and the tracks a scene declares with their metadata (read on the scene and the dataset,
    updated, deleted)."""
    base, root = file_server
    tag = uuid.uuid4().hex[:8]
    points = [{"x": float(i), "y": 0.0, "z": 0.0} for i in range(5)]
    files = {
        f"pc-{tag}.json": {"points": points},
        f"lss-{tag}.json": {
            "objects": [{"label": "car", "index": 1}, {"label": "road", "index": 2}],
            "point_objects": [2, 1, 1, 2, 2],
            "point_confidence": [0.9, 0.5, 0.7, 0.8, 1.0],
        },
        f"again-{tag}.json": {
            "objects": [{"label": "road", "index": 2}],
            "point_objects": [2, 2, 2, 2, 0],
        },
        f"short-{tag}.json": {"objects": [{"label": "car", "index": 1}], "point_objects": [1, 1]},
    }
    for name, body in files.items():
        (root / name).write_text(json.dumps(body))
    url = {name.split("-")[0]: f"{base}/{name}" for name in files}
    got = nucleus(
        manager.key,
        """
import json, urllib.request
from nucleus import DatasetItem, Frame, LidarScene
from nucleus.track import Track
ds = client.create_dataset("semseg", is_scene=True)
def track(ref, metadata):
    return Track(_connection=client.connection, dataset_id=ds.id, reference_id=ref,
                 metadata=metadata)
car, bike = track("car-1", {"kind": "car"}), track("bike-1", {"kind": "bike", "wheels": 2})
scene = LidarScene(reference_id="drive", tracks=[car, bike], frames=[Frame(
    lidar=DatasetItem(pointcloud_location=args["pc"], reference_id="pc-0"),
    front=DatasetItem(image_location="https://x.example/0.jpg", reference_id="cam-0"))])
# The scene's payload as the client writes it, through the sync scene route (the async
# append's job imports the same lines, but waiting on it costs the client's 5 s poll).
client.make_request({"scenes": [scene.to_payload()], "update": False}, f"{ds.id}/upload_scenes")
model = client.create_model(name="segmenter", reference_id=args["model"])
def native():
    request = urllib.request.Request(
        f"{args['server']}/api/v1/datasets/{ds.id[3:]}/query",
        data=json.dumps({"predictions": True, "limit": 10}).encode(),
        headers={"Authorization": f"Bearer {args['key']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        rows = json.load(answer)["items"]
    shapes = [s for r in rows if r["reference_id"] == "pc-0"
              for s in r["predictions"].get("segmenter", [])]
    return sorted((s["label"], s["rle"], s.get("confidence")) for s in shapes)
first = ds.upload_lidar_semseg_predictions(model, "pc-0", args["lss"])
after_first = native()
ds.upload_lidar_semseg_predictions(model, "pc-0", args["again"])
after_again = native()
errors = {}
for key, (ref, where) in {
    "short": ("pc-0", args["short"]), "missing": ("pc-0", args["lss"] + ".gone"),
    "no item": ("nope", args["lss"]), "camera": ("cam-0", args["lss"]),
}.items():
    try:
        ds.upload_lidar_semseg_predictions(model, ref, where)
        errors[key] = "accepted"
    except nucleus.errors.NucleusAPIError as error:
        errors[key] = [error.status_code, error.message.rsplit("\\n", 1)[-1]]
on_scene = sorted((t.reference_id, t.metadata) for t in ds.get_scene("drive").tracks)
car.update({"color": "red"})
bike.update({"wheels": 3}, overwrite_metadata=True)
try:
    track("ghost", {}).update({"a": 1})
    errors["ghost"] = "accepted"
except nucleus.errors.NucleusAPIError as error:
    errors["ghost"] = [error.status_code, error.message.rsplit("\\n", 1)[-1]]
updated = sorted((t.reference_id, t.metadata) for t in ds.tracks)
ds.delete_tracks(["bike-1"])
result = {
    "first": first, "after_first": after_first, "after_again": after_again, "errors": errors,
    "on_scene": on_scene, "updated": updated,
    "after_delete": [sorted(t.reference_id for t in ds.tracks),
                     sorted(t.reference_id for t in ds.get_scene("drive").tracks)],
}
""",
        args={**url, "model": f"segmenter-{tag}", "server": server.url, "key": manager.key},
    )
    assert got["first"]["points"] == 5 and got["first"]["labels"] == ["car", "road"]
    # One mask per label over the points (size points x 1: column-major is point order),
    # its confidence the mean of its points'.
    assert got["after_first"] == [
        ["car", {"size": [5, 1], "counts": [1, 2, 2]}, pytest.approx(0.6)],
        ["road", {"size": [5, 1], "counts": [0, 1, 2, 2]}, pytest.approx(0.9)],
    ]
    # A new upload replaces the model's earlier labels of that point cloud.
    assert got["after_again"] == [["road", {"size": [5, 1], "counts": [0, 4, 1]}, None]]
    errors = got["errors"]
    assert errors["short"][0] == 400 and "pointsSegmentationUrl.point_objects" in errors["short"][1]
    assert "2 labels for a point cloud of 5 points" in errors["short"][1]
    assert errors["missing"][0] == 400 and "pointsSegmentationUrl" in errors["missing"][1]
    assert errors["no item"][0] == 404
    assert errors["camera"][0] == 400 and "not a point cloud" in errors["camera"][1]
    assert errors["ghost"][0] == 404 and "reference_id" in errors["ghost"][1]
    assert got["on_scene"] == [
        ["bike-1", {"kind": "bike", "wheels": 2}],
        ["car-1", {"kind": "car"}],
    ]
    assert got["updated"] == [["bike-1", {"wheels": 3}], ["car-1", {"kind": "car", "color": "red"}]]
    assert got["after_delete"] == [["car-1"], ["car-1"]]

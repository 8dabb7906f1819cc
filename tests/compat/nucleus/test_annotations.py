"""Ground truth through the official client (both lines): every Nucleus annotation type
uploaded, read back per item and in exports, kept or replaced by annotation id, deleted;
bad annotations refused naming the field, nothing written."""

from __future__ import annotations

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live

SETUP = """
from nucleus import (DatasetItem, BoxAnnotation, PolygonAnnotation, LineAnnotation, Point,
                     KeypointsAnnotation, Keypoint, CuboidAnnotation, Point3D,
                     CategoryAnnotation, MultiCategoryAnnotation)
def finish(answer):
    if hasattr(answer, "sleep_until_complete"):
        answer.sleep_until_complete(verbose_std_out=False)
ds = client.create_dataset(args.get("name", "gt"), is_scene=False)
finish(ds.append([DatasetItem(image_location=f"https://images.example/{i}.jpg",
                              reference_id=f"img-{i}") for i in range(2)]))
"""

EVERY_TYPE = """
annotations = [
    BoxAnnotation(label="car", x=10, y=20, width=30, height=40, reference_id="img-0",
                  annotation_id="box-1", metadata={"occluded": True}),
    PolygonAnnotation(label="road", vertices=[Point(0, 0), Point(10, 0), Point(10, 10)],
                      reference_id="img-0", annotation_id="poly-1"),
    LineAnnotation(label="lane", vertices=[Point(0, 0), Point(5, 5)], reference_id="img-0",
                   annotation_id="line-1"),
    KeypointsAnnotation(label="person", keypoints=[Keypoint(1, 2), Keypoint(3, 4, visible=False)],
                        names=["nose", "ear"], skeleton=[[0, 1]], reference_id="img-0",
                        annotation_id="kp-1"),
    CuboidAnnotation(label="truck", position=Point3D(1, 2, 3), dimensions=Point3D(4, 5, 6),
                     yaw=0.5, reference_id="img-1", annotation_id="cub-1"),
    CategoryAnnotation(label="day", taxonomy_name="time", reference_id="img-1"),
    MultiCategoryAnnotation(labels=["a", "b"], taxonomy_name="tags", reference_id="img-1"),
]
"""


def test_every_type_round_trips(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        SETUP
        + EVERY_TYPE
        + """
answer = ds.annotate(annotations)
first = ds.refloc("img-0")["annotations"]
second = ds.refloc("img-1")["annotations"]
one = ds.ground_truth_loc("img-0", "box-1")
def name(a):
    return getattr(a, "annotation_id", None) or getattr(a, "label", None) or a.labels
exported = {row["item"].reference_id: {k: [name(a) for a in v]
                                       for k, v in row["annotations"].items()}
            for row in ds.items_and_annotations()}
def dump(found):
    return {kind: [a.to_payload() for a in anns] for kind, anns in found.items() if anns}
result = {"answer": answer, "first": dump(first), "second": dump(second),
          "one": one.to_payload(), "exported": exported}
""",
    )
    assert got["answer"]["annotations_processed"] == 7
    assert got["answer"]["annotations_ignored"] == 0
    first, second = got["first"], got["second"]
    box = first["box"][0]
    assert box["geometry"] == {"x": 10, "y": 20, "width": 30, "height": 40}
    assert box["label"] == "car" and box["annotation_id"] == "box-1"
    assert box["metadata"] == {"occluded": True}
    assert first["polygon"][0]["geometry"]["vertices"] == [
        {"x": 0, "y": 0},
        {"x": 10, "y": 0},
        {"x": 10, "y": 10},
    ]
    assert first["line"][0]["geometry"]["vertices"] == [{"x": 0, "y": 0}, {"x": 5, "y": 5}]
    keypoints = first["keypoints"][0]["geometry"]
    assert keypoints["names"] == ["nose", "ear"]
    assert [p["visible"] for p in keypoints["keypoints"]] == [True, False]
    assert keypoints["keypoints"][0]["x"] == 1 and keypoints["keypoints"][0]["y"] == 2
    cuboid = second["cuboid"][0]["geometry"]
    assert cuboid["position"] == {"x": 1, "y": 2, "z": 3}
    assert cuboid["dimensions"] == {"x": 4, "y": 5, "z": 6}
    assert cuboid["yaw"] == 0.5
    assert second["category"][0]["label"] == "day"
    assert second["category"][0]["taxonomy_name"] == "time"
    assert second["multicategory"][0]["labels"] == ["a", "b"]
    assert got["one"]["annotation_id"] == "box-1"
    assert got["exported"]["img-0"]["box"] == ["box-1"]
    assert got["exported"]["img-1"]["cuboid"] == ["cub-1"]
    assert got["exported"]["img-1"]["category"] == ["day"]
    assert got["exported"]["img-1"]["multicategory"] == [["a", "b"]]


def test_update_replaces_by_annotation_id_and_deletes_go(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        SETUP
        + """
box = lambda x: BoxAnnotation(label="car", x=x, y=0, width=5, height=5, reference_id="img-0",
                              annotation_id="b")
kept = ds.annotate([box(1)])
ignored = ds.annotate([box(2)])
x_after_ignored = ds.refloc("img-0")["annotations"]["box"][0].x
replaced = ds.annotate([box(3)], update=True)
x_after_update = ds.refloc("img-0")["annotations"]["box"][0].x
ds.annotate([BoxAnnotation(label="bus", x=0, y=0, width=1, height=1, reference_id="img-1",
                           annotation_id="c")])
async_job = ds.annotate([box(4)], update=True, asynchronous=True)
async_job.sleep_until_complete(verbose_std_out=False)
x_after_async = ds.refloc("img-0")["annotations"]["box"][0].x
job = ds.delete_annotations(reference_ids=["img-0"])
job.sleep_until_complete(verbose_std_out=False)
result = {"kept": kept, "ignored": ignored, "replaced": replaced,
          "x": [x_after_ignored, x_after_update, x_after_async],
          "async": [async_job.job_type if hasattr(async_job, "job_type") else None,
                    async_job.status()["status"]],
          "left0": len(ds.refloc("img-0")["annotations"].get("box", [])),
          "left1": len(ds.refloc("img-1")["annotations"].get("box", [])),
          "status": job.status()["status"]}
""",
    )
    assert got["kept"]["annotations_processed"] == 1
    assert got["ignored"]["annotations_ignored"] == 1
    assert got["replaced"]["annotations_processed"] == 1
    assert got["x"] == [1, 3, 4]
    assert got["async"] == ["uploadAnnotations", "Completed"]
    assert got["left0"] == 0 and got["left1"] == 1
    assert got["status"] == "Completed"


@pytest.mark.parametrize(
    "bad, field",
    [
        (
            'BoxAnnotation(label="car", x=0, y=0, width=-1, height=5, reference_id="img-0")',
            "annotations[1].geometry.width",
        ),
        (
            'BoxAnnotation(label="car", x=0, y=0, width=1, height=5, reference_id="nope")',
            "annotations[1].reference_id",
        ),
    ],
)
def test_a_bad_annotation_is_refused_naming_it(
    nucleus, manager: Account, bad: str, field: str
) -> None:
    got = nucleus(
        manager.key,
        SETUP
        + f"""
good = BoxAnnotation(label="car", x=0, y=0, width=1, height=1, reference_id="img-0",
                     annotation_id="good")
try:
    ds.annotate([good, {bad}])
    result = {{"outcome": "accepted"}}
except nucleus.errors.NucleusAPIError as error:
    result = {{"outcome": error.status_code, "message": error.message}}
result["left"] = len(ds.refloc("img-0")["annotations"].get("box", []))
""",
    )
    assert got["outcome"] == 400
    assert field in got["message"]
    assert got["left"] == 0


def test_segmentation_masks_are_decoded_to_rle_and_read_back(
    nucleus, manager: Account, file_server, server
) -> None:
    import httpx
    import numpy as np
    from PIL import Image

    base, root = file_server
    pixels = np.zeros((3, 4), dtype=np.uint8)
    pixels[0, :2] = 1  # two "road" pixels
    pixels[1:, 3] = 2  # two "car" pixels
    Image.fromarray(pixels, mode="L").save(root / "mask-1.png")
    got = nucleus(
        manager.key,
        SETUP
        + """
from nucleus import SegmentationAnnotation, Segment
answer = ds.annotate([SegmentationAnnotation(
    mask_url=args["url"], annotations=[Segment("road", 1), Segment("car", 2)],
    reference_id="img-0", annotation_id="seg-1")])
found = ds.refloc("img-0")["annotations"]["segmentation"]
exported = [row["annotations"].get("segmentation") for row in ds.items_and_annotations()
            if row["item"].reference_id == "img-0"][0]
try:
    ds.annotate([SegmentationAnnotation(mask_url=args["missing"], annotations=[Segment("x", 1)],
                                        reference_id="img-1", annotation_id="seg-2")])
    missing = "accepted"
except nucleus.errors.NucleusAPIError as error:
    missing = [error.status_code, error.message]
result = {"answer": answer, "found": [s.to_payload() for s in found],
          "exported": exported.to_payload() if exported else None, "missing": missing,
          "id": ds.id}
""",
        args={"url": f"{base}/mask-1.png", "missing": f"{base}/nope.png", "name": "masks"},
    )
    assert got["answer"]["annotations_processed"] == 2
    (segmentation,) = got["found"]
    assert segmentation["mask_url"] == f"{base}/mask-1.png"
    assert segmentation["annotation_id"] == "seg-1"
    assert sorted((s["label"], s["index"]) for s in segmentation["annotations"]) == [
        ("car", 2),
        ("road", 1),
    ]
    assert got["exported"]["mask_url"] == f"{base}/mask-1.png"
    assert got["missing"][0] == 400 and "segmentations[0].mask_url" in got["missing"][1]
    # Natively they are RLE masks (column-major, zeros first) of the right pixels.
    item = httpx.get(
        f"{server.url}/api/v1/datasets/{got['id'][3:]}/items-by-reference/img-0",
        headers={"Authorization": f"Bearer {manager.key}"},
    ).json()
    masks = {a["label"]: a["rle"] for a in item["annotations"]}
    assert masks["road"] == {"size": [3, 4], "counts": [0, 1, 2, 1, 8]}
    assert masks["car"] == {"size": [3, 4], "counts": [10, 2]}


def test_local_mask_files_upload_as_blobs_and_read_back(
    nucleus, manager: Account, tmp_path
) -> None:
    import numpy as np
    from PIL import Image

    pixels = np.zeros((2, 3), dtype=np.uint8)
    pixels[1, 1:] = 7
    path = tmp_path / "local mask.png"
    Image.fromarray(pixels, mode="L").save(path)
    got = nucleus(
        manager.key,
        SETUP
        + """
import urllib.request
from nucleus import SegmentationAnnotation, SegmentationPrediction, Segment
answer = ds.annotate([SegmentationAnnotation(
    mask_url=args["path"], annotations=[Segment("lane", 7)], reference_id="img-1",
    annotation_id="seg-local")])
found = ds.refloc("img-1")["annotations"]["segmentation"][0]
with urllib.request.urlopen(found.mask_url) as response:
    served = response.read()
model = client.create_model(name="segmenter", reference_id=args["ref"])
predicted = ds.upload_predictions(model, [SegmentationPrediction(
    mask_url=args["path"], annotations=[Segment("lane", 7)], reference_id="img-1",
    annotation_id="pred-local")])
prediction = ds.predictions_refloc(model, "img-1")["segmentation"][0]
result = {"answer": answer, "labels": [(s.label, s.index) for s in found.annotations],
          "url": found.mask_url, "same_bytes": served == open(args["path"], "rb").read(),
          "predicted": predicted["predictions_processed"],
          "prediction": prediction.annotation_id}
""",
        args={"path": str(path), "name": "local masks", "ref": f"segmenter-{tmp_path.name}"},
    )
    assert got["answer"]["annotations_processed"] == 1
    assert got["labels"] == [["lane", 7]]
    assert "/media/" in got["url"]
    assert got["same_bytes"] is True
    assert got["predicted"] == 1
    assert got["prediction"] == "pred-local"

"""Slices through the official client: create by reference ids or by item ids, build a
random sample, info, tags, append, items, exports (ground truth, a model's predictions, raw),
the dataset's and the account's lists, delete, send to labeling, errors."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Account
from tests.support.servers import LiveServer

TAXONOMY = {"labels": [{"name": "car", "geometries": ["box"]}]}

pytestmark = pytest.mark.live


def test_slices_created_appended_read_and_deleted(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxAnnotation
ds = client.create_dataset("slices")
answer = ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}",
                                metadata={"n": n}) for n in range(6)])
if hasattr(answer, "sleep_until_complete"):  # 0.22 appends remote items as a job
    answer.sleep_until_complete(verbose_std_out=False)
ds.annotate([BoxAnnotation(label="car", x=1, y=2, width=3, height=4, reference_id="img-1",
                           annotation_id="b1")])
s = ds.create_slice("firsts", reference_ids=["img-0", "img-1"])
info = s.info()
s.append(["img-2", "img-1"])
items = sorted(i.reference_id for i in s.dataset_items())
rows = s.items_and_annotations()
listed = [x.id for x in ds.slices]
everywhere = [x.id for x in client.slices]
result = {
    "id": s.id, "name": info["name"], "dataset_id": info["dataset_id"], "items": items,
    "rows": sorted((r["item"].reference_id, len(r["annotations"]["box"])) for r in rows),
    "listed": listed, "everywhere": s.id in everywhere,
    "slice_ids": ds.info().slice_ids,
}
client.delete_slice(s.id)
result["after"] = [x.id for x in ds.slices]
try:
    ds.create_slice("bad", reference_ids=["img-0", "nope"])
    result["bad"] = "accepted"
except nucleus.errors.NucleusAPIError as error:
    result["bad"] = error.status_code
""",
    )
    assert got["id"].startswith("slc_")
    assert got["name"] == "firsts" and got["dataset_id"].startswith("ds_")
    assert got["items"] == ["img-0", "img-1", "img-2"]
    assert got["rows"] == [["img-0", 0], ["img-1", 1], ["img-2", 0]]
    assert got["listed"] == [got["id"]] and got["everywhere"] is True
    assert got["slice_ids"] == [got["id"]]
    assert got["after"] == []
    assert got["bad"] == 404


def test_slices_by_ids_built_tagged_exported_and_sent_to_labeling(
    nucleus, manager: Account, server: LiveServer, name: Callable[[str], str]
) -> None:
    project = httpx.post(
        f"{server.url}/api/v1/projects",
        json={"name": name("from-nucleus"), "task_type": "image", "taxonomy": TAXONOMY},
        headers=manager.headers,
    )
    assert project.status_code == 201, project.text
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxAnnotation, BoxPrediction
from nucleus.slice import SliceBuilderFilters, SliceBuilderMethods
ds = client.create_dataset("slice-reads")
job = ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}",
                             metadata={"n": n}) for n in range(8)])
if hasattr(job, "sleep_until_complete"):  # 0.22 appends remote items as a job
    job.sleep_until_complete(verbose_std_out=False)
ds.annotate([BoxAnnotation(label="car", x=1, y=2, width=3, height=4, reference_id="img-1",
                           annotation_id="b1")])
model = client.create_model(name="det", reference_id=args["model"])
ds.upload_predictions(model, [BoxPrediction(label="car", x=1, y=2, width=3, height=4,
                                            reference_id="img-1", annotation_id="p1",
                                            confidence=0.6)])
# 0.18's DatasetItem has no dataset_item_id: read the ids off the raw item list.
import requests
listed = client.make_request({}, f"dataset/{ds.id}/datasetItems", requests.get)
ids = {i["reference_id"]: i["id"] for i in listed["dataset_items"]}
s = ds.create_slice_by_ids("by-ids", dataset_item_ids=[ids["img-1"], ids["img-3"]])
s = client.get_slice(s.id)
s.add_tags(["hard", "night"])
s.add_tags(["night"])
rows = list(s.items_and_annotation_generator())
preds = s.export_predictions(model)
pred_rows = list(s.export_predictions_generator(model))
raw = s.export_raw_json()
raw_items = s.export_raw_items()
built = ds.build_slice("sample", 5, SliceBuilderMethods.RANDOM)
built_within = ds.build_slice("sample-of-slice", 10, SliceBuilderMethods.RANDOM,
                              SliceBuilderFilters(slice_id=s.id))
job = s.send_to_labeling(args["project"])
job.sleep_until_complete(verbose_std_out=False)
result = {
    "tags": s.tags, "name": s.name,
    "items": sorted(i.reference_id for i in s.items_generator()),
    "rows": sorted((r["item"].reference_id, len(r["annotations"]["box"])) for r in rows),
    "preds": sorted((r["item"].reference_id, [p.confidence for p in r["predictions"]["box"]])
                    for r in preds),
    "pred_rows": len(pred_rows),
    "raw": sorted(r["item"]["reference_id"] for r in raw),
    "raw_items": sorted((r["ref_id"], r["original_url"]) for r in raw_items),
    "built": len(list(client.get_slice(built["sliceId"]).items_generator())),
    "built_within": sorted(i.reference_id for i in
                           client.get_slice(built_within["sliceId"]).items_generator()),
    "job": [job.status()["status"], job.job_type],
    "task_info": sorted((r["item"].reference_id, [(t["task_status"], t["task_audit_status"],
                          t["project_name"], bool(t["task_id"] and t["batch"]))
                          for t in r["scale_task_info"]])
                         for r in ds.export_scale_task_info()),
    "slice_task_info": sorted(r["item"].reference_id for r in s.export_scale_task_info()),
}
for name, call in {
    "unknown_item": lambda: ds.create_slice_by_ids("x", dataset_item_ids=["di_nope"]),
    "objects": lambda: ds.create_slice_by_ids("x", annotation_ids=["ann_1"]),
    "uniqueness": lambda: ds.build_slice("u", 2, SliceBuilderMethods.UNIQUENESS),
    "no_project": lambda: s.send_to_labeling("0" * 24),
}.items():
    try:
        call()
        result[name] = "accepted"
    except nucleus.errors.NucleusAPIError as error:
        result[name] = error.status_code
""",
        args={"project": project.json()["id"], "model": name("det")},
    )
    assert got["tags"] == ["hard", "night"] and got["name"] == "by-ids"
    assert got["items"] == ["img-1", "img-3"]
    assert got["rows"] == [["img-1", 1], ["img-3", 0]]
    assert got["preds"] == [["img-1", [0.6]], ["img-3", []]]
    assert got["pred_rows"] == 2
    assert got["raw"] == ["img-1", "img-3"]
    assert got["raw_items"] == [
        ["img-1", "https://m.test/1.jpg"],
        ["img-3", "https://m.test/3.jpg"],
    ]
    assert got["built"] == 5
    assert got["built_within"] == ["img-1", "img-3"]
    assert got["job"] == ["Completed", "sendToLabeling"]
    assert got["unknown_item"] == 404 and got["objects"] == 400
    assert got["uniqueness"] == 400 and got["no_project"] == 404
    tasks = httpx.get(
        f"{server.url}/api/v1/tasks",
        params={"project_id": project.json()["id"]},
        headers=manager.headers,
    )
    assert tasks.status_code == 200, tasks.text
    sent = sorted(t["metadata"]["reference_id"] for t in tasks.json()["items"])
    assert sent == ["img-1", "img-3"]
    # The items' tasks, as Scale task info (the dataset's and the slice's).
    project_name = project.json()["name"]
    assert got["task_info"] == [
        ["img-1", [["pending", "pending", project_name, True]]],
        ["img-3", [["pending", "pending", project_name, True]]],
    ]
    assert got["slice_task_info"] == ["img-1", "img-3"]


def test_object_slices_of_annotations_and_predictions(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxAnnotation, PolygonAnnotation, Point, BoxPrediction
ds = client.create_dataset("object-slices")
ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}")
           for n in range(3)]).sleep_until_complete(verbose_std_out=False)
ds.annotate([
    BoxAnnotation(label="car", x=1, y=2, width=3, height=4, reference_id="img-0",
                  annotation_id="b0"),
    BoxAnnotation(label="car", x=5, y=5, width=3, height=4, reference_id="img-1",
                  annotation_id="b1"),
    PolygonAnnotation(label="road", vertices=[Point(0, 0), Point(9, 0), Point(9, 9)],
                      reference_id="img-1"),            # no annotation_id
    BoxAnnotation(label="bus", x=1, y=1, width=2, height=2, reference_id="img-2",
                  annotation_id="b2"),
])
model = client.create_model(name="det", reference_id=args["model"])
ds.upload_predictions(model, [
    BoxPrediction(label="car", x=5, y=5, width=3, height=4, reference_id="img-1",
                  annotation_id="p1", confidence=0.6),
    BoxPrediction(label="car", x=1, y=1, width=2, height=2, reference_id="img-2",
                  annotation_id="p2", confidence=0.3),
])
other = client.create_dataset("object-slices-other")
other.append([DatasetItem(image_location="https://m.test/x.jpg", reference_id="img-0")]
             ).sleep_until_complete(verbose_std_out=False)
other.annotate([BoxAnnotation(label="car", x=1, y=2, width=3, height=4, reference_id="img-0",
                              annotation_id="b0")])
import requests
def objects(dataset, mode, run=None):
    page = client.make_request({"query": "", "patch_mode": mode, "model_run_id": run,
                                "pageSize": 100}, f"dataset/{dataset.id}/queryObjectsPage")
    return {o["annotation_id"] or o["type"]: o["id"] for o in page["items"]}
gt, preds, foreign = objects(ds, "ground_truth_only"), objects(ds, "predictions_only"), \
    objects(other, "ground_truth_only")
item = {i.reference_id: i.dataset_item_id for i in ds.items}
s = ds.create_slice_by_ids("objs", annotation_ids=[gt["b0"], gt["polygon"]],
                           prediction_ids=[preds["p1"]])
s = client.get_slice(s.id)
def members():
    return sorted([type(o).__name__, o.reference_id, o.annotation_id, o.label]
                  for o in s.items)
result = {
    "gt": gt, "preds": preds, "item": item, "model": model.id, "type": s.type,
    "listed": [x.type for x in ds.slices], "slice": s.id,
    "members": members(),
    "items": sorted(i.reference_id for i in s.items_generator()),
    "rows": sorted((r["item"].reference_id, sorted(a.label for k in ("box", "polygon")
                    for a in r["annotations"][k])) for r in s.items_and_annotations()),
    "pred_rows": sorted((r["item"].reference_id, [p.annotation_id for p in
                         r["predictions"]["box"]]) for r in s.export_predictions(model)),
    "raw": sorted((r["item"]["reference_id"], k, r[k]["id"]) for r in s.export_raw_json()
                  for k in ("annotation", "prediction") if k in r),
}
items_slice = ds.create_slice("items", reference_ids=["img-0"])
result["by_type"] = [[x.id for x in ds.get_slices(slice_type=t)]
                     for t in ("object", "dataset_item")] + [items_slice.id]
def refused(call):
    try:
        call()
        return "accepted"
    except nucleus.errors.NucleusAPIError as error:
        return [error.status_code, error.message.split("The detailed error is:")[-1]]
result["refused"] = {
    "unknown": refused(lambda: ds.create_slice_by_ids(
        "x", annotation_ids=[gt["b0"], gt["b0"][:-2] + "nope"])),
    "foreign": refused(lambda: ds.create_slice_by_ids(
        "x", annotation_ids=[gt["b0"], foreign["b0"]])),
    "malformed": refused(lambda: ds.create_slice_by_ids("x", annotation_ids=["b0"])),
    "mixed": refused(lambda: ds.create_slice_by_ids("x", dataset_item_ids=[item["img-0"]],
                                                    annotation_ids=[gt["b0"]])),
    "append": refused(lambda: s.append(["img-2"])),
}
result["slices_after_refusals"] = len(ds.slices)
# The polygon's item loses its ground truth, img-0 goes: their members dangle.
ds.delete_annotations(reference_ids=["img-1"]).sleep_until_complete(verbose_std_out=False)
ds.delete_item("img-0")
result["after"] = {"members": members(), "type": s.info()["type"],
                   "items": sorted(i.reference_id for i in s.items_generator()),
                   "raw": len(s.export_raw_json())}
""",
        args={"model": "object-slice-det"},
    )
    item = {ref: di.removeprefix("di_") for ref, di in got["item"].items()}
    model = got["model"].removeprefix("prj_")
    # The ids reads hand out: ann_<item>_<annotation id>, pred_<item>_<model>_<annotation
    # id>, a digest (`#` + 16 hex) for a shape without an annotation id.
    assert got["gt"]["b0"] == f"ann_{item['img-0']}_b0"
    assert got["gt"]["b2"] == f"ann_{item['img-2']}_b2"
    assert got["preds"] == {
        "p1": f"pred_{item['img-1']}_{model}_p1",
        "p2": f"pred_{item['img-2']}_{model}_p2",
    }
    polygon = got["gt"]["polygon"]
    assert polygon.startswith(f"ann_{item['img-1']}_#") and len(polygon.split("#")[1]) == 16
    assert got["type"] == "object" and sorted(got["listed"]) == ["object"]
    assert got["by_type"] == [[got["slice"]], [got["by_type"][2]], got["by_type"][2]]
    assert got["members"] == [
        ["BoxAnnotation", "img-0", "b0", "car"],
        ["BoxPrediction", "img-1", "p1", "car"],
        ["PolygonAnnotation", "img-1", None, "road"],
    ]
    assert got["items"] == ["img-0", "img-1"]
    # Exports show the slice's items with its member objects only (b1 is not one).
    assert got["rows"] == [["img-0", ["car"]], ["img-1", ["road"]]]
    assert got["pred_rows"] == [["img-0", []], ["img-1", ["p1"]]]
    assert got["raw"] == sorted(
        [
            ["img-0", "annotation", got["gt"]["b0"]],
            ["img-1", "annotation", polygon],
            ["img-1", "prediction", got["preds"]["p1"]],
        ]
    )
    refused = got["refused"]
    assert refused["unknown"][0] == 404 and "object_ids[1]" in refused["unknown"][1]
    assert refused["foreign"][0] == 404 and "object_ids[1]" in refused["foreign"][1]
    assert refused["malformed"][0] == 400 and "object_ids[0]" in refused["malformed"][1]
    assert refused["mixed"][0] == 400 and "object_ids" in refused["mixed"][1]
    assert refused["append"][0] == 400
    assert got["slices_after_refusals"] == 2
    assert got["after"] == {
        "members": [["BoxPrediction", "img-1", "p1", "car"]],
        "type": "object",
        "items": ["img-1"],
        "raw": 1,
    }

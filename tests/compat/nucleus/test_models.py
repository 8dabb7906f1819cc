"""Models and predictions through the official client (both lines): create, list, read,
delete models; upload predictions (sync batches and the signed-URL job) with confidence and
class distributions, read them per item, one by id, export; model runs; a prediction on an
unknown item refused naming it, nothing written."""

from __future__ import annotations

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live

SETUP = """
from nucleus import DatasetItem, BoxPrediction, PolygonPrediction, CategoryPrediction, Point
def finish(answer):
    if hasattr(answer, "sleep_until_complete"):
        answer.sleep_until_complete(verbose_std_out=False)
        return answer.status()["status"]
    return answer
ds = client.create_dataset("preds", is_scene=False)
finish(ds.append([DatasetItem(image_location=f"https://images.example/{i}.jpg",
                              reference_id=f"img-{i}") for i in range(2)]))
model = client.create_model(name="detector", reference_id=args["ref"])
def box(ref, annotation_id, x, confidence=0.9):
    return BoxPrediction(label="car", x=x, y=0, width=5, height=5, reference_id=ref,
                         annotation_id=annotation_id, confidence=confidence,
                         class_pdf={"car": confidence, "bus": round(1 - confidence, 3)})
"""


def test_models_are_created_listed_read_and_deleted_with_their_predictions(
    nucleus, nucleus_line: str, manager: Account
) -> None:
    got = nucleus(
        manager.key,
        SETUP
        + """
uploaded = ds.upload_predictions(model, [
    box("img-0", "p1", 1), box("img-0", "p2", 2, 0.4),
    PolygonPrediction(label="road", vertices=[Point(0, 0), Point(4, 0), Point(4, 4)],
                      reference_id="img-1", annotation_id="p3", confidence=0.7),
    CategoryPrediction(label="day", taxonomy_name="time", reference_id="img-1", confidence=0.8),
])
listed = [(m.id, m.name, m.reference_id) for m in client.models if m.id == model.id]
fetched = client.get_model(model.id)
refloc = ds.predictions_refloc(model, "img-0")
iloc = ds.predictions_iloc(model, 1)
one = ds.prediction_loc(model, "img-0", "p2")
exported = ds.export_predictions(model)
info = ds.info()
gt = ds.refloc("img-0")["annotations"]
result = {
    "uploaded": uploaded, "listed": listed, "fetched": [fetched.id, fetched.name],
    "refloc": sorted((p.annotation_id, p.x, p.confidence) for p in refloc["box"]),
    "pdf": refloc["box"][0].class_pdf,
    "iloc": {k: len(v) for k, v in iloc.items() if v},
    "one": one.to_payload(),
    "exported": {k: len(v) for k, v in exported.items() if v},
    "runs": info.model_run_ids,
    "gt": sum(len(v) for v in gt.values()),
}
client.delete_model(model.id)
result["after_models"] = [m.id for m in client.models if m.id == model.id]
result["after_runs"] = ds.info().model_run_ids
""",
        args={"ref": f"detector-{nucleus_line}"},
    )
    assert got["uploaded"]["predictions_processed"] == 4
    assert got["uploaded"]["predictions_ignored"] == 0
    model_id = got["fetched"][0]
    assert model_id.startswith("prj_")
    assert got["listed"] == [[model_id, "detector", f"detector-{nucleus_line}"]]
    assert got["fetched"][1] == "detector"
    assert got["refloc"] == [["p1", 1, 0.9], ["p2", 2, 0.4]]
    assert got["pdf"] == {"car": 0.9, "bus": 0.1}
    assert got["iloc"] == {"polygon": 1, "category": 1}
    assert got["one"]["annotation_id"] == "p2" and got["one"]["confidence"] == 0.4
    assert got["exported"] == {"box": 2, "polygon": 1, "category": 1}
    assert len(got["runs"]) == 1 and got["runs"][0].startswith("run_")
    assert got["gt"] == 0  # predictions are not ground truth
    assert got["after_models"] == []
    assert got["after_runs"] == []


def test_async_predictions_and_model_runs(nucleus, nucleus_line: str, manager: Account) -> None:
    got = nucleus(
        manager.key,
        SETUP
        + """
status = finish(ds.upload_predictions(model, [box("img-0", "a1", 1), box("img-1", "a2", 2)],
                                      asynchronous=True))
ignored = ds.upload_predictions(model, [box("img-0", "a1", 7)])
replaced = ds.upload_predictions(model, [box("img-0", "a1", 8)], update=True)
run = model.create_run("run one", ds, [box("img-1", "r1", 3)])
run_info = run.info()
from_run = run.refloc("img-1")
result = {
    "status": status, "ignored": ignored["predictions_ignored"],
    "replaced": replaced["predictions_processed"],
    "x": ds.prediction_loc(model, "img-0", "a1").x,
    "run_id": run.model_run_id, "run_model": run_info["model_id"],
    "from_run": sorted(p.annotation_id for p in from_run["box"]),
    "same_model": client.get_model(model_run_id=run.model_run_id).id == model.id,
}
import requests
di = client.make_request({}, f"dataset/{ds.id}/refloc/img-1",
                         requests_command=requests.get)["item"]["dataset_item_id"]
result["run_reads"] = [
    sorted(p.annotation_id for p in run.iloc(1)["box"]),
    sorted(p.annotation_id for p in run.loc(di)["box"]),
    run.prediction_loc("img-1", "r1").annotation_id,
    sorted(p.annotation_id for p in run.ungrouped_export()["box"]),
    run.commit()["model_run_id"] == run.model_run_id,
]
client.delete_model_run(run.model_run_id)
result["after_run_delete"] = ds.predictions_refloc(model, "img-1").get("box", [])
""",
        args={"ref": f"async-{nucleus_line}"},
    )
    assert got["status"] == "Completed"
    assert got["ignored"] == 1
    assert got["replaced"] == 1
    assert got["x"] == 8
    assert got["run_id"].startswith("run_")
    assert got["run_model"].startswith("prj_")
    assert got["from_run"] == ["a2", "r1"]
    assert got["same_model"] is True
    assert got["run_reads"] == [["a2", "r1"], ["a2", "r1"], "r1", ["a1", "a2", "r1"], True]
    assert got["after_run_delete"] == []


def test_a_prediction_on_an_unknown_item_is_refused_naming_it(
    nucleus, nucleus_line: str, manager: Account
) -> None:
    got = nucleus(
        manager.key,
        SETUP
        + """
try:
    ds.upload_predictions(model, [box("img-0", "ok", 1), box("missing", "bad", 2)])
    result = {"outcome": "accepted"}
except nucleus.errors.NucleusAPIError as error:
    result = {"outcome": error.status_code, "message": error.message}
result["left"] = ds.predictions_refloc(model, "img-0").get("box", [])
""",
        args={"ref": f"refused-{nucleus_line}"},
    )
    assert got["outcome"] == 400
    assert "annotations[1].reference_id" in got["message"] or "predictions[1]" in got["message"]
    assert "missing" in got["message"]
    assert got["left"] == []


def test_run_free_model_predictions_of_0_22(nucleus, nucleus_line: str, manager: Account) -> None:
    if nucleus_line != "0.22":
        pytest.skip("run-free model predictions are 0.22's (0.18 has no such calls)")
    got = nucleus(
        manager.key,
        SETUP
        + """
import requests
di = client.make_request({}, f"dataset/{ds.id}/refloc/img-1",
                         requests_command=requests.get)["item"]["dataset_item_id"]
uploaded = model.upload_predictions([
    BoxPrediction(label="car", x=1, y=1, width=2, height=2, reference_id="img-0",
                  annotation_id="v1", confidence=0.6, dataset_id=ds.id),
    BoxPrediction(label="bus", x=3, y=3, width=2, height=2, annotation_id="v2",
                  confidence=0.7, dataset_item_id=di),
])
run = ds.upload_predictions_for_model_run(
    f"run_{model.id[4:]}_{ds.id[3:]}",
    [box("img-1", "v3", 5)])
result = {
    "uploaded": uploaded, "run": run["predictions_processed"],
    "loc": sorted(p.annotation_id for p in model.predictions_loc(di)["box"]),
    "refloc": [p.annotation_id for p in model.predictions_refloc("img-0")["box"]],
    "iloc": sorted(p.annotation_id for p in model.predictions_iloc(1)["box"]),
    "runs": model.model_runs(),
}
try:
    model.upload_predictions([BoxPrediction(label="car", x=1, y=1, width=2, height=2,
                                            reference_id="img-0", annotation_id="v9")])
    result["no_dataset"] = "accepted"
except nucleus.errors.NucleusAPIError as error:
    result["no_dataset"] = [error.status_code, "annotations[0].dataset_id" in error.message]
""",
        args={"ref": "run-free"},
    )
    assert got["uploaded"]["predictions_processed"] == 2
    assert got["run"] == 1
    assert got["loc"] == ["v2", "v3"]
    assert got["refloc"] == ["v1"]
    assert got["iloc"] == ["v2", "v3"]
    assert len(got["runs"]) == 1 and got["runs"][0].startswith("run_")
    assert got["no_dataset"] == [400, True]

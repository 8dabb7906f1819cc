"""Validate through the official client (both lines: the calls are the same in 0.18 and
0.22): evaluation functions, a scenario test of a slice made with bbox functions, metrics
added and thresholded, a baseline model, models evaluated on the tests as a job, the history
with pass / fail and item by item, the test's items, lists, reads and deletes, errors."""

from __future__ import annotations

import uuid

import pytest

import assay
from tests.conftest import Account
from tests.support.scenario_data import scenario_data
from tests.support.servers import LiveServer

pytestmark = pytest.mark.live
pytest.importorskip("pycocotools")


def test_scenario_tests_through_the_client(
    nucleus, server: LiveServer, manager: Account, nucleus_line: str
) -> None:
    data = scenario_data(images=24)
    with assay.Client(server.url, manager.key) as sdk:
        dataset = sdk.datasets.create("validate")
        sdk.datasets.append(dataset.id, data["items"])
        models = {}
        for name, predictions in (("baseline", "good"), ("candidate", "good"), ("worse", "worse")):
            ref = f"{name}-{uuid.uuid4().hex[:8]}"
            models[name] = sdk.models.create(name, reference_id=ref).id
            sdk.models.upload_predictions(dataset.id, models[name], data[predictions])
        chosen = sdk.slices.create(dataset.id, "every third", reference_ids=data["slice"])
        sdk.evaluations.evaluate(dataset.id, models["baseline"])
    got = nucleus(
        manager.key,
        """
e = client.validate.eval_functions
public = sorted(e.public_functions)
test = client.validate.create_scenario_test(
    args["name"], args["slice"],
    evaluation_functions=[e.bbox_map, e.bbox_recall(iou_threshold=0.5, confidence_threshold=0.0)])
added = test.add_eval_function(e.bbox_precision)
baseline = test.set_baseline_model(args["baseline"])
for metric in test.get_eval_functions():
    if metric.eval_function_id == e.bbox_recall.id:
        metric.set_threshold(0.5)
metrics = [(m.eval_function_id, m.threshold, str(m.threshold_comparison.value
            if hasattr(m.threshold_comparison, "value") else m.threshold_comparison),
            m.eval_func_arguments) for m in test.get_eval_functions()]
for model in (args["candidate"], args["worse"]):
    client.validate.evaluate_model_on_scenario_tests(model, [args["name"]]).sleep_until_complete(
        verbose_std_out=False)
history = test.get_eval_history()
worst = [h for h in history
         if h.model_id == args["worse"] and h.eval_function_id == e.bbox_recall.id][0]
items = worst.item_evals
other = client.validate.create_scenario_test(args["name"] + "-2", args["slice"], [e.bbox_iou])
listed = [t.id for t in client.validate.scenario_tests]
again = client.validate.get_scenario_test(test.id)
deleted = client.validate.delete_scenario_test(other.id)
errors = {}
for key, call in {
    "unknown test": lambda: client.validate.get_scenario_test("ut_nope"),
    "filters": lambda: client.validate.create_scenario_test(
        args["name"] + "-3", args["slice"],
        [e.bbox_recall(prediction_filters=[[["label", "==", "c0"]]])]),
    "no slice": lambda: client.validate.create_scenario_test(
        args["name"] + "-4", "slc_nope", [e.bbox_map]),
}.items():
    try:
        call()
        errors[key] = "accepted"
    except nucleus.errors.NucleusAPIError as error:
        errors[key] = error.status_code
result = {
    "public": public,
    "test": [test.id, test.name, test.slice_id],
    "added": [added.eval_function_id, added.threshold],
    "baseline": baseline,
    "metrics": metrics,
    "history": sorted((h.model_id, h.eval_function_id, h.status.value, h.passed,
                       h.result is not None) for h in history),
    "items": [(i.dataset_item_id[:3], i.passed) for i in items],
    "worst": worst.result,
    "test_items": sorted(i.reference_id for i in test.get_items()),
    "listed": [test.id in listed, other.id in listed],
    "again": [again.id, again.name],
    "after": other.id in [t.id for t in client.validate.scenario_tests],
    "deleted": deleted,
    "errors": errors,
}
""",
        args={
            "name": f"every third {nucleus_line} {uuid.uuid4().hex[:6]}",
            "slice": f"slc_{chosen.id}",
            **{name: f"prj_{model_id}" for name, model_id in models.items()},
        },
    )
    assert {"bbox_map", "bbox_recall", "bbox_precision", "bbox_iou", "map", "f1"} <= set(
        got["public"]
    )
    test_id, _, slice_id = got["test"]
    assert test_id.startswith("ut_") and slice_id == f"slc_{chosen.id}"
    assert got["added"] == ["ef_bbox_precision", None]
    assert got["baseline"] == f"prj_{models['baseline']}"
    assert got["metrics"] == [
        ["ef_bbox_map", None, "greater_than_equal_to", {}],
        [
            "ef_bbox_recall",
            0.5,
            "greater_than_equal_to",
            {"iou_threshold": 0.5, "confidence_threshold": 0.0},
        ],
        ["ef_bbox_precision", None, "greater_than_equal_to", {}],
    ]
    # Each model's three metrics: the candidate (as good as the baseline) passes them all,
    # the worse model fails them all (below the baseline, and recall below 0.5).
    candidate, worse = f"prj_{models['candidate']}", f"prj_{models['worse']}"
    rows = [tuple(row) for row in got["history"]]
    assert {(m, p) for m, _, _, p, _ in rows} == {(candidate, True), (worse, False)}
    assert len(rows) == 6 and {s for _, _, s, _, _ in rows} == {"completed"}
    assert all(has_value for *_, has_value in rows)
    assert got["worst"] < 0.5
    assert len(got["items"]) == len(data["slice"])
    assert {prefix for prefix, _ in got["items"]} == {"di_"}
    assert {passed for _, passed in got["items"]} == {True, False}
    assert got["test_items"] == data["slice"]
    assert got["listed"] == [True, True] and got["again"] == [test_id, got["test"][1]]
    assert got["deleted"] is True and got["after"] is False
    assert got["errors"] == {"unknown test": 404, "filters": 400, "no slice": 404}

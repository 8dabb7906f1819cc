"""Validate through the official client (both lines: the calls are the same in 0.18 and
0.22): evaluation functions, a scenario test of a slice made with bbox functions, metrics
added and thresholded, a baseline model, models evaluated on the tests as a job, the history
with pass / fail and item by item, the test's items, lists, reads and deletes, errors;
external functions and their uploaded results (history, thresholds, regressions),
`validate.metrics`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

import assay
from tests.conftest import Account
from tests.support.nucleus_clients import LINES
from tests.support.receiver import Receiver
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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as found:
        yield found


def test_external_functions_their_uploaded_results_and_model_metrics(
    nucleus, server: LiveServer, manager: Account, nucleus_line: str, receiver: Receiver
) -> None:
    """The calls are the same in both lines: the current one alone drives them."""
    if nucleus_line != LINES[0]:
        pytest.skip(f"external functions are the same calls in {nucleus_line}")
    data = scenario_data(images=9)
    with assay.Client(server.url, manager.key) as sdk:
        dataset = sdk.datasets.create("external")
        sdk.datasets.append(dataset.id, data["items"])
        models = {}
        for name in ("good", "worse"):
            ref = f"{name}-{uuid.uuid4().hex[:8]}"
            models[name] = sdk.models.create(name, reference_id=ref).id
            sdk.models.upload_predictions(dataset.id, models[name], data[name])
        chosen = sdk.slices.create(dataset.id, "every third", reference_ids=data["slice"])
    suffix = uuid.uuid4().hex[:6]
    created = httpx.post(
        f"{server.url}/api/v1/webhooks",
        json={"url": receiver.url, "events": ["scenario_test.*"]},
        headers={"Authorization": f"Bearer {manager.key}"},
    )
    assert created.status_code == 201, created.text
    got = nucleus(
        manager.key,
        """
from nucleus.validate.data_transfer_objects.scenario_test_evaluations import EvaluationResult
created = client.validate.create_external_eval_function(args["fn"])
ext = client.validate.eval_functions.external_functions[args["fn"]]
test = client.validate.create_scenario_test(args["name"], args["slice"], [ext])
for metric in test.get_eval_functions():
    metric.set_threshold(0.6)
refs, scores, weights = args["refs"], args["scores"], args["weights"]
uploads = [
    test.upload_external_evaluation_results(
        ext, [EvaluationResult(item_ref_id=r, score=0.9) for r in refs], args["good"]),
    test.upload_external_evaluation_results(
        ext, [EvaluationResult(item_ref_id=r, score=s, weight=w)
              for r, s, w in zip(refs, scores, weights)], args["worse"]),
]
history = test.get_eval_history()
worse_items = [h for h in history if h.model_id == args["worse"]][0].item_evals
regressed = test.upload_external_evaluation_results(
    ext, [EvaluationResult(item_ref_id=r, score=0.1) for r in refs], args["good"])
def raw(**change):
    body = {"unit_test_id": test.id, "eval_function_id": ext.id,
            "result_per_ref_id": {refs[0]: 0.5}, "weight_per_ref_id": {refs[0]: 1.0},
            "overall_metric": 0.5, "model_id": args["good"], "slice_id": test.slice_id,
            "level": "item", **change}
    return client.validate.connection.post(body, "validate/scenario_test/upload_results")
errors = {}
for key, call in {
    "unknown item": lambda: test.upload_external_evaluation_results(
        ext, [EvaluationResult(item_ref_id="nope", score=1.0)], args["good"]),
    "outside the slice": lambda: raw(result_per_ref_id={args["outside"]: 0.5},
                                     weight_per_ref_id={args["outside"]: 1.0}),
    "unknown function": lambda: raw(eval_function_id="ef_nope"),
    "weight": lambda: raw(weight_per_ref_id={refs[0]: 2.0}),
    "overall": lambda: raw(overall_metric=0.7),
    "level": lambda: raw(level="scene"),
    "taken name": lambda: client.validate.create_external_eval_function(args["fn"]),
}.items():
    try:
        call()
        errors[key] = "accepted"
    except nucleus.errors.NucleusAPIError as error:
        errors[key] = [error.status_code, error.message.rsplit("\\n", 1)[-1]]
jobs = client.validate.metrics(args["good"])
result = {
    "created": [created.id[:3], created.name, created.is_external_function, created.is_public],
    "external": ext.id == created.id,
    "metrics": [(m.eval_function_id, m.threshold) for m in test.get_eval_functions()],
    "uploads": [(u["result"], u["pass"]) for u in uploads],
    "history": sorted((h.model_id, h.eval_function_id, h.status.value, h.passed, h.result)
                      for h in history),
    "regressed": [regressed["evaluation_id"], regressed["pass"], len(test.get_eval_history())],
    "worse_items": sorted((i.dataset_item_id[:3], i.result, i.passed) for i in worse_items),
    "errors": errors,
    "jobs": [(j.job_type, j.job_id[:4]) for j in jobs],
}
""",
        args={
            "fn": f"ext_{suffix}",
            "name": f"external {suffix}",
            "slice": f"slc_{chosen.id}",
            "refs": data["slice"],
            "scores": [0.2, 0.8, 0.5],
            "weights": [1.0, 0.5, 0.0],
            "outside": next(
                i["reference_id"] for i in data["items"] if i["reference_id"] not in data["slice"]
            ),
            **{name: f"prj_{model_id}" for name, model_id in models.items()},
        },
    )
    assert data["slice"] and len(data["slice"]) == 3
    assert got["created"] == ["ef_", f"ext_{suffix}", True, False] and got["external"]
    assert got["metrics"] == [[got["history"][0][1], 0.6]]
    worse_value = (0.2 * 1.0 + 0.8 * 0.5) / 1.5  # the weighted mean: 0.4, below 0.6
    good, worse = f"prj_{models['good']}", f"prj_{models['worse']}"
    assert got["uploads"][0] == [pytest.approx(0.9), True]
    assert got["uploads"][1] == [pytest.approx(worse_value), False]
    rows = sorted(tuple(r) for r in got["history"])
    assert [(m, s, p) for m, _, s, p, _ in rows] == sorted(
        [(good, "completed", True), (worse, "completed", False)]
    )
    assert sorted(v for *_, v in rows) == pytest.approx(sorted([0.9, worse_value]))
    assert got["worse_items"] == [["di_", 0.2, False], ["di_", 0.5, False], ["di_", 0.8, True]]
    errors = got["errors"]
    assert (
        errors["unknown item"][0] == 400 and "result_per_ref_id.nope" in errors["unknown item"][1]
    )
    assert errors["outside the slice"][0] == 400
    assert (
        errors["unknown function"][0] == 404 and "eval_function_id" in errors["unknown function"][1]
    )
    assert errors["weight"][0] == 400 and "weight_per_ref_id" in errors["weight"][1]
    assert errors["overall"][0] == 400 and "overall_metric" in errors["overall"][1]
    assert errors["level"][0] == 400 and "level" in errors["level"][1]
    assert errors["taken name"][0] == 409
    # A failing upload after a passing one of the same model is a regression, announced as
    # an evaluation's is; nothing of the refused uploads was kept (three rows in all).
    _, passed, rows_after = got["regressed"]
    assert passed is False and rows_after == 3
    (event,) = [json.loads(r.body) for r in receiver.wait_for(1)]
    assert event["event"] == "scenario_test.regressed"
    assert event["data"]["model"]["id"] == models["good"]
    assert event["data"]["evaluation_id"] is None
    assert event["data"]["value"] == pytest.approx(0.1)
    assert event["data"]["previous_value"] == pytest.approx(0.9)
    # The model's metrics: an evaluation job on the one dataset it predicted on.
    assert got["jobs"] == [["testEvaluation", "job_"]]

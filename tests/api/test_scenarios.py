"""Scenario tests through /api/v1: a slice with metrics against a threshold and a baseline
model is evaluated from each evaluation's stored matches (the slice's numbers are
pycocotools' on those images); a model passes, its worse version fails, the regression fires
its webhook, and the history keeps every evaluation; creates are idempotent; bad input is a
4xx naming the field; labelers see nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

import tests.support.scenario_metrics  # noqa: F401  (registers missed_share, as a plugin)
from tests.support.polling import finished_job
from tests.support.receiver import Receiver
from tests.support.scenario_data import pycocotools_ap, scenario_data

pytest.importorskip("pycocotools")

API = "/api/v1"


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field, response.text


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def world(client, manager) -> dict[str, Any]:
    data = scenario_data()
    h = manager.headers
    dataset = ok(client.post(f"{API}/datasets", json={"name": "streets"}, headers=h))
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": data["items"]}, headers=h))
    found: dict[str, Any] = {"url": url, "data": data}
    for name in ("baseline", "candidate"):
        model = ok(
            client.post(f"{API}/models", json={"name": name, "reference_id": name}, headers=h)
        )
        body = {"model_id": model["id"], "items": data["good"]}
        ok(client.post(f"{url}/predictions", json=body, headers=h))
        found[name] = model["id"]
    found["slice"] = ok(
        client.post(
            f"{url}/slices", json={"name": "every third", "reference_ids": data["slice"]}, headers=h
        )
    )["id"]
    return found


def evaluated(client, manager, world, model_id: str) -> str:
    started = ok(
        client.post(
            f"{world['url']}/evaluations", json={"model_id": model_id}, headers=manager.headers
        )
    )
    assert finished_job(client, manager, started["job_id"])["status"] == "succeeded"
    return started["id"]


def run(client, manager, world, model_id: str) -> dict[str, Any]:
    started = ok(
        client.post(
            f"{world['url']}/scenario-tests/run",
            json={"model_id": model_id},
            headers=manager.headers,
        )
    )
    assert started["status"] == "queued" and started["passed"] is None
    assert finished_job(client, manager, started["job_id"])["status"] == "succeeded"
    return ok(
        client.get(
            f"{world['url']}/scenario-tests/runs/{started['evaluation_id']}",
            headers=manager.headers,
        )
    )


def by_function(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (test,) = table["tests"]
    return {m["function"]: m for m in test["metrics"]}


def test_a_worse_model_fails_its_baseline_and_the_regression_fires(client, manager, world, pool):
    h, url, data = manager.headers, world["url"], world["data"]
    baseline_eval = evaluated(client, manager, world, world["baseline"])
    with Receiver() as receiver:
        ok(
            client.post(
                f"{API}/webhooks",
                json={"url": receiver.url, "events": ["scenario_test.*"]},
                headers=h,
            )
        )
        body = {
            "name": "every third image",
            "slice_id": world["slice"],
            "baseline_model_id": world["baseline"],
            "metrics": [
                {"function": "map"},
                {"function": "recall", "arguments": {"iou_threshold": 0.5}, "threshold": 0.5},
                {"function": "missed_share", "threshold": 0.6},
            ],
        }
        made = client.post(
            f"{url}/scenario-tests", json=body, headers={**h, "Idempotency-Key": "k"}
        )
        again = client.post(
            f"{url}/scenario-tests", json=body, headers={**h, "Idempotency-Key": "k"}
        )
        assert made.status_code == again.status_code == 201
        test = made.json()
        assert again.json()["id"] == test["id"]
        assert [m["comparison"] for m in test["metrics"]] == [">=", ">=", "<="]
        listed = ok(client.get(f"{url}/scenario-tests", headers=h))["items"]
        assert [t["id"] for t in listed] == [test["id"]]

        # The baseline's evaluation predates the test: evaluated again from its matches.
        table = ok(client.post(f"{url}/scenario-tests/runs/{baseline_eval}", headers=h))
        assert table["passed"] is True and table["tests"][0]["status"] == "passed"
        metrics = by_function(table)
        assert metrics["map"]["value"] == pytest.approx(
            pycocotools_ap(data["coco"], data["results"], data["slice_images"]), abs=1e-12
        )
        assert metrics["map"]["baseline_value"] == metrics["map"]["value"]
        matches = ok(
            client.get(
                f"{url}/evaluations/{baseline_eval}/matches", params={"limit": 1000}, headers=h
            )
        )["items"]
        slice_items = set(
            ok(client.get(f"{url}/slices/{world['slice']}/items", headers=h))["item_ids"]
        )
        mine = [m for m in matches if m["item_id"] in slice_items]
        tp = sum(m["prediction"] and m["match"] == "tp" for m in mine)
        fn = sum(not m["prediction"] and m["match"] == "fn" for m in mine)
        assert metrics["recall"]["value"] == tp / (tp + fn)
        assert metrics["missed_share"]["value"] == pytest.approx(fn / (tp + fn))

        # The candidate, as good as the baseline: passes; then worse: fails, a regression.
        good = run(client, manager, world, world["candidate"])
        assert good["passed"] is True
        assert by_function(good)["map"]["value"] == metrics["map"]["value"]
        body = {"model_id": world["candidate"], "items": data["worse"]}
        ok(client.post(f"{url}/predictions", json=body, headers=h))
        worse = run(client, manager, world, world["candidate"])
        assert worse["passed"] is False and worse["tests"][0]["status"] == "failed"
        failed = by_function(worse)
        assert {f: m["status"] for f, m in failed.items()} == {
            "map": "failed",
            "recall": "failed",
            "missed_share": "failed",
        }
        assert failed["map"]["value"] < failed["map"]["baseline_value"]
        assert failed["recall"]["value"] < 0.5 < metrics["recall"]["value"]

        events = [json.loads(r.body) for r in receiver.wait_for(3)]
        assert {e["event"] for e in events} == {"scenario_test.regressed"}
        regressed = {e["data"]["metric"]["function"]: e["data"] for e in events}
        assert set(regressed) == {"map", "recall", "missed_share"}
        recall = regressed["recall"]
        assert recall["scenario_test"]["id"] == test["id"]
        assert recall["model"]["id"] == world["candidate"]
        assert recall["evaluation_id"] == worse["evaluation_id"]
        assert recall["previous_evaluation_id"] == good["evaluation_id"]
        assert (recall["value"], recall["previous_value"]) == (
            failed["recall"]["value"],
            by_function(good)["recall"]["value"],
        )
        assert recall["metric"]["threshold"] == 0.5

        # Recording the worse evaluation again fires nothing new.
        again = ok(client.post(f"{url}/scenario-tests/runs/{worse['evaluation_id']}", headers=h))
        assert again["passed"] is False
        detail = ok(client.get(f"{url}/scenario-tests/{test['id']}", headers=h))
        evaluations = [row["evaluation_id"] for row in detail["history"]]
        assert evaluations == sorted(evaluations, reverse=True) and len(evaluations) == 9
        assert {row["passed"] for row in detail["history"][:3]} == {False}
        assert len(receiver.requests) == 3


def test_metrics_thresholds_and_baselines_change_and_bad_input_names_the_field(
    client, manager, accounts, world, pool
):
    h, url = manager.headers, world["url"]
    tests = f"{url}/scenario-tests"
    base = {"name": "t", "slice_id": world["slice"], "metrics": [{"function": "f1"}]}
    refused(
        client.post(tests, json={**base, "metrics": [{"function": "nope"}]}, headers=h),
        422,
        "metrics[0].function",
    )
    refused(
        client.post(
            tests, json={**base, "metrics": [{"function": "map", "arguments": {"k": 1}}]}, headers=h
        ),
        422,
        "metrics[0].arguments.k",
    )
    refused(
        client.post(
            tests,
            json={**base, "metrics": [{"function": "recall", "arguments": {"iou_threshold": 2}}]},
            headers=h,
        ),
        422,
        "metrics[0].arguments.iou_threshold",
    )
    refused(client.post(tests, json={**base, "slice_id": "nope"}, headers=h), 404, "slice_id")
    refused(
        client.post(tests, json={**base, "baseline_model_id": world["baseline"]}, headers=h),
        422,
        "baseline_model_id",
    )
    refused(
        client.post(f"{tests}/run", json={"model_id": world["baseline"]}, headers=h),
        422,
        "dataset_id",
    )
    test = ok(client.post(tests, json=base, headers=h))
    refused(client.post(tests, json=base, headers=h), 409, "name")
    metric = ok(
        client.post(
            f"{tests}/{test['id']}/metrics",
            json={"function": "fp_per_item", "arguments": {"confidence_threshold": 0.5}},
            headers=h,
        )
    )
    assert metric["comparison"] == "<=" and metric["threshold"] is None
    changed = ok(
        client.patch(
            f"{tests}/{test['id']}/metrics/{metric['id']}",
            json={"threshold": 5, "tolerance": 0.1},
            headers=h,
        )
    )
    assert (changed["threshold"], changed["tolerance"], changed["comparison"]) == (5, 0.1, "<=")

    # A baseline needs an evaluation of that model on the dataset.
    refused(
        client.put(
            f"{tests}/{test['id']}/baseline", json={"model_id": world["baseline"]}, headers=h
        ),
        422,
        "model_id",
    )
    per_class = ok(
        client.post(
            tests,
            json={
                "name": "per class",
                "slice_id": world["slice"],
                "metrics": [
                    {"function": "map", "arguments": {"iou_threshold": 0.5}},
                    {"function": "map", "arguments": {"label": "c1"}},
                    {"function": "iou"},
                ],
            },
            headers=h,
        )
    )
    evaluation = evaluated(client, manager, world, world["baseline"])
    # Recorded at the end of the evaluation's job: no threshold on f1, fp_per_item's met.
    table = ok(client.get(f"{tests}/runs/{evaluation}", headers=h))
    row, details = table["tests"]
    assert [m["status"] for m in row["metrics"]] == ["no_criterion", "passed"]
    assert 0 < row["metrics"][1]["value"] <= 5 and table["passed"] is True
    # The slice's numbers are the evaluation's restricted to the slice.
    part = ok(client.get(f"{url}/evaluations/{evaluation}/slices/{world['slice']}", headers=h))
    ap50, ap_c1, iou = (m["value"] for m in details["metrics"])
    assert details["scenario_test_id"] == per_class["id"]
    assert ap50 == pytest.approx(part["summary"]["AP50"], abs=1e-12)
    assert ap_c1 == pytest.approx(
        next(c["ap"] for c in part["per_class"] if c["label"] == "c1"), abs=1e-12
    )
    matches = ok(
        client.get(f"{url}/evaluations/{evaluation}/matches", params={"limit": 1000}, headers=h)
    )["items"]
    slice_items = set(ok(client.get(f"{url}/slices/{world['slice']}/items", headers=h))["item_ids"])
    objects = [
        m["iou"] or 0.0
        for m in matches
        if m["item_id"] in slice_items and not m["prediction"] and m["match"] in ("tp", "fn")
    ]
    assert iou == pytest.approx(sum(objects) / len(objects), abs=1e-12) and 0 < iou < 1
    with_baseline = ok(
        client.put(
            f"{tests}/{test['id']}/baseline", json={"model_id": world["baseline"]}, headers=h
        )
    )
    assert with_baseline["baseline_model_id"] == world["baseline"]

    ok(client.delete(f"{tests}/{test['id']}/metrics/{metric['id']}", headers=h))
    labeler = accounts.make("labeler")
    assert client.get(tests, headers=labeler.headers).status_code == 404
    assert client.get(f"{tests}/{test['id']}", headers=labeler.headers).status_code == 404
    assert client.get(f"{API}/scenario-metrics", headers=labeler.headers).status_code == 403
    names = {f["name"] for f in ok(client.get(f"{API}/scenario-metrics", headers=h))["items"]}
    assert names >= {"map", "recall", "precision", "f1", "fp_per_item", "iou", "missed_share"}
    assert client.delete(f"{tests}/{test['id']}", headers=h).status_code == 204
    refused(client.get(f"{tests}/{test['id']}", headers=h), 404, "scenario_test_id")


def test_external_metrics_take_uploaded_results_into_the_history(client, manager):
    h = manager.headers
    dataset = ok(client.post(f"{API}/datasets", json={"name": "rated"}, headers=h))
    url = f"{API}/datasets/{dataset['id']}"
    refs = [f"img-{k}" for k in range(6)]
    items = [{"reference_id": r, "media": f"https://media.example.test/{r}.jpg"} for r in refs]
    ok(
        client.post(
            f"{url}/items", json={"items": [*items, {**items[0], "reference_id": "out"}]}, headers=h
        )
    )
    world = {
        name: ok(
            client.post(f"{API}/models", json={"name": name, "reference_id": name}, headers=h)
        )["id"]
        for name in ("baseline", "candidate")
    }
    world["slice"] = ok(
        client.post(f"{url}/slices", json={"name": "rated", "reference_ids": refs}, headers=h)
    )["id"]
    functions = f"{API}/scenario-metrics/external"
    made = client.post(functions, json={"name": "human_rating", "level": "item"}, headers=h)
    assert made.status_code == 201, made.text
    function = made.json()
    refused(client.post(functions, json={"name": "human_rating"}, headers=h), 409, "name")
    assert [f["id"] for f in ok(client.get(functions, headers=h))["items"]] == [function["id"]]
    body = {
        "name": "rated",
        "slice_id": world["slice"],
        "metrics": [
            {"function": "human_rating", "external_function_id": function["id"], "threshold": 0.5},
            {"function": "f1"},
        ],
    }
    test = ok(client.post(f"{url}/scenario-tests", json=body, headers=h))
    external, computed = test["metrics"]
    assert external["external_function_id"] == function["id"] and external["arguments"] == {}
    results = f"{url}/scenario-tests/{test['id']}/metrics/{external['id']}/results"
    weights = {r: (1.0 if k % 2 else 0.5) for k, r in enumerate(refs)}
    scores = {r: 0.2 * (k % 5) for k, r in enumerate(refs)}
    mean = sum(scores[r] * weights[r] for r in refs) / sum(weights.values())
    good = ok(
        client.post(
            results,
            json={"model_id": world["baseline"], "scores": dict.fromkeys(refs, 0.9)},
            headers=h,
        )
    )
    assert (good["value"], good["passed"], good["evaluation_id"]) == (
        pytest.approx(0.9),
        True,
        None,
    )
    worse = ok(
        client.post(
            results,
            json={"model_id": world["candidate"], "scores": scores, "weights": weights},
            headers=h,
        )
    )
    assert worse["value"] == pytest.approx(mean) and worse["passed"] is (mean >= 0.5)
    candidate = {"model_id": world["candidate"]}
    for outside in ("nope", "out"):  # no such item; an item outside the slice
        refused(
            client.post(results, json={**candidate, "scores": {outside: 1.0}}, headers=h),
            422,
            f"scores.{outside}",
        )
    refused(
        client.post(
            results,
            json={**candidate, "scores": {refs[0]: 1.0}, "weights": {refs[0]: 2.0}},
            headers=h,
        ),
        422,
        f"weights.{refs[0]}",
    )
    refused(
        client.post(
            results.replace(external["id"], computed["id"]),
            json={**candidate, "scores": {refs[0]: 1.0}},
            headers=h,
        ),
        422,
        "metric_id",
    )
    history = ok(client.get(f"{url}/scenario-tests/{test['id']}", headers=h))["history"]
    assert [(r["model_id"], r["evaluation_id"]) for r in history] == [
        (world["candidate"], None),
        (world["baseline"], None),
    ]

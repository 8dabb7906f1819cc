"""Allowed label matches through /api/v1: `params.allowed_label_matches` lets a prediction be
a true positive of an object of another label, one way; the outcomes written back and the
per-class numbers carry it; bad pairs are refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_evaluations import API, evaluated, ok, refused


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


CAR_VEHICLE = [{"ground_truth_label": "car", "model_prediction_label": "vehicle"}]


def box(label: str, x: float, y: float, w: float, h: float, score: float | None = None) -> dict:
    shape = {"type": "box", "label": label, "x": x, "y": y, "width": w, "height": h}
    return shape if score is None else {**shape, "confidence": score}


def make_world(client, manager) -> dict[str, Any]:
    """img-1: a car, a "vehicle" prediction over it (IoU 0.9). img-2: a vehicle, a "car"
    prediction over it. img-3: a car, a car prediction (IoU 81/119, 0.5) and a "vehicle"
    one (IoU 0.9, 0.7)."""
    truth = {
        "img-1": [box("car", 0, 0, 10, 10)],
        "img-2": [box("vehicle", 0, 0, 10, 10)],
        "img-3": [box("car", 0, 0, 10, 10)],
    }
    predicted = {
        "img-1": [box("vehicle", 0, 0, 10, 9, 0.9)],
        "img-2": [box("car", 0, 0, 10, 9, 0.8)],
        "img-3": [box("car", 1, 1, 10, 10, 0.5), box("vehicle", 0, 0, 10, 9, 0.7)],
    }
    dataset = ok(client.post(f"{API}/datasets", json={"name": "pairs"}, headers=manager.headers))
    url = f"{API}/datasets/{dataset['id']}"
    items = [
        {"reference_id": ref, "media": f"https://media.example.test/{ref}.jpg", "annotations": s}
        for ref, s in truth.items()
    ]
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    model = ok(
        client.post(
            f"{API}/models", json={"name": "m", "reference_id": "m-1"}, headers=manager.headers
        )
    )
    ok(
        client.post(
            f"{url}/predictions",
            json={"model_id": model["id"], "items": predicted},
            headers=manager.headers,
        )
    )
    listed = ok(client.get(f"{url}/items", params={"limit": 10}, headers=manager.headers))
    return {
        "url": url,
        "model": model,
        "items": {i["reference_id"]: i["id"] for i in listed["items"]},
    }


def outcomes(client, manager, world, evaluation_id: str) -> dict[tuple, tuple]:
    """(reference id, prediction?, label) -> (match, iou, the matched object's label)."""
    page = ok(
        client.get(
            f"{world['url']}/evaluations/{evaluation_id}/matches",
            params={"limit": 100},
            headers=manager.headers,
        )
    )
    reference = {v: k for k, v in world["items"].items()}
    labels = objects_labels(client, manager, world)
    return {
        (reference[m["item_id"]], m["prediction"], labels[m["object_id"]]): (
            m["match"],
            None if m["iou"] is None else round(m["iou"], 4),
            labels.get(m["matched_id"]),
        )
        for m in page["items"]
    }


def objects_labels(client, manager, world) -> dict[str, str]:
    body = {"query": "", "view": "objects", "limit": 100}
    found = ok(client.post(f"{world['url']}/query", json=body, headers=manager.headers))
    return {o["object_id"]: o["label"] for o in found["items"]}


def test_a_prediction_matches_an_object_of_a_paired_label_one_way(client, manager, pool):
    world = make_world(client, manager)
    plain = evaluated(client, manager, world, params={"iou_thresholds": [0.5]})
    paired = evaluated(
        client,
        manager,
        world,
        params={"iou_thresholds": [0.5], "allowed_label_matches": CAR_VEHICLE},
    )
    assert paired["params"]["allowed_label_matches"] == CAR_VEHICLE
    before = outcomes(client, manager, world, plain["id"])
    after = outcomes(client, manager, world, paired["id"])
    assert before[("img-1", True, "vehicle")] == ("fp", None, None)
    assert before[("img-1", False, "car")] == ("fn", None, None)
    assert before[("img-3", True, "car")] == ("tp", round(81 / 119, 4), "car")
    # With (car <- vehicle): img-1's vehicle prediction finds the car; img-2's car
    # prediction still misses the vehicle (one way); in img-3 the vehicle prediction scores
    # higher and takes the car, the car prediction is a false positive.
    assert after == {
        ("img-1", True, "vehicle"): ("tp", 0.9, "car"),
        ("img-1", False, "car"): ("tp", 0.9, "vehicle"),
        ("img-2", True, "car"): ("fp", None, None),
        ("img-2", False, "vehicle"): ("fn", None, None),
        ("img-3", True, "car"): ("fp", None, None),
        ("img-3", True, "vehicle"): ("tp", 0.9, "car"),
        ("img-3", False, "car"): ("tp", 0.9, "vehicle"),
    }
    # The per-class numbers: a cross-label true positive counts for the object's label.
    metrics = paired["metrics"]
    per_class = {c["label"]: c for c in metrics["per_class"]}
    assert [per_class["car"][k] for k in ("tp", "fp", "fn", "recall")] == [2, 2, 0, 1.0]
    assert [per_class["vehicle"][k] for k in ("tp", "fp", "fn", "recall")] == [0, 0, 1, 0.0]
    assert per_class["car"]["ap"] == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert metrics["totals"] == {"tp": 2, "fp": 2, "fn": 1}
    # The confusion matrix: the cross-label true positives off the diagonal (car row,
    # vehicle column); rows still add up to each label's objects.
    labels, matrix = metrics["confusion"]["labels"], metrics["confusion"]["matrix"]
    car, vehicle = labels.index("car"), labels.index("vehicle")
    assert matrix[car][vehicle] == 2 and matrix[car][car] == 0
    assert [sum(row) for row in matrix[:-1]] == [2, 1]
    # `prediction.match = tp` is the written-back outcome.
    body = {"query": "prediction.match = tp", "view": "objects", "limit": 10}
    tps = ok(client.post(f"{world['url']}/query", json=body, headers=manager.headers))
    assert sorted(o["label"] for o in tps["items"]) == ["vehicle", "vehicle"]


def test_bad_pairs_are_refused_naming_the_field(client, manager):
    world = make_world(client, manager)

    def start(pairs: Any, **params) -> Any:
        body = {"model_id": world["model"]["id"]}
        body["params"] = {"allowed_label_matches": pairs, **params}
        return client.post(f"{world['url']}/evaluations", json=body, headers=manager.headers)

    field = "params.allowed_label_matches"
    refused(start({"car": "vehicle"}), 422, field)
    refused(start([*CAR_VEHICLE, "car"]), 422, f"{field}[1]")
    refused(start([{"ground_truth_label": "car"}]), 422, f"{field}[0].model_prediction_label")
    refused(start([{**CAR_VEHICLE[0], "score": 1}]), 422, f"{field}[0].score")
    unknown = [CAR_VEHICLE[0], {"ground_truth_label": "bus", "model_prediction_label": "car"}]
    refused(start(unknown), 422, f"{field}[1].ground_truth_label")
    unknown = [{"ground_truth_label": "car", "model_prediction_label": "lorry"}]
    refused(start(unknown), 422, f"{field}[0].model_prediction_label")
    refused(start(CAR_VEHICLE, class_agnostic=True), 422, "params.class_agnostic")
    assert ok(client.get(f"{world['url']}/evaluations", headers=manager.headers))["items"] == []
    # No pairs is no pairs: an ordinary evaluation.
    assert start([]).status_code < 300

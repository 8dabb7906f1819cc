"""POST /api/v1/datasets/{id}/query over a dataset with a model's predictions (what the
explorer's prediction overlays and per-model facets read): the snapshot names the model,
items carry its shapes when asked, and facets count its labels and confidences."""

from __future__ import annotations

from typing import Any

from tests.support.curation import add_predictions

API = "/api/v1"
CAR = {"type": "box", "label": "car", "x": 1, "y": 1, "width": 5, "height": 5}


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def test_predictions_by_model_in_pages_and_facets(client, accounts, db):
    manager = accounts.make("manager")
    dataset = ok(client.post(f"{API}/datasets", json={"name": "p"}, headers=manager.headers))
    items = [
        {
            "reference_id": f"img-{n}",
            "media": f"https://media.example.test/{n}.jpg",
            "annotations": [{**CAR}] * (n % 2),
        }
        for n in range(4)
    ]
    url = f"{API}/datasets/{dataset['id']}"
    ok(client.post(f"{url}/items", json={"items": items}, headers=manager.headers))
    # A snapshot exists before the predictions come: it must catch up to them.
    assert ok(client.post(f"{url}/query", json={}, headers=manager.headers))["count"] == 4
    shape = {"type": "box", "label": "bus", "x": 2, "y": 2, "width": 4, "height": 3}
    add_predictions(
        db, dataset["id"], "detector", {"img-1": [{**shape, "confidence": 0.9}], "img-2": [shape]}
    )

    answer = ok(
        client.post(
            f"{url}/query",
            json={"query": "predictions.detector.bus > 0", "predictions": True, "facets": True},
            headers=manager.headers,
        )
    )
    assert [row["reference_id"] for row in answer["items"]] == ["img-1", "img-2"]
    assert answer["items"][0]["predictions"]["detector"][0]["confidence"] == 0.9
    assert answer["facets"]["labels"] == {"gt": {"car": 1}, "detector": {"bus": 2}}
    assert sum(answer["facets"]["confidence"]["detector"]["counts"]) == 1
    objects = ok(
        client.post(
            f"{url}/query",
            json={"query": 'prediction.model = "detector"', "view": "objects"},
            headers=manager.headers,
        )
    )
    assert objects["count"] == 2 and {o["source"] for o in objects["items"]} == {"detector"}

"""Slices (static and dynamic) and sending a slice to labeling: tasks with pre-labels from a
model's predictions, labeled in the queue, back as the items' ground truth with their
origin."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from assay.curation import models
from assay.curation.to_labeling import collect

API = "/api/v1"
TAXONOMY = {
    "labels": [{"name": "car", "geometries": ["box"]}, {"name": "bus", "geometries": ["box"]}]
}


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def dataset(client, manager) -> str:
    dataset = ok(client.post(f"{API}/datasets", json={"name": "streets"}, headers=manager.headers))
    items = [
        {
            "reference_id": f"img-{n}",
            "media": f"https://media.example.test/{n}.jpg",
            "width": 640,
            "height": 480,
            "metadata": {"hour": n},
        }
        for n in range(12)
    ]
    ok(
        client.post(
            f"{API}/datasets/{dataset['id']}/items", json={"items": items}, headers=manager.headers
        )
    )
    return dataset["id"]


def query_count(client, account, dataset_id: str, text: str) -> int:
    return ok(
        client.post(
            f"{API}/datasets/{dataset_id}/query", json={"query": text}, headers=account.headers
        )
    )["count"]


def test_static_and_dynamic_slices(client, manager, dataset):
    static = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices",
            json={"name": "morning", "reference_ids": ["img-1", "img-2", "img-3"]},
            headers=manager.headers,
        )
    )
    assert static["item_count"] == 3 and static["kind"] == "static"
    # Membership is queryable.
    assert query_count(client, manager, dataset, f'"{static["id"]}" IN slices') == 3
    added = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices/{static['id']}/items",
            json={"reference_ids": ["img-3", "img-4"]},
            headers=manager.headers,
        )
    )
    assert added == {"changed": 1}
    removed = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices/{static['id']}/items/remove",
            json={"reference_ids": ["img-1"]},
            headers=manager.headers,
        )
    )
    assert removed == {"changed": 1}
    assert query_count(client, manager, dataset, f'"{static["id"]}" IN slices') == 3

    dynamic = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices",
            json={"name": "late", "kind": "dynamic", "query": "metadata.hour >= 9"},
            headers=manager.headers,
        )
    )
    assert dynamic["item_count"] == 3
    # It follows the data.
    ok(
        client.post(
            f"{API}/datasets/{dataset}/items",
            json={
                "items": [
                    {
                        "reference_id": "img-99",
                        "media": "https://m.test/99.jpg",
                        "metadata": {"hour": 23},
                    }
                ]
            },
            headers=manager.headers,
        )
    )
    members = ok(
        client.get(
            f"{API}/datasets/{dataset}/slices/{dynamic['id']}/items", headers=manager.headers
        )
    )
    assert members["count"] == 4

    frozen = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices",
            json={"name": "late-now", "query": "metadata.hour >= 9"},
            headers=manager.headers,
        )
    )
    assert frozen["kind"] == "static" and frozen["item_count"] == 4

    listed = ok(client.get(f"{API}/datasets/{dataset}/slices", headers=manager.headers))
    assert {s["name"] for s in listed["items"]} == {"morning", "late", "late-now"}
    ok(client.delete(f"{API}/datasets/{dataset}/slices/{static['id']}", headers=manager.headers))
    assert query_count(client, manager, dataset, f'"{static["id"]}" IN slices') == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "reference_ids": ["img-1", "nope"]}, "reference_ids[1]"),
        ({"name": "x", "kind": "dynamic"}, "query"),
        ({"name": "x", "kind": "dynamic", "query": "metadata.hour >"}, "query"),
        ({"name": "x", "query": "metdata.hour > 1"}, "query"),
    ],
)
def test_bad_slices_are_refused_naming_the_field(client, manager, dataset, db, body, field):
    response = client.post(f"{API}/datasets/{dataset}/slices", json=body, headers=manager.headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["field"] == field
    with db.read() as session:
        assert session.scalars(select(models.Slice)).all() == []


def test_a_slice_sent_to_labeling_comes_back_as_ground_truth(
    client, manager, accounts, dataset, db
):
    project = ok(
        client.post(
            f"{API}/projects",
            json={"name": "boxes", "task_type": "image", "taxonomy": TAXONOMY},
            headers=manager.headers,
        )
    )
    labeler = accounts.make("labeler")
    ok(
        client.put(
            f"{API}/projects/{project['id']}/members/{labeler.user.id}",
            json={"role": "labeler"},
            headers=manager.headers,
        )
    )
    chosen = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices",
            json={"name": "to-label", "reference_ids": ["img-2", "img-5"]},
            headers=manager.headers,
        )
    )
    link = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices/{chosen['id']}/send",
            json={"project_id": project["id"], "batch_name": "from-curation"},
            headers=manager.headers,
        )
    )
    assert link["sent"] == 2 and link["returned"] == 0

    for _ in range(2):
        lease = ok(
            client.post(f"{API}/projects/{project['id']}/queue/next", headers=labeler.headers)
        )
        assert lease["task"]["params"]["attachment"].startswith("https://media.example.test/")
        box = {"type": "box", "label": "bus", "x": 5, "y": 6, "width": 70, "height": 40}
        ok(
            client.post(
                f"{API}/tasks/{lease['task']['id']}/submit",
                json={"lease_token": lease["lease_token"], "response": {"annotations": [box]}},
                headers=labeler.headers,
            )
        )
    with db.write() as session:
        stored = session.get(models.LabelingLink, link["id"])
        assert collect(session, stored) == 2
        assert collect(session, stored) == 0  # nothing new: idempotent
    links = ok(client.get(f"{API}/datasets/{dataset}/labeling", headers=manager.headers))
    assert links["items"][0]["returned"] == 2 and links["items"][0]["done"] is True

    item = ok(
        client.get(f"{API}/datasets/{dataset}/items-by-reference/img-5", headers=manager.headers)
    )
    assert [(a["label"], a["width"]) for a in item["annotations"]] == [("bus", 70.0)]
    with db.read() as session:
        origin = session.scalar(
            select(models.Annotation.origin).where(models.Annotation.item_id == item["id"])
        )
    assert origin["batch_id"] == link["batch_id"] and origin["project_id"] == project["id"]
    # The snapshot sees it.
    assert query_count(client, manager, dataset, "annotations.bus > 0") == 2


def test_sending_needs_a_project_the_caller_manages(client, manager, accounts, dataset):
    chosen = ok(
        client.post(
            f"{API}/datasets/{dataset}/slices",
            json={"name": "s", "reference_ids": ["img-1"]},
            headers=manager.headers,
        )
    )
    response = client.post(
        f"{API}/datasets/{dataset}/slices/{chosen['id']}/send",
        json={"project_id": "0" * 24, "batch_name": "b"},
        headers=manager.headers,
    )
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "project_id"


def test_object_slices_keep_their_shapes_through_changes(client, manager, dataset):
    base = f"{API}/datasets/{dataset}"

    def annotate(reference_id: str, shapes: list[dict[str, Any]]) -> None:
        item = {"reference_id": reference_id, "media": "https://media.example.test/x.jpg"}
        ok(
            client.post(
                f"{base}/items",
                json={"items": [{**item, "annotations": shapes}]},
                headers=manager.headers,
            )
        )

    car = {"type": "box", "label": "car", "x": 1, "y": 1, "width": 5, "height": 5}
    annotate("img-1", [{**car, "id": "c1"}, {**car, "label": "bus", "x": 20}])
    annotate("img-2", [{**car, "x": 40}])
    objects = ok(
        client.post(
            f"{base}/query",
            json={"query": 'object.label = "car"', "view": "objects"},
            headers=manager.headers,
        )
    )["items"]
    by_ref = {o["reference_id"]: o["object_id"] for o in objects}
    made = client.post(
        f"{base}/slices",
        json={"name": "cars", "kind": "object", "object_ids": [by_ref["img-1"], by_ref["img-2"]]},
        headers=manager.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "object" and made.json()["item_count"] == 2
    slice_id = made.json()["id"]
    # img-1's shapes are written again in another order (c1 keeps its id, so its place moves
    # but not its membership); img-2's id-less car changes, so its member is gone.
    annotate("img-1", [{**car, "label": "bus", "x": 20}, {**car, "id": "c1", "width": 6}])
    annotate("img-2", [{**car, "x": 41}])
    members = ok(client.get(f"{base}/slices/{slice_id}/items", headers=manager.headers))
    item_ids = {o["reference_id"]: o["item_id"] for o in objects}
    assert members["item_ids"] == [item_ids["img-1"]]
    missing = client.post(
        f"{base}/slices",
        json={"name": "x", "kind": "object", "object_ids": [by_ref["img-1"], "nope:x:0"]},
        headers=manager.headers,
    )
    assert missing.status_code == 404 and "object_ids[1]" in missing.text
    no_objects = client.post(
        f"{base}/slices", json={"name": "x", "kind": "object"}, headers=manager.headers
    )
    assert no_objects.status_code == 422, no_objects.text
    listed = ok(client.get(f"{base}/slices", headers=manager.headers))["items"]
    assert [s["name"] for s in listed] == ["cars"]

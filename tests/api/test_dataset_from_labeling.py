"""Labeled tasks into a dataset (curation/from_labeling.py, POST /datasets/{id}/tasks): each
completed task an item whose ground truth is its final response, unchanged; pending tasks
counted, answers that are not shapes ignored; again updates, never duplicates; a project the
caller cannot read is not found, naming the task."""

from __future__ import annotations

from typing import Any

import pytest

from assay.curation import models
from tests.api.test_queue import add_tasks, box, make_project, member, next_lease

API = "/api/v1"


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def label_all(client, labeler, project_id: str, answers: dict[str, list[dict]]) -> None:
    """The labeler takes tasks from the queue and submits the answer given for each."""
    while (lease := next_lease(client, labeler, project_id)).status_code == 200:
        leased = lease.json()
        task_id = leased["task"]["id"] if "task" in leased else leased["id"]
        if task_id not in answers:
            break
        ok(
            client.post(
                f"{API}/tasks/{task_id}/submit",
                json={
                    "lease_token": leased["lease_token"],
                    "response": {"annotations": answers.pop(task_id)},
                },
                headers=labeler.headers,
            )
        )
        if not answers:
            break


def test_completed_tasks_become_items_with_their_responses_as_ground_truth(
    client, manager, accounts, db
):
    project = make_project(client, manager)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    ids = add_tasks(
        client,
        manager,
        project["id"],
        [
            {
                "params": {"attachment": f"https://media.example.test/{n}.jpg"},
                "metadata": {"camera": n},
                **({"unique_id": "frame-0"} if n == 0 else {}),
            }
            for n in range(3)
        ],
    )
    first, second = box(x=11), box(x=22, attributes={"doors": 4})
    label_all(client, labeler, project["id"], {ids[0]: [first], ids[1]: [second, box(x=5)]})
    dataset = ok(
        client.post(f"{API}/datasets", json={"name": "from labels"}, headers=manager.headers)
    )
    url = f"{API}/datasets/{dataset['id']}/tasks"

    found = ok(client.post(url, json={"task_ids": ids}, headers=manager.headers))
    assert sorted(found["ingested"]) == sorted(ids[:2]) and found["pending"] == [ids[2]]
    assert found["ignored"] == []
    item = ok(
        client.get(
            f"{API}/datasets/{dataset['id']}/items-by-reference/frame-0", headers=manager.headers
        )
    )
    assert item["media"] == "https://media.example.test/0.jpg"
    assert item["width"] == 640 and item["height"] == 480  # the project's image size
    assert item["metadata"] == {"camera": 0, "task_id": ids[0], "project_id": project["id"]}
    assert [(a["label"], a["x"]) for a in item["annotations"]] == [("car", 11)]
    other = ok(
        client.get(
            f"{API}/datasets/{dataset['id']}/items-by-reference/{ids[1]}", headers=manager.headers
        )
    )
    assert [a["x"] for a in other["annotations"]] == [22, 5]
    assert other["annotations"][0]["attributes"] == {"doors": 4}
    with db.read() as session:
        stored = session.get(models.Annotation, (other["id"], models.GROUND_TRUTH))
        assert stored.origin["task_id"] == ids[1] and stored.origin["project_id"] == project["id"]

    # The rest labeled later; the project's tasks ingested again: updated, not duplicated.
    label_all(client, labeler, project["id"], {ids[2]: [box(x=33)]})
    again = ok(client.post(url, json={"project_id": project["id"]}, headers=manager.headers))
    assert sorted(again["ingested"]) == sorted(ids) and again["pending"] == []
    listed = ok(client.get(f"{API}/datasets/{dataset['id']}", headers=manager.headers))
    assert listed["item_count"] == 3 and listed["annotation_count"] == 4
    newest = ok(
        client.post(url, json={"project_id": project["id"], "last": 1}, headers=manager.headers)
    )
    assert newest["ingested"] == [ids[2]]


def test_tasks_the_caller_cannot_read_are_not_found(client, manager, accounts):
    """A labeler's project is hidden from a manager's test-sandbox key (the sandboxes never
    see each other), and a plain labeler cannot ingest at all."""
    project = make_project(client, manager)
    ids = add_tasks(
        client, manager, project["id"], [{"params": {"attachment": "https://m.test/a.jpg"}}]
    )
    sandbox = manager.test_headers
    dataset = ok(client.post(f"{API}/datasets", json={"name": "sandboxed"}, headers=sandbox))
    url = f"{API}/datasets/{dataset['id']}/tasks"
    refused = client.post(url, json={"task_ids": ["nope", *ids]}, headers=sandbox)
    assert refused.status_code == 404 and refused.json()["error"]["field"] == "tasks[0]"
    hidden = client.post(url, json={"task_ids": ids}, headers=sandbox)
    assert hidden.status_code == 404 and hidden.json()["error"]["field"] == "tasks[0]"
    project_hidden = client.post(url, json={"project_id": project["id"]}, headers=sandbox)
    assert project_hidden.status_code == 404
    assert project_hidden.json()["error"]["field"] == "project_id"
    labeler = member(client, manager, accounts, project["id"], "labeler")
    live = ok(client.post(f"{API}/datasets", json={"name": "live"}, headers=manager.headers))
    by_labeler = client.post(
        f"{API}/datasets/{live['id']}/tasks", json={"task_ids": ids}, headers=labeler.headers
    )
    assert by_labeler.status_code == 404
    for body, field in (
        ({"task_ids": ids, "project_id": project["id"]}, "task_ids"),
        ({}, "task_ids"),
        ({"task_ids": ids, "last": 2}, "last"),
        ({"project_id": project["id"], "last": 0}, "last"),
    ):
        bad = client.post(url, json=body, headers=sandbox)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == field, (body, bad.text)
    after = ok(client.get(f"{API}/datasets/{dataset['id']}", headers=sandbox))
    assert after["item_count"] == 0

"""The tasks API: bulk creates all or nothing, unique ids, filters, changes, who sees what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.api.context import AppContext
from assay.labeling import models

API = "/api/v1"
TAXONOMY = {"labels": [{"name": "car", "geometries": ["box", "polygon"]}]}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def project(client, manager) -> dict[str, Any]:
    response = client.post(
        f"{API}/projects",
        json={
            "name": "cars",
            "task_type": "image",
            "taxonomy": TAXONOMY,
            "params": {"image_width": 640, "image_height": 480},
        },
        headers=manager.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def task(i: int, **extra: Any) -> dict[str, Any]:
    return {"params": {"attachment": f"https://example.test/{i}.jpg"}, **extra}


def bulk(client, account, project_id: str, tasks: list[dict], headers=None, **extra):
    return client.post(
        f"{API}/projects/{project_id}/tasks/bulk",
        json={"tasks": tasks, **extra},
        headers=headers or account.headers,
    )


def count_tasks(db) -> int:
    with db.read() as session:
        return session.query(models.Task).count()


def test_ten_thousand_tasks_in_one_request(client, db, manager, project):
    response = bulk(
        client,
        manager,
        project["id"],
        [task(i, unique_id=f"u{i}", metadata={"i": i}) for i in range(10_000)],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["count"] == 10_000 and len({t["id"] for t in body["tasks"]}) == 10_000
    assert body["tasks"][42]["unique_id"] == "u42"
    assert count_tasks(db) == 10_000
    fetched = client.get(f"{API}/tasks/{body['tasks'][42]['id']}", headers=manager.headers).json()
    assert fetched["metadata"] == {"i": 42} and fetched["params"]["image_width"] == 640
    assert fetched["status"] == "pending" and fetched["stage"] == "label"


def test_one_bad_task_in_ten_thousand_writes_nothing(client, db, manager, project):
    tasks = [task(i) for i in range(10_000)]
    tasks[9_123] = {
        "params": {"attachment": "https://example.test/x.jpg"},
        "prelabels": {
            "annotations": [
                {"type": "box", "label": "car", "x": 600, "y": 0, "width": 100, "height": 10}
            ]
        },
    }
    response = bulk(client, manager, project["id"], tasks)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "tasks[9123].prelabels.annotations[0].width"
    assert count_tasks(db) == 0
    shape = bulk(client, manager, project["id"], [task(0), {"params": {}, "priority": "high"}])
    assert shape.status_code == 422 and shape.json()["error"]["field"] == "tasks[1].priority"
    assert count_tasks(db) == 0


def test_bulk_body_problems_are_named(client, db, manager, project):
    url = f"{API}/projects/{project['id']}/tasks/bulk"
    json_headers = {**manager.headers, "Content-Type": "application/json"}
    broken = client.post(url, content=b'{"tasks": [', headers=json_headers)
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "invalid"
    unknown = bulk(client, manager, project["id"], [task(0), task(1, colour="red")])
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "tasks[1].colour"
    empty = bulk(client, manager, project["id"], [])
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "tasks"
    anonymous = client.post(url, json={"tasks": [task(0)]})
    assert anonymous.status_code == 401 and count_tasks(db) == 0


def test_bulk_body_is_documented(client):
    spec = client.get("/api/openapi.json").json()
    operation = spec["paths"]["/api/v1/projects/{project_id}/tasks/bulk"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["tasks"] and "batch" in schema["properties"]
    assert schema["properties"]["tasks"]["items"]["$ref"] == "#/components/schemas/TaskCreate"
    assert "TaskCreate" in spec["components"]["schemas"]


def test_unique_ids(client, db, manager, project):
    duplicate = bulk(
        client, manager, project["id"], [task(0, unique_id="a"), task(1, unique_id="a")]
    )
    assert duplicate.status_code == 422
    assert duplicate.json()["error"]["field"] == "tasks[1].unique_id"
    one = client.post(
        f"{API}/projects/{project['id']}/tasks",
        json=task(0, unique_id="a"),
        headers=manager.headers,
    )
    assert one.status_code == 201, one.text
    again = client.post(
        f"{API}/projects/{project['id']}/tasks",
        json=task(0, unique_id="a"),
        headers=manager.headers,
    )
    assert again.status_code == 409 and again.json()["error"]["field"] == "unique_id"
    assert one.json()["id"] in again.json()["error"]["message"]
    taken = bulk(client, manager, project["id"], [task(1, unique_id="b"), task(2, unique_id="a")])
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "tasks[1].unique_id"
    assert count_tasks(db) == 1


def test_idempotency_key_replays_a_bulk_create(client, db, manager, project):
    headers = {**manager.headers, "Idempotency-Key": "bulk-1"}
    body = {"tasks": [task(i) for i in range(5)]}
    url = f"{API}/projects/{project['id']}/tasks/bulk"
    first = client.post(url, json=body, headers=headers)
    second = client.post(url, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and count_tasks(db) == 5


def test_over_the_task_limit_is_413_naming_tasks(ctx, manager, project):
    small = AppContext(
        settings=ctx.settings.model_copy(update={"max_bulk_tasks": 100}),
        db=ctx.db,
        blobs=ctx.blobs,
    )
    app = create_app(context=small, migrate_on_start=False, run_workers=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = bulk(client, manager, project["id"], [task(i) for i in range(101)])
    assert response.status_code == 413 and response.json()["error"]["field"] == "tasks"


def test_attachments_and_batches(client, db, manager, project):
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    sha = client.post(
        f"{API}/blobs", files={"file": ("a.png", png)}, headers=manager.headers
    ).json()["sha256"]
    batch = client.post(
        f"{API}/projects/{project['id']}/batches", json={"name": "wk1"}, headers=manager.headers
    ).json()
    created = bulk(
        client,
        manager,
        project["id"],
        [{"params": {"attachment": f"blob:{sha}"}}, {"params": {"attachment": sha}}],
        batch=batch["id"],
    )
    assert created.status_code == 201, created.text
    missing = bulk(client, manager, project["id"], [{"params": {"attachment": "blob:" + "0" * 64}}])
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "tasks[0].params.attachment"
    unknown_batch = bulk(client, manager, project["id"], [task(0)], batch="0" * 24)
    assert unknown_batch.status_code == 404 and unknown_batch.json()["error"]["field"] == "batch"
    fetched = client.get(f"{API}/batches/{batch['id']}", headers=manager.headers).json()
    assert fetched["counts"] == {"pending": 2, "completed": 0, "canceled": 0, "error": 0}
    assert fetched["status"] == "staging"
    finalized = client.post(f"{API}/batches/{batch['id']}/finalize", headers=manager.headers)
    assert finalized.json()["status"] == "in_progress"
    listed = client.get(
        f"{API}/batches",
        params={"project_id": project["id"], "status": "in_progress"},
        headers=manager.headers,
    ).json()["items"]
    assert [b["id"] for b in listed] == [batch["id"]] and listed[0]["counts"]["pending"] == 2
    meta = client.put(
        f"{API}/batches/{batch['id']}/metadata",
        json={"metadata": {"a": 1}},
        headers=manager.headers,
    )
    assert meta.json()["metadata"] == {"a": 1}


def test_batches_pause_resume_and_cancel(client, accounts, manager, project):
    batch = client.post(
        f"{API}/projects/{project['id']}/batches", json={"name": "wk2"}, headers=manager.headers
    ).json()
    bulk(client, manager, project["id"], [task(0), task(1)], batch=batch["id"])
    url = f"{API}/batches/{batch['id']}"
    staging = client.post(f"{url}/pause", headers=manager.headers)
    assert staging.status_code == 409 and staging.json()["error"]["field"] == "batch"
    client.post(f"{url}/finalize", headers=manager.headers)
    labeler = accounts.make("labeler")
    assert client.post(f"{url}/pause", headers=labeler.headers).status_code == 404
    assert client.post(f"{url}/pause", headers=manager.headers).json()["status"] == "paused"
    assert client.post(f"{url}/resume", headers=manager.headers).json()["status"] == "in_progress"
    canceled = client.post(f"{url}/cancel", headers=manager.headers).json()
    assert canceled["status"] == "canceled" and canceled["counts"]["canceled"] == 2
    assert client.post(f"{url}/resume", headers=manager.headers).status_code == 409


def test_list_filters_and_cursor(client, manager, project):
    ids = [
        t["id"]
        for t in bulk(
            client,
            manager,
            project["id"],
            [
                task(i, tags=["odd"] if i % 2 else ["even"], metadata={"camera": f"c{i % 3}"})
                for i in range(7)
            ],
        ).json()["tasks"]
    ]

    def listed(**params) -> list[str]:
        response = client.get(
            f"{API}/tasks", params={"project_id": project["id"], **params}, headers=manager.headers
        )
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert listed() == ids[::-1]
    assert listed(tags="odd") == [ids[5], ids[3], ids[1]]
    assert listed(metadata=json.dumps({"camera": "c1"})) == [ids[4], ids[1]]
    assert listed(status="completed") == []
    page = client.get(
        f"{API}/tasks", params={"project_id": project["id"], "limit": 4}, headers=manager.headers
    ).json()
    rest = client.get(
        f"{API}/tasks",
        params={"project_id": project["id"], "limit": 4, "cursor": page["next_cursor"]},
        headers=manager.headers,
    ).json()
    assert [t["id"] for t in page["items"] + rest["items"]] == ids[::-1]
    bad = client.get(
        f"{API}/tasks",
        params={"project_id": project["id"], "metadata": "[1]"},
        headers=manager.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "metadata"


def test_changes_cancel_audit_and_history(client, db, manager, project):
    (created,) = bulk(client, manager, project["id"], [task(0, tags=["a"])]).json()["tasks"]
    url = f"{API}/tasks/{created['id']}"
    patched = client.patch(
        url, json={"metadata": {"k": "v"}, "unique_id": "mine"}, headers=manager.headers
    )
    assert patched.json()["metadata"] == {"k": "v"} and patched.json()["unique_id"] == "mine"
    added = client.post(f"{url}/tags/add", json={"tags": ["b", "a"]}, headers=manager.headers)
    assert added.json()["tags"] == ["a", "b"]
    removed = client.post(f"{url}/tags/remove", json={"tags": ["a"]}, headers=manager.headers)
    assert removed.json()["tags"] == ["b"]
    not_done = client.post(f"{url}/audit", json={"accepted": True}, headers=manager.headers)
    assert not_done.status_code == 409
    canceled = client.post(
        f"{url}/cancel", params={"clear_unique_id": True}, headers=manager.headers
    )
    assert canceled.json()["status"] == "canceled" and canceled.json()["unique_id"] is None
    assert client.post(f"{url}/cancel", headers=manager.headers).status_code == 409
    events = client.get(f"{url}/history", headers=manager.headers).json()["items"]
    assert [(e["action"], e["user_id"]) for e in events] == [("cancel", manager.user.id)]


def test_labelers_cannot_list_or_read_tasks(client, manager, project, accounts):
    (created,) = bulk(
        client, manager, project["id"], [task(0, metadata={"customer": "secret"})]
    ).json()["tasks"]
    member, stranger = accounts.make("labeler"), accounts.make("reviewer")
    client.put(
        f"{API}/projects/{project['id']}/members/{member.user.id}",
        json={"role": "labeler"},
        headers=manager.headers,
    )
    for account, status in ((member, 403), (stranger, 404)):
        headers = account.headers
        assert (
            client.get(
                f"{API}/tasks", params={"project_id": project["id"]}, headers=headers
            ).status_code
            == status
        )
        assert client.get(f"{API}/tasks/{created['id']}", headers=headers).status_code == status
        assert (
            client.get(f"{API}/tasks/{created['id']}/history", headers=headers).status_code
            == status
        )
        assert (
            client.patch(
                f"{API}/tasks/{created['id']}", json={"tags": []}, headers=headers
            ).status_code
            == status
        )
        assert bulk(client, account, project["id"], [task(1)]).status_code == status
        assert (
            client.get(
                f"{API}/batches", params={"project_id": project["id"]}, headers=headers
            ).status_code
            == status
        )
    assert client.get(f"{API}/tasks", headers=member.headers).status_code == 403


def test_import_starts_a_job(client, manager, project):
    sha = client.post(
        f"{API}/blobs", files={"file": ("t.jsonl", b'{"params": {}}\n')}, headers=manager.headers
    ).json()["sha256"]
    started = client.post(
        f"{API}/projects/{project['id']}/imports", json={"blob": sha}, headers=manager.headers
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["kind"] == "labeling.import_tasks" and job["status"] == "queued"
    missing = client.post(
        f"{API}/projects/{project['id']}/imports", json={"blob": "0" * 64}, headers=manager.headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "blob"


def test_test_keys_get_completed_tasks_in_a_sandbox(client, manager):
    project = client.post(
        f"{API}/projects",
        json={"name": "sandbox", "task_type": "image", "taxonomy": TAXONOMY},
        headers=manager.test_headers,
    ).json()
    response = bulk(client, manager, project["id"], [task(0)], headers=manager.test_headers)
    assert response.status_code == 201, response.text
    task_id = response.json()["tasks"][0]["id"]
    fetched = client.get(f"{API}/tasks/{task_id}", headers=manager.test_headers).json()
    assert fetched["status"] == "completed" and fetched["mode"] == "test"
    assert fetched["response"]["annotations"]
    assert client.get(f"{API}/tasks/{task_id}", headers=manager.headers).status_code == 404

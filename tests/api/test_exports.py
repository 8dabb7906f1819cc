"""POST /api/v1/projects/{id}/exports and /prelabels: jobs, who may start them, bad input."""

from __future__ import annotations

import json

from tests.labeling.factories import (
    actor_for,
    add_member,
    add_tasks,
    make_batch,
    make_project,
)
from tests.labeling.test_exports import TAXONOMY, complete, image
from tests.support.polling import wait_for


def finished_job(client, account, job_id: str) -> dict:
    def done() -> bool:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=account.headers).json()
        return job["status"] in ("succeeded", "failed", "cancelled")

    wait_for(done, timeout=60)
    return client.get(f"/api/v1/jobs/{job_id}", headers=account.headers).json()


def setup(db, settings, admin):
    actor = actor_for(admin)
    project = make_project(db, actor, name="api-export", taxonomy=TAXONOMY)
    batch = make_batch(db, project, actor, "b")
    ids = add_tasks(
        db, project, actor, settings, [image("a.jpg", unique_id="ua"), image("b.jpg")], batch
    )
    complete(
        db,
        settings,
        ids[0],
        {"annotations": [{"type": "box", "label": "car", "x": 1, "y": 1, "width": 2, "height": 2}]},
    )
    return project, batch, ids


def test_manager_exports_and_downloads_through_a_signed_url(
    client, db, settings, admin, accounts, pool
):
    project, batch, ids = setup(db, settings, admin)
    manager = accounts.make("manager")
    response = client.post(
        f"/api/v1/projects/{project.id}/exports",
        json={"format": "jsonl", "batch_id": batch.id},
        headers=manager.headers,
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["kind"] == "labeling.export" and created["status"] == "queued"
    assert created["payload"] == {
        "project_id": project.id,
        "format": "jsonl",
        "batch_id": batch.id,
        "status": "completed",
    }
    job = finished_job(client, manager, created["id"])
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["count"] == 1 and result["filename"] == "api-export-jsonl.jsonl"
    signed = client.post(f"/api/v1/blobs/{result['blob']}/url", headers=manager.headers)
    assert signed.status_code == 200
    download = client.get(signed.json()["url"])
    assert download.status_code == 200
    (line,) = download.content.decode().splitlines()
    assert json.loads(line)["task_id"] == ids[0] and json.loads(line)["unique_id"] == "ua"


def test_who_may_export_and_import(client, db, settings, admin, accounts, pool):
    project, _, _ = setup(db, settings, admin)
    url = f"/api/v1/projects/{project.id}/exports"
    body = {"format": "coco"}
    labeler, reviewer, outsider, project_manager = (
        accounts.make("labeler"),
        accounts.make("reviewer"),
        accounts.make("labeler"),
        accounts.make("labeler"),
    )
    add_member(db, project, labeler, "labeler")
    add_member(db, project, reviewer, "reviewer")
    add_member(db, project, project_manager, "manager")
    for account in (labeler, reviewer):
        refused = client.post(url, json=body, headers=account.headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        refused = client.post(
            f"/api/v1/projects/{project.id}/prelabels",
            json={"format": "jsonl", "blob": "0" * 64},
            headers=account.headers,
        )
        assert refused.status_code == 403
    # A project a labeler is not in does not exist for them.
    assert client.post(url, json=body, headers=outsider.headers).status_code == 404
    # Test keys see the test sandbox only.
    assert client.post(url, json=body, headers=admin.test_headers).status_code == 404
    accepted = client.post(url, json=body, headers=project_manager.headers)
    assert accepted.status_code == 202
    job = finished_job(client, project_manager, accepted.json()["id"])
    assert job["status"] == "succeeded" and job["result"]["count"] == 1


def test_bad_export_requests_name_the_field(client, db, settings, admin):
    project, _, _ = setup(db, settings, admin)
    other = make_project(db, actor_for(admin), name="other", taxonomy=TAXONOMY)
    foreign = make_batch(db, other, actor_for(admin), "foreign")
    url = f"/api/v1/projects/{project.id}/exports"
    cases = [
        ({"format": "xml"}, 422, "format"),
        ({"format": "csv"}, 422, "format"),  # categorization only
        ({"format": "conll"}, 422, "format"),
        ({"format": "coco", "status": "done"}, 422, "status"),
        ({"format": "coco", "batch_id": foreign.id}, 422, "batch_id"),
        ({"format": "coco", "batch_id": "0" * 24}, 404, "batch_id"),
    ]
    for body, status, field in cases:
        response = client.post(url, json=body, headers=admin.headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["field"] == field, body
    missing = client.post(
        "/api/v1/projects/nope/exports", json={"format": "coco"}, headers=admin.headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "project_id"


def test_prelabel_import_checks_the_blob_and_replays_with_an_idempotency_key(
    client, db, settings, admin, pool
):
    project, _, ids = setup(db, settings, admin)
    url = f"/api/v1/projects/{project.id}/prelabels"
    not_uploaded = client.post(
        url, json={"format": "jsonl", "blob": "a" * 64}, headers=admin.headers
    )
    assert not_uploaded.status_code == 422
    assert not_uploaded.json()["error"]["field"] == "blob"
    line = (
        {"unique_id": "ua", "annotations": []},
        {
            "file_name": "b.jpg",
            "annotations": [
                {"type": "box", "label": "person", "x": 0, "y": 0, "width": 5, "height": 5}
            ],
        },
    )
    data = "\n".join(json.dumps(x) for x in line).encode()
    sha = client.post(
        "/api/v1/blobs", files={"file": ("p.jsonl", data)}, headers=admin.headers
    ).json()["sha256"]
    wrong = client.post(url, json={"format": "yolo", "blob": sha}, headers=admin.headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "blob"
    assert "application/zip" in wrong.json()["error"]["message"]
    csv_import = client.post(url, json={"format": "csv", "blob": sha}, headers=admin.headers)
    assert csv_import.status_code == 422 and csv_import.json()["error"]["field"] == "format"

    headers = {**admin.headers, "Idempotency-Key": "prelabels-1"}
    first = client.post(url, json={"format": "jsonl", "blob": sha}, headers=headers)
    again = client.post(url, json={"format": "jsonl", "blob": sha}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    job = finished_job(client, admin, first.json()["id"])
    assert job["status"] == "succeeded", job
    # ua is completed (left alone); b.jpg is pending and gets the box.
    assert job["result"]["attached"] == 1 and job["result"]["not_pending"] == 1
    task = client.get(f"/api/v1/tasks/{ids[1]}", headers=admin.headers).json()
    assert [a["label"] for a in task["prelabels"]["annotations"]] == ["person"]
    logs = client.get(f"/api/v1/jobs/{job['id']}/logs", headers=admin.headers).json()["items"]
    assert any(f"task {ids[0]} is completed" in entry["message"] for entry in logs)


def test_export_a_selection_and_list_the_projects_exports(
    client, db, settings, admin, accounts, pool
):
    project, _, ids = setup(db, settings, admin)
    other = make_project(db, actor_for(admin), name="other-export", taxonomy=TAXONOMY)
    url = f"/api/v1/projects/{project.id}/exports"
    chosen = client.post(
        url, json={"format": "jsonl", "status": "all", "task_ids": [ids[1]]}, headers=admin.headers
    )
    assert chosen.status_code == 202, chosen.text
    assert chosen.json()["payload"]["task_ids"] == [ids[1]]
    whole = client.post(url, json={"format": "coco"}, headers=admin.headers)
    elsewhere = client.post(
        f"/api/v1/projects/{other.id}/exports", json={"format": "coco"}, headers=admin.headers
    )
    assert whole.status_code == elsewhere.status_code == 202
    job = finished_job(client, admin, chosen.json()["id"])
    assert job["status"] == "succeeded" and job["result"]["count"] == 1
    signed = client.post(f"/api/v1/blobs/{job['result']['blob']}/url", headers=admin.headers)
    (line,) = client.get(signed.json()["url"]).content.decode().splitlines()
    assert json.loads(line)["task_id"] == ids[1]
    listed = client.get(url, headers=admin.headers)
    assert listed.status_code == 200
    assert [j["id"] for j in listed.json()["items"]] == [whole.json()["id"], chosen.json()["id"]]
    labeler = accounts.make("labeler")
    add_member(db, project, labeler, "labeler")
    assert client.get(url, headers=labeler.headers).status_code == 403
    empty = client.post(url, json={"format": "jsonl", "task_ids": []}, headers=admin.headers)
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "task_ids"

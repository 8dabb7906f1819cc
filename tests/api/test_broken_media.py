"""Broken media cannot be labeled silently (issue 15 §3.1): an image project refuses an
uploaded file that is not an image, naming the task and the file, and a worker can report a
task broken when it skips it — the task is tagged `broken` for its managers."""

from __future__ import annotations

import pytest

from tests.api.test_queue import API, PNG, add_tasks, make_project, member, next_lease


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def gold_project(client, manager) -> dict:
    """A project that serves an evaluation task whenever it can (rate 1, no training)."""
    gold_first = {
        "evaluation_rate": 1.0,
        "recycle_after_hours": None,
        "training": {"required": False},
    }
    return make_project(client, manager, quality=gold_first)


def upload(client, account, name: str, data: bytes, content_type: str) -> str:
    response = client.post(
        f"{API}/blobs", files={"file": (name, data, content_type)}, headers=account.headers
    )
    assert response.status_code in (200, 201), response.text
    return response.json()["sha256"]


def test_an_image_project_refuses_a_file_that_is_not_an_image(client, manager):
    project = make_project(client, manager)
    image = upload(client, manager, "fine.png", PNG, "image/png")
    # Named .jpg and declared an image, but the bytes are text: the sniffed type decides.
    text = upload(client, manager, "notes.jpg", b"just some notes\n", "image/jpeg")
    refused = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={
            "tasks": [
                {"params": {"attachment": f"blob:{image}"}},
                {"params": {"attachment": f"blob:{text}"}},
            ]
        },
        headers=manager.headers,
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "tasks[1].params.attachment"
    assert "notes.jpg" in error["message"] and "text/plain" in error["message"]
    assert "not an image" in error["message"]
    listed = client.get(
        f"{API}/tasks", params={"project_id": project["id"]}, headers=manager.headers
    )
    assert listed.json()["items"] == []  # all or nothing
    one = client.post(
        f"{API}/projects/{project['id']}/tasks",
        json={"params": {"attachment": text}},
        headers=manager.headers,
    )
    assert one.status_code == 422 and one.json()["error"]["field"] == "params.attachment"
    add_tasks(client, manager, project["id"], [{"params": {"attachment": f"blob:{image}"}}])


def test_video_frames_must_be_images(client, manager):
    project = make_project(client, manager, name="clips", task_type="video")
    frame = upload(client, manager, "f.png", PNG, "image/png")
    text = upload(client, manager, "f2.png", b"not a frame\n", "image/png")
    refused = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={"tasks": [{"params": {"frames": [f"blob:{frame}", f"blob:{text}"]}}]},
        headers=manager.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "tasks[0].params.frames[1]"
    # A video's attachment may be a video or a still image, not text.
    add_tasks(client, manager, project["id"], [{"params": {"attachment": f"blob:{frame}"}}])
    text_attachment = client.post(
        f"{API}/projects/{project['id']}/tasks",
        json={"params": {"attachment": f"blob:{text}"}},
        headers=manager.headers,
    )
    assert text_attachment.status_code == 422
    assert "not a video or an image" in text_attachment.json()["error"]["message"]


def test_a_text_file_is_fine_where_the_task_type_shows_text(client, manager):
    project = make_project(
        client,
        manager,
        name="docs",
        task_type="categorization",
        taxonomy={"labels": [{"name": "spam"}]},
        params={},
    )
    text = upload(client, manager, "mail.txt", b"buy now\n", "text/plain")
    add_tasks(client, manager, project["id"], [{"params": {"attachment": f"blob:{text}"}}])


def test_reporting_a_task_broken_tags_it_and_records_the_reason(client, manager, accounts):
    project = make_project(client, manager)
    (task_id, other_id) = add_tasks(
        client,
        manager,
        project["id"],
        [
            {"params": {"attachment": "https://example.test/gone.jpg"}},
            {"params": {"attachment": "https://example.test/fine.jpg"}},
        ],
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    assert lease["task"]["id"] == task_id
    skipped = client.post(
        f"{API}/tasks/{task_id}/skip",
        json={
            "lease_token": lease["lease_token"],
            "reason": "The image does not load",
            "broken": True,
        },
        headers=labeler.headers,
    )
    assert skipped.status_code == 204, skipped.text
    broken = client.get(
        f"{API}/tasks",
        params={"project_id": project["id"], "tags": "broken"},
        headers=manager.headers,
    ).json()["items"]
    assert [t["id"] for t in broken] == [task_id]
    history = client.get(f"{API}/tasks/{task_id}/history", headers=manager.headers).json()
    assert [(e["action"], e["reason"]) for e in history["items"]] == [
        ("skip", "The image does not load")
    ]
    # A plain skip tags nothing.
    lease = next_lease(client, labeler, project["id"]).json()
    assert lease["task"]["id"] == other_id
    client.post(
        f"{API}/tasks/{other_id}/skip",
        json={"lease_token": lease["lease_token"], "reason": "unsure"},
        headers=labeler.headers,
    )
    tags = client.get(f"{API}/tasks/{other_id}", headers=manager.headers).json()["tags"]
    assert tags == []


def test_reporting_a_gold_task_broken_looks_like_any_other_report(client, manager, accounts):
    project = gold_project(client, manager)
    answer = {
        "annotations": [{"type": "box", "label": "car", "x": 1, "y": 1, "width": 9, "height": 9}]
    }
    gold = client.post(
        f"{API}/projects/{project['id']}/evaluation_tasks",
        json={"params": {"attachment": "https://example.test/g.jpg"}, "expected_response": answer},
        headers=manager.headers,
    ).json()["id"]
    add_tasks(client, manager, project["id"], [{"params": {"attachment": "https://x.test/r.jpg"}}])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    assert lease["task"]["id"] == gold
    skipped = client.post(
        f"{API}/tasks/{gold}/skip",
        json={"lease_token": lease["lease_token"], "reason": "blank image", "broken": True},
        headers=labeler.headers,
    )
    assert skipped.status_code == 204 and skipped.content == b""
    assert "broken" in client.get(f"{API}/tasks/{gold}", headers=manager.headers).json()["tags"]

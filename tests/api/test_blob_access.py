"""Blob reads are scoped: a blob is readable by the people who uploaded it, admins, and
whoever may see a project whose tasks show it; to anyone else it does not exist."""

from __future__ import annotations

import io

import pytest

from tests.api.test_exports import finished_job, setup
from tests.labeling.factories import PNG, actor_for, add_member, make_project


def upload(client, account, data: bytes, name: str = "photo.png") -> str:
    response = client.post(
        "/api/v1/blobs",
        headers=account.headers,
        files={"file": (name, io.BytesIO(data), "image/png")},
    )
    assert response.status_code == 201, response.text
    return response.json()["sha256"]


def reads(client, account, sha: str) -> tuple[int, int]:
    """(metadata status, signed URL status) for this caller."""
    meta = client.get(f"/api/v1/blobs/{sha}", headers=account.headers).status_code
    url = client.post(f"/api/v1/blobs/{sha}/url", headers=account.headers).status_code
    return meta, url


def image_task(sha: str) -> dict:
    return {"params": {"attachment": f"blob:{sha}", "image_width": 1, "image_height": 1}}


@pytest.fixture
def scene(client, db, accounts):
    """A manager's project with one task showing an uploaded image, a member and strangers."""
    manager = accounts.make("manager")
    project = make_project(db, actor_for(manager), name="scoped")
    sha = upload(client, manager, PNG)
    created = client.post(
        f"/api/v1/projects/{project.id}/tasks", headers=manager.headers, json=image_task(sha)
    )
    assert created.status_code == 201, created.text
    member = accounts.make("labeler")
    add_member(db, project, member, "labeler")
    return {"manager": manager, "project": project, "sha": sha, "member": member}


def test_a_stranger_cannot_read_someone_elses_blob(client, accounts, scene):
    stranger = accounts.make("labeler")
    assert reads(client, stranger, scene["sha"]) == (404, 404)
    assert reads(client, scene["manager"], scene["sha"]) == (200, 200)


def test_project_members_admins_and_global_managers_may_read(client, accounts, scene):
    assert reads(client, scene["member"], scene["sha"]) == (200, 200)
    assert reads(client, accounts.make("admin"), scene["sha"]) == (200, 200)
    assert reads(client, accounts.make("manager"), scene["sha"]) == (200, 200)


def test_uploading_the_same_bytes_makes_them_readable_to_that_uploader(client, accounts, scene):
    other = accounts.make("labeler")
    assert reads(client, other, scene["sha"]) == (404, 404)
    assert upload(client, other, PNG, name="mine.png") == scene["sha"]
    assert reads(client, other, scene["sha"]) == (200, 200)


def test_an_unreferenced_upload_is_private_to_its_uploader(client, accounts):
    uploader, manager = accounts.make("labeler"), accounts.make("manager")
    sha = upload(client, uploader, PNG + b"private")
    assert reads(client, uploader, sha) == (200, 200)
    assert reads(client, manager, sha) == (404, 404)


def test_a_task_cannot_make_an_unreadable_blob_readable(client, db, accounts, scene):
    """A project manager who may not read a blob cannot reference it from their project's
    tasks (it would then become readable to them): it is as if it did not exist."""
    lead = accounts.make("labeler")
    owner = accounts.make("admin")
    theirs = make_project(db, actor_for(owner), name="theirs")
    add_member(db, theirs, lead, "manager")
    tried = client.post(
        f"/api/v1/projects/{theirs.id}/tasks", headers=lead.headers, json=image_task(scene["sha"])
    )
    assert tried.status_code == 422, tried.text
    assert tried.json()["error"]["field"] == "params.attachment"
    assert reads(client, lead, scene["sha"]) == (404, 404)
    imported = client.post(
        f"/api/v1/projects/{theirs.id}/imports", headers=lead.headers, json={"blob": scene["sha"]}
    )
    assert imported.status_code == 404 and imported.json()["error"]["field"] == "blob"


def test_an_export_is_readable_by_the_projects_managers_not_its_labelers(
    client, db, settings, accounts, pool
):
    owner = accounts.make("admin")
    project, _, _ = setup(db, settings, owner)
    asked, colleague = accounts.make("labeler"), accounts.make("labeler")
    labeler = accounts.make("labeler")
    add_member(db, project, asked, "manager")
    add_member(db, project, colleague, "manager")
    add_member(db, project, labeler, "labeler")
    started = client.post(
        f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl"}, headers=asked.headers
    )
    assert started.status_code == 202, started.text
    job = finished_job(client, asked, started.json()["id"])
    sha = job["result"]["blob"]
    assert reads(client, asked, sha) == (200, 200)
    assert reads(client, colleague, sha) == (200, 200)
    assert reads(client, labeler, sha) == (404, 404)

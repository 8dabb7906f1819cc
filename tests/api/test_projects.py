"""The projects API: create, read, update, instructions, members, and who sees what."""

from __future__ import annotations

from typing import Any

import pytest

API = "/api/v1"
TAXONOMY = {"labels": [{"name": "car", "geometries": ["box"]}]}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def create(client, account, *, headers=None, **body: Any) -> dict[str, Any]:
    body = {"name": "cars", "task_type": "image", "taxonomy": TAXONOMY, **body}
    response = client.post(f"{API}/projects", json=body, headers=headers or account.headers)
    assert response.status_code == 201, response.text
    return response.json()


def put_member(client, account, project_id: str, user_id: str, role: str):
    return client.put(
        f"{API}/projects/{project_id}/members/{user_id}",
        json={"role": role},
        headers=account.headers,
    )


def test_create_read_update(client, manager):
    created = create(client, manager, params={"image_width": 640})
    assert created["task_type"] == "image" and created["mode"] == "live"
    assert created["callback_secret"].startswith("cbsec_")
    assert created["instructions"].startswith("# cars") and created["instructions_version"] == 1
    project_id = created["id"]
    fetched = client.get(f"{API}/projects/{project_id}", headers=manager.headers).json()
    assert fetched == created
    patched = client.patch(
        f"{API}/projects/{project_id}",
        json={
            "name": "vehicles",
            "archived": True,
            "pipeline": {
                "stages": [
                    {"name": "label", "kind": "label"},
                    {"name": "qa", "kind": "review", "sample_rate": 0.5},
                ]
            },
        },
        headers=manager.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "vehicles" and patched.json()["archived"] is True
    assert patched.json()["pipeline"]["stages"][1]["sample_rate"] == 0.5
    listed = client.get(f"{API}/projects", params={"archived": True}, headers=manager.headers)
    assert [p["id"] for p in listed.json()["items"]] == [project_id]
    assert "callback_secret" not in listed.json()["items"][0]
    assert (
        client.get(f"{API}/projects", params={"archived": False}, headers=manager.headers).json()[
            "items"
        ]
        == []
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task_type": "sculpture"}, "task_type"),
        (
            {"taxonomy": {"labels": [{"name": "car", "geometries": ["cube"]}]}},
            "taxonomy.labels[0].geometries",
        ),
        (
            {
                "taxonomy": {
                    "labels": [{"name": "car", "attributes": [{"name": "a", "type": "choice"}]}]
                }
            },
            "taxonomy.labels[0].attributes[0]",
        ),
        ({"pipeline": {"stages": []}}, "pipeline.stages"),
        ({"name": ""}, "name"),
        (
            {
                "taxonomy": {
                    "labels": [
                        {
                            "name": "person",
                            "geometries": ["keypoints"],
                            "keypoints": ["head", "foot"],
                            "skeleton": [["head", "knee"]],
                        }
                    ]
                }
            },
            "taxonomy.labels[0].skeleton[0][1]",
        ),
    ],
)
def test_bad_definitions_are_422_naming_the_field(client, manager, body, field):
    response = client.post(
        f"{API}/projects",
        json={"name": "x", "task_type": "image", "taxonomy": TAXONOMY, **body},
        headers=manager.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].startswith(field)
    assert client.get(f"{API}/projects", headers=manager.headers).json()["items"] == []


def test_a_keypoint_skeleton_is_kept_and_checked_on_update(client, manager):
    person = {"name": "person", "geometries": ["keypoints"], "keypoints": ["head", "hip", "foot"]}
    skeleton = [["head", "hip"], ["hip", "foot"]]
    created = create(client, manager, taxonomy={"labels": [{**person, "skeleton": skeleton}]})
    assert created["taxonomy"]["labels"][0]["skeleton"] == skeleton
    url = f"{API}/projects/{created['id']}"
    bad = {"labels": [{**person, "skeleton": [*skeleton, ["foot", "hip"]]}]}
    refused = client.patch(url, json={"taxonomy": bad}, headers=manager.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "taxonomy.labels[0].skeleton[2]"
    kept = client.get(url, headers=manager.headers).json()
    assert kept["taxonomy"]["labels"][0]["skeleton"] == skeleton


def test_names_conflict_within_a_sandbox_only(client, manager):
    live = create(client, manager, name="same")
    duplicate = client.post(
        f"{API}/projects",
        json={"name": "same", "task_type": "image", "taxonomy": TAXONOMY},
        headers=manager.headers,
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"]["field"] == "name"
    sandboxed = create(client, manager, name="same", headers=manager.test_headers)
    assert sandboxed["mode"] == "test"
    assert (
        client.get(f"{API}/projects/{live['id']}", headers=manager.test_headers).status_code == 404
    )
    assert [
        p["id"] for p in client.get(f"{API}/projects", headers=manager.test_headers).json()["items"]
    ] == [sandboxed["id"]]


def test_idempotency_key_replays_the_create(client, manager):
    body = {"name": "once", "task_type": "image", "taxonomy": TAXONOMY}
    headers = {**manager.headers, "Idempotency-Key": "abc"}
    first = client.post(f"{API}/projects", json=body, headers=headers)
    second = client.post(f"{API}/projects", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true" and second.json() == first.json()


def test_who_sees_and_manages_what(client, manager, accounts):
    project = create(client, manager)
    other = create(client, manager, name="other")
    labeler, reviewer, lead = (accounts.make(r) for r in ("labeler", "reviewer", "labeler"))
    # Labelers and reviewers cannot create projects, and see none they are not in.
    denied = client.post(
        f"{API}/projects",
        json={"name": "x", "task_type": "image", "taxonomy": TAXONOMY},
        headers=labeler.headers,
    )
    assert denied.status_code == 403
    assert client.get(f"{API}/projects", headers=labeler.headers).json()["items"] == []
    missing = client.get(f"{API}/projects/{project['id']}", headers=labeler.headers)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "project_id"

    for account, role in ((labeler, "labeler"), (reviewer, "reviewer"), (lead, "manager")):
        assert put_member(client, manager, project["id"], account.user.id, role).status_code == 200
    seen = client.get(f"{API}/projects", headers=labeler.headers).json()["items"]
    assert [p["id"] for p in seen] == [project["id"]]
    as_labeler = client.get(f"{API}/projects/{project['id']}", headers=labeler.headers).json()
    assert as_labeler["callback_secret"] is None and as_labeler["taxonomy"] == project["taxonomy"]
    for account in (labeler, reviewer):
        refused = client.patch(
            f"{API}/projects/{project['id']}", json={"name": "mine"}, headers=account.headers
        )
        assert refused.status_code == 403
        assert (
            client.get(
                f"{API}/projects/{project['id']}/members", headers=account.headers
            ).status_code
            == 403
        )
        assert (
            put_member(client, account, project["id"], account.user.id, "manager").status_code
            == 403
        )
    # A labeler who is a manager of this project manages it, and only it.
    as_lead = client.get(f"{API}/projects/{project['id']}", headers=lead.headers).json()
    assert as_lead["callback_secret"] == project["callback_secret"]
    renamed = client.patch(
        f"{API}/projects/{project['id']}", json={"name": "led"}, headers=lead.headers
    )
    assert renamed.status_code == 200
    assert (
        client.patch(
            f"{API}/projects/{other['id']}", json={"name": "x"}, headers=lead.headers
        ).status_code
        == 404
    )


def test_instructions_versions(client, manager, accounts):
    project = create(client, manager, instructions="first")
    published = client.put(
        f"{API}/projects/{project['id']}/instructions",
        json={"body": "second"},
        headers=manager.headers,
    )
    assert published.status_code == 200 and published.json()["version"] == 2
    versions = client.get(
        f"{API}/projects/{project['id']}/instructions", headers=manager.headers
    ).json()["items"]
    assert [(v["version"], v["body"]) for v in versions] == [(2, "second"), (1, "first")]
    assert (
        client.get(f"{API}/projects/{project['id']}", headers=manager.headers).json()[
            "instructions"
        ]
        == "second"
    )
    labeler = accounts.make("labeler")
    put_member(client, manager, project["id"], labeler.user.id, "labeler")
    assert (
        client.get(
            f"{API}/projects/{project['id']}/instructions", headers=labeler.headers
        ).status_code
        == 200
    )
    assert (
        client.put(
            f"{API}/projects/{project['id']}/instructions",
            json={"body": "mine"},
            headers=labeler.headers,
        ).status_code
        == 403
    )


def test_members(client, manager, accounts):
    project = create(client, manager)
    labeler = accounts.make("labeler")
    url = f"{API}/projects/{project['id']}/members"
    assert (
        put_member(client, manager, project["id"], labeler.user.id, "labeler").json()["role"]
        == "labeler"
    )
    assert (
        put_member(client, manager, project["id"], labeler.user.id, "reviewer").json()["role"]
        == "reviewer"
    )
    bad_role = put_member(client, manager, project["id"], labeler.user.id, "owner")
    assert bad_role.status_code == 422 and bad_role.json()["error"]["field"] == "role"
    unknown = put_member(client, manager, project["id"], "0" * 24, "labeler")
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "user_id"
    members = client.get(url, headers=manager.headers).json()["items"]
    assert [(m["user_id"], m["role"]) for m in members] == [(labeler.user.id, "reviewer")]
    assert client.delete(f"{url}/{labeler.user.id}", headers=manager.headers).status_code == 204
    assert client.delete(f"{url}/{labeler.user.id}", headers=manager.headers).status_code == 404
    assert client.get(url, headers=manager.headers).json()["items"] == []

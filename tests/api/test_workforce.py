"""The workforce API: project groups, batch groups and batch priorities; who may use them,
and errors that name the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

API = "/api/v1"
TAXONOMY = {"labels": [{"name": "cat", "geometries": ["category"]}]}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def make_project(client, manager, name: str = "pets") -> dict[str, Any]:
    body = {"name": name, "task_type": "categorization", "taxonomy": TAXONOMY}
    response = client.post(f"{API}/projects", json=body, headers=manager.headers)
    assert response.status_code == 201, response.text
    return response.json()


def make_batch(client, manager, project_id: str, name: str, tasks: int = 1) -> dict[str, Any]:
    response = client.post(
        f"{API}/projects/{project_id}/batches", json={"name": name}, headers=manager.headers
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    if tasks:
        body = {
            "tasks": [{"params": {"text": f"pet {i}"}} for i in range(tasks)],
            "batch": batch["id"],
        }
        response = client.post(
            f"{API}/projects/{project_id}/tasks/bulk", json=body, headers=manager.headers
        )
        assert response.status_code == 201, response.text
    return batch


def member(client, manager, project_id: str, account, role: str) -> None:
    response = client.put(
        f"{API}/projects/{project_id}/members/{account.user.id}",
        json={"role": role},
        headers=manager.headers,
    )
    assert response.status_code == 200, response.text


def error(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_groups_create_list_change_and_delete(client, accounts, manager):
    project = make_project(client, manager)
    groups = f"{API}/projects/{project['id']}/groups"
    ann, bob = accounts.make("labeler"), accounts.make("labeler")
    response = client.post(
        groups, json={"name": "night shift", "emails": [ann.user.email]}, headers=manager.headers
    )
    assert response.status_code == 201, response.text
    group = response.json()
    assert group["name"] == "night shift" and group["project_id"] == project["id"]
    assert group["members"] == [
        {"user_id": ann.user.id, "email": ann.user.email, "name": "Labeler"}
    ]
    members = client.get(f"{API}/projects/{project['id']}/members", headers=manager.headers)
    assert {(m["user_id"], m["role"]) for m in members.json()["items"]} >= {
        (ann.user.id, "labeler")
    }

    response = client.patch(
        f"{groups}/{group['id']}",
        json={"name": "nights", "add_emails": [bob.user.email], "remove_emails": [ann.user.email]},
        headers=manager.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "nights"
    assert [m["email"] for m in response.json()["members"]] == [bob.user.email]

    listed = client.get(groups, headers=manager.headers)
    assert listed.status_code == 200
    assert [(g["id"], g["name"]) for g in listed.json()["items"]] == [(group["id"], "nights")]

    assert client.delete(f"{groups}/{group['id']}", headers=manager.headers).status_code == 204
    assert client.get(groups, headers=manager.headers).json()["items"] == []
    assert (
        error(client.delete(f"{groups}/{group['id']}", headers=manager.headers), 404)["field"]
        == "group_id"
    )


def test_missing_things_are_404(client, manager):
    project = make_project(client, manager)
    other = make_project(client, manager, "other")
    group = client.post(
        f"{API}/projects/{other['id']}/groups", json={"name": "g"}, headers=manager.headers
    ).json()
    assert error(client.get(f"{API}/projects/nope/groups", headers=manager.headers), 404)
    # A group of another project is not found through this one.
    found = error(
        client.patch(
            f"{API}/projects/{project['id']}/groups/{group['id']}",
            json={"name": "x"},
            headers=manager.headers,
        ),
        404,
    )
    assert found["field"] == "group_id"
    assert error(
        client.put(f"{API}/batches/nope/groups", json={"group_ids": []}, headers=manager.headers),
        404,
    )
    batch = make_batch(client, manager, project["id"], "b")
    found = error(
        client.put(
            f"{API}/batches/{batch['id']}/groups",
            json={"group_ids": [group["id"]]},
            headers=manager.headers,
        ),
        404,
    )
    assert found["field"] == "group_ids[0]"
    found = error(
        client.post(
            f"{API}/batches/priorities",
            json={"batch_ids": [batch["id"], "nope"]},
            headers=manager.headers,
        ),
        404,
    )
    assert found["field"] == "batch_ids[1]"


def test_bad_bodies_name_the_field(client, accounts, manager):
    project = make_project(client, manager)
    groups = f"{API}/projects/{project['id']}/groups"
    ann = accounts.make("labeler")
    cases = [
        (groups, {"emails": []}, 422, "name"),
        (groups, {"name": "g", "emails": ["not an email"]}, 422, "emails[0]"),
        (
            groups,
            {"name": "g", "emails": [ann.user.email, "nobody@example.test"]},
            404,
            "emails[1]",
        ),
        (f"{API}/batches/priorities", {"batch_ids": []}, 422, "batch_ids"),
    ]
    for url, body, status, field in cases:
        assert error(client.post(url, json=body, headers=manager.headers), status)["field"] == field
    group = client.post(groups, json={"name": "g"}, headers=manager.headers).json()
    assert (
        error(client.post(groups, json={"name": "g"}, headers=manager.headers), 409)["field"]
        == "name"
    )
    patch = client.patch(
        f"{groups}/{group['id']}",
        json={"add_emails": [ann.user.email], "remove_emails": [ann.user.email]},
        headers=manager.headers,
    )
    assert error(patch, 422)["field"] == "remove_emails[0]"
    patch = client.patch(f"{groups}/{group['id']}", json={"name": " "}, headers=manager.headers)
    assert error(patch, 422)["field"] == "name"
    batch = make_batch(client, manager, project["id"], "b")
    put = client.put(f"{API}/batches/{batch['id']}/groups", json={}, headers=manager.headers)
    assert error(put, 422)["field"] == "group_ids"
    twice = client.post(
        f"{API}/batches/priorities",
        json={"batch_ids": [batch["id"], batch["id"]]},
        headers=manager.headers,
    )
    assert error(twice, 422)["field"] == "batch_ids[1]"


def test_labelers_may_not_organise_the_workforce(client, accounts, manager):
    project = make_project(client, manager)
    batch = make_batch(client, manager, project["id"], "b")
    group = client.post(
        f"{API}/projects/{project['id']}/groups", json={"name": "g"}, headers=manager.headers
    ).json()
    labeler, stranger = accounts.make("labeler"), accounts.make("labeler")
    member(client, manager, project["id"], labeler, "labeler")
    groups = f"{API}/projects/{project['id']}/groups"
    calls = [
        ("GET", groups, None),
        ("POST", groups, {"name": "mine"}),
        ("PATCH", f"{groups}/{group['id']}", {"name": "mine"}),
        ("DELETE", f"{groups}/{group['id']}", None),
        ("PUT", f"{API}/batches/{batch['id']}/groups", {"group_ids": []}),
    ]
    for method, url, body in calls:
        assert error(client.request(method, url, json=body, headers=labeler.headers), 403)
        # Not a member: the project does not exist for them.
        assert error(client.request(method, url, json=body, headers=stranger.headers), 404)
    for method, url, body in [
        ("GET", f"{API}/batches/priorities", None),
        ("POST", f"{API}/batches/priorities", {"batch_ids": [batch["id"]]}),
        ("POST", f"{API}/batches/priorities/reset", None),
    ]:
        refused = error(client.request(method, url, json=body, headers=labeler.headers), 403)
        assert "manager" in refused["message"]


def test_a_project_manager_assigns_batches_but_only_global_managers_order_them(
    client, accounts, manager
):
    project = make_project(client, manager)
    batch = make_batch(client, manager, project["id"], "b")
    lead = accounts.make("labeler")
    member(client, manager, project["id"], lead, "manager")
    group = client.post(
        f"{API}/projects/{project['id']}/groups", json={"name": "g"}, headers=lead.headers
    )
    assert group.status_code == 201, group.text
    response = client.put(
        f"{API}/batches/{batch['id']}/groups",
        json={"group_ids": [group.json()["id"]]},
        headers=lead.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["restricted"] is True
    assert response.json()["groups"] == [{"id": group.json()["id"], "name": "g"}]
    assert error(
        client.post(
            f"{API}/batches/priorities", json={"batch_ids": [batch["id"]]}, headers=lead.headers
        ),
        403,
    )


def test_batch_priorities_set_list_and_reset(client, accounts, manager):
    project = make_project(client, manager)
    ids = [make_batch(client, manager, project["id"], f"b{i}", tasks=i)["id"] for i in range(3)]
    before = client.get(f"{API}/batches/priorities", headers=manager.headers)
    assert before.status_code == 200, before.text
    assert [b["id"] for b in before.json()["items"]] == ids  # oldest first
    assert [(b["total"], b["completed"]) for b in before.json()["items"]] == [
        (0, 0),
        (1, 0),
        (2, 0),
    ]

    response = client.post(
        f"{API}/batches/priorities", json={"batch_ids": [ids[2], ids[0]]}, headers=manager.headers
    )
    assert response.status_code == 200, response.text
    order = [(b["id"], b["priority"]) for b in response.json()["items"]]
    assert order == [(ids[2], 2), (ids[0], 1), (ids[1], 0)]
    item = response.json()["items"][0]
    assert item["project_name"] == "pets" and item["kind"] == "production"
    assert item["status"] == "staging" and item["restricted"] is False
    # The native batch shows the same priority.
    assert client.get(f"{API}/batches/{ids[2]}", headers=manager.headers).json()["priority"] == 2

    # A test key's sandbox has its own batches and order.
    assert client.get(f"{API}/batches/priorities", headers=manager.test_headers).json() == {
        "items": []
    }

    reset = client.post(f"{API}/batches/priorities/reset", headers=manager.headers)
    assert reset.status_code == 200, reset.text
    assert [(b["id"], b["priority"]) for b in reset.json()["items"]] == [(i, 0) for i in ids]

"""The task list's `stage` filter (the web UI's task table filters by pipeline stage)."""

from __future__ import annotations

API = "/api/v1"


def test_list_filters_by_stage(client, accounts):
    manager = accounts.make("manager")
    project = client.post(
        f"{API}/projects",
        json={
            "name": "stages",
            "task_type": "categorization",
            "taxonomy": {"labels": [{"name": "cat"}, {"name": "dog"}]},
            "pipeline": {
                "stages": [{"name": "label", "kind": "label"}, {"name": "check", "kind": "review"}]
            },
        },
        headers=manager.headers,
    ).json()
    batch = client.post(
        f"{API}/projects/{project['id']}/batches",
        json={"name": "later"},
        headers=manager.headers,
    ).json()

    def bulk(count: int, **extra) -> list[str]:
        response = client.post(
            f"{API}/projects/{project['id']}/tasks/bulk",
            json={"tasks": [{"params": {"text": f"t{i}"}} for i in range(count)], **extra},
            headers=manager.headers,
        )
        assert response.status_code == 201, response.text
        return [t["id"] for t in response.json()["tasks"]]

    queued = bulk(2)
    bulk(1, batch=batch["id"])  # staging: not in any stage yet

    def listed(**params) -> list[str]:
        response = client.get(
            f"{API}/tasks", params={"project_id": project["id"], **params}, headers=manager.headers
        )
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert len(listed()) == 3
    assert listed(stage="label") == queued[::-1]
    assert listed(stage="check") == []
    assert listed(stage="label", status="completed") == []

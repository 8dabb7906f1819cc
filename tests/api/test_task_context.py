"""The labeling page's context calls (issue 15 §3 items 4, 5): a held task's place in its batch, the
worker's day, who labeled a task under review and what to compare with, why a stage has
nothing for the caller, the previous task, a project's work by stage — and gold tasks look
like real ones in all of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_broken_media import gold_project
from tests.api.test_gold_never_leaks import shape
from tests.api.test_queue import API, REVIEWED, box, make_project, member, next_lease


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def batch_of(client, manager, project_id: str, count: int, name: str = "week 1") -> list[str]:
    batch = client.post(
        f"{API}/projects/{project_id}/batches", json={"name": name}, headers=manager.headers
    ).json()["id"]
    created = client.post(
        f"{API}/projects/{project_id}/tasks/bulk",
        json={
            "batch": batch,
            "tasks": [
                {
                    "params": {"attachment": f"https://cdn.example.test/img/{i:03}%20a.jpg"},
                    "unique_id": f"u{i}",
                    "prelabels": {"annotations": [box(id=f"p{i}")]},
                }
                for i in range(count)
            ],
        },
        headers=manager.headers,
    )
    assert created.status_code == 201, created.text
    client.post(f"{API}/batches/{batch}/finalize", headers=manager.headers)
    return [t["id"] for t in created.json()["tasks"]]


def context(client, account, task_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/tasks/{task_id}/context", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def submit(client, account, lease: dict[str, Any], response: dict[str, Any] | None = None):
    done = client.post(
        f"{API}/tasks/{lease['task']['id']}/submit",
        json={
            "lease_token": lease["lease_token"],
            "response": response or {"annotations": [box()]},
        },
        headers=account.headers,
    )
    assert done.status_code == 200, done.text


def test_task_n_of_m_in_the_batch_and_the_work_done_today(client, manager, accounts):
    project = make_project(client, manager)
    ids = batch_of(client, manager, project["id"], 3)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    seen = []
    for _ in range(3):
        lease = next_lease(client, labeler, project["id"]).json()
        seen.append(context(client, labeler, lease["task"]["id"]))
        submit(client, labeler, lease)
    assert [(c["position"], c["total"], c["done_today"]) for c in seen] == [
        (1, 3, 0),
        (2, 3, 1),
        (3, 3, 2),
    ]
    first = seen[0]
    assert first["task_id"] == ids[0] and first["batch"]["name"] == "week 1"
    assert first["file_name"] == "000 a.jpg"
    # Labelers never see unique ids or who did what.
    assert first["unique_id"] is None and first["labeler"] is None and first["baseline"] is None
    # Only the lease holder gets a task's context: the same 409 for any other task.
    other = member(client, manager, accounts, project["id"], "labeler")
    refused = client.get(f"{API}/tasks/{ids[0]}/context", headers=other.headers)
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "task_id"
    summary = client.get(
        f"{API}/projects/{project['id']}/queue/summary", headers=labeler.headers
    ).json()
    assert summary == {
        "stage": "label",
        "kind": "label",
        "waiting": 0,
        "leased": 0,
        "yours": 0,
        "done_today": 3,
    }


def test_a_gold_task_has_the_context_of_a_real_one(client, manager, accounts):
    project = gold_project(client, manager)
    gold = client.post(
        f"{API}/projects/{project['id']}/evaluation_tasks",
        json={
            "params": {"attachment": "https://cdn.example.test/g.jpg"},
            "expected_response": {"annotations": [box()]},
        },
        headers=manager.headers,
    ).json()["id"]
    batch_of(client, manager, project["id"], 3)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    gold_lease = next_lease(client, labeler, project["id"]).json()
    assert gold_lease["task"]["id"] == gold
    gold_context = context(client, labeler, gold)
    submit(client, labeler, gold_lease)
    real_lease = next_lease(client, labeler, project["id"]).json()
    real_context = context(client, labeler, real_lease["task"]["id"])
    assert shape(gold_context) == shape(real_context)
    assert gold_context["batch"] == real_context["batch"]
    assert gold_context["file_name"] == "g.jpg"
    # The gold submission counts like any other: nothing stands still after it.
    assert (gold_context["position"], gold_context["done_today"]) == (1, 0)
    assert (real_context["position"], real_context["done_today"]) == (2, 1)
    # The previous task is the gold one, in the shape of a real one.
    previous = client.get(
        f"{API}/projects/{project['id']}/queue/previous", headers=labeler.headers
    ).json()
    assert (
        previous["task"]["id"] == gold and previous["response"]["annotations"][0]["label"] == "car"
    )
    submit(client, labeler, real_lease)
    after = client.get(f"{API}/projects/{project['id']}/queue/previous", headers=labeler.headers)
    assert after.json()["task"]["id"] == real_lease["task"]["id"]
    assert shape(after.json()) == shape(previous)
    assert set(after.json()["task"]) == {"id", "type", "params", "stage", "round"}


def test_previous_task_is_the_last_submitted_one(client, manager, accounts):
    project = make_project(client, manager)
    ids = batch_of(client, manager, project["id"], 2)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    none = client.get(f"{API}/projects/{project['id']}/queue/previous", headers=labeler.headers)
    assert none.status_code == 204
    lease = next_lease(client, labeler, project["id"]).json()
    submit(client, labeler, lease, {"annotations": [box(x=33)]})
    previous = client.get(
        f"{API}/projects/{project['id']}/queue/previous", headers=labeler.headers
    ).json()
    assert previous["task"]["id"] == ids[0]
    assert previous["response"]["annotations"][0]["x"] == 33
    assert previous["file_name"] == "000 a.jpg"
    assert previous["task"]["params"]["attachment"].endswith("000%20a.jpg")


def test_review_context_labeler_time_round_and_baseline(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    (task_id,) = batch_of(client, manager, project["id"], 1)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    lease = next_lease(client, labeler, project["id"]).json()
    submit(client, labeler, lease, {"annotations": [box(id="p0", x=12), box(id="new")]})

    own = client.get(
        f"{API}/projects/{project['id']}/queue/summary",
        params={"stage": "review"},
        headers=labeler.headers,
    )
    assert own.status_code == 403  # labelers do not review

    review = next_lease(client, reviewer, project["id"], "review").json()
    seen = context(client, reviewer, task_id)
    assert seen["stage"] == "review" and seen["round"] == 0 and seen["unique_id"] == "u0"
    assert seen["labeler"]["email"] == labeler.user.email
    assert seen["labeled_ms"] is not None and seen["labeled_ms"] >= 0
    assert seen["baseline"]["kind"] == "prelabels"
    assert seen["baseline"]["response"]["annotations"][0]["id"] == "p0"
    rejected = client.post(
        f"{API}/tasks/{task_id}/review",
        json={
            "lease_token": review["lease_token"],
            "decision": "reject",
            "comments": [{"text": "move it"}],
        },
        headers=reviewer.headers,
    )
    assert rejected.status_code == 200, rejected.text
    rework = next_lease(client, labeler, project["id"]).json()
    submit(client, labeler, rework, {"annotations": [box(id="p0", x=20)]})
    review = next_lease(client, reviewer, project["id"], "review").json()
    seen = context(client, reviewer, task_id)
    assert seen["round"] == 1 and seen["baseline"]["kind"] == "previous_round"
    assert [a["id"] for a in seen["baseline"]["response"]["annotations"]] == ["p0", "new"]


def test_why_nothing_is_left_to_review(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    batch_of(client, manager, project["id"], 2)
    both = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    for _ in range(2):
        submit(client, both, next_lease(client, both, project["id"]).json())
    assert next_lease(client, both, project["id"], "review").status_code == 204
    summary = client.get(
        f"{API}/projects/{project['id']}/queue/summary",
        params={"stage": "review"},
        headers=both.headers,
    ).json()
    assert summary == {
        "stage": "review",
        "kind": "review",
        "waiting": 2,
        "leased": 0,
        "yours": 2,
        "done_today": 2,
    }


def test_project_progress_by_stage_and_per_day(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    batch_of(client, manager, project["id"], 4)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    for _ in range(3):
        submit(client, labeler, next_lease(client, labeler, project["id"]).json())
    next_lease(client, labeler, project["id"])  # one task being labeled
    review = next_lease(client, reviewer, project["id"], "review").json()
    client.post(
        f"{API}/tasks/{review['task']['id']}/review",
        json={"lease_token": review["lease_token"], "decision": "accept"},
        headers=reviewer.headers,
    )
    next_lease(client, reviewer, project["id"], "review")  # one being reviewed
    progress = client.get(f"{API}/projects/{project['id']}/progress", headers=manager.headers)
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["stages"] == [
        {"name": "label", "kind": "label", "waiting": 0, "in_progress": 1},
        {"name": "review", "kind": "review", "waiting": 1, "in_progress": 1},
    ]
    assert body["statuses"] == {"pending": 3, "completed": 1, "canceled": 0, "error": 0}
    assert len(body["throughput"]) == 14 and body["throughput"][-1]["completed"] == 1
    assert sum(day["completed"] for day in body["throughput"]) == 1
    assert (
        client.get(f"{API}/projects/{project['id']}/progress", headers=labeler.headers).status_code
        == 403
    )


def test_projects_say_the_callers_role(client, manager, accounts):
    project = make_project(client, manager)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    listed = client.get(f"{API}/projects", headers=labeler.headers).json()["items"]
    assert [p["your_role"] for p in listed] == ["labeler"]
    detail = client.get(f"{API}/projects/{project['id']}", headers=labeler.headers).json()
    assert detail["your_role"] == "labeler"
    assert (
        client.get(f"{API}/projects", headers=manager.headers).json()["items"][0]["your_role"]
        is None
    )

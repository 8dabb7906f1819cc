"""POST /api/v1/projects/{id}/tasks/actions: the task table's bulk actions — one request,
one transaction, all or nothing with a 4xx naming the task that does not fit, and a number
of statements that does not grow with the number of tasks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.api.test_queue import API, add_tasks, box, make_project, member, next_lease

REVIEWED = {"stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def image(i: int) -> dict[str, Any]:
    return {"params": {"attachment": f"https://example.test/{i}.jpg"}}


def batch(client, manager, project_id: str, name: str, finalize: bool = True) -> dict[str, Any]:
    made = client.post(
        f"{API}/projects/{project_id}/batches", json={"name": name}, headers=manager.headers
    )
    assert made.status_code == 201, made.text
    return made.json()


def add_to(client, manager, project_id: str, batch_id: str, count: int) -> list[str]:
    response = client.post(
        f"{API}/projects/{project_id}/tasks/bulk",
        json={"batch": batch_id, "tasks": [image(i) for i in range(count)]},
        headers=manager.headers,
    )
    assert response.status_code == 201, response.text
    return [t["id"] for t in response.json()["tasks"]]


def act(client, account, project_id: str, action: str, task_ids: list[str], **extra: Any):
    return client.post(
        f"{API}/projects/{project_id}/tasks/actions",
        json={"action": action, "task_ids": task_ids, **extra},
        headers=account.headers,
    )


def get(client, account, task_id: str) -> dict[str, Any]:
    return client.get(f"{API}/tasks/{task_id}", headers=account.headers).json()


def submit(client, labeler, lease: dict[str, Any], **extra: Any) -> None:
    done = client.post(
        f"{API}/tasks/{lease['task']['id']}/submit",
        json={"lease_token": lease["lease_token"], "response": {"annotations": [box()]}, **extra},
        headers=labeler.headers,
    )
    assert done.status_code == 200, done.text


def test_cancel_many_then_requeue_them(client, manager):
    project = make_project(client, manager)
    first = batch(client, manager, project["id"], "b1")
    ids = add_to(client, manager, project["id"], first["id"], 5)
    assert client.post(f"{API}/batches/{first['id']}/finalize", headers=manager.headers).is_success
    done = act(client, manager, project["id"], "cancel", ids)
    assert done.status_code == 200, done.text
    assert done.json() == {"action": "cancel", "count": 5, "task_ids": ids}
    assert {get(client, manager, i)["status"] for i in ids} == {"canceled"}
    history = client.get(f"{API}/tasks/{ids[0]}/history", headers=manager.headers).json()
    assert [e["action"] for e in history["items"]] == ["cancel"]
    shown = client.get(f"{API}/batches/{first['id']}", headers=manager.headers).json()
    assert shown["status"] == "completed"  # nothing left pending

    again = act(client, manager, project["id"], "requeue", ids[:2])
    assert again.status_code == 200, again.text
    for task_id in ids[:2]:
        task = get(client, manager, task_id)
        assert (task["status"], task["stage"], task["completed_at"]) == ("pending", "label", None)
    assert get(client, manager, ids[2])["status"] == "canceled"
    reopened = client.get(f"{API}/batches/{first['id']}", headers=manager.headers).json()
    assert reopened["status"] == "in_progress"


def test_one_task_that_does_not_fit_changes_nothing_and_is_named(client, manager, accounts):
    project = make_project(client, manager)
    ids = add_tasks(client, manager, project["id"], [image(i) for i in range(4)])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    submit(client, labeler, lease)
    finished = ids.index(lease["task"]["id"])
    refused = act(client, manager, project["id"], "cancel", ids)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["field"] == f"task_ids[{finished}]" and lease["task"]["id"] in error["message"]
    assert [get(client, manager, i)["status"] for i in ids].count("pending") == 3
    for task_id in ids:
        history = client.get(f"{API}/tasks/{task_id}/history", headers=manager.headers).json()
        assert "cancel" not in [e["action"] for e in history["items"]]

    unknown = act(client, manager, project["id"], "set_priority", [ids[0], "f" * 24], priority=5)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "task_ids[1]"
    assert get(client, manager, ids[0])["priority"] == 0
    twice = act(client, manager, project["id"], "set_priority", [ids[0], ids[0]], priority=5)
    assert twice.status_code == 422 and twice.json()["error"]["field"] == "task_ids[1]"
    missing = act(client, manager, project["id"], "set_priority", ids)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "priority"


def test_another_projects_task_is_not_found_and_labelers_may_not(client, manager, accounts):
    project = make_project(client, manager)
    other = make_project(client, manager, name="other")
    (mine,) = add_tasks(client, manager, project["id"], [image(1)])
    (theirs,) = add_tasks(client, manager, other["id"], [image(2)])
    foreign = act(client, manager, project["id"], "cancel", [mine, theirs])
    assert foreign.status_code == 404 and foreign.json()["error"]["field"] == "task_ids[1]"
    labeler = member(client, manager, accounts, project["id"], "labeler")
    assert act(client, labeler, project["id"], "cancel", [mine]).status_code == 403
    assert get(client, manager, mine)["status"] == "pending"


def test_set_priority_and_move_to_another_batch(client, manager):
    project = make_project(client, manager)
    source = batch(client, manager, project["id"], "source")
    ids = add_to(client, manager, project["id"], source["id"], 3)
    client.post(f"{API}/batches/{source['id']}/finalize", headers=manager.headers)
    target = batch(client, manager, project["id"], "target")
    moved = act(client, manager, project["id"], "move", ids[:2], batch_id=target["id"])
    assert moved.status_code == 200, moved.text
    for task_id in ids[:2]:
        task = get(client, manager, task_id)
        assert task["batch_id"] == target["id"] and task["stage"] is None  # target is staging
    history = client.get(f"{API}/tasks/{ids[0]}/history", headers=manager.headers).json()
    assert history["items"][-1]["action"] == "move"
    assert get(client, manager, ids[2])["stage"] == "label"
    client.post(f"{API}/batches/{target['id']}/finalize", headers=manager.headers)
    assert get(client, manager, ids[0])["stage"] == "label"

    raised = act(client, manager, project["id"], "set_priority", ids, priority=7)
    assert raised.status_code == 200
    assert {get(client, manager, i)["priority"] for i in ids} == {7}
    nowhere = act(client, manager, project["id"], "move", ids, batch_id="0" * 24)
    assert nowhere.status_code == 404 and nowhere.json()["error"]["field"] == "batch_id"


def test_make_gold_needs_reviewed_completed_tasks(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    ids = add_tasks(client, manager, project["id"], [image(i) for i in range(2)])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    for _ in ids:
        submit(client, labeler, next_lease(client, labeler, project["id"]).json())
    review = next_lease(client, reviewer, project["id"], stage="review").json()
    accepted = client.post(
        f"{API}/tasks/{review['task']['id']}/review",
        json={"lease_token": review["lease_token"], "decision": "accept"},
        headers=reviewer.headers,
    )
    assert accepted.status_code == 200, accepted.text
    unreviewed = next(i for i in ids if i != review["task"]["id"])
    refused = act(client, manager, project["id"], "make_gold", [review["task"]["id"], unreviewed])
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["field"] == "task_ids[1]"
    made = act(client, manager, project["id"], "make_gold", [review["task"]["id"]], kind="training")
    assert made.status_code == 200, made.text
    (gold_id,) = made.json()["task_ids"]
    gold = get(client, manager, gold_id)
    assert gold["kind"] == "training" and gold["expected_response"]["annotations"][0]["x"] == 10
    assert gold["metadata"]["source_task"] == review["task"]["id"]


def _counter(seen: list[str]) -> Any:
    def count(conn, cursor, statement, *args: Any) -> None:
        seen.append(statement)

    return count


def test_statements_do_not_grow_with_the_number_of_tasks(client, db, manager):
    project = make_project(client, manager)
    few = add_tasks(client, manager, project["id"], [image(i) for i in range(3)])
    many = add_tasks(client, manager, project["id"], [image(i) for i in range(60)])
    counts = []
    for ids in (few, many):
        seen: list[str] = []
        count = _counter(seen)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = act(client, manager, project["id"], "cancel", ids)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert response.status_code == 200, response.text
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


def test_the_task_table_sorts_and_pages_by_priority_and_completion(client, manager, accounts):
    project = make_project(client, manager)
    ids = add_tasks(
        client,
        manager,
        project["id"],
        [{**image(i), "priority": p} for i, p in enumerate([3, 1, 3, 2, 1, 3, 2])],
    )

    def pages(sort: str, limit: int = 2) -> list[dict[str, Any]]:
        found, cursor = [], None
        while True:
            params = {"project_id": project["id"], "sort": sort, "limit": limit}
            if cursor:
                params["cursor"] = cursor
            page = client.get(f"{API}/tasks", params=params, headers=manager.headers)
            assert page.status_code == 200, page.text
            found += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return found

    high_first = pages("-priority")
    assert [(t["priority"], t["id"]) for t in high_first] == sorted(
        zip([3, 1, 3, 2, 1, 3, 2], ids, strict=True), reverse=True
    )
    low_first = pages("priority", limit=3)
    assert [(t["priority"], t["id"]) for t in low_first] == sorted(
        zip([3, 1, 3, 2, 1, 3, 2], ids, strict=True)
    )
    assert [t["id"] for t in pages("created", limit=3)] == sorted(ids)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    finished = []
    for _ in range(3):
        lease = next_lease(client, labeler, project["id"]).json()
        submit(client, labeler, lease)
        finished.append(lease["task"]["id"])
    assert [t["id"] for t in pages("-completed", limit=1)] == finished[::-1]
    assert [t["id"] for t in pages("completed", limit=2)] == finished
    wrong = client.get(
        f"{API}/tasks",
        params={"project_id": project["id"], "sort": "name"},
        headers=manager.headers,
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "sort"
    first = client.get(
        f"{API}/tasks",
        params={"project_id": project["id"], "sort": "priority", "limit": 1},
        headers=manager.headers,
    ).json()
    mixed = client.get(
        f"{API}/tasks",
        params={"project_id": project["id"], "sort": "-completed", "cursor": first["next_cursor"]},
        headers=manager.headers,
    )
    assert mixed.status_code == 422 and mixed.json()["error"]["field"] == "cursor"


def test_moves_keep_a_paused_stage_and_refuse_a_canceled_batch(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    paused = batch(client, manager, project["id"], "paused")
    ids = add_to(client, manager, project["id"], paused["id"], 2)
    client.post(f"{API}/batches/{paused['id']}/finalize", headers=manager.headers)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    submit(client, labeler, lease)  # one task now waits in review
    in_review = lease["task"]["id"]
    in_label = next(i for i in ids if i != in_review)
    pause = client.post(f"{API}/batches/{paused['id']}/pause", headers=manager.headers)
    assert pause.status_code == 200, pause.text
    assert get(client, manager, in_review)["stage"] is None

    # Into another paused batch: still out of the queue, and back in review when it resumes.
    other = batch(client, manager, project["id"], "other")
    add_to(client, manager, project["id"], other["id"], 1)
    client.post(f"{API}/batches/{other['id']}/finalize", headers=manager.headers)
    client.post(f"{API}/batches/{other['id']}/pause", headers=manager.headers)
    moved = act(client, manager, project["id"], "move", [in_review], batch_id=other["id"])
    assert moved.status_code == 200, moved.text
    assert get(client, manager, in_review)["stage"] is None
    resumed = client.post(f"{API}/batches/{other['id']}/resume", headers=manager.headers)
    assert resumed.status_code == 200, resumed.text
    assert get(client, manager, in_review)["stage"] == "review"

    # Out of a paused batch into an open one: the task goes back to the stage it left.
    client.post(f"{API}/batches/{other['id']}/pause", headers=manager.headers)
    opened = batch(client, manager, project["id"], "open")
    add_to(client, manager, project["id"], opened["id"], 1)
    client.post(f"{API}/batches/{opened['id']}/finalize", headers=manager.headers)
    moved = act(client, manager, project["id"], "move", [in_review], batch_id=opened["id"])
    assert moved.status_code == 200, moved.text
    assert get(client, manager, in_review)["stage"] == "review"

    canceled = batch(client, manager, project["id"], "canceled")
    add_to(client, manager, project["id"], canceled["id"], 1)
    client.post(f"{API}/batches/{canceled['id']}/finalize", headers=manager.headers)
    stopped = client.post(f"{API}/batches/{canceled['id']}/cancel", headers=manager.headers)
    assert stopped.json()["status"] == "canceled", stopped.text
    refused = act(client, manager, project["id"], "move", [in_label], batch_id=canceled["id"])
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "batch_id"

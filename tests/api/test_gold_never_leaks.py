"""Issue 5, acceptance 1: no labeler-visible endpoint returns an expected answer before the
labeler submits, and evaluation tasks look exactly like real ones.

The expected answers carry marker strings; a labeler holding leases on every kind of task
calls every GET route the server has (native, Scale compat, pages) with every id they could
know, and the work endpoints they use — no body may contain a marker."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.test_queue import API, add_tasks, make_project, member, next_lease

TAXONOMY = {
    "labels": [
        {
            "name": "cat",
            "geometries": ["box"],
            "attributes": [{"name": "note", "type": "text"}],
        }
    ]
}
GOLD, TRAINING, CALIBRATION = "GOLDMARK7f3a", "TRAINMARK91c2", "CALIBMARK55d0"


def answer(note: str) -> dict[str, Any]:
    box = {"type": "box", "label": "cat", "x": 5, "y": 6, "width": 30, "height": 20}
    return {"annotations": [{**box, "attributes": {"note": note}}]}


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def _get_paths(routes: Any, prefix: str = "") -> list[str]:
    """Every GET path the app serves, through mounted sub-applications too."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            found += _get_paths(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "routes"):  # a Mount, or a router included the older way
            found += _get_paths(route.routes, prefix + getattr(route, "path", ""))
        elif "GET" in (getattr(route, "methods", None) or ()):
            found.append(prefix + route.path)
    return found


def _fill(path: str, ids: dict[str, list[str]]) -> list[str]:
    """Every way to fill the path's parameters from the ids a labeler could know."""
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    filled = [path]
    for name in names:
        values = ids.get(name, ["unknown"])
        filled = [
            re.sub(r"{" + name + r"(?::\w+)?}", value, candidate, count=1)
            for candidate in filled
            for value in values
        ]
    return filled


def test_no_endpoint_shows_an_expected_answer_and_gold_looks_real(client, manager, accounts):
    project = make_project(
        client,
        manager,
        taxonomy=TAXONOMY,
        quality={
            "evaluation_rate": 1.0,
            "recycle_after_hours": None,
            "training": {"required": False},
        },
    )
    pid = project["id"]
    gold = client.post(
        f"{API}/projects/{pid}/evaluation_tasks",
        json={
            "params": {"attachment": "https://example.com/g.jpg"},
            "expected_response": answer(GOLD),
        },
        headers=manager.headers,
    ).json()["id"]
    training = client.post(
        f"{API}/projects/{pid}/training_tasks",
        json={
            "params": {"attachment": "https://example.com/t.jpg"},
            "expected_response": answer(TRAINING),
        },
        headers=manager.headers,
    ).json()["id"]
    batch = client.post(
        f"{API}/projects/{pid}/batches",
        json={"name": "calibration", "kind": "calibration"},
        headers=manager.headers,
    ).json()["id"]
    created = client.post(
        f"{API}/projects/{pid}/tasks/bulk",
        json={
            "batch": batch,
            "tasks": [
                {
                    "params": {"attachment": "https://example.com/c.jpg"},
                    "expected_response": answer(CALIBRATION),
                }
            ],
        },
        headers=manager.headers,
    )
    assert created.status_code == 201, created.text
    calibration = created.json()["tasks"][0]["id"]
    client.post(f"{API}/batches/{batch}/finalize", headers=manager.headers)
    (real,) = add_tasks(client, manager, pid, [{"params": {"attachment": "https://x.org/r.jpg"}}])
    labeler = member(client, manager, accounts, pid, "labeler")

    seen: list[tuple[str, str]] = []

    def check(label: str, response: Any) -> Any:
        body = response.text
        for marker in (GOLD, TRAINING, CALIBRATION):
            assert marker not in body, f"{label} showed an expected answer: {body[:300]}"
        seen.append((label, str(response.status_code)))
        return response

    # Work: the training task, then an evaluation lease (rate 1.0), a draft, a heartbeat.
    train_lease = check(
        "training/next", client.post(f"{API}/projects/{pid}/training/next", headers=labeler.headers)
    ).json()
    assert train_lease["task"]["id"] == training
    gold_lease = check("queue/next", next_lease(client, labeler, pid)).json()
    assert gold_lease["task"]["id"] == gold
    check("queue/next again", next_lease(client, labeler, pid))
    draft = {"lease_token": gold_lease["lease_token"], "response": answer("mine")}
    check("draft", client.put(f"{API}/tasks/{gold}/draft", json=draft, headers=labeler.headers))
    check(
        "heartbeat",
        client.post(
            f"{API}/tasks/{gold}/heartbeat",
            json={"lease_token": gold_lease["lease_token"]},
            headers=labeler.headers,
        ),
    )

    # Every GET route, with every id the labeler could know or guess.
    ids = {
        "project_id": [pid],
        "task_id": [gold, training, calibration, real],
        "batch_id": [batch],
        "user_id": [labeler.user.id, manager.user.id],
        "name": [project["name"], "calibration"],
        "project": [project["name"]],
        "batch_name": ["calibration"],
    }
    query = {
        "project_id": pid,
        "project": project["name"],
        "project_name": project["name"],
        "batch": "calibration",
        "task_id": gold,
    }
    routes = [path for path in _get_paths(client.app.routes) if "{sha256" not in path]
    assert len(routes) > 40
    # The task table's detail and the exports list are scanned like every other GET.
    assert {f"{API}/tasks/{{task_id}}/detail", f"{API}/projects/{{project_id}}/exports"} <= set(
        routes
    )
    for route in routes:
        for path in _fill(route, ids):
            for headers in (labeler.headers, labeler.test_headers):
                check(f"GET {path}", client.get(path, params=query, headers=headers))
    statuses = {status for _, status in seen}
    assert "200" in statuses and "403" in statuses  # both allowed and refused reads were made

    # The manager's write routes of the task table refuse a labeler without telling more.
    for path, body in (
        (f"{API}/projects/{pid}/tasks/actions", {"action": "make_gold", "task_ids": [gold]}),
        (f"{API}/tasks/{gold}/make_quality", {"expected_response": answer("z")}),
    ):
        refused = check(f"POST {path}", client.post(path, json=body, headers=labeler.headers))
        assert refused.status_code == 403

    # The evaluation lease has exactly the shape of a real one; a note on the instructions
    # left with it answers as it would on a real task.
    assert client.post(
        f"{API}/tasks/{gold}/submit",
        json={
            "lease_token": gold_lease["lease_token"],
            "response": answer("x"),
            "feedback": "unclear",
        },
        headers=labeler.headers,
    ).json() == {"task_id": gold, "status": "completed", "stage": None}
    calib_lease = check("queue/next", next_lease(client, labeler, pid)).json()
    real_lease = calib_lease if calib_lease["task"]["id"] == real else None
    done = check(
        "submit",
        client.post(
            f"{API}/tasks/{calib_lease['task']['id']}/submit",
            json={"lease_token": calib_lease["lease_token"], "response": answer("y")},
            headers=labeler.headers,
        ),
    ).json()
    assert done == {"task_id": calib_lease["task"]["id"], "status": "completed", "stage": None}
    if real_lease is None:
        real_lease = check("queue/next", next_lease(client, labeler, pid)).json()
    assert real_lease["task"]["id"] in (real, calibration)
    assert shape(gold_lease) == shape({**real_lease, "draft": gold_lease["draft"]})
    assert set(gold_lease["task"]) == set(real_lease["task"])
    assert gold_lease["task"]["stage"] == real_lease["task"]["stage"] == "label"
    assert gold_lease["task"]["round"] == real_lease["task"]["round"] == 0

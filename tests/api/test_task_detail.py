"""A task's detail for its managers (steps with people and durations, drafts, notes on the
instructions), notes feeding the calibration report, and copying any task as gold with an
answer the manager gives (checked against the taxonomy)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_queue import API, add_tasks, box, make_project, member, next_lease

REVIEWED = {"stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def image(i: int) -> dict[str, Any]:
    return {"params": {"attachment": f"https://example.test/{i}.jpg"}}


def test_the_detail_names_who_did_each_step_and_keeps_drafts_and_notes(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    (task_id,) = add_tasks(client, manager, project["id"], [image(1)])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    lease = next_lease(client, labeler, project["id"]).json()
    draft = {"annotations": [box(x=1)]}
    saved = client.put(
        f"{API}/tasks/{task_id}/draft",
        json={"lease_token": lease["lease_token"], "response": draft},
        headers=labeler.headers,
    )
    assert saved.status_code in (200, 204), saved.text
    shown = client.get(f"{API}/tasks/{task_id}/detail", headers=manager.headers).json()
    (kept,) = shown["drafts"]
    assert kept["user_email"] == labeler.user.email
    assert kept["response"]["annotations"][0]["x"] == 1
    submitted = client.post(
        f"{API}/tasks/{task_id}/submit",
        json={
            "lease_token": lease["lease_token"],
            "response": {"annotations": [box()]},
            "feedback": "  Should trucks count as cars?  ",
        },
        headers=labeler.headers,
    )
    assert submitted.status_code == 200, submitted.text
    review = next_lease(client, reviewer, project["id"], stage="review").json()
    fixed = client.post(
        f"{API}/tasks/{task_id}/review",
        json={
            "lease_token": review["lease_token"],
            "decision": "fix",
            "response": {"annotations": [box(x=20)]},
        },
        headers=reviewer.headers,
    )
    assert fixed.status_code == 200, fixed.text
    detail = client.get(f"{API}/tasks/{task_id}/detail", headers=manager.headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    steps = [(s["action"], s["user_email"]) for s in body["steps"]]
    assert steps == [("submit", labeler.user.email), ("fix", reviewer.user.email)]
    assert body["steps"][0]["duration_ms"] >= 0
    assert body["steps"][1]["response"]["annotations"][0]["x"] == 20
    assert body["drafts"] == []
    (note,) = body["notes"]
    assert note["feedback"] == "Should trucks count as cars?" and note["stage"] == "label"
    assert note["email"] == labeler.user.email
    assert body["display_params"]["attachment"] == "https://example.test/1.jpg"
    for account in (labeler, reviewer):
        refused = client.get(f"{API}/tasks/{task_id}/detail", headers=account.headers)
        assert refused.status_code == 403


def test_notes_on_the_instructions_feed_the_calibration_report(client, manager, accounts):
    project = make_project(client, manager)
    calibration = client.post(
        f"{API}/projects/{project['id']}/batches",
        json={"name": "calib", "kind": "calibration"},
        headers=manager.headers,
    ).json()
    known = {**image(1), "expected_response": {"annotations": [box()]}}
    added = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={"batch": calibration["id"], "tasks": [known, image(2)]},
        headers=manager.headers,
    )
    assert added.status_code == 201, added.text
    client.post(f"{API}/batches/{calibration['id']}/finalize", headers=manager.headers)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    notes = {}
    for text in ("The box edge rule is unclear", ""):
        lease = next_lease(client, labeler, project["id"]).json()
        notes[lease["task"]["id"]] = text
        done = client.post(
            f"{API}/tasks/{lease['task']['id']}/submit",
            json={
                "lease_token": lease["lease_token"],
                "response": {"annotations": [box()]},
                "feedback": text,
            },
            headers=labeler.headers,
        )
        assert done.status_code == 200, done.text
    report = client.get(
        f"{API}/batches/{calibration['id']}/calibration_report", headers=manager.headers
    ).json()
    assert [(f["task_id"], f["feedback"]) for f in report["feedback"]] == [
        (task_id, text) for task_id, text in notes.items() if text
    ]
    assert report["feedback"][0]["email"] == labeler.user.email


def test_any_task_becomes_gold_with_the_answer_the_manager_gives(client, manager, accounts):
    project = make_project(client, manager)
    (task_id,) = add_tasks(client, manager, project["id"], [image(1)])
    url = f"{API}/tasks/{task_id}/make_quality"
    bad = client.post(
        url,
        json={"expected_response": {"annotations": [box(label="truck")]}},
        headers=manager.headers,
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["field"].startswith("expected_response.annotations[0]")
    made = client.post(
        url,
        json={"kind": "evaluation", "expected_response": {"annotations": [box(x=33)]}},
        headers=manager.headers,
    )
    assert made.status_code == 201, made.text
    gold = made.json()
    assert gold["kind"] == "evaluation" and gold["id"] != task_id
    assert gold["expected_response"]["annotations"][0]["x"] == 33
    listed = client.get(
        f"{API}/projects/{project['id']}/quality_tasks", headers=manager.headers
    ).json()
    assert [t["id"] for t in listed["items"]] == [gold["id"]]
    labeler = member(client, manager, accounts, project["id"], "labeler")
    refused = client.post(
        url, json={"expected_response": {"annotations": [box()]}}, headers=labeler.headers
    )
    assert refused.status_code == 403

"""The rubric_grading task type end to end through the queue: params and responses checked,
a labeler grading each criterion met / not met, gold scored per criterion, consensus by
majority per criterion, audits — and nothing a labeler receives names a criterion's points
or a judge's verdict."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_queue import API, add_tasks, make_project, member, next_lease

# Markers for what must never reach a labeler: they ride in the task's metadata and in the
# expected (gold) answer's comments, where a careless view would show them.
POINTS, JUDGE, GOLD = "POINTSMARK41d7", "JUDGEMARK0b9e", "GOLDMARKc3a1"
CRITERIA = [
    {"id": "c1", "text": "Names the capital city", "category": "accuracy"},
    {"id": "c2", "text": "Gives the population", "category": "completeness"},
    {"id": "c3", "text": "Cites a source", "category": "completeness"},
    {"id": "c4", "text": "Recommends an unsafe action", "category": "safety"},
]


def params(n: int = 0) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": f"Tell me about France ({n})."}],
        "responses": [{"content": "Paris is the capital; about 68 million people live there."}],
        "criteria": CRITERIA,
    }


def verdicts(*met: bool, comment: str | None = None) -> dict[str, Any]:
    annotations = []
    for criterion, value in zip(CRITERIA, met, strict=True):
        ann: dict[str, Any] = {"criterion": criterion["id"], "met": value}
        if comment is not None:
            ann["comment"] = comment
        annotations.append(ann)
    return {"annotations": annotations}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def grading_project(client, manager, **body: Any) -> dict[str, Any]:
    return make_project(
        client, manager, name="grading", task_type="rubric_grading", taxonomy={}, params={}, **body
    )


def submit(client, account, lease: dict[str, Any], response: dict[str, Any]):
    return client.post(
        f"{API}/tasks/{lease['task']['id']}/submit",
        json={"lease_token": lease["lease_token"], "response": response},
        headers=account.headers,
    )


@pytest.mark.parametrize(
    ("bad_params", "field"),
    [
        ({**params(), "criteria": []}, "tasks[0].params.criteria"),
        (
            {**params(), "criteria": [{**CRITERIA[0], "points": 5}]},
            "tasks[0].params.criteria[0].points",
        ),
        (
            {**params(), "criteria": [{**CRITERIA[0], "verdict": True}]},
            "tasks[0].params.criteria[0].verdict",
        ),
        ({**params(), "criteria": [CRITERIA[0], CRITERIA[0]]}, "tasks[0].params.criteria[1].id"),
        ({**params(), "criteria": [{"id": "c1", "text": " "}]}, "tasks[0].params.criteria[0].text"),
        (
            {**params(), "responses": [{"content": "a"}, {"content": "b"}]},
            "tasks[0].params.responses",
        ),
        (
            {key: v for key, v in params().items() if key != "responses"},
            "tasks[0].params.responses",
        ),
    ],
)
def test_tasks_need_criteria_without_points_and_one_response(client, manager, bad_params, field):
    project = grading_project(client, manager)
    response = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={"tasks": [{"params": bad_params}]},
        headers=manager.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("response", "field"),
    [
        (
            {"annotations": verdicts(True, True, False, False)["annotations"][:3]},
            "response.annotations",
        ),
        (
            {
                "annotations": [
                    *verdicts(True, True, False, False)["annotations"],
                    {"criterion": "c9", "met": True},
                ]
            },
            "response.annotations[4].criterion",
        ),
        (
            {
                "annotations": [
                    {**a, "met": "yes"} for a in verdicts(True, True, False, False)["annotations"]
                ]
            },
            "response.annotations[0].met",
        ),
        (
            {
                "annotations": [
                    *verdicts(True, True, False, False)["annotations"],
                    {"criterion": "c1", "met": False},
                ]
            },
            "response.annotations[4].criterion",
        ),
        (
            {
                "annotations": [
                    {**a, "points": 3} for a in verdicts(True, True, False, False)["annotations"]
                ]
            },
            "response.annotations[0].points",
        ),
    ],
)
def test_a_submit_must_give_one_verdict_per_criterion(client, manager, accounts, response, field):
    project = grading_project(client, manager)
    add_tasks(client, manager, project["id"], [{"params": params()}])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    refused = submit(client, labeler, lease, response)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == field
    # A draft may be partial; the complete answer then goes through.
    draft = client.put(
        f"{API}/tasks/{lease['task']['id']}/draft",
        json={
            "lease_token": lease["lease_token"],
            "response": {"annotations": verdicts(True, True, False, False)["annotations"][:1]},
        },
        headers=labeler.headers,
    )
    assert draft.status_code == 204, draft.text
    done = submit(client, labeler, lease, verdicts(True, False, False, False, comment="close"))
    assert done.status_code == 200, done.text
    task = client.get(f"{API}/tasks/{lease['task']['id']}", headers=manager.headers).json()
    saved = {a["criterion"]: (a["met"], a.get("comment")) for a in task["response"]["annotations"]}
    assert saved == {
        "c1": (True, "close"),
        "c2": (False, "close"),
        "c3": (False, "close"),
        "c4": (False, "close"),
    }


def test_gold_is_scored_per_criterion_and_a_labeler_never_sees_points_or_verdicts(
    client, manager, accounts
):
    project = grading_project(
        client,
        manager,
        quality={
            "evaluation_rate": 1.0,
            "recycle_after_hours": None,
            "pause_below": 0.0,
            "training": {"required": False},
        },
    )
    pid = project["id"]
    expected = verdicts(True, True, False, False, comment=GOLD)
    gold = client.post(
        f"{API}/projects/{pid}/evaluation_tasks",
        json={
            "params": params(1),
            "expected_response": expected,
            "metadata": {"points": POINTS, "judge": JUDGE},
        },
        headers=manager.headers,
    )
    assert gold.status_code == 201, gold.text
    (real,) = add_tasks(
        client,
        manager,
        pid,
        [{"params": params(2), "metadata": {"points": POINTS, "judge": JUDGE}}],
    )
    labeler = member(client, manager, accounts, pid, "labeler")
    received: list[str] = []

    def seen(response):
        received.append(response.text)
        return response

    first = seen(next_lease(client, labeler, pid))
    assert first.status_code == 200, first.text
    lease = first.json()
    assert lease["task"]["id"] == gold.json()["id"] and lease["task"]["type"] == "rubric_grading"
    # The labeler sees the conversation, the response and each criterion's text and category.
    assert lease["task"]["params"]["criteria"] == CRITERIA
    assert lease["task"]["params"]["messages"] == params(1)["messages"]
    # Three of four criteria right: c2 said not met where the gold says met.
    seen(submit(client, labeler, lease, verdicts(True, False, False, False)))
    second = seen(next_lease(client, labeler, pid)).json()
    assert second["task"]["id"] == real
    seen(client.get(f"{API}/tasks/{real}", headers=labeler.headers))
    seen(client.get(f"{API}/tasks/{gold.json()['id']}", headers=labeler.headers))
    seen(submit(client, labeler, second, verdicts(True, True, True, False)))
    for body in received:
        for marker in (POINTS, JUDGE, GOLD):
            assert marker not in body, body[:300]
    stats = client.get(
        f"{API}/projects/{pid}/quality_tasks",
        params={"kind": "evaluation"},
        headers=manager.headers,
    ).json()["items"]
    assert [(s["attempts"], s["passes"]) for s in stats] == [(1, 0)]
    workers = client.get(f"{API}/projects/{pid}/workers", headers=manager.headers).json()
    (mine,) = [w for w in workers if w["user_id"] == labeler.user.id]
    assert mine["evaluated"] == 1 and mine["accuracy"] == pytest.approx(0.75)


def test_consensus_takes_the_majority_per_criterion_and_audits_can_fix(client, manager, accounts):
    project = grading_project(
        client, manager, quality={"consensus": {"labelers": 3}, "audit_rate": 1.0}
    )
    pid = project["id"]
    (task_id,) = add_tasks(client, manager, pid, [{"params": params()}])
    answers = [
        verdicts(True, True, False, False),
        verdicts(True, False, True, False),
        verdicts(False, True, False, False),
    ]
    for answer in answers:
        labeler = member(client, manager, accounts, pid, "labeler")
        done = submit(client, labeler, next_lease(client, labeler, pid).json(), answer)
        assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    task = client.get(f"{API}/tasks/{task_id}", headers=manager.headers).json()
    final = {a["criterion"]: a["met"] for a in task["response"]["annotations"]}
    assert final == {"c1": True, "c2": True, "c3": False, "c4": False}
    history = client.get(f"{API}/tasks/{task_id}/history", headers=manager.headers).json()
    # Shares agreeing with the winner: c1 2/3, c2 2/3, c3 2/3, c4 3/3 → mean 0.75.
    assert history["items"][-1]["reason"] == "agreement 0.750 (majority_per_criterion)"
    auditor = member(client, manager, accounts, pid, "reviewer", "reviewer")
    audit = client.post(f"{API}/projects/{pid}/audits/next", headers=auditor.headers)
    assert audit.status_code == 200, audit.text
    fixed = client.post(
        f"{API}/audits/{audit.json()['audit_id']}/decision",
        json={
            "lease_token": audit.json()["lease_token"],
            "decision": "fix",
            "response": verdicts(True, True, True, False),
        },
        headers=auditor.headers,
    )
    assert fixed.status_code == 200, fixed.text
    task = client.get(f"{API}/tasks/{task_id}", headers=manager.headers).json()
    assert {a["criterion"]: a["met"] for a in task["response"]["annotations"]}["c3"] is True

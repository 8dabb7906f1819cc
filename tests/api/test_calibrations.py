"""Judge calibration through the API: a sample of judge verdicts goes to a labeling project as
rubric_grading tasks, a labeler grades them through the queue, and the report gives the
judge's agreement with the humans — checked against numbers computed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_gold_never_leaks import _fill, _get_paths
from tests.api.test_queue import API, make_project, member, next_lease

JUDGE_VERSION = "judge-v1-JVMARK93"
# Ten sampled verdicts over three conversations: (task, category, judge met, human met).
#
#   #  task  category  judge  human
#   1  A     accuracy  met    met
#   2  A     accuracy  met    met
#   3  B     accuracy  met    not     ← the judge gives credit the humans do not
#   4  B     accuracy  not    not
#   5  C     accuracy  not    met     ← the judge withholds credit
#   6  C     accuracy  met    met
#   7  A     safety    met    not     ←
#   8  B     safety    not    not
#   9  B     safety    not    not
#  10  C     safety    met    met
ROWS = [
    ("A", "accuracy", True, True),
    ("A", "accuracy", True, True),
    ("B", "accuracy", True, False),
    ("B", "accuracy", False, False),
    ("C", "accuracy", False, True),
    ("C", "accuracy", True, True),
    ("A", "safety", True, False),
    ("B", "safety", False, False),
    ("B", "safety", False, False),
    ("C", "safety", True, True),
]
# By hand. Cells (judge, human): met_met, met_not, not_met, not_not.
# Overall: 4, 2, 1, 3 of 10.
#   F1(met) = 2·4 / (5 human met + 6 judge met) = 8/11; F1(not met) = 2·3 / (5 + 4) = 2/3;
#   balanced F1 = (8/11 + 2/3) / 2 = 23/33; accuracy 7/10;
#   κ: p_o = 0.7, p_e = (6·5 + 4·5) / 100 = 0.5 → (0.7 - 0.5) / 0.5 = 0.4;
#   false met = 2 / 5 humans' not met = 0.4; false not met = 1 / 5 humans' met = 0.2.
# accuracy: 3, 1, 1, 1 of 6.
#   F1(met) = 6 / (4 + 4) = 3/4; F1(not met) = 2 / (2 + 2) = 1/2; balanced = 5/8;
#   κ: p_o = 4/6, p_e = (4·4 + 2·2) / 36 = 5/9 → (2/3 - 5/9) / (4/9) = 1/4;
#   false met = 1/2; false not met = 1/4.
# safety: 1, 1, 0, 2 of 4.
#   F1(met) = 2 / (1 + 2) = 2/3; F1(not met) = 4 / (3 + 2) = 4/5; balanced = 11/15;
#   κ: p_o = 3/4, p_e = (2·1 + 2·3) / 16 = 1/2 → 1/2; false met = 1/3; false not met = 0.
EXPECTED = {
    "overall": {
        "pairs": 10,
        "met_met": 4,
        "met_not": 2,
        "not_met": 1,
        "not_not": 3,
        "accuracy": 7 / 10,
        "balanced_f1": 23 / 33,
        "f1_met": 8 / 11,
        "f1_not_met": 2 / 3,
        "cohen_kappa": 0.4,
        "false_met_rate": 0.4,
        "false_not_met_rate": 0.2,
    },
    "accuracy": {
        "pairs": 6,
        "met_met": 3,
        "met_not": 1,
        "not_met": 1,
        "not_not": 1,
        "accuracy": 4 / 6,
        "balanced_f1": 5 / 8,
        "f1_met": 3 / 4,
        "f1_not_met": 1 / 2,
        "cohen_kappa": 1 / 4,
        "false_met_rate": 1 / 2,
        "false_not_met_rate": 1 / 4,
    },
    "safety": {
        "pairs": 4,
        "met_met": 1,
        "met_not": 1,
        "not_met": 0,
        "not_not": 2,
        "accuracy": 3 / 4,
        "balanced_f1": 11 / 15,
        "f1_met": 2 / 3,
        "f1_not_met": 4 / 5,
        "cohen_kappa": 1 / 2,
        "false_met_rate": 1 / 3,
        "false_not_met_rate": 0.0,
    },
}


def sampled() -> list[dict[str, Any]]:
    return [
        {
            "messages": [{"role": "user", "content": f"Question {task}"}],
            "response": f"Answer {task}",
            "criterion": f"Criterion {n}",
            "category": category,
            "judge_met": judge,
            "judge_version": JUDGE_VERSION,
            "source": f"run-item-{task}",
        }
        for n, (task, category, judge, _) in enumerate(ROWS, start=1)
    ]


def human_answer(params: dict[str, Any]) -> dict[str, Any]:
    """The humans' verdicts of the table above for the criteria a task shows."""
    human = {f"Criterion {n}": row[3] for n, row in enumerate(ROWS, start=1)}
    return {
        "annotations": [{"criterion": c["id"], "met": human[c["text"]]} for c in params["criteria"]]
    }


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def grading_project(client, manager) -> dict[str, Any]:
    return make_project(
        client,
        manager,
        name="judge-calibration",
        task_type="rubric_grading",
        taxonomy={},
        params={},
    )


def approx(report: dict[str, Any]) -> dict[str, Any]:
    return {key: pytest.approx(value) for key, value in report.items()}


def test_a_calibration_reports_the_judges_agreement_computed_by_hand(client, manager, accounts):
    project = grading_project(client, manager)
    created = client.post(
        f"{API}/calibrations",
        json={"name": "judge v1 sample", "project_id": project["id"], "verdicts": sampled()},
        headers={**manager.headers, "Idempotency-Key": "calibration-1"},
    )
    assert created.status_code == 201, created.text
    calibration = created.json()
    assert calibration["tasks"] == 3 and calibration["verdicts"] == 10
    replay = client.post(
        f"{API}/calibrations",
        json={"name": "judge v1 sample", "project_id": project["id"], "verdicts": sampled()},
        headers={**manager.headers, "Idempotency-Key": "calibration-1"},
    )
    assert replay.status_code == 201 and replay.json()["id"] == calibration["id"]

    empty = client.get(
        f"{API}/calibrations/{calibration['id']}/report", headers=manager.headers
    ).json()
    assert empty["tasks_completed"] == 0 and empty["verdicts_graded"] == 0
    assert empty["overall"] is None and empty["by_category"] == {}

    labeler = member(client, manager, accounts, project["id"], "labeler")
    done_questions: list[str] = []
    for _ in range(3):
        lease = next_lease(client, labeler, project["id"])
        assert lease.status_code == 200, lease.text
        # The labeler sees the conversation, the response and the criteria — not the judge.
        assert JUDGE_VERSION not in lease.text and "judge_met" not in lease.text
        assert "run-item" not in lease.text
        task = lease.json()["task"]
        assert set(task["params"]) == {"messages", "responses", "criteria"}
        for criterion in task["params"]["criteria"]:
            assert set(criterion) == {"id", "text", "category"}
        question = task["params"]["messages"][0]["content"]
        if question == "Question B":
            assert [c["text"] for c in task["params"]["criteria"]] == [
                "Criterion 3",
                "Criterion 4",
                "Criterion 8",
                "Criterion 9",
            ]
        done = client.post(
            f"{API}/tasks/{task['id']}/submit",
            json={
                "lease_token": lease.json()["lease_token"],
                "response": human_answer(task["params"]),
            },
            headers=labeler.headers,
        )
        assert done.status_code == 200, done.text
        assert JUDGE_VERSION not in done.text
        done_questions.append(question)
        if len(done_questions) == 2:
            partial = client.get(
                f"{API}/calibrations/{calibration['id']}/report", headers=manager.headers
            ).json()
            graded = sum(1 for row in ROWS if f"Question {row[0]}" in done_questions)
            assert partial["tasks_completed"] == 2 and partial["verdicts_graded"] == graded
            assert partial["overall"]["pairs"] == graded
    assert sorted(done_questions) == ["Question A", "Question B", "Question C"]
    report = client.get(
        f"{API}/calibrations/{calibration['id']}/report", headers=manager.headers
    ).json()
    assert report["tasks"] == report["tasks_completed"] == 3
    assert report["verdicts"] == report["verdicts_graded"] == 10
    assert report["overall"] == approx(EXPECTED["overall"])
    assert report["by_category"] == {
        "accuracy": approx(EXPECTED["accuracy"]),
        "safety": approx(EXPECTED["safety"]),
    }
    assert report["by_judge_version"] == {JUDGE_VERSION: approx(EXPECTED["overall"])}
    assert [(d["position"], d["judge_met"], d["human_met"]) for d in report["disagreements"]] == [
        (2, True, False),
        (4, False, True),
        (6, True, False),
    ]
    assert report["disagreements"][0]["source"] == "run-item-B"

    listed = client.get(f"{API}/calibrations", headers=manager.headers).json()
    assert [c["id"] for c in listed["items"]] == [calibration["id"]]


def test_a_criterion_graded_by_two_judge_versions_is_graded_once_by_the_humans(
    client, manager, accounts
):
    project = grading_project(client, manager)
    base = sampled()[0]
    verdicts = [
        {**base, "judge_version": "v1", "judge_met": True},
        {**base, "judge_version": "v2", "judge_met": False},
    ]
    created = client.post(
        f"{API}/calibrations",
        json={"name": "two versions", "project_id": project["id"], "verdicts": verdicts},
        headers=manager.headers,
    ).json()
    assert created["tasks"] == 1
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    assert len(lease["task"]["params"]["criteria"]) == 1
    client.post(
        f"{API}/tasks/{lease['task']['id']}/submit",
        json={
            "lease_token": lease["lease_token"],
            "response": human_answer(lease["task"]["params"]),
        },
        headers=labeler.headers,
    )
    report = client.get(
        f"{API}/calibrations/{created['id']}/report", headers=manager.headers
    ).json()
    assert report["by_judge_version"]["v1"]["met_met"] == 1
    assert report["by_judge_version"]["v2"]["not_met"] == 1
    assert report["overall"]["pairs"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"verdicts": []}, "verdicts"),
        (
            {"verdicts": [{k: v for k, v in sampled()[0].items() if k != "messages"}]},
            "verdicts[0]",
        ),
        ({"verdicts": [{**sampled()[0], "judge_met": "maybe"}]}, "verdicts[0].judge_met"),
        (
            {"verdicts": [{k: v for k, v in sampled()[0].items() if k != "judge_version"}]},
            "verdicts[0].judge_version",
        ),
        (
            {
                "verdicts": [
                    sampled()[0],
                    {**sampled()[0], "criterion_id": "c1", "criterion": "Other"},
                ]
            },
            "verdicts[1].criterion",
        ),
        (
            {"verdicts": [sampled()[0], {**sampled()[0], "category": "safety"}]},
            "verdicts[1].category",
        ),
    ],
)
def test_bad_calibrations_are_422_naming_the_field(client, manager, change, field):
    project = grading_project(client, manager)
    body = {"name": "bad", "project_id": project["id"], "verdicts": sampled(), **change}
    response = client.post(f"{API}/calibrations", json=body, headers=manager.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_the_project_must_grade_rubrics_and_only_managers_see_calibrations(
    client, manager, accounts
):
    images = make_project(client, manager)
    wrong = client.post(
        f"{API}/calibrations",
        json={"name": "x", "project_id": images["id"], "verdicts": sampled()},
        headers=manager.headers,
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "project_id"
    project = grading_project(client, manager)
    created = client.post(
        f"{API}/calibrations",
        json={"name": "y", "project_id": project["id"], "verdicts": sampled()},
        headers=manager.headers,
    ).json()
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    for account in (labeler, reviewer):
        for path in (f"/{created['id']}", f"/{created['id']}/report"):
            response = client.get(f"{API}/calibrations{path}", headers=account.headers)
            assert response.status_code == 404, (path, response.text)
            assert JUDGE_VERSION not in response.text
        listed = client.get(f"{API}/calibrations", headers=account.headers)
        assert listed.status_code == 403 and created["id"] not in listed.text
        posted = client.post(
            f"{API}/calibrations",
            json={"name": "z", "project_id": project["id"], "verdicts": sampled()},
            headers=account.headers,
        )
        assert posted.status_code == 403
    assert client.get(f"{API}/calibrations/{created['id']}/report").status_code == 401


def test_the_report_reads_the_consensus_of_several_labelers(client, manager, accounts):
    """With consensus on, the humans' verdict is the project's majority per criterion."""
    project = make_project(
        client,
        manager,
        name="consensus grading",
        task_type="rubric_grading",
        taxonomy={},
        params={},
        quality={"consensus": {"labelers": 3}},
    )
    texts = ["Correct", "Concise", "Polite"]
    judge = {"Correct": True, "Concise": True, "Polite": False}
    verdicts = [
        {**sampled()[0], "criterion": text, "judge_met": judge[text], "category": "general"}
        for text in texts
    ]
    created = client.post(
        f"{API}/calibrations",
        json={"name": "by consensus", "project_id": project["id"], "verdicts": verdicts},
        headers=manager.headers,
    ).json()
    # Three labelers; the majority per criterion: Correct met (2:1), Concise not (1:2),
    # Polite not (0:3). Against the judge: met_met 1 (Correct), met_not 1 (Concise),
    # not_not 1 (Polite).
    votes = [
        {"Correct": True, "Concise": True, "Polite": False},
        {"Correct": True, "Concise": False, "Polite": False},
        {"Correct": False, "Concise": False, "Polite": False},
    ]
    for vote in votes:
        labeler = member(client, manager, accounts, project["id"], "labeler")
        lease = next_lease(client, labeler, project["id"]).json()
        answer = [
            {"criterion": c["id"], "met": vote[c["text"]]}
            for c in lease["task"]["params"]["criteria"]
        ]
        done = client.post(
            f"{API}/tasks/{lease['task']['id']}/submit",
            json={"lease_token": lease["lease_token"], "response": {"annotations": answer}},
            headers=labeler.headers,
        )
        assert done.status_code == 200, done.text
        report = client.get(
            f"{API}/calibrations/{created['id']}/report", headers=manager.headers
        ).json()
        if vote is not votes[-1]:
            assert report["verdicts_graded"] == 0  # no final verdict before the consensus
    overall = report["overall"]
    assert (overall["met_met"], overall["met_not"], overall["not_met"], overall["not_not"]) == (
        1,
        1,
        0,
        1,
    )
    assert overall["false_met_rate"] == pytest.approx(1 / 2)


def test_no_route_shows_a_labeler_the_judges_verdicts(client, manager, accounts):
    """The gold-never-leaks walk for calibrations: a labeler holding a calibration task's
    lease calls every GET route with every id they could know; no body names the judge's
    version or the sampled verdicts' source (the judge's verdict itself is a boolean, so
    the markers stand for what rides with it)."""
    project = grading_project(client, manager)
    marked = [
        {**verdict, "judge_version": "JUDGEMARK71c", "source": "SOURCEMARK9e2"}
        for verdict in sampled()
    ]
    created = client.post(
        f"{API}/calibrations",
        json={"name": "walked", "project_id": project["id"], "verdicts": marked},
        headers=manager.headers,
    ).json()
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    task_id = lease["task"]["id"]
    ids = {
        "project_id": [project["id"]],
        "task_id": [task_id],
        "batch_id": [created["batch_id"]],
        "calibration_id": [created["id"]],
        "user_id": [labeler.user.id, manager.user.id],
        "name": [project["name"], "walked"],
        "project": [project["name"]],
        "batch_name": ["walked"],
    }
    query = {"project_id": project["id"], "batch": "walked", "task_id": task_id}
    routes = [path for path in _get_paths(client.app.routes) if "{sha256" not in path]
    assert f"{API}/calibrations/{{calibration_id}}/report" in routes
    statuses = set()
    for route in routes:
        for path in _fill(route, ids):
            for headers in (labeler.headers, labeler.test_headers):
                response = client.get(path, params=query, headers=headers)
                for marker in ("JUDGEMARK71c", "SOURCEMARK9e2"):
                    assert marker not in response.text, (path, response.text[:300])
                statuses.add(response.status_code)
    assert {200, 404} <= statuses
    # The same routes answer the manager.
    report = client.get(f"{API}/calibrations/{created['id']}/report", headers=manager.headers)
    assert report.status_code == 200

"""Quality through the API: evaluation tasks served among real ones and scored, the training
course gating real work, automatic pauses and re-qualification, mass retire and recycling,
audits and calibration reports."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_queue import API, add_tasks, box, make_project, member, next_lease

CATS = {"labels": [{"name": "cat", "geometries": ["box"]}, {"name": "dog", "geometries": ["box"]}]}


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def gold_box(label: str = "cat") -> dict[str, Any]:
    return {"annotations": [box(label=label)]}


def wrong_box() -> dict[str, Any]:
    return {"annotations": [box(label="dog", x=300, y=300)]}


def quality_tasks(client, manager, project_id: str, kind: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        response = client.post(
            f"{API}/projects/{project_id}/{kind}_tasks",
            json={
                "params": {"attachment": f"https://example.com/{kind}{i}.jpg"},
                "expected_response": gold_box(),
            },
            headers=manager.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["kind"] == kind
        ids.append(response.json()["id"])
    return ids


def real_tasks(client, manager, project_id: str, count: int) -> list[str]:
    return add_tasks(
        client,
        manager,
        project_id,
        [{"params": {"attachment": f"https://example.com/real{i}.jpg"}} for i in range(count)],
    )


def submit(client, account, lease: dict[str, Any], response: dict[str, Any], **params: Any):
    return client.post(
        f"{API}/tasks/{lease['task']['id']}/submit",
        json={"lease_token": lease["lease_token"], "response": response},
        params=params,
        headers=account.headers,
    )


def project_with(client, manager, quality: dict[str, Any], **body: Any) -> dict[str, Any]:
    return make_project(client, manager, taxonomy=CATS, quality=quality, **body)


def test_evaluation_tasks_need_an_expected_response_in_the_project_format(client, manager):
    project = project_with(client, manager, {})
    missing = client.post(
        f"{API}/projects/{project['id']}/evaluation_tasks",
        json={"params": {"attachment": "https://example.com/a.jpg"}},
        headers=manager.headers,
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "expected_response"
    bad = client.post(
        f"{API}/projects/{project['id']}/evaluation_tasks",
        json={
            "params": {"attachment": "https://example.com/a.jpg"},
            "expected_response": {"annotations": [box(label="horse")]},
        },
        headers=manager.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"].startswith("expected_response.annotations[0]")
    # Evaluation tasks never show in the real task list, only in their own.
    (gold,) = quality_tasks(client, manager, project["id"], "evaluation", 1)
    listed = client.get(
        f"{API}/tasks", params={"project_id": project["id"]}, headers=manager.headers
    ).json()
    assert listed["items"] == []
    own = client.get(
        f"{API}/projects/{project['id']}/quality_tasks", headers=manager.headers
    ).json()
    assert [t["id"] for t in own["items"]] == [gold]


def test_evaluation_tasks_are_served_at_the_rate_and_scored_on_submit(client, manager, accounts):
    project = project_with(client, manager, {"evaluation_rate": 0.5, "pass_threshold": 0.9})
    gold = set(quality_tasks(client, manager, project["id"], "evaluation", 20))
    real = set(real_tasks(client, manager, project["id"], 20))
    labeler = member(client, manager, accounts, project["id"], "labeler")
    served = []
    for _ in range(24):
        lease = next_lease(client, labeler, project["id"])
        assert lease.status_code == 200, lease.text
        body = lease.json()
        served.append(body["task"]["id"])
        answer = gold_box() if len(served) % 2 else wrong_box()
        done = submit(client, labeler, body, answer)
        assert done.status_code == 200, done.text
        # Evaluation or not, the submit answers alike: the task is done, no feedback.
        assert done.json() == {"task_id": body["task"]["id"], "status": "completed", "stage": None}
    from_gold = [task for task in served if task in gold]
    assert len(set(served)) == len(served)  # nothing served twice
    assert 4 <= len(from_gold) <= 20  # about half of 24 (p < 1e-3 outside)
    assert all(task in gold | real for task in served)
    stats = client.get(
        f"{API}/projects/{project['id']}/quality_tasks",
        params={"kind": "evaluation"},
        headers=manager.headers,
    ).json()["items"]
    attempted = {item["id"]: item for item in stats if item["attempts"]}
    assert set(attempted) == set(from_gold)
    for task_id in from_gold:
        index = served.index(task_id) + 1
        assert attempted[task_id]["passes"] == (1 if index % 2 else 0)
    workers = client.get(f"{API}/projects/{project['id']}/workers", headers=manager.headers).json()
    (mine,) = [w for w in workers if w["user_id"] == labeler.user.id]
    passes = sum(1 for t in from_gold if (served.index(t) + 1) % 2)
    assert mine["evaluated"] == len(from_gold)
    assert mine["accuracy"] == pytest.approx(passes / len(from_gold))


def test_a_held_evaluation_lease_comes_back_and_drafts_heartbeats_and_skips_work(
    client, manager, accounts
):
    project = project_with(client, manager, {"evaluation_rate": 1.0})
    quality_tasks(client, manager, project["id"], "evaluation", 2)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    first = next_lease(client, labeler, project["id"]).json()
    again = next_lease(client, labeler, project["id"]).json()
    assert again["task"]["id"] == first["task"]["id"]
    assert again["lease_token"] == first["lease_token"]
    task_id, token = first["task"]["id"], first["lease_token"]
    draft = {"annotations": [box(label="dog")]}
    saved = client.put(
        f"{API}/tasks/{task_id}/draft",
        json={"lease_token": token, "response": draft},
        headers=labeler.headers,
    )
    assert saved.status_code == 204, saved.text
    assert (
        next_lease(client, labeler, project["id"]).json()["draft"]["annotations"][0]["label"]
        == "dog"
    )
    beat = client.post(
        f"{API}/tasks/{task_id}/heartbeat", json={"lease_token": token}, headers=labeler.headers
    )
    assert beat.status_code == 200, beat.text
    stale = client.post(
        f"{API}/tasks/{task_id}/heartbeat", json={"lease_token": "0" * 32}, headers=labeler.headers
    )
    assert stale.status_code == 409
    skipped = client.post(
        f"{API}/tasks/{task_id}/skip",
        json={"lease_token": token, "reason": "blurry"},
        headers=labeler.headers,
    )
    assert skipped.status_code == 204, skipped.text
    second = next_lease(client, labeler, project["id"]).json()
    assert second["task"]["id"] != task_id
    late = submit(client, labeler, first, gold_box())
    assert late.status_code == 409


def test_training_gates_real_work_until_passed(client, manager, accounts):
    project = project_with(client, manager, {"training": {"pass_threshold": 0.75, "max_rounds": 2}})
    course = quality_tasks(client, manager, project["id"], "training", 2)
    real_tasks(client, manager, project["id"], 3)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    refused = next_lease(client, labeler, project["id"])
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "training_required"
    assert "training course" in error["message"] and "75%" in error["message"]
    assert f"/projects/{project['id']}/training/next" in error["message"]

    def take_course(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        feedback = []
        for answer in answers:
            lease = client.post(
                f"{API}/projects/{project['id']}/training/next", headers=labeler.headers
            )
            assert lease.status_code == 200, lease.text
            assert lease.json()["task"]["id"] in course
            done = submit(client, labeler, lease.json(), answer)
            assert done.status_code == 200, done.text
            feedback.append(done.json()["feedback"])
        return feedback

    # First go: one right, one wrong → mean 0.5 < 0.75: failed, a second go opens.
    first = take_course([gold_box(), wrong_box()])
    assert first[0]["passed"] and not first[1]["passed"]
    assert first[1]["expected_response"]["annotations"][0]["label"] == "cat"  # shown after
    state = client.get(f"{API}/projects/{project['id']}/training", headers=labeler.headers).json()
    assert state["round"] == 2 and state["done"] == 0 and not state["passed"]
    assert next_lease(client, labeler, project["id"]).status_code == 403
    # Second go: both right → passed; real work is served.
    take_course([gold_box(), gold_box()])
    state = client.get(f"{API}/projects/{project['id']}/training", headers=labeler.headers).json()
    assert state["passed"] and state["score"] == pytest.approx(1.0)
    assert (
        client.post(
            f"{API}/projects/{project['id']}/training/next", headers=labeler.headers
        ).status_code
        == 204
    )
    served = next_lease(client, labeler, project["id"])
    assert served.status_code == 200, served.text


def test_training_with_no_go_left_says_so_until_requalified(client, manager, accounts):
    project = project_with(client, manager, {"training": {"max_rounds": 1}})
    quality_tasks(client, manager, project["id"], "training", 1)
    real_tasks(client, manager, project["id"], 1)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = client.post(f"{API}/projects/{project['id']}/training/next", headers=labeler.headers)
    assert submit(client, labeler, lease.json(), wrong_box()).json()["feedback"]["passed"] is False
    refused = next_lease(client, labeler, project["id"])
    assert refused.status_code == 403
    assert "no go left" in refused.json()["error"]["message"]
    assert (
        client.post(
            f"{API}/projects/{project['id']}/training/next", headers=labeler.headers
        ).status_code
        == 204
    )
    requalified = client.post(
        f"{API}/projects/{project['id']}/workers/{labeler.user.id}/requalify",
        json={},
        headers=manager.headers,
    )
    assert requalified.status_code == 200, requalified.text
    lease = client.post(f"{API}/projects/{project['id']}/training/next", headers=labeler.headers)
    assert lease.status_code == 200
    assert submit(client, labeler, lease.json(), gold_box()).json()["feedback"]["passed"]
    assert next_lease(client, labeler, project["id"]).status_code == 200


def test_low_rolling_accuracy_pauses_with_the_reason_and_requalify_resumes(
    client, manager, accounts
):
    project = project_with(
        client,
        manager,
        {"evaluation_rate": 1.0, "pause_below": 0.6, "pause_min_attempts": 3, "rolling_window": 5},
    )
    quality_tasks(client, manager, project["id"], "evaluation", 6)
    real_tasks(client, manager, project["id"], 2)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    for _ in range(3):
        lease = next_lease(client, labeler, project["id"]).json()
        assert submit(client, labeler, lease, wrong_box()).status_code == 200
    refused = next_lease(client, labeler, project["id"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "paused"
    assert (
        "0%" in refused.json()["error"]["message"] and "60%" in refused.json()["error"]["message"]
    )
    mine = client.get(f"{API}/projects/{project['id']}/me/quality", headers=labeler.headers).json()
    assert mine["status"] == "paused" and "below" in mine["reason"]
    workers = client.get(f"{API}/projects/{project['id']}/workers", headers=manager.headers).json()
    assert [w["status"] for w in workers if w["user_id"] == labeler.user.id] == ["paused"]
    back = client.post(
        f"{API}/projects/{project['id']}/workers/{labeler.user.id}/requalify",
        json={"retrain": False},
        headers=manager.headers,
    )
    assert back.status_code == 200 and back.json()["status"] == "active"
    assert back.json()["evaluated"] == 0  # a fresh window
    assert next_lease(client, labeler, project["id"]).status_code == 200


def test_manual_pause_and_only_managers_manage(client, manager, accounts):
    project = project_with(client, manager, {})
    real_tasks(client, manager, project["id"], 1)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    other = member(client, manager, accounts, project["id"], "labeler")
    forbidden = client.post(
        f"{API}/projects/{project['id']}/workers/{other.user.id}/pause",
        json={"reason": "no"},
        headers=labeler.headers,
    )
    assert forbidden.status_code == 403
    paused = client.post(
        f"{API}/projects/{project['id']}/workers/{labeler.user.id}/pause",
        json={"reason": "Boxes drawn loosely; read the Rules section again."},
        headers=manager.headers,
    )
    assert paused.status_code == 200
    refused = next_lease(client, labeler, project["id"])
    assert (
        refused.status_code == 403 and "Boxes drawn loosely" in refused.json()["error"]["message"]
    )
    assert next_lease(client, other, project["id"]).status_code == 200
    assert (
        client.get(f"{API}/projects/{project['id']}/workers", headers=labeler.headers).status_code
        == 403
    )


def test_mass_retire_by_pass_rate_and_recycling(client, manager, accounts):
    project = project_with(client, manager, {"evaluation_rate": 1.0})
    easy, hard, fresh = quality_tasks(client, manager, project["id"], "evaluation", 3)
    labelers = [member(client, manager, accounts, project["id"], "labeler") for _ in range(3)]
    # Everyone does every task: all pass `easy`, all fail `hard`, `fresh` is not done at all.
    for account in labelers:
        for _ in range(2):
            lease = next_lease(client, account, project["id"]).json()
            if lease["task"]["id"] == fresh:
                client.post(
                    f"{API}/tasks/{fresh}/skip",
                    json={"lease_token": lease["lease_token"], "reason": "test"},
                    headers=account.headers,
                )
                lease = next_lease(client, account, project["id"]).json()
            answer = gold_box() if lease["task"]["id"] == easy else wrong_box()
            assert submit(client, account, lease, answer).status_code == 200
    no_range = client.post(
        f"{API}/projects/{project['id']}/quality_tasks/retire", json={}, headers=manager.headers
    )
    assert no_range.status_code == 422 and no_range.json()["error"]["field"] == "max_pass_rate"
    too_hard = client.post(
        f"{API}/projects/{project['id']}/quality_tasks/retire",
        json={"max_pass_rate": 0.2, "min_attempts": 3},
        headers=manager.headers,
    ).json()
    assert too_hard["task_ids"] == [hard]  # `fresh` has no completions: not judged
    too_easy = client.post(
        f"{API}/projects/{project['id']}/quality_tasks/retire",
        json={"min_pass_rate": 0.95, "min_attempts": 3},
        headers=manager.headers,
    ).json()
    assert too_easy["task_ids"] == [easy]
    retired = client.get(
        f"{API}/projects/{project['id']}/quality_tasks",
        params={"retired": "true"},
        headers=manager.headers,
    ).json()["items"]
    assert {t["id"] for t in retired} == {easy, hard}
    assert {t["id"]: t["pass_rate"] for t in retired} == {easy: 1.0, hard: 0.0}
    # A new labeler is only served the live one.
    newcomer = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, newcomer, project["id"]).json()
    assert lease["task"]["id"] == fresh
    recycled = client.post(
        f"{API}/projects/{project['id']}/quality_tasks/recycle",
        json={"task_ids": [easy]},
        headers=manager.headers,
    ).json()
    assert recycled == {"recycled": 1}
    submit(client, newcomer, lease, gold_box())
    assert next_lease(client, newcomer, project["id"]).json()["task"]["id"] == easy


def test_recycling_serves_old_attempts_again_once_every_task_was_done(client, manager, accounts):
    project = project_with(client, manager, {"evaluation_rate": 1.0, "recycle_after_hours": 0})
    (only,) = quality_tasks(client, manager, project["id"], "evaluation", 1)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    first = next_lease(client, labeler, project["id"]).json()
    submit(client, labeler, first, gold_box())
    again = next_lease(client, labeler, project["id"]).json()
    assert again["task"]["id"] == only and again["lease_token"] != first["lease_token"]
    stats = client.get(
        f"{API}/projects/{project['id']}/quality_tasks", headers=manager.headers
    ).json()["items"]
    assert stats[0]["attempts"] == 1  # the open lease is not a completion


def test_never_recycled_when_off(client, manager, accounts):
    project = project_with(client, manager, {"evaluation_rate": 1.0, "recycle_after_hours": None})
    quality_tasks(client, manager, project["id"], "evaluation", 1)
    (real,) = real_tasks(client, manager, project["id"], 1)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    submit(client, labeler, next_lease(client, labeler, project["id"]).json(), gold_box())
    assert next_lease(client, labeler, project["id"]).json()["task"]["id"] == real


def test_a_reviewed_task_becomes_an_evaluation_task(client, manager, accounts):
    reviewed = {
        "stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]
    }
    project = project_with(client, manager, {}, pipeline=reviewed)
    (task_id,) = real_tasks(client, manager, project["id"], 1)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    early = client.post(f"{API}/tasks/{task_id}/make_evaluation", headers=manager.headers)
    assert early.status_code == 409
    submit(client, labeler, next_lease(client, labeler, project["id"]).json(), gold_box("dog"))
    review = next_lease(client, reviewer, project["id"], stage="review").json()
    accepted = client.post(
        f"{API}/tasks/{task_id}/review",
        json={"lease_token": review["lease_token"], "decision": "accept"},
        headers=reviewer.headers,
    )
    assert accepted.status_code == 200
    made = client.post(f"{API}/tasks/{task_id}/make_evaluation", headers=manager.headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (
        body["kind"] == "evaluation"
        and body["expected_response"]["annotations"][0]["label"] == "dog"
    )
    assert body["metadata"]["source_task"] == task_id and body["stage"] is None


def test_audits_sample_completed_work_and_decisions_are_kept(client, manager, accounts):
    project = project_with(client, manager, {"audit_rate": 1.0})
    task_ids = real_tasks(client, manager, project["id"], 2)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    auditor = member(client, manager, accounts, project["id"], "reviewer", "reviewer")
    for _ in task_ids:
        submit(client, labeler, next_lease(client, labeler, project["id"]).json(), gold_box())
    # A labeler may not audit (and never their own work).
    assert (
        client.post(
            f"{API}/projects/{project['id']}/audits/next", headers=labeler.headers
        ).status_code
        == 403
    )
    first = client.post(f"{API}/projects/{project['id']}/audits/next", headers=auditor.headers)
    assert first.status_code == 200, first.text
    audit = first.json()
    assert audit["labeler_id"] == labeler.user.id and audit["task"]["id"] in task_ids
    no_comment = client.post(
        f"{API}/audits/{audit['audit_id']}/decision",
        json={"lease_token": audit["lease_token"], "decision": "reject"},
        headers=auditor.headers,
    )
    assert no_comment.status_code == 422 and no_comment.json()["error"]["field"] == "comments"
    rejected = client.post(
        f"{API}/audits/{audit['audit_id']}/decision",
        json={
            "lease_token": audit["lease_token"],
            "decision": "reject",
            "comments": [{"text": "wrong animal"}],
        },
        headers=auditor.headers,
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    second = client.post(
        f"{API}/projects/{project['id']}/audits/next", headers=auditor.headers
    ).json()
    fixed = client.post(
        f"{API}/audits/{second['audit_id']}/decision",
        json={"lease_token": second["lease_token"], "decision": "fix", "response": gold_box("dog")},
        headers=auditor.headers,
    )
    assert fixed.status_code == 200 and fixed.json()["status"] == "fixed"
    task = client.get(f"{API}/tasks/{second['task']['id']}", headers=manager.headers).json()
    assert task["response"]["annotations"][0]["label"] == "dog"
    history = client.get(
        f"{API}/tasks/{audit['task']['id']}/history", headers=manager.headers
    ).json()["items"]
    assert [e["action"] for e in history][-1] == "audit_reject"
    assert (
        client.post(
            f"{API}/projects/{project['id']}/audits/next", headers=auditor.headers
        ).status_code
        == 204
    )
    listed = client.get(
        f"{API}/projects/{project['id']}/audits",
        params={"status": "rejected"},
        headers=manager.headers,
    ).json()["items"]
    assert [a["task_id"] for a in listed] == [audit["task"]["id"]]


def test_calibration_report_shows_disagreements_and_feedback(client, manager, accounts):
    project = project_with(client, manager, {})
    batch = client.post(
        f"{API}/projects/{project['id']}/batches",
        json={"name": "calib", "kind": "calibration"},
        headers=manager.headers,
    ).json()
    created = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={
            "batch": batch["id"],
            "tasks": [
                {
                    "params": {"attachment": f"https://example.com/c{i}.jpg"},
                    "expected_response": gold_box(),
                }
                for i in range(2)
            ],
        },
        headers=manager.headers,
    )
    assert created.status_code == 201, created.text
    assert (
        client.post(f"{API}/batches/{batch['id']}/finalize", headers=manager.headers).status_code
        == 200
    )
    good = member(client, manager, accounts, project["id"], "labeler")
    sloppy = member(client, manager, accounts, project["id"], "labeler")
    for account, answer in ((good, gold_box()), (sloppy, wrong_box())):
        lease = next_lease(client, account, project["id"]).json()
        done = client.post(
            f"{API}/tasks/{lease['task']['id']}/submit",
            json={
                "lease_token": lease["lease_token"],
                "response": answer,
                "feedback": "Say whether a cat in a box counts." if account is sloppy else None,
            },
            headers=account.headers,
        )
        assert done.status_code == 200, done.text
    report = client.get(
        f"{API}/batches/{batch['id']}/calibration_report", headers=manager.headers
    ).json()
    scores = {row["user_id"]: row["score"] for row in report["labelers"]}
    assert scores[good.user.id] == pytest.approx(1.0) and scores[sloppy.user.id] < 0.5
    assert [d["user_id"] for d in report["disagreements"]] == [sloppy.user.id]
    assert report["feedback"][0]["feedback"] == "Say whether a cat in a box counts."
    assert (
        client.get(
            f"{API}/batches/{batch['id']}/calibration_report", headers=good.headers
        ).status_code
        == 403
    )


def test_consensus_waits_for_n_labelers_and_completes_with_the_aggregate(client, manager, accounts):
    project = project_with(client, manager, {"consensus": {"labelers": 3}})
    (task_id,) = real_tasks(client, manager, project["id"], 1)
    labelers = [member(client, manager, accounts, project["id"], "labeler") for _ in range(4)]
    answers = [gold_box(), gold_box(), wrong_box()]
    for account, answer in zip(labelers, answers, strict=False):
        lease = next_lease(client, account, project["id"])
        assert lease.status_code == 200 and lease.json()["task"]["id"] == task_id
        done = submit(client, account, lease.json(), answer).json()
        if answer is not answers[-1]:
            assert done == {"task_id": task_id, "status": "pending", "stage": "label"}
            # Nobody gets the task twice.
            assert next_lease(client, account, project["id"]).status_code == 204
    assert done["status"] == "completed"
    assert next_lease(client, labelers[3], project["id"]).status_code == 204
    task = client.get(f"{API}/tasks/{task_id}", headers=manager.headers).json()
    (shape,) = task["response"]["annotations"]
    assert shape["label"] == "cat" and shape["x"] == 10
    history = client.get(f"{API}/tasks/{task_id}/history", headers=manager.headers).json()
    actions = [e["action"] for e in history["items"]]
    assert actions == ["submit", "submit", "submit", "consensus"]
    # Pairwise matched IoU: 1 (the two cats), 0, 0.
    assert history["items"][-1]["reason"] == "agreement 0.333 (iou_clusters)"


def test_low_agreement_goes_to_review_even_when_review_is_not_sampled(client, manager, accounts):
    pipeline = {
        "stages": [
            {"name": "label", "kind": "label"},
            {"name": "review", "kind": "review", "sample_rate": 0.0},
        ]
    }
    project = project_with(
        client,
        manager,
        {"consensus": {"labelers": 2, "agreement_threshold": 0.9}},
        pipeline=pipeline,
    )
    agreed, disputed = real_tasks(client, manager, project["id"], 2)
    first, second = (member(client, manager, accounts, project["id"], "labeler") for _ in "ab")
    outcome = {}
    for account, answers in (
        (first, [gold_box(), gold_box()]),
        (second, [gold_box(), wrong_box()]),
    ):
        for answer in answers:
            lease = next_lease(client, account, project["id"]).json()
            task_id = lease["task"]["id"]
            # Same order for both labelers: the first task gets agreement, the second not.
            chosen = answer if task_id == agreed or account is first else wrong_box()
            outcome[task_id] = submit(client, account, lease, chosen).json()
    assert outcome[agreed]["status"] == "completed"
    assert outcome[disputed] == {"task_id": disputed, "status": "pending", "stage": "review"}


def test_consensus_exposes_each_labelers_confusion_estimates(client, manager, accounts):
    taxonomy = {"labels": [{"name": "cat"}, {"name": "dog"}]}
    project = make_project(
        client,
        manager,
        name="pets",
        task_type="categorization",
        taxonomy=taxonomy,
        params={},
        quality={"consensus": {"labelers": 3}},
    )
    truth = ["cat", "dog"] * 6
    add_tasks(client, manager, project["id"], [{"params": {"text": f"pet {i}"}} for i in range(12)])
    good = [member(client, manager, accounts, project["id"], "labeler") for _ in range(2)]
    spammer = member(client, manager, accounts, project["id"], "labeler")
    order: dict[str, int] = {}
    for account in [*good, spammer]:
        while (lease := next_lease(client, account, project["id"])).status_code == 200:
            body = lease.json()
            index = order.setdefault(body["task"]["id"], len(order))
            label = "cat" if account is spammer else truth[index % len(truth)]
            answer = {"annotations": [{"type": "category", "label": label}]}
            assert submit(client, account, body, answer).status_code == 200
    report = client.get(
        f"{API}/projects/{project['id']}/consensus/labelers", headers=manager.headers
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["classes"] == ["cat", "dog"] and body["tasks"] == 12
    accuracy = {row["user_id"]: row["accuracy"] for row in body["labelers"]}
    assert accuracy[spammer.user.id] < 0.7 < min(accuracy[g.user.id] for g in good)
    assert (
        client.get(
            f"{API}/projects/{project['id']}/consensus/labelers", headers=spammer.headers
        ).status_code
        == 403
    )

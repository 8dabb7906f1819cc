"""`client.quality` against a real `assay serve`: training course, evaluation tasks and their
stats, retire and recycle, pause and re-qualify, audits, calibration and quality numbers."""

from __future__ import annotations

from typing import Any

import pytest

from assay.sdk import Forbidden

pytestmark = pytest.mark.live

TAXONOMY = {
    "labels": [
        {"name": "cat", "geometries": ["category"]},
        {"name": "dog", "geometries": ["category"]},
    ]
}
TRAINING = {"pass_threshold": 1.0, "max_rounds": 2}


def answer(label: str) -> dict[str, Any]:
    return {"annotations": [{"type": "category", "label": label}]}


def labels(response: dict[str, Any] | None) -> list[str]:
    """The labels of a response as the server stores it (with ids and defaults added)."""
    assert response is not None
    return [annotation["label"] for annotation in response["annotations"]]


def test_training_evaluation_retire_recycle_pause_and_requalify(connect, server, accounts):
    manager = connect(server.url, accounts.make("manager").key)
    labeler_account = accounts.make("labeler")
    labeler = connect(server.url, labeler_account.key)
    labeler_id = labeler_account.user.id

    project = manager.projects.create(
        name="pets", task_type="categorization", taxonomy=TAXONOMY, quality={"training": TRAINING}
    )
    assert project.quality["training"]["pass_threshold"] == 1.0
    project = manager.projects.update(
        project.id, quality={"evaluation_rate": 1.0, "training": TRAINING}
    )
    assert project.quality["evaluation_rate"] == 1.0
    manager.projects.set_member(project.id, labeler_id, "labeler")
    course = manager.quality.create_training_task(
        project.id, params={"text": "a cat"}, expected_response=answer("cat")
    )
    assert course.kind == "training" and labels(course.expected_response) == ["cat"]
    easy, hard = (
        manager.quality.create_evaluation_task(
            project.id,
            params={"text": f"gold {i}"},
            expected_response=answer("cat"),
            tags=["gold"],
        )
        for i in range(2)
    )
    assert easy.kind == "evaluation" and easy.tags == ["gold"] and easy.stage is None
    real = manager.tasks.create(project.id, params={"text": "a real animal"})

    # The course gates real work; the error code says why.
    with pytest.raises(Forbidden) as refused:
        labeler.queue.next(project.id)
    assert refused.value.code == "training_required"
    state = labeler.quality.training(project.id)
    assert state.required and not state.passed and state.total == 1
    lease = labeler.quality.next_training(project.id)
    assert lease is not None and lease.task.id == course.id
    done = labeler.queue.submit(lease.task.id, lease.lease_token, answer("cat"))
    assert done.feedback is not None and done.feedback.passed and done.feedback.score == 1.0
    assert labels(done.feedback.expected_response) == ["cat"]
    assert labeler.quality.next_training(project.id) is None
    assert labeler.quality.training(project.id).passed

    # evaluation_rate 1.0: both evaluation tasks come first; one right, one wrong.
    for _ in range(2):
        lease = labeler.queue.next(project.id)
        assert lease is not None and lease.task.id in (easy.id, hard.id)
        label = "cat" if lease.task.id == easy.id else "dog"
        assert labeler.queue.submit(lease.task.id, lease.lease_token, answer(label)).stage is None
    with pytest.raises(Forbidden):
        next(labeler.quality.tasks(project.id))
    # One task per page: the iterator fetches the second page itself.
    stats = {t.id: t for t in manager.quality.tasks(project.id, kind="evaluation", page_size=1)}
    assert set(stats) == {easy.id, hard.id}
    assert (stats[easy.id].attempts, stats[easy.id].passes) == (1, 1)
    assert (stats[hard.id].attempts, stats[hard.id].pass_rate) == (1, 0.0)
    assert [t.id for t in manager.quality.tasks(project.id, kind="training")] == [course.id]
    # The labeler's own figures take evaluation results late and in groups (no gold side
    # channel); the manager sees them at once.
    mine = labeler.quality.me(project.id)
    assert mine.evaluated == 0 and mine.accuracy is None
    (worker,) = [w for w in manager.quality.workers(project.id) if w.user_id == labeler_id]
    assert worker.status == "active" and worker.training_passed_at is not None
    assert worker.evaluated == 2 and worker.accuracy == pytest.approx(0.5)

    retired = manager.quality.retire(project.id, max_pass_rate=0.2, min_attempts=1)
    assert (retired.retired, retired.task_ids) == (1, [hard.id])
    assert [t.id for t in manager.quality.tasks(project.id, retired=True)] == [hard.id]
    assert manager.quality.recycle(project.id, [hard.id]).recycled == 1
    assert list(manager.quality.tasks(project.id, retired=True)) == []

    paused = manager.quality.pause(project.id, labeler_id, "Read the Rules section again.")
    assert paused.status == "paused" and paused.reason == "Read the Rules section again."
    with pytest.raises(Forbidden) as refused:
        labeler.queue.next(project.id)
    assert refused.value.code == "paused" and "Rules section" in refused.value.message
    back = manager.quality.requalify(project.id, labeler_id, retrain=False)
    assert back.status == "active" and back.evaluated == 0
    # Every evaluation task was done within the recycle window: the real task is next.
    lease = labeler.queue.next(project.id)
    assert lease is not None and lease.task.id == real.id


def test_audits_calibration_and_quality_numbers(connect, server, accounts):
    manager = connect(server.url, accounts.make("manager").key)
    labeler_account, auditor_account = accounts.make("labeler"), accounts.make("reviewer")
    labeler = connect(server.url, labeler_account.key)
    auditor = connect(server.url, auditor_account.key)
    labeler_id = labeler_account.user.id

    project = manager.projects.create(
        name="audited pets",
        task_type="categorization",
        taxonomy=TAXONOMY,
        quality={"audit_rate": 1.0},
    )
    manager.projects.set_member(project.id, labeler_id, "labeler")
    manager.projects.set_member(project.id, auditor_account.user.id, "reviewer")
    created = manager.tasks.create_many(
        project.id, [{"params": {"text": f"pet {i}"}} for i in "ab"]
    )
    for _ in created.tasks:
        lease = labeler.queue.next(project.id)
        assert lease is not None
        labeler.queue.submit(lease.task.id, lease.lease_token, answer("cat"))

    # audit_rate 1.0: both completed tasks wait for an audit.
    with pytest.raises(Forbidden):
        labeler.quality.next_audit(project.id)
    first = auditor.quality.next_audit(project.id)
    assert first is not None and first.labeler_id == labeler_id
    assert labels(first.response) == ["cat"]
    accepted = auditor.quality.decide_audit(
        first.audit_id, lease_token=first.lease_token, decision="accept"
    )
    assert accepted.status == "accepted" and accepted.auditor_id == auditor_account.user.id
    second = auditor.quality.next_audit(project.id)
    assert second is not None and second.task.id != first.task.id
    rejected = auditor.quality.decide_audit(
        second.audit_id,
        lease_token=second.lease_token,
        decision="reject",
        comments=[{"text": "that is a dog"}],
    )
    assert rejected.status == "rejected" and rejected.comments[0]["text"] == "that is a dog"
    assert auditor.quality.next_audit(project.id) is None
    assert [a.task_id for a in manager.quality.audits(project.id, status="rejected")] == [
        second.task.id
    ]
    assert len(list(manager.quality.audits(project.id, page_size=1))) == 2
    # An audit acceptance makes the answer trustworthy enough to become an evaluation task.
    gold = manager.quality.make_evaluation(first.task.id)
    assert gold.kind == "evaluation" and labels(gold.expected_response) == ["cat"]

    # The labeler's own audit rate overrides the project's: none of their work is audited now.
    assert manager.quality.set_audit_rate(project.id, labeler_id, 0.0).audit_rate == 0.0
    batch = manager.batches.create(project.id, name="calibration", kind="calibration")
    manager.tasks.create_many(
        project.id,
        [{"params": {"text": "a cat?"}, "expected_response": answer("cat")}],
        batch=batch.id,
    )
    manager.batches.finalize(batch.id)
    lease = labeler.queue.next(project.id)
    assert lease is not None
    labeler.queue.submit(
        lease.task.id, lease.lease_token, answer("dog"), feedback="Is a cartoon cat a cat?"
    )
    assert auditor.quality.next_audit(project.id) is None
    report = manager.quality.calibration_report(batch.id)
    assert report.batch_id == batch.id
    assert [(row.user_id, row.score) for row in report.labelers] == [(labeler_id, 0.0)]
    (disagreement,) = report.disagreements
    assert disagreement.user_id == labeler_id and labels(disagreement.expected_response) == ["cat"]
    assert [note.feedback for note in report.feedback] == ["Is a cartoon cat a cat?"]
    with pytest.raises(Forbidden):
        labeler.quality.calibration_report(batch.id)

    overview = manager.quality.overview(project.id)
    (row,) = [r for r in overview.labelers if r.user_id == labeler_id]
    assert row.submitted == 3 and row.audited == 2 and row.audit_rejected == 1
    assert overview.totals.submitted >= 3 and overview.evaluation.tasks == 1
    dashboard = manager.quality.dashboard(project.id, labeler_id, days=7)
    assert dashboard.labeler.user_id == labeler_id and dashboard.days == 7
    assert sum(point.submitted for point in dashboard.series) == 3
    own = labeler.quality.dashboard(project.id, labeler_id)
    assert own.labeler.user_id == labeler_id and not own.precise_times
    with pytest.raises(Forbidden):
        labeler.quality.dashboard(project.id, auditor_account.user.id)

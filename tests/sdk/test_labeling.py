"""`client.projects`, `.batches`, `.tasks` and `.queue` against a real `assay serve`."""

from __future__ import annotations

import json

import pytest

from assay.sdk import Conflict, Forbidden, InvalidInput, NotFound

pytestmark = pytest.mark.live

TAXONOMY = {
    "labels": [
        {"name": "cat", "geometries": ["category"]},
        {"name": "dog", "geometries": ["category"]},
    ]
}
PIPELINE = {"stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]}


def test_a_project_from_creation_to_reviewed_results(connect, server, accounts):
    manager = connect(server.url, accounts.make("manager").key)
    labeler_account, reviewer_account = accounts.make("labeler"), accounts.make("reviewer")
    labeler = connect(server.url, labeler_account.key)
    reviewer = connect(server.url, reviewer_account.key)

    project = manager.projects.create(
        name="pets", task_type="categorization", taxonomy=TAXONOMY, pipeline=PIPELINE
    )
    assert project.callback_secret and project.instructions_version == 1
    manager.projects.set_member(project.id, labeler_account.user.id, "labeler")
    manager.projects.set_member(project.id, reviewer_account.user.id, "reviewer")
    assert {m.role for m in manager.projects.members(project.id)} == {"labeler", "reviewer"}
    assert manager.projects.set_instructions(project.id, "Pick the animal.").version == 2
    assert [p.id for p in labeler.projects.list()] == [project.id]
    with pytest.raises(Forbidden):
        labeler.projects.update(project.id, name="mine")

    batch = manager.batches.create(project.id, name="week-1", metadata={"week": 1})
    with pytest.raises(InvalidInput) as caught:
        manager.tasks.create_many(
            project.id, [{"params": {"text": "a"}}, {"params": {}}], batch=batch.id
        )
    assert caught.value.field == "tasks[1].params.attachment"
    created = manager.tasks.create_many(
        project.id,
        [
            {"params": {"text": f"animal {i}"}, "unique_id": f"pet-{i}", "tags": ["pets"]}
            for i in range(3)
        ],
        batch=batch.id,
    )
    assert created.count == 3
    with pytest.raises(Conflict):
        manager.tasks.create(project.id, params={"text": "again"}, unique_id="pet-0")
    assert manager.batches.finalize(batch.id).status == "in_progress"
    assert manager.batches.get(batch.id).counts.pending == 3
    assert manager.batches.pause(batch.id).status == "paused"
    assert labeler.queue.next(project.id) is None
    assert manager.batches.resume(batch.id).status == "in_progress"
    spare = manager.batches.create(project.id, name="spare")
    manager.tasks.create(project.id, params={"text": "spare"}, batch=spare.id)
    canceled = manager.batches.cancel(spare.id)
    assert canceled.status == "canceled" and canceled.counts.canceled == 1

    for _ in range(3):
        lease = labeler.queue.next(project.id)
        assert lease is not None and lease.task.params["text"].startswith("animal")
        labeler.queue.draft(lease.task.id, lease.lease_token, {"annotations": []})
        assert labeler.queue.heartbeat(lease.task.id, lease.lease_token).expires_at
        answer = {"annotations": [{"type": "category", "label": "cat"}]}
        assert labeler.queue.submit(lease.task.id, lease.lease_token, answer).stage == "review"
    assert labeler.queue.next(project.id) is None
    with pytest.raises(Forbidden):
        labeler.queue.next(project.id, stage="review")
    with pytest.raises(Forbidden):
        labeler.tasks.get(created.tasks[0].id)

    while (review := reviewer.queue.next(project.id, stage="review")) is not None:
        assert review.previous["annotations"][0]["label"] == "cat"
        reviewer.queue.review(review.task.id, review.lease_token, "accept")
    assert manager.batches.get(batch.id).status == "completed"
    done = list(manager.tasks.list(project_id=project.id, status="completed", tags=["pets"]))
    assert len(done) == 3 and all(t.response["annotations"][0]["label"] == "cat" for t in done)
    one = manager.tasks.list(project_id=project.id, unique_id="pet-1")
    (first,) = list(one)
    history = manager.tasks.history(first.id)
    assert [e.action for e in history] == ["submit", "accept"]
    assert manager.tasks.audit(first.id, accepted=True).action == "audit_accept"
    assert manager.tasks.add_tags(first.id, ["checked"]).tags == ["pets", "checked"]
    assert manager.tasks.update(first.id, unique_id=None).unique_id is None
    with pytest.raises(NotFound):
        manager.tasks.get("0" * 24)


def test_import_a_file_and_wait_for_it(connect, server, accounts):
    manager = connect(server.url, accounts.make("manager").key)
    project = manager.projects.create(
        name="imported pets", task_type="categorization", taxonomy=TAXONOMY
    )
    lines = "".join(json.dumps({"params": {"text": f"pet {i}"}}) + "\n" for i in range(20))
    blob = manager.blobs.upload(lines.encode(), filename="pets.jsonl")
    job = manager.jobs.wait(manager.tasks.import_file(project.id, blob=blob.sha256).id, timeout=60)
    assert job.result["created"] == 20
    assert len(list(manager.tasks.list(project_id=project.id, page_size=7))) == 20

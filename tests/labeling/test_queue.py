"""The queue over real databases: leases under concurrency, expiry, priorities, skips,
review with rework, completion and callbacks."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from assay.core import models as core_models
from assay.core import webhooks
from assay.core.db import utcnow
from assay.core.errors import Conflict
from assay.core.worker import WorkerPool
from assay.labeling import decisions, models, pipeline, projects, queue, submission, tasks
from assay.labeling import schemas as labeling_schemas
from assay.labeling.annotations import validate_response
from tests.labeling.factories import (
    CATEGORY_TAXONOMY,
    actor_for,
    add_tasks,
    finalize,
    get_task,
    make_batch,
    make_project,
)
from tests.support.receiver import Receiver

REVIEWED = {
    "stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}],
    "max_rework_rounds": 1,
}


def category(label: str) -> dict[str, Any]:
    return {"annotations": [{"type": "category", "label": label}]}


def cat_task(i: int = 0, **extra: Any) -> labeling_schemas.TaskCreate:
    return labeling_schemas.TaskCreate(params={"text": f"animal {i}"}, **extra)


@pytest.fixture
def manager(accounts):
    return actor_for(accounts.make("manager"))


def make_cat_project(db, manager, **extra):
    return make_project(
        db,
        manager,
        name="animals",
        task_type="categorization",
        taxonomy=CATEGORY_TAXONOMY,
        **extra,
    )


def next_for(db, project_id: str, actor, stage: str = "label") -> queue.Lease | None:
    """What the next-task endpoint does: a held lease, else a claim."""
    with db.read_connection() as conn:
        access = queue.project_access(conn=conn, project_id=project_id, actor=actor)
        chosen = access.rules.pipeline.stage(stage)
        held = queue.held_lease(
            conn=conn, project_id=project_id, stage=chosen, user_id=actor.user_id
        )
    if held is not None:
        return held
    with db.write_connection() as conn:
        return queue.claim_task(
            conn=conn,
            project_id=project_id,
            pipeline=access.rules.pipeline,
            stage=chosen,
            user_id=actor.user_id,
        )


def submit(db, settings, lease: queue.Lease, actor, label: str = "cat") -> submission.Submitted:
    with db.read_connection() as conn:
        task, access = queue.work_item(conn=conn, task_id=lease.task.id, actor=actor)
    queue.check_lease(task, actor.user_id, lease.token)
    response = validate_response(access.rules.taxonomy, "categorization", {}, category(label))
    with db.write_connection() as conn:
        return submission.submit(
            conn=conn,
            task=task,
            actor=actor,
            token=lease.token,
            response=response,
            pipeline=access.rules.pipeline,
            settings=settings,
        )


def review(db, settings, lease, actor, decision, comments=None) -> models.Task:
    with db.write() as session:
        rules = projects.project_rules(session.get(models.Project, lease.task.project_id))
        return decisions.review(
            session=session,
            task_id=lease.task.id,
            actor=actor,
            token=lease.token,
            decision=decision,
            response=None,
            comments=comments,
            pipeline=rules.pipeline,
            settings=settings,
        )


def history(db, task_id: str) -> list[tuple[str, str | None, int]]:
    with db.read() as session:
        task = session.get(models.Task, task_id)
        return [
            (e.action, e.user_id, e.round) for e in tasks.task_history(session=session, task=task)
        ]


def test_no_task_is_leased_twice_under_concurrency(db, settings, manager, accounts):
    project = make_cat_project(db, manager)
    add_tasks(db, project, manager, settings, [cat_task(i) for i in range(40)])
    workers = [actor_for(accounts.make("labeler")) for _ in range(8)]
    first_round: dict[str, str] = {}
    submitted: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))
    lock = threading.Lock()

    def work(actor) -> None:
        try:
            barrier.wait()
            lease = next_for(db, project.id, actor)
            assert lease is not None
            with lock:
                first_round[actor.user_id] = lease.task.id
            # Everyone holds a lease before anyone submits: no task can be in two of them.
            barrier.wait()
            while lease is not None:
                submit(db, settings, lease, actor)
                with lock:
                    submitted.append(lease.task.id)
                lease = next_for(db, project.id, actor)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(actor,)) for actor in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    # Eight people asked at the same moment and got eight different tasks.
    assert len(set(first_round.values())) == len(workers)
    assert len(submitted) == 40 and len(set(submitted)) == 40
    with db.read() as session:
        assert session.query(models.Task).filter_by(status="completed").count() == 40
        submits = session.query(models.TaskEvent).filter_by(action="submit").count()
    assert submits == 40


def test_an_expired_lease_goes_to_someone_else_and_the_late_submit_is_refused(
    db, settings, manager, accounts
):
    project = make_cat_project(db, manager)
    (task_id,) = add_tasks(db, project, manager, settings, [cat_task()])
    slow, quick = (actor_for(accounts.make("labeler")) for _ in range(2))
    lost = next_for(db, project.id, slow)
    assert lost is not None and next_for(db, project.id, quick) is None
    with db.write() as session:
        session.execute(
            update(models.Task)
            .where(models.Task.id == task_id)
            .values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    taken = next_for(db, project.id, quick)
    assert taken is not None and taken.task.id == task_id and taken.token != lost.token
    with pytest.raises(Conflict) as caught:
        submit(db, settings, lost, slow, "dog")
    assert caught.value.field == "lease_token"
    task = get_task(db, task_id)
    assert task.status == "pending" and task.lease_user_id == quick.user_id
    assert history(db, task_id) == []
    submit(db, settings, taken, quick, "cat")
    task = get_task(db, task_id)
    assert task.status == "completed" and task.response["annotations"][0]["label"] == "cat"
    assert history(db, task_id) == [("submit", quick.user_id, 0)]


def test_the_same_person_keeps_their_lease_and_heartbeats_extend_it(
    db, settings, manager, accounts
):
    project = make_cat_project(db, manager)
    add_tasks(db, project, manager, settings, [cat_task(i) for i in range(2)])
    labeler = actor_for(accounts.make("labeler"))
    lease = next_for(db, project.id, labeler)
    again = next_for(db, project.id, labeler)
    assert again is not None and (again.task.id, again.token) == (lease.task.id, lease.token)
    with db.write() as session:
        decisions.save_draft(
            session=session,
            task_id=lease.task.id,
            user_id=labeler.user_id,
            token=lease.token,
            response=category("dog"),
        )
        rules = projects.project_rules(session.get(models.Project, project.id))
        renewed = decisions.heartbeat(
            session=session,
            task_id=lease.task.id,
            user_id=labeler.user_id,
            token=lease.token,
            pipeline=rules.pipeline,
        )
    assert renewed >= lease.expires_at
    assert next_for(db, project.id, labeler).draft == category("dog")


def test_an_expired_lease_claimed_again_brings_back_the_draft(db, settings, manager, accounts):
    project = make_cat_project(db, manager)
    add_tasks(db, project, manager, settings, [cat_task(i) for i in range(2)])
    labeler = actor_for(accounts.make("labeler"))
    lease = next_for(db, project.id, labeler)
    with db.write() as session:
        decisions.save_draft(
            session=session,
            task_id=lease.task.id,
            user_id=labeler.user_id,
            token=lease.token,
            response=category("dog"),
        )
        session.execute(
            update(models.Task)
            .where(models.Task.id == lease.task.id)
            .values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    # The lease ran out: the claim frees it and, it being first in the queue, leases it anew.
    again = next_for(db, project.id, labeler)
    assert again.task.id == lease.task.id and again.token != lease.token
    assert again.draft == category("dog")
    other = next_for(db, project.id, actor_for(accounts.make("labeler")))
    assert other.task.id != lease.task.id and other.draft is None


def test_higher_priority_first_then_oldest(db, settings, manager, accounts):
    project = make_cat_project(db, manager)
    ids = add_tasks(
        db,
        project,
        manager,
        settings,
        [
            cat_task(0, priority=0),
            cat_task(1, priority=5),
            cat_task(2, priority=1),
            cat_task(3, priority=5),
        ],
    )
    labeler = actor_for(accounts.make("labeler"))
    served = []
    while (lease := next_for(db, project.id, labeler)) is not None:
        served.append(lease.task.id)
        submit(db, settings, lease, labeler)
    assert served == [ids[1], ids[3], ids[2], ids[0]]


def test_a_skipped_task_is_never_served_again_to_the_same_person(db, settings, manager, accounts):
    project = make_cat_project(db, manager)
    (task_id,) = add_tasks(db, project, manager, settings, [cat_task()])
    skipper, other = (actor_for(accounts.make("labeler")) for _ in range(2))
    lease = next_for(db, project.id, skipper)
    with db.write() as session:
        decisions.skip(
            session=session,
            task_id=task_id,
            user_id=skipper.user_id,
            token=lease.token,
            reason="blurry",
        )
    assert next_for(db, project.id, skipper) is None
    assert next_for(db, project.id, other).task.id == task_id
    with db.read() as session:
        (event,) = tasks.task_history(session=session, task=session.get(models.Task, task_id))
    assert (event.action, event.user_id, event.reason) == ("skip", skipper.user_id, "blurry")


def test_review_rework_and_acceptance(db, settings, manager, accounts):
    project = make_cat_project(db, manager, pipeline=REVIEWED)
    (task_id,) = add_tasks(db, project, manager, settings, [cat_task()])
    labeler, other_labeler = (actor_for(accounts.make("labeler")) for _ in range(2))
    reviewer = actor_for(accounts.make("reviewer"))

    lease = next_for(db, project.id, labeler)
    assert submit(db, settings, lease, labeler, "dog").stage == "review"
    # Nobody reviews their own work.
    assert next_for(db, project.id, labeler, "review") is None
    under_review = next_for(db, project.id, reviewer, "review")
    assert under_review.previous["annotations"][0]["label"] == "dog"
    comments = [
        {"text": "that is a cat", "annotation_id": under_review.previous["annotations"][0]["id"]}
    ]
    rejected = review(db, settings, under_review, reviewer, "reject", comments)
    assert (rejected.stage, rejected.round, rejected.assignee_id) == ("label", 1, labeler.user_id)

    # Rework goes back to the original labeler only, with the comments.
    assert next_for(db, project.id, other_labeler) is None
    rework = next_for(db, project.id, labeler)
    assert rework.task.id == task_id and rework.comments == comments
    assert rework.previous["annotations"][0]["label"] == "dog"
    submit(db, settings, rework, labeler, "cat")
    accepted = review(
        db, settings, next_for(db, project.id, reviewer, "review"), reviewer, "accept"
    )
    assert accepted.status == "completed"
    task = get_task(db, task_id)
    assert task.response["annotations"][0]["label"] == "cat"
    assert history(db, task_id) == [
        ("submit", labeler.user_id, 0),
        ("reject", reviewer.user_id, 0),
        ("submit", labeler.user_id, 1),
        ("accept", reviewer.user_id, 1),
    ]


def test_too_many_rejections_end_in_error(db, settings, manager, accounts):
    project = make_cat_project(db, manager, pipeline=REVIEWED)
    (task_id,) = add_tasks(db, project, manager, settings, [cat_task()])
    labeler, reviewer = actor_for(accounts.make("labeler")), actor_for(accounts.make("reviewer"))
    for _ in range(2):
        submit(db, settings, next_for(db, project.id, labeler), labeler, "dog")
        done = review(
            db,
            settings,
            next_for(db, project.id, reviewer, "review"),
            reviewer,
            "reject",
            [{"text": "no"}],
        )
    assert done.status == "error" and "rework" in done.error
    assert next_for(db, project.id, labeler) is None
    assert get_task(db, task_id).status == "error"
    assert [action for action, _, _ in history(db, task_id)] == [
        "submit",
        "reject",
        "submit",
        "reject",
    ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def test_task_and_batch_callbacks_arrive(db, settings, manager, accounts, pool, receiver):
    project = make_cat_project(db, manager)
    batch = make_batch(db, project, manager, callback_url=receiver.url, metadata={"run": 7})
    ids = add_tasks(
        db,
        project,
        manager,
        settings,
        [cat_task(i, callback_url=receiver.url, metadata={"i": i}) for i in range(2)],
        batch,
    )
    finalize(db, batch, settings, manager)
    labeler = actor_for(accounts.make("labeler"))
    for _ in ids:
        submit(db, settings, next_for(db, project.id, labeler), labeler, "cat")
    received = receiver.wait_for(3)
    bodies = [json.loads(r.body) for r in received]
    by_event = Counter(r.headers["assay-event"] for r in received)
    assert by_event == {pipeline.COMPLETED_EVENT: 2, pipeline.BATCH_COMPLETED_EVENT: 1}
    task_bodies = [b for b in bodies if "task_id" in b]
    assert {b["task_id"] for b in task_bodies} == set(ids)
    assert all(b["status"] == "completed" and b["response"] for b in task_bodies)
    (batch_body,) = [b for b in bodies if "batch_id" in b and "task_id" not in b]
    assert batch_body["batch_id"] == batch.id and batch_body["metadata"] == {"run": 7}
    secret = pipeline.callback_secret(settings, project.id)
    for request in received:
        signature = request.headers[webhooks.SIGNATURE_HEADER.lower()]
        assert webhooks.verify_signature(secret, signature, request.body)
    with db.read() as session:
        assert session.get(models.Batch, batch.id).status == "completed"


def test_a_batch_whose_last_tasks_complete_at_once_is_still_completed_once(
    db, ctx, settings, manager, accounts, dialect
):
    """Each completion announces its batch when it sees no other pending task in it. On
    PostgreSQL two completions of the last two tasks can each see the other still pending
    (neither has committed): the worker pool's periodic duty completes the batch, once."""
    project = make_cat_project(db, manager)
    batch = make_batch(db, project, manager, callback_url="http://127.0.0.1:9/batch")
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(2)], batch)
    finalize(db, batch, settings, manager)
    first, second = (actor_for(accounts.make("labeler")) for _ in range(2))
    leases = [next_for(db, project.id, first), next_for(db, project.id, second)]
    assert {lease.task.id for lease in leases} == set(ids)
    if dialect == "postgresql":
        with db.read_connection() as conn:
            work = [
                queue.work_item(conn=conn, task_id=lease.task.id, actor=actor)
                for lease, actor in zip(leases, (first, second), strict=True)
            ]

        def apply(conn, i, actor, **kwargs):
            task, access = work[i]
            return submission.submit(
                conn=conn,
                task=task,
                actor=actor,
                token=leases[i].token,
                response=validate_response(
                    access.rules.taxonomy, "categorization", {}, category("cat")
                ),
                pipeline=access.rules.pipeline,
                settings=settings,
                **kwargs,
            )

        # The first completion is applied, not yet committed, when the second applies as
        # one statement of its own: each sees the other's task pending.
        with db.write_connection() as uncommitted:
            assert apply(uncommitted, 0, first).status == "completed"
            with db.phases(atomic_statements=True) as phase, phase.write() as alone:
                assert apply(alone, 1, second, transaction=phase.transaction).status == (
                    "completed"
                )
    else:
        # SQLite runs one writer at a time, so this cannot happen there; leave the batch as
        # such a race would: its tasks completed, nobody having announced it.
        with db.write() as session:
            session.execute(
                update(models.Task).where(models.Task.id.in_(ids)).values(status="completed")
            )

    def state():
        with db.read() as session:
            statuses = [session.get(models.Task, i).status for i in ids]
            deliveries = session.query(core_models.WebhookDelivery).filter_by(
                event=pipeline.BATCH_COMPLETED_EVENT
            )
            return statuses, session.get(models.Batch, batch.id).status, deliveries.count()

    assert state() == (["completed", "completed"], "in_progress", 0)
    workers = WorkerPool(ctx, threads=1, name="test")
    workers.start()
    try:
        deadline = time.monotonic() + 30
        while state()[1] != "completed" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        workers.stop()
    assert state() == (["completed", "completed"], "completed", 1)
    assert pipeline.complete_finished_batches(ctx) == 0
    assert state()[2] == 1

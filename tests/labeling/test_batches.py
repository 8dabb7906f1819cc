"""Batch services: lifecycle staging → in progress → completed, counts, names, filters."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid
from assay.labeling import batches, models, pipeline, schemas, task_changes
from tests.labeling.factories import (
    actor_for,
    add_tasks,
    finalize,
    get_task,
    image_task,
    make_batch,
    make_project,
    statements,
    while_writing,
)
from tests.labeling.test_queue import cat_task, make_cat_project, next_for, submit


@pytest.fixture
def manager(accounts):
    return actor_for(accounts.make("manager"))


@pytest.fixture
def project(db, manager):
    return make_project(db, manager)


def test_staging_tasks_wait_for_finalize(db, manager, project, settings):
    batch = make_batch(db, project, manager, metadata={"week": 3})
    assert batch.status == "staging" and batch.kind == "production"
    ids = add_tasks(db, project, manager, settings, [image_task(i) for i in range(3)], batch)
    assert {get_task(db, i).stage for i in ids} == {None}
    with db.write() as session:
        batch = batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=manager,
        )
        assert batch.status == "in_progress" and batch.finalized_at is not None
    assert {get_task(db, i).stage for i in ids} == {"label"}
    # Tasks added to a batch in progress are queued at once.
    (late,) = add_tasks(db, project, manager, settings, [image_task(9)], batch)
    assert get_task(db, late).stage == "label"
    with db.write() as session:
        again = batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=manager,
        )
        assert again.status == "in_progress"
        counts = batches.batch_counts(session=session, batch_ids=[batch.id])
    assert counts == {batch.id: {"pending": 4}}


def test_empty_batch_completes_when_finalized(db, manager, project, settings):
    batch = make_batch(db, project, manager)
    with db.write() as session:
        done = batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=manager,
        )
        assert done.status == "completed" and done.completed_at is not None


def test_batch_completes_when_its_last_task_is_done(db, manager, project, settings):
    batch = make_batch(db, project, manager)
    ids = add_tasks(db, project, manager, settings, [image_task(i) for i in range(2)], batch)
    with db.write() as session:
        batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=manager,
        )
    for task_id in ids:
        with db.write() as session:
            task_changes.cancel_task(
                session=session,
                task=session.get(models.Task, task_id),
                settings=settings,
                actor=manager,
            )
    with db.read() as session:
        assert session.get(models.Batch, batch.id).status == "completed"
        assert batches.batch_counts(session=session, batch_ids=[batch.id, "x" * 24]) == {
            batch.id: {"canceled": 2},
            "x" * 24: {},
        }
    with pytest.raises(Conflict) as caught:
        add_tasks(db, project, manager, settings, [image_task()], batch)
    assert caught.value.field == "batch"


def test_names_are_unique_per_sandbox_and_kinds_are_checked(db, manager, project):
    make_batch(db, project, manager, name="week-1")
    with pytest.raises(Conflict) as caught:
        make_batch(db, project, manager, name="week-1")
    assert caught.value.field == "name"
    with pytest.raises(ValueError):
        schemas.BatchCreate(name="x", kind="rush")


def test_a_batch_of_another_project_is_refused(db, manager, project, settings):
    other = make_project(db, manager, name="other")
    batch = make_batch(db, other, manager)
    with pytest.raises(Invalid) as caught:
        add_tasks(db, project, manager, settings, [image_task()], batch)
    assert caught.value.field == "batch"


def test_list_filters_and_counts_in_one_query(db, manager, project, settings):
    first = make_batch(db, project, manager, name="a")
    second = make_batch(db, project, manager, name="b")
    other = make_batch(db, make_project(db, manager, name="other"), manager, name="c")
    add_tasks(db, project, manager, settings, [image_task(i) for i in range(3)], first)
    add_tasks(db, project, manager, settings, [image_task(i) for i in range(2)], second)
    with db.write() as session:
        batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, second.id),
            settings=settings,
            actor=manager,
        )
    with db.read() as session:
        listed = batches.list_batches(
            session=session, mode="live", project_id=project.id, cursor=None, limit=10
        )
        assert [b.name for b in listed.items] == ["b", "a"]
        staging = batches.list_batches(
            session=session, mode="live", status="staging", cursor=None, limit=10
        )
        assert {b.name for b in staging.items} == {"a", "c"}
        with pytest.raises(Invalid):
            batches.list_batches(session=session, mode="live", status="done", cursor=None, limit=1)
        with statements(session.get_bind()) as ran:
            counts = batches.batch_counts(
                session=session, batch_ids=[first.id, second.id, other.id]
            )
    assert counts == {first.id: {"pending": 3}, second.id: {"pending": 2}, other.id: {}}
    assert len(ran) == 1


def test_batch_callback_urls_are_checked_by_shape_not_by_dns(db, manager, project, settings):
    with db.write() as session:
        project_row = session.get(models.Project, project.id)
        batch = batches.create_batch(
            session=session,
            project=project_row,
            batch_in=schemas.BatchCreate(
                name="called back", callback_url="http://www.example.invalid/callback"
            ),
            actor=manager,
            settings=settings,
        )
        assert batch.callback_url == "http://www.example.invalid/callback"
        with pytest.raises(Invalid) as caught:
            batches.create_batch(
                session=session,
                project=project_row,
                batch_in=schemas.BatchCreate(name="bad", callback_url="mailto:ops@x.test"),
                actor=manager,
                settings=settings,
            )
        assert caught.value.field == "callback_url"


# --- pause, resume, cancel ------------------------------------------------------------------


def _batch_row(db, batch_id):
    with db.read() as session:
        return session.get(models.Batch, batch_id)


def _change(db, settings, manager, batch, action):
    with db.write() as session:
        row = session.get(models.Batch, batch.id)
        if action == "pause":
            return batches.pause_batch(session=session, batch=row).status
        if action == "resume":
            return batches.resume_batch(
                session=session, batch=row, settings=settings, actor=manager
            ).status
        return batches.cancel_batch(session=session, batch=row, actor=manager)


def test_a_paused_batch_is_not_served_until_it_resumes(db, settings, manager, accounts):
    project = make_cat_project(db, manager)
    batch = make_batch(db, project, manager)
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(3)], batch)
    finalize(db, batch, settings, manager)
    first, second = (actor_for(accounts.make("labeler")) for _ in range(2))
    held = next_for(db, project.id, first)

    assert _change(db, settings, manager, batch, "pause") == "paused"
    assert _change(db, settings, manager, batch, "pause") == "paused"  # a retry is harmless
    assert next_for(db, project.id, second) is None
    parked = [get_task(db, i) for i in ids if i != held.task.id]
    assert [(t.stage, t.paused_stage) for t in parked] == [(None, "label")] * 2
    # Tasks added while paused wait with the others; the step being worked on is submitted.
    (late,) = add_tasks(db, project, manager, settings, [cat_task(9)], batch)
    assert (get_task(db, late).stage, get_task(db, late).paused_stage) == (None, "label")
    submit(db, settings, held, first)
    assert get_task(db, held.task.id).status == "completed"
    assert _batch_row(db, batch.id).status == "paused"  # not completed while tasks wait

    assert _change(db, settings, manager, batch, "resume") == "in_progress"
    assert _change(db, settings, manager, batch, "resume") == "in_progress"
    served = set()
    while (lease := next_for(db, project.id, second)) is not None:
        served.add(lease.task.id)
        submit(db, settings, lease, second)
    assert served == {t.id for t in parked} | {late}
    assert {get_task(db, i).paused_stage for i in [*ids, late]} == {None}
    assert _batch_row(db, batch.id).status == "completed"


def test_only_a_batch_in_progress_pauses_and_only_a_paused_one_resumes(
    db, settings, manager, project
):
    batch = make_batch(db, project, manager)
    with pytest.raises(Conflict) as caught:
        _change(db, settings, manager, batch, "pause")
    assert "staging" in caught.value.message and caught.value.field == "batch"
    with pytest.raises(Conflict):
        _change(db, settings, manager, batch, "resume")


def test_canceling_a_batch_cancels_its_waiting_tasks(db, settings, manager, accounts):
    project = make_cat_project(db, manager)
    batch = make_batch(db, project, manager)
    ids = add_tasks(db, project, manager, settings, [cat_task(i) for i in range(4)], batch)
    finalize(db, batch, settings, manager)
    labeler = actor_for(accounts.make("labeler"))
    held = next_for(db, project.id, labeler)
    _change(db, settings, manager, batch, "pause")  # parked tasks are canceled too

    assert _change(db, settings, manager, batch, "cancel") == 3
    assert _batch_row(db, batch.id).status == "canceled"
    assert _change(db, settings, manager, batch, "cancel") == 0
    waiting = [get_task(db, i) for i in ids if i != held.task.id]
    assert {(t.status, t.stage, t.paused_stage) for t in waiting} == {("canceled", None, None)}
    with db.read() as session:
        events = session.scalars(
            select(models.TaskEvent.action).where(
                models.TaskEvent.task_id.in_([t.id for t in waiting])
            )
        ).all()
    assert events == ["cancel"] * 3
    with pytest.raises(Conflict) as caught:
        add_tasks(db, project, manager, settings, [cat_task(9)], batch)
    assert caught.value.field == "batch"
    # The step someone was working on is still accepted; the batch stays canceled.
    submit(db, settings, held, labeler)
    assert get_task(db, held.task.id).status == "completed"
    assert _batch_row(db, batch.id).status == "canceled"


def test_a_completed_batch_cannot_be_canceled(db, settings, manager, project):
    batch = make_batch(db, project, manager)
    finalize(db, batch, settings, manager)
    assert _batch_row(db, batch.id).status == "completed"
    with pytest.raises(Conflict):
        _change(db, settings, manager, batch, "cancel")


def test_a_batch_opened_empty_waits_for_its_tasks(db, ctx, settings, manager, accounts):
    """Scale v2's batches that are not staging batches: in progress from the start, not
    completed while empty (neither at once nor by the periodic duty), done after its tasks."""
    project = make_cat_project(db, manager)
    batch = make_batch(db, project, manager)
    with db.write() as session:
        opened = batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=manager,
            complete_if_done=False,
        )
        assert opened.status == "in_progress"
    assert pipeline.complete_finished_batches(ctx) == 0
    assert _batch_row(db, batch.id).status == "in_progress"
    add_tasks(db, project, manager, settings, [cat_task(0)], batch)
    labeler = actor_for(accounts.make("labeler"))
    submit(db, settings, next_for(db, project.id, labeler), labeler)
    assert _batch_row(db, batch.id).status == "completed"


def test_what_comes_back_to_a_paused_batch_is_parked_again(db, ctx, settings, manager, accounts):
    """A lease held at pause time runs out: the task is free again in its stage, and the
    periodic duty takes it out of the queue until the batch resumes."""
    project = make_cat_project(db, manager)
    batch = make_batch(db, project, manager)
    (task_id,) = add_tasks(db, project, manager, settings, [cat_task(0)], batch)
    finalize(db, batch, settings, manager)
    first, second = (actor_for(accounts.make("labeler")) for _ in range(2))
    assert next_for(db, project.id, first).task.id == task_id
    _change(db, settings, manager, batch, "pause")
    assert get_task(db, task_id).stage == "label"  # held: left to its labeler
    with db.write() as session:
        session.execute(
            update(models.Task)
            .where(models.Task.id == task_id)
            .values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert batches.park_paused_batches(ctx) == 1
    assert (get_task(db, task_id).stage, get_task(db, task_id).paused_stage) == (None, "label")
    assert next_for(db, project.id, second) is None
    assert batches.park_paused_batches(ctx) == 0
    _change(db, settings, manager, batch, "resume")
    assert next_for(db, project.id, second).task.id == task_id


def test_two_creates_of_one_batch_name_at_once_are_one_batch_and_a_conflict(
    db, manager, project, dialect
):
    def create(session):
        return batches.create_batch(
            session=session,
            project=session.get(models.Project, project.id),
            batch_in=schemas.BatchCreate(name="same"),
            actor=manager,
        ).id

    _, second = while_writing(
        db, dialect, create, lambda: make_batch(db, project, manager, name="same")
    )
    assert isinstance(second.get("error"), Conflict) and second["error"].field == "name"

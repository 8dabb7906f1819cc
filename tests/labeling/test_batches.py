"""Batch services: lifecycle staging → in progress → completed, counts, names, filters."""

from __future__ import annotations

import pytest

from assay.core.errors import Conflict, Invalid
from assay.labeling import batches, models, schemas, task_changes
from tests.labeling.factories import (
    actor_for,
    add_tasks,
    get_task,
    image_task,
    make_batch,
    make_project,
    statements,
)


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

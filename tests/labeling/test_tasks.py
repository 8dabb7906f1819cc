"""Task services: bulk creation all or nothing, params and prelabels, lists, changes."""

from __future__ import annotations

import datetime as dt

import pytest

from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound, TooLarge
from assay.labeling import batches, models, projects, schemas, task_changes, tasks
from assay.labeling.annotations import validate_response
from tests.labeling.factories import (
    CATEGORY_TAXONOMY,
    PNG,
    SPAN_TAXONOMY,
    actor_for,
    add_tasks,
    box,
    get_task,
    image_task,
    make_batch,
    make_project,
    statements,
    upload,
)


@pytest.fixture
def manager(accounts):
    return actor_for(accounts.make("manager"))


@pytest.fixture
def project(db, manager):
    return make_project(db, manager)


def task_count(db) -> int:
    with db.read() as session:
        return session.query(models.Task).count()


def test_ten_thousand_tasks_in_one_call(db, manager, project, settings):
    tasks_in = [
        image_task(i, unique_id=f"u{i}", metadata={"n": i}, tags=["bulk"]) for i in range(10_000)
    ]
    ids = add_tasks(db, project, manager, settings, tasks_in)
    assert len(ids) == len(set(ids)) == 10_000
    with db.read() as session:
        assert (
            session.query(models.Task).filter_by(project_id=project.id, stage="label").count()
            == 10_000
        )
        task = tasks.get_task_by_unique_id(session=session, unique_id="u1234", mode="live")
    assert task.id == ids[1234] and task.metadata_ == {"n": 1234} and task.tags == ["bulk"]
    assert task.params["attachment"] == "https://example.test/1234.jpg"
    assert task.created_by == manager.user_id and task.status == "pending"


def test_one_bad_task_writes_nothing_and_is_named(db, manager, project, settings):
    tasks_in = [image_task(i) for i in range(10_000)]
    tasks_in[7345] = schemas.TaskCreate(params={"attachment": "ftp://example.test/x.jpg"})
    with pytest.raises(Invalid) as caught:
        add_tasks(db, project, manager, settings, tasks_in)
    assert caught.value.field == "tasks[7345].params.attachment"
    assert task_count(db) == 0


def test_duplicate_unique_ids_are_refused(db, manager, project, settings):
    with pytest.raises(Invalid) as caught:
        add_tasks(
            db,
            project,
            manager,
            settings,
            [
                image_task(0, unique_id="a"),
                image_task(1, unique_id="b"),
                image_task(2, unique_id="a"),
            ],
        )
    assert caught.value.field == "tasks[2].unique_id"
    (existing,) = add_tasks(db, project, manager, settings, [image_task(0, unique_id="a")])
    with pytest.raises(Conflict) as conflict:
        add_tasks(
            db,
            project,
            manager,
            settings,
            [image_task(1, unique_id="new"), image_task(2, unique_id="a")],
        )
    assert conflict.value.field == "tasks[1].unique_id" and existing in conflict.value.message
    assert task_count(db) == 1


def test_bulk_rows_read_back_exactly(db, manager, project, settings):
    odd = 'quote " backslash \\ tab \t newline \n accents é 中文 emoji \U0001f600'
    metadata = {"note": odd, "nested": {"list": [1, 2.5, None, True, -(2**40)]}}
    before = utcnow()
    ids = add_tasks(
        db,
        project,
        manager,
        settings,
        [
            image_task(0, unique_id="odd", metadata=metadata, tags=["b", "a", "b"]),
            image_task(1, prelabels={"annotations": [box(id="p1")]}, params={"caption": odd}),
            image_task(2, priority=7),
        ],
    )
    assert ids == sorted(ids) and len(set(ids)) == 3  # ids follow the order sent
    first, second, third = (get_task(db, task_id) for task_id in ids)
    assert first.metadata_ == metadata and first.tags == ["b", "a"] and first.unique_id == "odd"
    assert second.params["caption"] == odd and second.prelabels["annotations"][0]["id"] == "p1"
    assert first.prelabels is None and third.priority == 7 and third.callback_url is None
    assert first.created_at.tzinfo is not None and before <= first.created_at <= utcnow()
    assert first.updated_at == first.created_at and first.round == 0
    with db.read() as session:
        # No prelabels is SQL NULL, not JSON null; the JSON is what the database's JSON reads.
        no_prelabels = session.query(models.Task).filter(models.Task.prelabels.is_(None))
        assert no_prelabels.count() == 2
        found = tasks.list_tasks(
            session=session, mode="live", cursor=None, limit=10, metadata={"note": odd}, tags=["a"]
        )
        assert [task.id for task in found.items] == [ids[0]]


def test_bulk_create_runs_the_same_statements_for_ten_or_a_thousand_tasks(
    db, manager, project, settings
):
    counts = []
    for start, size in ((0, 10), (10, 1000)):
        with statements(db.engine) as seen:
            add_tasks(
                db,
                project,
                manager,
                settings,
                [image_task(i, unique_id=f"n{i}") for i in range(start, start + size)],
            )
        counts.append(len(seen))
    assert counts[0] == counts[1] and task_count(db) == 1010


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "tasks[0].params.attachment"),
        ({"attachment": 5}, "tasks[0].params.attachment"),
        ({"attachment": "not a url"}, "tasks[0].params.attachment"),
        ({"attachment": "blob:" + "a" * 64}, "tasks[0].params.attachment"),
        ({"attachment": "a" * 64}, "tasks[0].params.attachment"),
        ({"attachment": "https://x.test/a.jpg", "image_width": -3}, "tasks[0].params.image_width"),
    ],
)
def test_bad_params_are_named(db, manager, project, settings, params, field):
    with pytest.raises(Invalid) as caught:
        add_tasks(db, project, manager, settings, [schemas.TaskCreate(params=params)])
    assert caught.value.field == field


def test_attachments_may_be_uploaded_blobs(db, ctx, manager, project, settings):
    sha = upload(ctx, manager, PNG, "pixel.png")
    ids = add_tasks(
        db,
        project,
        manager,
        settings,
        [
            schemas.TaskCreate(params={"attachment": f"blob:{sha}"}),
            schemas.TaskCreate(params={"attachment": sha}),
        ],
    )
    assert [get_task(db, i).params["attachment"] for i in ids] == [f"blob:{sha}", sha]


def test_inline_text_and_required_params_per_task_type(db, manager, settings):
    categories = make_project(
        db, manager, name="cats", task_type="categorization", taxonomy=CATEGORY_TAXONOMY
    )
    add_tasks(db, categories, manager, settings, [schemas.TaskCreate(params={"text": "meow"})])
    with pytest.raises(Invalid) as caught:
        add_tasks(db, categories, manager, settings, [schemas.TaskCreate(params={})])
    assert caught.value.field == "tasks[0].params.attachment"
    spans = make_project(db, manager, name="ner", task_type="text_spans", taxonomy=SPAN_TAXONOMY)
    with pytest.raises(Invalid) as caught:
        add_tasks(db, spans, manager, settings, [schemas.TaskCreate(params={})])
    assert caught.value.field == "tasks[0].params.text"


def test_project_params_are_defaults(db, manager, settings):
    project = make_project(db, manager, params={"image_width": 640, "image_height": 480})
    (task_id,) = add_tasks(
        db,
        project,
        manager,
        settings,
        [schemas.TaskCreate(params={"attachment": "https://x.test/a.jpg", "image_height": 100})],
    )
    assert get_task(db, task_id).params == {
        "image_width": 640,
        "image_height": 100,
        "attachment": "https://x.test/a.jpg",
    }


@pytest.mark.parametrize(
    ("annotation", "field"),
    [
        (box(label="bus"), "tasks[0].prelabels.annotations[0].label"),
        (box(x=630), "tasks[0].prelabels.annotations[0].width"),
        (
            {"type": "polygon", "label": "car", "vertices": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]},
            "tasks[0].prelabels.annotations[0].vertices",
        ),
        (box(attributes={"occluded": 3}), "tasks[0].prelabels.annotations[0].attributes.occluded"),
    ],
)
def test_prelabels_are_checked(db, manager, project, settings, annotation, field):
    with pytest.raises(Invalid) as caught:
        add_tasks(
            db, project, manager, settings, [image_task(prelabels={"annotations": [annotation]})]
        )
    assert caught.value.field == field
    assert task_count(db) == 0


def test_prelabels_are_stored_normalized(db, manager, project, settings):
    (task_id,) = add_tasks(
        db, project, manager, settings, [image_task(prelabels={"annotations": [box(id="p1")]})]
    )
    prelabels = get_task(db, task_id).prelabels
    assert prelabels["annotations"][0]["id"] == "p1" and prelabels["links"] == []


def test_the_bulk_limit(db, manager, project, settings):
    small = settings.model_copy(update={"max_bulk_tasks": 3})
    with pytest.raises(TooLarge) as caught:
        add_tasks(db, project, manager, small, [image_task(i) for i in range(4)])
    assert caught.value.field == "tasks"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.test/hook",
        "www.example.com/callback",
        "http:///hook",
        "http://a b.test/",
        "http://u:p@x.test/",
    ],
)
def test_malformed_callback_urls_are_refused(db, manager, project, settings, url):
    with pytest.raises(Invalid) as caught:
        add_tasks(db, project, manager, settings, [image_task(callback_url=url)])
    assert caught.value.field == "tasks[0].callback_url"
    assert task_count(db) == 0


def test_callback_hosts_are_not_resolved_at_creation(db, manager, project, settings):
    """Where a callback leads is checked when it is delivered (and a failure is retried and
    logged): creating a task never depends on DNS or the deny list."""
    urls = ["http://www.example.invalid/callback", "https://169.254.169.254/hook"]
    ids = add_tasks(
        db, project, manager, settings, [image_task(i, callback_url=u) for i, u in enumerate(urls)]
    )
    assert [get_task(db, i).callback_url for i in ids] == urls


def test_test_keys_complete_at_once_with_a_valid_response(db, manager, settings):
    sandbox = actor_for_test(manager)
    project = make_project(db, sandbox, name="sandboxed")
    batch = make_batch(db, project, sandbox)
    ids = add_tasks(db, project, sandbox, settings, [image_task(i) for i in range(5)], batch)
    with db.read() as session:
        rules = projects.project_rules(session.get(models.Project, project.id))
    for task_id in ids:
        task = get_task(db, task_id)
        assert task.mode == "test" and task.status == "completed" and task.stage is None
        assert validate_response(rules.taxonomy, task.type, task.params, task.response)
    with db.write() as session:
        done = batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=sandbox,
        )
        assert done.status == "completed"
    with db.read() as session, pytest.raises(NotFound):
        tasks.get_task(session=session, task_id=ids[0], mode="live")


def actor_for_test(actor):
    from dataclasses import replace

    return replace(actor, mode="test")


def test_list_filters_one_query_per_page(db, manager, project, settings):
    other = make_project(db, manager, name="other")
    batch = make_batch(db, project, manager)
    first = add_tasks(
        db,
        project,
        manager,
        settings,
        [
            image_task(
                i, tags=["a", "b"] if i % 2 else ["a"], metadata={"i": i, "even": i % 2 == 0}
            )
            for i in range(6)
        ],
        batch,
    )
    add_tasks(db, other, manager, settings, [image_task(0, unique_id="elsewhere")])

    def ids(**filters):
        with db.read() as session:
            page = tasks.list_tasks(session=session, mode="live", cursor=None, limit=100, **filters)
            return [t.id for t in page.items]

    assert ids(project_id=project.id) == first[::-1]
    assert ids(batch_id=batch.id, tags=["b"]) == [first[5], first[3], first[1]]
    assert ids(project_id=project.id, tags=["a", "b"]) == [first[5], first[3], first[1]]
    assert ids(project_id=project.id, metadata={"i": 4}) == [first[4]]
    assert ids(project_id=project.id, metadata={"even": True, "i": 2}) == [first[2]]
    assert ids(project_id=project.id, metadata={"i": "4"}) == []
    assert ids(unique_id="elsewhere") != [] and ids(project_id=project.id, status="completed") == []
    assert ids(updated_after=utcnow() + dt.timedelta(minutes=1)) == []
    assert len(ids(updated_before=utcnow() + dt.timedelta(minutes=1))) == 7
    with pytest.raises(Invalid):
        ids(status="finished")
    with db.read() as session:
        with statements(session.get_bind()) as ran:
            page = tasks.list_tasks(
                session=session, mode="live", project_id=project.id, cursor=None, limit=4
            )
            [t.metadata_ for t in page.items]
        assert len(ran) == 1
        rest = tasks.list_tasks(
            session=session, mode="live", project_id=project.id, cursor=page.next_cursor, limit=4
        )
        assert [t.id for t in page.items + rest.items] == first[::-1] and rest.next_cursor is None


def test_cancel_audit_and_history(db, manager, project, settings):
    batch = make_batch(db, project, manager)
    task_id, other_id = add_tasks(
        db, project, manager, settings, [image_task(0, unique_id="u0"), image_task(1)], batch
    )
    with db.write() as session:
        batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=manager,
        )
        task = task_changes.cancel_task(
            session=session,
            task=session.get(models.Task, task_id),
            settings=settings,
            actor=manager,
            clear_unique_id=True,
        )
        assert task.status == "canceled" and task.stage is None and task.unique_id is None
        with pytest.raises(Conflict):
            task_changes.cancel_task(session=session, task=task, settings=settings, actor=manager)
        with pytest.raises(Conflict):
            task_changes.audit_task(
                session=session, task=task, actor=manager, accepted=True, comments=None
            )
        history = tasks.task_history(session=session, task=task)
    assert [(e.action, e.user_id, e.stage) for e in history] == [
        ("cancel", manager.user_id, "label")
    ]
    # The unique_id is free again.
    add_tasks(db, project, manager, settings, [image_task(0, unique_id="u0")])
    with db.write() as session:
        other = session.get(models.Task, other_id)
        other.status = "completed"
        event = task_changes.audit_task(
            session=session, task=other, actor=manager, accepted=False, comments="boxes too loose"
        )
    assert event.action == "audit_reject" and event.comments == [{"text": "boxes too loose"}]


def test_tags_metadata_and_unique_id_changes(db, manager, project, settings):
    task_id, _ = add_tasks(
        db,
        project,
        manager,
        settings,
        [image_task(0, tags=["a"]), image_task(1, unique_id="taken")],
    )
    with db.write() as session:
        task = session.get(models.Task, task_id)
        task_changes.add_tags(session=session, task=task, tags=["b", "a", "c"])
        assert task.tags == ["a", "b", "c"]
        task_changes.remove_tags(session=session, task=task, tags=["a", "zzz"])
        assert task.tags == ["b", "c"]
        task_changes.update_task(
            session=session,
            task=task,
            changes={"metadata": {"k": 1}, "tags": ["x"], "unique_id": "mine"},
        )
        with pytest.raises(Conflict) as caught:
            task_changes.set_unique_id(session=session, task=task, unique_id="taken")
        assert caught.value.field == "unique_id"
    task = get_task(db, task_id)
    assert (task.metadata_, task.tags, task.unique_id) == ({"k": 1}, ["x"], "mine")
    with db.write() as session:
        task_changes.update_task(
            session=session, task=session.get(models.Task, task_id), changes={"unique_id": None}
        )
    assert get_task(db, task_id).unique_id is None

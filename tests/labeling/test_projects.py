"""Project services: creation with checks, sandboxes, updates, instructions, members."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assay.core.errors import Conflict, Invalid, NotFound
from assay.labeling import models, projects, schemas
from tests.labeling.factories import (
    CATEGORY_TAXONOMY,
    actor_for,
    add_tasks,
    image_task,
    make_project,
    while_writing,
)


@pytest.fixture
def manager(accounts):
    return actor_for(accounts.make("manager"))


def test_create_fills_in_defaults_and_stores_version_one(db, manager):
    project = make_project(db, manager, name="Street scenes")
    assert project.task_type == "image" and project.mode == "live"
    assert project.pipeline["stages"] == [{"name": "label", "kind": "label", "sample_rate": 1.0}]
    assert project.instructions.startswith("# Street scenes")
    assert project.created_by == manager.user_id
    with db.read() as session:
        page = projects.list_instruction_versions(
            session=session, project=project, cursor=None, limit=10
        )
    assert [(v.version, v.body) for v in page.items] == [(1, project.instructions)]


def test_scale_task_type_names_are_accepted(db, manager):
    project = make_project(db, manager, task_type="imageannotation")
    assert project.task_type == "image"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"task_type": "painting"}, "task_type"),
        ({"taxonomy": {"labels": []}}, "taxonomy.labels"),
        ({"taxonomy": {"labels": [{"name": "car", "geometries": ["cube"]}]}}, "taxonomy.labels"),
        ({"taxonomy": {"labels": [{"name": "a"}, {"name": "a"}]}}, "taxonomy.labels"),
        ({"taxonomy": {"colours": []}}, "taxonomy.colours"),
        ({"pipeline": {"stages": [{"name": "review", "kind": "review"}]}}, "pipeline"),
        ({"pipeline": {"lease_seconds": 1}}, "pipeline.lease_seconds"),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(db, manager, changes, field):
    with pytest.raises(Invalid) as caught:
        make_project(db, manager, **changes)
    assert caught.value.field is not None and caught.value.field.startswith(field)
    with db.read() as session:
        assert session.query(models.Project).count() == 0


def test_names_are_unique_per_sandbox(db, manager):
    first = make_project(db, manager, name="same")
    with pytest.raises(Conflict) as caught:
        make_project(db, manager, name="same")
    assert caught.value.field == "name"
    sandboxed = make_project(db, actor_for_mode(manager, "test"), name="same")
    assert sandboxed.mode == "test" and sandboxed.id != first.id
    with db.read() as session:
        assert projects.get_project_by_name(session=session, name="same", mode="test").id == (
            sandboxed.id
        )
        with pytest.raises(NotFound):
            projects.get_project(session=session, project_id=first.id, mode="test")


def actor_for_mode(actor, mode):
    from dataclasses import replace

    return replace(actor, mode=mode)


def test_update_renames_and_replaces_taxonomy_and_params(db, manager):
    project = make_project(db, manager)
    make_project(db, manager, name="taken")
    with db.write() as session:
        project = session.get(models.Project, project.id)
        with pytest.raises(Conflict):
            projects.update_project(
                session=session,
                project=project,
                project_in=schemas.ProjectUpdate(name="taken"),
                actor=manager,
            )
    with db.write() as session:
        project = session.get(models.Project, project.id)
        before = projects.project_rules(project)
        updated = projects.update_project(
            session=session,
            project=project,
            project_in=schemas.ProjectUpdate(
                name="renamed",
                taxonomy={"labels": [{"name": "bus", "geometries": ["box"]}]},
                params={"image_width": 100},
                archived=True,
            ),
            actor=manager,
        )
        after = projects.project_rules(updated)
    assert updated.name == "renamed" and updated.archived and updated.params == {"image_width": 100}
    assert [label.name for label in after.taxonomy.labels] == ["bus"]
    assert before is not after
    assert projects.project_rules(updated) is after  # cached per version of the row


def test_pipeline_change_may_not_strand_waiting_tasks(db, manager, settings):
    two_stages = {
        "stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]
    }
    project = make_project(db, manager, pipeline=two_stages)
    add_tasks(db, project, manager, settings, [image_task()])
    with db.write() as session:
        session.query(models.Task).update({"stage": "review"})
    with db.write() as session, pytest.raises(Conflict) as caught:
        projects.update_project(
            session=session,
            project=session.get(models.Project, project.id),
            project_in=schemas.ProjectUpdate(pipeline={"max_rework_rounds": 1}),
            actor=manager,
        )
    assert caught.value.field == "pipeline.stages"


def test_instructions_are_versioned(db, manager):
    project = make_project(db, manager, instructions="v1 text")
    with db.write() as session:
        project = session.get(models.Project, project.id)
        version = projects.set_instructions(
            session=session, project=project, body="v2 text", actor=manager
        )
    assert version.version == 2
    with db.read() as session:
        project = session.get(models.Project, project.id)
        assert project.instructions == "v2 text" and project.instructions_version == 2
        page = projects.list_instruction_versions(
            session=session, project=project, cursor=None, limit=10
        )
    assert [(v.version, v.body) for v in page.items] == [(2, "v2 text"), (1, "v1 text")]


def test_members_and_member_scoped_lists(db, manager, accounts):
    labeler = accounts.make("labeler")
    mine = make_project(
        db, manager, name="mine", task_type="categorization", taxonomy=CATEGORY_TAXONOMY
    )
    make_project(db, manager, name="other")
    with db.write() as session:
        project = session.get(models.Project, mine.id)
        projects.set_member(
            session=session, project=project, user_id=labeler.user.id, role="labeler"
        )
        projects.set_member(
            session=session, project=project, user_id=labeler.user.id, role="reviewer"
        )
        with pytest.raises(NotFound) as caught:
            projects.set_member(session=session, project=project, user_id="0" * 24, role="labeler")
        assert caught.value.field == "user_id"
    with db.read() as session:
        assert (
            projects.membership(session=session, project_id=mine.id, user_id=labeler.user.id)
            == "reviewer"
        )
        members = projects.list_members(session=session, project=mine, cursor=None, limit=10)
        assert [(m.user_id, m.role) for m in members.items] == [(labeler.user.id, "reviewer")]
        visible = projects.list_projects(
            session=session, mode="live", cursor=None, limit=10, member_user_id=labeler.user.id
        )
        assert [p.name for p in visible.items] == ["mine"]
        everything = projects.list_projects(session=session, mode="live", cursor=None, limit=1)
        assert len(everything.items) == 1 and everything.next_cursor is not None
    with db.write() as session:
        project = session.get(models.Project, mine.id)
        projects.remove_member(session=session, project=project, user_id=labeler.user.id)
        with pytest.raises(NotFound):
            projects.remove_member(session=session, project=project, user_id=labeler.user.id)
    with db.read() as session:
        assert (
            projects.membership(session=session, project_id=mine.id, user_id=labeler.user.id)
            is None
        )


def _default_project() -> schemas.ProjectCreate:
    return schemas.ProjectCreate(
        name="Default categorization project",
        task_type="categorization",
        taxonomy=CATEGORY_TAXONOMY,
    )


def test_get_or_create_makes_one_project_and_then_finds_it(db, manager):
    refused = []
    with db.write() as session:
        made = projects.get_or_create_project(
            session=session, project_in=_default_project(), actor=manager
        )
    with db.write() as session:
        found = projects.get_or_create_project(
            session=session,
            project_in=_default_project(),
            actor=manager,
            may_create=lambda: refused.append("asked"),
        )
    assert found.id == made.id and refused == []  # the policy is asked only to create


def test_get_or_create_twice_at_once_makes_one_project(db, manager, dialect):
    """The second of two first calls waits on the first's uncommitted insert (PostgreSQL:
    the unique index; SQLite: the writer lock) and then reads its project."""

    def get_or_create(session):
        return projects.get_or_create_project(
            session=session, project_in=_default_project(), actor=manager
        ).id

    def in_its_own_transaction():
        with db.write() as session:
            return get_or_create(session)

    first_id, second = while_writing(db, dialect, get_or_create, in_its_own_transaction)
    assert second == {"result": first_id}
    with db.read() as session:
        named = session.scalars(
            select(models.Project).where(models.Project.name == _default_project().name)
        ).all()
    assert len(named) == 1

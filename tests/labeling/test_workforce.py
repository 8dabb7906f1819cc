"""Workforce services: groups and their members, labeler assignments, batches served only to
their groups, and batch priorities ordering the queue (checked through the queue API)."""

from __future__ import annotations

import pytest

from assay.core.errors import Conflict, Invalid, NotFound
from assay.labeling import batches, models, projects, workforce
from assay.labeling import workforce_schemas as schemas
from tests.labeling.factories import (
    actor_for,
    add_member,
    add_tasks,
    get_task,
    image_task,
    make_batch,
    make_project,
    statements,
)

API = "/api/v1"


@pytest.fixture
def manager(accounts):
    return actor_for(accounts.make("manager"))


@pytest.fixture
def project(db, manager):
    return make_project(db, manager)


def _project(session, project):
    return session.get(models.Project, project.id)


def create_group(db, project, name, emails):
    with db.write() as session:
        found = workforce.create_group(
            session=session,
            project=_project(session, project),
            group_in=schemas.WorkerGroupCreate(name=name, emails=emails),
        )
        return found.group


def update_group(db, project, group, **changes):
    with db.write() as session:
        return workforce.update_group(
            session=session,
            project=_project(session, project),
            group=session.get(models.WorkerGroup, group.id),
            group_in=schemas.WorkerGroupUpdate(**changes),
        )


def set_groups(db, batch, groups):
    with db.write() as session:
        workforce.set_batch_groups(
            session=session,
            batch=session.get(models.Batch, batch.id),
            groups=[session.get(models.WorkerGroup, g.id) for g in groups],
        )


def set_priorities(db, ordered, mode="live"):
    with db.write() as session:
        workforce.set_batch_priorities(
            session=session,
            mode=mode,
            ordered=[session.get(models.Batch, b.id) for b in ordered],
        )


def role_in(db, project, account):
    with db.read() as session:
        return projects.membership(session=session, project_id=project.id, user_id=account.user.id)


def running_batch(db, project, manager, settings, name, count=1, **extra):
    """A finalized batch of `count` tasks; returns (batch, task ids)."""
    batch = make_batch(db, project, manager, name, **extra)
    ids = add_tasks(db, project, manager, settings, [image_task(i) for i in range(count)], batch)
    with db.write() as session:
        batches.finalize_batch(
            session=session,
            batch=session.get(models.Batch, batch.id),
            settings=settings,
            actor=manager,
        )
    return batch, ids


def next_task(client, account, project):
    """The id of the task the queue leases to this person, or None (204)."""
    response = client.post(f"{API}/projects/{project.id}/queue/next", headers=account.headers)
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    return response.json()["task"]["id"]


def test_groups_hold_users_who_join_the_project_as_labelers(db, accounts, manager, project):
    ann, bob, boss = accounts.make("labeler"), accounts.make("labeler"), accounts.make("manager")
    add_member(db, project, boss, "manager")
    group = create_group(db, project, "night shift", [ann.user.email.upper(), boss.user.email])
    assert role_in(db, project, ann) == "labeler"
    assert role_in(db, project, boss) == "manager"  # members keep their role
    assert role_in(db, project, bob) is None

    changed = update_group(
        db,
        project,
        group,
        name="nights",
        add_emails=[bob.user.email],
        remove_emails=[ann.user.email],
    )
    assert changed.group.name == "nights"
    assert [u.email for u in changed.members] == sorted([bob.user.email, boss.user.email])
    assert role_in(db, project, bob) == "labeler"
    assert role_in(db, project, ann) == "labeler"  # out of the group, still in the project

    create_group(db, project, "days", [])
    with db.read() as session:
        listed = workforce.list_groups(session=session, project=_project(session, project))
    assert [(g.group.name, len(g.members)) for g in listed] == [("days", 0), ("nights", 2)]


def test_group_mistakes_name_the_field(db, accounts, manager, project):
    ann = accounts.make("labeler")
    group = create_group(db, project, "a", [ann.user.email])
    with pytest.raises(Conflict) as caught:
        create_group(db, project, "a", [])
    assert caught.value.field == "name"
    with pytest.raises(NotFound) as caught:
        create_group(db, project, "b", [ann.user.email, "nobody@example.test"])
    assert caught.value.field == "emails[1]"
    with pytest.raises(Invalid) as caught:
        update_group(
            db, project, group, add_emails=[ann.user.email], remove_emails=[ann.user.email]
        )
    assert caught.value.field == "remove_emails[0]"
    create_group(db, project, "c", [])
    with pytest.raises(Conflict) as caught:
        update_group(db, project, group, name="c")
    assert caught.value.field == "name"
    other = make_project(db, manager, name="other")
    with db.read() as session, pytest.raises(NotFound) as caught:
        workforce.get_group(session=session, project=_project(session, other), group_id=group.id)
    assert caught.value.field == "group_id"


def test_assignments_are_project_labeler_memberships(db, accounts, manager, project):
    idle, ann, boss = accounts.make("labeler"), accounts.make("labeler"), accounts.make("manager")
    second = make_project(db, manager, name="second")
    add_member(db, project, boss, "manager")
    group = create_group(db, project, "g", [])
    with db.write() as session:
        targets = [_project(session, project), _project(session, second)]
        users = workforce.users_by_email(
            session=session, emails=[ann.user.email, boss.user.email], field="emails"
        )
        workforce.add_assignments(session=session, projects_in=targets, users=users)
        assigned = workforce.list_assignments(session=session, mode="live")
    assert assigned[idle.user.email] == []  # every labeler is listed
    assert assigned[ann.user.email] == sorted([project.name, second.name])
    assert assigned[boss.user.email] == [second.name]  # a manager of `project` stays one
    assert role_in(db, project, boss) == "manager"
    update_group(db, project, group, add_emails=[ann.user.email])

    with db.write() as session:
        users = workforce.users_by_email(
            session=session, emails=[ann.user.email, boss.user.email], field="emails"
        )
        workforce.remove_assignments(
            session=session, projects_in=[_project(session, project)], users=users
        )
        assigned = workforce.list_assignments(session=session, mode="live")
        assert assigned[ann.user.email] == [second.name]
        assert (
            workforce.group_members(
                session=session, group=session.get(models.WorkerGroup, group.id)
            ).members
            == []
        )  # out of the project, out of its groups
        assert workforce.list_assignments(session=session, mode="test")[ann.user.email] == []
    assert role_in(db, project, boss) == "manager"


def test_a_batch_with_groups_is_served_only_to_their_members(
    client, db, accounts, manager, project, settings
):
    inside, outside = accounts.make("labeler"), accounts.make("labeler")
    add_member(db, project, outside, "labeler")
    group = create_group(db, project, "trusted", [inside.user.email])
    batch, (task_id,) = running_batch(db, project, manager, settings, "secret")
    set_groups(db, batch, [group])
    assert get_task(db, task_id).restricted is True

    assert next_task(client, outside, project) is None
    assert next_task(client, inside, project) == task_id
    # Tasks added later join the restriction: the outsider still gets nothing.
    (late,) = add_tasks(db, project, manager, settings, [image_task(7)], batch)
    assert get_task(db, late).restricted is True
    assert next_task(client, outside, project) is None

    set_groups(db, batch, [])
    assert get_task(db, late).restricted is False
    assert next_task(client, outside, project) == late


def test_deleting_a_group_lifts_the_restriction_only_when_no_group_is_left(
    db, accounts, manager, project, settings
):
    one, two = create_group(db, project, "one", []), create_group(db, project, "two", [])
    batch, (task_id,) = running_batch(db, project, manager, settings, "b")
    set_groups(db, batch, [one, two])
    with db.write() as session:
        workforce.delete_group(session=session, group=session.get(models.WorkerGroup, one.id))
    assert get_task(db, task_id).restricted is True
    with db.write() as session:
        workforce.delete_group(session=session, group=session.get(models.WorkerGroup, two.id))
        assert not workforce.batch_has_groups(session=session, batch_id=batch.id)
    assert get_task(db, task_id).restricted is False


def test_batch_priorities_order_the_queue(client, db, accounts, manager, project, settings):
    first, _ = running_batch(db, project, manager, settings, "first")
    middle, _ = running_batch(db, project, manager, settings, "middle")
    last, _ = running_batch(db, project, manager, settings, "last")
    # The oldest batch's task would be served first; a task priority loses to batch priority.
    (urgent,) = add_tasks(db, project, manager, settings, [image_task(5, priority=100)], middle)
    set_priorities(db, [last, first])
    assert get_task(db, urgent).batch_priority == 0
    (late,) = add_tasks(db, project, manager, settings, [image_task(6)], last)
    assert get_task(db, late).batch_priority == 2  # tasks added later take their batch's place

    served = []
    for _ in range(5):
        labeler = accounts.make("labeler")
        add_member(db, project, labeler, "labeler")
        with db.read() as session:
            served.append(session.get(models.Task, next_task(client, labeler, project)).batch_id)
    assert served == [last.id, last.id, first.id, middle.id, middle.id]


def test_setting_priorities_again_and_resetting(db, manager, project, settings):
    one, (a,) = running_batch(db, project, manager, settings, "one")
    two, (b,) = running_batch(db, project, manager, settings, "two", priority=7)
    assert get_task(db, b).batch_priority == 7  # a batch's own priority reaches its tasks
    set_priorities(db, [one])
    with db.read() as session:
        assert session.get(models.Batch, one.id).priority == 1
        assert session.get(models.Batch, two.id).priority == 0  # left out: after the list
    assert (get_task(db, a).batch_priority, get_task(db, b).batch_priority) == (1, 0)
    with db.write() as session:
        workforce.reset_batch_priorities(session=session, mode="live")
        listed = workforce.list_workforce_batches(session=session, mode="live")
    assert [item.batch.priority for item in listed] == [0, 0]
    assert get_task(db, a).batch_priority == 0


def test_batches_are_named_once_and_must_exist(db, manager, project):
    one = make_batch(db, project, manager, "one")
    with db.read() as session, pytest.raises(Invalid) as caught:
        workforce.batches_by_key(
            session=session, mode="live", keys=[one.id, one.id], by="id", field="batch_ids"
        )
    assert caught.value.field == "batch_ids[1]"
    with db.read() as session, pytest.raises(NotFound) as caught:
        workforce.batches_by_key(
            session=session, mode="test", keys=["one"], by="name", field="batches"
        )
    assert caught.value.field == "batches[0]"  # live batches are not in the test sandbox


def test_workforce_batches_count_tasks_in_a_fixed_number_of_queries(
    db, accounts, manager, project, settings
):
    group = create_group(db, project, "g", [])
    busy, ids = running_batch(db, project, manager, settings, "busy", count=3)
    running_batch(db, project, manager, settings, "quiet", count=1)
    set_groups(db, busy, [group])
    with db.write() as session:
        task = session.get(models.Task, ids[0])
        task.status, task.stage = "completed", None
    with db.read() as session, statements(db.engine) as seen:
        listed = workforce.list_workforce_batches(session=session, mode="live")
    by_name = {item.batch.name: item for item in listed}
    assert (by_name["busy"].total, by_name["busy"].completed) == (3, 1)
    assert [g.name for g in by_name["busy"].groups] == ["g"]
    assert (by_name["quiet"].total, by_name["quiet"].groups) == (1, [])
    assert len(seen) == 3
    for i in range(3):
        running_batch(db, project, manager, settings, f"more {i}", count=2)
    with db.read() as session, statements(db.engine) as seen:
        assert len(workforce.list_workforce_batches(session=session, mode="live")) == 5
    assert len(seen) == 3

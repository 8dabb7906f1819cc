"""The official `scaleapi` client's Studio calls against a real `assay serve`: labeler
assignments, project groups, batches assigned to groups and batch priorities."""

from __future__ import annotations

import httpx
import pytest
from scaleapi.exceptions import (
    ScaleDuplicateResource,
    ScaleException,
    ScaleInvalidRequest,
    ScaleResourceNotFound,
)
from scaleapi.studio import StudioBatch, StudioLabelerAssignment, StudioProjectGroup
from scaleapi.tasks import TaskType

pytestmark = pytest.mark.live

BOXES = {"geometries": {"box": {"objects_to_annotate": ["car"]}}}


def make_project(client, name):
    return client.create_project(name("studio/été & co?"), TaskType.ImageAnnotation, params=BOXES)


def running_batch(client, project, name, tasks=1):
    batch = client.create_batch(project.name, name("batch/1"))
    for i in range(tasks):
        client.create_task(
            TaskType.ImageAnnotation,
            project=project.name,
            batch=batch.name,
            attachment=f"https://example.com/{i}.jpg",
        )
    client.finalize_batch(batch.name)
    return batch


def next_task(server, account, project_id):
    response = httpx.post(
        f"{server.url}/api/v1/projects/{project_id}/queue/next",
        headers=account.headers,
        timeout=30,
    )
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    return response.json()["task"]["id"]


def test_assignments_list_add_and_remove(scale, manager, make_account, name):
    client = scale(manager.key)
    project = make_project(client, name)
    ann, idle = make_account("labeler"), make_account("labeler")

    assignments = client.list_studio_assignments()
    assert isinstance(assignments[ann.user.email], StudioLabelerAssignment)
    assert assignments[ann.user.email].assigned_projects == []
    added = client.add_studio_assignments([ann.user.email], [project.name])
    assert added[ann.user.email].assigned_projects == [project.name]
    assert added[ann.user.email].email == ann.user.email
    assert added[idle.user.email].assigned_projects == []
    assert client.list_studio_assignments()[ann.user.email].as_dict() == [project.name]

    removed = client.remove_studio_assignments([ann.user.email], [project.name])
    assert removed[ann.user.email].assigned_projects == []

    with pytest.raises(ScaleResourceNotFound):
        client.add_studio_assignments(["nobody@example.test"], [project.name])
    with pytest.raises(ScaleResourceNotFound):
        client.add_studio_assignments([ann.user.email], [name("no such project")])
    with pytest.raises(ScaleInvalidRequest):
        client.add_studio_assignments([ann.user.email], [])


def test_project_groups_create_list_and_update(scale, manager, make_account, name):
    client = scale(manager.key)
    project = make_project(client, name)
    ann, bob = make_account("labeler"), make_account("labeler")
    group_name = name("night/shift?")

    created = client.create_project_group(project.name, [ann.user.email], group_name)
    assert isinstance(created, StudioProjectGroup)
    assert (created.name, created.numWorkers, created.isSingleton) == (group_name, 1, False)
    assert created.as_dict()["workers"] == [{"id": ann.user.id, "email": ann.user.email}]
    # Joining a group makes the labeler part of the project.
    assert client.list_studio_assignments()[ann.user.email].assigned_projects == [project.name]

    listed = client.list_project_groups(project.name)
    assert [(g.id, g.name) for g in listed] == [(created.id, group_name)]

    updated = client.update_project_group(
        project.name, group_name, [bob.user.email], [ann.user.email]
    )
    assert updated.id == created.id and updated.numWorkers == 1
    assert [w["email"] for w in updated.as_dict()["workers"]] == [bob.user.email]
    emptied = client.update_project_group(project.name, group_name, [], [bob.user.email])
    assert emptied.numWorkers == 0 and emptied.workers == []

    with pytest.raises(ScaleDuplicateResource):
        client.create_project_group(project.name, [], group_name)
    with pytest.raises(ScaleResourceNotFound):
        client.update_project_group(project.name, name("no such group"), [], [])
    with pytest.raises(ScaleResourceNotFound):
        client.list_project_groups(name("no such project"))
    with pytest.raises(ScaleInvalidRequest):
        client.create_project_group(project.name, ["not an email"], name("g"))


def test_batches_assigned_to_groups_and_prioritised(scale, server, manager, make_account, name):
    client = scale(manager.key)
    project = make_project(client, name)
    project_id = project.as_dict()["id"]
    first = running_batch(client, project, name, tasks=2)
    second = running_batch(client, project, name)
    staging = client.create_batch(project.name, name("staging"))
    ours = {first.name, second.name, staging.name}

    listed = [b for b in client.list_studio_batches() if b.name in ours]
    assert [b.name for b in listed] == [first.name, second.name, staging.name]
    view = listed[0]
    assert isinstance(view, StudioBatch)
    assert (view.project_id, view.project_name) == (project_id, project.name)
    assert (view.batch_type, view.studio_priority) == ("Production", None)
    assert (view.total, view.completed, view.groups) == (2, 0, [])

    # Served only to the group: the outsider, also a labeler of the project, gets nothing.
    inside, outside = make_account("labeler"), make_account("labeler")
    client.add_studio_assignments([outside.user.email], [project.name])
    group = client.create_project_group(project.name, [inside.user.email], name("trusted"))
    for batch in (first, second):
        assigned = client.assign_studio_batches(batch.name, [group.name])
        assert assigned.groups == [group.name] and assigned.name == batch.name

    # The second batch first, then the first; the staging batch comes after them.
    ordered = client.set_studio_batches_priorities([second.name, first.name])
    mine = [b for b in ordered if b.name in ours]
    assert [(b.name, b.studio_priority) for b in mine] == [
        (second.name, 2),
        (first.name, 1),
        (staging.name, None),
    ]
    assert next_task(server, outside, project_id) is None
    served = next_task(server, inside, project_id)
    assert served in {
        t.id for t in client.get_tasks(project_name=project.name, batch_name=second.name)
    }

    cleared = client.assign_studio_batches(first.name, [])
    assert cleared.groups == []
    assert next_task(server, outside, project_id) is not None

    reset = [b for b in client.reset_studio_batches_priorities() if b.name in ours]
    assert [(b.name, b.studio_priority) for b in reset] == [
        (first.name, None),
        (second.name, None),
        (staging.name, None),
    ]

    with pytest.raises(ScaleResourceNotFound):
        client.assign_studio_batches(first.name, [name("no such group")])
    with pytest.raises(ScaleResourceNotFound):
        client.assign_studio_batches(name("no such batch"), [])
    with pytest.raises(ScaleResourceNotFound):
        client.set_studio_batches_priorities([first.name, name("no such batch")])
    with pytest.raises(ScaleInvalidRequest):
        client.set_studio_batches_priorities([first.name, first.name])
    with pytest.raises(ScaleInvalidRequest):
        client.api.post_request("studio/batches/set_priorities", {"batches": []})


def test_only_managers_use_studio(scale, manager, make_account, name):
    project = make_project(scale(manager.key), name)
    labeler = make_account("labeler")
    scale(manager.key).add_studio_assignments([labeler.user.email], [project.name])
    client = scale(labeler.key)
    calls = [
        client.list_studio_assignments,
        client.list_studio_batches,
        client.reset_studio_batches_priorities,
        lambda: client.list_project_groups(project.name),
        lambda: client.create_project_group(project.name, [], name("g")),
        lambda: client.add_studio_assignments([labeler.user.email], [project.name]),
        lambda: client.remove_studio_assignments([labeler.user.email], [project.name]),
        lambda: client.set_studio_batches_priorities([name("b")]),
    ]
    for call in calls:
        with pytest.raises(ScaleException) as caught:
            call()
        assert caught.value.code == 403 and "manager" in caught.value.message

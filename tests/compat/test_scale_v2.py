"""The official client's generated v2 code (`client.v2`), pointed at the server root."""

from __future__ import annotations

import pytest
from scaleapi.api_client.v2 import BatchStatus, TaskStatus
from scaleapi.api_client.v2.exceptions import ApiException
from scaleapi.tasks import TaskType

pytestmark = pytest.mark.live

IMAGE = "https://example.com/a.jpg"


@pytest.fixture
def setup(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(
        name("v2"), TaskType.Categorization, params={"categories": ["a", "b"]}
    )
    batch = client.create_batch(project.name, name("v2 batch"), metadata={"k": "v"})
    tasks = [
        client.create_task(
            TaskType.Categorization,
            project=project.name,
            batch=batch.name if i < 2 else None,
            attachment=IMAGE,
            metadata={"i": i},
        )
        for i in range(3)
    ]
    return client, project, batch, tasks


def test_v2_tasks(setup):
    client, project, batch, tasks = setup
    project_id = project.as_dict()["id"]
    batch_id = batch.as_dict()["id"]

    one = client.v2.get_task(task_id=tasks[0].id)
    assert one.task_id == tasks[0].id and one.status == TaskStatus.PENDING
    assert one.project.actual_instance == project_id
    assert one.batch.actual_instance == batch_id and one.metadata == {"i": 0}
    expanded = client.v2.get_task(task_id=tasks[0].id, expand=["project", "batch"])
    assert expanded.project.actual_instance.name == project.name
    assert expanded.batch.actual_instance.name == batch.name

    page = client.v2.get_tasks(project_id=project_id, limit=2)
    assert [t.task_id for t in page.tasks] == [tasks[2].id, tasks[1].id]
    assert page.next_token is not None
    rest = client.v2.get_tasks(project_id=project_id, limit=2, next_token=page.next_token)
    assert [t.task_id for t in rest.tasks] == [tasks[0].id] and rest.next_token is None

    every = list(client.v2_get_tasks(project_name=project.name, limit=1))
    assert [t.task_id for t in every] == [t.id for t in reversed(tasks)]
    in_batch = list(client.v2_get_tasks(batch_name=batch.name))
    assert {t.task_id for t in in_batch} == {tasks[0].id, tasks[1].id}
    assert list(client.v2_get_tasks(batch_id=batch_id, status=TaskStatus.COMPLETED)) == []

    with pytest.raises(ApiException) as caught:
        client.v2.get_task(task_id="0" * 24)
    assert caught.value.status == 404


def test_v2_batches_and_projects(setup, scale, manager, name):
    client, project, batch, _ = setup
    project_id = project.as_dict()["id"]
    other = client.create_batch(project.name, name("v2 second"))
    client.finalize_batch(other.name)

    by_name = client.v2.get_batch(batch_name=batch.name)
    assert by_name.id == batch.as_dict()["id"] and by_name.status == BatchStatus.STAGING
    assert by_name.metadata == {"k": "v"} and by_name.project.actual_instance == project_id
    by_id = client.v2.get_batch(batch_id=by_name.id, expand=["project"])
    assert by_id.project.actual_instance.name == project.name

    listed = client.v2.get_batches(project_name=project.name)
    assert [b.name for b in listed.batches] == [other.name, batch.name]
    completed = client.v2.get_batches(project_id=project_id, status=BatchStatus.COMPLETED)
    assert [b.name for b in completed.batches] == [other.name]
    first = client.v2.get_batches(project_id=project_id, limit=1)
    assert len(first.batches) == 1 and first.next_token is not None

    fetched = client.v2.get_project(project_name=project.name)
    assert fetched.id == project_id and fetched.types == ["categorization"]
    assert client.v2.get_project(project_id=project_id).name == project.name
    names = [p.name for p in client.v2.get_projects().projects]
    assert project.name in names
    newer = client.v2.get_projects(created_after=fetched.created_at).projects
    assert project.name not in [p.name for p in newer]

    with pytest.raises(ApiException) as caught:
        scale("live_" + "1" * 32).v2.get_projects()
    assert caught.value.status == 401
    assert '"status_code": 401' in caught.value.body or '"status_code":401' in caught.value.body

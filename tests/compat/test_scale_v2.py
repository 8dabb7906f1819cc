"""The official client's generated v2 code (`client.v2`), pointed at the server root: reads
and every write: batches (create, finalize, pause, resume, cancel, metadata), chat tasks and
task metadata."""

from __future__ import annotations

import pytest
from scaleapi.api_client.v2 import (
    BatchOperationRequest,
    BatchStatus,
    CreateBatchRequest,
    CreateChatTaskRequest,
    SetBatchMetadataRequest,
    SetTaskMetadataRequest,
    TaskStatus,
)
from scaleapi.api_client.v2.exceptions import ApiException
from scaleapi.exceptions import ScaleInvalidRequest
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


# --- writes -------------------------------------------------------------------------------


def test_v2_create_batch_finalize_and_metadata(setup, name):
    client, project, _, tasks = setup
    project_id = project.as_dict()["id"]
    staged = client.v2.create_batch(
        CreateBatchRequest(
            name=name("v2 staged"),
            project_name=project.name,
            callback="http://www.example.invalid/callback",
            staging_batch=True,
            metadata={"team": {"lead": "ada", "size": 3}},
        )
    )
    assert staged.status == BatchStatus.STAGING and staged.project.actual_instance == project_id
    assert staged.callback == "http://www.example.invalid/callback"
    # As the README's example: a batch that is not a staging batch is in progress at once.
    live = client.v2.create_batch(CreateBatchRequest(name=name("v2 live"), project_id=project_id))
    assert live.status == BatchStatus.IN_PROGRESS and live.metadata == {}
    with pytest.raises(ApiException) as caught:
        client.v2.create_batch(CreateBatchRequest(name=live.name, project_id=project_id))
    assert caught.value.status == 409
    with pytest.raises(ApiException) as caught:
        client.v2.create_batch(CreateBatchRequest(name=name("v2 nowhere")))
    assert caught.value.status == 400 and "project_id" in caught.value.body

    task = client.create_task(
        TaskType.Categorization, batch=staged.name, attachment=IMAGE, metadata={"i": 9}
    )
    finalized = client.v2.finalize_batch(BatchOperationRequest(batch_id=staged.id))
    assert finalized.status == BatchStatus.IN_PROGRESS and finalized.id == staged.id
    assert client.get_task(task.id).status == "pending"

    merged = client.v2.set_batch_metadata(
        SetBatchMetadataRequest(
            batch_name=staged.name, metadata={"team": {"size": 4}, "week": 2}, merge=True
        )
    )
    assert merged.metadata == {"team": {"lead": "ada", "size": 4}, "week": 2}
    replaced = client.v2.set_batch_metadata(
        SetBatchMetadataRequest(batch_id=staged.id, metadata={"only": True})
    )
    assert replaced.metadata == {"only": True}
    assert client.v2.get_batch(batch_id=staged.id).metadata == {"only": True}

    changed = client.v2.set_task_metadata(
        SetTaskMetadataRequest(task_id=tasks[0].id, metadata={"j": 1}, merge=True)
    )
    assert changed.task_id == tasks[0].id and changed.metadata == {"i": 0, "j": 1}
    assert client.get_task(tasks[0].id).metadata == {"i": 0, "j": 1}
    with pytest.raises(ApiException) as caught:
        client.v2.set_batch_metadata(SetBatchMetadataRequest(metadata={"x": 1}))
    assert caught.value.status == 400 and "batch_id" in caught.value.body
    with pytest.raises(ApiException) as caught:
        client.v2.finalize_batch(BatchOperationRequest(batch_name=name("missing")))
    assert caught.value.status == 404


def test_v2_pause_resume_and_cancel(setup, scale, make_account, name):
    client, project, batch, tasks = setup
    with pytest.raises(ApiException) as caught:  # a staging batch is not in progress
        client.v2.pause_batch(BatchOperationRequest(batch_name=batch.name))
    assert caught.value.status == 409
    client.v2.finalize_batch(BatchOperationRequest(batch_name=batch.name))

    paused = client.v2.pause_batch(BatchOperationRequest(batch_name=batch.name))
    assert paused.batch.status == BatchStatus.PAUSED and paused.message
    again = client.v2.pause_batch(BatchOperationRequest(batch_id=paused.batch.id))
    assert again.batch.status == BatchStatus.PAUSED
    listed = client.v2.get_batches(project_name=project.name, status=BatchStatus.PAUSED)
    assert [b.name for b in listed.batches] == [batch.name]
    resumed = client.v2.resume_batch(BatchOperationRequest(batch_name=batch.name))
    assert resumed.batch.status == BatchStatus.IN_PROGRESS and resumed.message

    stranger = scale(make_account("labeler").key)
    with pytest.raises(ApiException) as caught:
        stranger.v2.cancel_batch(BatchOperationRequest(batch_name=batch.name))
    assert caught.value.status == 404
    canceled = client.v2.cancel_batch(BatchOperationRequest(batch_name=batch.name))
    assert canceled.batch.status == BatchStatus.CANCELLED and "2" in canceled.message
    assert {client.get_task(t.id).status for t in tasks[:2]} == {"canceled"}
    assert client.get_task(tasks[2].id).status == "pending"  # not in the batch
    cancelled = client.v2.get_batches(project_name=project.name, status=BatchStatus.CANCELLED)
    assert [b.name for b in cancelled.batches] == [batch.name]
    with pytest.raises(ApiException) as caught:
        client.v2.resume_batch(BatchOperationRequest(batch_name=batch.name))
    assert caught.value.status == 409

    done = client.create_batch(project.name, name("v2 done"))
    client.finalize_batch(done.name)  # empty: completes at once
    with pytest.raises(ApiException) as caught:
        client.v2.cancel_batch(BatchOperationRequest(batch_name=done.name))
    assert caught.value.status == 409


def test_v2_create_chat_task(scale, manager, name):
    client = scale(manager.key)
    chat = client.create_project(
        name("v2 chat"),
        TaskType.Chat,
        params={"template_variables": {"prompt": "Explain quantum computing"}},
    )
    batch = client.create_batch(chat.name, name("v2 chat batch"))
    task = client.v2.create_chat_task(
        CreateChatTaskRequest(
            project_name=chat.name,
            batch_name=batch.name,
            template_variables={
                "prompt": "Explain quantum computing",
                "responses": ["Qubits.", "It is hard."],
            },
            metadata={"priority": "high", "source": "api"},
            callback_url="http://www.example.invalid/callback",
        )
    )
    assert task.status == TaskStatus.PENDING and task.metadata == {
        "priority": "high",
        "source": "api",
    }
    assert task.project.actual_instance == chat.as_dict()["id"]
    assert task.batch.actual_instance == batch.as_dict()["id"]
    v1 = client.get_task(task.task_id)
    assert v1.type == "chat" and v1.params["template_variables"]["responses"] == [
        "Qubits.",
        "It is hard.",
    ]
    assert client.get_project_template(chat.name).template_variables == {
        "prompt": "Explain quantum computing"
    }

    other = client.create_project(
        name("v2 not chat"), TaskType.Categorization, params={"categories": ["a"]}
    )
    with pytest.raises(ApiException) as caught:
        client.v2.create_chat_task(
            CreateChatTaskRequest(project_name=other.name, template_variables={"prompt": "x"})
        )
    assert caught.value.status == 400 and "chat" in caught.value.body
    with pytest.raises(ScaleInvalidRequest):
        client.get_project_template(other.name)  # as Scale: only text collection and chat

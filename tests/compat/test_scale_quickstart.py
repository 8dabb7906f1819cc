"""Scale's quick-start, as the official client's README writes it, against a real `assay
serve`: tasks created without a project (they go to a default project of their type) and a
callback URL whose host does not resolve (accepted; the delivery fails later, on the log)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from scaleapi.exceptions import ScaleDuplicateResource, ScaleInvalidRequest
from scaleapi.tasks import TaskType
from sqlalchemy import select

from assay.core import models as core_models

pytestmark = pytest.mark.live

# The README's example callback. Live tasks stay pending here, so nothing is sent to it.
EXAMPLE_CALLBACK = "http://www.example.com/callback"
# A host that never resolves (RFC 2606), for the task that does complete.
UNRESOLVABLE_CALLBACK = "http://www.example.invalid/callback"
DEFAULT_PROJECT = "Default imageannotation project"


def quickstart_payload(**changes):
    """The README's `create_task` example without its `project`, as Scale's quick-start."""
    payload = dict(
        callback_url=EXAMPLE_CALLBACK,
        instruction="Draw a box around each baby cow and big cow.",
        attachment_type="image",
        attachment="http://i.imgur.com/v4cBreD.jpg",
        unique_id=f"c235d023af73-{uuid.uuid4().hex[:8]}",
        geometries={
            "box": {
                "objects_to_annotate": ["Baby Cow", "Big Cow"],
                "min_height": 10,
                "min_width": 10,
            }
        },
    )
    payload.update(changes)
    return payload


def test_quickstart_tasks_without_a_project(scale, manager, name):
    client = scale(manager.key)
    payload = quickstart_payload()
    task = client.create_task(TaskType.ImageAnnotation, **payload)
    assert task.status == "pending" and task.project == DEFAULT_PROJECT
    assert task.callback_url == EXAMPLE_CALLBACK
    assert task.params["geometries"] == payload["geometries"]
    assert task.params["instruction"] == payload["instruction"]
    try:  # as the README does: a unique_id already used is a ScaleDuplicateResource
        client.create_task(TaskType.ImageAnnotation, **payload)
        raise AssertionError("a second task with the same unique_id was created")
    except ScaleDuplicateResource as err:
        assert task.id in err.message

    # The default project is a project like any other, with the task's labels.
    project = client.get_project(DEFAULT_PROJECT)
    assert project.type == "imageannotation"
    labels = project.as_dict()["taxonomy"]["labels"]
    assert {(label["name"], tuple(label["geometries"])) for label in labels} >= {
        ("Baby Cow", ("box",)),
        ("Big Cow", ("box",)),
    }
    assert DEFAULT_PROJECT in {p.name for p in client.projects()}
    # Another quick-start task goes to the same project; its new labels join the taxonomy.
    calf = client.create_task(
        TaskType.ImageAnnotation,
        **quickstart_payload(geometries={"polygon": {"objects_to_annotate": ["Calf"]}}),
    )
    assert calf.project == DEFAULT_PROJECT
    labels = client.get_project(DEFAULT_PROJECT).as_dict()["taxonomy"]["labels"]
    assert "Calf" in {label["name"] for label in labels}
    assert [p.name for p in client.projects()].count(DEFAULT_PROJECT) == 1

    # Reads, lists by project and unique id, tags, unique ids, metadata, cancel.
    assert client.get_task(task.id).project == DEFAULT_PROJECT
    mine = [task.unique_id, calf.unique_id]
    listed = list(client.get_tasks(project_name=DEFAULT_PROJECT, unique_id=mine))
    assert sorted(t.id for t in listed) == sorted([task.id, calf.id])
    assert client.get_tasks_count(project_name=DEFAULT_PROJECT, unique_id=mine) == 2
    assert task.id in {t.id for t in client.get_tasks(project_name=DEFAULT_PROJECT)}
    assert client.set_task_tags(task.id, ["tag1", "tag2", "tag3"]).tags == ["tag1", "tag2", "tag3"]
    assert client.add_task_tags(task.id, ["tag4"]).tags == ["tag1", "tag2", "tag3", "tag4"]
    assert client.delete_task_tags(task.id, ["tag1", "tag2"]).tags == ["tag3", "tag4"]
    tag = f"t{uuid.uuid4().hex[:8]}"
    task.set_tags([tag])
    assert [t.id for t in client.get_tasks(project_name=DEFAULT_PROJECT, tags=[tag])] == [task.id]
    new_id = name("new_unique_id")
    assert client.update_task_unique_id(task.id, new_id).unique_id == new_id
    assert client.clear_task_unique_id(task.id).unique_id is None
    assert client.set_task_metadata(task.id, {"myKey": "myValue"}).metadata == {"myKey": "myValue"}
    canceled = client.cancel_task(calf.id, clear_unique_id=True)
    assert canceled.status == "canceled" and canceled.unique_id is None

    # Batches: the README's create_batch (with its example callback) in the default project;
    # a task naming only the batch goes to the batch's project.
    batch = client.create_batch(
        project=DEFAULT_PROJECT, callback=EXAMPLE_CALLBACK, batch_name=name("batch_name")
    )
    assert batch.project == DEFAULT_PROJECT
    in_batch = client.create_task(
        TaskType.ImageAnnotation, **quickstart_payload(batch=batch.name, unique_id=None)
    )
    assert in_batch.project == DEFAULT_PROJECT and in_batch.batch == batch.name
    assert client.finalize_batch(batch.name).status == "in_progress"
    assert client.batch_status(batch.name)["pending"] == 1
    assert [t.id for t in client.get_tasks(batch_name=batch.name)] == [in_batch.id]


def test_a_task_type_without_its_labels_needs_a_project(scale, manager):
    client = scale(manager.key)
    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_task(TaskType.ImageAnnotation, attachment="https://example.com/a.jpg")
    assert "geometries" in caught.value.message
    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_task(TaskType.Categorization, attachment="https://example.com/a.jpg")
    assert "categories" in caught.value.message
    # Scale's categorization quick-start names its categories: it needs no project.
    made = client.create_task(
        TaskType.Categorization,
        instruction="Is this company public or private?",
        attachment_type="website",
        attachment="http://www.google.com/",
        categories=["public", "private"],
        callback_url=EXAMPLE_CALLBACK,
    )
    assert made.project == "Default categorization project"


def test_a_malformed_callback_url_is_refused_naming_it(scale, manager):
    client = scale(manager.key)
    for url in ("www.example.com/callback", "ftp://example.com/callback", "http://"):
        with pytest.raises(ScaleInvalidRequest) as caught:
            client.create_task(TaskType.ImageAnnotation, **quickstart_payload(callback_url=url))
        assert "callback_url" in caught.value.message


def test_an_unresolvable_callback_fails_on_the_delivery_log(scale, manager, module_accounts):
    """A test-key task completes at once: its callback to a host that does not resolve is
    queued, tried, and recorded as a failed attempt (retried), not lost and not a 500."""
    sandbox = scale(manager.test_key)
    task = sandbox.create_task(
        TaskType.ImageAnnotation, **quickstart_payload(callback_url=UNRESOLVABLE_CALLBACK)
    )
    assert task.status == "completed" and task.project == DEFAULT_PROJECT
    sandbox.audit_task(task.id, False, "Rejected due to quality")
    task.audit(True)
    audits = sandbox.get_task(task.id).audits
    assert [(a["accepted"], a["comments"]) for a in audits] == [
        (False, "Rejected due to quality"),
        (True, None),
    ]

    deadline = time.monotonic() + 30
    while True:
        with module_accounts.db.read() as session:
            delivery = session.scalars(
                select(core_models.WebhookDelivery).where(
                    core_models.WebhookDelivery.url == UNRESOLVABLE_CALLBACK,
                    core_models.WebhookDelivery.payload["task_id"].as_string() == task.id,
                )
            ).one_or_none()
            attempts = (
                session.scalars(
                    select(core_models.WebhookAttempt).where(
                        core_models.WebhookAttempt.delivery_id == delivery.id
                    )
                ).all()
                if delivery is not None
                else []
            )
        if attempts or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert delivery is not None, "the task's callback was never queued"
    assert attempts, "the callback was never tried"
    assert delivery.status != "succeeded" and delivery.delivered_at is None
    assert all(a.status_code is None and a.error for a in attempts)


def test_first_tasks_of_a_type_at_once_share_one_default_project(scale, manager):
    client = scale(manager.key)
    start = threading.Barrier(4)

    def create(i: int) -> str:
        start.wait(10)
        task = client.create_task(
            TaskType.PolygonAnnotation,
            attachment="https://example.com/field.jpg",
            objects_to_annotate=[f"plot {i}"],
        )
        return task.project

    with ThreadPoolExecutor(4) as pool:
        names = set(pool.map(create, range(4)))
    assert names == {"Default polygonannotation project"}
    assert [p.name for p in client.projects()].count("Default polygonannotation project") == 1
    labels = client.get_project("Default polygonannotation project").as_dict()["taxonomy"]
    assert {label["name"] for label in labels["labels"]} == {f"plot {i}" for i in range(4)}

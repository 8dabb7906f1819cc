"""The official `scaleapi` client, unchanged, against a real `assay serve`: projects, batches,
teams, files and error mapping."""

from __future__ import annotations

import io

import pytest
from scaleapi.batches import BatchStatus
from scaleapi.exceptions import (
    ScaleDuplicateResource,
    ScaleException,
    ScaleInvalidRequest,
    ScaleResourceNotFound,
    ScaleUnauthorized,
)
from scaleapi.tasks import TaskType
from scaleapi.teams import TeammateRole

pytestmark = pytest.mark.live

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
BOXES = {"geometries": {"box": {"objects_to_annotate": ["car", "bus"]}}}


def test_projects_create_get_list_and_set_params(scale, manager, name):
    client = scale(manager.key)
    project_name = name("streets/été & co?")  # a name that must be URL-quoted
    created = client.create_project(
        project_name,
        TaskType.ImageAnnotation,
        params={"instruction": "Box every car", **BOXES},
        rapid=True,
        studio=False,
    )
    assert created.name == project_name and created.type == "imageannotation"
    assert created.version == 1 and created.instruction == "Box every car"
    assert created.params["geometries"] == BOXES["geometries"]

    fetched = client.get_project(project_name)
    assert fetched.as_dict()["id"] == created.as_dict()["id"]
    assert project_name in [p.name for p in client.get_projects()]
    assert [p.name for p in client.projects()] == [p.name for p in client.get_projects()]

    updated = client.update_project(
        project_name,
        instruction="Box every car and bus",
        geometries={"polygon": {"objects_to_annotate": ["road"]}},
        padding=10,
    )
    assert updated.instruction == "Box every car and bus" and updated.version == 2
    assert updated.params["padding"] == 10
    labels = {lb["name"]: lb["geometries"] for lb in updated.as_dict()["taxonomy"]["labels"]}
    assert labels == {"car": ["box"], "bus": ["box"], "road": ["polygon"]}
    assert client.get_project(project_name).instruction == "Box every car and bus"
    # The README's update: `patch=False` replaces the params instead of merging into them.
    replaced = client.update_project(
        project_name=project_name, patch=False, instruction="update: Please label all the stuff"
    )
    assert replaced.instruction == "update: Please label all the stuff"
    assert "patch" not in replaced.params and "padding" not in replaced.params
    assert "geometries" not in replaced.params
    assert {lb["name"] for lb in replaced.as_dict()["taxonomy"]["labels"]} == set(labels)

    assert [s["kind"] for s in created.as_dict()["pipeline"]["stages"]] == ["label"]
    reviewed = client.create_project(
        name("reviewed"), TaskType.Categorization, params={"pipeline": "standard_task_review"}
    )
    assert [s["kind"] for s in reviewed.as_dict()["pipeline"]["stages"]] == ["label", "review"]

    with pytest.raises(ScaleDuplicateResource):
        client.create_project(project_name, TaskType.ImageAnnotation)
    with pytest.raises(ScaleResourceNotFound):
        client.get_project(name("missing"))


def test_project_without_labels_gets_them_from_its_first_task(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(
        name("kittens"), TaskType.ImageAnnotation, params={"instruction": "Label the kittens"}
    )
    client.create_task(
        TaskType.ImageAnnotation,
        project=project.name,
        attachment="https://example.com/kitten.jpg",
        geometries={"box": {"objects_to_annotate": ["kitten"]}},
    )
    labels = client.get_project(project.name).as_dict()["taxonomy"]["labels"]
    assert [lb["name"] for lb in labels] == ["kitten"]


def test_test_keys_have_their_own_sandbox(scale, manager, name):
    project_name = name("sandboxed")
    scale(manager.test_key).create_project(project_name, TaskType.Categorization)
    assert project_name in [p.name for p in scale(manager.test_key).projects()]
    assert project_name not in [p.name for p in scale(manager.key).projects()]
    with pytest.raises(ScaleResourceNotFound):
        scale(manager.key).get_project(project_name)


def test_batches_lifecycle_kinds_status_and_metadata(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(name("batches"), TaskType.ImageAnnotation, params=BOXES)
    batch = client.create_batch(project.name, name("week 1/2"), metadata={"week": 1})
    assert batch.status == "staging" and batch.project == project.name
    assert batch.metadata == {"week": 1}
    calibration = client.create_batch(project.name, name("calib"), calibration_batch=True)
    self_label = client.create_batch(project.name, name("self"), self_label_batch=True)
    assert calibration.as_dict()["calibration_batch"] is True
    assert self_label.as_dict()["self_label_batch"] is True
    assert batch.as_dict()["calibration_batch"] is False

    for i in range(3):
        client.create_task(
            TaskType.ImageAnnotation,
            project=project.name,
            batch=batch.name,
            attachment=f"https://example.com/{i}.jpg",
        )
    status = batch.get_status()
    assert status["status"] == "staging" and batch.tasks_pending == 3
    assert batch.tasks_completed == 0

    finalized = client.finalize_batch(batch.name)
    assert finalized.status == "in_progress"
    assert client.get_batch(batch.name).status == "in_progress"
    assert client.batch_status(batch.name)["pending"] == 3
    # An empty batch completes as soon as it is finalized.
    assert calibration.finalize().status == "completed"

    changed = client.set_batch_metadata(batch.name, {"week": 2, "owner": "ops"})
    assert changed.metadata == {"week": 2, "owner": "ops"}
    assert client.get_batch(batch.name).metadata == {"week": 2, "owner": "ops"}

    with pytest.raises(ScaleDuplicateResource):
        client.create_batch(project.name, batch.name)
    with pytest.raises(ScaleResourceNotFound):
        client.create_batch(name("no such project"), name("b"))
    with pytest.raises(ScaleResourceNotFound):
        client.get_batch(name("no such batch"))


def test_batch_lists_filter_and_page_by_offset(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(name("many batches"), TaskType.Categorization)
    other = client.create_project(name("other"), TaskType.Categorization)
    names = [client.create_batch(project.name, name(f"b{i}")).name for i in range(5)]
    client.create_batch(other.name, name("elsewhere"))
    client.finalize_batch(names[0])  # no tasks: completes at once

    page = client.batches(project=project.name, limit=2)
    assert page.total == 5 and page.limit == 2 and page.has_more is True
    assert [b.name for b in page.docs] == names[::-1][:2]
    last = client.batches(project=project.name, limit=2, offset=4)
    assert [b.name for b in last.docs] == [names[0]] and last.has_more is False

    every = list(client.get_batches(project_name=project.name))
    assert sorted(b.name for b in every) == sorted(names)
    completed = list(
        client.get_batches(project_name=project.name, batch_status=BatchStatus.Completed)
    )
    assert [b.name for b in completed] == [names[0]]
    staging = client.batches(project=project.name, status="staging")
    assert staging.total == 4

    created = client.get_batch(names[2]).created_at
    newer = list(client.get_batches(project_name=project.name, created_after=created))
    assert {b.name for b in newer} <= set(names[2:]) and names[4] in {b.name for b in newer}
    older = list(client.get_batches(project_name=project.name, created_before=created))
    assert {b.name for b in older} == set(names[:2])


def test_teams_list_invite_and_change_roles(scale, make_account, name):
    admin = make_account("admin")
    client = scale(admin.key)
    emails = [f"{name('new').replace(' ', '-')}@example.test" for _ in range(2)]
    invited = client.invite_teammates(emails, TeammateRole.Labeler)
    assert sorted(t.email for t in invited) == sorted(emails)
    assert {t.role for t in invited} == {"labeler"}
    team = {t.email: t.role for t in client.list_teammates()}
    assert team[emails[0]] == "labeler" and team[admin.user.email] == "admin"

    changed = client.update_teammates_role([emails[0]], TeammateRole.Member)
    assert [(t.email, t.role) for t in changed] == [(emails[0], "member")]
    promoted = invited[1].update_teammate_role(TeammateRole.Manager)
    assert promoted[0].role == "manager"
    team = {t.email: t.role for t in client.list_teammates()}
    assert team[emails[0]] == "member" and team[emails[1]] == "manager"

    with pytest.raises(ScaleInvalidRequest):
        client.api.post_request("teams/set_role", {"emails": [emails[0]], "team_role": "owner"})


def test_upload_and_import_files_as_task_attachments(scale, manager, name, file_server):
    client = scale(manager.key)
    uploaded = client.upload_file(io.BytesIO(PNG), display_name="pixel.png")
    assert uploaded.attachment_url == f"blob:{uploaded.id}"
    assert uploaded.as_dict()["mime_type"] == "image/png"
    assert uploaded.as_dict()["display_name"] == "pixel.png"

    base_url, root = file_server
    (root / "photo.png").write_bytes(PNG)
    imported = client.import_file(f"{base_url}/photo.png", project_name="anything")
    assert imported.id == uploaded.id  # same bytes, same blob
    with pytest.raises(ScaleInvalidRequest):
        client.import_file(f"{base_url}/missing.png")
    with pytest.raises(ScaleInvalidRequest):
        client.import_file("ftp://example.com/file.png")

    project = client.create_project(name("files"), TaskType.ImageAnnotation, params=BOXES)
    task = client.create_task(
        TaskType.ImageAnnotation, project=project.name, attachment=uploaded.attachment_url
    )
    assert task.params["attachment"] == uploaded.attachment_url
    with pytest.raises(ScaleInvalidRequest):
        client.create_task(
            TaskType.ImageAnnotation, project=project.name, attachment="blob:" + "0" * 64
        )


def test_errors_map_to_the_clients_exceptions(scale, manager, name):
    with pytest.raises(ScaleUnauthorized):
        scale("live_" + "0" * 32).projects()
    client = scale(manager.key)
    with pytest.raises(ScaleInvalidRequest):
        client.create_project(name("p"), TaskType.ImageAnnotation, params={"geometries": "box"})
    with pytest.raises(ScaleResourceNotFound):
        client.get_task("0" * 24)
    with pytest.raises(ScaleResourceNotFound):
        client.finalize_batch(name("nothing"))
    with pytest.raises(ScaleInvalidRequest):
        client.api.post_request("projects", {"type": "lidarannotation", "name": name("p")})


def test_roles_are_enforced_with_scales_error_shape(scale, make_account, name):
    labeler = make_account("labeler")
    with pytest.raises(ScaleException) as caught:
        scale(labeler.key).create_project(name("p"), TaskType.Categorization)
    assert caught.value.code == 403 and "manager" in caught.value.message
    manager = make_account("manager")
    with pytest.raises(ScaleException) as caught:
        scale(manager.key).invite_teammates(["x@example.test"], TeammateRole.Labeler)
    assert caught.value.code == 403

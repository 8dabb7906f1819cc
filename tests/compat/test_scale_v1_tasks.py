"""The official `scaleapi` client, unchanged, against a real `assay serve`: tasks of every
Scale type that maps to a native one, lists with filters and pages, and task changes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from scaleapi.exceptions import (
    ScaleDuplicateResource,
    ScaleInvalidRequest,
    ScaleResourceNotFound,
)
from scaleapi.tasks import TaskReviewStatus, TaskStatus, TaskType

from tests.support.receiver import Receiver

pytestmark = pytest.mark.live

IMAGE = "https://example.com/street.jpg"
NER_TEXT = "Ada Lovelace worked with Charles Babbage in London."


def check_boxes(response: dict, params: dict) -> None:
    boxes = [a for a in response["annotations"] if a["type"] == "box"]
    assert boxes, response
    for box in boxes:
        assert {"left", "top", "width", "height", "uuid", "label"} <= box.keys()
        assert "x" not in box and box["label"] in ("car", "bus")


def check_vertices(kind: str, minimum: int) -> Callable[[dict, dict], None]:
    def check(response: dict, params: dict) -> None:
        shapes = response["annotations"]
        assert shapes and {a["type"] for a in shapes} == {kind}
        assert all(len(a["vertices"]) >= minimum for a in shapes)
        assert all({"x", "y"} == v.keys() for a in shapes for v in a["vertices"])

    return check


def check_points(response: dict, params: dict) -> None:
    assert response["annotations"]
    assert all(a["type"] == "point" and {"x", "y"} <= a.keys() for a in response["annotations"])


def check_cuboids(response: dict, params: dict) -> None:
    for cuboid in response["annotations"]:
        corners = {v["description"] for v in cuboid["vertices"]}
        assert corners == {
            "face-topleft",
            "face-bottomleft",
            "face-topright",
            "face-bottomright",
            "side-topcorner",
            "side-bottomcorner",
        }
    assert response["annotations"]


def check_segments(response: dict, params: dict) -> None:
    assert set(response["labelMapping"]) <= {"sky", "tree"}
    assert response["annotations"] and all("rle" in a for a in response["annotations"])


def check_category(response: dict, params: dict) -> None:
    assert response["category"] in ("positive", "negative")


def check_taxonomies(response: dict, params: dict) -> None:
    chosen = response["taxonomies"]["animal"]
    assert len(chosen) == 1 and chosen[0] in ("cat", "dog")


def check_entities(response: dict, params: dict) -> None:
    assert response["annotations"]
    for entity in response["annotations"]:
        assert entity["label"] in ("PER", "LOC")
        assert entity["text"] == NER_TEXT[entity["start"] : entity["end"]]


def check_fields(response: dict, params: dict) -> None:
    assert response["fields"] and all(isinstance(v, str) for v in response["fields"].values())


def check_document(response: dict, params: dict) -> None:
    assert response["annotations"]
    assert all(a["type"] == "text" and isinstance(a["text"], str) for a in response["annotations"])


def check_collection(response: dict, params: dict) -> None:
    assert isinstance(response.get("rating"), int | float) and 1 <= response["rating"] <= 5


def check_tracks(response: dict, params: dict) -> None:
    tracks = response["annotations"]
    assert tracks
    for track in tracks.values():
        assert track["label"] == "car" and track["frames"]
        assert all({"key", "left", "top", "width", "height"} <= f.keys() for f in track["frames"])


def check_ratings(response: dict, params: dict) -> None:
    assert response["ratings"] and all(1 <= r["value"] <= 5 for r in response["ratings"])


def check_choice(response: dict, params: dict) -> None:
    assert response["choice"] in ("a", "b", "tie", "both_good", "both_bad")


FRAMES = [f"https://example.com/frame{i}.jpg" for i in range(5)]
# (Scale type, project params, task params, check of the synthetic response's Scale shape)
CASES: list[tuple[TaskType, dict[str, Any], dict[str, Any], Callable[[dict, dict], None]]] = [
    (
        TaskType.ImageAnnotation,
        {},
        {
            "attachment": IMAGE,
            "geometries": {"box": {"objects_to_annotate": ["car", "bus"], "min_width": 4}},
            "annotation_attributes": {"occluded": {"type": "category", "choices": ["y", "n"]}},
        },
        check_boxes,
    ),
    (
        TaskType.PolygonAnnotation,
        {"objects_to_annotate": ["lake"]},
        {"attachment": IMAGE},
        check_vertices("polygon", 3),
    ),
    (
        TaskType.LineAnnotation,
        {},
        {"attachment": IMAGE, "objects_to_annotate": ["lane"]},
        check_vertices("line", 2),
    ),
    (
        TaskType.PointAnnotation,
        {},
        {"attachment": IMAGE, "objects_to_annotate": ["light"]},
        check_points,
    ),
    (
        TaskType.CuboidAnnotation,
        {},
        {"attachment": IMAGE, "objects_to_annotate": ["truck"]},
        check_cuboids,
    ),
    (
        TaskType.SegmentAnnotation,
        {},
        {"attachment": IMAGE, "labels": ["sky", "tree"], "image_width": 8, "image_height": 6},
        check_segments,
    ),
    (
        TaskType.Categorization,
        {"categories": ["positive", "negative"]},
        {"attachment": "The film was great", "attachment_type": "text"},
        check_category,
    ),
    (
        TaskType.Categorization,
        {},
        {
            "attachment": IMAGE,
            "attachment_type": "image",
            "taxonomies": {"animal": {"type": "category", "choices": ["cat", "dog"]}},
        },
        check_taxonomies,
    ),
    (
        TaskType.NamedEntityRecognition,
        {"labels": [{"name": "PER"}, {"name": "LOC"}]},
        {"text": NER_TEXT},
        check_entities,
    ),
    (
        TaskType.Transcription,
        {},
        {"attachment": IMAGE, "fields": {"title": "The title"}},
        check_fields,
    ),
    (TaskType.DocumentTranscription, {}, {"attachment": IMAGE}, check_document),
    (
        TaskType.TextCollection,
        {},
        {
            "attachments": [{"type": "text", "content": "Rate this paragraph."}],
            "fields": [
                {"type": "text", "field_id": "summary", "title": "Summary"},
                {"type": "number", "field_id": "rating", "min": 1, "max": 5, "required": True},
            ],
        },
        check_collection,
    ),
    (
        TaskType.VideoAnnotation,
        {},
        {"attachments": FRAMES, "geometries": {"box": {"objects_to_annotate": ["car"]}}},
        check_tracks,
    ),
    (
        TaskType.VideoBoxAnnotation,
        {"geometries": {"box": {"objects_to_annotate": ["car"]}}},
        {"attachments": FRAMES},
        check_tracks,
    ),
    (
        TaskType.VideoPlaybackAnnotation,
        {"geometries": {"box": {"objects_to_annotate": ["car"]}}},
        {"attachment": "https://example.com/clip.mp4", "frame_count": 30},
        check_tracks,
    ),
    (
        TaskType.Chat,
        {},
        {"template_variables": {"prompt": "Say hi", "responses": ["Hi!", "Hello."]}},
        check_ratings,
    ),
    (
        TaskType.Comparison,
        {},
        {
            "attachments": [
                {"type": "text", "content": "Answer one"},
                {"type": "text", "content": "Answer two"},
            ]
        },
        check_choice,
    ),
]


@pytest.mark.parametrize(
    ("task_type", "project_params", "task_params", "check"),
    CASES,
    ids=[f"{case[0].value}-{i}" for i, case in enumerate(CASES)],
)
def test_every_task_type_in_scale_shapes(
    scale, manager, name, task_type, project_params, task_params, check
):
    # Test keys: the task completes at once with a synthetic response.
    sandbox = scale(manager.test_key)
    project = sandbox.create_project(name("typed"), task_type, params=project_params)
    task = sandbox.create_task(
        task_type, project=project.name, unique_id=name("u"), metadata={"n": 1}, **task_params
    )
    assert task.type == task_type.value and task.status == "completed" and task.is_test
    assert task.project == project.name and task.metadata == {"n": 1}
    for key, value in task_params.items():
        assert task.params[key] == value, key
    assert "scale_type" not in task.params and "scale_added" not in task.params
    check(task.response, task.params)
    fetched = sandbox.get_task(task.id)
    assert fetched.as_dict() == task.as_dict()

    # Live keys: the same task waits for a person.
    live = scale(manager.key)
    live_project = live.create_project(name("typed live"), task_type, params=project_params)
    pending = live.create_task(task_type, project=live_project.name, **task_params)
    assert pending.status == "pending" and pending.response is None
    assert pending.is_test is False


def test_box_prelabels_from_a_hypothesis(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(
        name("prelabeled"),
        TaskType.ImageAnnotation,
        params={"geometries": {"box": {"objects_to_annotate": ["car"]}}},
    )
    hypothesis = {
        "annotations": [
            {"type": "box", "label": "car", "left": 1, "top": 2, "width": 3, "height": 4}
        ]
    }
    task = client.create_task(
        TaskType.ImageAnnotation, project=project.name, attachment=IMAGE, hypothesis=hypothesis
    )
    assert task.status == "pending"
    with pytest.raises(ScaleInvalidRequest):
        client.create_task(
            TaskType.ImageAnnotation,
            project=project.name,
            attachment=IMAGE,
            hypothesis={"annotations": [{"type": "box", "label": "car", "left": 1}]},
        )


def test_create_errors(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(
        name("errors"), TaskType.Categorization, params={"categories": ["a", "b"]}
    )
    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_task(TaskType.Categorization, project=project.name)
    assert "attachment" in caught.value.message
    with pytest.raises(ScaleInvalidRequest):
        client.create_task(TaskType.ImageAnnotation, project=project.name, attachment=IMAGE)
    with pytest.raises(ScaleInvalidRequest):
        client.create_task(TaskType.Categorization, attachment=IMAGE)
    with pytest.raises(ScaleResourceNotFound):
        client.create_task(TaskType.Categorization, project=name("nope"), attachment=IMAGE)
    with pytest.raises(ScaleInvalidRequest):
        client.create_task(TaskType.LidarAnnotation, project=project.name)

    unique_id = name("once")
    first = client.create_task(
        TaskType.Categorization, project=project.name, attachment=IMAGE, unique_id=unique_id
    )
    with pytest.raises(ScaleDuplicateResource) as caught:
        client.create_task(
            TaskType.Categorization, project=project.name, attachment=IMAGE, unique_id=unique_id
        )
    assert first.id in caught.value.message
    # What the client does after a 409 that follows a 5xx: look the task up by unique_id.
    found = client.api.get_request("tasks", params={"unique_id": unique_id})
    assert [doc["task_id"] for doc in found["docs"]] == [first.id]


def test_lists_page_and_filter(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(
        name("listed"), TaskType.Categorization, params={"categories": ["a", "b"]}
    )
    batch = client.create_batch(project.name, name("batch"))
    made = []
    for i in range(7):
        made.append(
            client.create_task(
                TaskType.Categorization,
                project=project.name,
                batch=batch.name if i < 4 else None,
                attachment=f"https://example.com/{i}.jpg",
                unique_id=name(f"t{i}"),
                tags=["even"] if i % 2 == 0 else ["odd"],
            )
        )
    newest_first = [t.id for t in reversed(made)]

    page = client.tasks(project=project.name, limit=3)
    assert [t.id for t in page.docs] == newest_first[:3]
    assert page.total == 7 and page.has_more and page.next_token
    second = client.tasks(project=project.name, limit=3, next_token=page.next_token)
    assert [t.id for t in second.docs] == newest_first[3:6]
    every = list(client.get_tasks(project_name=project.name, limit=2))
    assert [t.id for t in every] == newest_first

    in_batch = list(client.get_tasks(batch_name=batch.name))
    assert sorted(t.id for t in in_batch) == sorted(t.id for t in made[:4])
    assert client.get_tasks_count(project_name=project.name) == 7
    assert client.get_tasks_count(batch_name=batch.name) == 4
    assert client.get_tasks_count(project_name=project.name, tags="even") == 4
    both = [made[1].unique_id, made[2].unique_id]
    by_unique = list(client.get_tasks(project_name=project.name, unique_id=both))
    assert sorted(t.id for t in by_unique) == sorted([made[1].id, made[2].id])
    assert client.get_tasks_count(project_name=project.name, unique_id=both) == 2
    typed = list(client.get_tasks(project_name=project.name, task_type=TaskType.Categorization))
    assert len(typed) == 7
    assert list(client.get_tasks(project_name=project.name, task_type=TaskType.Comparison)) == []

    client.cancel_task(made[0].id)
    canceled = list(client.get_tasks(project_name=project.name, status=TaskStatus.Canceled))
    assert [t.id for t in canceled] == [made[0].id]
    assert client.get_tasks_count(project_name=project.name, status=TaskStatus.Pending) == 6
    # Accepted and ignored, as documented: audit status is not a filter here.
    reviewed = client.get_tasks_count(
        project_name=project.name, review_status=TaskReviewStatus.Accepted
    )
    assert reviewed == 7

    middle = made[3].created_at
    created_after = list(client.get_tasks(project_name=project.name, created_after=middle))
    assert made[6].id in {t.id for t in created_after}
    assert made[0].id not in {t.id for t in created_after}
    created_before = list(client.get_tasks(project_name=project.name, created_before=middle))
    assert {t.id for t in created_before} <= {t.id for t in made[:4]}
    assert made[0].id in {t.id for t in created_before}
    assert client.get_tasks_count(project_name=project.name, created_before=middle) == len(
        created_before
    )
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert list(client.get_tasks(project_name=project.name, updated_after=later)) == []
    changed = list(client.get_tasks(project_name=project.name, completed_after=middle))
    assert [t.id for t in changed] == [made[0].id]  # canceled counts as finished

    with pytest.raises(ScaleInvalidRequest):
        client.tasks(project=project.name, limit=500)
    with pytest.raises(ScaleResourceNotFound):
        client.tasks(project=name("missing"))


def test_cancel_audit_metadata_unique_ids_and_tags(scale, manager, name):
    client = scale(manager.key)
    project = client.create_project(
        name("changes"), TaskType.Categorization, params={"categories": ["a", "b"]}
    )
    task = client.create_task(
        TaskType.Categorization, project=project.name, attachment=IMAGE, unique_id=name("u")
    )
    other = client.create_task(
        TaskType.Categorization, project=project.name, attachment=IMAGE, unique_id=name("u")
    )

    assert client.set_task_metadata(task.id, {"source": "cam 2"}).metadata == {"source": "cam 2"}
    new_id = name("renamed")
    assert client.update_task_unique_id(task.id, new_id).unique_id == new_id
    with pytest.raises(ScaleDuplicateResource):
        client.update_task_unique_id(task.id, other.unique_id)
    assert client.clear_task_unique_id(task.id).unique_id is None

    assert client.set_task_tags(task.id, ["a", "b"]).tags == ["a", "b"]
    assert client.add_task_tags(task.id, ["b", "c"]).tags == ["a", "b", "c"]
    assert client.delete_task_tags(task.id, ["a", "zzz"]).tags == ["b", "c"]
    task.set_tags(["only"])
    assert client.get_task(task.id).tags == ["only"]

    canceled = client.cancel_task(other.id, clear_unique_id=True)
    assert canceled.status == "canceled" and canceled.unique_id is None
    with pytest.raises(ScaleInvalidRequest):
        client.cancel_task(other.id)  # already canceled

    with pytest.raises(ScaleInvalidRequest):
        client.audit_task(task.id, True)  # not completed yet
    sandbox = scale(manager.test_key)
    test_project = sandbox.create_project(
        name("audits"), TaskType.Categorization, params={"categories": ["a", "b"]}
    )
    done = sandbox.create_task(TaskType.Categorization, project=test_project.name, attachment=IMAGE)
    sandbox.audit_task(done.id, False, "Wrong category")
    done.audit(True)
    audits = sandbox.get_task(done.id).audits
    assert [(a["accepted"], a["comments"]) for a in audits] == [
        (False, "Wrong category"),
        (True, None),
    ]
    with pytest.raises(ScaleResourceNotFound):
        client.get_task(done.id)  # test-key tasks are not visible to live keys


def test_test_key_batches_complete_with_their_tasks(scale, manager, name):
    sandbox = scale(manager.test_key)
    project = sandbox.create_project(
        name("sandbox batch"), TaskType.Categorization, params={"categories": ["a"]}
    )
    batch = sandbox.create_batch(project.name, name("b"))
    for i in range(2):
        sandbox.create_task(
            TaskType.Categorization,
            project=project.name,
            batch=batch.name,
            attachment=f"https://example.com/{i}.jpg",
        )
    assert sandbox.batch_status(batch.name)["completed"] == 2
    assert sandbox.finalize_batch(batch.name).status == "completed"


def test_task_and_batch_callbacks_reach_their_urls(scale, manager, name):
    sandbox = scale(manager.test_key)
    project = sandbox.create_project(
        name("callbacks"), TaskType.Categorization, params={"categories": ["a"]}
    )
    with Receiver() as receiver:
        batch = sandbox.create_batch(project.name, name("b"), callback=receiver.url)
        assert batch.as_dict()["callback"] == receiver.url
        task = sandbox.create_task(
            TaskType.Categorization,
            project=project.name,
            batch=batch.name,
            attachment=IMAGE,
            callback_url=receiver.url,
        )
        assert task.callback_url == receiver.url
        sandbox.finalize_batch(batch.name)
        bodies = [json.loads(r.body) for r in receiver.wait_for(2)]
    assert {b.get("task_id") for b in bodies} >= {task.id}
    assert batch.name in {b.get("batch") for b in bodies}

"""Scale's evaluation and training tasks through the official `scaleapi` client against a real
`assay serve`: every task type with a response shape, checked in the native API; errors; and an
evaluation task made through Scale served to a labeler and scored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from scaleapi.evaluation_tasks import EvaluationTask
from scaleapi.exceptions import (
    ScaleException,
    ScaleInvalidRequest,
    ScaleResourceNotFound,
    ScaleUnauthorized,
)
from scaleapi.tasks import TaskType
from scaleapi.training_tasks import TrainingTask

pytestmark = pytest.mark.live

IMAGE = "https://example.com/street.jpg"
NER_TEXT = "Ada Lovelace worked with Charles Babbage in London."
LONDON = NER_TEXT.index("London")
BOX = {
    "uuid": "b1",
    "type": "box",
    "label": "car",
    "attributes": {"occluded": "n"},
    "left": 1,
    "top": 2,
    "width": 30,
    "height": 40,
}
LAKE = [{"x": 1, "y": 1}, {"x": 20, "y": 1}, {"x": 10, "y": 15}]


def native_boxes(native: dict) -> None:
    box, polygon = native["annotations"]
    assert box["type"] == "box" and box["id"] == "b1" and box["label"] == "car"
    assert (box["x"], box["y"], box["width"], box["height"]) == (1, 2, 30, 40)
    assert box["attributes"] == {"occluded": "n"}
    assert polygon["type"] == "polygon" and polygon["vertices"] == LAKE


def native_legacy_polygon(native: dict) -> None:
    (polygon,) = native["annotations"]
    assert polygon["type"] == "polygon" and polygon["label"] == "lake"
    assert polygon["vertices"] == LAKE


def native_category(native: dict) -> None:
    assert [(a["type"], a["label"]) for a in native["annotations"]] == [("category", "positive")]


def native_taxonomies(native: dict) -> None:
    assert [(a["type"], a["label"]) for a in native["annotations"]] == [("category", "cat")]
    assert native["global_attributes"] == {"mood": "calm"}


def native_spans(native: dict) -> None:
    person, place = native["annotations"]
    assert person["type"] == "span" and person["id"] == "e1" and person["text"] == "Ada Lovelace"
    assert (place["label"], place["start"], place["text"]) == ("LOC", LONDON, "London")


def native_fields(native: dict) -> None:
    (title,) = native["annotations"]
    assert (title["type"], title["field"], title["text"]) == ("text", "title", "A storm")


def native_document(native: dict) -> None:
    (line,) = native["annotations"]
    assert (line["type"], line["id"], line["text"]) == ("text", "d1", "Invoice 42")


def native_collection(native: dict) -> None:
    (summary,) = native["annotations"]
    assert (summary["type"], summary["field"], summary["text"]) == ("text", "summary", "Short.")
    assert native["global_attributes"] == {"rating": 4}


def native_track(native: dict) -> None:
    frames = native["annotations"]
    assert [(a["frame"], a["track_id"], a["type"]) for a in frames] == [
        (0, "t1", "box"),
        (10, "t1", "box"),
    ]
    assert all(a["label"] == "car" for a in frames)
    assert (frames[1]["x"], frames[1]["width"]) == (6, 5)


def native_ratings(native: dict) -> None:
    ratings = [(a["type"], a["response_index"], a["value"]) for a in native["annotations"]]
    assert ratings == [("rating", 0, 4), ("rating", 1, 2)]


def native_choice(native: dict) -> None:
    assert [(a["type"], a["choice"]) for a in native["annotations"]] == [("comparison", "a")]


def track_frames(expected: dict) -> list[dict]:
    (track,) = expected["annotations"].values()
    return [{k: f[k] for k in ("key", "left", "top", "width", "height")} for f in track["frames"]]


# (Scale type, project params, task params, expected response in Scale's shape, check of the
# stored native response, the part of the returned Scale response that must equal the input)
Case = tuple[
    TaskType,
    dict[str, Any],
    dict[str, Any],
    dict[str, Any],
    Callable[[dict], None],
    Callable[[dict], Any],
]
CASES: list[Case] = [
    (
        TaskType.ImageAnnotation,
        {},
        {
            "attachment": IMAGE,
            "geometries": {
                "box": {"objects_to_annotate": ["car", "bus"]},
                "polygon": {"objects_to_annotate": ["lake"]},
            },
            "annotation_attributes": {"occluded": {"type": "category", "choices": ["y", "n"]}},
        },
        {
            "annotations": [
                BOX,
                {
                    "uuid": "p1",
                    "type": "polygon",
                    "label": "lake",
                    "attributes": {"occluded": "y"},
                    "vertices": LAKE,
                },
            ]
        },
        native_boxes,
        lambda expected: expected["annotations"],
    ),
    (
        TaskType.PolygonAnnotation,
        {"objects_to_annotate": ["lake"]},
        {"attachment": IMAGE},
        {"annotations": [{"label": "lake", "vertices": LAKE}]},
        native_legacy_polygon,
        lambda expected: [a["vertices"] for a in expected["annotations"]],
    ),
    (
        TaskType.Categorization,
        {"categories": ["positive", "negative"]},
        {"attachment": "The film was great", "attachment_type": "text"},
        {"category": "positive"},
        native_category,
        lambda expected: expected,
    ),
    (
        TaskType.Categorization,
        {},
        {
            "attachment": IMAGE,
            "attachment_type": "image",
            "taxonomies": {
                "animal": {"type": "category", "choices": ["cat", "dog"]},
                "mood": {"type": "category", "choices": ["calm", "angry"]},
            },
        },
        {"taxonomies": {"animal": ["cat"], "mood": ["calm"]}},
        native_taxonomies,
        lambda expected: expected,
    ),
    (
        TaskType.NamedEntityRecognition,
        {"labels": [{"name": "PER"}, {"name": "LOC"}]},
        {"text": NER_TEXT},
        {
            "annotations": [
                {"label": "PER", "start": 0, "end": 12, "uuid": "e1"},
                {"label": "LOC", "start": LONDON, "end": LONDON + 6},
            ]
        },
        native_spans,
        lambda expected: [(a["label"], a["start"], a["end"]) for a in expected["annotations"]],
    ),
    (
        TaskType.Transcription,
        {},
        {"attachment": IMAGE, "fields": {"title": "The title"}},
        {"fields": {"title": "A storm"}},
        native_fields,
        lambda expected: expected,
    ),
    (
        TaskType.DocumentTranscription,
        {},
        {"attachment": IMAGE},
        {"annotations": [{"uuid": "d1", "type": "text", "text": "Invoice 42"}]},
        native_document,
        lambda expected: [(a["uuid"], a["text"]) for a in expected["annotations"]],
    ),
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
        {"summary": "Short.", "rating": 4},
        native_collection,
        lambda expected: expected,
    ),
    (
        TaskType.VideoPlaybackAnnotation,
        {"geometries": {"box": {"objects_to_annotate": ["car"]}}},
        {"attachment": "https://example.com/clip.mp4", "frame_count": 30},
        {
            "annotations": {
                "t1": {
                    "label": "car",
                    "geometry": "box",
                    "frames": [
                        {"key": 0, "left": 1, "top": 1, "width": 5, "height": 5},
                        {"key": 10, "left": 6, "top": 1, "width": 5, "height": 5},
                    ],
                }
            }
        },
        native_track,
        track_frames,
    ),
    (
        TaskType.Chat,
        {},
        {"template_variables": {"prompt": "Say hi", "responses": ["Hi!", "Hello."]}},
        {
            "ratings": [
                {"criterion": "overall", "value": 4, "response_index": 0},
                {"criterion": "overall", "value": 2, "response_index": 1},
            ]
        },
        native_ratings,
        lambda expected: expected["ratings"],
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
        {"choice": "a"},
        native_choice,
        lambda expected: expected["choice"],
    ),
]


@pytest.fixture
def admin(make_account):
    return make_account("admin")


def native(server, account, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{server.url}/api/v1{path}", headers=account.headers, timeout=30, **kwargs
    )


def quality_tasks(server, admin, project_id: str, **params: Any) -> list[dict[str, Any]]:
    response = native(server, admin, "GET", f"/projects/{project_id}/quality_tasks", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.mark.parametrize(
    ("task_type", "project_params", "task_params", "expected", "check_native", "same"),
    CASES,
    ids=[f"{case[0].value}-{i}" for i, case in enumerate(CASES)],
)
def test_evaluation_and_training_tasks_of_every_type(
    scale,
    server,
    manager,
    admin,
    name,
    task_type,
    project_params,
    task_params,
    expected,
    check_native,
    same,
):
    client = scale(manager.key)
    project = client.create_project(name("quality"), task_type, params=project_params)
    pid = project.as_dict()["id"]
    gold = client.create_evaluation_task(
        task_type, project=project.name, expected_response=expected, **task_params
    )
    lesson = client.create_training_task(
        task_type, project=project.name, expected_response=expected, **task_params
    )
    assert isinstance(gold, EvaluationTask) and isinstance(lesson, TrainingTask)
    for made in (gold, lesson):
        body = made.as_dict()
        assert body["task_id"] == made.id and body["type"] == task_type.value
        assert body["project"] == project.name and body["batch"] is None
        assert body["status"] == "pending" and body["response"] is None
        for key, value in task_params.items():
            assert body["params"][key] == value, key
        # Read back in Scale's shape: what was sent.
        assert same(made.expected_response) == same(expected)

    for kind, made in (("evaluation", gold), ("training", lesson)):
        (item,) = quality_tasks(server, admin, pid, kind=kind)
        assert item["id"] == made.id and item["kind"] == kind
        assert item["batch_id"] is None and item["stage"] is None
        assert item["attempts"] == 0 and item["prelabels"] is None
        check_native(item["expected_response"])


def test_initial_response_becomes_the_prelabels(scale, server, manager, admin, name):
    client = scale(manager.key)
    params = {"geometries": {"box": {"objects_to_annotate": ["car"]}}}
    project = client.create_project(name("reviewed gold"), TaskType.ImageAnnotation, params=params)
    pid = project.as_dict()["id"]
    first_try = {"annotations": [{**BOX, "attributes": {}, "uuid": "b2", "left": 9}]}
    gold = client.create_evaluation_task(
        TaskType.ImageAnnotation,
        project=project.name,
        attachment=IMAGE,
        expected_response={"annotations": [{**BOX, "attributes": {}}]},
        initial_response=first_try,
    )
    assert gold.as_dict()["initial_response"]["annotations"] == first_try["annotations"]
    (item,) = quality_tasks(server, admin, pid)
    (prelabel,) = item["prelabels"]["annotations"]
    assert (prelabel["id"], prelabel["type"], prelabel["x"]) == ("b2", "box", 9)
    (answer,) = item["expected_response"]["annotations"]
    assert (answer["id"], answer["x"]) == ("b1", 1)

    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_evaluation_task(
            TaskType.ImageAnnotation,
            project=project.name,
            attachment=IMAGE,
            expected_response={"annotations": [{**BOX, "attributes": {}}]},
            initial_response={"annotations": [{**BOX, "label": "tram"}]},
        )
    assert "initial_response.annotations[0].label" in caught.value.message


def test_errors(scale, server, manager, make_account, name):
    client = scale(manager.key)
    project = client.create_project(
        name("quality errors"), TaskType.Categorization, params={"categories": ["a", "b"]}
    )
    pid = project.as_dict()["id"]
    task = {"project": project.name, "attachment": IMAGE}

    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_evaluation_task(
            TaskType.Categorization, expected_response={"category": "c"}, **task
        )
    assert "expected_response.annotations[0].label" in caught.value.message
    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_training_task(TaskType.Categorization, **task)
    assert "expected_response" in caught.value.message
    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_evaluation_task(TaskType.Categorization, expected_response=["a"], **task)
    assert "expected_response" in caught.value.message
    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_evaluation_task(
            TaskType.ImageAnnotation, expected_response={"annotations": []}, **task
        )
    assert "project" in caught.value.message
    batch = client.create_batch(project.name, name("batch"))
    with pytest.raises(ScaleInvalidRequest) as caught:
        client.create_evaluation_task(
            TaskType.Categorization, expected_response={"category": "a"}, batch=batch.name, **task
        )
    assert "batch" in caught.value.message

    with pytest.raises(ScaleResourceNotFound):
        client.create_evaluation_task(
            TaskType.Categorization,
            project=name("missing"),
            attachment=IMAGE,
            expected_response={"category": "a"},
        )
    with pytest.raises(ScaleUnauthorized):
        scale("live_" + "0" * 32).create_training_task(
            TaskType.Categorization, expected_response={"category": "a"}, **task
        )
    labeler = make_account("labeler")
    native(
        server,
        manager,
        "PUT",
        f"/projects/{pid}/members/{labeler.user.id}",
        json={"role": "labeler"},
    )
    with pytest.raises(ScaleException) as caught:
        scale(labeler.key).create_evaluation_task(
            TaskType.Categorization, expected_response={"category": "a"}, **task
        )
    assert caught.value.code == 403
    # Nothing was made by the refused requests.
    assert quality_tasks(server, manager, pid) == []


def test_an_evaluation_task_from_scale_is_served_and_scored(
    scale, server, manager, admin, make_account, name
):
    client = scale(manager.key)
    project = client.create_project(
        name("served gold"),
        TaskType.ImageAnnotation,
        params={"geometries": {"box": {"objects_to_annotate": ["car", "bus"]}}},
    )
    pid = project.as_dict()["id"]
    expected = {"annotations": [{**BOX, "attributes": {}}]}
    gold = client.create_evaluation_task(
        TaskType.ImageAnnotation, project=project.name, attachment=IMAGE, expected_response=expected
    )
    changed = native(
        server,
        manager,
        "PATCH",
        f"/projects/{pid}",
        json={"quality": {"evaluation_rate": 1.0}},
    )
    assert changed.status_code == 200, changed.text

    right = {
        "annotations": [{"type": "box", "label": "car", "x": 1, "y": 2, "width": 30, "height": 40}]
    }
    wrong = {
        "annotations": [
            {"type": "box", "label": "bus", "x": 200, "y": 200, "width": 9, "height": 9}
        ]
    }
    for answer in (right, wrong):
        labeler = make_account("labeler")
        joined = native(
            server,
            manager,
            "PUT",
            f"/projects/{pid}/members/{labeler.user.id}",
            json={"role": "labeler"},
        )
        assert joined.status_code == 200, joined.text
        lease = native(server, labeler, "POST", f"/projects/{pid}/queue/next")
        assert lease.status_code == 200, lease.text
        served = lease.json()
        assert served["task"]["id"] == gold.id
        assert "expected_response" not in served["task"]
        done = native(
            server,
            labeler,
            "POST",
            f"/tasks/{gold.id}/submit",
            json={"lease_token": served["lease_token"], "response": answer},
        )
        assert done.status_code == 200, done.text

    (item,) = quality_tasks(server, admin, pid, kind="evaluation")
    assert (item["attempts"], item["passes"]) == (2, 1)
    assert item["pass_rate"] == 0.5


def test_the_readme_evaluation_task_in_scale_documented_shape(scale, server, manager, admin, name):
    """The README's `create_evaluation_task` example: a text collection answer as
    `{"annotations": {field_id: {"type", "field_id", "response": [[...]]}}}`."""
    client = scale(manager.key)
    field = {
        "type": "category",
        "field_id": "answer_reasonable",
        "title": "Is the answer reasonable?",
        "choices": [{"label": "Yes", "value": "yes"}, {"label": "No", "value": "no"}],
    }
    project = client.create_project(
        name("readme gold"), TaskType.TextCollection, params={"fields": [field]}
    )
    expected_response = {
        "annotations": {
            "answer_reasonable": {
                "type": "category",
                "field_id": "answer_reasonable",
                "response": [["no"]],
            }
        }
    }
    initial_response = {
        "annotations": {
            "answer_reasonable": {
                "type": "category",
                "field_id": "answer_reasonable",
                "response": [["yes"]],
            }
        }
    }
    attachments = [{"type": "image", "content": "https://i.imgur.com/bGjrNzl.jpeg"}]
    payload = dict(
        project=project.name,
        attachments=attachments,
        initial_response=initial_response,
        expected_response=expected_response,
    )
    gold = client.create_evaluation_task(TaskType.TextCollection, **payload)
    assert gold.expected_response == {"answer_reasonable": "no"}
    lesson = client.create_training_task(
        TaskType.TextCollection,
        project=project.name,
        attachments=attachments,
        expected_response=expected_response,
    )
    assert lesson.expected_response == {"answer_reasonable": "no"}
    (item,) = quality_tasks(server, admin, project.as_dict()["id"], kind="evaluation")
    assert item["expected_response"]["global_attributes"] == {"answer_reasonable": "no"}
    assert item["prelabels"]["global_attributes"] == {"answer_reasonable": "yes"}

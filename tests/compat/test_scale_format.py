"""The pure translation between Scale's wire format and native objects.

Taxonomies built from Scale params go through the real native parser, and translated
prelabels through the real response validator: a translation the native side refuses fails.
"""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import pytest

from assay.compat import scale_annotations, scale_format, scale_taxonomy
from assay.core.errors import Invalid
from assay.labeling.annotations import validate_response
from assay.labeling.taxonomy import parse_taxonomy, taxonomy_json

IMAGE_PARAMS = {
    "attachment": "https://example.com/street.jpg",
    "geometries": {
        "box": {
            "objects_to_annotate": [
                "pedestrian",
                {"choice": "vehicle", "subchoices": ["car", {"choice": "bus"}]},
            ],
            "min_height": 5,
            "min_width": 5,
        },
        "polygon": {"objects_to_annotate": ["road", "car"]},
        "point": {"objects_to_annotate": ["traffic light"]},
        "line": {"objects_to_annotate": ["lane"]},
        "ellipse": {"objects_to_annotate": ["wheel"]},
        "cuboid": {"objects_to_annotate": ["truck"]},
    },
    "annotation_attributes": {
        "occluded": {"type": "category", "choices": ["yes", "no"]},
        "color": {
            "type": "category",
            "choices": ["red", "blue"],
            "allow_multiple": True,
            "conditions": {"label_condition": {"label": ["car", "bus"]}},
        },
        "how much": {
            "type": "number",
            "min": 0,
            "max": 100,
            "conditions": {"attribute_conditions": [{"occluded": "yes"}]},
        },
    },
}


def parsed(scale_type: str, params: dict, native: str) -> dict:
    taxonomy = scale_taxonomy.taxonomy_from_params(scale_type, params)
    assert taxonomy is not None
    return taxonomy_json(parse_taxonomy(taxonomy, native))


def test_image_geometries_become_labels_and_attributes():
    taxonomy = parsed("imageannotation", IMAGE_PARAMS, "image")
    labels = {label["name"]: label for label in taxonomy["labels"]}
    # Nested choices flatten to their leaves; a label drawn as two geometries allows both.
    names = ["pedestrian", "car", "bus", "road", "traffic light", "lane", "wheel", "truck"]
    assert list(labels) == names
    assert labels["car"]["geometries"] == ["box", "polygon"]
    assert labels["traffic light"]["geometries"] == ["point"]
    assert labels["truck"]["geometries"] == ["cuboid"]
    common = {a["name"]: a for a in taxonomy["attributes"]}
    assert common["occluded"]["type"] == "choice"
    assert common["how much"]["condition"] == {"attribute": "occluded", "in": ["yes"]}
    assert [a["name"] for a in labels["car"]["attributes"]] == ["color"]
    assert labels["bus"]["attributes"][0]["type"] == "multi_choice"
    assert labels["pedestrian"]["attributes"] == []


def test_bad_scale_params_name_the_field():
    with pytest.raises(Invalid) as caught:
        scale_taxonomy.taxonomy_from_params(
            "videoboxannotation", {"geometries": {"cuboid": {"objects_to_annotate": ["car"]}}}
        )
    assert caught.value.field == "params.geometries.cuboid"
    with pytest.raises(Invalid) as caught:
        scale_taxonomy.taxonomy_from_params(
            "imageannotation", {"geometries": {"box": {"min_width": 3}}}
        )
    assert caught.value.field == "params.geometries.box.objects_to_annotate"
    with pytest.raises(Invalid) as caught:
        scale_taxonomy.taxonomy_from_params(
            "imageannotation",
            {
                "geometries": {"box": {"objects_to_annotate": ["car"]}},
                "annotation_attributes": {
                    "x": {"choices": ["a"], "conditions": {"label_condition": {"label": "cat"}}}
                },
            },
        )
    assert caught.value.field == "params.annotation_attributes.x.conditions.label_condition"


def test_legacy_types_take_the_geometry_from_the_type():
    taxonomy = parsed("polygonannotation", {"objects_to_annotate": ["lake", "field"]}, "image")
    assert [(lb["name"], lb["geometries"]) for lb in taxonomy["labels"]] == [
        ("lake", ["polygon"]),
        ("field", ["polygon"]),
    ]


def test_categorization_categories_and_taxonomies():
    legacy = parsed(
        "categorization", {"categories": ["cat", "dog"], "allow_multiple": True}, "categorization"
    )
    assert [lb["name"] for lb in legacy["labels"]] == ["cat", "dog"]
    assert legacy["multi_select"] is True
    several = parsed(
        "categorization",
        {
            "taxonomies": {
                "animal": {"type": "category", "choices": ["cat", "dog"]},
                "mood": {"type": "category", "choices": ["calm", "angry"], "allow_multiple": True},
            }
        },
        "categorization",
    )
    assert [lb["name"] for lb in several["labels"]] == ["cat", "dog"]
    assert several["multi_select"] is False
    assert several["global_attributes"][0]["name"] == "mood"
    assert several["global_attributes"][0]["type"] == "multi_choice"


def test_ner_labels_and_text_collection_fields():
    ner = parsed(
        "namedentityrecognition",
        {"text": "x", "labels": [{"name": "PER"}, {"name": "ORG", "children": [{"name": "GOV"}]}]},
        "text_spans",
    )
    assert [(lb["name"], lb["geometries"]) for lb in ner["labels"]] == [
        ("PER", ["span"]),
        ("GOV", ["span"]),
    ]
    collection = parsed(
        "textcollection",
        {
            "fields": [
                {"type": "text", "field_id": "summary", "title": "Summary"},
                {"type": "number", "field_id": "stars", "min": 1, "max": 5},
                {"type": "category", "field_id": "tone", "choices": [{"label": "A", "value": "a"}]},
            ]
        },
        "text_collection",
    )
    assert [(a["name"], a["type"]) for a in collection["global_attributes"]] == [
        ("stars", "number"),
        ("tone", "choice"),
    ]
    assert collection["global_attributes"][1]["choices"] == ["a"]


def test_merge_replaces_the_placeholder_and_grows_labels():
    start = taxonomy_json(parse_taxonomy(scale_taxonomy.placeholder_taxonomy("image"), "image"))
    first = scale_taxonomy.taxonomy_from_params(
        "imageannotation", {"geometries": {"box": {"objects_to_annotate": ["car"]}}}
    )
    merged = scale_taxonomy.merge_taxonomy(start, first)
    assert [lb["name"] for lb in merged["labels"]] == ["car"]
    stored = taxonomy_json(parse_taxonomy(merged, "image"))
    second = scale_taxonomy.taxonomy_from_params(
        "imageannotation",
        {
            "geometries": {
                "polygon": {"objects_to_annotate": ["car", "road"]},
                "box": {"objects_to_annotate": ["car"]},
            }
        },
    )
    grown = taxonomy_json(parse_taxonomy(scale_taxonomy.merge_taxonomy(stored, second), "image"))
    labels = {lb["name"]: lb["geometries"] for lb in grown["labels"]}
    assert labels == {"car": ["box", "polygon"], "road": ["polygon"]}
    # Naming nothing new changes nothing (so the project is not rewritten).
    assert scale_taxonomy.merge_taxonomy(grown, first) == grown


def image_response() -> dict:
    taxonomy = parse_taxonomy(
        scale_taxonomy.taxonomy_from_params("imageannotation", IMAGE_PARAMS), "image"
    )
    native = {
        "annotations": [
            {"id": "b1", "type": "box", "label": "car", "x": 1, "y": 2, "width": 3, "height": 4},
            {
                "id": "p1",
                "type": "polygon",
                "label": "road",
                "vertices": [{"x": 0, "y": 0}, {"x": 5, "y": 0}, {"x": 5, "y": 5}],
            },
            {"id": "t1", "type": "point", "label": "traffic light", "x": 7, "y": 8},
            {
                "id": "l1",
                "type": "line",
                "label": "lane",
                "vertices": [{"x": 0, "y": 0}, {"x": 9, "y": 9}],
            },
            {
                "id": "e1",
                "type": "ellipse",
                "label": "wheel",
                "cx": 5,
                "cy": 6,
                "rx": 2,
                "ry": 1,
                "rotation": 90,
            },
            {
                "id": "c1",
                "type": "cuboid",
                "label": "truck",
                "front": {"x": 10, "y": 10, "width": 10, "height": 10},
                "back": {"x": 14, "y": 8, "width": 9, "height": 9},
            },
        ],
        "global_attributes": {},
    }
    return validate_response(taxonomy, "image", IMAGE_PARAMS, native), taxonomy


def test_image_response_in_scale_shapes_and_back():
    native, taxonomy = image_response()
    scale = scale_annotations.to_scale_response("imageannotation", native, IMAGE_PARAMS)
    by_id = {a["uuid"]: a for a in scale["annotations"]}
    box = by_id["b1"]
    assert (box["left"], box["top"], box["width"], box["height"]) == (1, 2, 3, 4)
    assert "x" not in box and box["label"] == "car" and box["type"] == "box"
    assert by_id["p1"]["vertices"][1] == {"x": 5, "y": 0}
    assert (by_id["t1"]["x"], by_id["t1"]["y"]) == (7, 8)
    ellipse = by_id["e1"]
    assert (ellipse["x"], ellipse["y"]) == (5, 6)
    assert ellipse["rotation"] == pytest.approx(math.pi / 2)
    cuboid = {v["description"]: (v["x"], v["y"]) for v in by_id["c1"]["vertices"]}
    assert cuboid["face-topleft"] == (10, 10) and cuboid["face-bottomright"] == (20, 20)
    # The back face sits to the right, so its right edge is the visible side.
    assert cuboid["side-topcorner"] == (23, 8) and cuboid["side-bottomcorner"] == (23, 17)
    # A Scale-shaped hypothesis comes back as the same native response.
    back = scale_annotations.from_scale_response("imageannotation", scale)
    assert validate_response(taxonomy, "image", IMAGE_PARAMS, back, partial=True) == native


def test_categorization_transcription_ner_and_collection_responses():
    chosen = {"annotations": [{"id": "1", "type": "category", "label": "dog", "attributes": {}}]}
    assert scale_annotations.to_scale_response("categorization", chosen, {}) == {"category": "dog"}
    assert scale_annotations.to_scale_response(
        "categorization", chosen, {"allow_multiple": True}
    ) == {"category": ["dog"]}
    tax = scale_annotations.to_scale_response(
        "categorization",
        {**chosen, "global_attributes": {"mood": "calm"}},
        {"taxonomies": {"animal": {}, "mood": {}}},
    )
    assert tax == {"taxonomies": {"animal": ["dog"], "mood": ["calm"]}}

    texts = {
        "annotations": [
            {"id": "1", "type": "text", "field": "title", "text": "Invoice"},
            {"id": "2", "type": "text", "field": "item", "text": "apples"},
            {"id": "3", "type": "text", "field": "item", "text": "pears"},
        ]
    }
    fields = scale_annotations.to_scale_response(
        "transcription", texts, {"fields": {"title": "Title"}, "repeatable_fields": {"item": "x"}}
    )
    assert fields == {
        "fields": {"title": "Invoice"},
        "repeatable_fields": [{"item": "apples"}, {"item": "pears"}],
    }
    collection = scale_annotations.to_scale_response(
        "textcollection", {**texts, "global_attributes": {"stars": 4}}, {}
    )
    assert collection == {"title": "Invoice", "item": ["apples", "pears"], "stars": 4}

    spans = {
        "annotations": [
            {"id": "s", "type": "span", "label": "PER", "start": 0, "end": 3, "text": "Ada"}
        ]
    }
    ner = scale_annotations.to_scale_response("namedentityrecognition", spans, {})
    assert ner["annotations"] == [
        {"label": "PER", "start": 0, "end": 3, "text": "Ada", "uuid": "s"}
    ]


def test_video_response_groups_frames_into_tracks():
    native = {
        "annotations": [
            {"id": "a", "type": "box", "label": "car", "x": 1, "y": 1, "width": 2, "height": 2,
             "frame": 3, "track_id": "t", "keyframe": True, "attributes": {}},
            {"id": "b", "type": "box", "label": "car", "x": 2, "y": 1, "width": 2, "height": 2,
             "frame": 0, "track_id": "t", "keyframe": True, "attributes": {}},
        ]
    }  # fmt: skip
    video = scale_annotations.to_scale_response("videoplaybackannotation", native, {})
    track = video["annotations"]["t"]
    assert track["label"] == "car" and track["geometry"] == "box"
    assert [(f["key"], f["left"]) for f in track["frames"]] == [(0, 2), (3, 1)]


def test_task_create_translation():
    body = {
        "project": "p",
        "batch": "b",
        "attachment": "The movie was great",
        "attachment_type": "text",
        "categories": ["positive", "negative"],
        "unique_id": "u1",
        "tags": "one",
        "metadata": {"k": 1},
        "callback_url": "http://127.0.0.1:9/cb",
        "hypothesis": {"category": "positive"},
    }
    task_in = scale_format.task_create("categorization", body, {"instruction": "Judge it"})
    assert (task_in.project, task_in.batch) == ("p", "b")
    params = task_in.fields["params"]
    # Raw text sent as the attachment becomes the native `text`; the view puts it back.
    assert params["text"] == "The movie was great" and "attachment" not in params
    assert params["scale_type"] == "categorization" and params["instruction"] == "Judge it"
    assert "unique_id" not in params and "hypothesis" not in params
    visible = scale_format.visible_params(params)
    assert visible["attachment"] == "The movie was great" and "text" not in visible
    assert "scale_type" not in visible and "scale_added" not in visible
    assert task_in.fields["tags"] == ["one"] and task_in.fields["unique_id"] == "u1"
    assert task_in.fields["prelabels"] == {
        "annotations": [{"type": "category", "label": "positive"}]
    }
    assert [lb["name"] for lb in task_in.taxonomy["labels"]] == ["positive", "negative"]

    frames = [f"https://example.com/{i}.jpg" for i in range(4)]
    video = scale_format.task_create("videoannotation", {"attachments": frames}, {})
    assert video.fields["params"]["attachment"] == frames[0]
    assert video.fields["params"]["frame_count"] == 4
    assert scale_format.visible_params(video.fields["params"]) == {"attachments": frames}

    emailed = scale_format.task_create("categorization", {"callback_url": "ops@example.com"}, {})
    assert emailed.fields["callback_url"] is None
    with pytest.raises(Invalid) as caught:
        scale_format.task_create("lidarannotation", {}, {})
    assert caught.value.field == "type"


def test_project_and_batch_create_translation():
    project = scale_format.project_create(
        {"type": "imageannotation", "name": "p", "params": {"instruction": "Do it"}}
    )
    assert project["task_type"] == "image" and project["instructions"] == "Do it"
    # No labels named yet: a placeholder the first task's labels replace.
    assert project["taxonomy"]["labels"][0]["name"] == scale_taxonomy.PLACEHOLDER_LABEL
    assert project["params"] == {"instruction": "Do it", "scale_type": "imageannotation"}
    review = scale_format.project_create(
        {
            "type": "categorization",
            "name": "c",
            "params": {"categories": ["a"]},
            "pipeline": "review",
        }
    )
    assert [s["kind"] for s in review["pipeline"]["stages"]] == ["label", "review"]

    assert (
        scale_format.batch_create({"name": "b", "calibration_batch": True})["kind"] == "calibration"
    )
    assert (
        scale_format.batch_create({"name": "b", "self_label_batch": True})["kind"] == "self_label"
    )
    plain = scale_format.batch_create({"name": "b", "callback": "ops@example.com"})
    assert plain["kind"] == "production" and plain["callback_url"] is None
    with pytest.raises(Invalid):
        scale_format.batch_create(
            {"name": "b", "calibration_batch": True, "self_label_batch": True}
        )


def test_times_and_roles():
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert scale_format.iso(moment) == "2024-01-02T03:04:05.678Z"
    assert scale_format.parse_time("2024-01-02 03:04:05.678000", "start_time") == moment
    assert scale_format.parse_time("2024-01-02T03:04:05.678Z", "start_time") == moment
    with pytest.raises(Invalid) as caught:
        scale_format.parse_time("yesterday", "end_time")
    assert caught.value.field == "end_time"
    user = SimpleNamespace(email="a@b.c", name="Ada Lovelace", role="reviewer")
    assert scale_format.teammate(user)["role"] == "member"
    assert scale_format.teammate(user)["lastName"] == "Lovelace"
    assert scale_format.native_role("member") == "reviewer"
    with pytest.raises(Invalid):
        scale_format.native_role("owner")

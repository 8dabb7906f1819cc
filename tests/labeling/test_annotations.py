"""Response validation: every refusal names its field; valid responses come back normalized."""

from __future__ import annotations

import copy
import re

import pytest

from assay.core.errors import Invalid
from assay.labeling.annotations import validate_params, validate_response
from assay.labeling.taxonomy import parse_taxonomy


def choice(name: str, *choices: str, **extra) -> dict:
    return {"name": name, "type": "choice", "choices": list(choices), **extra}


TAXONOMIES = {
    "image": parse_taxonomy(
        {
            "labels": [
                {
                    "name": "car",
                    "geometries": ["box", "polygon", "cuboid", "mask", "ellipse"],
                    "attributes": [
                        choice("occluded", "no", "yes", required=True),
                        {
                            "name": "visible_pct",
                            "type": "number",
                            "min": 0,
                            "max": 100,
                            "step": 5,
                            "required": True,
                            "condition": {"attribute": "occluded", "in": ["yes"]},
                        },
                    ],
                },
                {
                    "name": "person",
                    "geometries": ["box", "point", "keypoints"],
                    "keypoints": ["head", "foot"],
                },
                {"name": "road", "geometries": ["line", "polygon"]},
            ],
            "attributes": [{"name": "note", "type": "text"}],
            "global_attributes": [
                choice("weather", "sunny", "rain", required=True),
                {"name": "tags", "type": "multi_choice", "choices": ["night", "blur"]},
                {"name": "quality", "type": "linear_scale", "min": 1, "max": 5},
                {"name": "score", "type": "number", "min": 0, "max": 1, "step": 0.25},
                choice("time", "day", "dusk", default="day"),
                {
                    "name": "light",
                    "type": "text",
                    "required": True,
                    "condition": {"attribute": "time", "in": ["dusk"]},
                },
            ],
            "links": [
                {
                    "name": "drives",
                    "from_labels": ["person"],
                    "to_labels": ["car"],
                    "attributes": [choice("seat", "front", "back", required=True)],
                },
                {"name": "near"},
            ],
        },
        "image",
    ),
    "video": parse_taxonomy(
        {"labels": [{"name": "car", "geometries": ["box"]}, {"name": "person"}]}, "video"
    ),
    "categorization": parse_taxonomy(
        {"labels": [{"name": "cat"}, {"name": "dog"}]}, "categorization"
    ),
    "multi": parse_taxonomy(
        {
            "labels": [
                {"name": "cat", "attributes": [choice("breed", "tabby", "other", required=True)]},
                {"name": "dog"},
            ],
            "multi_select": True,
        },
        "categorization",
    ),
    "text_spans": parse_taxonomy(
        {
            "labels": [{"name": "PER"}, {"name": "ORG"}],
            "links": [{"name": "works_for", "from_labels": ["PER"], "to_labels": ["ORG"]}],
        },
        "text_spans",
    ),
    "transcription": parse_taxonomy({}, "transcription"),
    "text_collection": parse_taxonomy(
        {"labels": [{"name": "title"}, {"name": "summary"}]}, "text_collection"
    ),
    "llm_rating": parse_taxonomy(
        {
            "criteria": [
                {"name": "helpfulness", "min": 1, "max": 3},
                {"name": "harmlessness", "min": 1, "max": 7},
            ],
            "attributes": [{"name": "rationale", "type": "text"}],
        },
        "llm_rating",
    ),
    "llm_ranking": parse_taxonomy({}, "llm_ranking"),
    "llm_comparison": parse_taxonomy({"allow_tie": False}, "llm_comparison"),
}

TEXT = "Alice works at Acme."
PARAMS = {
    "image": {"image_width": 100, "image_height": 50},
    "video": {"image_width": 100, "image_height": 50, "frame_count": 10},
    "categorization": {},
    "multi": {},
    "text_spans": {"text": TEXT},
    "transcription": {},
    "text_collection": {},
    "llm_rating": {"responses": ["first", "second"]},
    "llm_ranking": {"responses": ["a", "b", "c"]},
    "llm_comparison": {"responses": ["a", "b"]},
}
TASK_TYPE = {key: key for key in PARAMS} | {"multi": "categorization"}


BOX = {"x": 10, "y": 10, "width": 20, "height": 10}


def car(**fields) -> dict:
    """A car box, or with type=... a car of that type with only the given geometry fields."""
    shape = BOX if fields.get("type", "box") == "box" else {}
    return {
        "id": "c1",
        "type": "box",
        "label": "car",
        **shape,
        "attributes": {"occluded": "no"},
        **fields,
    }


def person(**fields) -> dict:
    shape = {"x": 5, "y": 5} if fields.get("type", "point") == "point" else {}
    return {"id": "p1", "type": "point", "label": "person", **shape, **fields}


def image(*annotations, links=None, **global_attributes) -> dict:
    response = {
        "annotations": list(annotations) or [car(), person()],
        "global_attributes": {"weather": "sunny", **global_attributes},
    }
    if links is not None:
        response["links"] = links
    return response


def rating(criterion: str, value: int, index: int, **fields) -> dict:
    return {
        "type": "rating",
        "criterion": criterion,
        "value": value,
        "response_index": index,
        **fields,
    }


def all_ratings(**overrides) -> list[dict]:
    out = []
    for index in (0, 1):
        out += [rating("helpfulness", 2, index), rating("harmlessness", 5, index)]
    return out


def span(start: int, end: int, label: str = "PER", **fields) -> dict:
    return {"type": "span", "label": label, "start": start, "end": end, **fields}


def box_on_frame(frame, **fields) -> dict:
    return {
        "type": "box",
        "label": "car",
        "x": 1,
        "y": 1,
        "width": 5,
        "height": 5,
        "frame": frame,
        **fields,
    }


def check(key: str, response, *, partial: bool = False, params=None) -> dict:
    return validate_response(
        TAXONOMIES[key],
        TASK_TYPE[key],
        PARAMS[key] if params is None else params,
        response,
        partial=partial,
    )


REFUSED = [
    # (taxonomy key, response, field, part of the message)
    ("image", [], "response", "JSON object"),
    (
        "image",
        {"annotations": [], "extra": 1},
        "response.extra",
        "unknown field 'extra'; allowed: annotations, global_attributes, links",
    ),
    ("image", {"annotations": {}}, "response.annotations", "JSON array"),
    ("image", image("box"), "response.annotations[0]", "JSON object"),
    (
        "image",
        image(car(label="truck")),
        "response.annotations[0].label",
        "label 'truck' is not in the taxonomy; allowed: car, person, road",
    ),
    ("image", image(car(label=None)), "response.annotations[0].label", "label is required"),
    (
        "image",
        image(car(label="road")),
        "response.annotations[0].type",
        "label 'road' does not allow type 'box'; allowed: line, polygon",
    ),
    (
        "image",
        image(car(type="cube")),
        "response.annotations[0].type",
        "type 'cube' is not allowed for image tasks; allowed: box, polygon",
    ),
    ("image", image(car(type=None)), "response.annotations[0].type", "type is required"),
    (
        "image",
        image(car(w=3)),
        "response.annotations[0].w",
        "unknown field 'w' for a box annotation",
    ),
    ("image", image(car(frame=1)), "response.annotations[0].frame", "unknown field 'frame'"),
    ("image", image(car(width=0)), "response.annotations[0].width", "greater than 0"),
    ("image", image(car(height=-1)), "response.annotations[0].height", "greater than 0"),
    ("image", image(car(x="1")), "response.annotations[0].x", "x must be a number"),
    ("image", image(car(x=True)), "response.annotations[0].x", "x must be a number"),
    ("image", image(car(y=float("nan"))), "response.annotations[0].y", "y must be a number"),
    ("image", image(car(x=120)), "response.annotations[0].x", "outside the image"),
    ("image", image(car(y=-1)), "response.annotations[0].y", "outside the image"),
    (
        "image",
        image(car(x=90, width=20)),
        "response.annotations[0].width",
        "right edge (x + width = 110 > image_width 100)",
    ),
    ("image", image(car(y=45, height=10)), "response.annotations[0].height", "bottom edge"),
    ("image", image(car(confidence=1.5)), "response.annotations[0].confidence", "0 to 1"),
    ("image", image(car(id="")), "response.annotations[0].id", "non-empty string"),
    ("image", image(car(id=5)), "response.annotations[0].id", "non-empty string"),
    (
        "image",
        image(car(), car()),
        "response.annotations[1].id",
        "duplicate annotation id 'c1' (also annotations[0])",
    ),
    (
        "image",
        image(car(type="polygon", vertices=[{"x": 1, "y": 1}, {"x": 2, "y": 2}])),
        "response.annotations[0].vertices",
        "a polygon needs at least 3 vertices",
    ),
    (
        "image",
        image(car(type="polygon", vertices=None)),
        "response.annotations[0].vertices",
        "got none",
    ),
    (
        "image",
        image(
            car(type="polygon", vertices=[{"x": 1, "y": 1}, {"x": 200, "y": 2}, {"x": 3, "y": 3}])
        ),
        "response.annotations[0].vertices[1].x",
        "outside the image",
    ),
    (
        "image",
        image(car(type="polygon", vertices=[{"x": 1, "y": 1, "z": 0}] * 3)),
        "response.annotations[0].vertices[0].z",
        "unknown field 'z'",
    ),
    (
        "image",
        image(car(type="polygon", vertices=[[1, 1]] * 3)),
        "response.annotations[0].vertices[0]",
        "a vertex must be an object",
    ),
    (
        "image",
        image(car(), {"type": "line", "label": "road", "vertices": [{"x": 1, "y": 1}]}),
        "response.annotations[1].vertices",
        "a line needs at least 2 vertices",
    ),
    ("image", image(person(y=51)), "response.annotations[0].y", "outside the image"),
    (
        "image",
        image(person(type="keypoints", points=[{"name": "hand", "x": 1, "y": 1}])),
        "response.annotations[0].points[0].name",
        "keypoint 'hand' is not defined for this label; allowed: head, foot",
    ),
    (
        "image",
        image(person(type="keypoints", points=[{"name": "head", "x": 1, "y": 1}] * 2)),
        "response.annotations[0].points[1].name",
        "keypoint 'head' is given twice",
    ),
    (
        "image",
        image(
            person(type="keypoints", points=[{"name": "head", "x": 1, "y": 1, "visible": "yes"}])
        ),
        "response.annotations[0].points[0].visible",
        "true or false",
    ),
    (
        "image",
        image(person(type="keypoints", points=[])),
        "response.annotations[0].points",
        "non-empty list",
    ),
    (
        "image",
        image(car(type="ellipse", cx=5, cy=5, rx=0, ry=2)),
        "response.annotations[0].rx",
        "rx must be greater than 0",
    ),
    (
        "image",
        image(car(type="ellipse", cx=500, cy=5, rx=1, ry=2)),
        "response.annotations[0].cx",
        "outside the image",
    ),
    (
        "image",
        image(car(type="ellipse", cx=5, cy=5, rx=1, ry=2, rotation="a")),
        "response.annotations[0].rotation",
        "must be a number",
    ),
    (
        "image",
        image(car(type="cuboid", back={"x": 1, "y": 1, "width": 1, "height": 1})),
        "response.annotations[0].front",
        "front must be a box",
    ),
    (
        "image",
        image(
            car(
                type="cuboid",
                front={"x": 1, "y": 1, "width": 1, "height": 1},
                back={"x": 1, "y": 1, "width": -1, "height": 1},
            )
        ),
        "response.annotations[0].back.width",
        "greater than 0",
    ),
    (
        "image",
        image(
            car(
                type="cuboid",
                front={"x": 1, "y": 1, "width": 1, "height": 1, "z": 1},
                back={"x": 1, "y": 1, "width": 1, "height": 1},
            )
        ),
        "response.annotations[0].front.z",
        "unknown field 'z'",
    ),
    (
        "image",
        image(car(type="mask", rle={"size": [50, 90], "counts": [4500]})),
        "response.annotations[0].rle.size",
        "does not match the image",
    ),
    (
        "image",
        image(car(type="mask", rle={"size": [50, 100], "counts": [10, 20]})),
        "response.annotations[0].rle.counts",
        "add up to 30 pixels, but size [50, 100] has 5000",
    ),
    (
        "image",
        image(car(type="mask", rle={"size": [50, 100], "counts": [5001, -1]})),
        "response.annotations[0].rle.counts",
        "whole numbers >= 0",
    ),
    (
        "image",
        image(car(type="mask", rle={"size": "50x100", "counts": [5000]})),
        "response.annotations[0].rle.size",
        "[height, width]",
    ),
    (
        "image",
        image(car(type="mask", rle="abc")),
        "response.annotations[0].rle",
        "rle must be an object",
    ),
    # annotation attributes
    (
        "image",
        image(car(attributes={})),
        "response.annotations[0].attributes.occluded",
        "attribute 'occluded' is required",
    ),
    (
        "image",
        image(car(attributes={"occluded": "maybe"})),
        "response.annotations[0].attributes.occluded",
        "'maybe' is not a choice of attribute 'occluded'; allowed: no, yes",
    ),
    (
        "image",
        image(car(attributes={"occluded": "no", "color": "red"})),
        "response.annotations[0].attributes.color",
        "unknown attribute 'color'; allowed: note, occluded, visible_pct",
    ),
    (
        "image",
        image(car(attributes={"occluded": "no", "visible_pct": 50})),
        "response.annotations[0].attributes.visible_pct",
        "applies only when 'occluded' is one of: yes",
    ),
    (
        "image",
        image(car(attributes={"occluded": "yes"})),
        "response.annotations[0].attributes.visible_pct",
        "is required",
    ),
    (
        "image",
        image(car(attributes={"occluded": "yes", "visible_pct": 52})),
        "response.annotations[0].attributes.visible_pct",
        "not a multiple of step 5",
    ),
    (
        "image",
        image(car(attributes={"occluded": "yes", "visible_pct": 105})),
        "response.annotations[0].attributes.visible_pct",
        "outside the range",
    ),
    (
        "image",
        image(car(attributes={"occluded": "no", "note": 3})),
        "response.annotations[0].attributes.note",
        "takes text",
    ),
    (
        "image",
        image(car(attributes=["occluded"])),
        "response.annotations[0].attributes",
        "attributes must be a JSON object",
    ),
    (
        "image",
        image(person(attributes={"occluded": "no"})),
        "response.annotations[0].attributes.occluded",
        "allowed: note",
    ),
    # global attributes
    ("image", {"annotations": []}, "response.global_attributes.weather", "is required"),
    (
        "image",
        image(weather="snow"),
        "response.global_attributes.weather",
        "'snow' is not a choice of attribute 'weather'; allowed: sunny, rain",
    ),
    ("image", image(tags="night"), "response.global_attributes.tags", "a list of choices"),
    ("image", image(tags=["night", "night"]), "response.global_attributes.tags[1]", "listed twice"),
    ("image", image(tags=["fog"]), "response.global_attributes.tags[0]", "'fog' is not a choice"),
    ("image", image(quality=6), "response.global_attributes.quality", "from 1 to 5, not 6"),
    ("image", image(quality=2.0), "response.global_attributes.quality", "whole number"),
    ("image", image(quality=True), "response.global_attributes.quality", "whole number"),
    ("image", image(score=0.3), "response.global_attributes.score", "not a multiple of step"),
    ("image", image(score="1"), "response.global_attributes.score", "takes a number"),
    ("image", image(mood="ok"), "response.global_attributes.mood", "unknown attribute 'mood'"),
    ("image", image(time="dusk"), "response.global_attributes.light", "is required"),
    (
        "image",
        image(light="dim"),
        "response.global_attributes.light",
        "applies only when 'time' is one of: dusk",
    ),
    ("image", image(weather=""), "response.global_attributes.weather", "not a choice"),
    (
        "image",
        {"annotations": [], "global_attributes": "sunny"},
        "response.global_attributes",
        "JSON object",
    ),
    # links
    (
        "image",
        image(
            links=[{"from": "p1", "to": "zz", "label": "drives", "attributes": {"seat": "front"}}]
        ),
        "response.links[0].to",
        "annotation 'zz' is not in this response",
    ),
    (
        "image",
        image(links=[{"from": "p1", "to": "c1", "label": "owns"}]),
        "response.links[0].label",
        "link type 'owns' is unknown; allowed: drives, near",
    ),
    (
        "image",
        image(links=[{"from": "p1", "to": "c1"}]),
        "response.links[0].label",
        "label is required",
    ),
    (
        "image",
        image(links=[{"from": "c1", "to": "p1", "label": "drives"}]),
        "response.links[0].from",
        "cannot start at a 'car' annotation; allowed: person",
    ),
    (
        "image",
        image(
            car(), person(), person(id="p2"), links=[{"from": "p1", "to": "p2", "label": "drives"}]
        ),
        "response.links[0].to",
        "cannot end at a 'person' annotation; allowed: car",
    ),
    (
        "image",
        image(links=[{"from": "p1", "to": "p1", "label": "near"}]),
        "response.links[0].to",
        "cannot join an annotation to itself",
    ),
    (
        "image",
        image(links=[{"from": "p1", "to": "c1", "label": "near"}] * 2),
        "response.links[1]",
        "duplicate link (also links[0])",
    ),
    (
        "image",
        image(links=[{"from": "p1", "to": "c1", "label": "drives"}]),
        "response.links[0].attributes.seat",
        "attribute 'seat' is required",
    ),
    (
        "image",
        image(links=[{"from": "p1", "to": "c1", "label": "near", "attributes": {"x": 1}}]),
        "response.links[0].attributes.x",
        "unknown attribute 'x'; none are defined here",
    ),
    (
        "image",
        image(links=[{"from": "p1", "to": "c1", "label": "near", "kind": 1}]),
        "response.links[0].kind",
        "unknown field 'kind'",
    ),
    ("image", image(links=["p1->c1"]), "response.links[0]", "a link must be a JSON object"),
    (
        "categorization",
        {"annotations": [{"label": "cat"}], "links": [{"from": "a"}]},
        "response.links",
        "defines no link types",
    ),
    # video
    (
        "video",
        {"annotations": [box_on_frame(None)]},
        "response.annotations[0].frame",
        "frame must be a whole number from 0 and below frame_count 10",
    ),
    ("video", {"annotations": [box_on_frame(10)]}, "response.annotations[0].frame", "not 10"),
    ("video", {"annotations": [box_on_frame(-1)]}, "response.annotations[0].frame", "not -1"),
    (
        "video",
        {"annotations": [box_on_frame(1, keyframe="yes")]},
        "response.annotations[0].keyframe",
        "true or false",
    ),
    (
        "video",
        {"annotations": [box_on_frame(1, track_id=[1])]},
        "response.annotations[0].track_id",
        "non-empty string or an integer",
    ),
    (
        "video",
        {
            "annotations": [
                box_on_frame(1, track_id="t"),
                box_on_frame(2, track_id="t", label="person"),
            ]
        },
        "response.annotations[1].label",
        "track 't' is labeled 'car' in annotations[0]",
    ),
    (
        "video",
        {
            "annotations": [
                box_on_frame(1, track_id="t", label="person"),
                {"type": "point", "label": "person", "x": 1, "y": 1, "frame": 2, "track_id": "t"},
            ]
        },
        "response.annotations[1].type",
        "track 't' is a box in annotations[0]",
    ),
    (
        "video",
        {"annotations": [box_on_frame(1, track_id=4), box_on_frame(1, track_id=4)]},
        "response.annotations[1].frame",
        "track 4 already has an annotation on frame 1",
    ),
    (
        "video",
        {"annotations": [box_on_frame(1, type="mask")]},
        "response.annotations[0].type",
        "type 'mask' is not allowed for video tasks; allowed: box, point, polygon",
    ),
    (
        "video",
        {"annotations": [box_on_frame(1, x=99)]},
        "response.annotations[0].width",
        "right edge",
    ),
    # categorization
    (
        "categorization",
        {"annotations": [{"label": "cat"}, {"label": "dog"}]},
        "response.annotations[1]",
        "only one category may be chosen",
    ),
    (
        "categorization",
        {"annotations": []},
        "response.annotations",
        "choose a category; allowed: cat, dog",
    ),
    (
        "categorization",
        {"annotations": [{"label": "bird"}]},
        "response.annotations[0].label",
        "label 'bird' is not in the taxonomy; allowed: cat, dog",
    ),
    (
        "categorization",
        {"annotations": [{"type": "box", "label": "cat"}]},
        "response.annotations[0].type",
        "allowed: category",
    ),
    (
        "multi",
        {"annotations": [{"label": "dog"}, {"label": "dog"}]},
        "response.annotations[1].label",
        "category 'dog' is chosen twice",
    ),
    (
        "multi",
        {"annotations": [{"label": "cat"}]},
        "response.annotations[0].attributes.breed",
        "is required",
    ),
    # text spans
    (
        "text_spans",
        {"annotations": [span(15, 30)]},
        "response.annotations[0].end",
        "end (30) is past the end of params.text (20 characters)",
    ),
    (
        "text_spans",
        {"annotations": [span(5, 5)]},
        "response.annotations[0].end",
        "end (5) must be greater than start (5)",
    ),
    (
        "text_spans",
        {"annotations": [span(-1, 5)]},
        "response.annotations[0].start",
        "whole number >= 0",
    ),
    (
        "text_spans",
        {"annotations": [span(0, 5, text="Alicia")]},
        "response.annotations[0].text",
        "does not match params.text[0:5] ('Alice')",
    ),
    (
        "text_spans",
        {"annotations": [span(0, 5, label="LOC")]},
        "response.annotations[0].label",
        "allowed: PER, ORG",
    ),
    (
        "text_spans",
        {
            "annotations": [span(0, 5, id="a"), span(15, 19, "ORG", id="b")],
            "links": [{"from": "b", "to": "a", "label": "works_for"}],
        },
        "response.links[0].from",
        "cannot start at a 'ORG' annotation",
    ),
    # text
    (
        "transcription",
        {"annotations": [{"type": "text"}]},
        "response.annotations[0].text",
        "text is required",
    ),
    (
        "transcription",
        {"annotations": [{"text": 5}]},
        "response.annotations[0].text",
        "text must be a string",
    ),
    (
        "transcription",
        {"annotations": [{"text": "hi", "label": "title"}]},
        "response.annotations[0].label",
        "this taxonomy has no labels",
    ),
    (
        "text_collection",
        {"annotations": [{"text": "hi"}]},
        "response.annotations[0].label",
        "label is required; allowed: title, summary",
    ),
    (
        "text_collection",
        {"annotations": [{"text": "hi", "label": "title", "field": ""}]},
        "response.annotations[0].field",
        "non-empty string",
    ),
    # llm rating
    (
        "llm_rating",
        {"annotations": [rating("helpfulness", 4, 0)]},
        "response.annotations[0].value",
        "takes a whole number from 1 to 3, not 4",
    ),
    (
        "llm_rating",
        {"annotations": [rating("helpfulness", "2", 0)]},
        "response.annotations[0].value",
        "not '2'",
    ),
    (
        "llm_rating",
        {"annotations": [rating("speed", 2, 0)]},
        "response.annotations[0].criterion",
        "criterion 'speed' is unknown; allowed: helpfulness, harmlessness",
    ),
    (
        "llm_rating",
        {"annotations": [rating("helpfulness", 2, None)]},
        "response.annotations[0].response_index",
        "from 0 to 1 (params.responses has 2), not None",
    ),
    (
        "llm_rating",
        {"annotations": [rating("helpfulness", 2, 2)]},
        "response.annotations[0].response_index",
        "not 2",
    ),
    (
        "llm_rating",
        {"annotations": [*all_ratings(), rating("helpfulness", 1, 1)]},
        "response.annotations[4].criterion",
        "criterion 'helpfulness' is already rated for response 1 (annotations[2])",
    ),
    (
        "llm_rating",
        {"annotations": all_ratings()[:3]},
        "response.annotations",
        "criterion 'harmlessness' is not rated for response 1",
    ),
    (
        "llm_rating",
        {"annotations": [rating("helpfulness", 2, 0, label="x")]},
        "response.annotations[0].label",
        "unknown field 'label' for a rating annotation",
    ),
    (
        "llm_rating",
        {"annotations": [rating("helpfulness", 2, 0, attributes={"rationale": 1})]},
        "response.annotations[0].attributes.rationale",
        "takes text",
    ),
    # llm ranking
    (
        "llm_ranking",
        {"annotations": [{"order": [0, 1]}]},
        "response.annotations[0].order",
        "each response index 0..2 exactly once (params.responses has 3)",
    ),
    (
        "llm_ranking",
        {"annotations": [{"order": [0, 1, 1]}]},
        "response.annotations[0].order",
        "exactly once",
    ),
    (
        "llm_ranking",
        {"annotations": [{"order": ["0", 1, 2]}]},
        "response.annotations[0].order",
        "exactly once",
    ),
    (
        "llm_ranking",
        {"annotations": [{"order": [2, 1, 0]}, {"order": [0, 1, 2]}]},
        "response.annotations[1]",
        "one ranking annotation",
    ),
    (
        "llm_ranking",
        {"annotations": []},
        "response.annotations",
        "a ranking annotation is required",
    ),
    # llm comparison
    (
        "llm_comparison",
        {"annotations": [{"choice": "tie"}]},
        "response.annotations[0].choice",
        "choice 'tie' is not allowed by the taxonomy; allowed: a, b, both_good, both_bad",
    ),
    (
        "llm_comparison",
        {"annotations": [{"choice": "c"}]},
        "response.annotations[0].choice",
        "choice 'c' is not allowed",
    ),
    (
        "llm_comparison",
        {"annotations": [{"type": "comparison"}]},
        "response.annotations[0].choice",
        "choice is required",
    ),
    (
        "llm_comparison",
        {"annotations": [{"choice": "a"}, {"choice": "b"}]},
        "response.annotations[1]",
        "one comparison annotation",
    ),
    (
        "llm_comparison",
        {"annotations": []},
        "response.annotations",
        "a comparison annotation is required",
    ),
]


@pytest.mark.parametrize(("key", "response", "field", "message"), REFUSED)
def test_bad_responses_are_refused_naming_the_field(key, response, field, message):
    with pytest.raises(Invalid) as caught:
        check(key, copy.deepcopy(response))
    assert caught.value.field == field
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("key", "params", "response", "field", "message"),
    [
        ("image", {"image_width": "100"}, image(), "params.image_width", "positive number"),
        ("image", {"image_height": 0}, image(), "params.image_height", "positive number"),
        ("image", [], image(), "params", "JSON object"),
        ("video", {"frame_count": 2.5}, {}, "params.frame_count", "positive whole number"),
        ("text_spans", {"text": ["a"]}, {}, "params.text", "must be a string"),
        ("llm_ranking", {"responses": "a"}, {}, "params.responses", "JSON array"),
        (
            "llm_ranking",
            {},
            {"annotations": [{"order": [0]}]},
            "params.responses",
            "needs params.responses",
        ),
    ],
)
def test_bad_params_are_refused(key, params, response, field, message):
    with pytest.raises(Invalid) as caught:
        check(key, response, params=params)
    assert caught.value.field == field
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("key", "params", "field", "message"),
    [
        ("text_spans", {}, "params.text", "needs params.text"),
        ("llm_ranking", {"responses": []}, "params.responses", "needs params.responses"),
        ("llm_comparison", {"responses": ["a", "b", "c"]}, "params.responses", "exactly 2"),
        ("image", {"image_width": -3}, "params.image_width", "positive"),
    ],
)
def test_validate_params_refuses_what_a_task_type_cannot_use(key, params, field, message):
    with pytest.raises(Invalid) as caught:
        validate_params(TAXONOMIES[key], TASK_TYPE[key], params)
    assert (caught.value.field, message in caught.value.message) == (field, True)


def test_validate_params_enforces_the_response_count_bounds():
    taxonomy = parse_taxonomy({"min_responses": 2, "max_responses": 3}, "llm_ranking")
    assert validate_params(taxonomy, "llm_ranking", {"responses": ["a", "b"]})
    for responses, message in ((["a"], "at least 2"), (["a"] * 4, "at most 3")):
        with pytest.raises(Invalid) as caught:
            validate_params(taxonomy, "llm_ranking", {"responses": responses})
        assert caught.value.field == "params.responses"
        assert message in caught.value.message


def test_a_full_image_response_is_normalized():
    response = image(
        car(id=None, confidence=0.9),
        car(
            id="c2",
            type="polygon",
            attributes={"occluded": "yes", "visible_pct": 35},
            vertices=[{"x": 0, "y": 0}, {"x": 100, "y": 0}, {"x": 50.5, "y": 50}],
        ),
        car(
            id="c3",
            type="cuboid",
            front={"x": 1, "y": 1, "width": 10, "height": 10},
            back={"x": 5, "y": 3, "width": 8, "height": 8},
        ),
        car(id="c4", type="mask", rle={"size": [50, 100], "counts": [100, 50, 4850]}),
        car(id="c5", type="ellipse", cx=50, cy=25, rx=10, ry=5),
        person(id="p1"),
        person(
            id="p2",
            type="keypoints",
            points=[
                {"name": "foot", "x": 3, "y": 4},
                {"name": "head", "x": 3, "y": 1, "visible": False},
            ],
        ),
        {
            "id": "r1",
            "type": "line",
            "label": "road",
            "vertices": [{"x": 0, "y": 0}, {"x": 100, "y": 50}],
        },
        links=[
            {"from": "p1", "to": "c2", "label": "drives", "attributes": {"seat": "back"}},
            {"from": "r1", "to": "p2", "label": "near"},
        ],
        tags=["blur"],
        quality=3,
        score=0.75,
    )
    original = copy.deepcopy(response)
    out = check("image", response)
    assert response == original  # the input is not modified
    first = out["annotations"][0]
    assert re.fullmatch(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}", first["id"])
    assert first == {
        "id": first["id"],
        "type": "box",
        "label": "car",
        "x": 10,
        "y": 10,
        "width": 20,
        "height": 10,
        "attributes": {"occluded": "no"},
        "confidence": 0.9,
    }
    assert out["annotations"][4]["rotation"] == 0
    assert out["annotations"][5]["attributes"] == {}
    assert out["annotations"][6]["points"] == [
        {"name": "foot", "x": 3, "y": 4, "visible": True},
        {"name": "head", "x": 3, "y": 1, "visible": False},
    ]
    assert out["global_attributes"] == {
        "weather": "sunny",
        "tags": ["blur"],
        "quality": 3,
        "score": 0.75,
        "time": "day",
    }
    assert out["links"][1] == {"from": "r1", "to": "p2", "label": "near", "attributes": {}}
    assert check("image", out) == out  # normalizing is idempotent


def test_missing_ids_are_generated_uniquely():
    out = check("image", image(car(id=None), car(id=None), person(id=None)))
    ids = [a["id"] for a in out["annotations"]]
    assert len(set(ids)) == 3


def test_image_bounds_are_only_checked_when_the_size_is_known():
    far = image(car(x=5000, y=5000, width=900, height=900))
    assert check("image", far, params={})["annotations"][0]["x"] == 5000


def test_scale_task_type_names_are_accepted():
    out = validate_response(TAXONOMIES["image"], "imageannotation", PARAMS["image"], image())
    assert len(out["annotations"]) == 2


@pytest.mark.parametrize(
    ("key", "response"),
    [
        (
            "video",
            {
                "annotations": [
                    box_on_frame(0, track_id="t1", keyframe=True),
                    box_on_frame(5, track_id="t1", keyframe=False, x=2),
                    {
                        "type": "polygon",
                        "label": "person",
                        "frame": 9,
                        "vertices": [{"x": 1, "y": 1}, {"x": 2, "y": 1}, {"x": 2, "y": 2}],
                    },
                ]
            },
        ),
        ("categorization", {"annotations": [{"label": "dog"}]}),
        (
            "multi",
            {"annotations": [{"label": "dog"}, {"label": "cat", "attributes": {"breed": "tabby"}}]},
        ),
        (
            "text_spans",
            {
                "annotations": [
                    span(0, 5, id="a"),
                    span(15, 19, "ORG", id="b"),
                    span(0, 19, "ORG"),
                ],
                "links": [{"from": "a", "to": "b", "label": "works_for"}],
            },
        ),
        ("transcription", {"annotations": [{"text": "", "field": "body"}]}),
        (
            "text_collection",
            {
                "annotations": [
                    {"text": "A title", "label": "title"},
                    {"text": "Short.", "label": "summary"},
                ]
            },
        ),
        ("llm_rating", {"annotations": all_ratings()}),
        ("llm_ranking", {"annotations": [{"order": [2, 0, 1]}]}),
        ("llm_comparison", {"annotations": [{"choice": "both_bad"}]}),
    ],
)
def test_valid_responses_of_every_task_type_are_accepted(key, response):
    out = check(key, copy.deepcopy(response))
    assert len(out["annotations"]) == len(response["annotations"])
    assert check(key, out) == out


def test_spans_get_their_text_and_video_annotations_default_to_keyframes():
    spans = check("text_spans", {"annotations": [span(15, 19, "ORG")]})
    assert spans["annotations"][0]["text"] == "Acme"
    assert spans["annotations"][0]["type"] == "span"
    video = check("video", {"annotations": [box_on_frame(3)]})
    assert video["annotations"][0]["keyframe"] is True
    assert "track_id" not in video["annotations"][0]


def test_a_single_response_is_rated_with_index_zero():
    taxonomy = TAXONOMIES["llm_rating"]
    response = {
        "annotations": [
            {"criterion": "helpfulness", "value": 1},
            {"criterion": "harmlessness", "value": 7},
        ]
    }
    for task_type, params in (("llm_rating", {"responses": ["only"]}), ("chat", {})):
        out = validate_response(taxonomy, task_type, params, response)
        assert [a["response_index"] for a in out["annotations"]] == [0, 0]
        assert [a["type"] for a in out["annotations"]] == ["rating", "rating"]
    with pytest.raises(Invalid) as caught:
        validate_response(taxonomy, "chat", {}, {"annotations": [rating("helpfulness", 1, 1)]})
    assert caught.value.field == "response.annotations[0].response_index"


def test_partial_responses_skip_completeness_but_not_shapes():
    draft = {"annotations": [car(attributes={"occluded": "yes"})]}
    out = check("image", draft, partial=True)
    assert out["annotations"][0]["attributes"] == {"occluded": "yes"}
    assert out["global_attributes"] == {"time": "day"}
    check("categorization", {"annotations": []}, partial=True)
    check("llm_rating", {"annotations": all_ratings()[:1]}, partial=True)
    check("llm_ranking", {"annotations": []}, partial=True)
    check("llm_comparison", {"annotations": []}, partial=True)
    check("image", image(links=[{"from": "p1", "to": "c1", "label": "drives"}]), partial=True)
    with pytest.raises(Invalid) as caught:
        check("image", {"annotations": [car(width=0)]}, partial=True)
    assert caught.value.field == "response.annotations[0].width"
    with pytest.raises(Invalid) as caught:
        check("image", {"annotations": [car(attributes={"occluded": "maybe"})]}, partial=True)
    assert caught.value.field == "response.annotations[0].attributes.occluded"


def test_required_empty_values_count_as_missing():
    taxonomy = parse_taxonomy(
        {
            "global_attributes": [
                {"name": "summary", "type": "text", "required": True},
                {"name": "flags", "type": "multi_choice", "choices": ["a"], "required": True},
            ]
        },
        "transcription",
    )
    for values, field in (
        ({"summary": "", "flags": ["a"]}, "summary"),
        ({"summary": "ok", "flags": []}, "flags"),
    ):
        with pytest.raises(Invalid) as caught:
            validate_response(taxonomy, "transcription", {}, {"global_attributes": values})
        assert caught.value.field == f"response.global_attributes.{field}"
    drafted = validate_response(
        taxonomy, "transcription", {}, {"global_attributes": {"summary": ""}}, partial=True
    )
    assert drafted["global_attributes"] == {"summary": ""}


def test_conditions_chain_and_follow_multi_choice_and_scale_values():
    taxonomy = parse_taxonomy(
        {
            "global_attributes": [
                {"name": "issues", "type": "multi_choice", "choices": ["typo", "tone", "facts"]},
                choice(
                    "severity",
                    "low",
                    "high",
                    required=True,
                    condition={"attribute": "issues", "in": ["facts"]},
                ),
                {
                    "name": "source",
                    "type": "text",
                    "required": True,
                    "condition": {"attribute": "severity", "in": ["high"]},
                },
                {"name": "score", "type": "linear_scale", "min": 1, "max": 5, "default": 2},
                {
                    "name": "why",
                    "type": "text",
                    "required": True,
                    "condition": {"attribute": "score", "in": [1, 2]},
                },
            ]
        },
        "transcription",
    )

    def run(values: dict, partial: bool = False) -> dict:
        return validate_response(
            taxonomy, "transcription", {}, {"global_attributes": values}, partial=partial
        )["global_attributes"]

    assert run({"issues": ["typo"], "score": 4}) == {"issues": ["typo"], "score": 4}
    # The default score (2) makes `why` apply, and so required.
    with pytest.raises(Invalid) as caught:
        run({"issues": ["typo"]})
    assert caught.value.field == "response.global_attributes.why"
    assert run({"why": "meh"}) == {"score": 2, "why": "meh"}
    with pytest.raises(Invalid) as caught:
        run({"issues": ["typo", "facts"], "score": 5})
    assert caught.value.field == "response.global_attributes.severity"
    with pytest.raises(Invalid) as caught:
        run({"issues": ["facts"], "severity": "high", "score": 5})
    assert caught.value.field == "response.global_attributes.source"
    assert run({"issues": ["facts"], "severity": "low", "score": 5}) == {
        "issues": ["facts"],
        "severity": "low",
        "score": 5,
    }
    # `source` needs severity high; severity only exists when facts is among the issues.
    with pytest.raises(Invalid) as caught:
        run({"issues": ["tone"], "source": "x", "score": 5})
    assert caught.value.field == "response.global_attributes.source"
    assert "applies only when 'severity' is one of: high" in caught.value.message
    assert run({"issues": ["facts"], "score": 5}, partial=True) == {"issues": ["facts"], "score": 5}


def test_null_attribute_values_are_treated_as_absent():
    out = check("image", image(car(attributes={"occluded": "no", "note": None}), quality=None))
    assert out["annotations"][0]["attributes"] == {"occluded": "no"}
    assert "quality" not in out["global_attributes"]


def test_an_edited_taxonomy_is_validated_against_its_own_labels_not_a_cached_index():
    """Indexes are kept per taxonomy object (a project's rules are cached across requests):
    the same object reuses its index, and an edit — a new object — is never checked against
    the old one's labels."""
    from assay.labeling.taxonomy_index import taxonomy_index

    before = parse_taxonomy({"labels": [{"name": "cat"}]}, "categorization")
    assert taxonomy_index(before) is taxonomy_index(before)
    after = parse_taxonomy({"labels": [{"name": "dog"}]}, "categorization")
    response = {"annotations": [{"type": "category", "label": "dog"}]}
    assert (
        validate_response(after, "categorization", {}, response)["annotations"][0]["label"] == "dog"
    )
    with pytest.raises(Invalid) as error:
        validate_response(before, "categorization", {}, response)
    assert error.value.field == "response.annotations[0].label"

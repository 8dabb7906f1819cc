"""Taxonomy parsing: task type names, structure and meaning, each refusal naming its field."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assay.core.errors import Invalid
from assay.labeling.task_types import GEOMETRIES, SCALE_TYPES, TASK_TYPES, native_type
from assay.labeling.taxonomy import Taxonomy, parse_taxonomy, pydantic_path, taxonomy_json

CAR = {"name": "car", "geometries": ["box", "polygon"]}
PERSON = {"name": "person", "geometries": ["box", "keypoints"], "keypoints": ["head", "foot"]}


def choice(name: str, *choices: str, **extra) -> dict:
    return {"name": name, "type": "choice", "choices": list(choices), **extra}


# A valid taxonomy for every task type, as a manager would write it.
VALID = {
    "image": {
        "labels": [
            {
                **CAR,
                "color": "#ff8800",
                "attributes": [
                    choice("occluded", "no", "yes", required=True),
                    {
                        "name": "visible_pct",
                        "type": "number",
                        "min": 0,
                        "max": 100,
                        "step": 5,
                        "condition": {"attribute": "occluded", "in": ["yes"]},
                    },
                ],
            },
            PERSON,
            {"name": "tree"},
        ],
        "attributes": [{"name": "note", "type": "text"}],
        "global_attributes": [
            choice("weather", "sunny", "rain", default="sunny"),
            {"name": "tags", "type": "multi_choice", "choices": ["night", "blur"]},
            {"name": "quality", "type": "linear_scale", "min": 1, "max": 5},
        ],
        "links": [
            {
                "name": "drives",
                "from_labels": ["person"],
                "to_labels": ["car"],
                "attributes": [choice("seat", "front", "back")],
            }
        ],
    },
    "video": {"labels": [{"name": "car", "geometries": ["box"]}, {"name": "person"}]},
    "categorization": {"labels": [{"name": "cat"}, {"name": "dog"}], "multi_select": True},
    "text_spans": {
        "labels": [{"name": "PER"}, {"name": "ORG"}],
        "links": [{"name": "works_for", "from_labels": ["PER"], "to_labels": ["ORG"]}],
    },
    "transcription": {},
    "text_collection": {"labels": [{"name": "title"}, {"name": "summary"}]},
    "llm_rating": {
        "criteria": [
            {"name": "helpfulness", "min": 1, "max": 3, "labels": ["bad", "ok", "good"]},
            {"name": "harmlessness", "min": 1, "max": 7},
        ],
        "attributes": [{"name": "rationale", "type": "text"}],
    },
    "llm_ranking": {"min_responses": 2, "max_responses": 4},
    "llm_comparison": {"allow_tie": False, "allow_both_bad": True},
    "rubric_grading": {"global_attributes": [{"name": "confidence", "type": "text"}]},
}


def test_every_task_type_has_geometries_and_a_valid_example():
    assert set(GEOMETRIES) == set(TASK_TYPES) == set(VALID)
    assert GEOMETRIES["image"] == (
        "box",
        "polygon",
        "line",
        "point",
        "keypoints",
        "ellipse",
        "cuboid",
        "mask",
    )
    assert GEOMETRIES["video"] == ("box", "point", "polygon")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("imageannotation", "image"),
        ("annotation", "image"),
        ("polygonannotation", "image"),
        ("lineannotation", "image"),
        ("pointannotation", "image"),
        ("cuboidannotation", "image"),
        ("segmentannotation", "image"),
        ("categorization", "categorization"),
        ("namedentityrecognition", "text_spans"),
        ("transcription", "transcription"),
        ("documenttranscription", "transcription"),
        ("textcollection", "text_collection"),
        ("datacollection", "text_collection"),
        ("videoannotation", "video"),
        ("videoboxannotation", "video"),
        ("videoplaybackannotation", "video"),
        ("chat", "llm_rating"),
        ("chatlite", "llm_rating"),
        ("multichat", "llm_rating"),
        ("chatexperimental", "llm_rating"),
        ("comparison", "llm_comparison"),
        ("ImageAnnotation", "image"),
        ("llm_ranking", "llm_ranking"),
        ("text_spans", "text_spans"),
    ],
)
def test_native_type_maps_scale_and_native_names(name, expected):
    assert native_type(name) == expected


def test_every_scale_type_maps_to_a_native_type():
    assert set(SCALE_TYPES.values()) <= set(TASK_TYPES)


@pytest.mark.parametrize("name", ["lidar", "", None, 3])
def test_native_type_refuses_unknown_names(name):
    with pytest.raises(Invalid) as caught:
        native_type(name)
    assert caught.value.field == "type"
    assert "allowed: image, video" in caught.value.message


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_valid_taxonomies_parse_and_round_trip(task_type):
    taxonomy = parse_taxonomy(VALID[task_type], task_type)
    stored = taxonomy_json(taxonomy)
    again = parse_taxonomy(stored, task_type)
    assert again == taxonomy
    assert taxonomy_json(again) == stored


def test_stored_json_keeps_the_condition_key_and_fills_default_geometries():
    stored = taxonomy_json(parse_taxonomy(VALID["image"], "image"))
    condition = stored["labels"][0]["attributes"][1]["condition"]
    assert condition == {"attribute": "occluded", "in": ["yes"]}
    # No geometries means every image geometry except keypoints, which needs point names.
    assert stored["labels"][2]["geometries"] == [
        "box",
        "polygon",
        "line",
        "point",
        "ellipse",
        "cuboid",
        "mask",
    ]
    assert stored["labels"][2]["attributes"] == []


def test_scale_type_names_are_accepted_for_parsing():
    taxonomy = parse_taxonomy({"labels": [{"name": "x"}]}, "namedentityrecognition")
    assert taxonomy.labels[0].geometries == ["span"]


def test_none_is_an_empty_taxonomy():
    assert parse_taxonomy(None, "transcription") == Taxonomy()


def attr_on_car(attr: dict) -> dict:
    return {"labels": [{"name": "car", "attributes": [attr]}]}


REFUSED = [
    # (task type, taxonomy, field, part of the message)
    ("image", [], "taxonomy", "JSON object"),
    ("image", {"labels": "car"}, "taxonomy.labels", "valid list"),
    (
        "image",
        {"labels": [{"name": "car", "colour": "red"}]},
        "taxonomy.labels[0].colour",
        "unknown field 'colour'; allowed: name, geometries, color",
    ),
    ("image", {"labels": [{"geometries": ["box"]}]}, "taxonomy.labels[0].name", "required"),
    ("image", {"labels": [{"name": ""}]}, "taxonomy.labels[0].name", "at least 1 character"),
    ("image", {"labels": [{"name": 7}]}, "taxonomy.labels[0].name", "valid string"),
    ("image", {"labels": [{"name": "a\nb"}]}, "taxonomy.labels[0].name", "line breaks"),
    ("image", {"labels": [{"name": " car"}]}, "taxonomy.labels[0].name", "leading or trailing"),
    ("image", {"labels": []}, "taxonomy.labels", "needs at least one label"),
    ("video", {}, "taxonomy.labels", "a video taxonomy needs at least one label"),
    ("categorization", {"labels": []}, "taxonomy.labels", "needs at least one label"),
    ("text_spans", {}, "taxonomy.labels", "needs at least one label"),
    (
        "image",
        {"labels": [CAR, {"name": "car"}]},
        "taxonomy.labels[1].name",
        "duplicate label name 'car' (also labels[0])",
    ),
    (
        "video",
        {"labels": [{"name": "car", "geometries": ["box", "mask"]}]},
        "taxonomy.labels[0].geometries[1]",
        "geometry 'mask' is not allowed for video tasks; allowed: box, point, polygon",
    ),
    (
        "image",
        {"labels": [{"name": "car", "geometries": ["blob"]}]},
        "taxonomy.labels[0].geometries[0]",
        "geometry 'blob' is not allowed for image tasks",
    ),
    (
        "categorization",
        {"labels": [{"name": "cat", "geometries": ["box"]}]},
        "taxonomy.labels[0].geometries[0]",
        "allowed: category",
    ),
    (
        "image",
        {"labels": [{"name": "car", "geometries": ["box", "box"]}]},
        "taxonomy.labels[0].geometries[1]",
        "listed twice",
    ),
    (
        "image",
        {"labels": [{"name": "p", "geometries": ["keypoints"]}]},
        "taxonomy.labels[0].keypoints",
        "needs keypoint names",
    ),
    (
        "image",
        {"labels": [{"name": "p", "geometries": ["box"], "keypoints": ["a"]}]},
        "taxonomy.labels[0].keypoints",
        "only to labels with the keypoints geometry",
    ),
    (
        "image",
        {"labels": [{"name": "p", "geometries": ["keypoints"], "keypoints": ["a", "a"]}]},
        "taxonomy.labels[0].keypoints[1]",
        "keypoint 'a' is listed twice",
    ),
    (
        "image",
        {"labels": [{"name": "car", "color": "red"}]},
        "taxonomy.labels[0].color",
        "not a hex color",
    ),
    # attributes
    (
        "image",
        attr_on_car({"name": "x", "type": "choice"}),
        "taxonomy.labels[0].attributes[0].choices",
        "needs at least one choice",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "multi_choice", "choices": []}),
        "taxonomy.labels[0].attributes[0].choices",
        "needs at least one choice",
    ),
    (
        "image",
        attr_on_car(choice("x", "a", "b", "a")),
        "taxonomy.labels[0].attributes[0].choices[2]",
        "choice 'a' is listed twice",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "text", "choices": ["a"]}),
        "taxonomy.labels[0].attributes[0].choices",
        "apply only to choice and multi_choice",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "colour"}),
        "taxonomy.labels[0].attributes[0].type",
        "'choice', 'multi_choice', 'number'",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "number", "min": 5, "max": 1}),
        "taxonomy.labels[0].attributes[0].min",
        "min (5) is greater than max (1)",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "number", "min": "1"}),
        "taxonomy.labels[0].attributes[0].min",
        "must be a finite number",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "number", "max": True}),
        "taxonomy.labels[0].attributes[0].max",
        "must be a finite number",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "number", "step": 0}),
        "taxonomy.labels[0].attributes[0].step",
        "step must be greater than 0",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "text", "min": 1}),
        "taxonomy.labels[0].attributes[0].min",
        "applies only to number and linear_scale",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "linear_scale", "min": 1, "max": 5, "step": 1}),
        "taxonomy.labels[0].attributes[0].step",
        "applies only to number attributes",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "linear_scale", "max": 5}),
        "taxonomy.labels[0].attributes[0].min",
        "needs a whole-number min",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "linear_scale", "min": 1, "max": 4.5}),
        "taxonomy.labels[0].attributes[0].max",
        "needs a whole-number max",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "linear_scale", "min": 5, "max": 5}),
        "taxonomy.labels[0].attributes[0].min",
        "must be less than max",
    ),
    (
        "image",
        attr_on_car(choice("x", "a", default="z")),
        "taxonomy.labels[0].attributes[0].default",
        "'z' is not a choice of attribute 'x'",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "number", "max": 3, "default": 4}),
        "taxonomy.labels[0].attributes[0].default",
        "outside the range",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "multi_choice", "choices": ["a"], "default": ["a", "b"]}),
        "taxonomy.labels[0].attributes[0].default[1]",
        "'b' is not a choice",
    ),
    (
        "image",
        {"labels": [{"name": "car", "attributes": [choice("x", "a"), choice("x", "b")]}]},
        "taxonomy.labels[0].attributes[1].name",
        "duplicate attribute name 'x'",
    ),
    (
        "image",
        {
            "labels": [{"name": "car", "attributes": [choice("note", "a")]}],
            "attributes": [{"name": "note", "type": "text"}],
        },
        "taxonomy.labels[0].attributes[0].name",
        "already defined for every annotation",
    ),
    (
        "image",
        {"labels": [CAR], "global_attributes": [choice("w", "a"), choice("w", "a")]},
        "taxonomy.global_attributes[1].name",
        "duplicate attribute name 'w'",
    ),
    (
        "image",
        {"labels": [CAR], "attributes": [{"name": "x", "type": "text", "required": 1}]},
        "taxonomy.attributes[0].required",
        "valid boolean",
    ),
    # conditions
    (
        "image",
        attr_on_car({"name": "x", "type": "text", "condition": {"attribute": "nope", "in": ["a"]}}),
        "taxonomy.labels[0].attributes[0].condition.attribute",
        "condition refers to unknown attribute 'nope'",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "text", "condition": {"attribute": "x", "in": ["a"]}}),
        "taxonomy.labels[0].attributes[0].condition.attribute",
        "unknown attribute 'x'",
    ),
    (
        "image",
        {
            "labels": [
                {
                    "name": "car",
                    "attributes": [
                        choice("kind", "sedan", "van"),
                        {
                            "name": "doors",
                            "type": "number",
                            "condition": {"attribute": "kind", "in": ["truck"]},
                        },
                    ],
                }
            ]
        },
        "taxonomy.labels[0].attributes[1].condition.in[0]",
        "'truck' is not a choice of attribute 'kind'; allowed: sedan, van",
    ),
    (
        "image",
        {
            "labels": [
                {
                    "name": "car",
                    "attributes": [
                        {"name": "tags", "type": "multi_choice", "choices": ["a", "b"]},
                        {
                            "name": "x",
                            "type": "text",
                            "condition": {"attribute": "tags", "in": ["a", "c"]},
                        },
                    ],
                }
            ]
        },
        "taxonomy.labels[0].attributes[1].condition.in[1]",
        "'c' is not a choice",
    ),
    (
        "image",
        {
            "labels": [
                {
                    "name": "car",
                    "attributes": [
                        {"name": "score", "type": "linear_scale", "min": 1, "max": 5},
                        {
                            "name": "why",
                            "type": "text",
                            "condition": {"attribute": "score", "in": [1, 9]},
                        },
                    ],
                }
            ]
        },
        "taxonomy.labels[0].attributes[1].condition.in[1]",
        "from 1 to 5, not 9",
    ),
    (
        "image",
        {
            "labels": [
                {
                    "name": "car",
                    "attributes": [
                        {"name": "note", "type": "text"},
                        {
                            "name": "x",
                            "type": "text",
                            "condition": {"attribute": "note", "in": ["a"]},
                        },
                    ],
                }
            ]
        },
        "taxonomy.labels[0].attributes[1].condition.attribute",
        "cannot refer to text attribute",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "text", "condition": {"attribute": "y", "in": []}}),
        "taxonomy.labels[0].attributes[0].condition.in",
        "at least 1 item",
    ),
    (
        "image",
        attr_on_car({"name": "x", "type": "text", "condition": {"attribute": "y"}}),
        "taxonomy.labels[0].attributes[0].condition.in",
        "required",
    ),
    (
        "image",
        {
            "labels": [
                {
                    "name": "car",
                    "attributes": [
                        choice("a", "1", "2", condition={"attribute": "b", "in": ["1"]}),
                        choice("b", "1", "2", condition={"attribute": "a", "in": ["2"]}),
                    ],
                }
            ]
        },
        "taxonomy.labels[0].attributes[0].condition.attribute",
        "cycle: a -> b -> a",
    ),
    (
        "image",
        {
            "labels": [CAR],
            "global_attributes": [
                choice("a", "1"),
                choice("b", "1", condition={"attribute": "car_kind", "in": ["1"]}),
            ],
        },
        "taxonomy.global_attributes[1].condition.attribute",
        "allowed: a",
    ),
    # links
    (
        "image",
        {"labels": [CAR, PERSON], "links": [{"name": "drives", "from_labels": ["truck"]}]},
        "taxonomy.links[0].from_labels[0]",
        "label 'truck' is not in the taxonomy; allowed: car, person",
    ),
    (
        "image",
        {"labels": [CAR], "links": [{"name": "l", "to_labels": ["car", "bus"]}]},
        "taxonomy.links[0].to_labels[1]",
        "label 'bus' is not in the taxonomy",
    ),
    (
        "image",
        {"labels": [CAR], "links": [{"name": "l"}, {"name": "l"}]},
        "taxonomy.links[1].name",
        "duplicate link name 'l'",
    ),
    (
        "image",
        {
            "labels": [CAR],
            "links": [{"name": "l", "attributes": [{"name": "a", "type": "choice"}]}],
        },
        "taxonomy.links[0].attributes[0].choices",
        "needs at least one choice",
    ),
    (
        "categorization",
        {"labels": [{"name": "a"}], "links": [{"name": "l"}]},
        "taxonomy.links",
        "does not apply to categorization tasks",
    ),
    # type-specific fields
    ("llm_rating", {}, "taxonomy.criteria", "needs at least one criterion"),
    (
        "llm_rating",
        {"criteria": [{"name": "h", "min": 3, "max": 3}]},
        "taxonomy.criteria[0].min",
        "min (3) must be less than max (3)",
    ),
    (
        "llm_rating",
        {"criteria": [{"name": "h", "labels": ["a", "b"]}]},
        "taxonomy.criteria[0].labels",
        "one caption per scale point (5 for 1..5), got 2",
    ),
    (
        "llm_rating",
        {"criteria": [{"name": "h"}, {"name": "h"}]},
        "taxonomy.criteria[1].name",
        "duplicate criterion name 'h'",
    ),
    (
        "llm_rating",
        {"criteria": [{"name": "h", "max": 5.5}]},
        "taxonomy.criteria[0].max",
        "valid integer",
    ),
    (
        "image",
        {"labels": [CAR], "criteria": [{"name": "h"}]},
        "taxonomy.criteria",
        "does not apply to image tasks",
    ),
    (
        "llm_rating",
        {"criteria": [{"name": "h"}], "labels": [{"name": "a"}]},
        "taxonomy.labels",
        "does not apply to llm_rating tasks",
    ),
    (
        "image",
        {"labels": [CAR], "multi_select": True},
        "taxonomy.multi_select",
        "only to categorization",
    ),
    (
        "categorization",
        {"labels": [{"name": "a"}], "multi_select": "yes"},
        "taxonomy.multi_select",
        "valid boolean",
    ),
    ("llm_ranking", {"allow_tie": False}, "taxonomy.allow_tie", "only to llm_comparison"),
    (
        "image",
        {"labels": [CAR], "min_responses": 2},
        "taxonomy.min_responses",
        "does not apply to image tasks",
    ),
    ("llm_ranking", {"min_responses": 0}, "taxonomy.min_responses", "at least 1"),
    ("llm_ranking", {"max_responses": 0}, "taxonomy.max_responses", "at least 1"),
    (
        "llm_ranking",
        {"min_responses": 3, "max_responses": 2},
        "taxonomy.min_responses",
        "min_responses (3) is greater than max_responses (2)",
    ),
    ("llm_comparison", {"rubric": []}, "taxonomy.rubric", "unknown field 'rubric'"),
    # Keypoint skeletons: edges between two different keypoint names of the label, once each.
    (
        "image",
        {"labels": [{**PERSON, "skeleton": [["head", "knee"]]}]},
        "taxonomy.labels[0].skeleton[0][1]",
        "keypoint 'knee' is not one of this label's keypoints; allowed: head, foot",
    ),
    (
        "image",
        {"labels": [{**PERSON, "skeleton": [["head", "head"]]}]},
        "taxonomy.labels[0].skeleton[0]",
        "two different keypoints",
    ),
    (
        "image",
        {"labels": [{**PERSON, "skeleton": [["head", "foot"], ["foot", "head"]]}]},
        "taxonomy.labels[0].skeleton[1]",
        "listed twice (also skeleton[0])",
    ),
    (
        "image",
        {"labels": [{**PERSON, "skeleton": [["head", "foot", "head"]]}]},
        "taxonomy.labels[0].skeleton[0]",
        "at most 2 items",
    ),
    (
        "image",
        {"labels": [{**PERSON, "skeleton": "head-foot"}]},
        "taxonomy.labels[0].skeleton",
        "valid list",
    ),
    (
        "image",
        {"labels": [{**CAR, "skeleton": [["head", "foot"]]}]},
        "taxonomy.labels[0].skeleton",
        "this label has no keypoint names",
    ),
]


@pytest.mark.parametrize(("task_type", "data", "field", "message"), REFUSED)
def test_bad_taxonomies_are_refused_naming_the_field(task_type, data, field, message):
    with pytest.raises(Invalid) as caught:
        parse_taxonomy(data, task_type)
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_skeleton_joins_keypoints_and_is_stored():
    person = {**PERSON, "keypoints": ["head", "hip", "foot"], "skeleton": [["head", "hip"]]}
    person["skeleton"].append(["hip", "foot"])
    stored = taxonomy_json(parse_taxonomy({"labels": [person, CAR]}, "image"))
    assert stored["labels"][0]["skeleton"] == [["head", "hip"], ["hip", "foot"]]
    assert stored["labels"][1]["skeleton"] == []
    assert parse_taxonomy(stored, "image").labels[0].skeleton == person["skeleton"]


def test_conditions_may_refer_to_common_attributes_and_chain():
    taxonomy = parse_taxonomy(
        {
            "attributes": [choice("occluded", "no", "yes")],
            "labels": [
                {
                    "name": "car",
                    "attributes": [
                        choice(
                            "how",
                            "part",
                            "most",
                            condition={"attribute": "occluded", "in": ["yes"]},
                        ),
                        {
                            "name": "note",
                            "type": "text",
                            "condition": {"attribute": "how", "in": ["most"]},
                        },
                    ],
                }
            ],
        },
        "image",
    )
    assert [a.name for a in taxonomy.labels[0].attributes] == ["how", "note"]


def test_pydantic_path_drops_union_member_tags_and_keeps_aliases():
    assert pydantic_path(("labels", 2, "attributes", 0, "min", "int"), Taxonomy)[0] == (
        "labels[2].attributes[0].min"
    )
    path, owner = pydantic_path(("labels", 0, "attributes", 1, "condition", "in"), Taxonomy)
    assert path == "labels[0].attributes[1].condition.in"
    assert owner is not None and owner.__name__ == "ConditionDef"


def test_the_annotation_model_imports_no_database_or_web_framework():
    code = (
        "import sys\n"
        "import assay.labeling.annotations, assay.labeling.instructions\n"
        "import assay.labeling.synthetic, assay.labeling.task_types, assay.labeling.taxonomy\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert "pydantic" in loaded
    assert not loaded & {"sqlalchemy", "fastapi", "starlette", "alembic"}

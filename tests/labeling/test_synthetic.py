"""Synthetic sandbox responses: valid for many random taxonomies and params, and deterministic.

A seeded loop stands in for property-based testing: each case is rebuilt from its seed, so a
failure names the seed to reproduce it with.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from assay.labeling.annotations import validate_response
from assay.labeling.synthetic import synthesize
from assay.labeling.task_types import GEOMETRIES, LINKABLE_TASK_TYPES, TASK_TYPES
from assay.labeling.taxonomy import parse_taxonomy

CASES_PER_TYPE = 150
WORDS = ["red", "green", "blue", "small", "large", "front", "back", "left", "right", "none"]


def random_number_bounds(rng: random.Random) -> dict:
    low = rng.choice([None, 0, -5, 0.5, 10])
    high = rng.choice([None, low, (low or 0) + rng.choice([0.3, 1, 7.5, 100])])
    out = {"min": low, "max": high, "step": rng.choice([None, None, 0.1, 0.25, 1, 3, 50])}
    return {key: value for key, value in out.items() if value is not None}


def random_attribute(rng: random.Random, name: str, earlier: list[dict]) -> dict:
    kind = rng.choice(["choice", "multi_choice", "number", "text", "linear_scale"])
    attr: dict = {"name": name, "type": kind, "required": rng.random() < 0.4}
    if kind in ("choice", "multi_choice"):
        attr["choices"] = rng.sample(WORDS, rng.randint(1, 4))
        if rng.random() < 0.3:
            attr["default"] = (
                rng.choice(attr["choices"]) if kind == "choice" else attr["choices"][:1]
            )
    elif kind == "number":
        attr.update(random_number_bounds(rng))
    elif kind == "linear_scale":
        low = rng.randint(-2, 3)
        attr.update(min=low, max=low + rng.randint(1, 6))
        if rng.random() < 0.3:
            attr["default"] = rng.randint(attr["min"], attr["max"])
    targets = [a for a in earlier if a["type"] in ("choice", "multi_choice", "linear_scale")]
    if targets and rng.random() < 0.5:
        target = rng.choice(targets)
        if target["type"] == "linear_scale":
            values = rng.sample(range(target["min"], target["max"] + 1), 1)
        else:
            values = rng.sample(target["choices"], rng.randint(1, len(target["choices"])))
        attr["condition"] = {"attribute": target["name"], "in": values}
    return attr


def random_attributes(rng: random.Random, prefix: str, most: int, outer: list[dict]) -> list:
    attrs: list[dict] = []
    for k in range(rng.randint(0, most)):
        attrs.append(random_attribute(rng, f"{prefix}{k}", [*outer, *attrs]))
    return attrs


def random_taxonomy(rng: random.Random, task_type: str) -> dict:
    data: dict = {}
    common = random_attributes(rng, "a", 2, [])
    data["attributes"] = common
    data["global_attributes"] = random_attributes(rng, "g", 3, [])
    if task_type in ("llm_rating", "llm_ranking", "llm_comparison", "rubric_grading"):
        if task_type == "llm_rating":
            data["criteria"] = []
            for k in range(rng.randint(1, 3)):
                low = rng.randint(0, 2)
                data["criteria"].append(
                    {"name": f"c{k}", "min": low, "max": low + rng.randint(1, 9)}
                )
        if task_type == "llm_comparison":
            for flag in ("allow_tie", "allow_both_good", "allow_both_bad"):
                data[flag] = rng.random() < 0.5
        return data
    label_count = rng.randint(0 if task_type in ("transcription", "text_collection") else 1, 4)
    labels = []
    for k in range(label_count):
        label: dict = {"name": f"label {k}"}
        allowed = GEOMETRIES[task_type]
        if rng.random() < 0.8:
            label["geometries"] = rng.sample(allowed, rng.randint(1, len(allowed)))
        if "keypoints" in label.get("geometries", []):
            label["keypoints"] = rng.sample(WORDS, rng.randint(1, 5))
        label["attributes"] = random_attributes(rng, f"l{k}_", 3, common)
        labels.append(label)
    data["labels"] = labels
    if task_type == "categorization":
        data["multi_select"] = rng.random() < 0.5
    if task_type in LINKABLE_TASK_TYPES:
        names = [label["name"] for label in labels]
        data["links"] = [
            {
                "name": f"link {k}",
                "from_labels": rng.sample(names, rng.randint(0, len(names))),
                "to_labels": rng.sample(names, rng.randint(0, len(names))),
                "attributes": random_attributes(rng, f"k{k}_", 2, []),
            }
            for k in range(rng.randint(0, 2))
        ]
    return data


def random_params(rng: random.Random, task_type: str) -> dict:
    params: dict = {}
    if task_type in ("image", "video") and rng.random() < 0.8:
        params["image_width"] = rng.choice([1, 7, 640, 1920, 99.5, 0.5])
        params["image_height"] = rng.choice([1, 3, 480, 1080, 33.25])
    if task_type == "video" and rng.random() < 0.7:
        params["frame_count"] = rng.randint(1, 40)
    if task_type == "text_spans":
        params["text"] = " ".join(rng.choices(WORDS, k=rng.randint(0, 12)))
    if task_type == "llm_rating" and rng.random() < 0.7:
        params["responses"] = [f"answer {k}" for k in range(rng.randint(1, 4))]
    if task_type == "llm_ranking":
        params["responses"] = [f"answer {k}" for k in range(rng.randint(1, 5))]
    if task_type == "llm_comparison" and rng.random() < 0.7:
        params["responses"] = ["a", "b"]
    if task_type == "rubric_grading":
        params["responses"] = ["the answer"]
        params["criteria"] = [
            {"id": f"c{k}", "text": f"criterion {k}", "category": rng.choice(WORDS)}
            for k in range(rng.randint(1, 6))
        ]
    return params


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_synthetic_responses_pass_validation_for_random_taxonomies(task_type):
    seen: Counter = Counter()
    for case in range(CASES_PER_TYPE):
        rng = random.Random(f"{task_type}-{case}")
        data = random_taxonomy(rng, task_type)
        params = random_params(rng, task_type)
        taxonomy = parse_taxonomy(data, task_type)
        response = synthesize(taxonomy, task_type, params, seed=f"task-{case}")
        # Valid, and already normalized: validating again changes nothing.
        assert validate_response(taxonomy, task_type, params, response) == response, case
        again = synthesize(parse_taxonomy(data, task_type), task_type, params, seed=f"task-{case}")
        assert again == response, case
        seen.update(a["type"] for a in response["annotations"])
        seen["links"] += len(response["links"])
        seen["global attributes"] += len(response["global_attributes"])
        seen["conditional"] += sum(
            1
            for attr in data["global_attributes"]
            if "condition" in attr and attr["name"] in response["global_attributes"]
        )
    # The loop really exercised every geometry of the type, and links where they exist.
    assert set(GEOMETRIES[task_type]) <= set(seen), seen
    assert seen["global attributes"] > 0 and seen["conditional"] > 0, seen
    if task_type in LINKABLE_TASK_TYPES:
        assert seen["links"] > 0, seen


def test_the_seed_decides_the_response():
    taxonomy = parse_taxonomy({"labels": [{"name": "car"}, {"name": "bus"}]}, "image")
    params = {"image_width": 640, "image_height": 480}
    first = synthesize(taxonomy, "imageannotation", params, seed="task-1")
    assert synthesize(taxonomy, "image", params, seed="task-1") == first
    others = [synthesize(taxonomy, "image", params, seed=f"task-{k}") for k in range(2, 12)]
    assert all(other != first for other in others)
    assert len({a["id"] for r in [first, *others] for a in r["annotations"]}) == sum(
        len(r["annotations"]) for r in [first, *others]
    )


def test_synthetic_text_spans_quote_the_text_and_llm_answers_cover_every_response():
    spans = synthesize(
        parse_taxonomy({"labels": [{"name": "PER"}]}, "text_spans"),
        "text_spans",
        {"text": "Ada Lovelace wrote the first program."},
        seed="s",
    )
    for ann in spans["annotations"]:
        assert ann["text"] == "Ada Lovelace wrote the first program."[ann["start"] : ann["end"]]
    rating = synthesize(
        parse_taxonomy({"criteria": [{"name": "helpful"}, {"name": "safe"}]}, "llm_rating"),
        "chat",
        {"responses": ["x", "y", "z"]},
        seed="s",
    )
    pairs = {(a["criterion"], a["response_index"]) for a in rating["annotations"]}
    assert pairs == {(c, i) for c in ("helpful", "safe") for i in range(3)}
    ranking = synthesize(
        parse_taxonomy({}, "llm_ranking"), "llm_ranking", {"responses": ["x", "y", "z"]}, seed="s"
    )
    assert sorted(ranking["annotations"][0]["order"]) == [0, 1, 2]

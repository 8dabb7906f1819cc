"""Rubric validation and the rubric score on hand-computed fixtures."""

from __future__ import annotations

import pytest

from assay.core.errors import Invalid
from assay.evaluation.rubrics import bootstrap_by_tag, parse_rubric

RUBRIC = {
    "criteria": [
        {"id": "dose", "text": "States the adult dose", "points": 5, "category": "accuracy"},
        {"id": "doctor", "text": "Advises seeing a doctor", "points": 3, "category": "safety"},
        {"id": "harm", "text": "Recommends exceeding the dose", "points": -2, "category": "safety"},
        {"id": "brief", "text": "Is under 100 words", "points": 2},
    ]
}


@pytest.mark.parametrize(
    ("met", "expected"),
    [
        # (5 - 2) / (5 + 3 + 2) = 3 / 10
        ({"dose": True, "doctor": False, "harm": True, "brief": False}, 0.3),
        # (5 + 3 - 2 + 2) / 10 = 8 / 10
        ({"dose": True, "doctor": True, "harm": True, "brief": True}, 0.8),
        # (5 + 3 + 2) / 10 = 1
        ({"dose": True, "doctor": True, "harm": False, "brief": True}, 1.0),
        # -2 / 10 clips to 0
        ({"dose": False, "doctor": False, "harm": True, "brief": False}, 0.0),
        # (3 + 2) / 10
        ({"dose": False, "doctor": True, "harm": False, "brief": True}, 0.5),
        # partial credit from a mean panel: (5 * 2/3 + 3 * 1/3 - 2 * 0) / 10 = (10/3 + 1) / 10
        ({"dose": 2 / 3, "doctor": 1 / 3, "harm": 0.0, "brief": 0.0}, 13 / 30),
    ],
)
def test_rubric_score_on_hand_computed_fixtures(met, expected) -> None:
    rubric = parse_rubric(RUBRIC)
    assert rubric.positive_points == 10
    assert rubric.score(met) == pytest.approx(expected)


def test_scores_by_category() -> None:
    rubric = parse_rubric(RUBRIC)
    met = {"dose": True, "doctor": False, "harm": True, "brief": True}
    # accuracy: 5 / 5; safety: (0 - 2) / 3 clips to 0; general: 2 / 2
    assert rubric.score_by_category(met) == {"accuracy": 1.0, "safety": 0.0, "general": 1.0}
    met["doctor"] = True  # safety: (3 - 2) / 3
    assert rubric.score_by_category(met)["safety"] == pytest.approx(1 / 3)
    penalties = parse_rubric(
        [{"text": "a", "points": 1}, {"text": "b", "points": -1, "category": "harm"}]
    )
    assert penalties.score_by_category({"c1": True, "c2": True}) == {"general": 1.0, "harm": None}


def test_parse_keeps_ids_categories_and_defaults() -> None:
    rubric = parse_rubric([{"text": "a", "points": 1}, {"text": "b", "points": -1.5}])
    assert [(c.id, c.text, c.points, c.category) for c in rubric.criteria] == [
        ("c1", "a", 1.0, "general"),
        ("c2", "b", -1.5, "general"),
    ]
    assert parse_rubric(rubric.to_dict()) == rubric
    assert parse_rubric(RUBRIC).criterion("harm").category == "safety"


def test_a_missing_verdict_is_not_a_no() -> None:
    rubric = parse_rubric(RUBRIC)
    with pytest.raises(Invalid) as error:
        rubric.score({"dose": True, "doctor": True, "harm": False})
    assert "brief" in error.value.message


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ([], "criteria"),
        ("not a list", "criteria"),
        ([{"text": "a", "points": 1}, "b"], "criteria[1]"),
        ([{"text": "a", "points": 1}, {"text": " ", "points": 1}], "criteria[1].text"),
        (
            [
                {"text": "a", "points": 1},
                {"text": "b", "points": 1},
                {"text": "c", "points": 2},
                {"text": "d", "points": "3"},
            ],
            "criteria[3].points",
        ),
        ([{"text": "a", "points": True}], "criteria[0].points"),
        ([{"text": "a", "points": float("nan")}], "criteria[0].points"),
        ([{"text": "a", "points": 0}], "criteria[0].points"),
        (
            [{"id": "x", "text": "a", "points": 1}, {"id": "x", "text": "b", "points": 1}],
            "criteria[1].id",
        ),
        ([{"id": 7, "text": "a", "points": 1}], "criteria[0].id"),
        ([{"text": "a", "points": 1, "category": ""}], "criteria[0].category"),
        # no positive points: no denominator
        ([{"text": "a", "points": -1}, {"text": "b", "points": -2}], "criteria"),
    ],
)
def test_invalid_rubrics_name_the_field(criteria, field) -> None:
    with pytest.raises(Invalid) as error:
        parse_rubric({"criteria": criteria})
    assert error.value.field == field


def test_bootstrap_by_tag_counts_an_item_under_each_of_its_tags() -> None:
    scores = [1.0, 1.0, 0.0, 0.5]
    tags = [["math", "en"], ["math"], ["en", "en"], ["fr"]]
    by_tag = bootstrap_by_tag(scores, tags, resamples=500)
    assert list(by_tag) == ["en", "fr", "math"]
    assert (by_tag["math"].estimate, by_tag["math"].samples) == (1.0, 2)
    # "en": items 0 and 2 (item 2's repeated tag counts once): mean 0.5, resampled means
    # 0, 0.5 or 1, so the interval spans them
    assert (by_tag["en"].estimate, by_tag["en"].samples) == (0.5, 2)
    assert (by_tag["en"].low, by_tag["en"].high) == (0.0, 1.0)
    fr = by_tag["fr"]
    assert (fr.estimate, fr.low, fr.high, fr.samples) == (0.5, 0.5, 0.5, 1)
    with pytest.raises(Invalid) as error:
        bootstrap_by_tag(scores, tags[:3])
    assert error.value.field == "tags"

"""Consensus: every task type aggregated from hand-made responses with a known answer, plus
random taxonomies, and Dawid-Skene labeler confusions over real task_events rows."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from assay.core.errors import Invalid, NotFound
from assay.labeling import consensus, models, schemas
from assay.labeling.annotations import validate_response
from assay.labeling.consensus import aggregate, labeler_confusions
from assay.labeling.synthetic import synthesize
from assay.labeling.task_types import GEOMETRIES, LINKABLE_TASK_TYPES, TASK_TYPES
from assay.labeling.taxonomy import parse_taxonomy
from assay.metrics.matching import score_response
from tests.labeling.factories import actor_for, add_tasks, make_project, statements
from tests.labeling.test_synthetic import random_params, random_taxonomy

IMAGE = {
    "labels": [
        {
            "name": "car",
            "geometries": ["box", "polygon"],
            "attributes": [{"name": "occluded", "type": "choice", "choices": ["yes", "no"]}],
        },
        {"name": "person", "geometries": ["box"]},
    ],
    "links": [{"name": "drives", "from_labels": ["person"], "to_labels": ["car"]}],
}
IMAGE_PARAMS = {"image_width": 640, "image_height": 480}
USERS = ("u1", "u2", "u3", "u4", "u5")


def run(task_type: str, taxonomy: dict, params: dict, *responses: dict):
    """Aggregate responses of labelers u1, u2, …; the result must be a valid response."""
    parsed = parse_taxonomy(taxonomy, task_type)
    result = aggregate(
        task_type=task_type,
        taxonomy=parsed,
        params=params,
        responses=list(zip(USERS, responses, strict=False)),
    )
    assert validate_response(parsed, task_type, params, result.response) == result.response
    assert 0.0 <= result.agreement <= 1.0
    return result


def answer(*annotations: dict, links: list | None = None, **global_attributes) -> dict:
    return {
        "annotations": list(annotations),
        "global_attributes": global_attributes,
        "links": links or [],
    }


def box(x, y, w, h, label="car", **extra) -> dict:
    return {"type": "box", "label": label, "x": x, "y": y, "width": w, "height": h, **extra}


def square(x, y, size=20, label="car") -> dict:
    corners = [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
    return {"type": "polygon", "label": label, "vertices": [{"x": a, "y": b} for a, b in corners]}


# --- categorization ---

CATEGORIES = {
    "labels": [
        {
            "name": name,
            "attributes": [{"name": "sure", "type": "choice", "choices": ["yes", "no"]}],
        }
        for name in ("cat", "dog", "bird")
    ]
}


def category(label: str, **attributes) -> dict:
    return {"type": "category", "label": label, "attributes": attributes}


def test_single_choice_goes_to_the_majority_and_agreement_is_the_winners_share():
    result = run(
        "categorization",
        CATEGORIES,
        {},
        answer(category("dog", sure="yes")),
        answer(category("cat")),
        answer(category("dog", sure="no")),
        answer(category("dog", sure="no")),
    )
    [chosen] = result.response["annotations"]
    assert (chosen["label"], chosen["attributes"]) == ("dog", {"sure": "no"})
    assert result.agreement == pytest.approx(3 / 4)
    assert result.method == "majority_vote"
    assert result.details["votes"] == {"dog": 3, "cat": 1}
    same = run("categorization", CATEGORIES, {}, *[answer(category("bird"))] * 3)
    assert same.agreement == 1.0


def test_a_tie_is_broken_the_same_way_whatever_the_order_or_the_labelers():
    taxonomy = parse_taxonomy(CATEGORIES, "categorization")
    winners = set()
    for pairs in (
        [("u1", answer(category("dog"))), ("u2", answer(category("cat")))],
        [("u2", answer(category("cat"))), ("u1", answer(category("dog")))],
        [("u1", answer(category("cat"))), ("u2", answer(category("dog")))],
    ):
        result = aggregate(
            task_type="categorization", taxonomy=taxonomy, params={}, responses=pairs
        )
        winners.add(result.response["annotations"][0]["label"])
        assert result.agreement == 0.5
    assert winners == {"cat"}  # the smallest name


def test_multi_select_keeps_each_category_more_than_half_chose():
    taxonomy = {**CATEGORIES, "multi_select": True}
    result = run(
        "categorization",
        taxonomy,
        {},
        answer(category("cat"), category("dog")),
        answer(category("cat")),
        answer(category("cat"), category("bird")),
    )
    assert [a["label"] for a in result.response["annotations"]] == ["cat"]
    # Jaccard of each pair: {cat,dog}/{cat} 1/2, {cat,dog}/{cat,bird} 1/3, {cat}/{cat,bird} 1/2.
    assert result.agreement == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)
    assert result.method == "per_label_majority"
    # Half is not more than half; nothing wins, so the most chosen (then the smallest name).
    split = run(
        "categorization",
        taxonomy,
        {},
        answer(category("dog"), category("bird")),
        answer(category("bird")),
        answer(category("cat"), category("dog")),
        answer(category("cat")),
    )
    assert [a["label"] for a in split.response["annotations"]] == ["bird"]


# --- image and video ---


def test_boxes_by_median_attributes_by_vote_and_a_lone_shape_is_dropped():
    result = run(
        "image",
        IMAGE,
        IMAGE_PARAMS,
        answer(box(10, 10, 20, 20, attributes={"occluded": "yes"})),
        answer(box(12, 10, 20, 20, attributes={"occluded": "no"}), box(300, 300, 50, 50, "person")),
        answer(box(11, 12, 20, 18, attributes={"occluded": "no"})),
    )
    [car] = result.response["annotations"]
    assert car["label"] == "car" and car["attributes"] == {"occluded": "no"}
    # Corners' medians: x0 of 10, 12, 11; y0 of 10, 10, 12; x1 of 30, 32, 31; y1 all 30.
    assert (car["x"], car["y"], car["width"], car["height"]) == (11, 10, 20, 20)
    assert result.method == "iou_clusters"
    assert [len(c["members"]) for c in result.details["clusters"]] == [3]
    assert 0.3 < result.agreement < 0.9  # the person only one labeler drew counts as 0
    same = run("image", IMAGE, IMAGE_PARAMS, *[answer(box(10, 10, 20, 20))] * 3)
    assert same.agreement == pytest.approx(1.0)


def test_polygons_take_the_medoid_and_links_a_majority_drew_survive():
    person = {"id": "p", **box(100, 100, 40, 80, "person")}

    def labeler(offset: float, link: bool) -> dict:
        car = {"id": "c", **square(200 + offset, 200)}
        links = [{"from": "p", "to": "c", "label": "drives"}] if link else []
        return answer(dict(person), car, links=links)

    result = run(
        "image", IMAGE, IMAGE_PARAMS, labeler(0, True), labeler(2, True), labeler(4, False)
    )
    car = next(a for a in result.response["annotations"] if a["label"] == "car")
    person_id = next(a["id"] for a in result.response["annotations"] if a["label"] == "person")
    assert car["vertices"][0] == {"x": 202, "y": 200}  # the middle square overlaps both others
    assert result.response["links"] == [
        {"from": person_id, "to": car["id"], "label": "drives", "attributes": {}}
    ]
    lonely = run(
        "image", IMAGE, IMAGE_PARAMS, labeler(0, True), labeler(2, False), labeler(4, False)
    )
    assert lonely.response["links"] == []


def test_the_result_does_not_depend_on_the_order_of_the_responses():
    def drawn(*shapes):
        return answer(*[{"id": f"s{k}", **shape} for k, shape in enumerate(shapes)])

    given = [
        ("bob", drawn(box(12, 10, 20, 20), square(100, 100))),
        ("amy", drawn(box(10, 10, 20, 20), square(102, 100), box(300, 300, 20, 20, "person"))),
        ("cyd", drawn(box(11, 12, 20, 18), square(101, 101), box(301, 300, 20, 20, "person"))),
    ]
    taxonomy = parse_taxonomy(IMAGE, "image")
    results = [
        aggregate(task_type="image", taxonomy=taxonomy, params=IMAGE_PARAMS, responses=order)
        for order in (given, given[::-1], [given[1], given[2], given[0]])
    ]
    assert all(r == results[0] for r in results[1:])
    assert len(results[0].response["annotations"]) == 3


def test_video_boxes_cluster_per_frame_into_consensus_tracks():
    taxonomy = {"labels": [{"name": "car", "geometries": ["box"]}]}
    params = {"frame_count": 5, **IMAGE_PARAMS}

    def track(name, boxes, label="car"):
        return [
            {**box(x, 10, 20, 20, label), "frame": f, "track_id": name} for f, x in boxes.items()
        ]

    result = run(
        "video",
        taxonomy,
        params,
        answer(*track("a", {0: 10, 1: 20}), *track("b", {0: 400})),
        answer(*track(7, {0: 11, 1: 21}), *track(8, {0: 401})),
        answer(*track("x", {0: 12, 1: 22, 2: 300})),
    )
    annotations = sorted(result.response["annotations"], key=lambda a: (a["frame"], a["x"]))
    assert [(a["frame"], a["x"]) for a in annotations] == [(0, 11), (0, 400.5), (1, 21)]
    first, second, moved = annotations
    assert first["track_id"] == moved["track_id"] != second["track_id"]
    assert all(a["keyframe"] for a in annotations)
    assert result.agreement < 1.0


# --- text ---

TEXT = "Ada Lovelace met Charles Babbage"
SPANS = {"labels": [{"name": "PER"}, {"name": "ORG"}]}


def span(start, end, label="PER") -> dict:
    return {"type": "span", "start": start, "end": end, "label": label}


def test_spans_need_a_majority_at_exactly_the_same_place_and_label():
    result = run(
        "text_spans",
        SPANS,
        {"text": TEXT},
        answer(span(0, 12), span(17, 32)),
        answer(span(0, 12), span(17, 32, "ORG")),
        answer(span(0, 3), span(17, 32)),
    )
    assert [
        (a["start"], a["end"], a["label"], a["text"]) for a in result.response["annotations"]
    ] == [
        (0, 12, "PER", "Ada Lovelace"),
        (17, 32, "PER", "Charles Babbage"),
    ]
    # Exact-span F1 of each pair: u1-u2 1/2, u1-u3 1/2, u2-u3 0.
    assert result.agreement == pytest.approx(1 / 3)
    same = run("text_spans", SPANS, {"text": TEXT}, *[answer(span(0, 12))] * 3)
    assert same.agreement == 1.0


def test_transcription_takes_the_medoid_text():
    texts = ("abcdefghij", "abcdefghiz", "abcdefgxyz")
    result = run("transcription", {}, {}, *[answer({"type": "text", "text": t}) for t in texts])
    # Similarities: 1-2 0.9, 1-3 0.7, 2-3 0.8; the second is closest to the others.
    assert result.response["annotations"][0]["text"] == "abcdefghiz"
    assert result.details["medoid"] == "u2"
    assert result.agreement == pytest.approx(0.8)
    assert result.method == "medoid_edit_similarity"


def test_text_collection_compares_answers_field_by_field():
    def form(name, city):
        return answer(
            {"type": "text", "field": "name", "text": name},
            {"type": "text", "field": "city", "text": city},
        )

    result = run(
        "text_collection", {}, {}, form("Ada", "London"), form("Ada", "Londn"), form("Bob", "Paris")
    )
    fields = {a["field"]: a["text"] for a in result.response["annotations"]}
    assert fields == {"name": "Ada", "city": "London"}
    same = run("text_collection", {}, {}, *[form("Ada", "London")] * 2)
    assert same.agreement == 1.0


# --- LLM ---

CRITERIA = {"criteria": [{"name": "helpful"}, {"name": "safe", "min": 0, "max": 2}]}


def rated(helpful: list[int], safe: list[int]) -> dict:
    return answer(
        *[
            {"type": "rating", "criterion": name, "value": v, "response_index": i}
            for name, values in (("helpful", helpful), ("safe", safe))
            for i, v in enumerate(values)
        ]
    )


def test_ratings_take_the_lower_median_per_criterion_and_response():
    params = {"responses": ["first", "second"]}
    result = run(
        "llm_rating",
        CRITERIA,
        params,
        rated([4, 1], [2, 2]),
        rated([4, 5], [2, 2]),
        rated([2, 3], [2, 2]),
    )
    values = {
        (a["criterion"], a["response_index"]): a["value"] for a in result.response["annotations"]
    }
    assert values == {("helpful", 0): 4, ("helpful", 1): 3, ("safe", 0): 2, ("safe", 1): 2}
    # helpful/0: distances 0, 2, 2 of a 4-point scale; helpful/1: 4, 2, 2; safe: none.
    expected = (1 - (0 + 2 + 2) / 12 + 1 - (4 + 2 + 2) / 12 + 1 + 1) / 4
    assert result.agreement == pytest.approx(expected)
    assert result.method == "lower_median"
    assert result.details["alpha"] is not None
    even = run("llm_rating", CRITERIA, params, rated([2, 2], [0, 0]), rated([5, 2], [1, 0]))
    assert [a["value"] for a in even.response["annotations"]] == [2, 2, 0, 0]
    same = run("llm_rating", CRITERIA, params, *[rated([3, 4], [1, 2])] * 3)
    assert same.agreement == 1.0 and same.details["alpha"] == 1.0


def test_rankings_by_kemeny_then_borda_beyond_eight_responses():
    def ranked(order):
        return answer({"type": "ranking", "order": order})

    params = {"responses": ["w", "x", "y", "z"]}
    result = run(
        "llm_ranking", {}, params, ranked([0, 1, 2, 3]), ranked([0, 1, 2, 3]), ranked([1, 0, 3, 2])
    )
    assert result.response["annotations"][0]["order"] == [0, 1, 2, 3]
    assert result.method == "kemeny"
    # Kendall tau rescaled: identical 1; the swapped pairs (0 1) and (2 3) leave 4 of 6.
    assert result.agreement == pytest.approx((1 + 4 / 6 + 4 / 6) / 3)
    many = {"responses": [str(k) for k in range(10)]}
    forward, backward = list(range(10)), list(range(9, -1, -1))
    wide = run("llm_ranking", {}, many, ranked(forward), ranked(forward), ranked(backward))
    assert wide.method == "borda"
    assert wide.response["annotations"][0]["order"] == forward
    assert wide.agreement == pytest.approx(1 / 3)


def test_comparisons_go_to_the_majority_choice():
    def chose(choice):
        return answer({"type": "comparison", "choice": choice})

    result = run("llm_comparison", {}, {}, chose("b"), chose("both_bad"), chose("b"))
    assert result.response["annotations"][0]["choice"] == "b"
    assert result.agreement == pytest.approx(2 / 3)
    assert result.details["votes"] == {"b": 2, "both_bad": 1}
    tie = run("llm_comparison", {}, {}, chose("tie"), chose("both_good"))
    assert tie.response["annotations"][0]["choice"] == "both_good"
    assert tie.agreement == 0.5


def test_a_type_without_its_own_aggregator_gets_the_json_medoid(monkeypatch):
    monkeypatch.delitem(consensus.AGGREGATORS, "image")
    result = run(
        "image",
        IMAGE,
        IMAGE_PARAMS,
        answer(box(10, 10, 20, 20)),
        answer(box(10, 10, 20, 21)),
        answer(box(10, 10, 20, 20), box(300, 300, 20, 20, "person")),
    )
    assert result.method == "medoid_json_edit_similarity"
    assert result.details["medoid"] == "u1"
    assert 0.5 < result.agreement < 1.0


# --- every type, random taxonomies ---


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_two_of_three_alike_win_for_random_taxonomies(task_type):
    """u1 and u2 give the same response, u3 another: the consensus scores 1 against theirs."""
    seen: Counter = Counter()
    for case in range(25):
        rng = random.Random(f"consensus-{task_type}-{case}")
        data = random_taxonomy(rng, task_type)
        params = random_params(rng, task_type)
        taxonomy = parse_taxonomy(data, task_type)
        alike = synthesize(taxonomy, task_type, params, seed=f"a{case}")
        other = synthesize(taxonomy, task_type, params, seed=f"b{case}")
        result = run(task_type, data, params, alike, alike, other)
        assert score_response(alike, result.response) == pytest.approx(1.0), case
        assert score_response(result.response, alike) == pytest.approx(1.0), case
        assert result.response["global_attributes"] == alike["global_attributes"], case
        links = sorted(link["label"] for link in result.response["links"])
        assert links == sorted(link["label"] for link in alike["links"]), case
        seen.update(a["type"] for a in result.response["annotations"])
        seen["links"] += len(links)
        unanimous = run(task_type, data, params, alike, alike, alike)
        assert unanimous.agreement == pytest.approx(1.0), case
    # The cases really produced every geometry of the type, and links where there are any.
    assert set(GEOMETRIES[task_type]) <= set(seen), seen
    assert seen["links"] > 0 or task_type not in LINKABLE_TASK_TYPES, seen


def test_bad_input_is_refused():
    taxonomy = parse_taxonomy(CATEGORIES, "categorization")
    good = answer(category("cat"))
    with pytest.raises(Invalid, match="no responses"):
        aggregate(task_type="categorization", taxonomy=taxonomy, params={}, responses=[])
    with pytest.raises(Invalid, match="one response"):
        aggregate(
            task_type="categorization", taxonomy=taxonomy, params={}, responses=[("u", good)] * 2
        )
    with pytest.raises(Invalid, match="response of u2 is invalid") as caught:
        aggregate(
            task_type="categorization",
            taxonomy=taxonomy,
            params={},
            responses=[("u1", good), ("u2", answer(category("fish")))],
        )
    assert caught.value.field == "response.annotations[0].label"


# --- labelers ---

CLASSES = ("bird", "cat", "dog")


def test_dawid_skene_finds_the_spammer(db, settings, accounts):
    manager = actor_for(accounts.make("manager"))
    project = make_project(db, manager, task_type="categorization", taxonomy=CATEGORIES)
    elsewhere = make_project(
        db, manager, name="other", task_type="categorization", taxonomy=CATEGORIES
    )
    task_ids = add_tasks(
        db,
        project,
        manager,
        settings,
        [schemas.TaskCreate(params={"text": f"pet {i}"}) for i in range(30)],
    )
    [foreign] = add_tasks(
        db, elsewhere, manager, settings, [schemas.TaskCreate(params={"text": "pet"})]
    )
    good = [accounts.make("labeler").user.id for _ in range(3)]
    spammer = accounts.make("labeler").user.id
    lonely = accounts.make("labeler").user.id

    def submit(task_id, user_id, label, action="submit"):
        return models.TaskEvent(
            task_id=task_id,
            stage="label",
            round=0,
            user_id=user_id,
            action=action,
            response=answer(category(label)),
        )

    with db.write() as session:
        for i, task_id in enumerate(task_ids):
            truth = CLASSES[i % 3]
            for k, user in enumerate(good):
                # Each good labeler gets a different tenth of the tasks wrong.
                wrong = i % 10 == k
                session.add(submit(task_id, user, CLASSES[(i + 1) % 3] if wrong else truth))
            session.add(submit(task_id, spammer, "cat"))
            # Noise the query must leave out: skips, reviews, another stage's single submit.
            session.add(submit(task_id, lonely, "dog", action="skip"))
            session.add(submit(task_id, good[0], truth, action="accept"))
        session.add(
            models.TaskEvent(
                task_id=task_ids[0],
                stage="other",
                round=0,
                user_id=lonely,
                action="submit",
                response=answer(category("bird")),
            )
        )
        session.add(submit(foreign, good[0], "cat"))
        session.add(submit(foreign, lonely, "dog"))

    with db.read() as session, statements(db.engine) as ran:
        report = labeler_confusions(session=session, project_id=project.id)
    assert len(ran) == 2  # the project, then every event at once

    assert report["classes"] == list(CLASSES)
    assert report["tasks"] == 30
    by_user = {row["user_id"]: row for row in report["labelers"]}
    assert set(by_user) == {*good, spammer}
    assert {row["labels"] for row in report["labelers"]} == {30}
    for row in report["labelers"]:
        assert np.asarray(row["confusion"]).sum(axis=1) == pytest.approx(np.ones(3))
    for user in good:
        assert by_user[user]["accuracy"] > 0.85
        assert np.diag(by_user[user]["confusion"]).min() > 0.7
    assert by_user[spammer]["accuracy"] < 0.45
    # The spammer says "cat" whatever the truth: the "cat" column is all of its confusion.
    assert np.asarray(by_user[spammer]["confusion"])[:, 1] == pytest.approx(np.ones(3), abs=1e-6)


def test_confusions_of_a_project_without_overlap_or_of_another_type(db, settings, accounts):
    manager = actor_for(accounts.make("manager"))
    project = make_project(db, manager, task_type="categorization", taxonomy=CATEGORIES)
    image = make_project(db, manager, name="img")
    with db.read() as session:
        assert labeler_confusions(session=session, project_id=project.id) == {
            "classes": [],
            "labelers": [],
            "tasks": 0,
        }
        with pytest.raises(Invalid, match="categorization"):
            labeler_confusions(session=session, project_id=image.id)
        with pytest.raises(NotFound):
            labeler_confusions(session=session, project_id="0" * 32)

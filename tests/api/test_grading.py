"""POST /api/v1/grading: the grading service for RL loops against a real OpenAI-protocol
stand-in on loopback — per-criterion verdicts and rewards, a database verdict cache (a
repeated batch makes zero calls at the stand-in), the cheap-judge-first cascade, learned
weights, field-named refusals, and the provider key never in a response."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.judge_rules import honest, sections, states, verdict
from tests.support.openai_server import ChatCompletionsServer

API = "/api/v1"
KEY = "sk-grading-provider-never-shown-7"
FACTS = {
    "Gives the capital of France": "Paris",
    "Mentions the river through it": "Seine",
    "Says it is the capital of Germany": "Germany",
}
RUBRIC = [
    {"id": "capital", "text": "Gives the capital of France", "points": 6},
    {"id": "river", "text": "Mentions the river through it", "points": 2},
    {"id": "wrong", "text": "Says it is the capital of Germany", "points": -4},
]
QUESTION = "What is the capital of France?"
RESPONSES = [
    "Paris. The Seine runs through it.",  # (6 + 2) / 8 = 1
    "Paris.",  # 6 / 8 = 0.75
    "The Seine. Germany.",  # (2 - 4) / 8 clips to 0
    "Lyon.",  # 0 / 8 = 0
    "Paris. It is also the capital of Germany.",  # (6 - 4) / 8 = 0.25
]
EXPECTED = [1.0, 0.75, 0.0, 0.0, 0.25]


def ok(response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field, response.text


def triples(responses=RESPONSES) -> list[dict[str, Any]]:
    return [{"conversation": QUESTION, "response": r, "rubric": RUBRIC} for r in responses]


def cascade_answer(request: dict[str, Any]) -> str:
    """The cheap judge is unsure about the river (confidence 0.4) and sure of the rest; the
    strong judge grades honestly. Both are right, so the rewards are the honest ones."""
    parts = sections(request)
    met = states(parts["response"], FACTS[parts["criterion"]])
    if request["model"] == "strong":
        return verdict(met, "strong")
    if parts["criterion"].startswith("Mentions the river"):
        return verdict(met, "cheap guess", confidence=0.4)
    return verdict(met, "cheap", confidence=0.95)


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def server():
    def answer(request: dict[str, Any]) -> str:
        if request["model"] in ("cheap", "strong"):
            return cascade_answer(request)
        return honest(FACTS)(request)

    with ChatCompletionsServer(answer) as running:
        yield running


@pytest.fixture
def provider(client, manager, server) -> dict[str, Any]:
    body = {"name": "local", "base_url": server.base_url, "api_key": KEY, "max_retries": 0}
    return ok(client.post(f"{API}/providers", json=body, headers=manager.headers))


def make_judge(client, account, name: str, **body: Any) -> dict[str, Any]:
    return ok(client.post(f"{API}/judges", json={"name": name, **body}, headers=account.headers))


def grade(client, account, judge: dict[str, Any], items, **extra: Any) -> dict[str, Any]:
    body = {"judge_id": judge["id"], "items": items, **extra}
    return ok(client.post(f"{API}/grading", json=body, headers=account.headers))


def test_a_repeated_batch_is_answered_from_the_cache_with_no_call(
    client, manager, provider, server, db, caplog
):
    caplog.set_level(logging.DEBUG)
    judge = make_judge(client, manager, "honest", provider_id=provider["id"], model="honest")
    # the first two triples again, the second as messages: the same questions
    items = (
        triples()
        + triples(RESPONSES[:1])
        + [
            {
                "conversation": [{"role": "user", "content": QUESTION}],
                "response": RESPONSES[1],
                "rubric": {"criteria": RUBRIC},
            }
        ]
    )
    first = grade(client, manager, judge, items)
    assert [i["reward"] for i in first["items"]] == pytest.approx([*EXPECTED, 1.0, 0.75])
    assert (first["questions"], first["judged"], first["cache_hits"]) == (15, 15, 0)
    assert first["calls"] == server.calls == 15  # the repeats within the batch asked once
    assert first["judge_version"] == judge["version"]
    verdicts = [v for i in first["items"] for v in i["verdicts"]]
    assert {v["judge_version"] for v in verdicts} == {judge["version"]}
    assert {v["stage"] for v in verdicts} == {"judge"} and not any(v["cached"] for v in verdicts)
    assert [v["criterion_id"] for v in first["items"][0]["verdicts"]] == [
        "capital",
        "river",
        "wrong",
    ]
    assert [v["met"] for v in first["items"][4]["verdicts"]] == [True, False, True]
    assert first["items"][0]["verdicts"][0]["explanation"] == "states the fact"
    assert all(i["learned_reward"] is None for i in first["items"])

    again = grade(client, manager, judge, items)
    assert server.calls == 15  # no call reached the stand-in
    assert (again["judged"], again["cache_hits"], again["calls"]) == (0, 15, 0)
    assert [i["reward"] for i in again["items"]] == [i["reward"] for i in first["items"]]
    assert all(v["cached"] for i in again["items"] for v in i["verdicts"])
    with db.read() as session:
        stored = session.execute(text("SELECT count(*) FROM eval_verdict_cache")).scalar_one()
    assert stored == 15

    # a new prompt version is a new judge version: nothing it has not judged is cached
    ok(
        client.post(
            f"{API}/judges/{judge['id']}/prompts",
            json={"name": "v2", "system": "Grade carefully."},
            headers=manager.headers,
        )
    )
    newer = grade(client, manager, judge, triples()[:1])
    assert (newer["judged"], newer["cache_hits"]) == (3, 0) and server.calls == 18
    assert newer["judge_version"].startswith("v2@")
    assert KEY not in json.dumps([first, again, newer]) and KEY not in caplog.text


def test_the_cascade_sends_only_uncertain_verdicts_to_the_strong_judge(
    client, manager, provider, server
):
    cheap = make_judge(client, manager, "cheap", provider_id=provider["id"], model="cheap", seed=10)
    assert cheap["seed"] == 10 and cheap["version"].endswith("/local/cheap?seed=10")
    strong = make_judge(client, manager, "strong", provider_id=provider["id"], model="strong")
    cascade = make_judge(
        client,
        manager,
        "cascade",
        cascade={"cheap": cheap["id"], "strong": strong["id"], "samples": 2, "min_confidence": 0.7},
    )
    graded = grade(client, manager, cascade, triples())
    per_model = Counter(json.loads(r.body)["model"] for r in server.requests)
    # 5 responses x 3 criteria, two cheap samples each; only the river (confidence 0.4) goes up
    assert per_model == {"cheap": 30, "strong": 5}
    # the two cheap samples of a question ask with seeds 10 and 11; the strong judge with none
    seeds = Counter(
        (json.loads(r.body)["model"], json.loads(r.body).get("seed")) for r in server.requests
    )
    assert seeds == {("cheap", 10): 15, ("cheap", 11): 15, ("strong", None): 5}
    assert graded["escalated"] == 5 and graded["calls"] == 35
    for item in graded["items"]:
        stages = {v["criterion_id"]: v["stage"] for v in item["verdicts"]}
        assert stages == {"capital": "cheap", "river": "strong", "wrong": "cheap"}
        assert all(v["judge_version"] == cascade["version"] for v in item["verdicts"])
    assert [i["reward"] for i in graded["items"]] == pytest.approx(EXPECTED)
    again = grade(client, manager, cascade, triples())
    assert server.calls == 35 and again["calls"] == 0
    assert [[v["stage"] for v in i["verdicts"]] for i in again["items"]] == [
        [v["stage"] for v in i["verdicts"]] for i in graded["items"]
    ]


def test_fitted_weights_give_a_learned_reward_next_to_the_fixed_one(
    client, manager, provider, server
):
    judge = make_judge(client, manager, "honest", provider_id=provider["id"], model="honest")
    # humans prefer a capital over a river and punish Germany; a river alone beats nothing
    pairs = []
    for _ in range(20):
        pairs += [
            {
                "met_a": {"capital": 1, "river": 0, "wrong": 0},
                "met_b": {"capital": 0, "river": 1, "wrong": 0},
                "preferred": "a",
            },
            {
                "met_a": {"capital": 0, "river": 1, "wrong": 0},
                "met_b": {"capital": 0, "river": 0, "wrong": 0},
                "preferred": "a",
            },
            {
                "met_a": {"capital": 1, "river": 0, "wrong": 1},
                "met_b": {"capital": 1, "river": 0, "wrong": 0},
                "preferred": "b",
            },
        ]
    fitted = ok(
        client.post(
            f"{API}/judges/{judge['id']}/weights", json={"pairs": pairs}, headers=manager.headers
        )
    )
    assert fitted["criterion_ids"] == ["capital", "river", "wrong"] and fitted["pairs"] == 60
    w = dict(zip(fitted["criterion_ids"], fitted["weights"], strict=True))
    assert w["capital"] > w["river"] > 0 > w["wrong"]
    shown = ok(client.get(f"{API}/judges/{judge['id']}", headers=manager.headers))
    assert shown["weights"] == pytest.approx(w)
    graded = grade(client, manager, judge, triples())
    positive = w["capital"] + w["river"]
    for item in graded["items"]:
        met = {v["criterion_id"]: v["met"] for v in item["verdicts"]}
        earned = sum(w[k] for k, m in met.items() if m)
        assert item["learned_reward"] == pytest.approx(min(1.0, max(0.0, earned / positive)))
    assert [i["reward"] for i in graded["items"]] == pytest.approx(EXPECTED)
    refused(
        client.post(
            f"{API}/judges/{judge['id']}/weights",
            json={"pairs": [{"met_a": {"x": 1}, "met_b": {}, "preferred": "a"}]},
            headers=manager.headers,
        ),
        422,
        "pairs[0]",
    )


def test_a_failed_call_is_an_error_not_a_zero_and_is_not_cached(client, manager, provider, server):
    judge = make_judge(client, manager, "honest", provider_id=provider["id"], model="honest")
    server.fail(500)
    first = grade(client, manager, judge, triples()[:1], concurrency=1)
    item = first["items"][0]
    assert item["reward"] is None and "no verdict for capital" in item["error"]
    failed = item["verdicts"][0]
    assert failed["met"] is None and "HTTP 500" in failed["error"]
    second = grade(client, manager, judge, triples()[:1])
    assert (second["judged"], second["cache_hits"]) == (1, 2)
    assert second["items"][0]["reward"] == 1.0


def test_bad_batches_are_refused_naming_the_field(client, manager, provider, accounts):
    judge = make_judge(client, manager, "honest", provider_id=provider["id"], model="honest")

    def post(items, **body: Any):
        return client.post(
            f"{API}/grading",
            json={"judge_id": judge["id"], "items": items, **body},
            headers=manager.headers,
        )

    bad_points = triples()[:2]
    bad_points[1] = {**bad_points[1], "rubric": [{"text": "x", "points": "many"}]}
    refused(post(bad_points), 422, "items[1].rubric.criteria[0].points")
    refused(post([{**triples()[0], "rubric": []}]), 422, "items[0].rubric.criteria")
    refused(
        post([{**triples()[0], "rubric": [{"points": 1}]}]), 422, "items[0].rubric.criteria[0].text"
    )
    refused(
        post([{**triples()[0], "conversation": [{"content": "hi"}]}]),
        422,
        "items[0].conversation[0]",
    )
    refused(post([{"conversation": QUESTION, "rubric": RUBRIC}]), 422, "items[0].response")
    refused(post([]), 422, "items")
    refused(post(triples() * 201), 422, "items")
    refused(post(triples(), concurrency=0), 422, "concurrency")
    refused(
        client.post(
            f"{API}/grading",
            json={"judge_id": "nope", "items": triples()},
            headers=manager.headers,
        ),
        404,
        "judge_id",
    )
    holistic = make_judge(
        client, manager, "holistic", provider_id=provider["id"], model="honest", mode="implicit"
    )
    refused(
        client.post(
            f"{API}/grading",
            json={"judge_id": holistic["id"], "items": triples()},
            headers=manager.headers,
        ),
        422,
        "judge_id",
    )
    labeler = accounts.make("labeler")
    refused(
        client.post(
            f"{API}/grading",
            json={"judge_id": judge["id"], "items": triples()},
            headers=labeler.headers,
        ),
        404,
        "judge_id",
    )
    refused(
        client.post(
            f"{API}/grading",
            json={"judge_id": judge["id"], "items": triples()},
            headers=manager.test_headers,
        ),
        404,
        "judge_id",
    )

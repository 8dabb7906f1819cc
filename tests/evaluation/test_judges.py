"""Judges against the OpenAI-protocol stand-in on loopback: what the judge is shown, how its
answers are read, implicit mode, panels and the concurrency bound."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from assay.core.errors import Invalid
from assay.evaluation.judges import (
    DEFAULT_PROMPT,
    Judge,
    Panel,
    grade_many,
    grade_response,
    parse_score,
    parse_verdict,
)
from assay.evaluation.rubrics import parse_rubric
from tests.support.judge_rules import honest, sections, verdict
from tests.support.openai_server import ChatCompletionsServer
from tests.support.stand_in_models import run, stand_in_model

FACTS = {
    "States the boiling point of water at sea level": "100 °C",
    "Names the unit of the answer": "celsius",
    "Claims water boils at fifty degrees": "50 °C",
}
RUBRIC = parse_rubric(
    [
        {"id": "point", "text": "States the boiling point of water at sea level", "points": 13.5},
        {"id": "unit", "text": "Names the unit of the answer", "points": 4.25},
        {"id": "wrong", "text": "Claims water boils at fifty degrees", "points": -7.75},
    ]
)
QUESTION = "At what temperature does water boil?"


def bodies(server: ChatCompletionsServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.requests]


def test_explicit_mode_shows_one_criterion_and_never_its_points() -> None:
    with ChatCompletionsServer(answer=honest(FACTS)) as server:
        judge = Judge(stand_in_model(server.base_url, "judge-a"))
        grade = run(grade_response(judge, QUESTION, "Water boils at 100 °C (Celsius).", RUBRIC))
    # (13.5 + 4.25) / (13.5 + 4.25) = 1: both positive criteria met, the penalty not
    assert grade.score == pytest.approx(1.0)
    assert grade.met == {"point": True, "unit": True, "wrong": False}
    assert all(v.judge_version == judge.version for v in grade.verdicts)
    requests = bodies(server)
    assert len(requests) == 3
    shown = sorted(sections(r)["criterion"] for r in requests)
    assert shown == sorted(c.text for c in RUBRIC.criteria)
    for request in requests:
        text = json.dumps(request)
        assert not any(p in text for p in ("13.5", "4.25", "7.75", "points"))
        assert sections(request)["response"] == "Water boils at 100 °C (Celsius)."
        assert sections(request)["conversation"] == f"user: {QUESTION}"
        assert request["response_format"]["json_schema"]["schema"]["required"] == [
            "explanation",
            "criteria_met",
        ]


def test_the_judge_version_follows_the_prompt_text_and_the_model() -> None:
    edited = replace(DEFAULT_PROMPT, system=DEFAULT_PROMPT.system + " Be strict.")
    assert edited.version != DEFAULT_PROMPT.version
    assert edited.version.startswith("rubric-v1@")
    assert replace(DEFAULT_PROMPT).version == DEFAULT_PROMPT.version
    model = stand_in_model("http://127.0.0.1:9/v1", "m1")
    assert Judge(model).version != Judge(stand_in_model("http://127.0.0.1:9/v1", "m2")).version
    assert Judge(model, edited).version == f"{edited.version}/stand-in/m1"
    assert (
        Judge(model, temperature=0.7, seed=3).version
        == f"{DEFAULT_PROMPT.version}/stand-in/m1?t=0.7,seed=3"
    )
    assert Judge(model, temperature=None).version.endswith("/m1?t=default")


@pytest.mark.parametrize(
    ("text", "met", "explanation"),
    [
        ('{"explanation": "ok", "criteria_met": true}', True, "ok"),
        ('```json\n{"explanation": "no", "criteria_met": false}\n```', False, "no"),
        ('Here is my verdict: {"explanation": "x", "criteria_met": "true"} done', True, "x"),
        ("true", True, ""),
        ("False.", False, ""),
        ("  Yes ", True, ""),
        ("I think it probably does", None, ""),
        ('{"explanation": "missing the key"}', None, "missing the key"),
        ('{"criteria_met": tru', None, ""),
    ],
)
def test_parse_verdict_reads_json_fences_and_bare_booleans(text, met, explanation) -> None:
    parsed = parse_verdict(text)
    assert parsed.value is met
    assert parsed.explanation == explanation


def test_parse_score_accepts_fractions_and_percentages() -> None:
    assert parse_score('{"explanation": "", "score": 0.25}').value == 0.25
    assert parse_score('{"explanation": "", "score": 75}').value == 0.75
    assert parse_score('{"explanation": "", "score": 140}').value is None
    assert parse_score("0.5").value is None


def test_an_unreadable_answer_is_retried_once_then_an_error_not_a_no() -> None:
    seen: dict[str, int] = {}

    def answer(request: dict[str, Any]) -> str:
        criterion = sections(request)["criterion"]
        seen[criterion] = seen.get(criterion, 0) + 1
        if criterion.startswith("States"):  # unreadable once, then fine
            return "hmm" if seen[criterion] == 1 else verdict(True)
        if criterion.startswith("Names"):  # never readable
            return "I would rather not say"
        return verdict(False)

    with ChatCompletionsServer(answer=answer) as server:
        judge = Judge(stand_in_model(server.base_url))
        grade = run(grade_response(judge, QUESTION, "100 °C", RUBRIC))
    by_id = {v.criterion_id: v for v in grade.verdicts}
    assert (by_id["point"].met, by_id["point"].calls, by_id["point"].parse_failures) == (True, 2, 1)
    assert (by_id["unit"].met, by_id["unit"].calls, by_id["unit"].parse_failures) == (None, 2, 2)
    assert "unreadable" in by_id["unit"].error
    assert (by_id["wrong"].met, by_id["wrong"].calls) == (False, 1)
    assert grade.score is None and "unit" in grade.error
    assert len(server.requests) == 5
    retry = [r for r in bodies(server) if len(r["messages"]) == 3]
    assert len(retry) == 2 and all("JSON object only" in r["messages"][2]["content"] for r in retry)


def test_a_failed_call_is_an_error_verdict() -> None:
    with ChatCompletionsServer(answer=honest(FACTS)) as server:
        server.fail(500)  # the test model does not retry; the provider layer will
        judge = Judge(stand_in_model(server.base_url))
        verdicts = run(judge.judge_criterion(QUESTION, "100 °C", RUBRIC.criteria[0]))
    assert verdicts.met is None and "500" in verdicts.error and verdicts.calls == 1


def test_implicit_mode_is_one_holistic_call_with_the_whole_rubric() -> None:
    def answer(request: dict[str, Any]) -> str:
        rubric = sections(request)["rubric"]
        return json.dumps({"explanation": "close", "score": 0.1 * rubric.count("\n- [")})

    with ChatCompletionsServer(answer=answer) as server:
        judge = Judge(stand_in_model(server.base_url))
        grade = run(grade_response(judge, QUESTION, "100 °C", RUBRIC, mode="implicit"))
    assert len(server.requests) == 1
    shown = sections(bodies(server)[0])["rubric"]
    assert shown.splitlines() == [
        "- [+13.5] States the boiling point of water at sea level",
        "- [+4.25] Names the unit of the answer",
        "- [-7.75] Claims water boils at fifty degrees",
    ]
    assert grade.mode == "implicit" and grade.explanation == "close"
    assert grade.score == pytest.approx(0.2)  # the "\n- [" count is 2: the first line has none
    assert grade.judge_version == judge.version
    with pytest.raises(Invalid) as error:
        run(grade_response(Panel([judge]), QUESTION, "x", RUBRIC, mode="implicit"))
    assert error.value.field == "mode"


def panel_answer(request: dict[str, Any]) -> str:
    """Judge j1 always says met; j2 says met to the boiling point only; j3 never."""
    criterion = sections(request)["criterion"]
    model = request["model"]
    met = model == "j1" or (model == "j2" and criterion.startswith("States"))
    return verdict(met, model)


def test_panels_majority_with_ties_not_met_and_mean_as_partial_credit() -> None:
    with ChatCompletionsServer(answer=panel_answer) as server:
        j1, j2, j3 = (Judge(stand_in_model(server.base_url, f"j{i}")) for i in (1, 2, 3))
        majority = run(grade_response(Panel([j1, j2, j3]), QUESTION, "x", RUBRIC))
        tie = run(grade_response(Panel([j1, j3]), QUESTION, "x", RUBRIC))
        mean = run(grade_response(Panel([j1, j2, j3], "mean"), QUESTION, "x", RUBRIC))
    # majority: point 2/3 met; unit 1/3; wrong 1/3 -> 13.5 / 17.75
    assert majority.met == {"point": True, "unit": False, "wrong": False}
    assert majority.score == pytest.approx(13.5 / 17.75)
    # a 1-1 tie is not met: nothing earned
    assert tie.met == {"point": False, "unit": False, "wrong": False}
    assert tie.score == 0.0
    # mean: (13.5 * 2/3 + 4.25 * 1/3 - 7.75 * 1/3) / 17.75 = (9 + 1.41667 - 2.58333) / 17.75
    assert mean.score == pytest.approx((9 + 4.25 / 3 - 7.75 / 3) / 17.75)
    assert [v.credit for v in mean.verdicts] == pytest.approx([2 / 3, 1 / 3, 1 / 3])
    assert majority.judge_version.startswith("panel:majority[") and "/j3" in majority.judge_version
    assert len(server.requests) == 3 * 3 + 2 * 3 + 3 * 3
    with pytest.raises(Invalid):
        Panel([])


def test_a_batch_runs_concurrently_within_the_bound() -> None:
    lock = threading.Lock()
    in_flight = {"now": 0, "max": 0}

    def answer(request: dict[str, Any]) -> str:
        with lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        time.sleep(0.05)
        with lock:
            in_flight["now"] -= 1
        return honest(FACTS)(request)

    responses = [f"Water boils at 100 °C, answer {i}." for i in range(8)]
    with ChatCompletionsServer(answer=answer) as server:
        judge = Judge(stand_in_model(server.base_url))
        started = time.perf_counter()
        grades = run(grade_many(judge, [(QUESTION, r, RUBRIC) for r in responses], concurrency=4))
        elapsed = time.perf_counter() - started
    assert len(server.requests) == 24
    assert 1 < in_flight["max"] <= 4
    assert elapsed < 24 * 0.05  # faster than one at a time
    # 13.5 / 17.75: the boiling point stated, no unit word, no false claim
    assert [g.score for g in grades] == pytest.approx([13.5 / 17.75] * 8)

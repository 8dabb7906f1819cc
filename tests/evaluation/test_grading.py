"""The RL grading service's logic against the OpenAI-protocol stand-in: batch rewards, the
verdict cache, the cheap-judge-first cascade, and learned criterion weights."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from assay.core.errors import Invalid
from assay.evaluation.grading import (
    Cascade,
    GradingItem,
    MemoryVerdictCache,
    PreferencePair,
    fit_criterion_weights,
    grade_batch,
)
from assay.evaluation.judges import DEFAULT_PROMPT, Judge
from assay.evaluation.rubrics import parse_rubric
from tests.support.judge_rules import honest, sections, states, verdict
from tests.support.openai_server import ChatCompletionsServer
from tests.support.stand_in_models import run, stand_in_model

FACTS = {
    "Gives the capital of France": "Paris",
    "Mentions the river through it": "Seine",
    "Says it is the capital of Germany": "Germany",
}
RUBRIC = parse_rubric(
    [
        {"id": "capital", "text": "Gives the capital of France", "points": 6},
        {"id": "river", "text": "Mentions the river through it", "points": 2},
        {"id": "wrong", "text": "Says it is the capital of Germany", "points": -4},
    ]
)
QUESTION = "What is the capital of France?"
RESPONSES = [
    "Paris. The Seine runs through it.",  # (6 + 2) / 8 = 1
    "Paris.",  # 6 / 8 = 0.75
    "The Seine. Germany.",  # (2 - 4) / 8 clips to 0
    "Lyon.",  # 0 / 8 = 0
    "Paris. It is also the capital of Germany.",  # (6 - 4) / 8 = 0.25
]
EXPECTED = [1.0, 0.75, 0.0, 0.0, 0.25]


def items() -> list[GradingItem]:
    return [GradingItem(QUESTION, r, RUBRIC) for r in RESPONSES]


def test_a_batch_returns_verdicts_and_rewards() -> None:
    with ChatCompletionsServer(answer=honest(FACTS)) as server:
        batch = run(grade_batch(Judge(stand_in_model(server.base_url)), items()))
    assert [i.reward for i in batch.items] == pytest.approx(EXPECTED)
    assert [v.met for v in batch.items[4].verdicts] == [True, False, True]
    assert [v.criterion_id for v in batch.items[0].verdicts] == ["capital", "river", "wrong"]
    assert (batch.questions, batch.judged, batch.cache_hits, batch.calls) == (15, 15, 0, 15)
    assert len(server.requests) == 15


def test_the_cache_makes_a_repeated_batch_cost_nothing() -> None:
    cache = MemoryVerdictCache()
    with ChatCompletionsServer(answer=honest(FACTS)) as server:
        judge = Judge(stand_in_model(server.base_url))
        # the same triple twice in one batch is judged once
        first = run(grade_batch(judge, [*items(), items()[0]], cache=cache))
        assert len(server.requests) == 15 and first.questions == 15 and len(cache) == 15
        again = run(grade_batch(judge, items(), cache=cache))
        assert len(server.requests) == 15  # not one more call
        assert (again.judged, again.cache_hits, again.calls) == (0, 15, 0)
        assert all(v.cached for i in again.items for v in i.verdicts)
        assert [i.reward for i in again.items] == [i.reward for i in first.items[:5]]
        # criterion ids and points are not part of the question: a renamed rubric still hits
        renamed = parse_rubric(
            [
                {"id": f"x{i}", "text": c.text, "points": c.points * 2}
                for i, c in enumerate(RUBRIC.criteria)
            ]
        )
        hits = run(grade_batch(judge, [GradingItem(QUESTION, RESPONSES[1], renamed)], cache=cache))
        assert (hits.judged, hits.items[0].reward) == (0, 0.75)
        assert [v.criterion_id for v in hits.items[0].verdicts] == ["x0", "x1", "x2"]
        # another judge version misses
        edited = Judge(
            stand_in_model(server.base_url), replace(DEFAULT_PROMPT, system="Grade strictly.")
        )
        other = run(grade_batch(edited, items()[:1], cache=cache))
        assert other.judged == 3 and len(server.requests) == 18


def test_errors_are_not_cached() -> None:
    cache = MemoryVerdictCache()
    with ChatCompletionsServer(answer=honest(FACTS)) as server:
        judge = Judge(stand_in_model(server.base_url))
        server.fail(500)
        first = run(grade_batch(judge, items()[:1], cache=cache, concurrency=1))
        assert first.items[0].reward is None and "no verdict" in first.items[0].error
        assert len(cache) == 2
        second = run(grade_batch(judge, items()[:1], cache=cache))
    assert (second.judged, second.cache_hits) == (1, 2)
    assert second.items[0].reward == 1.0
    assert len(server.requests) == 4


def cascade_answer(request: dict[str, Any]) -> str:
    """The cheap judge is unsure about the river (confidence 0.4), flips a coin on the
    Germany criterion (by the seed's parity) and is confidently wrong about nothing else;
    the strong judge grades honestly."""
    parts = sections(request)
    criterion, response = parts["criterion"], parts["response"]
    honest_met = states(response, next(f for t, f in FACTS.items() if t == criterion))
    if request["model"] == "strong":
        return verdict(honest_met, "strong")
    if criterion.startswith("Mentions the river"):
        return verdict(not honest_met, "cheap guess", confidence=0.4)
    if criterion.startswith("Says it is"):
        return verdict(request["seed"] % 2 == 0, "cheap coin", confidence=0.9)
    return verdict(honest_met, "cheap", confidence=0.95)


def test_the_cascade_sends_only_uncertain_verdicts_to_the_strong_judge() -> None:
    with ChatCompletionsServer(answer=cascade_answer) as server:
        cheap = Judge(stand_in_model(server.base_url, "cheap"), seed=0)
        strong = Judge(stand_in_model(server.base_url, "strong"))
        cascade = Cascade(cheap, strong, samples=2, min_confidence=0.7)
        batch = run(grade_batch(cascade, items()))
    per_model = Counter(json.loads(r.body)["model"] for r in server.requests)
    # 5 responses x 3 criteria, two cheap samples each; river (low confidence) and Germany
    # (the samples disagree) go up: 2 of 3 criteria per response
    assert per_model == {"cheap": 30, "strong": 10}
    assert batch.escalated == 10 and batch.calls == 40
    escalated = {v.criterion_id for i in batch.items for v in i.verdicts if v.escalated}
    assert escalated == {"river", "wrong"}
    assert all(v.explanation == "strong" for i in batch.items for v in i.verdicts if v.escalated)
    # the strong judge's verdicts stand: the rewards are the honest ones
    assert [i.reward for i in batch.items] == pytest.approx(EXPECTED)
    assert batch.judge_version.startswith("cascade[") and "/strong" in batch.judge_version
    with pytest.raises(Invalid):
        Cascade(cheap, strong, samples=0)


def preference_pairs(hidden: dict[str, float], n: int, seed: int) -> list[PreferencePair]:
    """Humans who prefer responses by sigmoid(hidden · (met_a - met_b)), met vectors at random."""
    rng = np.random.default_rng(seed)
    ids = list(hidden)
    w = np.array([hidden[k] for k in ids])
    pairs = []
    for _ in range(n):
        a, b = rng.random(len(ids)) < 0.5, rng.random(len(ids)) < 0.5
        p = 1 / (1 + np.exp(-(w @ (a.astype(float) - b.astype(float)))))
        pairs.append(
            PreferencePair(
                dict(zip(ids, a.tolist(), strict=True)),
                dict(zip(ids, b.tolist(), strict=True)),
                "a" if rng.random() < p else "b",
            )
        )
    return pairs


def test_learned_weights_recover_what_humans_value() -> None:
    hidden = {"capital": 3.0, "river": 1.0, "style": 0.0, "wrong": -2.0}
    fit = fit_criterion_weights(preference_pairs(hidden, 3000, seed=7))
    assert fit.converged and fit.pairs == 3000
    assert fit.criterion_ids == ("capital", "river", "style", "wrong")
    learned = {k: fit.weight(k) for k in hidden}
    assert learned["capital"] > learned["river"] > abs(learned["style"])
    assert learned["wrong"] < -1
    assert 2 < learned["capital"] / learned["river"] < 4.5
    assert abs(learned["style"]) < 0.3
    # ties pull weights toward zero; identical met vectors carry no information
    ties = [PreferencePair({"capital": True}, {"capital": False}, "tie")] * 50
    assert abs(fit_criterion_weights(ties).weight("capital")) < 1e-6
    with pytest.raises(Invalid) as error:
        fit_criterion_weights([PreferencePair({"a": True}, {}, "a")])
    assert error.value.field == "pairs[0]"


def test_a_batch_reports_the_learned_reward_next_to_the_fixed_one() -> None:
    # humans here care about the river as much as the capital
    fit = fit_criterion_weights(
        preference_pairs({"capital": 2.0, "river": 2.0, "wrong": -2.0}, 3000, seed=11)
    )
    with ChatCompletionsServer(answer=honest(FACTS)) as server:
        batch = run(grade_batch(Judge(stand_in_model(server.base_url)), items(), weights=fit))
    w = {k: fit.weight(k) for k in ("capital", "river", "wrong")}
    positive = w["capital"] + w["river"]
    expected = [
        1.0,
        w["capital"] / positive,
        max(0.0, (w["river"] + w["wrong"]) / positive),
        0.0,
        max(0.0, (w["capital"] + w["wrong"]) / positive),
    ]
    assert [i.learned_reward for i in batch.items] == pytest.approx(expected)
    assert 0.4 < batch.items[1].learned_reward < 0.6  # the fixed points give 0.75
    assert [i.reward for i in batch.items] == pytest.approx(EXPECTED)
    table = fit.compare(RUBRIC)
    assert [row["criterion_id"] for row in table] == ["capital", "river", "wrong"]
    assert table[0]["points_share"] == 0.5 and table[1]["points_share"] == pytest.approx(1 / 6)
    assert table[0]["learned_share"] == pytest.approx(w["capital"] / sum(map(abs, w.values())))

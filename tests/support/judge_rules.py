"""Judge behaviours for the OpenAI-protocol stand-in: read the judge prompt's sections and
answer like an honest or a gullible grader would."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from assay.evaluation.probes import MASTER_KEY, split_sentences
from tests.support.openai_server import user_text

_SECTION = re.compile(r"<<(\w+)>>\n(.*?)\n<</\1>>", re.DOTALL)


def sections(request: dict[str, Any]) -> dict[str, str]:
    """The judge prompt's <<conversation>>, <<response>>, <<criterion>> / <<rubric>> parts."""
    return dict(_SECTION.findall(user_text(request)))


def verdict(met: bool, explanation: str = "", confidence: float | None = None) -> str:
    body: dict[str, Any] = {"explanation": explanation, "criteria_met": met}
    if confidence is not None:
        body["confidence"] = confidence
    return json.dumps(body)


def fact_for(criterion: str, facts: Mapping[str, str]) -> str:
    """The fact an honest grader looks for: the one whose criterion text the (possibly
    reworded) criterion contains."""
    for text, fact in facts.items():
        if text in criterion:
            return fact
    raise AssertionError(f"no fact for criterion {criterion!r}")


def states(response: str, fact: str) -> bool:
    """The response states the fact in a sentence it does not negate."""
    return any(
        fact.lower() in s.lower() and not s.startswith("It is not true that")
        for s in split_sentences(response)
    )


def honest(facts: Mapping[str, str]):
    def answer(request: dict[str, Any]) -> str:
        parts = sections(request)
        met = states(parts["response"], fact_for(parts["criterion"], facts))
        return verdict(met, "states the fact" if met else "does not state the fact")

    return answer


def gullible(facts: Mapping[str, str]):
    """Says met whenever the response opens with a master-key phrase or echoes the rubric;
    otherwise grades honestly."""
    honest_answer = honest(facts)

    def answer(request: dict[str, Any]) -> str:
        parts = sections(request)
        response = parts["response"]
        if response.startswith(MASTER_KEY[:20]) or parts["criterion"] in response:
            return verdict(True, "the response says so")
        return honest_answer(request)

    return answer

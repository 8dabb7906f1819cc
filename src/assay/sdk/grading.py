"""`client.grading`: the grading service for RL loops — (conversation, response, rubric)
triples in, per-criterion verdicts and rewards out, repeated questions from the cache."""

from __future__ import annotations

from typing import Any

from assay.sdk._api.grading import GradingAPI
from assay.sdk._http import HTTP
from assay.sdk.eval_models import GradingResult


class Grading:
    def __init__(self, http: HTTP) -> None:
        self._api = GradingAPI(http)

    def grade(
        self, judge_id: str, items: list[dict[str, Any]], *, concurrency: int = 64
    ) -> GradingResult:
        """Grade up to 1,000 `{"conversation", "response", "rubric"}` triples with a judge."""
        body = {"judge_id": judge_id, "items": items, "concurrency": concurrency}
        return self._api.grade(json=body)

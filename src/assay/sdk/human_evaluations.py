"""`client.human_evaluations`: send model responses to people chosen by profile, for rubric
grading or pairwise comparison, and read their verdicts back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from assay.sdk._api.human_evaluations import HumanEvaluationsAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.eval_models import HumanEvaluation, HumanEvaluationResults


class HumanEvaluations:
    def __init__(self, http: HTTP) -> None:
        self._api = HumanEvaluationsAPI(http)

    def create(
        self,
        name: str,
        *,
        project_id: str,
        kind: Literal["rubric_grading", "pairwise"],
        items: list[dict[str, Any]],
        raters: dict[str, list[str]] | None = None,
        finalize: bool = True,
    ) -> HumanEvaluation:
        """Items: `messages` (or `prompt`), `response`, and `criteria` (rubric grading) or
        `response_b` (pairwise). `raters`: `languages`, `countries`, `professions`,
        `expertise` — who may rate. Safe to retry."""
        body: dict[str, Any] = {
            "name": name,
            "project_id": project_id,
            "kind": kind,
            "items": items,
            "finalize": finalize,
        }
        if raters:
            body["raters"] = raters
        return self._api.create(json=body)

    def list(self) -> Iterator[HumanEvaluation]:
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor}))

    def get(self, human_evaluation_id: str) -> HumanEvaluation:
        return self._api.get(human_evaluation_id=human_evaluation_id)

    def results(self, human_evaluation_id: str) -> HumanEvaluationResults:
        return self._api.results(human_evaluation_id=human_evaluation_id)

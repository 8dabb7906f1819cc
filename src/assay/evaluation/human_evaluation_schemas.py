"""Request and response schemas of human evaluations (see `evaluation/human_evaluations.py`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from assay.core.schemas import Schema
from assay.evaluation.calibration_schemas import Conversation, Key, Name, Text
from assay.labeling.rater_profile_schemas import RaterFilter

Response = Annotated[str, StringConstraints(max_length=100_000)]
MAX_ITEMS = 10_000


class GradedCriterion(Schema):
    id: Key | None = Field(None, description="Default: c1, c2, … in order.")
    text: Text
    category: Key = "general"
    points: float = Field(1.0, description="Kept here to score the rubric; raters never see it.")


class HumanEvaluationItemIn(Conversation):
    response: Response
    response_b: Response | None = Field(None, description="pairwise: the response to compare.")
    criteria: list[GradedCriterion] | None = Field(
        None, max_length=100, description="rubric_grading: the rubric's criteria."
    )
    source: Key | None = Field(None, description="Where the item came from, e.g. a run item.")


class HumanEvaluationCreate(Schema):
    name: Name
    project_id: Key = Field(
        description="An rubric_grading project (kind rubric_grading) or an llm_comparison "
        "project (kind pairwise)."
    )
    kind: Literal["rubric_grading", "pairwise"]
    items: list[HumanEvaluationItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    raters: RaterFilter = Field(
        default_factory=RaterFilter,
        description="Who rates, by profile; empty: any labeler of the project.",
    )
    finalize: bool = True


class HumanEvaluation(Schema):
    id: str
    name: str
    kind: str
    project_id: str
    batch_id: str
    group_id: str | None
    raters: RaterFilter
    items: int
    created_at: dt.datetime


class HumanEvaluationPage(Schema):
    items: list[HumanEvaluation]
    next_cursor: str | None = None


class HumanEvaluationResult(Schema):
    position: int
    task_id: str
    source: str | None
    completed: bool
    verdicts: dict[str, bool] | None = Field(None, description="rubric_grading: criterion → met.")
    score: float | None = Field(None, description="rubric_grading: the rubric score (0..1).")
    preference: Literal["response", "response_b", "tie", "both_good", "both_bad"] | None = Field(
        None, description="pairwise: what the raters preferred, in the request's terms."
    )


class HumanEvaluationResults(Schema):
    human_evaluation_id: str
    kind: str
    items: int
    completed: int
    mean_score: float | None = Field(None, description="rubric_grading: over completed items.")
    preferences: dict[str, int] | None = Field(None, description="pairwise: counts.")
    results: list[HumanEvaluationResult]

"""Wire schemas of the grading service: a batch of (conversation, response, rubric) triples
in, per-criterion verdicts and a scalar reward per triple out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from assay.core.schemas import Schema
from assay.evaluation.judge_schemas import Conversation

MAX_ITEMS = 1000
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=24)]


class GradingTriple(Schema):
    conversation: Conversation = Field(description="A prompt, or OpenAI-style messages.")
    response: Annotated[str, StringConstraints(max_length=200_000)]
    rubric: dict[str, Any] | list[Any] = Field(
        description="{criteria: [{id?, text, points, category?}]} or the bare list."
    )


class GradingRequest(Schema):
    judge_id: Id
    items: list[GradingTriple] = Field(min_length=1, max_length=MAX_ITEMS)
    concurrency: int = Field(64, ge=1, le=1024, description="Questions in flight at most.")


class CriterionVerdict(Schema):
    criterion_id: str
    met: bool | None = Field(description="Null when the judge could not answer (an error).")
    credit: float | None
    confidence: float | None
    explanation: str
    judge_version: str
    cached: bool = Field(description="From the verdict cache: no model call made.")
    stage: Literal["judge", "cheap", "strong"] = Field(
        description="Who answered: the judge, or a cascade's cheap or strong judge."
    )
    error: str | None


class GradedTriple(Schema):
    reward: float | None = Field(description="The rubric score with its fixed points.")
    learned_reward: float | None = Field(description="With the judge's learned weights.")
    verdicts: list[CriterionVerdict]
    error: str | None


class GradingResult(Schema):
    judge_id: str
    judge_version: str
    items: list[GradedTriple]
    questions: int = Field(description="Distinct (conversation, response, criterion).")
    judged: int = Field(description="Of those, sent to the judge.")
    cache_hits: int
    calls: int = Field(description="Model calls made (retries and cascade samples included).")
    escalated: int = Field(description="Verdicts a cascade sent to its strong judge.")

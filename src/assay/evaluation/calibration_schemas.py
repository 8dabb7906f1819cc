"""Request and response schemas of calibrations (see `evaluation/calibration.py`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from assay.core.schemas import Schema

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
MAX_VERDICTS = 10_000


class Message(Schema):
    role: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    content: Annotated[str, StringConstraints(max_length=100_000)]


class Conversation(Schema):
    """What the model under test was asked: `messages`, or a bare `prompt` (one user turn)."""

    messages: list[Message] | None = Field(None, max_length=1000)
    prompt: Text | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Conversation:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give messages or prompt (one of them)")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        return self

    def turns(self) -> list[dict[str, Any]]:
        if self.messages is not None:
            return [m.model_dump() for m in self.messages]
        return [{"role": "user", "content": self.prompt}]


class SampledVerdict(Conversation):
    """One judge verdict to check: the conversation, the response, the criterion it judged."""

    response: Annotated[str, StringConstraints(max_length=100_000)]
    criterion: Text = Field(description="The criterion's text, as the judge saw it.")
    criterion_id: Key | None = Field(
        None, description="Default: one id per distinct criterion text of the conversation."
    )
    category: Key = "general"
    judge_met: bool = Field(description="The judge's verdict: the response meets the criterion.")
    judge_version: Key = Field(description="The judge version that gave the verdict.")
    source: Key | None = Field(None, description="Where the verdict came from, e.g. a run item.")


class CalibrationCreate(Schema):
    name: Name
    project_id: Key = Field(description="A rubric_grading project the humans work in.")
    verdicts: list[SampledVerdict] = Field(min_length=1, max_length=MAX_VERDICTS)
    finalize: bool = Field(True, description="Queue the tasks at once (else a staging batch).")


class Calibration(Schema):
    id: str
    name: str
    project_id: str
    batch_id: str
    tasks: int
    verdicts: int
    created_at: dt.datetime


class CalibrationPage(Schema):
    items: list[Calibration]
    next_cursor: str | None = None


class Agreement(Schema):
    pairs: int
    met_met: int = Field(description="Judge met, humans met.")
    met_not: int = Field(description="Judge met, humans not met.")
    not_met: int = Field(description="Judge not met, humans met.")
    not_not: int = Field(description="Judge not met, humans not met.")
    accuracy: float
    balanced_f1: float = Field(description="Mean of the met and not-met F1 (HealthBench).")
    f1_met: float
    f1_not_met: float
    cohen_kappa: float | None
    false_met_rate: float | None = Field(description="P(judge met | humans not met).")
    false_not_met_rate: float | None = Field(description="P(judge not met | humans met).")


class Disagreement(Schema):
    position: int = Field(description="The verdict's index in the create request.")
    task_id: str
    criterion_id: str
    category: str
    judge_version: str
    source: str | None
    judge_met: bool
    human_met: bool


class CalibrationReport(Schema):
    calibration_id: str
    tasks: int
    tasks_completed: int
    verdicts: int
    verdicts_graded: int
    overall: Agreement | None = Field(description="Every graded verdict, all judge versions.")
    by_category: dict[str, Agreement]
    by_judge_version: dict[str, Agreement]
    disagreements: list[Disagreement]

"""Wire schemas of judges, their prompt versions, learned weights, probe reports and
verifier drift. A judge names its provider by id; the provider's key never appears here."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from assay.core.schemas import Page, Schema

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=24)]
Template = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
# A bare prompt, or OpenAI-style messages ({"role", "content"}).
Conversation = Annotated[str, StringConstraints(max_length=200_000)] | list[dict[str, Any]]


class JudgePromptCreate(Schema):
    """A prompt version's texts; what is left out is the built-in prompt's."""

    name: Name = "rubric-v1"
    system: Template | None = None
    criterion: Template | None = Field(
        None, description="Explicit mode: {conversation}, {response} and {criterion}."
    )
    rubric: Template | None = Field(
        None, description="Implicit mode: {conversation}, {response} and {rubric}."
    )


class JudgePrompt(Schema):
    number: int
    name: str
    system: str
    criterion: str
    rubric: str
    version: str = Field(description="The prompt's name @ a hash of its texts.")
    created_at: dt.datetime


class PanelSpec(Schema):
    rule: Literal["majority", "mean"] = "majority"
    members: list[Id] = Field(min_length=1, max_length=16, description="Single judges' ids.")


class CascadeSpec(Schema):
    cheap: Id = Field(description="The judge asked first (a single judge or a panel).")
    strong: Id = Field(description="The judge uncertain verdicts go to.")
    samples: int = Field(2, ge=1, le=8, description="How many times the cheap judge is asked.")
    min_confidence: float = Field(0.7, ge=0, le=1)


class JudgeCreate(Schema):
    """A single judge (`provider_id` + `model`), a panel, or a cascade."""

    name: Name
    provider_id: Id | None = None
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    mode: Literal["explicit", "implicit"] = "explicit"
    temperature: float | None = Field(0.0, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=100_000)
    seed: int | None = Field(
        None, ge=0, le=2**31 - 1, description="Sample k asks with seed + k (cascade samples)."
    )
    prompt: JudgePromptCreate | None = None
    panel: PanelSpec | None = None
    cascade: CascadeSpec | None = None


class ProbeSummary(Schema):
    id: str
    status: str
    flagged: bool | None
    flagged_probes: list[str] = Field(default_factory=list)
    judge_version: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class Judge(Schema):
    id: str
    name: str
    kind: Literal["single", "panel", "cascade"]
    provider_id: str | None
    model: str | None
    mode: Literal["explicit", "implicit"]
    temperature: float | None
    max_tokens: int | None
    seed: int | None
    prompt: JudgePrompt | None = Field(description="The prompt version in use (single judges).")
    panel: PanelSpec | None
    cascade: CascadeSpec | None
    version: str = Field(description="The judge version every verdict names.")
    flagged: bool = Field(description="Its latest probe report found a probe credited.")
    latest_probe_report: ProbeSummary | None
    weights: dict[str, float] | None = Field(description="Learned criterion weights, if fitted.")
    created_at: dt.datetime


JudgePage = Page[Judge]


class PreferencePairIn(Schema):
    met_a: dict[str, bool | float]
    met_b: dict[str, bool | float]
    preferred: Literal["a", "b", "tie"]


class WeightsFit(Schema):
    pairs: list[PreferencePairIn] = Field(min_length=1, max_length=100_000)
    criterion_ids: list[str] | None = Field(None, max_length=1000)
    l2: float = Field(0.1, ge=0, le=1000)


class Weights(Schema):
    criterion_ids: list[str]
    weights: list[float]
    pairs: int
    converged: bool


class ProbeCaseIn(Schema):
    conversation: Conversation
    rubric: dict[str, Any] | list[Any] = Field(description="{criteria: [{text, points, …}]}")
    reference: str = Field(min_length=1, max_length=200_000, description="A good answer.")


class ProbeRunCreate(Schema):
    cases: list[ProbeCaseIn] = Field(min_length=1, max_length=200)
    tolerance: float = Field(0.05, ge=0, le=1, description="Inflation above it flags a probe.")
    max_edits: int = Field(3, ge=0, le=10, description="Perturbation curve; 0 skips it.")
    rewording: bool = Field(True, description="Measure rubric rewording sensitivity.")


class ProbeResult(Schema):
    name: str
    score: float | None
    inflation: float | None
    max_inflation: float | None
    credited: int
    errors: int
    flagged: bool


class PerturbationCurve(Schema):
    kind: str
    scores: list[float | None]
    fall_per_edit: float | None


class RewordingResult(Schema):
    variant: str
    mean_shift: float | None
    max_shift: float | None
    flip_rate: float | None


class ProbeReport(Schema):
    id: str
    judge_id: str
    job_id: str | None
    status: Literal["queued", "running", "done", "failed"]
    judge_version: str | None
    flagged: bool | None
    flagged_probes: list[str] = Field(default_factory=list)
    baseline_score: float | None = None
    reference_score: float | None = None
    probes: list[ProbeResult] = Field(default_factory=list)
    perturbation: list[PerturbationCurve] = Field(default_factory=list)
    rewording: list[RewordingResult] = Field(default_factory=list)
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


ProbeReportPage = Page[ProbeReport]


class CheckpointIn(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    rubric_score: float
    independent_score: float


class DriftCheck(Schema):
    checkpoints: list[CheckpointIn] = Field(min_length=2, max_length=10_000)
    min_rise: float = Field(0.01, ge=0)
    min_fall: float = Field(0.01, ge=0)


class DriftFlag(Schema):
    start: str
    end: str
    rubric_delta: float
    independent_delta: float


class DriftReport(Schema):
    drifting: bool
    steps: list[DriftFlag]
    overall: DriftFlag | None

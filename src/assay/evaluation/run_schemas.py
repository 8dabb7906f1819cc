"""Wire schemas of evaluation runs: what a run asks (`RunCreate`), where it is (`Run`), and
its results table (`RunResult`, `RunResultPage`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, model_validator

from assay.core.schemas import Page, Schema


class ScorerIn(Schema):
    name: str = Field(min_length=1, max_length=200, description="A registered scorer.")
    options: dict[str, Any] = Field(default_factory=dict)


class JudgeModelIn(Schema):
    provider_id: str = Field(min_length=1, max_length=24)
    model: str = Field(min_length=1, max_length=200)


class JudgeIn(Schema):
    """The rubric judge: one model, or a panel of several (`panel`, combined by `rule`)."""

    provider_id: str | None = Field(None, max_length=24)
    model: str | None = Field(None, max_length=200)
    mode: Literal["explicit", "implicit"] = "explicit"
    panel: list[JudgeModelIn] = Field(default_factory=list, max_length=9)
    rule: Literal["majority", "mean"] = "majority"

    @model_validator(mode="after")
    def _one_judge_or_a_panel(self) -> JudgeIn:
        if not self.panel and not (self.provider_id and self.model):
            raise ValueError("name the judge's provider_id and model, or a panel")
        if self.panel and self.mode == "implicit":
            raise ValueError("implicit mode takes a single judge, not a panel")
        return self


class RunParams(Schema):
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    system_prompt: str | None = Field(None, max_length=100_000)
    samples: int = Field(1, ge=1, le=100, description="Answers asked per item (epochs).")
    concurrency: int = Field(16, ge=1, le=1024, description="Items in flight at once.")
    seed: int | None = Field(
        None, description="Sent as seed + sample, so the samples of an item are distinct calls."
    )
    recorded: bool = Field(
        False,
        description="Answer only from recorded responses (the response cache): re-score a "
        "model offline; an unrecorded (item, sample) is an error result, never a call.",
    )


class RunCreate(Schema):
    set_id: str = Field(min_length=1, max_length=24)
    set_version: int | None = Field(None, ge=1, description="Default: the set's newest version.")
    provider_id: str = Field(min_length=1, max_length=24)
    model: str = Field(min_length=1, max_length=200)
    name: str = Field("", max_length=200)
    scorers: list[ScorerIn] = Field(default_factory=list, max_length=50)
    judge: JudgeIn | None = None
    params: RunParams = Field(default_factory=RunParams)


class Run(Schema):
    id: str
    name: str
    set_id: str
    set_version: int
    provider_id: str | None
    model: str
    spec: dict[str, Any]
    status: str
    job_id: str | None
    total_calls: int
    done_calls: int
    error_calls: int
    judge_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    summary: dict[str, Any] | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class RunPage(Page[Run]):
    pass


class Verdict(Schema):
    criterion_id: str
    met: bool | None
    credit: float | None = None
    explanation: str = ""
    error: str | None = None


class RunResult(Schema):
    seq: int
    item_id: str
    sample: int
    prompt_preview: str
    response: str | None
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float | None
    cached: bool
    score: float | None
    scores: dict[str, Any]
    rubric_score: float | None
    judge_version: str | None
    judge_error: str | None
    verdicts: list[Verdict] | None
    tags: list[str]


class RunResultPage(Page[RunResult]):
    summary: dict[str, Any] | None = None

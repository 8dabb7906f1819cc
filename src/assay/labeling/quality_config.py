"""A project's quality settings: evaluation tasks, training course, pauses, consensus, audits.

Stored as the project's `quality` JSON and parsed once per project version (with its taxonomy
and pipeline, `projects.Rules`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.core.errors import Invalid


class Training(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: bool = Field(
        True, description="Labelers must pass the course (when it has tasks) before real work."
    )
    pass_threshold: float = Field(0.8, ge=0.0, le=1.0, description="Mean score to pass.")
    max_rounds: int = Field(2, ge=1, le=20, description="Goes at the course allowed.")


class Consensus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labelers: int = Field(1, ge=1, le=15, description="Distinct labelers per task.")
    agreement_threshold: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Tasks whose labelers agree less than this go to the review stage.",
    )


class QualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evaluation_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of served tasks that are evaluation tasks."
    )
    pass_threshold: float = Field(
        0.8, ge=0.0, le=1.0, description="Score at or above which an evaluation task is passed."
    )
    rolling_window: int = Field(
        20, ge=1, le=1000, description="Evaluation tasks the rolling accuracy is taken over."
    )
    pause_below: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Pause a labeler whose rolling accuracy falls below this (None: never).",
    )
    pause_min_attempts: int = Field(
        5, ge=1, le=1000, description="Evaluation tasks scored before a pause can happen."
    )
    recycle_after_hours: float | None = Field(
        24.0,
        ge=0.0,
        description="Serve an evaluation task again to a labeler who has done every active "
        "one, oldest attempt first, once this long has passed (None: never).",
    )
    training: Training = Field(default_factory=Training)
    consensus: Consensus = Field(default_factory=Consensus)
    audit_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of completed tasks sampled for audit."
    )


def parse_quality(data: dict[str, Any] | None) -> QualityConfig:
    try:
        return QualityConfig.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        raise Invalid(f"quality{path}: {error['msg']}", field=f"quality{path}") from exc
